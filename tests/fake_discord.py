"""A fake Discord (REST + gateway websocket) on 127.0.0.1 for end-to-end tests of the real discord.py client.

What it does, and no more than the bot needs:
- REST: login (`/users/@me`, `/oauth2/applications/@me`), `/gateway/bot`, command sync (global and guild
  bulk overwrite, recorded), interaction callbacks (`?with_response=1` -> `{interaction, resource}`), the
  interaction webhook (edit/delete the original, followups, multipart files), channel messages sent with the
  bot token, and attachment downloads.
- Gateway: HELLO -> IDENTIFY -> READY + GUILD_CREATE, heartbeat ACKs, RESUME -> RESUMED, and
  INTERACTION_CREATE / MESSAGE_CREATE dispatches the test asks for.
- Discord's rules it enforces (so the bot is tested against them): an interaction must be answered within
  `ack_deadline` seconds and only once; the interaction token works for `token_life` seconds; at most 10
  attachments per message, each no bigger than `attachment_size_limit`; custom_id <= 100 characters;
  <= 25 choices per option (and per autocomplete answer, names <= 100 characters); an embed's
  `attachment://` picture must name a file of the message; edits of one response no closer together than
  `edit_interval` (a test's stand-in for Discord's rate limits). Breaches are answered as Discord would and
  kept in `violations`.
- Permissions: `forbid_history = True` takes Read Message History from the bot (interactions say so in
  `app_permissions`; reading a message back, `GET /channels/{id}/messages/{id}`, answers 403 Missing Access);
  `refuse_edits` holds message ids whose edits with the bot token answer 403 (`refused` counts them).
- Attachments users upload can lie about their size or fail to download (`upload(..., claimed_size=,
  broken=)`); `served` counts the bytes the fake actually sent for each.

Use `async with FakeDiscord() as fake, fake.patched():` then run the bot with token `fake.token`.
Everything the bot sent is kept in `fake.interactions`, `fake.messages`, `fake.sync_calls`;
`await fake.wait_for(predicate, timeout)` waits (bounded) until a predicate over that state holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import web

EPHEMERAL = 64
ADMIN_PERMISSIONS = discord.Permissions.all().value  # Discord sends every bit for administrators
READ_HISTORY = 1 << 16
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 15) | READ_HISTORY  # view, send, attach files, read history


class FakeDiscordError(AssertionError):
    """The bot did something real Discord would reject (also recorded in `fake.violations`)."""


def _json(data: Any, status: int = 200, headers: dict | None = None) -> web.Response:
    # discord.py wants exactly `application/json` (no charset) or it treats the body as text.
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json", **(headers or {})}
    )


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"code": code, "message": message}, status=status)


@dataclass
class User:
    id: int
    name: str
    admin: bool = False

    def payload(self) -> dict:
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": self.name,
            "discriminator": "0",
            "avatar": None,
        }

    def member(self, guild_id: int) -> dict:
        return {
            "user": self.payload(),
            "roles": [],
            "joined_at": "2024-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "permissions": str(ADMIN_PERMISSIONS | MEMBER_PERMISSIONS if self.admin else MEMBER_PERMISSIONS),
        }


@dataclass
class Interaction:
    """One interaction the fake sent, and everything the bot answered to it (times from time.monotonic())."""

    id: int
    token: str
    kind: str  # "command", "component", "autocomplete"
    user: User
    sent_at: float
    payload: dict
    callback: dict | None = None  # {"type": int, "data": dict | None}
    callback_at: float | None = None
    original_id: int | None = None  # the message the callback created (deferred or not)
    edits: list[dict] = field(default_factory=list)  # PATCHes of the original, in order, each with "at"
    followups: list[dict] = field(default_factory=list)  # message payloads posted through the webhook
    deleted_original: bool = False

    @property
    def ack_latency(self) -> float | None:
        return None if self.callback_at is None else self.callback_at - self.sent_at

    @property
    def ephemeral(self) -> bool:
        data = (self.callback or {}).get("data") or {}
        return bool(int(data.get("flags", 0)) & EPHEMERAL)

    def texts(self) -> list[str]:
        """Every piece of text the user was shown for this interaction (callback, edits, followups)."""
        out = []
        for msg in [(self.callback or {}).get("data") or {}, *self.edits, *self.followups]:
            if msg.get("content"):
                out.append(msg["content"])
            for embed in msg.get("embeds") or []:
                out += [embed.get("title") or "", embed.get("description") or ""]
                out += [f"{f.get('name')}: {f.get('value')}" for f in embed.get("fields", [])]
        return out


class FakeDiscord:
    def __init__(
        self,
        *,
        ack_deadline: float = 3.0,
        token_life: float = 15 * 60,
        attachment_size_limit: int = 10 * 1024 * 1024,
        edit_interval: float = 0.0,
    ):
        self.token = "fake.bot.token-DO-NOT-LOG"
        self.app_id = 900_000_000_000_000_001
        self.bot_user = User(900_000_000_000_000_001, "Tunesmith")
        self.guild_id = 800_000_000_000_000_001
        self.channel_id = 800_000_000_000_000_010
        self.other_channel_id = 800_000_000_000_000_011
        self.owner = User(700_000_000_000_000_001, "owner", admin=True)
        self.ack_deadline = ack_deadline
        self.token_life = token_life
        self.attachment_size_limit = attachment_size_limit
        self.edit_interval = edit_interval  # the bot's pace for editing one message (0: not checked)
        self._ids = itertools.count(1_000_000_000_000_000_000)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = itertools.count(1)
        self._changed = asyncio.Condition()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every REST call, for debugging
        self.identifies: list[dict] = []
        self.commands: dict[int | None, list[dict]] = {}  # scope (None = global, else guild id) -> registered
        self.sync_calls: list[tuple[int | None, list[dict]]] = []
        self.interactions: dict[int, Interaction] = {}
        self._by_token: dict[str, Interaction] = {}
        self.messages: dict[int, dict] = {}  # every message the bot created, by id (deleted ones have "deleted")
        self.files: dict[int, dict[str, bytes]] = {}  # message id -> filename -> bytes
        self.uploads: dict[int, tuple[str, bytes]] = {}  # attachment id -> (filename, bytes) users "uploaded"
        self.claimed: dict[int, int] = {}  # attachment id -> the size its record claims (if not the real one)
        self.broken: set[int] = set()  # attachments whose download fails
        self.served: dict[int, int] = {}  # attachment id -> bytes sent before the client stopped reading
        self.violations: list[str] = []
        self.authorized_requests = 0
        self.forbid_history = False  # the bot may not read messages back (no Read Message History)
        self.refuse_edits: set[int] = set()  # message ids whose bot-token edits answer 403
        self.refused: dict[int, int] = {}  # message id -> edits refused

    # ---- lifecycle -------------------------------------------------------------------------------------
    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/", self._gateway)
        app.router.add_get("/attachments/{id}/{filename}", self._download)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    @contextlib.contextmanager
    def patched(self):
        """Point discord.py at this server (two class attributes), and put them back afterwards."""
        old = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield self
        finally:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old

    def env(self) -> dict[str, str]:
        """Environment for a `tunesmith run` subprocess (the test-only overrides main() honours)."""
        return {
            "DISCORD_TOKEN": self.token,
            "TUNESMITH_DISCORD_API_BASE": self.api_base,
            "TUNESMITH_DISCORD_GATEWAY": self.gateway_url,
        }

    async def start_bot_process(self, data_dir, **env: str) -> asyncio.subprocess.Process:
        """A real `tunesmith run` against this fake: one worker, no shutdown grace, no config file, output
        piped; `env` adds or overrides settings."""
        full = {
            **os.environ,
            **self.env(),
            "TUNESMITH_DATA_DIR": str(data_dir),
            "TUNESMITH_WORKERS": "1",
            "TUNESMITH_SHUTDOWN_GRACE": "0",
            **env,
        }
        full.pop("TUNESMITH_CONFIG", None)
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            env=full,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )

    # ---- waiting -------------------------------------------------------------------------------------
    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
        """Wait until predicate() is truthy (re-checked on every change); return its value."""

        async def waiter():
            async with self._changed:
                while not (value := predicate()):
                    await self._changed.wait()
                return value

        try:
            return await asyncio.wait_for(waiter(), timeout)
        except TimeoutError:
            raise AssertionError(f"fake Discord: timed out after {timeout} s waiting for {what}") from None

    async def wait_ready(self, timeout: float = 10.0) -> None:
        await self.wait_for(lambda: self.identifies and self._sockets, timeout, "the bot to identify")

    # ---- what the test does as a user ------------------------------------------------------------------
    def user(self, n: int, admin: bool = False) -> User:
        return User(700_000_000_000_000_100 + n, f"user{n}", admin)

    def find_command(self, name: str) -> dict:
        for scope in (self.guild_id, None):
            for cmd in self.commands.get(scope, []):
                if cmd["name"] == name:
                    return cmd
        raise AssertionError(
            f"command /{name} was never synced; have {[c['name'] for s in self.commands.values() for c in s]}"
        )

    def upload(self, filename: str, data: bytes, *, claimed_size: int | None = None, broken: bool = False) -> int:
        """A file a user attaches to a command; returns the attachment id to pass as the option value.
        `claimed_size`: the size the attachment's record says (a lie); `broken`: its download fails (500)."""
        attachment_id = next(self._ids)
        self.uploads[attachment_id] = (filename, data)
        if claimed_size is not None:
            self.claimed[attachment_id] = claimed_size
        if broken:
            self.broken.add(attachment_id)
        return attachment_id

    def _options(self, spec: list[dict], values: dict[str, Any], resolved: dict) -> list[dict]:
        by_name = {o["name"]: o for o in spec}
        out = []
        for name, value in values.items():
            if name not in by_name:
                raise AssertionError(f"option {name!r} not in the synced command; have {list(by_name)}")
            kind = by_name[name]["type"]
            if kind == 7:  # channel
                resolved.setdefault("channels", {})[str(value)] = {
                    "id": str(value),
                    "type": 0,
                    "name": f"channel-{value}",
                    "permissions": str(MEMBER_PERMISSIONS),
                }
                value = str(value)
            if kind == 11:  # attachment
                filename, data = self.uploads[value]
                resolved.setdefault("attachments", {})[str(value)] = {
                    "id": str(value),
                    "filename": filename,
                    "size": self.claimed.get(value, len(data)),
                    "content_type": "text/plain",
                    "url": f"http://127.0.0.1:{self.port}/attachments/{value}/{filename}",
                    "proxy_url": f"http://127.0.0.1:{self.port}/attachments/{value}/{filename}",
                }
                value = str(value)
            out.append({"name": name, "type": kind, "value": value})
        return out

    async def slash(self, command: str, user: User | None = None, **options: Any) -> Interaction:
        """Send /command (or "group sub") with options by name; returns the record to watch."""
        user = user or self.owner
        names = command.split()
        cmd = self.find_command(names[0])
        resolved: dict = {}
        spec, opts = cmd.get("options", []), None
        if len(names) > 1:
            sub = next(o for o in spec if o["name"] == names[1])
            opts = [
                {
                    "name": names[1],
                    "type": sub["type"],
                    "options": self._options(sub.get("options", []), options, resolved),
                }
            ]
        else:
            opts = self._options(spec, options, resolved)
        data = {"id": cmd["id"], "name": cmd["name"], "type": 1, "options": opts, "resolved": resolved}
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return await self._interact(2, "command", user, data)

    async def autocomplete(self, command: str, focused: str, user: User | None = None, **options: Any) -> Interaction:
        cmd = self.find_command(command)
        opts = self._options(cmd.get("options", []), options, {})
        for o in opts:
            if o["name"] == focused:
                o["focused"] = True
        return await self._interact(
            4, "autocomplete", user or self.owner, {"id": cmd["id"], "name": cmd["name"], "type": 1, "options": opts}
        )

    async def click(self, message: dict, custom_id: str, user: User | None = None) -> Interaction:
        """Click the button with this custom_id on a message the bot posted."""
        ids = [c["custom_id"] for row in message.get("components", []) for c in row.get("components", [])]
        if custom_id not in ids:
            raise AssertionError(f"no button {custom_id!r} on message {message['id']}; have {ids}")
        msg = {k: v for k, v in message.items() if not k.startswith("_")}
        return await self._interact(
            3, "component", user or self.owner, {"custom_id": custom_id, "component_type": 2}, message=msg
        )

    async def say(self, content: str, user: User | None = None) -> dict:
        """A user posts a plain message in the channel (MESSAGE_CREATE)."""
        user = user or self.owner
        msg = {
            "id": str(next(self._ids)),
            "channel_id": str(self.channel_id),
            "guild_id": str(self.guild_id),
            "author": user.payload(),
            "member": {k: v for k, v in user.member(self.guild_id).items() if k != "user"},
            "content": content,
            "timestamp": "2024-01-01T00:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
            "components": [],
        }
        await self.dispatch("MESSAGE_CREATE", msg)
        return msg

    async def _interact(
        self, itype: int, kind: str, user: User, data: dict, message: dict | None = None
    ) -> Interaction:
        iid = next(self._ids)
        token = f"itoken-{iid}"
        payload = {
            "id": str(iid),
            "application_id": str(self.app_id),
            "type": itype,
            "data": data,
            "token": token,
            "version": 1,
            "guild_id": str(self.guild_id),
            "channel_id": str(self.channel_id),
            "channel": {"id": str(self.channel_id), "type": 0, "guild_id": str(self.guild_id), "name": "tunes"},
            "member": user.member(self.guild_id),
            "app_permissions": str((MEMBER_PERMISSIONS | (1 << 13)) & ~(READ_HISTORY if self.forbid_history else 0)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "attachment_size_limit": self.attachment_size_limit,
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "context": 0,
        }
        if message is not None:
            payload["message"] = message
        record = Interaction(iid, token, kind, user, time.monotonic(), payload)
        self.interactions[iid] = record
        self._by_token[token] = record
        await self.dispatch("INTERACTION_CREATE", payload)
        return record

    # ---- gateway ---------------------------------------------------------------------------------------
    async def dispatch(self, event: str, data: dict) -> None:
        if not self._sockets:
            raise AssertionError("no bot is connected to the fake gateway")
        await self._sockets[-1].send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    def guild_payload(self) -> dict:
        g = str(self.guild_id)
        return {
            "id": g,
            "name": "Fake Folk Club",
            "owner_id": str(self.owner.id),
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "features": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "large": False,
            "member_count": 2,
            "unavailable": False,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "roles": [
                {
                    "id": g,
                    "name": "@everyone",
                    "permissions": str(MEMBER_PERMISSIONS),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "emojis": [],
            "stickers": [],
            "threads": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "voice_states": [],
            "presences": [],
            "members": [self.bot_user.member(self.guild_id)],
            "channels": [
                {
                    "id": str(cid),
                    "type": 0,
                    "name": name,
                    "position": i,
                    "guild_id": g,
                    "permission_overwrites": [],
                    "nsfw": False,
                    "parent_id": None,
                    "topic": None,
                    "rate_limit_per_user": 0,
                    "last_message_id": None,
                }
                for i, (cid, name) in enumerate([(self.channel_id, "tunes"), (self.other_channel_id, "other")])
            ],
        }

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                packet = json.loads(msg.data)
                op = packet.get("op")
                if op == 1:
                    # Ack after a short network-like delay: discord.py times the ack against the moment its
                    # heartbeat thread finished sending, and an instant ack races that (a bogus "behind" warning).
                    asyncio.get_running_loop().call_later(
                        0.05, lambda: asyncio.ensure_future(_send_quietly(ws, {"op": 11}))
                    )
                elif op == 2:
                    d = packet["d"]
                    if d.get("token") != self.token:
                        await ws.close(code=4004, message=b"Authentication failed.")
                        break
                    if not await self._identify(ws, d):
                        break
                    await self._notify()
                elif op == 6:
                    await ws.send_str(json.dumps({"op": 0, "t": "RESUMED", "s": next(self._seq), "d": {}}))
        finally:
            if ws in self._sockets:
                self._sockets.remove(ws)
            self._socket_closed(ws)
            await self._notify()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, d: dict) -> bool:
        """An IDENTIFY with the right token: READY and the guild (False: the socket was closed instead)."""
        self.identifies.append({k: v for k, v in d.items() if k != "token"})
        await self._send_ready(ws, "fake-session", d.get("shard", [0, 1]), [self.guild_payload()])
        return True

    def _socket_closed(self, ws: web.WebSocketResponse) -> None:
        """A gateway socket has closed (the sharded fake forgets its shard)."""

    async def _send_ready(self, ws: web.WebSocketResponse, session_id: str, shard: list, guilds: list[dict]) -> None:
        ready = {
            "v": 10,
            "user": {
                **self.bot_user.payload(),
                "bot": True,
                "verified": True,
                "mfa_enabled": False,
                "flags": 0,
                "email": None,
            },
            "guilds": [{"id": g["id"], "unavailable": True} for g in guilds],
            "session_id": session_id,
            "resume_gateway_url": self.gateway_url,
            "shard": shard,
            "application": {"id": str(self.app_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": next(self._seq), "d": ready}))
        for guild in guilds:
            await ws.send_str(json.dumps({"op": 0, "t": "GUILD_CREATE", "s": next(self._seq), "d": guild}))

    # ---- REST ------------------------------------------------------------------------------------------
    def _violation(self, text: str) -> web.Response:
        self.violations.append(text)
        return _error(400, 50035, f"Invalid Form Body: {text}")

    async def _read_body(self, request: web.Request) -> tuple[dict | list | None, dict[str, bytes]]:
        """JSON body or multipart (payload_json + files[n]) -> (payload, {filename: bytes})."""
        files: dict[str, bytes] = {}
        if request.content_type.startswith("multipart/"):
            payload = None
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":
                    payload = json.loads(await part.text())
                else:
                    files[part.filename or part.name] = bytes(await part.read())
            return payload, files
        raw = await request.read()
        return (json.loads(raw) if raw else None), files

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        method = request.method
        self.requests.append((method, path))
        parts = path.strip("/").split("/")
        try:
            if parts[0] == "interactions":
                return await self._callback(request, int(parts[1]), parts[2])
            if parts[0] == "webhooks":
                return await self._webhook(request, method, parts)
            # Everything else needs the bot token.
            if request.headers.get("Authorization") != f"Bot {self.token}":
                return _error(401, 0, "401: Unauthorized")
            self.authorized_requests += 1
            if path == "/users/@me":
                return _json(
                    {**self.bot_user.payload(), "bot": True, "verified": True, "flags": 0, "mfa_enabled": False}
                )
            if path == "/oauth2/applications/@me":
                return _json(
                    {
                        "id": str(self.app_id),
                        "name": "Tunesmith",
                        "description": "",
                        "icon": None,
                        "bot_public": True,
                        "bot_require_code_grant": False,
                        "owner": self.owner.payload(),
                        "verify_key": "00",
                        "flags": 0,
                        "summary": "",
                        "team": None,
                        "rpc_origins": [],
                        "interactions_endpoint_url": None,
                        "redirect_uris": [],
                    }
                )
            if path == "/gateway/bot":
                return _json(
                    {
                        "url": self.gateway_url,
                        "shards": 1,
                        "session_start_limit": {
                            "total": 1000,
                            "remaining": 999,
                            "reset_after": 0,
                            "max_concurrency": 1,
                        },
                    }
                )
            if parts[0] == "applications" and parts[-1] == "commands":
                scope = int(parts[3]) if len(parts) == 5 and parts[2] == "guilds" else None
                return await self._commands(request, method, scope)
            if parts[0] == "channels" and parts[2:3] == ["messages"]:
                return await self._channel_message(request, method, int(parts[1]), parts[3] if len(parts) > 3 else None)
            if parts[0] == "channels" and len(parts) == 2:
                return _json(self.guild_payload()["channels"][0])
        finally:
            await self._notify()
        return _error(404, 0, f"404: Not Found ({method} {path} is not faked)")

    async def _commands(self, request: web.Request, method: str, scope: int | None) -> web.Response:
        if method == "GET":
            return _json(self.commands.get(scope, []))
        if method != "PUT":
            return _error(405, 0, "405: Method Not Allowed")
        payload, _ = await self._read_body(request)
        problems = []
        for cmd in payload or []:
            if not cmd.get("description") and cmd.get("type", 1) == 1:
                problems.append(f"/{cmd['name']} has no description")
            for opt in _walk_options(cmd.get("options", [])):
                if len(opt.get("choices") or []) > 25:
                    problems.append(f"/{cmd['name']} option {opt['name']} has more than 25 choices")
                if not opt.get("description"):
                    problems.append(f"/{cmd['name']} option {opt['name']} has no description")
        if problems:
            return self._violation("; ".join(problems))
        registered = []
        for cmd in payload or []:
            entry = {**cmd, "id": str(next(self._ids)), "application_id": str(self.app_id), "version": "1"}
            if scope is not None:
                entry["guild_id"] = str(scope)
            registered.append(entry)
        self.commands[scope] = registered
        self.sync_calls.append((scope, payload or []))
        return _json(registered)

    def _check_message(self, payload: dict, files: dict[str, bytes], existing: dict | None = None) -> str | None:
        if len(files) > 10:
            return f"{len(files)} attachments; at most 10 per message"
        names = set(files) | {a["filename"] for a in (existing or {}).get("attachments", [])}
        for embed in payload.get("embeds") or []:
            url = (embed.get("image") or {}).get("url") or ""
            if url.startswith("attachment://") and url[len("attachment://") :] not in names:
                return f"embed image {url} names no attachment of the message; have {sorted(names)}"
        choices = payload.get("choices")
        if choices is not None and (len(choices) > 25 or any(len(c["name"]) > 100 for c in choices)):
            return f"autocomplete answer with {len(choices)} choices (at most 25, names <= 100 characters)"
        for name, data in files.items():
            if len(data) > self.attachment_size_limit:
                return f"attachment {name} is {len(data)} bytes; the limit is {self.attachment_size_limit}"
        for row in payload.get("components") or []:
            for comp in row.get("components", []):
                if len(comp.get("custom_id") or "") > 100:
                    return f"custom_id longer than 100 characters: {comp['custom_id']!r}"
        return None

    def _make_message(
        self,
        payload: dict,
        files: dict[str, bytes],
        *,
        interaction: Interaction | None = None,
        message_id: int | None = None,
    ) -> dict:
        mid = message_id or next(self._ids)
        attachments = []
        for name, data in files.items():
            aid = next(self._ids)
            attachments.append(
                {
                    "id": str(aid),
                    "filename": name,
                    "size": len(data),
                    "url": f"http://127.0.0.1:{self.port}/attachments/{aid}/{name}",
                    "proxy_url": f"http://127.0.0.1:{self.port}/attachments/{aid}/{name}",
                }
            )
            self.uploads[aid] = (name, data)
        msg = {
            "id": str(mid),
            "channel_id": str(self.channel_id),
            "guild_id": str(self.guild_id),
            "author": {**self.bot_user.payload(), "bot": True},
            "content": payload.get("content") or "",
            "timestamp": "2024-01-01T00:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments,
            "embeds": payload.get("embeds") or [],
            "pinned": False,
            "type": 0 if interaction is None else 20,
            "flags": int(payload.get("flags") or 0),
            "components": payload.get("components") or [],
        }
        if interaction is not None:
            msg["webhook_id"] = str(self.app_id)
            msg["application_id"] = str(self.app_id)
            msg["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.payload["type"],
                "user": interaction.user.payload(),
                "authorizing_integration_owners": {},
            }
        self.messages[mid] = msg
        self.files[mid] = dict(files)
        return msg

    async def _callback(self, request: web.Request, iid: int, token: str) -> web.Response:
        record = self.interactions.get(iid)
        if record is None or record.token != token:
            return _error(404, 10062, "Unknown interaction")
        now = time.monotonic()
        if record.callback is not None:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        if now - record.sent_at > self.ack_deadline:
            self.violations.append(f"interaction {iid} answered after {now - record.sent_at:.2f} s")
            return _error(404, 10062, "Unknown interaction")
        payload, files = await self._read_body(request)
        problem = self._check_message(payload.get("data") or {}, files)
        if problem:
            return self._violation(problem)
        record.callback, record.callback_at = payload, now
        ctype = payload["type"]
        data = payload.get("data") or {}
        resource: dict[str, Any] = {"type": ctype}
        if ctype in (4, 5):
            msg = self._make_message(data, files, interaction=record)
            if ctype == 5:
                msg["flags"] |= 128  # LOADING
            record.original_id = int(msg["id"])
            resource["message"] = msg
        elif ctype == 7 and record.payload.get("message"):
            mid = int(record.payload["message"]["id"])
            self._update_message(mid, data, files)
            resource["message"] = self.messages.get(mid)
        body = {
            "interaction": {
                "id": str(iid),
                "type": record.payload["type"],
                "response_message_id": str(record.original_id) if record.original_id else None,
                "response_message_loading": ctype == 5,
                "response_message_ephemeral": bool(int(data.get("flags") or 0) & EPHEMERAL),
            },
            "resource": resource,
        }
        return _json(body)

    def _update_message(self, mid: int, payload: dict, files: dict[str, bytes]) -> dict:
        msg = self.messages[mid]
        for key in ("content", "embeds", "components", "flags"):
            if key in payload:
                msg[key] = payload[key] if payload[key] is not None else ([] if key != "content" else "")
        if files or "attachments" in payload:
            kept = {
                a["filename"]: self.files[mid][a["filename"]]
                for a in msg["attachments"]
                if any(str(k.get("id")) == a["id"] for k in payload.get("attachments") or [])
            }
            new = self._make_message({}, files, message_id=next(self._ids))  # to mint attachment records
            del self.messages[int(new["id"])]
            msg["attachments"] = [a for a in msg["attachments"] if a["filename"] in kept] + new["attachments"]
            self.files[mid] = {**kept, **files}
        msg["flags"] = int(msg.get("flags") or 0) & ~128
        msg["edited_timestamp"] = "2024-01-01T00:00:01+00:00"
        return msg

    async def _webhook(self, request: web.Request, method: str, parts: list[str]) -> web.Response:
        # /webhooks/{app}/{token}[/messages/{@original|id}]
        if len(parts) < 3 or int(parts[1]) != self.app_id or parts[2] not in self._by_token:
            return _error(401, 50027, "Invalid Webhook Token")
        record = self._by_token[parts[2]]
        if time.monotonic() - record.sent_at > self.token_life:
            self.violations.append(f"interaction {record.id}: webhook used after the token expired")
            return _error(401, 50027, "Invalid Webhook Token")
        payload, files = await self._read_body(request)
        payload = payload or {}
        if len(parts) == 3 and method == "POST":  # followup
            problem = self._check_message(payload, files)
            if problem:
                return self._violation(problem)
            if record.callback is None:
                return _error(404, 10015, "Unknown Webhook (the interaction was not acknowledged)")
            msg = self._make_message(payload, files, interaction=record)
            msg["_at"] = time.monotonic()
            record.followups.append(msg)
            return _json({k: v for k, v in msg.items() if not k.startswith("_")})
        if len(parts) == 5 and parts[3] == "messages":
            target = parts[4]
            mid = record.original_id if target == "@original" else int(target)
            if mid is None or mid not in self.messages or self.messages[mid].get("deleted"):
                return _error(404, 10008, "Unknown Message")
            if method == "GET":
                return _json(self.messages[mid])
            if method == "DELETE":
                self.messages[mid]["deleted"] = True
                self.messages[mid]["_deleted_at"] = time.monotonic()
                if target == "@original":
                    record.deleted_original = True
                return web.Response(status=204)
            if method == "PATCH":
                problem = self._check_message(payload, files, None if files else self.messages[mid])
                if problem:
                    return self._violation(problem)
                msg = self._update_message(mid, payload, files)
                if target == "@original":
                    now = time.monotonic()
                    if record.edits and now - record.edits[-1]["at"] < self.edit_interval:
                        self.violations.append(
                            f"interaction {record.id}: edits {now - record.edits[-1]['at']:.3f} s "
                            f"apart (pace: {self.edit_interval} s)"
                        )
                    record.edits.append({**payload, "at": now, "files": dict(files)})
                return _json({k: v for k, v in msg.items() if not k.startswith("_")})
        return _error(404, 0, "404: Not Found")

    async def _channel_message(
        self, request: web.Request, method: str, channel_id: int, mid: str | None
    ) -> web.Response:
        if channel_id != self.channel_id:
            return _error(404, 10003, "Unknown Channel")
        if mid is None and method == "POST":
            payload, files = await self._read_body(request)
            problem = self._check_message(payload or {}, files)
            if problem:
                return self._violation(problem)
            msg = self._make_message(payload or {}, files)
            msg["_at"] = time.monotonic()
            return _json({k: v for k, v in msg.items() if not k.startswith("_")})
        if mid is None or int(mid) not in self.messages or self.messages[int(mid)].get("deleted"):
            return _error(404, 10008, "Unknown Message")
        if method == "DELETE":
            self.messages[int(mid)]["deleted"] = True
            self.messages[int(mid)]["_deleted_at"] = time.monotonic()
            return web.Response(status=204)
        if method == "GET":
            if self.forbid_history:
                return _error(403, 50001, "Missing Access")
            return _json(self.messages[int(mid)])
        if method == "PATCH":
            if int(mid) in self.refuse_edits:
                self.refused[int(mid)] = self.refused.get(int(mid), 0) + 1
                return _error(403, 50013, "Missing Permissions")
            payload, files = await self._read_body(request)
            problem = self._check_message(payload or {}, files, None if files else self.messages[int(mid)])
            if problem:
                return self._violation(problem)
            msg = self._update_message(int(mid), payload or {}, files)
            msg.setdefault("_edits", []).append({**(payload or {}), "at": time.monotonic()})
            return _json({k: v for k, v in msg.items() if not k.startswith("_")})
        return _error(405, 0, "405: Method Not Allowed")

    async def _download(self, request: web.Request) -> web.StreamResponse:
        """The attachment's bytes, streamed in 64 KiB chunks; `served` counts what went out before the
        client hung up (a bounded reader stops early)."""
        aid = int(request.match_info["id"])
        if aid not in self.uploads:
            return web.Response(status=404)
        if aid in self.broken:
            return web.Response(status=500, text="internal error")
        data = self.uploads[aid][1]
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        resp.content_length = len(data)
        await resp.prepare(request)
        self.served[aid] = 0
        try:
            for start in range(0, len(data), 64 * 1024):
                chunk = data[start : start + 64 * 1024]
                await resp.write(chunk)
                self.served[aid] += len(chunk)
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client stopped reading
        return resp

    # ---- convenience for assertions ----------------------------------------------------------------------
    def channel_posts(self) -> list[dict]:
        """Messages posted to the channel with the bot token (not through an interaction webhook)."""
        return [m for m in self.messages.values() if "webhook_id" not in m]

    def visible(self) -> list[dict]:
        """The bot's messages everyone in the channel sees now: not ephemeral, not deleted."""
        return [m for m in self.messages.values() if not m.get("deleted") and not int(m.get("flags") or 0) & EPHEMERAL]

    def original(self, record: Interaction) -> dict | None:
        """The interaction's response message as it is now (None once deleted)."""
        msg = self.messages.get(record.original_id) if record.original_id else None
        return None if msg is None or msg.get("deleted") else msg


async def _send_quietly(ws: web.WebSocketResponse, packet: dict) -> None:
    if not ws.closed:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(json.dumps(packet))


def _walk_options(options: list[dict]):
    for opt in options:
        yield opt
        yield from _walk_options(opt.get("options") or [])


@contextlib.asynccontextmanager
async def running_bot(fake: FakeDiscord, settings, store, queue=None, **kwargs):
    """The real Tunesmith client connected to `fake` until the block ends (then closed cleanly)."""
    from bot.discord.app import make_bot

    bot = make_bot(settings, store, queue, guild_ready_timeout=0.05, **kwargs)
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 15)
        yield bot
    finally:
        await bot.close()
        await asyncio.wait_for(task, 10)


# ---- reading what the bot posted (shared by the Discord test modules and the bench) ----------------------
def buttons(message: dict) -> dict[str, str]:
    """label -> custom_id of the buttons on a message."""
    return {c.get("label"): c["custom_id"] for row in message.get("components") or [] for c in row["components"]}


def field(message: dict, name: str) -> str | None:
    """The value of an embed field of a message (None when it has no such field)."""
    for embed in message.get("embeds") or []:
        for f in embed.get("fields", []):
            if f["name"] == name:
                return f["value"]
    return None


def attachment(fake: FakeDiscord, message: dict, ext: str) -> bytes:
    (data,) = [data for name, data in fake.files[int(message["id"])].items() if name.endswith("." + ext)]
    return data


def posted(fake: FakeDiscord, record: Interaction) -> dict | None:
    """The tune the interaction's response became (None until it carries the files)."""
    msg = fake.original(record)
    return msg if msg is not None and msg.get("attachments") else None


def answered(fake: FakeDiscord, record: Interaction) -> bool:
    """The request is over: its post is up, or it was refused, failed or withdrawn."""
    return bool(
        posted(fake, record)
        or record.followups
        or record.deleted_original
        or (record.callback is not None and record.ephemeral)
    )
