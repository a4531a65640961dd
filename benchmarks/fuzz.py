"""The command-surface fuzzer's long run: thousands of drawn command lines (tests/fuzzing.py),
each run in this process and checked against trainlab's promise (exit 0 with the command's
files, or exit 2 with one line, no traceback, no folder left behind).

    python benchmarks/fuzz.py [CASES] [--seed S] [--heavy]

Prints each failure (its command line and what broke) and a summary: cases run, outcomes by
exit status, failures, seconds. ``--heavy`` also draws the sources and modes that take seconds
per case (MNIST-1D). Run from the repository root.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hypothesis  # noqa: E402

from tests import fuzzing  # noqa: E402


def main() -> int:
    a = argparse.ArgumentParser()
    a.add_argument("cases", type=int, nargs="?", default=1000)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--heavy", action="store_true")
    ns = a.parse_args()
    import os

    os.environ.setdefault("TRAINLAB_CACHE", tempfile.mkdtemp(prefix="trainlab-fuzz-cache-"))
    codes, failures, previous = collections.Counter(), [], []
    tic = time.perf_counter()

    @hypothesis.seed(ns.seed)
    @hypothesis.settings(
        max_examples=ns.cases,
        database=None,
        deadline=None,
        phases=[hypothesis.Phase.generate],  # every case is recorded, none shrunk
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(fuzzing.cases(heavy=ns.heavy))
    def one(case):
        outcome, found = fuzzing.check(case)
        codes[outcome.code] += 1
        if found:  # the case before it too: in one process, state a case leaves can matter
            failures.append((case, found))
            before = " ".join(previous[0].argv(Path("F"))) if previous else "-"
            print(
                f"{' '.join(case.argv(Path('F')))}\n    {'; '.join(found)}\n    after: {before}",
                flush=True,
            )
        previous[:] = [case]

    one()
    seconds = time.perf_counter() - tic
    cases = sum(codes.values())
    print(
        f"{cases} cases in {seconds:.0f} s: exit 0: {codes[0]}, exit 2: {codes[2]}, other: "
        f"{cases - codes[0] - codes[2]}; failures: {len(failures)}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
