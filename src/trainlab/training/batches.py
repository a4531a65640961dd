"""Minibatches from tensors already in memory, with no DataLoader: one gather per epoch, then
views. Lecture 000: batch GD (one update per epoch), online/stochastic GD (b = 1) and minibatch
GD; samples presented in a fresh random order each epoch, or in a fixed order (which the lecture
shows can cycle)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch


def batch_count(n: int, batch_size: int, min_size: int = 1) -> int:
    """Updates per epoch; a last batch smaller than ``min_size`` joins the one before it."""
    count = math.ceil(n / batch_size)
    if count > 1 and n % batch_size and n % batch_size < min_size:
        count -= 1
    return count


def epoch_order(
    x: torch.Tensor, y: torch.Tensor, shuffle: bool, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The samples in the order an epoch presents them: a fresh permutation, or as they are.

    The permutation is drawn on the CPU by ``generator`` (the same order on every device, and
    one generator state to checkpoint); on CUDA it is copied from pinned memory without
    blocking (a plain ``.to(device)`` of pageable memory waits for the copy, a host-device
    synchronization), and the gather then runs on the device."""
    if not shuffle:
        return x, y
    order = torch.randperm(len(x), generator=generator)
    if x.device.type == "cuda":
        order = order.pin_memory().to(x.device, non_blocking=True)
    else:
        order = order.to(x.device)
    return x[order], y[order]


def batches(
    x: torch.Tensor, y: torch.Tensor, batch_size: int, min_size: int = 1
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``batch_count(len(x), ...)`` consecutive (x, y) batches (views) covering every
    sample once, in order."""
    n = len(x)
    count = batch_count(n, batch_size, min_size)
    for i in range(count):
        end = n if i == count - 1 else (i + 1) * batch_size
        yield x[i * batch_size : end], y[i * batch_size : end]
