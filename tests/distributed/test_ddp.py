"""distributed.mode = ddp under torchrun: N ranks at batch b train as one process at batch N b;
started without torchrun it says how to start it; an interrupted run resumes, by --resume or by
an elastic restart. Every torchrun is ended (with its ranks) even when a test fails."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import trainlab

from tests import same_training

pytestmark = pytest.mark.cpu_only(
    "ddp runs on the CPU with gloo here; with device = auto on a GPU machine the data is on "
    "CUDA and the mode refuses it"
)

# moons with 289 training samples: at a global batch of 24 the last batch holds 1 sample (rank 1
# gets a stand-in of weight 0), at 22 it holds 3 (parts of 2 and 1): the uneven cases.
CONFIG = [
    "data.name=moons",
    "data.samples=401",
    "model.name=mlp",
    "model.hidden=[16]",
    "model.norm=none",
    "model.dropout=0",
    "optimizer.name=sgd",
    "optimizer.lr=0.1",
    "optimizer.momentum=0.9",
    "optimizer.weight_decay=0",
    "schedule.name=cosine",
    "train.checkpoint_seconds=0",
]
TOLERANCE = 1e-6  # measured: weights agree to 2.4e-7, metrics to 6e-8 (float32 rounding)
TIMEOUT_S = 50


def ours(tmp_path: Path) -> list[int]:
    """Processes whose command line names this test's folder: the torchruns and ranks it
    started, and nothing else."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if str(tmp_path).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def kill_ours(tmp_path: Path) -> None:
    for pid in ours(tmp_path):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def wait_none_left(tmp_path: Path, timeout_s: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while ours(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    return ours(tmp_path)


@pytest.fixture
def cleanup(tmp_path):
    """Whatever happens, no process of this test outlives it."""
    yield tmp_path
    kill_ours(tmp_path)


def torchrun_command(*args: str, restarts: int = 0) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        f"--max-restarts={restarts}",
        "-m",
        "trainlab",
        "train",
        *args,
    ]


def environment(**extra: str) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK")
    }
    return {**env, **extra}


def start(command: list[str], **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=environment(**env),
    )


def finish(p: subprocess.Popen, tmp_path: Path) -> tuple[str, str]:
    """Wait for ``p``; on a timeout or a failure every process of the test is killed."""
    try:
        out, err = p.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        kill_ours(tmp_path)
        out, err = p.communicate()
        pytest.fail(f"torchrun did not finish in {TIMEOUT_S} s:\n{err[-3000:]}")
    assert p.returncode == 0, err[-3000:]
    return out, err


def single_process(tmp_path: Path, batch: int, epochs: int) -> Path:
    out = tmp_path / f"single-{batch}-{epochs}"
    trainlab.train(
        None,
        CONFIG + [f"train.batch_size={batch}", f"train.epochs={epochs}"],
        out=out,
        progress="quiet",
    )
    return out


def assert_same_training(a: Path, b: Path) -> None:
    """Metrics and final weights agree to float rounding."""
    same_training.assert_same_training(a, b, TOLERANCE)


@pytest.mark.multiprocess
@pytest.mark.parametrize("b", [12, 11])
def test_two_ranks_at_b_equal_one_process_at_2b(cleanup, b):
    tmp_path = cleanup
    run = tmp_path / "ddp"
    p = start(
        torchrun_command(
            "distributed.mode=ddp",
            *CONFIG,
            f"train.batch_size={b}",
            "train.epochs=3",
            "--out",
            str(run),
        )
    )
    out, _ = finish(p, tmp_path)
    assert out.count("run written to") == 1  # rank 0 speaks for the run
    assert_same_training(single_process(tmp_path, 2 * b, 3), run)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["distributed"] == {
        "mode": "ddp",
        "world_size": 2,
        "backend": "gloo",
        "batch_size_per_rank": b,
        "global_batch_size": 2 * b,
        "batch_norm": None,
        "restarts": 0,
    }
    assert wait_none_left(tmp_path) == []


@pytest.mark.multiprocess
def test_without_torchrun_says_how_to_start(cleanup):
    tmp_path = cleanup
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainlab",
            "train",
            "distributed.mode=ddp",
            *CONFIG,
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=environment(),
    )
    assert p.returncode == 2
    assert len(p.stderr.strip().splitlines()) == 1
    assert "torchrun --nproc-per-node" in p.stderr and "not set" in p.stderr
    assert not (tmp_path / "run").exists()


def wait_for_checkpoint(run: Path, p: subprocess.Popen, tmp_path: Path) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not (run / "last.pt").exists():
        if p.poll() is not None or time.monotonic() > deadline:
            kill_ours(tmp_path)
            pytest.fail(f"no checkpoint appeared:\n{p.communicate()[1][-3000:]}")
        time.sleep(0.02)


# Rank 0 sleeps 0.1 s before each of the 13 updates of an epoch: 4 epochs take about 5 s, so
# the run is still going when its first checkpoint appears.
SLOW = [
    "distributed.mode=ddp",
    *CONFIG,
    "train.batch_size=12",
    "train.epochs=4",
    "distributed.slow_worker=0:0.1",
]


@pytest.mark.multiprocess
def test_interrupted_run_resumes(cleanup):
    tmp_path = cleanup
    run = tmp_path / "ddp"
    p = start(torchrun_command(*SLOW, "--out", str(run)))
    wait_for_checkpoint(run, p, tmp_path)
    os.killpg(p.pid, signal.SIGKILL)  # torchrun dies; its ranks die with it (PDEATHSIG)
    p.communicate()
    assert wait_none_left(tmp_path) == []
    assert not (run / "summary.json").exists()
    assert len((run / "metrics.jsonl").read_text().splitlines()) < 4
    out, err = finish(start(torchrun_command("--resume", str(run))), tmp_path)
    assert "resuming" in err
    assert_same_training(single_process(tmp_path, 24, 4), run)
    assert json.loads((run / "summary.json").read_text())["epochs_run"] == 4
    assert wait_none_left(tmp_path) == []


def rank_pid(parent: int, rank: int) -> int | None:
    """The pid of the rank ``rank`` that torchrun ``parent`` started, if it runs."""
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and int((entry / "stat").read_text().split()[3]) == parent
                and f"RANK={rank}".encode() in (entry / "environ").read_bytes().split(b"\0")
            ):
                return int(entry.name)
        except (OSError, IndexError, ValueError):
            pass
    return None


@pytest.mark.multiprocess
def test_elastic_restart_resumes_from_last_checkpoint(cleanup):
    tmp_path = cleanup
    run = tmp_path / "ddp"
    # pytorch issue 135712: with gloo a restarted group waits forever on the shared store
    p = start(
        torchrun_command(*SLOW, "--out", str(run), restarts=1),
        TORCH_DISABLE_SHARE_RDZV_TCP_STORE="1",
    )
    wait_for_checkpoint(run, p, tmp_path)
    pid = rank_pid(p.pid, 1)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    out, err = finish(p, tmp_path)
    assert "resuming" in err
    assert_same_training(single_process(tmp_path, 24, 4), run)
    assert json.loads((run / "summary.json").read_text())["distributed"]["restarts"] == 1
    assert wait_none_left(tmp_path) == []
