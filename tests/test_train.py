"""model/abc/train.py: fine-tuning from the shipped weights writes usable weights and a card."""

import json

import pytest

from model.abc.sample import AbcPrompt, compose_abc, load_abc_model
from model.abc.train import finetune

TUNES = [
    "X:1\nT:One\nR:jig\nM:6/8\nL:1/8\nK:D\nA|dfa afd|gbg faf|ede fdB|A3 A2:|\n",
    "X:2\nT:Two\nR:reel\nM:4/4\nL:1/8\nK:G\nGABc dedB|dedB dBAG|FGAB cAFA|G2GF G4:|\n",
]


def test_finetune_writes_weights_and_card(tmp_path):
    base = load_abc_model()
    out = finetune(None, TUNES + ["this is not ABC"], tmp_path / "ft", epochs=1, seed=3, threads=1, log=lambda m: None)
    assert out == tmp_path / "ft" / "abc.pt" and out.exists()
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["base_model_version"] == base.version
    assert card["finetune"]["extra_tunes"] == 2 and card["finetune"]["skipped"] == 1
    assert card["model_version"] != base.version
    tuned = load_abc_model(out)
    assert tuned is not base and tuned.vocab == base.vocab
    g = compose_abc(tuned, AbcPrompt("jig", "6/8", "1/8", "Dmaj", bars=16, seed=1))  # bars as played: AA
    assert g.model_version == card["model_version"] and g.bars == 16


def test_finetune_refuses_when_nothing_is_usable(tmp_path):
    with pytest.raises(ValueError, match="none of the"):
        finetune(None, ["hello", "X:1\nK:D\n"], tmp_path / "ft", epochs=1, log=lambda m: None)


def test_train_checkpoints_and_resumes(tmp_path):
    from model.abc.data import load_corpus
    from model.abc.train import TrainConfig, train

    tunes = load_corpus().train[:6]
    cfg = TrainConfig(
        run_dir=str(tmp_path / "run"),
        epochs=1,
        minutes=5,
        batch=2,
        seq=16,
        embed=8,
        hidden=16,
        layers=1,
        threads=1,
        seed=5,
    )
    first = train(cfg, tunes, tunes[:2], log=lambda m: None)
    assert (tmp_path / "run" / "best.pt").exists() and first["epochs"] == 1
    cfg.epochs = 2
    second = train(cfg, tunes, tunes[:2], resume=True, log=lambda m: None)
    assert [h["epoch"] for h in second["history"]] == [1, 2]
    assert second["history"][0] == first["history"][0]
    assert second["history"][1]["train_bits"] < first["history"][0]["train_bits"]  # it went on learning
