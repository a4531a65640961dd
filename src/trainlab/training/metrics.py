"""Running training metrics at almost no cost per update.

Each update only keeps a reference to its (already computed, detached) logits; the labels are
the epoch's presentation order. Once about 4M logits (16 MB in float32) are held, and at the end
of the epoch, they are reduced in a few vectorized operations: the loss function over all of
them at once (under ``no_grad``) and the count of correct predictions.

For the losses here (means over the samples of a batch) the loss over the concatenated logits is
exactly the batch-size-weighted mean of the per-batch losses, i.e. the mean training loss of the
epoch's forward passes (dropout and noise on, as they were). It is the divergence alone, without
weight penalties or auxiliary heads. Accumulating loss and correct count with tensor ops at
every update would cost 6 small kernels per update, about 25% of an online-GD step of a small
MLP on CPU (BENCHMARKS.md).
"""

from __future__ import annotations

import torch

from .losses import LossFn

FLUSH_ELEMENTS = 1 << 22  # logits held before reducing: bounds the memory


def label_hits(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Multi-label targets y (N, C) of 0/1: where the prediction is right, label by label. A
    label is predicted present when its sigmoid exceeds 1/2, i.e. its logit z > 0."""
    return (z > 0) == (y > 0.5)


class RunningMetrics:
    """Sample-weighted mean loss and accuracy over an epoch whose labels, in the order the
    batches are presented, are ``labels``. For multi-label targets (N, C) the accuracy is the
    exact-match accuracy (every label of a sample right) and :attr:`label_accuracy` the
    fraction of labels right."""

    def __init__(self, labels: torch.Tensor, loss_fn: LossFn):
        self.labels, self.loss_fn = labels, loss_fn
        self.multilabel = labels.dim() == 2
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=labels.device)
        self.correct = torch.zeros((), dtype=torch.int64, device=labels.device)
        self.label_correct = torch.zeros((), dtype=torch.int64, device=labels.device)
        self.count = 0
        self._logits: list[torch.Tensor] = []
        self._held = 0

    def add(self, logits: torch.Tensor) -> None:
        """Record one batch's logits, detached (the next ``len(logits)`` labels are its
        labels)."""
        self._logits.append(logits)
        self._held += logits.numel()
        if self._held >= FLUSH_ELEMENTS:
            self._flush()

    @torch.no_grad()
    def _flush(self) -> None:
        if not self._logits:
            return
        z = torch.cat(self._logits)
        y = self.labels[self.count : self.count + len(z)]
        self.loss_sum += self.loss_fn(z, y).double() * len(z)
        if self.multilabel:
            hits = label_hits(z, y)
            self.correct += hits.all(1).sum()
            self.label_correct += hits.sum()
        elif not y.is_floating_point():  # real targets (regression) have no accuracy
            self.correct += (z.argmax(1) == y).sum()
        self.count += len(z)
        self._logits, self._held = [], 0

    def result(self) -> tuple[float, float | None]:
        """(mean loss, accuracy) over every sample added; one host synchronization. The
        accuracy is None for real-valued targets."""
        self._flush()
        regression = self.labels.is_floating_point() and not self.multilabel
        accuracy = None if regression else self.correct.item() / self.count
        return self.loss_sum.item() / self.count, accuracy

    @property
    def label_accuracy(self) -> float | None:
        """Multi-label targets: the fraction of labels predicted right (after :meth:`result`);
        None otherwise."""
        if not self.multilabel:
            return None
        return self.label_correct.item() / (self.count * self.labels.shape[1])
