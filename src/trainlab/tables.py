"""The README's tables of names, made from the registries (so they cannot drift from the code).

``python -m trainlab.tables README.md`` rewrites every block between ``<!-- table:NAME -->`` and
``<!-- /table:NAME -->`` in place; ``tests/test_tables.py`` fails when README.md is stale.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Callable

from .data import SOURCES
from .experiments.trajectories import FUNCTIONS
from .models import LAYERS, MODELS
from .models.init import INITS
from .models.layers import ACTIVATIONS, NORMS
from .optim import OPTIMIZERS
from .registry import Entry, Registry
from .training.losses import LOSSES
from .training.schedules import SCHEDULES


def markdown(registry: Registry, columns: dict[str, Callable[[Entry], str]]) -> str:
    """A Markdown table: the name, then one column per ``columns`` entry."""
    head = ["name", *columns]
    rows = [[f"`{e.name}`", *(fn(e).replace("|", "\\|") for fn in columns.values())]
            for e in registry.entries()]
    lines = [head, ["---"] * len(head), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def _what(e: Entry) -> str:
    return e.doc


TABLES: dict[str, Callable[[], str]] = {
    "data": lambda: markdown(SOURCES, {"what": _what}),
    "models": lambda: markdown(MODELS, {"what": _what}),
    "layers": lambda: markdown(LAYERS, {"what": _what}),
    "optimizers": lambda: markdown(OPTIMIZERS, {
        "what": _what, "usual `optimizer.lr`": lambda e: f"{e.usual_lr:g}",
        "`trajectories` rate": lambda e: f"{e.trajectory_lr:g}"}),
    "schedules": lambda: markdown(SCHEDULES, {
        "rate": _what, "stepped": lambda e: "per update" if e.per_update else "per epoch"}),
    "losses": lambda: markdown(LOSSES, {
        "divergence (z logits, q target distribution)": _what}),
    "inits": lambda: markdown(INITS, {"weights": _what}),
    "activations": lambda: markdown(ACTIVATIONS, {"f(x)": _what}),
    "norms": lambda: markdown(NORMS, {"what": _what}),
    "functions": lambda: markdown(FUNCTIONS, {
        "what": _what, "minima": lambda e: ", ".join(f"({x:.3g}, {y:.3g})"
                                                    for x, y in e.surface.minima),
        "start": lambda e: str(e.surface.start)}),
}

BLOCK = re.compile(r"(<!-- table:(\w+) -->\n)(?:.*?\n)?(<!-- /table:\2 -->)", re.S)


def update(text: str) -> str:
    """``text`` with every table block regenerated."""
    return BLOCK.sub(lambda m: m.group(1) + TABLES[m.group(2)]() + "\n" + m.group(3), text)


def main(argv: list[str]) -> int:
    for name in argv or ["README.md"]:
        path = Path(name)
        path.write_text(update(path.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
