"""The rate of every update of a run (``lr_updates.csv``, written when a per-update schedule or a
warm-up changes the rate within epochs) as a figure in the shared style."""

from __future__ import annotations

import csv
from pathlib import Path

from . import style


def read(path: Path) -> tuple[list[int], list[int], list[float]]:
    """``lr_updates.csv``'s columns: update count (from 1), epoch, rate."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return (
        [int(r["update"]) for r in rows],
        [int(r["epoch"]) for r in rows],
        [float(r["lr"]) for r in rows],
    )


def plot(path: Path, out: Path, title: str = ""):
    """The rate against the update count, epochs' starts marked on a second axis; written to
    ``out``; returns the figure."""
    updates, epochs, rates = read(path)
    fig, ax = style.figure()
    ax.plot(updates, rates, **style.look(0).line())
    ax.set_xlabel("update k")
    ax.set_ylabel("learning rate")
    style.integer_ticks(ax.xaxis)
    if rates and min(rates) > 0 and max(rates) / min(rates) > 100:
        style.plain_log(ax)
    starts = [u for u, e, prev in zip(updates, epochs, [0, *epochs]) if e != prev]
    if 1 < len(starts) <= 50:
        for u in starts[1:]:
            ax.axvline(u, color="0.85", linewidth=0.8, zorder=0)
    ax.set_title(f"rate per update{f': {title}' if title else ''}", fontsize="medium")
    return style.save(fig, out)
