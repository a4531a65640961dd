"""Many small models trained at once: M copies of one architecture, with their own seeds and
numeric hyperparameters, in one batched step (``torch.func``)."""

from __future__ import annotations


def group_runs(configs, jobs: int, strict: bool = False) -> list[list[int]]:
    """The runs (indices into ``configs``) that train together; for now one run per group."""
    return [[i] for i in range(len(configs))]


def train_group(runs):
    raise NotImplementedError
