"""Small pieces the claim experiments share, built on trainlab's own: a resolved config, a toy
data set as tensors, a model and optimizer from the config (``trainlab.models``,
``trainlab.optim``), a quadratic bowl as a module so that :class:`trainlab.training.step.Step`
can minimize it, and one training loop on batches."""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import build, data
from ..config import Config, resolve
from ..training.step import Step

PLAIN = [
    'model.name="mlp"',
    'model.norm="none"',
    "model.dropout=0.0",
    "optimizer.weight_decay=0.0",
    'optimizer.name="sgd"',
]


def config(seed: int, *overrides: str) -> Config:
    """trainlab's default config with the plain settings (no norm, dropout or decay; SGD), then
    ``overrides``, and ``seed``. Both act as presets: a setting the chosen model, optimizer or
    schedule does not read is left out (it was ignored before trainlab refused such keys; the
    claims' measurements are unchanged)."""
    return resolve(None, [f"seed={seed}"], presets=[*PLAIN, *overrides])


def toy(cfg: Config) -> tuple[torch.Tensor, torch.Tensor]:
    """The config's toy data set (moons, circles, spirals, xor) as (x, y) tensors."""
    arrays = data.read(cfg.data.name, cfg.seed, cfg.data.to_dict())
    return torch.from_numpy(arrays.x), torch.from_numpy(arrays.y)


def model_step(cfg: Config, x: torch.Tensor) -> tuple[nn.Module, Step]:
    """The config's model (seeded) and a :class:`Step` with its loss and optimizer."""
    torch.manual_seed(cfg.seed)
    model = build.model(cfg, tuple(x.shape[1:]), 2)
    step = Step(model, build.loss(cfg), build.optimizer(cfg, model.parameters()))
    return model, step


def train_losses(
    step: Step, x: torch.Tensor, y: torch.Tensor, steps: int, batch: int, seed: int
) -> list[float]:
    """``steps`` updates on random minibatches of ``batch`` samples; the batch losses."""
    g = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        i = torch.randint(len(x), (batch,), generator=g)
        step(x[i], y[i])
        value = step.loss.item()
        losses.append(value if math.isfinite(value) else math.inf)
        if not math.isfinite(value):
            break
    return losses


class Quadratic(nn.Module):
    """f(w) = 1/2 w' A w with A = Q diag(eigenvalues) Q' (Q a seeded random rotation), starting
    at a seeded random w; ``forward`` returns w so that :meth:`loss` is the Step's loss."""

    def __init__(self, eigenvalues, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        n = len(eigenvalues)
        q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
        self.register_buffer(
            "a", q @ torch.diag(torch.as_tensor(eigenvalues, dtype=torch.float64)) @ q.T
        )
        self.w = nn.Parameter(torch.randn(n, generator=g, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w

    def loss(self, w: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return 0.5 * w @ self.a @ w


def quadratic_step(bowl: Quadratic, seed: int, *overrides: str) -> Step:
    """A Step minimizing ``bowl`` with the optimizer the overrides name."""
    cfg = config(seed, *overrides)
    return Step(bowl, bowl.loss, build.optimizer(cfg, bowl.parameters()))


NO_DATA = torch.zeros(1)


def whole_run_config(seed: int, *overrides: str) -> Config:
    """The config of :func:`whole_run`: the plain settings, ``seed``, one thread, a constant
    rate, no checkpoints, then ``overrides``."""
    return config(
        seed,
        "train.threads=1",
        'schedule.name="constant"',
        "train.checkpoint_seconds=1e9",
        *overrides,
    )


def whole_runs(runs: list[tuple[int, list[str]]]) -> list[tuple[dict, list[dict]]]:
    """:func:`whole_run` of each ``(seed, overrides)``; those that differ only in seed and
    numeric hyperparameters train together in one vectorized group
    (:func:`trainlab.vectorized.train_group`: each as if alone, to float rounding)."""
    import json
    import tempfile
    from pathlib import Path

    from ..vectorized import group_runs, train_group

    configs = [whole_run_config(seed, *overrides) for seed, overrides in runs]
    results: list[tuple[dict, list[dict]] | None] = [None] * len(runs)
    with tempfile.TemporaryDirectory() as folder:
        for group in group_runs(configs, jobs=1):
            if len(group) == 1:
                i = group[0]
                results[i] = whole_run(runs[i][0], *runs[i][1])
                continue
            folders = [Path(folder) / f"run-{i}" for i in group]
            summaries = train_group([(configs[i], f) for i, f in zip(group, folders)])
            for i, f, summary in zip(group, folders, summaries):
                lines = (f / "metrics.jsonl").read_text().splitlines()
                results[i] = (summary, [json.loads(line) for line in lines])
    return results


def whole_run(seed: int, *overrides: str, out: str | None = None) -> tuple[dict, list[dict]]:
    """One whole trainlab run (:func:`trainlab.api.train`: data, model, Step, loop, evaluation)
    with the plain overrides, ``seed``, one thread, a constant rate, no checkpoints and then
    ``overrides``: its summary (``test_accuracy``, ``best_val_accuracy``, ``parameters``...) and
    its per-epoch metrics. The run folder is ``out`` if given (kept), else a temporary one."""
    import tempfile

    from .. import api

    cfg = whole_run_config(seed, *overrides)
    epochs: list[dict] = []
    if out is not None:
        return api.train(cfg, out=out, progress="quiet", on_epoch=epochs.append), epochs
    with tempfile.TemporaryDirectory() as folder:
        summary = api.train(cfg, out=f"{folder}/run", progress="quiet", on_epoch=epochs.append)
    return summary, epochs
