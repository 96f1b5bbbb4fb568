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


@dataclass(frozen=True)
class RatingSummary:
    count: int
    mean: float | None  # None when nobody has rated
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


@dataclass(frozen=True)
class GuildSettings:
    guild_id: int
    allowed_channels: tuple[int, ...] = ()  # empty: every channel
    per_user_limit: int | None = None
    default_instrument: str | None = None


def tune_record(row) -> Tune:
    d = dict(row)
    d["request"] = json.loads(d["request"])
    return Tune(**d)


def job_record(row) -> JobRecord:
    d = dict(row)
    d["request"] = json.loads(d["request"])
    return JobRecord(**d)
