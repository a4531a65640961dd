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
over-confident outputs; with ``confidence_threshold`` Gamma > 0 it is beta * mean_n max(0,
Gamma - H(softmax(z_n))) instead, a penalty only on the samples whose entropy is below Gamma
(lecture 003 s73-74, "enforce entropy to be above some threshold"; Pereyra et al. 2017's hinge
form). ``target_noise`` sigma adds N(0, sigma^2) to the soft target q of ``mse``,
``binary_cross_entropy`` and ``kl`` during training (noise injection on targets).

Label smoothing's prior (lecture 003 s71-72, "When is uniform a good choice? Bad?"): q = (1 - eps)
e_y + eps u, with u_k = 1 / C (``uniform``) or the class frequencies of the training split
(``unigram``, Szegedy et al. 2016's "unigram distribution"); :func:`class_prior` computes it.

Multi-label targets (``task = "multilabel"``): y is a 0/1 matrix (N, C), one independent label
per class, and the loss is ``binary_cross_entropy``, one sigmoid per class (lecture 002,
"Multi-label classification: cross entropy can be recorded separately for each neuron with
sigmoid"): -1/(N C) sum_n sum_k [q_nk log sigmoid(z_nk) + (1 - q_nk) log(1 - sigmoid(z_nk))],
the lecture's sum over k divided by C. Label smoothing makes q = (1 - eps) y + eps u, u_k = 1/2
(uniform: each label's two outcomes) or the training split's frequency of label k (unigram).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import UserError
from ..registry import Registry

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def soft_targets(
    y: torch.Tensor,
    classes: int,
    eps: float,
    dtype: torch.dtype,
    prior: torch.Tensor | None = None,
) -> torch.Tensor:
    """(1 - eps) one-hot(y) + eps u, u = ``prior`` (C,) or 1 / C; for multi-label targets y
    (N, C) of 0/1, (1 - eps) y + eps u with u = ``prior`` or 1/2."""
    if y.dim() == 2:  # multi-label
        q = y.to(dtype)
        u = 0.5 if prior is None else prior.to(dtype)
    else:
        q = F.one_hot(y, classes).to(dtype)
        u = 1 / classes if prior is None else prior.to(dtype)
    return q * (1 - eps) + eps * u if eps else q


def class_prior(y: torch.Tensor, classes: int) -> torch.Tensor:
    """The unigram prior of labels ``y``: the frequency of each class, count_k / N (float64);
    for multi-label targets (N, C), the fraction of samples with label k."""
    if y.dim() == 2:
        return y.double().mean(0)
    return torch.bincount(y, minlength=classes).double() / len(y)


def entropies(z: torch.Tensor) -> torch.Tensor:
    """The entropy of softmax(z_n) of each sample, H_n = -sum_k p_nk log p_nk."""
    log_p = z.log_softmax(1)
    return -(log_p.exp() * log_p).sum(1)


def entropy(z: torch.Tensor) -> torch.Tensor:
    """Mean entropy of softmax(z) over the batch."""
    return entropies(z).mean()


def _cross_entropy(eps: float, target: Callable, prior: bool) -> LossFn:
    if prior:  # F.cross_entropy smooths toward the uniform distribution only
        return lambda z, y: -(target(z, y) * z.log_softmax(1)).sum(1).mean()
    return lambda z, y: F.cross_entropy(z, y, label_smoothing=eps)


def _soft(divergence: Callable) -> Callable:
    """A soft-target loss's builder: divergence(logits, target distribution)."""
    return lambda eps, target, prior: lambda z, y: divergence(z, target(z, y))


# Every divergence, once: ``build(label smoothing eps, target(z, y), prior)`` -> fn(logits,
# labels), ``prior``: whether label smoothing is toward a non-uniform prior;
# ``soft_targets``: compares with the (smoothed, optionally noisy) target distribution q;
# ``smooths``: label smoothing applies.
@dataclass(frozen=True)
class LossInfo:
    """``soft_targets``: compares the output with the (smoothed, optionally noisy) target
    distribution q; ``smooths``: label smoothing applies; ``second_derivatives``: PyTorch can
    differentiate it twice (what Newton's methods need); ``multilabel``: takes multi-label
    targets (N, C)."""

    soft_targets: bool
    smooths: bool
    second_derivatives: bool = True
    multilabel: bool = False


LOSSES = Registry("loss", "loss.name", LossInfo, config_key=True)
LOSSES.add(
    "cross_entropy",
    _cross_entropy,
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
    "one sigmoid per class against q, averaged over classes (the loss of multi-label targets, "
    "lecture 002)",
    soft_targets=True,
    smooths=True,
    multilabel=True,
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
    lambda eps, target, prior: lambda z, y: F.multi_margin_loss(z, y, margin=1.0),
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
    confidence_threshold: float = 0.0,
    target_noise: float = 0.0,
    prior: torch.Tensor | None = None,
    task: str = "classification",
    generator: torch.Generator | None = None,
) -> LossFn:
    """The divergence ``name`` (see above) as ``fn(logits, labels) -> scalar``, with label
    smoothing eps = ``label_smoothing`` toward ``prior`` (None: uniform; else the class
    frequencies, :func:`class_prior`), confidence penalty beta = ``confidence_penalty`` (only
    below the entropy ``confidence_threshold`` when > 0) and target noise sigma =
    ``target_noise`` (drawn from ``generator``); for ``task`` = "regression", the plain squared
    error; for "multilabel", ``binary_cross_entropy`` only."""
    if task == "regression":
        return squared_error
    eps, beta, sigma = label_smoothing, confidence_penalty, target_noise
    gamma = confidence_threshold
    if sigma and name not in SOFT_TARGETS:
        raise UserError(
            f"loss.target_noise = {sigma}: needs a soft-target loss "
            f"({', '.join(SOFT_TARGETS)}), not {name}"
        )
    if task == "multilabel":
        check_multilabel(name, beta)

    def target(z, y):
        q = soft_targets(y, z.shape[1], eps, z.dtype, prior)
        if sigma and torch.is_grad_enabled():  # training only
            q = q + sigma * torch.randn(
                q.shape, generator=generator, device=q.device, dtype=q.dtype
            )
        return q

    base = LOSSES[name].build(eps, target, prior is not None)
    if beta and gamma:
        return lambda z, y: base(z, y) + beta * (gamma - entropies(z)).clamp(min=0).mean()
    if beta:
        return lambda z, y: base(z, y) - beta * entropy(z)
    return base


def check_multilabel(name: str, confidence_penalty: float = 0.0) -> None:
    """Multi-label targets train with a loss that takes them, and no softmax entropy."""
    takes = LOSSES.names(multilabel=True)
    if name not in takes:
        raise UserError(
            f"loss.name = {name!r}: the data has multi-label targets (a 0/1 matrix y); "
            f"use loss.name = {' or '.join(takes)} (one sigmoid per class)"
        )
    if confidence_penalty:
        raise UserError(
            f"loss.confidence_penalty = {confidence_penalty}: penalizes the entropy of a "
            "softmax over the classes; the data has multi-label targets (expected 0)"
        )
