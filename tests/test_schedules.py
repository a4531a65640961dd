import math

import pytest
import torch

from trainlab.config import resolve
from trainlab.schedules import Schedule


def _lrs(overrides, epochs=9, updates=4, metric=lambda e: 0.5):
    cfg = resolve(None, [f"train.epochs={epochs}", "optimizer.lr=1.0"] + overrides)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    s = Schedule(cfg, opt, updates)
    per_update, per_epoch = [], []
    for e in range(epochs):
        per_epoch.append(opt.param_groups[0]["lr"])
        for _ in range(updates):
            per_update.append(opt.param_groups[0]["lr"])
            opt.step()
            s.after_update()
        s.after_epoch({"val_accuracy": metric(e), "val_loss": 1.0})
    return per_epoch, per_update


def test_step_and_exponential():
    lrs, _ = _lrs(["schedule.name=step", "schedule.step_size=3", "schedule.gamma=0.5"])
    assert lrs == pytest.approx([0.5 ** (e // 3) for e in range(9)])
    lrs, _ = _lrs(["schedule.name=exponential", "schedule.gamma=0.8"])
    assert lrs == pytest.approx([0.8 ** e for e in range(9)])
    lrs, _ = _lrs(["schedule.name=constant"])
    assert lrs == [1.0] * 9


def test_cosine_per_update():
    _, lrs = _lrs(["schedule.name=cosine", "schedule.min_lr=0.1"])
    T = 36
    assert lrs == pytest.approx([0.1 + 0.9 * (1 + math.cos(math.pi * t / T)) / 2 for t in range(T)])


def test_one_cycle_peaks_at_lr():
    _, lrs = _lrs(["schedule.name=one_cycle"])
    # warm-up over the first 30% of 36 updates from lr / 25 to lr, then annealing to ~0
    assert max(lrs) == pytest.approx(1.0, rel=1e-3) and lrs[0] == pytest.approx(1.0 / 25)
    assert abs(lrs.index(max(lrs)) - 0.3 * 36) <= 1 and lrs[-1] < 1e-3


def test_plateau_divides_when_validation_stalls():
    # validation accuracy improves for 3 epochs, then stalls; patience 2: the rate drops once
    # more than 2 epochs have passed without improvement (PyTorch's ReduceLROnPlateau rule)
    lrs, _ = _lrs(["schedule.name=plateau", "schedule.patience=2", "schedule.factor=0.1"],
                  metric=lambda e: min(e, 2) / 10)
    assert lrs == pytest.approx([1, 1, 1, 1, 1, 1, 0.1, 0.1, 0.1])
