"""The regularization claims' own measuring pieces against hand values."""

import math

import numpy as np
import pytest
import torch

from trainlab import build
from trainlab.claims.catalogue_regularization import (
    CAP,
    _follows_dropout,
    analyze_l2_training_error,
    analyze_too_much_l2,
    expected_calibration_error,
    linear_expectation_error,
    measure_bn_backward,
    measure_dropout_modes,
    plot_clipping,
    small_mnist1d,
)
from trainlab.claims.toolkit import config


class Fixed(torch.nn.Module):
    """Returns the logits it was given, whatever the input."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.tensor(logits)

    def forward(self, x):
        return self.logits


def test_ece_against_hand_value():
    # two samples at confidence 0.9 (one right), two at 0.6 (both right), 15 bins:
    # ECE = 2/4 |0.5 - 0.9| + 2/4 |1.0 - 0.6| = 0.4
    hi, lo = math.log(9.0), math.log(1.5)
    model = Fixed([[hi, 0.0], [hi, 0.0], [lo, 0.0], [0.0, lo]])
    y = torch.tensor([0, 1, 0, 1])
    assert expected_calibration_error(model, torch.zeros(4, 1), y) == pytest.approx(0.4)


def test_bn_backward_formulas_match_autograd():
    errors = measure_bn_backward(0, batch=5, width=3)
    assert max(errors.values()) < 1e-12


def test_small_mnist1d_keeps_the_asked_samples_and_the_whole_test_set():
    data = small_mnist1d(config(3, 'data.name="mnist1d"', "data.val_fraction=0.2"), 250)
    assert len(data.x_train) + len(data.x_val) == 250
    assert len(data.x_val) == 50
    assert len(data.x_test) == 1000


def test_linear_dropout_rule_is_the_exact_expectation():
    # linearity of expectation: E_m[W2 (m * h)] = W2 (a h), all 2^8 masks enumerated
    assert linear_expectation_error(1, 8, 0.7) < 1e-12


def test_reparametrized_inverted_dropout_follows_the_original_trajectory():
    # torch.optim.SGD on trainlab's two dropout forms, next layer's weights x a and rate x a^2
    out = measure_dropout_modes(0, samples=200, steps=20, hidden=[16, 16], p=0.3, lr=0.05)
    assert out["logits"] < 1e-12 and out["weights"] < 1e-12
    assert out["naive"] > 1e-3  # same weights and rate: another procedure


def test_layers_fed_by_dropout_are_the_next_linear_layers():
    model = build.model(
        config(0, 'data.name="mnist1d"', "model.hidden=[8,6]", "model.dropout=0.5"), (40,), 10
    )
    fed = _follows_dropout(model)
    assert [tuple(m.weight.shape) for m in fed] == [(6, 8), (10, 6)]


def _path(test, val, train):
    return {
        "lambdas": [0.0, 1e-3, 1e-2, 1e-1],
        "test": test,
        "val": val,
        "train_loss": train,
        "norm": [1.0] * 4,
    }


def test_too_much_l2_compares_the_largest_with_the_validation_choice():
    results = [
        _path([0.5, 0.4, 0.45, 0.9], [0.5, 0.3, 0.4, 0.9], [0.0] * 4),  # chosen: 1e-3
        _path([0.5, 0.45, 0.42, 0.8], [0.5, 0.4, 0.35, 0.9], [0.0] * 4),  # chosen: 1e-2
    ]
    v = analyze_too_much_l2(results, {"delta": 0.02})
    assert v.estimate == pytest.approx(((0.9 - 0.4) + (0.8 - 0.42)) / 2)


def test_training_error_slope_against_numpy_polyfit():
    rng = np.random.default_rng(0)
    results = [_path([0.0] * 4, [0.0] * 4, list(rng.random(4))) for _ in range(3)]
    v = analyze_l2_training_error(results, {"delta": 0.05})
    x = np.log10([1e-3, 1e-2, 1e-1])
    expected = np.mean([np.polyfit(x, r["train_loss"][1:], 1)[0] for r in results])
    assert v.estimate == pytest.approx(expected)


def test_clipping_plot_shows_a_diverged_arm_at_the_cap_on_one_log_axis():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = {"plain_curve": [10.0, 1e20, CAP, CAP], "clipped_curve": [0.5, 0.1, 0.01, 0.001]}
    fig, ax = plt.subplots()
    plot_clipping([r], {}, ax)
    assert ax.get_yscale() == "log"
    drawn = [line.get_ydata() for line in ax.get_lines()]
    assert any(max(y) == CAP for y in drawn) and any(min(y) == 0.001 for y in drawn)
    plt.close(fig)
