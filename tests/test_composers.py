"""The model registry: every model the style table names has a Composer, and a new model is one class."""

from __future__ import annotations

import dataclasses

from bot import worker
from bot.artifacts import TuneFacts
from bot.composers import COMPOSERS, Composed
from bot.requests import from_options
from bot.styles import STYLES


def test_every_model_in_the_style_table_has_a_composer():
    assert {s.model for s in STYLES.values()} <= set(COMPOSERS)
    assert all(kind == c.kind for kind, c in COMPOSERS.items())


class FixedTune:
    """A whole new 'model' in a few lines: it always writes the same reel."""

    kind = "fixed"

    def load(self, settings):
        return "X:1\nT:Fixed\nM:4/4\nL:1/8\nK:D\n|:DFAd fdAF|GBdg fdAF:|\n"

    def compose(self, model, request, style, seed):
        facts = TuneFacts(style=style.name, key="Dmaj", meter="4/4", bars=4, seed=seed, model=self.kind)
        return Composed(facts, model, "abc")


def test_a_new_model_is_one_class_added_to_the_registry(monkeypatch):
    monkeypatch.setitem(COMPOSERS, "fixed", FixedTune())
    monkeypatch.setitem(worker._models, "fixed", FixedTune().load(None))  # loaded once, gone after the test
    # a style of its own (changing "reel" would leave its cached length rules wrong for later tests)
    monkeypatch.setitem(STYLES, "fixed", dataclasses.replace(STYLES["reel"], name="fixed", model="fixed"))
    art = worker.compose(dataclasses.replace(from_options(style="reel", seed=5), style="fixed"))
    assert art.text.startswith("X:1\nT:Fixed") and art.facts.model == "fixed" and art.facts.seed == 5
    assert art.files["tune.mp3"] and art.files["tune.mid"].startswith(b"MThd") and art.facts.duration_s > 3
