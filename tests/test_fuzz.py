"""The command surface fuzzed inside the suite (tests/fuzzing.py): command lines drawn from the
config schema, each ending in exit 0 with its files or exit 2 with one line, never a traceback,
and no folder left behind by a refused command. Derandomized: the same cases every run.
``benchmarks/fuzz.py`` runs thousands more."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests import fuzzing


@pytest.mark.slow
@settings(
    max_examples=500,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(case=fuzzing.cases())
def test_every_command_line_exits_0_or_2_with_one_line(case):
    outcome, found = fuzzing.check(case)
    assert not found, f"{' '.join(case.argv(Path('F')))}: {'; '.join(found)}"
