"""The Discord front end: slash commands, live progress, the posted tune with its buttons.

`tunesmith run` -> main(argv); `tunesmith sync` -> sync_main(argv). This file and bot/views.py are the only
ones that import discord. The flow of one /compose:

    validate options (requests.from_options)  -> a friendly ephemeral error, nothing else happens
    queue.submit(...)                          -> busy / per-user limit: ephemeral error with a retry time
    defer (within ms; Discord drops interactions not answered in 3 s)
    edit the "thinking" message with the queue position / status, at most once every PROGRESS_EVERY s
    followup: embed + .mp3 .abc .mid .png + buttons (views.tune_view); store the tune and its message id
    (after TOKEN_LIFE the interaction token is dead: post to the channel with the bot token instead)

Test-only: TUNESMITH_DISCORD_API_BASE and TUNESMITH_DISCORD_GATEWAY point discord.py at a fake Discord
(tests/fake_discord.py). Never set them in production.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import io
import json
import logging
import os
import secrets
import signal
import sys
import time

import discord
from discord import app_commands

from bot import views
from bot.config import ConfigError, Settings, load_settings
from bot.instruments import INSTRUMENTS
from bot.attachments import fit_files, human_size
from bot.export import guild_jsonl, top_tunes
from bot.requests import LENGTH, SEED, TEMPERATURE, TEMPO, ComposeRequest, from_options, guess_style_from_abc, parse_text
from bot.styles import STYLES

log = logging.getLogger("tunesmith.discord")

TOKEN_LIFE = 15 * 60 - 60  # seconds an interaction token may be used (15 min, minus a safety margin)
PROGRESS_EVERY = 2.0  # seconds between edits of the progress message
HASH_KEY = "discord.commands_hash"
CONTINUE_BARS = 16  # bars the Continue button adds
DEFAULT_CONTINUE_LENGTH = 32  # /continue: total bars when no length is given
COMMON_KEYS = ["D", "G", "A", "E", "C", "F", "Bb", "Em", "Am", "Bm", "Dm", "Gm", "F#m",
               "Ador", "Edor", "Ddor", "Gdor", "Bdor", "Dmix", "Amix", "Gmix", "Emix", "Cmaj", "Ebmaj", "Cm"]


class FrontEndError(ValueError):
    """Something a user asked for that we cannot do; the message is shown to them as it is."""


# ---------------------------------------------------------------------------------------------------------
# Commands. Built fresh for each bot (a command object belongs to one tree).

def _style_choices() -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=f"{s.name} ({s.meter})", value=s.name) for s in STYLES.values()][:25]


def _instrument_choices() -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=name, value=name) for name in INSTRUMENTS][:25]


async def _key_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    typed = current.strip().lower()
    keys = [k for k in COMMON_KEYS if k.lower().startswith(typed)] or COMMON_KEYS
    return [app_commands.Choice(name=k, value=k) for k in keys[:25]]


def build_commands() -> list[app_commands.Command | app_commands.Group]:
    """Every slash command, described. Callbacks hand over to the bot (interaction.client)."""

    @app_commands.command(name="compose", description="Compose a new tune and post it with audio, ABC, MIDI and sheet music")
    @app_commands.describe(
        style="Kind of tune (sets meter, rhythm, tempo and instrument)",
        length=f"Length in bars ({LENGTH[0]}-{LENGTH[1]}; a repeated part counts once)",
        key="Key, e.g. D, Em, Ador, Bbmix (default: the model chooses)",
        tempo=f"Beats per minute ({TEMPO[0]}-{TEMPO[1]}; default: the style's)",
        instrument="Instrument for the melody (default: the style's)",
        temperature=f"Adventurousness ({TEMPERATURE[0]}-{TEMPERATURE[1]}; 0.9 is usual, higher is wilder)",
        seed="Random seed, to get the same tune again",
    )
    @app_commands.choices(style=_style_choices(), instrument=_instrument_choices())
    @app_commands.autocomplete(key=_key_autocomplete)
    async def compose(interaction: discord.Interaction, style: str | None = None,
                      length: app_commands.Range[int, LENGTH[0], LENGTH[1]] | None = None, key: str | None = None,
                      tempo: app_commands.Range[int, TEMPO[0], TEMPO[1]] | None = None, instrument: str | None = None,
                      temperature: app_commands.Range[float, TEMPERATURE[0], TEMPERATURE[1]] | None = None,
                      seed: app_commands.Range[int, SEED[0], SEED[1]] | None = None) -> None:
        options = dict(style=style, length=length, key=key, tempo=tempo, instrument=instrument,
                       temperature=temperature, seed=seed)
        await interaction.client.compose_command(interaction, options)

    @app_commands.command(name="continue", description="Continue a tune you give as ABC text or an attached .abc file")
    @app_commands.describe(abc="The tune as ABC text (header with K: line, then some bars)",
                           file="The tune as an attached .abc file",
                           length=f"Length when done, in bars, counting yours (default {DEFAULT_CONTINUE_LENGTH})",
                           style="Kind of tune (default: guessed from the M: line)")
    @app_commands.choices(style=[c for c in _style_choices() if STYLES[c.value].model == "abc"])
    async def continue_(interaction: discord.Interaction, abc: str | None = None, file: discord.Attachment | None = None,
                        length: app_commands.Range[int, LENGTH[0], LENGTH[1]] = DEFAULT_CONTINUE_LENGTH,
                        style: str | None = None) -> None:
        await interaction.client.continue_command(interaction, abc, file, length, style)

    @app_commands.command(name="rate", description="Rate a tune from 1 to 5 stars (rating again changes your vote)")
    @app_commands.describe(tune="The tune id (shown under each posted tune)", stars="1 (poor) to 5 (great)")
    async def rate(interaction: discord.Interaction, tune: str, stars: app_commands.Range[int, 1, 5]) -> None:
        await interaction.client.rate_tune(interaction, tune.strip(), stars)

    @app_commands.command(name="tune", description="Post a stored tune again, freshly rendered")
    @app_commands.describe(id="The tune id (shown under each posted tune)")
    async def tune(interaction: discord.Interaction, id: str) -> None:
        await interaction.client.tune_command(interaction, id.strip())

    @app_commands.command(name="top", description="The best-rated tunes")
    @app_commands.describe(style="Only this kind of tune", period="Only tunes from this period")
    @app_commands.choices(style=_style_choices(), period=[app_commands.Choice(name=p, value=p) for p in ("day", "week", "month", "all")])
    async def top(interaction: discord.Interaction, style: str | None = None, period: str = "all") -> None:
        await interaction.client.top_command(interaction, style, period)

    @app_commands.command(name="help", description="How to use Tunesmith: commands, styles and buttons")
    async def help_(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(embed=help_embed(), ephemeral=True)

    @app_commands.command(name="stats", description="How many tunes and ratings, and how busy the composer is")
    async def stats(interaction: discord.Interaction) -> None:
        await interaction.client.stats_command(interaction)

    admin = app_commands.Group(name="admin", description="Server settings and the feedback dataset (Manage Server)",
                               default_permissions=discord.Permissions(manage_guild=True), guild_only=True)

    @admin.command(name="export", description="Download this server's ratings as a JSONL dataset (only you see it)")
    async def admin_export(interaction: discord.Interaction) -> None:
        await interaction.client.export_command(interaction)

    @admin.command(name="settings", description="Show or change this server's Tunesmith settings")
    @app_commands.describe(allow_channel="Also allow composing in this channel (none set: every channel)",
                           disallow_channel="Stop allowing this channel",
                           per_user_limit="Tunes one member may have waiting or composing at once (1-100)",
                           default_instrument="Instrument used when a request names none",
                           reset="Forget every setting for this server")
    @app_commands.choices(default_instrument=_instrument_choices())
    async def admin_settings(interaction: discord.Interaction, allow_channel: discord.TextChannel | None = None,
                             disallow_channel: discord.TextChannel | None = None,
                             per_user_limit: app_commands.Range[int, 1, 100] | None = None,
                             default_instrument: str | None = None, reset: bool = False) -> None:
        await interaction.client.settings_command(interaction, allow_channel, disallow_channel, per_user_limit,
                                                  default_instrument, reset)

    return [compose, continue_, rate, tune, top, help_, stats, admin]


def help_embed() -> discord.Embed:
    embed = discord.Embed(title="Tunesmith", description="I compose folk tunes on request and post them as audio, ABC, MIDI and sheet music.")
    embed.add_field(name="/compose", value="`/compose style:jig length:32 key:D` - every option is optional", inline=False)
    embed.add_field(name="/continue", value="Give ABC text (or attach a .abc file) and I add bars to it", inline=False)
    embed.add_field(name="/rate, /tune, /top", value="Rate a tune by id, post a stored tune again, see the best-rated", inline=False)
    embed.add_field(name="Buttons", value="1-5 stars rate the tune (click again to change your vote); Variation: same request, "
                    "new seed; Continue: 16 more bars; Delete: for whoever asked, or an admin", inline=False)
    embed.add_field(name="Styles", value=", ".join(f"{s.name} ({s.meter})" for s in STYLES.values()), inline=False)
    return embed


def command_hash(payload: list[dict]) -> str:
    """A stable fingerprint of the command set: sync only when it changes."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _user_message(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, ValueError) and str(exc) else "something went wrong"



# ---------------------------------------------------------------------------------------------------------
# Where the answers to one request go: an interaction (slash command, button) or a chat message (`!compose`).

class Reply:
    filesize_limit: int = 10 * 1024 * 1024

    async def acknowledge(self) -> None: ...
    async def edit(self, text: str) -> None: ...
    async def post_result(self, *, embed: discord.Embed, files: list[tuple[str, bytes]], view) -> discord.Message | None: ...
    async def fail(self, text: str) -> None: ...


def _files(files: list[tuple[str, bytes]]) -> list[discord.File]:
    return [discord.File(io.BytesIO(data), filename=name) for name, data in files]


class InteractionReply(Reply):
    """Defer, edit the original response, post a followup. The token dies after 15 minutes: after
    bot.token_life seconds (or when Discord refuses the token) the result goes to the channel instead."""

    def __init__(self, bot: "TunesmithBot", interaction: discord.Interaction):
        self.bot, self.interaction = bot, interaction
        self.received = time.monotonic()
        self.filesize_limit = interaction.filesize_limit

    def token_alive(self) -> bool:
        return time.monotonic() - self.received < self.bot.token_life

    async def acknowledge(self) -> None:
        await self.interaction.response.defer(thinking=True)

    async def edit(self, text: str) -> None:
        if self.token_alive():
            await self.interaction.edit_original_response(content=text)

    async def _to_channel(self, **kwargs) -> discord.Message | None:
        channel = self.interaction.channel
        if channel is None and self.interaction.channel_id:
            channel = self.bot.get_partial_messageable(self.interaction.channel_id)
        if channel is None:
            log.warning("interaction %s: token expired and no channel to post to", self.interaction.id)
            return None
        mention = self.interaction.user.mention
        content = f"{mention} {kwargs.pop('content', '')}".strip()
        return await channel.send(content=content, allowed_mentions=discord.AllowedMentions(users=True), **kwargs)

    async def post_result(self, *, embed, files, view) -> discord.Message | None:
        if self.token_alive():
            try:
                return await self.interaction.followup.send(embed=embed, files=_files(files), view=view, wait=True)
            except (discord.NotFound, discord.Forbidden) as exc:
                log.warning("followup refused (%s); posting to the channel", exc)
            except discord.HTTPException as exc:
                if exc.status != 401:
                    raise
                log.warning("interaction token refused; posting to the channel")
        return await self._to_channel(content="here is your tune:", embed=embed, files=_files(files), view=view)

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


class MessageReply(Reply):
    """The `!compose ...` text form: reply to the message, edit that reply, post the result below it."""

    def __init__(self, message: discord.Message):
        self.message = message
        self.status: discord.Message | None = None
        guild = message.guild
        self.filesize_limit = guild.filesize_limit if guild else Reply.filesize_limit

    async def acknowledge(self) -> None:
        self.status = await self.message.reply("Queued", mention_author=False)

    async def edit(self, text: str) -> None:
        if self.status is not None:
            await self.status.edit(content=text)

    async def post_result(self, *, embed, files, view) -> discord.Message | None:
        return await self.message.channel.send(embed=embed, files=_files(files), view=view, reference=self.message,
                                               mention_author=False)

    async def fail(self, text: str) -> None:
        await self.edit(text)


# ---------------------------------------------------------------------------------------------------------
# Progress: edit the status message with the latest news, at most once every `every` seconds.

def status_text(event) -> str:
    if event.state == "queued":
        return f"Queued #{event.position}" + (" (next up)" if event.position == 1 else "")
    return {"starting": "Starting the composer...", "composing": "Composing...",
            "rendering": "Rendering audio and sheet music..."}.get(event.stage, str(event.message).capitalize())


class Progress:
    def __init__(self, reply: Reply, every: float = PROGRESS_EVERY):
        self.reply = reply
        self.every = every
        self.text: str | None = None
        self.shown: str | None = None
        self.last_edit = float("-inf")
        self.changed = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    def update(self, text: str) -> None:
        self.text = text
        self.changed.set()

    async def _wait_turn(self) -> None:
        wait = self.last_edit + self.every - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)  # Discord's pace for edits, not synchronisation

    async def _edit(self, text: str) -> None:
        try:
            await self.reply.edit(text)
            self.shown = text
        except discord.HTTPException as exc:
            log.warning("progress edit failed: %s", exc)
        finally:
            self.last_edit = time.monotonic()  # counted from Discord's answer: a slow request cannot bunch two up

    async def _run(self) -> None:
        while True:
            await self.changed.wait()
            await self._wait_turn()
            self.changed.clear()
            if self.text != self.shown:
                await self._edit(self.text)

    async def stop(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass

    async def finish(self, text: str) -> None:
        """The last edit (after stop()), still at Discord's pace."""
        await self._wait_turn()
        await self._edit(text)


# ---------------------------------------------------------------------------------------------------------
# The result: the embed (which files fit: bot/attachments.py).

def tune_title(art) -> str:
    if art.text_format == "abc":
        for line in art.text.splitlines():
            if line.startswith("T:") and line[2:].strip():
                return line[2:].strip()[:200]
    meta = art.meta
    return f"{str(meta.get('style', 'tune')).title()} in {meta.get('key', '?')}"


def result_embed(art, tune_id: str | None, user: discord.abc.User, parent_id: str | None, notes: list[str]) -> discord.Embed:
    meta = art.meta
    lines = list(notes)
    if parent_id:
        lines.insert(0, f"Based on tune `{parent_id}`")
    embed = discord.Embed(title=tune_title(art), description="\n".join(lines) or None, colour=0x2E7D32)
    fields = [("Style", meta.get("style")), ("Key", meta.get("key")), ("Meter", meta.get("meter")),
              ("Tempo", f"{meta['tempo']} bpm" if meta.get("tempo") else None), ("Bars", meta.get("bars")),
              ("Seed", meta.get("seed")), ("Instrument", meta.get("instrument")),
              ("Model", " ".join(str(meta[k]) for k in ("model", "model_version") if meta.get(k)) or None),
              ("Tune id", f"`{tune_id}`" if tune_id else None), ("Requested by", user.mention)]
    for name, value in fields:
        if value not in (None, ""):
            embed.add_field(name=name, value=str(value)[:1024])
    embed.set_footer(text="Rate it with the stars below (click again to change your vote)")
    return embed


def friendly_errors(handler):
    """For button handlers: a ValueError is told to the clicker as it is; anything else is logged under a
    short error id, and the clicker gets the id (an unanswered click shows "interaction failed")."""
    @functools.wraps(handler)
    async def wrapper(self, interaction: discord.Interaction, *args):
        try:
            await handler(self, interaction, *args)
        except ValueError as exc:
            await self.tell(interaction, _user_message(exc))
        except Exception:
            error_id = secrets.token_hex(4)
            log.exception("internal error %s in %s", error_id, handler.__name__)
            await self.tell(interaction, f"Sorry, something broke on my side (error id `{error_id}`).")
    return wrapper


# ---------------------------------------------------------------------------------------------------------
# The bot.

class TunesmithBot(discord.Client):
    """discord.Client + a command tree; `ShardedTunesmithBot` is the same on AutoShardedClient."""

    def __init__(self, settings: Settings, store, queue, *, intents: discord.Intents | None = None,
                 force_sync: bool = False, **kwargs) -> None:
        intents = intents or discord.Intents.default()
        if settings.message_commands:
            intents.message_content = True
        super().__init__(intents=intents, **kwargs)
        self.settings = settings
        self.store = store
        self.queue = queue
        self.force_sync = force_sync
        self.tree = app_commands.CommandTree(self)
        self.tree.error(self.on_app_command_error)
        for command in build_commands():
            self.tree.add_command(command)
        self.accepting = True
        self.token_life = TOKEN_LIFE
        self.progress_every = PROGRESS_EVERY
        self.synced: bool | None = None  # after setup_hook: did this start push the commands?
        self.flows: set[asyncio.Task] = set()
        self._guild_settings: dict[int, object] = {}
        self._heartbeat_task: asyncio.Task | None = None

    # ---- start-up ---------------------------------------------------------------------------------------
    async def setup_hook(self) -> None:
        self.add_dynamic_items(*views.DYNAMIC_ITEMS)
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
            await asyncio.sleep(30)
            if self.is_ready() and not self.is_closed():
                self._touch_heartbeat()

    async def on_ready(self) -> None:
        log.info("connected as %s (id %s) to %d guild(s)", self.user, self.user.id if self.user else "?", len(self.guilds))
        self._touch_heartbeat()
        if self.queue is not None and self.queue.interrupted_jobs:
            jobs, self.queue.interrupted_jobs = self.queue.interrupted_jobs[:20], []
            for job in jobs:  # cut by a crash or restart of an earlier run: say so where they asked
                if job.channel_id and job.user_id:
                    try:
                        await self.get_partial_messageable(job.channel_id).send(
                            f"<@{job.user_id}> sorry, I restarted before your tune was finished; please ask again.",
                            allowed_mentions=discord.AllowedMentions(users=True))
                    except discord.HTTPException as exc:
                        log.warning("could not tell user %s about job %s: %s", job.user_id, job.id, exc)

    async def close(self) -> None:
        """Cancel what is still in flight (it would only meet a closed session), then disconnect."""
        if self._heartbeat_task:
            self._heartbeat_task.cancel()
        flows = [t for t in self.flows if t is not asyncio.current_task()]
        for task in flows:
            task.cancel()
        if flows:
            await asyncio.wait(flows, timeout=5)
        await super().close()

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
        log.error("internal error %s in /%s", error_id, interaction.command.name if interaction.command else "?", exc_info=cause)
        await self.tell(interaction, f"Sorry, something broke on my side (error id `{error_id}`).")

    async def tell(self, interaction: discord.Interaction, text: str) -> None:
        """An ephemeral message to the user, whether or not the interaction was answered yet."""
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException as exc:
            log.warning("could not tell the user about an error: %s", exc)

    # ---- commands ---------------------------------------------------------------------------------------
    async def compose_command(self, interaction: discord.Interaction, options: dict) -> None:
        request = from_options(**{k: v for k, v in options.items() if v is not None})
        await self.compose_flow(interaction, request)

    async def continue_command(self, interaction, abc, file, length, style) -> None:
        if (abc is None) == (file is None):
            raise FrontEndError("give the tune to continue either as `abc` text or as an attached .abc `file` (one of them)")
        if file is not None:
            if not file.filename.lower().endswith((".abc", ".txt")):
                raise FrontEndError(f"the attached file '{file.filename[:40]}' is not an .abc file")
            if file.size > 32_000:
                raise FrontEndError(f"the attached file is {file.size} bytes; the limit is 32000")
            try:
                abc = (await file.read()).decode("utf-8")
            except UnicodeDecodeError:
                raise FrontEndError("the attached file is not UTF-8 text; save it as plain text") from None
        request = from_options(style=style or guess_style_from_abc(abc), length=length, continue_abc=abc)
        await self.compose_flow(interaction, request)

    async def rate_tune(self, interaction: discord.Interaction, tune_id: str, stars: int) -> None:
        if await self.store.get_tune(tune_id) is None:
            raise FrontEndError(f"there is no tune with id '{tune_id[:40]}'")
        summary = await self.store.rate(tune_id, interaction.user.id, stars)
        mean = f"{summary.mean:.1f}" if summary.mean is not None else "-"
        await interaction.response.send_message(
            f"You rated tune `{tune_id}` {stars}/5 {views.STAR_EMOJI * stars}. "
            f"It now has {summary.count} rating{'s' if summary.count != 1 else ''}, average {mean}.", ephemeral=True)

    async def tune_command(self, interaction: discord.Interaction, tune_id: str) -> None:
        tune = await self.store.get_tune(tune_id)
        if tune is None:
            raise FrontEndError(f"there is no tune with id '{tune_id[:40]}'")
        from bot.worker import RerenderRequest
        await self.compose_flow(interaction, RerenderRequest.from_tune(tune))

    async def read_db(self, func, *args):
        """Run func(sqlite3 connection, *args) in a thread on its own connection: reports and exports read
        many rows, which is not work for the event loop."""
        from bot.store import open_sync

        def run():
            conn = open_sync(self.store.path)
            try:
                return func(conn, *args)
            finally:
                conn.close()
        return await asyncio.to_thread(run)

    async def top_command(self, interaction, style, period) -> None:
        since = {"day": 86400, "week": 7 * 86400, "month": 30 * 86400}.get(period)
        rows = await self.read_db(top_tunes, interaction.guild_id, style, time.time() - since if since else None, 10)
        if not rows:
            where = f" for {style}" if style else ""
            await interaction.response.send_message(f"No rated tunes yet{where} ({period}).", ephemeral=True)
            return
        lines = [f"{i}. `{r['id']}` {r['style']} - {r['ratings']['mean']:.1f}/5 from {r['ratings']['count']} "
                 f"rating{'s' if r['ratings']['count'] != 1 else ''}" for i, r in enumerate(rows, 1)]
        embed = discord.Embed(title=f"Top tunes{f' ({style})' if style else ''}, {period}", description="\n".join(lines))
        embed.set_footer(text="/tune id:<id> posts one again")
        await interaction.response.send_message(embed=embed)

    async def stats_command(self, interaction: discord.Interaction) -> None:
        from bot.stats import collect
        s = await self.read_db(collect)
        embed = discord.Embed(title="Tunesmith stats")
        embed.add_field(name="Tunes composed", value=str(s["tunes"]))
        embed.add_field(name="Ratings", value=f"{s['ratings']} from {s['raters']} people")
        embed.add_field(name="Mean rating", value=str(s["mean_rating"] if s["mean_rating"] is not None else "-"))
        if s["job_seconds"]["p50"] is not None:
            embed.add_field(name="Composing time", value=f"p50 {s['job_seconds']['p50']} s, p95 {s['job_seconds']['p95']} s")
        for name, value in self._queue_stats().items():
            embed.add_field(name=name, value=str(value))
        await interaction.response.send_message(embed=embed, ephemeral=True)

    async def export_command(self, interaction: discord.Interaction) -> None:
        self._require_manage_guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        count, data = await self.read_db(guild_jsonl, interaction.guild_id)
        if not count:
            await interaction.followup.send("No rated tunes on this server yet: nothing to export.", ephemeral=True)
        elif len(data) > interaction.filesize_limit:
            await interaction.followup.send(f"The dataset is {human_size(len(data))}, over the upload limit; use "
                                            "`tunesmith export` on the bot's machine.", ephemeral=True)
        else:
            await interaction.followup.send(f"{count} rated tune(s), one JSON object per line "
                                            "(the format of `tunesmith export`).", ephemeral=True,
                                            file=discord.File(io.BytesIO(data), filename="tunesmith-ratings.jsonl"))

    async def settings_command(self, interaction, allow_channel, disallow_channel, per_user_limit, default_instrument, reset) -> None:
        from bot.store import GuildSettings
        self._require_manage_guild(interaction)
        gid = interaction.guild_id
        current = GuildSettings(gid) if reset else await self.store.guild_settings(gid)
        channels = list(current.allowed_channels)
        if allow_channel is not None and allow_channel.id not in channels:
            channels.append(allow_channel.id)
        if disallow_channel is not None and disallow_channel.id in channels:
            channels.remove(disallow_channel.id)
        new = dataclasses.replace(current, allowed_channels=tuple(channels),
                                  per_user_limit=per_user_limit if per_user_limit is not None else current.per_user_limit,
                                  default_instrument=default_instrument or current.default_instrument)
        await self.store.set_guild_settings(new)
        self._guild_settings[gid] = new
        where = ", ".join(f"<#{c}>" for c in new.allowed_channels) or "every channel"
        await interaction.response.send_message(
            f"Settings for this server:\n- composing allowed in: {where}\n- per-user limit: "
            f"{new.per_user_limit or 'default'}\n- default instrument: {new.default_instrument or 'the style`s own'}",
            ephemeral=True)

    @staticmethod
    def _require_manage_guild(interaction: discord.Interaction) -> None:
        if interaction.guild_id is None or not interaction.permissions.manage_guild:
            raise FrontEndError("only members with the Manage Server permission can do that")

    # ---- buttons (called from bot/views.py) -------------------------------------------------------------
    @friendly_errors
    async def on_rate_click(self, interaction: discord.Interaction, tune_id: str, stars: int) -> None:
        await self.rate_tune(interaction, tune_id, stars)

    @friendly_errors
    async def on_variation_click(self, interaction: discord.Interaction, tune_id: str) -> None:
        tune = await self._tune_or_error(tune_id)
        options = {k: v for k, v in tune.request.items() if v is not None and k != "seed"}
        await self.compose_flow(interaction, from_options(**options), parent_id=tune.id)

    @friendly_errors
    async def on_continue_click(self, interaction: discord.Interaction, tune_id: str) -> None:
        tune = await self._tune_or_error(tune_id)
        if tune.text_format != "abc":
            raise FrontEndError("only ABC tunes can be continued")
        length = min(LENGTH[1], int(tune.request.get("length") or 16) + CONTINUE_BARS)  # length counts every bar
        request = from_options(style=tune.style, length=length, continue_abc=tune.text)
        await self.compose_flow(interaction, request, parent_id=tune.id)

    async def _tune_or_error(self, tune_id: str):
        tune = await self.store.get_tune(tune_id)
        if tune is None:
            raise FrontEndError(f"tune '{tune_id}' is not in my records any more")
        return tune

    @friendly_errors
    async def on_delete_click(self, interaction: discord.Interaction, tune_id: str) -> None:
        tune = await self.store.get_tune(tune_id)
        is_admin = interaction.permissions.manage_messages or interaction.permissions.manage_guild
        if tune is not None and tune.user_id != interaction.user.id and not is_admin:
            raise FrontEndError("Only the person who asked for this tune (or a moderator) can delete it.")
        await interaction.response.send_message(f"Deleted tune `{tune_id}`.", ephemeral=True)
        try:
            if interaction.message is not None:
                await interaction.message.delete()
        except discord.HTTPException as exc:
            log.warning("could not delete the message of tune %s: %s", tune_id, exc)

    # ---- the text form: `!compose style:jig length:64` (needs the message-content intent) ----------------
    async def on_message(self, message: discord.Message) -> None:
        if not self.settings.message_commands or message.author.bot or not self.accepting:
            return
        content = message.content.strip()
        mention = self.user.mention if self.user else None
        if mention and content.startswith((mention, mention.replace("<@", "<@!"))):
            content = content.split(">", 1)[1].strip()
        elif content.startswith("!compose"):
            content = content[1:]
        else:
            return
        try:
            request = parse_text(content)
            await self.run_request(MessageReply(message), message.author, message.guild.id if message.guild else None,
                                   message.channel.id, request)
        except ValueError as exc:
            await message.reply(f"I could not do that: {exc}", mention_author=False)

    # ---- one request, start to finish -------------------------------------------------------------------
    def _queue_stats(self) -> dict:
        if self.queue is None:
            return {}
        return {"Waiting": self.queue.queued, "Composing now": self.queue.running}

    async def guild_settings(self, guild_id: int | None):
        from bot.store import GuildSettings
        if guild_id is None:
            return GuildSettings(0)
        if guild_id not in self._guild_settings:
            self._guild_settings[guild_id] = await self.store.guild_settings(guild_id)
        return self._guild_settings[guild_id]

    async def compose_flow(self, interaction: discord.Interaction, request: ComposeRequest, *,
                           parent_id: str | None = None) -> None:
        """Queue the request, acknowledge, show progress, post the result (or say what went wrong)."""
        reply = InteractionReply(self, interaction)
        await self.run_request(reply, interaction.user, interaction.guild_id, interaction.channel_id, request,
                               parent_id=parent_id)

    async def run_request(self, reply: "Reply", user: discord.abc.User, guild_id: int | None, channel_id: int | None,
                          request: ComposeRequest, *, parent_id: str | None = None) -> None:
        """The shared path of /compose, /continue, /tune, the Variation/Continue buttons and `!compose`.

        Raises ValueError (shown to the user as it is) only before anything was acknowledged."""
        from bot.jobs import JobEvent
        if not self.accepting or self.queue is None:
            raise FrontEndError("Tunesmith is restarting; please ask again in a minute")
        gs = await self.guild_settings(guild_id)
        if gs.allowed_channels and channel_id not in gs.allowed_channels:
            where = ", ".join(f"<#{c}>" for c in gs.allowed_channels)
            raise FrontEndError(f"on this server I compose only in {where}")
        if gs.default_instrument and isinstance(request, ComposeRequest) and request.instrument is None:
            request = dataclasses.replace(request, instrument=gs.default_instrument)

        progress: Progress | None = None
        latest = ["Queued"]

        async def on_progress(event: JobEvent) -> None:
            if event.state not in ("queued", "running"):
                return  # the outcome is told below
            latest[0] = status_text(event)
            if progress is not None:
                progress.update(latest[0])

        job = await self.queue.submit(user.id, request, on_progress, guild_id=guild_id, channel_id=channel_id,
                                      parent_id=parent_id, max_jobs=gs.per_user_limit)  # BusyError etc.: ValueErrors
        task = asyncio.current_task()
        self.flows.add(task)
        try:
            try:
                await reply.acknowledge()
            except discord.HTTPException as exc:
                log.warning("could not acknowledge a request (%s); cancelling job %s", exc, job.id)
                await self.queue.cancel(job.id)
                return
            progress = Progress(reply, self.progress_every)
            progress.update(latest[0])
            try:
                await job.wait()
            finally:
                await progress.stop()
            if job.state == "done":
                await self._post_result(reply, job, user, parent_id)
                await progress.finish(f"Done: tune `{job.tune_id}`" if job.tune_id else "Done")
            else:
                text = job.error or "the tune could not be made"
                if job.state == "failed" and "shutting down" in text:
                    text = "Tunesmith is restarting and your tune was cut short; please ask again in a minute."
                await reply.fail(f"Sorry, {text}" if not text.startswith("Tunesmith") else text)
        finally:
            self.flows.discard(task)

    async def _post_result(self, reply: "Reply", job, user, parent_id: str | None) -> None:
        art = job.result
        files, notes = await fit_files(art, job.tune_id or job.id, reply.filesize_limit)
        embed = result_embed(art, job.tune_id, user, parent_id, notes)
        view = views.tune_view(job.tune_id, can_continue=art.text_format == "abc") if job.tune_id else discord.utils.MISSING
        message = await reply.post_result(embed=embed, files=files, view=view)
        if job.tune_id and message is not None:
            try:
                await self.store.set_message_id(job.tune_id, message.id)
            except Exception:
                log.exception("could not record the message of tune %s", job.tune_id)

    # ---- shutting down (SIGTERM) --------------------------------------------------------------------------
    async def shutdown(self, grace: float) -> None:
        """Stop taking requests, let running jobs finish for `grace` s, tell the users of cut jobs, close."""
        self.accepting = False
        log.info("shutting down: %d request(s) in flight", len(self.flows))
        if self.queue is not None:
            counts = await self.queue.close(grace)
            log.info("job queue closed: %s", counts)
        if self.flows:  # they are telling their users; give them a moment
            await asyncio.wait(list(self.flows), timeout=2.0)
        await self.close()


class ShardedTunesmithBot(TunesmithBot, discord.AutoShardedClient):
    """The same bot over several gateway shards (settings.sharded)."""


def make_bot(settings: Settings, store, queue, **kwargs) -> TunesmithBot:
    cls = ShardedTunesmithBot if settings.sharded else TunesmithBot
    return cls(settings, store, queue, **kwargs)


# ---------------------------------------------------------------------------------------------------------
# Entry points.

def _use_test_server() -> None:
    """TEST ONLY: point discord.py at a fake Discord (tests/fake_discord.py) when these are set."""
    api, gateway = os.environ.get("TUNESMITH_DISCORD_API_BASE"), os.environ.get("TUNESMITH_DISCORD_GATEWAY")
    if api:
        import discord.http
        discord.http.Route.BASE = api
        log.warning("TEST ONLY: Discord API base is %s", api)
    if gateway:
        import discord.gateway
        import yarl
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
        log.warning("TEST ONLY: Discord gateway is %s", gateway)


def setup_logging(level: str, token: str = "") -> None:
    from bot.logging_setup import setup_logging as setup  # one handler; it masks interaction and bot tokens
    setup(level, secrets=(token,))


def _settings_or_exit() -> Settings | None:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"tunesmith: {exc}", file=sys.stderr)
        return None
    if not settings.discord_token:
        print("tunesmith: DISCORD_TOKEN is not set; create a bot at https://discord.com/developers/applications "
              "and put its token in DISCORD_TOKEN (see README)", file=sys.stderr)
        return None
    return settings


def sync_main(argv: list[str]) -> int:
    """`tunesmith sync`: push the slash commands now (to TUNESMITH_DEV_GUILD if set, else globally)."""
    argparse.ArgumentParser(prog="tunesmith sync", description=sync_main.__doc__).parse_args(argv)
    settings = _settings_or_exit()
    if settings is None:
        return 2
    setup_logging(settings.log_level, settings.discord_token)
    _use_test_server()

    async def run() -> int:
        from bot.store import Store
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        async with await Store.open(settings.db_path) as store:
            bot = make_bot(settings, store, queue=None, force_sync=True)
            try:
                await bot.login(settings.discord_token)  # setup_hook syncs
            except discord.LoginFailure:
                print("tunesmith: Discord refused the token in DISCORD_TOKEN", file=sys.stderr)
                return 1
            finally:
                await bot.close()
        return 0

    return asyncio.run(run())


def main(argv: list[str]) -> int:
    """`tunesmith run`: run the bot until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="tunesmith run", description=main.__doc__)
    parser.add_argument("--sync", action="store_true", help="push the slash commands even if unchanged")
    args = parser.parse_args(argv)
    settings = _settings_or_exit()
    if settings is None:
        return 2
    setup_logging(settings.log_level, settings.discord_token)
    _use_test_server()
    return asyncio.run(_run(settings, force_sync=args.sync))


SHUTDOWN_BUDGET = 6.0  # seconds jobs may keep running after SIGTERM (docker stop kills after 10 s)


async def _run(settings: Settings, force_sync: bool = False) -> int:
    from bot.jobs import JobQueue
    from bot.store import Store
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = await Store.open(settings.db_path)
    queue = JobQueue(settings, store=store)
    await queue.start()
    bot = make_bot(settings, store, queue, force_sync=force_sync)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bot_task = asyncio.create_task(bot.start(settings.discord_token), name="discord")
    stop_task = asyncio.create_task(stop.wait(), name="stop")
    code = 0
    try:
        await asyncio.wait([bot_task, stop_task], return_when=asyncio.FIRST_COMPLETED)
        if bot_task.done():
            exc = bot_task.exception()
            if isinstance(exc, discord.LoginFailure):
                log.error("Discord refused the token in DISCORD_TOKEN")
                code = 1
            elif exc is not None:
                log.error("the Discord connection failed", exc_info=exc)
                code = 1
        else:
            log.info("stop signal received")
        await bot.shutdown(min(settings.shutdown_grace, SHUTDOWN_BUDGET))
        if not bot_task.done():
            await asyncio.wait([bot_task], timeout=2.0)
    finally:
        stop_task.cancel()
        if bot.accepting:  # shutdown() never ran (an error above)
            await queue.close(0)
        await store.close()
        log.info("stopped; database closed")
    return code
