"""What Tunesmith's messages look like: the tune's post, /help, /top, /mine, /stats and the settings text."""

from __future__ import annotations

import discord

from bot.flow import Result
from bot.requests import DEFAULT_LENGTH, TEMPO, length_choices
from bot.store import GuildSettings, Listing
from bot.store.reports import format_version
from bot.styles import DEFAULT_STYLE, STYLES
from bot.tunes import score_text
from model.keys import parse_key

COLOUR = 0x2E7D32
SCORE = "Score"
WARNING = "\N{WARNING SIGN}\N{VARIATION SELECTOR-16}"


def human_key(value) -> str | None:
    """ "Bbmix" -> "Bb mixolydian", "D" -> "D major"; anything unreadable as it is."""
    if not value:
        return None
    try:
        return parse_key(str(value)).human
    except ValueError:
        return str(value)


def result_embed(result: Result, user: discord.abc.User) -> discord.Embed:
    """The post: title (the tune's stored one, as in every list), what it is, its public score (others' votes:
    a re-post shows the score it has), notes and warnings; the first sheet page as the picture; the seed and
    the model in the footer."""
    facts = result.artifacts.facts
    lines = []
    if result.parent_id:
        lines.append(f"Based on tune `{result.parent_id}`")
    lines += [f"{WARNING} {w[:1].upper()}{w[1:200]}" for w in result.warnings[:3]]
    lines += list(result.notes)
    if facts.note:  # e.g. a length that did not fit the form, and what was composed instead
        lines.append(f"{facts.note[:1].upper()}{facts.note[1:300]}")
    embed = discord.Embed(title=result.title[:256], description="\n".join(lines)[:4000] or None, colour=COLOUR)
    fields = [
        ("Style", facts.style),
        ("Key", human_key(facts.key)),
        ("Meter", facts.meter),
        ("Tempo", f"{facts.tempo} bpm" if facts.tempo else None),
        ("Bars", facts.bars),
        ("Form", facts.form_text or None),
        ("Instrument", facts.instrument),
        (SCORE, score_text(result.votes, result.mean) if result.tune_id else None),
        ("Tune id", f"`{result.tune_id}`" if result.tune_id else None),
        ("Requested by", user.mention),
    ]
    for name, value in fields:
        if value not in (None, ""):
            embed.add_field(name=name, value=str(value)[:1024])
    if result.image:
        embed.set_image(url=f"attachment://{result.image}")
    footer = [
        f"seed {facts.seed}" if facts.seed is not None else "",
        " ".join(v for v in (facts.model, facts.model_version) if v),
        "rate it with the stars (click again to change your vote)",
    ]
    embed.set_footer(text=" \N{MIDDLE DOT} ".join(f for f in footer if f)[:2048])
    return embed


def with_score(embed: discord.Embed, votes: int, mean: float | None) -> discord.Embed:
    """The same post with its public score brought up to date."""
    text = score_text(votes, mean)
    for i, f in enumerate(embed.fields):
        if f.name == SCORE:
            return embed.set_field_at(i, name=SCORE, value=text, inline=f.inline)
    return embed.add_field(name=SCORE, value=text)


def help_embed(per_user: int, queue_cap: int, audio_seconds: int) -> discord.Embed:
    embed = discord.Embed(
        title="Tunesmith",
        colour=COLOUR,
        description="I compose folk tunes on request and post each one as a single message: "
        "audio on top, sheet music as the picture, ABC and MIDI files to download.",
    )
    embed.add_field(
        name="/compose",
        value="`/compose style:jig length:32 key:D` - every option is optional; "
        "a server may set its own default style, length, tempo and instrument",
        inline=False,
    )
    embed.add_field(name="/continue", value="Give ABC text (or attach a .abc file) and I add bars to it", inline=False)
    embed.add_field(
        name="/rate, /tune",
        value="Rate a tune, or post a stored tune again: start typing its title and pick it from the list",
        inline=False,
    )
    embed.add_field(
        name="/top, /mine",
        value="The best-rated tunes on this server, and your latest ones, with links to their posts",
        inline=False,
    )
    embed.add_field(name="/stats", value="How many tunes and ratings, and how busy the composer is", inline=False)
    embed.add_field(
        name="/admin (Manage Server)",
        value="`/admin settings`: channels, per-member limit and defaults; "
        "`/admin export`: this server's ratings as a dataset",
        inline=False,
    )
    embed.add_field(
        name="Buttons",
        value="1-5 stars rate the tune (the score on the post counts everyone's votes but its requester's; "
        "click again to change your vote); Variation: same request, new seed; Continue: 16 more bars; Delete: for "
        "whoever asked (or a moderator); Cancel: stops your tune while it waits or composes",
        inline=False,
    )
    audio = f"{audio_seconds // 60} minutes" if audio_seconds % 60 == 0 else f"{audio_seconds} s"
    lengths = ", ".join(str(n) for n, _ in length_choices())
    embed.add_field(
        name="Limits",
        value=f"{lengths} bars, {TEMPO[0]}-{TEMPO[1]} bpm; audio up to "
        f"{audio}; {per_user} tune(s) of yours on the way at once; {queue_cap} waiting in all",
        inline=False,
    )
    embed.add_field(name="Styles", value=", ".join(f"{s.name} ({s.meter})" for s in STYLES.values()), inline=False)
    return embed


def jump_link(row: Listing) -> str | None:
    if row.message_id is None or row.channel_id is None:
        return None
    return f"https://discord.com/channels/{row.guild_id or '@me'}/{row.channel_id}/{row.message_id}"


def listing_line(i: int, row: Listing, *, score: bool = True) -> str:
    title = discord.utils.escape_markdown((row.title or row.id).replace("[", "(").replace("]", ")"))[:80]
    link = jump_link(row)
    name = f"[{title}]({link})" if link else f"**{title}**"
    parts = [name, row.style] + ([score_text(row.votes, row.mean)] if score else []) + [f"`{row.id}`"]
    return f"{i}. " + " \N{MIDDLE DOT} ".join(parts)


def top_embed(rows: list[Listing], style: str | None, period: str) -> discord.Embed:
    embed = discord.Embed(
        title=f"Top tunes{f' ({style})' if style else ''}, {period}",
        colour=COLOUR,
        description="\n".join(listing_line(i, r) for i, r in enumerate(rows, 1))[:4000],
    )
    embed.set_footer(text="Click a title to go to its post; /tune posts one again")
    return embed


def mine_embed(rows: list[Listing]) -> discord.Embed:
    return discord.Embed(
        title="Your latest tunes",
        colour=COLOUR,
        description="\n".join(listing_line(i, r) for i, r in enumerate(rows, 1))[:4000],
    )


def choice_name(row: Listing) -> str:
    """An autocomplete entry (Discord allows 100 characters)."""
    return f"{row.title or row.id} \N{MIDDLE DOT} {row.style} \N{MIDDLE DOT} {score_text(row.votes, row.mean)}"[:100]


def stats_embed(s: dict, queue) -> discord.Embed:
    embed = discord.Embed(title="Tunesmith stats")
    embed.add_field(name="Tunes composed", value=str(s["tunes"]))
    # Every figure counts only votes on other members' tunes, as the per-version report below does.
    embed.add_field(name="Ratings", value=f"{s['ratings']} from {s['raters']} people")
    embed.add_field(name="Mean rating", value=f"{s['mean_rating']:.2f}" if s["mean_rating"] is not None else "-")
    if s["job_seconds"]["p50"] is not None:
        embed.add_field(
            name="Composing time", value=f"p50 {s['job_seconds']['p50']} s, p95 {s['job_seconds']['p95']} s"
        )
    if queue is not None:
        embed.add_field(name="Waiting", value=str(queue.queued))
        embed.add_field(name="Composing now", value=str(queue.running))
    if len(s.get("model_versions") or []) > 1:  # an A/B test (bot/ab.py): mean rating per model version
        embed.add_field(
            name="Ratings per model version (95% interval)",
            inline=False,
            value="\n".join(format_version(v).strip() for v in s["model_versions"])[:1024],
        )
    return embed


def settings_text(gs: GuildSettings) -> str:
    where = ", ".join(f"<#{c}>" for c in gs.allowed_channels) or "every channel"
    own, default = "each style's own", "the bot's default"
    length = f"{gs.default_length} bars" if gs.default_length else f"{DEFAULT_LENGTH} bars ({default})"
    style = gs.default_style or f"{DEFAULT_STYLE} ({default})"
    return (
        f"Settings for this server:\n- composing allowed in: {where}\n"
        f"- tunes one member may have on the way: {gs.per_user_limit or default}\n"
        f"- default style: {style}\n"
        f"- default length: {length}\n"
        f"- default tempo: {f'{gs.default_tempo} bpm' if gs.default_tempo else own}\n"
        f"- default instrument: {gs.default_instrument or own}"
    )
