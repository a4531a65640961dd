"""--plain: the bare algorithm of the lectures. Checked through what a run reports it used
(trainlab.config.techniques): with the plain presets, only the optimizer, a constant rate and
the batches remain, for every model; what the user sets wins."""

from __future__ import annotations

import json

import pytest

import trainlab
from trainlab.cli import main
from trainlab.config import PLAIN, resolve
from trainlab.config.techniques import GROUPS, techniques
from trainlab.models import MODELS

from tests.conftest import FAST


def test_every_technique_switch_is_off_in_the_plain_presets():
    switches = {k for on, _ in GROUPS.values() for k in on}
    assert switches <= set(PLAIN), switches - set(PLAIN)
    for key in switches:
        section, leaf = key.split(".")
        value = getattr(getattr(resolve(None, [], presets={key: PLAIN[key]}), section), leaf)
        assert value in (0, 0.0, "none", ()), key


@pytest.mark.parametrize("model", list(MODELS))
def test_plain_leaves_only_the_update_rule_for_every_model(model):
    used = techniques(resolve(None, [f"model.name={model}"], presets=PLAIN))
    assert set(used) == {"optimizer", "schedule", "batches"}
    assert used["schedule"] == {"schedule.name": "constant"}
    assert used["optimizer"]["optimizer.weight_decay"] == 0.0


def test_what_the_user_sets_wins_over_plain():
    cfg = resolve(
        {"model": {"dropout": 0.2}},
        ["schedule.name=cosine", "optimizer.weight_decay=0.01"],
        presets=PLAIN,
    )
    assert (cfg.model.dropout, cfg.schedule.name, cfg.optimizer.weight_decay) == (
        0.2,
        "cosine",
        0.01,
    )
    assert cfg.model.norm == "none"


# FAST without its own plain settings: the recipe's norm, dropout, decay and one-cycle apply
SMALL = [o for o in FAST if not o.startswith(("model.norm", "optimizer.", "schedule."))]


def test_train_plain_from_the_cli_and_the_library(capsys, tmp_path):
    recipe = trainlab.train(None, SMALL, out=tmp_path / "r", progress="quiet")["techniques"]
    assert {"norm", "dropout"} <= set(recipe)
    argv = ["train", *SMALL, "--plain", "--out", str(tmp_path / "a"), "--progress", "quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    used = json.loads((tmp_path / "a" / "summary.json").read_text())["techniques"]
    assert set(used) == {"optimizer", "schedule", "batches"}
    assert "schedule: name=constant;" in out and "dropout" not in out.split("used:")[1]
    library = trainlab.train(None, SMALL, out=tmp_path / "b", progress="quiet", plain=True)
    assert library["techniques"] == used
    assert main(["config", "--plain"]) == 0
    assert 'norm = "none"' in capsys.readouterr().out


def test_resume_takes_no_plain(capsys, tmp_path):
    assert main(["train", "--resume", str(tmp_path), "--plain"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--plain" in err
