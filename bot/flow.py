"""One request from start to finish, free of Discord: the front end gives a Reply, this does the rest.

    flow = RequestFlow(service)
    await flow.run(reply, user_id, guild_id, channel_id, request)

    check the server's rules (service.admit)  -> TuneError: shown to the user, nothing else happens
    service.submit(...)                        -> busy / per-user limit: BusyError with a retry time
    reply.acknowledge()                        (Discord wants an answer within 3 s); its status message is
                                               recorded, so a start after a crash can remove it
    reply.edit(status, cancel=job id) with the queue position / stage, at most once every `progress_every` s,
      the first `progress_every` s after the acknowledgement (a quick tune gets no status edit at all)
    reply.post_result(...): the status message BECOMES the tune (one message per tune) with the tune's stored
      title and public score; the post is recorded with its card (to edit the score later without a read)
    or reply.fail(text) when the tune could not be made, reply.withdraw() when its requester cancelled it

`Reply` is the one thing a front end implements (bot/discord/replies.py for interactions and chat
messages); the tests drive this module with a small Reply of their own. `Coalescer` paces the public
score edits of a post (many votes, one edit per `every` seconds).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Protocol

from bot import metrics
from bot.artifacts import Artifacts
from bot.attachments import fit_files
from bot.engine.base import Order
from bot.engine.job import CANCELLED, DONE, FAILED, QUEUED, RUNNING, JobEvent
from bot.requests import ComposeRequest
from bot.store import Post
from bot.tunes import TuneError, TuneService, continued_title

log = logging.getLogger("tunesmith.flow")

PROGRESS_EVERY = 2.0  # seconds between edits of the progress message (Discord's pace)
# The result may follow the last status edit this soon: Discord allows a few edits of one message within a
# few seconds (the 2 s status pace is ours, and leaves that room); waiting a whole PROGRESS_EVERY there cost
# up to 2 s per tune (bench/discord.py).
RESULT_GAP = 0.25
SCORE_EVERY = 1.0  # seconds between edits of one post's public score (votes in between are merged)
RESTARTING = "Tunesmith is restarting; please ask again in a minute"


@dataclass(frozen=True)
class Result:
    """What a front end posts: the rendered tune, the files that fit (posting order), notes about them, and
    the tune's stored title and public score (a re-post shows the votes it already has)."""

    artifacts: Artifacts
    tune_id: str | None
    parent_id: str | None
    files: list[tuple[str, bytes]]
    notes: list[str]
    continued: bool = False  # a continuation of another tune
    stored_title: str | None = None  # the title the tune was stored with (lists and autocomplete show it)
    votes: int = 0  # its public score: others' votes
    mean: float | None = None

    @property
    def title(self) -> str:
        if self.stored_title:
            return self.stored_title
        title = self.artifacts.facts.heading
        return continued_title(title) if self.continued else title

    @property
    def image(self) -> str | None:
        """The first sheet page: the embed's picture (the other pages follow as attachments)."""
        return next((name for name, _ in self.files if name.endswith(".png")), None)

    @property
    def warnings(self) -> list[str]:
        """What the renderer had to cut or could not draw (e.g. audio cut at 10 minutes)."""
        return list(self.artifacts.facts.warnings)


@dataclass(frozen=True)
class Posted:
    """A tune's post: its message, and its card (what it shows, in the front end's own form) to edit the
    score on it later without reading the message back."""

    message_id: int
    card: dict | None = None


class Reply(Protocol):
    """Where the answers to one request go (an interaction, a chat message)."""

    filesize_limit: int

    async def acknowledge(self) -> int | None:
        """Answer at once; returns the id of the status message (None if there is none yet)."""

    async def edit(self, text: str, cancel: str | None = None) -> None:
        """Show the status; `cancel` is the job id a Cancel button stops (None: no button)."""

    async def post_result(self, result: Result) -> Posted | None:
        """Turn the status message into the tune (None if it could not be posted)."""

    async def fail(self, text: str) -> None: ...
    async def withdraw(self) -> None:
        """The requester cancelled: remove the status message."""


def status_text(event: JobEvent) -> str:
    if event.state == QUEUED:
        return f"Queued #{event.position}" + (" (next up)" if event.position == 1 else "")
    return {
        "starting": "Starting the composer...",
        "composing": "Composing...",
        "rendering": "Rendering audio and sheet music...",
    }.get(event.stage, str(event.message).capitalize())


def failure_text(state: str, error: str | None) -> str:
    text = error or "the tune could not be made"
    if state == FAILED and "shutting down" in text:
        return "Tunesmith is restarting and your tune was cut short; please ask again in a minute."
    return text if text.startswith("Tunesmith") else f"Sorry, {text}"


class Progress:
    """Edit the status message with the latest news, at most once every `every` seconds, the first one
    `every` seconds after the acknowledgement: a tune done by then gets no status edit at all, and its
    result (the next edit of the same message, see wait_turn) goes out at once."""

    def __init__(self, reply: Reply, every: float = PROGRESS_EVERY, cancel: str | None = None):
        self.reply = reply
        self.every = every
        self.cancel = cancel
        self.text: str | None = None
        self.shown: str | None = None
        self.last_edit = float("-inf")
        self.first_at = time.monotonic() + every  # no status edit before this
        self.changed = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    def update(self, text: str) -> None:
        self.text = text
        self.changed.set()

    async def wait_turn(self, not_before: float = float("-inf"), gap: float | None = None) -> None:
        """Wait until the next edit keeps the pace (`gap`, default `every`, seconds after the last one)."""
        wait = max(self.last_edit + (self.every if gap is None else gap), not_before) - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)  # Discord's pace for edits, not synchronisation

    async def _edit(self, text: str) -> None:
        try:
            await self.reply.edit(text, self.cancel)
            self.shown = text
        except Exception as exc:  # a failed status edit never stops the tune
            log.warning("progress edit failed: %s", exc)
        finally:
            self.last_edit = time.monotonic()  # counted from the answer: a slow request cannot bunch two up

    async def _run(self) -> None:
        while True:
            await self.changed.wait()
            await self.wait_turn(self.first_at)
            self.changed.clear()
            if self.text != self.shown:
                await self._edit(self.text)

    async def stop(self) -> None:
        """No more status edits (one on its way is cut off; its time still counts for the pace)."""
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


class RequestFlow:
    """The shared path of every compose-like request: /compose, /continue, /tune, the Variation and
    Continue buttons and the `!compose` text form."""

    def __init__(self, service: TuneService, progress_every: float = PROGRESS_EVERY):
        self.service = service
        self.progress_every = progress_every
        self.accepting = True
        self.running: set[asyncio.Task] = set()

    async def run(
        self,
        reply: Reply,
        user_id: int,
        guild_id: int | None,
        channel_id: int | None,
        request,
        *,
        parent_id: str | None = None,
    ) -> None:
        """`request`: a ready request, or the options the user gave (ComposeOptions; the server's defaults fill in).
        Raises ValueError (shown to the user as it is) only before anything was acknowledged."""
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

        job = await self.service.submit(
            Order(
                user_id,
                request,
                on_progress,
                guild_id=guild_id,
                channel_id=channel_id,
                parent_id=parent_id,
                max_jobs=gs.per_user_limit,
            )
        )
        task = asyncio.current_task()
        self.running.add(task)
        try:
            try:
                status_id = await reply.acknowledge()
            except Exception as exc:
                log.warning("could not acknowledge a request (%s); cancelling job %s", exc, job.id)
                await self.service.queue.cancel(job.id)
                return
            await self.service.record_status(job.id, channel_id, status_id)
            progress = Progress(reply, self.progress_every, cancel=job.id)
            progress.update(latest[0])
            try:
                await self.service.settled(job)
            finally:
                await progress.stop()
            await progress.wait_turn(gap=min(self.progress_every, RESULT_GAP))  # the result edits the same message
            if job.state == DONE:
                continued = isinstance(request, ComposeRequest) and request.continue_abc is not None
                note = request.note if isinstance(request, ComposeRequest) else None
                await self._post(reply, job, parent_id, continued, note, user_id, guild_id, channel_id)
                metrics.posted(job)
            elif job.state == CANCELLED:
                await reply.withdraw()
            else:
                await reply.fail(failure_text(job.state, job.error))
        finally:
            self.running.discard(task)

    async def _post(
        self,
        reply: Reply,
        job,
        parent_id: str | None,
        continued: bool,
        note: str | None,
        user_id: int,
        guild_id: int | None,
        channel_id: int | None,
    ) -> None:
        files, notes = await fit_files(job.result, job.tune_id or job.id, reply.filesize_limit)
        title, votes, mean = await self.service.shown(job.tune_id)
        result = Result(
            job.result, job.tune_id, parent_id, files, ([note] if note else []) + notes, continued, title, votes, mean
        )
        posted = await reply.post_result(result)
        if job.tune_id and posted is not None:
            post = Post(posted.message_id, job.tune_id, user_id, guild_id, channel_id, posted.card)
            await self.service.record_post(post)


class Coalescer:
    """Run `action(key)` soon after `poke(key)`, at most once every `every` seconds per key: pokes that
    come while a run waits its turn are merged into that run. (A post's public score: a burst of votes
    becomes one edit at Discord's pace, and the last vote is always shown.)"""

    def __init__(self, action: Callable[[Hashable], Awaitable[None]], every: float = SCORE_EVERY):
        self.action = action
        self.every = every
        self._dirty: set = set()
        self._tasks: dict[Hashable, asyncio.Task] = {}
        self._last: dict[Hashable, float] = {}
        self.runs = 0  # how many times action ran (for tests and the bench)

    def poke(self, key: Hashable) -> None:
        self._dirty.add(key)
        if key not in self._tasks:
            self._tasks[key] = asyncio.create_task(self._run(key))

    async def _run(self, key: Hashable) -> None:
        try:
            while key in self._dirty:
                wait = self._last.get(key, float("-inf")) + self.every - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)  # the pace, not synchronisation
                self._dirty.discard(key)
                try:
                    self.runs += 1
                    await self.action(key)
                except Exception:
                    log.exception("paced update of %s failed", key)
                finally:
                    self._last[key] = time.monotonic()
        finally:
            self._tasks.pop(key, None)
            now = time.monotonic()
            for old in [k for k, t in self._last.items() if now - t > self.every and k not in self._tasks]:
                del self._last[old]

    async def drain(self) -> None:
        """Wait for the runs on their way (tests; shutdown)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks.values()))

    def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
