"""Element-wise optimizer steps in cache-sized chunks, with preallocated scratch buffers.

On CPU a pass over a large tensor runs at memory speed, and an out-of-place result pays for
fresh pages; a step of ten or thirty passes over 256K-element chunks (whose working set stays
in cache) with ``out=`` and in-place ops is several times faster (BENCHMARKS.md). Boolean
``torch.where`` and masked writes are slow on CPU, so masks are kept as float 0/1 tensors.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

CHUNK = 1 << 18  # elements per pass


class Workspace:
    """``count`` scratch buffers of CHUNK elements, re-made only for a new dtype or device."""

    def __init__(self, count: int):
        self.count, self.buffers = count, None

    def get(self, like: torch.Tensor, length: int) -> list[torch.Tensor]:
        if (
            self.buffers is None
            or self.buffers[0].dtype != like.dtype
            or self.buffers[0].device != like.device
        ):
            self.buffers = [
                torch.empty(CHUNK, dtype=like.dtype, device=like.device) for _ in range(self.count)
            ]
        return [b[:length] for b in self.buffers]


def spans(n: int) -> Iterator[tuple[int, int]]:
    """(start, end) of the chunks of a flat tensor of n elements."""
    for start in range(0, n, CHUNK):
        yield start, min(start + CHUNK, n)
