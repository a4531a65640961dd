"""The run configuration: every key, its default and meaning (:mod:`.schema`), and how a config
is read, layered and validated (:mod:`.resolve`)."""

from .resolve import (check_value, defaults, documented_defaults, dumps, flatten, parse_override,
                      read_file, resolve)
from .schema import (ACTIVATIONS, INITS, LOSSES, MODELS, MONITORS, NORMS, OPTIMIZERS, SCHEDULES,
                     SCHEMA, SECTION_DOCS, SOURCES, Key)

# Earlier versions listed the names here as tuples (DATA_NAMES, ..., OPTIMIZERS); the registries
# are the source now, and iterate and test membership like those tuples did.
DATA_NAMES, MODEL_NAMES = SOURCES.names(), MODELS.names()

__all__ = ["ACTIVATIONS", "DATA_NAMES", "INITS", "LOSSES", "MODELS", "MODEL_NAMES", "NORMS",
           "OPTIMIZERS", "SCHEDULES", "SOURCES", "Key", "MONITORS", "SCHEMA", "SECTION_DOCS", "check_value", "defaults",
           "documented_defaults", "dumps", "flatten", "parse_override", "read_file", "resolve"]
