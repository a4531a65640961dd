"""Penalties, noise, dropout forms, population batch-norm statistics, auxiliary heads and
augmentation, against their formulas."""

import math

import pytest
import torch
from torch import nn

from trainlab import build
from trainlab.config import resolve
from trainlab.models.layers import OriginalDropout, population_statistics
from trainlab.training.augment import rotate_zoom_shift, shift_stretch_1d
from trainlab.training.regularization import decay_groups, penalized


def mlp(*overrides, shape=(6,)):
    cfg = resolve(
        None, list(overrides), presets=["model.name=mlp", "model.hidden=[5, 4]", "model.dropout=0"]
    )
    torch.manual_seed(0)
    return cfg, build.model(cfg, shape, 3)


def test_penalty_gradients_are_lambda_w_and_lambda_sign_w():
    cfg, model = mlp("model.norm=none", "regularization.l2=0.3", "regularization.l1=0.05")
    reg = build.regularization(cfg, model)
    reg.penalty().backward()
    for p in model.parameters():
        torch.testing.assert_close(p.grad, 0.3 * p.detach() + 0.05 * p.detach().sign())


def test_l2_penalty_with_sgd_equals_torch_weight_decay():
    cfg, a = mlp("model.norm=none", "regularization.l2=0.1")
    _, b = mlp("model.norm=none")
    reg = build.regularization(cfg, a)
    oa = torch.optim.SGD(a.parameters(), lr=0.1)
    ob = torch.optim.SGD(b.parameters(), lr=0.1, weight_decay=0.1)
    x, y = torch.randn(8, 6), torch.randint(0, 3, (8,))
    for _ in range(5):
        for model, opt, extra in ((a, oa, reg.penalty), (b, ob, lambda: 0)):
            opt.zero_grad()
            (nn.functional.cross_entropy(model(x), y) + extra()).backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)


def test_bias_and_norm_parameters_can_be_excluded():
    _, model = mlp("model.norm=batch")
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
    assert [id(p) for p in penalized(model, True)] == [id(w) for w in weights]
    groups = decay_groups(model, True)
    assert groups[1]["weight_decay"] == 0.0
    assert len(groups[0]["params"]) + len(groups[1]["params"]) == len(list(model.parameters()))
    assert len(decay_groups(model, False)) == 1


def test_weight_noise_is_removed_exactly():
    cfg, model = mlp("regularization.weight_noise=0.5")
    reg = build.regularization(cfg, model)
    before = [p.detach().clone() for p in model.parameters()]
    clean = reg.perturb_weights()
    assert not all(torch.equal(p, q) for p, q in zip(model.parameters(), before))
    reg.restore_weights(clean)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))


@pytest.mark.parametrize("layer", [nn.Dropout(0.3), OriginalDropout(0.3)])
def test_both_dropout_forms_agree_with_test_time_in_expectation(layer):
    # lecture 000: inverted dropout scales by 1/(1-p) in training; the original form multiplies
    # by the keep probability at test time; either way E[train output] = test output
    torch.manual_seed(0)
    x = torch.linspace(-2, 2, 50)
    layer.train()
    mean = torch.stack([layer(x) for _ in range(20000)]).mean(0)
    layer.eval()
    torch.testing.assert_close(mean, layer(x), atol=0.03, rtol=0.03)


def test_population_statistics_follow_the_lecture_formula():
    torch.manual_seed(0)
    bn = nn.BatchNorm1d(3)
    model = nn.Sequential(bn, nn.Dropout(0.5))
    x = torch.randn(40, 3) * 2 + 1
    population_statistics(model, x, batch_size=8)
    batches = x.view(5, 8, 3)
    B = 8
    torch.testing.assert_close(bn.running_mean, batches.mean(1).mean(0))
    torch.testing.assert_close(bn.running_var, B / (B - 1) * batches.var(1, unbiased=False).mean(0))
    assert bn.momentum == 0.1 and model.training  # momentum and mode restored


def test_auxiliary_heads_in_training_only():
    _, model = mlp("model.hidden=[5, 4, 3]", "loss.aux_weight=0.3")
    x = torch.randn(7, 6)
    model.train()
    out = model(x)
    assert out.shape == (7, 3) and [a.shape for a in model.aux_outputs] == [(7, 3), (7, 3)]
    model.eval()
    torch.testing.assert_close(model(x), model.net(x))
    _, cnn = mlp("model.name=cnn1d", "model.channels=[4, 6, 8]", "loss.aux_weight=0.3", shape=(16,))
    cnn.train()
    cnn(torch.randn(5, 16))
    assert len(cnn.aux_outputs) == 2


def test_shift_and_stretch_of_a_signal():
    x = torch.arange(1.0, 11.0).view(1, 1, 10)
    shifted = shift_stretch_1d(x, torch.tensor([3.0]), torch.tensor([1.0]))
    assert shifted.flatten().tolist() == pytest.approx([0, 0, 0, 1, 2, 3, 4, 5, 6, 7], abs=1e-5)
    # stretching a linear ramp by 2 about the centre halves its slope there
    stretched = shift_stretch_1d(x, torch.tensor([0.0]), torch.tensor([2.0]))
    assert (stretched[0, 0, 5] - stretched[0, 0, 4]).item() == pytest.approx(0.5, abs=1e-5)


def test_rotation_by_90_degrees_is_rot90_counter_clockwise():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    out = rotate_zoom_shift(x, torch.tensor([90.0]), torch.tensor([1.0]), torch.zeros(1, 2))
    torch.testing.assert_close(out, torch.rot90(x, 1, (2, 3)), atol=1e-4, rtol=0)


def test_augmentation_is_seeded_and_keeps_shapes():
    cfg = resolve(None, ["augment.shift=3", "augment.stretch=0.1", "augment.noise=0.05"])
    aug = build.augmentation(cfg, (40,))
    x = torch.randn(8, 40)
    torch.manual_seed(1)
    a = aug(x)
    torch.manual_seed(1)
    assert torch.equal(a, aug(x)) and a.shape == x.shape and not torch.equal(a, x)
    img = build.augmentation(resolve(None, ["augment.rotate=10", "augment.shift=0.1"]), (3, 8, 8))
    assert img(torch.randn(4, 3, 8, 8)).shape == (4, 3, 8, 8)
    assert not build.augmentation(resolve(None, []), (40,)).active
    assert math.isfinite(a.sum().item())
