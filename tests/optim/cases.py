"""One table of optimizer configurations that drives every shared optimizer test (torch's
``OptimizerInfo`` idea): ``tests/optim/test_every_optimizer.py`` (downhill on a quadratic, a
``state_dict`` round trip mid-run, finite weights from finite gradients, PyTorch-style errors for
bad arguments, step-for-step equality with a reference nobody here wrote) and
``tests/optim/test_properties.py`` (the same properties on random problems, by hypothesis).

A row is a configuration: the config overrides that build it as a run does
(``trainlab.build.optimizer``), or, for a code path the config never takes, a constructor. A new
optimizer adds a row for its registered name (with a bad argument and PyTorch's error for it) and
a row for each setting that takes another code path; a row with a ``reference`` is also checked
against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from trainlab import build
from trainlab.config import resolve
from trainlab.optim import OPTIMIZERS, LectureAdam, LectureRMSprop, Rprop


@dataclass(frozen=True)
class Reference:
    """An optimizer nobody here wrote (``torch.optim``, every argument spelled out, its plain
    per-parameter loop) that the row must equal step for step, within ``rtol``/``atol``, on
    one of test_every_optimizer's ``PROBLEMS``; with ``state``, the per-parameter state it keeps
    too."""

    make: Callable[[list], torch.optim.Optimizer]
    problem: str = "small"
    steps: int = 25
    rtol: float = 1e-10
    atol: float = 1e-12
    state: bool = False


@dataclass(frozen=True)
class Case:
    id: str
    overrides: tuple[str, ...] = ()
    make: Callable[[list], torch.optim.Optimizer] | None = None  # instead of the config
    # registered names only: a bad constructor argument and PyTorch's (or trainlab's
    # PyTorch-style) error for it ({}, None for an optimizer with no argument but lr)
    bad: tuple[dict, str | None] | None = None
    reference: Reference | None = None

    @property
    def name(self) -> str:
        """The registered optimizer the row builds."""
        if self.make is not None:
            return self.id.split()[0]
        return resolve(None, self.overrides).optimizer.name

    def build(self, params, *more: str) -> torch.optim.Optimizer:
        """The row's optimizer over ``params``; ``more`` overrides on top (config rows only)."""
        if self.make is not None:
            assert not more, f"{self.id}: a constructed row takes no overrides"
            return self.make(list(params))
        config = resolve(None, ["optimizer.weight_decay=0", *self.overrides, *more])
        return build.optimizer(config, list(params))

    def __repr__(self) -> str:  # the test id
        return self.id


def _registered(name: str, bad: dict, message: str | None) -> Case:
    return Case(name, (f"optimizer.name={name}",), bad=(bad, message))


def _torch(id: str, overrides: list[str], make: Callable) -> Case:
    """A torch.optim optimizer at non-default settings (lr 0.05, weight decay 0.01)."""
    return Case(
        f"{id} as torch.optim",
        ("optimizer.lr=0.05", "optimizer.weight_decay=0.01", *overrides),
        reference=Reference(make),
    )


_RPROP = dict(lr=0.05, etas=(0.5, 1.2), step_sizes=(1e-6, 0.5))
# irprop- is torch.optim.Rprop's algorithm: trainlab's, on its flat (foreach) path and on its
# per-parameter loop, against torch's, 150 steps, the state too
_RPROP_REFERENCE = Reference(
    lambda p: torch.optim.Rprop(p, **_RPROP, foreach=True),
    problem="wide",
    steps=150,
    rtol=1e-12,
    atol=1e-13,
    state=True,
)

CASES = [
    # every registered optimizer at its defaults
    _registered("sgd", {"momentum": -0.5}, "Invalid momentum value"),
    _registered("momentum", {"momentum": -0.5}, "Invalid momentum value"),
    _registered("nesterov", {"momentum": 0.0}, "Nesterov momentum requires a momentum"),
    _registered("adagrad", {"eps": -1.0}, "Invalid epsilon value"),
    _registered("rmsprop", {"alpha": -0.1}, "Invalid alpha value"),
    _registered("adadelta", {"rho": 1.5}, "Invalid rho value"),
    _registered("adam", {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0"),
    _registered("adamw", {"betas": (0.9, 1.0)}, "Invalid beta parameter at index 1"),
    _registered("rprop", {"etas": (1.5, 1.2)}, "Invalid eta values"),
    _registered("quickprop", {"max_growth": 0.5}, "Invalid max_growth value"),
    _registered("swats", {"betas": (0.9, 1.0)}, "Invalid beta parameters"),
    _registered("newton", {"damping": -1.0}, "Invalid damping value"),
    _registered("diag_newton", {"hutchinson_samples": 0}, "Invalid hutchinson_samples value"),
    # the other code paths: Rprop's variants, Adam switching to SGD mid-run, the gradient
    # transforms around an optimizer
    *[
        Case(f"rprop {v}", ("optimizer.name=rprop", f"optimizer.variant={v}"))
        for v in ("rprop+", "rprop-", "irprop+")
    ],
    Case(
        "adam then sgd", ("optimizer.name=adam", "optimizer.lr=0.01", "train.switch_to_sgd_at=5")
    ),  # SWATS, switching after update 4
    Case(
        "sgd with noise and clipping",
        (
            "optimizer.name=sgd",
            "optimizer.lr=0.01",
            "optimizer.momentum=0",
            "gradient_noise.eta=0.3",
            "gradient_clip.max_norm=1",
            "seed=1",
        ),
    ),
    # against torch.optim
    _torch(
        "sgd",
        ["optimizer.name=sgd", "optimizer.momentum=0"],
        lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=0.01, foreach=False),
    ),
    _torch(
        "sgd nesterov",
        ["optimizer.name=sgd", "optimizer.momentum=0.9", "optimizer.nesterov=true"],
        lambda p: torch.optim.SGD(
            p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01, foreach=False
        ),
    ),
    _torch(
        "adagrad",
        ["optimizer.name=adagrad"],
        lambda p: torch.optim.Adagrad(p, lr=0.05, eps=1e-8, weight_decay=0.01, foreach=False),
    ),
    _torch(
        "rmsprop",
        ["optimizer.name=rmsprop", "optimizer.momentum=0.5", "optimizer.alpha=0.9"],
        lambda p: torch.optim.RMSprop(
            p, lr=0.05, alpha=0.9, eps=1e-8, momentum=0.5, weight_decay=0.01, foreach=False
        ),
    ),
    _torch(
        "adadelta",
        ["optimizer.name=adadelta", "optimizer.rho=0.95"],
        lambda p: torch.optim.Adadelta(
            p, lr=0.05, rho=0.95, eps=1e-8, weight_decay=0.01, foreach=False
        ),
    ),
    _torch(
        "adam",
        ["optimizer.name=adam", "optimizer.betas=[0.8, 0.99]"],
        lambda p: torch.optim.Adam(
            p, lr=0.05, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.01, foreach=False
        ),
    ),
    _torch(
        "adamw",
        ["optimizer.name=adamw"],
        lambda p: torch.optim.AdamW(
            p, lr=0.05, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, foreach=False
        ),
    ),
    # the slides' forms: where they coincide with PyTorch's (a constant rate; eps outside the
    # root; bias correction on), equal to torch.optim; the rest in test_lecture_forms.py
    _torch(
        "sgd momentum, lecture 000's form at a constant rate,",
        ["optimizer.name=sgd", "optimizer.momentum=0.9", "optimizer.momentum_form=lecture"],
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01, foreach=False),
    ),
    _torch(
        "sgd nesterov, lecture 000's form at a constant rate,",
        [
            "optimizer.name=sgd",
            "optimizer.momentum=0.9",
            "optimizer.nesterov=true",
            "optimizer.momentum_form=lecture",
        ],
        lambda p: torch.optim.SGD(
            p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01, foreach=False
        ),
    ),
    Case(
        "rmsprop eps outside the root, trainlab's loop, as torch.optim",
        make=lambda p: LectureRMSprop(
            p, lr=0.05, alpha=0.9, eps=1e-8, momentum=0.5, weight_decay=0.01, eps_inside_sqrt=False
        ),
        reference=Reference(
            lambda p: torch.optim.RMSprop(
                p, lr=0.05, alpha=0.9, eps=1e-8, momentum=0.5, weight_decay=0.01, foreach=False
            ),
            state=True,
        ),
    ),
    Case(
        "adam bias-corrected, trainlab's loop, as torch.optim",
        make=lambda p: LectureAdam(
            p, lr=0.05, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.01, bias_correction=True
        ),
        reference=Reference(
            lambda p: torch.optim.Adam(
                p, lr=0.05, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.01, foreach=False
            ),
            state=True,
        ),
    ),
    Case(
        "rmsprop eps inside the root (lecture 000)",
        ("optimizer.name=rmsprop", "optimizer.eps_inside_sqrt=true", "optimizer.momentum=0.5"),
    ),
    Case(
        "adam without bias correction (lecture 002)",
        ("optimizer.name=adam", "optimizer.bias_correction=false"),
    ),
    Case(
        "rprop irprop- as torch.optim",
        (
            "optimizer.name=rprop",
            "optimizer.lr=0.05",
            "optimizer.etas=[0.5, 1.2]",
            "optimizer.step_sizes=[1e-6, 0.5]",
        ),
        reference=_RPROP_REFERENCE,
    ),
    Case(
        "rprop irprop- per parameter as torch.optim",
        make=lambda p: Rprop(p, **_RPROP, foreach=False),
        reference=_RPROP_REFERENCE,
    ),
    # SWATS's Adam phase (it switches after update 5, at sgd_lr 0.2) is Adam
    Case(
        "adam then sgd, the adam phase as torch.optim",
        (
            "optimizer.name=adam",
            "optimizer.lr=0.1",
            "optimizer.eps=1e-8",
            "train.switch_to_sgd_at=6",
            "optimizer.sgd_lr=0.2",
        ),
        reference=Reference(
            lambda p: torch.optim.Adam(
                p, lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=False
            ),
            steps=5,
            rtol=1e-12,
            atol=1e-12,
        ),
    ),
]

IDS = [c.id for c in CASES]
assert len(set(IDS)) == len(IDS), "two rows with one id"
REGISTERED = [c for c in CASES if c.bad is not None]
WITH_REFERENCE = [c for c in CASES if c.reference is not None]


def usual_lr(case: Case) -> float:
    return OPTIMIZERS[case.name].usual_lr


def wide(dtype=torch.float64):
    """Three seeded tensors, 23,550 parameters (the shared checks' larger problem)."""
    g = torch.Generator().manual_seed(0)
    return [
        torch.randn(70, 50, generator=g, dtype=dtype).requires_grad_(),
        torch.randn(50, generator=g, dtype=dtype).requires_grad_(),
        torch.randn(20000, generator=g, dtype=dtype).requires_grad_(),
    ]


def wide_loss(ps):
    """A smooth loss with curvature on :func:`wide`'s parameters."""
    w, b, c = ps
    return (
        (w.sin() @ b).pow(2).sum()
        + (w**4).mean()
        + (b - 0.3).pow(2).sum()
        + (c.cos() * torch.linspace(-1, 1, len(c), dtype=c.dtype)).sum()
    )


# the non-convex losses a row's reference is compared on: (parameters, loss)
