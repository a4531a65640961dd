"""Optimizers by name (lectures 000, 002, 003, 004): PyTorch's where it has them, in their
fastest form, and trainlab's own for the rest.

Each is one entry of :data:`OPTIMIZERS` below, with its formula and source.

Around any of them (:func:`build`, from the config): :class:`GradientClipping`, then
:class:`GradientNoise`. PyTorch's optimizers use the fused kernel where PyTorch has one for the
parameters' device, and the multi-tensor (``foreach``) path otherwise.
"""

from __future__ import annotations

import inspect
from typing import Callable, Iterable

import torch

from .clipping import GradientClipping
from .noise import GradientNoise
from .newton import DiagNewton, Newton
from .quickprop import QuickProp
from .rprop import Rprop
from .swats import SWATS
from .transform import GradientTransform
from ..errors import UserError
from ..registry import Registry


def _sgd(o: dict) -> tuple[type, dict]:
    return torch.optim.SGD, dict(momentum=o["momentum"], nesterov=o["nesterov"],
                                 weight_decay=o["weight_decay"])


def _adam_like(cls: type) -> Callable[[dict], tuple[type, dict]]:
    return lambda o: (cls, dict(betas=tuple(o["betas"]), eps=o["eps"],
                                weight_decay=o["weight_decay"]))


def _momentum(nesterov: bool) -> Callable[[dict], None]:
    def expand(o: dict) -> None:
        o["name"], o["momentum"], o["nesterov"] = "sgd", o["momentum"] or 0.9, nesterov
    return expand


# Every optimizer, once. ``build(options)`` -> (class, keyword arguments); facts:
# ``usual_lr``, a good first rate to try: PyTorch's default, except for SGD (PyTorch's 0.001
# barely moves in a few epochs; 0.01 is the common start); ``trajectory_lr``, the rate that
# shows its typical behaviour on trainlab.experiments.trajectories' 2-D functions;
# ``in_trajectories``, drawn by default there; ``expand``, for an alias: rewrites the optimizer
# options into the real name's; ``nesterov``: takes optimizer.nesterov; ``switches_to_sgd``:
# takes train.switch_to_sgd_at. Whether step() needs the loss (a closure) is the optimizer's own
# ``needs_loss`` attribute (see :func:`needs_loss`).
OPTIMIZERS = Registry("optimizer", "optimizer.name")
OPTIMIZERS.add("sgd", _sgd, "w -= lr g; momentum mu: v = mu v + g, w -= lr v (torch's form; the lecture's "
               "dW = mu dW - lr g up to the scale of v); Nesterov: the gradient at the look-ahead "
               "point (lecture 000)",
               usual_lr=0.01, trajectory_lr=0.002, in_trajectories=True, nesterov=True)
OPTIMIZERS.add("momentum", _sgd, "sgd with momentum 0.9 unless optimizer.momentum is set",
               usual_lr=0.01, trajectory_lr=0.002, in_trajectories=True,
               expand=_momentum(False))
OPTIMIZERS.add("nesterov", _sgd, "sgd with Nesterov momentum, 0.9 unless optimizer.momentum is "
               "set", usual_lr=0.01, trajectory_lr=0.002, in_trajectories=True,
               expand=_momentum(True))
OPTIMIZERS.add("adagrad", lambda o: (torch.optim.Adagrad, dict(eps=o["eps"],
                                                               weight_decay=o["weight_decay"])),
               "w -= lr g / (sqrt(sum of g^2) + eps) (Duchi et al. 2011)",
               usual_lr=0.01, trajectory_lr=0.5, in_trajectories=True)
OPTIMIZERS.add("rmsprop", lambda o: (torch.optim.RMSprop, dict(
    alpha=o["alpha"], eps=o["eps"], momentum=o["momentum"], weight_decay=o["weight_decay"])),
    "w -= lr g / (sqrt(E[g^2]) + eps), E[g^2] a running average (Hinton)",
    usual_lr=0.01, trajectory_lr=0.01, in_trajectories=True)
OPTIMIZERS.add("adadelta", lambda o: (torch.optim.Adadelta, dict(
    rho=o["rho"], eps=o["eps"], weight_decay=o["weight_decay"])),
    "rate-free step sqrt(E[dw^2] + eps) / sqrt(E[g^2] + eps) g, times lr (Zeiler 2012)",
    usual_lr=1.0, trajectory_lr=1.0, in_trajectories=True)
OPTIMIZERS.add("adam", _adam_like(torch.optim.Adam),
               "bias-corrected first and second moments (Kingma & Ba 2015)",
               usual_lr=0.001, trajectory_lr=0.05, in_trajectories=True, switches_to_sgd=True)
OPTIMIZERS.add("adamw", _adam_like(torch.optim.AdamW),
               "adam with decoupled weight decay (Loshchilov & Hutter 2019)",
               usual_lr=0.001, trajectory_lr=0.05, in_trajectories=False)
OPTIMIZERS.add("rprop", lambda o: (Rprop, dict(
    etas=tuple(o["etas"]), step_sizes=tuple(o["step_sizes"]), variant=o["variant"],
    weight_decay=o["weight_decay"])),
    "sign-based per-weight step sizes, four variants (Riedmiller & Braun 1993; Igel & Huesken "
    "2000)", usual_lr=0.01, trajectory_lr=0.01, in_trajectories=True)
OPTIMIZERS.add("quickprop", lambda o: (QuickProp, dict(max_growth=o["max_growth"],
                                                       weight_decay=o["weight_decay"])),
               "per-weight secant (diagonal Newton) steps (Fahlman 1988)",
               usual_lr=0.01, trajectory_lr=0.002, in_trajectories=True)
OPTIMIZERS.add("swats", lambda o: (SWATS, dict(
    betas=tuple(o["betas"]), eps=o["eps"], weight_decay=o["weight_decay"],
    sgd_lr=o["sgd_lr"] or None)), "Adam, then SGD at the projected rate (Keskar & Socher 2017)",
    usual_lr=0.001, trajectory_lr=0.05, in_trajectories=False, switches_to_sgd=True)

OPTIMIZERS.add("newton", lambda o: (Newton, dict(
    damping=o["damping"], adapt_damping=o["adapt_damping"], max_params=o["max_params"],
    weight_decay=o["weight_decay"])), "w -= lr (H + lambda I)^-1 g, the exact Hessian of the "
    "batch loss (lecture 003); lambda = optimizer.damping; up to optimizer.max_params parameters",
    usual_lr=1.0, trajectory_lr=1.0, in_trajectories=True)
OPTIMIZERS.add("diag_newton", lambda o: (DiagNewton, dict(
    damping=o["damping"], max_params=o["max_params"],
    hutchinson_samples=o["hutchinson_samples"], weight_decay=o["weight_decay"])),
    "w_i -= lr g_i / (|h_ii| + mu), the Hessian's diagonal exact or by Hutchinson's estimate "
    "(Becker & LeCun 1988); mu = optimizer.damping", usual_lr=1.0, trajectory_lr=1.0,
    in_trajectories=True)

def expand_alias(options: dict) -> dict:
    """``optimizer`` options with an alias (momentum, nesterov) replaced by what it means."""
    expand = OPTIMIZERS[options["name"]].facts.get("expand")
    if expand is not None:
        expand(options)
    return options


def fastest(cls: type, params: list, **kwargs) -> torch.optim.Optimizer:
    """``cls(params, **kwargs)`` with ``fused=True`` if PyTorch has a fused kernel for it on the
    parameters' device, else ``foreach=True`` if it has a multi-tensor path, else as given."""
    accepted = inspect.signature(cls).parameters
    if "fused" in accepted:
        try:
            return cls(params, fused=True, **kwargs)
        except (RuntimeError, ValueError):
            pass  # no fused kernel for this device or dtype
    if "foreach" in accepted:
        return cls(params, foreach=True, **kwargs)
    return cls(params, **kwargs)


def build(config: dict, params: Iterable[torch.nn.Parameter],
          updates_per_epoch: int = 1) -> torch.optim.Optimizer:
    """The optimizer ``config["optimizer"]`` names over ``params``, wrapped in the gradient
    transforms the config asks for. ``train.switch_to_sgd_at`` turns adam into SWATS with a
    switch after ``(epoch - 1) * updates_per_epoch`` updates."""
    o = config["optimizer"]
    name, kwargs = o["name"], {}
    switch_epoch = config["train"]["switch_to_sgd_at"]
    if switch_epoch:
        name, kwargs = "swats", {"switch_at": (switch_epoch - 1) * updates_per_epoch}
    cls, options = OPTIMIZERS[name].build(o)
    try:
        optimizer = fastest(cls, list(params), lr=o["lr"], **options, **kwargs)
    except ValueError as e:  # the config's values are checked: what is left is about the model
        raise UserError(f"optimizer.name = {name}: {e}") from None
    noise, clip = config["gradient_noise"], config["gradient_clip"]
    if noise["eta"] > 0:
        optimizer = GradientNoise(optimizer, noise["eta"], noise["gamma"], seed=config["seed"])
    if clip["max_value"] > 0 or clip["max_norm"] > 0:
        optimizer = GradientClipping(optimizer, clip["max_norm"] or None, clip["max_value"] or None)
    return optimizer


def innermost(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """The optimizer inside any gradient transforms."""
    while isinstance(optimizer, GradientTransform):
        optimizer = optimizer.optimizer
    return optimizer


def reevaluates_loss(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``step`` needs a closure that recomputes the loss with its graph (Newton,
    DiagNewton: they differentiate it twice): the optimizer's ``reevaluates_loss`` attribute."""
    return bool(getattr(innermost(optimizer), "reevaluates_loss", False))


def needs_loss(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``step`` must be given the loss (a closure): the optimizer's ``needs_loss``
    attribute (trainlab's Rprop with the irprop+ variant); PyTorch's never do."""
    return bool(getattr(innermost(optimizer), "needs_loss", False))


def describe(optimizer: torch.optim.Optimizer) -> dict:
    """What a run's summary reports of its optimizer: for SWATS, when it switched and the rate;
    for Newton, how its steps were solved (cholesky, lu, pinv) and the damping at the end."""
    optimizer = innermost(optimizer)
    if isinstance(optimizer, SWATS):
        group = optimizer.param_groups[0]
        return {"switched_to_sgd_after_step": group["switched_at"], "sgd_lr": group["sgd_lr"]}
    if isinstance(optimizer, Newton):
        solves: dict[str, int] = {}
        for state in optimizer.state.values():
            for method, count in state.get("solves", {}).items():
                solves[method] = solves.get(method, 0) + count
        return {"newton_solves": solves, "damping": optimizer.param_groups[0]["damping"]}
    return {}


__all__ = ["DiagNewton", "Newton", "GradientClipping", "expand_alias", "reevaluates_loss", "GradientNoise", "GradientTransform", "OPTIMIZERS", "QuickProp",
           "Rprop", "SWATS", "build", "describe", "fastest", "innermost", "needs_loss"]
