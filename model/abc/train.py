"""Training and fine-tuning the ABC char-RNN (`tunesmith train abc ...`).

Stateful truncated back-propagation like the case study: the corpus is one long text (tunes joined
by the END symbol, shuffled per epoch from the seed), cut into `batch` parallel streams; the LSTM
state is carried from one `seq`-long chunk to the next. Checkpoints (last.pt for --resume, best.pt)
go to the run directory; the best weights and a model card are exported with --export.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from model.abc import data
from model.abc.net import AbcNet, AbcNetConfig, load_checkpoint, save_checkpoint
from model.abc.notation import END, AbcError, parse_tune, split_tunes, to_canonical
from model.lstm import DEFAULT_CACHE

DEFAULT_RUNS = DEFAULT_CACHE / "runs"
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


@dataclass
class TrainConfig:
    run_dir: str = str(DEFAULT_RUNS / "abc")
    epochs: int = 40
    minutes: float = 37.0  # wall-clock budget, checked between batches
    batch: int = 64
    seq: int = 96
    lr: float = 3e-3
    lr_decay: float = 0.9  # per epoch
    patience: int = 3  # epochs without a better validation loss before stopping
    seed: int = 1
    threads: int = 1  # on a busy 2-core machine 1 thread trained 13x faster than 2 (bench figures in the card)
    embed: int = 64
    hidden: int = 256
    layers: int = 3
    dropout: float = 0.2
    clip: float = 1.0


def encode(text: str, vocab: str) -> torch.Tensor:
    index = {c: i for i, c in enumerate(vocab)}
    return torch.tensor([index[c] for c in text], dtype=torch.long)


def build_vocab(tunes: list[str]) -> str:
    return "".join(sorted(set("".join(tunes)) | {END}))


def _batches(ids: torch.Tensor, batch: int, seq: int):
    n = (len(ids) - 1) // batch
    x = ids[: n * batch].view(batch, n)
    y = ids[1 : n * batch + 1].view(batch, n)
    for i in range(0, n, seq):
        yield x[:, i : i + seq], y[:, i : i + seq]


def _detach(state):
    return tuple(s.detach() for s in state) if state is not None else None


def bits_per_char(net: AbcNet, text: str, batch: int = 8, seq: int = 256) -> float:
    """Mean cross-entropy in bits per character of `text` (stateful, no dropout)."""
    ids = encode(text, net.config.vocab)
    net.eval()
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for x, y in _batches(ids, batch, seq):
            logits, state = net(x, state)
            total += nn.functional.cross_entropy(
                logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum"
            ).item()
            count += y.numel()
    return total / max(count, 1) / math.log(2)


def _shuffled_stream(tunes: list[str], rng: random.Random) -> str:
    order = list(tunes)
    rng.shuffle(order)
    return data.stream(order)


def train(
    cfg: TrainConfig,
    train_tunes: list[str],
    valid_tunes: list[str],
    *,
    init: Path | None = None,
    resume: bool = False,
    log=print,
) -> dict:
    """Train (or fine-tune from `init`); returns a summary. best.pt / last.pt in cfg.run_dir."""
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    torch.set_num_threads(cfg.threads)
    run = Path(cfg.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    if init is not None:
        net, _ = load_checkpoint(init)
        vocab = net.config.vocab
        train_tunes = [t for t in train_tunes if set(t) <= set(vocab)]
    else:
        vocab = build_vocab(train_tunes + valid_tunes)
        net = AbcNet(AbcNetConfig(vocab, cfg.embed, cfg.hidden, cfg.layers, cfg.dropout))
    valid_tunes = [t for t in valid_tunes if set(t) <= set(vocab)]
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    history: list[dict] = []
    start_epoch, best, bad = 0, float("inf"), 0
    if resume and (run / "last.pt").exists():
        ck = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
        net.load_state_dict(ck["state_dict"])
        opt.load_state_dict(ck["optimizer"])
        start_epoch, best, bad, history = ck["epoch"], ck["best"], ck["bad"], ck["history"]
        rng.setstate(ck["rng"])
        torch.set_rng_state(ck["torch_rng"])
        log(f"resumed after epoch {start_epoch} (best valid {best:.3f} bits/char)")
    valid_text = data.stream(valid_tunes)
    t0 = time.time()
    from tqdm import tqdm

    for epoch in range(start_epoch, cfg.epochs):
        for g in opt.param_groups:
            g["lr"] = cfg.lr * cfg.lr_decay**epoch
        ids = encode(_shuffled_stream(train_tunes, rng), vocab)
        net.train()
        state, total, count = None, 0.0, 0
        steps = (len(ids) - 1) // cfg.batch
        bar = tqdm(
            _batches(ids, cfg.batch, cfg.seq),
            total=math.ceil(steps / cfg.seq),
            desc=f"epoch {epoch + 1}",
            file=sys.stderr,
            mininterval=5,
            leave=False,
        )
        out_of_time = False
        for x, y in bar:
            if time.time() - t0 > cfg.minutes * 60:
                out_of_time = True  # stop mid-epoch; validate and keep what we have
                break
            logits, state = net(x, _detach(state))
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
            opt.step()
            total += loss.item() * y.numel()
            count += y.numel()
            bar.set_postfix(bits=f"{loss.item() / math.log(2):.3f}", refresh=False)
        bar.close()
        train_bits = total / max(count, 1) / math.log(2)
        valid_bits = bits_per_char(net, valid_text) if valid_tunes else train_bits
        minutes = (time.time() - t0) / 60
        history.append(
            {
                "epoch": epoch + 1,
                "train_bits": round(train_bits, 4),
                "valid_bits": round(valid_bits, 4),
                "minutes": round(minutes, 2),
            }
        )
        improved = valid_bits < best - 1e-4
        if improved:
            best, bad = valid_bits, 0
            save_checkpoint(
                run / "best.pt", net, {"epoch": epoch + 1, "valid_bits": valid_bits, "train_bits": train_bits}
            )
        else:
            bad += 1
        torch.save(
            {
                "state_dict": net.state_dict(),
                "optimizer": opt.state_dict(),
                "epoch": epoch + 1,
                "best": best,
                "bad": bad,
                "history": history,
                "rng": rng.getstate(),
                "torch_rng": torch.get_rng_state(),
                "config": net.config.to_dict(),
            },
            run / "last.pt",
        )
        log(
            f"epoch {epoch + 1}: train {train_bits:.3f} valid {valid_bits:.3f} bits/char "
            f"{'*' if improved else ''} ({minutes:.1f} min)"
        )
        if bad >= cfg.patience or out_of_time or minutes >= cfg.minutes:
            break
    return {
        "best_valid_bits": round(best, 4),
        "history": history,
        "epochs": len(history),
        "minutes": round((time.time() - t0) / 60, 2),
    }


def export(run_dir: Path, out: Path, card: dict) -> None:
    """Copy best.pt (fp16) to `out` and write the model card beside it (`out` with .json)."""
    net, ck = load_checkpoint(Path(run_dir) / "best.pt")
    out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out, net, {"epoch": ck.get("epoch"), "valid_bits": ck.get("valid_bits")}, half=True)
    import hashlib

    digest = hashlib.sha1(out.read_bytes()).hexdigest()[:8]
    card = {
        "model_version": f"abc-{time.strftime('%Y%m%d')}-{digest}",
        **card,
        "network": net.config.to_dict() | {"vocab": net.config.vocab},
        "best_epoch": ck.get("epoch"),
        "valid_bits_per_char": round(ck.get("valid_bits", 0), 4),
        "train_bits_per_char": round(ck.get("train_bits", 0), 4),
        "parameters": sum(p.numel() for p in net.parameters()),
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")


AUGMENTATION_NOTE = (
    "none. Transposition is not used as augmentation: every tune is normalised to a C tonic (keeping its mode) "
    "before training and the sampler transposes afterwards, so the model is transposition-invariant by "
    "construction and a transposed copy of a tune would normalise to the very same training text"
)


def _card_of(weights: Path) -> dict:
    path = Path(weights).with_suffix(".json")
    return json.loads(path.read_text()) if path.exists() else {}


def canonical_texts(abc_texts: list[str]) -> tuple[list[str], int]:
    """User/extra ABC (each text may hold several tunes) -> canonical tunes; also how many were skipped."""
    out, skipped = [], 0
    for text in abc_texts:
        for raw in split_tunes(text) or [text]:
            try:
                tune = to_canonical(parse_tune(raw))
            except (AbcError, ValueError):
                skipped += 1
                continue
            if data.is_valid_tune(tune) is None:
                out.append(tune)
            else:
                skipped += 1
    return out, skipped


def finetune(
    base: Path | str | None,
    abc_texts: list[str],
    out_dir: Path | str,
    *,
    epochs: int = 3,
    base_share: float = 0.5,
    lr: float = 5e-4,
    seed: int = 1,
    threads: int = 2,
    log=print,
    card: dict | None = None,
) -> Path:
    """Fine-tune from existing weights on extra ABC tunes mixed with the base corpus.

    `base`: weights to start from (None: the shipped model/weights/abc.pt). `abc_texts`: ABC texts
    (one or more tunes each; unparsable ones are skipped and counted). Each epoch sees every extra
    tune plus a random sample of base-corpus tunes making up `base_share` of the mix (guards against
    forgetting). Writes `out_dir`/abc.pt and `out_dir`/abc.json (model card, plus the entries of
    `card`, e.g. the dataset it learnt from); returns the weights path.
    Raises ValueError if none of the texts is a usable tune.
    """
    base = Path(base) if base else WEIGHTS_DIR / "abc.pt"
    out_dir = Path(out_dir)
    extra, skipped = canonical_texts(abc_texts)
    if not extra:
        raise ValueError(f"none of the {skipped} given tunes could be used for fine-tuning")
    corpus = data.load_corpus()
    rng = random.Random(seed)
    n_base = int(len(extra) * base_share / max(1e-9, 1 - base_share)) if base_share < 1 else len(corpus.train)
    mix = extra + rng.sample(corpus.train, min(n_base, len(corpus.train)))
    cfg = TrainConfig(
        run_dir=str(out_dir / "run"),
        epochs=epochs,
        minutes=1e9,
        lr=lr,
        lr_decay=1.0,
        patience=epochs,
        seed=seed,
        threads=threads,
        batch=min(16, max(1, len(mix) // 4)),
    )
    summary = train(cfg, mix, corpus.valid, init=base, log=log)
    base_card_path = base.with_suffix(".json")
    base_card = json.loads(base_card_path.read_text()) if base_card_path.exists() else {}
    export(
        Path(cfg.run_dir),
        out_dir / "abc.pt",
        {
            "kind": "abc char-RNN (fine-tuned)",
            "base_model_version": base_card.get("model_version"),
            "finetune": {
                "extra_tunes": len(extra),
                "skipped": skipped,
                "base_tunes": len(mix) - len(extra),
                "epochs": epochs,
                "lr": lr,
                "seed": seed,
            }
            | summary,
            "data": base_card.get("data"),
            "keys": base_card.get("keys"),
            **(card or {}),
        },
    )
    return out_dir / "abc.pt"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="tunesmith train abc", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = TrainConfig()
    for name, value in asdict(defaults).items():
        ap.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    ap.add_argument("--resume", action="store_true", help="continue from last.pt in the run directory")
    ap.add_argument("--init", type=Path, help="start from these weights (fine-tuning)")
    ap.add_argument(
        "--baseline",
        type=Path,
        help="also measure these weights (e.g. the shipped model/weights/abc.pt) on the held-out split before "
        "training, for the card",
    )
    ap.add_argument(
        "--export", type=Path, help="write the best weights (fp16) + model card here, e.g. model/weights/abc.pt"
    )
    args = ap.parse_args(argv)
    cfg = TrainConfig(**{k: getattr(args, k) for k in asdict(defaults)})
    corpus = data.load_corpus()
    print(
        f"corpus: {corpus.stats['train_tunes']} train / {corpus.stats['valid_tunes']} valid tunes, "
        f"{corpus.stats['train_chars']} train chars",
        file=sys.stderr,
    )
    baseline = None
    if args.baseline:
        base_net, _ = load_checkpoint(args.baseline)
        usable = [t for t in corpus.valid if set(t) <= set(base_net.config.vocab)]
        baseline = {
            "weights": str(args.baseline),
            "model_version": _card_of(args.baseline).get("model_version"),
            "valid_bits_per_char": round(bits_per_char(base_net, data.stream(usable)), 4),
            "valid_tunes": len(usable),
            "note": "optimistic: the baseline was trained on an older split that holds some of these tunes",
        }
        bits = baseline["valid_bits_per_char"]
        print(f"baseline {args.baseline}: {bits} bits/char on the held-out split", file=sys.stderr)
    summary = train(
        cfg,
        corpus.train,
        corpus.valid,
        init=args.init,
        resume=args.resume,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    if args.export:
        export(
            Path(cfg.run_dir),
            args.export,
            {
                "kind": "abc char-RNN",
                "sources": [f"music21 corpus: {c}" for c in data.COLLECTIONS]
                + [
                    "oneills1850 de-duplicated by tune number; exact duplicates dropped; no thesession.org data "
                    "(nor anything derived from it)"
                ],
                "excluded_sources": {f"music21 corpus: {k}": why for k, why in data.EXCLUDED.items()},
                "split": corpus.stats["split"],
                "augmentation": AUGMENTATION_NOTE,
                "baseline": baseline,
                "key_handling": "every tune normalised to a C tonic keeping its mode (maj/min/dor/mix); the sampler "
                "transposes to the requested tonic with re-spelled accidentals",
                "data": {k: v for k, v in corpus.stats.items() if k != "keys"},
                "keys": corpus.stats["keys"],
                "training": asdict(cfg) | summary,
                "command": "tunesmith train abc " + " ".join(argv),
            },
        )
        print(f"exported {args.export}", file=sys.stderr)
    print(json.dumps({"best_valid_bits": summary["best_valid_bits"], "epochs": summary["epochs"]}))
    return 0
