"""Logging an outage (Redis away) once, with a back-off, instead of an ERROR every second.

A loop that talks to Redis calls `failed(exc)` on every failed round and `ok()` on a good one. The first
failure is logged at once (ERROR); while the failures go on, a reminder is logged after 30 s, then 60 s,
120 s ... (at most every 10 minutes), saying how long it has lasted and how many rounds failed; the first
good round after an outage is logged once (INFO). `failed` also says how long to wait before the next
try: 1, 2, 4 ... seconds, at most `max_wait`. Pure (the clock is given), so tested without Redis.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class Outage:
    FIRST_REMINDER = 30.0  # seconds into an outage
    MAX_REMINDER = 600.0

    def __init__(
        self, what: str, log: logging.Logger, *, max_wait: float = 10.0, clock: Callable[[], float] = time.monotonic
    ):
        self.what, self.log, self.max_wait, self.clock = what, log, max_wait, clock
        self.since: float | None = None  # when the outage began (None: no outage)
        self.failures = 0
        self._next_reminder = 0.0
        self._reminder_gap = self.FIRST_REMINDER

    def failed(self, exc: BaseException) -> float:
        """Record a failed round (logging when it is time); the seconds to wait before the next try."""
        now = self.clock()
        self.failures += 1
        if self.since is None:
            self.since, self._reminder_gap = now, self.FIRST_REMINDER
            self._next_reminder = now + self._reminder_gap
            self.log.error("%s: %s (logged again with a back-off while it lasts)", self.what, _short(exc))
        elif now >= self._next_reminder:
            self.log.error(
                "%s: still failing after %.0f s (%d tries): %s", self.what, now - self.since, self.failures, _short(exc)
            )
            self._reminder_gap = min(self._reminder_gap * 2, self.MAX_REMINDER)
            self._next_reminder = now + self._reminder_gap
        return min(self.max_wait, 2.0 ** min(self.failures - 1, 10))

    def ok(self) -> None:
        """A good round: logs the end of an outage once."""
        if self.since is not None:
            lasted = self.clock() - self.since
            self.log.info("%s: working again after %.0f s (%d failed tries)", self.what, lasted, self.failures)
        self.since, self.failures = None, 0


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
