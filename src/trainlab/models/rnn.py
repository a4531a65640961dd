"""Recurrent sequence classifiers (``rnn`` with tanh, ``gru``, ``lstm``).

A sample of shape (length,) is read as a sequence of scalars, (channels, length) as a sequence of
channel vectors (MNIST-1D read left to right, as its paper does). One recurrent layer per entry of
``hidden`` (widths may differ), dropout between layers, and a Linear head on the last step's
output.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import UserError
from .layers import dropout as make_dropout

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class RecurrentClassifier(nn.Module):
    def __init__(self, kind: str, input_shape: tuple[int, ...], hidden: list[int],
                 num_classes: int, dropout: float = 0.0, dropout_mode: str = "inverted"):
        super().__init__()
        if len(input_shape) not in (1, 2):
            raise UserError(f"model.name = {kind!r} needs samples shaped (length,) or (channels, "
                            f"length); the data's are {tuple(input_shape)}")
        width = 1 if len(input_shape) == 1 else input_shape[0]
        self.layers = nn.ModuleList()
        for h in hidden:
            self.layers.append(CELLS[kind](width, h, batch_first=True))
            width = h
        self.dropout = nn.Sequential(*make_dropout(dropout, dropout_mode))
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(-1) if x.dim() == 2 else x.transpose(1, 2)  # (N, length, features)
        for i, layer in enumerate(self.layers):
            if i:
                x = self.dropout(x)
            x, _ = layer(x)
        return self.head(x[:, -1])
