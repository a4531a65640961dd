"""Convolutional classifiers for 1-D signals (``cnn1d``, e.g. MNIST-1D) and images (``cnn2d``).

Block i: Conv (kernel k, 'same' padding) -> [batch/layer norm] -> activation -> [pool 2, for
every block after the first] -> [dropout]; then flatten and a Linear head producing logits.
1-D samples of shape (length,) are read as one channel.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import UserError
from .layers import activation as make_activation
from .layers import norm as make_norm


class CNN(nn.Module):
    def __init__(self, dims: int, input_shape: tuple[int, ...], channels: list[int],
                 num_classes: int, kernel_size: int = 5, pool: str = "max",
                 activation: str = "relu", norm: str = "batch", dropout: float = 0.0):
        super().__init__()
        if len(input_shape) not in (dims, dims + 1):
            want = "(length,) or (channels, length)" if dims == 1 else "(channels, height, width)"
            raise UserError(f"model.name = 'cnn{dims}d' needs samples shaped {want}; the data's "
                            f"are {tuple(input_shape)} (try model.name = "
                            f"{'cnn1d' if len(input_shape) <= 2 else 'cnn2d'} or mlp)")
        self.add_channel = len(input_shape) == dims
        in_ch = 1 if self.add_channel else input_shape[0]
        spatial = list(input_shape[-dims:])
        if min(spatial) >> (len(channels) - 1) < 1:
            raise UserError(f"model.channels = {channels}: {len(channels) - 1} pooling steps "
                            f"halve the input size {tuple(spatial)} below 1; use fewer blocks")
        conv = (nn.Conv1d, nn.Conv2d)[dims - 1]
        pooling = {"max": (nn.MaxPool1d, nn.MaxPool2d), "avg": (nn.AvgPool1d, nn.AvgPool2d)}[pool]
        layers: list[nn.Module] = []
        for i, out_ch in enumerate(channels):
            layers += [conv(in_ch, out_ch, kernel_size, padding=kernel_size // 2,
                            bias=norm == "none"),
                       make_norm(norm, out_ch, dims), make_activation(activation)]
            if i > 0:
                layers.append(pooling[dims - 1](2))
                spatial = [s // 2 for s in spatial]
            if dropout:
                layers.append(nn.Dropout(dropout))
            in_ch = out_ch
        layers += [nn.Flatten(), nn.Linear(in_ch * math.prod(spatial), num_classes)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.unsqueeze(1) if self.add_channel else x)
