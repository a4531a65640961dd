"""Optimizer trajectories on 2-D test functions (lecture 000, slides 94-96: the optimizers on
Beale's function, a long valley and a saddle point).

Every optimizer starts from the same point of the same function and runs the same number of
full-gradient steps; the paths go to a contour plot, an animated GIF and a CSV.

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
    return Trajectory(name, points, diverged)


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


def _background(ax, function: str):
    import numpy as np

    fn = FUNCTIONS[function]
    x0, x1, y0, y1 = fn.surface.box
    xs, ys = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    zs = fn.build(torch.as_tensor(xs), torch.as_tensor(ys)).numpy()
    shifted = zs - zs.min() + 1e-3  # log-spaced contours need positive values
    ax.contourf(xs, ys, np.log10(shifted), levels=30, cmap="Greys", alpha=0.5)
    ax.contour(xs, ys, np.log10(shifted), levels=15, colors="grey", linewidths=0.4)
    for mx, my in fn.surface.minima:
        ax.plot(mx, my, marker="*", color="black", markersize=14, zorder=5)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def plot(path: Path, function: str, trajectories: list[Trajectory]) -> None:
    from ..analysis.plots import figure, palette

    fig, ax = figure(7, 5.5)
    _background(ax, function)
    for t, color in zip(trajectories, palette(len(trajectories))):
        xs, ys = [p[0] for p in t.points], [p[1] for p in t.points]
        ax.plot(
            xs,
            ys,
            "-",
            color=color,
            lw=1.6,
            label=f"{t.optimizer}{' (diverged)' if t.diverged else ''}",
        )
        ax.plot(xs[-1], ys[-1], "o", color=color, markersize=5)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(
        f"{function}, {len(trajectories[0].points) - 1} steps from "
        f"{FUNCTIONS[function].surface.start}"
    )
    fig.savefig(path, dpi=150, bbox_inches="tight")
    fig.clear()


def animate(path: Path, function: str, trajectories: list[Trajectory], frames: int = 60) -> None:
    """An animated GIF of the paths unfolding (``frames`` frames)."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    from ..analysis.plots import figure, palette

    fig, ax = figure(6, 4.5)
    _background(ax, function)
    ax.set_title(function)
    lines = [
        ax.plot([], [], "-", color=c, lw=1.6, label=t.optimizer)[0]
        for t, c in zip(trajectories, palette(len(trajectories)))
    ]
    ax.legend(loc="best", fontsize=7)
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
