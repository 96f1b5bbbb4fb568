"""Settings: environment > optional TOML file > defaults, validated with clear errors.

Every setting has an environment variable (DISCORD_TOKEN, or TUNESMITH_ + the upper-case name) and a
TOML key of the same name in lower case. The TOML file is $TUNESMITH_CONFIG, else
<data_dir>/tunesmith.toml when it exists. `.env.example` lists them all.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from bot import numbers


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names it and says what is allowed."""


def _default_workers() -> int:
    """One worker per two cores: a job keeps ~1.8 cores busy (the model, then the synthesizer and the encoder
    while the sheet is drawn in a child process), so two jobs on two cores only slow each other down: the
    first of 10 people waited 6.3 s with 2 workers against 4.1 s with 1 (bench/discord.py, issue 14)."""
    return max(1, min((os.cpu_count() or 1) // 2, 8))


@dataclass(frozen=True)
class Settings:
    discord_token: str = field(default="", repr=False)
    data_dir: Path = Path("data")
    soundfont: str = ""  # empty: the lookup order in soundfonts/README.md
    workers: int = field(default_factory=_default_workers)
    job_timeout: float = 60.0  # seconds per job
    per_user_running: int = 1
    per_user_queued: int = 2
    queue_cap: int = 20  # jobs waiting, all users together
    mp3_bitrate: int = 128  # kbps
    max_audio_seconds: int = 600
    log_level: str = "INFO"
    dev_guild: int = 0  # sync commands to this guild only (instant), 0 = global
    sharded: bool = False  # AutoShardedBot
    shard_count: int = 0  # with sharded: 0 = as many as Discord recommends (GET /gateway/bot)
    broker_url: str = field(default="", repr=False)  # redis://host:6379/0: jobs run on `tunesmith worker`s
    metrics_port: int = 0  # Prometheus metrics on this port (0 = off)
    metrics_host: str = "127.0.0.1"
    warm_pool: int = 0  # tunes kept ready per popular plain request (0 = off)
    message_commands: bool = False  # `!compose ...` text form; needs the message-content intent
    abc_weights: str = ""  # empty: the shipped model/weights
    notes_weights: str = ""
    shutdown_grace: float = 8.0  # seconds to finish jobs on SIGTERM
    cache: str = ""  # training and eval: parsed corpora and runs (empty: ~/.cache/tunesmith)
    discord_api_base: str = ""  # TEST ONLY: a fake Discord's REST base (tests/fake_discord.py)
    discord_gateway: str = ""  # TEST ONLY: a fake Discord's gateway URL

    @property
    def db_path(self) -> Path:
        return self.data_dir / "tunesmith.sqlite3"

    def masked(self) -> dict[str, str]:
        """The effective settings as text, the token masked (for `doctor` and logs)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "discord_token":
                value = f"set ({len(value)} chars, hidden)" if value else "not set"
            elif f.name == "broker_url" and value:
                value = _mask_url(value)
            out[f.name] = str(value)
        return out


def _mask_url(url: str) -> str:
    """redis://:secret@host:6379/0 -> redis://:***@host:6379/0 (a broker password is never shown)."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        creds, _, host = rest.rpartition("@")
        return f"{scheme}://{creds.split(':')[0]}:***@{host}"
    return url


ENV_PREFIX = "TUNESMITH_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LIMITS = {  # name: (low, high)
    "workers": (1, 64),
    "job_timeout": (1, 3600),
    "per_user_running": (1, 100),
    "per_user_queued": (0, 1000),
    "queue_cap": (1, 100000),
    "mp3_bitrate": (32, 320),
    "max_audio_seconds": (10, 3600),
    "dev_guild": (0, 2**64 - 1),
    "shutdown_grace": (0, 600),
    "shard_count": (0, 10000),
    "metrics_port": (0, 65535),
    "warm_pool": (0, 20),
}


def env_name(name: str) -> str:
    return "DISCORD_TOKEN" if name == "discord_token" else ENV_PREFIX + name.upper()


def _convert(name: str, kind: type, raw: object, source: str):
    where = f"{name} ({source})"
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{where} = {raw!r} is not a yes/no value; use true or false")
    if kind in (int, float):
        if isinstance(raw, str) and not numbers.is_plain_number(raw, kind):  # not "٣", "1_0", "1e3"
            raise ConfigError(f"{where} = {raw!r} is {numbers.problem(raw, kind)}")
        try:
            value = kind(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} = {raw!r} is not a {'whole ' if kind is int else ''}number") from None
        low, high = _LIMITS.get(name, (None, None))
        if low is not None and not (low <= value <= high):
            raise ConfigError(f"{where} = {raw!r} is out of range; allowed {low} to {high}")
        return value
    if kind is Path:
        return Path(str(raw)).expanduser()
    return str(raw)


def _kinds() -> dict[str, type]:
    kinds = {}
    for f in fields(Settings):
        t = (
            f.type
            if isinstance(f.type, type)
            else {"str": str, "int": int, "float": float, "bool": bool, "Path": Path}[f.type]
        )
        kinds[f.name] = t
    return kinds


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build Settings from env (default os.environ) and the optional TOML file; raise ConfigError."""
    env = dict(os.environ if env is None else env)
    kinds = _kinds()
    values: dict[str, object] = {}

    data_dir = Path(env.get(env_name("data_dir"), "data")).expanduser()
    toml_path = env.get(ENV_PREFIX + "CONFIG") or str(data_dir / "tunesmith.toml")
    if env.get(ENV_PREFIX + "CONFIG") or Path(toml_path).is_file():
        try:
            with open(toml_path, "rb") as fh:
                table = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {toml_path} (TUNESMITH_CONFIG) does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {toml_path} is not valid TOML: {exc}") from None
        for key, raw in table.items():
            if key not in kinds:
                raise ConfigError(f"config file {toml_path}: unknown setting '{key}'; known: {', '.join(kinds)}")
            if key == "discord_token":
                raise ConfigError(f"config file {toml_path}: keep the token in DISCORD_TOKEN, not in the file")
            values[key] = _convert(key, kinds[key], raw, toml_path)

    for name, kind in kinds.items():
        raw = env.get(env_name(name))
        if raw is not None and (raw != "" or kind is str):
            values[name] = _convert(name, kind, raw, env_name(name))

    level = str(values.get("log_level", "INFO")).upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"log_level = {level!r} is not known; use one of {', '.join(LOG_LEVELS)}")
    values["log_level"] = level
    if "data_dir" not in values:
        values["data_dir"] = data_dir
    return dataclasses.replace(Settings(), **values)
