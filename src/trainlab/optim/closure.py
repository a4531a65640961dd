"""The closure convention of ``torch.optim``: ``step(closure)`` re-evaluates the loss."""

from __future__ import annotations

import torch


def evaluate(closure) -> torch.Tensor | None:
    """The loss the closure returns (computed with gradients enabled), or None without one."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()
