"""Locally connected layers (lecture 004) against references no one here wrote: ``F.linear`` at
every output position, ``F.conv1d`` / ``F.conv2d`` with every position's weights tied,
``torch.autograd.gradcheck`` in float64, and ``nn.Conv*d``'s own initialization."""

import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trainlab import build
from trainlab.cli import main
from trainlab.config import resolve
from trainlab.errors import UserError
from trainlab.models import LAYERS, LocallyConnected1d, LocallyConnected2d

# (in, out, kernel, input size, stride, padding): odd and even kernels, strides, no padding
SHAPES_1D = [(3, 4, 5, 12, 1, 2), (2, 3, 4, 11, 2, 0), (1, 5, 1, 7, 1, 0), (4, 2, 3, 9, 3, 1)]
SHAPES_2D = [
    (3, 4, 3, (7, 6), 1, 1),
    (2, 3, (3, 2), (8, 9), (2, 1), (1, 0)),
    (1, 2, 5, (5, 5), 1, 2),
    (2, 2, (1, 3), (4, 7), (1, 2), (0, 1)),
]
CASES = [(LocallyConnected1d, s) for s in SHAPES_1D] + [(LocallyConnected2d, s) for s in SHAPES_2D]
IDS = [f"{cls.__name__[-2:]}-{shape}" for cls, shape in CASES]


def _layer(cls, shape, bias=True, dtype=torch.float32):
    torch.manual_seed(0)
    c, o, k, size, stride, padding = shape
    layer = cls(c, o, k, size, stride=stride, padding=padding, bias=bias).to(dtype)
    x = torch.randn(5, c, *layer.input_size, dtype=dtype)
    return layer, x


def _pairs(v, d):
    return (v,) * d if isinstance(v, int) else tuple(v)


def linear_reference(layer, x):
    """y[:, :, p] = F.linear(window at p, W[p] as (O, K C), b[p]), one position at a time."""
    d = layer.dims
    x = F.pad(x, [q for p in reversed(layer.padding) for q in (p, p)])
    y = torch.empty(len(x), layer.out_channels, *layer.output_size, dtype=x.dtype)
    for p in torch.cartesian_prod(*[torch.arange(n) for n in layer.output_size]).view(-1, d):
        p = tuple(p.tolist())
        window = x[
            (
                slice(None),
                slice(None),
                *(slice(i * s, i * s + k) for i, s, k in zip(p, layer.stride, layer.kernel_size)),
            )
        ]
        features = window.movedim(1, -1).reshape(len(x), -1)  # (N, K C), channels fastest
        w = layer.weight[p].reshape(-1, layer.out_channels).T  # (O, K C)
        y[(slice(None), slice(None), *p)] = F.linear(
            features, w, None if layer.bias is None else layer.bias[p]
        )
    return y


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("cls, shape", CASES, ids=IDS)
def test_equals_f_linear_at_every_position(cls, shape, bias):
    layer, x = _layer(cls, shape, bias)
    torch.testing.assert_close(layer(x), linear_reference(layer, x))


@pytest.mark.parametrize("cls, shape", CASES, ids=IDS)
def test_with_every_position_tied_it_is_the_convolution(cls, shape):
    layer, x = _layer(cls, shape)
    d = layer.dims
    w = torch.randn(layer.out_channels, layer.in_channels, *layer.kernel_size)
    b = torch.randn(layer.out_channels)
    with torch.no_grad():  # W[p] = w as (*kernel, C, O), b[p] = b, for every p
        layer.weight.copy_(w.permute(*range(2, 2 + d), 1, 0).expand_as(layer.weight))
        layer.bias.copy_(b.expand_as(layer.bias))
    conv = (F.conv1d, F.conv2d)[d - 1]
    expected = conv(x, w, b, stride=layer.stride, padding=layer.padding)
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("cls, shape", CASES, ids=IDS)
def test_gradcheck_in_float64(cls, shape):
    layer, x = _layer(cls, shape, dtype=torch.float64)
    x.requires_grad_()

    def f(x, weight, bias):
        return torch.func.functional_call(layer, {"weight": weight, "bias": bias}, (x,))

    weight = layer.weight.detach().clone().requires_grad_()
    bias = layer.bias.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(f, (x, weight, bias))


@pytest.mark.parametrize("dims", [1, 2])
def test_initialized_as_pytorch_initializes_the_convolution(dims):
    """Same seed: the first O C K weights are nn.Conv*d's own draws, with its bound."""
    c, o, k, size = 3, 4, 5, (9,) * dims
    torch.manual_seed(1)
    conv = (nn.Conv1d, nn.Conv2d)[dims - 1](c, o, k)
    torch.manual_seed(1)
    local = (LocallyConnected1d, LocallyConnected2d)[dims - 1](c, o, k, size)
    assert torch.equal(local.weight.flatten()[: conv.weight.numel()], conv.weight.flatten())
    bound = 1 / math.sqrt(c * k**dims)  # every position drawn from the same U(-bound, bound)
    assert local.weight.abs().max() <= bound and local.weight.abs().max() > 0.95 * bound
    assert local.bias.abs().max() <= bound and local.bias.abs().max() > 0.9 * bound
    per_position = local.weight.flatten(0, dims - 1).flatten(1).std(1)
    assert torch.allclose(
        per_position, torch.full_like(per_position, bound / math.sqrt(3)), rtol=0.15
    )


def test_parameters_and_shapes():
    layer = LocallyConnected2d(3, 8, (3, 5), (10, 12), stride=2, padding=1)
    assert layer.output_size == (5, 5)
    assert layer.weight.shape == (5, 5, 3, 5, 3, 8) and layer.bias.shape == (5, 5, 8)
    assert sum(p.numel() for p in layer.parameters()) == 25 * 8 * (3 * 5 * 3 + 1)
    assert layer(torch.randn(2, 3, 10, 12)).shape == (2, 8, 5, 5)
    assert layer(torch.randn(0, 3, 10, 12)).shape == (0, 8, 5, 5)
    with pytest.raises(ValueError, match=r"expects input \(N, 3, 10, 12\); got \(2, 3, 10, 11\)"):
        layer(torch.randn(2, 3, 10, 11))
    with pytest.raises(ValueError, match="does not fit"):
        LocallyConnected1d(1, 1, 7, 4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("cls, shape", CASES, ids=IDS)
def test_cuda_gives_the_cpu_numbers(cls, shape):
    layer, x = _layer(cls, shape)
    expected = layer(x)
    expected.sum().backward()
    grad = layer.weight.grad.clone()
    layer.zero_grad()
    y = layer.cuda()(x.cuda())
    y.sum().backward()
    torch.testing.assert_close(y.cpu(), expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(layer.weight.grad.cpu(), grad, rtol=1e-4, atol=1e-4)


def _build(shape, *overrides):
    return build.model(resolve(None, list(overrides)), shape, 10)


@pytest.mark.parametrize(
    "name, shape", [("cnn1d", (40,)), ("cnn1d", (2, 40)), ("cnn2d", (1, 12, 12))]
)
def test_model_layer_local_swaps_every_conv_for_a_local_layer_of_its_shape(name, shape):
    torch.manual_seed(0)
    common = [f"model.name={name}", "model.channels=[4, 6, 8]", "model.norm=none"]
    conv, local = _build(shape, *common), _build(shape, *common, "model.layer=local")
    convs = [m for m in conv.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d))]
    locals_ = [
        m for m in local.modules() if isinstance(m, (LocallyConnected1d, LocallyConnected2d))
    ]
    assert len(convs) == len(locals_) == 3
    assert not any(isinstance(m, (nn.Conv1d, nn.Conv2d)) for m in local.modules())
    extra = 0
    for c, lc in zip(convs, locals_):  # same channels, kernel, padding; 'same' output size
        assert (c.in_channels, c.out_channels, c.kernel_size, c.padding) == (
            lc.in_channels,
            lc.out_channels,
            lc.kernel_size,
            lc.padding,
        )
        assert lc.output_size == lc.input_size
        extra += (math.prod(lc.output_size) - 1) * sum(p.numel() for p in c.parameters())
    count = [sum(p.numel() for p in m.parameters()) for m in (conv, local)]
    assert count[1] == count[0] + extra
    out = local(torch.randn(3, *shape))
    assert out.shape == (3, 10)
    out.sum().backward()


@pytest.mark.slow
def test_the_summary_counts_the_local_layers_parameters(fast_run):
    layer = ["data.name=mnist1d", "model.name=cnn1d", "model.channels=[4, 8]", "train.epochs=1"]
    conv, _ = fast_run(*layer)
    local, _ = fast_run(*layer, "model.layer=local")
    # FAST has no normalization, so the blocks have biases: conv 5 x 1 x 4 + 4 and 5 x 4 x 8 + 8,
    # the head 8 x 20 x 10 + 10; the local layers have as many at each of their 40 positions
    assert conv["parameters"] == (5 * 1 * 4 + 4) + (5 * 4 * 8 + 8) + (8 * 20 * 10 + 10)
    assert local["parameters"] == 40 * ((5 * 1 * 4 + 4) + (5 * 4 * 8 + 8)) + (8 * 20 * 10 + 10)


def test_layers_registry_builds_both_with_one_signature():
    for dims, size in [(1, [9]), (2, [6, 7])]:
        for name in LAYERS:
            layer = LAYERS[name].build(dims, 2, 3, 3, size, True)
            assert layer(torch.randn(4, 2, *size)).shape == (4, 3, *size)


def test_local_without_convolutions_is_one_line_exit_2(capsys):
    # which models read model.layer comes from their registry entries (the generic refusal)
    with pytest.raises(
        UserError,
        match=r'model.layer = "local": only for model.name = cnn1d or '
        r"cnn2d \(got 'mlp'\)",
    ):
        resolve(None, ["model.name=mlp", "model.layer=local"])
    assert resolve(None, ["model.name=mlp"])["model"]["layer"] == "conv"  # the default is fine
    code = main(["train", "model.name=rnn", "model.layer=local"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith('trainlab: error: model.layer = "local"') and "(got 'rnn')" in err


def test_the_config_key_reads_the_registry():
    assert resolve(None, ["model.layer=local"])["model"]["layer"] == "local"
    with pytest.raises(UserError, match='model.layer = "dense": expected one of conv, local'):
        resolve(None, ["model.layer=dense"])
    assert json.dumps(list(LAYERS)) == '["conv", "local"]'


@pytest.mark.parametrize(
    "layer",
    [
        lambda: LocallyConnected1d(3, 4, 5, input_size=12, padding=2),
        lambda: LocallyConnected2d(2, 3, 3, input_size=(5, 6), padding=1),
    ],
)
def test_model_init_reaches_every_position_with_the_convolutions_fans(layer):
    from trainlab.models.init import initialize

    torch.manual_seed(0)
    net = torch.nn.Sequential(layer())
    initialize(net, "orthogonal", bias=0.5)
    w, out = net[0].weight, net[0].weight.shape[-1]
    k = (w.dim() - 2) // 2
    for filt in w.flatten(0, k - 1):  # each position: orthonormal rows as a conv's (O, C K)
        rows = filt.permute(k + 1, k, *range(k)).reshape(out, -1)
        torch.testing.assert_close(rows @ rows.T, torch.eye(out), rtol=0, atol=1e-5)
    assert (net[0].bias == 0.5).all()
    initialize(net, "he_normal")  # N(0, 2 / fan_in), fan_in = C * kernel as for the conv
    fan_in = w.shape[-2] * math.prod(w.shape[k : 2 * k])
    assert w.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.1)
