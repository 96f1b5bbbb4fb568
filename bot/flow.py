"""One request from start to finish, free of Discord: the front end gives a Reply, this does the rest.

    flow = RequestFlow(service)
    await flow.run(reply, user_id, guild_id, channel_id, request)

    check the server's rules (service.admit)  -> TuneError: shown to the user, nothing else happens
    service.submit(...)                        -> busy / per-user limit: BusyError with a retry time
    reply.acknowledge()                        (Discord wants an answer within 3 s)
    reply.edit(status) with the queue position / stage, at most once every `progress_every` s
    reply.post_result(...) with the files that fit; the tune's message id is stored
    or reply.fail(text) when the tune could not be made

`Reply` is the one thing a front end implements (bot/discord/replies.py for interactions and chat
messages); the tests drive this module with a small Reply of their own.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Protocol

from bot import metrics
from bot.attachments import fit_files
from bot.jobs import DONE, FAILED, QUEUED, RUNNING, JobEvent
from bot.tunes import TuneError, TuneService
from model.abc.notation import read_header

log = logging.getLogger("tunesmith.flow")

PROGRESS_EVERY = 2.0  # seconds between edits of the progress message (Discord's pace)
RESTARTING = "Tunesmith is restarting; please ask again in a minute"


@dataclass(frozen=True)
class Result:
    """What a front end posts: the rendered tune, the files that fit, and notes about them."""
    artifacts: object  # worker.Artifacts
    tune_id: str | None
    parent_id: str | None
    files: list[tuple[str, bytes]]
    notes: list[str]

    @property
    def title(self) -> str:
        return tune_title(self.artifacts)


class Reply(Protocol):
    """Where the answers to one request go (an interaction, a chat message)."""
    filesize_limit: int

    async def acknowledge(self) -> None: ...
    async def edit(self, text: str) -> None: ...
    async def post_result(self, result: Result) -> int | None:
        """Post the tune; returns the message id (None if it could not be posted)."""
    async def fail(self, text: str) -> None: ...


def status_text(event: JobEvent) -> str:
    if event.state == QUEUED:
        return f"Queued #{event.position}" + (" (next up)" if event.position == 1 else "")
    return {"starting": "Starting the composer...", "composing": "Composing...",
            "rendering": "Rendering audio and sheet music..."}.get(event.stage, str(event.message).capitalize())


def tune_title(art) -> str:
    """The T: line of an ABC tune, else "<Style> in <key>"."""
    if art.text_format == "abc" and read_header(art.text).title:
        return read_header(art.text).title[:200]
    meta = art.meta
    return f"{str(meta.get('style', 'tune')).title()} in {meta.get('key', '?')}"


def failure_text(state: str, error: str | None) -> str:
    text = error or "the tune could not be made"
    if state == FAILED and "shutting down" in text:
        return "Tunesmith is restarting and your tune was cut short; please ask again in a minute."
    return text if text.startswith("Tunesmith") else f"Sorry, {text}"


class Progress:
    """Edit the status message with the latest news, at most once every `every` seconds."""

    def __init__(self, reply: Reply, every: float = PROGRESS_EVERY):
        self.reply = reply
        self.every = every
        self.text: str | None = None
        self.shown: str | None = None
        self.last_edit = float("-inf")
        self.changed = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    def update(self, text: str) -> None:
        self.text = text
        self.changed.set()

    async def _wait_turn(self) -> None:
        wait = self.last_edit + self.every - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)  # Discord's pace for edits, not synchronisation

    async def _edit(self, text: str) -> None:
        try:
            await self.reply.edit(text)
            self.shown = text
        except Exception as exc:  # a failed status edit never stops the tune
            log.warning("progress edit failed: %s", exc)
        finally:
            self.last_edit = time.monotonic()  # counted from the answer: a slow request cannot bunch two up

    async def _run(self) -> None:
        while True:
            await self.changed.wait()
            await self._wait_turn()
            self.changed.clear()
            if self.text != self.shown:
                await self._edit(self.text)

    async def stop(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass

    async def finish(self, text: str) -> None:
        """The last edit (after stop()), still at the same pace."""
        await self._wait_turn()
        await self._edit(text)


class RequestFlow:
    """The shared path of every compose-like request: /compose, /continue, /tune, the Variation and
    Continue buttons and the `!compose` text form."""

    def __init__(self, service: TuneService, progress_every: float = PROGRESS_EVERY):
        self.service = service
        self.progress_every = progress_every
        self.accepting = True
        self.running: set[asyncio.Task] = set()

    async def run(self, reply: Reply, user_id: int, guild_id: int | None, channel_id: int | None, request, *,
                  parent_id: str | None = None) -> None:
        """Raises ValueError (shown to the user as it is) only before anything was acknowledged."""
        if not self.accepting or self.service.queue is None:
            raise TuneError(RESTARTING)
        request = await self.service.admit(request, guild_id, channel_id)
        gs = await self.service.guild_settings(guild_id)
        progress: Progress | None = None
        latest = ["Queued"]

        async def on_progress(event: JobEvent) -> None:
            if event.state not in (QUEUED, RUNNING):
                return  # the outcome is told below
            latest[0] = status_text(event)
            if progress is not None:
                progress.update(latest[0])

        job = await self.service.submit(user_id, request, on_progress, guild_id=guild_id, channel_id=channel_id,
                                        parent_id=parent_id, max_jobs=gs.per_user_limit)
        task = asyncio.current_task()
        self.running.add(task)
        try:
            try:
                await reply.acknowledge()
            except Exception as exc:
                log.warning("could not acknowledge a request (%s); cancelling job %s", exc, job.id)
                await self.service.queue.cancel(job.id)
                return
            progress = Progress(reply, self.progress_every)
            progress.update(latest[0])
            try:
                await self.service.settled(job)
            finally:
                await progress.stop()
            if job.state == DONE:
                await self._post(reply, job, parent_id)
                metrics.posted(job)
                await progress.finish(f"Done: tune `{job.tune_id}`" if job.tune_id else "Done")
            else:
                await reply.fail(failure_text(job.state, job.error))
        finally:
            self.running.discard(task)

    async def _post(self, reply: Reply, job, parent_id: str | None) -> None:
        files, notes = await fit_files(job.result, job.tune_id or job.id, reply.filesize_limit)
        message_id = await reply.post_result(Result(job.result, job.tune_id, parent_id, files, notes))
        if job.tune_id and message_id is not None:
            await self.service.set_message_id(job.tune_id, message_id)
