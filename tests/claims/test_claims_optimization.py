"""The optimization claims' measuring pieces against independent references: per-sample
gradients against one autograd call per sample, the enumerated minibatch variance against a
brute-force loop, time-to-target and the parabola's best rate against hand values, the Adagrad
ablation against a hand-computed step, and the annealing schedules against 002's formulas."""

import itertools
import math

import numpy as np
import pytest
import torch

from trainlab.claims.catalogue_adaptive import AdagradNoSqrt
from trainlab.claims.catalogue_optimization import (
    measure_minibatch_variance,
    per_sample_gradients,
)
from trainlab.claims.catalogue_sgd import analyze_speed, annealed, best_rate, epochs_to_target
from trainlab.claims.toolkit import config, model_step, toy
from trainlab.claims.verdicts import Kind


def test_per_sample_gradients_match_one_backward_per_sample():
    g = per_sample_gradients(0, 10)
    cfg = config(0, 'data.name="moons"', "data.samples=10", "model.hidden=[8]")
    x, y = toy(cfg)
    model, step = model_step(cfg, x)
    model = model.double()
    for i in range(10):
        model.zero_grad()
        step.loss_fn(model(x[i : i + 1].double()), y[i : i + 1]).backward()
        ref = torch.cat([p.grad.flatten() for p in model.parameters()])
        assert torch.allclose(g[i], ref, rtol=1e-10, atol=1e-14)


def test_enumerated_minibatch_variance_matches_a_plain_loop():
    out = measure_minibatch_variance(1, 10, [2, 3])
    g = per_sample_gradients(1, 10).numpy()
    mean = g.mean(0)
    var = np.mean(((g - mean) ** 2).sum(1))
    for j, b in enumerate([2, 3]):
        draws = [
            ((g[list(t)].mean(0) - mean) ** 2).sum() for t in itertools.product(range(10), repeat=b)
        ]
        subsets = [
            ((g[list(t)].mean(0) - mean) ** 2).sum() for t in itertools.combinations(range(10), b)
        ]
        assert out["with"][j] == pytest.approx(np.mean(draws) / var, rel=1e-12)
        assert out["without"][j] == pytest.approx(np.mean(subsets) / var, rel=1e-12)
        # the textbook values (Cochran 1977, 2.8): 1/b and (N - b) / (b (N - 1))
        assert out["with"][j] == pytest.approx(1 / b, rel=1e-9)
        assert out["without"][j] == pytest.approx((10 - b) / (b * 9), rel=1e-9)


def test_epochs_to_target_interpolates_in_log_loss():
    # between epoch 2 (loss 1) and 3 (loss 1/4), log-halfway is loss 1/2
    assert epochs_to_target([2.0, 1.0, 0.25], 0.5) == pytest.approx(2.5)
    assert epochs_to_target([0.1, 0.05], 0.5) == 1.0
    assert epochs_to_target([2.0, 1.5, 1.2], 0.5) == 6.0  # never: twice the budget
    assert epochs_to_target([4.0, 1.0], 2.0, x=[10, 20]) == pytest.approx(15.0)


def test_best_rate_is_the_parabola_vertex_in_log_rate():
    rates = [0.01, 0.03, 0.1, 0.3, 1.0]
    losses = [(math.log(r) - math.log(0.05)) ** 2 + 0.2 for r in rates]
    assert best_rate(rates, losses) == pytest.approx(0.05, rel=1e-9)
    assert best_rate(rates, [5, 4, 3, 2, 1]) == 1.0  # at the edge: the edge


def test_adagrad_without_sqrt_divides_by_the_sum_of_squares():
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = AdagradNoSqrt([w], lr=0.5, eps=0.0)
    for g in ([2.0, 1.0], [1.0, -1.0]):
        w.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    # step 1: c = (4, 1), w -= 0.5 g / c = (0.25, 0.5); step 2: c = (5, 2), w -= (0.1, -0.25)
    assert torch.allclose(w.detach(), torch.tensor([0.65, -2.25], dtype=torch.float64))


def test_annealed_rates_follow_the_formulas_of_002():
    e, n = 30, 4  # epochs, updates per epoch; update k is in epoch (k - 1) // n
    assert annealed("constant", 0.2, e, n)(100) == 0.2
    assert annealed("step", 1.0, e, n)(10 * n + 1) == pytest.approx(0.1)  # epoch 10
    assert annealed("step", 1.0, e, n)(10 * n) == 1.0  # epoch 9
    assert annealed("exponential", 1.0, e, n)(15 * n + 1) == pytest.approx(0.1)  # e^(-k 15)
    assert annealed("inverse_time", 1.0, e, n)(e * n + 1) == pytest.approx(0.01)  # 1/(1+99)


def test_a_fast_arm_that_never_reached_the_target_leaves_the_verdict_open():
    rule = {"fast": "a", "slow": "b", "target": 0.1, "delta": 0.1}
    ok = [{"a": {"epochs": e, "reached": True}, "b": {"epochs": 4 * e}} for e in (2, 3, 2.5)]
    assert analyze_speed(ok, rule).kind is Kind.HOLDS
    censored = [*ok[:2], {"a": {"epochs": 40, "reached": False}, "b": {"epochs": 40}}]
    v = analyze_speed(censored, rule)
    assert v.kind is Kind.INCONCLUSIVE and dict(v.diverged) == {"a": 1}


def test_the_adagrad_ablation_trains_with_its_own_optimizer():
    from trainlab.claims.catalogue_adaptive import measure_adagrad_sqrt

    args = dict(data="moons", samples=64, hidden=[8], batch=16, epochs=2)
    same = measure_adagrad_sqrt(0, **args, lr_sqrt=0.1, lr_nosqrt=0.1)
    assert same["sqrt"]["curve"] != same["nosqrt"]["curve"]
