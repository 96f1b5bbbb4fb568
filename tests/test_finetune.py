"""`tunesmith finetune abc` on a small fixture database: a short real run from a tiny base network."""
from __future__ import annotations

import json
import string

import pytest

from bot import finetune
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
            tune = await store.add_tune(request={"style": "jig", "length": 8}, text=text, text_format="abc",
                                        meta={"style": "jig", "model": "abc", "model_version": "base-v1", "seed": i})
            for user in range(2):
                await store.rate(tune, user, 2 if i == 3 else 5)


def tiny_base(path):
    """A tiny untrained network whose vocabulary covers plain ASCII ABC (keeps the run short)."""
    from model.abc.notation import END
    from model.abc.net import AbcNet, AbcNetConfig, save_checkpoint

    vocab = "".join(sorted(set("\n" + string.printable.replace("\r", "").replace("\x0b", "").replace("\x0c", "") + END)))
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


async def test_finetune_writes_loadable_versioned_weights_and_a_card(tmp_path, capsys):
    db = tmp_path / "t.sqlite3"
    await make_db(db)
    base = tmp_path / "base.pt"
    tiny_base(base)
    out = tmp_path / "ft"
    code = finetune.main(["abc", "--db", str(db), "--base", str(base), "--out", str(out), "--epochs", "1",
                          "--threads", "1"])
    assert code == 0, capsys.readouterr().err
    assert f"TUNESMITH_ABC_WEIGHTS={out / 'abc.pt'}" in capsys.readouterr().out
    from model.abc.net import load_checkpoint
    net, _ = load_checkpoint(out / "abc.pt")
    assert net.config.hidden == 16
    card = json.loads((out / "abc.json").read_text())
    assert card["model_version"].startswith("abc-") and card["base_model_version"] == "tiny-base"
    assert card["finetune"]["extra_tunes"] == 3 and card["finetune"]["base_tunes"] == 3


def test_bad_options_and_no_tunes_fail_clearly(tmp_path, capsys):
    assert finetune.main(["abc", "--min-stars", "9", "--dry-run"]) == 1
    assert "--min-stars 9 is out of range" in capsys.readouterr().err
    assert finetune.main(["abc", "--db", str(tmp_path / "missing.sqlite3")]) == 1
    assert "no database" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        finetune.main(["notes"])
