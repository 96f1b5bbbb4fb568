"""The rules of the house that imports can show (docs/ARCHITECTURE.md), checked on the source: every import
counts, the ones inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI_MODULES = {"bot.cli", "bot.export", "bot.stats", "bot.finetune", "bot.backup", "bot.doctor", "bot.ab"}
CLI_MODULES |= {f"bot.cli.{name}" for name in ("compose", "render", "worker", "train", "files")}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module the file imports (`from a.b import c` counts as a.b and a.b.c)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


SOURCES = {module_name(p): p for d in ("bot", "model") for p in (ROOT / d).rglob("*.py")}
IMPORTS = {name: imports(path) for name, path in SOURCES.items()}


def importers_of(prefix: str) -> set[str]:
    return {m for m, found in IMPORTS.items() if any(i == prefix or i.startswith(prefix + ".") for i in found)}


def test_model_never_imports_bot():
    assert {m for m in importers_of("bot") if m.startswith("model")} == set()


def test_only_bot_discord_imports_discord():
    assert {m for m in importers_of("discord") if not m.startswith("bot.discord")} == set()


def test_sql_lives_in_bot_store():
    users = importers_of("sqlite3") | importers_of("aiosqlite")
    # the CLIs open the database file for the store's report functions (bot/store/reports.py)
    assert {m for m in users if not m.startswith("bot.store")} <= {"bot.export", "bot.backup"}


def test_only_config_reads_the_environment():
    readers = {
        m
        for m, path in SOURCES.items()
        if m.startswith(("bot", "model")) and ("os.environ" in (text := path.read_text()) or "getenv" in text)
    }
    # the render children build the tools' minimal environment; main/worker start-up passes it on
    assert readers - {"bot.config", "bot.render.child_env"} == set(), readers


def test_the_front_end_uses_no_cli_module_and_no_store_internals():
    for m in (m for m in SOURCES if m.startswith("bot.discord")):
        assert not IMPORTS[m] & CLI_MODULES, m
        if m in ("bot.discord.app", "bot.discord.main"):
            continue  # start-up: opens the store and keeps the command-sync hash in it
        text = SOURCES[m].read_text()
        assert "service.store" not in text and ".report(" not in text, m


def test_no_import_cycles_in_bot_and_model():
    graph = {
        m: {i for i in found if i in SOURCES and i != m and not m.startswith(i + ".")} for m, found in IMPORTS.items()
    }
    cycles, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycles.append(path[path.index(node) :] + [node])
            return
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, path + [node])
        done.add(node)

    for m in sorted(graph):
        visit(m, [])
    assert cycles == []


def sources_containing(text: str) -> set[str]:
    return {m for m, path in SOURCES.items() if text in path.read_text(encoding="utf-8")}


def test_one_meter_module():
    # the meter aliases (C, C|) are spelled out in model/meter.py only; abc2midi reads no header itself
    assert sources_containing('"C|"') == {"model.meter"}
    assert sources_containing("def header_value") == set()


def test_every_abc_style_is_a_rhythm_of_the_one_rhythm_table():
    from bot.styles import STYLES
    from model.abc import evaluate
    from model.meter import RHYTHM_METERS

    for style in (s for s in STYLES.values() if s.model == "abc"):
        assert RHYTHM_METERS[style.rhythm] == style.meter, style.name
    assert evaluate.STYLES == list(RHYTHM_METERS.items())


def test_one_scale_table():
    # the scale of each mode is spelled out in model/keys.py only
    assert sources_containing("0, 2, 4, 5, 7, 9, 11") == {"model.keys"}
    assert sources_containing('"dor": "dor"') == {"model.keys"}  # the ABC spelling of a mode: keys.ABC_MODE


def test_the_body_after_k_is_split_in_one_place():
    assert sources_containing('.split("K:"') == {"model.abc.notation"}  # body_of


def test_samplers_leave_the_lstm_state_to_token_lstm():
    assert sources_containing("state[0][") == set()  # TokenLSTM.select(state, rows)
