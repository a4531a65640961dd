"""Every optimizer learns on MNIST-1D when no rate is given: it gets its usual rate (PyTorch's or
the paper's default), not the recipe's 0.01, which left AdaDelta (usual rate 1.0) at chance."""

from __future__ import annotations

import pytest

import trainlab
from trainlab.config import resolve
from trainlab.optim import OPTIMIZERS


def test_an_optimizer_chosen_without_a_rate_gets_its_usual_rate():
    assert resolve(None, ["optimizer.name=adadelta"])["optimizer"]["lr"] == 1.0
    assert resolve(None, ["optimizer.name=adam"])["optimizer"]["lr"] == 1e-3
    assert resolve(None, ["optimizer.name=adadelta", "optimizer.lr=0.3"])["optimizer"]["lr"] == 0.3
    assert resolve(None, [])["optimizer"]["lr"] == 0.01  # the recipe keeps its rate (adamw)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_learns_mnist1d_at_its_usual_rate(tmp_path, name):
    """3 epochs of the default CNN (Newton's exact Hessian: logistic regression, 410 weights);
    chance is 0.10. Measured on this machine: 0.52 (sgd) to 0.95 (adamw); logistic regression
    0.28 (newton) and 0.30 (diag_newton), near its ~0.32 ceiling (Greydanus 2020)."""
    small = name in ("newton", "diag_newton")
    summary = trainlab.train(
        None,
        {"optimizer.name": name, "train.epochs": 3, "model.name": "linear" if small else "cnn1d"},
        out=tmp_path / "run",
        progress="quiet",
    )
    recipe = name == "adamw"  # the recipe's optimizer keeps the recipe's rate
    assert summary["lr"] == (0.01 if recipe else OPTIMIZERS[name].usual_lr)
    assert summary["test_accuracy"] > (0.2 if small else 0.35)


@pytest.mark.slow
def test_adadelta_at_the_recipe_rate_was_at_chance(tmp_path):
    """What the usual rate fixes (the issue's finding), so that the test above can fail."""
    summary = trainlab.train(
        None,
        {"optimizer.name": "adadelta", "optimizer.lr": 0.01, "train.epochs": 3},
        out=tmp_path / "run",
        progress="quiet",
    )
    assert summary["test_accuracy"] < 0.3


def test_the_usual_rates_are_pytorchs_defaults():
    """The reference: each torch.optim class's own default lr (SGD excepted, as the registry
    says: PyTorch's 0.001 is slow for it; 0.01 is the textbook and Keras default)."""
    import inspect

    checked = 0
    for name in OPTIMIZERS:
        entry, options = OPTIMIZERS[name], resolve(None, [f"optimizer.name={name}"]).optimizer
        cls, _ = entry.build(**{key: getattr(options, key) for key in entry.reads})
        if not cls.__module__.startswith("torch.optim") or cls.__name__ == "SGD":
            continue
        assert OPTIMIZERS[name].usual_lr == inspect.signature(cls).parameters["lr"].default, name
        checked += 1
    assert checked >= 5  # adagrad, rmsprop, adadelta, adam, adamw at least (rprop is trainlab's)
