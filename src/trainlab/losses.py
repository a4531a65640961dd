"""Divergences by name (lecture 000, "L2 vs KL divergence"; lecture 002, cross-entropy vs MSE).

- ``cross_entropy``: -log softmax(z)_y, on logits z, with optional label smoothing eps (targets
  (1 - eps) one-hot + eps / C; Szegedy et al. 2016) -- ``torch.nn.functional.cross_entropy``.
- ``mse``: ||softmax(z) - onehot(y)||^2 / C, the L2 divergence between the output distribution
  and the one-hot target (it saturates where cross-entropy does not: lecture 002).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def build(config: dict) -> LossFn:
    loss = config["loss"]
    if loss["name"] == "mse":
        return lambda z, y: F.mse_loss(z.softmax(1), F.one_hot(y, z.shape[1]).to(z.dtype))
    eps = loss["label_smoothing"]
    return lambda z, y: F.cross_entropy(z, y, label_smoothing=eps)
