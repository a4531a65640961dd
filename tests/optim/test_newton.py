"""Newton and diagonal Newton against references no one here wrote: a quadratic's minimizer
A^-1 b (torch.linalg.solve), torch.autograd.functional.hessian, Hutchinson's estimator's known
variance, and hand-computed Levenberg-Marquardt decisions."""

import math

import numpy as np
import pytest
import torch

import trainlab
from trainlab import build, optim
from trainlab.config import resolve
from trainlab.errors import UserError
from trainlab.experiments.trajectories import run as trajectory
from trainlab.optim.newton import DiagNewton, Newton, hessian, hutchinson_diagonal

from tests.conftest import FAST


def _quadratic(diagonal: bool = False):
    """f(x) = 1/2 x'Ax - b'x, float64, A positive definite (eigenvalues 1..10)."""
    g = torch.Generator().manual_seed(0)
    eig = torch.linspace(1, 10, 10, dtype=torch.float64)
    if diagonal:
        a = torch.diag(eig)
    else:
        q, _ = torch.linalg.qr(torch.randn(10, 10, generator=g, dtype=torch.float64))
        a = q @ torch.diag(eig) @ q.T
    b = torch.randn(10, generator=g, dtype=torch.float64)
    x = torch.randn(10, generator=g, dtype=torch.float64, requires_grad=True)
    return a, b, x, lambda: 0.5 * x @ a @ x - b @ x


def _step(opt, x, f):
    opt.zero_grad()
    f().backward()
    opt.step(f)


def test_one_newton_step_reaches_the_minimizer_of_a_quadratic():
    a, b, x, f = _quadratic()
    opt = Newton([x], lr=1.0, damping=0.0)
    _step(opt, x, f)
    torch.testing.assert_close(x.detach(), torch.linalg.solve(a, b), rtol=1e-10, atol=1e-10)
    assert opt.state[x]["solves"] == {"cholesky": 1}


def test_diagonal_newton_equals_newton_when_the_hessian_is_diagonal():
    a, b, x, f = _quadratic(diagonal=True)
    a2, b2, y, f2 = _quadratic(diagonal=True)
    newton, diag = Newton([x], lr=0.5, damping=0.1), DiagNewton([y], lr=0.5, damping=0.1)
    for _ in range(4):
        _step(newton, x, f)
        _step(diag, y, f2)
        torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-12)
    _step(DiagNewton([y], lr=1.0, damping=0.0), y, f2)
    torch.testing.assert_close(y.detach(), torch.linalg.solve(a2, b2), rtol=1e-10, atol=1e-10)


def test_the_hessian_of_a_small_mlp_is_torch_autograd_functional_hessian():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)
    ).double()
    x, y = torch.randn(7, 3, dtype=torch.float64), torch.tensor([0, 1, 1, 0, 1, 0, 0])
    params = list(model.parameters())
    ours = hessian(torch.nn.functional.cross_entropy(model(x), y), params)
    shapes = [p.shape for p in params]

    def loss_of(flat):
        chunks, offset = {}, 0
        for (name, _), shape in zip(model.named_parameters(), shapes):
            chunks[name] = flat[offset : offset + shape.numel()].view(shape)
            offset += shape.numel()
        return torch.nn.functional.cross_entropy(torch.func.functional_call(model, chunks, (x,)), y)

    flat = torch.cat([p.detach().reshape(-1) for p in params])
    reference = torch.autograd.functional.hessian(loss_of, flat)
    torch.testing.assert_close(ours, reference, rtol=1e-10, atol=1e-12)


@pytest.mark.slow
def test_hutchinsons_estimate_converges_to_the_exact_diagonal():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(5, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)
    ).double()
    x, y = torch.randn(20, 5, dtype=torch.float64), torch.randint(0, 3, (20,))
    params = list(model.parameters())
    loss = torch.nn.functional.cross_entropy(model(x), y)
    h = hessian(loss, params)
    exact = h.diagonal()
    # one draw's entry i has variance sum_{j != i} H_ij^2; the mean of S draws 1/S of it
    off = (h**2).sum(1) - exact**2
    errors = {}
    for samples in (50, 5000):
        estimate = hutchinson_diagonal(loss, params, samples, torch.Generator().manual_seed(1))
        errors[samples] = (estimate - exact).abs()
        # 5 standard deviations: each entry fails with probability < 6e-7
        assert (errors[samples] <= 5 * torch.sqrt(off / samples) + 1e-12).all()
    assert errors[5000].mean() < errors[50].mean() / 4  # ~ 1/sqrt(S): 10x fewer in expectation


def test_an_indefinite_hessian_draws_newton_to_the_saddle():
    # f = x^2 - y^2: Cholesky fails, LU gives the exact Newton step, straight to the saddle
    xy = torch.tensor([1.0, 0.5], dtype=torch.float64, requires_grad=True)
    f = lambda: xy[0] ** 2 - xy[1] ** 2  # noqa: E731
    opt = Newton([xy], damping=0.0, adapt_damping=False)
    _step(opt, xy, f)
    assert xy.detach().abs().max() < 1e-12 and opt.state[xy]["solves"] == {"lu": 1}
    # on trajectories' saddle function the undamped step heads for the saddle at (0, 0), not
    # the minima at (0, +-sqrt 2), as the lecture warns
    undamped = ["optimizer.damping=0", "optimizer.adapt_damping=false"]
    x, y, value = trajectory("saddle", "newton", steps=5, lr=1.0, overrides=undamped).points[-1]
    assert abs(x) < 1e-6 and abs(y) < 1e-6 and abs(value) < 1e-9


def test_a_singular_hessian_falls_back_to_the_pseudo_inverse():
    xy = torch.tensor([1.0, 3.0], dtype=torch.float64, requires_grad=True)
    f = lambda: xy[0] ** 2  # noqa: E731  (no curvature along y)
    opt = Newton([xy], damping=0.0, adapt_damping=False)
    _step(opt, xy, f)
    assert opt.state[xy]["solves"] == {"pinv": 1}
    torch.testing.assert_close(xy.detach(), torch.tensor([0.0, 3.0], dtype=torch.float64))


def test_newton_lands_on_the_long_valleys_minimum_in_one_step():
    x, y, value = trajectory(
        "long_valley", "newton", steps=1, lr=1.0, overrides=["optimizer.damping=0"]
    ).points[-1]
    assert abs(x) < 1e-12 and abs(y) < 1e-12


@pytest.mark.parametrize(
    "f, start, grows",
    [
        (lambda w: w**4, 1.0, False),  # rho = (1 - (2/3)^4) / (2/3) = 1.2 > 3/4: damping shrinks
        (lambda w: torch.sqrt(1 + w**2), 2.0, True),  # overshoots to w ~ -8: rho < 1/4, grows
    ],
)
def test_levenberg_marquardt_adapts_the_damping(f, start, grows):
    w = torch.tensor([start], dtype=torch.float64, requires_grad=True)
    opt = Newton([w], damping=1e-6, adapt_damping=True)
    _step(opt, w, lambda: f(w).sum())
    assert opt.param_groups[0]["damping"] == pytest.approx(1e-6 * (1.5 if grows else 2 / 3))


def test_too_big_a_model_is_one_clear_error():
    # 210 float32 parameters: 4 n^2 values of 4 bytes = 705,600 bytes = 0.67 MiB
    config = resolve(None, ["optimizer.name=newton", "optimizer.hessian_memory_mb=0.6"])
    model = torch.nn.Linear(20, 10)
    with pytest.raises(
        UserError,
        match=r"optimizer.name = newton: .*210 parameters need about 0.7 MiB .*, more than "
        r"optimizer.hessian_memory_mb = 0.6",
    ):
        build.optimizer(config, model.parameters())
    fits = resolve(config, ["optimizer.hessian_memory_mb=0.7"])
    assert isinstance(optim.innermost(build.optimizer(fits, model.parameters())), Newton)
    assert isinstance(
        build.optimizer(resolve(config, ["optimizer.name=diag_newton"]), model.parameters()),
        DiagNewton,
    )


def test_too_big_a_model_is_refused_on_the_command_line_before_training(tmp_path, capsys):
    from trainlab.cli import main

    # an MLP [2000] with batch norm on moons: 12,002 parameters, 4 n^2 float32 values
    big = ["data.name=moons", "model.name=mlp", "model.hidden=[2000]", "optimizer.name=newton"]
    code = main(["train", *big, "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert (
        "12,002 parameters need about 2,198.0 MiB" in err
        and "optimizer.hessian_memory_mb = 1024" in err
    )
    assert not (tmp_path / "run" / "last.pt").exists()


@pytest.mark.slow
def test_newton_trains_a_small_net_through_the_training_step():
    from trainlab.training.loop import evaluate

    config = resolve(
        None,
        FAST
        + [
            "model.hidden=[8]",
            "model.dropout=0",
            "train.batch_size=full",
            "optimizer.name=newton",
            "optimizer.momentum=0",
            "optimizer.lr=1",
            "optimizer.damping=1",
            "optimizer.adapt_damping=true",
        ],
    )
    splits = build.load_data(config)
    parts = build.parts(config, splits)
    before, _ = evaluate(parts.model, splits.x_train, splits.y_train, parts.loss_fn)
    for _ in range(10):
        parts.step(splits.x_train, splits.y_train)
    after, _ = evaluate(parts.model, splits.x_train, splits.y_train, parts.loss_fn)
    assert after < 0.8 * before and math.isfinite(after)
    described = optim.describe(parts.optimizer)
    assert sum(described["newton_solves"].values()) == 10 and described["damping"] > 0


# --- PyTorch's closure convention (torch.optim.LBFGS's): the closure calls backward itself ----


def _logistic_problem():
    """Logistic regression in float64: 40 points, 3 features + bias, labels from a noisy plane."""
    g = torch.Generator().manual_seed(3)
    x = torch.cat(
        [
            torch.randn(40, 3, generator=g, dtype=torch.float64),
            torch.ones(40, 1, dtype=torch.float64),
        ],
        1,
    )
    y = (
        (
            x[:, :3] @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
            + 0.5 * torch.randn(40, generator=g, dtype=torch.float64)
        )
        > 0
    ).to(torch.float64)
    w = (0.3 * torch.randn(4, generator=g, dtype=torch.float64)).requires_grad_()
    return x, y, w


def _lbfgs_closure(opt, loss_of):
    """Exactly the closure torch.optim.LBFGS takes."""

    def closure():
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        return loss

    return closure


@pytest.mark.parametrize("lr, damping", [(1.0, 0.0), (0.7, 0.3)])
def test_one_newton_step_with_an_lbfgs_closure_is_the_hand_computed_step(lr, damping):
    # logistic loss L(w) = mean(softplus(Xw) - y Xw): g = X'(p - y)/n, H = X' diag(p(1-p)) X / n
    x, y, w = _logistic_problem()
    n = len(y)
    w0 = w.detach().clone()
    p = torch.sigmoid(x @ w0)
    g = x.T @ (p - y) / n
    h = x.T @ (x * (p * (1 - p))[:, None]) / n
    loss_of = lambda v: torch.nn.functional.binary_cross_entropy_with_logits(x @ v, y)  # noqa: E731
    torch.testing.assert_close(
        torch.autograd.functional.hessian(loss_of, w0), h, rtol=1e-12, atol=1e-14
    )
    expected = w0 - lr * torch.linalg.solve(h + damping * torch.eye(4, dtype=torch.float64), g)

    opt = Newton([w], lr=lr, damping=damping, adapt_damping=False)
    returned = opt.step(_lbfgs_closure(opt, lambda: loss_of(w)))
    torch.testing.assert_close(w.detach(), expected, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(w.grad, g, rtol=1e-12, atol=1e-14)  # the closure's own gradient
    assert returned.grad_fn is None and returned.item() == pytest.approx(loss_of(w0).item())

    x, y, v = _logistic_problem()
    diag = DiagNewton([v], lr=lr, damping=damping + 1e-3, adapt_damping=False)
    diag.step(_lbfgs_closure(diag, lambda: loss_of(v)))
    torch.testing.assert_close(
        v.detach(), w0 - lr * g / (h.diagonal().abs() + damping + 1e-3), rtol=1e-12, atol=1e-13
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "make",
    [
        lambda params: Newton(params, lr=1.0, damping=1.0, adapt_damping=False),
        lambda params: Newton(params, lr=1.0, damping=1.0, adapt_damping=True),
        lambda params: Newton(params, lr=1.0, damping=1.0, saddle_free=True),
        lambda params: DiagNewton(params, lr=0.5, damping=0.1, adapt_damping=False),
        lambda params: DiagNewton(
            params, lr=0.5, damping=0.1, adapt_damping=False, max_params=10
        ),  # Hutchinson
    ],
    ids=["newton", "newton-lm", "newton-saddle-free", "diag-exact", "diag-hutchinson"],
)
@pytest.mark.parametrize("closure_zeroes", [True, False])
def test_a_plain_loop_with_an_lbfgs_closure_trains(make, closure_zeroes):
    torch.manual_seed(0)
    x = torch.randn(64, 2)
    y = (x[:, 0] - x[:, 1] > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    opt = make(model.parameters())
    loss_of = lambda: torch.nn.functional.cross_entropy(model(x), y)  # noqa: E731
    before = loss_of().item()

    def closure():
        if closure_zeroes:
            opt.zero_grad()
        loss = loss_of()
        loss.backward()
        return loss

    for _ in range(15):
        if not closure_zeroes:
            opt.zero_grad()  # the caller zeroes instead
        loss = opt.step(closure)
        assert loss.grad_fn is None and math.isfinite(loss.item())
    assert loss_of().item() < 0.3 * before


def test_both_conventions_take_the_same_step():
    # trainlab's: gradients already in .grad, the closure only recomputes the loss; PyTorch's:
    # the closure zeroes, runs backward and returns the loss. Same step to the last bit.
    results = []
    for convention in ("trainlab", "pytorch"):
        x, y, w = _logistic_problem()

        def loss_of(x=x, y=y, w=w):
            return torch.nn.functional.binary_cross_entropy_with_logits(x @ w, y)

        opt = Newton([w], lr=0.8, damping=0.05, adapt_damping=True)
        for _ in range(3):
            if convention == "trainlab":
                _step(opt, w, loss_of)
            else:
                opt.step(_lbfgs_closure(opt, loss_of))
        results.append((w.detach().clone(), opt.param_groups[0]["damping"]))
    assert torch.equal(results[0][0], results[1][0]) and results[0][1] == results[1][1]


def test_backward_outside_the_step_still_frees_its_graph():
    # the retain-graph mode is active only while step runs the closure
    x, y, w = _logistic_problem()
    opt = Newton([w])
    opt.step(_lbfgs_closure(opt, lambda: (x @ w).sigmoid().mean()))
    loss = (x @ w).sigmoid().mean()
    loss.backward()
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


# --- the saddle-free step, the Hessian within a memory budget, Newton that trains a small net --


def test_the_saddle_free_step_is_the_hand_computed_eigendecomposition_step():
    # an indefinite 5 x 5 Hessian (eigenvalues -3, -0.5, 0.2, 1, 4) of f = 1/2 w'Hw - b'w;
    # NumPy's eigh in float64: d = Q diag(1 / (|l| + lambda)) Q' g, w <- w - lr d
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    h = q @ np.diag([-3.0, -0.5, 0.2, 1.0, 4.0]) @ q.T
    b, w0 = rng.standard_normal(5), rng.standard_normal(5)
    lr, damping = 0.7, 0.1
    w = torch.tensor(w0, requires_grad=True)
    hh, bb = torch.from_numpy(h), torch.from_numpy(b)
    opt = Newton([w], lr=lr, damping=damping, adapt_damping=False, saddle_free=True)
    expected = w0.copy()
    for _ in range(3):
        _step(opt, w, lambda: 0.5 * w @ hh @ w - bb @ w)
        g = h @ expected - b
        eigenvalues, vectors = np.linalg.eigh(h)
        expected = expected - lr * vectors @ ((vectors.T @ g) / (np.abs(eigenvalues) + damping))
        np.testing.assert_allclose(w.detach().numpy(), expected, rtol=1e-12, atol=1e-13)
    assert opt.state[w]["solves"] == {"saddle_free": 3}


def test_the_saddle_free_step_leaves_the_saddle_that_newton_lands_on():
    # f = x^2 - y^2 from (1, 0.5): Newton steps onto the saddle (0, 0); the saddle-free step
    # (|H| = 2 I) goes to (0, 1): downhill in y, f from 0.75 to -1
    xy = torch.tensor([1.0, 0.5], dtype=torch.float64, requires_grad=True)
    f = lambda: xy[0] ** 2 - xy[1] ** 2  # noqa: E731
    _step(Newton([xy], damping=0.0, adapt_damping=False, saddle_free=True), xy, f)
    torch.testing.assert_close(xy.detach(), torch.tensor([0.0, 1.0], dtype=torch.float64))


def _mlp_loss():
    """A float64 MLP 3-5-2 (32 parameters) and its cross-entropy on 30 seeded points."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)
    ).double()
    x, y = torch.randn(30, 3, dtype=torch.float64), torch.randint(0, 2, (30,))
    return model, x, y, lambda: torch.nn.functional.cross_entropy(model(x), y)


@pytest.mark.parametrize("rows", [1, 4, 7, 32])
def test_the_hessian_formed_in_chunks_of_rows_is_torch_autograd_functional_hessian(rows):
    model, x, y, loss_of = _mlp_loss()
    params = list(model.parameters())
    flat = torch.cat([p.detach().reshape(-1) for p in params])

    def loss_at(v):
        chunks, offset = {}, 0
        for name, p in model.named_parameters():
            chunks[name] = v[offset : offset + p.numel()].view_as(p)
            offset += p.numel()
        logits = torch.func.functional_call(model, chunks, (x,))
        return torch.nn.functional.cross_entropy(logits, y)

    reference = torch.autograd.functional.hessian(loss_at, flat)
    torch.testing.assert_close(hessian(loss_of(), params, rows), reference, rtol=1e-10, atol=1e-12)
    diagonal = hessian(loss_of(), params, rows, diagonal_only=True)
    torch.testing.assert_close(diagonal, reference.diagonal(), rtol=1e-10, atol=1e-12)


def test_the_memory_budget_sets_the_rows_per_pass_and_not_the_step():
    steps = {}
    for memory_mb in (0.04, 0.2, 1024):  # the matrices: 0.03 MiB
        model, _, _, loss_of = _mlp_loss()
        opt = Newton(model.parameters(), damping=0.5, memory_mb=memory_mb)
        opt.zero_grad()
        loss_of().backward()
        opt.step(loss_of)
        steps[opt.rows_per_pass] = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    assert sorted(steps)[0] == 1 and sorted(steps)[-1] == 32 and len(steps) == 3
    first = steps[1]
    for rows, weights in steps.items():
        torch.testing.assert_close(weights, first, rtol=1e-12, atol=1e-14, msg=f"{rows} rows")


def test_diagonal_newton_adapts_its_damping_by_levenberg_marquardt():
    # f = w^4 from w = 1, mu = 1e-6: h = 12, g = 4, d = 4 / (12 + 1e-6) ~ 1/3; actual decrease
    # 1 - (2/3)^4 = 0.802, predicted g d - h d^2 / 2 = 2/3: rho = 1.2 > 3/4, mu shrinks
    w = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    opt = DiagNewton([w], damping=1e-6)
    _step(opt, w, lambda: (w**4).sum())
    assert opt.param_groups[0]["damping"] == pytest.approx(1e-6 * 2 / 3)


MOONS = [
    "data.name=moons",
    "model.name=mlp",
    "model.hidden=[8]",
    "model.dropout=0",
    "model.norm=none",
    "optimizer.weight_decay=0",
    "schedule.name=constant",
    "train.batch_size=full",
    "seed=0",
]


@pytest.mark.parametrize(
    "optimizer, accuracy",
    [
        # measured with seed 0: 0.96, 1.0 and 0.945 (seeds 0-4: 0.875-1.0, 0.895-1.0,
        # 0.90-0.97); at the former defaults (damping 1e-4, no adaptation) 0.47 (seeds 0-4:
        # 0.47-0.89, 0.47-0.795), chance
        (["optimizer.name=newton"], 0.85),
        (["optimizer.name=newton", "optimizer.saddle_free=true"], 0.85),
        (["optimizer.name=diag_newton"], 0.85),
    ],
    ids=["newton", "saddle-free", "diag_newton"],
)
def test_newton_at_its_defaults_learns_moons_with_a_small_net(tmp_path, optimizer, accuracy):
    """30 full-batch steps of an MLP [8] (a non-convex loss of 42 weights)."""
    summary = trainlab.train(None, MOONS + optimizer, out=tmp_path / "run", progress="quiet")
    assert summary["test_accuracy"] >= accuracy
