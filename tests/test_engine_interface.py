"""The job-engine interface (bot/engine/base.py): every engine and wrapper has each member itself (no
forwarding by __getattr__), and the admission rules both engines share."""

from __future__ import annotations

import inspect

import pytest

from bot.engine.base import Engine, Order, admit
from bot.engine.broker import CeleryQueue
from bot.engine.job import BusyError, ShuttingDownError, UserLimitError
from bot.engine.local import JobQueue
from bot.engine.warm_pool import WarmPool
from bot.metrics import MeteredQueue

MEMBERS = ("start", "submit", "cancel", "close", "queued", "running", "worker_pids")


@pytest.mark.parametrize("cls", [JobQueue, CeleryQueue, WarmPool, MeteredQueue])
def test_every_engine_and_wrapper_keeps_the_protocol_explicitly(cls):
    assert "__getattr__" not in vars(cls)
    for name in MEMBERS:
        assert any(name in vars(base) for base in cls.__mro__[:-1]), f"{cls.__name__} lacks {name}"
    assert list(inspect.signature(cls.submit).parameters) == ["self", "order"]
    assert {m for m in MEMBERS} <= set(dir(Engine))


class FakeJob:
    def __init__(self, user_id):
        self.user_id = user_id


def check(order, *, closing=False, active=(), waiting=0):
    admit(
        order,
        closing=closing,
        active=active,
        waiting=waiting,
        per_user=2,
        queue_cap=3,
        user_wait=lambda mine, limit: 7,
        queue_wait=lambda over: 9 + over,
    )


def test_the_shared_admission_rules():
    check(Order(1, "x"), active=[FakeJob(1), FakeJob(2)], waiting=2)  # room
    with pytest.raises(ShuttingDownError):
        check(Order(1, "x"), closing=True)
    with pytest.raises(UserLimitError) as err:
        check(Order(1, "x"), active=[FakeJob(1), FakeJob(1)])
    assert err.value.retry_after == 7 and "the limit is 2" in str(err.value)
    check(Order(1, "x", max_jobs=3), active=[FakeJob(1), FakeJob(1)])  # a server's own limit
    with pytest.raises(BusyError) as err:
        check(Order(1, "x"), waiting=4)
    assert not isinstance(err.value, UserLimitError) and err.value.retry_after == 10
