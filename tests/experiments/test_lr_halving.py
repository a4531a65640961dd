"""lr-find --method halving, lecture 003's "start from a high value and keep cutting by half if
model diverges" (s25), against gradient descent's classical stability limit on least squares:
full-batch GD on a quadratic with Hessian H converges iff lr < 2 / lambda_max(H)."""

from __future__ import annotations

import math

import pytest
import torch

from trainlab.cli import main
from trainlab.experiments import lrfind
from trainlab.training.step import Step

from tests.conftest import FAST


def _least_squares():
    """mean((Xw - y)^2) over 4 points with X'X/n = diag(1, 0.1): Hessian 2 X'X/n, largest
    eigenvalue 2, so GD from w = 0 converges iff lr < 1. A linear model, weights at 0."""
    s = math.sqrt(0.1)
    x = torch.tensor([[1.0, s], [-1.0, s], [1.0, -s], [-1.0, -s]], dtype=torch.float64)
    y = x @ torch.tensor([[0.5], [-2.0]], dtype=torch.float64)
    model = torch.nn.Linear(2, 1, bias=False).double()
    torch.nn.init.zeros_(model.weight)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    return Step(model, torch.nn.functional.mse_loss, optimizer), x, y


def test_halving_stops_at_the_first_rate_below_the_stability_limit():
    step, x, y = _least_squares()
    optimizer = torch.optim.SGD(step.model.parameters(), lr=0.1)  # plain GD: the limit is 1
    step = Step(step.model, step.loss_fn, optimizer)
    result = lrfind.halving(step, x, y, batch_size=4, start_lr=10.0, steps=30)
    # 10, 5, 2.5, 1.25 are above 2 / lambda_max = 1 (the error grows |1 - 2 lr| >= 1.5 times
    # per step along the first axis); 0.625 is below it
    assert result["lr"] == [10.0, 5.0, 2.5, 1.25, 0.625]
    assert result["diverged"] == [True, True, True, True, False]
    assert result["chosen"] == 0.625
    # (trainlab's evaluate sums in float32)
    assert result["before"] == pytest.approx(y.pow(2).mean().item(), rel=1e-6)
    assert result["after"][-1] < result["before"] < result["after"][3]


def test_halving_puts_the_model_and_optimizer_back():
    step, x, y = _least_squares()
    step(x, y)  # some momentum in the optimizer's state
    weights = step.model.weight.detach().clone()
    state = {k: v.clone() for k, v in step.optimizer.state[step.model.weight].items()}
    result = lrfind.halving(step, x, y, batch_size=2, start_lr=40.0, steps=10)
    assert result["chosen"] is not None and result["diverged"][0]
    assert torch.equal(step.model.weight, weights)
    for name, value in step.optimizer.state[step.model.weight].items():
        assert torch.equal(value, state[name])
    assert step.optimizer.param_groups[0]["lr"] == 0.1


def test_no_rate_that_converges_within_the_halvings_is_said_so():
    step, x, y = _least_squares()
    result = lrfind.halving(step, x, y, batch_size=4, start_lr=1e6, steps=5, max_halvings=3)
    assert result["chosen"] is None and result["diverged"] == [True] * 4
    assert result["lr"][-1] == 1e6 / 8


def test_the_command_says_whose_method_each_is(tmp_path, capsys):
    out = tmp_path / "halving"
    assert main(["lr-find", "--method", "halving", *FAST, "--steps", "5", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "lecture 003, slide 25: start high, halve while it diverges" in printed
    assert {p.name for p in out.iterdir()} == {"lr_halving.csv", "lr_halving.png"}
    rows = (out / "lr_halving.csv").read_text().splitlines()
    assert rows[0] == "trial,lr,loss_before,loss_after,diverged" and len(rows) >= 2
    assert main(["lr-find", *FAST, "--steps", "30", "--out", str(tmp_path / "range")]) == 0
    assert "Smith 2017's range test" in capsys.readouterr().out
    assert main(["lr-find", "--method", "halving", "--end-lr", "1", *FAST]) == 2
    assert "--end-lr 1.0: only for --method range" in capsys.readouterr().err
