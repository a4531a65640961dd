"""Dropout for recurrent nets (lecture 003, slide 80), in three modes, all inverted (kept units
scaled by 1 / (1 - p) in training, nothing at test time):

- ``zaremba`` (Zaremba et al. 2014, "Recurrent neural network regularization"): dropout on the
  non-recurrent connections only, i.e. on every layer's input sequence and on the last layer's
  output, with a new mask at every step; the recurrent state h_{t-1} -> h_t is never dropped
  (slide 80: "can dropout layer-wise connections as normal").
- ``variational`` (Gal & Ghahramani 2016, "A theoretically grounded application of dropout in
  recurrent neural networks"): one mask per sequence, reused at every time step, on every layer's
  input, on its recurrent state h_{t-1} (before W_hh) and on the last layer's output (slide 80:
  "recurrent connections use same dropout mask over time").
- ``semeniuta`` (Semeniuta et al. 2016, "Recurrent dropout without memory loss"): dropout on
  the gated cell's candidate update only (the LSTM's g in c_t = f c_{t-1} + i d(g), the GRU's n),
  a new mask at every step; the memory c_{t-1} itself is never dropped (slide 80: "or dropout
  specific portion of recurrent cell"). A plain RNN has no candidate update, so it has no such
  mode.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MODES = ("zaremba", "variational", "semeniuta")


def mask(shape: tuple[int, ...], p: float, like: torch.Tensor) -> torch.Tensor:
    """Bernoulli(1 - p) / (1 - p), one value per element of ``shape``."""
    return like.new_empty(shape).bernoulli_(1 - p) / (1 - p)


class SequenceDropout(nn.Module):
    """Dropout on a sequence (N, T, F) between layers: ``zaremba`` a mask per step,
    ``variational`` one mask per sequence (the same at every step), ``semeniuta`` none."""

    def __init__(self, p: float, mode: str):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.p) or self.mode == "semeniuta":
            return x
        if self.mode == "variational":
            return x * mask((x.shape[0], 1, x.shape[2]), self.p, x)
        return F.dropout(x, self.p, True)

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"
