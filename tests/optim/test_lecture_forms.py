"""The slides' update rules (trainlab.optim.lecture) against the slides' formulas computed by hand
in float64 with NumPy, several steps: lecture 000's momentum and Nesterov (s16-18, s24-28), its
RMSProp with eps inside the root (s92), lecture 002's Adam without bias correction. Where the
forms coincide with PyTorch's, tests/optim/cases.py's rows check them against torch.optim."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainlab import build
from trainlab.config import resolve
from trainlab.optim import LectureAdam, LectureRMSprop, LectureSGD, innermost

_RNG = np.random.default_rng(0)
_Q, _ = np.linalg.qr(_RNG.standard_normal((6, 6)))
A = _Q @ np.diag(np.linspace(0.5, 4.0, 6)) @ _Q.T
B = _RNG.standard_normal(6)
W0 = _RNG.standard_normal(6)
# a rate that changes at every step, as a schedule makes it
RATES = [0.05, 0.04, 0.1, 0.02, 0.07, 0.03, 0.06, 0.01]


def loss(w: torch.Tensor) -> torch.Tensor:
    """f(w) = 1/2 w'Aw - b'w + sum(w^4) / 4 (non-quadratic)."""
    a, b = torch.from_numpy(A), torch.from_numpy(B)
    return 0.5 * w @ a @ w - b @ w + (w**4).sum() / 4


def gradient(w: np.ndarray) -> np.ndarray:
    """f's gradient by hand: A w - b + w^3."""
    return A @ w - B + w**3


def run(make, rates=RATES) -> tuple[torch.Tensor, torch.optim.Optimizer]:
    """``make([w])`` stepped once per rate, the rate set before each step (as a schedule does)."""
    w = torch.tensor(W0, requires_grad=True)
    opt = make([w])
    for lr in rates:
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad()
        loss(w).backward()
        opt.step()
    return w.detach(), opt


def slide_momentum(beta: float, rates=RATES, nesterov: bool = False):
    """Lecture 000: dW = beta dW - lr grad(W) (s16), or grad(W + beta dW) (Nesterov, s28);
    W = W + dW. Returns W and dW."""
    w, dw = W0.copy(), np.zeros(6)
    for lr in rates:
        dw = beta * dw - lr * gradient(w + beta * dw if nesterov else w)
        w = w + dw
    return w, dw


def test_momentum_in_the_lectures_form_is_the_slides_formula_under_a_changing_rate():
    ours, _ = run(lambda p: LectureSGD(p, momentum=0.9))
    np.testing.assert_allclose(ours.numpy(), slide_momentum(0.9)[0], rtol=1e-12, atol=1e-14)


def test_nesterov_in_the_lectures_form_takes_the_gradient_at_the_look_ahead_point():
    ours, opt = run(lambda p: LectureSGD(p, momentum=0.9, nesterov=True))
    w, dw = slide_momentum(0.9, nesterov=True)
    # the parameters hold W + beta dW (where the slide takes the next gradient); the slide's W
    np.testing.assert_allclose(ours.numpy(), w + 0.9 * dw, rtol=1e-12, atol=1e-14)
    (p,) = opt.param_groups[0]["params"]
    np.testing.assert_allclose(opt.slide_weights(p).numpy(), w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("nesterov", [False, True])
def test_the_two_forms_are_equal_at_a_constant_rate_and_differ_under_a_schedule(nesterov):
    def both(rates):
        forms = {}
        for form in ("torch", "lecture"):
            overrides = [
                "optimizer.name=sgd",
                "optimizer.momentum=0.9",
                f"optimizer.nesterov={str(nesterov).lower()}",
                f"optimizer.momentum_form={form}",
                "optimizer.weight_decay=0",
            ]
            config = resolve(None, overrides)
            forms[form] = run(lambda p, c=config: build.optimizer(c, p), rates)[0]
        return forms

    constant = both([0.05] * len(RATES))
    torch.testing.assert_close(constant["torch"], constant["lecture"], rtol=1e-12, atol=1e-14)
    changing = both(RATES)
    assert (changing["torch"] - changing["lecture"]).abs().max() > 1e-3
    # torch's is the slide's with every past gradient rescaled by today's rate: v = -dW / lr
    # is not what the slide remembers, so only the lecture's form is the slide's formula
    w, dw = slide_momentum(0.9, nesterov=nesterov)
    expected = w + 0.9 * dw if nesterov else w
    np.testing.assert_allclose(changing["lecture"].numpy(), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_rmsprop_with_eps_inside_the_root_is_lecture_000s_formula(momentum):
    alpha, eps = 0.9, 1e-3  # a large eps, so that inside and outside the root differ visibly
    make = lambda p: LectureRMSprop(  # noqa: E731
        p, alpha=alpha, eps=eps, momentum=momentum, eps_inside_sqrt=True
    )
    ours, _ = run(make)
    w, mean_square, buf = W0.copy(), np.zeros(6), np.zeros(6)
    for lr in RATES:  # s92: E[g^2] = alpha E[g^2] + (1 - alpha) g^2; w -= lr g / sqrt(E + eps)
        g = gradient(w)
        mean_square = alpha * mean_square + (1 - alpha) * g**2
        buf = momentum * buf + g / np.sqrt(mean_square + eps)
        w = w - lr * buf
    np.testing.assert_allclose(ours.numpy(), w, rtol=1e-12, atol=1e-14)
    outside, _ = run(lambda p: torch.optim.RMSprop(p, alpha=alpha, eps=eps, momentum=momentum))
    assert (ours - outside).abs().max() > 1e-4


def test_adam_without_bias_correction_is_lecture_002s_formula():
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    ours, _ = run(lambda p: LectureAdam(p, betas=(beta1, beta2), eps=eps, bias_correction=False))
    w, m, v = W0.copy(), np.zeros(6), np.zeros(6)
    for lr in RATES:  # b = a b + (1 - a) g; c = y c + (1 - y) g^2; w -= lr b / (sqrt(c) + eps)
        g = gradient(w)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        w = w - lr * m / (np.sqrt(v) + eps)
    np.testing.assert_allclose(ours.numpy(), w, rtol=1e-12, atol=1e-14)
    corrected, _ = run(lambda p: torch.optim.Adam(p, betas=(beta1, beta2), eps=eps))
    # the first step without the correction is (1 - beta1) / sqrt(1 - beta2) ~ 3.2 times larger
    first, _ = run(lambda p: LectureAdam(p, bias_correction=False), RATES[:1])
    first_torch, _ = run(lambda p: torch.optim.Adam(p), RATES[:1])
    ratio = (first - torch.from_numpy(W0)) / (first_torch - torch.from_numpy(W0))
    torch.testing.assert_close(ratio, torch.full_like(ratio, 0.1 / 0.001**0.5), rtol=1e-6, atol=0)
    assert (ours - corrected).abs().max() > 1e-3


def test_the_config_builds_the_slides_forms_only_when_asked():
    def built(*overrides):
        return type(innermost(build.optimizer(resolve(None, list(overrides)), [W()])))

    def W():
        return torch.nn.Parameter(torch.zeros(2))

    assert built("optimizer.name=momentum") is torch.optim.SGD
    assert built("optimizer.name=nesterov", "optimizer.momentum_form=lecture") is LectureSGD
    assert built("optimizer.name=rmsprop") is torch.optim.RMSprop
    assert built("optimizer.name=rmsprop", "optimizer.eps_inside_sqrt=true") is LectureRMSprop
    assert built("optimizer.name=adam") is torch.optim.Adam
    assert built("optimizer.name=adam", "optimizer.bias_correction=false") is LectureAdam
