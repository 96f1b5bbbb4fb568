"""The fake Discord (tests/fake_discord.py) handing out several gateway shards, one guild per shard.

`GET /gateway/bot` recommends `shards`; each IDENTIFY names its shard [id, total]; READY and GUILD_CREATE
on a shard carry only that shard's guilds (Discord's rule: shard = (guild_id >> 22) % total), and an
event for a guild is dispatched on its shard's socket only. `with fake.in_guild(i):` makes the next
user action (slash, click, say) happen in guild i.

    async with ShardedFakeDiscord(shards=2) as fake, fake.patched(): ...
"""

from __future__ import annotations

import contextlib
import json

from aiohttp import web

from tests.fake_discord import FakeDiscord, _json


def shard_of(guild_id: int, total: int) -> int:
    return (guild_id >> 22) % total


class ShardedFakeDiscord(FakeDiscord):
    def __init__(self, *, shards: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.shards = shards
        base = self.guild_id, self.channel_id, self.other_channel_id
        # guild i: ids chosen so that guild i lands on shard i (its own two channels)
        self.guilds: list[tuple[int, int, int]] = []
        for i in range(shards):
            gid = base[0]
            while shard_of(gid, shards) != i:
                gid += 1 << 22
            self.guilds.append((gid, base[1] + 1000 * i, base[2] + 1000 * i))
        self.guild_id, self.channel_id, self.other_channel_id = self.guilds[0]
        self.shard_sockets: dict[int, web.WebSocketResponse] = {}
        self.shard_identifies: list[list[int]] = []  # [shard id, total] of each IDENTIFY

    @contextlib.contextmanager
    def in_guild(self, index: int):
        """Act in guild `index` (on shard `index`) until the block ends."""
        saved = self.guild_id, self.channel_id, self.other_channel_id
        self.guild_id, self.channel_id, self.other_channel_id = self.guilds[index]
        try:
            yield self.guilds[index]
        finally:
            self.guild_id, self.channel_id, self.other_channel_id = saved

    async def wait_ready(self, timeout: float = 20.0) -> None:
        await self.wait_for(lambda: len(self.shard_sockets) == self.shards, timeout, "every shard to identify")

    async def dispatch(self, event: str, data: dict) -> None:
        guild_id = int(data.get("guild_id") or self.guild_id)
        ws = self.shard_sockets.get(shard_of(guild_id, self.shards))
        if ws is None:
            raise AssertionError(f"no shard of the bot is connected for guild {guild_id}")
        await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["path"].strip("/") == "gateway/bot":
            if request.headers.get("Authorization") != f"Bot {self.token}":
                return _json({"code": 0, "message": "401: Unauthorized"}, status=401)
            self.requests.append((request.method, "/gateway/bot"))
            return _json(
                {
                    "url": self.gateway_url,
                    "shards": self.shards,
                    "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
                }
            )
        channel = self._channel_of_other_guild(request)
        if channel is not None and request.method == "POST":
            payload, files = await self._read_body(request)
            problem = self._check_message(payload or {}, files)
            if problem:
                return self._violation(problem)
            with self.in_guild(channel):
                msg = self._make_message(payload or {}, files)
            await self._notify()
            return _json({k: v for k, v in msg.items() if not k.startswith("_")})
        return await super()._rest(request)

    def _channel_of_other_guild(self, request: web.Request) -> int | None:
        parts = request.match_info["path"].strip("/").split("/")
        if len(parts) == 3 and parts[0] == "channels" and parts[2] == "messages":
            for index, (_, channel, _) in enumerate(self.guilds[1:], start=1):
                if parts[1] == str(channel):
                    return index
        return None

    async def _identify(self, ws: web.WebSocketResponse, d: dict) -> bool:
        shard_id, total = d.get("shard", [0, 1])
        if total != self.shards:
            await ws.close(code=4011, message=b"Sharding required.")
            return False
        self.identifies.append({k: v for k, v in d.items() if k != "token"})
        self.shard_identifies.append([shard_id, total])
        self.shard_sockets[shard_id] = ws
        guilds = []
        for i, (gid, _, _) in enumerate(self.guilds):
            if shard_of(gid, total) == shard_id:
                with self.in_guild(i):
                    guilds.append(self.guild_payload())
        await self._send_ready(ws, f"fake-session-{shard_id}", [shard_id, total], guilds)
        return True

    def _socket_closed(self, ws: web.WebSocketResponse) -> None:
        for shard_id, socket in list(self.shard_sockets.items()):
            if socket is ws:
                del self.shard_sockets[shard_id]
