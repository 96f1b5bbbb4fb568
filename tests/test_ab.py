"""A/B tests of the ABC model (bot/ab.py): the CLI writes the choice into a real database, the service
assigns requests by it without a restart, the worker composes with the chosen weights, and every tune
records the version that made it."""

from __future__ import annotations

import asyncio
import json
import random
import shutil

import pytest

from bot import ab, worker
from bot.requests import ComposeRequest, from_options
from bot.store import Store
from model.abc.sample import WEIGHTS, load_abc_model


def b_weights(tmp_path, version="abc-b-test", validity=None):
    """A second model: the shipped weights under another version, with a card (and the novelty index)."""
    d = tmp_path / "b"
    d.mkdir(exist_ok=True)
    shutil.copyfile(WEIGHTS, d / "abc.pt")
    shutil.copyfile(WEIGHTS.parent / "abc-novelty.gz", d / "abc-novelty.gz")
    card = json.loads(WEIGHTS.with_suffix(".json").read_text()) | {"model_version": version}
    if validity is not None:
        card["validity"] = validity
    (d / "abc.json").write_text(json.dumps(card))
    return d / "abc.pt"


async def stored_test(db):
    async with await Store.open(db) as store:
        return await ab.current(store)


def test_set_show_off_through_the_database(tmp_path, capsys):
    db = tmp_path / "t.sqlite3"
    b = b_weights(tmp_path)
    assert ab.main(["--db", str(db), "set", str(b), "--share", "0.25"]) == 0
    assert "25% of ABC requests go to abc-b-test" in capsys.readouterr().out
    assert asyncio.run(stored_test(db)) == ab.AbTest(str(b.resolve()), 0.25, "abc-b-test")
    assert ab.main(["--db", str(db), "show"]) == 0
    assert "25% of ABC requests to abc-b-test" in capsys.readouterr().out
    assert ab.main(["--db", str(db), "off"]) == 0
    assert asyncio.run(stored_test(db)) is None
    assert ab.main(["--db", str(db), "show"]) == 0
    assert "no A/B test" in capsys.readouterr().out


def test_set_refuses_weights_without_a_card_failed_ones_and_bad_shares(tmp_path, capsys):
    db = str(tmp_path / "t.sqlite3")
    assert ab.main(["--db", db, "set", str(tmp_path / "none.pt")]) == 1
    assert "no weights at" in capsys.readouterr().err
    bare = tmp_path / "bare.pt"
    shutil.copyfile(WEIGHTS, bare)
    assert ab.main(["--db", db, "set", str(bare)]) == 1
    assert "has no model card" in capsys.readouterr().err
    bad = b_weights(tmp_path, validity={"passed": False, "problems": ["parse_music21 0.5 < 0.97"]})
    assert ab.main(["--db", db, "set", str(bad)]) == 1
    assert "failed its validity check (parse_music21 0.5 < 0.97)" in capsys.readouterr().err
    assert ab.main(["--db", db, "set", str(bad), "--share", "1.5"]) == 1
    assert "--share 1.5 is out of range" in capsys.readouterr().err


async def test_assign_sends_the_share_to_b_and_rolls_back_without_a_restart(tmp_path):
    b = b_weights(tmp_path)
    rng = random.Random(3)
    async with await Store.open(tmp_path / "t.sqlite3") as store:
        request = from_options(style="jig", length=16)
        assert (await ab.assign(store, request, rng)) is request  # no test: unchanged
        await store.set_value(ab.AB_KEY, ab.AbTest(str(b), 0.5, "abc-b-test").to_value())
        chosen = [(await ab.assign(store, request, rng)).abc_weights for _ in range(400)]
        assert chosen.count(str(b)) == pytest.approx(200, abs=40) and set(chosen) == {str(b), None}
        notes = from_options(style="chorale", length=8)
        assert (await ab.assign(store, notes, rng)).abc_weights is None  # the note model is not in the test
        await store.set_value(ab.AB_KEY, "")  # `tunesmith ab off`
        assert [(await ab.assign(store, request, rng)).abc_weights for _ in range(50)] == [None] * 50


def test_the_weights_never_come_from_user_input_nor_go_into_the_stored_request():
    from bot.requests import RequestError, parse_text

    with pytest.raises(RequestError):
        from_options(style="jig", abc_weights="../../secret.pt")
    with pytest.raises(RequestError):
        parse_text("compose jig abc_weights:../../secret.pt")
    request = ComposeRequest(style="jig", length=16, abc_weights="/some/abc.pt")
    assert "abc_weights" not in request.to_dict()
    assert from_options(**request.to_dict()) == ComposeRequest(style="jig", length=16)


def test_the_worker_composes_with_the_chosen_weights_and_records_their_version(tmp_path):
    b = b_weights(tmp_path)
    request = ComposeRequest(style="jig", length=8, seed=5, abc_weights=str(b))
    artifacts = worker.compose(request)
    assert artifacts.facts.model_version == "abc-b-test"
    plain = worker.compose(ComposeRequest(style="jig", length=8, seed=5))
    assert plain.facts.model_version == load_abc_model().version
    # weights removed after the test was set: the request still gets a tune, from the base model
    gone = worker.compose(ComposeRequest(style="jig", length=8, seed=5, abc_weights=str(tmp_path / "gone.pt")))
    assert gone.facts.model_version == load_abc_model().version
