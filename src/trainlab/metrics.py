"""Running training metrics at no cost per update.

Each update only appends references to its (already computed) loss and logits; once they hold
about 4M logits (16 MB in float32) and at the end of the epoch they are reduced in a few
vectorized operations. Adding the loss and the correct count with tensor ops at every update
would cost 6 small kernels per update, about 25% of an online-GD step of a small MLP on CPU
(see BENCHMARKS.md).
"""

from __future__ import annotations

import torch

FLUSH_ELEMENTS = 1 << 22  # logits held before reducing: bounds the memory


class RunningMetrics:
    """Sample-weighted mean loss and accuracy over the batches of an epoch."""

    def __init__(self, device: torch.device):
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.correct = torch.zeros((), dtype=torch.int64, device=device)
        self.count = 0
        self._losses: list[torch.Tensor] = []
        self._sizes: list[int] = []
        self._logits: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []
        self._held = 0

    def add(self, loss: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """Record one batch's mean loss, its logits and its labels (detached references)."""
        self._losses.append(loss.detach())
        self._sizes.append(len(labels))
        self._logits.append(logits.detach())
        self._labels.append(labels)
        self._held += logits.numel()
        if self._held >= FLUSH_ELEMENTS:
            self._flush()

    def _flush(self) -> None:
        if not self._losses:
            return
        sizes = torch.tensor(self._sizes, dtype=torch.float64, device=self.loss_sum.device)
        self.loss_sum += (torch.stack(self._losses).double() * sizes).sum()
        self.correct += (torch.cat(self._logits).argmax(1) == torch.cat(self._labels)).sum()
        self.count += sum(self._sizes)
        self._losses, self._sizes, self._logits, self._labels = [], [], [], []
        self._held = 0

    def result(self) -> tuple[float, float]:
        """(mean loss, accuracy) over every sample added; one host synchronization."""
        self._flush()
        return self.loss_sum.item() / self.count, self.correct.item() / self.count
