"""Monte Carlo dropout: the mean prediction of N stochastic forward passes, beside the
deterministic test-time rule that approximates it.

Lecture 003 s79 ("Bayesian interpretation of dropout": Monte Carlo integration over the
posterior, Gal & Ghahramani 2016) and lecture 004 ("Test time: deterministic approximation"):
a network trained with dropout is an ensemble of thinned networks; the test-time rule (inverted
dropout: nothing at test time; original dropout: every output times 1 - p, lecture 000 s162)
replaces the ensemble's mean by one deterministic pass. Monte Carlo dropout computes the mean
instead:

    p̄(y | x) = (1/N) sum_{n=1..N} softmax(f(x; mask_n))

with fresh dropout masks in every pass, each dropout layer in its training form (inverted:
kept units times 1 / (1 - p); original: kept units unscaled) and every other layer as at test
time (batch norm's inference statistics, no Gaussian noise). Its loss is the run's loss with
log p̄ in place of the logits (for cross-entropy: the negative log-likelihood of p̄), its
accuracy that of argmax p̄. A regression model's N outputs are averaged instead. The masks are
drawn from ``seed`` in a forked random state, so the result is reproducible and the caller's
random state is left as it was. Dropout inside a recurrent cell's step is not turned on; the
dropout layers between layers (``nn.Dropout``, the original form, between recurrent layers) are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..models.layers import OriginalDropout
from ..models.recurrent_dropout import SequenceDropout
from .losses import LossFn

DROPOUT = (nn.modules.dropout._DropoutNd, OriginalDropout, SequenceDropout)


def dropout_layers(model: nn.Module) -> list[nn.Module]:
    """The dropout layers of ``model`` that drop anything (p > 0)."""
    return [m for m in model.modules() if isinstance(m, DROPOUT) and m.p > 0]


@torch.no_grad()
def predict(
    model: nn.Module,
    x: torch.Tensor,
    passes: int,
    seed: int = 0,
    regression: bool = False,
    batch_size: int = 4096,
) -> torch.Tensor:
    """The mean over ``passes`` stochastic passes of softmax(model(x)) (of model(x) when
    ``regression``), dropout on and everything else in evaluation mode; masks from ``seed``.
    Pass after pass over all of ``x`` (in batches of ``batch_size``)."""
    if passes < 1:
        raise ValueError(f"Invalid passes value: {passes}")
    training = model.training
    model.eval()
    for m in dropout_layers(model):
        m.train()
    devices = [x.device] if x.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            total = None
            for _ in range(passes):
                out = torch.cat(
                    [model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
                )
                p = out.float() if regression else F.softmax(out.float(), dim=1)
                total = p if total is None else total + p
    finally:
        model.train(training)
    return total / passes


def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: LossFn,
    passes: int,
    seed: int = 0,
) -> tuple[float, float | None]:
    """Loss and accuracy of the Monte Carlo mean (:func:`predict`) on ``(x, y)``; the accuracy
    is None for real-valued targets."""
    regression = y.is_floating_point()
    mean = predict(model, x, passes, seed, regression)
    if regression:
        return float(loss_fn(mean, y)), None
    log_mean = mean.clamp_min(torch.finfo(mean.dtype).tiny).log()
    accuracy = (mean.argmax(1) == y).double().mean().item()
    return float(loss_fn(log_mean, y)), accuracy
