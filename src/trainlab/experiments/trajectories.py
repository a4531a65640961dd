"""Optimizer trajectories on 2-D test functions (lecture 000, slides 94-96: the optimizers on
Beale's function, a long valley and a saddle point).

Every optimizer starts from the same point of the same function and runs the same number of
full-gradient steps. The paths go to small multiples (:func:`plot_panels`: one panel per
optimizer on the same view, each saying where its path ends), an overlay of a chosen few on one
contour plot (:func:`plot`), an animated GIF of those few, and a CSV of every path.

==============  ==========================================  ===================  ============
function        f(x, y)                                     minima               start
==============  ==========================================  ===================  ============
beale           (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2      (3, 0.5), f = 0      (1, 1.5)
                + (2.625 - x + xy^3)^2
long_valley     x^2 / 100 + y^2  (a ravine with curvatures  (0, 0), f = 0        (-9, 1)
                100x apart: SGD zig-zags across it)
saddle          x^2 - y^2 + y^4 / 4  (a saddle at (0, 0))   (0, +-sqrt 2),       (1.5, 1e-3)
                                                            f = -1
rosenbrock      (1 - x)^2 + 100 (y - x^2)^2                 (1, 1), f = 0        (-1.5, 2)
==============  ==========================================  ===================  ============
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .. import build
from ..config import resolve
from ..errors import UserError
from ..optim import OPTIMIZERS
from ..registry import Registry
from ..training.step import Step


@dataclass(frozen=True)
class Surface:
    """A 2-D test function's facts: its minima, the common start, the box that is plotted."""

    minima: tuple[tuple[float, float], ...]
    start: tuple[float, float]
    box: tuple[float, float, float, float]  # x0, x1, y0, y1 of the plot


# Every 2-D test function, once: ``build(x, y)`` -> f(x, y); ``surface``: its Surface.
FUNCTIONS = Registry("2-D function", "--function")
FUNCTIONS.add(
    "beale",
    lambda x, y: (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2,
    "Beale's function",
    surface=Surface(((3.0, 0.5),), (1.0, 1.5), (-0.5, 4.0, -1.0, 2.0)),
)
FUNCTIONS.add(
    "long_valley",
    lambda x, y: x**2 / 100 + y**2,
    "a ravine with curvatures 100x apart",
    surface=Surface(((0.0, 0.0),), (-9.0, 1.0), (-10.0, 2.0, -2.0, 2.0)),
)
FUNCTIONS.add(
    "saddle",
    lambda x, y: x**2 - y**2 + y**4 / 4,
    "a saddle at (0, 0)",
    surface=Surface(
        ((0.0, math.sqrt(2)), (0.0, -math.sqrt(2))), (1.5, 1e-3), (-2.0, 2.0, -2.0, 2.0)
    ),
)
FUNCTIONS.add(
    "rosenbrock",
    lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
    "Rosenbrock's banana",
    surface=Surface(((1.0, 1.0),), (-1.5, 2.0), (-2.0, 2.0, -1.0, 3.0)),
)

# The rates that show each optimizer at its typical behaviour on these scales (the lecture's
# pictures): each optimizer's ``trajectory_lr``; override with --lrs name=value.
LEARNING_RATES = {e.name: e.trajectory_lr for e in OPTIMIZERS.entries()}
DEFAULT_OPTIMIZERS = OPTIMIZERS.names(in_trajectories=True)


class Point(nn.Module):
    """A point (x, y) as a model whose output is f(x, y), so that the training step moves it."""

    def __init__(self, function: str):
        super().__init__()
        self.f = FUNCTIONS[function].build
        self.xy = nn.Parameter(torch.tensor(FUNCTIONS[function].surface.start, dtype=torch.float64))

    def forward(self, _: torch.Tensor | None = None) -> torch.Tensor:
        return self.f(self.xy[0], self.xy[1])


@dataclass
class Trajectory:
    optimizer: str
    points: list[tuple[float, float, float]]  # (x, y, f) after 0, 1, ... steps
    diverged: bool
    lr: float | None = None


def run(
    function: str, name: str, steps: int, lr: float, base=None, overrides: list[str] | None = None
) -> Trajectory:
    """``steps`` full-gradient steps of optimizer ``name`` on ``function`` from its start; other
    optimizer settings (momentum, betas, ...) from the config ``base`` and ``overrides``. The
    objective is f itself, so the training step's divergence is the identity."""
    config = resolve(
        base,
        list(overrides or [])
        + [f"optimizer.name={name}", f"optimizer.lr={lr}", "optimizer.weight_decay=0"],
    )
    point = Point(function)
    step = Step(point, lambda value, _: value, build.optimizer(config, [point.xy]))
    points, diverged = [], False
    for i in range(steps + 1):
        value = step.compute_gradients(None, None) if i < steps else point().detach()
        x, y = point.xy.tolist()
        points.append((x, y, value.item()))
        if not math.isfinite(value.item()) or abs(value.item()) > 1e12:
            diverged = True
            break
        if i < steps:
            step.apply_gradients()
    return Trajectory(name, points, diverged, lr)


def parse_lrs(text: str | None) -> dict[str, float]:
    out = {}
    for item in filter(None, (text or "").split(",")):
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise UserError(f"--lrs {item!r}: expected name=number, e.g. sgd=0.001") from None
        if not sep or out[name.strip()] <= 0:
            raise UserError(f"--lrs {item!r}: expected name=number > 0, e.g. sgd=0.001")
    return out


def run_all(
    function: str,
    names: list[str],
    steps: int,
    lrs: dict[str, float],
    base=None,
    overrides: list[str] | None = None,
) -> list[Trajectory]:
    FUNCTIONS[function]  # an unknown name is a UserError listing the known ones
    if steps < 1:
        raise UserError(f"--steps {steps}: expected an integer >= 1")
    unknown = [n for n in names if n not in OPTIMIZERS]
    if unknown or not names:
        raise UserError(
            f"--optimizers {','.join(names) or '(empty)'}: expected names from "
            f"{', '.join(OPTIMIZERS)}"
        )
    for n in lrs:
        if n not in names:
            raise UserError(f"--lrs names {n!r}, which is not in --optimizers")
    return [run(function, n, steps, lrs.get(n, LEARNING_RATES[n]), base, overrides) for n in names]


def write_csv(path: Path, trajectories: list[Trajectory]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["optimizer", "step", "x", "y", "f"])
        for t in trajectories:
            for step, (x, y, value) in enumerate(t.points):
                w.writerow([t.optimizer, step, repr(x), repr(y), repr(value)])


# The overlay's default few (``--only``): plain gradient descent, momentum and the two adaptive
# methods whose paths the lecture contrasts with them.
OVERLAY = ("sgd", "momentum", "rmsprop", "adam")


def chosen(names: list[str], only: str | None) -> list[str]:
    """The optimizers the overlay draws: ``--only`` (comma-separated, each among ``names``), or
    those of :data:`OVERLAY` that ran (the first four that ran when none of them did)."""
    if only is None:
        return [n for n in OVERLAY if n in names] or names[:4]
    picked = [n.strip() for n in only.split(",") if n.strip()]
    strangers = [n for n in picked if n not in names]
    if strangers or not picked:
        raise UserError(f"--only {only!r}: expected names from --optimizers ({', '.join(names)})")
    return list(dict.fromkeys(picked))


def leaves(points: list[tuple[float, float, float]], box) -> tuple[int, float, float] | None:
    """Where a path first leaves the plotted ``box`` (x0, x1, y0, y1): the step of the first
    point outside it and the point where the segment into that step crosses the box's edge (the
    last point inside if the step is not finite); None if the path stays inside."""
    x0, x1, y0, y1 = box
    for i, (x, y, _) in enumerate(points):
        if x0 <= x <= x1 and y0 <= y <= y1:
            continue
        if i == 0:
            return 0, x, y
        px, py = points[i - 1][:2]
        if not (math.isfinite(x) and math.isfinite(y)):
            return i, px, py
        t = 1.0  # the fraction of the segment (px, py) -> (x, y) inside the box
        for p, q, lo, hi in ((px, x, x0, x1), (py, y, y0, y1)):
            if q < lo:
                t = min(t, (lo - p) / (q - p))
            elif q > hi:
                t = min(t, (hi - p) / (q - p))
        return i, px + t * (x - px), py + t * (y - py)
    return None


def _coordinate(v: float) -> str:
    """A coordinate to 2 decimals, as short as it goes: 3, 0.5, -8.65, 0 (not -1.5e-161)."""
    return f"{round(v, 2) + 0.0:g}"


def ending(t: Trajectory, box) -> str:
    """The end of a path in words: diverged, or the point reached (and when it left the view)."""
    steps = len(t.points) - 1
    if t.diverged:
        return f"diverged at step {steps}"
    x, y, value = t.points[-1]
    out = leaves(t.points, box)
    where = f"ends at ({_coordinate(x)}, {_coordinate(y)}), f = {value:.2g}"
    return where if out is None else f"left the view at step {out[0]};\n{where}"


def _surface(function: str, n: int = 200):
    """f on an n x n grid of the function's box, as log10(f - min f + 1e-3) (contours need
    positive values, and the valleys need the log to show)."""
    import numpy as np

    x0, x1, y0, y1 = FUNCTIONS[function].surface.box
    xs, ys = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    zs = FUNCTIONS[function].build(torch.as_tensor(xs), torch.as_tensor(ys)).numpy()
    return xs, ys, np.log10(zs - zs.min() + 1e-3)


def _background(ax, function: str, surface) -> None:
    """The contours of f, its minima (stars) and the start (a hollow circle), on the box."""
    fn = FUNCTIONS[function]
    xs, ys, zs = surface
    ax.contourf(xs, ys, zs, levels=30, cmap="Greys", alpha=0.4)
    ax.contour(xs, ys, zs, levels=15, colors="grey", linewidths=0.4)
    for mx, my in fn.surface.minima:
        ax.plot(mx, my, marker="*", color="black", markersize=12, ls="none", zorder=5)
    ax.plot(*fn.surface.start, marker="o", mfc="white", mec="black", ls="none", zorder=5)
    x0, x1, y0, y1 = fn.surface.box
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


def _path(ax, t: Trajectory, look, box) -> None:
    """One optimizer's path in its look, its end point (a dot, when in view) and an x where it
    first leaves the view."""
    xs, ys = [p[0] for p in t.points], [p[1] for p in t.points]
    ax.plot(xs, ys, color=look.color, linestyle=look.linestyle, lw=1.6, label=t.optimizer)
    out = leaves(t.points, box)
    if out is not None:
        ax.plot(out[1], out[2], "X", color=look.color, mec="black", ms=9, zorder=6, clip_on=False)
    x0, x1, y0, y1 = box
    if not t.diverged and x0 <= xs[-1] <= x1 and y0 <= ys[-1] <= y1:
        ax.plot(xs[-1], ys[-1], "o", color=look.color, mec="black", ms=6, zorder=6)


def _looks(trajectories: list[Trajectory]):
    from ..analysis import style

    return style.looks([t.optimizer for t in trajectories], order=OPTIMIZERS.names())


def plot(path: Path, function: str, trajectories: list[Trajectory]):
    """The overlay: the given (few) optimizers' paths on one contour plot, each in its fixed
    look, with an x where a path leaves the view. Returns the figure."""
    from ..analysis import style

    box = FUNCTIONS[function].surface.box
    fig, ax = style.figure(8, 5.2)
    _background(ax, function, _surface(function))
    look = _looks(trajectories)
    for t in trajectories:
        _path(ax, t, look[t.optimizer], box)
    handles, _ = ax.get_legend_handles_labels()  # one per path, in the given order
    labels = [f"{t.optimizer}: {' '.join(ending(t, box).split())}" for t in trajectories]
    fig.legend(handles, labels, loc="outside lower center", fontsize="small")
    ax.set(xlabel="x", ylabel="y")
    ax.set_title(
        f"{function}: {len(trajectories[0].points) - 1} steps from "
        f"{FUNCTIONS[function].surface.start} (x: leaves the view)"
    )
    return style.save(fig, path)


def plot_panels(path: Path, function: str, trajectories: list[Trajectory], cols: int = 4):
    """Small multiples: one panel per optimizer on the same view of the function (at most
    ``cols`` across, as square a grid as the count allows), each titled with the optimizer and
    where its path ends (an x marks where it leaves the view). Returns the figure."""
    from ..analysis import style

    box = FUNCTIONS[function].surface.box
    cols = min(cols, math.ceil(math.sqrt(len(trajectories))))
    rows = math.ceil(len(trajectories) / cols)
    fig, axes = style.figure(
        2.6 * cols + 0.6, 2.5 * rows + 0.6, rows, cols, sharex=True, sharey=True, squeeze=False
    )
    surface = _surface(function)
    look = _looks(trajectories)
    for ax, t in zip(axes.flat, trajectories):
        _background(ax, function, surface)
        _path(ax, t, look[t.optimizer], box)
        rate = "" if t.lr is None else f", lr {t.lr:g}"
        ax.set_title(
            f"{t.optimizer}{rate}\n{ending(t, box)}", fontsize=8, color=look[t.optimizer].color
        )
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(trajectories) :]:
        ax.set_visible(False)
    for ax in axes.flat:
        ax.label_outer()
    fig.supxlabel("x", fontsize=9)
    fig.supylabel("y", fontsize=9)
    fig.suptitle(
        f"{function}: {len(trajectories[0].points) - 1} steps from "
        f"{FUNCTIONS[function].surface.start}, one panel per optimizer"
    )
    return style.save(fig, path)


def animate(path: Path, function: str, trajectories: list[Trajectory], frames: int = 60) -> None:
    """An animated GIF of the paths unfolding (``frames`` frames), in the overlay's looks."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    from ..analysis import style

    fig, ax = style.figure(6, 4.5)
    _background(ax, function, _surface(function))
    ax.set_title(function)
    look = _looks(trajectories)
    lines = [
        ax.plot(
            [],
            [],
            color=look[t.optimizer].color,
            ls=look[t.optimizer].linestyle,
            lw=1.6,
            label=t.optimizer,
        )[0]
        for t in trajectories
    ]
    style.legend(ax)
    longest = max(len(t.points) for t in trajectories)

    def draw(frame):
        upto = max(1, round((frame + 1) / frames * longest))
        for line, t in zip(lines, trajectories):
            line.set_data([p[0] for p in t.points[:upto]], [p[1] for p in t.points[:upto]])
        return lines

    FuncAnimation(fig, draw, frames=frames, blit=True).save(
        path, writer=PillowWriter(fps=12), dpi=80
    )
    fig.clear()
