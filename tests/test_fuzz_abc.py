"""The fuzzing corpus (tests/fuzz_abc.py: a few hundred malformed tunes, generated from the bundled
examples and a small ABC grammar with a fixed seed) through the render path and the compose --continue
parsing path: every case either works or raises the project's friendly error (a ValueError with a
message a user can read), never a traceback. Audio is capped at 1 s per case; the sheet music
(verovio in its child process, with its timeout) is drawn for every SHEET_EVERY-th case."""

from __future__ import annotations

import collections
import traceback

import pytest

from bot.render.renderer import Renderer
from bot.requests import from_options, guess_style_from_abc
from bot.styles import STYLES
from model.abc.sample import AbcPrompt, GenerationError, compose_abc, load_abc_model
from tests.fuzz_abc import SEED, corpus

CASES = corpus()
SHEET_EVERY = 20
# Words of Python's own errors: a message with one of these is a bug escaping as a ValueError.
INTERNAL = (
    "division by zero",
    "Fraction(",
    "has no attribute",
    "NoneType",
    "index out of range",
    "invalid literal for int",
    "unsupported operand",
    "not subscriptable",
    "Exceeds the limit",
    "Traceback",
)


def friendly(exc: BaseException) -> str | None:
    """None when `exc` is a message fit for a user; else what is wrong with it."""
    if not isinstance(exc, ValueError):
        return f"{type(exc).__name__} is not a ValueError"
    text = str(exc)
    if not text.strip():
        return f"{type(exc).__name__} without a message"
    if len(text) > 1500:
        return f"a {len(text)}-character message"
    leaked = [word for word in INTERNAL if word in text]
    return f"an internal error's words {leaked}: {text[:200]}" if leaked else None


def test_the_corpus_is_generated_deterministic_and_malformed():
    assert len(CASES) >= 300
    assert [c.text for c in corpus()] == [c.text for c in CASES]  # same seed, same cases
    assert [c.text for c in corpus(SEED + 1)] != [c.text for c in CASES]
    assert len({c.text for c in CASES}) >= 0.95 * len(CASES)  # hardly any duplicates
    kinds = collections.Counter(c.name.split("/")[0].split("-")[0] for c in CASES)
    assert min(kinds.values()) >= 100 and len(kinds) == 4  # three examples' mutants + grammar tunes


def test_every_case_renders_or_gets_a_friendly_error():
    outcomes, problems = collections.Counter(), []
    with Renderer() as renderer:
        for i, case in enumerate(CASES):
            sheet = i % SHEET_EVERY == 0
            try:
                result = renderer.render_abc(case.text, instrument="fiddle", sheet=sheet, max_seconds=1)
            except Exception as exc:  # noqa: BLE001  every kind is looked at
                wrong = friendly(exc)
                if wrong:
                    problems.append(f"{case.name}: {wrong}\n{traceback.format_exc()}")
                outcomes["refused"] += 1
                continue
            outcomes["rendered"] += 1
            assert result.mp3 and result.midi[:4] == b"MThd", case.name
            if sheet:
                outcomes["drawn" if result.png else "no sheet (warned)"] += 1
                assert result.png or any(w.startswith("no sheet music") for w in result.warnings), case.name
    assert not problems, f"{len(problems)} of {len(CASES)} cases:\n" + "\n".join(problems[:5])
    # the corpus reaches both ends: tunes that play and tunes that are refused, drawings made
    assert outcomes["rendered"] >= 50 and outcomes["refused"] >= 50 and outcomes["drawn"] >= 5, outcomes


@pytest.fixture(scope="module")
def abc_model():
    return load_abc_model()


def test_every_case_continues_or_gets_a_friendly_error(abc_model):
    """What `compose --continue FILE` and Discord's /continue do with the text before composing:
    the request check, then the model's strict reading of the user's tune. bars=4 keeps sampling short
    (most cases have more bars already and stop at "ask for more than that", after the whole parse)."""
    outcomes, problems = collections.Counter(), []
    for case in CASES:
        try:
            request = from_options(style=guess_style_from_abc(case.text), length=8, continue_abc=case.text)
            style = STYLES[request.style]
            compose_abc(
                abc_model,
                AbcPrompt(
                    rhythm=style.rhythm,
                    meter=request.meter or style.meter,
                    unit=style.unit,
                    bars=4,
                    candidates=1,
                    seed=0,
                    prime_abc=request.continue_abc,
                ),
            )
            outcomes["composed"] += 1
        except GenerationError:  # the worker turns this into ComposeError (a ValueError): "try another seed"
            outcomes["generation"] += 1
        except Exception as exc:  # noqa: BLE001  every kind is looked at
            wrong = friendly(exc)
            if wrong:
                problems.append(f"{case.name}: {wrong}\n{traceback.format_exc()}")
            outcomes[type(exc).__name__] += 1
    assert not problems, f"{len(problems)} of {len(CASES)} cases:\n" + "\n".join(problems[:5])
    assert outcomes["RequestError"] >= 20 and outcomes["AbcError"] >= 50, outcomes
    assert outcomes["PromptError"] + outcomes["composed"] >= 30, outcomes  # read whole, past the parser
