"""Lecture 001's CNN parts (sum and overlapping pooling, max-pooling across feature maps,
contrast normalization across feature maps), each against PyTorch's own module or the formula
computed here in float64."""

import pytest
import torch
from torch import nn

from trainlab import build
from trainlab.cli import main
from trainlab.config import resolve
from trainlab.errors import UserError
from trainlab.models.cnn import Maxout, SumPool


def cnn(*overrides, shape=(40,)):
    return build.model(resolve(None, ["model.name=cnn1d", *overrides]), shape, 10).double()


def of_type(model, cls):
    return [m for m in model.modules() if isinstance(m, cls)]


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (3, 1)])
def test_sum_pooling_is_the_sum_over_each_window(size, stride):
    x = torch.randn(2, 3, 11, dtype=torch.float64)
    by_hand = x.unfold(2, size, stride).sum(-1)
    torch.testing.assert_close(SumPool(1, size, stride)(x), by_hand)
    # PyTorch's power-average pooling with p = 1 is the sum pooling
    torch.testing.assert_close(SumPool(1, size, stride)(x), nn.LPPool1d(1, size, stride)(x))
    images = torch.randn(2, 3, 7, 9, dtype=torch.float64)
    by_hand = images.unfold(2, size, stride).unfold(3, size, stride).sum((-1, -2))
    torch.testing.assert_close(SumPool(2, size, stride)(images), by_hand)


def test_the_cnn_pools_as_configured():
    model = cnn("model.pool=sum", "model.pool_size=3", "model.pool_stride=2")
    pools = of_type(model, SumPool)
    assert len(pools) == 3 and (pools[0].kernel_size, pools[0].stride) == (3, 2)
    overlapping = cnn("model.pool_size=3")  # max, window 3, stride 2 (AlexNet's)
    pools = of_type(overlapping, nn.MaxPool1d)
    assert [(p.kernel_size, p.stride) for p in pools] == [(3, 2)] * 3
    # 40 -> 19 -> 9 -> 4 by (L - 3) // 2 + 1
    assert overlapping.net[-1].in_features == 64 * 4
    x = torch.randn(1, 1, 9, dtype=torch.float64)
    by_hand = torch.stack([x[..., i : i + 3].amax(-1) for i in range(0, 7, 2)], -1)
    torch.testing.assert_close(pools[0](x), by_hand)
    # the default is unchanged: windows of 2 every 2
    assert [(p.kernel_size, p.stride) for p in of_type(cnn(), nn.MaxPool1d)] == [(2, 2)] * 3


def test_a_window_larger_than_the_input_is_one_line():
    with pytest.raises(UserError, match=r"block 2 \(kernel 5, stride 1, pooling 9 every 2\)"):
        cnn("model.channels=[4, 4]", "model.pool_size=9", shape=(8,))


def test_maxout_keeps_the_max_of_each_group_of_feature_maps():
    x = torch.randn(2, 6, 5, dtype=torch.float64)
    by_hand = torch.stack([torch.maximum(torch.maximum(x[:, g], x[:, g + 1]), x[:, g + 2])
                           for g in (0, 3)], 1)  # fmt: skip
    torch.testing.assert_close(Maxout(3)(x), by_hand)
    model = cnn("model.maxout_pieces=2", "model.channels=[4, 6]")
    convs = of_type(model, nn.Conv1d)
    assert [c.out_channels for c in convs] == [8, 12]  # 2 pieces per unit
    assert model.net[-1].in_features == 6 * 20  # the head sees model.channels maps
    assert model(torch.randn(3, 40, dtype=torch.float64)).shape == (3, 10)


def test_contrast_norm_is_local_response_normalization_across_maps():
    model = cnn("model.contrast_norm=3", "model.channels=[5, 5]", "model.norm=none")
    layers = of_type(model, nn.LocalResponseNorm)
    assert len(layers) == 2
    a = torch.randn(2, 5, 7, dtype=torch.float64)
    n, alpha, beta, k = 3, 1e-4, 0.75, 2.0  # AlexNet's constants
    by_hand = torch.empty_like(a)
    for c in range(5):  # the neighbours c - 1, c, c + 1 that exist
        window = a[:, max(0, c - 1) : c + 2]
        by_hand[:, c] = a[:, c] / (k + alpha / n * (window**2).sum(1)) ** beta
    torch.testing.assert_close(layers[0](a), by_hand)
    reference = nn.LocalResponseNorm(3, alpha=1e-4, beta=0.75, k=2.0)
    torch.testing.assert_close(layers[0](a * 100), reference(a * 100))


def test_norm_on_selected_layers_only():
    model = cnn("model.norm_layers=[1, 3]", "model.channels=[4, 4, 4]")
    convs = of_type(model, nn.Conv1d)
    assert [c.bias is None for c in convs] == [True, False, True]  # normalized: no bias
    assert len(of_type(model, nn.BatchNorm1d)) == 2
    mlp = build.model(
        resolve(None, ["model.name=mlp", "model.hidden=[8, 8]", "model.norm_layers=[2]"]),
        (40,),
        10,
    )
    norms = [m for m in mlp.net if isinstance(m, nn.BatchNorm1d)]
    assert len(norms) == 1 and norms[0].num_features == 8
    assert mlp.net[1].bias is not None and mlp.net[5].bias is None


@pytest.mark.parametrize(
    "overrides, words",
    [
        (["model.pool=median"], "model.pool"),
        (["model.pool_size=0"], "model.pool_size = 0"),
        (["model.pool_stride=3"], "at most model.pool_size"),
        (["model.maxout_pieces=0"], "model.maxout_pieces = 0"),
        (["model.contrast_norm=-2"], "model.contrast_norm = -2"),
        (["model.name=mlp", "model.contrast_norm=5"], "only for model.name = cnn1d or cnn2d"),
        (["model.name=lstm", "model.norm_layers=[1]"], "only for model.name"),
        (["model.norm_layers=[0]"], "positive integers"),
        (["model.norm_layers=[5]"], "layer 5 does not exist"),
        (["model.norm=none", "model.norm_layers=[1]"], "needs a model.norm"),
    ],
)
def test_bad_values_are_one_line_exit_2(capsys, overrides, words):
    assert main(["config", *overrides]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err


def test_gradients_of_the_new_layers_by_finite_differences():
    x = torch.randn(2, 4, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(SumPool(1, 3, 2), (x,))
    assert torch.autograd.gradcheck(Maxout(2), (x,))  # ties have probability 0
