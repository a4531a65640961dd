"""Optimizers by name (lectures 000, 002, 003, 004): PyTorch's, in their fastest form.

=========  ====================================================================================
sgd        w -= lr * g; with momentum mu (torch's form, v = mu v + g, w -= lr v, equal to the
           lecture's dW = mu dW - lr g up to the scale of v); ``nesterov`` evaluates the gradient
           at the look-ahead point (lecture 000, slides on Nesterov's method)
adagrad    w -= lr g / (sqrt(sum of g^2) + eps)                       (Duchi et al. 2011)
rmsprop    E[g^2] = alpha E[g^2] + (1 - alpha) g^2; w -= lr g / (sqrt(E[g^2]) + eps)  (Hinton)
adadelta   rate-free step sqrt(E[dw^2] + eps) / sqrt(E[g^2] + eps) g, scaled by lr  (Zeiler 2012)
adam       bias-corrected first and second moments (Kingma & Ba 2015)
adamw      adam with decoupled weight decay (Loshchilov & Hutter 2019)
=========  ====================================================================================

:func:`build` picks the fused kernel where PyTorch has one for the parameters' device, and the
multi-tensor (``foreach``) path otherwise. Optimizers PyTorch lacks belong in this package as
modules of their own, registered in :data:`OPTIMIZERS`.
"""

from __future__ import annotations

import inspect
from typing import Callable, Iterable

import torch


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


def build(config: dict, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """The optimizer ``config["optimizer"]`` names, over ``params``."""
    o = config["optimizer"]
    cls, kwargs = OPTIMIZERS[o["name"]](o)
    return fastest(cls, list(params), lr=o["lr"], **kwargs)
