"""Small job functions that real `tunesmith worker` processes run in the broker tests and benches
(`tunesmith worker --function tests.celery_work:work`). `request` is (kind, arg). The facts' seed is
the worker's pid (the tests check which worker ran a job)."""

from __future__ import annotations

import dataclasses
import os
import time

from bot.artifacts import Artifacts, TuneFacts


def work(request, progress=None):
    if hasattr(request, "style"):  # a ComposeRequest: a quick made-up tune of that style, each one different
        art = work(("ok", f"{request.style} {time.time_ns()}"), progress)
        version = os.environ.get("FAKE_MODEL_VERSION", "v1")
        return dataclasses.replace(
            art, facts=dataclasses.replace(art.facts, style=request.style, model="abc", model_version=version)
        )
    kind, arg = request
    if progress:
        progress("composing")
    if kind == "ok":
        if progress:
            progress("rendering")
        return Artifacts(
            {"tune.abc": f"X:1\nT:{arg}\nK:D\nDEF|".encode(), "tune.mp3": bytes(range(256)) * 4},
            f"X:1\nT:{arg}\nK:D\nDEF|",
            "abc",
            TuneFacts(style="jig", seed=os.getpid()),
        )
    if kind == "sleep":  # a long job (the test cancels, times out or kills its worker)
        time.sleep(arg)
        return Artifacts({}, "X:1\nK:D\nA|", "abc", TuneFacts(seed=os.getpid()))
    if kind == "spin":  # CPU-bound for `arg` seconds of this process's CPU time (bench/broker.py)
        end = time.process_time() + arg
        n = 0
        while time.process_time() < end:
            n += sum(i * i for i in range(1000))
        return Artifacts({}, "X:1\nK:D\nA|", "abc", TuneFacts(seed=os.getpid(), bars=n % 7))
    if kind == "exit":
        os._exit(arg)
    if kind == "bad":
        raise ValueError(arg)
    if kind == "bug":
        raise RuntimeError(arg)
    raise AssertionError(kind)
