"""The training loop: lecture 000's recipe, "train with periodic validation and early stopping".

One update, top to bottom: batch -> [augmentation, input noise, weight noise] -> model -> loss
[+ auxiliary heads' losses + penalties] -> backward -> [clean weights back] -> optimizer step
(gradient clipping and noise wrap it) -> schedule.
One epoch: the updates over a fresh (seeded) order of the training split, then validation, then
model selection / early stopping, then the checkpoint. Data stays on the device as tensors; the
only host synchronization per epoch is reading the epoch's metrics.

Train loss and accuracy are averages over the epoch's training forward passes (the model in
training mode, dropout on), as most frameworks report them; the train loss is the divergence
alone, without weight penalties or auxiliary heads (``trainlab.metrics``). Validation and test
metrics are computed afterwards in evaluation mode.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..runs import checkpoint

from . import losses

from .. import models, optim
from ..experiments import diagnostics as diag
from ..runs.atomic import atomic_write_text
from .augment import Augmentation
from .batches import batch_count, batches, epoch_order
from ..data import Splits
from .early_stopping import EarlyStopping
from ..errors import UserError
from .losses import LossFn
from .metrics import RunningMetrics
from ..models.layers import population_statistics
from .progress import Progress
from .regularization import Regularization, decay_groups
from ..runs.rundir import RunDir
from .schedules import Schedule


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn,
             batch_size: int = 4096) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` (in evaluation mode) on ``(x, y)``."""
    training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    for i in range(0, len(x), batch_size):
        z = model(x[i:i + batch_size])
        loss_sum += loss_fn(z, y[i:i + batch_size]) * len(z)
        correct += (z.argmax(1) == y[i:i + batch_size]).sum()
    model.train(training)
    return loss_sum.item() / len(x), correct.item() / len(x)


def _tensorboard(run: RunDir, start: int):
    """A TensorBoard writer for the run; events of epochs from ``start`` on (being redone after a
    resume) are dropped."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UserError("logging.tensorboard = true needs the tensorboard package: "
                        "pip install tensorboard") from None
    return SummaryWriter(str(run.path / "tensorboard"), purge_step=start)


def _uses_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@dataclass
class Parts:
    """What a config builds for training on a data set, seeded: model, loss, optimizer, and the
    batching that goes with them."""

    model: nn.Module
    loss_fn: LossFn
    optimizer: torch.optim.Optimizer
    batch_size: int
    min_size: int  # a last batch smaller than this joins the one before
    updates: int  # per epoch


def build(config: dict, data: Splits) -> Parts:
    torch.manual_seed(config["seed"])
    model = models.build(config, data.input_shape, data.num_classes).to(data.x_train.device)
    n, b = len(data.x_train), config["train"]["batch_size"]
    batch_size = n if b == "full" else min(b, n)
    min_size = 2 if _uses_batch_norm(model) else 1  # batch statistics need 2 samples
    if batch_size < min_size:
        raise UserError("train.batch_size = 1 with model.norm = 'batch': batch norm needs at least "
                        "2 samples per batch (use a larger batch, or model.norm = 'layer'/'none')")
    updates = batch_count(n, batch_size, min_size)
    optimizer = optim.build(config, decay_groups(
        model, config["regularization"]["exclude_bias_and_norm"]), updates)
    return Parts(model, losses.build(config), optimizer, batch_size, min_size, updates)


def fit(config: dict, data: Splits, run: RunDir, progress: Progress, *, test: bool = True,
        on_epoch: Callable[[dict], None] | None = None) -> tuple[nn.Module, dict]:
    """Train (or continue, if ``run`` has a checkpoint) as ``config`` says; returns the model in
    its final state (best epoch's weights if ``early_stopping.restore_best``) and the summary.
    ``test=False`` never evaluates the test split (hyper-parameter search); ``on_epoch`` sees
    each epoch's metrics (and may raise to stop the run)."""
    t, device = config["train"], data.x_train.device
    parts = build(config, data)
    model, loss_fn, optimizer = parts.model, parts.loss_fn, parts.optimizer
    batch_size, min_size, updates = parts.batch_size, parts.min_size, parts.updates
    regularization = Regularization(config, model)
    augmentation = Augmentation(config, data.input_shape)
    aux_weight = config["loss"]["aux_weight"]
    population_bn = config["model"]["bn_stats"] == "population"
    needs_loss = optim.needs_loss(optimizer)
    schedule = Schedule(config, optimizer, updates)
    per_update_schedule = schedule.acts_per_update
    es = config["early_stopping"]
    stopper = EarlyStopping(es["monitor"], es["patience"], es["min_delta"])
    shuffle_gen = torch.Generator().manual_seed(config["seed"])
    history: list[dict] = []
    elapsed, start = 0.0, 1

    if run.last.exists():  # resume: every piece of state as it was after the checkpointed epoch
        state = checkpoint.load(run.last, device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        stopper.load_state_dict(state["early_stopping"])
        checkpoint.set_rng_state(state["rng"], shuffle_gen)
        history, elapsed, start = state["history"], state["elapsed"], state["epoch"] + 1
        progress.message(f"resuming {run.path} after epoch {state['epoch']}")
    run.write_metrics(history)
    tensorboard = _tensorboard(run, start) if config["logging"]["tensorboard"] else None
    diagnostics = None
    if config["diagnostics"]:
        rows = diag.read(run.diagnostics, upto_epoch=start - 1)  # drop epochs being redone
        atomic_write_text(run.diagnostics, "".join(json.dumps(r) + "\n" for r in rows))
        diagnostics = diag.Diagnostics(model, data.x_train, data.y_train, loss_fn, run.diagnostics)

    best_weights = None  # the best epoch's weights not yet written to best.pt
    last_write = time.perf_counter()
    diverged_at = None
    for epoch in range(start, t["epochs"] + 1):
        if stopper.should_stop:
            break
        tic = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        progress.start_epoch(epoch, updates)
        model.train()
        xs, ys = epoch_order(data.x_train, data.y_train, t["shuffle"], shuffle_gen)
        running = RunningMetrics(ys, loss_fn)
        for xb, yb in batches(xs, ys, batch_size, min_size):
            if augmentation.active:
                xb = augmentation(xb)
            if regularization.noisy:
                xb = regularization.inputs(xb)
                clean = regularization.perturb_weights()
            logits = model(xb)
            loss = loss_fn(logits, yb)
            if aux_weight:
                loss = loss + aux_weight * sum(loss_fn(z, yb) for z in model.aux_outputs)
            if regularization.has_penalty:
                loss = loss + regularization.penalty()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if regularization.noisy:
                regularization.restore_weights(clean)
            if needs_loss:  # a closure costs torch's optimizers an enable_grad() per step
                optimizer.step(lambda: loss)
            else:
                optimizer.step()
            if per_update_schedule:
                schedule.after_update()
            running.add(logits)
            progress.update()
        train_loss, train_accuracy = running.result()
        if not math.isfinite(train_loss):
            diverged_at = epoch
            break
        if population_bn:
            population_statistics(model, data.x_train, batch_size)
        val_loss, val_accuracy = evaluate(model, data.x_val, data.y_val, loss_fn)
        metrics = {"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_accuracy,
                   "val_loss": val_loss, "val_accuracy": val_accuracy, "lr": lr}
        if not math.isfinite(val_loss):
            diverged_at = epoch
            break
        if diagnostics is not None:
            diagnostics.record(epoch)
        schedule.after_epoch(metrics)
        if stopper.update(epoch, metrics):
            best_weights = {k: v.clone() for k, v in model.state_dict().items()}
        metrics["time_s"] = time.perf_counter() - tic  # training and validation
        history.append(metrics)
        run.append_metrics(metrics)
        progress.end_epoch(metrics)
        if tensorboard is not None:
            for key, value in metrics.items():
                if key != "epoch":
                    tensorboard.add_scalar(key, value, epoch)
            tensorboard.flush()
        if on_epoch is not None:
            on_epoch(metrics)
        if (time.perf_counter() - last_write >= t["checkpoint_seconds"] or epoch == t["epochs"]
                or stopper.should_stop):
            if best_weights is not None:  # best first: best.pt is never older than last.pt
                checkpoint.save(run.best, {"epoch": stopper.best_epoch, "model": best_weights})
                best_weights = None
            last_write = time.perf_counter()
            checkpoint.save(run.last, {
                "epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(), "early_stopping": stopper.state_dict(),
                "rng": checkpoint.rng_state(shuffle_gen), "history": history,
                "elapsed": elapsed + time.perf_counter() - tic})
        elapsed += time.perf_counter() - tic  # the epoch's wall time, checkpoints included
    progress.close()
    if tensorboard is not None:
        tensorboard.close()
    if diagnostics is not None and history:
        diag.plot(diag.read(run.diagnostics), run.path / "diagnostics.png", str(run.path))
    if best_weights is not None:
        checkpoint.save(run.best, {"epoch": stopper.best_epoch, "model": best_weights})

    if diverged_at is not None:
        good = checkpoint.load(run.last, device) if run.last.exists() else None
        progress.message(f"training diverged at epoch {diverged_at} (loss is NaN or infinite); "
                         + (f"kept the last good checkpoint (epoch {good['epoch']})" if good else
                            "no checkpoint was written before it"))
        if good:
            model.load_state_dict(good["model"])

    tic = time.perf_counter()
    use_best = config["early_stopping"]["restore_best"] and run.best.exists()
    if use_best:
        model.load_state_dict(checkpoint.load(run.best, device)["model"])
    test_loss = test_accuracy = None
    if history and test:
        test_loss, test_accuracy = evaluate(model, data.x_test, data.y_test, loss_fn)
    best = history[stopper.best_epoch - 1] if stopper.best_epoch else {}
    summary = {
        "test_loss": test_loss, "test_accuracy": test_accuracy,
        "best_epoch": stopper.best_epoch or None,
        "best_val_accuracy": best.get("val_accuracy"), "best_val_loss": best.get("val_loss"),
        "monitor": stopper.monitor, "epochs_run": len(history),
        "wall_time_s": elapsed + time.perf_counter() - tic,
        "stopped_early": stopper.should_stop and len(history) < t["epochs"],
        "diverged": diverged_at is not None, "diverged_at_epoch": diverged_at,
        "evaluated": ("best" if use_best else "last") if history else None,
        "parameters": sum(p.numel() for p in model.parameters()),
        **optim.describe(optimizer),
        "device": str(device), "run_dir": str(run.path),
    }
    return model, summary
