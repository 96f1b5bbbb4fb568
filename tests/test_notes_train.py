"""The note-model trainer: a tiny run on a few real chorales gives weights that load and compose,
and the same command with the same seed gives the same weights."""

from __future__ import annotations

import json

import torch

from model.notes import train as notes_train
from model.notes.sample import NotesPrompt, compose_notes, load_notes_model

TINY = ["--first", "8", "--epochs", "2", "--batch", "4", "--embed", "16", "--hidden", "32", "--layers", "1", "--quiet"]


def test_tiny_training_run_is_reproducible_and_usable(tmp_path, monkeypatch):
    tiny = TINY + ["--cache", str(tmp_path / "cache")]  # the last-epoch checkpoint goes there
    first, second = tmp_path / "a" / "notes.pt", tmp_path / "b" / "notes.pt"
    assert notes_train.main(tiny + ["--seed", "3", "--out", str(first)]) == 0
    assert notes_train.main(tiny + ["--seed", "3", "--out", str(second)]) == 0
    a = torch.load(first, weights_only=False)["state_dict"]
    b = torch.load(second, weights_only=False)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    card = json.loads(first.with_suffix(".json").read_text())
    assert card["seed"] == 3 and card["config"]["hidden"] == 32
    assert card["training"]["valid_nats_per_voice_token"] > 0 and len(card["training"]["history"]) == 2
    assert (tmp_path / "cache" / "notes-last.pt").exists()

    model = load_notes_model(first)
    piece = compose_notes(model, NotesPrompt(key="Fmaj", bars=2, seed=1))
    assert piece.model_version == card["version"] and piece.grid.steps == 16


def test_too_few_pieces_is_a_clear_failure(tmp_path, capsys):
    assert notes_train.main(["--first", "1", "--quiet", "--out", str(tmp_path / "x.pt")]) == 1
    assert "no training or no validation pieces" in capsys.readouterr().err
