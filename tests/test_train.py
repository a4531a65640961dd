import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import trainlab
import trainlab.models
from trainlab.config import resolve
from trainlab.errors import UserError
from trainlab.runs import checkpoint
from trainlab.runs.rundir import RunDir

from tests.conftest import FAST


def metrics(run):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    for r in rows:
        r.pop("time_s")  # wall-clock time is the one thing allowed to differ
    return rows


def same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        same_tensors(a[k], b[k])
        if isinstance(a[k], dict)
        else torch.equal(a[k], b[k])
        if isinstance(a[k], torch.Tensor)
        else a[k] == b[k]
        for k in a
    )


def assert_same_run(a, b):
    assert metrics(a) == metrics(b)
    for name in ("last.pt", "best.pt"):
        sa, sb = (torch.load(r / name, weights_only=True) for r in (a, b))
        assert same_tensors(sa["model"], sb["model"]), name
    sa, sb = (json.loads((r / "summary.json").read_text()) for r in (a, b))
    for key in ("test_loss", "test_accuracy", "best_epoch", "epochs_run", "diverged"):
        assert sa[key] == sb[key], key


def test_run_folder_holds_what_it_promises(fast_run):
    summary, run = fast_run()
    assert {p.name for p in run.iterdir()} == {
        ".lock",
        "config.toml",
        "metrics.jsonl",
        "summary.json",
        "last.pt",
        "best.pt",
    }
    assert resolve(run / "config.toml") == resolve(None, FAST)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert set(rows[0]) == {
        "epoch",
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
        "lr",
        "time_s",
    }
    on_disk = json.loads((run / "summary.json").read_text())
    assert on_disk == summary
    for key in (
        "test_loss",
        "test_accuracy",
        "best_epoch",
        "best_val_accuracy",
        "epochs_run",
        "wall_time_s",
        "stopped_early",
        "diverged",
    ):
        assert key in summary
    assert summary["epochs_run"] == 4 and not summary["diverged"] and summary["test_accuracy"] > 0.8
    best = rows[summary["best_epoch"] - 1]
    best_in_rows = max(r["val_accuracy"] for r in rows)
    assert summary["best_val_accuracy"] == best["val_accuracy"] == best_in_rows


def test_same_seed_same_numbers(fast_run):
    _, a = fast_run("model.dropout=0.2")
    _, b = fast_run("model.dropout=0.2")
    _, c = fast_run("model.dropout=0.2", "seed=1")
    assert_same_run(a, b)
    assert metrics(a) != metrics(c)


def test_evaluate_and_load_model_reproduce_the_summary(fast_run):
    summary, run = fast_run()
    again = trainlab.evaluate(run)
    assert again["test_accuracy"] == summary["test_accuracy"]
    assert again["test_loss"] == pytest.approx(summary["test_loss"], rel=1e-6)
    model = trainlab.load_model(run)
    best = torch.load(run / "best.pt", weights_only=True)["model"]
    assert same_tensors(model.state_dict(), best)


def test_refuses_to_overwrite(fast_run, tmp_path):
    _, run = fast_run()
    with pytest.raises(UserError, match="existing run"):
        fast_run(out=run)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty"):
        fast_run(out=tmp_path / "other")
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_bad_data_leaves_no_folder_behind(tmp_path):
    with pytest.raises(UserError):
        trainlab.train(
            None,
            FAST + ["data.name=npz", f"data.path={tmp_path / 'x.npz'}"],
            out=tmp_path / "run",
            progress="quiet",
        )
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.parametrize("batch_size, updates", [(1, 288), (50, 6), ("'full'", 1)])
def test_batch_size_sets_updates_per_epoch(fast_run, batch_size, updates):
    # moons with 400 samples: 80 test, 32 validation, 288 training samples
    _, run = fast_run(
        "optimizer.name=adam",
        "optimizer.lr=0.01",
        f"train.batch_size={batch_size}",
        "train.epochs=2",
    )
    state = torch.load(run / "last.pt", weights_only=True)["optimizer"]["state"]
    assert int(state[0]["step"]) == 2 * updates


def test_early_stopping_stops_and_selects(fast_run):
    # min_delta 1.0 makes every epoch after the first a non-improvement: stop after epoch 1 + 2
    summary, run = fast_run(
        "early_stopping.patience=2", "early_stopping.min_delta=1.0", "train.epochs=10"
    )
    assert summary["epochs_run"] == 3 and summary["stopped_early"] and summary["best_epoch"] == 1
    best = torch.load(run / "best.pt", weights_only=True)
    assert best["epoch"] == 1


def test_divergence_is_reported_and_the_last_good_state_kept(tmp_path, monkeypatch):
    from trainlab import build as builder

    make_loss = builder.loss
    broken = {"now": False}

    def exploding(config, task=None, generator=None, **labels):  # NaN once epoch 2 is over
        loss = make_loss(config, task, generator, **labels)
        return lambda z, y: loss(z, y) * float("nan") if broken["now"] else loss(z, y)

    monkeypatch.setattr(builder, "loss", exploding)
    summary = trainlab.train(
        None,
        FAST + ["train.epochs=5"],
        out=tmp_path / "run",
        progress="quiet",
        on_epoch=lambda m: broken.update(now=m["epoch"] == 2),
    )
    run = tmp_path / "run"
    assert summary["diverged"] and summary["diverged_at_epoch"] == 3
    assert summary["epochs_run"] == 2 and summary["test_accuracy"] is not None
    last = torch.load(run / "last.pt", weights_only=True)
    assert last["epoch"] == 2
    assert all(torch.isfinite(t).all() for t in last["model"].values())
    assert len(metrics(run)) == 2


def test_divergence_in_the_first_epoch(fast_run):
    summary, run = fast_run("optimizer.lr=1e30", "optimizer.momentum=0")
    assert summary["diverged"] and summary["diverged_at_epoch"] == 1
    assert summary["test_accuracy"] is None and not (run / "last.pt").exists()


class Crash(Exception):
    pass


def crash_and_resume(fast_run, monkeypatch, extra, crash_after: int, out):
    """Train into ``out`` but die right after writing epoch ``crash_after``'s metrics (before its
    checkpoint), as a killed process would; then resume it."""
    append = RunDir.append_metrics
    count = {"n": 0}

    def crashing(self, row):
        append(self, row)
        count["n"] += 1
        if count["n"] == crash_after:
            raise Crash

    monkeypatch.setattr(RunDir, "append_metrics", crashing)
    with pytest.raises(Crash):
        fast_run(*extra, out=out)
    monkeypatch.setattr(RunDir, "append_metrics", append)
    trainlab.resume(out, progress="quiet")


# checkpoint_seconds 0: a checkpoint every epoch; 1000: none before the end (resume restarts)
@pytest.mark.slow
@pytest.mark.parametrize("crash_after, seconds", [(1, 0), (3, 0), (3, 1000)])
def test_resume_after_a_crash_equals_an_uninterrupted_run(
    fast_run, monkeypatch, crash_after, seconds
):
    extra = (
        "model.dropout=0.3",
        "schedule.name=cosine",
        f"train.checkpoint_seconds={seconds}",
        "train.epochs=5",
    )
    _, reference = fast_run(*extra)
    crash_and_resume(fast_run, monkeypatch, extra, crash_after, reference.parent / "crashed")
    assert_same_run(reference, reference.parent / "crashed")


@pytest.mark.slow
@pytest.mark.multiprocess
def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path):
    args = [
        "data.name=mnist1d",
        "model.name=mlp",
        "model.hidden=[128]",
        "model.dropout=0.2",
        "train.epochs=6",
        "train.batch_size=16",
        "schedule.name=step",
        "schedule.step_size=2",
        "train.checkpoint_seconds=0",
    ]
    cmd = [sys.executable, "-m", "trainlab", "train", *args, "--progress", "quiet"]
    env = dict(os.environ)
    subprocess.run(
        cmd + ["--out", str(tmp_path / "whole")], check=True, env=env, capture_output=True
    )
    killed = tmp_path / "killed"
    proc = subprocess.Popen(cmd + ["--out", str(killed)], env=env, stdout=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:  # kill it in the middle of epoch 3
        m = killed / "metrics.jsonl"
        if m.exists() and len(m.read_text().splitlines()) >= 2:
            break
        time.sleep(0.005)
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "summary.json").exists()
    resumed = subprocess.run(
        [sys.executable, "-m", "trainlab", "train", "--resume", str(killed), "--progress", "quiet"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(tmp_path / "whole", killed)


def test_checkpoints_are_written_atomically(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    checkpoint.save(path, {"w": torch.ones(3)})

    def dies_midway(obj, f):
        f.write(b"PK\x03\x04 half a zip file")
        raise KeyboardInterrupt  # as if killed while writing

    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, {"w": torch.zeros(3)})
    assert torch.equal(checkpoint.load(path)["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_loading_a_checkpoint_never_runs_code_from_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open(tmp_path / "evil.pt", "wb") as f:
        torch.save({"model": Exploit()}, f, pickle_module=pickle)
    with pytest.raises(UserError, match="cannot be read"):
        checkpoint.load(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.slow
def test_the_default_recipe_reaches_97_percent_on_mnist1d(tmp_path):
    """The target of the foundation issue: >= 97% test accuracy (seeds 0-9 measured
    98.3-99.1%); its time (< 60 s on 2 cores: 7-8 s) is measured in BENCHMARKS.md, not here,
    where a loaded machine would fail it."""
    summary = trainlab.train(out=tmp_path / "run", progress="quiet")
    assert summary["test_accuracy"] >= 0.97 and not summary["diverged"]


@pytest.mark.slow
def test_the_speed_recipe_ends_above_94_percent(tmp_path):
    """examples/fast.toml (issue 13): seeds 0-4 measured 96.4-97.2% test accuracy, 90% validation
    accuracy at epoch 3 (benchmarks/time_to_target.py); the floor is the issue's 94%."""
    example = Path(__file__).resolve().parent.parent / "examples" / "fast.toml"
    summary = trainlab.train(example, ["train.threads=2"], out=tmp_path / "run", progress="quiet")
    assert summary["test_accuracy"] >= 0.94 and not summary["diverged"]


def test_pretrained_weights_then_fine_tune_or_freeze(fast_run, tmp_path):
    _, source = fast_run()
    best = torch.load(source / "best.pt", weights_only=True)["model"]
    model = trainlab.build.model(resolve(None, FAST + [f"model.pretrained={source}"]), (2,), 2)
    assert same_tensors(model.state_dict(), best)
    # a head for 3 classes does not fit: it keeps its fresh initialization, the rest is copied
    model = trainlab.build.model(resolve(None, FAST + [f"model.pretrained={source}"]), (2,), 3)
    assert torch.equal(model.state_dict()["net.1.weight"], best["net.1.weight"])
    # freeze the first layer and train on: it does not move, the head does
    _, tuned = fast_run(f"model.pretrained={source}", 'model.freeze=["net.1"]')
    after = torch.load(tuned / "last.pt", weights_only=True)["model"]
    assert torch.equal(after["net.1.weight"], best["net.1.weight"])
    # the layers: Linear, ReLU, Dropout, Linear
    assert not torch.equal(after["net.5.weight"], best["net.5.weight"])
    with pytest.raises(UserError, match="the layers are net.1, net.5"):
        fast_run(f"model.pretrained={source}", 'model.freeze=["encoder"]')
    with pytest.raises(UserError, match="no such run folder"):
        fast_run(f"model.pretrained={tmp_path / 'nothing'}")


def test_resume_is_exact_with_every_random_technique(fast_run, monkeypatch):
    """Augmentation, input/weight/hidden/target noise, dropout, gradient noise and SWATS all
    draw random numbers or keep state; a crash after epoch 2 must not change the result."""
    extra = (
        "augment.noise=0.1",
        "augment.shift=1",
        "regularization.input_noise=0.05",
        "regularization.weight_noise=0.01",
        "model.hidden_noise=0.05",
        "model.dropout=0.2",
        "loss.name=mse",
        "loss.target_noise=0.05",
        "gradient_noise.eta=0.01",
        "optimizer.name=swats",
        "optimizer.lr=0.01",
        "train.switch_to_sgd_at=3",
        "train.epochs=5",
    )
    _, reference = fast_run(*extra)
    crash_and_resume(fast_run, monkeypatch, extra, 2, reference.parent / "crashed")
    assert_same_run(reference, reference.parent / "crashed")
