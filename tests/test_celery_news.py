"""bot/engine/celery_news.py: what each Celery task state means for the job (pure, no Redis needed)."""

from bot.engine import celery_codec as codec
from bot.engine.celery_news import FINISHED, LOST, PROGRESS, STARTED, read
from bot.engine.job import DONE, FAILED, TIMED_OUT


def test_started_and_progress_carry_the_worker_and_the_stage():
    news = read("j1", "STARTED", {"hostname": "celery@k1", "pid": 42}, 60)
    assert (news.kind, news.node, news.pid, news.stage) == (STARTED, "celery@k1", 42, "")
    assert read("j1", "PROGRESS", {"stage": "rendering"}, 60).kind == PROGRESS
    assert read("j1", "PROGRESS", {"stage": "rendering"}, 60).stage == "rendering"


def test_our_outcomes_inside_success():
    assert read("j1", "SUCCESS", codec.encode_outcome(codec.FAILED, "that key is unknown"), 60).error == (
        "that key is unknown"
    )
    timed = read("j1", "SUCCESS", codec.encode_outcome(codec.TIMED_OUT), 90)
    assert (timed.kind, timed.state) == (FINISHED, TIMED_OUT) and "90 s" in timed.error
    crashed = read("j1", "SUCCESS", {"no": "outcome"}, 60)  # unreadable: a friendly failure, not a crash
    assert crashed.state == FAILED and crashed.error.startswith("something went wrong while composing")
    done = read("j1", "SUCCESS", codec.encode_outcome(codec.DONE, {"x": 1}), 60)
    assert (done.kind, done.state) == (FINISHED, DONE)


def test_celery_failures():
    assert read("j1", "FAILURE", {"exc_type": "WorkerLostError"}, 60).kind == LOST  # sent once more
    assert read("j1", "FAILURE", {"exc_type": "TimeLimitExceeded"}, 60).state == TIMED_OUT
    other = read("j1", "FAILURE", {"exc_type": "MemoryError", "exc_message": "x"}, 60)
    assert other.state == FAILED and "(MemoryError)" in other.error
    assert read("j1", "REVOKED", None, 60).kind == LOST  # Celery's cancel on a lost broker: sent again
    assert read("j1", "PENDING", None, 60).kind == ""
