"""Plot helpers shared by several catalogues (each draws on a given matplotlib ``ax``)."""

from __future__ import annotations

import numpy as np


def plot_pairs(
    results: list[dict],
    keys: list[str],
    labels: list[str],
    ylabel: str,
    ax,
    value=None,
    log: bool = False,
) -> None:
    """One line per seed through the variants ``keys`` (``value(result[key])``, the value
    itself if ``value`` is None), with the mean over seeds as black diamonds; x ticks
    ``labels``, a log y axis if ``log``."""
    value = value or (lambda v: v)
    for i, r in enumerate(results):
        ax.plot(
            range(len(keys)),
            [value(r[k]) for k in keys],
            "o-",
            color="C0",
            alpha=0.5,
            label="one seed" if i == 0 else None,
        )
    ax.plot(
        range(len(keys)),
        [np.mean([value(r[k]) for r in results]) for k in keys],
        "kD",
        ms=8,
        label="mean",
    )
    ax.set_xticks(range(len(keys)), labels)
    ax.set_xlim(-0.4, len(keys) - 0.6)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.legend()


def plot_seed_points(
    results: list[dict], keys: list[str], labels: list[str], ylabel: str, ax
) -> None:
    """One dot per seed and key on a log y axis (values floored at 1e-18 so that exact zeros
    show), for exact checks whose values are errors or changes."""
    for i, r in enumerate(results):
        ax.plot(
            range(len(keys)),
            [max(r[k], 1e-18) for k in keys],
            "o",
            color="C0",
            alpha=0.6,
            label="one seed" if i == 0 else None,
        )
    ax.set_yscale("log")
    ax.set_xticks(range(len(keys)), labels)
    ax.set_xlim(-0.5, len(keys) - 0.5)
    ax.set_ylabel(ylabel)
    ax.legend()
