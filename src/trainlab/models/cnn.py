"""Convolutional classifiers for 1-D signals (``cnn1d``, e.g. MNIST-1D) and images (``cnn2d``).

Block i: Conv (kernel k, 'same' padding) -> [batch/layer norm] -> activation -> [pool 2, for
every block after the first] -> [noise] -> [dropout]; then flatten and a Linear head producing
logits. 1-D samples of shape (length,) are read as one channel. With auxiliary heads, every block
but the last gets a classifier of its own: global average pooling and a Linear layer.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import UserError
from .layers import TappedSequential, activation as make_activation, dropout as make_dropout
from .layers import norm as make_norm, regularizers


class CNN(TappedSequential):
    def __init__(self, dims: int, input_shape: tuple[int, ...], channels: list[int],
                 num_classes: int, m: dict, aux: bool = False):
        super().__init__()
        kernel_size, pool, norm = m["kernel_size"], m["pool"], m["norm"]
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
        layers: list[nn.Module] = [*make_dropout(m["input_dropout"], m["dropout_mode"])]
        taps = []
        for i, out_ch in enumerate(channels):
            layers += [conv(in_ch, out_ch, kernel_size, padding=kernel_size // 2,
                            bias=norm == "none"),
                       make_norm(norm, out_ch, dims, m["bn_momentum"]),
                       make_activation(m["activation"])]
            if i > 0:
                layers.append(pooling[dims - 1](2))
                spatial = [s // 2 for s in spatial]
            layers += regularizers(m)
            taps.append((len(layers) - 1, out_ch))
            in_ch = out_ch
        layers += [nn.Flatten(), nn.Linear(in_ch * math.prod(spatial), num_classes)]
        self.net = nn.Sequential(*layers)
        if aux and len(channels) > 1:  # after the network: its initialization stays the same
            pool = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)[dims - 1]
            self.set_heads([i for i, _ in taps[:-1]],
                           [nn.Sequential(pool(1), nn.Flatten(), nn.Linear(c, num_classes))
                            for _, c in taps[:-1]])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.unsqueeze(1) if self.add_channel else x)
