"""Recurrent sequence classifiers and regressors (``rnn``: Elman, tanh or ReLU; ``gru``, ``lstm``).

A sample of shape (length,) is read as a sequence of scalars, (channels, length) as a sequence of
channel vectors (MNIST-1D read left to right, one position per step, as its paper does: so the
recurrent models already are "sequential MNIST-1D"). One recurrent layer per entry of ``hidden``
(widths may differ), dropout between layers, and a Linear head on a readout of the last layer's
outputs y_1..y_T (``model.readout``): ``last`` = y_T (the final state; bidirectional: the forward
half of y_T and the backward half of y_1, each direction's final state, as ``nn.GRU``'s h_n),
``all`` = [y_1, ..., y_T] flattened (T * width features), ``mean`` = (1/T) sum_t y_t.

``model.bidirectional`` (Schuster & Paliwal 1997) runs every layer a second time on the reversed
sequence and concatenates the two outputs at each step, y_t = [h_t(forward), h_t(backward)]
(2 x width features; PyTorch's ``bidirectional=True``). MNIST-1D's paper GRU (Greydanus 2020,
notebooks/models.py) is one bidirectional GRU layer of 6 units read out from all 40 steps:
Linear(2 x 6 x 40 = 480, 10).

Each layer is PyTorch's fused module (``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM``) unless a variant
needs to reach inside the cell: a normalization (``norm`` = batch, Cooijmans et al. 2016; layer,
Ba et al. 2016) or a recurrent dropout mode that drops the state or the candidate (variational,
Gal & Ghahramani 2016; semeniuta, Semeniuta et al. 2016). Those use trainlab's own
:class:`~trainlab.models.recurrent.RecurrentLayer`, which computes what the fused module computes
when no variant is on. ``zaremba`` dropout (Zaremba et al. 2014) only touches the connections
between layers and keeps the fused modules (lecture 003, slide 80).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import UserError
from .layers import dropout as make_dropout
from .recurrent import RecurrentLayer
from .recurrent_dropout import SequenceDropout

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
READOUTS = ("last", "all", "mean")


def needs_own_cell(norm: str, recurrent_dropout: float, mode: str) -> bool:
    """Whether a variant reaches inside the cell (else the fused module is used)."""
    return norm != "none" or (recurrent_dropout > 0 and mode != "zaremba")


class Bidirectional(nn.Module):
    """Two recurrent layers, one reading x_1..x_T and one x_T..x_1: y_t = [f(x)_t, b(x)_t],
    b(x)_t the reverse layer's state after reading x_T..x_t (what ``bidirectional=True`` computes
    in PyTorch's fused modules, whose ``_reverse`` weights are ``reverse``'s here)."""

    def __init__(self, forward_layer: nn.Module, reverse: nn.Module):
        super().__init__()
        self.forward_layer, self.reverse = forward_layer, reverse

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        back = self.reverse(x.flip(1)).flip(1)
        return torch.cat([self.forward_layer(x), back], -1)


def readout(y: torch.Tensor, how: str, directions: int) -> torch.Tensor:
    """The head's input from the outputs y (N, T, D x H): see the module docstring."""
    if how == "all":
        return y.flatten(1)
    if how == "mean":
        return y.mean(1)
    if directions == 1:
        return y[:, -1]
    h = y.shape[-1] // 2
    return torch.cat([y[:, -1, :h], y[:, 0, h:]], -1)


class RecurrentClassifier(nn.Module):
    """A ``kind`` (rnn, gru, lstm) network reading samples of ``input_shape`` as sequences, one
    recurrent layer per entry of ``hidden``, then a linear head of ``num_classes`` outputs:
    ``dropout`` (``dropout_mode``) between layers, ``recurrent_norm`` (none, batch, layer) inside
    the cell with batch norm's ``bn_time_steps`` and ``bn_momentum``, ``recurrent_dropout`` in
    ``recurrent_dropout_mode``, ``bidirectional`` layers, the head's ``readout`` (last, all,
    mean) and the Elman cell's ``rnn_activation`` (tanh, relu)."""

    def __init__(
        self,
        kind: str,
        input_shape: tuple[int, ...],
        hidden: Sequence[int],
        num_classes: int,
        *,
        dropout: float = 0.0,
        dropout_mode: str = "inverted",
        recurrent_norm: str = "none",
        recurrent_dropout: float = 0.0,
        recurrent_dropout_mode: str = "zaremba",
        bn_time_steps: int = 100,
        bn_momentum: float = 0.1,
        bidirectional: bool = False,
        readout: str = "last",
        rnn_activation: str = "tanh",
    ):
        super().__init__()
        norm = recurrent_norm
        if readout not in READOUTS:
            raise ValueError(f"readout {readout!r}: expected one of {', '.join(READOUTS)}")
        if len(input_shape) not in (1, 2):
            raise UserError(
                f"model.name = {kind!r} needs samples shaped (length,) or (channels, "
                f"length); the data's are {tuple(input_shape)}"
            )
        width = 1 if len(input_shape) == 1 else input_shape[0]
        own = needs_own_cell(norm, recurrent_dropout, recurrent_dropout_mode)
        self.directions, self.readout_mode = 1 + bidirectional, readout

        def own_layer(width: int, h: int) -> RecurrentLayer:
            return RecurrentLayer(
                kind,
                width,
                h,
                norm,
                bn_time_steps,
                bn_momentum,
                recurrent_dropout,
                recurrent_dropout_mode,
                rnn_activation,
            )

        # nn.RNN's nonlinearity: tanh or relu (the IRNN of Le et al. 2015); gates keep theirs
        fused = {"nonlinearity": rnn_activation} if kind == "rnn" else {}

        self.layers = nn.ModuleList()
        for h in hidden:
            if not own:
                layer = CELLS[kind](
                    width, h, batch_first=True, bidirectional=bidirectional, **fused
                )
            else:
                layer = (
                    Bidirectional(own_layer(width, h), own_layer(width, h))
                    if bidirectional
                    else own_layer(width, h)
                )
            self.layers.append(layer)
            width = h * self.directions
        if readout == "all":
            width *= input_shape[-1]  # every step's outputs
        self.dropout = nn.Sequential(*make_dropout(dropout, dropout_mode))
        # on every layer's input and on the last output (slide 80's non-recurrent connections)
        self.sequence_dropout = (
            SequenceDropout(recurrent_dropout, recurrent_dropout_mode)
            if recurrent_dropout
            else None
        )
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
        return self.head(readout(x, self.readout_mode, self.directions))
