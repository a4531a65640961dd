"""Each divergence against its formula, computed here by hand from the softmax / sigmoid."""

import pytest
import torch

from trainlab import build
from trainlab.config import resolve
from trainlab.errors import UserError

Z = torch.tensor([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0], [-2.0, 1.0, 1.5]], dtype=torch.float64)
Y = torch.tensor([0, 2, 1])


def loss(*overrides):
    return build.loss(resolve(None, list(overrides)))(Z, Y)


def smoothed(eps):
    q = torch.nn.functional.one_hot(Y, 3).double()
    return q * (1 - eps) + eps / 3


def test_cross_entropy_with_label_smoothing():
    q = smoothed(0.1)
    expected = -(q * Z.log_softmax(1)).sum(1).mean()
    torch.testing.assert_close(loss("loss.label_smoothing=0.1"), expected)


def test_mse_is_the_l2_divergence_of_the_softmax():
    expected = ((Z.softmax(1) - smoothed(0.0)) ** 2).mean()
    torch.testing.assert_close(loss("loss.name=mse"), expected)


def test_binary_cross_entropy_one_sigmoid_per_class():
    s, q = torch.sigmoid(Z), smoothed(0.0)
    expected = -(q * s.log() + (1 - q) * (1 - s).log()).mean()
    torch.testing.assert_close(loss("loss.name=binary_cross_entropy"), expected)


def test_kl_is_cross_entropy_minus_target_entropy():
    torch.testing.assert_close(loss("loss.name=kl"), loss())  # hard targets: KL = CE
    q = smoothed(0.2)
    expected = (q * (q.log() - Z.log_softmax(1))).sum(1).mean()
    torch.testing.assert_close(loss("loss.name=kl", "loss.label_smoothing=0.2"), expected)


def test_hinge_is_the_multiclass_margin_loss():
    zy = Z.gather(1, Y[:, None])
    margins = (1 - zy + Z).clamp(min=0)
    margins[torch.arange(3), Y] = 0
    torch.testing.assert_close(loss("loss.name=hinge"), (margins.sum(1) / 3).mean())


def test_confidence_penalty_subtracts_beta_times_entropy():
    p = Z.softmax(1)
    entropy = -(p * p.log()).sum(1).mean()
    torch.testing.assert_close(loss("loss.confidence_penalty=0.5"), loss() - 0.5 * entropy)


def test_target_noise_applies_in_training_only_and_needs_soft_targets():
    torch.manual_seed(0)
    noisy = loss("loss.name=mse", "loss.target_noise=0.5")
    with torch.no_grad():
        clean = loss("loss.name=mse", "loss.target_noise=0.5")
    torch.testing.assert_close(clean, loss("loss.name=mse"))
    assert noisy > clean  # E||p - q - n||^2 = ||p - q||^2 + sigma^2
    with pytest.raises(UserError, match="soft-target loss"):
        loss("loss.target_noise=0.5")
