"""Start-up against the fake Discord: login, gateway handshake, the command sync payload, no re-sync."""

from __future__ import annotations

import re

import pytest

from bot.config import Settings
from bot.discord import buttons
from bot.discord.app import command_hash
from bot.health import heartbeat_age
from bot.instruments import INSTRUMENTS
from bot.requests import length_choices
from bot.store import Store
from bot.styles import STYLES
from tests.fake_discord import FakeDiscord, _walk_options, running_bot


@pytest.fixture
async def fake():
    async with FakeDiscord() as server:
        with server.patched():
            yield server


@pytest.fixture
async def store(tmp_path):
    s = await Store.open(tmp_path / "t.sqlite3")
    yield s
    await s.close()


async def test_login_handshake_and_sync_payload(fake, store, tmp_path):
    settings = Settings(data_dir=tmp_path, discord_token=fake.token)
    async with running_bot(fake, settings, store) as bot:
        assert bot.user is not None and bot.user.id == fake.bot_user.id
        assert bot.application_id == fake.app_id
        assert [g.id for g in bot.guilds] == [fake.guild_id]
        assert ("GET", "/oauth2/applications/@me") in fake.requests
        assert len(fake.identifies) == 1 and fake.identifies[0]["intents"] == bot.intents.value
        assert bot.synced is True
        assert heartbeat_age(tmp_path)[1] == "connected"  # for `tunesmith doctor --health`
    assert len(fake.sync_calls) == 1
    scope, payload = fake.sync_calls[0]
    assert scope is None  # global
    by_name = {c["name"]: c for c in payload}
    assert set(by_name) == {"compose", "continue", "rate", "tune", "top", "mine", "help", "stats", "admin"}
    for cmd in payload:
        assert 1 <= len(cmd["description"]) <= 100, cmd["name"]
        for opt in _walk_options(cmd.get("options", [])):
            assert 1 <= len(opt["description"]) <= 100, (cmd["name"], opt["name"])
            assert len(opt.get("choices") or []) <= 25
    compose = {o["name"]: o for o in by_name["compose"]["options"]}
    assert [c["value"] for c in compose["style"]["choices"]] == list(STYLES)
    assert [c["value"] for c in compose["instrument"]["choices"]] == list(INSTRUMENTS)
    assert compose["style"]["type"] == 3 and compose["length"]["type"] == 4 and compose["temperature"]["type"] == 10
    assert compose["key"]["autocomplete"] is True
    assert [c["value"] for c in compose["form"]["choices"]][:3] == ["AABB", "AABBCC", "AB"]
    assert {o["name"]: o.get("autocomplete") for o in by_name["rate"]["options"]}["tune"] is True  # by title
    assert {o["name"]: o.get("autocomplete") for o in by_name["tune"]["options"]}["id"] is True
    assert [c["value"] for c in compose["length"]["choices"]] == [n for n, _ in length_choices()]  # honoured only
    cont = {o["name"]: o for o in by_name["continue"]["options"]}
    assert cont["file"]["type"] == 11 and cont["abc"]["type"] == 3
    admin = by_name["admin"]
    assert int(admin["default_member_permissions"]) == 1 << 5  # Manage Server
    assert {o["name"] for o in admin["options"]} == {"export", "settings"}
    assert not fake.violations
    assert fake.token not in repr(fake.requests)


async def test_second_start_with_same_commands_does_not_resync(fake, store, tmp_path):
    settings = Settings(data_dir=tmp_path, discord_token=fake.token)
    async with running_bot(fake, settings, store) as bot:
        assert bot.synced is True
    async with running_bot(fake, settings, store) as bot:
        assert bot.synced is False
    assert len(fake.sync_calls) == 1
    async with running_bot(fake, settings, store, force_sync=True) as bot:  # what `tunesmith sync` does
        assert bot.synced is True
    assert len(fake.sync_calls) == 2


async def test_dev_guild_syncs_to_that_guild_only(fake, store, tmp_path):
    settings = Settings(data_dir=tmp_path, discord_token=fake.token, dev_guild=fake.guild_id)
    async with running_bot(fake, settings, store):
        pass
    assert [scope for scope, _ in fake.sync_calls] == [fake.guild_id]
    assert {c["name"] for c in fake.commands[fake.guild_id]} >= {"compose", "rate"}


async def test_sharded_bot_connects(fake, store, tmp_path):
    settings = Settings(data_dir=tmp_path, discord_token=fake.token, sharded=True)
    async with running_bot(fake, settings, store) as bot:
        assert bot.shard_count == 1
    assert ("GET", "/gateway/bot") in fake.requests
    assert fake.identifies[0]["shard"] == [0, 1]


def test_command_hash_changes_with_the_commands():
    a = [{"name": "compose", "description": "x"}]
    assert command_hash(a) == command_hash([dict(a[0])])
    assert command_hash(a) != command_hash([{"name": "compose", "description": "y"}])


def test_button_custom_ids_fit_discord_limits():
    tune_id = "A" * 40  # the longest id the templates accept
    view = buttons.tune_view(tune_id)
    ids = [item.custom_id for item in view.children]
    assert len(ids) == 8 and all(len(i) <= 100 for i in ids)
    template = buttons.TuneButton.__discord_ui_compiled_template__
    assert all(template.fullmatch(i) for i in ids)
    for wrong in ("ts:rate:abc_-9:6", "ts:rate:abc", "ts:var:abc:3", "ts:del:" + "A" * 41):
        assert re.fullmatch(template, wrong) is None, wrong


def test_run_without_a_token_says_what_to_do(monkeypatch, tmp_path, capsys):
    from bot.discord.main import main

    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.setenv("TUNESMITH_DATA_DIR", str(tmp_path))
    assert main([]) == 2
    assert "DISCORD_TOKEN is not set" in capsys.readouterr().err
