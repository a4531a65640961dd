"""One look for every figure trainlab writes, so that a student reads any of them the same way.

- :func:`figure`: matplotlib's object API on the Agg canvas (no display, no pyplot global
  state, safe in worker processes), with constrained layout so that titles, labels and
  legends fit inside the figure, in sizes that read on a laptop screen at :data:`DPI`.
- :func:`looks`: a fixed colour (and, past ten names, a line style and marker) per optimizer,
  model or variant name. A name's look follows its place in one order (the registry's order for
  optimizers, the variants' order for a comparison), so it is the same in every figure of a run
  or report.
- :func:`integer_ticks`: whole-number ticks on axes that count (epochs, updates, workers).
- :func:`plain_log`: log axes labelled in plain numbers ("0.02", "200", "1e-06"), never
  "2x10^0".
- :func:`save`: applies the plain log labels to every log axis of the figure and writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, MaxNLocator

DPI = 110  # 8 inches -> 880 pixels: a figure fits a laptop screen at its own size
WIDTH = 8.0  # inches, one figure across a page or screen
HEIGHT = 4.5

# tab10, by hex so that a look does not depend on the rcParams of whoever imports trainlab
COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D")


@dataclass(frozen=True)
class Look:
    """How one named series is drawn: its colour, line style and marker (None: no marker)."""

    color: str
    linestyle: str = "-"
    marker: str | None = None

    def line(self) -> dict:
        """Keyword arguments for ``ax.plot``."""
        return {"color": self.color, "linestyle": self.linestyle, "marker": self.marker}


def look(i: int) -> Look:
    """The ``i``-th look: the ten tab10 colours as solid lines, then the same ten dashed with
    squares, dotted with triangles, ... (4 x 10 distinct looks before any repeats)."""
    ring, k = divmod(i, len(COLOURS))
    ring %= len(LINESTYLES)
    return Look(COLOURS[k], LINESTYLES[ring], None if ring == 0 else MARKERS[ring])


def looks(names, order=None) -> dict[str, Look]:
    """A look per name, by the name's place in ``order`` (default: ``names`` as given). Names
    not in ``order`` come after it, in the order given. The same ``order`` gives a name the same
    look in every figure, whichever subset of names each figure shows."""
    names = list(dict.fromkeys(names))
    ranked = list(dict.fromkeys(list(order or []) + names))
    return {n: look(ranked.index(n)) for n in names}


def figure(
    width: float = WIDTH, height: float = HEIGHT, rows: int = 1, cols: int = 1, **subplots
) -> tuple[Figure, object]:
    """A figure with an Agg canvas and constrained layout, and its axes (one, or a rows x cols
    array); ``subplots`` goes to ``Figure.subplots`` (``sharex``, ``squeeze``, ...)."""
    fig = Figure(figsize=(width, height), layout="constrained", dpi=DPI)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(rows, cols, **subplots)


def integer_ticks(*axes) -> None:
    """Whole-number ticks on each of ``axes`` (``ax.xaxis``, ``ax.yaxis``): for counts."""
    for axis in axes:
        axis.set_major_locator(MaxNLocator(integer=True))


def plain_number(v: float) -> str:
    """``v`` as a person writes it: 0.02, 200, 3.5; 1e-06 and 1e+07 only beyond 1e-4 to 1e6."""
    text = f"{v:g}"
    return text.replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")


class PlainLogFormatter(LogFormatter):
    """Matplotlib's choice of which log ticks to label (``LogFormatter``), written as plain
    numbers (:func:`plain_number`) instead of 2x10^0."""

    def _num_to_string(self, x, vmin, vmax):
        return plain_number(x)


def plain_log(ax, which: str = "y") -> None:
    """Log scale on ``which`` ("x", "y" or "both") of ``ax``, labelled in plain numbers; an axis
    with no positive value drawn on it (nothing to show on a log scale: no validation split,
    every loss 0) stays linear."""
    for name in ("x", "y") if which == "both" else (which,):
        largest = ax.dataLim.x1 if name == "x" else ax.dataLim.y1
        if not (np.isfinite(largest) and largest > 0):
            continue
        getattr(ax, f"set_{name}scale")("log")
        _plain_labels(getattr(ax, f"{name}axis"))


def _plain_labels(axis) -> None:
    axis.set_major_formatter(PlainLogFormatter(labelOnlyBase=False))
    axis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.4)))


def tidy(fig: Figure) -> Figure:
    """Plain-number labels on every log axis of ``fig`` (those a caller made with
    ``set_yscale("log")`` or ``loglog`` too, and log colour bars)."""
    for ax in fig.axes:
        for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
            if scale == "log" and not isinstance(axis.get_major_formatter(), PlainLogFormatter):
                _plain_labels(axis)
    return fig


def save(fig: Figure, path: Path) -> Figure:
    """:func:`tidy`, then write ``fig`` to ``path`` at :data:`DPI` (the figure as laid out,
    nothing cropped or added); returns it so that a caller or test can look at it."""
    tidy(fig)
    fig.savefig(path, dpi=DPI)
    return fig


def legend(ax, **options):
    """``ax``'s legend in the house style: small type, placed where it covers
    the least (``options`` override)."""
    return ax.legend(**{"fontsize": "small", "loc": "best", **options})


def outside_legend(fig: Figure, ax, where: str = "outside right upper", **options):
    """One legend for the whole figure, from ``ax``'s labelled artists, outside every panel
    (constrained layout makes room for it)."""
    handles, labels = ax.get_legend_handles_labels()
    return fig.legend(handles, labels, **{"loc": where, "fontsize": "small", **options})


__all__ = [
    "DPI",
    "Look",
    "figure",
    "integer_ticks",
    "legend",
    "look",
    "looks",
    "outside_legend",
    "plain_log",
    "plain_number",
    "save",
    "tidy",
]
