"""Your own model and data: trainlab.fit on an nn.Module and arrays, and model.name / data.name
as package.module:callable in the commands (examples/own_model.py does both)."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import trainlab
from trainlab.cli import main

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_cwd(monkeypatch):
    """Run from the repository root, where ``examples.own_model`` imports (as with python -m)."""
    monkeypatch.chdir(REPO)
    yield
    for name in [m for m in sys.modules if m == "examples" or m.startswith("examples.")]:
        del sys.modules[name]


def test_the_example_script_trains_with_fit(tmp_path, repo_cwd):
    from examples import own_model

    summary = own_model.main(str(tmp_path / "run"))
    assert summary["test_accuracy"] > 0.8  # xor with a 32-unit ReLU net: ~0.98 (seeds 0)
    # the run folder is an ordinary one: evaluate it with the same architecture
    net = own_model.TwoLayerNet(2, 32, 2)
    evaluated = trainlab.evaluate(tmp_path / "run", model=net)
    assert evaluated["test_accuracy"] == pytest.approx(summary["test_accuracy"])


def test_fit_trains_the_callers_module_in_place_and_resumes(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(300, 5)
    y = (x[:, 0] > 0).long()
    net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))
    before = net[0].weight.detach().clone()
    over = ["optimizer.name=sgd", "optimizer.lr=0.1", "train.epochs=3", "train.batch_size=32"]
    summary = trainlab.fit(
        net,
        train=(x, y),
        val=(x[:50], y[:50]),
        overrides=over,
        out=tmp_path / "run",
        progress="quiet",
    )
    assert not torch.equal(before, net[0].weight) and summary["epochs_run"] == 3
    assert summary["evaluated"] == "best"
    # finished: resume returns the summary as it is
    again = trainlab.fit(net, train=(x, y), out=tmp_path / "run", resume=True)
    assert again == summary
    # the class cannot be rebuilt from (input_shape, num_classes): one line, the way out named
    with pytest.raises(trainlab.UserError, match="pass model="):
        trainlab.load_model(tmp_path / "run")


def test_fit_refuses_architecture_keys_and_a_data_source(tmp_path):
    x, y = np.zeros((20, 3), np.float32), np.arange(20) % 2
    with pytest.raises(trainlab.UserError, match="model.hidden"):
        trainlab.fit(
            nn.Linear(3, 2), train=(x, y), overrides=["model.hidden=[3]"], out=tmp_path / "a"
        )
    with pytest.raises(trainlab.UserError, match="trains on the arrays it is given"):
        trainlab.fit(
            nn.Linear(3, 2), train=(x, y), overrides=["data.name=moons"], out=tmp_path / "b"
        )


def test_import_paths_in_train_compare_and_evaluate(tmp_path, repo_cwd, capsys):
    own = [
        "model.name=examples.own_model:make_model",
        "model.args={width=8}",
        "data.name=examples.own_model:make_data",
        "data.args={samples=300}",
        "train.epochs=2",
        "optimizer.name=sgd",
        "optimizer.lr=0.1",
    ]
    assert main(["train", *own, "--out", str(tmp_path / "run"), "--progress", "quiet"]) == 0
    assert main(["evaluate", str(tmp_path / "run")]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert (
        main(
            [
                "compare",
                *own,
                "--vary",
                "optimizer.lr=0.05,0.2",
                "--seeds",
                "1",
                "--jobs",
                "1",
                "--out",
                str(tmp_path / "cmp"),
            ]
        )
        == 0
    )


@pytest.mark.parametrize(
    "name, words",
    [
        ("examples.own_model:nope", "has no attribute 'nope'"),
        ("examples.not_there:f", "module 'examples.not_there' not found"),
        ("no_colon_here", "expected one of"),
    ],
)
def test_a_bad_import_path_is_one_line_exit_2(name, words, repo_cwd, capsys, tmp_path):
    assert main(["train", f"model.name={name}", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_fit_checks_the_arrays_before_any_folder(tmp_path):
    x = np.zeros((20, 3), np.float32)
    x[4, 1] = np.nan
    with pytest.raises(trainlab.UserError, match="NaN"):
        trainlab.fit(nn.Linear(3, 2), train=(x, np.arange(20) % 2), out=tmp_path / "run")
    assert not (tmp_path / "run").exists()
