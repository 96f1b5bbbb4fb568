"""The two Discord implementations of bot/flow.py's Reply: an interaction (slash command, button) and a
chat message (`!compose ...`)."""
from __future__ import annotations

import contextlib
import io
import logging
import time

import discord

from bot.discord.buttons import tune_view
from bot.discord.embeds import result_embed
from bot.flow import Result

log = logging.getLogger("tunesmith.discord")

TOKEN_LIFE = 15 * 60 - 60  # seconds an interaction token may be used (15 min, minus a safety margin)
DEFAULT_FILESIZE_LIMIT = 10 * 1024 * 1024


def _files(files: list[tuple[str, bytes]]) -> list[discord.File]:
    return [discord.File(io.BytesIO(data), filename=name) for name, data in files]


def _view(result: Result):
    if not result.tune_id:
        return discord.utils.MISSING
    return tune_view(result.tune_id, can_continue=result.artifacts.text_format == "abc")


class InteractionReply:
    """Defer, edit the original response, post a followup. The token dies after 15 minutes: after
    token_life seconds (or when Discord refuses the token) the result goes to the channel instead."""

    def __init__(self, interaction: discord.Interaction, token_life: float = TOKEN_LIFE):
        self.interaction = interaction
        self.token_life = token_life
        self.received = time.monotonic()
        self.filesize_limit = interaction.filesize_limit

    def token_alive(self) -> bool:
        return time.monotonic() - self.received < self.token_life

    async def acknowledge(self) -> None:
        await self.interaction.response.defer(thinking=True)

    async def edit(self, text: str) -> None:
        if self.token_alive():
            await self.interaction.edit_original_response(content=text)

    async def _to_channel(self, **kwargs) -> discord.Message | None:
        channel = self.interaction.channel
        if channel is None and self.interaction.channel_id:
            channel = self.interaction.client.get_partial_messageable(self.interaction.channel_id)
        if channel is None:
            log.warning("interaction %s: token expired and no channel to post to", self.interaction.id)
            return None
        content = f"{self.interaction.user.mention} {kwargs.pop('content', '')}".strip()
        return await channel.send(content=content, allowed_mentions=discord.AllowedMentions(users=True), **kwargs)

    async def post_result(self, result: Result) -> int | None:
        embed, view = result_embed(result, self.interaction.user), _view(result)
        message = None
        if self.token_alive():
            try:
                message = await self.interaction.followup.send(embed=embed, files=_files(result.files), view=view,
                                                               wait=True)
            except (discord.NotFound, discord.Forbidden) as exc:
                log.warning("followup refused (%s); posting to the channel", exc)
            except discord.HTTPException as exc:
                if exc.status != 401:
                    raise
                log.warning("interaction token refused; posting to the channel")
        if message is None:
            message = await self._to_channel(content="here is your tune:", embed=embed, files=_files(result.files),
                                             view=view)
        return message.id if message is not None else None

    async def fail(self, text: str) -> None:
        """An ephemeral note to the requester; the public "thinking" message goes away."""
        if self.token_alive():
            try:
                await self.interaction.followup.send(text, ephemeral=True)
            except discord.HTTPException as exc:
                log.warning("could not send an ephemeral error (%s); posting to the channel", exc)
            else:
                with contextlib.suppress(discord.HTTPException):
                    await self.interaction.delete_original_response()
                return
        await self._to_channel(content=text)


class MessageReply:
    """The `!compose ...` text form: reply to the message, edit that reply, post the result below it."""

    def __init__(self, message: discord.Message):
        self.message = message
        self.status: discord.Message | None = None
        self.filesize_limit = message.guild.filesize_limit if message.guild else DEFAULT_FILESIZE_LIMIT

    async def acknowledge(self) -> None:
        self.status = await self.message.reply("Queued", mention_author=False)

    async def edit(self, text: str) -> None:
        if self.status is not None:
            await self.status.edit(content=text)

    async def post_result(self, result: Result) -> int | None:
        message = await self.message.channel.send(embed=result_embed(result, self.message.author),
                                                  files=_files(result.files), view=_view(result),
                                                  reference=self.message, mention_author=False)
        return message.id

    async def fail(self, text: str) -> None:
        await self.edit(text)
