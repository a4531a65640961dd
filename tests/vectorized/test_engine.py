"""A group of runs trained together equals the same runs trained one at a time: the same sample
orders and dropout masks, the same numbers up to float rounding (stated per test), the same
files, early stopping per run, and checkpoints that resume alone or together."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from trainlab import api
from trainlab.config import resolve
from trainlab.errors import UserError
from trainlab.experiments.grid import train_or_resume
from trainlab.models.mlp import MLP
from trainlab.runs import checkpoint
from trainlab.vectorized import engine, group_runs, train_group, why_not, why_not_worth_it
from trainlab.vectorized.stack import Stack

# MNIST-1D is what grids of small models train on; 2 epochs of a small MLP with batch norm and
# dropout (both replayed per model), a per-update schedule, three seeds and two rates.
BASE = [
    'data.name="mnist1d"',
    "model.name=mlp",
    "model.hidden=[32,32]",
    "model.dropout=0.2",
    "model.input_dropout=0.1",
    "train.epochs=2",
    "train.batch_size=128",
    "train.threads=1",
    "train.checkpoint_seconds=0",
]
# Float tolerance: the stacked forward and backward passes sum in another order (vmap's
# batched matrix products), which moves the last bits of each step (measured: parameters
# within 5e-7 after an epoch of 57 updates); a few epochs leave the metrics within 1e-4.
# An accuracy moves by whole samples: one whose two top logits nearly tie can flip, so
# accuracies are within a few samples (0.003: 3 of 1,000 test samples).
TOLERANCE = 1e-4
ACCURACY_TOLERANCE = 3e-3


def _configs(*extra: str, seeds=(0, 1, 2), rates=(0.01, 0.03)) -> list:
    return [
        resolve(None, [*BASE, *extra, f"seed={s}", f"optimizer.lr={lr}"])
        for s in seeds
        for lr in rates
    ]


def _metrics(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def _close(a: dict, b: dict, keys) -> None:
    for key in keys:
        if a.get(key) is None or b.get(key) is None:
            assert a.get(key) == b.get(key), key
        else:
            tolerance = ACCURACY_TOLERANCE if "accuracy" in key else TOLERANCE
            assert a[key] == pytest.approx(b[key], abs=tolerance), key


def _same_runs(tmp_path: Path, configs: list) -> list[dict]:
    together = train_group([(c, tmp_path / f"g{i}") for i, c in enumerate(configs)], strict=True)
    alone = [train_or_resume(c, tmp_path / f"a{i}") for i, c in enumerate(configs)]
    for i, (g, a) in enumerate(zip(together, alone)):
        assert g["trained_together"] == len(configs)
        _close(g, a, ["test_loss", "test_accuracy", "best_val_loss", "best_epoch", "epochs_run"])
        assert g["stopped_early"] == a["stopped_early"]
        for mg, ma in zip(_metrics(tmp_path / f"g{i}"), _metrics(tmp_path / f"a{i}"), strict=True):
            _close(mg, ma, ["train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"])
        files = {p.name for p in (tmp_path / f"g{i}").iterdir()}
        assert {"config.toml", "metrics.jsonl", "summary.json", "last.pt", "best.pt"} <= files
    return together


@pytest.mark.slow
@pytest.mark.parametrize(
    "optimizer",
    [
        ["optimizer.name=adamw"],
        ["optimizer.name=sgd", "optimizer.momentum=0.9", "optimizer.nesterov=true"],
    ],
)
def test_a_group_equals_its_runs_trained_one_at_a_time(tmp_path, optimizer):
    _same_runs(tmp_path, _configs(*optimizer))


@pytest.mark.slow
def test_noise_augmentation_penalties_and_clipping_per_run(tmp_path):
    configs = [
        resolve(
            None,
            [
                *BASE,
                "optimizer.name=sgd",
                "schedule.name=constant",
                f"seed={s}",
                f"regularization.l2={l2}",
                f"regularization.input_noise={noise}",
                "regularization.weight_noise=0.01",
                "model.hidden_noise=0.05",
                "augment.shift=2",
                f"gradient_clip.max_norm={clip}",
                "gradient_noise.eta=0.01",
            ],
        )
        for s, l2, noise, clip in ((0, 0.0, 0.1, 1.0), (1, 1e-3, 0.05, 0.5), (2, 1e-2, 0.1, 2.0))
    ]
    _same_runs(tmp_path, configs)


@pytest.mark.slow
def test_early_stopping_acts_per_run(tmp_path):
    configs = [
        resolve(
            None,
            [
                *BASE,
                "train.epochs=8",
                "early_stopping.patience=1",
                "early_stopping.min_delta=0.01",
                "optimizer.name=sgd",
                f"optimizer.lr={lr}",
                "seed=3",
            ],
        )
        for lr in (0.001, 0.3)
    ]
    together = _same_runs(tmp_path, configs)
    assert together[0]["epochs_run"] != together[1]["epochs_run"]  # one stopped before the other


def test_dropout_masks_are_the_single_runs(tmp_path):
    torch.manual_seed(5)
    models = [MLP((40,), [16, 16], 10, dropout=0.5, input_dropout=0.2) for _ in range(2)]
    x = torch.randn(2, 8, 40)
    stack = Stack(models)
    stack.draw_shapes(x[0])  # its probe runs before the hooks below are there
    for m, model in enumerate(models):
        seen = []
        for layer in [mod for mod in model.modules() if isinstance(mod, torch.nn.Dropout)]:
            layer.register_forward_hook(lambda mod, i, o, seen=seen: seen.append((i[0], o)))
        torch.manual_seed(100 + m)
        model.train()(x[m])
        torch.manual_seed(100 + m)
        draws = stack.draws(m, x[m])
        assert len(draws) == len(seen) == 3
        for (before, after), mask in zip(seen, draws):
            assert torch.equal(after, before * mask)  # nn.Dropout: x * (bernoulli / (1 - p))
            assert 0 < (mask == 0).float().mean() < 1


@pytest.mark.slow
def test_an_interrupted_group_resumes_alone_or_together(tmp_path, monkeypatch):
    configs = _configs("optimizer.name=adam", "train.epochs=3", seeds=(0, 1), rates=(0.01,))
    straight = [train_or_resume(c, tmp_path / f"s{i}") for i, c in enumerate(configs)]
    real_epoch = engine._epoch

    def stop_at_third(group, epoch, stack):
        if epoch == 3:
            raise KeyboardInterrupt
        real_epoch(group, epoch, stack)

    monkeypatch.setattr(engine, "_epoch", stop_at_third)
    with pytest.raises(KeyboardInterrupt):
        train_group([(c, tmp_path / f"g{i}") for i, c in enumerate(configs)])
    monkeypatch.setattr(engine, "_epoch", real_epoch)
    assert checkpoint.load(tmp_path / "g0" / "last.pt")["epoch"] == 2
    alone = api.resume(tmp_path / "g0", progress="quiet")  # PyTorch's optimizer takes it over
    together = train_group([(c, tmp_path / f"g{i}") for i, c in enumerate(configs)])
    for resumed, reference in ((alone, straight[0]), (together[0], straight[0])):
        _close(resumed, reference, ["test_loss", "test_accuracy", "best_val_loss", "epochs_run"])
    _close(together[1], straight[1], ["test_loss", "test_accuracy", "best_val_loss"])


def test_what_cannot_train_together_falls_back_or_says_why(tmp_path):
    newton = resolve(None, [*BASE, "optimizer.name=newton"])
    assert "newton" in why_not(newton)
    recurrent = resolve(None, ['data.name="adding"', "model.name=rnn"])
    assert "recurrent" in why_not(recurrent)
    with pytest.raises(UserError, match="--vectorize on: optimizer.name = newton"):
        group_runs([newton, newton], jobs=1, strict=True)
    assert group_runs([newton, newton], jobs=1) == [[0], [1]]
    # runs of different architectures train one at a time, and the results are the same
    a, b = (resolve(None, [*BASE, f"model.hidden=[{w}]", "seed=1"]) for w in (8, 16))
    together = train_group([(a, tmp_path / "a"), (b, tmp_path / "b")])
    assert "trained_together" not in together[0]
    with pytest.raises(UserError, match="cannot train together: their models differ"):
        train_group([(a, tmp_path / "c"), (b, tmp_path / "d")], strict=True)
    assert not (tmp_path / "c").exists()  # a refused group leaves no folder


def test_groups_split_by_key_and_workers():
    configs = _configs(seeds=(0, 1, 2, 3), rates=(0.01, 0.02))  # 8 runs, one key
    other = resolve(None, [*BASE, "model.hidden=[8]"])
    groups = group_runs([*configs, other], jobs=2)
    assert sorted(len(g) for g in groups) == [1, 4, 4]
    assert sorted(i for g in groups for i in g) == list(range(9))
    assert group_runs(configs, jobs=1) == [list(range(8))]


def test_auto_groups_only_what_trains_faster_together():
    cnn = [resolve(None, ["train.epochs=1", f"seed={s}", "device=cpu"]) for s in range(8)]
    assert "compute-bound" in why_not_worth_it(cnn[0])
    assert group_runs(cnn, jobs=1) == [[i] for i in range(8)]  # auto: one at a time
    assert group_runs(cnn, jobs=1, strict=True) == [list(range(8))]  # on: together
    wide = resolve(None, [*BASE, "model.hidden=[256,256]", "device=cpu"])
    assert "256-unit" in why_not_worth_it(wide)
    assert why_not_worth_it(_configs()[0]) is None


def test_a_model_that_cannot_be_stacked_trains_alone_or_is_one_line(tmp_path, monkeypatch):
    import trainlab.vectorized.stack as stack_module

    # dropout no longer replayed: vmap refuses its random draw on the first forward pass
    monkeypatch.setattr(stack_module, "RANDOM_LAYERS", (stack_module.GaussianNoise,))
    configs = _configs("optimizer.name=sgd", seeds=(0,), rates=(0.01, 0.02))
    with pytest.raises(UserError, match="cannot train together: the model cannot be stacked"):
        train_group([(c, tmp_path / f"on{i}") for i, c in enumerate(configs)], strict=True)
    assert not any(tmp_path.iterdir())  # refused: no folder left
    results = train_group([(c, tmp_path / f"auto{i}") for i, c in enumerate(configs)])
    assert all("trained_together" not in r for r in results)  # trained one at a time
    assert all(r["epochs_run"] == 2 for r in results)
