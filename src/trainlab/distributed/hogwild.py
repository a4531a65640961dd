"""Hogwild: N worker processes update one model in CPU shared memory, without locks.

Source: Niu, Recht, Re & Wright 2011, "HOGWILD!: A Lock-Free Approach to Parallelizing
Stochastic Gradient Descent"; lecture 003 (``003_4f959921065895eb.txt``, slide 52: "lock-free
update of parameters across multiple threads; fast for sparse updates; surprisingly can work for
dense updates"; slides 51-60 for distributed SGD in general).

Algorithm. The weights ``w`` live once, in shared memory. Each worker i repeats, on its own
minibatches and concurrently with the others::

    w <- w - lr g_i(w)

where ``g_i(w)`` is the gradient of its minibatch's objective at whatever ``w`` it read. Reads
and writes are unsynchronized: a worker may read weights another is halfway through writing, and
two updates may interleave element by element; Niu et al. show this still converges when updates
rarely collide (sparse gradients), and in practice it often works for dense ones too.

How trainlab runs it (:class:`Hogwild`, run by :func:`~trainlab.distributed.mode.drive`):

- The calling process builds the run (:func:`trainlab.build.parts`, seeded, on CPU: the mode is
  ``cpu_only``), moves the model's parameters AND buffers into shared memory, and runs the
  ordinary loop (:func:`~trainlab.training.loop.fit`): validation, model selection, checkpoints,
  ``metrics.jsonl``, progress, resume and the summary are the single-process ones. Only the
  epoch's updates differ (:meth:`Hogwild.epoch`).
- The workers are started once per run (``distributed.workers`` processes, each with
  ``threads_per_process(workers)`` threads). Each gets the shared model (its tensors pickle as
  shared-memory handles) and builds its OWN optimizer and :class:`~trainlab.training.step.Step`
  over the shared parameters: optimizer state (momentum, Adam's moments) is per worker and never
  shared; for plain SGD there is none.
- Each epoch, the parent draws the sample order exactly as the single-process loop does (same
  generator: the data order is reproducible), cuts it into the same minibatches, and deals them
  round-robin: of the L live workers, the k-th live one gets minibatches k, k+L, k+2L, ...
  It sends each worker its minibatches' sample indices, plus the learning rate of each of them.
- Learning rate: the parent's schedule is the only one. Before dealing, the parent steps it once
  per minibatch of the epoch, as the single-process loop would, and records the rate of every
  minibatch position; the worker that gets minibatch k uses rate k for it. Per-update schedules
  (one_cycle, cosine, warm-up) therefore follow the global update count, whatever the number of
  workers, and per-epoch ones are stepped by ``end_epoch`` in the parent; both are checkpointed
  with the parent. The ``lr`` in the metrics is the rate at the epoch's start, as usual.
- Batch-norm running statistics are buffers, shared too: every worker updates them in place,
  racily, as Hogwild does with the weights. Weight noise (``regularization.weight_noise``) is
  added to and removed from the shared weights in place, so other workers see it, and restoring
  the clean copy overwrites updates made meanwhile: expect it to cost more than usual.
- Workers report, per epoch, their train loss sum, correct count and sample count (the epoch's
  train loss and accuracy are sample-weighted means over the workers), and count their updates
  in a shared counter. The parent waits for every report; a worker that exits (killed, crashed)
  or makes no update for ``distributed.timeout`` seconds (it is then killed) is lost: named in
  a message, its remaining minibatches of that epoch skipped (counted), and later epochs are
  dealt among the others. If every worker is lost, the run stops with a UserError. A worker's
  own error (a UserError, or a crash with its traceback) stops the run. Before the first epoch
  the parent waits for every worker to be ready (at least 60 s: starting Python and torch on a
  busy machine is slow), so that start-up is not timed as training.
- ``distributed.slow_worker = "i:s"``: worker i sleeps s seconds before each gradient.
- Resume works like any run: ``last.pt`` holds the shared model's weights, the schedule, the
  sample order's generator and the counters (``FitState.extra``); a resumed run starts all N
  workers afresh (those lost earlier included), whose optimizer state restarts empty. Hogwild
  is not bit-reproducible anyway: updates race. With one worker nothing races, and the run
  equals single-process training exactly when no random draw is involved (worker i draws
  dropout masks and gradient noise from ``seed + i``), also after a resume if the optimizer
  keeps no state (plain SGD).

The summary gains ``distributed``: mode, workers, threads per worker, updates per worker,
the workers lost and the minibatches skipped.
"""

from __future__ import annotations

import math
import re
import signal
import time
import warnings
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import NamedTuple

import numpy as np
import torch

from .. import build
from ..config import Config, replace
from ..data import Splits
from ..errors import UserError
from ..processes import CONTEXT, Processes, threads_per_process
from ..training.batches import batches, epoch_order
from ..training.loop import end_epoch
from ..training.metrics import RunningMetrics
from ..training.progress import Progress
from ..training.regularization import decay_groups
from ..training.state import FitState, Parts
from ..training.step import Step
from .mode import Mode, delay_of

POLL_S = 0.05  # how often the parent looks at liveness and progress while it waits
START_S = 60.0  # at least this long for a worker to start (importing torch on a busy machine)
WORKER_NAME = "hogwild-worker-{}"  # process names (tests find a worker by it)


class Work(NamedTuple):
    """One epoch's share of a worker: its minibatches' sample indices, concatenated, their
    sizes, and each one's learning rate per parameter group (a row per minibatch)."""

    epoch: int
    indices: np.ndarray
    sizes: list[int]
    rates: np.ndarray


class Report(NamedTuple):
    """What a worker trained on in an epoch: sums, so that the parent can weight by samples."""

    loss_sum: float
    correct: int
    count: int


class Hogwild(Mode):
    """The worker processes of a run, seen from the parent: deals each epoch's minibatches,
    collects the reports, notices lost workers. As a callback, it reads the run's state
    (counters restored by a resume) when the fit starts."""

    def __init__(self, cfg: Config):
        super().__init__(cfg)
        d = cfg.distributed
        self.count, self.timeout = d.workers, d.timeout
        self.threads = threads_per_process(self.count)
        self.procs: Processes | None = None
        self.conns = []
        self.live: list[int] = []
        self.started: dict[int, int] = {}  # each worker's update count when the epoch was dealt
        self.state: FitState | None = None

    def prepare(self, parts: Parts, data: Splits, progress: Progress) -> None:
        """Share the model and the training split, start the workers and wait until each is
        ready."""
        self.report = progress
        parts.model.share_memory()  # parameters and buffers (batch-norm statistics)
        data.x_train.share_memory_()
        data.y_train.share_memory_()
        self.procs = procs = Processes()
        self.done = torch.zeros(self.count, dtype=torch.int64).share_memory_()  # updates made
        for i in range(self.count):
            ours, theirs = CONTEXT.Pipe()
            args = (
                i,
                self.cfg,
                parts.model,
                data.x_train,
                data.y_train,
                data.task,
                parts.updates,
                theirs,
                self.done,
            )
            procs.start(_work, args, threads=self.threads).name = WORKER_NAME.format(i)
            theirs.close()  # only the child's end stays open: its death reads as end of file
            self.conns.append(ours)
        self.live = list(range(self.count))
        self._await_ready()

    def _await_ready(self) -> None:
        """Wait until every worker has built its step (so that start-up is not timed as
        training, and a worker that cannot start stops the run before it begins)."""
        wait_s = max(self.timeout, START_S)
        deadline = time.monotonic() + wait_s
        for i, conn in enumerate(self.conns):
            try:
                if conn.poll(max(0.0, deadline - time.monotonic())):
                    conn.recv()
                    continue
            except (EOFError, OSError):
                self.procs.children[i].join(1.0)
                self.procs.raise_errors()
            code = self.procs.children[i].exitcode
            raise UserError(
                f"hogwild worker {i} did not start within {wait_s:g} s: {_exit_reason(code)}"
            )

    def on_fit_start(self, state: FitState) -> None:
        self.state = state
        extra = state.extra
        self.base = list(extra.get("updates_per_worker", [0] * self.count))
        extra.setdefault("updates_per_worker", list(self.base))
        extra.setdefault("workers_lost", [])
        extra.setdefault("batches_skipped", 0)

    def epoch(self, state: FitState, epoch: int, updates: list[Callable[[], None]]) -> dict | None:
        """One epoch of Hogwild updates by the live workers, then :func:`end_epoch`."""
        p = state.parts
        lr = p.optimizer.param_groups[0]["lr"]
        positions = torch.arange(len(state.data.x_train))
        order, _ = epoch_order(
            positions, positions, state.options.shuffle, state.shuffle
        )  # the single-process loop's order, same draw
        sizes = [len(b) for b, _ in batches(order, order, p.batch_size, p.min_size)]
        owed = self._deal(epoch, order.numpy(), sizes, _rates(p, len(sizes)))
        reports = self._collect(epoch, owed, updates)
        state.extra["updates_per_worker"] = [b + int(d) for b, d in zip(self.base, self.done)]
        return end_epoch(state, epoch, *_train_metrics(epoch, reports.values()), lr)

    def _deal(
        self, epoch: int, order: np.ndarray, sizes: list[int], rates: np.ndarray
    ) -> dict[int, int]:
        """Send each live worker its minibatches (round-robin); returns worker -> minibatches
        owed."""
        starts = np.cumsum([0] + sizes)
        live = list(self.live)
        self.started = {i: int(self.done[i]) for i in live}
        owed = {}
        for k, i in enumerate(live):
            mine = list(range(k, len(sizes), len(live)))
            indices = np.concatenate(
                [order[starts[j] : starts[j + 1]] for j in mine] or [np.zeros(0, dtype=np.int64)]
            )
            owed[i] = len(mine)
            try:
                self.conns[i].send(Work(epoch, indices, [sizes[j] for j in mine], rates[mine]))
            except OSError:  # its end is closed: the process is gone
                self._lose(i, epoch, owed)
        return {i: n for i, n in owed.items() if i in self.live}

    def _collect(
        self, epoch: int, owed: dict[int, int], updates: list[Callable[[], None]]
    ) -> dict[int, Report]:
        """Every live worker's report of the epoch; loses those that die or stall."""
        reports: dict[int, Report] = {}
        moved = {i: (int(self.done[i]), time.monotonic()) for i in owed}
        shown = int(self.done.sum())
        while waiting := [i for i in owed if i in self.live and i not in reports]:
            for conn in wait([self.conns[i] for i in waiting], timeout=POLL_S):
                i = self.conns.index(conn)
                try:
                    reports[i] = conn.recv()
                except (EOFError, OSError):
                    self._lose(i, epoch, owed)
            shown = _show_updates(updates, shown, int(self.done.sum()))
            for i in waiting:
                if i not in reports and i in self.live and self._stalled(i, moved):
                    self.procs.children[i].kill()
                    self._lose(
                        i,
                        epoch,
                        owed,
                        f"made no update for {self.timeout:g} s (distributed.timeout); killed",
                    )
        return reports

    def _stalled(self, i: int, moved: dict[int, tuple[int, float]]) -> bool:
        """Whether worker i's update count has stood still for ``distributed.timeout`` s."""
        count, since = moved[i]
        now, done = time.monotonic(), int(self.done[i])
        if done != count:
            moved[i] = (done, now)
            return False
        return now - since > self.timeout

    def _lose(self, i: int, epoch: int, owed: dict[int, int], why: str | None = None) -> None:
        """Worker i is gone: name it, count its skipped minibatches, go on without it; raises
        the worker's own error if it reported one, a UserError if no worker is left."""
        process = self.procs.children[i]
        process.join(1.0)
        self.procs.raise_errors()
        why = why or _exit_reason(process.exitcode)
        skipped = owed[i] - (int(self.done[i]) - self.started[i])
        self.live.remove(i)
        extra = self.state.extra
        extra["workers_lost"] = extra["workers_lost"] + [i]
        extra["batches_skipped"] += skipped
        self.report.message(
            f"hogwild worker {i} lost in epoch {epoch} ({why}); its "
            f"{skipped} remaining minibatches of the epoch are skipped"
        )
        if not self.live:
            raise UserError(
                f"every hogwild worker was lost (the last, worker {i}, in epoch "
                f"{epoch}: {why}); see the messages above"
            )

    def finish(self) -> None:
        """Tell the live workers to finish, and wait for them."""
        for i in self.live:
            try:
                self.conns[i].send(None)
            except OSError:
                pass  # already gone: nothing more to tell it
        self.procs.join_all(self.timeout)

    def close(self, error: BaseException | None) -> None:
        """Workers waiting for work see the end and exit; what is left is ended."""
        for conn in self.conns:
            conn.close()
        if self.procs is not None:
            self.procs.__exit__(None, None, None)

    def describe(self) -> dict:
        """The ``distributed`` entry of the summary."""
        extra = self.state.extra if self.state else {}
        return {
            "mode": "hogwild",
            "workers": self.count,
            "threads_per_worker": self.threads,
            "updates_per_worker": extra.get("updates_per_worker", [0] * self.count),
            "workers_lost": extra.get("workers_lost", []),
            "batches_skipped": extra.get("batches_skipped", 0),
        }


_EARLY_STEP = re.escape("Detected call of `lr_scheduler.step()` before `optimizer.step()`")


def _rates(parts: Parts, count: int) -> np.ndarray:
    """The learning rate of each of the epoch's ``count`` minibatches (a column per parameter
    group), stepping the parent's schedule after each as the single-process loop does."""
    groups = parts.optimizer.param_groups
    rates = np.empty((count, len(groups)))
    with warnings.catch_warnings():  # the parent's optimizer never steps: the workers' do
        warnings.filterwarnings("ignore", _EARLY_STEP, UserWarning)
        for k in range(count):
            rates[k] = [g["lr"] for g in groups]
            if parts.step.per_update_schedule:
                parts.schedule.after_update()
    return rates


def _train_metrics(epoch: int, reports) -> tuple[float, float]:
    """Sample-weighted train loss and accuracy over the workers' reports."""
    reports = list(reports)
    count = sum(r.count for r in reports)
    if count == 0:
        raise UserError(
            f"hogwild epoch {epoch}: no minibatch was trained on (the workers "
            "that had them were lost); see the messages above"
        )
    return sum(r.loss_sum for r in reports) / count, sum(r.correct for r in reports) / count


def _show_updates(updates: list[Callable[[], None]], shown: int, done: int) -> int:
    """Call the per-update hooks (the progress bar) once per update made since ``shown``."""
    for _ in range(done - shown if updates else 0):
        for update in updates:
            update()
    return done


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "still running, but silent"
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"


# ---- the worker process -------------------------------------------------------------------


def _work(
    index: int,
    cfg: Config,
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    task: str,
    updates: int,
    conn,
    done: torch.Tensor,
) -> None:
    """A worker: builds its own optimizer and step over the shared model, then trains on each
    epoch's share it receives until told to stop (or its parent is gone)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent ends the run
    own = replace(cfg, seed=cfg.seed + index)  # its own noise (gradient noise, dropout)
    torch.manual_seed(own.seed)
    step = _worker_step(
        own, model, tuple(x.shape[1:]), task, math.ceil(updates / cfg.distributed.workers), y
    )
    pause = delay_of(cfg, index)
    model.train()
    conn.send("ready")
    try:
        while (work := conn.recv()) is not None:
            conn.send(_train_share(step, x, y, work, pause, done, index))
    except (EOFError, OSError):
        return  # the parent closed its end: the run is over (or aborted)


def _worker_step(
    cfg: Config,
    model: torch.nn.Module,
    input_shape: tuple[int, ...],
    task: str,
    updates: int,
    labels: torch.Tensor,
) -> Step:
    """A step like :func:`trainlab.build.parts`' over the shared parameters, with the worker's
    own optimizer and no schedule (the parent sends each minibatch's rate). ``updates``: the
    worker's updates per epoch (its share), for SWATS's switch; ``labels``: the training
    split's (the prior of label smoothing)."""
    groups = decay_groups(model, cfg.regularization.exclude_bias_and_norm)
    optimizer = build.optimizer(cfg, groups, updates)
    return Step(
        model,
        build.loss(cfg, task, labels=labels),
        optimizer,
        regularization=build.regularization(cfg, model),
        augmentation=build.augmentation(cfg, input_shape),
        aux_weight=cfg.loss.aux_weight,
    )


def _train_share(
    step: Step,
    x: torch.Tensor,
    y: torch.Tensor,
    work: Work,
    pause: float,
    done: torch.Tensor,
    index: int,
) -> Report:
    """One update per minibatch of ``work``, each at its rate; the sums for the metrics."""
    if not work.sizes:
        return Report(0.0, 0, 0)
    indices = torch.from_numpy(work.indices)
    running = RunningMetrics(y[indices], step.loss_fn)
    groups = step.optimizer.param_groups
    start = 0
    for size, rates in zip(work.sizes, work.rates):
        batch = indices[start : start + size]
        start += size
        for group, rate in zip(groups, rates):
            group["lr"] = float(rate)
        if pause:
            time.sleep(pause)
        running.add(step(x[batch], y[batch]))
        done[index] += 1
    running.result()  # reduces what is held into the sums
    return Report(running.loss_sum.item(), int(running.correct.item()), running.count)
