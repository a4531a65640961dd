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
from collections.abc import Callable

import torch
from torch import nn

from .. import optim
from ..data import Splits
from ..models.layers import population_statistics
from ..runs import checkpoint
from ..runs.rundir import RunDir
from . import precision
from .batches import batches, epoch_order
from .callbacks import Callback, CallbackList, standard_callbacks
from .losses import LossFn
from .metrics import RunningMetrics, label_hits
from .progress import Progress
from .state import FitOptions, FitState, Parts


@torch.no_grad()
def evaluate_metrics(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn, batch_size: int = 4096
) -> dict[str, float | None]:
    """``loss``, ``accuracy`` and ``label_accuracy`` of ``model`` (in evaluation mode) on
    ``(x, y)``. The accuracy is None for real-valued targets (regression: the loss is the mean
    squared error). For multi-label targets y (N, C) it is the exact-match accuracy, the
    fraction of samples whose C labels are all right, and ``label_accuracy`` is the fraction of
    the N C labels that are right (a label is predicted present where its logit is > 0); it is
    None for other targets."""
    training = model.training
    model.eval()
    multilabel = y.dim() == 2
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    label_correct = torch.zeros((), dtype=torch.int64, device=x.device)
    for i in range(0, len(x), batch_size):
        z, yb = model(x[i : i + batch_size]), y[i : i + batch_size]
        loss_sum += loss_fn(z, yb) * len(z)
        if multilabel:
            hits = label_hits(z, yb)
            correct += hits.all(1).sum()
            label_correct += hits.sum()
        elif not y.is_floating_point():
            correct += (z.argmax(1) == yb).sum()
    model.train(training)
    regression = y.is_floating_point() and not multilabel
    return {
        "loss": loss_sum.item() / len(x),
        "accuracy": None if regression else correct.item() / len(x),
        "label_accuracy": label_correct.item() / y.numel() if multilabel else None,
    }


def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn, batch_size: int = 4096
) -> tuple[float, float | None]:
    """Mean loss and accuracy of ``model`` (in evaluation mode) on ``(x, y)``
    (:func:`evaluate_metrics`); the accuracy is None for real-valued targets."""
    result = evaluate_metrics(model, x, y, loss_fn, batch_size)
    return result["loss"], result["accuracy"]


def train_epoch(state: FitState, epoch: int, updates: list[Callable[[], None]]) -> dict | None:
    """One epoch of updates, then validation and the per-epoch schedule; the epoch's metrics, or
    None when a loss became NaN or infinite. ``updates``: called after every update."""
    lr = state.parts.optimizer.param_groups[0]["lr"]
    running = epoch_updates(state, updates)
    loss, accuracy = running.result()  # the epoch's one synchronization
    return end_epoch(state, epoch, loss, accuracy, lr, train_label_accuracy=running.label_accuracy)


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
    xs, ys = epoch_order(data.x_train, data.y_train, state.options.shuffle, state.shuffle)
    running, step = RunningMetrics(ys, p.loss_fn), p.step
    for xb, yb in batches(xs, ys, p.batch_size, p.min_size):
        running.add(step(xb, yb))
        for update in updates:
            update()
    return running


def end_epoch(
    state: FitState,
    epoch: int,
    train_loss: float,
    train_accuracy: float | None,
    lr: float,
    train_label_accuracy: float | None = None,
) -> dict | None:
    """After an epoch's updates: [population statistics], validation and the per-epoch
    schedule; the epoch's metrics, or None when a loss is NaN or infinite. Every way of
    computing the updates (one process, or the distributed modes) ends its epochs here.
    A regression task has no accuracies (its losses are mean squared errors); a multi-label
    task's accuracies are exact-match ones, with the per-label accuracies beside them
    (``*_label_accuracy``)."""
    p, data = state.parts, state.data
    if not math.isfinite(train_loss):
        return None
    if state.options.population_statistics:
        population_statistics(p.model, data.x_train, p.batch_size)
    metrics = {"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_accuracy}
    if data.task == "multilabel" and train_label_accuracy is not None:
        metrics["train_label_accuracy"] = train_label_accuracy
    if len(data.x_val):  # data.val_fraction = 0: no validation split, no val_* metrics
        model = state.evaluated_model()  # train.average: the averaged iterates
        val = evaluate_metrics(model, data.x_val, data.y_val, p.loss_fn)
        if not math.isfinite(val["loss"]):
            return None
        metrics.update(val_loss=val["loss"], val_accuracy=val["accuracy"])
        if data.task == "multilabel":
            metrics["val_label_accuracy"] = val["label_accuracy"]
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


def fit(
    parts: Parts,
    data: Splits,
    run: RunDir,
    options: FitOptions,
    progress: Progress,
    *,
    test: bool = True,
    on_epoch: Callable[[dict], None] | None = None,
    writes: bool = True,
    callbacks: list[Callback] = (),
    epoch_fn: EpochFn = train_epoch,
) -> tuple[nn.Module, dict]:
    """Train ``parts`` on ``data`` (or continue, if ``run`` has a checkpoint) as ``options``
    say; returns the model in its final state (best epoch's weights if ``restore_best``) and
    the summary. ``test=False`` never evaluates the test split (hyper-parameter search);
    ``on_epoch`` sees each epoch's metrics (and may raise to stop the run); ``writes=False``
    writes nothing to ``run`` (a distributed rank other than 0); ``callbacks`` run after the
    standard ones; ``epoch_fn(state, epoch, updates)``: how an epoch's updates are computed
    (default :func:`train_epoch`, one process; the distributed modes drive their workers) and
    ended (:func:`end_epoch`). ``options.threads`` > 0: PyTorch uses that many threads while it
    trains (restored afterwards); the summary records the count used."""
    threads = torch.get_num_threads()
    if options.threads:
        torch.set_num_threads(options.threads)
    try:
        return _fit(
            parts, data, run, options, progress, test, on_epoch, writes, callbacks, epoch_fn
        )
    finally:
        torch.set_num_threads(threads)


def _fit(parts, data, run, options, progress, test, on_epoch, writes, callbacks, epoch_fn):
    state = FitState.new(options, data, parts, run)
    hooks = CallbackList(standard_callbacks(options, progress, on_epoch, writes, list(callbacks)))
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
    for epoch in range(state.start, state.options.epochs + 1):
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
    model, options, run, stopper = state.parts.model, state.options, state.run, state.stopper
    device = state.data.x_train.device
    weights = best_weights(state, writes) if options.restore_best else None
    use_best = weights is not None
    if use_best:
        model.load_state_dict(weights)
    elif state.history and state.evaluated_model() is not model:  # the averaged iterates
        model.load_state_dict(state.evaluated_model().state_dict())
    tested = {"loss": None, "accuracy": None, "label_accuracy": None}
    if state.history and test:
        tested = evaluate_metrics(model, state.data.x_test, state.data.y_test, state.parts.loss_fn)
    best = state.history[stopper.best_epoch - 1] if stopper.best_epoch else {}
    multilabel = state.data.task == "multilabel"  # the accuracy is exact-match, and per label:
    labels = {"task": "multilabel", "test_label_accuracy": tested["label_accuracy"]}
    return {
        "test_loss": tested["loss"],
        "test_accuracy": tested["accuracy"],
        **(labels if multilabel else {}),
        "best_epoch": stopper.best_epoch or None,
        "best_val_accuracy": best.get("val_accuracy"),
        "best_val_loss": best.get("val_loss"),
        "monitor": stopper.monitor,
        "epochs_run": len(state.history),
        "wall_time_s": state.elapsed + time.perf_counter() - tic,
        "stopped_early": stopper.should_stop and len(state.history) < options.epochs,
        "diverged": state.diverged_at is not None,
        "diverged_at_epoch": state.diverged_at,
        "evaluated": ("best" if use_best else "last") if state.history else None,
        "parameters": sum(p.numel() for p in model.parameters()),
        "optimizer": options.optimizer,
        "lr": options.lr,
        **({"techniques": options.techniques} if options.techniques is not None else {}),
        **optim.describe(state.parts.optimizer),
        **({"average": state.parts.average.describe()} if state.parts.average else {}),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "run_dir": str(run.path),
        **(regression_baseline(state.data) if state.data.task == "regression" else {}),
    }


def regression_baseline(data: Splits) -> dict:
    """The trivial baseline of a regression task: the mean squared error of always predicting
    the training targets' mean, on the validation and test splits."""

    def mse(y: torch.Tensor) -> float:
        return float(((y.double() - data.target_mean) ** 2).mean())

    return {
        "task": "regression",
        "baseline_val_loss": mse(data.y_val) if len(data.y_val) else None,
        "baseline_test_loss": mse(data.y_test),
    }
