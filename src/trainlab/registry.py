"""Named families (data sources, models, initializations, losses, optimizers, schedules, 2-D test
functions): each name is declared once, registered with its builder, a one-line
description and whatever else the rest of the code needs to know of it (an optimizer's usual
learning rate, whether a data source reads a file).

Config validation (``choices``), ``trainlab config``, ``--help``, ``trajectories`` and the
README's tables all read these registries, so adding a name is one entry.

>>> SHAPES = Registry("shape", "model.shape")
>>> SHAPES.add("square", lambda side: side * side, "four equal sides", corners=4)
>>> SHAPES["square"].build(3), SHAPES["square"].corners
(9, 4)
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .errors import UserError


@dataclass(frozen=True)
class Entry:
    """One registered name: its builder, its description, and family-specific facts."""

    name: str
    build: Callable[..., Any]
    doc: str
    facts: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, fact: str) -> Any:
        try:
            return self.facts[fact]
        except KeyError:
            raise AttributeError(f"{self.name!r} has no fact {fact!r}") from None


class Registry:
    """An ordered set of :class:`Entry`, looked up by name; ``key`` is the config key (or flag)
    that names one, used in error messages."""

    def __init__(self, family: str, key: str):
        self.family, self.key = family, key
        self._entries: dict[str, Entry] = {}

    def add(self, name: str, build: Callable[..., Any], doc: str, **facts: Any) -> Entry:
        if name in self._entries:
            raise ValueError(f"{self.family} {name!r} is registered twice")
        entry = Entry(name, build, doc, facts)
        self._entries[name] = entry
        return entry

    def __getitem__(self, name: str) -> Entry:
        entry = self._entries.get(name)
        if entry is None:
            close = difflib.get_close_matches(str(name), self._entries, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise UserError(f"{self.key} = {name!r}: expected one of {', '.join(self)}{hint}")
        return entry

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self, **facts: Any) -> tuple[str, ...]:
        """Every name, in registration order; with ``facts``, those whose facts match."""
        return tuple(n for n, e in self._entries.items()
                     if all(e.facts.get(k) == v for k, v in facts.items()))

    def entries(self) -> list[Entry]:
        return list(self._entries.values())
