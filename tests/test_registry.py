"""Every registered name of every family builds and trains one step, and every registered
optimizer passes one table of shared checks (torch's ``OptimizerInfo`` idea): it goes downhill
on a quadratic, a ``state_dict`` round trip mid-run gives the uninterrupted run's weights, finite
gradients give finite weights, and bad arguments raise PyTorch-style errors."""

import io

import pytest
import torch

from trainlab import data, optim
from trainlab.config import resolve
from trainlab.data import SOURCES
from trainlab.errors import UserError
from trainlab.experiments.trajectories import FUNCTIONS, run as trajectory
from trainlab.models import LAYERS, MODELS
from trainlab.models.init import INITS
from trainlab.models.layers import ACTIVATIONS, NORMS
from trainlab.optim import OPTIMIZERS
from trainlab.registry import Registry
from trainlab import build
from trainlab.training.losses import LOSSES
from trainlab.training.schedules import SCHEDULES
from trainlab.training.step import Step

from tests.sample_files import write

SMALL = ["data.name=moons", "data.samples=120", "model.name=mlp", "model.hidden=[8]",
         "model.norm=none", "model.dropout=0", "train.batch_size=16"]


def _source(name, tmp_path):
    extra = [f"data.path={write(name, tmp_path)}"] if SOURCES[name].path else []
    return [f"data.name={name}", *extra, "data.val_fraction=0.2"]


def _model(name, tmp_path):
    if name == "cnn2d":
        return [*_source("mnist", tmp_path), "model.name=cnn2d", "model.channels=[4,4]"]
    return ["data.name=mnist1d", f"model.name={name}", "model.hidden=[8]", "model.channels=[4,4]"]


def _init(name, tmp_path):
    if INITS[name].facts.get("recurrent_only"):
        return ["data.name=mnist1d", "model.name=rnn", "model.init_recurrent=" + name]
    return [f"model.init={name}"]


# family -> (registry, the overrides on top of SMALL that select one of its names)
FAMILIES = {
    "data": (SOURCES, _source),
    "model": (MODELS, _model),
    "layer": (LAYERS, lambda n, tmp_path: [*_model("cnn1d", tmp_path), f"model.layer={n}"]),
    "init": (INITS, _init),
    "activation": (ACTIVATIONS, lambda n, _: [f"model.activation={n}"]),
    "norm": (NORMS, lambda n, _: [f"model.norm={n}"]),
    "loss": (LOSSES, lambda n, _: [f"loss.name={n}"]),
    "optimizer": (OPTIMIZERS, lambda n, _: [f"optimizer.name={n}"]),
    "schedule": (SCHEDULES, lambda n, _: [f"schedule.name={n}"]),
}
NAMES = [(family, name) for family, (registry, _) in FAMILIES.items() for name in registry]


@pytest.mark.parametrize("family, name", NAMES)
def test_every_registered_name_builds_and_trains_one_step(family, name, tmp_path):
    registry, overrides = FAMILIES[family]
    # presets: the keys the chosen names do not read are left out
    config = resolve(None, presets=SMALL + overrides(name, tmp_path))
    splits = build.load_data(config)
    parts = build.parts(config, splits)
    before = [p.detach().clone() for p in parts.model.parameters()]
    # 15 samples: an odd batch of two classes is never balanced, so even zero initialization
    # (whose only nonzero gradient is the output bias's, mean(softmax - one-hot)) moves
    logits = parts.step(splits.x_train[:15], splits.y_train[:15])
    assert logits.shape == (15, splits.num_classes) and torch.isfinite(parts.step.loss)
    after = list(parts.model.parameters())
    assert all(torch.isfinite(p).all() for p in after)
    assert any(not torch.equal(a, b) for a, b in zip(after, before)), "nothing was updated"


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_every_2d_function_takes_a_step_downhill(function):
    path = trajectory(function, "sgd", steps=1, lr=1e-3).points
    assert path[1][2] < path[0][2]


def test_an_unknown_name_says_what_is_allowed():
    with pytest.raises(UserError, match=r"optimizer.name = 'adamm': expected one of sgd, .*"
                                        r"\(did you mean adam\?\)"):
        OPTIMIZERS["adamm"]
    r = Registry("colour", "paint.colour")
    r.add("red", lambda: "#f00", "warm")
    with pytest.raises(ValueError, match="registered twice"):
        r.add("red", lambda: "#e00", "warmer")


# One row per registered optimizer: a bad constructor argument and PyTorch's (or trainlab's
# PyTorch-style) error for it ({}, None for an optimizer with no argument but lr). A new
# optimizer adds a row here.
OPTIMIZER_INFO = {
    "sgd": ({"momentum": -0.5}, "Invalid momentum value"),
    "momentum": ({"momentum": -0.5}, "Invalid momentum value"),
    "nesterov": ({"momentum": 0.0}, "Nesterov momentum requires a momentum"),
    "adagrad": ({"eps": -1.0}, "Invalid epsilon value"),
    "rmsprop": ({"alpha": -0.1}, "Invalid alpha value"),
    "adadelta": ({"rho": 1.5}, "Invalid rho value"),
    "adam": ({"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0"),
    "adamw": ({"betas": (0.9, 1.0)}, "Invalid beta parameter at index 1"),
    "rprop": ({"etas": (1.5, 1.2)}, "Invalid eta values"),
    "quickprop": ({"max_growth": 0.5}, "Invalid max_growth value"),
    "swats": ({"betas": (0.9, 1.0)}, "Invalid beta parameters"),
    "newton": ({"damping": -1.0}, "Invalid damping value"),
    "diag_newton": ({"hutchinson_samples": 0}, "Invalid hutchinson_samples value"),
}


def test_the_optimizer_table_covers_every_registered_optimizer():
    assert sorted(OPTIMIZER_INFO) == sorted(OPTIMIZERS)


class Quadratic(torch.nn.Module):
    """f(x) = 1/2 x'Ax - b'x in float64, A symmetric positive definite with eigenvalues 1..10."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        q, _ = torch.linalg.qr(torch.randn(10, 10, generator=g, dtype=torch.float64))
        self.register_buffer("a", q @ torch.diag(torch.linspace(1, 10, 10, dtype=torch.float64)) @ q.T)
        self.register_buffer("b", torch.randn(10, generator=g, dtype=torch.float64))
        self.x = torch.nn.Parameter(torch.randn(10, generator=g, dtype=torch.float64))

    def forward(self, _=None):
        return 0.5 * self.x @ self.a @ self.x - self.b @ self.x


def _optimizer(name, params, lr=None):
    o = resolve(None, [f"optimizer.name={name}", "optimizer.weight_decay=0"])
    return build.optimizer(o if lr is None else resolve(o, [f"optimizer.lr={lr}"]), params)


def _steps(model, opt, k):
    step = Step(model, lambda value, _: value, opt)
    for _ in range(k):
        step(None, None)


@pytest.mark.parametrize("name", list(OPTIMIZER_INFO))
def test_goes_downhill_on_a_quadratic_at_its_usual_rate(name):
    f = Quadratic()
    start = f().item()
    _steps(f, _optimizer(name, f.parameters(), OPTIMIZERS[name].usual_lr), 30)
    assert f().item() < start - 1e-3


@pytest.mark.parametrize("name", list(OPTIMIZER_INFO))
def test_state_dict_round_trip_mid_run_equals_an_uninterrupted_run(name):
    straight = Quadratic()
    _steps(straight, _optimizer(name, straight.parameters()), 10)
    resumed = Quadratic()
    first = _optimizer(name, resumed.parameters())
    _steps(resumed, first, 5)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    second = _optimizer(name, resumed.parameters())
    second.load_state_dict(torch.load(buffer, weights_only=True))
    _steps(resumed, second, 5)
    assert torch.equal(straight.x, resumed.x)


@pytest.mark.parametrize("name", list(OPTIMIZER_INFO))
@pytest.mark.parametrize("gradient", [0.0, 1e-30, 1e30])
def test_finite_gradients_give_finite_weights(name, gradient):
    x = torch.nn.Parameter(torch.ones(5, dtype=torch.float64))
    opt = _optimizer(name, [x])
    for _ in range(5):  # the same gradient every time: zero slope changes for secant methods
        x.grad = torch.full_like(x, gradient)
        opt.step(lambda: (x * gradient).sum())  # the loss whose gradient that is
        assert torch.isfinite(x).all(), x


@pytest.mark.parametrize("name", list(OPTIMIZER_INFO))
def test_bad_arguments_raise_clear_errors(name):
    entry, options = OPTIMIZERS[name], resolve(None, [f"optimizer.name={name}"]).optimizer
    cls, kwargs = entry.build(**{key: getattr(options, key) for key in entry.reads})
    params = [torch.nn.Parameter(torch.ones(3))]
    with pytest.raises(ValueError, match="Invalid learning rate"):
        cls(params, lr=-1.0, **kwargs)
    bad, message = OPTIMIZER_INFO[name]
    assert bad or not kwargs, "an optimizer with arguments needs a bad one in its row"
    if bad:
        with pytest.raises(ValueError, match=message):
            cls(params, lr=0.01, **{**kwargs, **bad})
