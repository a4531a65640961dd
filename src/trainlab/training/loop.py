"""The training loop: lecture 000's recipe, "train with periodic validation and early stopping".

One epoch: the updates (:class:`~trainlab.training.step.Step`) over a fresh (seeded) order of
the training split, then [population batch-norm statistics], validation, the per-epoch schedule,
then the callbacks (:mod:`trainlab.training.callbacks`, in this order: diagnostics, model
selection and early stopping, epoch time, metrics file, progress, TensorBoard, the caller's hook
and callbacks, checkpoints). Data stays on the device as tensors, and so do the sample order
and the augmentation; on CUDA the updates never wait for the device (:func:`epoch_updates`):
the first host synchronization of an epoch is reading its training metrics.

Train loss and accuracy are averages over the epoch's training forward passes (the model in
training mode, dropout on), as most frameworks report them; the train loss is the divergence
alone, without weight penalties or auxiliary heads (``trainlab.training.metrics``). Validation
and test metrics are computed afterwards in evaluation mode. A loss that is NaN or infinite ends
the run (``FitState.diverged_at``); the callbacks then keep the last good checkpoint.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from .. import models, optim
from ..data import Splits
from ..errors import UserError
from ..models.layers import population_statistics
from ..runs import checkpoint
from ..runs.rundir import RunDir
from . import losses, precision
from .augment import Augmentation
from .batches import batch_count, batches, epoch_order
from .callbacks import Callback, CallbackList, standard_callbacks
from .early_stopping import EarlyStopping
from .losses import LossFn
from .metrics import RunningMetrics
from .progress import Progress
from .regularization import Regularization, decay_groups
from .schedules import Schedule
from .step import Step


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn,
             batch_size: int = 4096) -> tuple[float, float | None]:
    """Mean loss and accuracy of ``model`` (in evaluation mode) on ``(x, y)``; the accuracy is
    None for real-valued targets (regression: the loss is the mean squared error)."""
    training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    for i in range(0, len(x), batch_size):
        z = model(x[i:i + batch_size])
        loss_sum += loss_fn(z, y[i:i + batch_size]) * len(z)
        if not y.is_floating_point():
            correct += (z.argmax(1) == y[i:i + batch_size]).sum()
    model.train(training)
    accuracy = None if y.is_floating_point() else correct.item() / len(x)
    return loss_sum.item() / len(x), accuracy


def _uses_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm)
               or getattr(m, "batch_statistics", False)  # recurrent batch norm
               for m in model.modules())


@dataclass
class Parts:
    """What a config builds for training on a data set, seeded: the model, the divergence, the
    optimizer (inside its gradient transforms), the schedule, the step that uses them, and the
    batching that goes with them."""

    model: nn.Module
    loss_fn: LossFn
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    step: Step
    batch_size: int
    min_size: int  # a last batch smaller than this joins the one before
    updates: int  # per epoch


def build(config: dict, data: Splits) -> Parts:
    """Every part of a run, built in a fixed order from ``config["seed"]``."""
    device = data.x_train.device
    precision.check(config, device)
    torch.manual_seed(config["seed"])
    model = models.build(config, data.input_shape, data.num_classes).to(device)
    n, b = len(data.x_train), config["train"]["batch_size"]
    batch_size = n if b == "full" else min(b, n)
    min_size = 2 if _uses_batch_norm(model) else 1  # batch statistics need 2 samples
    if batch_size < min_size:
        raise UserError("train.batch_size = 1 with model.norm (or model.recurrent_norm) = 'batch': "
                        "batch norm needs at least 2 samples per batch (use a larger batch, or "
                        "'layer'/'none')")
    updates = batch_count(n, batch_size, min_size)
    optimizer = optim.build(config, decay_groups(
        model, config["regularization"]["exclude_bias_and_norm"]), updates)
    loss_fn = losses.build(config)
    schedule = Schedule(config, optimizer, updates)
    step = Step(model, loss_fn, optimizer, regularization=Regularization(config, model),
                augmentation=Augmentation(config, data.input_shape), schedule=schedule,
                aux_weight=config["loss"]["aux_weight"],
                precision=precision.Precision(config["train"]["precision"], device.type),
                forward=precision.compiled(model, device) if config["train"]["compile"] else None,
                clone_logits=config["train"]["compile"] and device.type == "cuda"
                and precision.CUDA_MODE == "reduce-overhead")
    return Parts(model, loss_fn, optimizer, schedule, step, batch_size, min_size, updates)


@dataclass
class FitState:
    """Everything the epoch loop and its callbacks share. Callbacks read it, and change what
    their docstrings say they change (``Resume`` restores it; ``ModelSelection`` sets ``stop``)."""

    config: dict
    data: Splits
    parts: Parts
    run: RunDir
    stopper: EarlyStopping
    shuffle: torch.Generator  # the sample order's own generator
    history: list[dict] = field(default_factory=list)
    start: int = 1  # the first epoch this call runs (after a resume: the one after the checkpoint)
    elapsed: float = 0.0  # seconds of training so far, earlier calls included
    epoch_started: float = 0.0  # perf_counter() at the start of the current epoch
    stop: bool = False  # end after the current epoch
    diverged_at: int | None = None
    best_weights: dict | None = None  # the best epoch's weights, if it was in this call
    pending_best: bool = False  # best_weights not yet written to best.pt
    extra: dict = field(default_factory=dict)  # a distributed mode's counters, checkpointed


def train_epoch(state: FitState, epoch: int, updates: list[Callable[[], None]]) -> dict | None:
    """One epoch of updates, then validation and the per-epoch schedule; the epoch's metrics, or
    None when a loss became NaN or infinite. ``updates``: called after every update."""
    lr = state.parts.optimizer.param_groups[0]["lr"]
    running = epoch_updates(state, updates)
    return end_epoch(state, epoch, *running.result(), lr)  # the epoch's one synchronization


def epoch_updates(state: FitState, updates: list[Callable[[], None]] = ()) -> RunningMetrics:
    """An epoch's updates over a fresh order of the training split; returns their running
    metrics, not yet read. On CUDA nothing here waits for the device (no ``.item()``, no
    copy to the host, no shape that depends on data): the host queues the whole epoch's
    kernels, and :meth:`RunningMetrics.result` is the first synchronization. Exceptions, each
    inherent to its algorithm: fp16's gradient scaler with an optimizer that has no fused
    kernel (it reads whether a gradient overflowed to skip the step), SWATS before its switch,
    irprop+ (compares losses) and Newton (solves on the host)."""
    p, data = state.parts, state.data
    p.model.train()
    xs, ys = epoch_order(data.x_train, data.y_train, state.config["train"]["shuffle"], state.shuffle)
    running, step = RunningMetrics(ys, p.loss_fn), p.step
    for xb, yb in batches(xs, ys, p.batch_size, p.min_size):
        running.add(step(xb, yb))
        for update in updates:
            update()
    return running


def end_epoch(state: FitState, epoch: int, train_loss: float, train_accuracy: float | None,
              lr: float) -> dict | None:
    """After an epoch's updates: [population statistics], validation and the per-epoch
    schedule; the epoch's metrics, or None when a loss is NaN or infinite. Every way of
    computing the updates (one process, or the distributed modes) ends its epochs here.
    A regression task has no accuracies (its losses are mean squared errors)."""
    p, data = state.parts, state.data
    if not math.isfinite(train_loss):
        return None
    if state.config["model"]["bn_stats"] == "population":
        population_statistics(p.model, data.x_train, p.batch_size)
    metrics = {"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_accuracy}
    if len(data.x_val):  # data.val_fraction = 0: no validation split, no val_* metrics
        val_loss, val_accuracy = evaluate(p.model, data.x_val, data.y_val, p.loss_fn)
        if not math.isfinite(val_loss):
            return None
        metrics.update(val_loss=val_loss, val_accuracy=val_accuracy)
    metrics["lr"] = lr
    if data.task == "regression":
        metrics.pop("train_accuracy")
        metrics.pop("val_accuracy", None)
    if getattr(p.step, "scaler", None) is None:
        p.schedule.after_epoch(metrics)
    else:  # fp16: every update of the epoch may have been skipped (one update per epoch)
        with precision.scheduler_after_skipped_step():
            p.schedule.after_epoch(metrics)
    return metrics


EpochFn = Callable[[FitState, int, list[Callable[[], None]]], "dict | None"]


def fit(config: dict, data: Splits, run: RunDir, progress: Progress, *, test: bool = True,
        on_epoch: Callable[[dict], None] | None = None, writes: bool = True,
        callbacks: list[Callback] = (), parts: Parts | None = None,
        epoch_fn: EpochFn = train_epoch) -> tuple[nn.Module, dict]:
    """Train (or continue, if ``run`` has a checkpoint) as ``config`` says; returns the model in
    its final state (best epoch's weights if ``early_stopping.restore_best``) and the summary.
    ``test=False`` never evaluates the test split (hyper-parameter search); ``on_epoch`` sees
    each epoch's metrics (and may raise to stop the run); ``writes=False`` writes nothing to
    ``run`` (a distributed rank other than 0); ``callbacks`` run after the standard ones;
    ``parts``: what :func:`build` made, if the caller built it (a distributed mode, to wrap the
    model); ``epoch_fn(state, epoch, updates)``: how an epoch's updates are computed (default
    :func:`train_epoch`, one process; the distributed modes drive their workers) and ended
    (:func:`end_epoch`). ``train.threads`` > 0: PyTorch uses that many threads while it
    trains (restored afterwards); the summary records the count used."""
    threads = torch.get_num_threads()
    if config["train"]["threads"]:
        torch.set_num_threads(config["train"]["threads"])
    try:
        return _fit(config, data, run, progress, test, on_epoch, writes, callbacks, parts,
                    epoch_fn)
    finally:
        torch.set_num_threads(threads)


def _fit(config, data, run, progress, test, on_epoch, writes, callbacks, parts, epoch_fn):
    es = config["early_stopping"]
    state = FitState(config, data, parts or build(config, data), run,
                     EarlyStopping(es["monitor"], es["patience"], es["min_delta"]),
                     torch.Generator().manual_seed(config["seed"]))
    hooks = CallbackList(standard_callbacks(config, progress, on_epoch, writes, list(callbacks)))
    try:
        hooks.on_fit_start(state)
        run_epochs(state, hooks, epoch_fn)
    except BaseException:  # a hook raised (search's pruner), or Ctrl-C: release, write nothing
        hooks.on_fit_abort(state)
        raise
    hooks.on_fit_end(state)
    return state.parts.model, finish(state, test, writes)


def run_epochs(state: FitState, hooks: CallbackList, epoch_fn: EpochFn = train_epoch) -> None:
    """The epochs from ``state.start`` to ``train.epochs``, until a callback sets ``stop`` or
    the loss diverges."""
    updates = hooks.per_update()
    for epoch in range(state.start, state.config["train"]["epochs"] + 1):
        if state.stop:
            break
        state.epoch_started = time.perf_counter()
        hooks.on_epoch_start(state, epoch)
        metrics = epoch_fn(state, epoch, updates)
        if metrics is None:
            state.diverged_at = epoch
            break
        state.history.append(metrics)
        hooks.on_epoch_end(state, metrics)
        state.elapsed += time.perf_counter() - state.epoch_started  # checkpoints included


def best_weights(state: FitState, writes: bool) -> dict | None:
    """The best epoch's weights: kept in memory if that epoch was in this call, else (after a
    resume) read from best.pt; None if there is none."""
    if state.best_weights is not None:
        return state.best_weights
    if writes and state.run.best.exists():
        return checkpoint.load(state.run.best, state.data.x_train.device)["model"]
    return None


def finish(state: FitState, test: bool, writes: bool = True) -> dict:
    """Load the best weights if asked, evaluate once on the test split, and summarize."""
    tic = time.perf_counter()
    model, config, run, stopper = state.parts.model, state.config, state.run, state.stopper
    device = state.data.x_train.device
    weights = best_weights(state, writes) if config["early_stopping"]["restore_best"] else None
    use_best = weights is not None
    if use_best:
        model.load_state_dict(weights)
    test_loss = test_accuracy = None
    if state.history and test:
        test_loss, test_accuracy = evaluate(model, state.data.x_test, state.data.y_test,
                                            state.parts.loss_fn)
    best = state.history[stopper.best_epoch - 1] if stopper.best_epoch else {}
    return {
        "test_loss": test_loss, "test_accuracy": test_accuracy,
        "best_epoch": stopper.best_epoch or None,
        "best_val_accuracy": best.get("val_accuracy"), "best_val_loss": best.get("val_loss"),
        "monitor": stopper.monitor, "epochs_run": len(state.history),
        "wall_time_s": state.elapsed + time.perf_counter() - tic,
        "stopped_early": stopper.should_stop and len(state.history) < config["train"]["epochs"],
        "diverged": state.diverged_at is not None, "diverged_at_epoch": state.diverged_at,
        "evaluated": ("best" if use_best else "last") if state.history else None,
        "parameters": sum(p.numel() for p in model.parameters()),
        "optimizer": config["optimizer"]["name"], "lr": config["optimizer"]["lr"],
        **optim.describe(state.parts.optimizer),
        "device": str(device), "threads": torch.get_num_threads(),
        "torch_version": torch.__version__, "run_dir": str(run.path),
        **(regression_baseline(state.data) if state.data.task == "regression" else {}),
    }


def regression_baseline(data: Splits) -> dict:
    """The trivial baseline of a regression task: the mean squared error of always predicting
    the training targets' mean, on the validation and test splits."""
    def mse(y: torch.Tensor) -> float:
        return float(((y.double() - data.target_mean) ** 2).mean())
    return {"task": "regression",
            "baseline_val_loss": mse(data.y_val) if len(data.y_val) else None,
            "baseline_test_loss": mse(data.y_test)}
