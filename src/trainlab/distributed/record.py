"""What a parameter-server run did, counted by server 0: updates applied, gradients per worker
(in all and per epoch), each gradient's staleness, gradients rejected (async, too stale),
dropped (sync, late) or never computed (sync, batches left when an update had its gradients),
workers lost, and the seconds the updates took. It is checkpointed with the run, summarized in
``summary.json`` and drawn in ``distributed.png``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Config


class Record:
    def __init__(self, workers: int):
        self.updates = self.rejected = self.dropped = self.skipped = 0
        self.staleness: Counter = Counter()
        self.per_worker = [0] * workers
        self.per_epoch: list[list[int]] = []  # gradients per worker, one row per epoch
        self._epoch = [0] * workers
        self.lost: list[int] = []
        self.update_seconds = 0.0

    def gradient(self, worker: int, staleness: int) -> None:
        self.per_worker[worker] += 1
        self._epoch[worker] += 1
        self.staleness[staleness] += 1

    def end_epoch(self, seconds: float) -> None:
        self.per_epoch.append(self._epoch)
        self._epoch = [0] * len(self.per_worker)
        self.update_seconds += seconds

    def state(self) -> dict:
        return {
            "updates": self.updates,
            "rejected": self.rejected,
            "dropped": self.dropped,
            "skipped": self.skipped,
            "staleness": {str(k): v for k, v in self.staleness.items()},
            "per_worker": list(self.per_worker),
            "per_epoch": [list(r) for r in self.per_epoch],
            "lost": list(self.lost),
            "update_seconds": self.update_seconds,
        }

    def load(self, state: dict) -> None:
        for key in ("updates", "rejected", "dropped", "skipped", "update_seconds"):
            setattr(self, key, state[key])
        self.staleness = Counter({int(k): v for k, v in state["staleness"].items()})
        self.per_worker, self.per_epoch = list(state["per_worker"]), list(state["per_epoch"])
        self.lost = list(state["lost"])


def summarize(cfg: Config, record: Record) -> dict:
    """The ``distributed`` entry of ``summary.json``."""
    d = cfg.distributed
    received = sum(record.per_worker)
    return {
        "mode": d.mode,
        "workers": d.workers,
        "backup_workers": d.backup_workers,
        "servers": d.servers,
        "updates": record.updates,
        "gradients": received,
        "rejected": record.rejected,
        "dropped": record.dropped,
        "skipped_batches": record.skipped,
        "staleness_histogram": {str(k): record.staleness[k] for k in sorted(record.staleness)},
        "mean_staleness": (
            sum(k * v for k, v in record.staleness.items()) / received if received else None
        ),
        "gradients_per_worker": record.per_worker,
        "workers_lost": sorted(record.lost),
        "seconds_per_update": record.update_seconds / record.updates if record.updates else None,
    }


def plot(record: Record, path: Path):
    """distributed.png: the staleness histogram, and gradients per worker per epoch (each
    worker in its own look, by worker number). Returns the figure."""
    from ..analysis import style

    fig, (a, b) = style.figure(10, 3.8, 1, 2)
    keys = sorted(record.staleness)
    a.bar(keys, [record.staleness[k] for k in keys], color=style.look(0).color)
    a.set(
        xlabel="staleness (updates between pull and push)",
        ylabel="gradients",
        title="staleness of every gradient",
    )
    workers = [f"worker {w}" for w in range(len(record.per_worker))]
    look = style.looks(workers)
    for w, name in enumerate(workers):
        counts = [row[w] for row in record.per_epoch]
        b.plot(
            range(1, len(counts) + 1),
            counts,
            **{**look[name].line(), "marker": look[name].marker or "o"},
            label=name + (" (lost)" if w in record.lost else ""),
        )
    b.set(xlabel="epoch", ylabel="gradients received", title="gradients per worker")
    b.set_ylim(bottom=0)
    style.integer_ticks(a.xaxis, a.yaxis, b.xaxis, b.yaxis)
    style.legend(b)
    return style.save(fig, path)
