"""Iterate averaging: evaluate the average of SGD's iterates instead of the last one.

Lecture 000 s57: SGD's last iterate w_T is within O(log T / T) of the optimum's loss on a
strongly convex function, and "averaging schemes can improve the bound to O(1/T)" (Polyak &
Juditsky 1992; Ruppert 1988). Two averages of the weights after each update k, from the first
update after ``start`` updates on:

- ``polyak``: the mean of the iterates, w̄_n = w̄_{n-1} + (w_k - w̄_{n-1}) / n (n the number
  averaged; Polyak-Ruppert averaging, what SWA computes per update);
- ``ema``: an exponential moving average, w̄_n = decay w̄_{n-1} + (1 - decay) w_k, w̄_1 = w_k.

Both are ``torch.optim.swa_utils.AveragedModel`` (the EMA with ``get_ema_multi_avg_fn``). Only
the parameters are averaged. Before the average is evaluated, its other buffers are copied from
the trained model and its batch-norm statistics recomputed over the training split in one pass
(lecture 000's population statistics, :func:`trainlab.models.layers.population_statistics`: the
mean of the minibatch means and B/(B-1) times the mean of their variances, dropout off; what
``swa_utils.update_bn`` computes on whole batches without dropout).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ..models.layers import population_statistics

KINDS = ("none", "polyak", "ema")


class IterateAverage:
    """The running average (``kind`` polyak or ema, with ``decay``) of ``model``'s weights
    after every update from update ``start`` + 1 on. :meth:`update` after each update;
    :meth:`evaluated` gives the averaged model ready to evaluate."""

    def __init__(self, model: nn.Module, kind: str, start: int = 0, decay: float = 0.999):
        if kind not in ("polyak", "ema"):
            raise ValueError(f"Invalid average kind: {kind!r} (polyak or ema)")
        if not 0.0 < decay < 1.0:
            raise ValueError(f"Invalid decay value: {decay}")
        if start < 0:
            raise ValueError(f"Invalid start value: {start}")
        self.kind, self.start, self.decay = kind, start, decay
        fn = get_ema_multi_avg_fn(decay) if kind == "ema" else None
        self.averaged = AveragedModel(model, multi_avg_fn=fn)
        self.updates = 0  # updates seen
        self.count = 0  # updates averaged
        self.stale = True  # batch-norm statistics not yet recomputed for the current average

    @property
    def active(self) -> bool:
        """Whether any iterate has been averaged yet."""
        return self.count > 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """After an update of ``model``: average its weights in once ``start`` updates passed."""
        self.updates += 1
        if self.updates > self.start:
            self.averaged.update_parameters(model)
            self.count += 1
            self.stale = True

    @torch.no_grad()
    def evaluated(self, model: nn.Module, x_train: torch.Tensor, batch_size: int) -> nn.Module:
        """The averaged network: ``model``'s buffers, then batch-norm statistics recomputed
        over ``x_train`` in batches of ``batch_size`` (once per new average)."""
        module = self.averaged.module
        if self.stale:
            for mine, theirs in zip(module.buffers(), model.buffers(), strict=True):
                mine.copy_(theirs)
            population_statistics(module, x_train, batch_size)
            self.stale = False
        return module

    def state_dict(self) -> dict:
        return {
            "averaged": self.averaged.state_dict(),
            "updates": self.updates,
            "count": self.count,
        }

    def load_state_dict(self, state: dict) -> None:
        self.averaged.load_state_dict(state["averaged"])
        self.updates, self.count, self.stale = state["updates"], state["count"], True

    def describe(self) -> dict:
        """What the summary says of the averaging."""
        out = {"kind": self.kind, "start_update": self.start, "updates_averaged": self.count}
        if self.kind == "ema":
            out["decay"] = self.decay
        return out
