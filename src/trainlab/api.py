"""trainlab as a library: the same runs as the CLI, from Python.

>>> import trainlab
>>> summary = trainlab.train({"train": {"epochs": 5}}, ["optimizer.name=sgd", "optimizer.lr=0.1"])
>>> summary["test_accuracy"]
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from . import build, distributed
from .config import Config, resolve
from .errors import UserError
from .runs import checkpoint
from .runs.rundir import RunDir
from .training.loop import evaluate as evaluate_model
from .training.loop import fit as fit_parts
from .training.progress import Progress


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("device = 'cuda' but CUDA is not available here (use auto or cpu)")
    return torch.device(name)


def train(config: dict | Config | str | Path | None = None,
          overrides: list[str] | dict | None = None, *, out: str | Path | None = None,
          progress: str = "auto", test: bool = True, on_epoch=None, callbacks=()) -> dict:
    """Train a new run; returns its summary (also written to ``<out>/summary.json``).

    ``config``: a nested dict, a :class:`Config` or a TOML file, over the defaults;
    ``overrides``: ``key=value`` strings or a ``{"dotted.key": value}`` dict, over that;
    ``out``: the run folder (default ``runs/<timestamp>``); ``progress``: ``auto``, ``bar``,
    ``lines`` or ``quiet``; ``test=False``: never evaluate on the test split; ``on_epoch(metrics)``:
    called after every epoch; ``callbacks``: :class:`~trainlab.training.callbacks.Callback`
    objects run after the standard ones.
    """
    cfg = resolve(config, overrides)
    device = build.device(cfg)
    build.check_device(cfg, device)  # before the folder exists, as bad data below
    splits = build.load_data(cfg, device)  # before the folder exists: bad data leaves nothing
    if cfg.distributed.mode == "ddp":  # every rank gets here; rank 0 alone makes the folder
        from . import distributed

        return distributed.train(cfg, splits, out, progress, test=test, on_epoch=on_epoch)
    return _run(cfg, splits, RunDir.create(out, cfg), progress, test=test, on_epoch=on_epoch,
                callbacks=callbacks)


def resume(run_dir: str | Path, *, progress: str = "auto", test: bool = True,
           on_epoch=None) -> dict:
    """Continue an interrupted run from its last checkpoint (or from the start if it has none).
    The result equals that of a run that was never interrupted (on CPU). A finished run's
    summary is returned as it is. ``test`` and ``on_epoch`` as for :func:`train`."""
    run = RunDir.open(run_dir)
    done = run.read_summary()
    if done is not None:
        return done
    cfg = run.read_config()
    return _run(cfg, build.load_data(cfg, build.device(cfg)), run, progress, test=test,
                on_epoch=on_epoch)


def _run(cfg: Config, splits, run: RunDir, progress: str, *, callbacks=(), **options) -> dict:
    if cfg.distributed.mode != "none":
        from . import distributed

        return distributed.train(cfg, splits, run, progress, **options)
    parts = build.parts(cfg, splits)
    _, summary = fit_parts(parts, splits, run, build.fit_options(cfg),
                           Progress(cfg.train.epochs, progress), callbacks=list(callbacks),
                           **options)
    run.write_summary(summary)
    return summary


def load_model(run_dir: str | Path, which: str = "best", device: str = "cpu") -> nn.Module:
    """The model of a run, with the weights of its ``best`` or ``last`` checkpoint."""
    run = RunDir.open(run_dir)
    cfg = run.read_config()
    splits = build.load_data(cfg, "cpu")
    return _load(run, cfg, splits, which, torch.device(device))


def _load(run: RunDir, cfg: Config, splits, which: str, device: torch.device):
    if which not in ("best", "last"):
        raise UserError(f"checkpoint {which!r}: expected best or last")
    model = build.model(cfg, splits.input_shape, splits.num_classes).to(device)
    path = run.best if which == "best" else run.last
    if not path.exists():
        raise UserError(f"{str(run.path)!r} has no {path.name} (no epoch has finished)")
    model.load_state_dict(checkpoint.load(path, device)["model"])
    return model


def evaluate(run_dir: str | Path, which: str = "best", device: str | None = None) -> dict:
    """Test loss and accuracy of a run's ``best`` (or ``last``) checkpoint on its test split."""
    run = RunDir.open(run_dir)
    cfg = run.read_config()
    dev = resolve_device(device or cfg.device)
    splits = build.load_data(cfg, dev)
    model = _load(run, cfg, splits, which, dev)
    loss, accuracy = evaluate_model(model, splits.x_test, splits.y_test,
                                    build.loss(cfg, splits.task))
    return {"checkpoint": which, "test_loss": loss, "test_accuracy": accuracy,
            "samples": len(splits.x_test)}
