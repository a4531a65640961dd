"""Every registered name of every family builds and trains one step. (The checks every optimizer
passes are driven by the optimizer table: tests/optim/cases.py,
tests/optim/test_every_optimizer.py.)"""

import pytest
import torch

from trainlab import build
from trainlab.config import resolve
from trainlab.data import SOURCES
from trainlab.errors import UserError
from trainlab.experiments.trajectories import FUNCTIONS, run as trajectory
from trainlab.models import LAYERS, MODELS
from trainlab.models.init import INITS
from trainlab.models.layers import ACTIVATIONS, NORMS
from trainlab.optim import OPTIMIZERS
from trainlab.registry import Registry
from trainlab.training.losses import LOSSES
from trainlab.training.schedules import SCHEDULES

from tests.sample_files import write

SMALL = [
    "data.name=moons",
    "data.samples=120",
    "model.name=mlp",
    "model.hidden=[8]",
    "model.norm=none",
    "model.dropout=0",
    "train.batch_size=16",
]


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
    with pytest.raises(
        UserError,
        match=r"optimizer.name = 'adamm': expected one of sgd, .*"
        r"\(did you mean adam\?\)",
    ):
        OPTIMIZERS["adamm"]
    r = Registry("colour", "paint.colour")
    r.add("red", lambda: "#f00", "warm")
    with pytest.raises(ValueError, match="registered twice"):
        r.add("red", lambda: "#e00", "warmer")
