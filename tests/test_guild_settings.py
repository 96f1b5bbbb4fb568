"""A server's default instrument: checked before it is stored (a forged /admin settings can send any
text), and a bad value already in the database (an older version, a forged request) is ignored, so it
cannot break every later /compose on that server. Real SQLite."""

from __future__ import annotations

import pytest

from bot.instruments import default_instrument_setting, known_instrument
from bot.requests import from_options
from bot.store import GuildSettings, Store, StoreError

GUILD = 4242


@pytest.fixture
async def store(tmp_path):
    s = await Store.open(tmp_path / "t.sqlite3")
    yield s
    await s.close()


async def store_raw(store: Store, value: object) -> None:
    """What an older version (which checked nothing) may have left in the database."""
    await store.db.execute(
        "INSERT INTO guild_settings (guild_id, allowed_channels, per_user_limit, default_instrument,"
        " updated_at) VALUES (?, '[7]', 2, ?, 0)",
        (GUILD, value),
    )


@pytest.mark.parametrize(
    "value,stored", [("harp", "harp"), ("Tin-Whistle", "tin whistle"), ("violin", "fiddle"), (None, None), ("", None)]
)
async def test_known_instruments_are_stored_by_their_canonical_name(store, value, stored):
    await store.set_guild_settings(GuildSettings(GUILD, default_instrument=value))
    assert (await store.guild_settings(GUILD)).default_instrument == stored


@pytest.mark.parametrize(
    "value,shown",
    [
        ("kazoo", "instrument 'kazoo' is not known; try fiddle, flute"),
        ("x" * 5000, "instrument '" + "x" * 40 + "…' is not known"),
        ("harp\x00\n", "instrument 'harp??' is not known"),
        (40, "the default instrument must be a name"),
    ],
)
async def test_a_bad_instrument_is_refused_and_nothing_changes(store, value, shown):
    await store.set_guild_settings(GuildSettings(GUILD, allowed_channels=(5,), default_instrument="flute"))
    with pytest.raises(StoreError) as info:
        await store.set_guild_settings(GuildSettings(GUILD, allowed_channels=(6,), default_instrument=value))
    assert isinstance(info.value, ValueError) and shown in str(info.value) and len(str(info.value)) < 300
    assert await store.guild_settings(GUILD) == GuildSettings(GUILD, (5,), None, "flute")


@pytest.mark.parametrize("value", ["kazoo", "   ", "x" * 5000, "40"])
async def test_a_bad_stored_value_is_ignored_and_the_rest_kept(store, value):
    await store_raw(store, value)
    settings = await store.guild_settings(GUILD)
    assert settings == GuildSettings(GUILD, (7,), 2, None)
    # what the front end then builds: a request that composes with the style's own instrument
    assert from_options(style="jig", length=8, instrument=settings.default_instrument).instrument is None
    # and the admin can still change other settings without first clearing the bad value
    await store.set_guild_settings(GuildSettings(GUILD, (7, 8), 3, settings.default_instrument))
    assert await store.guild_settings(GUILD) == GuildSettings(GUILD, (7, 8), 3, None)


def test_the_checks_themselves():
    assert default_instrument_setting("Church Organ".replace("Church ", "")) == "organ"
    with pytest.raises(ValueError, match="not known"):
        default_instrument_setting("kazoo")
    assert (
        known_instrument("kazoo") is None and known_instrument(None) is None and known_instrument("pipes") == "bagpipes"
    )
