"""Multi-layer perceptron (and, with no hidden layer, logistic regression).

[input dropout] -> each hidden layer: Linear -> [batch/layer norm] -> activation -> [noise] ->
[dropout]; then a Linear head producing logits. Samples of any shape are flattened first. With
auxiliary heads, every hidden layer but the last gets a Linear classifier of its own.

With ``model.residual``, a hidden layer whose input and output widths agree adds its input:
h <- h + f(h), f the layer above (He et al. 2016's identity shortcut). MNIST-1D's paper MLP
(Greydanus 2020, notebooks/models.py) is hidden [100, 100], residual: h = relu(W1 x + b1);
h = h + relu(W2 h + b2); logits = W3 h + b3 (the first layer, 40 -> 100, has no shortcut).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .layers import (
    TappedSequential,
    activation as make_activation,
    dropout as make_dropout,
    norm as make_norm,
    regularizers,
)


class Residual(nn.Sequential):
    """x + f(x), f the layers it holds in order (an identity shortcut, He et al. 2016)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + super().forward(x)


class MLP(TappedSequential):
    """The MLP above for samples of ``input_shape`` (flattened), ``hidden`` layer widths and
    ``num_classes`` outputs; ``norm`` (none, batch, layer) with batch norm's ``bn_momentum``,
    ``activation``, ``hidden_noise`` std, ``dropout`` in ``dropout_mode`` (inverted, original),
    ``input_dropout``, ``residual`` shortcuts, and ``aux_heads``. ``norm_layers``: the hidden
    layers (numbered from 1) that get ``norm``, every one when empty (lecture 000 s130: "batch
    normalization may only be applied to some layers"); a layer without it has a bias."""

    def __init__(
        self,
        input_shape: tuple[int, ...],
        hidden: Sequence[int],
        num_classes: int,
        *,
        activation: str = "relu",
        norm: str = "none",
        dropout: float = 0.0,
        dropout_mode: str = "inverted",
        input_dropout: float = 0.0,
        hidden_noise: float = 0.0,
        bn_momentum: float = 0.1,
        residual: bool = False,
        norm_layers: Sequence[int] = (),
        aux_heads: bool = False,
    ):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten(), *make_dropout(input_dropout, dropout_mode)]
        width = math.prod(input_shape)
        taps = []
        normed = set(norm_layers or range(1, len(hidden) + 1))
        for i, h in enumerate(hidden):
            layer_norm = norm if i + 1 in normed else "none"
            block = [
                nn.Linear(width, h, bias=layer_norm == "none"),
                make_norm(layer_norm, h, 0, bn_momentum),
                make_activation(activation),
                *regularizers(hidden_noise, dropout, dropout_mode),
            ]
            layers += [Residual(*block)] if residual and h == width else block
            taps.append((len(layers) - 1, h))
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)
        if aux_heads and len(hidden) > 1:  # after the network: its initialization stays the same
            self.set_heads(
                [i for i, _ in taps[:-1]], [nn.Linear(h, num_classes) for _, h in taps[:-1]]
            )
