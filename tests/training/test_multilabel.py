"""Multi-label targets (lecture 002, "Multi-label classification: cross entropy can be recorded
separately for each neuron with sigmoid"): a 0/1 matrix y (N, C), one sigmoid per class, the
exact-match and per-label accuracies; through the data checks, train, evaluate and compare."""

import csv
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trainlab import build
from trainlab.cli import main
from trainlab.config import resolve
from trainlab.data import Arrays
from trainlab.data.files import read_csv
from trainlab.data.prepare import check, task_of_targets
from trainlab.errors import UserError
from trainlab.training.loop import evaluate_metrics
from trainlab.training.metrics import RunningMetrics

Z = torch.tensor([[2.0, -1.0, 0.5], [0.1, 0.2, -3.0], [-2.0, 1.0, 1.5], [0.3, -0.4, 0.0]]).double()
Y = torch.tensor([[1, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]).double()
BCE = ["loss.name=binary_cross_entropy"]


def loss(*overrides, labels=None):
    return build.loss(resolve(None, [*BCE, *overrides]), "multilabel", labels=labels)(Z, Y)


def test_one_sigmoid_per_class_is_the_lectures_cross_entropy_over_c():
    s = torch.sigmoid(Z)
    lecture = -(Y * s.log() + (1 - Y) * (1 - s).log()).sum(1).mean()  # sum over k, mean over n
    torch.testing.assert_close(loss(), lecture / 3)
    torch.testing.assert_close(loss(), F.binary_cross_entropy_with_logits(Z, Y))


def test_label_smoothing_of_multilabel_targets():
    q = 0.9 * Y + 0.1 * 0.5  # uniform: each label's two outcomes
    expected = F.binary_cross_entropy_with_logits(Z, q)
    torch.testing.assert_close(loss("loss.label_smoothing=0.1"), expected)
    train = torch.tensor([[1, 0, 1], [1, 1, 1], [0, 0, 1], [1, 0, 1]]).double()
    q = 0.9 * Y + 0.1 * torch.tensor([0.75, 0.25, 1.0], dtype=torch.float64)
    unigram = ["loss.label_smoothing=0.1", "loss.smoothing_prior=unigram"]
    torch.testing.assert_close(
        loss(*unigram, labels=train), F.binary_cross_entropy_with_logits(Z, q)
    )


def test_exact_match_and_per_label_accuracy():
    predicted = (Z > 0).double()  # sigmoid > 1/2
    right = predicted == Y  # rows: all right, 1 wrong, 1 wrong, 2 wrong (z = 0: absent)
    exact = right.all(1).double().mean().item()
    per_label = right.double().mean().item()
    assert (exact, per_label) == (1 / 4, 8 / 12)
    model = torch.nn.Identity()
    result = evaluate_metrics(model, Z, Y, F.binary_cross_entropy_with_logits, batch_size=3)
    assert result["accuracy"] == exact and result["label_accuracy"] == pytest.approx(per_label)
    running = RunningMetrics(Y, F.binary_cross_entropy_with_logits)
    running.add(Z[:2])
    running.add(Z[2:])
    train_loss, accuracy = running.result()
    assert accuracy == exact and running.label_accuracy == pytest.approx(per_label)
    assert train_loss == pytest.approx(F.binary_cross_entropy_with_logits(Z, Y).item())


def _arrays(y, **extra):
    x = np.random.default_rng(0).normal(size=(len(y), 2))
    return Arrays(x, np.asarray(y), origin="d.npz", **extra)


def test_a_2d_01_y_is_multilabel():
    y = [[0, 1], [1, 1], [0, 0], [1, 0]]
    arrays, classes = check(_arrays(y))
    assert arrays.task == "multilabel" and classes == 2 and arrays.y.dtype == np.float32
    for bad, words in [
        ([[0, 2], [1, 1], [0, 0], [1, 0]], "may hold only 0 and 1"),
        ([[0.5, 1], [1, 1], [0, 0], [1, 0]], "may hold only 0 and 1"),
    ]:
        with pytest.raises(UserError, match=words):
            check(_arrays(bad))
    with pytest.raises(UserError, match="task = 'multilabel' but y has shape"):
        check(_arrays([0, 1, 1, 0], task="multilabel"))
    one_column = [[0], [1], [1], [0]]  # a single label: multi-label only when the source says so
    with pytest.raises(UserError, match=r"expected \(4,\), one label per sample"):
        check(_arrays(one_column))
    assert check(_arrays(one_column, task="multilabel"))[0].task == "multilabel"
    assert task_of_targets(np.array(y, dtype=np.float32)) == "multilabel"
    assert task_of_targets(np.array([[0.5, 1.0], [2.0, 0.0]])) == "regression"
    assert task_of_targets(np.array(one_column, dtype=np.float32)) == "regression"
    x_test = np.zeros((2, 2))
    with pytest.raises(UserError, match=r"y_test has shape \(2, 3\); expected \(2, 2\)"):
        check(_arrays(y, x_test=x_test, y_test=np.zeros((2, 3))))


def test_csv_with_several_label_columns(tmp_path):
    path = tmp_path / "d.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "cat", "b", "dog"])
        w.writerows([[0.5, 1, 2.0, 0], [1.5, 0, -1.0, 1]])
    arrays = read_csv(str(path), "cat, dog")
    assert arrays.x.tolist() == [[0.5, 2.0], [1.5, -1.0]]
    assert arrays.y.tolist() == [[1, 0], [0, 1]]
    assert read_csv(str(path), "cat").y.tolist() == [1, 0]  # one column: single-label


@pytest.fixture
def npz(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    y = np.stack([x[:, 0] > 0, x[:, 1] + x[:, 2] > 0, x[:, 3] < 0.5], 1).astype(np.int64)
    path = tmp_path / "multi.npz"
    np.savez(path, x=x, y=y)
    return path


def _train_args(npz):
    return [
        "data.name=npz",
        f"data.path={npz}",
        "model.name=mlp",
        "model.hidden=[16]",
        "model.norm=none",
        "optimizer.name=adam",
        "optimizer.lr=0.02",
        "schedule.name=constant",
        "train.epochs=4",
        "train.batch_size=16",
        "train.checkpoint_seconds=0",
    ]


def test_train_and_evaluate(npz, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", *_train_args(npz), *BCE, "--out", str(out), "--progress", "quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out.splitlines()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "multilabel"
    assert summary["test_label_accuracy"] > 0.8 and summary["test_accuracy"] > 0.5
    assert summary["test_label_accuracy"] >= summary["test_accuracy"]
    assert printed[1] == (
        "multi-label: test accuracy is exact-match (every label of a sample right); "
        f"per-label accuracy {summary['test_label_accuracy']:.4f}"
    )
    epoch = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert {"train_label_accuracy", "val_label_accuracy", "val_accuracy"} <= set(epoch)
    assert main(["evaluate", str(out)]) == 0
    evaluated = capsys.readouterr().out
    assert f"test accuracy {summary['test_accuracy']:.4f}" in evaluated
    assert f"per-label accuracy {summary['test_label_accuracy']:.4f}" in evaluated


def test_a_loss_that_is_not_one_sigmoid_per_class_is_refused(npz, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *_train_args(npz), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "use loss.name = binary_cross_entropy" in err
    argv = ["train", *_train_args(npz), *BCE, "loss.confidence_penalty=0.1", "--out", str(out)]
    assert main(argv) == 2
    assert "multi-label targets (expected 0)" in capsys.readouterr().err
    assert not out.exists()  # refused before the run folder exists


def test_compare_on_multilabel_data(npz, tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = [
        "compare",
        *_train_args(npz),
        *BCE,
        "train.epochs=2",
        "--vary",
        "optimizer.lr=0.01,0.03",
    ]
    argv += ["--seeds", "2", "--jobs", "1", "--out", str(out), "--metric", "test_label_accuracy"]
    assert main(argv) == 0
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [r["metric"] for r in rows] == ["test_label_accuracy"] * 2
    assert all(0.5 < float(r["test_label_accuracy_mean"]) <= 1 for r in rows)
    assert all(float(r["test_accuracy_mean"]) <= float(r["test_label_accuracy_mean"]) for r in rows)
