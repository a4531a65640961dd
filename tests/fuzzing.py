"""Fuzzing the command surface: command lines drawn from the config schema itself, run in this
process, each outcome checked against trainlab's promise.

A case is a command (train, compare, search, lr-find, trajectories, evaluate, train --resume,
claims) with a tiny valid base and a few keys set to values of every kind: valid ones (every
registered name of every family, so optimizers, schedules, models, losses, data sources and
modes meet in combinations), the wrong type, out of range, NaN and infinities, beyond 64 bits,
empty, unknown names and keys, plus the flags' own values. The promise (:func:`problems`):
exit 0 with the command's files, or exit 2 with one line on stderr naming what is wrong, never
a traceback, and no folder left behind by a command that failed.

Used by ``tests/test_fuzz.py`` (a bounded, derandomized run inside the suite) and
``benchmarks/fuzz.py`` (thousands of cases).
"""

from __future__ import annotations

import contextlib
import io
import math
import shutil
import signal
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from trainlab.cli import main
from trainlab.config.resolve import _fmt
from trainlab.config.schema import SCHEMA

from tests import sample_files

# Small and valid: two epochs of the default MLP on the moons toy set. Later overrides win, so
# a drawn key replaces the base's; the base sets no key that only some models or sources read.
BASE = ["data.name=moons", "model.name=mlp", "train.epochs=2", "train.checkpoint_seconds=0"]
# Keys whose large valid values cost minutes (sizes, counts of steps or processes): drawn
# small when valid; their out-of-range draws are the ones that must be refused at once.
COSTLY = {
    "data.samples",
    "data.seq_len",
    "model.hidden",
    "model.channels",
    "model.bn_time_steps",
    "train.epochs",
    "optimizer.max_params",
    "optimizer.hutchinson_samples",
    "distributed.workers",
    "distributed.backup_workers",
    "distributed.servers",
    "distributed.micro_batches",
    "distributed.timeout",
    "distributed.warmup_updates",
    "train.threads",
}
# Sources and modes that take seconds per case: drawn rarely in the suite (``heavy=False``).
HEAVY_VALUES = {"data.name": {"mnist1d"}, "distributed.mode": set()}
NOT_FINITE = [math.nan, math.inf, -math.inf]
BEYOND = [2**63, -(2**63) - 1, 10**30, 1e308, -1e308]
WRONG = ["abc", True, [1, 2], {"a": 1}, 1.5, -1, ""]
UNKNOWN_KEYS = ["optimizer.lrr", "model", "a.b.c", "train.epoch", "Optimizer.lr"]


def _valid(name: str, heavy: bool) -> st.SearchStrategy:
    key = SCHEMA[name]
    d = key.default
    if key.choices is not None:
        names = [c for c in key.choices if heavy or c not in HEAVY_VALUES.get(name, ())]
        return st.sampled_from(names or [d])
    if isinstance(d, bool):
        return st.booleans()
    if isinstance(d, int):
        return st.sampled_from([0, 1, 2, 3] + ([] if name in COSTLY else [d, 10]))
    if isinstance(d, float):
        return st.sampled_from(
            [0.0, 1e-3, 0.1, 0.5, 0.9, 1.0, d]
            + ([] if name in COSTLY else [5.0, 3e38])  # 3e38: near float32 max
        )
    if isinstance(d, list):
        return st.sampled_from([d, [], [2], [2, 3], [0.5, 0.9], [0.9, 0.999]])
    if isinstance(d, dict):
        return st.sampled_from([{}, {"a": 1}])
    return st.sampled_from([d, "", "x", "0:0.01", "127.0.0.1", "same"])


def value(name: str, heavy: bool) -> st.SearchStrategy:
    """A value of any kind for config key ``name``."""
    invalid = WRONG + NOT_FINITE + BEYOND + [[], {}, "NOPE"]
    names = list(SCHEMA[name].choices or [])
    if names:
        invalid += [names[0].upper(), names[0] + "x"]
    return st.one_of(_valid(name, heavy), _valid(name, heavy), st.sampled_from(invalid))


def override(name: str, v) -> str:
    return f"{name}={_fmt(v)}"


@dataclass
class Case:
    command: str
    overrides: list[str]
    flags: list[str]
    data: str | None  # a sample data set to write into the case's folder: npz, csv, mnist, ...

    def argv(self, folder: Path) -> list[str]:
        """The command line, with the case's data and output inside ``folder``."""
        out = str(folder / "out")
        overrides = [o.replace("@DATA", str(folder / "data")) for o in self.overrides]
        if self.command == "claims":
            return ["claims", *self.flags, "--out", out]
        if self.command == "evaluate":
            return ["evaluate", str(folder / "run"), *self.flags]
        if self.command == "resume":
            return ["train", "--resume", str(folder / "run"), "--progress", "quiet"]
        progress = ["--progress", "quiet"] if self.command == "train" else []
        return [self.command, *BASE, *overrides, *self.flags, *progress, "--out", out]


def _half_valid(valid: list[str], invalid: list[list[str]]) -> st.SearchStrategy:
    """The command's valid flags half of the time, else one of its mistakes."""
    return st.one_of(st.just(valid), st.sampled_from(invalid))


FLAGS = {
    "train": st.sampled_from([[], [], ["--plain"]]),
    "compare": _half_valid(
        ["--vary", "optimizer.lr=0.05,0.1", "--seeds", "1", "--jobs", "1"],
        [
            ["--vary", "optimizer.lr=0.05,0.1", "--seeds", "1", "--jobs", "1", "--plain"],
            ["--vary", "optimizer.lr=0.05", "--seeds", "0"],
            ["--vary", "nope=1,2"],
            ["--vary", "optimizer.lr=", "--seeds", "1"],
            ["--vary", "train.batch_size=full,8", "--seeds", "1", "--jobs", "1"],
            ["--vary", "optimizer.name=sgd,adam", "--seeds", "1", "--jobs", "1"],
            ["--vary", "optimizer.lr=0.1,0.2", "--seeds", "1", "--jobs", "0"],
            ["--vary", "optimizer.lr=0.1,0.2", "--seeds", "1", "--metric", "epochs_to_target"],
            ["--vary", "optimizer.lr=0.1,0.2", "--seeds", str(2**64)],
            ["--vary", "optimizer.lr=nan,0.1", "--seeds", "1", "--jobs", "1"],
            ["--vary", "optimizer.lr=0.05,0.1", "--seeds", "2", "--jobs", "1", "--vectorize", "on"],
            ["--vary", "optimizer.lr=0.05,0.1", "--seeds", "1", "--vectorize", "off"],
            ["--vary", "optimizer.lr=0.05,0.1", "--seeds", "1", "--vectorize", "maybe"],
        ],
    ),
    "search": _half_valid(
        ["--grid", "optimizer.lr=0.05,0.1"],
        [
            ["--grid", "optimizer.lr=0.05,0.1", "--sampler", "random", "--trials", "2"],
            ["--grid", "optimizer.lr=0.05", "--sampler", "nope"],
            ["--grid", "optimizer.lr=0.05", "--trials", "0"],
            ["--grid", "model.hidden=[4],[8]", "--seeds", "1"],
            ["--grid", "optimizer.lr=0.05,0.1", "--seeds", "2"],
            ["--grid", "optimizer.lr=0.05,0.1", "--seeds", "2", "--vectorize", "on"],
            ["--grid", "x=1"],
            [],
        ],
    ),
    "lr-find": _half_valid(
        ["--steps", "5"],
        [
            ["--steps", "2"],
            ["--steps", "5", "--method", "halving", "--start-lr", "1"],
            ["--steps", "5", "--start-lr", "1", "--end-lr", "0.1"],
            ["--steps", "5", "--start-lr", "nan"],
            ["--steps", "5", "--end-lr", "inf"],
            ["--method", "nope"],
        ],
    ),
    "trajectories": _half_valid(
        ["--steps", "20", "--no-gif", "--optimizers", "sgd,adam"],
        [
            ["--steps", "20", "--no-gif", "--optimizers", "nope"],
            ["--steps", "0", "--no-gif"],
            ["--steps", "20", "--no-gif", "--function", "nope"],
            ["--steps", "20", "--no-gif", "--optimizers", "sgd", "--lrs", "sgd=abc"],
            ["--steps", "20", "--no-gif", "--optimizers", "sgd", "--lrs", "sgd=1e308"],
            ["--steps", "20", "--no-gif", "--optimizers", "newton,quickprop"],
        ],
    ),
    "evaluate": _half_valid([], [["--checkpoint", "last"], ["--checkpoint", "nope"]]),
    "resume": st.just([]),
    "claims": _half_valid(
        ["--only", "bn-variance-unbiased", "--seeds", "1"],
        [
            ["--only", "nope"],
            ["--only", "bn-variance-unbiased", "--seeds", "0"],
            ["--only", "bn-variance-unbiased", "--jobs", "0"],
            ["--lecture", "nope"],
        ],
    ),
}
FILE_SOURCES = ("npz", "csv", "mnist", "fashion_mnist", "cifar10")


FAMILIES = ("optimizer.name", "schedule.name", "model.name", "loss.name", "data.name")


@st.composite
def combination(draw, heavy: bool) -> list[str]:
    """Valid names for every family at once (optimizer x schedule x model x loss x data source,
    and now and then a distributed mode): where they may combine the run must train, where not
    the refusal must be one line."""
    chosen = [override(name, draw(_valid(name, heavy))) for name in FAMILIES]
    if draw(st.integers(0, 19)) == 0:
        chosen.append(override("distributed.mode", draw(_valid("distributed.mode", heavy))))
    return chosen


@st.composite
def cases(draw, heavy: bool = False) -> Case:
    """A command line: a command, 0-3 keys of any kind (or an unknown key), and flags; for
    evaluate and resume the overrides go to the run that is made first."""
    command = draw(
        st.sampled_from(
            ["train"] * 6
            + ["compare", "search", "lr-find", "trajectories", "evaluate", "resume", "claims"]
        )
    )
    names = draw(st.lists(st.sampled_from(sorted(SCHEMA)), max_size=3, unique=True))
    overrides = [override(n, draw(value(n, heavy))) for n in names]
    if draw(st.integers(0, 2)) == 0:
        overrides = draw(combination(heavy)) + overrides
        names = [*FAMILIES, *names]
    if draw(st.integers(0, 9)) == 0:
        overrides.append(f"{draw(st.sampled_from(UNKNOWN_KEYS))}=1")
    data = None
    if "data.name" in names and draw(st.booleans()):  # a file source gets a file, mostly
        source = draw(st.sampled_from(FILE_SOURCES))
        data = source
        overrides.append(f"data.name={source}")
        overrides.append(f"data.path=@DATA/{draw(st.sampled_from(['', 'nope']))}")
    return Case(command, overrides, draw(FLAGS[command]), data)


@dataclass
class Outcome:
    code: int | None
    stdout: str
    stderr: str
    error: str | None  # the traceback of an exception that escaped main
    seconds: float


class _TimedOut(BaseException):
    pass


def run(case: Case, folder: Path, limit_s: float = 60) -> Outcome:
    """Run ``case`` in this process inside ``folder`` (its data written there first; for
    evaluate and resume, a run made first with the case's overrides, refused ones leaving
    nothing to evaluate)."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    if case.data:
        sample_files.write(case.data, folder / "data")
    if case.command in ("evaluate", "resume"):
        make = [
            "train",
            *BASE,
            *case.overrides,
            "--out",
            str(folder / "run"),
            "--progress",
            "quiet",
        ]
        made = _main(make, limit_s, folder)
        if made.code != 0:
            return made
        if case.command == "resume":
            (folder / "run" / "summary.json").unlink()
    return _main(case.argv(folder), limit_s, folder)


def _main(argv: list[str], limit_s: float, folder: Path) -> Outcome:
    argv = [a.replace("@DATA", str(folder / "data")) for a in argv]
    out, err = io.StringIO(), io.StringIO()

    def expire(*_):
        raise _TimedOut

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    tic = time.perf_counter()
    error, code = None, None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    except _TimedOut:
        error = f"no result within {limit_s:g} s"
    except BaseException:  # noqa: BLE001 - what escapes main is what the fuzzer looks for
        error = traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return Outcome(code, out.getvalue(), err.getvalue(), error, time.perf_counter() - tic)


EXPECTED_FILES = {
    "train": ["summary.json", "config.toml"],  # no last.pt when it diverged in epoch 1
    "compare": ["report.html", "summary.csv"],
    "search": ["results.csv"],
    "lr-find": [],
    "trajectories": ["trajectories.csv"],
    "claims": ["claims.json"],
}


def problems(case: Case, outcome: Outcome, folder: Path) -> list[str]:
    """How ``outcome`` breaks the promise (empty: it keeps it)."""
    if outcome.error:
        return [f"escaped main: {outcome.error.strip().splitlines()[-1]}"]
    found = []
    out = folder / "out"
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    if "Traceback" in outcome.stderr:
        found.append("a traceback on stderr")
    if outcome.code == 2:
        errors = [line for line in lines if line.startswith("trainlab: error:")]
        if len(errors) != 1 or lines[-1] != errors[0]:
            found.append(f"exit 2 without exactly one last error line: {lines[-3:]}")
        # a folder may stay only when it holds work done before the failure (an epoch's
        # metrics): a mistake that could be seen before must leave nothing
        worked = out.exists() and any(out.rglob("metrics.jsonl"))
        if out.exists() and not worked and case.command not in ("evaluate", "resume"):
            found.append(f"exit 2 left {out.name}/ behind: {sorted(p.name for p in out.iterdir())}")
    elif outcome.code == 0:
        if case.command in EXPECTED_FILES:
            missing = [f for f in EXPECTED_FILES[case.command] if not (out / f).exists()]
            if missing:
                found.append(f"exit 0 without {missing}")
    else:
        found.append(f"exit status {outcome.code}")
    return found


def check(case: Case) -> tuple[Outcome, list[str]]:
    """Run ``case`` in a fresh temporary folder (removed after) and say how it breaks the
    promise (:func:`problems`)."""
    folder = Path(tempfile.mkdtemp(prefix="trainlab-fuzz-"))
    try:
        outcome = run(case, folder)
        return outcome, problems(case, outcome, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
