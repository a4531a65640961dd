"""The docs' tables of names, made from the registries (so they cannot drift from the code).

A table sits between the lines ``<!-- table:NAME -->`` and ``<!-- /table:NAME -->`` in any
Markdown file of the repository: ``README.md`` or a page under ``docs/``.
``python -m trainlab.tables``, run in the repository root, rewrites every such block of
``README.md`` and ``docs/**/*.md`` in place (``python -m trainlab.tables FILE ...``: those files
only); ``--check`` rewrites nothing and lists the stale files, exit status 1 if there are any.
``tests/test_tables.py`` fails when a table is stale, when a marker names no table or is not
closed, and when a table is in no file.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

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
    rows = [
        [f"`{e.name}`", *(fn(e).replace("|", "\\|") for fn in columns.values())]
        for e in registry.entries()
    ]
    lines = [head, ["---"] * len(head), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def _what(e: Entry) -> str:
    return e.doc


TABLES: dict[str, Callable[[], str]] = {
    "data": lambda: markdown(SOURCES, {"what": _what}),
    "models": lambda: markdown(MODELS, {"what": _what}),
    "layers": lambda: markdown(LAYERS, {"what": _what}),
    "optimizers": lambda: markdown(
        OPTIMIZERS,
        {
            "what": _what,
            "usual `optimizer.lr`": lambda e: f"{e.usual_lr:g}",
            "`trajectories` rate": lambda e: f"{e.trajectory_lr:g}",
        },
    ),
    "schedules": lambda: markdown(
        SCHEDULES,
        {"rate": _what, "stepped": lambda e: "per update" if e.per_update else "per epoch"},
    ),
    "losses": lambda: markdown(LOSSES, {"divergence (z logits, q target distribution)": _what}),
    "inits": lambda: markdown(INITS, {"weights": _what}),
    "activations": lambda: markdown(ACTIVATIONS, {"f(x)": _what}),
    "norms": lambda: markdown(NORMS, {"what": _what}),
    "functions": lambda: markdown(
        FUNCTIONS,
        {
            "what": _what,
            "minima": lambda e: ", ".join(f"({x:.3g}, {y:.3g})" for x, y in e.surface.minima),
            "start": lambda e: str(e.surface.start),
        },
    ),
}

# A marker is a line of its own (one quoted inside a sentence is text, not a marker).
BLOCK = re.compile(r"^(<!-- table:(\w+) -->\n)(?:.*?\n)?(<!-- /table:\2 -->)$", re.S | re.M)
OPENING = re.compile(r"^<!-- table:(\w+) -->$", re.M)


def markdown_files(root: str | Path = ".") -> list[Path]:
    """The files that may hold tables: ``README.md`` and every ``.md`` under ``docs/``."""
    root = Path(root)
    files = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    return [f for f in files if f.is_file()]


def names(text: str) -> list[str]:
    """The tables ``text`` holds, in order (one entry per opening marker)."""
    return OPENING.findall(text)


def problems(text: str) -> list[str]:
    """What is wrong with the markers of ``text``: names that are no table, unclosed blocks."""
    found = names(text)
    unknown = [
        f"<!-- table:{n} --> names no table (known: {', '.join(TABLES)})"
        for n in found
        if n not in TABLES
    ]
    closed = [m.group(2) for m in BLOCK.finditer(text)]
    unclosed = [
        f"<!-- table:{n} --> has no <!-- /table:{n} --> after it"
        for n in set(found)
        if found.count(n) > closed.count(n)
    ]
    return unknown + sorted(unclosed)


def update(text: str) -> str:
    """``text`` with every table block regenerated."""
    wrong = problems(text)
    if wrong:
        raise ValueError("; ".join(wrong))
    return BLOCK.sub(lambda m: m.group(1) + TABLES[m.group(2)]() + "\n" + m.group(3), text)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [Path(a) for a in argv if a != "--check"] or markdown_files()
    stale = []
    for path in paths:
        text = path.read_text()
        try:
            new = update(text)
        except ValueError as e:
            print(f"{path}: {e}", file=sys.stderr)
            return 2
        if new != text:
            stale.append(path)
            if not check:
                path.write_text(new)
    if check and stale:
        print(
            "stale tables (run python -m trainlab.tables): " + ", ".join(map(str, stale)),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
