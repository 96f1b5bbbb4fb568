"""The note model's network: token embedding -> stacked LSTM -> next-token logits."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass
class NotesConfig:
    vocab_size: int
    embed: int = 128
    hidden: int = 256
    layers: int = 3
    dropout: float = 0.3

    def to_dict(self) -> dict:
        return asdict(self)


class NotesLSTM(nn.Module):
    def __init__(self, config: NotesConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed)
        self.lstm = nn.LSTM(
            config.embed,
            config.hidden,
            num_layers=config.layers,
            dropout=config.dropout if config.layers > 1 else 0.0,
            batch_first=True,
        )
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, config.vocab_size)

    def forward(self, tokens: torch.Tensor, state=None):
        """tokens (batch, time) -> logits (batch, time, vocab), new (h, c) state."""
        out, state = self.lstm(self.drop(self.embed(tokens)), state)
        return self.head(self.drop(out)), state

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())
