"""A/B tests of the ABC model: fine-tuned weights beside the base model for a share of the requests.

    tunesmith ab set PATH --share 0.5   # from the next request on, half the ABC tunes come from PATH
    tunesmith ab show                   # the current test, and mean rating per model version so far
    tunesmith ab off                    # roll back: every request to the base model again

The choice lives in the database (kv "ab_test"), so switching and rolling back need no restart: the
tunes service reads it for each request (`assign`) and puts the chosen weights in the request
(ComposeRequest.abc_weights, never set from user input); the worker loads those weights once per
process. Every tune records the model version that made it, and `tunesmith stats` (reports.model_versions)
shows the mean rating and vote count per version with a 95% confidence interval.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.config import ConfigError, load_settings
from bot.numbers import cli_float

AB_KEY = "ab_test"


@dataclass(frozen=True)
class AbTest:
    weights: str  # absolute path of the B weights (abc.pt; its card abc.json beside it)
    share: float  # share of ABC requests that go to B, 0 < share <= 1
    version: str = ""  # B's model version, from its card

    def to_value(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_value(cls, value: str | None) -> AbTest | None:
        """The stored test, or None (none set, or a value this version cannot read: no test)."""
        if not value:
            return None
        try:
            d = json.loads(value)
            test = cls(str(d["weights"]), float(d["share"]), str(d.get("version", "")))
        except (ValueError, KeyError, TypeError):
            return None
        return test if 0 < test.share <= 1 else None


async def current(store) -> AbTest | None:
    return AbTest.from_value(await store.get_value(AB_KEY))


async def assign(store, request, rng: random.Random | None = None):
    """The request with the B weights in it for a share of ABC compose requests (else unchanged)."""
    from bot.requests import ComposeRequest
    from bot.styles import STYLES

    if not isinstance(request, ComposeRequest) or STYLES[request.style].model != "abc":
        return request
    test = await current(store)
    if test is None or (rng or random).random() >= test.share:
        return request
    return dataclasses.replace(request, abc_weights=test.weights)


def check_weights(path: Path) -> dict:
    """The model card of weights fit for an A/B test; ValueError saying why not."""
    if not path.is_file():
        raise ValueError(f"no weights at {path}")
    card_path = path.with_suffix(".json")
    if not card_path.is_file():
        raise ValueError(f"{path} has no model card ({card_path.name}); use weights from `tunesmith finetune abc`")
    card = json.loads(card_path.read_text())
    validity = card.get("validity")
    if validity is not None and not validity.get("passed"):
        raise ValueError(f"{path} failed its validity check ({'; '.join(validity.get('problems', []))})")
    return card


async def _run(db: Path, args) -> int:
    from bot.store import Store
    from bot.store.reports import format_version

    async with await Store.open(db) as store:
        if args.action == "set":
            path = Path(args.path).resolve()
            try:
                card = check_weights(path)
                from model.abc.sample import load_abc_model

                load_abc_model(path)  # it must load here too
            except (ValueError, OSError, RuntimeError) as exc:
                print(f"tunesmith ab: {exc}", file=sys.stderr)
                return 1
            test = AbTest(str(path), args.share, card.get("model_version", ""))
            await store.set_value(AB_KEY, test.to_value())
            print(f"A/B test on: {args.share:.0%} of ABC requests go to {test.version or path} from the next one on")
        elif args.action == "off":
            await store.set_value(AB_KEY, "")
            print("A/B test off: every request goes to the base model from the next one on")
        else:
            test = await current(store)
            print(
                f"A/B test: {test.share:.0%} of ABC requests to {test.version} ({test.weights})"
                if test
                else "no A/B test: every request goes to the base model"
            )
            for v in await store.model_versions():
                print(format_version(v))
    return 0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="tunesmith ab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="action", required=True)
    s = sub.add_parser("set", help="send a share of ABC requests to these weights")
    s.add_argument("path", help="fine-tuned weights (abc.pt with its abc.json card)")
    s.add_argument("--share", type=cli_float, default=0.5, help="share of ABC requests for them (default 0.5)")
    sub.add_parser("off", help="stop the test: every request to the base model")
    sub.add_parser("show", help="the current test and the ratings per model version")
    p.add_argument("--db", help="database file (default: the data dir's)")
    args = p.parse_args(argv)
    if args.action == "set" and not 0 < args.share <= 1:
        print(f"tunesmith ab: --share {args.share:g} is out of range; use more than 0, at most 1", file=sys.stderr)
        return 1
    try:
        db = Path(args.db) if args.db else load_settings().db_path
    except ConfigError as exc:
        print(f"tunesmith ab: {exc}", file=sys.stderr)
        return 1
    return asyncio.run(_run(db, args))
