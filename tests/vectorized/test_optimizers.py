"""The stacked optimizer against PyTorch's own optimizers, one per model: M models with
different hyperparameters step together and each takes its single optimizer's steps."""

from __future__ import annotations

import copy
import functools

import pytest
import torch
from torch.func import stack_module_state

from trainlab.optim import GradientClipping, GradientNoise, Rprop
from trainlab.vectorized.optimizers import StackedOptimizer, why_not

CASES = [
    (torch.optim.SGD, [{"lr": 0.1}, {"lr": 0.1}, {"lr": 0.05}]),
    (torch.optim.SGD, [{"lr": 0.1, "momentum": 0.9}, {"lr": 0.2, "momentum": 0.5}]),
    (torch.optim.SGD, [{"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}] * 2),
    (torch.optim.Adam, [{"lr": 0.01}, {"lr": 0.01, "betas": (0.8, 0.99)}, {"lr": 0.003}]),
    (torch.optim.AdamW, [{"lr": 0.01, "weight_decay": 0.1}, {"lr": 0.02, "weight_decay": 0.0}]),
    (torch.optim.Adagrad, [{"lr": 0.1}, {"lr": 0.05, "lr_decay": 0.01}]),
    (torch.optim.RMSprop, [{"lr": 0.01}, {"lr": 0.01, "momentum": 0.9}, {"lr": 0.02}]),
    (torch.optim.RMSprop, [{"lr": 0.01, "centered": True}, {"lr": 0.005, "centered": True}]),
    (torch.optim.Adadelta, [{"lr": 1.0}, {"lr": 0.5, "rho": 0.8}]),
]


def _nets(count: int) -> list[torch.nn.Module]:
    torch.manual_seed(0)
    return [
        torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
        for _ in range(count)
    ]


NO_FUSED = (torch.optim.RMSprop, torch.optim.Adadelta)  # PyTorch has no fused kernel for them


def _state(optimizer) -> dict:
    """The per-parameter state of an optimizer, inside any gradient transforms."""
    saved = optimizer.state_dict()
    while "optimizer" in saved:  # a transform's: {"optimizer": inner's, "transform": ...}
        saved = saved["optimizer"]
    return saved["state"]


def _steps_agree(nets, refs, mine, theirs, steps: int, seed: int, scale=1.0, losses=False):
    """``steps`` updates of random gradients (times ``scale``) by the stacked optimizer over
    ``nets``' optimizers ``mine``, and by ``theirs`` over the copies ``refs``, one per model:
    every model's parameters agree after every step, and the state stored back equals
    theirs. ``losses``: each step also gets a random loss per model (irprop+)."""
    params, _ = stack_module_state(nets)
    params = {n: p.detach() for n, p in params.items()}
    stacked = StackedOptimizer(params, mine, [dict(n.named_parameters()) for n in nets])
    stacked.load()
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        grads = {n: scale * torch.randn(p.shape, generator=gen) for n, p in params.items()}
        loss = torch.rand(len(nets), generator=gen, dtype=torch.float64) if losses else None
        for m, (ref, opt) in enumerate(zip(refs, theirs)):
            for n, p in ref.named_parameters():
                p.grad = grads[n][m].clone()
            opt.step(None if loss is None else functools.partial(float, loss[m].item()))
        stacked.step(params, grads, loss)
        for m, ref in enumerate(refs):
            for n, p in ref.named_parameters():
                torch.testing.assert_close(params[n][m], p.detach(), rtol=0, atol=1e-6)
    stacked.store()  # the state goes back in each run's own format: a run resumes from it
    for m, (opt, ref_opt) in enumerate(zip(mine, theirs)):
        ours, ref = _state(opt), _state(ref_opt)
        assert ours.keys() == ref.keys()
        for k in ref:
            assert ours[k].keys() == ref[k].keys(), (m, k)
            for key in ref[k]:
                torch.testing.assert_close(ours[k][key], ref[k][key], rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "kind,settings,fused",
    [(k, s, False) for k, s in CASES] + [(k, s, True) for k, s in CASES if k not in NO_FUSED],
)
def test_each_model_takes_its_own_optimizers_steps(kind, settings, fused):
    extra = {"fused": True} if fused else {"foreach": True}
    nets = _nets(len(settings))
    refs = [copy.deepcopy(n) for n in nets]
    mine = [kind(n.parameters(), **s, **extra) for n, s in zip(nets, settings)]
    theirs = [kind(r.parameters(), **s, **extra) for r, s in zip(refs, settings)]
    assert why_not(mine) is None
    _steps_agree(nets, refs, mine, theirs, steps=5, seed=1)


def test_clipping_and_noise_per_model():
    settings = [{"lr": 0.1}, {"lr": 0.05}]
    nets = _nets(2)
    refs = [copy.deepcopy(n) for n in nets]

    def wrap(net, s, k):
        inner = torch.optim.SGD(net.parameters(), **s)
        noisy = GradientNoise(inner, eta=0.3, gamma=0.55, seed=10 + k)
        return GradientClipping(noisy, max_norm=0.5 + k, max_value=0.8)

    mine = [wrap(n, s, k) for k, (n, s) in enumerate(zip(nets, settings))]
    theirs = [wrap(r, s, k) for k, (r, s) in enumerate(zip(refs, settings))]
    _steps_agree(nets, refs, mine, theirs, steps=4, seed=2, scale=3.0)


def test_what_cannot_step_together_says_why():
    nets = _nets(2)
    sgd = torch.optim.SGD(nets[0].parameters(), lr=0.1)
    adam = torch.optim.Adam(nets[1].parameters(), lr=0.1)
    assert why_not([sgd, adam]) == "the runs use different optimizers"
    rprop = [torch.optim.Rprop(n.parameters()) for n in nets]
    assert "elementwise" in why_not(rprop)
    nesterov = torch.optim.SGD(nets[0].parameters(), lr=0.1, momentum=0.9, nesterov=True)
    plain = torch.optim.SGD(nets[1].parameters(), lr=0.1, momentum=0.9)
    assert "nesterov" in why_not([nesterov, plain])


@pytest.mark.parametrize(
    "variant,foreach",
    [(v, False) for v in ("rprop+", "rprop-", "irprop-", "irprop+")] + [("irprop-", None)],
)  # foreach None: irprop-'s flat fast path (the others have only the reference path)
def test_rprop_variants_per_model(variant, foreach):
    settings = [
        {"lr": 0.01, "variant": variant},
        {"lr": 0.02, "etas": (0.4, 1.3), "variant": variant},
        {"lr": 0.01, "step_sizes": (1e-4, 0.05), "variant": variant},
    ]
    nets = _nets(len(settings))
    refs = [copy.deepcopy(n) for n in nets]
    mine = [Rprop(n.parameters(), foreach=foreach, **s) for n, s in zip(nets, settings)]
    theirs = [Rprop(r.parameters(), foreach=foreach, **s) for r, s in zip(refs, settings)]
    # the sign of the gradient flips often: every branch (grow, shrink, backtrack) is taken;
    # irprop+ backtracks where a run's loss went up, which random losses make some do. The
    # stack steps with Rprop's own reference form (shared); foreach None compares it with the
    # flat fast path, written apart, and tests/optim compares Rprop with torch.optim.Rprop.
    _steps_agree(nets, refs, mine, theirs, steps=8, seed=3, losses=True)
