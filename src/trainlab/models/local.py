"""Locally connected layers: a convolution whose filter is not shared, every output position has
its own. Source: lecture 004 (``004_a2d6be35e5397803.txt``, lines 30-33, slides without numbers):
"Fully-connected Layer" (200x200 image, 40K hidden units, ~2B parameters), "Locally-connected
Layer" (10x10 filters, 4M parameters; "This parameterization is good when input image is
registered (e.g., face recognition)"), then "Convolutional Layer", which shares "the same
parameters across different locations (assuming input is stationary)".

For input x of shape (N, C, *input_size), zero-padded by ``padding`` on each side, output
position p (a pair (i, j) in 2-D) reads the window that starts at p*stride and

    y[n, o, p] = sum_{k, c} W[p, k, c, o] x_pad[n, c, p*stride + k] + b[p, o]

(k a kernel offset, a pair in 2-D), with ``weight`` W of shape (*output_size, *kernel_size, C, O)
and ``bias`` b of shape (*output_size, O); ``output_size`` is a convolution's,
(size + 2 padding - kernel_size) // stride + 1. W[p] is laid out as Keras's
``LocallyConnected2D`` kernel, (kernel offsets, input channels, output channels), so that each
position's product is one matrix product whose gradient needs no transposition: with
W[p] = w.permute(2, [3,] 1, 0) (w a conv weight (O, C, *kernel_size)) and b[p] = b0 for every p,
the layer is exactly ``F.conv1d`` / ``F.conv2d`` (cross-correlation, as PyTorch's convolutions)
with weight w and bias b0. Parameters: prod(output_size) * O * (prod(kernel_size) * C + 1), a
convolution's times the number of output positions.

Computed as one batched matrix product over positions, (P, N, K C) @ (P, K C, O) plus the bias
(``torch.baddbmm``), P = prod(output_size), K = prod(kernel_size), on the input's windows
gathered by :meth:`windows`. ``benchmarks/local_layers.py`` times it against a convolution of the
same shape and against other formulations (``F.unfold``, ``Tensor.unfold``, ``torch.einsum``):
on 2 CPU threads 1.3-2.3x a convolution's time for the blocks of cnn1d on MNIST-1D, 3.5-9.5x
for cnn2d's on 28x28 images, where the windows (K = 25 times the input) and the per-position weight
gradients are memory traffic that a convolution does not have (BENCHMARKS.md).

Initialization: ``nn.Conv1d`` / ``nn.Conv2d``'s default, at every position independently:
W[p] ~ kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)) and b[p] ~ the same
uniform, fan_in = C * prod(kernel_size). ``model.init``'s other rules reach every position too,
each filter laid out as a convolution's weight (:func:`trainlab.models.init.per_position`).

>>> layer = LocallyConnected1d(2, 3, kernel_size=5, input_size=40, padding=2)
>>> layer(torch.randn(8, 2, 40)).shape, tuple(layer.weight.shape)
(torch.Size([8, 3, 40]), (40, 5, 2, 3))
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn


def _tuple(value: int | tuple[int, ...], dims: int) -> tuple[int, ...]:
    return (value,) * dims if isinstance(value, int) else tuple(value)


def _contiguous(grad: torch.Tensor | None) -> torch.Tensor | None:
    return None if grad is None else grad.contiguous()


class _LocallyConnectedNd(nn.Module):
    """The 1-D and 2-D layers' shared body; ``dims`` is 1 or 2."""

    dims: int

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        input_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] = 0,
        bias: bool = True,
    ):
        super().__init__()
        d = self.dims
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.input_size = _tuple(kernel_size, d), _tuple(input_size, d)
        self.stride, self.padding = _tuple(stride, d), _tuple(padding, d)
        self.output_size = tuple(
            (n + 2 * p - k) // s + 1
            for n, p, k, s in zip(self.input_size, self.padding, self.kernel_size, self.stride)
        )
        if min(self.output_size) < 1:
            raise ValueError(
                f"kernel_size {self.kernel_size} with padding {self.padding} does "
                f"not fit input_size {self.input_size}"
            )
        self.weight = nn.Parameter(
            torch.empty(*self.output_size, *self.kernel_size, in_channels, out_channels)
        )
        self.bias = nn.Parameter(torch.empty(*self.output_size, out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``nn.Conv*d``'s initialization, at every position: W[p] ~ kaiming_uniform(a=sqrt(5)),
        b[p] ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C * prod(kernel_size)."""
        fan_in = self.in_channels * math.prod(self.kernel_size)
        gain = nn.init.calculate_gain("leaky_relu", math.sqrt(5))  # kaiming_uniform_'s arithmetic
        bound = math.sqrt(3.0) * gain / math.sqrt(fan_in)  # = 1 / sqrt(fan_in)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != self.dims + 2 or tuple(x.shape[1:]) != (self.in_channels, *self.input_size):
            raise ValueError(
                f"{type(self).__name__} expects input (N, {self.in_channels}, "
                f"{', '.join(map(str, self.input_size))}); got {tuple(x.shape)}"
            )
        columns = self.windows(x)  # (P, N, K C)
        w = self.weight.view(len(columns), -1, self.out_channels)  # (P, K C, O)
        if self.bias is None:
            y = torch.bmm(columns, w)  # (P, N, O)
        else:
            y = torch.baddbmm(self.bias.view(len(columns), 1, self.out_channels), columns, w)
        if y.requires_grad:  # y's gradient arrives permuted, which bmm's backward copies one
            y.register_hook(_contiguous)  # position at a time: 1.15-2x slower (BENCHMARKS.md)
        return y.permute(1, 2, 0).contiguous().view(len(x), self.out_channels, *self.output_size)

    def windows(self, x: torch.Tensor) -> torch.Tensor:
        """Every input window, one row per output position and sample: (P, N, K C), P output
        positions, K = prod(kernel_size) offsets, the channels varying fastest. The input is
        first padded and moved to (*size, N, C) (one copy), then sliced once per kernel offset
        and stacked: forward and backward 1.6-2.9x faster than ``F.unfold``'s windows, up to 1.3x
        than ``Tensor.unfold``'s (BENCHMARKS.md)."""
        d = self.dims
        pads = [0, 0, 0, 0] + [q for p in reversed(self.padding) for q in (p, p)]
        x = F.pad(x.permute(*range(2, 2 + d), 0, 1), pads)  # (*padded size, N, C)
        ranges = [range(k) for k in self.kernel_size]
        slices = [
            x[
                tuple(
                    slice(k, k + s * (p - 1) + 1, s)
                    for k, s, p in zip(offset, self.stride, self.output_size)
                )
            ]
            for offset in itertools.product(*ranges)
        ]
        columns = math.prod(self.kernel_size) * self.in_channels
        return torch.stack(slices, d + 1).view(math.prod(self.output_size), x.shape[d], columns)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"input_size={self.input_size}, stride={self.stride}, padding={self.padding}, "
            f"bias={self.bias is not None}"
        )


class LocallyConnected1d(_LocallyConnectedNd):
    """y[n, o, p] = sum_{k,c} W[p, k, c, o] x_pad[n, c, p*stride + k] + b[p, o]: ``nn.Conv1d``
    with a filter of its own at every output position (see the module docstring)."""

    dims = 1


class LocallyConnected2d(_LocallyConnectedNd):
    """y[n, o, i, j] = sum_{u,v,c} W[i, j, u, v, c, o] x_pad[n, c, i*s0 + u, j*s1 + v]
    + b[i, j, o]: ``nn.Conv2d`` with a filter of its own at every output position."""

    dims = 2
