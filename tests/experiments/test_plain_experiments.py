"""compare --plain and search --plain: every variant and trial over the plain presets
(trainlab.config.PLAIN), under the shared config, its overrides and the variant's own keys."""

from __future__ import annotations

import json

from trainlab.cli import main
from trainlab.config import resolve
from trainlab.config.techniques import techniques
from trainlab.experiments import search
from trainlab.experiments.grid import variant_config

from tests.conftest import FAST

# FAST without its own plain settings: the recipe's norm, dropout, decay and one-cycle apply
SMALL = [o for o in FAST if not o.startswith(("model.norm", "optimizer.", "schedule."))]


def test_a_plain_variant_keeps_only_the_update_rule_and_what_is_set():
    for optimizer in ("adamw", "sgd", "rprop"):
        cfg = variant_config(None, SMALL, [f"optimizer.name={optimizer}"], plain=True)
        assert set(techniques(cfg)) == {"optimizer", "schedule", "batches"}
        assert cfg.schedule.name == "constant" and cfg.optimizer.weight_decay == 0.0
    recipe = variant_config(None, SMALL, ["optimizer.name=adamw"])
    assert {"norm", "dropout"} <= set(techniques(recipe))
    shared = variant_config({"model": {"dropout": 0.2}}, SMALL, ["model.hidden=[8]"], plain=True)
    assert shared.model.dropout == 0.2 and shared.model.norm == "none"


def test_compare_and_search_plain(capsys, tmp_path):
    args = [*SMALL, "train.epochs=2"]
    argv = ["compare", *args, "--vary", "optimizer.name=adamw,sgd", "--seeds", "1", "--jobs", "1"]
    assert main([*argv, "--plain", "--out", str(tmp_path / "c")]) == 0
    runs = list((tmp_path / "c" / "runs").glob("*/seed-0"))
    assert len(runs) == 2
    for run in runs:
        used = json.loads((run / "summary.json").read_text())["techniques"]
        assert set(used) == {"optimizer", "schedule", "batches"}, run
        assert resolve(run / "config.toml").model.norm == "none"
    found = search.run(
        None,
        args,
        ["optimizer.lr=0.1"],
        "grid",
        None,
        1,
        tmp_path / "s",
        log=lambda _: None,
        plain=True,
    )
    best = json.loads((tmp_path / "s" / "best" / "summary.json").read_text())["techniques"]
    assert found["best_params"] == {"optimizer.lr": 0.1}
    assert set(best) == {"optimizer", "schedule", "batches"}
