"""Multi-layer perceptron (and, with no hidden layer, logistic regression).

Each hidden layer: Linear -> [batch/layer norm] -> activation -> [dropout]; then a Linear head
producing logits. Samples of any shape are flattened first.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .layers import activation as make_activation
from .layers import norm as make_norm


class MLP(nn.Module):
    def __init__(self, input_shape: tuple[int, ...], hidden: list[int], num_classes: int,
                 activation: str = "relu", norm: str = "none", dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(input_shape)
        for h in hidden:
            layers += [nn.Linear(width, h, bias=norm == "none"), make_norm(norm, h, 0),
                       make_activation(activation)]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
