"""Property tests (hypothesis) for every row of the optimizer table (tests/optim/cases.py), on
random problems
f(x) = 1/2 sum d_i x_i^2 + c.x in float64 (d >= 0: flat directions included):

- finite gradients give finite weights, whatever the problem and the number of steps;
- a ``state_dict`` round trip after a random number of steps, then more steps, gives exactly the
  weights of the run that never stopped.
"""

from __future__ import annotations

import io

import pytest
import torch
from hypothesis import given, settings, strategies as st

from trainlab.training.step import Step

from tests.optim.cases import CASES

coefficients = st.lists(st.floats(-1e6, 1e6), min_size=4, max_size=4)
curvatures = st.lists(st.floats(0.0, 1e3), min_size=4, max_size=4)
SETTINGS = settings(max_examples=20, deadline=None)


class Problem(torch.nn.Module):
    def __init__(self, c: list[float], d: list[float]):
        super().__init__()
        self.register_buffer("c", torch.tensor(c, dtype=torch.float64))
        self.register_buffer("d", torch.tensor(d, dtype=torch.float64))
        self.x = torch.nn.Parameter(torch.ones(4, dtype=torch.float64))

    def forward(self, _=None):
        return 0.5 * (self.d * self.x**2).sum() + self.c @ self.x


def _steps(problem: Problem, opt, k: int) -> None:
    step = Step(problem, lambda value, _: value, opt)
    for _ in range(k):
        step(None, None)


@pytest.mark.parametrize("case", CASES, ids=repr)
@SETTINGS
@given(c=coefficients, d=curvatures, k=st.integers(1, 12))
def test_finite_gradients_give_finite_weights(case, c, d, k):
    problem = Problem(c, d)
    _steps(problem, case.build(problem.parameters()), k)
    assert torch.isfinite(problem.x).all(), problem.x


@pytest.mark.parametrize("case", CASES, ids=repr)
@SETTINGS
@given(c=coefficients, d=curvatures, first=st.integers(1, 8), then=st.integers(1, 8))
def test_a_state_dict_round_trip_at_any_step_equals_the_run_that_never_stopped(
    case, c, d, first, then
):
    straight = Problem(c, d)
    _steps(straight, case.build(straight.parameters()), first + then)
    resumed = Problem(c, d)
    opt = case.build(resumed.parameters())
    _steps(resumed, opt, first)
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    again = case.build(resumed.parameters())
    again.load_state_dict(torch.load(buffer, weights_only=True))
    _steps(resumed, again, then)
    torch.testing.assert_close(resumed.x, straight.x, rtol=0, atol=0, equal_nan=True)
