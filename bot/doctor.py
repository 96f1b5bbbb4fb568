"""`tunesmith doctor`: checks every part of the installation, says how to fix what fails, and
shows the effective settings (token masked). Exit code 0 when nothing failed.

`tunesmith doctor --health` is the Docker HEALTHCHECK: only the bot's heartbeat age.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.health import MAX_AGE_SECONDS, heartbeat_age

INSTALL_HINT = "run ./scripts/install-system-deps (or `make setup`)"


@dataclass
class Check:
    name: str
    status: str  # "ok", "warn" or "fail"
    detail: str
    fix: str = ""


def _tool(name: str, version_args: list[str]) -> Check:
    path = shutil.which(name)
    if not path:
        return Check(name, "fail", "not found on PATH", INSTALL_HINT)
    try:
        proc = subprocess.run([path, *version_args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check(name, "fail", f"{path} does not run: {exc}", INSTALL_HINT)
    first = (proc.stdout or proc.stderr).strip().splitlines()
    return Check(name, "ok", f"{path} ({first[0][:60] if first else 'runs'})")


def check_fluidsynth() -> Check:
    from bot.render.audio import import_fluidsynth

    try:
        import_fluidsynth()  # pyfluidsynth loads libfluidsynth on import
    except ValueError as exc:
        return Check("libfluidsynth", "fail", f"cannot load: {exc}", f"{INSTALL_HINT}; pip install pyfluidsynth")
    return Check("libfluidsynth", "ok", "pyfluidsynth loads the library")


def check_soundfont(settings: Settings) -> Check:
    try:
        from bot.render import renderer as render

        path = render.find_soundfont(settings.soundfont)
        detail = render.check_soundfont(path)
    except (ImportError, AttributeError) as exc:
        return Check("soundfont", "fail", f"renderer not available: {exc}", "reinstall tunesmith")
    except (ValueError, OSError) as exc:
        return Check("soundfont", "fail", str(exc), f"{INSTALL_HINT} (fluid-soundfont-gm), or set TUNESMITH_SOUNDFONT")
    return Check("soundfont", "ok", f"{path}: {detail}")


def check_sheet_music() -> Check:
    try:
        from bot.render import renderer as render

        png = render.sheet_png("X:1\nM:6/8\nL:1/8\nK:D\nDFA dfa|]\n", fmt="abc")
    except (ImportError, AttributeError) as exc:
        return Check("verovio", "fail", f"not available: {exc}", "pip install verovio")
    except (ValueError, OSError) as exc:
        hint = f"pip install verovio; {INSTALL_HINT} (librsvg2-bin, fonts-dejavu-core)"
        return Check("verovio", "fail", str(exc), hint)
    if not png.startswith(b"\x89PNG"):
        return Check("verovio", "fail", "sheet music is not a PNG", "pip install --force-reinstall verovio")
    return Check("verovio", "ok", f"renders sheet music ({len(png)} byte PNG)")


def check_weights(name: str, setting: str, default: Path) -> Check:
    """The weights exist and load (a stale or truncated file fails here, not at the first request)."""
    path = Path(setting) if setting else default
    if not path.is_file():
        return Check(
            f"{name} model",
            "fail",
            f"no weights at {path}",
            f"`tunesmith train {name}` or unset TUNESMITH_{name.upper()}_WEIGHTS",
        )
    try:
        if name == "abc":
            from model.abc.sample import load_abc_model as load
        else:
            from model.notes.sample import load_notes_model as load
        version = getattr(load(path), "version", "")
    except Exception as exc:  # noqa: BLE001  (any failure to load is what this check reports)
        return Check(f"{name} model", "fail", f"{path} does not load: {exc}", f"`tunesmith train {name}`, or reinstall")
    return Check(f"{name} model", "ok", f"{path} ({path.stat().st_size / 1e6:.1f} MB) loads {version}".rstrip())


def check_data_dir(settings: Settings) -> Check:
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=settings.data_dir):
            pass
    except OSError as exc:
        return Check(
            "data dir",
            "fail",
            f"{settings.data_dir} is not writable: {exc}",
            "set TUNESMITH_DATA_DIR to a writable folder",
        )
    return Check("data dir", "ok", f"{settings.data_dir.resolve()} is writable")


def check_token(settings: Settings) -> Check:
    if not settings.discord_token:
        return Check(
            "DISCORD_TOKEN",
            "warn",
            "not set: `tunesmith compose` works, `tunesmith run` needs it",
            "set DISCORD_TOKEN (see README: Self-hosting)",
        )
    return Check("DISCORD_TOKEN", "ok", f"set ({len(settings.discord_token)} characters, hidden)")


def check_broker(settings: Settings) -> Check:
    """With TUNESMITH_BROKER_URL: Redis answers, and how many `tunesmith worker`s are connected."""
    if not settings.broker_url:
        return Check("broker", "ok", "not set: tunes are composed by worker processes inside the bot (the default)")
    where = settings.masked()["broker_url"]
    try:
        import redis

        from bot.engine.celery_app import NODE_KEY

        client = redis.Redis.from_url(settings.broker_url, socket_timeout=3, socket_connect_timeout=3)
        client.ping()
        nodes = sorted(k.decode()[len(NODE_KEY) :] for k in client.scan_iter(match=NODE_KEY + "*", count=200))
    except Exception as exc:
        return Check(
            "broker",
            "fail",
            f"{where}: {type(exc).__name__}: {exc}",
            "start Redis, or fix TUNESMITH_BROKER_URL (redis://:PASSWORD@host:6379/0)",
        )
    if not nodes:
        return Check(
            "broker",
            "warn",
            f"{where} answers, but no `tunesmith worker` is connected",
            "start `tunesmith worker` with the same TUNESMITH_BROKER_URL (README: Scaling out)",
        )
    return Check("broker", "ok", f"{where} answers; {len(nodes)} worker(s): {', '.join(nodes[:5])}")


def run_checks(settings: Settings) -> list[Check]:
    weights = Path(__file__).resolve().parent.parent / "model" / "weights"
    return [
        _tool("abc2midi", ["-ver"]),
        _tool("ffmpeg", ["-version"]),
        check_fluidsynth(),
        check_soundfont(settings),
        check_sheet_music(),
        check_weights("abc", settings.abc_weights, weights / "abc.pt"),
        check_weights("notes", settings.notes_weights, weights / "notes.pt"),
        check_data_dir(settings),
        check_token(settings),
        check_broker(settings),
    ]


def health(settings: Settings) -> int:
    beat = heartbeat_age(settings.data_dir)
    if beat is None:
        print("unhealthy: no heartbeat yet (is `tunesmith run` running?)")
        return 1
    age, state = beat
    if age > MAX_AGE_SECONDS or state != "connected":
        print(f"unhealthy: last heartbeat {age:.0f} s ago, state {state}")
        return 1
    print(f"healthy: heartbeat {age:.0f} s ago")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tunesmith doctor", description=__doc__.splitlines()[0])
    parser.add_argument("--health", action="store_true", help="only check the running bot's heartbeat (for Docker)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"FAIL  settings: {exc}")
        return 1
    if args.health:
        return health(settings)

    print("Settings (environment > TOML file > defaults):")
    for name, value in settings.masked().items():
        print(f"  {name:<18} {value}")
    print("\nChecks:")
    checks = run_checks(settings)
    for c in checks:
        print(f"  {c.status.upper():<4}  {c.name:<14} {c.detail}")
        if c.fix and c.status != "ok":
            print(f"        {'':<14} fix: {c.fix}")
    failed = [c.name for c in checks if c.status == "fail"]
    print(f"\n{len(failed)} failed: {', '.join(failed)}" if failed else "\nall good")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
