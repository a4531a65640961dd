"""What surrounds the training step, as callbacks (the Keras / Lightning pattern).

The epoch loop (:func:`trainlab.training.loop.fit`) calls every callback's hooks in list order:

- ``on_fit_start(state)``: once, before the first epoch;
- ``on_epoch_start(state, epoch)``;
- ``on_update()``: after every update, only for callbacks with ``per_update = True`` (a call per
  update costs online GD measurably, so the rest are never called there);
- ``on_epoch_end(state, metrics)``: after validation and the per-epoch schedule, with the epoch
  already in ``state.history``; not called for an epoch whose loss diverged;
- ``on_fit_end(state)``: once, after the last epoch (also after a divergence);
- ``on_fit_abort(state)``: instead of ``on_fit_end`` when an exception ends training (a hook
  raised, as search's pruner does, or Ctrl-C): release what is open, write nothing more.

:func:`standard_callbacks` builds the list a run uses, in this order (which matters):

1. :class:`Resume`: a checkpoint in the run folder restores model, optimizer, schedule, early
   stopping, random generators, history [, fp16's gradient scaler and the iterates' average];
   the metrics file is rewritten to match it; then :class:`Averaging` (``train.average``:
   every update into the average; validation, ``best.pt``, ``last.pt``'s ``model`` and the
   test then hold the averaged weights, ``last.pt`` the iterate too);
2. :class:`Diagnostics` (``diagnostics = true``): per-layer measures each epoch, heat maps at
   the end;
3. :class:`ModelSelection`: the best epoch on the monitored metric, early stopping;
4. :class:`EpochTime`: ``time_s``, the epoch's seconds so far (training, validation,
   diagnostics, model selection);
5. :class:`MetricsFile`: one line per epoch in ``metrics.jsonl``;
6. :class:`ProgressReport`: the bar or the line per epoch;
7. :class:`TensorBoard` (``logging.tensorboard = true``), then :class:`RateCourse`
   (``lr_updates.csv``, the rate of every update, at the end);
8. :class:`EpochHook`: the caller's ``on_epoch(metrics)`` (search's pruner, for one), then the
   caller's own callbacks (``fit(..., callbacks=[...])``), so that a ``stop`` they set still gets
   the final checkpoint;
9. :class:`Checkpoint`: ``best.pt`` then ``last.pt`` at the configured cadence and at the end;
10. :class:`Divergence`: says where a diverged run stopped and goes back to its last good state.

``writes=False`` (a distributed rank other than 0) leaves out every callback that writes to the
run folder: 2, 5, 7 and 9; the best weights are then kept in memory only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import UserError
from ..runs import checkpoint
from ..runs.atomic import atomic_write_text
from ..runs.rundir import write_jsonl
from .progress import Progress

if TYPE_CHECKING:
    from .state import FitOptions, FitState


class Callback:
    """A no-op for every hook; subclasses override the ones they need."""

    per_update = False

    def on_fit_start(self, state: FitState) -> None: ...

    def on_epoch_start(self, state: FitState, epoch: int) -> None: ...

    def on_update(self) -> None: ...

    def on_epoch_end(self, state: FitState, metrics: dict) -> None: ...

    def on_fit_end(self, state: FitState) -> None: ...

    def on_fit_abort(self, state: FitState) -> None: ...


class CallbackList:
    """Calls each hook of every callback, in order."""

    def __init__(self, callbacks: list[Callback]):
        self.callbacks = callbacks

    def per_update(self) -> list[Callable[[], None]]:
        return [c.on_update for c in self.callbacks if c.per_update]

    def on_fit_start(self, state: FitState) -> None:
        for c in self.callbacks:
            c.on_fit_start(state)

    def on_epoch_start(self, state: FitState, epoch: int) -> None:
        for c in self.callbacks:
            c.on_epoch_start(state, epoch)

    def on_epoch_end(self, state: FitState, metrics: dict) -> None:
        for c in self.callbacks:
            c.on_epoch_end(state, metrics)

    def on_fit_end(self, state: FitState) -> None:
        for c in self.callbacks:
            c.on_fit_end(state)

    def on_fit_abort(self, state: FitState) -> None:
        for c in self.callbacks:
            c.on_fit_abort(state)


def last_checkpoint(state: FitState) -> dict:
    """Everything needed to continue the run exactly after the current epoch."""
    p = state.parts
    saved = {
        "epoch": state.history[-1]["epoch"],
        "config_sha256": state.run.config_digest(),
        "model": state.evaluated_model().state_dict(),  # train.average: the averaged weights
        "optimizer": p.optimizer.state_dict(),
        "schedule": p.schedule.state_dict(),
        "early_stopping": state.stopper.state_dict(),
        "rng": checkpoint.rng_state(state.shuffle),
        "history": state.history,
        "elapsed": state.elapsed + time.perf_counter() - state.epoch_started,
        "extra": state.extra,
    }
    if p.step.scaler is not None:  # train.precision = fp16: the loss scale and its counter
        saved["scaler"] = p.step.scaler.state_dict()
    if p.average is not None:  # the iterate training continues from, and the average
        saved["average"] = {"iterate": p.model.state_dict(), **p.average.state_dict()}
    return saved


class Resume(Callback):
    """Continue from ``last.pt`` if the run has one: every piece of state as it was after the
    checkpointed epoch (``trainlab.runs.checkpoint``)."""

    def __init__(self, progress: Progress, writes: bool):
        self.progress, self.writes = progress, writes

    def on_fit_start(self, state: FitState) -> None:
        run, p = state.run, state.parts
        if run.last.exists():
            device = state.data.x_train.device
            try:
                saved = checkpoint.load(run.last, device)
            except UserError as e:
                raise UserError(f"{e}; {_restart_advice(run, device)}") from None
            try:
                p.model.load_state_dict(saved["model"])
                p.optimizer.load_state_dict(saved["optimizer"])
                p.schedule.load_state_dict(saved["schedule"])
                if p.step.scaler is not None and "scaler" in saved:
                    p.step.scaler.load_state_dict(saved["scaler"])
                if p.average is not None and "average" in saved:
                    p.model.load_state_dict(saved["average"]["iterate"])
                    p.average.load_state_dict(saved["average"])
                state.stopper.load_state_dict(saved["early_stopping"])
                checkpoint.set_rng_state(saved["rng"], state.shuffle)
                state.history, state.elapsed = list(saved["history"]), float(saved["elapsed"])
                state.extra = dict(saved.get("extra", {}))
                state.start = int(saved["epoch"]) + 1
            except checkpoint.MISMATCH as e:
                raise checkpoint.mismatch(run.last, e, _restart_advice(run, device)) from None
            state.stop = state.stopper.should_stop
            self.progress.message(f"resuming {run.path} after epoch {saved['epoch']}")
        if self.writes:
            run.write_metrics(state.history)


def _restart_advice(run, device) -> str:
    """What to do when ``last.pt`` cannot be restored: delete it to train the run from its start;
    and whether ``best.pt`` is intact (then evaluate still works on it)."""
    from shlex import quote

    advice = f"delete it to train the run again from its first epoch ({str(run.last)!r})"
    if run.best.exists():
        try:
            epoch = checkpoint.load(run.best, device).get("epoch")
        except UserError:
            return advice
        advice += (
            f"; best.pt (the weights of epoch {epoch}) is intact: trainlab evaluate "
            f"{quote(str(run.path))} still works"
        )
    return advice


class Averaging(Callback):
    """``train.average``: after every update, the weights go into the iterates' average
    (:mod:`trainlab.training.averaging`); nothing to do (and never called) without one."""

    def on_fit_start(self, state: FitState) -> None:
        self.average, self.model = state.parts.average, state.parts.model
        self.per_update = self.average is not None

    def on_update(self) -> None:
        self.average.update(self.model)


class Diagnostics(Callback):
    """Per-layer gradient and weight norms, update ratios and activation statistics after every
    epoch (``trainlab.training.diagnostics``); rows of epochs being redone are dropped."""

    def on_fit_start(self, state: FitState) -> None:
        from . import diagnostics

        path = state.run.diagnostics
        write_jsonl(path, diagnostics.read(path, upto_epoch=state.start - 1))
        self.recorder = diagnostics.Diagnostics(
            state.parts.model, state.data.x_train, state.data.y_train, state.parts.loss_fn, path
        )

    def on_epoch_end(self, state: FitState, metrics: dict) -> None:
        self.recorder.record(metrics["epoch"])

    def on_fit_end(self, state: FitState) -> None:
        from . import diagnostics

        if state.history:
            path = state.run.diagnostics
            diagnostics.plot(
                diagnostics.read(path), state.run.path / "diagnostics.png", str(state.run.path)
            )


class ModelSelection(Callback):
    """The best epoch on ``early_stopping.monitor`` (its weights kept for ``best.pt``), and
    early stopping: sets ``state.stop`` once ``patience`` epochs passed without improvement.
    Without a validation split (``data.val_fraction = 0``) a val_* monitor selects nothing:
    the last epoch is evaluated."""

    def on_epoch_end(self, state: FitState, metrics: dict) -> None:
        if state.stopper.monitor not in metrics:  # no validation split: no selection
            return
        if state.stopper.update(metrics["epoch"], metrics):
            weights = state.evaluated_model().state_dict()  # train.average: the averaged ones
            state.best_weights = {k: v.clone() for k, v in weights.items()}
            state.pending_best = True
        state.stop = state.stopper.should_stop


class EpochTime(Callback):
    """``metrics["time_s"]``: seconds since the epoch began (training, validation, diagnostics,
    model selection; not the checkpoint writes that follow)."""

    def on_epoch_end(self, state: FitState, metrics: dict) -> None:
        metrics["time_s"] = time.perf_counter() - state.epoch_started


class MetricsFile(Callback):
    """One JSON line per epoch in ``metrics.jsonl``."""

    def on_epoch_end(self, state: FitState, metrics: dict) -> None:
        state.run.append_metrics(metrics)


class ProgressReport(Callback):
    """A live bar per epoch in a terminal, or a line per epoch (``trainlab.training.progress``)."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.per_update = progress.mode == "bar"
        self.on_update = progress.update

    def on_epoch_start(self, state: FitState, epoch: int) -> None:
        self.progress.start_epoch(epoch, state.parts.updates)

    def on_epoch_end(self, state: FitState, metrics: dict) -> None:
        self.progress.end_epoch(metrics)

    def on_fit_end(self, state: FitState) -> None:
        self.progress.close()

    on_fit_abort = on_fit_end


class TensorBoard(Callback):
    """Each epoch's metrics for TensorBoard in ``<run>/tensorboard``; events of epochs being
    redone after a resume are dropped."""

    def on_fit_start(self, state: FitState) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            from ..errors import UserError

            raise UserError(
                "logging.tensorboard = true needs the tensorboard package: pip install tensorboard"
            ) from None
        self.writer = SummaryWriter(str(state.run.path / "tensorboard"), purge_step=state.start)

    def on_epoch_end(self, state: FitState, metrics: dict) -> None:
        for key, value in metrics.items():
            if key != "epoch":
                self.writer.add_scalar(key, value, metrics["epoch"])
        rates, per_epoch = state.parts.schedule.rates, state.parts.updates
        first = (metrics["epoch"] - 1) * per_epoch  # the rate of every update, by update count
        for k, lr in enumerate(rates[first : first + per_epoch], start=first + 1):
            self.writer.add_scalar("lr_update", lr, k)
        self.writer.flush()

    def on_fit_end(self, state: FitState) -> None:
        self.writer.close()

    on_fit_abort = on_fit_end


class RateCourse(Callback):
    """``lr_updates.csv`` (update, epoch, lr): the rate each update used, written at the end of
    a run whose rate can change within an epoch (a per-update schedule or a warm-up;
    ``Schedule.rates``, kept in ``last.pt`` so that a resumed run writes the whole course).
    Otherwise the per-epoch ``lr`` of ``metrics.jsonl`` is the course and nothing is written."""

    def on_fit_end(self, state: FitState) -> None:
        rates, per_epoch = state.parts.schedule.rates, state.parts.updates
        if not rates:
            return
        lines = ["update,epoch,lr"]
        lines += [f"{k + 1},{k // per_epoch + 1},{lr!r}" for k, lr in enumerate(rates)]
        atomic_write_text(state.run.lr_updates, "\n".join(lines) + "\n")


class EpochHook(Callback):
    """The caller's ``on_epoch(metrics)``; it may raise to end the run (search's pruner)."""

    def __init__(self, hook: Callable[[dict], None]):
        self.hook = hook

    def on_epoch_end(self, state: FitState, metrics: dict) -> None:
        self.hook(metrics)


class Checkpoint(Callback):
    """``best.pt`` (when a new best is pending) then ``last.pt``, written atomically at the end
    of the first epoch that ends ``train.checkpoint_seconds`` after the last write, at the last
    epoch and when training stops early; best first, so best.pt is never older than last.pt."""

    def on_fit_start(self, state: FitState) -> None:
        self.last_write = time.perf_counter()

    def _write_best(self, state: FitState) -> None:
        if state.pending_best:
            checkpoint.save(
                state.run.best,
                {
                    "epoch": state.stopper.best_epoch,
                    "config_sha256": state.run.config_digest(),
                    "model": state.best_weights,
                },
            )
            state.pending_best = False

    def on_epoch_end(self, state: FitState, metrics: dict) -> None:
        due = time.perf_counter() - self.last_write >= state.options.checkpoint_seconds
        if due or metrics["epoch"] == state.options.epochs or state.stop:
            self._write_best(state)
            self.last_write = time.perf_counter()
            checkpoint.save(state.run.last, last_checkpoint(state))

    def on_fit_end(self, state: FitState) -> None:
        self._write_best(state)


class Divergence(Callback):
    """When the loss became NaN or infinite: say at which epoch, and load the last good
    checkpoint's weights (the run keeps its last good state)."""

    def __init__(self, progress: Progress):
        self.progress = progress

    def on_fit_end(self, state: FitState) -> None:
        if state.diverged_at is None:
            return
        run = state.run
        good = checkpoint.load(run.last, state.data.x_train.device) if run.last.exists() else None
        self.progress.message(
            f"training diverged at epoch {state.diverged_at} (loss is NaN or infinite); "
            + (
                f"kept the last good checkpoint (epoch {good['epoch']})"
                if good
                else "no checkpoint was written before it"
            )
        )
        if good:
            state.parts.model.load_state_dict(good["model"])


def standard_callbacks(
    options: FitOptions,
    progress: Progress,
    on_epoch: Callable[[dict], None] | None = None,
    writes: bool = True,
    extra: list[Callback] = (),
) -> list[Callback]:
    """The callbacks of a run, in the order the module docstring gives; ``extra`` (the
    caller's) after ``on_epoch``."""
    chosen: list[Callback | None] = [
        Resume(progress, writes),
        Averaging(),
        Diagnostics() if writes and options.diagnostics else None,
        ModelSelection(),
        EpochTime(),
        MetricsFile() if writes else None,
        ProgressReport(progress),
        TensorBoard() if writes and options.tensorboard else None,
        RateCourse() if writes else None,
        EpochHook(on_epoch) if on_epoch is not None else None,
        *extra,
        Checkpoint() if writes else None,
        Divergence(progress),
    ]
    return [c for c in chosen if c is not None]


__all__ = [
    "Averaging",
    "Callback",
    "CallbackList",
    "Checkpoint",
    "Diagnostics",
    "Divergence",
    "EpochHook",
    "EpochTime",
    "MetricsFile",
    "ModelSelection",
    "ProgressReport",
    "RateCourse",
    "Resume",
    "TensorBoard",
    "standard_callbacks",
]
