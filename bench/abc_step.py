"""Per-step cost of ABC network sizes for sampling (one step at a time, batch 2 and 4, one thread,
oneDNN off, as the sampler runs). Run: python bench/abc_step.py [LAYERSxHIDDEN ...]"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from model.abc.net import AbcNet, AbcNetConfig  # noqa: E402
from model.lstm import cpu_sampling  # noqa: E402

VOCAB = "".join(chr(i) for i in range(32, 32 + 62))


def step_ms(layers: int, hidden: int, batch: int, steps: int = 200, embed: int = 64) -> float:
    net = AbcNet(AbcNetConfig(VOCAB, embed, hidden, layers, 0.0)).eval()
    runs = []
    with cpu_sampling():
        for _ in range(9):
            x = torch.zeros(batch, 1, dtype=torch.long)
            _, state = net(x)
            t = time.perf_counter()
            for _ in range(steps):
                logits, state = net(x, state)
                torch.softmax(logits[:, -1], -1)
            runs.append((time.perf_counter() - t) / steps * 1000)
    return min(runs)  # the least disturbed run: the machine is shared


def main(argv: list[str]) -> int:
    sizes = argv or ["3x256", "2x384", "2x512", "3x384", "4x256", "3x320", "4x320"]
    base = None
    for size in sizes:
        layers, hidden = map(int, size.split("x"))
        b2, b4 = step_ms(layers, hidden, 2), step_ms(layers, hidden, 4)
        base = base or (b2, b4)
        print(
            f"{size:>6}: batch 2 {b2:.3f} ms ({b2 / base[0]:.2f}x)  batch 4 {b4:.3f} ms ({b4 / base[1]:.2f}x)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
