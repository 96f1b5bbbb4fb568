"""`tunesmith eval feedback`: the traits, the simulated community on a real store, and the whole loop
(--quick) with the real model, the real export and the real `tunesmith finetune abc`."""

from __future__ import annotations

import hashlib
import json
import sqlite3

from bot.cli import main as cli
from bot.community import SERVERS, VOTES, post_and_rate
from bot.store import Store
from model.abc.traits import traits

MINOR_REPEATING = "X:1\nT:a\nM:6/8\nL:1/8\nK:Ador\n|:ABA ABA|ABA ABA|cde edc|A3 A3:|\n"
WIDE_MAJOR = "X:1\nT:b\nM:6/8\nL:1/8\nK:D\n|:D,FA dfa|d'ba gfe|DFA dfa|d3 d3:|\n"


def test_traits_of_two_tunes():
    a, b = traits(MINOR_REPEATING), traits(WIDE_MAJOR)
    assert (a["mode"], a["minor"], b["mode"], b["minor"]) == ("dor", True, "maj", False)
    assert a["repeated_bars"] == 0.25 and a["repetitive"] and not b["repetitive"]  # bar 2 equals bar 1
    assert a["range_steps"] == 4 and a["narrow"]
    assert b["range_steps"] == 21 and not b["narrow"]  # D, to d': three octaves


async def test_the_community_rates_by_its_taste_on_its_own_server_with_some_self_votes(tmp_path):
    tunes = [
        {"abc": text, "style": "jig", "bars": 4, "seed": i, "model_version": "v", "traits": traits(text)}
        for i, text in enumerate([MINOR_REPEATING, WIDE_MAJOR] * 20)
    ]
    db = tmp_path / "t.sqlite3"
    async with await Store.open(db) as store:
        counts = await post_and_rate(store, tunes, "minor", seed=3)
    assert counts["tunes"] == 40 and counts["votes"] == 40 * VOTES and counts["with_trait"] == 20
    assert 8 <= counts["self_votes"] <= 32
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT t.text, t.guild_id, t.user_id, r.user_id, r.stars FROM tunes t JOIN ratings r ON r.tune_id = t.id"
    ).fetchall()
    assert len(rows) == counts["votes"] + counts["self_votes"]
    assert all(voter // 1000 == guild for _, guild, _, voter, _ in rows) and {g for _, g, *_ in rows} == set(SERVERS)
    others = [(text, stars) for text, _, requester, voter, stars in rows if voter != requester]
    liked = sum(s for t, s in others if t == MINOR_REPEATING) / sum(1 for t, _ in others if t == MINOR_REPEATING)
    disliked = sum(s for t, s in others if t == WIDE_MAJOR) / sum(1 for t, _ in others if t == WIDE_MAJOR)
    assert liked > 4.0 and disliked < 2.7


def test_quick_loop_end_to_end(tmp_path, capsys):
    work = tmp_path / "work"
    code = cli(["eval", "feedback", "--quick", "--taste", "narrow", "--work", str(work), "--json"])
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads(out)
    (taste,) = report["tastes"]
    assert taste["taste"] == "narrow" and report["n"] == 14
    for phase in ("before", "after"):
        m = taste[phase]
        assert m["tunes"] == 14 and m["failed"] == 0 and m["parse_music21"] == 1.0 and m["parse_abc2midi"] == 1.0
        assert m["wrong_bar_share"] == 0.0 and m["corpus_copies"] == 0 and m["exact_length"] == 1.0
        assert 0 <= m["traits"]["narrow"] <= 1
    # the rated tunes went through a real store, with self-votes recorded but left out of the dataset
    conn = sqlite3.connect(work / "narrow" / "tunesmith.sqlite3")
    base = report["base_model_version"]
    assert conn.execute("SELECT count(*) FROM tunes WHERE model_version = ?", (base,)).fetchone()[0] == 14
    self_votes = conn.execute(
        "SELECT count(*) FROM ratings r JOIN tunes t ON t.id = r.tune_id"
        " WHERE r.user_id = t.user_id AND t.model_version = ?",
        (base,),
    ).fetchone()[0]
    assert self_votes == taste["community"]["self_votes"] == taste["dataset"]["self_votes_left_out"] > 0
    records = [json.loads(line) for line in (work / "narrow" / "feedback.jsonl").read_text().splitlines()]
    assert len(records) == 14 and all(not r["self_votes"]["included"] and r["voters"] == VOTES for r in records)
    # the fine-tuned weights' card names the dataset it learnt from: the liked tunes
    ft = work / "narrow" / "ft"
    card = json.loads((ft / "abc.json").read_text())
    assert card["dataset"]["sha256"] == hashlib.sha256((ft / "dataset.jsonl").read_bytes()).hexdigest()
    assert card["dataset"]["tunes"] == taste["dataset"]["liked_tunes"] >= 1
    assert card["validity"]["passed"] and card["base_model_version"] == report["base_model_version"]
    after = [json.loads(line) for line in (work / "narrow" / "after.jsonl").read_text().splitlines()]
    assert {t["model_version"] for t in after} == {card["model_version"]} != {report["base_model_version"]}
    # the same community rated the new model's tunes in the same store: one row per version, like /stats
    versions = {v["model_version"]: v for v in taste["ratings_per_model_version"]}
    assert set(versions) == {report["base_model_version"], card["model_version"]}
    assert all(v["votes"] == 14 * VOTES and v["tunes"] == 14 and v["ci95"] for v in versions.values())
