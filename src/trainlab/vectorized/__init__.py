"""Many small models trained at once: M runs of one architecture that differ only in seed and
numeric hyperparameters, in one batched step (``torch.func``), each written to its own run
folder as if trained alone (:mod:`.engine`); which runs can (:mod:`.plan`)."""

from __future__ import annotations

from .engine import train_group
from .plan import group_runs, why_not, why_not_worth_it

__all__ = ["group_runs", "train_group", "why_not", "why_not_worth_it"]
