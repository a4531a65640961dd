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

import torch
from torch import nn

from .layers import TappedSequential, activation as make_activation, dropout as make_dropout
from .layers import norm as make_norm, regularizers


class Residual(nn.Sequential):
    """x + f(x), f the layers it holds in order (an identity shortcut, He et al. 2016)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + super().forward(x)


class MLP(TappedSequential):
    def __init__(self, input_shape: tuple[int, ...], hidden: list[int], num_classes: int,
                 m: dict | None = None, aux: bool = False):
        super().__init__()
        m = m or {"activation": "relu", "norm": "none", "dropout": 0.0, "dropout_mode": "inverted",
                  "hidden_noise": 0.0, "input_dropout": 0.0, "bn_momentum": 0.1}
        layers: list[nn.Module] = [nn.Flatten(), *make_dropout(m["input_dropout"], m["dropout_mode"])]
        width = math.prod(input_shape)
        taps = []
        for h in hidden:
            block = [nn.Linear(width, h, bias=m["norm"] == "none"),
                     make_norm(m["norm"], h, 0, m["bn_momentum"]), make_activation(m["activation"]),
                     *regularizers(m)]
            layers += [Residual(*block)] if m.get("residual") and h == width else block
            taps.append((len(layers) - 1, h))
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)
        if aux and len(hidden) > 1:  # after the network: its initialization stays the same
            self.set_heads([i for i, _ in taps[:-1]],
                           [nn.Linear(h, num_classes) for _, h in taps[:-1]])
