"""A regression task end to end: the adding problem (Hochreiter & Schmidhuber 1997) through
train, early stopping on val_loss, compare and its report, with the loss checked against
``F.mse_loss`` / a hand computation and the baseline against the targets' mean."""

import csv
import json

import numpy as np
import pytest
import torch

import trainlab
from trainlab import build, data
from trainlab.config import resolve
from trainlab.errors import UserError
from trainlab.experiments import compare
from trainlab.training import losses
from trainlab.training.loop import evaluate

ADDING = [
    "data.name=adding",
    "data.samples=300",
    "data.seq_len=12",
    "model.name=gru",
    "model.hidden=[8]",
    "optimizer.name=adam",
    "optimizer.lr=0.01",
    "train.batch_size=32",
    "train.epochs=3",
    "train.checkpoint_seconds=0",
]


def test_adding_problem_by_hand():
    config = resolve(None, ADDING)
    a = data.read("adding", config.seed, config.data.to_dict())
    assert a.x.shape == (300, 2, 12) and a.task == "regression"
    values, markers = a.x[:, 0], a.x[:, 1]
    assert (markers.sum(1) == 2).all()
    assert (markers[:, :6].sum(1) == 1).all() and (markers[:, 6:].sum(1) == 1).all()
    np.testing.assert_allclose(a.y, (values * markers).sum(1), rtol=1e-6)
    assert 0 <= values.min() and values.max() < 1


def test_regression_defaults_and_loss_is_plain_mse():
    config = resolve(None, ADDING)
    assert config["loss"]["name"] == "mse" and config["early_stopping"]["monitor"] == "val_loss"
    loss = build.loss(config)
    z, y = torch.randn(5, 1), torch.randn(5)
    assert loss(z, y) == pytest.approx(float(((z[:, 0] - y) ** 2).mean()))
    splits = build.load_data(config)
    assert splits.num_classes == 1 and splits.y_train.dtype == torch.float32


@pytest.mark.parametrize(
    "extra, message",
    [
        (["loss.name=cross_entropy"], "regression task; expected mse"),
        (["early_stopping.monitor=val_accuracy"], "expected val_loss or train_loss"),
        (["loss.label_smoothing=0.1"], "acts on class outputs"),
    ],
)
def test_classification_options_on_regression_are_one_line_errors(extra, message):
    with pytest.raises(UserError, match=message) as e:
        resolve(None, ADDING + extra)
    assert "\n" not in str(e.value)


def test_train_reports_mse_and_the_mean_baseline(tmp_path):
    summary = trainlab.train(
        None, ADDING + ["early_stopping.patience=1"], out=tmp_path / "r", progress="quiet"
    )
    assert summary["task"] == "regression" and summary["test_accuracy"] is None
    metrics = (tmp_path / "r" / "metrics.jsonl").read_text()
    rows = [json.loads(line) for line in metrics.splitlines()]
    assert "val_accuracy" not in rows[0] and "train_accuracy" not in rows[0]
    best = min(rows, key=lambda r: r["val_loss"])
    assert summary["best_epoch"] == best["epoch"] and summary["best_val_loss"] == best["val_loss"]
    splits = build.load_data(resolve(None, ADDING))
    mean = float(splits.y_train.double().mean())
    assert summary["baseline_test_loss"] == pytest.approx(
        float(((splits.y_test.double() - mean) ** 2).mean())
    )
    assert 0.1 < summary["baseline_test_loss"] < 0.25  # Var(u1 + u2) = 1/6


def test_evaluate_is_the_mean_squared_error():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 1))
    x, y = torch.randn(10, 2, 3), torch.randn(10)
    loss, accuracy = evaluate(model, x, y, losses.squared_error, batch_size=3)
    assert accuracy is None
    with torch.no_grad():
        expected = float(torch.nn.functional.mse_loss(model(x)[:, 0], y))
    assert loss == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
def test_compare_on_a_regression_task(tmp_path):
    rows = compare.run(
        None,
        ADDING + ["train.epochs=2"],
        ["model.recurrent_norm=none,layer"],
        2,
        1,
        tmp_path,
        log=lambda *a: None,
    )
    assert [r["metric"] for r in rows] == ["test_loss", "test_loss"]
    assert all(0 < r["baseline_test_loss_mean"] < 0.3 for r in rows)
    with (tmp_path / "summary.csv").open() as f:
        assert "baseline_test_loss_mean" in next(csv.reader(f))
    html = (tmp_path / "report.html").read_text()
    assert "test MSE" in html and "baseline MSE" in html and "test accuracy" not in html
    with pytest.raises(UserError, match="regression task"):
        compare.run(
            None, ADDING, ["model.hidden=[4],[8]"], 1, 1, tmp_path / "b", metric="best_val_accuracy"
        )


def test_layer_norm_trains_at_batch_size_one_batch_norm_refuses(tmp_path):
    small = ADDING + ["data.samples=60", "train.epochs=2", "model.name=lstm"]
    summary = trainlab.train(
        None,
        small
        + [
            "train.batch_size=1",
            "model.recurrent_norm=layer",
            "model.recurrent_dropout=0.1",
            "model.recurrent_dropout_mode=variational",
        ],
        out=tmp_path / "ln",
        progress="quiet",
    )
    assert not summary["diverged"] and summary["test_loss"] < 10
    with pytest.raises(UserError, match="at least 2 samples"):
        trainlab.train(
            None,
            small + ["train.batch_size=1", "model.recurrent_norm=batch"],
            out=tmp_path / "bn",
            progress="quiet",
        )


@pytest.mark.slow
def test_same_seed_same_numbers(tmp_path):
    variant = ADDING + [
        "model.name=lstm",
        "model.recurrent_norm=batch",
        "model.bn_time_steps=6",
        "model.recurrent_dropout=0.2",
        "model.recurrent_dropout_mode=semeniuta",
    ]
    a = trainlab.train(None, variant, out=tmp_path / "a", progress="quiet")
    b = trainlab.train(None, variant, out=tmp_path / "b", progress="quiet")
    assert a["test_loss"] == b["test_loss"] and a["best_val_loss"] == b["best_val_loss"]
