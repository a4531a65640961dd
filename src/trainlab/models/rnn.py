"""Recurrent sequence classifiers and regressors (``rnn`` with tanh, ``gru``, ``lstm``).

A sample of shape (length,) is read as a sequence of scalars, (channels, length) as a sequence of
channel vectors (MNIST-1D read left to right, one position per step, as its paper does: so the
recurrent models already are "sequential MNIST-1D"). One recurrent layer per entry of ``hidden``
(widths may differ), dropout between layers, and a Linear head on the last step's output.

Each layer is PyTorch's fused module (``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM``) unless a variant
needs to reach inside the cell: a normalization (``norm`` = batch, Cooijmans et al. 2016; layer,
Ba et al. 2016) or a recurrent dropout mode that drops the state or the candidate (variational,
Gal & Ghahramani 2016; semeniuta, Semeniuta et al. 2016). Those use trainlab's own
:class:`~trainlab.models.recurrent.RecurrentLayer`, which computes what the fused module computes
when no variant is on. ``zaremba`` dropout (Zaremba et al. 2014) only touches the connections
between layers and keeps the fused modules (lecture 003, slide 80).
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import UserError
from .layers import dropout as make_dropout
from .recurrent import RecurrentLayer
from .recurrent_dropout import SequenceDropout

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def needs_own_cell(norm: str, recurrent_dropout: float, mode: str) -> bool:
    """Whether a variant reaches inside the cell (else the fused module is used)."""
    return norm != "none" or (recurrent_dropout > 0 and mode != "zaremba")


class RecurrentClassifier(nn.Module):
    def __init__(self, kind: str, input_shape: tuple[int, ...], hidden: list[int],
                 num_classes: int, dropout: float = 0.0, dropout_mode: str = "inverted",
                 norm: str = "none", recurrent_dropout: float = 0.0,
                 recurrent_dropout_mode: str = "zaremba", bn_time_steps: int = 100,
                 bn_momentum: float = 0.1):
        super().__init__()
        if len(input_shape) not in (1, 2):
            raise UserError(f"model.name = {kind!r} needs samples shaped (length,) or (channels, "
                            f"length); the data's are {tuple(input_shape)}")
        width = 1 if len(input_shape) == 1 else input_shape[0]
        own = needs_own_cell(norm, recurrent_dropout, recurrent_dropout_mode)
        self.layers = nn.ModuleList()
        for h in hidden:
            self.layers.append(
                RecurrentLayer(kind, width, h, norm, bn_time_steps, bn_momentum,
                               recurrent_dropout, recurrent_dropout_mode) if own
                else CELLS[kind](width, h, batch_first=True))
            width = h
        self.dropout = nn.Sequential(*make_dropout(dropout, dropout_mode))
        # on every layer's input and on the last output (slide 80's non-recurrent connections)
        self.sequence_dropout = (SequenceDropout(recurrent_dropout, recurrent_dropout_mode)
                                 if recurrent_dropout else None)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(-1) if x.dim() == 2 else x.transpose(1, 2)  # (N, length, features)
        for i, layer in enumerate(self.layers):
            if i:
                x = self.dropout(x)
            if self.sequence_dropout is not None:
                x = self.sequence_dropout(x)
            x = layer(x)
            x = x[0] if isinstance(x, tuple) else x  # the fused modules also return the state
        if self.sequence_dropout is not None:
            x = self.sequence_dropout(x)
        return self.head(x[:, -1])
