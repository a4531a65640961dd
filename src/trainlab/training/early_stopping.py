"""Early stopping and best-epoch selection on held-out data (lecture 000, "early stopping":
stop when the validation error stops falling; lecture 002).

"Improvement" is defined once, as in Keras: for a metric to maximize, current - min_delta > best;
to minimize, current + min_delta < best. Every epoch without improvement adds 1 to ``wait``;
training stops after the epoch at which ``wait`` reaches ``patience`` (patience 0 = never).
The first epoch always improves.
"""

from __future__ import annotations

import math


def maximizes(metric: str) -> bool:
    """Whether higher is better for a recorded metric: accuracies yes, losses no."""
    return metric.endswith("accuracy")


class EarlyStopping:
    def __init__(self, monitor: str, patience: int = 0, min_delta: float = 0.0):
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.maximize = maximizes(monitor)
        self.best = -math.inf if self.maximize else math.inf
        self.best_epoch = 0
        self.wait = 0

    def update(self, epoch: int, metrics: dict) -> bool:
        """Record an epoch's metrics; True if it is the new best."""
        current = metrics[self.monitor]
        if self.maximize:
            improved = current - self.min_delta > self.best
        else:
            improved = current + self.min_delta < self.best
        if improved:
            self.best, self.best_epoch, self.wait = current, epoch, 0
        else:
            self.wait += 1
        return improved

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.wait >= self.patience

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
