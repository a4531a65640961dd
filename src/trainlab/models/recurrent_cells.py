"""One time step of the three recurrent cells, as PyTorch's ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN``
define them, written over the two pre-activation terms so that normalization and dropout can be
put between them (lecture 003, slides 80, 95-100).

``gx`` is the input-to-hidden term W_ih x_t + b_ih and ``gh`` the hidden-to-hidden term
W_hh h_{t-1} + b_hh, each stacked by gate in PyTorch's order; the LSTM and the RNN only need
their sum ``gates`` = gx + gh (one ``addmm`` per step when nothing sits between them).
``candidate`` is applied to the candidate update (Semeniuta et al. 2016's dropout; identity
otherwise) and ``cell_norm`` to the LSTM's cell before its output tanh (Ba et al. 2016,
Cooijmans et al. 2016; identity otherwise).

- LSTM (Hochreiter & Schmidhuber 1997, with a forget gate): i, f, g, o = sigma, sigma, tanh,
  sigma of gates; c_t = f * c_{t-1} + i * g; h_t = o * tanh(c_t).
- GRU (Cho et al. 2014, PyTorch's form): r, z = sigma(gx_r + gh_r), sigma(gx_z + gh_z);
  n = tanh(gx_n + r * gh_n); h_t = (1 - z) * n + z * h_{t-1}.
- RNN (Elman): h_t = tanh(gates), or max(0, gates) (the IRNN's ReLU, Le et al. 2015).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Fn = Callable[[torch.Tensor], torch.Tensor]
GATES = {"lstm": 4, "gru": 3, "rnn": 1}  # blocks stacked in weight_ih / weight_hh


def lstm_cell(
    gates: torch.Tensor, c: torch.Tensor, candidate: Fn, cell_norm: Fn
) -> tuple[torch.Tensor, torch.Tensor]:
    """(h_t, c_t) from gx + gh and c_{t-1}."""
    i, f, g, o = gates.chunk(4, 1)
    c = f.sigmoid() * c + i.sigmoid() * candidate(g.tanh())
    return o.sigmoid() * cell_norm(c).tanh(), c


def gru_cell(gx: torch.Tensor, gh: torch.Tensor, h: torch.Tensor, candidate: Fn) -> torch.Tensor:
    """h_t from the two terms and h_{t-1}."""
    xr, xz, xn = gx.chunk(3, 1)
    hr, hz, hn = gh.chunk(3, 1)
    r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
    n = candidate((xn + r * hn).tanh())
    return n + z * (h - n)  # = (1 - z) * n + z * h


def rnn_cell(gates: torch.Tensor, activation: str = "tanh") -> torch.Tensor:
    """h_t from gx + gh: tanh, or ReLU (``nn.RNN(nonlinearity="relu")``; Le et al. 2015)."""
    return gates.relu() if activation == "relu" else gates.tanh()
