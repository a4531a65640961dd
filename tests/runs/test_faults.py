"""Faults that must lose nothing: a kill inside a checkpoint write, a full disk, and checkpoint
files that are truncated, garbage, or a pickle that would run code."""

from __future__ import annotations

import errno
import json
import os
import pickle
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import trainlab
from trainlab.cli import main
from trainlab.runs.rundir import RunDir

from tests.conftest import FAST

ARGS = [*FAST, "train.epochs=4"]


@pytest.mark.multiprocess
def test_sigkill_inside_a_checkpoint_write_keeps_the_last_one_and_resume_matches(tmp_path):
    """The third write of last.pt dies half-way (SIGKILL from inside torch.save's write):
    the previous last.pt is intact, and --resume ends equal to a run that never stopped."""
    run = tmp_path / "killed"
    script = textwrap.dedent(f"""
        import os, signal, torch, trainlab
        from trainlab.runs import checkpoint
        real, calls = checkpoint.torch.save, []
        def dying_save(obj, f):
            if "epoch" in obj and "optimizer" in obj:
                calls.append(1)
                if len(calls) == 3:
                    f.write(b"half a checkpoint")
                    f.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
            real(obj, f)
        checkpoint.torch.save = dying_save
        trainlab.train(None, {ARGS!r}, out={str(run)!r}, progress="quiet")
    """)
    died = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert died.returncode == -9
    assert torch.load(run / "last.pt", weights_only=True)["epoch"] == 2
    resumed = trainlab.resume(run, progress="quiet")
    straight = trainlab.train(None, ARGS, out=tmp_path / "straight", progress="quiet")

    def drop(rows):
        return [{k: v for k, v in r.items() if k != "time_s"} for r in rows]

    assert drop(RunDir(run).read_metrics()) == drop(RunDir(tmp_path / "straight").read_metrics())
    assert resumed["test_loss"] == straight["test_loss"]


@pytest.mark.parametrize("where", ["checkpoint", "metrics"])
def test_a_full_disk_is_one_line_exit_2_and_earlier_files_stay(
    tmp_path, monkeypatch, capsys, where
):
    """ENOSPC on the second epoch's checkpoint (fsync) or metrics line (write): one line, exit
    status 2, and what epoch 1 wrote is intact."""
    run = tmp_path / "run"
    from trainlab.runs import atomic

    calls = []
    if where == "checkpoint":
        real_fsync = atomic.os.fsync

        def fsync(fd):
            if os.readlink(f"/proc/self/fd/{fd}").split("/")[-1].startswith(".last.pt"):
                calls.append(fd)
                if len(calls) == 2:
                    raise OSError(errno.ENOSPC, "No space left on device")
            real_fsync(fd)

        monkeypatch.setattr(atomic.os, "fsync", fsync)
    else:
        real_open = Path.open

        class Full:
            """A file on a full disk: every write fails."""

            def __init__(self, f):
                self.f = f

            def write(self, text):
                raise OSError(errno.ENOSPC, "No space left on device")

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

        def open_(path, mode="r", *args, **kwargs):
            f = real_open(path, mode, *args, **kwargs)
            if mode == "a" and path.name == "metrics.jsonl":
                calls.append(1)
                if len(calls) == 2:
                    return Full(f)
            return f

        monkeypatch.setattr(Path, "open", open_)
    code = main(["train", *ARGS, "--out", str(run), "--progress", "quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "No space left on device" in err
    assert torch.load(run / "last.pt", weights_only=True)["epoch"] == 1
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[0])["epoch"] == 1
    assert not list(run.glob(".*.tmp"))


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "code"])
def test_a_damaged_checkpoint_is_one_line_naming_it_and_runs_nothing(
    tmp_path, capsys, monkeypatch, damage
):
    run = tmp_path / "run"
    trainlab.train(None, [*ARGS, "train.epochs=2"], out=run, progress="quiet")
    (run / "summary.json").unlink()  # unfinished: --resume will read last.pt
    last = run / "last.pt"
    if damage == "truncated":
        last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    elif damage == "garbage":
        last.write_bytes(random.Random(0).randbytes(4096))  # seeded: the same bytes every run
    else:
        last.write_bytes(pickle.dumps({"epoch": 1, "model": _RunsCode()}))
    monkeypatch.chdir(tmp_path)
    code = main(["train", "--resume", str(run), "--progress", "quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and str(last) in err
    assert not (tmp_path / "pwned").exists()


@pytest.mark.slow
@pytest.mark.multiprocess
def test_a_killed_compare_run_again_writes_the_same_summary(tmp_path):
    """SIGKILL the compare (main process and its workers) once one run has finished and
    another is part-way; running it again finishes the rest (resuming the part-way run from
    its checkpoint) and writes the summary.csv of a comparison that never stopped (every
    column but the wall-clock time per epoch)."""
    import signal
    import time

    args = [
        "compare",
        *FAST,
        "train.epochs=8",
        "train.batch_size=4",
        "--vary",
        "optimizer.lr=0.03,0.1",
        "--seeds",
        "2",
        "--jobs",
        "2",
        "--vectorize",  # one run per process: one finishes while another is part-way (a
        "off",  # vectorized group's runs finish together; tests/vectorized cover its resume)
    ]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "trainlab", *args, "--out", str(killed)],
        stderr=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            done = {p.parent for p in killed.glob("runs/*/seed-*/summary.json")}
            partial = {p.parent for p in killed.glob("runs/*/seed-*/last.pt")} - done
            if done and partial:
                break
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    assert main([*args, "--out", str(killed)]) == 0
    assert main([*args, "--out", str(tmp_path / "straight")]) == 0
    import csv

    def numbers(folder):  # every column but the wall-clock time per epoch
        with (folder / "summary.csv").open() as f:
            return [
                {k: v for k, v in row.items() if k != "time_per_epoch_s"}
                for row in csv.DictReader(f)
            ]

    assert numbers(killed) == numbers(tmp_path / "straight")


def test_random_bytes_as_a_checkpoint_are_always_one_user_error(tmp_path):
    """Whatever torch.load's reader raises on damaged bytes (IndexError, UnicodeDecodeError,
    KeyError, ... were seen) is one UserError naming the file, and never PyTorch's advice to
    load with weights_only=False (which would run the file's code)."""
    from trainlab.runs import checkpoint

    path = tmp_path / "last.pt"
    rng = random.Random(1)
    for k in range(300):
        path.write_bytes(rng.randbytes(rng.choice([1, 64, 4096])))
        with pytest.raises(trainlab.UserError) as e:
            checkpoint.load(path)
        assert str(path) in str(e.value) and "weights_only" not in str(e.value), k


def test_a_run_written_before_keys_were_refused_still_resumes(tmp_path, fast_run):
    """Earlier versions ignored a key the optimizer does not read (momentum with adam): such a
    run's config.toml still resumes and evaluates."""
    _, run = fast_run("optimizer.name=adam", "optimizer.lr=0.01", "train.epochs=2")
    config = (run / "config.toml").read_text().replace("momentum = 0.0", "momentum = 0.9")
    assert "momentum = 0.9" in config
    (run / "config.toml").write_text(config)
    for name in ("last.pt", "best.pt"):  # such a run's checkpoints record no config digest
        saved = torch.load(run / name, weights_only=True)
        del saved["config_sha256"]
        torch.save(saved, run / name)
    (run / "summary.json").unlink()
    summary = trainlab.resume(run, progress="quiet")
    assert summary["epochs_run"] == 2 and trainlab.evaluate(run)["test_accuracy"] is not None
