import math

import pytest
import torch
from torch import nn

from trainlab import build
from trainlab.config import resolve
from trainlab.errors import UserError


def make_model(shape, classes=10, *overrides):
    """The model of ``model.name`` among ``overrides``; the other overrides are presets (those
    the model does not read are left out, as trainlab would refuse them)."""
    names = [o for o in overrides if o.startswith("model.name=")]
    rest = [o for o in overrides if not o.startswith("model.name=")]
    return build.model(resolve(None, names, presets=rest), shape, classes)


@pytest.mark.parametrize(
    "name, shape",
    [
        ("linear", (40,)),
        ("mlp", (40,)),
        ("mlp", (1, 28, 28)),
        ("cnn1d", (40,)),
        ("cnn1d", (3, 40)),
        ("cnn2d", (1, 28, 28)),
        ("cnn2d", (3, 32, 32)),
        ("rnn", (40,)),
        ("gru", (40,)),
        ("lstm", (2, 40)),
    ],
)
@pytest.mark.parametrize("norm", ["none", "batch", "layer"])
def test_output_shapes(name, shape, norm):
    torch.manual_seed(0)
    model = make_model(
        shape,
        7,
        f"model.name={name}",
        f"model.norm={norm}",
        "model.hidden=[16, 8]",
        "model.channels=[4, 8]",
        "model.dropout=0.1",
    )
    out = model(torch.randn(5, *shape))
    assert out.shape == (5, 7) and torch.isfinite(out).all()
    out.sum().backward()


def test_layers_follow_the_config():
    mlp = make_model(
        (40,),
        10,
        "model.name=mlp",
        "model.hidden=[32, 16]",
        "model.norm=batch",
        "model.activation=tanh",
        "model.dropout=0.5",
    )
    kinds = [type(m) for m in mlp.net]
    assert kinds == [
        nn.Flatten,
        nn.Linear,
        nn.BatchNorm1d,
        nn.Tanh,
        nn.Dropout,
        nn.Linear,
        nn.BatchNorm1d,
        nn.Tanh,
        nn.Dropout,
        nn.Linear,
    ]
    assert [m.out_features for m in mlp.net if isinstance(m, nn.Linear)] == [32, 16, 10]
    cnn = make_model((40,), 10)  # the default: 4 blocks, 3 poolings, 40 -> 5
    assert cnn.net[-1].in_features == 64 * 5
    rnn = make_model((40,), 10, "model.name=lstm", "model.hidden=[12, 6]")
    assert [layer.hidden_size for layer in rnn.layers] == [12, 6]


def test_cnn_errors_are_clear():
    with pytest.raises(UserError, match="cnn2d"):
        make_model((40,), 10, "model.name=cnn2d")
    with pytest.raises(UserError, match="pooling steps"):
        make_model((4,), 10, "model.channels=[2, 2, 2, 2]")


def _weights(model):
    return [m.weight for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d))]


def test_zero_init_zeroes_weights_and_biases():
    model = make_model((40,), 10, "model.name=mlp", "model.norm=none", "model.init=zeros")
    assert all((p == 0).all() for p in model.parameters())


def test_glorot_uniform_bound_and_he_normal_std():
    torch.manual_seed(0)
    model = make_model(
        (400,),
        10,
        "model.name=mlp",
        "model.norm=none",
        "model.hidden=[600]",
        "model.init=glorot_uniform",
    )
    w = _weights(model)[0]  # (600, 400): bound sqrt(6 / (fan_in + fan_out)), Glorot & Bengio 2010
    bound = math.sqrt(6 / (400 + 600))
    assert w.abs().max() <= bound and w.abs().max() > 0.99 * bound
    model = make_model(
        (400,),
        10,
        "model.name=mlp",
        "model.norm=none",
        "model.hidden=[600]",
        "model.init=he_normal",
    )
    w = _weights(model)[0]  # std sqrt(2 / fan_in), He et al. 2015
    assert w.std().item() == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    assert all((m.bias == 0).all() for m in model.modules() if isinstance(m, nn.Linear))


def test_normal_uniform_orthogonal():
    torch.manual_seed(0)
    w = _weights(
        make_model(
            (400,),
            10,
            "model.name=mlp",
            "model.norm=none",
            "model.hidden=[500]",
            "model.init=normal",
            "model.init_std=0.5",
        )
    )[0]
    assert w.std().item() == pytest.approx(0.5, rel=0.02)
    w = _weights(
        make_model(
            (400,),
            10,
            "model.name=mlp",
            "model.norm=none",
            "model.hidden=[500]",
            "model.init=uniform",
            "model.init_range=0.1",
        )
    )[0]
    assert 0.099 < w.abs().max() <= 0.1
    assert w.std().item() == pytest.approx(0.1 / math.sqrt(3), rel=0.02)
    w = _weights(
        make_model(
            (40,),
            10,
            "model.name=mlp",
            "model.norm=none",
            "model.hidden=[30]",
            "model.init=orthogonal",
        )
    )[0]  # (30, 40): orthonormal rows
    torch.testing.assert_close(w @ w.T, torch.eye(30), atol=1e-5, rtol=0)


def test_default_init_is_pytorchs():
    torch.manual_seed(0)
    a = make_model((40,), 10, "model.name=mlp", "model.norm=none", "model.hidden=[8]")
    torch.manual_seed(0)
    ref = nn.Sequential(nn.Flatten(), nn.Linear(40, 8), nn.ReLU(), nn.Linear(8, 10))
    for p, q in zip(a.parameters(), ref.parameters()):
        assert torch.equal(p, q)


def test_more_inits_against_their_formulas():
    torch.manual_seed(0)
    mlp = ["model.name=mlp", "model.norm=none", "model.hidden=[600]"]
    w = _weights(make_model((400,), 10, *mlp, "model.init=lecun"))[0]
    assert w.std().item() == pytest.approx(math.sqrt(1 / 400), rel=0.02)
    w = _weights(make_model((400,), 10, *mlp, "model.init=glorot_normal"))[0]
    assert w.std().item() == pytest.approx(math.sqrt(2 / (400 + 600)), rel=0.02)
    w = _weights(make_model((400,), 10, *mlp, "model.init=he_uniform"))[0]
    bound = math.sqrt(6 / 400)  # variance 2 / fan_in: uniform on +-sqrt(6 / fan_in)
    assert w.abs().max() <= bound and w.abs().max() > 0.99 * bound
    model = make_model(
        (40,), 10, *mlp, "model.init=constant", "model.init_value=0.5", "model.bias_value=0.1"
    )
    assert all((m.weight == 0.5).all() and (m.bias == 0.1).all() for m in _weights_modules(model))


def _weights_modules(model):
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def test_identity_recurrent_weights():
    model = make_model(
        (40,),
        10,
        "model.name=lstm",
        "model.hidden=[8]",
        "model.init=glorot_uniform",
        "model.init_recurrent=identity",
    )
    w_hh = model.layers[0].weight_hh_l0  # 4 gates stacked: (32, 8)
    for gate in range(4):
        assert torch.equal(w_hh[gate * 8 : (gate + 1) * 8], torch.eye(8))
    weight = model.layers[0].weight_ih_l0
    assert not torch.equal(weight, torch.zeros_like(weight))
