"""The MNIST-1D paper's four models (Greydanus 2020; github.com/greydanus/mnist1d,
notebooks/models.py), built from trainlab's general options in ``examples/mnist1d_paper_*.toml``,
checked against references no one here wrote:

- parameter counts, counted by hand from the paper's code: linear 40*10+10 = 410; MLP
  (40*100+100) + (100*100+100) + (100*10+10) = 15,210; CNN (1*25*5+25) + 2 (25*25*3+25) +
  (125*10+10) = 5,210; GRU 2 directions * 3 gates * (6*1 + 6*6 + 6 + 6) + (480*10+10) = 5,134;
- the CNN equals a hand-built ``nn.Sequential`` of ``nn.Conv1d`` with the same weights, lengths
  40 -> 19 -> 10 -> 5 by PyTorch's formula (L + 2p - k) // s + 1;
- the residual MLP equals h = relu(W1 x + b1); h = h + relu(W2 h + b2); W3 h + b3 by hand;
- the bidirectional GRU read out from all steps equals ``nn.GRU(bidirectional=True)`` + flatten
  + ``nn.Linear``, for the fused module and for trainlab's own recurrent layer.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from trainlab import build
from trainlab.config import resolve
from trainlab.errors import UserError
from trainlab.models.recurrent import RecurrentLayer
from trainlab.models.rnn import Bidirectional, readout

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PARAMETERS = {
    "linear": 40 * 10 + 10,
    "mlp": (40 * 100 + 100) + (100 * 100 + 100) + (100 * 10 + 10),
    "cnn": (1 * 25 * 5 + 25) + 2 * (25 * 25 * 3 + 25) + (25 * 5 * 10 + 10),
    "gru": 2 * 3 * (6 * 1 + 6 * 6 + 6 + 6) + (2 * 6 * 40 * 10 + 10),
}


def paper_model(name: str, *overrides: str) -> nn.Module:
    torch.manual_seed(0)
    config = resolve(EXAMPLES / f"mnist1d_paper_{name}.toml", list(overrides))
    return build.model(config, (40,), 10).eval()


def test_hand_counts_are_the_papers():
    assert PARAMETERS == {"linear": 410, "mlp": 15_210, "cnn": 5_210, "gru": 5_134}


@pytest.mark.parametrize("name", list(PARAMETERS))
def test_parameter_counts_equal_the_papers(name):
    assert sum(p.numel() for p in paper_model(name).parameters()) == PARAMETERS[name]


def test_cnn_equals_a_hand_built_conv_stack():
    model = paper_model("cnn")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv1d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding) for c in convs] == [
        (1, 25, (5,), (2,), (1,)),
        (25, 25, (3,), (2,), (1,)),
        (25, 25, (3,), (2,), (1,)),
    ]
    assert not any(
        isinstance(m, (nn.MaxPool1d, nn.AvgPool1d, nn.BatchNorm1d)) for m in model.modules()
    )
    ref = nn.Sequential(
        nn.Conv1d(1, 25, 5, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(125, 10),
    )
    ours = [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Linear))]
    theirs = [m for m in ref if isinstance(m, (nn.Conv1d, nn.Linear))]
    for a, b in zip(ours, theirs):
        b.load_state_dict(a.state_dict())  # shapes must agree
    x = torch.randn(7, 40)
    lengths = [ref[:i](x.unsqueeze(1)).shape[-1] for i in (2, 4, 6)]
    assert lengths == [19, 10, 5]
    torch.testing.assert_close(model(x), ref(x.unsqueeze(1)), rtol=0, atol=1e-6)


def test_residual_mlp_equals_the_formula():
    model = paper_model("mlp")
    (w1, b1), (w2, b2), (w3, b3) = [
        (m.weight, m.bias) for m in model.modules() if isinstance(m, nn.Linear)
    ]
    x = torch.randn(7, 40)
    h = torch.relu(x @ w1.T + b1)
    h = h + torch.relu(h @ w2.T + b2)
    torch.testing.assert_close(model(x), h @ w3.T + b3, rtol=0, atol=1e-5)


def test_residual_skips_layers_whose_widths_differ():
    torch.manual_seed(0)
    config = resolve(
        None,
        [
            "model.name=mlp",
            "model.hidden=[16, 8, 8]",
            "model.residual=true",
            "model.norm=none",
            "model.dropout=0",
        ],
    )
    model = build.model(config, (40,), 3).eval()
    (w1, b1), (w2, b2), (w3, b3), (w4, b4) = [
        (m.weight, m.bias) for m in model.modules() if isinstance(m, nn.Linear)
    ]
    x = torch.randn(5, 40)
    h = torch.relu(torch.relu(x @ w1.T + b1) @ w2.T + b2)  # 40 -> 16 -> 8: no shortcut
    h = h + torch.relu(h @ w3.T + b3)  # 8 -> 8: shortcut
    torch.testing.assert_close(model(x), h @ w4.T + b4, rtol=0, atol=1e-5)


def _reference_gru(model: nn.Module, layer: nn.Module) -> nn.Module:
    """nn.GRU(bidirectional) + flatten + Linear carrying ``model``'s weights."""
    gru, head = nn.GRU(1, 6, batch_first=True, bidirectional=True), nn.Linear(480, 10)
    if isinstance(layer, nn.GRU):
        gru.load_state_dict(layer.state_dict())
    else:  # trainlab's own layers: forward_layer -> *_l0, reverse -> *_l0_reverse
        for part, suffix in ((layer.forward_layer, ""), (layer.reverse, "_reverse")):
            for name, p in part.named_parameters():
                getattr(gru, f"{name}_l0{suffix}").data.copy_(p.data)
    head.load_state_dict(model.head.state_dict())
    return nn.Sequential(gru), head


@pytest.mark.parametrize("own", [False, True])
def test_bidirectional_gru_all_steps_equals_nn_gru(own):
    model = paper_model("gru")
    if own:  # the same model on trainlab's own recurrent layer, the fused one's weights
        fused = model.layers[0]
        own_layers = [RecurrentLayer("gru", 1, 6) for _ in range(2)]
        for layer, suffix in zip(own_layers, ("", "_reverse")):
            for name, p in layer.named_parameters():
                p.data.copy_(getattr(fused, f"{name}_l0{suffix}").data)
        model.layers[0] = Bidirectional(*own_layers)
    gru, head = _reference_gru(model, model.layers[0])
    x = torch.randn(7, 40)
    out, h_n = gru[0](x.unsqueeze(-1))
    torch.testing.assert_close(model(x), head(out.reshape(7, -1)), rtol=0, atol=1e-5)
    # the other readouts, from the same outputs: each direction's final state, the mean
    y = out
    torch.testing.assert_close(readout(y, "last", 2), torch.cat([h_n[0], h_n[1]], -1))
    torch.testing.assert_close(readout(y, "mean", 2), y.mean(1))


def test_readouts_set_the_heads_width():
    for how, width in (("last", 12), ("mean", 12), ("all", 480)):
        model = paper_model("gru", f"model.readout={how}")
        assert model.head.in_features == width and model(torch.randn(3, 40)).shape == (3, 10)
    model = paper_model("gru", "model.bidirectional=false", "model.readout=last")
    assert model.head.in_features == 6 and model(torch.randn(3, 40)).shape == (3, 10)
    model = paper_model("gru", "model.recurrent_norm=layer", "model.hidden=[6, 4]")
    assert model.head.in_features == 2 * 4 * 40 and model(torch.randn(3, 40)).shape == (3, 10)


def test_default_cnn_is_unchanged():
    model = build.model(resolve(None, []), (40,), 10)
    assert sum(isinstance(m, nn.MaxPool1d) for m in model.modules()) == 3
    assert all(
        c.stride == (1,) and c.padding == (2,) for c in model.modules() if isinstance(c, nn.Conv1d)
    )


@pytest.mark.multiprocess
@pytest.mark.parametrize(
    "override, words",
    [
        (["model.stride=0"], ["model.stride", "integer >= 1"]),
        (["model.stride=[2, 2]"], ["model.stride", "one value per block"]),
        (["model.kernel_size=[5, 4, 3, 3]"], ["model.kernel_size", "odd"]),
        (['model.padding="valid"'], ["model.padding", "same"]),
        (["model.padding=[1, -1, 1, 1]"], ["model.padding", ">= 0"]),
        (["model.pool=min"], ["model.pool", "none"]),
        (["model.name=mlp", "model.stride=2"], ["model.stride", "cnn1d"]),
        (["model.name=gru", "model.kernel_size=[3]"], ["model.kernel_size", "cnn1d"]),
        (["model.residual=true"], ["model.residual", "mlp"]),
        (["model.residual=1", "model.name=mlp"], ["model.residual", "true/false"]),
        (["model.bidirectional=true"], ["model.bidirectional", "gru"]),
        (["model.name=mlp", "model.readout=all"], ["model.readout", "gru"]),
        (["model.name=gru", "model.readout=first"], ["model.readout", "last, all, mean"]),
    ],
)
def test_bad_values_are_one_line_exit_2(override, words, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "trainlab", "train", *override, "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and not (tmp_path / "run").exists()
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert all(w in line for w in words), line


def test_strides_too_large_for_the_input_are_clear():
    # 40 -> (40 - 5) // 8 + 1 = 5 -> 1 -> (1 - 5) // 8 + 1 = 0
    config = resolve(
        None, ["model.channels=[4, 4, 4]", "model.stride=8", "model.padding=0", "model.pool=none"]
    )
    with pytest.raises(UserError, match="block 3 .* below 1"):
        build.model(config, (40,), 10)
