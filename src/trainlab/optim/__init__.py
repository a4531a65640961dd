"""Optimizers by name (lectures 000, 002, 003, 004): PyTorch's where it has them, in their
fastest form, and trainlab's own for the rest.

Each is one entry of :data:`OPTIMIZERS` below, with its formula and source.

Around any of them (:func:`build`, from the config): :class:`GradientClipping`, then
:class:`GradientNoise`. PyTorch's optimizers use the fused kernel where PyTorch has one for the
parameters' device, and the multi-tensor (``foreach``) path otherwise.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from ..errors import UserError
from ..registry import Registry
from .clipping import GradientClipping
from .lecture import LectureAdam, LectureRMSprop, LectureSGD
from .newton import DiagNewton, Newton
from .noise import GradientNoise
from .quickprop import QuickProp
from .rprop import Rprop
from .swats import SWATS
from .transform import GradientTransform


@dataclass(frozen=True)
class OptimizerInfo:
    """What the rest of trainlab needs to know of an optimizer, read instead of its name.

    ``usual_lr``: a good first rate (PyTorch's default, except for SGD: PyTorch's 0.001 barely
    moves in a few epochs; 0.01 is the common start); ``trajectory_lr``: the rate that shows its
    typical behaviour on trainlab.experiments.trajectories' 2-D functions; ``in_trajectories``:
    drawn there by default; ``reads``: the ``optimizer.*`` keys its builder takes (besides
    ``name`` and ``lr``); ``expand``: for an alias, rewrites the optimizer options into the real
    name's; ``nesterov``: takes optimizer.nesterov; ``switches_to_sgd``: takes
    train.switch_to_sgd_at; ``switches``: changes its own update rule during the run (SWATS);
    ``reevaluates_loss``: ``step`` needs a closure that recomputes the loss with its graph
    (second-order methods); ``needs_loss(options)``: ``step`` must be given the loss for these
    options (irprop+ compares objectives); ``elementwise``: the update of each weight depends
    on that weight's gradient history only (it could run on many models stacked at once);
    ``second_order``: differentiates the loss twice (Hessian or Hessian-vector products), so
    the loss needs second derivatives; ``own_step_size``: ``lr`` is only the initial step size,
    the optimizer then sets its steps itself (Rprop's Delta_0), so a schedule or the
    learning-rate range test has nothing to act on."""

    usual_lr: float
    trajectory_lr: float
    in_trajectories: bool = True
    reads: tuple[str, ...] = ()
    expand: Callable[[dict], None] | None = None
    nesterov: bool = False
    switches_to_sgd: bool = False
    switches: bool = False
    reevaluates_loss: bool = False
    needs_loss: Callable[[dict], bool] = lambda options: False
    elementwise: bool = True
    second_order: bool = False
    own_step_size: bool = False


def _sgd(*, momentum, nesterov, weight_decay, momentum_form="torch") -> tuple[type, dict]:
    """torch.optim.SGD, or with ``momentum_form = "lecture"`` lecture 000's dW form
    (:class:`LectureSGD`)."""
    cls = LectureSGD if momentum_form == "lecture" else torch.optim.SGD
    return cls, dict(momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)


def _rmsprop(*, alpha, eps, momentum, weight_decay, eps_inside_sqrt=False) -> tuple[type, dict]:
    """torch.optim.RMSprop, or with ``eps_inside_sqrt`` lecture 000's (:class:`LectureRMSprop`)."""
    kwargs = dict(alpha=alpha, eps=eps, momentum=momentum, weight_decay=weight_decay)
    if eps_inside_sqrt:
        return LectureRMSprop, dict(kwargs, eps_inside_sqrt=True)
    return torch.optim.RMSprop, kwargs


def _adam(*, betas, eps, weight_decay, bias_correction=True, sgd_lr=0.0) -> tuple[type, dict]:
    """torch.optim.Adam, or without ``bias_correction`` lecture 002's (:class:`LectureAdam`)."""
    kwargs = dict(betas=tuple(betas), eps=eps, weight_decay=weight_decay)
    if not bias_correction:
        return LectureAdam, dict(kwargs, bias_correction=False)
    return torch.optim.Adam, kwargs


def _adam_like(cls: type) -> Callable[..., tuple[type, dict]]:
    return lambda *, betas, eps, weight_decay, sgd_lr=0.0: (
        cls,
        dict(betas=tuple(betas), eps=eps, weight_decay=weight_decay),
    )


def _momentum(nesterov: bool) -> Callable[[dict], None]:
    def expand(o: dict) -> None:
        o["name"], o["momentum"], o["nesterov"] = "sgd", o["momentum"] or 0.9, nesterov

    return expand


def _diag_newton(
    *, damping, adapt_damping, max_params, hutchinson_samples, hessian_memory_mb, weight_decay
) -> tuple[type, dict]:
    return DiagNewton, dict(
        damping=damping,
        adapt_damping=adapt_damping,
        max_params=max_params,
        hutchinson_samples=hutchinson_samples,
        memory_mb=hessian_memory_mb,
        weight_decay=weight_decay,
    )


_SGD_READS = ("momentum", "nesterov", "weight_decay", "momentum_form")

# Every optimizer, once: ``build(**{key: value for key in reads})`` -> (class, keyword
# arguments); its facts are an :class:`OptimizerInfo`.
OPTIMIZERS = Registry("optimizer", "optimizer.name", OptimizerInfo, config_key=True)
OPTIMIZERS.add(
    "sgd",
    _sgd,
    "w -= lr g; momentum mu: v = mu v + g, w -= lr v (torch's form), or lecture 000's "
    "dW = mu dW - lr g, w += dW (optimizer.momentum_form); Nesterov: the gradient at the "
    "look-ahead point (lecture 000)",
    usual_lr=0.01,
    trajectory_lr=0.002,
    nesterov=True,
    reads=_SGD_READS,
)
OPTIMIZERS.add(
    "momentum",
    _sgd,
    "sgd with momentum 0.9 unless optimizer.momentum is set",
    usual_lr=0.01,
    trajectory_lr=0.002,
    expand=_momentum(False),
    reads=_SGD_READS,
)
OPTIMIZERS.add(
    "nesterov",
    _sgd,
    "sgd with Nesterov momentum, 0.9 unless optimizer.momentum is set",
    usual_lr=0.01,
    trajectory_lr=0.002,
    expand=_momentum(True),
    reads=_SGD_READS,
)
OPTIMIZERS.add(
    "adagrad",
    lambda *, eps, weight_decay: (torch.optim.Adagrad, dict(eps=eps, weight_decay=weight_decay)),
    "w -= lr g / (sqrt(sum of g^2) + eps) (Duchi et al. 2011)",
    usual_lr=0.01,
    trajectory_lr=0.5,
    reads=("eps", "weight_decay"),
)
OPTIMIZERS.add(
    "rmsprop",
    _rmsprop,
    "w -= lr g / (sqrt(E[g^2]) + eps), E[g^2] a running average (Hinton); "
    "optimizer.eps_inside_sqrt: lecture 000's sqrt(E[g^2] + eps)",
    usual_lr=0.01,
    trajectory_lr=0.01,
    reads=("alpha", "eps", "momentum", "weight_decay", "eps_inside_sqrt"),
)
OPTIMIZERS.add(
    "adadelta",
    lambda *, rho, eps, weight_decay: (
        torch.optim.Adadelta,
        dict(rho=rho, eps=eps, weight_decay=weight_decay),
    ),
    "rate-free step sqrt(E[dw^2] + eps) / sqrt(E[g^2] + eps) g, times lr (Zeiler 2012)",
    usual_lr=1.0,
    trajectory_lr=1.0,
    reads=("rho", "eps", "weight_decay"),
)
OPTIMIZERS.add(
    "adam",
    _adam,
    "bias-corrected first and second moments (Kingma & Ba 2015); "
    "optimizer.bias_correction=false: lecture 002's form without",
    usual_lr=0.001,
    trajectory_lr=0.05,
    switches_to_sgd=True,
    reads=("betas", "eps", "weight_decay", "bias_correction", "sgd_lr"),
)
OPTIMIZERS.add(
    "adamw",
    _adam_like(torch.optim.AdamW),
    "adam with decoupled weight decay (Loshchilov & Hutter 2019)",
    usual_lr=0.001,
    trajectory_lr=0.05,
    in_trajectories=False,
    reads=("betas", "eps", "weight_decay"),
)
OPTIMIZERS.add(
    "rprop",
    lambda *, etas, step_sizes, variant, weight_decay: (
        Rprop,
        dict(
            etas=tuple(etas),
            step_sizes=tuple(step_sizes),
            variant=variant,
            weight_decay=weight_decay,
        ),
    ),
    "sign-based per-weight step sizes, four variants (Riedmiller & Braun 1993; Igel & Huesken "
    "2000)",
    usual_lr=0.01,
    trajectory_lr=0.01,
    reads=("etas", "step_sizes", "variant", "weight_decay"),
    needs_loss=lambda options: options["variant"] == "irprop+",
    own_step_size=True,
)
OPTIMIZERS.add(
    "quickprop",
    lambda *, max_growth, weight_decay: (
        QuickProp,
        dict(max_growth=max_growth, weight_decay=weight_decay),
    ),
    "per-weight secant (diagonal Newton) steps (Fahlman 1988)",
    usual_lr=0.01,
    trajectory_lr=0.002,
    reads=("max_growth", "weight_decay"),
)
OPTIMIZERS.add(
    "swats",
    lambda *, betas, eps, weight_decay, sgd_lr: (
        SWATS,
        dict(betas=tuple(betas), eps=eps, weight_decay=weight_decay, sgd_lr=sgd_lr or None),
    ),
    "Adam, then SGD at the projected rate (Keskar & Socher 2017)",
    usual_lr=0.001,
    trajectory_lr=0.05,
    in_trajectories=False,
    switches_to_sgd=True,
    switches=True,
    reads=("betas", "eps", "weight_decay", "sgd_lr"),
)
OPTIMIZERS.add(
    "newton",
    lambda *, damping, adapt_damping, saddle_free, hessian_memory_mb, weight_decay: (
        Newton,
        dict(
            damping=damping,
            adapt_damping=adapt_damping,
            saddle_free=saddle_free,
            memory_mb=hessian_memory_mb,
            weight_decay=weight_decay,
        ),
    ),
    "w -= lr (H + lambda I)^-1 g, the exact Hessian of the batch loss (lecture 003), "
    "lambda = optimizer.damping adapted by Levenberg-Marquardt; optimizer.saddle_free: "
    "(|H| + lambda I)^-1 g (Dauphin et al. 2014); within optimizer.hessian_memory_mb",
    usual_lr=1.0,
    trajectory_lr=1.0,
    reevaluates_loss=True,
    second_order=True,
    elementwise=False,
    reads=("damping", "adapt_damping", "saddle_free", "hessian_memory_mb", "weight_decay"),
)
OPTIMIZERS.add(
    "diag_newton",
    _diag_newton,
    "w_i -= lr g_i / (|h_ii| + mu), the Hessian's diagonal exact or by Hutchinson's estimate "
    "(Becker & LeCun 1988); mu = optimizer.damping",
    usual_lr=1.0,
    trajectory_lr=1.0,
    reevaluates_loss=True,
    second_order=True,
    elementwise=False,
    reads=(
        "damping",
        "adapt_damping",
        "max_params",
        "hutchinson_samples",
        "hessian_memory_mb",
        "weight_decay",
    ),
)


def expand_alias(options: dict) -> dict:
    """``optimizer`` options with an alias (momentum, nesterov) replaced by what it means."""
    expand = OPTIMIZERS[options["name"]].expand
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


def make(
    name: str,
    params: Iterable[torch.nn.Parameter],
    *,
    lr: float,
    options: dict,
    switch_at: int | None = None,
) -> torch.optim.Optimizer:
    """The optimizer ``name`` over ``params`` at rate ``lr``; of ``options`` (``optimizer.*``
    keys), the ones its registry entry reads are its arguments. ``switch_at``: SWATS that
    switches to SGD after this many updates instead (Adam first, then SGD; lecture 003)."""
    extra = {}
    if switch_at is not None:
        name, extra = "swats", {"switch_at": switch_at}
    entry = OPTIMIZERS[name]
    cls, kwargs = entry.build(**{key: options[key] for key in entry.reads})
    try:
        return fastest(cls, list(params), lr=lr, **kwargs, **extra)
    except ValueError as e:  # the config's values are checked: what is left is about the model
        raise UserError(f"optimizer.name = {name}: {e}") from None


def with_transforms(
    optimizer: torch.optim.Optimizer,
    *,
    noise_eta: float = 0.0,
    noise_gamma: float = 0.55,
    seed: int = 0,
    clip_norm: float = 0.0,
    clip_value: float = 0.0,
) -> torch.optim.Optimizer:
    """``optimizer`` inside the gradient transforms asked for: :class:`GradientNoise` of variance
    ``noise_eta / (1 + t)^noise_gamma`` (seeded), then outside it :class:`GradientClipping` to
    the global norm ``clip_norm`` and each element to ``[-clip_value, clip_value]`` (0 = off),
    so that the gradient is clipped first, then noised."""
    if noise_eta > 0:
        optimizer = GradientNoise(optimizer, noise_eta, noise_gamma, seed=seed)
    if clip_value > 0 or clip_norm > 0:
        optimizer = GradientClipping(optimizer, clip_norm or None, clip_value or None)
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
    for Newton, how its steps were solved (cholesky, lu, pinv, saddle_free); for both Newtons,
    the damping at the end and the Hessian rows formed per backward pass."""
    optimizer = innermost(optimizer)
    if isinstance(optimizer, SWATS):
        group = optimizer.param_groups[0]
        return {"switched_to_sgd_after_step": group["switched_at"], "sgd_lr": group["sgd_lr"]}
    if isinstance(optimizer, Newton):
        solves: dict[str, int] = {}
        for state in optimizer.state.values():
            for method, count in state.get("solves", {}).items():
                solves[method] = solves.get(method, 0) + count
        return {
            "newton_solves": solves,
            "damping": optimizer.param_groups[0]["damping"],
            "hessian_rows_per_pass": optimizer.rows_per_pass,
        }
    if isinstance(optimizer, DiagNewton):
        return {
            "damping": optimizer.param_groups[0]["damping"],
            "hessian_rows_per_pass": optimizer.rows_per_pass if optimizer.exact else None,
        }
    return {}


__all__ = [
    "DiagNewton",
    "Newton",
    "GradientClipping",
    "expand_alias",
    "reevaluates_loss",
    "GradientNoise",
    "GradientTransform",
    "LectureAdam",
    "LectureRMSprop",
    "LectureSGD",
    "OPTIMIZERS",
    "OptimizerInfo",
    "QuickProp",
    "Rprop",
    "SWATS",
    "describe",
    "fastest",
    "innermost",
    "make",
    "needs_loss",
    "with_transforms",
]
