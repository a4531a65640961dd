"""Locally connected layers against a convolution of the same shape (same channels, kernel,
padding, input size, hence the same multiply-adds), forward + backward, CPU, in one process.

Every case times, in turn and alternating which goes first each round: ``nn.Conv1d`` /
``nn.Conv2d``; trainlab's ``LocallyConnected1d`` / ``2d`` (``windows``: the padded input moved
to (*size, N, C) and sliced once per kernel offset; then one ``torch.baddbmm`` over positions,
its gradient made contiguous); and alternatives, each changing one thing: the windows by
``F.unfold`` (im2col) or by ``Tensor.unfold``; the product by ``torch.einsum`` or by
``torch.bmm`` and a separate bias add; no gradient hook. Reported: milliseconds per
forward + backward (the mean over ``--steps`` calls, best of ``--rounds`` rounds: interference
only ever adds time) and each one's ratio to the convolution. The alternatives are checked to
give the layer's numbers before they are timed.

    python benchmarks/local_layers.py [--rounds 7] [--steps 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from trainlab.models.local import LocallyConnected1d, LocallyConnected2d

# name -> (dims, batch, in_channels, out_channels, kernel, input size), padding 'same': the blocks
# of the default cnn1d on MNIST-1D (channels [32, 32, 64, 64], kernel 5, length 40 halved after
# every block but the first) and of cnn2d with the same channels on 28x28 images, batch 64
CASES = {
    "cnn1d block 1: 1 -> 32 ch, length 40": (1, 64, 1, 32, 5, 40),
    "cnn1d block 2: 32 -> 32 ch, length 40": (1, 64, 32, 32, 5, 40),
    "cnn1d block 3: 32 -> 64 ch, length 20": (1, 64, 32, 64, 5, 20),
    "cnn1d block 4: 64 -> 64 ch, length 10": (1, 64, 64, 64, 5, 10),
    "cnn2d block 1: 1 -> 32 ch, 28x28": (2, 64, 1, 32, 5, 28),
    "cnn2d block 2: 32 -> 32 ch, 28x28": (2, 64, 32, 32, 5, 28),
    "cnn2d block 3: 32 -> 64 ch, 14x14": (2, 64, 32, 64, 5, 14),
    "cnn2d block 4: 64 -> 64 ch, 7x7": (2, 64, 64, 64, 5, 7),
}


def funfold_windows(layer, x):
    """``F.unfold`` (im2col: (N, C K, P)), then reordered to the layer's (P, N, K C)."""
    kernel, stride, padding = layer.kernel_size, layer.stride, layer.padding
    if layer.dims == 1:  # F.unfold takes images: a signal is an image of height 1
        x, kernel, stride, padding = x.unsqueeze(2), (1, *kernel), (1, *stride), (0, *padding)
    cols = F.unfold(x, kernel, padding=padding, stride=stride)
    n, p = len(x), cols.shape[-1]
    return cols.view(n, layer.in_channels, -1, p).permute(3, 0, 2, 1).reshape(p, n, -1)


def tensor_unfold_windows(layer, x):
    """``Tensor.unfold`` on the padded (N, C, *size) input: a view (N, C, *P, *K), copied to
    (P, N, K C)."""
    d = layer.dims
    x = F.pad(x, [q for p in reversed(layer.padding) for q in (p, p)])
    for i in range(d):
        x = x.unfold(2 + i, layer.kernel_size[i], layer.stride[i])
    order = (*range(2, 2 + d), 0, *range(2 + d, 2 + 2 * d), 1)
    return x.permute(order).reshape(math.prod(layer.output_size), len(x), -1)


def _product(layer, cols, n, hook=True):
    """As the layer: baddbmm, the gradient of the product made contiguous."""
    w = layer.weight.view(len(cols), -1, layer.out_channels)
    y = torch.baddbmm(layer.bias.view(len(cols), 1, -1), cols, w)
    if hook:
        y.register_hook(lambda g: None if g is None else g.contiguous())
    return y.permute(1, 2, 0).contiguous().view(n, layer.out_channels, *layer.output_size)


def einsum_product(layer, x):
    """The layer's windows, then ``torch.einsum`` (which picks its own bmm layout)."""
    cols = layer.windows(x)
    w = layer.weight.view(len(cols), -1, layer.out_channels)  # (P, K C, O)
    y = torch.einsum("pnj,pjo->nop", cols, w) + layer.bias.view(len(cols), -1).T
    return y.reshape(len(x), layer.out_channels, *layer.output_size)


def bmm_add_product(layer, x):
    """The layer's windows and ``torch.bmm``, the bias added afterwards."""
    cols = layer.windows(x)
    w = layer.weight.view(len(cols), -1, layer.out_channels)
    y = torch.bmm(cols, w) + layer.bias.view(len(cols), 1, -1)
    y.register_hook(lambda g: None if g is None else g.contiguous())
    return y.permute(1, 2, 0).contiguous().view(len(x), layer.out_channels, *layer.output_size)


ALTERNATIVES = {
    "F.unfold windows": lambda layer, x: _product(layer, funfold_windows(layer, x), len(x)),
    "Tensor.unfold windows": lambda layer, x: _product(layer, tensor_unfold_windows(layer, x),
                                                       len(x)),
    "einsum product": einsum_product,
    "bmm, then + bias": bmm_add_product,
    "no gradient hook": lambda layer, x: _product(layer, layer.windows(x), len(x), hook=False),
}


LAYER = "LocallyConnected"


def _setup(dims, n, c, o, k, size):
    """The two layers and an input that needs a gradient (as every block's but the first)."""
    torch.manual_seed(0)
    shape = (size,) * dims
    conv = (nn.Conv1d, nn.Conv2d)[dims - 1](c, o, k, padding=k // 2)
    local = (LocallyConnected1d, LocallyConnected2d)[dims - 1](c, o, k, shape, padding=k // 2)
    x = torch.randn(n, c, *shape, requires_grad=c > 1)  # block 1 reads the data
    return conv, local, x


def _timer(fn, module, x, steps):
    def run() -> float:
        tic = time.perf_counter()
        for _ in range(steps):
            module.zero_grad(set_to_none=True)
            x.grad = None
            fn(x).square().mean().backward()
        return (time.perf_counter() - tic) / steps * 1e3
    return run


def bench(case, rounds: int, steps: int) -> dict[str, float]:
    conv, local, x = _setup(*case)
    runs = {"conv": _timer(conv, conv, x, steps), LAYER: _timer(local, local, x, steps)}
    for name, form in ALTERNATIVES.items():
        torch.testing.assert_close(form(local, x), local(x), rtol=1e-4, atol=1e-4)
        runs[name] = _timer(lambda v, form=form: form(local, v), local, x, steps)
    for run in runs.values():  # warm-up
        run()
    best = {name: math.inf for name in runs}
    for r in range(rounds):
        order = list(runs) if r % 2 == 0 else list(reversed(runs))
        for name in order:
            best[name] = min(best[name], runs[name]())
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, forward + backward, ms per call "
          f"(best of {args.rounds} rounds of {args.steps}); ratio = time / conv time\n")
    names = ["conv", LAYER, *ALTERNATIVES]
    print("| case | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for label, case in CASES.items():
        best = bench(case, args.rounds, args.steps)
        cells = [f"{best['conv']:.2f}"] + [f"{best[n]:.2f} ({best[n] / best['conv']:.2f}x)"
                                           for n in names[1:]]
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
