"""distributed.mode = hogwild: N processes, one shared-memory model, no locks."""

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

import trainlab
from trainlab.errors import UserError

from tests.conftest import FAST

pytestmark = pytest.mark.multiprocess  # every test starts hogwild workers

HOGWILD = ["distributed.mode=hogwild"]
NO_DROPOUT = ["model.dropout=0"]  # the one random draw of FAST (no noise, no augmentation)
PLAIN_SGD = ["optimizer.momentum=0", *NO_DROPOUT]  # FAST's schedule is constant
UPDATES = 9  # moons, 400 samples: 288 training samples, batches of 32


class Crash(Exception):
    pass


def rows(run):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "time_s"} for line in lines]


def weights(run, name="last.pt"):
    return torch.load(run / name, weights_only=True)["model"]


def workers():
    """This process's hogwild workers still running."""
    return [p for p in multiprocessing.active_children() if p.name.startswith("hogwild-worker")]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] == "Z"  # not reaped yet


def kill_worker(index: int) -> None:
    for p in workers():
        if p.name == f"hogwild-worker-{index}":
            os.kill(p.pid, signal.SIGKILL)


def train(tmp_path, name, *extra, **options):
    return trainlab.train(
        None, FAST + list(extra), out=tmp_path / name, progress="quiet", **options
    )


@pytest.mark.parametrize(
    "extra",
    [PLAIN_SGD, [*NO_DROPOUT, "schedule.name=one_cycle"]],
    ids=["plain-sgd", "momentum-one-cycle"],
)
def test_one_worker_equals_single_process_training(tmp_path, extra):
    # one worker: nothing races, the same batches in the same order at the same rates. Exact
    # equality (torch.equal / ==), no tolerance; momentum too, as the worker's buffer lives on
    single = train(tmp_path, "single", *extra)
    hogwild = train(tmp_path, "hogwild", *extra, *HOGWILD, "distributed.workers=1")
    assert rows(tmp_path / "hogwild") == rows(tmp_path / "single")
    for name in ("last.pt", "best.pt"):
        a, b = weights(tmp_path / "single", name), weights(tmp_path / "hogwild", name)
        assert all(torch.equal(a[k], b[k]) for k in a), name
    for key in ("test_loss", "test_accuracy", "best_epoch", "epochs_run"):
        assert hogwild[key] == single[key], key
    assert hogwild["distributed"]["updates_per_worker"] == [4 * UPDATES]
    assert not workers()


def test_two_workers_learn_and_count_every_update(tmp_path):
    pids = []
    summary = train(
        tmp_path,
        "run",
        *HOGWILD,
        "distributed.workers=2",
        on_epoch=lambda m: pids.extend(p.pid for p in workers()),
    )
    run = tmp_path / "run"
    assert [r["epoch"] for r in rows(run)] == [1, 2, 3, 4]
    assert json.loads((run / "summary.json").read_text()) == summary
    d = summary["distributed"]
    assert d["mode"] == "hogwild" and d["workers"] == 2 and d["threads_per_worker"] >= 1
    assert d["workers_lost"] == [] and d["batches_skipped"] == 0
    assert d["updates_per_worker"] == [4 * 5, 4 * 4]  # 9 batches dealt round-robin
    assert summary["best_val_accuracy"] > 0.75 and summary["test_accuracy"] > 0.75  # chance 0.5
    assert len(set(pids)) == 2 and all(gone(pid) for pid in pids)  # started once, all ended
    assert not workers()


def test_a_killed_worker_is_named_and_the_run_finishes(tmp_path, capsys):
    # worker 1 sleeps 0.2 s before each of its 4 batches: killed 0.15 s into epoch 2
    def kill_in_epoch_2(metrics):
        if metrics["epoch"] == 1:
            threading.Timer(0.15, kill_worker, (1,)).start()

    summary = trainlab.train(
        None,
        FAST + HOGWILD + ["distributed.slow_worker=1:0.2", "train.epochs=3"],
        out=tmp_path / "run",
        progress="lines",
        on_epoch=kill_in_epoch_2,
    )
    d = summary["distributed"]
    assert d["workers_lost"] == [1] and d["batches_skipped"] >= 1
    assert sum(d["updates_per_worker"]) + d["batches_skipped"] == 3 * UPDATES
    assert d["updates_per_worker"][0] == 5 + 5 + UPDATES  # epoch 3: worker 0 alone
    assert summary["epochs_run"] == 3 and [r["epoch"] for r in rows(tmp_path / "run")] == [1, 2, 3]
    assert "hogwild worker 1 lost in epoch 2 (killed by SIGKILL)" in capsys.readouterr().err
    assert not workers()


def test_a_stalled_worker_is_killed_after_the_timeout(tmp_path):
    summary = train(
        tmp_path,
        "run",
        *HOGWILD,
        "distributed.slow_worker=1:30",
        "distributed.timeout=1",
        "train.epochs=2",
    )
    d = summary["distributed"]
    assert d["workers_lost"] == [1] and d["batches_skipped"] == 4
    assert d["updates_per_worker"] == [5 + UPDATES, 0]
    assert not workers()


def test_losing_every_worker_is_a_clear_error(tmp_path):
    def kill_all(metrics):
        kill_worker(0)
        kill_worker(1)
        time.sleep(0.2)  # dead before epoch 2 is dealt

    with pytest.raises(UserError, match="every hogwild worker was lost"):
        train(tmp_path, "run", *HOGWILD, on_epoch=kill_all)
    assert not workers()
    assert not (tmp_path / "run" / "summary.json").exists()


def test_resume_after_a_crash_equals_an_uninterrupted_run(tmp_path):
    # one worker, plain SGD (no optimizer state to lose): the resumed run is exact. The crash:
    # a hook raising after epoch 2's metrics, before its checkpoint, so last.pt is epoch 1's
    def crash(metrics):
        if metrics["epoch"] == 2:
            raise Crash

    extra = [*PLAIN_SGD, *HOGWILD, "distributed.workers=1", "schedule.name=cosine"]
    with pytest.raises(Crash):
        train(tmp_path, "crashed", *extra, on_epoch=crash)
    assert not workers() and not (tmp_path / "crashed" / "summary.json").exists()
    resumed = trainlab.resume(tmp_path / "crashed", progress="quiet")
    single = train(tmp_path, "single", *PLAIN_SGD, "schedule.name=cosine")
    assert rows(tmp_path / "crashed") == rows(tmp_path / "single")
    a, b = weights(tmp_path / "single"), weights(tmp_path / "crashed")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["test_accuracy"] == single["test_accuracy"]
    assert resumed["distributed"]["updates_per_worker"] == [4 * UPDATES]  # epoch 2 once
    assert not workers()


def test_parent_killed_leaves_no_worker_and_resumes(tmp_path):
    # a `trainlab train` process SIGKILLed during epoch 2: its workers die with it (no orphan),
    # and --resume finishes the run from last.pt
    run = tmp_path / "run"
    args = [*FAST, *HOGWILD, "distributed.slow_worker=0:0.05", "train.epochs=3"]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trainlab",
            "train",
            *args,
            "--out",
            str(run),
            "--progress",
            "quiet",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while not (run / "last.pt").exists() and time.time() < deadline:
        time.sleep(0.02)
    children = [int(c) for c in open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(children) >= 2  # the two workers (and perhaps multiprocessing's tracker)
    deadline = time.time() + 10
    while not all(gone(pid) for pid in children) and time.time() < deadline:
        time.sleep(0.05)
    assert all(gone(pid) for pid in children)
    assert not (run / "summary.json").exists()
    summary = trainlab.resume(run, progress="quiet")
    assert summary["epochs_run"] == 3 and [r["epoch"] for r in rows(run)] == [1, 2, 3]
    assert sum(summary["distributed"]["updates_per_worker"]) == 3 * UPDATES
    assert not workers()
