"""Convolutional classifiers for 1-D signals (``cnn1d``, e.g. MNIST-1D) and images (``cnn2d``).

Block i: Conv (kernel k, 'same' padding; or a locally connected layer of the same shape,
``model.layer``, see :data:`LAYERS`) -> [batch/layer norm] -> activation -> [pool 2, for
every block after the first] -> [noise] -> [dropout]; then flatten and a Linear head producing
logits. 1-D samples of shape (length,) are read as one channel. With auxiliary heads, every block
but the last gets a classifier of its own: global average pooling and a Linear layer.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import UserError
from ..registry import Registry
from .layers import TappedSequential, activation as make_activation, dropout as make_dropout
from .layers import norm as make_norm, regularizers
from .local import LocallyConnected1d, LocallyConnected2d


def _conv(dims: int, in_ch: int, out_ch: int, kernel_size: int, size: list[int],
          bias: bool) -> nn.Module:
    return (nn.Conv1d, nn.Conv2d)[dims - 1](in_ch, out_ch, kernel_size,
                                            padding=kernel_size // 2, bias=bias)


def _local(dims: int, in_ch: int, out_ch: int, kernel_size: int, size: list[int],
           bias: bool) -> nn.Module:
    return (LocallyConnected1d, LocallyConnected2d)[dims - 1](
        in_ch, out_ch, kernel_size, tuple(size), padding=kernel_size // 2, bias=bias)


# The weight layer of every conv block, once (lecture 004 contrasts the two): ``build(dims,
# in_channels, out_channels, kernel_size, input size, bias)``, kernel odd, 'same' padding.
LAYERS = Registry("layer", "model.layer")
LAYERS.add("conv", _conv, "convolution (`nn.Conv1d` / `nn.Conv2d`): one filter shared by every "
           "position, C k O weights (lecture 004: assumes the input is stationary)")
LAYERS.add("local", _local, "locally connected (`trainlab.models.local`): a filter of its own at "
           "every position, positions times a conv's weights (lecture 004: good when the input "
           "is registered)")


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
        layer = LAYERS[m["layer"]].build
        pooling = {"max": (nn.MaxPool1d, nn.MaxPool2d), "avg": (nn.AvgPool1d, nn.AvgPool2d)}[pool]
        layers: list[nn.Module] = [*make_dropout(m["input_dropout"], m["dropout_mode"])]
        taps = []
        for i, out_ch in enumerate(channels):
            layers += [layer(dims, in_ch, out_ch, kernel_size, spatial, norm == "none"),
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
