"""The run configuration: every key, its default and meaning (:mod:`.schema`), how a config is
read, layered and validated (:mod:`.resolve`), and the typed, frozen result (:mod:`.typed`).
Nothing here imports a component: the registries are read through
:func:`trainlab.registry.for_key`."""

from .plain import PLAIN
from .resolve import (
    check_value,
    defaults,
    documented_defaults,
    dumps,
    flatten,
    parse_override,
    read_file,
    resolve,
)
from .schema import MONITORS, SCHEMA, SECTION_DOCS, Key, Names
from .typed import Config, replace

__all__ = [
    "Config",
    "Key",
    "MONITORS",
    "PLAIN",
    "Names",
    "SCHEMA",
    "SECTION_DOCS",
    "check_value",
    "defaults",
    "documented_defaults",
    "dumps",
    "flatten",
    "parse_override",
    "read_file",
    "replace",
    "resolve",
]
