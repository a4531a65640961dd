"""The regularization claims' own measuring pieces against hand values."""

import math

import pytest
import torch

from trainlab.claims.catalogue_regularization import (
    expected_calibration_error,
    measure_bn_backward,
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
