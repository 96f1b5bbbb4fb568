"""The broker's JSON: requests and results survive the trip as the same values (no pickle), through the
same kombu JSON Celery uses; `tunesmith worker` refuses to start without a broker URL."""

from __future__ import annotations

import subprocess
import sys

from kombu.utils.json import dumps, loads

from bot.artifacts import Artifacts, TuneFacts
from bot.config import Settings
from bot.engine import celery_codec as codec
from bot.requests import ComposeRequest, RerenderRequest
from tests.broker import ROOT, worker_env


def trip(value):
    return loads(dumps(value))


def test_requests_round_trip():
    compose = ComposeRequest(
        style="reel",
        length=48,
        key="Ador",
        tempo=110,
        seed=7,
        instrument="flute",
        meter="2/2",
        continue_abc="X:1\nK:D\nABc|",
        accompaniment=False,
    )
    assert codec.decode_request(trip(codec.encode_request(compose))) == compose
    rerender = RerenderRequest("t1", "X:1\nK:G\nGAB|", "abc", compose, 7, "v3")
    assert codec.decode_request(trip(codec.encode_request(rerender))) == rerender
    assert codec.decode_request(trip(codec.encode_request(("sleep", 1.5)))) == ("sleep", 1.5)


def test_newer_fields_are_ignored():
    data = trip(codec.encode_request(ComposeRequest(style="jig", length=32)))
    data["fields"]["a_field_from_a_newer_bot"] = 1
    assert codec.decode_request(data) == ComposeRequest(style="jig", length=32)


def test_artifacts_round_trip_with_binary_files():
    art = Artifacts(
        {"tune.mp3": bytes(range(256)) * 100, "tune.abc": b"X:1\nK:D\n"},
        "X:1\nK:D\n",
        "abc",
        TuneFacts(style="jig", seed=3, duration_s=12.5, warnings=("cut",)),
    )
    kind, back = codec.decode_outcome(trip(codec.encode_outcome(codec.DONE, art)))
    assert kind == codec.DONE and back == art
    assert codec.decode_outcome(trip(codec.encode_outcome(codec.FAILED, "bad key"))) == (codec.FAILED, "bad key")
    assert codec.decode_outcome("garbage")[0] == codec.CRASHED


def test_broker_password_is_masked():
    masked = Settings(broker_url="redis://:s3cret@redis:6379/0").masked()["broker_url"]
    assert "s3cret" not in masked and masked.startswith("redis://") and "redis:6379/0" in masked


def test_worker_needs_a_broker_url():
    env = worker_env("")
    env.pop("TUNESMITH_BROKER_URL")
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "worker"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "TUNESMITH_BROKER_URL is not set" in proc.stderr


def test_celery_settings_against_the_known_traps():
    from bot.engine.celery_app import make_app, visibility_timeout

    conf = make_app(Settings(broker_url="redis://127.0.0.1:1/0", job_timeout=60)).conf
    assert conf.worker_proc_alive_timeout >= 60  # the warm-up runs before a pool process reports "up"
    assert conf.worker_prefetch_multiplier == 1 and conf.task_acks_late and not conf.task_reject_on_worker_lost
    assert conf.broker_transport_options["visibility_timeout"] == visibility_timeout(60) >= 3 * 60
    assert conf.accept_content == ["json"] and conf.task_serializer == "json"
