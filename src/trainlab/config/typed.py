"""The resolved configuration as typed, frozen sections: ``cfg.optimizer.lr``, ``cfg.train.epochs``.

The classes are made from :data:`~trainlab.config.schema.SCHEMA`, so that every key is declared
once (its default, meaning and check) and the typed view cannot drift from what is validated.
Dataclasses rather than a validation library: the checks already live in the schema, and a
frozen dataclass is what the rest of the code needs (attribute access, equality, pickling to
worker processes, ``dataclasses.replace``), with nothing to install. Lists become tuples, so a
section cannot be changed in place; :meth:`Config.to_dict` gives the nested dict (lists again)
that ``config.toml`` holds.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .schema import SCHEMA


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    if isinstance(value, dict):
        return {k: _thaw(v) for k, v in value.items()}
    return value


class _Readable:
    """What every section and the config share: the nested dict, and ``x["key"]`` reads."""

    def to_dict(self) -> dict:
        return {
            f.name: (v.to_dict() if isinstance(v := getattr(self, f.name), _Readable) else _thaw(v))
            for f in dataclasses.fields(self)
        }

    def __getitem__(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None

    def keys(self):
        return [f.name for f in dataclasses.fields(self)]


def _annotation(default: Any, types: tuple) -> str:
    names = {bool: "bool", int: "int", float: "float", str: "str", list: "tuple", dict: "dict"}
    kinds = types or (type(default),)
    return " | ".join(names[t] for t in kinds)


def _make(name: str, fields: list[tuple[str, str]], doc: str) -> type:
    cls = dataclasses.make_dataclass(name, fields, bases=(_Readable,), frozen=True)
    cls.__module__, cls.__qualname__, cls.__doc__ = __name__, name, doc
    globals()[name] = cls  # picklable by name (configs travel to worker processes)
    return cls


def _sections() -> tuple[dict[str, type], list[tuple[str, str]]]:
    leaves: dict[str, list[tuple[str, str]]] = {}
    top: list[tuple[str, str]] = []
    for dotted, key in SCHEMA.items():
        section, _, leaf = dotted.rpartition(".")
        field = (leaf, _annotation(key.default, key.types))
        (leaves.setdefault(section, []) if section else top).append(field)
    classes = {
        s: _make(
            f"{s.title().replace('_', '')}Section",
            fields,
            f"The ``{s}`` keys (``trainlab config`` says what each means).",
        )
        for s, fields in leaves.items()
    }
    return classes, top


SECTIONS, _TOP = _sections()
Config = _make(
    "Config",
    [*_TOP, *((s, cls.__qualname__) for s, cls in SECTIONS.items())],
    "A resolved, validated configuration: top-level keys, then one frozen section per "
    "table of the config file. Made by :func:`trainlab.config.resolve`.",
)


def from_dict(tree: dict) -> Config:
    """The typed view of a complete, validated nested config dict."""
    values = {name: _freeze(tree[name]) for name, _ in _TOP}
    for section, cls in SECTIONS.items():
        values[section] = cls(**{k: _freeze(v) for k, v in tree[section].items()})
    return Config(**values)


def replace(config: Config, **dotted: Any) -> Config:
    """A copy of ``config`` with ``{"section.key": value}`` changed (not re-validated: for code
    that derives a config from a resolved one; users' values go through ``resolve``)."""
    tree = config.to_dict()
    for name, value in dotted.items():
        section, _, leaf = name.rpartition(".")
        (tree[section] if section else tree)[leaf] = value
    return from_dict(tree)
