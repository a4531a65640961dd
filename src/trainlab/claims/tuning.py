"""Every arm of a claim's comparison gets its own hyperparameter, chosen with the same budget.

A claim with a :class:`~trainlab.claims.claim.Tuning` is measured in two phases. First its grid:
for the i-th value of every arm's grid (all grids have the same length), one measurement per
tuning seed sets each arm's keyword to that arm's i-th value, and ``Tuning.score(result, arm)``
scores each arm (lower is better; a score that is not a number counts as infinitely bad). Each
arm's choice is the value with the lowest mean score over the tuning seeds. A choice at an edge
of its grid extends that arm's grid by one more step of the same ratio (geometric grids; the same
difference for grids that reach 0 or below), measured the same way, until the choice is inside
the grid or ``Tuning.extend`` steps were added on that side; then the arm is recorded
``at_edge``. Then the evaluation seeds run with every arm at its choice.

This is the protocol of Choi et al. 2019 ("On empirical comparisons of optimizers for deep
learning") in its simplest form: each arm's search space and budget are the same, and a choice at
the edge of a search space is a search space too small. Tuning seeds
(:data:`~trainlab.claims.claim.TUNING_SEED` + offset + k) are never evaluation seeds, so the
verdict's data never chose the values it is judged with.

The record of each arm (``arms`` in claims.json): its keyword, the grid tried (ascending), the
mean score at each value, the choice and ``at_edge``.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from ..experiments.grid import Task, run_tasks
from .claim import TUNING_SEED, Claim


def beyond(grid: list[float], side: int) -> float:
    """The next value past the low (``side`` = -1) or high (+1) end of the ascending ``grid``:
    one more step of the ratio of its two end values there (of their difference if the grid
    reaches 0 or below)."""
    a, b = (grid[0], grid[1]) if side < 0 else (grid[-1], grid[-2])
    if a > 0 and b > 0:
        return a * a / b
    return a + (a - b)


def slug(values: dict) -> str:
    """A folder name for one point of a claim's tuning (its arms' values)."""
    text = json.dumps(values, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


class Search:
    """The tuning of one claim: each arm's grid so far and the scores of each value tried."""

    def __init__(self, claim: Claim, folder: Path, offset: int):
        self.claim, self.folder, self.offset = claim, folder, offset
        t = claim.tuning
        self.grids = {arm: list(t.grid_of(arm)) for arm in t.arms}
        lengths = {len(g) for g in self.grids.values()}
        if len(lengths) != 1 or min(lengths) < 2:
            raise ValueError(f"{claim.id}: every arm's grid needs the same length >= 2")
        self.scores: dict[str, dict[float, list[float]]] = {arm: {} for arm in t.arms}
        self.added = {arm: {-1: 0, 1: 0} for arm in t.arms}

    def first_points(self) -> list[dict]:
        """The grid's points: the i-th value of every arm, for each i."""
        arms = list(self.grids)
        return [{a: self.grids[a][i] for a in arms} for i in range(len(self.grids[arms[0]]))]

    def tasks(self, points: list[dict], measure, cost: float) -> list[Task]:
        """One measurement per point and tuning seed; every arm not in a point runs at its
        current choice (its score is not counted)."""
        t = self.claim.tuning
        out = []
        for point in points:
            values = {a: point.get(a, self.choice(a)) for a in t.arms}
            arguments = {**self.claim.params, **t.params}
            arguments.update({t.arms[a]: v for a, v in values.items()})
            for k in range(t.seeds):
                seed = TUNING_SEED + self.offset + k
                folder = self.folder / f"tune-{slug(values)}" / f"seed-{seed}"
                if not self.claim.deterministic:
                    (folder / "result.json").unlink(missing_ok=True)
                out.append(
                    Task(
                        (self.claim.id, "tune", slug(values), tuple(point), k),
                        folder,
                        function=measure,
                        kwargs={
                            "measure": _name(self.claim),
                            "arguments": {"seed": seed, **arguments},
                        },
                        cost=cost,
                    )
                )
        return out

    def record(self, task: Task, result: dict) -> None:
        """Score the arms that ``task`` tuned."""
        arms = task.key[3]
        values = task.kwargs["arguments"]
        t = self.claim.tuning
        for arm in arms:
            try:
                s = float(t.score(result, arm))
            except (KeyError, TypeError, ValueError):
                s = math.inf
            self.scores[arm].setdefault(values[t.arms[arm]], []).append(
                s if math.isfinite(s) else math.inf
            )

    def mean(self, arm: str, value: float) -> float:
        s = self.scores[arm].get(value, [])
        return sum(s) / len(s) if s else math.inf

    def choice(self, arm: str) -> float:
        """The grid value with the lowest mean score (the smallest value among equals)."""
        grid = self.grids[arm]
        return min(grid, key=lambda v: (self.mean(arm, v), grid.index(v)))

    def extensions(self) -> list[dict]:
        """The next points: for each arm whose choice is at an edge with steps left on that
        side, the value beyond it (added to its grid)."""
        point = {}
        for arm, grid in self.grids.items():
            best = self.choice(arm)
            side = -1 if best == grid[0] else 1 if best == grid[-1] else 0
            if side and self.added[arm][side] < self.claim.tuning.extend:
                value = beyond(grid, side)
                self.added[arm][side] += 1
                if side < 0:
                    grid.insert(0, value)
                else:
                    grid.append(value)
                point[arm] = value
        return [point] if point else []

    def result(self) -> dict:
        """Each arm's record: keyword, grid, mean scores, choice, at_edge."""
        t = self.claim.tuning
        out = {}
        for arm, grid in self.grids.items():
            best = self.choice(arm)
            out[arm] = {
                "keyword": t.arms[arm],
                "grid": grid,
                "scores": [self.mean(arm, v) for v in grid],
                "chosen": best,
                "at_edge": best in (grid[0], grid[-1]),
                "tuned_on": t.on,
                "tuning_seeds": t.seeds,
            }
        return out

    def chosen(self) -> dict:
        """The measuring function's keywords set to every arm's choice."""
        t = self.claim.tuning
        return {t.arms[a]: self.choice(a) for a in t.arms}


def _name(claim: Claim) -> str:
    return f"{claim.measure.__module__}:{claim.measure.__qualname__}"


def tune(
    claims: list[Claim], folders: dict, offset: int, jobs: int, measure, log=None, cluster=None
):
    """Tune every claim of ``claims`` that has a ``tuning``, all claims' measurements of a round
    together (``jobs`` at a time, cached in ``folders[id] / tune-<point> / seed-<s>``):
    ``{id: (chosen keywords, arms record, seconds spent)}``. ``measure`` is the runner's timed
    measuring function."""
    searches = {c.id: Search(c, folders[c.id], offset) for c in claims if c.tuning is not None}
    pending = {i: s.first_points() for i, s in searches.items()}
    walls = {i: 0.0 for i in searches}
    rounds = 0
    while any(pending.values()):
        rounds += 1
        tasks = [
            task
            for i, points in pending.items()
            for task in searches[i].tasks(points, measure, searches[i].claim.cost_s)
        ]

        def arrived(task, result, done, total, r=rounds):
            if log:
                log(f"[tuning round {r}: {done}/{total}] {task.key[0]}")

        for task, result in zip(tasks, run_tasks(tasks, jobs, arrived, cluster=cluster)):
            result = dict(result)
            walls[task.key[0]] += result.pop("wall_s", 0.0)
            searches[task.key[0]].record(task, result)
        pending = {i: s.extensions() for i, s in searches.items()}
    return {i: (s.chosen(), s.result(), walls[i]) for i, s in searches.items()}
