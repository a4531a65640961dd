"""trainlab's own recurrent layer: one LSTM, GRU or RNN layer read step by step, so that each
step's terms can be normalized and its state dropped out (lecture 003, slides 80, 95-100).

Per step t, with the cell equations of :mod:`.recurrent_cells`::

    gx_t = N_x(W_ih d_x(x_t), t) + b_ih        input-to-hidden term
    gh_t = N_h(W_hh d_h(h_{t-1}), t) + b_hh    hidden-to-hidden term
    h_t (, c_t) = cell(gx_t, gh_t, state; candidate = d_c, cell_norm = N_c(., t))

N_x, N_h, N_c: none, recurrent batch norm (Cooijmans et al. 2016) or layer norm (Ba et al. 2016)
(:mod:`.recurrent_norm`); d_x, d_h, d_c: dropout (:mod:`.recurrent_dropout`; d_x is applied by
the classifier, between layers). With no norm and no dropout it computes exactly what PyTorch's
``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` compute from the same weights (tested); parameters carry
their names without the ``_l0`` suffix, and PyTorch's initialization U(-1/sqrt(H), 1/sqrt(H)).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .recurrent_cells import GATES, gru_cell, lstm_cell, rnn_cell
from .recurrent_dropout import mask
from .recurrent_norm import NoNorm, StepBatchNorm, step_norm


class RecurrentLayer(nn.Module):
    """One recurrent layer of ``kind`` (lstm | gru | rnn): (N, T, input_size) -> (N, T, hidden)."""

    def __init__(
        self,
        kind: str,
        input_size: int,
        hidden_size: int,
        norm: str = "none",
        bn_time_steps: int = 100,
        bn_momentum: float = 0.1,
        dropout: float = 0.0,
        dropout_mode: str = "zaremba",
        activation: str = "tanh",
    ):
        super().__init__()
        self.kind, self.input_size, self.hidden_size = kind, input_size, hidden_size
        self.activation = activation  # rnn only: tanh or relu
        gates = GATES[kind] * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gates, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gates, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(gates))
        self.bias_hh = nn.Parameter(torch.empty(gates))
        k = 1 / math.sqrt(hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -k, k)
        self.norm_x = step_norm(norm, gates, False, bn_time_steps, bn_momentum)
        self.norm_h = step_norm(norm, gates, False, bn_time_steps, bn_momentum)
        self.norm_c = (
            step_norm(norm, hidden_size, True, bn_time_steps, bn_momentum)
            if kind == "lstm"
            else NoNorm()
        )
        self.recurrent_p = dropout if dropout_mode == "variational" else 0.0
        self.candidate_p = dropout if dropout_mode == "semeniuta" else 0.0

    def input_terms(self, x: torch.Tensor, fold: bool) -> list[torch.Tensor]:
        """gx_t for every step, one product for the whole sequence; ``fold``: b_hh too."""
        if fold:
            return list(F.linear(x, self.weight_ih, self.bias_ih + self.bias_hh).unbind(1))
        wx = F.linear(x, self.weight_ih)  # (N, T, gates)
        if isinstance(self.norm_x, StepBatchNorm):  # statistics per step
            return [self.norm_x(a, t) + self.bias_ih for t, a in enumerate(wx.unbind(1))]
        return list((self.norm_x(wx) + self.bias_ih).unbind(1))  # per sample and step: at once

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, wt = x.shape[0], self.weight_hh.t()
        h = c = x.new_zeros(n, self.hidden_size)
        drop_h = (
            mask((n, self.hidden_size), self.recurrent_p, x)
            if self.training and self.recurrent_p
            else None
        )  # one mask per sequence
        p = self.candidate_p if self.training else 0.0

        def candidate(g: torch.Tensor) -> torch.Tensor:
            return F.dropout(g, p, True) if p else g

        fold = isinstance(self.norm_h, NoNorm) and self.kind != "gru"  # gates in one addmm
        outputs = []
        for t, gx in enumerate(self.input_terms(x, fold)):
            hin = h if drop_h is None else h * drop_h
            if fold:
                gates = torch.addmm(gx, hin, wt)
            else:
                gh = self.norm_h(hin @ wt, t) + self.bias_hh
                gates = gx + gh if self.kind != "gru" else gh  # the GRU sums inside
            if self.kind == "lstm":
                h, c = lstm_cell(gates, c, candidate, lambda s, t=t: self.norm_c(s, t))
            elif self.kind == "gru":
                h = gru_cell(gx, gh, h, candidate)
            else:
                h = rnn_cell(gates, self.activation)
            outputs.append(h)
        return torch.stack(outputs, 1)

    def extra_repr(self) -> str:
        return f"{self.kind}, {self.input_size}, {self.hidden_size}"
