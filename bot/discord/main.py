"""`tunesmith run` (main) and `tunesmith sync` (sync_main): settings, logging, the store, the job queue,
the bot, and SIGTERM handling."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

import discord

from bot.config import ConfigError, Settings, load_settings
from bot.discord.app import make_bot
from bot.tunes import TuneService

log = logging.getLogger("tunesmith.discord")

SHUTDOWN_BUDGET = 6.0  # seconds jobs may keep running after SIGTERM (docker stop kills after 10 s)


def use_test_server(settings: Settings) -> None:
    """TEST ONLY: point discord.py at a fake Discord (tests/fake_discord.py) when the settings say so."""
    if settings.discord_api_base:
        import discord.http

        discord.http.Route.BASE = settings.discord_api_base
        log.warning("TEST ONLY: Discord API base is %s", settings.discord_api_base)
    if settings.discord_gateway:
        import discord.gateway
        import yarl

        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway)
        log.warning("TEST ONLY: Discord gateway is %s", settings.discord_gateway)


def setup_logging(level: str, token: str = "") -> None:
    from bot.logging_setup import setup_logging as setup  # one handler; it masks interaction and bot tokens

    setup(level, secrets=(token,))


def _settings_or_exit() -> Settings | None:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"tunesmith: {exc}", file=sys.stderr)
        return None
    if not settings.discord_token:
        print(
            "tunesmith: DISCORD_TOKEN is not set; create a bot at https://discord.com/developers/applications "
            "and put its token in DISCORD_TOKEN (see README)",
            file=sys.stderr,
        )
        return None
    return settings


def sync_main(argv: list[str]) -> int:
    """`tunesmith sync`: push the slash commands now (to TUNESMITH_DEV_GUILD if set, else globally)."""
    argparse.ArgumentParser(prog="tunesmith sync", description=sync_main.__doc__).parse_args(argv)
    settings = _settings_or_exit()
    if settings is None:
        return 2
    setup_logging(settings.log_level, settings.discord_token)
    use_test_server(settings)

    async def run() -> int:
        from bot.store import Store

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        async with await Store.open(settings.db_path) as store:
            bot = make_bot(settings, store, queue=None, force_sync=True)
            try:
                await bot.login(settings.discord_token)  # setup_hook syncs
            except discord.LoginFailure:
                print("tunesmith: Discord refused the token in DISCORD_TOKEN", file=sys.stderr)
                return 1
            finally:
                await bot.close()
        return 0

    return asyncio.run(run())


def main(argv: list[str]) -> int:
    """`tunesmith run`: run the bot until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(prog="tunesmith run", description=main.__doc__)
    parser.add_argument("--sync", action="store_true", help="push the slash commands even if unchanged")
    args = parser.parse_args(argv)
    settings = _settings_or_exit()
    if settings is None:
        return 2
    setup_logging(settings.log_level, settings.discord_token)
    use_test_server(settings)
    return asyncio.run(_run(settings, force_sync=args.sync))


async def _run(settings: Settings, force_sync: bool = False) -> int:
    from bot.engine.choose import make_queue
    from bot.store import Store

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = await Store.open(settings.db_path)
    queue = make_queue(settings)  # JobQueue, or CeleryQueue when TUNESMITH_BROKER_URL is set
    service = TuneService(store, queue)
    await service.start()
    await queue.start()
    bot = make_bot(settings, store, queue, service=service, force_sync=force_sync)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bot_task = asyncio.create_task(bot.start(settings.discord_token), name="discord")
    stop_task = asyncio.create_task(stop.wait(), name="stop")
    code = 0
    try:
        await asyncio.wait([bot_task, stop_task], return_when=asyncio.FIRST_COMPLETED)
        if bot_task.done():
            exc = bot_task.exception()
            if isinstance(exc, discord.LoginFailure):
                log.error("Discord refused the token in DISCORD_TOKEN")
                code = 1
            elif exc is not None:
                log.error("the Discord connection failed", exc_info=exc)
                code = 1
        else:
            log.info("stop signal received")
        await bot.shutdown(min(settings.shutdown_grace, SHUTDOWN_BUDGET))
        if not bot_task.done():
            await asyncio.wait([bot_task], timeout=2.0)
    finally:
        stop_task.cancel()
        if bot.accepting:  # shutdown() never ran (an error above)
            await service.close(0)
        await store.close()
        log.info("stopped; database closed")
    return code
