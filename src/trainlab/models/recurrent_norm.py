"""Normalization inside a recurrent cell (lecture 003, slides 95-100), applied to a term at time
step ``t``: ``norm(a, t)``.

- :class:`StepBatchNorm`, recurrent batch normalization (Cooijmans et al. 2016; slides 96-98):
  BN(a; gamma, beta) = gamma * (a - mean) / sqrt(var + eps) + beta, the mean and variance taken
  over the minibatch at step t in training. Each of the first T steps keeps its own running
  statistics, for inference; steps t >= T share (and update) step T's (slide 98: "t > T uses the
  statistics from time T"). gamma starts at 0.1 (slide 98: "have to initialize gamma to ~0.1",
  so that tanh and sigma start unsaturated); gamma and beta are shared over time, as there.
- :class:`StepLayerNorm`, layer normalization (Ba et al. 2016; slides 99-100):
  LN(a; gamma, beta) = gamma * (a - mean) / sqrt(var + eps) + beta with the mean and variance
  taken over one sample's features at one step, so it needs no batch and no statistics over
  time (slide 100).

The input-to-hidden and hidden-to-hidden terms are normalized without beta (both papers' LSTMs
add the cell's own bias right after, which beta would duplicate); the LSTM's cell state is
normalized with beta.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class StepBatchNorm(nn.Module):
    """Batch norm over the batch at each time step, running statistics for ``steps`` steps."""

    batch_statistics = True  # needs at least 2 samples per batch (the loop checks)

    def __init__(
        self,
        features: int,
        steps: int,
        shift: bool,
        momentum: float = 0.1,
        gamma: float = 0.1,
        eps: float = 1e-5,
    ):
        super().__init__()
        self.steps, self.momentum, self.eps = steps, momentum, eps
        self.gamma = nn.Parameter(torch.full((features,), gamma))
        self.beta = nn.Parameter(torch.zeros(features)) if shift else None
        self.register_buffer("running_mean", torch.zeros(steps, features))
        self.register_buffer("running_var", torch.ones(steps, features))

    def forward(self, a: torch.Tensor, t: int) -> torch.Tensor:
        s = min(t, self.steps - 1)  # a row view: F.batch_norm updates it in place
        return F.batch_norm(
            a,
            self.running_mean[s],
            self.running_var[s],
            self.gamma,
            self.beta,
            self.training,
            self.momentum,
            self.eps,
        )

    def extra_repr(self) -> str:
        return f"{self.gamma.numel()}, steps={self.steps}, momentum={self.momentum}"


class StepLayerNorm(nn.Module):
    """Layer norm over the last dimension; the same at every step."""

    def __init__(self, features: int, shift: bool, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(features))
        self.beta = nn.Parameter(torch.zeros(features)) if shift else None

    def forward(self, a: torch.Tensor, t: int = 0) -> torch.Tensor:
        return F.layer_norm(a, self.gamma.shape, self.gamma, self.beta, self.eps)


class NoNorm(nn.Module):
    """The plain cell: each term as it is."""

    def forward(self, a: torch.Tensor, t: int = 0) -> torch.Tensor:
        return a


def step_norm(
    name: str, features: int, shift: bool, steps: int = 1, momentum: float = 0.1
) -> nn.Module:
    """``none`` | ``batch`` | ``layer`` for a term of ``features`` values."""
    if name == "batch":
        return StepBatchNorm(features, steps, shift, momentum)
    if name == "layer":
        return StepLayerNorm(features, shift)
    return NoNorm()
