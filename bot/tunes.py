"""The application service: what every front end (Discord, the CLI's bot run) asks of Tunesmith.

    service = TuneService(store, queue)
    await service.start()                      # jobs an earlier run left unfinished -> interrupted_jobs
    job = await service.submit(Order(user_id, request, on_progress, guild_id=..., channel_id=...))
    await service.settled(job)                 # the job is over and recorded: job.tune_id, job.state
    await service.rate(tune_id, user_id, stars, guild_id)   # only on the server the tune was made on
    await service.delete(tune_id)              # a tombstone; returns the posts to remove

The job engine (bot/engine/local.py) only runs jobs; this service is the one writer of job and tune rows
(through the store, which owns every SQL statement). The decisions behind the buttons (what a
variation or a continuation asks for, who may delete a post) live here too, free of Discord.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time

from bot import ab, metrics
from bot.artifacts import tune_title
from bot.engine.base import Order
from bot.engine.job import DONE, STARTING, Job, JobEvent
from bot.requests import LENGTH, ComposeOptions, ComposeRequest, RerenderRequest, from_options
from bot.store import GuildSettings, Listing, Post, RatingSummary, Tune

log = logging.getLogger("tunesmith.tunes")

CONTINUE_BARS = 16  # bars the Continue button adds
PERIODS = {"day": 86400, "week": 7 * 86400, "month": 30 * 86400, "all": None}


class TuneError(ValueError):
    """A request about a tune we cannot serve (unknown id, not allowed); the text is safe to show."""


_CONTINUED = re.compile(r"^(?P<base>.*), continued(?: \((?P<n>\d+)\))?$")


def continued_title(title: str) -> str:
    """The title of a continuation: "X" -> "X, continued" -> "X, continued (2)" -> "X, continued (3)"."""
    found = _CONTINUED.match(title)
    if found is None:
        return f"{title}, continued"[:200]
    return f"{found['base']}, continued ({int(found['n'] or 1) + 1})"[:200]


def score_text(votes: int, mean: float | None) -> str:
    """ "4.3 from 6 votes", as every post and list shows a tune's public score (others' votes only)."""
    if not votes or mean is None:
        return "no votes yet"
    return f"{mean:.1f} from {votes} vote{'s' if votes != 1 else ''}"


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
    async def submit(self, order: Order) -> Job:
        """Queue a job (raises the queue's BusyError family) and record it as it moves along."""
        request = await ab.assign(self.store, order.request)  # an A/B test sends a share to other weights
        user_id, guild_id, channel_id, on_progress = order.user_id, order.guild_id, order.channel_id, order.on_progress
        created = asyncio.Event()

        async def record(event: JobEvent) -> None:
            try:
                if not created.is_set():
                    created.set()
                    await self.store.job_created(
                        event.job_id,
                        request=_as_dict(request),
                        user_id=user_id,
                        guild_id=guild_id,
                        channel_id=channel_id,
                        created_at=time.time(),
                    )
                if event.stage == STARTING:
                    await self.store.job_started(event.job_id, time.time())
            except Exception:
                log.exception("could not record job %s", event.job_id)
            if on_progress is not None:
                await on_progress(event)

        job = await self.queue.submit(dataclasses.replace(order, request=request, on_progress=record))
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
                    res = job.result
                    job.tune_id = await self.store.add_tune(
                        request=_as_dict(job.request),
                        text=res.text,
                        text_format=res.text_format,
                        facts=res.facts,
                        user_id=job.user_id,
                        guild_id=job.guild_id,
                        channel_id=job.channel_id,
                        parent_id=job.parent_id,
                        title=await self._title_of(job, res),
                    )
                except Exception:
                    log.exception("could not store the tune of job %s", job.id)
        try:
            await self.store.job_finished(
                job.id, job.state, error=job.error, tune_id=job.tune_id, finished_at=job.finished_at
            )
        except Exception:
            log.exception("could not record the end of job %s", job.id)
        self._settling.pop(job.id, None)

    async def _title_of(self, job: Job, res) -> str:
        """A new tune's title: its own, or for a continuation "<the parent's title>, continued" (its text still
        carries the T: line of the tune it continues, so that alone would repeat the parent's title)."""
        title = res.facts.heading
        if not (isinstance(job.request, ComposeRequest) and job.request.continue_abc is not None):
            return title
        parent = await self.store.get_tune(job.parent_id) if job.parent_id else None
        return continued_title(parent.title if parent is not None and parent.title else title)

    async def record_status(self, job_id: str, channel_id: int | None, message_id: int | None) -> None:
        """The message showing the job on its way: if the process dies, the next start removes it."""
        if message_id is None:
            return
        try:
            await self.store.job_status_message(job_id, channel_id, message_id)
        except Exception:
            log.exception("could not record the status message of job %s", job_id)

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

    async def admit(
        self, request: ComposeOptions | ComposeRequest | RerenderRequest, guild_id: int | None, channel_id: int | None
    ) -> ComposeRequest | RerenderRequest:
        """The request as this server wants it, or TuneError when the server does not allow composing in
        this channel. For the options the user gave (ComposeOptions) the server's default style, length,
        tempo and instrument fill in what they left out. A ready request only gets the instrument."""
        gs = await self.guild_settings(guild_id)
        if gs.allowed_channels and channel_id not in gs.allowed_channels:
            where = ", ".join(f"<#{c}>" for c in gs.allowed_channels)
            raise TuneError(f"on this server I compose only in {where}")
        defaults = {
            "style": gs.default_style,
            "length": gs.default_length,
            "tempo": gs.default_tempo,
            "instrument": gs.default_instrument,
        }
        if isinstance(request, ComposeOptions):
            return request.request(defaults)
        if not isinstance(request, ComposeRequest | RerenderRequest):
            raise TypeError(f"not a request: {type(request).__name__}")
        if gs.default_instrument and isinstance(request, ComposeRequest) and request.instrument is None:
            request = dataclasses.replace(request, instrument=gs.default_instrument)
        return request

    async def cancel(self, job_id: str, user_id: int) -> bool:
        """The Cancel button: True when the job was stopped (NotYourJobError for someone else's)."""
        return await self.queue.cancel(job_id, user_id)

    # ---- stored tunes -----------------------------------------------------------------------------
    async def score(self, tune_id: str) -> RatingSummary:
        """The tune's public score (others' votes)."""
        return await self.store.rating_summary(tune_id)

    async def post(self, message_id: int) -> Post | None:
        """The recorded post with this message id (None: not one of ours, or made before posts were kept)."""
        return await self.store.get_post(message_id)

    async def posts_of(self, tune_id: str) -> list[Post]:
        return await self.store.posts_of(tune_id)

    async def stats(self) -> dict:
        """The `tunesmith stats` report (built in the database thread)."""
        return await self.store.stats()

    async def export_guild(self, guild_id: int | None) -> tuple[int, bytes]:
        """(number of tunes, JSONL file) of one server's rated tunes, no user ids (built in the database thread)."""
        return await self.store.guild_jsonl(guild_id)

    async def tune(self, tune_id: str, guild_id: int | None) -> Tune:
        """A live tune made on this server (None: in direct messages); TuneError for any other."""
        tune = await self.store.get_tune(tune_id)
        if tune is None or tune.deleted or tune.guild_id != guild_id:
            where = " on this server" if guild_id is not None else ""
            raise TuneError(f"there is no tune with id '{tune_id[:40]}'{where} (it may have been deleted)")
        return tune

    async def rate(self, tune_id: str, user_id: int, stars: int, guild_id: int | None) -> tuple[RatingSummary, bool]:
        """Record the vote; returns the tune's public score and whether this was the requester's own vote
        (kept, shown to them as theirs, counted in no public figure)."""
        tune = await self.tune(tune_id, guild_id)
        summary = await self.store.rate(tune_id, user_id, stars)
        metrics.rated(stars)
        return summary, tune.user_id == user_id

    async def shown(self, tune_id: str | None) -> tuple[str | None, int, float | None]:
        """What a post of the tune shows of its record: its stored title and its public score (votes, mean)."""
        if not tune_id:
            return None, 0, None
        try:
            tune, summary = await self.store.get_tune(tune_id), await self.store.rating_summary(tune_id)
        except Exception:
            log.exception("could not read tune %s", tune_id)
            return None, 0, None
        return (tune.title if tune is not None else None), summary.count, summary.mean

    async def record_post(self, post: Post) -> None:
        try:
            await self.store.add_post(post)
        except Exception:
            log.exception("could not record the message of tune %s", post.tune_id)

    async def top(self, guild_id: int | None, style: str | None, period: str, limit: int = 10) -> list[Listing]:
        since = PERIODS.get(period)
        return _titled(
            await self.store.listings(
                guild_id,
                style=style,
                since=time.time() - since if since else None,
                min_votes=1,
                best_first=True,
                limit=limit,
            )
        )

    async def mine(self, guild_id: int | None, user_id: int, limit: int = 10) -> list[Listing]:
        return _titled(await self.store.listings(guild_id, user_id=user_id, limit=limit))

    async def suggestions(self, guild_id: int | None, typed: str, limit: int = 25) -> list[Listing]:
        """Tunes to offer while someone types a tune id: the best-rated, then the newest, matching the text."""
        top = await self.store.listings(guild_id, text=typed, min_votes=1, best_first=True, limit=limit // 2)
        recent = await self.store.listings(guild_id, text=typed, limit=limit)
        seen, out = set(), []
        for row in top + recent:
            if row.id not in seen:
                seen.add(row.id)
                out.append(row)
        return _titled(out[:limit])

    async def delete(self, tune_id: str) -> list[Post]:
        """Delete a tune (a tombstone stays for the dataset's integrity); returns its posts to remove."""
        return await self.store.delete_tune(tune_id)

    async def forget_post(self, message_id: int) -> None:
        await self.store.delete_post(message_id)

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
    def delete_scope(tune: Tune, post: Post | None, user_id: int, is_moderator: bool) -> str:
        """What a Delete click on `post` removes: "tune" for the tune's author or a moderator (the tune
        and all its posts), "post" for whoever asked for this re-post (only that message)."""
        if tune.user_id == user_id or is_moderator:
            return "tune"
        if post is not None and post.user_id == user_id:
            return "post"
        raise TuneError("Only the person who asked for this tune or this post (or a moderator) can delete it.")


def _titled(rows: list[Listing]) -> list[Listing]:
    """Rows stored before titles were get theirs from the text."""
    return [r if r.title else dataclasses.replace(r, title=tune_title(r.text or "", "abc", r.style)) for r in rows]


def _as_dict(request) -> dict:
    to_dict = getattr(request, "to_dict", None)
    return to_dict() if callable(to_dict) else {"value": repr(request)}
