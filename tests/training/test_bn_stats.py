"""model.bn_stats = auto (the default): lecture 000's population statistics (s129) when an epoch
has too few updates for batch norm's running averages to settle (fewer than 1 / momentum), the
running averages otherwise; the run's techniques say which was used."""

from __future__ import annotations

import json

import pytest
from torch import nn

import trainlab
from trainlab import build
from trainlab.cli import main
from trainlab.config import resolve


def _net(momentum: float | None = 0.1) -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, momentum=momentum), nn.Linear(4, 2))


@pytest.mark.parametrize(
    "net, updates, want",
    [
        (_net(0.1), 1, "population"),
        (_net(0.1), 9, "population"),
        (_net(0.1), 10, "running"),
        (_net(0.5), 1, "population"),
        (_net(0.5), 2, "running"),
        (_net(None), 1, "running"),  # PyTorch's cumulative average: no momentum to settle
        (nn.Linear(3, 2), 1, "running"),  # nothing to recompute
    ],
)
def test_auto_chooses_population_below_one_over_momentum_updates(net, updates, want):
    assert build.bn_stats(resolve(None, []), net, updates) == want


@pytest.mark.parametrize("chosen", ["running", "population"])
def test_a_chosen_rule_is_kept(chosen):
    cfg = resolve(None, [f"model.bn_stats={chosen}"])
    assert build.bn_stats(cfg, _net(), 1) == build.bn_stats(cfg, _net(), 100) == chosen


def test_the_default_recipe_keeps_running_averages():
    """MNIST-1D in batches of 64: some 50 updates an epoch, more than 1 / 0.1."""
    cfg = resolve(None, [])
    assert cfg.model.bn_stats == "auto"
    parts = build.parts(cfg, build.load_data(cfg))
    assert parts.updates >= 10
    options = build.fit_options(cfg, parts)
    assert not options.population_statistics
    assert options.techniques["norm"]["model.bn_stats"] == "running"


def test_full_batch_rprop_validates_close_to_its_training_accuracy(tmp_path):
    """The default CNN trained by Rprop on full batches (one update an epoch), 10 epochs. With
    running averages (momentum 0.1, 10 updates) the validation accuracy stays far below the
    training accuracy (measured: 0.29 against 0.63); auto evaluates with the population
    statistics (measured: 0.70 against 0.63)."""
    common = ["optimizer.name=rprop", "train.batch_size=full", "train.epochs=10"]

    def last(stats: str) -> tuple[dict, dict]:
        out = tmp_path / stats
        summary = trainlab.train(
            None, [*common, f"model.bn_stats={stats}"], out=out, progress="quiet", test=False
        )
        rows = (out / "metrics.jsonl").read_text().splitlines()
        return json.loads(rows[-1]), summary

    auto, summary = last("auto")
    assert summary["techniques"]["norm"]["model.bn_stats"] == "population"
    assert abs(auto["val_accuracy"] - auto["train_accuracy"]) < 0.1
    running, _ = last("running")
    assert running["train_accuracy"] == auto["train_accuracy"]  # the same training
    assert running["val_accuracy"] < running["train_accuracy"] - 0.2


def test_a_bad_rule_is_one_line(capsys):
    assert main(["config", "model.bn_stats=mean"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "expected one of auto, running, population" in err
