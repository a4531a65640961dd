"""summary.json["techniques"]: every technique a run used, with its values."""

import json

from trainlab.cli import main
from trainlab.config import resolve
from trainlab.config.techniques import line, techniques

from tests.conftest import FAST


def test_the_fast_run_lists_exactly_what_it_uses():
    used = techniques(resolve(None, FAST))
    assert used == {
        "optimizer": {
            "optimizer.name": "sgd",
            "optimizer.lr": 0.1,
            "optimizer.momentum": 0.9,
            "optimizer.nesterov": False,
            "optimizer.weight_decay": 0.0,
            "optimizer.momentum_form": "torch",
        },
        "schedule": {"schedule.name": "constant"},
        "batches": {"train.batch_size": 32, "train.epochs": 4},
        "dropout": {"model.dropout": 0.1, "model.dropout_mode": "inverted"},
    }
    assert line(used).startswith("optimizer: name=sgd, lr=0.1, momentum=0.9, nesterov=false")


def test_the_default_recipe_shows_its_extras():
    used = techniques(resolve(None, []))
    assert used["schedule"] == {"schedule.name": "one_cycle", "schedule.every": "update"}
    assert used["optimizer"]["optimizer.weight_decay"] > 0
    assert used["norm"]["model.norm"] == "batch" and "model.bn_stats" in used["norm"]
    assert used["dropout"]["model.dropout"] == 0.1


def test_groups_appear_when_switched_on_and_applicable():
    used = techniques(
        resolve(
            None,
            [
                "model.name=linear",  # reads no dropout or norm: they are not used
                "gradient_clip.max_norm=1",
                "augment.noise=0.1",
                "train.average=ema",
                "early_stopping.patience=3",
                "schedule.name=inverse_time",
                "schedule.every=update",
            ],
        )
    )
    assert "dropout" not in used and "norm" not in used
    assert used["clipping"] == {"gradient_clip.max_norm": 1.0}
    assert used["augmentation"] == {"augment.noise": 0.1}
    assert used["averaging"] == {
        "train.average": "ema",
        "train.average_start": 0.5,
        "train.average_decay": 0.999,
    }
    assert used["early_stopping"] == {"early_stopping.patience": 3}
    assert used["schedule"] == {
        "schedule.name": "inverse_time",
        "schedule.decay": 0.1,
        "schedule.every": "update",
    }


def test_the_summary_and_the_printed_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *FAST, "train.epochs=1", "--out", str(out), "--progress", "quiet"]) == 0
    printed = capsys.readouterr().out.splitlines()
    config = resolve(out / "config.toml")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["techniques"] == techniques(config)
    assert f"used: {line(techniques(config))}" in printed


def test_lecture_001_cnn_parts_are_listed_when_set():
    from trainlab.config import resolve
    from trainlab.config.techniques import techniques

    plain_cnn = techniques(resolve(None, []))
    assert "cnn" not in plain_cnn  # max pooling by 2: the default, nothing to say
    used = techniques(
        resolve(None, ["model.pool=sum", "model.pool_size=3", "model.maxout_pieces=2"])
    )
    assert used["cnn"] == {"model.pool": "sum", "model.pool_size": 3, "model.maxout_pieces": 2}
