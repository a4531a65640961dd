"""Named families (data sources, models, initializations, losses, optimizers, schedules, 2-D test
functions): each name is declared once, registered with its builder, a one-line
description and a typed record of whatever the rest of the code needs to know of it (an
optimizer's usual learning rate and the config keys it reads, whether a data source reads a
file).

Config validation (``choices``), ``trainlab config``, ``--help``, ``trajectories`` and the
docs' tables all read these registries, so adding a name is one entry. A registry that a config
key names (``config_key=True``) is also reachable by that key through :func:`for_key`, so that
:mod:`trainlab.config` can check names against it without importing the packages that fill it;
a name added at run time (``MODELS.add("mine", ...)``) is therefore valid at once.

>>> SHAPES = Registry("shape", "model.shape")
>>> SHAPES.add("square", lambda side: side * side, "four equal sides", corners=4)
>>> SHAPES["square"].build(3), SHAPES["square"].corners
(9, 4)
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import UserError

_BY_KEY: dict[str, Registry] = {}


def for_key(key: str) -> Registry:
    """The registry whose names the config key ``key`` chooses among (e.g. ``optimizer.name``)."""
    return _BY_KEY[key]


@dataclass(frozen=True)
class Entry:
    """One registered name: its builder, its description, and its facts: a typed record (the
    registry's ``info`` class) or, for a registry without one, a dict."""

    name: str
    build: Callable[..., Any]
    doc: str
    facts: Any = field(default_factory=dict)

    def __getattr__(self, fact: str) -> Any:
        facts = self.__dict__.get("facts")
        if isinstance(facts, dict):
            if fact in facts:
                return facts[fact]
        elif facts is not None and hasattr(facts, fact):
            return getattr(facts, fact)
        raise AttributeError(f"{self.__dict__.get('name')!r} has no fact {fact!r}")

    def fact(self, name: str, default: Any = None) -> Any:
        """The fact ``name``, or ``default`` when this entry has none by that name."""
        try:
            return getattr(self, name)
        except AttributeError:
            return default


class Registry:
    """An ordered set of :class:`Entry`, looked up by name; ``key`` is the config key (or flag)
    that names one, used in error messages; ``info``: the frozen dataclass every entry's facts
    must fit (unknown or missing facts are a programming error at registration)."""

    def __init__(
        self, family: str, key: str, info: type | None = None, *, config_key: bool = False
    ):
        self.family, self.key, self.info = family, key, info
        self._entries: dict[str, Entry] = {}
        if config_key:
            _BY_KEY[key] = self

    def add(self, name: str, build: Callable[..., Any], doc: str, **facts: Any) -> Entry:
        if name in self._entries:
            raise ValueError(f"{self.family} {name!r} is registered twice")
        if ":" in name:
            raise ValueError(f"{self.family} {name!r}: ':' marks an import path, not a name")
        entry = Entry(name, build, doc, self.info(**facts) if self.info else facts)
        self._entries[name] = entry
        return entry

    def remove(self, name: str) -> None:
        """Forget ``name`` (a name added at run time, e.g. by a test)."""
        del self._entries[name]

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
        return tuple(
            n for n, e in self._entries.items() if all(e.fact(k) == v for k, v in facts.items())
        )

    def entries(self) -> list[Entry]:
        return list(self._entries.values())


def fields_of(info: type) -> tuple[str, ...]:
    """The fact names an ``info`` record declares."""
    return tuple(f.name for f in dataclasses.fields(info))
