"""Divergences by name (lecture 000, "L2 vs KL divergence"; lecture 001, the hinge loss;
lecture 002, cross-entropy vs MSE; lecture 003, confidence penalty and label smoothing).

With logits z, C classes, the one-hot target e_y and the smoothed target
q = (1 - eps) e_y + eps / C (label smoothing eps, Szegedy et al. 2016):

- ``cross_entropy``: -sum_k q_k log softmax(z)_k (``F.cross_entropy`` with ``label_smoothing``).
- ``mse``: ||softmax(z) - q||^2 / C, the L2 divergence; it saturates where cross-entropy does
  not (lecture 002).
- ``binary_cross_entropy``: one sigmoid per class against q, averaged over classes (multi-label
  outputs; for single labels, one-vs-rest) (``F.binary_cross_entropy_with_logits``).
- ``kl``: KL(q || softmax(z)) = sum_k q_k log(q_k / p_k) (``F.kl_div``); equals cross-entropy
  minus the entropy of q, so it is 0 at a perfect fit of soft targets.
- ``hinge``: the multi-class margin loss sum_{k != y} max(0, 1 - z_y + z_k) / C (Weston & Watkins;
  lecture 001's hinge for two classes) (``F.multi_margin_loss``).

For a regression source (``data.name = adding``; its registry entry says ``task="regression"``)
the divergence is the plain mean squared error of the one raw output against the real target,
mean_n (z_n - y_n)^2 (lecture 002's L2 loss), whatever the classification losses above do with a
softmax; ``loss.name`` must be ``mse`` there (config resolution sets it when not given).

``confidence_penalty`` beta (Pereyra et al. 2017) subtracts beta * H(softmax(z)), penalizing
over-confident outputs. ``target_noise`` sigma adds N(0, sigma^2) to the soft target q of
``mse``, ``binary_cross_entropy`` and ``kl`` during training (noise injection on targets).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import UserError
from ..registry import Registry

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def soft_targets(y: torch.Tensor, classes: int, eps: float, dtype: torch.dtype) -> torch.Tensor:
    """(1 - eps) one-hot(y) + eps / C."""
    q = F.one_hot(y, classes).to(dtype)
    return q * (1 - eps) + eps / classes if eps else q


def entropy(z: torch.Tensor) -> torch.Tensor:
    """Mean entropy of softmax(z) over the batch."""
    log_p = z.log_softmax(1)
    return -(log_p.exp() * log_p).sum(1).mean()


def _soft(divergence: Callable) -> Callable:
    """A soft-target loss's builder: divergence(logits, target distribution)."""
    return lambda eps, target: lambda z, y: divergence(z, target(z, y))


# Every divergence, once: ``build(label smoothing eps, target(z, y))`` -> fn(logits, labels);
# ``soft_targets``: compares with the (smoothed, optionally noisy) target distribution q;
# ``smooths``: label smoothing applies.
@dataclass(frozen=True)
class LossInfo:
    """``soft_targets``: compares the output with the (smoothed, optionally noisy) target
    distribution q; ``smooths``: label smoothing applies; ``second_derivatives``: PyTorch can
    differentiate it twice (what Newton's methods need)."""

    soft_targets: bool
    smooths: bool
    second_derivatives: bool = True


LOSSES = Registry("loss", "loss.name", LossInfo, config_key=True)
LOSSES.add(
    "cross_entropy",
    lambda eps, target: lambda z, y: F.cross_entropy(z, y, label_smoothing=eps),
    "-sum_k q_k log softmax(z)_k",
    soft_targets=False,
    smooths=True,
)
LOSSES.add(
    "mse",
    _soft(lambda z, q: F.mse_loss(z.softmax(1), q)),
    "||softmax(z) - q||^2 / C, the L2 divergence (saturates, lecture 002)",
    soft_targets=True,
    smooths=True,
)
LOSSES.add(
    "binary_cross_entropy",
    _soft(F.binary_cross_entropy_with_logits),
    "one sigmoid per class against q, averaged over classes",
    soft_targets=True,
    smooths=True,
)
LOSSES.add(
    "kl",
    _soft(lambda z, q: F.kl_div(z.log_softmax(1), q, reduction="batchmean")),
    "KL(q || softmax(z))",
    soft_targets=True,
    smooths=True,
)
LOSSES.add(
    "hinge",
    lambda eps, target: lambda z, y: F.multi_margin_loss(z, y, margin=1.0),
    "sum_{k != y} max(0, 1 - z_y + z_k) / C (Weston & Watkins)",
    soft_targets=False,
    smooths=False,
    second_derivatives=False,  # piecewise linear; PyTorch has no double backward for it
)
SOFT_TARGETS = LOSSES.names(soft_targets=True)


def squared_error(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Regression: mean_n (z_n - y_n)^2 of the single output z (N, 1) and the targets y (N,)."""
    return F.mse_loss(z.squeeze(1), y)


def make(
    name: str = "cross_entropy",
    *,
    label_smoothing: float = 0.0,
    confidence_penalty: float = 0.0,
    target_noise: float = 0.0,
    task: str = "classification",
    generator: torch.Generator | None = None,
) -> LossFn:
    """The divergence ``name`` (see above) as ``fn(logits, labels) -> scalar``, with label
    smoothing eps = ``label_smoothing``, confidence penalty beta = ``confidence_penalty`` and
    target noise sigma = ``target_noise`` (drawn from ``generator``); for ``task`` =
    "regression", the plain squared error."""
    if task == "regression":
        return squared_error
    eps, beta, sigma = label_smoothing, confidence_penalty, target_noise
    if sigma and name not in SOFT_TARGETS:
        raise UserError(
            f"loss.target_noise = {sigma}: needs a soft-target loss "
            f"({', '.join(SOFT_TARGETS)}), not {name}"
        )

    def target(z, y):
        q = soft_targets(y, z.shape[1], eps, z.dtype)
        if sigma and torch.is_grad_enabled():  # training only
            q = q + sigma * torch.randn(
                q.shape, generator=generator, device=q.device, dtype=q.dtype
            )
        return q

    base = LOSSES[name].build(eps, target)
    if beta:
        return lambda z, y: base(z, y) - beta * entropy(z)
    return base
