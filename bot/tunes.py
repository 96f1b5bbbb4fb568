"""The application service: what every front end (Discord, the CLI's bot run) asks of Tunesmith.

    service = TuneService(store, queue)
    await service.start()                      # jobs an earlier run left unfinished -> interrupted_jobs
    job = await service.submit(user_id, request, on_progress, guild_id=..., channel_id=...)
    await service.settled(job)                 # the job is over and recorded: job.tune_id, job.state
    await service.rate(tune_id, user_id, stars)

The job engine (bot/jobs.py) only runs jobs; this service is the one writer of job and tune rows
(through the store, which owns every SQL statement). The decisions behind the buttons (what a
variation or a continuation asks for, who may delete a post) live here too, free of Discord.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

from bot import ab
from bot.jobs import DONE, STARTING, Job, JobEvent, ProgressCallback
from bot.requests import LENGTH, ComposeRequest, RerenderRequest, from_options
from bot.store import GuildSettings, RatingSummary, Tune

log = logging.getLogger("tunesmith.tunes")

CONTINUE_BARS = 16  # bars the Continue button adds
PERIODS = {"day": 86400, "week": 7 * 86400, "month": 30 * 86400, "all": None}


class TuneError(ValueError):
    """A request about a tune we cannot serve (unknown id, not allowed); the text is safe to show."""


class TuneService:
    def __init__(self, store, queue) -> None:
        self.store = store
        self.queue = queue
        self.interrupted_jobs: list = []  # store.JobRecord rows an earlier run left unfinished
        self._settling: dict[str, asyncio.Task] = {}
        self._guild_settings: dict[int, GuildSettings] = {}

    async def start(self) -> None:
        """Mark the jobs an earlier run left unfinished as failed (their users are told on connect)."""
        self.interrupted_jobs = await self.store.fail_unfinished_jobs()

    # ---- composing --------------------------------------------------------------------------------
    async def submit(self, user_id: int, request: ComposeRequest | RerenderRequest,
                     on_progress: ProgressCallback | None = None, *, guild_id: int | None = None,
                     channel_id: int | None = None, parent_id: str | None = None,
                     max_jobs: int | None = None) -> Job:
        """Queue a job (raises the queue's BusyError family) and record it as it moves along."""
        request = await ab.assign(self.store, request)  # an A/B test sends a share to other weights
        created = asyncio.Event()

        async def record(event: JobEvent) -> None:
            try:
                if not created.is_set():
                    created.set()
                    await self.store.job_created(event.job_id, request=_as_dict(request), user_id=user_id,
                                                 guild_id=guild_id, channel_id=channel_id, created_at=time.time())
                if event.stage == STARTING:
                    await self.store.job_started(event.job_id, time.time())
            except Exception:
                log.exception("could not record job %s", event.job_id)
            if on_progress is not None:
                await on_progress(event)

        job = await self.queue.submit(user_id, request, record, guild_id=guild_id, channel_id=channel_id,
                                      parent_id=parent_id, max_jobs=max_jobs)
        self._settling[job.id] = asyncio.create_task(self._settle(job), name=f"tunesmith-settle-{job.id}")
        return job

    async def _settle(self, job: Job) -> None:
        """Once the job is over: store its tune (a re-render keeps its tune) and the job's outcome."""
        await job.wait()
        await job.events_delivered()
        if job.state == DONE:
            if isinstance(job.request, RerenderRequest):
                job.tune_id = job.request.tune_id
            else:
                try:
                    job.tune_id = await self.store.add_tune(
                        request=_as_dict(job.request), text=job.result.text, text_format=job.result.text_format,
                        meta=job.result.meta, user_id=job.user_id, guild_id=job.guild_id,
                        channel_id=job.channel_id, parent_id=job.parent_id)
                except Exception:
                    log.exception("could not store the tune of job %s", job.id)
        try:
            await self.store.job_finished(job.id, job.state, error=job.error, tune_id=job.tune_id,
                                          finished_at=job.finished_at)
        except Exception:
            log.exception("could not record the end of job %s", job.id)
        self._settling.pop(job.id, None)

    async def settled(self, job: Job) -> Job:
        """Wait until the job is over and recorded (job.tune_id is set when a tune was made)."""
        task = self._settling.get(job.id)
        if task is not None:
            await asyncio.shield(task)
        else:
            await job.wait()
        return job

    async def close(self, grace: float | None = None) -> dict[str, int]:
        """Stop the queue (finishing what it can within `grace`), then record every outcome."""
        counts = await self.queue.close(grace)
        if self._settling:
            await asyncio.wait(list(self._settling.values()), timeout=10)
        return counts

    # ---- a server's rules -------------------------------------------------------------------------
    async def guild_settings(self, guild_id: int | None) -> GuildSettings:
        if guild_id is None:
            return GuildSettings(0)
        if guild_id not in self._guild_settings:
            self._guild_settings[guild_id] = await self.store.guild_settings(guild_id)
        return self._guild_settings[guild_id]

    async def save_guild_settings(self, settings: GuildSettings) -> None:
        await self.store.set_guild_settings(settings)
        self._guild_settings[settings.guild_id] = settings

    async def admit(self, request, guild_id: int | None, channel_id: int | None):
        """The request as this server wants it (its default instrument), or TuneError when the server
        does not allow composing in this channel."""
        gs = await self.guild_settings(guild_id)
        if gs.allowed_channels and channel_id not in gs.allowed_channels:
            where = ", ".join(f"<#{c}>" for c in gs.allowed_channels)
            raise TuneError(f"on this server I compose only in {where}")
        if gs.default_instrument and isinstance(request, ComposeRequest) and request.instrument is None:
            request = dataclasses.replace(request, instrument=gs.default_instrument)
        return request

    # ---- stored tunes -----------------------------------------------------------------------------
    async def tune(self, tune_id: str) -> Tune:
        tune = await self.store.get_tune(tune_id)
        if tune is None:
            raise TuneError(f"there is no tune with id '{tune_id[:40]}'")
        return tune

    async def rate(self, tune_id: str, user_id: int, stars: int) -> RatingSummary:
        await self.tune(tune_id)
        return await self.store.rate(tune_id, user_id, stars)

    async def set_message_id(self, tune_id: str, message_id: int) -> None:
        try:
            await self.store.set_message_id(tune_id, message_id)
        except Exception:
            log.exception("could not record the message of tune %s", tune_id)

    async def top(self, guild_id: int | None, style: str | None, period: str, limit: int = 10) -> list[dict]:
        since = PERIODS.get(period)
        return await self.store.top_tunes(guild_id, style, time.time() - since if since else None, limit)

    @staticmethod
    def rerender_of(tune: Tune) -> RerenderRequest:
        """`/tune id:`: the stored tune, rendered again."""
        return RerenderRequest.from_tune(tune)

    @staticmethod
    def variation_of(tune: Tune) -> ComposeRequest:
        """The Variation button: the same request with a new seed."""
        return from_options(**{k: v for k, v in tune.request.items() if v is not None and k != "seed"})

    @staticmethod
    def continuation_of(tune: Tune) -> ComposeRequest:
        """The Continue button: CONTINUE_BARS more bars of the tune (length counts every bar)."""
        if tune.text_format != "abc":
            raise TuneError("only ABC tunes can be continued")
        length = min(LENGTH[1], int(tune.request.get("length") or 16) + CONTINUE_BARS)
        return from_options(style=tune.style, length=length, continue_abc=tune.text)

    @staticmethod
    def check_may_delete(tune: Tune | None, user_id: int, is_moderator: bool) -> None:
        if tune is not None and tune.user_id != user_id and not is_moderator:
            raise TuneError("Only the person who asked for this tune (or a moderator) can delete it.")


def _as_dict(request) -> dict:
    to_dict = getattr(request, "to_dict", None)
    return to_dict() if callable(to_dict) else {"value": repr(request)}
