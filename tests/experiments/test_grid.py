"""The grid runner: manifests, train-or-resume-or-read, measurements cached as JSON."""

import json
import os

import pytest
import torch

from trainlab.config import resolve
from trainlab.errors import UserError
from trainlab.experiments import grid
from trainlab.runs.rundir import RunDir

from tests.conftest import FAST


def power(x: int, exponent: int = 2) -> dict:
    """A measurement: module level, so that a spawned worker can unpickle it."""
    return {"value": x**exponent, "pid": os.getpid()}


def test_manifest_is_written_once_and_guards_the_folder(tmp_path):
    out = tmp_path / "exp"
    with grid.check_manifest(out, "claims.json", {"seeds": 2, "vary": ("a", "b")}, "claim"):
        # held: a second writer of the folder (here or in another process) is refused
        with pytest.raises(UserError, match="being written by another process .*pid"):
            grid.check_manifest(out, "claims.json", {"seeds": 2, "vary": ("a", "b")}, "claim")
    assert json.loads((out / "claims.json").read_text()) == {"seeds": 2, "vary": ["a", "b"]}
    (out / "result.csv").write_text("x\n")
    grid.check_manifest(out, "claims.json", {"seeds": 2, "vary": ["a", "b"]}, "claim").release()
    with pytest.raises(UserError, match="holds a different claim .*differs in: seeds"):
        grid.check_manifest(out, "claims.json", {"seeds": 3, "vary": ["a", "b"]}, "claim")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine\n")
    with pytest.raises(UserError, match="not empty and holds no claim"):
        grid.check_manifest(other, "claims.json", {"seeds": 2}, "claim")
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]
    with pytest.raises(UserError, match="--jobs 0"):
        grid.workers(0)


@pytest.mark.multiprocess
def test_measurements_run_in_workers_and_are_read_back(tmp_path):
    tasks = [
        grid.Task(x, tmp_path / f"m{x}", function=power, args=(x,), kwargs={"exponent": 3})
        for x in (2, 3, 4)
    ]
    seen = []
    results = grid.run_tasks(tasks, 2, on_result=lambda t, r, done, total: seen.append(t.key))
    assert [r["value"] for r in results] == [8, 27, 64]  # in the order given
    assert sorted(seen) == [2, 3, 4]
    assert len({r["pid"] for r in results} - {os.getpid()}) <= 1  # this process and one worker
    stored = json.loads((tmp_path / "m3" / "result.json").read_text())
    assert stored["function"] == f"{__name__}.power" and stored["args"] == [3]
    # read, not computed again: an edited result comes back as it is, in this process
    stored["result"]["value"] = -1
    (tmp_path / "m3" / "result.json").write_text(json.dumps(stored))
    assert grid.run_tasks(tasks, 2)[1]["value"] == -1
    with pytest.raises(UserError, match="another measurement"):
        grid.run_tasks([grid.Task(3, tmp_path / "m3", function=power, args=(5,))], 1)


@pytest.mark.multiprocess
def test_longest_tasks_start_first_and_every_task_runs_once(tmp_path):
    costs = [0.5, 3.0, 1.0, 2.0, 0.1, 2.5, 0.2]
    tasks = [
        grid.Task(i, tmp_path / f"m{i}", function=power, args=(i,), cost=c)
        for i, c in enumerate(costs)
    ]
    threads = torch.get_num_threads()
    order = []
    results = grid.run_tasks(tasks, 1, on_result=lambda t, r, done, total: order.append(t.key))
    assert order == [1, 5, 3, 2, 0, 6, 4]  # one job: in this process, costliest first
    assert [r["value"] for r in results] == [i * i for i in range(7)]
    assert {r["pid"] for r in results} == {os.getpid()}
    again = [
        grid.Task(i, tmp_path / f"n{i}", function=power, args=(i,), cost=c)
        for i, c in enumerate(costs)
    ]
    seen = []
    results = grid.run_tasks(again, 2, on_result=lambda t, r, done, total: seen.append(done))
    assert [r["value"] for r in results] == [i * i for i in range(7)] and seen == list(range(1, 8))
    assert torch.get_num_threads() == threads  # this process's thread count is restored


def test_a_run_folder_is_read_resumed_or_refused(fast_run, tmp_path, monkeypatch):
    summary, run = fast_run()
    config = resolve(None, FAST)
    assert grid.train_or_resume(config, run) == summary  # finished: read
    # interrupted while writing epoch 3's metrics: last.pt holds epoch 2
    append = RunDir.append_metrics

    def crash(self, row):
        if row["epoch"] == 3:
            raise KeyboardInterrupt
        append(self, row)

    monkeypatch.setattr(RunDir, "append_metrics", crash)
    with pytest.raises(KeyboardInterrupt):
        fast_run(out=tmp_path / "crashed")
    monkeypatch.setattr(RunDir, "append_metrics", append)
    assert torch.load(tmp_path / "crashed" / "last.pt", weights_only=True)["epoch"] == 2
    resumed = grid.train_or_resume(config, tmp_path / "crashed")  # unfinished: resumed
    keys = ("test_accuracy", "test_loss", "best_epoch", "epochs_run")
    assert {k: resumed[k] for k in keys} == {k: summary[k] for k in keys}
    with pytest.raises(UserError, match="another configuration .*optimizer"):
        grid.train_or_resume(resolve(None, FAST + ["optimizer.lr=0.2"]), run)


@pytest.mark.slow
@pytest.mark.multiprocess
def test_a_compare_run_is_reproduced_by_train_from_its_folder(tmp_path):
    """compare runs each job with cores // jobs threads and writes that count into each run's
    config (train.threads); `trainlab train <run>/config.toml` then gives identical metrics in
    a process that would otherwise use every core. The CNN's convolutions split their sums by
    thread, so without the recorded count the first epoch's loss already differs (checked
    below by training with 2 threads)."""
    import trainlab
    from trainlab.experiments import compare

    out = tmp_path / "cmp"
    compare.run(
        None,
        ["train.epochs=1", "data.samples=1000"],
        ["optimizer.lr=0.01"],
        1,
        2,
        out,
        log=lambda line: None,
    )
    run = out / "runs" / "optimizer.lr=0.01" / "seed-0"
    assert resolve(run / "config.toml")["train"]["threads"] == max(1, (os.cpu_count() or 1) // 2)
    again = trainlab.train(run / "config.toml", out=tmp_path / "again", progress="quiet")
    first = RunDir(run).read_metrics()
    second = RunDir(tmp_path / "again").read_metrics()

    def drop(rows):
        return [{k: v for k, v in r.items() if k != "time_s"} for r in rows]

    assert drop(first) == drop(second)
    assert again["threads"] == json.loads((run / "summary.json").read_text())["threads"]
    if (os.cpu_count() or 1) >= 2 and torch.get_num_threads() >= 2:
        other = trainlab.train(
            run / "config.toml", ["train.threads=2"], out=tmp_path / "two", progress="quiet"
        )
        assert other["threads"] == 2
        assert drop(RunDir(tmp_path / "two").read_metrics()) != drop(first)
