"""What Tunesmith's messages look like: the tune's embed, /help, /top, /stats and the settings text."""
from __future__ import annotations

import discord

from bot.flow import Result
from bot.store import GuildSettings
from bot.styles import STYLES

COLOUR = 0x2E7D32


def result_embed(result: Result, user: discord.abc.User) -> discord.Embed:
    meta = result.artifacts.meta
    lines = list(result.notes)
    if result.parent_id:
        lines.insert(0, f"Based on tune `{result.parent_id}`")
    embed = discord.Embed(title=result.title, description="\n".join(lines) or None, colour=COLOUR)
    fields = [("Style", meta.get("style")), ("Key", meta.get("key")), ("Meter", meta.get("meter")),
              ("Tempo", f"{meta['tempo']} bpm" if meta.get("tempo") else None), ("Bars", meta.get("bars")),
              ("Seed", meta.get("seed")), ("Instrument", meta.get("instrument")),
              ("Model", " ".join(str(meta[k]) for k in ("model", "model_version") if meta.get(k)) or None),
              ("Tune id", f"`{result.tune_id}`" if result.tune_id else None), ("Requested by", user.mention)]
    for name, value in fields:
        if value not in (None, ""):
            embed.add_field(name=name, value=str(value)[:1024])
    embed.set_footer(text="Rate it with the stars below (click again to change your vote)")
    return embed


def help_embed() -> discord.Embed:
    embed = discord.Embed(title="Tunesmith", description="I compose folk tunes on request and post them as audio, ABC, MIDI and sheet music.")
    embed.add_field(name="/compose", value="`/compose style:jig length:32 key:D` - every option is optional", inline=False)
    embed.add_field(name="/continue", value="Give ABC text (or attach a .abc file) and I add bars to it", inline=False)
    embed.add_field(name="/rate, /tune, /top", value="Rate a tune by id, post a stored tune again, see the best-rated", inline=False)
    embed.add_field(name="Buttons", value="1-5 stars rate the tune (click again to change your vote); Variation: same request, "
                    "new seed; Continue: 16 more bars; Delete: for whoever asked, or an admin", inline=False)
    embed.add_field(name="Styles", value=", ".join(f"{s.name} ({s.meter})" for s in STYLES.values()), inline=False)
    return embed


def top_embed(rows: list[dict], style: str | None, period: str) -> discord.Embed:
    lines = [f"{i}. `{r['id']}` {r['style']} - {r['ratings']['mean']:.1f}/5 from {r['ratings']['count']} "
             f"rating{'s' if r['ratings']['count'] != 1 else ''}" for i, r in enumerate(rows, 1)]
    embed = discord.Embed(title=f"Top tunes{f' ({style})' if style else ''}, {period}", description="\n".join(lines))
    embed.set_footer(text="/tune id:<id> posts one again")
    return embed


def stats_embed(s: dict, queue) -> discord.Embed:
    embed = discord.Embed(title="Tunesmith stats")
    embed.add_field(name="Tunes composed", value=str(s["tunes"]))
    embed.add_field(name="Ratings", value=f"{s['ratings']} from {s['raters']} people")
    embed.add_field(name="Mean rating", value=str(s["mean_rating"] if s["mean_rating"] is not None else "-"))
    if s["job_seconds"]["p50"] is not None:
        embed.add_field(name="Composing time", value=f"p50 {s['job_seconds']['p50']} s, p95 {s['job_seconds']['p95']} s")
    if queue is not None:
        embed.add_field(name="Waiting", value=str(queue.queued))
        embed.add_field(name="Composing now", value=str(queue.running))
    if len(s.get("model_versions") or []) > 1:  # an A/B test (bot/ab.py): mean rating per model version
        from bot.stats import format_version
        embed.add_field(name="Ratings per model version (95% interval)", inline=False,
                        value="\n".join(format_version(v).strip() for v in s["model_versions"])[:1024])
    return embed


def settings_text(gs: GuildSettings) -> str:
    where = ", ".join(f"<#{c}>" for c in gs.allowed_channels) or "every channel"
    return (f"Settings for this server:\n- composing allowed in: {where}\n- per-user limit: "
            f"{gs.per_user_limit or 'default'}\n- default instrument: {gs.default_instrument or 'the style`s own'}")
