"""`tunesmith export` and `tunesmith stats` on a real database file."""

from __future__ import annotations

import json

import pytest

from bot import export, stats
from bot.artifacts import TuneFacts
from bot.cli import main as cli
from bot.store import Store, reports


async def make_db(path):
    """Five tunes with known ratings, one MusicXML, plus a few job rows."""
    async with await Store.open(path) as store:
        ids = []
        for i, (style, fmt) in enumerate(
            [("jig", "abc"), ("reel", "abc"), ("jig", "abc"), ("polka", "abc"), ("jig", "musicxml")]
        ):
            text = f"X:1\nT:Tune {i}\nM:6/8\nL:1/8\nK:D\nDFA dfa|" if fmt == "abc" else "<score-partwise/>"
            ids.append(
                await store.add_tune(
                    request={"style": style, "length": 32},
                    text=text,
                    text_format=fmt,
                    facts=TuneFacts(
                        style=style,
                        model="abc" if fmt == "abc" else "notes",
                        model_version="v1",
                        seed=i,
                    ),
                )
            )
        votes = {0: [5, 4, 5], 1: [2, 3], 2: [4], 3: [], 4: [5, 5]}
        for i, stars in votes.items():
            for user, s in enumerate(stars):
                await store.rate(ids[i], 100 + user, s)
        for n, (status, secs) in enumerate([("done", 2.0), ("done", 4.0), ("done", 10.0), ("failed", 1.0)]):
            await store.job_created(f"j{n}", request={"style": "jig"}, created_at=1000.0)
            await store.job_started(f"j{n}", started_at=1001.0)
            await store.job_finished(
                f"j{n}", status, error="boom" if status == "failed" else None, finished_at=1001.0 + secs
            )
        return ids


async def test_export_jsonl_round_trip_with_filters(tmp_path):
    db = tmp_path / "t.sqlite3"
    ids = await make_db(db)
    out = tmp_path / "data" / "feedback.jsonl"
    assert cli(["export", "--db", str(db), "--out", str(out)]) == 0
    records = export.load_jsonl(out)
    assert [r["id"] for r in records] == [ids[0], ids[1], ids[2], ids[4]]  # the unrated polka is left out
    first = records[0]
    assert first["ratings"] == {
        "count": 3,
        "mean": pytest.approx(14 / 3, abs=1e-4),
        "stars": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 2},
    }
    assert first["request"] == {"style": "jig", "length": 32} and first["text"].startswith("X:1\nT:Tune 0")
    assert first["model_version"] == "v1" and first["seed"] == 0 and "user_ratings" not in first

    assert export.main(["--db", str(db), "--out", str(out), "--min-stars", "4", "--min-votes", "2"]) == 0
    assert [r["id"] for r in export.load_jsonl(out)] == [ids[0], ids[4]]

    assert export.main(["--db", str(db), "--out", str(out), "--with-user-ids", "--min-stars", "5"]) == 0
    (only,) = export.load_jsonl(out)
    assert only["user_ratings"] == [
        {"user_id": 100, "stars": 5, "self": False},
        {"user_id": 101, "stars": 5, "self": False},
    ]


async def test_export_abc_numbers_tunes_and_skips_musicxml(tmp_path):
    db = tmp_path / "t.sqlite3"
    ids = await make_db(db)
    out = tmp_path / "feedback.abc"
    assert export.main(["--db", str(db), "--format", "abc", "--out", str(out)]) == 0
    text = out.read_text()
    assert [line for line in text.splitlines() if line.startswith("X:")] == ["X:1", "X:2", "X:3"]
    assert f"id={ids[0]} mean=4.6667 votes=3" in text and "score-partwise" not in text


def test_bad_options_and_missing_database_give_clear_messages(tmp_path, capsys):
    assert export.main(["--db", str(tmp_path / "none.sqlite3"), "--out", str(tmp_path / "x")]) == 1
    assert "no database" in capsys.readouterr().err
    assert export.main(["--db", str(tmp_path / "none.sqlite3"), "--out", "x", "--min-stars", "7"]) == 1
    assert "--min-stars 7 is out of range" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "none.sqlite3").exists()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a"}\n')
    with pytest.raises(export.ExportError, match="line 1 lacks"):
        export.load_jsonl(bad)


async def test_stats_counts_styles_failures_and_job_time_percentiles(tmp_path, capsys):
    db = tmp_path / "t.sqlite3"
    await make_db(db)
    assert stats.main(["--db", str(db), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert (s["tunes"], s["ratings"], s["raters"]) == (5, 8, 3)
    assert s["styles"][0] == {"style": "jig", "tunes": 3, "ratings": 6, "mean": pytest.approx(28 / 6, abs=0.01)}
    assert s["jobs"] == {"done": 3, "failed": 1} and s["failures"] == 1
    assert s["job_seconds"] == {"p50": 4.0, "p95": pytest.approx(9.4), "count": 3}
    assert s["top_errors"] == [{"error": "boom", "count": 1}]
    assert stats.main(["--db", str(db)]) == 0
    text = capsys.readouterr().out
    assert "tunes: 5" in text and "p50 4.0 s" in text


def test_percentile():
    assert reports.percentile([], 50) is None
    assert reports.percentile([3.0], 95) == 3.0
    assert reports.percentile([1, 2, 3, 4], 50) == 2.5


async def make_votes_db(path):
    """Tunes by requester 1 on two servers and in a DM; the requester also rates their own tunes."""
    async with await Store.open(path) as store:
        ids = []
        for i, (guild, version) in enumerate([(10, "A"), (10, "A"), (20, "B"), (None, "B")]):
            ids.append(
                await store.add_tune(
                    request={"style": "jig", "length": 8},
                    text=f"X:1\nT:T{i}\nK:D\nD|",
                    text_format="abc",
                    facts=TuneFacts(style="jig", model="abc", model_version=version),
                    user_id=1,
                    guild_id=guild,
                )
            )
        await store.rate(ids[0], 1, 5)  # self-vote
        await store.rate(ids[0], 2, 2)
        await store.rate(ids[0], 3, 3)
        await store.rate(ids[1], 1, 5)  # only a self-vote
        await store.rate(ids[2], 2, 4)
        await store.rate(ids[3], 2, 5)
        return ids


async def test_self_votes_are_flagged_and_left_out_unless_asked(tmp_path):
    db = tmp_path / "t.sqlite3"
    ids = await make_votes_db(db)
    out = tmp_path / "f.jsonl"
    assert export.main(["--db", str(db), "--out", str(out), "--with-user-ids"]) == 0
    records = {r["id"]: r for r in export.load_jsonl(out)}
    assert set(records) == {ids[0], ids[2], ids[3]}  # the tune rated only by its requester is left out
    first = records[ids[0]]
    assert first["ratings"]["count"] == 2 and first["ratings"]["mean"] == 2.5 and first["voters"] == 2
    assert first["self_votes"] == {"count": 1, "included": False}
    assert [u["user_id"] for u in first["user_ratings"]] == [2, 3]

    assert export.main(["--db", str(db), "--out", str(out), "--with-user-ids", "--include-self-votes"]) == 0
    records = {r["id"]: r for r in export.load_jsonl(out)}
    assert set(records) == set(ids)
    first = records[ids[0]]
    assert (
        first["ratings"]["count"] == 3
        and first["voters"] == 3
        and first["ratings"]["mean"] == pytest.approx(10 / 3, abs=1e-4)
    )
    assert first["self_votes"] == {"count": 1, "included": True}
    assert [(u["user_id"], u["self"]) for u in first["user_ratings"]] == [(1, True), (2, False), (3, False)]
    # --min-stars 5 with self-votes left out: the requester's 5 alone does not qualify the tune
    assert export.main(["--db", str(db), "--out", str(out), "--min-stars", "5"]) == 0
    assert [r["id"] for r in export.load_jsonl(out)] == [ids[3]]


async def test_servers_are_hashed_with_a_salt_stable_within_the_database(tmp_path):
    db = tmp_path / "t.sqlite3"
    ids = await make_votes_db(db)
    out = tmp_path / "f.jsonl"
    assert export.main(["--db", str(db), "--out", str(out), "--include-self-votes"]) == 0
    servers = {r["id"]: r["server"] for r in export.load_jsonl(out)}
    assert servers[ids[0]] == servers[ids[1]] != servers[ids[2]] and servers[ids[3]] is None
    assert len(servers[ids[0]]) == 16 and "10" != servers[ids[0]]
    assert export.main(["--db", str(db), "--out", str(out), "--include-self-votes"]) == 0
    assert {r["id"]: r["server"] for r in export.load_jsonl(out)} == servers  # same database, same hashes
    other = tmp_path / "other.sqlite3"
    ids2 = await make_votes_db(other)
    assert export.main(["--db", str(other), "--out", str(out), "--include-self-votes"]) == 0
    servers2 = {r["id"]: r["server"] for r in export.load_jsonl(out)}
    assert servers2[ids2[0]] != servers[ids[0]]  # another database, another salt: not linkable


async def test_stats_per_model_version_with_a_confidence_interval(tmp_path, capsys):
    db = tmp_path / "t.sqlite3"
    await make_votes_db(db)
    assert stats.main(["--db", str(db), "--json"]) == 0
    versions = {v["model_version"]: v for v in json.loads(capsys.readouterr().out)["model_versions"]}
    a, b = versions["A"], versions["B"]
    assert (a["tunes"], a["rated_tunes"], a["votes"], a["mean"]) == (2, 1, 2, 2.5)  # self-votes left out
    # votes 2 and 3: sd 0.707, t(1) = 12.706 -> half width 6.35, clipped to the 1..5 scale
    assert a["ci95"] == [1.0, 5.0]
    assert (b["tunes"], b["votes"], b["mean"]) == (2, 2, 4.5)
    assert b["ci95"] == [1.0, 5.0]
    assert stats.main(["--db", str(db)]) == 0
    assert "mean 2.50 [1.00, 5.00]" in capsys.readouterr().out


def test_mean_ci_narrows_with_more_votes():
    from bot.store.reports import mean_ci

    assert mean_ci(1, 5, 25) is None
    wide = mean_ci(4, 4 * 3.5, 2 * 9 + 2 * 16)  # 3, 3, 4, 4
    narrow = mean_ci(400, 400 * 3.5, 200 * 9 + 200 * 16)
    assert wide[0] < narrow[0] < 3.5 < narrow[1] < wide[1]
    assert narrow == (
        pytest.approx(3.5 - 1.966 * 0.5006 / 20, abs=0.002),
        pytest.approx(3.5 + 1.966 * 0.5006 / 20, abs=0.002),
    )
