import pytest
import torch

from trainlab import build
from trainlab import optim
from trainlab.config import resolve

# name, overrides, the torch reference (plain per-parameter loop) with its arguments spelled out
CASES = [
    ("sgd", ["optimizer.momentum=0"], lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=0.01, foreach=False)),
    ("sgd", ["optimizer.momentum=0.9", "optimizer.nesterov=true"],
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01, foreach=False)),
    ("adagrad", [], lambda p: torch.optim.Adagrad(p, lr=0.05, eps=1e-8, weight_decay=0.01, foreach=False)),
    ("rmsprop", ["optimizer.momentum=0.5", "optimizer.alpha=0.9"],
     lambda p: torch.optim.RMSprop(p, lr=0.05, alpha=0.9, eps=1e-8, momentum=0.5, weight_decay=0.01, foreach=False)),
    ("adadelta", ["optimizer.rho=0.95"],
     lambda p: torch.optim.Adadelta(p, lr=0.05, rho=0.95, eps=1e-8, weight_decay=0.01, foreach=False)),
    ("adam", ["optimizer.betas=[0.8, 0.99]"],
     lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.01, foreach=False)),
    ("adamw", [], lambda p: torch.optim.AdamW(p, lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, foreach=False)),
]


def _params():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(7, 5, generator=g, dtype=torch.float64).requires_grad_(),
            torch.randn(5, generator=g, dtype=torch.float64).requires_grad_()]


def _loss(params):
    w, b = params
    return ((w.sin() @ b).pow(2).sum() + (w ** 4).mean() + b.abs().sum())


@pytest.mark.parametrize("name, overrides, reference", CASES)
def test_matches_the_plain_torch_optimizer(name, overrides, reference):
    ours, ref = _params(), _params()
    cfg = resolve(None, [f"optimizer.name={name}", "optimizer.lr=0.05",
                         "optimizer.weight_decay=0.01"] + overrides)
    opt, ref_opt = build.optimizer(cfg, ours), reference(ref)
    assert opt.defaults.get("fused") or opt.defaults.get("foreach")  # the fast path is used
    for _ in range(25):
        for params, o in ((ours, opt), (ref, ref_opt)):
            o.zero_grad()
            _loss(params).backward()
            o.step()
    for p, q in zip(ours, ref):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-12)


def _quadratic_steps(cfg, steps=2):
    """w starts at 1 on f(w) = w^2 / 2 (gradient = w)."""
    w = torch.ones(1, dtype=torch.float64, requires_grad=True)
    opt = build.optimizer(resolve(None, cfg), [w])
    out = []
    for _ in range(steps):
        opt.zero_grad()
        (w ** 2 / 2).sum().backward()
        opt.step()
        out.append(w.item())
    return out


def test_momentum_and_nesterov_by_hand():
    base = ["optimizer.name=sgd", "optimizer.lr=0.1", "optimizer.weight_decay=0",
            "optimizer.momentum=0.9"]
    # v1 = g0 = 1, w1 = 0.9; v2 = 0.9 * 1 + 0.9 = 1.8, w2 = 0.9 - 0.18 = 0.72
    assert _quadratic_steps(base) == pytest.approx([0.9, 0.72])
    # Nesterov: update g + mu v. w1 = 1 - 0.1 * 1.9 = 0.81; v2 = 0.9 + 0.81 = 1.71,
    # w2 = 0.81 - 0.1 * (0.81 + 0.9 * 1.71) = 0.5751
    assert _quadratic_steps(base + ["optimizer.nesterov=true"]) == pytest.approx([0.81, 0.5751])
