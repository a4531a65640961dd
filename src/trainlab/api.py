"""trainlab as a library: the same runs as the CLI, from Python.

>>> import trainlab
>>> summary = trainlab.train({"train": {"epochs": 5}}, ["optimizer.name=sgd", "optimizer.lr=0.1"])
>>> summary["test_accuracy"]
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import build, distributed
from .config import PLAIN, Config, dumps, replace, resolve
from .data import Arrays
from .data.prepare import check, task_of_targets
from .errors import UserError
from .imports import is_import_path
from .runs import checkpoint
from .runs.atomic import atomic_write_text
from .runs.rundir import RunDir, refuse_other_config
from .training import mc_dropout as monte_carlo
from .training.loop import evaluate_metrics, fit as fit_parts
from .training.progress import Progress


def train(
    config: dict | Config | str | Path | None = None,
    overrides: list[str] | dict | None = None,
    *,
    out: str | Path | None = None,
    progress: str = "auto",
    test: bool = True,
    on_epoch=None,
    callbacks=(),
    plain: bool = False,
) -> dict:
    """Train a new run; returns its summary (also written to ``<out>/summary.json``).

    ``config``: a nested dict, a :class:`Config` or a TOML file, over the defaults;
    ``overrides``: ``key=value`` strings or a ``{"dotted.key": value}`` dict, over that;
    ``out``: the run folder (default ``runs/<timestamp>``); ``progress``: ``auto``, ``bar``,
    ``lines`` or ``quiet``; ``test=False``: never evaluate on the test split; ``on_epoch(metrics)``:
    called after every epoch; ``callbacks``: :class:`~trainlab.training.callbacks.Callback`
    objects run after the standard ones; ``plain=True``: the bare algorithm of the lectures
    (:data:`trainlab.config.PLAIN`: constant rate, no decay, dropout, norm, augmentation, noise,
    penalties, clipping or early stopping), as presets under ``config`` and ``overrides``.
    """
    cfg = resolve(config, overrides, presets=PLAIN if plain else None)
    device = build.device(cfg)
    build.check_device(cfg, device)  # before the folder exists, as bad data below
    splits = build.load_data(cfg, device)  # before the folder exists: bad data leaves nothing
    if distributed.MODES[
        cfg.distributed.mode
    ].torchrun:  # every rank gets here; rank 0 makes the folder
        return distributed.train(cfg, splits, out, progress, test=test, on_epoch=on_epoch)
    with RunDir.create(out, cfg) as run:
        try:
            return _run(
                cfg, splits, run, progress, test=test, on_epoch=on_epoch, callbacks=callbacks
            )
        except Exception:
            run.discard_if_unstarted()  # a mistake found while building the run leaves nothing
            raise


def resume(
    run_dir: str | Path, *, progress: str = "auto", test: bool = True, on_epoch=None
) -> dict:
    """Continue an interrupted run from its last checkpoint (or from the start if it has none).
    The result equals that of a run that was never interrupted (on CPU). A finished run's
    summary is returned as it is. ``test`` and ``on_epoch`` as for :func:`train`."""
    writer = os.environ.get("RANK", "0") == "0"  # under torchrun, rank 0 writes the run
    with RunDir.open(run_dir, write=writer) as run:
        done = run.read_summary()
        if done is not None:
            return done
        run.check_config(run.last)
        cfg = run.read_config()
        splits = build.load_data(cfg, build.device(cfg))
        return _run(cfg, splits, run, progress, test=test, on_epoch=on_epoch)


def train_or_resume(config: Config, folder: Path, *, test: bool = True, on_epoch=None) -> dict:
    """Train, resume or read the run in ``folder``; returns its summary. Finished
    (``summary.json``): read. Unfinished (``config.toml``): resumed. Otherwise: trained.
    ``test=False`` and ``on_epoch`` as in :func:`trainlab.api.train` (search's trials)."""
    refuse_other_config(Path(folder), config)
    run = RunDir(folder)
    if run.config.exists():
        done = run.read_summary()
        if done is not None:
            return done
        return resume(folder, progress="quiet", test=test, on_epoch=on_epoch)
    return train(config, out=folder, progress="quiet", test=test, on_epoch=on_epoch)


def _run(
    cfg: Config, splits, run: RunDir, progress: str, *, callbacks=(), net=None, **options
) -> dict:
    """Train ``run`` on ``splits`` (``net``: the caller's own model) and write its summary."""
    if cfg.distributed.mode != "none":
        return distributed.train(cfg, splits, run, progress, **options)
    parts = build.parts(cfg, splits, net=net)
    _, summary = fit_parts(
        parts,
        splits,
        run,
        build.fit_options(cfg, parts),
        Progress(cfg.train.epochs, progress),
        callbacks=list(callbacks),
        **options,
    )
    run.write_summary(summary)
    return summary


def fit(
    model: nn.Module,
    train: tuple,
    val: tuple | None = None,
    test: tuple | None = None,
    *,
    config: dict | Config | str | Path | None = None,
    overrides: list[str] | dict | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    callbacks=(),
    progress: str = "auto",
    on_epoch=None,
) -> dict:
    """Train the caller's own ``model`` in place, with every technique of the config (the
    optimizer, schedule, loss, regularization, augmentation, early stopping and model selection,
    checkpoints); returns the summary, as :func:`train` does.

    ``train``, ``val``, ``test``: ``(x, y)`` pairs of NumPy arrays or tensors (integer labels:
    classification; real targets: regression; a 0/1 matrix (N, C): multi-label), checked as
    every data set is. ``val=None``
    holds out ``data.val_fraction`` of ``train``; ``test=None`` holds out ``data.test_fraction``
    for the final evaluation (as for a source without a test split). ``config`` and
    ``overrides`` as for :func:`train`; the ``model.*`` architecture keys do not apply (the
    model is yours). The run folder ``out`` records the data (``data.npz``, read back as
    ``data.name = npz``) and the model's class as ``model.name = module:Class``: ``evaluate``
    and ``load_model`` rebuild it when ``Class(input_shape=..., num_classes=...)`` makes it
    (else they say so in one line; pass ``model=`` to them instead). ``resume=True`` continues
    the run in ``out`` from its last checkpoint, with this ``model`` and the recorded data.

    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(40, 10))
    >>> summary = trainlab.fit(net, train=(x, y), overrides=["optimizer.name=sgd"])
    """
    if resume:
        run = RunDir.open(out, write=True)
        done = run.read_summary()
        if done is not None:
            run.close()
            return done
        run.check_config(run.last)
        cfg = run.read_config()
    else:
        cls = type(model)
        cfg = resolve(config, overrides)
        if is_import_path(cfg.data.name) or cfg.data.name != "mnist1d" or cfg.data.path:
            raise UserError(
                f"data.name = {cfg.data.name!r}: trainlab.fit trains on the arrays "
                "it is given (train=, val=, test=); leave data.name unset"
            )
        if cfg.distributed.mode != "none":
            raise UserError(
                f"distributed.mode = {cfg.distributed.mode!r}: trainlab.fit trains in one "
                "process (use trainlab train for the distributed modes)"
            )
        cfg = resolve(
            cfg.to_dict(),
            {
                "model.name": f"{cls.__module__}:{cls.__qualname__}",
                "data.name": "npz",
                "data.path": "data.npz",
            },
        )
        arrays = _arrays(train, val, test)
        check(
            Arrays(
                arrays["x"],
                arrays["y"],
                arrays.get("x_test"),
                arrays.get("y_test"),
                "trainlab.fit",
                str(arrays["task"]),
                arrays.get("x_val"),
                arrays.get("y_val"),
            ),
            cfg.data.remap_labels,
        )  # bad data leaves no folder behind
        run = RunDir.create(out, cfg)
        try:
            path = str((run.path / "data.npz").resolve())
            _save_arrays(run.path / "data.npz", arrays)
            cfg = replace(cfg, **{"data.path": path})
            atomic_write_text(run.config, dumps(cfg))
        except BaseException:
            (run.path / "data.npz").unlink(missing_ok=True)
            run.discard_if_unstarted()
            raise
    with run:
        device = build.device(cfg)
        build.check_device(cfg, device)
        splits = build.load_data(cfg, device)
        return _run(cfg, splits, run, progress, callbacks=callbacks, net=model, on_epoch=on_epoch)


def _arrays(train: tuple, val: tuple | None, test: tuple | None) -> dict[str, np.ndarray]:
    """The caller's splits as NumPy arrays ``x``, ``y``, ``x_val``, ``y_val``, ``x_test``,
    ``y_test``, and the ``task`` their targets' type says (real: regression; a 2-D 0/1
    matrix: multilabel)."""
    arrays = {}
    for split, pair in (("", train), ("_val", val), ("_test", test)):
        if pair is None:
            continue
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise UserError(
                f"trainlab.fit: {split.strip('_') or 'train'} = {type(pair).__name__}; "
                "expected an (x, y) pair of arrays or tensors"
            )
        for name, value in zip(("x", "y"), pair):
            if isinstance(value, torch.Tensor):
                value = value.detach().cpu().numpy()
            arrays[name + split] = np.asarray(value)
    arrays["task"] = np.array(task_of_targets(arrays["y"]))
    return arrays


def _save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``arrays`` as one .npz, written atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    tmp.replace(path)


def load_model(
    run_dir: str | Path, which: str = "best", device: str = "cpu", model: nn.Module | None = None
) -> nn.Module:
    """The model of a run, with the weights of its ``best`` or ``last`` checkpoint: rebuilt from
    the run's config, or ``model`` (yours, of the run's architecture) with them loaded."""
    run = RunDir.open(run_dir)
    run.check_config(run.best if which == "best" else run.last)
    cfg = run.read_config()
    splits = build.load_data(cfg, "cpu")
    return _load(run, cfg, splits, which, torch.device(device), model)


def _load(
    run: RunDir,
    cfg: Config,
    splits,
    which: str,
    device: torch.device,
    model: nn.Module | None = None,
):
    if which not in ("best", "last"):
        raise UserError(f"checkpoint {which!r}: expected best or last")
    if model is None:
        try:
            model = build.model(cfg, splits.input_shape, splits.num_classes)
        except UserError as e:
            if not is_import_path(cfg.model.name):
                raise
            raise UserError(
                f"{e} (the run's model cannot be rebuilt from its config: pass "
                "model=, an instance of its architecture, to load the weights)"
            ) from None
    model = model.to(device)
    path = run.best if which == "best" else run.last
    if not path.exists():
        raise UserError(f"{str(run.path)!r} has no {path.name} (no epoch has finished)")
    saved = checkpoint.load(path, device)
    try:
        model.load_state_dict(saved["model"])
    except checkpoint.MISMATCH as e:  # weights of another architecture than the config's
        raise checkpoint.mismatch(
            path, e, f"restore config.toml, or pass model= (model.name = {cfg.model.name!r})"
        ) from None
    return model


def evaluate(
    run_dir: str | Path,
    which: str = "best",
    device: str | None = None,
    model: nn.Module | None = None,
    *,
    mc_dropout: int = 0,
) -> dict:
    """Test loss and accuracy of a run's ``best`` (or ``last``) checkpoint on its test split
    (``model``: yours, of the run's architecture, instead of one rebuilt from the config).
    ``mc_dropout`` = N > 0: also Monte Carlo dropout's, the mean of N stochastic passes
    (:mod:`trainlab.training.mc_dropout`, masks from the run's seed), under ``"mc_dropout"``
    with its differences from the deterministic test-time rule."""
    if isinstance(mc_dropout, bool) or not isinstance(mc_dropout, int) or mc_dropout < 0:
        raise UserError(
            f"mc_dropout = {mc_dropout!r}: expected an integer >= 1 (stochastic passes), "
            "or 0 for none"
        )
    run = RunDir.open(run_dir)
    run.check_config(run.best if which == "best" else run.last)
    cfg = run.read_config()
    dev = build.device(cfg) if device is None else build.device_named(device)
    splits = build.load_data(cfg, dev)
    model = _load(run, cfg, splits, which, dev, model)
    tested = evaluate_metrics(
        model,
        splits.x_test,
        splits.y_test,
        build.loss(cfg, splits.task, labels=splits.y_train, classes=splits.num_classes),
    )
    result = {
        "checkpoint": which,
        "test_loss": tested["loss"],
        "test_accuracy": tested["accuracy"],
        "samples": len(splits.x_test),
    }
    if splits.task == "multilabel":  # the accuracy is exact-match; and per label:
        result["test_label_accuracy"] = tested["label_accuracy"]
    if mc_dropout:
        loss_fn = build.loss(cfg, splits.task, labels=splits.y_train, classes=splits.num_classes)
        result["mc_dropout"] = _mc_dropout(model, cfg, splits, mc_dropout, loss_fn, result)
    return result


def _mc_dropout(model, cfg: Config, splits, passes: int, loss_fn, deterministic: dict) -> dict:
    """Monte Carlo dropout on the test split beside the deterministic rule's ``deterministic``
    result: its loss and accuracy, and each minus the deterministic one."""
    if splits.task not in ("classification", "regression"):
        raise UserError(
            f"--mc-dropout: for single-label classification and regression (got task "
            f"{splits.task!r})"
        )
    loss, accuracy = monte_carlo.evaluate(
        model, splits.x_test, splits.y_test, loss_fn, passes, cfg.seed
    )
    det_accuracy = deterministic["test_accuracy"]
    return {
        "passes": passes,
        "seed": cfg.seed,
        "dropout_mode": cfg.model.dropout_mode,
        "dropout_layers": len(monte_carlo.dropout_layers(model)),
        "test_loss": loss,
        "test_accuracy": accuracy,
        "loss_difference": loss - deterministic["test_loss"],
        "accuracy_difference": None if accuracy is None else accuracy - det_accuracy,
    }
