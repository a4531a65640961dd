"""data.val_fraction = 0: train on the whole training split, as papers do (MNIST-1D's reference
recipe uses all 4000 samples); no model selection, the last epoch is evaluated; what needs a
validation split says so in one line."""

from __future__ import annotations

import json

import pytest

import trainlab
from trainlab import build
from trainlab.cli import main
from trainlab.config import resolve
from trainlab.runs.rundir import RunDir


@pytest.mark.slow
def test_the_whole_training_split_is_trained_on_and_the_last_epoch_evaluated(tmp_path):
    splits = build.load_data(resolve(None, ["data.val_fraction=0"]))
    assert len(splits.x_train) == 4000 and len(splits.x_val) == 0  # MNIST-1D's 4000 + 1000 test
    run = tmp_path / "run"
    summary = trainlab.train(
        None, ["data.val_fraction=0", "train.epochs=2"], out=run, progress="quiet"
    )
    rows = RunDir(run).read_metrics()
    assert [sorted(r) for r in rows] == [
        ["epoch", "lr", "time_s", "train_accuracy", "train_loss"]
    ] * 2
    assert summary["evaluated"] == "last" and summary["best_epoch"] is None
    assert summary["test_accuracy"] > 0.5
    assert not (run / "best.pt").exists()
    (run / "summary.json").unlink()  # resume works as for any run
    assert trainlab.resume(run, progress="quiet")["test_loss"] == summary["test_loss"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "data.val_fraction=0", "early_stopping.patience=3"], "no validation split"),
        (["train", "data.val_fraction=0", "schedule.name=plateau"], "no validation split"),
        (["search", "data.val_fraction=0", "--grid", "optimizer.lr=0.1,0.01"], "val_fraction = 0"),
        (["train", "data.val_fraction=1.0"], "data.val_fraction = 1.0: expected"),
    ],
)
def test_what_needs_a_validation_split_says_so(tmp_path, capsys, args, message):
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err


@pytest.mark.slow
def test_early_stopping_on_a_train_metric_still_works(tmp_path):
    summary = trainlab.train(
        None,
        ["data.val_fraction=0", "train.epochs=3", "early_stopping.monitor=train_loss"],
        out=tmp_path / "run",
        progress="quiet",
    )
    assert summary["best_epoch"] is not None and summary["evaluated"] == "best"
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["monitor"] == "train_loss"
