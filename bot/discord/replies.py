"""The two Discord implementations of bot/flow.py's Reply: an interaction (slash command, button) and a
chat message (`!compose ...`). Either way one message per tune: the status message (the deferred
response, or the reply to the chat message) is edited into the post, with its files and buttons."""

from __future__ import annotations

import contextlib
import io
import logging
import time

import discord

from bot.discord.buttons import cancel_view, tune_view
from bot.discord.embeds import result_embed
from bot.flow import Posted, Result

log = logging.getLogger("tunesmith.discord")

TOKEN_LIFE = 15 * 60 - 60  # seconds an interaction token may be used (15 min, minus a safety margin)
DEFAULT_FILESIZE_LIMIT = 10 * 1024 * 1024


def _files(files: list[tuple[str, bytes]]) -> list[discord.File]:
    return [discord.File(io.BytesIO(data), filename=name) for name, data in files]


def _view(result: Result):
    if not result.tune_id:
        return None
    return tune_view(result.tune_id, can_continue=result.artifacts.text_format == "abc")


def _status_view(cancel: str | None):
    return cancel_view(cancel) if cancel else None


class InteractionReply:
    """Defer, edit the original response (status, then the tune itself). The token dies after 15 minutes:
    after token_life seconds (or when Discord refuses the token) the tune goes to the channel instead, and
    the status message is deleted with the bot's own token, so there is still one message."""

    def __init__(self, interaction: discord.Interaction, token_life: float = TOKEN_LIFE):
        self.interaction = interaction
        self.token_life = token_life
        self.received = time.monotonic()
        self.filesize_limit = interaction.filesize_limit
        self.message_id: int | None = None  # the deferred response's message

    def token_alive(self) -> bool:
        return time.monotonic() - self.received < self.token_life

    async def acknowledge(self) -> int | None:
        answer = await self.interaction.response.defer(thinking=True)
        self.message_id = getattr(answer, "message_id", None)
        return self.message_id

    async def edit(self, text: str, cancel: str | None = None) -> None:
        if self.token_alive():
            await self.interaction.edit_original_response(content=text, view=_status_view(cancel))

    def _channel(self):
        channel = self.interaction.channel
        if channel is None and self.interaction.channel_id:
            channel = self.interaction.client.get_partial_messageable(self.interaction.channel_id)
        return channel

    async def _to_channel(self, **kwargs) -> discord.Message | None:
        channel = self._channel()
        if channel is None:
            log.warning("interaction %s: token expired and no channel to post to", self.interaction.id)
            return None
        content = f"{self.interaction.user.mention} {kwargs.pop('content', '')}".strip()
        message = await channel.send(content=content, allowed_mentions=discord.AllowedMentions(users=True), **kwargs)
        await self._delete_status_with_bot_token()
        return message

    async def _delete_status_with_bot_token(self) -> None:
        channel = self._channel()
        if self.message_id is not None and channel is not None:
            try:
                await channel.get_partial_message(self.message_id).delete()
            except discord.HTTPException as exc:
                log.warning("could not remove the status message %s: %s", self.message_id, exc)

    async def post_result(self, result: Result) -> Posted | None:
        embed, view = result_embed(result, self.interaction.user), _view(result)
        if self.token_alive():
            try:
                message = await self.interaction.edit_original_response(
                    content=None, embed=embed, attachments=_files(result.files), view=view
                )
                return Posted(message.id, embed.to_dict())
            except (discord.NotFound, discord.Forbidden) as exc:
                log.warning("editing the response was refused (%s); posting to the channel", exc)
            except discord.HTTPException as exc:
                if exc.status != 401:
                    raise
                log.warning("interaction token refused; posting to the channel")
        message = await self._to_channel(embed=embed, files=_files(result.files), view=view or discord.utils.MISSING)
        return Posted(message.id, embed.to_dict()) if message is not None else None

    async def fail(self, text: str) -> None:
        """An ephemeral note to the requester; the public status message goes away."""
        if self.token_alive():
            try:
                await self.interaction.followup.send(text, ephemeral=True)
            except discord.HTTPException as exc:
                log.warning("could not send an ephemeral error (%s); posting to the channel", exc)
            else:
                await self.withdraw()
                return
        await self._to_channel(content=text)

    async def withdraw(self) -> None:
        if self.token_alive():
            with contextlib.suppress(discord.HTTPException):
                await self.interaction.delete_original_response()
                return
        await self._delete_status_with_bot_token()


class MessageReply:
    """The `!compose ...` text form: reply to the message, edit that reply, then edit it into the tune."""

    def __init__(self, message: discord.Message):
        self.message = message
        self.status: discord.Message | None = None
        self.filesize_limit = message.guild.filesize_limit if message.guild else DEFAULT_FILESIZE_LIMIT

    async def acknowledge(self) -> int | None:
        self.status = await self.message.reply("Queued", mention_author=False)
        return self.status.id

    async def edit(self, text: str, cancel: str | None = None) -> None:
        if self.status is not None:
            await self.status.edit(content=text, view=_status_view(cancel))

    async def post_result(self, result: Result) -> Posted | None:
        embed, view, files = result_embed(result, self.message.author), _view(result), _files(result.files)
        if self.status is None:
            message = await self.message.channel.send(
                embed=embed,
                files=files,
                view=view or discord.utils.MISSING,
                reference=self.message,
                mention_author=False,
            )
            return Posted(message.id, embed.to_dict())
        await self.status.edit(content=None, embed=embed, attachments=files, view=view)
        return Posted(self.status.id, embed.to_dict())

    async def fail(self, text: str) -> None:
        if self.status is not None:
            await self.status.edit(content=text, view=None)

    async def withdraw(self) -> None:
        if self.status is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.status.delete()
