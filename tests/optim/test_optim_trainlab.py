"""trainlab's own optimizers against hand-computed sequences and their own reference paths
(against torch.optim, and the checks every optimizer passes: tests/optim/cases.py)."""

import math

import pytest
import torch

from trainlab.optim import SWATS, GradientClipping, GradientNoise, QuickProp, Rprop

from tests.optim.cases import wide, wide_loss

# a 23,550-parameter problem with curvature, also used by the shared checks
_params, _loss = wide, wide_loss


def lockstep(*pairs, loss=_loss):
    """One step of each (params, optimizer) pair on the same loss."""
    for params, opt in pairs:
        opt.zero_grad()
        loss(params).backward()
        opt.step()


def _rprop_path(variant, w0, lr, steps):
    """Rprop on E(w) = w^2 from w0; the closure returns E and leaves dE/dw = 2w."""
    w = torch.tensor([w0], dtype=torch.float64, requires_grad=True)
    opt = Rprop([w], lr=lr, etas=(0.5, 1.2), variant=variant)

    def closure():
        opt.zero_grad()
        loss = (w**2).sum()
        loss.backward()
        return loss

    path = []
    for _ in range(steps):
        opt.step(closure)
        path.append(round(w.item(), 12))
    return path


def test_the_four_variants_by_hand():
    # E = w^2, w0 = 1, Delta0 = 0.5: g = 2 -> w = 0.5; g = 1, same sign -> Delta 0.6, w = -0.1;
    # g = -0.2, sign change -> Delta 0.3, and then the variants differ:
    # rprop-: steps anyway, w = 0.2; then g = 0.4 changes sign again: Delta 0.15, w = 0.05
    assert _rprop_path("rprop-", 1.0, 0.5, 4) == [0.5, -0.1, 0.2, 0.05]
    # irprop-: no step on the sign change (g := 0); next step with Delta 0.3: w = 0.2
    assert _rprop_path("irprop-", 1.0, 0.5, 4) == [0.5, -0.1, -0.1, 0.2]
    # rprop+: undoes the previous step (w = -0.1 + 0.6 = 0.5), then steps by Delta 0.3: 0.2
    assert _rprop_path("rprop+", 1.0, 0.5, 4) == [0.5, -0.1, 0.5, 0.2]
    # irprop+: the loss fell (0.25 -> 0.01), so no backtracking: like irprop- here
    assert _rprop_path("irprop+", 1.0, 0.5, 4) == [0.5, -0.1, -0.1, 0.2]
    # irprop+ when the loss rose: w0 = 1, Delta0 = 2.5 -> w = -1.5 (E 1 -> 2.25); the sign
    # change backtracks to w = 1, then steps by Delta 1.25 to -0.25
    assert _rprop_path("irprop+", 1.0, 2.5, 3) == [-1.5, 1.0, -0.25]


def test_irprop_plus_needs_the_loss():
    w = torch.ones(1, requires_grad=True)
    w.grad = torch.ones(1)
    with pytest.raises(RuntimeError, match="needs the loss"):
        Rprop([w], variant="irprop+").step()


def test_quickprop_lands_on_the_minimum_of_a_separable_quadratic():
    # E = sum a_i (w_i - c_i)^2 / 2: diagonal Hessian; lr * a_i >= 1 / 2.75 so no step is capped
    a = torch.tensor([1.0, 1.5, 0.8, 3.0], dtype=torch.float64)
    c = torch.tensor([1.0, -2.0, 3.0, 0.5], dtype=torch.float64)
    w = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    opt = QuickProp([w], lr=0.5)
    for _ in range(2):
        opt.zero_grad()
        (a * (w - c) ** 2 / 2).sum().backward()
        opt.step()
    torch.testing.assert_close(w.detach(), c, rtol=0, atol=1e-12)


def test_quickprop_rules_by_hand():
    # E = 0.5 (w - 3)^2 / 2 from w = 0, lr 0.5: gradient step 0.75 (rule 1); secant 2.25 is
    # more than 1.75 * 0.75, slope kept its sign: 1.3125 + 0.5 * 1.125 = 1.875 (rule 3) -> 2.625;
    # then the secant step from there is exact (rule 2) -> 3
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = QuickProp([w], lr=0.5)
    path = []
    for _ in range(3):
        opt.zero_grad()
        (0.5 * (w - 3) ** 2 / 2).sum().backward()
        opt.step()
        path.append(w.item())
    assert path == pytest.approx([0.75, 2.625, 3.0], abs=1e-12)


def test_gradient_noise_variance_and_schedule():
    w = torch.zeros(200_000, requires_grad=True)
    sgd = torch.optim.SGD([w], lr=1.0)
    opt = GradientNoise(sgd, eta=0.3, gamma=0.55, seed=0)
    for t in range(3):
        w.grad = torch.zeros_like(w)
        before = w.detach().clone()
        opt.step()
        noise = before - w.detach()  # lr 1, zero gradient: the step is the noise
        assert noise.var().item() == pytest.approx(0.3 / (1 + t) ** 0.55, rel=0.02)
        assert abs(noise.mean().item()) < 0.01
    assert opt.param_groups is sgd.param_groups


def test_gradient_noise_is_seeded_and_resumes():
    def run(resume_at=None):
        w = torch.zeros(10, requires_grad=True)
        opt = GradientNoise(torch.optim.SGD([w], lr=0.1), seed=3)
        for t in range(6):
            if t == resume_at:
                state = opt.state_dict()
                opt = GradientNoise(torch.optim.SGD([w], lr=0.1), seed=99)
                opt.load_state_dict(state)
            w.grad = torch.ones(10)
            opt.step()
        return w.detach()

    assert torch.equal(run(), run(resume_at=3))


def test_gradient_clipping_by_value_and_norm():
    w = torch.zeros(3, requires_grad=True)
    opt = GradientClipping(torch.optim.SGD([w], lr=1.0), max_value=5.0)
    w.grad = torch.tensor([7.0, -9.0, 2.0])
    opt.step()
    assert w.tolist() == [-5.0, 5.0, -2.0]  # lecture 000: clamp each derivative to [-5, 5]
    w = torch.zeros(2, requires_grad=True)
    opt = GradientClipping(torch.optim.SGD([w], lr=1.0), max_norm=1.0)
    w.grad = torch.tensor([3.0, 4.0])
    opt.step()
    torch.testing.assert_close(w.detach(), torch.tensor([-0.6, -0.8]))
    assert opt.last_norm.item() == pytest.approx(5.0)


def test_wrappers_work_with_torch_schedulers():
    w = torch.zeros(1, requires_grad=True)
    opt = GradientClipping(GradientNoise(torch.optim.SGD([w], lr=1.0), eta=0.0), max_norm=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        w.grad = torch.ones(1)
        opt.step()
        sched.step()
    assert opt.optimizer.optimizer.param_groups[0]["lr"] == 0.125


def test_swats_switches_at_the_given_step_to_sgd_at_the_given_rate():
    # (its Adam phase is Adam: tests/optim/cases.py, "adam then sgd, the adam phase")
    w = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    o = SWATS([w], lr=0.1, eps=1e-8, switch_at=5, sgd_lr=0.2)
    for _ in range(5):
        lockstep(([w], o), loss=lambda ps: (ps[0] ** 2).sum())
    assert o.param_groups[0]["switched_at"] is None
    # step 6 is SGD with momentum 0.9: v = g, w -= (1 - 0.9) * 0.2 * g
    before = w.detach().clone()
    o.zero_grad()
    (w**2).sum().backward()
    o.step()
    assert o.param_groups[0]["switched_at"] == 5 and o.param_groups[0]["sgd_lr"] == 0.2
    torch.testing.assert_close(w.detach(), before - 0.1 * 0.2 * 2 * before)


def test_swats_switches_by_itself_when_the_projected_rate_settles():
    # on a quadratic with equal curvature Adam's steps settle to a fixed direction, and the
    # projected SGD rate gamma_k converges; with a loose tolerance the switch must happen
    w = torch.tensor([3.0, -3.0], dtype=torch.float64, requires_grad=True)
    opt = SWATS([w], lr=0.01, eps=1e-3)
    for _ in range(500):
        opt.zero_grad()
        (w**2).sum().backward()
        opt.step()
    g = opt.param_groups[0]
    assert g["switched_at"] is not None and g["sgd_lr"] > 0 and math.isfinite(g["sgd_lr"])


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_quickprop_chunked_path_equals_the_reference(weight_decay, monkeypatch):
    """The fast path against the readable per-parameter loop, float64, 20 steps; small chunks
    so that parameters span several of them. The paths differ by rounding only (fused
    multiply-adds), but secant steps divide by slope differences and amplify it ~10x every 5
    steps on this loss (measured: 1e-16 after 1 step, 4e-13 after 20, 3e-6 after 50)."""
    import trainlab.optim.chunked as chunked

    monkeypatch.setattr(chunked, "CHUNK", 1000)
    fast, ref = _params(), _params()
    of = QuickProp(fast, lr=0.01, weight_decay=weight_decay)
    orf = QuickProp(ref, lr=0.01, weight_decay=weight_decay, foreach=False)
    for _ in range(20):
        lockstep((fast, of), (ref, orf))
    for p, q in zip(fast, ref):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-10)
        for name in ("prev_slope", "prev_update"):
            torch.testing.assert_close(
                of.state[p][name], orf.state[q][name], rtol=1e-10, atol=1e-10
            )
