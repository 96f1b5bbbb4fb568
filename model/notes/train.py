"""`tunesmith train notes ...`: train the note-LSTM on the Bach chorales.

Reproducible from --seed (one torch thread; the same command gives the same weights). Each epoch
sees every training step once, in windows of --window grid steps (each window starts with the
piece's header tokens); validation loss is measured on whole validation pieces after every epoch,
and the best epoch is written to --out with a model card beside it (notes.json).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
import torch.nn.functional as F

from model.lstm import DEFAULT_CACHE, save_checkpoint
from model.notes import grid as notes
from model.notes.data import load_chorales, split
from model.notes.net import NotesConfig, NotesLSTM

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_OUT = WEIGHTS_DIR / "notes.pt"
FRAME = 1 + len(notes.VOICES)  # tokens per grid step
HEADER = 3  # <bos> meter mode
VOICE_IDS = torch.tensor(
    sorted(notes.TOKEN_ID[t] for t in notes.VOCAB if t in (notes.HOLD_TOKEN, notes.REST_TOKEN) or t.startswith("n"))
)


def piece_ids(grid: notes.NoteGrid) -> list[int]:
    """Token ids of a piece, normalised to tonic C."""
    return [notes.TOKEN_ID[t] for t in notes.encode(notes.normalise(grid)[0])]


def voice_mask(targets: torch.Tensor) -> torch.Tensor:
    """True where the target is a voice token (the loss counts only those: position tokens and the
    header are fixed by the request, never sampled)."""
    return torch.isin(targets, VOICE_IDS)


def windows(ids: list[int], window: int, rng: random.Random) -> list[list[int]]:
    """Cut one piece into header + `window`-step pieces; the first window is a random shorter one
    so that every epoch cuts in different places and every piece's true start is seen."""
    header, body = ids[:HEADER], ids[HEADER:]
    steps = (len(body) - 1) // FRAME  # the last token is <eos>
    first = rng.randrange(1, window + 1)
    cuts = [0] + list(range(first, steps, window)) + [steps]
    out = []
    for a, b in zip(cuts, cuts[1:]):
        if b <= a:
            continue
        chunk = body[a * FRAME : b * FRAME]
        if b == steps:
            chunk = chunk + body[-1:]
        out.append(header + chunk)
    return out


def batches(seqs: list[list[int]], batch_size: int, pad: int):
    """(inputs, targets) tensors; targets are -100 where padded."""
    for i in range(0, len(seqs), batch_size):
        group = seqs[i : i + batch_size]
        width = max(len(s) for s in group) - 1
        x = torch.full((len(group), width), pad, dtype=torch.long)
        y = torch.full((len(group), width), -100, dtype=torch.long)
        for row, s in enumerate(group):
            x[row, : len(s) - 1] = torch.tensor(s[:-1])
            y[row, : len(s) - 1] = torch.tensor(s[1:])
        y[~voice_mask(y)] = -100
        yield x, y


@torch.no_grad()
def evaluate(model: NotesLSTM, pieces: list[list[int]], batch_size: int = 8) -> float:
    """Mean negative log-likelihood (nats) per voice token over whole pieces."""
    model.eval()
    total, count = 0.0, 0
    ordered = sorted(pieces, key=len)
    for x, y in batches(ordered, batch_size, pad=notes.TOKEN_ID[notes.EOS]):
        logits, _ = model(x)
        total += F.cross_entropy(
            logits.reshape(-1, logits.size(-1)), y.reshape(-1), ignore_index=-100, reduction="sum"
        ).item()
        count += int((y != -100).sum())
    model.train()
    return total / max(count, 1)


def save(model: NotesLSTM, path: Path, card: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(
        path, {"config": model.config.to_dict(), "vocab": notes.VOCAB, "state_dict": model.state_dict(), "card": card}
    )
    path.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="tunesmith train notes", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="weights file (model card written beside it as .json)")
    p.add_argument("--epochs", type=int, default=36)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--window", type=int, default=64, help="grid steps (eighth notes) per training window")
    p.add_argument("--embed", type=int, default=128)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 leaves a core for others)")
    p.add_argument(
        "--first", type=int, default=0, help="use only the corpus's first N chorales, uncached (quick checks)"
    )
    p.add_argument("--refresh-cache", action="store_true", help="re-parse the corpus")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="parsed corpus and last-epoch checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)

    train_grids, valid_grids = split(
        load_chorales(refresh=args.refresh_cache, progress=not args.quiet, first=args.first, cache=args.cache)
    )
    if not train_grids or not valid_grids:
        print("the corpus gave no training or no validation pieces; use more chorales", file=sys.stderr)
        return 1
    train_ids = [piece_ids(train_grids[n]) for n in sorted(train_grids)]
    valid_ids = [piece_ids(valid_grids[n]) for n in sorted(valid_grids)]
    print(
        f"chorales: {len(train_ids)} train, {len(valid_ids)} validation; {sum(map(len, train_ids)):,} training tokens",
        flush=True,
    )

    config = NotesConfig(len(notes.VOCAB), args.embed, args.hidden, args.layers, args.dropout)
    model = NotesLSTM(config)
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=args.epochs, eta_min=args.lr / 20)
    card = {
        "name": "tunesmith-notes",
        "version": datetime.now(UTC).strftime("notes-%Y%m%d-%H%M"),
        "model": f"LSTM {config.layers}x{config.hidden}, embedding {config.embed}, dropout {config.dropout}; "
        f"{model.parameter_count():,} parameters",
        "data": f"Bach chorales from the music21 corpus (BSD licence): {len(train_ids)} train / {len(valid_ids)} "
        "validation pieces, split by piece; four voices on an eighth-note grid, transposed to tonic C",
        "tokens": "see model/notes/grid.py: <bos> meter mode, then per eighth note a position token "
        "and one token per voice",
        "command": "tunesmith train notes " + " ".join(argv if argv is not None else sys.argv[1:]),
        "seed": args.seed,
        "config": config.to_dict(),
        "training": {},
    }
    checkpoint = args.cache / "notes-last.pt"
    best, started, history = math.inf, time.time(), []
    pad = notes.TOKEN_ID[notes.EOS]
    for epoch in range(1, args.epochs + 1):
        seqs = [w for ids in train_ids for w in windows(ids, args.window, rng)]
        rng.shuffle(seqs)
        steps = math.ceil(len(seqs) / args.batch)
        bar = None
        if not args.quiet:
            from tqdm import tqdm

            bar = tqdm(total=steps, desc=f"epoch {epoch}/{args.epochs}", unit="batch", leave=False)
        total, count = 0.0, 0
        for x, y in batches(seqs, args.batch, pad):
            logits, _ = model(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), ignore_index=-100)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            n = int((y != -100).sum())
            total, count = total + loss.item() * n, count + n
            if bar:
                bar.update()
                bar.set_postfix(loss=f"{total / count:.3f}")
        if bar:
            bar.close()
        scheduler.step()
        valid = evaluate(model, valid_ids)
        history.append({"epoch": epoch, "train_nats": round(total / count, 4), "valid_nats": round(valid, 4)})
        minutes = (time.time() - started) / 60
        marker = ""
        if valid < best:
            best, marker = valid, "  (best, saved)"
            card["training"] = {
                "best_epoch": epoch,
                "epochs": args.epochs,
                "valid_nats_per_voice_token": round(valid, 4),
                "valid_bits_per_voice_token": round(valid / math.log(2), 4),
                "minutes": round(minutes, 1),
            }
            save(model, args.out, card)
        save(model, checkpoint, {**card, "history": history})
        print(
            f"epoch {epoch}: train {total / count:.4f}  valid {valid:.4f} nats/voice token  "
            f"({minutes:.1f} min){marker}",
            flush=True,
        )
    card["training"]["history"] = history
    card["training"]["minutes_total"] = round((time.time() - started) / 60, 1)
    # rewrite the card of the best weights with the whole history
    saved = torch.load(args.out, weights_only=False)
    saved["card"] = card
    torch.save(saved, args.out)
    args.out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"best validation {best:.4f} nats per voice token; weights in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
