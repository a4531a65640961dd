"""Every row of the optimizer table (tests/optim/cases.py) passes the same checks: it goes
downhill on a quadratic at its usual rate, a ``state_dict`` round trip mid-run (with a scheduler)
gives the uninterrupted run's weights, finite gradients give finite weights, bad arguments raise
PyTorch-style errors, and a row with a reference equals it step for step."""

import io

import pytest
import torch

from trainlab.config import resolve
from trainlab.optim import OPTIMIZERS, innermost
from trainlab.training.step import Step

from tests.optim.cases import CASES, REGISTERED, WITH_REFERENCE, usual_lr, wide, wide_loss


def test_the_table_covers_every_registered_optimizer():
    assert sorted(c.id for c in REGISTERED) == sorted(OPTIMIZERS)


class Quadratic(torch.nn.Module):
    """f(x) = 1/2 x'Ax - b'x in float64, A symmetric positive definite with eigenvalues 1..10."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        q, _ = torch.linalg.qr(torch.randn(10, 10, generator=g, dtype=torch.float64))
        eigenvalues = torch.linspace(1, 10, 10, dtype=torch.float64)
        self.register_buffer("a", q @ torch.diag(eigenvalues) @ q.T)
        self.register_buffer("b", torch.randn(10, generator=g, dtype=torch.float64))
        self.x = torch.nn.Parameter(torch.randn(10, generator=g, dtype=torch.float64))

    def forward(self, _=None):
        return 0.5 * self.x @ self.a @ self.x - self.b @ self.x


def _small(dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    return [
        torch.randn(7, 5, generator=g, dtype=dtype).requires_grad_(),
        torch.randn(5, generator=g, dtype=dtype).requires_grad_(),
    ]


def _small_loss(ps):
    w, b = ps
    return (w.sin() @ b).pow(2).sum() + (w**4).mean() + b.abs().sum()


PROBLEMS = {"small": (_small, _small_loss), "wide": (wide, wide_loss)}


class Net(torch.nn.Module):
    """A non-convex loss of three float32 parameters (23,550 numbers): the wide problem's terms
    as means, so that every row's rate keeps it finite for 10 steps."""

    def __init__(self):
        super().__init__()
        self.ps = torch.nn.ParameterList(wide(torch.float32))

    def forward(self, _=None):
        w, b, c = self.ps
        return (
            (w.sin() @ b).pow(2).mean()
            + (w**4).mean()
            + (b - 0.3).pow(2).mean()
            + (c.cos() * torch.linspace(-1, 1, len(c))).mean()
        )


def _steps(step: Step, k: int) -> None:
    for _ in range(k):
        step(None, None)


def _step(model, opt) -> Step:
    return Step(model, lambda value, _: value, opt)


@pytest.mark.parametrize("case", [c for c in CASES if c.make is None], ids=repr)
def test_goes_downhill_on_a_quadratic_at_its_usual_rate(case):
    f = Quadratic()
    start = f().item()
    _steps(_step(f, case.build(f.parameters(), f"optimizer.lr={usual_lr(case)}")), 30)
    assert f().item() < start - 1e-3


# Newton's exact Hessian of Net's 23,550 parameters would be 4 GB: Newton has the quadratic only
ROUND_TRIPS = [
    (c, p) for c in CASES for p in ("quadratic", "net") if not (p == "net" and c.name == "newton")
]


@pytest.mark.parametrize("case, problem", ROUND_TRIPS, ids=[f"{c.id}-{p}" for c, p in ROUND_TRIPS])
def test_state_dict_round_trip_mid_run_equals_an_uninterrupted_run(case, problem):
    """Optimizer and StepLR state saved with torch.save, loaded into fresh objects after 5 of
    10 steps: exactly the weights of 10 uninterrupted steps."""
    problems = {"quadratic": Quadratic, "net": Net}

    def run(split):
        torch.manual_seed(0)  # diag_newton's Hutchinson draws (a run's checkpoint saves the RNG)
        model = problems[problem]()
        opt = case.build(model.parameters())
        schedule = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
        step = _step(model, opt)
        for i in range(10):
            if i == split:
                buffer = io.BytesIO()
                torch.save({"opt": opt.state_dict(), "schedule": schedule.state_dict()}, buffer)
                buffer.seek(0)
                state = torch.load(buffer, weights_only=True)
                opt = case.build(model.parameters())
                schedule = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
                opt.load_state_dict(state["opt"])
                schedule.load_state_dict(state["schedule"])
                step = _step(model, opt)
            step(None, None)
            schedule.step()
        return list(model.parameters())

    for p, q in zip(run(None), run(5)):
        assert torch.isfinite(p).all() and torch.equal(p, q)


@pytest.mark.parametrize("case", CASES, ids=repr)
@pytest.mark.parametrize("gradient", [0.0, 1e-30, 1e30])
def test_finite_gradients_give_finite_weights(case, gradient):
    x = torch.nn.Parameter(torch.ones(5, dtype=torch.float64))
    opt = case.build([x])
    for _ in range(5):  # the same gradient every time: zero slope changes for secant methods
        x.grad = torch.full_like(x, gradient)
        opt.step(lambda: (x * gradient).sum())  # the loss whose gradient that is
        assert torch.isfinite(x).all(), x


@pytest.mark.parametrize("case", REGISTERED, ids=repr)
def test_bad_arguments_raise_clear_errors(case):
    entry, options = OPTIMIZERS[case.name], resolve(None, case.overrides).optimizer
    cls, kwargs = entry.build(**{key: getattr(options, key) for key in entry.reads})
    params = [torch.nn.Parameter(torch.ones(3))]
    with pytest.raises(ValueError, match="Invalid learning rate"):
        cls(params, lr=-1.0, **kwargs)
    bad, message = case.bad
    assert bad or not kwargs, "an optimizer with arguments needs a bad one in its row"
    if bad:
        with pytest.raises(ValueError, match=message):
            cls(params, lr=0.01, **{**kwargs, **bad})


@pytest.mark.parametrize("case", WITH_REFERENCE, ids=repr)
def test_equals_its_reference_step_for_step(case):
    """float64, every step, on the reference's non-convex problem."""
    reference = case.reference
    make_params, loss = PROBLEMS[reference.problem]
    ours, theirs = make_params(), make_params()
    opt, ref = case.build(ours), reference.make(theirs)
    if case.make is None and type(innermost(opt)).__module__.startswith("torch.optim"):
        assert opt.defaults.get("fused") or opt.defaults.get("foreach")  # the fast path is used
    for _ in range(reference.steps):
        for params, o in ((ours, opt), (theirs, ref)):
            o.zero_grad()
            loss(params).backward()
            o.step()
        for p, q in zip(ours, theirs):
            torch.testing.assert_close(p, q, rtol=reference.rtol, atol=reference.atol)
    if reference.state:
        mine, its = opt.state_dict()["state"], ref.state_dict()["state"]
        assert mine.keys() == its.keys()
        for k in its:
            for name, value in its[k].items():
                torch.testing.assert_close(
                    mine[k][name].to(value.dtype), value, rtol=reference.rtol, atol=reference.atol
                )
