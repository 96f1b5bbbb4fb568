"""The rows the store hands out, as frozen dataclasses."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field


def new_id() -> str:
    """A short URL-safe id that cannot be guessed from the previous one (48 random bits)."""
    return secrets.token_urlsafe(6)


@dataclass(frozen=True)
class Tune:
    id: str
    created_at: float
    user_id: int | None
    guild_id: int | None
    channel_id: int | None
    request: dict
    style: str
    model: str
    model_version: str
    seed: int | None
    text: str
    text_format: str
    duration_s: float | None
    parent_id: str | None
    message_id: int | None
    deleted_at: float | None = None
    title: str | None = None

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


@dataclass(frozen=True)
class RatingSummary:
    """A tune's public score: the votes of everyone but its requester (their own vote is kept, and shown
    to them as theirs, but counted in no public figure)."""

    count: int
    mean: float | None  # None when nobody else has rated
    stars: dict[int, int] = field(default_factory=dict)  # 1..5 -> how many people gave that


@dataclass(frozen=True)
class JobRecord:
    id: str
    user_id: int | None
    guild_id: int | None
    channel_id: int | None
    request: dict
    status: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    error: str | None
    tune_id: str | None
    status_channel_id: int | None = None  # the message that showed the job on its way (None: not known)
    status_message_id: int | None = None


@dataclass(frozen=True)
class GuildSettings:
    guild_id: int
    allowed_channels: tuple[int, ...] = ()  # empty: every channel
    per_user_limit: int | None = None
    default_instrument: str | None = None
    default_style: str | None = None
    default_length: int | None = None
    default_tempo: int | None = None


@dataclass(frozen=True)
class Post:
    """One Discord message showing a tune: the first post, or a `/tune` re-post."""

    message_id: int
    tune_id: str
    user_id: int | None  # who asked for this post
    guild_id: int | None
    channel_id: int | None
    card: dict | None = field(default=None, compare=False)  # what the post shows (the front end's own form)


@dataclass(frozen=True)
class Listing:
    """A line of /top, /mine or an autocomplete list: a live tune, its public score (others' votes only)
    and its first live post."""

    id: str
    title: str | None  # None for rows stored before titles were
    style: str
    created_at: float
    votes: int
    mean: float | None
    guild_id: int | None
    channel_id: int | None  # of the first live post (None: never posted, or every post deleted)
    message_id: int | None
    text: str | None = None  # only when title is None, to read the title from


def tune_record(row) -> Tune:
    d = dict(row)
    d["request"] = json.loads(d["request"])
    return Tune(**d)


def job_record(row) -> JobRecord:
    d = dict(row)
    d["request"] = json.loads(d["request"])
    return JobRecord(**d)
