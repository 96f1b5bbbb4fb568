"""Every slash command and button of Tunesmith, as methods of one cog next to their signatures.

The work is the service's (bot/tunes.py) and the request flow's (bot/flow.py); this class only turns
Discord's options into their calls and their answers into messages. A ValueError raised here is
shown to the user as it is (bot/discord/app.py's error handler).
"""

from __future__ import annotations

import io
import logging
import secrets

import discord
from discord import app_commands
from discord.ext import commands

from bot.attachments import DownloadError, download, human_size
from bot.discord import embeds
from bot.discord.buttons import COG_NAME, STAR_EMOJI
from bot.discord.replies import InteractionReply, MessageReply
from bot.flow import SCORE_EVERY, Coalescer
from bot.instruments import INSTRUMENTS
from bot.requests import (
    LENGTH,
    MODEL_MODES,
    SEED,
    TEMPERATURE,
    TEMPO,
    ComposeOptions,
    from_options,
    guess_style_from_abc,
    length_choices,
    text_options,
)
from bot.store import GuildSettings
from bot.styles import DEFAULT_STYLE, STYLES
from bot.tunes import TuneError, score_text
from model.keys import ABC_MODE, parse_key

log = logging.getLogger("tunesmith.discord")

DEFAULT_CONTINUE_LENGTH = 32  # /continue: total bars when no length is given
MAX_ATTACHED_ABC = 32_000  # bytes
COMMON_KEYS = [
    "D",
    "G",
    "A",
    "E",
    "C",
    "F",
    "Bb",
    "Em",
    "Am",
    "Bm",
    "Dm",
    "Gm",
    "F#m",
    "Ador",
    "Edor",
    "Ddor",
    "Gdor",
    "Bdor",
    "Dmix",
    "Amix",
    "Gmix",
    "Emix",
    "Cmaj",
    "Ebmaj",
    "Cm",
]
FORM_CHOICES = [app_commands.Choice(name=f, value=f) for f in ("AABB", "AABBCC", "AB", "ABAC", "AABA", "AA")]
STYLE_CHOICES = [app_commands.Choice(name=f"{s.name} ({s.meter})", value=s.name) for s in STYLES.values()][:25]
ABC_STYLE_CHOICES = [c for c in STYLE_CHOICES if STYLES[c.value].model == "abc"]
INSTRUMENT_CHOICES = [app_commands.Choice(name=name, value=name) for name in INSTRUMENTS][:25]
PERIOD_CHOICES = [app_commands.Choice(name=p, value=p) for p in ("day", "week", "month", "all")]
# Only lengths the composer honours exactly (bot/requests.py asks the form planner); chat and the CLI move any
# other length to the nearest honoured one and say so.
LENGTH_CHOICES = [app_commands.Choice(name=label, value=n) for n, label in length_choices()]
LENGTH_HELP = "Length in bars as played, repeats included (a 32-bar jig is AABB of 8)"
MANAGE_SERVER = "Only members with the Manage Server permission can do that."
TONICS = ("C", "C#", "Db", "D", "Eb", "E", "F", "F#", "Gb", "G", "Ab", "A", "Bb", "B")
MAX_CARDS = 1000  # cards of clicked posts kept in memory (posts from before cards were stored)


def manage_server_only():
    """A check: the member may manage the server (the admin commands are hidden from others too)."""

    def predicate(interaction: discord.Interaction) -> bool:
        if interaction.guild_id is None or not interaction.permissions.manage_guild:
            raise app_commands.CheckFailure(MANAGE_SERVER)
        return True

    return app_commands.check(predicate)


def key_suggestions(typed: str, style: str | None) -> list[tuple[str, str]]:
    """(label, value) of the keys the style's model can compose in that match what was typed, by short name
    ("F#m", "Bbmix") or in words ("f# min", "d dor"): the common keys first, then every other tonic; what
    was typed comes first when it is a key itself. At most 25."""
    modes = MODEL_MODES[STYLES.get(style or "", STYLES[DEFAULT_STYLE]).model]
    keys = [k for k in COMMON_KEYS if parse_key(k).name[-3:] in modes]
    keys += [t + ABC_MODE[m] for m in modes for t in TONICS if t + ABC_MODE[m] not in keys]
    text = " ".join(typed.lower().split())
    try:
        exact = parse_key(typed).name if text else None
    except ValueError:
        exact = None
    out, seen = [], set()
    for k in keys:
        key = parse_key(k)
        if key.name in seen:  # one spelling of each key (F#m, not Gbm as well)
            continue
        seen.add(key.name)
        words = key.human.lower()
        if exact == key.name:
            out.insert(0, (f"{key.human} ({k})", k))
        elif not text or k.lower().startswith(text) or words.startswith(text) or key.name.lower().startswith(text):
            out.append((f"{key.human} ({k})", k))
    return out[:25]


async def key_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    style = getattr(interaction.namespace, "style", None)
    return [app_commands.Choice(name=label, value=v) for label, v in key_suggestions(current[:40], style)]


class TuneCommands(commands.Cog, name=COG_NAME):
    def __init__(self, bot) -> None:
        self.bot = bot  # bot/discord/app.py TunesmithBot: .service, .flow, .tell, .token_life
        self.scores = Coalescer(self._show_score, SCORE_EVERY)  # public score edits, at Discord's pace
        self.cards: dict[int, dict] = {}  # message id -> card of a clicked post whose card was not stored
        self.failed_edits: set[int] = set()  # posts whose score edit failed (logged once each)

    async def cog_unload(self) -> None:
        self.scores.close()

    @property
    def service(self):
        return self.bot.service

    async def run(self, interaction: discord.Interaction, request, parent_id: str | None = None) -> None:
        await self.bot.flow.run(
            InteractionReply(interaction, self.bot.token_life),
            interaction.user.id,
            interaction.guild_id,
            interaction.channel_id,
            request,
            parent_id=parent_id,
        )

    # ---- composing ----------------------------------------------------------------------------------
    @app_commands.command(
        name="compose", description="Compose a new tune and post it with audio, ABC, MIDI and sheet music"
    )
    @app_commands.describe(
        style="Kind of tune (sets meter, rhythm, tempo and instrument)",
        length=LENGTH_HELP,
        key="Key, e.g. D, Em, Ador, Bbmix (default: the model chooses)",
        tempo=f"Beats per minute ({TEMPO[0]}-{TEMPO[1]}; default: the style's)",
        instrument="Instrument for the melody (default: the style's)",
        temperature=f"Adventurousness ({TEMPERATURE[0]}-{TEMPERATURE[1]}; 0.9 is usual, higher is wilder)",
        seed="Random seed, to get the same tune again",
        form="The parts in playing order (default: the style's usual form, e.g. AABB)",
    )
    @app_commands.choices(style=STYLE_CHOICES, instrument=INSTRUMENT_CHOICES, form=FORM_CHOICES, length=LENGTH_CHOICES)
    @app_commands.autocomplete(key=key_autocomplete)
    async def compose(
        self,
        interaction: discord.Interaction,
        style: str | None = None,
        length: int | None = None,
        key: str | None = None,
        tempo: app_commands.Range[int, TEMPO[0], TEMPO[1]] | None = None,
        instrument: str | None = None,
        temperature: app_commands.Range[float, TEMPERATURE[0], TEMPERATURE[1]] | None = None,
        seed: app_commands.Range[int, SEED[0], SEED[1]] | None = None,
        form: str | None = None,
    ) -> None:
        options = ComposeOptions.of(
            dict(
                style=style,
                length=length,
                key=key,
                tempo=tempo,
                instrument=instrument,
                temperature=temperature,
                seed=seed,
                form=form,
            )
        )
        await self.run(interaction, options)  # + the server's defaults

    @app_commands.command(name="continue", description="Continue a tune you give as ABC text or an attached .abc file")
    @app_commands.describe(
        abc="The tune as ABC text (header with K: line, then some bars)",
        file="The tune as an attached .abc file",
        length=f"Length when done, in bars, counting yours (default {DEFAULT_CONTINUE_LENGTH})",
        style="Kind of tune (default: guessed from the M: line)",
    )
    @app_commands.choices(style=ABC_STYLE_CHOICES)
    async def continue_(
        self,
        interaction: discord.Interaction,
        abc: str | None = None,
        file: discord.Attachment | None = None,
        length: app_commands.Range[int, LENGTH[0], LENGTH[1]] = DEFAULT_CONTINUE_LENGTH,
        style: str | None = None,
    ) -> None:
        if (abc is None) == (file is None):
            raise TuneError(
                "Give the tune to continue either as `abc` text or as an attached .abc `file` (one of them)."
            )
        if file is not None:
            abc = await _read_abc_attachment(file)
        request = from_options(style=style or guess_style_from_abc(abc), length=length, continue_abc=abc)
        await self.run(interaction, request)

    @app_commands.command(name="tune", description="Post a stored tune again, freshly rendered")
    @app_commands.describe(id="The tune: start typing its title (or its id, shown on each post)")
    async def tune(self, interaction: discord.Interaction, id: str) -> None:
        tune = await self.service.tune(id.strip(), interaction.guild_id)
        await self.run(interaction, self.service.rerender_of(tune))

    async def tune_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """This server's best-rated and newest tunes whose title or id contains what was typed."""
        rows = await self.service.suggestions(interaction.guild_id, current[:100])
        return [app_commands.Choice(name=embeds.choice_name(r), value=r.id) for r in rows[:25]]

    @tune.autocomplete("id")
    async def _tune_id_choices(self, interaction: discord.Interaction, current: str):
        return await self.tune_choices(interaction, current)

    # ---- ratings and reports ------------------------------------------------------------------------
    @app_commands.command(name="rate", description="Rate a tune from 1 to 5 stars (rating again changes your vote)")
    @app_commands.describe(
        tune="The tune: start typing its title (or its id, shown on each post)", stars="1 (poor) to 5 (great)"
    )
    async def rate(self, interaction: discord.Interaction, tune: str, stars: app_commands.Range[int, 1, 5]) -> None:
        await self._rate(interaction, tune.strip(), stars)

    @rate.autocomplete("tune")
    async def _rate_tune_choices(self, interaction: discord.Interaction, current: str):
        return await self.tune_choices(interaction, current)

    async def _rate(self, interaction: discord.Interaction, tune_id: str, stars: int) -> None:
        """Record the vote, confirm it privately, and have every post of the tune show the new public score
        (the requester's own vote is theirs to see, but counts in no public figure)."""
        summary, own = await self.service.rate(tune_id, interaction.user.id, stars, interaction.guild_id)
        score = score_text(summary.count, summary.mean)
        if own:
            text = (
                f"Your vote on your own tune `{tune_id}`: {stars}/5 {STAR_EMOJI * stars}. It is kept as yours, but "
                f"its public score counts only other members' votes ({score})."
            )
        else:
            text = f"You rated tune `{tune_id}` {stars}/5 {STAR_EMOJI * stars}. Its score is now {score}."
        await interaction.response.send_message(text, ephemeral=True)
        if own:
            return  # the public score did not change
        targets = {(p.channel_id, p.message_id) for p in await self.service.posts_of(tune_id)}
        clicked = interaction.message
        if clicked is not None:  # the clicked post (one from before posts were recorded, too)
            targets.add((clicked.channel.id, clicked.id))
            if clicked.embeds and clicked.id not in self.cards:
                self._keep_card(clicked)
        for channel_id, message_id in targets:
            if channel_id is not None:
                self.scores.poke((tune_id, channel_id, message_id))

    def _keep_card(self, message: discord.Message) -> None:
        """The card of a clicked post (a click carries the whole message: no read needed), for posts whose
        card was not stored."""
        embed = message.embeds[0].copy()
        image = embed.image.url or ""
        for a in message.attachments:  # point at the attachment itself, not a URL that expires
            if a.filename.endswith(".png") and a.filename in image:
                embed.set_image(url=f"attachment://{a.filename}")
                break
        if len(self.cards) >= MAX_CARDS:
            self.cards.pop(next(iter(self.cards)))
        self.cards[message.id] = embed.to_dict()

    async def _show_score(self, key: tuple[str, int, int]) -> None:
        """Edit one post's embed to show the tune's public score now (the Coalescer calls this at Discord's
        pace). The post is edited by its channel and message ids from its stored card: never read back, so
        a missing Read Message History permission cannot stop it. A failed edit is logged once per post."""
        tune_id, channel_id, message_id = key
        summary = await self.service.score(tune_id)
        post = await self.service.post(message_id)
        card = post.card if post is not None and post.card else self.cards.get(message_id)
        if card is None:
            self._edit_failed(message_id, tune_id, "the post was made before cards were kept and was not clicked")
            return
        embed = embeds.with_score(discord.Embed.from_dict(card), summary.count, summary.mean)
        try:
            await self.bot.get_partial_messageable(channel_id).get_partial_message(message_id).edit(embed=embed)
        except discord.NotFound:
            return  # the post was deleted meanwhile
        except discord.HTTPException as exc:
            self._edit_failed(message_id, tune_id, f"{exc.status} {exc.text or exc}")

    def _edit_failed(self, message_id: int, tune_id: str, reason: str) -> None:
        if message_id not in self.failed_edits:
            self.failed_edits.add(message_id)
            log.warning("could not show the score of tune %s on message %s: %s", tune_id, message_id, reason)

    @app_commands.command(name="top", description="The best-rated tunes on this server, with links to their posts")
    @app_commands.describe(style="Only this kind of tune", period="Only tunes from this period")
    @app_commands.choices(style=STYLE_CHOICES, period=PERIOD_CHOICES)
    async def top(self, interaction: discord.Interaction, style: str | None = None, period: str = "all") -> None:
        rows = await self.service.top(interaction.guild_id, style, period)
        if not rows:
            where = f" for {style}" if style else ""
            await interaction.response.send_message(f"No rated tunes yet{where} ({period}).", ephemeral=True)
            return
        await interaction.response.send_message(embed=embeds.top_embed(rows, style, period))

    @app_commands.command(name="mine", description="Your latest tunes on this server, with links to their posts")
    async def mine(self, interaction: discord.Interaction) -> None:
        rows = await self.service.mine(interaction.guild_id, interaction.user.id)
        if not rows:
            await interaction.response.send_message("You have no tunes here yet: try `/compose`.", ephemeral=True)
            return
        await interaction.response.send_message(embed=embeds.mine_embed(rows), ephemeral=True)

    @app_commands.command(name="help", description="How to use Tunesmith: commands, buttons, styles and limits")
    async def help_(self, interaction: discord.Interaction) -> None:
        settings = self.bot.settings
        gs = await self.service.guild_settings(interaction.guild_id)
        per_user = gs.per_user_limit or settings.per_user_running + settings.per_user_queued
        await interaction.response.send_message(
            embed=embeds.help_embed(per_user, settings.queue_cap, settings.max_audio_seconds), ephemeral=True
        )

    @app_commands.command(name="stats", description="How many tunes and ratings, and how busy the composer is")
    async def stats(self, interaction: discord.Interaction) -> None:
        s = await self.service.stats()
        await interaction.response.send_message(embed=embeds.stats_embed(s, self.service.queue), ephemeral=True)

    # ---- admin --------------------------------------------------------------------------------------
    admin = app_commands.Group(
        name="admin",
        description="Server settings and the feedback dataset (Manage Server)",
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )

    @admin.command(name="export", description="Download this server's ratings as a JSONL dataset (only you see it)")
    @manage_server_only()
    async def admin_export(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        count, data = await self.service.export_guild(interaction.guild_id)
        if not count:
            await interaction.followup.send("No rated tunes on this server yet: nothing to export.", ephemeral=True)
        elif len(data) > interaction.filesize_limit:
            await interaction.followup.send(
                f"The dataset is {human_size(len(data))}, over the upload limit; use "
                "`tunesmith export` on the bot's machine.",
                ephemeral=True,
            )
        else:
            await interaction.followup.send(
                f"{count} rated tune(s), one JSON object per line (the format of `tunesmith export`).",
                ephemeral=True,
                file=discord.File(io.BytesIO(data), filename="tunesmith-ratings.jsonl"),
            )

    @admin.command(name="settings", description="Show or change this server's Tunesmith settings")
    @app_commands.describe(
        allow_channel="Also allow composing in this channel (none set: every channel)",
        disallow_channel="Stop allowing this channel",
        per_user_limit="Tunes one member may have waiting or composing at once (1-100)",
        default_style="Style used when a /compose names none",
        default_length="Length in bars when a /compose names none",
        default_tempo=f"Tempo in bpm when a /compose names none ({TEMPO[0]}-{TEMPO[1]})",
        default_instrument="Instrument used when a request names none",
        reset="Forget every setting for this server",
    )
    @app_commands.choices(
        default_instrument=INSTRUMENT_CHOICES, default_style=STYLE_CHOICES, default_length=LENGTH_CHOICES
    )
    @manage_server_only()
    async def admin_settings(
        self,
        interaction: discord.Interaction,
        allow_channel: discord.TextChannel | None = None,
        disallow_channel: discord.TextChannel | None = None,
        per_user_limit: app_commands.Range[int, 1, 100] | None = None,
        default_style: str | None = None,
        default_length: int | None = None,
        default_tempo: app_commands.Range[int, TEMPO[0], TEMPO[1]] | None = None,
        default_instrument: str | None = None,
        reset: bool = False,
    ) -> None:
        gid = interaction.guild_id
        current = GuildSettings(gid) if reset else await self.service.guild_settings(gid)
        channels = list(current.allowed_channels)
        if allow_channel is not None and allow_channel.id not in channels:
            channels.append(allow_channel.id)
        if disallow_channel is not None and disallow_channel.id in channels:
            channels.remove(disallow_channel.id)
        new = GuildSettings(
            gid,
            tuple(channels),
            per_user_limit if per_user_limit is not None else current.per_user_limit,
            default_instrument or current.default_instrument,
            default_style or current.default_style,
            default_length or current.default_length,
            default_tempo or current.default_tempo,
        )
        from_options(
            **{
                k: v
                for k, v in (("style", new.default_style), ("length", new.default_length), ("tempo", new.default_tempo))
                if v
            }
        )  # a ValueError says what is wrong
        await self.service.save_guild_settings(new)
        await interaction.response.send_message(embeds.settings_text(new), ephemeral=True)

    # ---- buttons (bot/discord/buttons.py) -----------------------------------------------------------
    async def on_button(self, interaction: discord.Interaction, action: str, tune_id: str, stars: int | None) -> None:
        """A click: its ValueErrors are told to the clicker, anything else is logged under an error id.
        (For "cancel", tune_id is the job's id.)"""
        try:
            if action == "rate":
                await self._rate(interaction, tune_id, stars)
            elif action == "var":
                tune = await self.service.tune(tune_id, interaction.guild_id)
                await self.run(interaction, self.service.variation_of(tune), parent_id=tune.id)
            elif action == "cont":
                tune = await self.service.tune(tune_id, interaction.guild_id)
                await self.run(interaction, self.service.continuation_of(tune), parent_id=tune.id)
            elif action == "del":
                await self._delete(interaction, tune_id)
            elif action == "cancel":
                await self._cancel(interaction, tune_id)
        except ValueError as exc:
            await self.bot.tell(interaction, str(exc) or "Something went wrong.")
        except Exception:
            error_id = secrets.token_hex(4)
            log.exception("internal error %s in the %s button", error_id, action)
            await self.bot.tell(interaction, f"Sorry, something broke on my side (error id `{error_id}`).")

    async def _cancel(self, interaction: discord.Interaction, job_id: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        if await self.service.cancel(job_id, interaction.user.id):  # NotYourJobError: told by on_button
            await interaction.followup.send("Cancelled: that tune will not be made.", ephemeral=True)
        else:
            await interaction.followup.send("That tune is no longer waiting or composing.", ephemeral=True)

    async def _delete(self, interaction: discord.Interaction, tune_id: str) -> None:
        """The tune's author or a moderator deletes the tune (a tombstone stays) and every post of it; whoever
        asked for a re-post may delete that re-post. The answer comes once the deleting is done."""
        tune = await self.service.tune(tune_id, interaction.guild_id)
        clicked = interaction.message
        post = await self.service.post(clicked.id) if clicked is not None else None
        is_moderator = interaction.permissions.manage_messages or interaction.permissions.manage_guild
        scope = self.service.delete_scope(tune, post, interaction.user.id, is_moderator)
        await interaction.response.defer(ephemeral=True, thinking=True)
        targets = set()
        if scope == "tune":
            targets = {(p.channel_id, p.message_id) for p in await self.service.delete(tune_id)}
        else:
            await self.service.forget_post(clicked.id)
        if clicked is not None:
            targets.add((clicked.channel.id, clicked.id))
        left = []
        for channel_id, message_id in targets:
            try:
                await self.bot.get_partial_messageable(channel_id).get_partial_message(message_id).delete()
            except discord.NotFound:
                pass  # gone already
            except discord.HTTPException as exc:
                log.warning("could not delete message %s of tune %s: %s", message_id, tune_id, exc)
                left.append(message_id)
        what = f"Deleted tune `{tune_id}`" if scope == "tune" else f"Removed your re-post of tune `{tune_id}`"
        note = f"; {len(left)} post(s) I could not remove (a moderator can)" if left else ""
        await interaction.followup.send(f"{what}{note}.", ephemeral=True)

    # ---- the text form: `!compose style:jig length:64` (needs the message-content intent) ------------
    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if not self.bot.settings.message_commands or message.author.bot or not self.bot.flow.accepting:
            return
        content = message.content.strip()
        mention = self.bot.user.mention if self.bot.user else None
        if mention and content.startswith((mention, mention.replace("<@", "<@!"))):
            content = content.split(">", 1)[1].strip()
        elif content.startswith("!compose"):
            content = content[1:]
        else:
            return
        try:
            await self.bot.flow.run(
                MessageReply(message),
                message.author.id,
                message.guild.id if message.guild else None,
                message.channel.id,
                text_options(content),
            )
        except ValueError as exc:
            await message.reply(f"I could not do that: {exc}", mention_author=False)


async def _read_abc_attachment(file: discord.Attachment) -> str:
    """The attached ABC, read in chunks and stopped past MAX_ATTACHED_ABC bytes: the size the attachment
    claims is only a first check."""
    if not file.filename.lower().endswith((".abc", ".txt")):
        raise TuneError(f"the attached file '{file.filename[:40]}' is not an .abc file")
    if file.size > MAX_ATTACHED_ABC:
        raise TuneError(f"the attached file is {file.size} bytes; the limit is {MAX_ATTACHED_ABC}")
    try:
        data = await download(file.url, MAX_ATTACHED_ABC)
    except DownloadError as exc:
        raise TuneError(str(exc)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise TuneError("the attached file is not UTF-8 text; save it as plain text") from None
