"""The parameter server (distributed.mode = async | sync), checked against one-process training.

References: one process with the same config (async with one worker), one process with a
``workers`` times larger batch (sync, Chen et al. 2016: "equivalent to increasing the batch size
N times"), and counts that follow from the rules (rejections with max_staleness = 0, none with a
large bound). Every test leaves no process behind.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import trainlab
from trainlab.distributed.layout import partition
from trainlab.processes import Processes

pytestmark = pytest.mark.cpu_only(
    "the parameter server runs on the CPU with gloo; with device = auto on a GPU machine the "
    "data would be on CUDA"
)

SMALL = {
    "data.name": "moons",
    "data.samples": 400,
    "model.name": "mlp",
    "model.hidden": [16],
    "model.norm": "none",
    "model.dropout": 0.0,
    "train.epochs": 2,
    "train.batch_size": 20,
    "optimizer.name": "sgd",
    "optimizer.lr": 0.1,
    "schedule.name": "constant",
}


@pytest.fixture(autouse=True)
def no_process_left():
    yield
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    left = multiprocessing.active_children()
    for p in left:
        p.kill()
    assert not left, f"processes left behind: {left}"


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "last.pt", weights_only=True)["model"]


def test_partition_is_contiguous_balanced_and_complete():
    assert partition([10, 1, 10, 1], 2) == [[0, 1], [2, 3]]
    assert partition([100, 1, 1, 1], 2) == [[0], [1, 2, 3]]
    assert partition([5] * 6, 3) == [[0, 1], [2, 3], [4, 5]]
    assert partition([1, 1], 2) == [[0], [1]]


@pytest.mark.multiprocess
def test_async_with_one_worker_is_one_process_training(tmp_path, monkeypatch):
    """The worker computes each gradient at the server's current weights, as one process does;
    with the default CNN (batch norm, dropout, one-cycle, AdamW) the weights are identical when
    both use one thread (thread counts change floating-point sums)."""
    config = {"train.epochs": 1}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = trainlab.train(None, config, out=tmp_path / "one", progress="quiet")
    finally:
        torch.set_num_threads(threads)
    ps = trainlab.train(
        None,
        {**config, "distributed.mode": "async", "distributed.workers": 1},
        out=tmp_path / "ps",
        progress="quiet",
    )
    a, b = weights(tmp_path / "one"), weights(tmp_path / "ps")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert ps["test_loss"] == one["test_loss"]
    d = ps["distributed"]
    assert d["staleness_histogram"] == {"0": d["updates"]} and d["rejected"] == 0


@pytest.mark.multiprocess
@pytest.mark.parametrize("servers", [1, 2])
def test_sync_is_one_process_with_n_times_the_batch(tmp_path, servers):
    """Chen et al. 2016: sync SGD with N workers at batch b = one process at batch N b. The mean
    of two 10-sample means differs from the 20-sample mean by float rounding only: weights agree
    to 1e-6 after two epochs."""
    one = trainlab.train(
        None, {**SMALL, "train.batch_size": 40}, out=tmp_path / "one", progress="quiet"
    )
    ps = trainlab.train(
        None,
        {
            **SMALL,
            "distributed.mode": "sync",
            "distributed.workers": 2,
            "distributed.servers": servers,
        },
        out=tmp_path / "ps",
        progress="quiet",
    )
    a, b = weights(tmp_path / "one"), weights(tmp_path / "ps")
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-6, atol=1e-6)
    d = ps["distributed"]
    assert d["dropped"] == d["skipped_batches"] == 0 and d["gradients"] > d["updates"]
    assert abs(ps["test_accuracy"] - one["test_accuracy"]) <= 1 / 80


@pytest.mark.multiprocess
def test_async_max_staleness_rejects_and_a_large_bound_does_not(tmp_path):
    """Two workers: while one computes, the other's gradient moves the version, so most
    gradients are stale by 1; max_staleness = 0 rejects those, a bound of 1000 none."""
    common = {**SMALL, "distributed.mode": "async", "distributed.workers": 2}
    strict = trainlab.train(
        None, {**common, "distributed.max_staleness": 0}, out=tmp_path / "strict", progress="quiet"
    )["distributed"]
    loose = trainlab.train(
        None,
        {**common, "distributed.max_staleness": 1000},
        out=tmp_path / "loose",
        progress="quiet",
    )["distributed"]
    stale = sum(v for k, v in strict["staleness_histogram"].items() if int(k) > 0)
    assert strict["rejected"] == stale > 0
    assert strict["updates"] == strict["gradients"] - stale
    assert loose["rejected"] == 0 and loose["updates"] == loose["gradients"]
    assert (tmp_path / "strict" / "distributed.png").stat().st_size > 0


@pytest.mark.multiprocess
def test_backup_worker_cuts_the_wait_for_a_straggler(tmp_path):
    """Worker 0 takes 1.5 s per gradient. Without a backup every update waits for it; with one
    backup, each update takes the first two gradients and drops the straggler's (about 0.1 s
    per update on an idle machine; the bound leaves room for a loaded one)."""
    slow = {
        **SMALL,
        "train.epochs": 1,
        "train.batch_size": 70,
        "distributed.mode": "sync",
        "distributed.workers": 2,
        "distributed.slow_worker": "0:1.5",
    }
    plain = trainlab.train(None, slow, out=tmp_path / "plain", progress="quiet")["distributed"]
    backup = trainlab.train(
        None, {**slow, "distributed.backup_workers": 1}, out=tmp_path / "backup", progress="quiet"
    )["distributed"]
    assert plain["seconds_per_update"] >= 1.5
    assert backup["seconds_per_update"] < plain["seconds_per_update"] / 2.5
    assert backup["dropped"] + backup["skipped_batches"] > 0


@pytest.mark.multiprocess
@pytest.mark.parametrize("mode,backups", [("async", 0), ("sync", 1), ("sync", 0)])
def test_a_killed_worker_is_named_and_training_goes_on(tmp_path, monkeypatch, mode, backups):
    """Processes start in rank order: server 0, then workers 0, 1, ... Worker 1 is killed after
    the first epoch; the run finishes all its epochs with the others (sync without backups then
    averages the gradients of the live workers) and the summary names worker 1."""
    started = []
    original = Processes.start

    def start(self, target, args, threads=1):
        p = original(self, target, args, threads)
        started.append(p)
        return p

    monkeypatch.setattr(Processes, "start", start)
    config = {
        **SMALL,
        "train.epochs": 10,
        "train.batch_size": 5,
        "distributed.mode": mode,
        "distributed.workers": 2,
        "distributed.backup_workers": backups,
        "distributed.slow_worker": "0:0.005",
    }

    def kill_worker_1(metrics):  # runs in this process, after each epoch
        if metrics["epoch"] == 1:
            os.kill(started[2].pid, signal.SIGKILL)

    summary = trainlab.train(
        None, config, out=tmp_path / "run", progress="quiet", on_epoch=kill_worker_1
    )
    d = summary["distributed"]
    assert d["workers_lost"] == [1]
    assert summary["epochs_run"] == 10 and not summary["diverged"]
    counts = d["gradients_per_worker"]
    assert counts[1] < max(counts[:1] + counts[2:])


def _marked_processes(marker: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker.encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@pytest.mark.multiprocess
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_run_leaves_no_process_and_resumes(tmp_path):
    """SIGKILL the `trainlab train` process mid-run: its servers and workers die with it, and
    `--resume` finishes the run from its last checkpoint."""
    marker = f"TRAINLAB_TEST_MARK={os.getpid()}-{time.monotonic_ns()}"
    env = {**os.environ, marker.split("=")[0]: marker.split("=")[1]}
    run = tmp_path / "run"
    args = [
        f"{k}={v}" if not isinstance(v, list) else f"{k}=[{','.join(map(str, v))}]"
        for k, v in {
            **SMALL,
            "train.epochs": 6,
            "train.batch_size": 5,
            "train.checkpoint_seconds": 0,
            "distributed.mode": "async",
            "distributed.slow_worker": "0:0.01",
        }.items()
    ]
    cli = [
        sys.executable,
        "-m",
        "trainlab",
        "train",
        *args,
        "--out",
        str(run),
        "--progress",
        "quiet",
    ]
    proc = subprocess.Popen(cli, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (run / "last.pt").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (run / "last.pt").exists()
        proc.kill()
        proc.wait(10)
        deadline = time.monotonic() + 10
        while _marked_processes(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _marked_processes(marker) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in _marked_processes(marker):
            os.kill(pid, signal.SIGKILL)
    done = subprocess.run(
        [sys.executable, "-m", "trainlab", "train", "--resume", str(run), "--progress", "quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    summary = trainlab.resume(run)
    assert summary["epochs_run"] == 6
    assert summary["distributed"]["updates"] == summary["distributed"]["gradients"]


@pytest.mark.multiprocess
@pytest.mark.parametrize(
    "overrides,message",
    [
        (["distributed.mode=async", "distributed.workers=0"], "distributed.workers = 0: expected"),
        (
            ["distributed.mode=async", "distributed.backup_workers=1"],
            "distributed.backup_workers = 1: only for distributed.mode = sync",
        ),
        (["distributed.mode=sync", "optimizer.name=newton"], "evaluates the loss again"),
        (
            [
                "distributed.mode=sync",
                "distributed.servers=2",
                "optimizer.name=rprop",
                "optimizer.variant=irprop+",
            ],
            "only server 0 has",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, overrides, message):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainlab",
            "train",
            *overrides,
            "data.name=moons",
            "model.name=mlp",
            "train.epochs=1",
            "--out",
            str(tmp_path / "run"),
            "--progress",
            "quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr


def test_the_parameter_server_refuses_cuda():
    """Checked on the config itself: on a machine without CUDA, device = cuda is refused
    earlier, for every mode."""
    from trainlab.config import resolve
    from trainlab.distributed import server
    from trainlab.errors import UserError

    with pytest.raises(UserError, match="the parameter server runs on the CPU"):
        server.check(resolve(None, ["distributed.mode=async", "device=cuda"]))


@pytest.mark.multiprocess
def test_a_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "trainlab",
                "train",
                "data.name=moons",
                "model.name=mlp",
                "distributed.mode=async",
                f"distributed.port={port}",
                "--out",
                str(tmp_path / "run"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2
    assert f"distributed.port = {port}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
