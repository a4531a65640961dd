"""Figures for the experiment commands: matplotlib's object API on the Agg canvas (no display,
no pyplot global state, safe in worker processes)."""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def figure(width: float = 6.4, height: float = 4.8, rows: int = 1, cols: int = 1):
    """A figure with an Agg canvas and its axes (one, or a rows x cols array)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(rows, cols)


def palette(n: int) -> list:
    """n distinguishable colours (tab10, then tab20)."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]
