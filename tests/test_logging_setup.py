"""Tokens never reach the log, even at DEBUG where discord.py logs every URL, payload and gateway event:
records shaped exactly as discord.py writes them, and the real client against the fake Discord."""

from __future__ import annotations

import contextlib
import io
import logging

import pytest

from bot.config import Settings
from bot.logging_setup import MASK, make_handler, redact
from bot.store import Store
from tests.fake_discord import FakeDiscord, running_bot

# Real shapes: an interaction token is base64 of "interaction:<id>:<random>"; a bot token is
# base64(user id) . timestamp . HMAC.
INTERACTION_TOKEN = "aW50ZXJhY3Rpb246MTMxMjM0NTY3ODkwMTIzNDU2Nzg6cUZ4dHRoaXNpc25vdGFyZWFsdG9rZW4xMjM0NTY3ODkw"
BOT_TOKEN = "MTMxMjM0NTY3ODkwMTIzNDU2Nw.GhX2bQ.aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789ab"
APP_ID, INTERACTION_ID = 1312345678901234567, 1312345678901234999


@contextlib.contextmanager
def captured(secrets=(), level=logging.DEBUG):
    """The root logger writing through our handler into a buffer (restored afterwards)."""
    out = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers[:] = [make_handler(out, secrets=secrets)]
    root.setLevel(level)
    try:
        yield out
    finally:
        root.handlers[:], root.level = saved[0], saved[1]


def test_discord_py_debug_records_are_masked():
    http, gateway, webhook = (
        logging.getLogger(n) for n in ("discord.http", "discord.gateway", "discord.webhook.async_")
    )
    callback = f"https://discord.com/api/v10/interactions/{INTERACTION_ID}/{INTERACTION_TOKEN}/callback?with_response=1"
    followup = f"https://discord.com/api/v10/webhooks/{APP_ID}/{INTERACTION_TOKEN}/messages/@original"
    event = {
        "t": "INTERACTION_CREATE",
        "s": 5,
        "op": 0,
        "d": {
            "id": str(INTERACTION_ID),
            "application_id": str(APP_ID),
            "type": 2,
            "token": INTERACTION_TOKEN,
            "data": {"name": "compose"},
        },
    }
    with captured(secrets=[BOT_TOKEN]) as out:
        # the format strings below are discord.py's own (http.py, gateway.py, webhook/async_.py)
        http.debug("%s %s with %s has returned %s", "POST", callback, {"type": 5}, 200)
        http.debug("%s %s has received %s", "PATCH", followup, {"id": "1", "content": "composing"})
        gateway.debug("For Shard ID %s: WebSocket Event: %s", None, event)
        webhook.debug("Webhook ID %s with %s %s has returned status code %s", APP_ID, "POST", followup, 200)
        http.debug("headers %s", {"Authorization": f"Bot {BOT_TOKEN}", "User-Agent": "DiscordBot"})
        try:
            raise RuntimeError(f"404 Not Found (error code: 10015): Unknown Webhook at {followup}")
        except RuntimeError:
            logging.getLogger("discord.client").exception("Ignoring exception in view %s", f"token={BOT_TOKEN}")
    text = out.getvalue()
    assert INTERACTION_TOKEN not in text and BOT_TOKEN not in text and "cUZ4dHRo" not in text
    assert f"/interactions/{INTERACTION_ID}/{MASK}/callback?with_response=1" in text
    assert f"/webhooks/{APP_ID}/{MASK}/messages/@original" in text
    assert f"'token': '{MASK}'" in text and f"Bot {MASK}" in text
    assert "Traceback" in text and "Unknown Webhook" in text  # the rest of the record is kept
    assert text.count("\n") >= 7


@pytest.mark.parametrize(
    "text",
    [
        f"token={BOT_TOKEN}",
        f'{{"token": "{INTERACTION_TOKEN}"}}',
        f"see {INTERACTION_TOKEN} now",
        f"Authorization: Bot {BOT_TOKEN}",
    ],
)
def test_tokens_are_masked_in_any_shape(text):
    assert BOT_TOKEN not in redact(text) and INTERACTION_TOKEN not in redact(text) and MASK in redact(text)


def test_ordinary_messages_are_untouched():
    for text in (
        "Shard ID None has connected to Gateway (Session ID: abc123).",
        "job 7f3a done in 2.1 s",
        "POST https://discord.com/api/v10/applications/1/commands with [] has returned 200",
    ):
        assert redact(text) == text


def test_a_named_secret_is_masked_whatever_its_shape():
    assert redact("login with fake.bot.token-DO-NOT-LOG ok", ["fake.bot.token-DO-NOT-LOG"]) == f"login with {MASK} ok"


async def test_the_real_client_at_debug_logs_no_token(tmp_path):
    """discord.py at DEBUG against the fake Discord: a slash command's callback URL and gateway event
    carry its token; the log shows neither it nor the bot token."""
    async with FakeDiscord() as fake:
        with fake.patched(), captured(secrets=[fake.token]) as out:
            store = await Store.open(tmp_path / "t.sqlite3")
            try:
                async with running_bot(fake, Settings(data_dir=tmp_path, discord_token=fake.token), store):
                    help_ = await fake.slash("help")
                    await fake.wait_for(lambda: help_.callback, 10, "the /help answer")
            finally:
                await store.close()
    text = out.getvalue()
    assert help_.token and help_.token not in text and fake.token not in text
    assert f"/interactions/{help_.id}/{MASK}/callback" in text  # the record was there, masked
    assert "WebSocket Event" in text and "INTERACTION_CREATE" in text
