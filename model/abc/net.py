"""The ABC char-RNN: Embedding -> stacked LSTM -> Linear over the character vocabulary."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass
class AbcNetConfig:
    vocab: str  # the alphabet, one character per symbol, in index order
    embed: int = 64
    hidden: int = 256
    layers: int = 3
    dropout: float = 0.2

    def to_dict(self) -> dict:
        return asdict(self)


class AbcNet(nn.Module):
    def __init__(self, config: AbcNetConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(len(config.vocab), config.embed)
        self.lstm = nn.LSTM(config.embed, config.hidden, config.layers, batch_first=True,
                            dropout=config.dropout if config.layers > 1 else 0.0)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, len(config.vocab))

    def forward(self, x: torch.Tensor, state=None):
        """x: (batch, time) symbol ids -> logits (batch, time, vocab), new (h, c) state."""
        out, state = self.lstm(self.embed(x), state)
        return self.head(self.drop(out)), state


def save_checkpoint(path, net: AbcNet, extra: dict | None = None, half: bool = False) -> None:
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in net.state_dict().items()}
    torch.save({"config": net.config.to_dict(), "state_dict": state, **(extra or {})}, path)


def load_checkpoint(path) -> tuple[AbcNet, dict]:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    net = AbcNet(AbcNetConfig(**ckpt["config"]))
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()})
    net.eval()
    return net, ckpt
