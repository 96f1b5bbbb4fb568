"""The note model's network: token embedding -> stacked LSTM -> next-token logits."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from model.lstm import TokenLSTM


@dataclass
class NotesConfig:
    vocab_size: int
    embed: int = 128
    hidden: int = 256
    layers: int = 3
    dropout: float = 0.3

    def to_dict(self) -> dict:
        return asdict(self)


class NotesLSTM(TokenLSTM):
    def __init__(self, config: NotesConfig):
        super().__init__(
            config.vocab_size, config.embed, config.hidden, config.layers, config.dropout, embed_dropout=True
        )
        self.config = config


class Stepper:
    """The trained network run one token at a time (batch 1, no autograd), for sampling.

    The LSTM equations written out with plain matrix-vector products: at batch 1 this is about
    twice as fast as calling nn.LSTM per token. The first layer's input term (embedding times
    input weights plus biases) is looked up from a table with one row per token."""

    def __init__(self, net: NotesLSTM):
        lstm, hidden = net.lstm, net.config.hidden
        with torch.no_grad():
            w_ih0 = lstm.weight_ih_l0
            self.table = (net.embed.weight @ w_ih0.T + lstm.bias_ih_l0 + lstm.bias_hh_l0).contiguous()
            self.w_hh0 = lstm.weight_hh_l0.detach().clone()
            self.w_cat, self.bias = [], []
            for layer in range(1, net.config.layers):
                w_ih, w_hh = getattr(lstm, f"weight_ih_l{layer}"), getattr(lstm, f"weight_hh_l{layer}")
                self.w_cat.append(torch.cat([w_ih, w_hh], dim=1).contiguous())
                self.bias.append(
                    (getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")).detach().clone()
                )
            self.w_head, self.b_head = net.head.weight.detach().clone(), net.head.bias.detach().clone()
        self.hidden, self.layers = hidden, net.config.layers
        self.reset()

    def reset(self) -> None:
        self.h = [torch.zeros(self.hidden) for _ in range(self.layers)]
        self.c = [torch.zeros(self.hidden) for _ in range(self.layers)]

    def _cell(self, layer: int, gates: torch.Tensor) -> torch.Tensor:
        n = self.hidden
        act = torch.sigmoid(gates)  # i, f, o (g's sigmoid is unused)
        self.c[layer] = torch.addcmul(act[n : 2 * n] * self.c[layer], act[:n], torch.tanh(gates[2 * n : 3 * n]))
        self.h[layer] = act[3 * n :] * torch.tanh(self.c[layer])
        return self.h[layer]

    def step(self, token: int) -> torch.Tensor:
        """Feed one token id; returns the logits for the next token (vocab,)."""
        x = self._cell(0, torch.addmv(self.table[token], self.w_hh0, self.h[0]))
        for layer in range(1, self.layers):
            gates = torch.addmv(self.bias[layer - 1], self.w_cat[layer - 1], torch.cat([x, self.h[layer]]))
            x = self._cell(layer, gates)
        return torch.addmv(self.b_head, self.w_head, x)
