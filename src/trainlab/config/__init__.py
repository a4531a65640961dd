"""The run configuration: every key, its default and meaning (:mod:`.schema`), and how a config
is read, layered and validated (:mod:`.resolve`)."""

from .resolve import (check_value, defaults, documented_defaults, dumps, flatten, parse_override,
                      read_file, resolve)
from .schema import MONITORS, SCHEMA, SECTION_DOCS, Key

__all__ = ["Key", "MONITORS", "SCHEMA", "SECTION_DOCS", "check_value", "defaults",
           "documented_defaults", "dumps", "flatten", "parse_override", "read_file", "resolve"]
