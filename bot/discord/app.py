"""The Discord client: start-up (commands synced only when they change), health heartbeat, telling users
about tunes an earlier run lost, error replies, and a clean shutdown.

    bot = make_bot(settings, store, queue)     # TunesmithBot, or ShardedTunesmithBot when settings.sharded
    await bot.start(token)

The commands are bot/discord/commands.py's cog; requests run through bot/flow.py and bot/tunes.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import Settings
from bot.discord.buttons import TuneButton
from bot.discord.commands import TuneCommands
from bot.discord.replies import TOKEN_LIFE
from bot.flow import PROGRESS_EVERY, RequestFlow
from bot.tunes import TuneService

log = logging.getLogger("tunesmith.discord")

HASH_KEY = "discord.commands_hash"
HEARTBEAT_EVERY = 30.0  # seconds between touches of the heartbeat file
MAX_RESTART_NOTES = 20  # users told about cut jobs at start-up (every stale status message is removed)


def command_hash(payload: list[dict]) -> str:
    """A stable fingerprint of the command set: sync only when it changes."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def sentence(text: str) -> str:
    """ "there is no tune ..." -> "There is no tune ..." (a leading mention, code or link is left alone)."""
    text = text.strip() or "Something went wrong."
    return text[0].upper() + text[1:] if text[0].isalpha() else text


class TunesmithBot(commands.Bot):
    """discord.py's Bot with Tunesmith's cog; `ShardedTunesmithBot` is the same on AutoShardedBot."""

    def __init__(
        self,
        settings: Settings,
        service: TuneService,
        *,
        intents: discord.Intents | None = None,
        force_sync: bool = False,
        **kwargs,
    ) -> None:
        intents = intents or discord.Intents.default()
        if settings.message_commands:
            intents.message_content = True
        super().__init__(command_prefix=commands.when_mentioned, help_command=None, intents=intents, **kwargs)
        self.settings = settings
        self.service = service
        self.flow = RequestFlow(service, PROGRESS_EVERY)
        self.force_sync = force_sync
        self.tree.on_error = self.on_app_command_error
        self.token_life = TOKEN_LIFE
        self.synced: bool | None = None  # after setup_hook: did this start push the commands?
        self._heartbeat_task: asyncio.Task | None = None

    # A few names the tests and the CLI read.
    @property
    def store(self):
        return self.service.store

    @property
    def progress_every(self) -> float:
        return self.flow.progress_every

    @progress_every.setter
    def progress_every(self, value: float) -> None:
        self.flow.progress_every = value

    @property
    def accepting(self) -> bool:
        return self.flow.accepting

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: the cog's listener reads the `!compose` text form."""

    # ---- start-up ---------------------------------------------------------------------------------------
    async def setup_hook(self) -> None:
        await self.add_cog(TuneCommands(self))
        self.add_dynamic_items(TuneButton)
        self.synced = await self.sync_commands(force=self.force_sync)
        self._heartbeat_task = asyncio.create_task(self._heartbeat())

    def sync_scope(self) -> discord.Object | None:
        return discord.Object(self.settings.dev_guild) if self.settings.dev_guild else None

    def command_payload(self) -> list[dict]:
        guild = self.sync_scope()
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        return [c.to_dict(self.tree) for c in self.tree.get_commands(guild=guild)]

    async def sync_commands(self, force: bool = False) -> bool:
        """Push the commands when they differ from the last push (hash kept in the store), or when forced."""
        guild = self.sync_scope()
        key = f"{HASH_KEY}:{guild.id if guild else 'global'}:{self.application_id}"
        digest = command_hash(self.command_payload())
        if not force and await self.store.get_value(key) == digest:
            log.info("slash commands unchanged; not syncing")
            return False
        synced = await self.tree.sync(guild=guild)
        await self.store.set_value(key, digest)
        log.info("synced %d slash commands %s", len(synced), f"to guild {guild.id}" if guild else "globally")
        return True

    def _touch_heartbeat(self) -> None:
        from bot.health import touch_heartbeat

        try:
            touch_heartbeat(self.settings.data_dir)
        except OSError as exc:
            log.warning("cannot write the heartbeat file: %s", exc)

    async def _heartbeat(self) -> None:
        """Touch the heartbeat file (`tunesmith doctor --health`, the Docker HEALTHCHECK) while connected."""
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY)  # a period, not synchronisation
            if self.is_ready() and not self.is_closed():
                self._touch_heartbeat()

    async def on_ready(self) -> None:
        log.info(
            "connected as %s (id %s) to %d guild(s)", self.user, self.user.id if self.user else "?", len(self.guilds)
        )
        self._touch_heartbeat()
        jobs, self.service.interrupted_jobs = self.service.interrupted_jobs, []
        for n, job in enumerate(jobs):  # cut by a crash or restart of an earlier run
            await self._tell_interrupted(job, mention=n < MAX_RESTART_NOTES)

    async def _tell_interrupted(self, job, *, mention: bool) -> None:
        """A job an earlier run left unfinished: its status message (with a Cancel button that could only say
        "no longer waiting") goes, and its user hears why, where they asked. When the status message cannot be
        removed, it is edited into the explanation instead."""
        text = f"<@{job.user_id}> Sorry, I restarted before your tune was finished; please ask again."
        channel = self.get_partial_messageable(job.channel_id) if job.channel_id else None
        if channel is not None and job.status_message_id is not None:
            try:
                await channel.get_partial_message(job.status_message_id).delete()
            except discord.NotFound:
                pass  # gone already
            except discord.HTTPException as exc:
                log.warning("could not remove the status message of job %s (%s); editing it", job.id, exc)
                try:
                    await channel.get_partial_message(job.status_message_id).edit(content=text, view=None)
                    return
                except discord.HTTPException as exc2:
                    log.warning("could not edit the status message of job %s either: %s", job.id, exc2)
        if channel is None or not job.user_id or not mention:
            return
        try:
            await channel.send(text, allowed_mentions=discord.AllowedMentions(users=True))
        except discord.HTTPException as exc:
            log.warning("could not tell user %s about job %s: %s", job.user_id, job.id, exc)

    # ---- errors -----------------------------------------------------------------------------------------
    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        cause = getattr(error, "original", error)
        if isinstance(cause, ValueError):
            await self.tell(interaction, str(cause))
            return
        if isinstance(error, (app_commands.TransformerError, app_commands.CheckFailure)):
            await self.tell(interaction, str(error))
            return
        error_id = secrets.token_hex(4)
        log.error(
            "internal error %s in /%s",
            error_id,
            interaction.command.name if interaction.command else "?",
            exc_info=cause,
        )
        await self.tell(interaction, f"Sorry, something broke on my side (error id `{error_id}`).")

    async def tell(self, interaction: discord.Interaction, text: str) -> None:
        """An ephemeral message to the user, whether or not the interaction was answered yet. Every message
        starts with a capital (errors are written to be read mid-sentence too, in the CLI's answers)."""
        text = sentence(text)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException as exc:
            log.warning("could not tell the user about an error: %s", exc)

    # ---- shutting down (SIGTERM) --------------------------------------------------------------------------
    async def shutdown(self, grace: float) -> None:
        """Stop taking requests, let running jobs finish for `grace` s, tell the users of cut jobs, close."""
        self.flow.accepting = False
        log.info("shutting down: %d request(s) in flight", len(self.flow.running))
        if self.service.queue is not None:
            counts = await self.service.close(grace)
            log.info("job queue closed: %s", counts)
        if self.flow.running:  # they are telling their users; give them a moment
            await asyncio.wait(list(self.flow.running), timeout=2.0)
        await self.close()

    async def close(self) -> None:
        """Cancel what is still in flight (it would only meet a closed session), then disconnect."""
        if self._heartbeat_task:
            self._heartbeat_task.cancel()
        cog = self.get_cog(TuneCommands.__cog_name__)
        if cog is not None:
            cog.scores.close()
        flows = [t for t in self.flow.running if t is not asyncio.current_task()]
        for task in flows:
            task.cancel()
        if flows:
            await asyncio.wait(flows, timeout=5)
        await super().close()


class ShardedTunesmithBot(TunesmithBot, commands.AutoShardedBot):
    """The same bot over several gateway shards (settings.sharded)."""


def make_bot(settings: Settings, store, queue, *, service: TuneService | None = None, **kwargs) -> TunesmithBot:
    cls = ShardedTunesmithBot if settings.sharded else TunesmithBot
    if settings.sharded and settings.shard_count:  # else as many as Discord recommends
        kwargs.setdefault("shard_count", settings.shard_count)
    return cls(settings, service or TuneService(store, queue), **kwargs)
