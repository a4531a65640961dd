"""The typed configuration: frozen sections, the keys each registry entry reads, refusals of keys
that do not apply, presets, and names registered at run time."""

import dataclasses
import pickle

import pytest
import torch

import trainlab
from trainlab import build
from trainlab.config import SCHEMA, Config, replace, resolve
from trainlab.data import SOURCES
from trainlab.distributed import MODES
from trainlab.errors import UserError
from trainlab.models import MLP, MODELS
from trainlab.optim import OPTIMIZERS
from trainlab.training.schedules import SCHEDULES


def test_sections_are_typed_frozen_and_round_trip():
    c = resolve(
        None, ["optimizer.name=sgd", "optimizer.lr=0.3", "model.name=mlp", "model.hidden=[8, 4]"]
    )
    assert isinstance(c, Config) and c.optimizer.lr == 0.3 and c.model.hidden == (8, 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.optimizer.lr = 1.0
    assert resolve(c.to_dict()) == c and resolve(c) == c
    assert pickle.loads(pickle.dumps(c)) == c  # configs travel to worker processes
    assert replace(c, **{"train.epochs": 3}).train.epochs == 3 and c.train.epochs != 3
    assert c.to_dict()["model"]["hidden"] == [8, 4]  # lists again, as config.toml holds them


def test_every_key_is_a_field_of_its_section():
    c = resolve()
    for name in SCHEMA:
        section, _, leaf = name.rpartition(".")
        assert hasattr(getattr(c, section) if section else c, leaf), name


@pytest.mark.parametrize(
    "registry, section",
    [
        (OPTIMIZERS, "optimizer"),
        (MODELS, "model"),
        (SCHEDULES, "schedule"),
        (SOURCES, "data"),
        (MODES, "distributed"),
    ],
)
def test_every_declared_read_is_a_key_of_its_section(registry, section):
    for entry in registry.entries():
        for key in entry.reads:
            assert f"{section}.{key}" in SCHEMA, (entry.name, key)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_an_optimizer_builds_from_exactly_the_keys_it_reads(name):
    """The builder is called with its declared keys and nothing else: a key it needs but does
    not declare is a TypeError here, not a silently ignored setting."""
    entry, options = OPTIMIZERS[name], resolve(None, [f"optimizer.name={name}"]).optimizer
    cls, kwargs = entry.build(**{key: getattr(options, key) for key in entry.reads})
    assert issubclass(cls, torch.optim.Optimizer)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_a_schedule_builds_from_exactly_the_keys_it_reads(name):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=0.1)
    options = resolve(None, [f"schedule.name={name}"]).schedule.to_dict()
    entry = SCHEDULES[name]
    build.schedule(resolve(None, [f"schedule.name={name}"]), opt, 5)
    with pytest.raises(TypeError):  # one undeclared keyword more is refused by the builder
        entry.build(opt, None, **{k: options[k] for k in entry.reads}, not_a_key=1)


@pytest.mark.parametrize(
    "override, words",
    [
        (
            "optimizer.rho=0.5",
            "optimizer.rho = 0.5: only for optimizer.name = adadelta (got 'adam')",
        ),
        (
            "optimizer.momentum=0.9",
            "only for optimizer.name = sgd or momentum or nesterov or rmsprop",
        ),
        (
            "schedule.gamma=0.5",
            "schedule.gamma = 0.5: only for schedule.name = step or exponential",
        ),
        ("data.samples=300", "only for data.name = moons or circles or spirals or xor or adding"),
        (
            "model.args={width=3}",
            "model.args = {width = 3}: only for model.name = package.module:callable",
        ),
    ],
)
def test_a_key_the_chosen_entry_does_not_read_is_refused(override, words):
    with pytest.raises(UserError) as e:
        resolve(None, ["optimizer.name=adam", override])
    assert words in str(e.value) and "\n" not in str(e.value)


def test_presets_that_do_not_apply_are_left_out():
    presets = ["optimizer.name=sgd", "optimizer.momentum=0.9", "model.norm=none"]
    c = resolve(
        None, ["optimizer.name=adam", "model.name=lstm", "model.hidden=[8]"], presets=presets
    )
    assert c.optimizer.momentum == SCHEMA["optimizer.momentum"].default
    assert c.model.norm == SCHEMA["model.norm"].default
    assert resolve(None, [], presets=presets).optimizer.momentum == 0.9  # where they apply


def test_a_name_registered_at_run_time_trains(tmp_path):
    MODELS.add(
        "tiny_mlp",
        lambda shape, classes, *, aux_heads, hidden: MLP(shape, hidden, classes),
        "an MLP registered by a test",
        reads=("hidden",),
    )
    try:
        summary = trainlab.train(
            None,
            ["model.name=tiny_mlp", "model.hidden=[4]", "data.name=moons", "train.epochs=1"],
            out=tmp_path / "run",
            progress="quiet",
        )
        assert summary["parameters"] == 2 * 4 + 4 + 4 * 2 + 2
        with pytest.raises(UserError, match='model.norm = "none": only for'):
            resolve(None, ["model.name=tiny_mlp", "model.norm=none"])
    finally:
        MODELS.remove("tiny_mlp")
    with pytest.raises(UserError, match='model.name = "tiny_mlp": expected one of'):
        resolve(None, ["model.name=tiny_mlp"])


def test_batch_gradient_descent_in_a_comparison(tmp_path, capsys):
    from trainlab.cli import main

    code = main(
        [
            "compare",
            "data.name=moons",
            "data.samples=200",
            "model.name=mlp",
            "model.hidden=[4]",
            "model.norm=none",
            "train.batch_size=full",
            "train.epochs=2",
            "optimizer.name=sgd",
            "--vary",
            "optimizer.lr=0.1,0.3",
            "--seeds",
            "1",
            "--jobs",
            "1",
            "--out",
            str(tmp_path / "cmp"),
        ]
    )
    assert code == 0
    assert (tmp_path / "cmp" / "report.html").exists()
    assert len(list((tmp_path / "cmp" / "runs").glob("*/seed-0/summary.json"))) == 2


def test_batch_norm_with_online_updates_is_refused_before_any_folder(tmp_path):
    with pytest.raises(UserError, match="batch norm needs at least 2 samples"):
        trainlab.train(None, ["train.batch_size=1"], out=tmp_path / "run")
    assert not (tmp_path / "run").exists()
