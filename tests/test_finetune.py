"""`tunesmith finetune abc` on a small fixture database: a short real run from a tiny base network."""

from __future__ import annotations

import hashlib
import json
import string

import pytest

from bot import finetune
from bot.artifacts import TuneFacts
from bot.store import Store

TUNES = [
    "X:1\nT:Fixture One\nR:jig\nM:6/8\nL:1/8\nK:D\n|:DFA dfa|gfe dcB|AFA dFA|BGE E3|\nDFA dfa|gfe dcB|AFA ECE|D3 D3:|\n",
    "X:2\nT:Fixture Two\nR:reel\nM:4/4\nL:1/8\nK:G\n|:GABc dBGB|cAFA dAFA|GABc dBGB|cAFA G4:|\n",
    "X:3\nT:Fixture Three\nR:jig\nM:6/8\nL:1/8\nK:Ador\n|:eAA eAA|efg dBG|eAA eAA|edB A3:|\n",
    "X:4\nT:Badly Rated\nR:jig\nM:6/8\nL:1/8\nK:D\n|:DEF GAB|AFD D3:|\n",
]


async def make_db(path):
    async with await Store.open(path) as store:
        for i, text in enumerate(TUNES):
            tune = await store.add_tune(
                request={"style": "jig", "length": 8},
                text=text,
                text_format="abc",
                facts=TuneFacts(style="jig", model="abc", model_version="base-v1", seed=i),
            )
            for user in range(2):
                await store.rate(tune, user, 2 if i == 3 else 5)


def tiny_base(path):
    """A tiny untrained network whose vocabulary covers plain ASCII ABC (keeps the run short)."""
    from model.abc.net import AbcNet, AbcNetConfig, save_checkpoint
    from model.abc.notation import END

    vocab = "".join(
        sorted(set("\n" + string.printable.replace("\r", "").replace("\x0b", "").replace("\x0c", "") + END))
    )
    save_checkpoint(path, AbcNet(AbcNetConfig(vocab, embed=8, hidden=16, layers=1, dropout=0.0)))
    path.with_suffix(".json").write_text(json.dumps({"model_version": "tiny-base"}))


async def test_dry_run_counts_the_well_rated_tunes(tmp_path, capsys):
    db = tmp_path / "t.sqlite3"
    await make_db(db)
    assert finetune.main(["abc", "--db", str(db), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 rated ABC tunes with mean >= 4") and "3 usable, 0 skipped" in out
    assert "3 from model base-v1" in out
    assert not (tmp_path / "weights").exists()


async def test_too_few_rated_tunes_are_refused_with_a_clear_message(tmp_path, capsys):
    db = tmp_path / "t.sqlite3"
    await make_db(db)
    assert finetune.main(["abc", "--db", str(db), "--out", str(tmp_path / "ft")]) == 1
    err = capsys.readouterr().err
    assert "only 3 usable rated tunes; fine-tuning needs at least 20 (--min-tunes)" in err
    assert not (tmp_path / "ft").exists()


async def test_weights_below_the_validity_floor_are_rejected_not_installed(tmp_path, capsys, monkeypatch):
    """A tiny barely-trained network, judged against a floor no model can reach (parse rate above 100%),
    so the rejection path runs whatever its samples look like: renamed weights, a card saying why."""
    from model.abc import evaluate

    monkeypatch.setitem(evaluate.VALIDITY_FLOOR, "parse_music21", 1.01)
    db = tmp_path / "t.sqlite3"
    await make_db(db)
    base = tmp_path / "base.pt"
    tiny_base(base)
    out = tmp_path / "ft"
    code = finetune.main(
        [
            "abc",
            "--db",
            str(db),
            "--base",
            str(base),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--threads",
            "1",
            "--min-tunes",
            "3",
            "--check",
            "2",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1 and "THE NEW WEIGHTS WRITE INVALID TUNES (parse_music21 " in captured.err
    assert "< 1.01" in captured.err and "NOT installed" in captured.err
    assert not (out / "abc.pt").exists() and (out / "abc.rejected.pt").exists()
    card = json.loads((out / "abc.rejected.json").read_text())
    assert card["validity"]["passed"] is False and card["validity"]["tunes"] == 2
    assert card["base_model_version"] == "tiny-base" and card["finetune"]["extra_tunes"] == 3


async def make_corpus_db(path, n: int, self_vote_only: int = 0):
    """n held-out corpus tunes rated 5 by two people, plus `self_vote_only` rated 5 only by their requester."""
    from model.abc.data import load_corpus

    tunes = load_corpus().valid[: n + self_vote_only]
    async with await Store.open(path) as store:
        for i, text in enumerate(tunes):
            tune = await store.add_tune(
                request={"style": "jig", "length": 16},
                text="X:1\n" + text,
                text_format="abc",
                facts=TuneFacts(style="jig", model="abc", model_version="base-v1"),
                user_id=7,
            )
            for user in (7,) if i >= n else (1, 2):
                await store.rate(tune, user, 5)


async def test_finetune_of_the_real_model_passes_the_check_and_its_card_names_the_dataset(tmp_path, capsys):
    db = tmp_path / "t.sqlite3"
    await make_corpus_db(db, 20, self_vote_only=5)
    out = tmp_path / "ft"
    code = finetune.main(
        ["abc", "--db", str(db), "--out", str(out), "--epochs", "1", "--threads", "1", "--lr", "1e-4", "--check", "7"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "20 rated ABC tunes" in captured.out and "self-votes left out" in captured.out  # 5 self-voted left out
    assert f"TUNESMITH_ABC_WEIGHTS={out / 'abc.pt'}" in captured.out
    card = json.loads((out / "abc.json").read_text())
    data = (out / "dataset.jsonl").read_bytes()
    assert card["dataset"]["sha256"] == hashlib.sha256(data).hexdigest() and len(data.splitlines()) == 20
    assert card["dataset"]["tunes"] == 20 and card["dataset"]["usable"] == 20
    assert card["dataset"]["self_votes_included"] is False
    from model.abc.sample import load_abc_model

    base = load_abc_model()
    assert card["base_model_version"] == base.version != card["model_version"]
    v = card["validity"]
    assert v["passed"] and v["tunes"] == 7 and v["parse_music21"] == 1.0 and v["wrong_bar_share"] == 0.0
    assert v["copy_rate"] == 0.0 and v["base"]["parse_music21"] == 1.0
    assert load_abc_model(out / "abc.pt").version == card["model_version"]


async def test_finetune_from_an_exported_dataset_file(tmp_path, capsys):
    db = tmp_path / "t.sqlite3"
    await make_corpus_db(db, 4)
    data = tmp_path / "feedback.jsonl"
    from bot import export

    assert export.main(["--db", str(db), "--out", str(data)]) == 0
    assert finetune.main(["abc", "--dataset", str(data), "--dry-run"]) == 0
    assert "4 rated ABC tunes" in capsys.readouterr().out
    assert finetune.main(["abc", "--dataset", str(data), "--min-tunes", "5"]) == 1
    assert "only 4 usable rated tunes" in capsys.readouterr().err
    assert finetune.main(["abc", "--dataset", str(tmp_path / "none.jsonl")]) == 1
    assert "no dataset file" in capsys.readouterr().err


def test_bad_options_and_no_tunes_fail_clearly(tmp_path, capsys):
    assert finetune.main(["abc", "--min-stars", "9", "--dry-run"]) == 1
    assert "--min-stars 9 is out of range" in capsys.readouterr().err
    assert finetune.main(["abc", "--db", str(tmp_path / "missing.sqlite3")]) == 1
    assert "no database" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        finetune.main(["notes"])
