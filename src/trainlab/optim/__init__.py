"""Optimizers by name (lectures 000, 002, 003, 004): PyTorch's where it has them, in their
fastest form, and trainlab's own for the rest.

=========  ====================================================================================
sgd        w -= lr * g; with momentum mu (torch's form, v = mu v + g, w -= lr v, equal to the
           lecture's dW = mu dW - lr g up to the scale of v); ``nesterov`` evaluates the gradient
           at the look-ahead point (lecture 000, slides on Nesterov's method)
adagrad    w -= lr g / (sqrt(sum of g^2) + eps)                       (Duchi et al. 2011)
rmsprop    E[g^2] = alpha E[g^2] + (1 - alpha) g^2; w -= lr g / (sqrt(E[g^2]) + eps)  (Hinton)
adadelta   rate-free step sqrt(E[dw^2] + eps) / sqrt(E[g^2] + eps) g, scaled by lr  (Zeiler 2012)
adam       bias-corrected first and second moments (Kingma & Ba 2015)
adamw      adam with decoupled weight decay (Loshchilov & Hutter 2019)
rprop      sign-based per-weight step sizes, four variants      (trainlab.optim.rprop.Rprop)
quickprop  per-weight secant (diagonal Newton) steps       (trainlab.optim.quickprop.QuickProp)
swats      Adam, then SGD at the projected rate                  (trainlab.optim.swats.SWATS)
=========  ====================================================================================

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
from .quickprop import QuickProp
from .rprop import Rprop
from .swats import SWATS
from .transform import GradientTransform


def _sgd(o: dict) -> tuple[type, dict]:
    return torch.optim.SGD, dict(momentum=o["momentum"], nesterov=o["nesterov"],
                                 weight_decay=o["weight_decay"])


def _adam_like(cls: type) -> Callable[[dict], tuple[type, dict]]:
    return lambda o: (cls, dict(betas=tuple(o["betas"]), eps=o["eps"],
                                weight_decay=o["weight_decay"]))


OPTIMIZERS: dict[str, Callable[[dict], tuple[type, dict]]] = {
    "sgd": _sgd,
    "adagrad": lambda o: (torch.optim.Adagrad, dict(eps=o["eps"], weight_decay=o["weight_decay"])),
    "rmsprop": lambda o: (torch.optim.RMSprop, dict(alpha=o["alpha"], eps=o["eps"],
                                                    momentum=o["momentum"],
                                                    weight_decay=o["weight_decay"])),
    "adadelta": lambda o: (torch.optim.Adadelta, dict(rho=o["rho"], eps=o["eps"],
                                                      weight_decay=o["weight_decay"])),
    "adam": _adam_like(torch.optim.Adam),
    "adamw": _adam_like(torch.optim.AdamW),
    "rprop": lambda o: (Rprop, dict(etas=tuple(o["etas"]), step_sizes=tuple(o["step_sizes"]),
                                    variant=o["variant"], weight_decay=o["weight_decay"])),
    "quickprop": lambda o: (QuickProp, dict(max_growth=o["max_growth"],
                                            weight_decay=o["weight_decay"])),
    "swats": lambda o: (SWATS, dict(betas=tuple(o["betas"]), eps=o["eps"],
                                    weight_decay=o["weight_decay"], sgd_lr=o["sgd_lr"] or None)),
}


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
    cls, options = OPTIMIZERS[name](o)
    optimizer = fastest(cls, list(params), lr=o["lr"], **options, **kwargs)
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


def needs_loss(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``step`` must be given the loss (a closure): Rprop's irprop+ variant."""
    inner = innermost(optimizer)
    return isinstance(inner, Rprop) and any(g["variant"] == "irprop+" for g in inner.param_groups)


def describe(optimizer: torch.optim.Optimizer) -> dict:
    """What a run's summary reports of its optimizer: for SWATS, when it switched and the rate."""
    optimizer = innermost(optimizer)
    if isinstance(optimizer, SWATS):
        group = optimizer.param_groups[0]
        return {"switched_to_sgd_after_step": group["switched_at"], "sgd_lr": group["sgd_lr"]}
    return {}


__all__ = ["GradientClipping", "GradientNoise", "GradientTransform", "OPTIMIZERS", "QuickProp",
           "Rprop", "SWATS", "build", "describe", "fastest", "innermost", "needs_loss"]
