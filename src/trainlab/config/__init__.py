"""The run configuration: every key, its default and meaning (:mod:`.schema`), and how a config
is read, layered and validated (:mod:`.resolve`)."""

from .schema import *  # noqa: F401,F403
from .schema import SCHEMA, SECTION_DOCS, Key, check_value, defaults, documented_defaults, dumps
from .schema import flatten, parse_override, read_file, resolve

__all__ = ["Key", "SCHEMA", "SECTION_DOCS", "check_value", "defaults", "documented_defaults",
           "dumps", "flatten", "parse_override", "read_file", "resolve"]
