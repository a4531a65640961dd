"""Choosing an optimizer by name brings that optimizer's own defaults: its usual rate and no
weight decay unless set; the recipe's decay (0.05, decoupled) goes with its adamw alone."""

from __future__ import annotations

import pytest

from trainlab.config import resolve
from trainlab.experiments.grid import variant_config
from trainlab.optim import OPTIMIZERS


@pytest.mark.parametrize("name", [n for n in OPTIMIZERS if n != "adamw"])
def test_an_optimizer_chosen_without_weight_decay_gets_none(name):
    assert resolve(None, [f"optimizer.name={name}"]).optimizer.weight_decay == 0.0


def test_the_recipe_keeps_its_decay_and_a_given_decay_is_kept():
    assert resolve(None, []).optimizer.weight_decay == 0.05
    assert resolve(None, ["optimizer.name=adamw"]).optimizer.weight_decay == 0.05
    given = ["optimizer.name=sgd", "optimizer.weight_decay=0.01"]
    assert resolve(None, given).optimizer.weight_decay == 0.01
    # a file or dict counts as given, and so does a preset (a comparison's shared setting)
    assert (
        resolve({"optimizer": {"name": "adam", "weight_decay": 0.2}}).optimizer.weight_decay == 0.2
    )
    preset = resolve(None, ["optimizer.name=sgd"], presets=["optimizer.weight_decay=0.3"])
    assert preset.optimizer.weight_decay == 0.3


def test_a_comparison_of_optimizers_gives_each_its_own_defaults():
    """`trainlab compare --vary optimizer.name=adamw,sgd`: the recipe's decay stays with adamw;
    a shared optimizer.weight_decay applies to both."""
    adamw = variant_config(None, [], ["optimizer.name=adamw"])
    sgd = variant_config(None, [], ["optimizer.name=sgd"])
    assert (adamw.optimizer.weight_decay, sgd.optimizer.weight_decay) == (0.05, 0.0)
    shared = variant_config(None, ["optimizer.weight_decay=0.01"], ["optimizer.name=sgd"])
    assert shared.optimizer.weight_decay == 0.01
