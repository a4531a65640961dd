"""SGD's momentum and Nesterov steps by hand (every optimizer's shared checks, and the torch.optim
ones against torch.optim: tests/optim/cases.py)."""

import pytest
import torch

from trainlab import build
from trainlab.config import resolve


def _quadratic_steps(cfg, steps=2):
    """w starts at 1 on f(w) = w^2 / 2 (gradient = w)."""
    w = torch.ones(1, dtype=torch.float64, requires_grad=True)
    opt = build.optimizer(resolve(None, cfg), [w])
    out = []
    for _ in range(steps):
        opt.zero_grad()
        (w**2 / 2).sum().backward()
        opt.step()
        out.append(w.item())
    return out


def test_momentum_and_nesterov_by_hand():
    base = [
        "optimizer.name=sgd",
        "optimizer.lr=0.1",
        "optimizer.weight_decay=0",
        "optimizer.momentum=0.9",
    ]
    # v1 = g0 = 1, w1 = 0.9; v2 = 0.9 * 1 + 0.9 = 1.8, w2 = 0.9 - 0.18 = 0.72
    assert _quadratic_steps(base) == pytest.approx([0.9, 0.72])
    # Nesterov: update g + mu v. w1 = 1 - 0.1 * 1.9 = 0.81; v2 = 0.9 + 0.81 = 1.71,
    # w2 = 0.81 - 0.1 * (0.81 + 0.9 * 1.71) = 0.5751
    assert _quadratic_steps(base + ["optimizer.nesterov=true"]) == pytest.approx([0.81, 0.5751])
