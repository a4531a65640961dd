"""Real processes and real signals: one writer per run or experiment folder, a lock left by a
killed process, and Ctrl-C (SIGINT) or SIGTERM during train, compare, search and claims: exit
130 or 143, one line naming the exact command that continues, no process left, and the
continued result equal to one that never stopped (on CPU)."""

from __future__ import annotations

import csv
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FAST

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]

# Long enough to be stopped part-way, about a second of training: 60 epochs of 400 points.
LONG = [*FAST, "train.epochs=60"]


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    """``trainlab ARGS`` in its own process group (so that the test can see every process it
    started, and end them all whatever happens)."""
    return subprocess.Popen(
        [sys.executable, "-m", "trainlab", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # a suite started in the background (`make test &`) ignores SIGINT, and so would the
        # child: Ctrl-C is tested with the default disposition a terminal gives
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for(condition, proc: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _group_gone(proc: subprocess.Popen, timeout_s: float = 30) -> bool:
    """Whether every process of ``proc``'s group has exited (within ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _end(proc: subprocess.Popen) -> None:
    """Whatever the test's outcome: nothing it started outlives it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "trainlab", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _metrics(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "time_s"} for r in rows]


def test_one_writer_per_run_folder_and_a_killed_owner_does_not_block(tmp_path):
    """A second `train --resume` of a run another process is training is refused, naming that
    process; once the owner is killed (SIGKILL: no chance to clean up), a resume goes on."""
    run = tmp_path / "run"
    endless = [*FAST, "train.epochs=100000"]  # runs until killed
    first = _start(["train", *endless, "--out", str(run), "--progress", "quiet"], tmp_path)
    third = None
    try:
        _wait_for(lambda: (run / "last.pt").exists(), first)
        second = _cli(["train", "--resume", str(run), "--progress", "quiet"], tmp_path)
        assert second.returncode == 2
        line = second.stderr.strip()
        assert len(line.splitlines()) == 1
        assert "being written by another process" in line and f"pid {first.pid}" in line
        os.killpg(first.pid, signal.SIGKILL)  # the owner dies holding the lock
        first.wait(10)
        epochs = len(_metrics(run))
        third = _start(["train", "--resume", str(run), "--progress", "quiet"], tmp_path)
        _wait_for(lambda: len(_metrics(run)) > epochs + 1, third)  # it resumed and trains on
    finally:
        _end(first)
        if third is not None:
            _end(third)


def test_one_writer_per_comparison(tmp_path):
    out = tmp_path / "cmp"
    args = ["compare", *LONG, "--vary", "optimizer.lr=0.05,0.1", "--seeds", "1", "--jobs", "1"]
    first = _start([*args, "--out", str(out)], tmp_path)
    try:
        _wait_for(lambda: any(out.glob("runs/*/seed-0/last.pt")), first)
        second = _cli([*args, "--out", str(out)], tmp_path)
        assert second.returncode == 2
        assert len(second.stderr.strip().splitlines()) == 1
        assert f"pid {first.pid}" in second.stderr
    finally:
        _end(first)


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_train_continues_to_the_run_that_never_stopped(tmp_path, sig, status):
    run = tmp_path / "run"
    proc = _start(["train", *LONG, "--progress", "quiet", "--out", str(run)], tmp_path)
    try:
        _wait_for(lambda: (run / "last.pt").exists(), proc)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        _end(proc)
    assert proc.returncode == status, err  # what it printed, if it was not the interrupt
    line = err.strip().splitlines()
    assert line == [f"trainlab: interrupted; continue with: trainlab train --resume {run}"]
    assert _group_gone(proc)
    # the exact command it names
    resumed = _cli(shlex.split(line[0].split("continue with: ")[1])[1:], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    straight = tmp_path / "straight"
    assert (
        _cli(["train", *LONG, "--progress", "quiet", "--out", str(straight)], tmp_path).returncode
        == 0
    )
    assert _metrics(run) == _metrics(straight)
    done = [json.loads((r / "summary.json").read_text()) for r in (run, straight)]
    assert done[0]["test_loss"] == done[1]["test_loss"]


def test_sigterm_stops_a_comparison_and_its_workers_and_the_same_command_continues(tmp_path):
    """Two workers, SIGTERM to the main process only: it stops them, exits 143 with the command
    line that continues (--out added), and that command finishes the comparison with the
    summary.csv of one that never stopped."""
    args = ["compare", *LONG, "--vary", "optimizer.lr=0.05,0.1", "--seeds", "2", "--jobs", "2"]
    proc = _start(args, tmp_path)  # no --out: the line must add the folder it chose
    try:
        _wait_for(lambda: any(tmp_path.glob("runs/compare-*/runs/*/seed-*/last.pt")), proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        _end(proc)
    assert proc.returncode == 143
    lines = err.strip().splitlines()
    assert lines[-1].startswith("trainlab: interrupted; continue with: trainlab compare ")
    assert _group_gone(proc)
    command = shlex.split(lines[-1].split("continue with: ")[1])
    assert "--out" in command
    continued = _cli(command[1:], tmp_path)
    assert continued.returncode == 0, continued.stderr
    out = Path(tmp_path / command[command.index("--out") + 1])
    assert _cli([*args, "--out", str(tmp_path / "straight")], tmp_path).returncode == 0

    def numbers(folder):  # every column but the wall-clock time per epoch
        with (folder / "summary.csv").open() as f:
            return [
                {k: v for k, v in row.items() if k != "time_per_epoch_s"}
                for row in csv.DictReader(f)
            ]

    assert numbers(out) == numbers(tmp_path / "straight")


@pytest.mark.parametrize(
    "args, ready",
    [
        (
            ["search", *LONG, "--grid", "optimizer.lr=0.05,0.1"],
            lambda out: any(out.glob("trials/*/seed-0/last.pt")),
        ),
        (
            ["claims", "--only", "adam-then-sgd", "--seeds", "1", "--jobs", "1"],
            lambda out: (out / "claims-manifest.json").exists(),  # measuring (~5 s)
        ),
    ],
    ids=["search", "claims"],
)
def test_ctrl_c_in_search_and_claims_names_the_command_that_continues(tmp_path, args, ready):
    out = tmp_path / "exp"
    proc = _start([*args, "--out", str(out)], tmp_path)
    try:
        _wait_for(lambda: ready(out), proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        _end(proc)
    assert proc.returncode == 130, err
    line = err.strip().splitlines()[-1]
    expected = shlex.join(["trainlab", *args, "--out", str(out)])
    assert line == f"trainlab: interrupted; continue with: {expected}"
    assert _group_gone(proc)
    continued = _cli(shlex.split(expected)[1:], tmp_path)
    assert continued.returncode == 0, continued.stderr


def test_an_error_raised_while_handling_an_interrupt_is_the_interrupt(monkeypatch, capsys):
    """Ctrl-C inside a write can surface as the error the writer raises on its way out
    (chained to the KeyboardInterrupt): still exit 130 and the line that continues."""
    import trainlab.cli

    def interrupted_then_failed(ns):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise RuntimeError("a writer's cleanup failed") from None

    def interrupted_during_cleanup(ns):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise RuntimeError("a writer's cleanup failed")  # noqa: B904 - the chain is the point

    monkeypatch.setattr(trainlab.cli, "_command", interrupted_during_cleanup)
    assert trainlab.cli.main(["train", "--out", "somewhere"]) == 130
    assert "interrupted" in capsys.readouterr().err
    monkeypatch.setattr(trainlab.cli, "_command", interrupted_then_failed)  # no chain: a bug
    with pytest.raises(RuntimeError):
        trainlab.cli.main(["train", "--out", "somewhere"])
