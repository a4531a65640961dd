"""Convolutional classifiers for 1-D signals (``cnn1d``, e.g. MNIST-1D) and images (``cnn2d``).

Block i: Conv (kernel k_i, stride s_i, padding p_i; or a locally connected layer of the same
shape, ``model.layer``, see :data:`LAYERS`) -> [batch/layer norm] -> activation -> [maxout: the
max over each group of ``model.maxout_pieces`` consecutive feature maps] -> [pool, for every
block after the first, unless ``model.pool = none``] -> [contrast normalization across feature
maps, ``model.contrast_norm``] -> [noise] -> [dropout]; then flatten and a Linear head producing
logits. The order of filtering, non-linearity, pooling and normalization is lecture 001's
("Components of Each Layer"); its pooling is "sum or max" over "non-overlapping/overlapping
regions" (``model.pool = max | avg | sum``, a window of ``model.pool_size`` positions every
``model.pool_stride``: 2 and 2 by default, overlapping when the stride is smaller, as
AlexNet's 3 and 2), and "pooling across feature groups" (maxout units, Goodfellow et al. 2013).
A block's output length is (L + 2 p_i - k_i) // s_i + 1 (PyTorch's ``nn.Conv1d`` formula);
padding "same" is p_i = k_i // 2, which keeps L at stride 1; a pooling window of w every t
positions then leaves (L - w) // t + 1.
``model.kernel_size``, ``model.stride`` and ``model.padding`` take one value for every block or a
list with one per block: MNIST-1D's paper CNN (Greydanus 2020, notebooks/models.py) is kernels
[5, 3, 3], stride 2, padding 1, pool none, norm none, 25 channels (40 -> 19 -> 10 -> 5).
1-D samples of shape (length,) are read as one channel. With auxiliary heads, every block but the
last gets a classifier of its own: global average pooling and a Linear layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..errors import UserError
from ..registry import Registry
from .layers import (
    TappedSequential,
    activation as make_activation,
    dropout as make_dropout,
    norm as make_norm,
    regularizers,
)
from .local import LocallyConnected1d, LocallyConnected2d


def _conv(
    dims: int,
    in_ch: int,
    out_ch: int,
    kernel_size: int,
    size: list[int],
    bias: bool,
    stride: int = 1,
    padding: int | None = None,
) -> nn.Module:
    padding = kernel_size // 2 if padding is None else padding
    return (nn.Conv1d, nn.Conv2d)[dims - 1](
        in_ch, out_ch, kernel_size, stride=stride, padding=padding, bias=bias
    )


def _local(
    dims: int,
    in_ch: int,
    out_ch: int,
    kernel_size: int,
    size: list[int],
    bias: bool,
    stride: int = 1,
    padding: int | None = None,
) -> nn.Module:
    padding = kernel_size // 2 if padding is None else padding
    return (LocallyConnected1d, LocallyConnected2d)[dims - 1](
        in_ch, out_ch, kernel_size, tuple(size), stride=stride, padding=padding, bias=bias
    )


def per_block(value: int | str | list, blocks: int) -> list:
    """One value per block: a list as given (its length checked by the config), else repeated."""
    return list(value) if isinstance(value, (list, tuple)) else [value] * blocks


def conv_length(size: int, kernel_size: int, stride: int, padding: int) -> int:
    """A convolution's output length: (L + 2 p - k) // s + 1 (``nn.Conv1d``'s documentation)."""
    return (size + 2 * padding - kernel_size) // stride + 1


class SumPool(nn.Module):
    """Sum pooling (lecture 001, "Sum or max"): y = sum of x over each window of ``kernel_size``
    positions (per spatial dimension) every ``stride``; ``dims`` 1 or 2. Computed as the
    average pool times the window's size, sum = k^dims * mean (no padding: every window is
    whole)."""

    def __init__(self, dims: int, kernel_size: int, stride: int):
        super().__init__()
        self.dims, self.kernel_size, self.stride = dims, kernel_size, stride
        self.pool = (nn.AvgPool1d, nn.AvgPool2d)[dims - 1](kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x) * self.kernel_size**self.dims

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class Maxout(nn.Module):
    """Max-pooling across feature maps (lecture 001, "Pooling across feature groups"; maxout
    units, Goodfellow et al. 2013): of C = k G channels, output channel g is
    max(x_{gk}, ..., x_{gk+k-1}), the max over its group of ``pieces`` = k consecutive maps,
    at every position."""

    def __init__(self, pieces: int):
        super().__init__()
        self.pieces = pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        return x.reshape(n, c // self.pieces, self.pieces, *x.shape[2:]).amax(2)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}"


# AlexNet's constants of local response normalization (Krizhevsky et al. 2012, section 3.3).
CONTRAST_NORM = dict(alpha=1e-4, beta=0.75, k=2.0)


def pooling(kind: str, dims: int, size: int, stride: int) -> nn.Module | None:
    """The spatial pooling ``kind`` (max, avg, sum; none: None) of a window of ``size``
    positions every ``stride``."""
    if kind == "none":
        return None
    if kind == "sum":
        return SumPool(dims, size, stride)
    cls = {"max": (nn.MaxPool1d, nn.MaxPool2d), "avg": (nn.AvgPool1d, nn.AvgPool2d)}[kind]
    return cls[dims - 1](size, stride)


# The weight layer of every conv block, once (lecture 004 contrasts the two): ``build(dims,
# in_channels, out_channels, kernel_size, input size, bias, stride, padding)``; padding None =
# 'same' (k // 2, kernel odd).
LAYERS = Registry("layer", "model.layer", config_key=True)
LAYERS.add(
    "conv",
    _conv,
    "convolution (`nn.Conv1d` / `nn.Conv2d`): one filter shared by every "
    "position, C k O weights (lecture 004: assumes the input is stationary)",
)
LAYERS.add(
    "local",
    _local,
    "locally connected (`trainlab.models.local`): a filter of its own at "
    "every position, positions times a conv's weights (lecture 004: good when the input "
    "is registered)",
)


class CNN(TappedSequential):
    """The blocks above, ``dims``-dimensional (1: signals, 2: images), for samples of
    ``input_shape``, one block per entry of ``channels``, ``num_classes`` outputs. Per block
    (one value, or a list with one per block): ``kernel_size`` (odd), ``stride``, ``padding``
    ("same" or an integer). ``layer``: conv or local (:data:`LAYERS`); ``pool``: max, avg, sum
    or none, over windows of ``pool_size`` every ``pool_stride``; ``maxout_pieces`` k > 1: each
    block's layer makes k times its channels and :class:`Maxout` keeps the max of each group of
    k; ``contrast_norm`` n > 0: ``nn.LocalResponseNorm(n)`` across feature maps after the
    pooling, b = a / (k + alpha / n sum over n neighbouring maps of a^2)^beta with AlexNet's
    k = 2, alpha = 1e-4, beta = 0.75 (lecture 001's contrast normalization across feature maps);
    ``norm_layers``: the blocks (numbered from 1) that get ``norm``, all when empty; ``norm``,
    ``bn_momentum``, ``activation``, ``hidden_noise``, ``dropout``, ``dropout_mode``,
    ``input_dropout`` and ``aux_heads`` as for the MLP."""

    def __init__(
        self,
        dims: int,
        input_shape: tuple[int, ...],
        channels: Sequence[int],
        num_classes: int,
        *,
        kernel_size: int | Sequence[int] = 5,
        stride: int | Sequence[int] = 1,
        padding: int | str | Sequence = "same",
        pool: str = "max",
        pool_size: int = 2,
        pool_stride: int = 2,
        maxout_pieces: int = 1,
        contrast_norm: int = 0,
        layer: str = "conv",
        activation: str = "relu",
        norm: str = "batch",
        dropout: float = 0.0,
        dropout_mode: str = "inverted",
        input_dropout: float = 0.0,
        hidden_noise: float = 0.0,
        bn_momentum: float = 0.1,
        norm_layers: Sequence[int] = (),
        aux_heads: bool = False,
    ):
        super().__init__()
        channels = list(channels)
        blocks = len(channels)
        if len(input_shape) not in (dims, dims + 1):
            want = "(length,) or (channels, length)" if dims == 1 else "(channels, height, width)"
            raise UserError(
                f"model.name = 'cnn{dims}d' needs samples shaped {want}; the data's "
                f"are {tuple(input_shape)} (try model.name = "
                f"{'cnn1d' if len(input_shape) <= 2 else 'cnn2d'} or mlp)"
            )
        self.add_channel = len(input_shape) == dims
        in_ch = 1 if self.add_channel else input_shape[0]
        spatial = list(input_shape[-dims:])
        halving = pool_size == pool_stride == 2
        if pool != "none" and halving and min(spatial) >> (blocks - 1) < 1:
            raise UserError(
                f"model.channels = {channels}: {blocks - 1} pooling steps "
                f"halve the input size {tuple(spatial)} below 1; use fewer blocks"
            )
        kernels, strides = per_block(kernel_size, blocks), per_block(stride, blocks)
        paddings = [None if p == "same" else p for p in per_block(padding, blocks)]
        make_layer = LAYERS[layer].build
        normed = set(norm_layers or range(1, blocks + 1))
        layers: list[nn.Module] = [*make_dropout(input_dropout, dropout_mode)]
        taps = []
        for i, (out_ch, k, s, p) in enumerate(zip(channels, kernels, strides, paddings)):
            block_norm = norm if i + 1 in normed else "none"
            maps = out_ch * maxout_pieces
            layers += [
                make_layer(dims, in_ch, maps, k, spatial, block_norm == "none", s, p),
                make_norm(block_norm, maps, dims, bn_momentum),
                make_activation(activation),
            ]
            if maxout_pieces > 1:
                layers.append(Maxout(maxout_pieces))
            spatial = [conv_length(n, k, s, k // 2 if p is None else p) for n in spatial]
            pool_layer = pooling(pool, dims, pool_size, pool_stride) if i > 0 else None
            if pool_layer is not None:
                layers.append(pool_layer)
                spatial = [conv_length(n, pool_size, pool_stride, 0) for n in spatial]
            if contrast_norm:
                layers.append(nn.LocalResponseNorm(contrast_norm, **CONTRAST_NORM))
            if min(spatial) < 1:
                pooled = "" if pool_layer is None else f", pooling {pool_size} every {pool_stride}"
                raise UserError(
                    f"model.channels = {channels}: block {i + 1} (kernel {k}, stride "
                    f"{s}{pooled}) leaves the input size below 1; use fewer blocks, smaller "
                    f"strides or more padding"
                )
            layers += regularizers(hidden_noise, dropout, dropout_mode)
            taps.append((len(layers) - 1, out_ch))
            in_ch = out_ch
        layers += [nn.Flatten(), nn.Linear(in_ch * math.prod(spatial), num_classes)]
        self.net = nn.Sequential(*layers)
        if aux_heads and blocks > 1:  # after the network: its initialization stays the same
            pool_all = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)[dims - 1]
            self.set_heads(
                [i for i, _ in taps[:-1]],
                [
                    nn.Sequential(pool_all(1), nn.Flatten(), nn.Linear(c, num_classes))
                    for _, c in taps[:-1]
                ],
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.unsqueeze(1) if self.add_channel else x)
