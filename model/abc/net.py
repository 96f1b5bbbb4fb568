"""The ABC char-RNN: Embedding -> stacked LSTM -> Linear over the character vocabulary."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from model import lstm
from model.lstm import TokenLSTM


@dataclass
class AbcNetConfig:
    vocab: str  # the alphabet, one character per symbol, in index order
    embed: int = 64
    hidden: int = 256
    layers: int = 3
    dropout: float = 0.2

    def to_dict(self) -> dict:
        return asdict(self)


class AbcNet(TokenLSTM):
    def __init__(self, config: AbcNetConfig):
        super().__init__(len(config.vocab), config.embed, config.hidden, config.layers, config.dropout)
        self.config = config


def save_checkpoint(path, net: AbcNet, extra: dict | None = None, half: bool = False) -> None:
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in net.state_dict().items()}
    lstm.save_checkpoint(path, {"config": net.config.to_dict(), "state_dict": state, **(extra or {})})


def load_checkpoint(path) -> tuple[AbcNet, dict]:
    ckpt = lstm.load_checkpoint(path)
    net = AbcNet(AbcNetConfig(**ckpt["config"]))
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()})
    net.eval()
    return net, ckpt
