"""trainlab's own recurrent cells against references no one here wrote: PyTorch's fused
``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` given the same weights, the papers' equations written out in
float64 (Ba et al. 2016's layer-normalized LSTM, Cooijmans et al. 2016's batch-normalized LSTM),
``torch.autograd.gradcheck``, and behaviour (a variational mask is the same at every step,
per-step statistics are per step, layer norm does not look at the rest of the batch)."""

import math

import pytest
import torch
from torch import nn

from trainlab import build
from trainlab.config import resolve
from trainlab.errors import UserError
from trainlab.models.recurrent import RecurrentLayer
from trainlab.models.recurrent_dropout import SequenceDropout

REFERENCE = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def twins(kind, dtype=torch.float64, inputs=3, hidden=5, **variant):
    """PyTorch's module and ours with the same weights."""
    torch.manual_seed(0)
    ref = REFERENCE[kind](inputs, hidden, batch_first=True).to(dtype)
    own = RecurrentLayer(kind, inputs, hidden, **variant).to(dtype)
    with torch.no_grad():
        for name in NAMES:
            getattr(own, name).copy_(getattr(ref, name + "_l0"))
    return ref, own


@pytest.mark.parametrize("kind", REFERENCE)
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 2e-6)])
def test_plain_cell_equals_pytorch_outputs_and_gradients(kind, dtype, tol):
    ref, own = twins(kind, dtype)
    x = torch.randn(4, 9, 3, dtype=dtype)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = ref(xa)[0], own(xb)
    torch.testing.assert_close(yb, ya, rtol=0, atol=tol)
    weights = torch.randn_like(ya)  # a loss that weighs every step and unit differently
    ga = torch.autograd.grad((ya * weights).sum(), [xa, *(getattr(ref, n + "_l0") for n in NAMES)])
    gb = torch.autograd.grad((yb * weights).sum(), [xb, *(getattr(own, n) for n in NAMES)])
    for a, b in zip(ga, gb):
        torch.testing.assert_close(b, a, rtol=0, atol=tol * 10)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 2e-6)])
def test_relu_rnn_cell_equals_pytorchs(dtype, tol):
    """model.rnn_activation = relu: the own cell against nn.RNN(nonlinearity="relu")."""
    torch.manual_seed(0)
    ref = nn.RNN(3, 5, batch_first=True, nonlinearity="relu").to(dtype)
    own = RecurrentLayer("rnn", 3, 5, activation="relu").to(dtype)
    with torch.no_grad():
        for name in NAMES:
            getattr(own, name).copy_(getattr(ref, name + "_l0"))
    x = 3 * torch.randn(4, 9, 3, dtype=dtype)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = ref(xa)[0], own(xb)
    assert (ya == 0).any() and (ya > 1).any()  # ReLU's zeros and values beyond tanh's range
    torch.testing.assert_close(yb, ya, rtol=0, atol=tol)
    ga = torch.autograd.grad(ya.square().sum(), [xa, ref.weight_hh_l0])
    gb = torch.autograd.grad(yb.square().sum(), [xb, own.weight_hh])
    for a, b in zip(ga, gb):
        torch.testing.assert_close(b, a, rtol=0, atol=tol * 10)


def test_irnn_is_a_relu_rnn_with_identity_recurrence():
    """Le et al. 2015's IRNN: the fused nn.RNN with ReLU and W_hh = I; with a variant, the own
    layer with ReLU."""
    fused = make_model(
        (40,),
        "model.name=rnn",
        "model.hidden=[6]",
        "model.rnn_activation=relu",
        "model.init_recurrent=identity",
    )
    assert isinstance(fused.layers[0], nn.RNN) and fused.layers[0].nonlinearity == "relu"
    assert torch.equal(fused.layers[0].weight_hh_l0.detach(), torch.eye(6))
    own = make_model(
        (40,),
        "model.name=rnn",
        "model.hidden=[6]",
        "model.rnn_activation=relu",
        "model.init_recurrent=identity",
        "model.recurrent_norm=layer",
    )
    assert own.layers[0].activation == "relu"
    assert torch.equal(own.layers[0].weight_hh.detach(), torch.eye(6))
    assert make_model((40,), "model.name=rnn").layers[0].nonlinearity == "tanh"  # the default


def _layer_norm(a, gain, shift=0.0, eps=1e-5):
    """Ba et al. 2016, eq. (15)-(16): mean and standard deviation over one sample's units."""
    mu = a.mean(-1, keepdim=True)
    sigma = ((a - mu) ** 2).mean(-1, keepdim=True).add(eps).sqrt()
    return gain * (a - mu) / sigma + shift


def _batch_norm(a, gain, shift=0.0, eps=1e-5):
    """Cooijmans et al. 2016, eq. (5): mean and (biased) variance over the minibatch."""
    mu = a.mean(0, keepdim=True)
    return gain * (a - mu) / ((a - mu) ** 2).mean(0, keepdim=True).add(eps).sqrt() + shift


def _normalized_lstm(own, x, norm):
    """The papers' normalized LSTM, step by step in float64 (Ba et al. eq. (20)-(22), Cooijmans
    et al. eq. (6)-(8)): (i f g o) = N(W_h h) + N(W_x x) + b; c = s(f) c + s(i) tanh(g);
    h = s(o) tanh(N(c) with shift), with the module's gains and shift."""
    n, steps, _ = x.shape
    h = c = torch.zeros(n, own.hidden_size, dtype=x.dtype)
    out = []
    for t in range(steps):
        z = (
            norm(h @ own.weight_hh.T, own.norm_h.gamma)
            + norm(x[:, t] @ own.weight_ih.T, own.norm_x.gamma)
            + own.bias_ih
            + own.bias_hh
        )
        i, f, g, o = z.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(norm(c, own.norm_c.gamma, own.norm_c.beta))
        out.append(h)
    return torch.stack(out, 1)


@pytest.mark.parametrize("name, norm", [("layer", _layer_norm), ("batch", _batch_norm)])
def test_normalized_lstm_follows_the_papers_equations(name, norm):
    _, own = twins("lstm", norm=name, bn_time_steps=20)
    with torch.no_grad():  # gains and shift away from their initial values
        for module in (own.norm_x, own.norm_h, own.norm_c):
            module.gamma.uniform_(0.5, 1.5)
        own.norm_c.beta.uniform_(-0.5, 0.5)
    own.train()
    x = torch.randn(6, 5, 3, dtype=torch.float64)
    torch.testing.assert_close(own(x), _normalized_lstm(own, x, norm), rtol=0, atol=1e-12)


def _by_hand(kind, own, x, norm):
    """One step of a normalized GRU or RNN from h_0 = 0 (W_hh h_0 = 0 normalizes to 0)."""
    gx = norm(x[:, 0] @ own.weight_ih.T, own.norm_x.gamma) + own.bias_ih
    gh = own.bias_hh.expand_as(gx)
    if kind == "rnn":
        return torch.tanh(gx + gh)
    xr, xz, xn = gx.chunk(3, 1)
    hr, hz, hn = gh.chunk(3, 1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    return (1 - z) * torch.tanh(xn + r * hn)


@pytest.mark.parametrize("kind", ["gru", "rnn"])
@pytest.mark.parametrize("name, norm", [("layer", _layer_norm), ("batch", _batch_norm)])
def test_normalized_gru_and_rnn_first_step_by_hand(kind, name, norm):
    _, own = twins(kind, norm=name)
    x = torch.randn(6, 1, 3, dtype=torch.float64)
    torch.testing.assert_close(own(x)[:, 0], _by_hand(kind, own, x, norm), rtol=0, atol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("kind", REFERENCE)
@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_gradcheck(kind, norm):
    torch.manual_seed(1)
    own = RecurrentLayer(kind, 2, 3, norm=norm, bn_time_steps=2).double()
    x = torch.randn(4, 3, 2, dtype=torch.float64, requires_grad=True)
    params = tuple(own.parameters())

    def f(x, *p):
        return torch.func.functional_call(
            own, dict(zip([n for n, _ in own.named_parameters()], p)), (x,)
        )

    assert torch.autograd.gradcheck(f, (x, *params))


def test_batch_norm_statistics_are_per_step_and_later_steps_share_the_last():
    _, own = twins("rnn", norm="batch", bn_time_steps=2)
    own.train()
    x = torch.randn(8, 4, 3, dtype=torch.float64)
    x[:, 1] += 5.0  # step 1's inputs have another mean
    own(x)
    wx = x @ own.weight_ih.T
    torch.testing.assert_close(own.norm_x.running_mean[0], 0.1 * wx[:, 0].mean(0))
    expected = torch.zeros_like(wx[0, 0])  # slot 1 is updated by steps 1, 2 and 3 in turn
    for t in (1, 2, 3):
        expected = 0.9 * expected + 0.1 * wx[:, t].mean(0)
    torch.testing.assert_close(own.norm_x.running_mean[1], expected)
    assert (own.norm_x.running_mean[0] - own.norm_x.running_mean[1]).abs().max() > 0.1
    assert own.norm_x.gamma.float().eq(0.1).all() and own.norm_c.__class__.__name__ == "NoNorm"


def test_batch_norm_uses_the_batch_of_each_step():
    """Changing step 0's batch changes step 0's normalization only through its statistics:
    a sample's step-0 term depends on the other samples (batch norm), unlike layer norm."""
    for norm, depends in (("batch", True), ("layer", False)):
        _, own = twins("lstm", norm=norm)
        own.train()
        x = torch.randn(5, 4, 3, dtype=torch.float64)
        alone = own(x[:1])[0] if norm == "layer" else own(x[:2])[0]
        other = torch.cat([x[:1], torch.randn(7, 4, 3, dtype=torch.float64)])
        together = own(other)[0]
        assert (not torch.allclose(alone, together)) == depends, norm


def test_layer_norm_output_of_one_sample_ignores_the_batch():
    _, own = twins("gru", norm="layer")
    x = torch.randn(6, 7, 3, dtype=torch.float64)
    torch.testing.assert_close(own(x)[2:3], own(x[2:3]), rtol=0, atol=1e-12)


def _saturated_rnn(p, mode):
    """An RNN whose dropped recurrent units show: W_hh = I, W_ih = 0, bias 1."""
    own = RecurrentLayer("rnn", 1, 200, dropout=p, dropout_mode=mode).double()
    with torch.no_grad():
        own.weight_hh.copy_(torch.eye(200))
        own.weight_ih.zero_()
        own.bias_ih.fill_(1.0)
        own.bias_hh.zero_()
    return own


def test_variational_recurrent_mask_is_the_same_at_every_step():
    torch.manual_seed(3)
    h = _saturated_rnn(0.5, "variational").train()(torch.zeros(2, 6, 1, dtype=torch.float64))
    dropped = h[:, 1:] == math.tanh(1.0)  # h_{t-1} dropped: h_t = tanh(1) again
    assert (dropped == dropped[:, :1]).all()  # the same units at every step
    assert 0.3 < dropped[:, 0].double().mean() < 0.7
    assert not (dropped[0, 0] == dropped[1, 0]).all()  # a mask per sequence


def test_variational_input_mask_is_the_same_at_every_step_zaremba_is_not():
    torch.manual_seed(4)
    x = torch.ones(3, 10, 50)
    same = SequenceDropout(0.5, "variational").train()(x)
    assert (same == same[:, :1]).all() and set(same.unique().tolist()) == {0.0, 2.0}
    fresh = SequenceDropout(0.5, "zaremba").train()(x)
    assert not (fresh == fresh[:, :1]).all()
    assert (SequenceDropout(0.5, "variational").eval()(x) == x).all()


def test_semeniuta_drops_the_candidate_and_keeps_the_memory():
    """f = i = o = 1 (saturated), g = tanh(1): c_t = c_{t-1} + d(g), so each step adds either 0
    or g / (1 - p) to the memory, which is never lost; a new mask at every step."""
    own = RecurrentLayer("lstm", 1, 100, dropout=0.5, dropout_mode="semeniuta").double().train()
    with torch.no_grad():
        own.weight_ih.zero_()
        own.weight_hh.zero_()
        own.bias_hh.zero_()
        own.bias_ih.copy_(torch.tensor([50.0, 50.0, 1.0, 50.0]).repeat_interleave(100))
    torch.manual_seed(5)
    c = torch.atanh(own(torch.zeros(1, 4, 1, dtype=torch.float64)).clamp(max=1 - 1e-12))
    steps = torch.diff(torch.cat([torch.zeros(1, 1, 100, dtype=torch.float64), c], 1), dim=1)
    g = 2 * math.tanh(1.0)
    assert (
        torch.isclose(steps, torch.zeros_like(steps), atol=1e-6)
        .logical_or(torch.isclose(steps, torch.full_like(steps, g), atol=1e-6))
        .all()
    )
    kept = steps > g / 2
    assert not (kept == kept[:, :1]).all()  # a new mask at every step
    assert (c[0, -1] > 0).sum() > 80  # nearly every unit remembers some earlier kept update


def make_model(shape, *overrides):
    return build.model(resolve(None, list(overrides)), shape, 10)


def test_fused_modules_unless_a_variant_needs_the_cell():
    assert isinstance(make_model((40,), "model.name=lstm").layers[0], nn.LSTM)
    zaremba = make_model((40,), "model.name=gru", "model.recurrent_dropout=0.3")
    assert isinstance(zaremba.layers[0], nn.GRU) and zaremba.sequence_dropout.mode == "zaremba"
    for extra in (
        "model.recurrent_norm=layer",
        "model.recurrent_norm=batch",
        "model.recurrent_dropout=0.3 model.recurrent_dropout_mode=variational",
        "model.recurrent_dropout=0.3 model.recurrent_dropout_mode=semeniuta",
    ):
        model = make_model((40,), "model.name=lstm", "model.hidden=[8, 4]", *extra.split())
        assert all(isinstance(layer, RecurrentLayer) for layer in model.layers), extra
        assert model(torch.randn(3, 40)).shape == (3, 10)


def test_identity_initialization_combines_with_the_variants():
    model = make_model(
        (40,),
        "model.name=lstm",
        "model.hidden=[6]",
        "model.init=he_normal",
        "model.init_recurrent=identity",
        "model.recurrent_norm=layer",
        "model.recurrent_dropout=0.2",
        "model.recurrent_dropout_mode=variational",
    )
    w = model.layers[0].weight_hh
    assert all(torch.equal(block, torch.eye(6)) for block in w.detach().split(6))
    assert model.layers[0].bias_ih.eq(0).all()  # init other than default: biases 0
    assert model.layers[0].norm_x.gamma.eq(1).all()  # the norm's gain untouched


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["model.recurrent_dropout=0.2"], "only for model.name = rnn or gru or lstm"),
        (["model.recurrent_norm=layer"], "only for model.name"),
        (["model.name=lstm", "model.bn_time_steps=0"], "expected an integer >= 1"),
        (["model.name=lstm", "model.recurrent_dropout=1.0"], "expected a number in [0, 1)"),
        (["model.name=lstm", "model.recurrent_dropout=-0.1"], "expected a number in [0, 1)"),
        (["model.name=lstm", "model.bn_time_steps=5"], "only for model.recurrent_norm = batch"),
        (["model.name=rnn", "model.recurrent_dropout_mode=semeniuta"], "rnn has none"),
        (["model.name=gru", "model.rnn_activation=relu"], "only for model.name = rnn"),
        (["model.name=rnn", "model.rnn_activation=sigmoid"], "model.rnn_activation"),
        (
            ["model.name=lstm", "model.recurrent_norm=batch", "model.bn_stats=population"],
            "per time step",
        ),
    ],
)
def test_bad_recurrent_config_is_one_line(overrides, message):
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace(")", r"\)")) as e:
        resolve(None, overrides)
    assert "\n" not in str(e.value)
