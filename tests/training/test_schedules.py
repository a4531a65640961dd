import math

import pytest
import torch

from trainlab import build
from trainlab.config import resolve


def _lrs(overrides, epochs=9, updates=4, metric=lambda e: 0.5):
    cfg = resolve(None, [f"train.epochs={epochs}", "optimizer.lr=1.0"] + overrides)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    s = build.schedule(cfg, opt, updates)
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
    assert lrs == pytest.approx([0.8**e for e in range(9)])
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
    lrs, _ = _lrs(
        ["schedule.name=plateau", "schedule.patience=2", "schedule.factor=0.1"],
        metric=lambda e: min(e, 2) / 10,
    )
    assert lrs == pytest.approx([1, 1, 1, 1, 1, 1, 0.1, 0.1, 0.1])


def test_inverse_time_and_linear():
    lrs, _ = _lrs(["schedule.name=inverse_time", "schedule.decay=0.5"])
    assert lrs == pytest.approx([1 / (1 + 0.5 * e) for e in range(9)])
    # lecture 002: eps_k = (1 - k / tau) eps_0 + (k / tau) eps_tau until tau, then constant
    lrs, _ = _lrs(["schedule.name=linear", "schedule.end_factor=0.1", "schedule.decay_epochs=4"])
    assert lrs == pytest.approx([1 - 0.9 * min(e, 4) / 4 for e in range(9)])


def test_warmup_then_step():
    # 4 updates per epoch, 2 warm-up epochs: 8 updates rising linearly to 1, then step decay
    # every 3 epochs counted from the end of the warm-up
    epoch_lrs, lrs = _lrs(
        [
            "schedule.name=step",
            "schedule.step_size=3",
            "schedule.gamma=0.5",
            "schedule.warmup_epochs=2",
        ]
    )
    assert lrs[:8] == pytest.approx([(t + 1) / 8 for t in range(8)])
    assert epoch_lrs[2:] == pytest.approx([1, 1, 1, 0.5, 0.5, 0.5, 0.25])


def test_warmup_then_cosine_spans_the_remaining_updates():
    _, lrs = _lrs(["schedule.name=cosine", "schedule.warmup_epochs=1"])
    T = 36 - 4
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    # as in SequentialLR, the cosine starts at its own step 0 (the peak rate again)
    assert lrs[4:] == pytest.approx([(1 + math.cos(math.pi * t / T)) / 2 for t in range(T)])


def test_a_schedule_without_an_option_it_reads_names_it():
    from trainlab.training.schedules import Schedule

    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    with pytest.raises(TypeError, match="'cosine' needs the options min_lr"):
        Schedule(opt, "cosine", updates_per_epoch=2)
    Schedule(opt, "cosine", updates_per_epoch=2, min_lr=0.0)  # the library form
