"""The worker with the real model and renderer: in-process, and end to end through the JobQueue."""

from __future__ import annotations

import dataclasses

import pytest

from bot import worker
from bot.artifacts import Artifacts
from bot.config import Settings
from bot.engine.base import Order
from bot.engine.local import DONE, FAILED, JobQueue
from bot.requests import RerenderRequest, from_options
from bot.store import Store
from bot.styles import STYLES
from bot.tunes import TuneService

PNG = b"\x89PNG\r\n\x1a\n"


def is_mp3(data: bytes) -> bool:
    return data[:3] == b"ID3" or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0)


@pytest.fixture(scope="module")
def jig():
    """One real 8-bar jig, composed once for the module (the model is loaded in this process)."""
    stages = []
    artifacts = worker.compose(from_options(style="jig", length=8, key="G", seed=7, tempo=120), progress=stages.append)
    return artifacts, stages


def test_compose_makes_every_file_and_records_what_it_did(jig):
    artifacts, stages = jig
    assert stages == ["composing", "rendering"]
    files = artifacts.files
    assert set(files) == {"tune.abc", "tune.mid", "tune.mp3", "tune.png"}
    assert files["tune.mid"][:4] == b"MThd" and is_mp3(files["tune.mp3"]) and files["tune.png"][:8] == PNG
    assert files["tune.abc"].decode() == artifacts.text and artifacts.text_format == "abc"
    assert "\nK:G" in artifacts.text and "\nM:6/8" in artifacts.text
    facts = artifacts.facts
    assert (facts.style, facts.key, facts.seed, facts.tempo, facts.model) == ("jig", "Gmaj", 7, 120, "abc")
    assert facts.instrument == STYLES["jig"].instrument and facts.model_version and facts.meter == "6/8"
    assert facts.duration_s > 5 and facts.title and "seed" not in facts.title and f"T:{facts.title}" in artifacts.text


def test_the_same_seed_gives_the_same_tune_and_no_seed_records_one(jig):
    artifacts, _ = jig
    again = worker.compose(from_options(style="jig", length=8, key="G", seed=7, tempo=120))
    assert again.text == artifacts.text
    picked = worker.compose(from_options(style="reel", length=4))
    seed = picked.facts.seed
    assert isinstance(seed, int) and 0 <= seed < 2**31
    assert worker.compose(from_options(style="reel", length=4, seed=seed)).text == picked.text


def test_rerender_a_stored_tune_with_another_instrument(jig):
    artifacts, _ = jig
    request = from_options(style="jig", length=8, key="G", seed=7, tempo=120, instrument="flute")
    again = worker.rerender(artifacts.text, "abc", request, artifacts.facts.seed, artifacts.facts.model_version)
    assert again.text == artifacts.text and again.facts.instrument == "flute" and again.facts.seed == 7
    assert (again.facts.key, again.facts.meter, again.facts.title) == ("Gmaj", "6/8", artifacts.facts.title)
    assert is_mp3(again.files["tune.mp3"]) and again.files["tune.mid"] != artifacts.files["tune.mid"]


def test_unreadable_abc_to_continue_is_a_clear_value_error():
    request = from_options(style="jig", length=8, continue_abc="X:1\nM:6/8\nL:1/8\nK:D\n|: D3 ^^^=g,,,, |")
    with pytest.raises(ValueError) as err:
        worker.compose(request)
    assert str(err.value)


async def test_end_to_end_through_the_queue_and_the_store(tmp_path):
    settings = Settings(data_dir=tmp_path, workers=1, job_timeout=120, shutdown_grace=5, mp3_bitrate=96)
    store = await Store.open(settings.db_path)
    queue = JobQueue(settings)  # the real worker.compose in a real worker process
    service = TuneService(store, queue)  # which stores the tunes
    await queue.start()
    try:
        events = []

        async def on_progress(event):
            events.append(event.stage)

        job = await service.submit(
            Order(11, from_options(style="reel", length=10, seed=3), on_progress, guild_id=1, channel_id=2)
        )
        await service.settled(job)
        assert job.state == DONE, job.error
        assert job.result.files["tune.mid"][:4] == b"MThd"
        bytes_per_s = len(job.result.files["tune.mp3"]) / job.result.facts.duration_s
        assert 10_000 < bytes_per_s < 14_000  # 96 kbps = 12 kB/s: the queue's settings reached the worker
        tune = await store.get_tune(job.tune_id)
        assert tune.text == job.result.text and tune.seed == 3 and tune.user_id == 11 and tune.style == "reel"
        # reel 10 is moved to 12 (a tie: the longer), a length training reels come in (AAB of 4 + 4 bars)
        assert tune.request["length"] == 12 and tune.model_version == job.result.facts.model_version
        await job.events_delivered()
        assert events == ["queued", "starting", "composing", "rendering", "finished"]

        again = await service.submit(Order(12, RerenderRequest.from_tune(tune)))
        await service.settled(again)
        assert again.state == DONE and again.tune_id == tune.id and again.result.text == tune.text
        assert await store.count_tunes() == 1

        bad = await service.submit(
            Order(13, from_options(style="jig", length=8, continue_abc="K:D\n|: D3 ^^^=g,,,, |"))
        )
        await bad.wait()
        assert bad.state == FAILED and bad.error and "Error" not in bad.error.split()[0]
    finally:
        await service.close(grace=0)
        await store.close()


@pytest.mark.skipif(not any(s.model == "notes" for s in STYLES.values()), reason="no note-model style in the table yet")
def test_a_note_model_style_gives_musicxml():
    style = next(s.name for s in STYLES.values() if s.model == "notes")
    artifacts = worker.compose(from_options(style=style, length=4, seed=2))
    assert artifacts.text_format == "musicxml" and "tune.musicxml" in artifacts.files
    assert artifacts.files["tune.mid"][:4] == b"MThd" and is_mp3(artifacts.files["tune.mp3"])
    assert artifacts.facts.model == "notes" and artifacts.facts.seed == 2
    again = worker.rerender(artifacts.text, "musicxml", from_options(style=style, length=4, seed=2), 2)
    assert is_mp3(again.files["tune.mp3"])


def test_settings_are_read_in_the_worker(monkeypatch, tmp_path):
    monkeypatch.setattr(worker, "_settings", None)
    monkeypatch.setenv("TUNESMITH_MP3_BITRATE", "96")
    monkeypatch.setenv("TUNESMITH_DATA_DIR", str(tmp_path))
    assert worker.settings().mp3_bitrate == 96
    assert dataclasses.is_dataclass(Artifacts)


def test_a_meter_override_is_composed_and_played_in_that_meter():
    artifacts = worker.compose(from_options(style="jig", length=4, meter="2/4", seed=4, tempo=100))
    assert "\nM:2/4" in artifacts.text and artifacts.facts.meter == "2/4"
    assert artifacts.facts.tempo == 100 and artifacts.files["tune.mid"][:4] == b"MThd"


def test_a_tune_of_several_pages_gives_one_picture_per_page():
    line = "GABG dGBG|c2ec BdgB|AGAB cBAG|FGAF DEFA|\n"
    long_reel = "X:1\nT:Long reel\nR:reel\nM:4/4\nL:1/8\nK:G\n" + line * 24  # 96 bars: several pages
    request = from_options(style="reel", length=96)
    files = worker.rerender(long_reel, "abc", request, 1).files
    pages = sorted(name for name in files if name.endswith(".png"))
    assert pages[0] == "tune-2.png" and pages[-1] == "tune.png" and len(pages) >= 3
    assert all(files[name][:8] == PNG for name in pages)
