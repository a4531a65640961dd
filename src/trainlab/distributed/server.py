"""A parameter server: ``distributed.mode = async`` (Dean et al. 2012) and ``sync`` (Chen et al.
2016), lecture 003 (``003_4f959921065895eb.txt``, slides 53-59).

Processes: servers 0 .. s-1 (``distributed.servers``; the parameters partitioned over them), then
the workers, all started by the calling process (:func:`launch`), which relays server 0's
events. Server 0, the coordinator (:class:`Coordinator`, this mode), holds the run: the epoch
loop, the sample order, the decisions, validation, checkpoints and the run folder, through the
ordinary :func:`~trainlab.training.loop.fit` that the driver
(:func:`~trainlab.distributed.mode.drive`) runs. A worker receives the weights with their version
``v`` and the sample indices of a minibatch, computes that batch's gradient with the same
:class:`~trainlab.training.step.Step` as one-process training (``compute_gradients``), and sends
it back tagged with ``v``; the server applies it with ``Step.apply_gradients``.

async: each gradient is applied when it arrives. Its staleness is the server's version minus
``v`` ("these are gradients for w, not w'", slide 55), recorded for every gradient.

- ``max_staleness = k``: a gradient with staleness > k is rejected and counted ("Hack: reject
  gradients that are from too far ago", slide 56);
- ``staleness_lr``: a gradient of staleness tau > 0 is applied at rate lr / tau (Zhang et al.
  2016, "Staleness-aware Async-SGD");
- ``warmup_updates = u``: worker k (counted from 0) gets its first batch once u k / W updates
  are done ("at the start of training, slowly add more workers", slide 54).

sync: each update hands ``workers + backup_workers`` batches of the current weights to the
workers, averages the first ``workers`` gradients computed at the current version (weighted by
their batches' sizes) and applies one step; the rest, arriving late, are dropped and counted
("add extra backup workers, and update when N gradients received", slide 59). Without backups
that is one process with a ``workers`` times larger batch, and this module computes it so.

Batch norm's running statistics travel with the weights: a worker's batch updates the server's
copy. Every epoch presents each training sample once, in the order one-process training would
(the same seeded permutation), cut into minibatches of ``train.batch_size``; a gradient that is
rejected or dropped loses its batch for that epoch (its loss still counts in the epoch's train
metrics, since the forward pass happened).

Faults: a worker that dies is seen by the process that started it (or, under torchrun, by
``distributed.timeout`` seconds without its gradient); it is named in the summary and training
goes on with the rest (in sync, every update then averages the gradients of the live workers,
at most ``workers``); with no worker left the run stops with a clear message, keeping its last
checkpoint. Every wait has a timeout, and every process exits when the run ends.

Parameter-server modes run on the CPU (gloo); ``device = cuda`` is refused.
"""

from __future__ import annotations

import queue
import time
from collections import deque

import torch

from .. import build
from ..config import Config
from ..data import Splits
from ..errors import UserError
from ..optim import OPTIMIZERS
from ..processes import CONTEXT, Processes, check_port, free_port
from ..runs.rundir import RunDir
from ..training.batches import batches, epoch_order
from ..training.loop import end_epoch
from ..training.progress import Progress
from ..training.state import FitState, Parts
from . import MODES, messages as m
from .launch import init_group
from .layout import Layout, batch_cap, server_config
from .mode import Mode, drive
from .record import Record, plot, summarize
from .worker import shard, work

POLL_S = 0.2  # how often the coordinator looks for lost workers while it waits


def check(cfg: Config) -> None:
    """What a parameter server cannot run, as one-line errors."""
    if cfg.device == "cuda":
        raise UserError(
            f"distributed.mode = {cfg.distributed.mode!r} with device = "
            "'cuda': the parameter server runs on the CPU (use device = 'cpu' or "
            "'auto')"
        )
    name = cfg.optimizer.name
    optimizer = OPTIMIZERS[name]
    if optimizer.reevaluates_loss:
        raise UserError(
            f"optimizer.name = {name!r} with a parameter server: it evaluates the "
            "loss again on the batch, which only the worker has"
        )
    if optimizer.needs_loss(cfg.optimizer.to_dict()) and cfg.distributed.servers > 1:
        raise UserError(
            f"optimizer.variant = {cfg.optimizer.variant!r} with "
            "distributed.servers > 1: its undo compares the loss with the last one, "
            "which only server 0 has (use one server, or irprop-)"
        )


def launch(
    cfg: Config, splits: Splits, run: RunDir, progress: str, *, test: bool = True, on_epoch=None
) -> dict:
    """Start the servers and workers on this machine, relay each epoch's metrics to
    ``on_epoch``, and return the summary that server 0 wrote. (``splits`` is not used here:
    every process loads the data itself, on the CPU.)"""
    check(cfg)
    d = cfg.distributed
    if d.port:
        check_port(d.address, d.port)
    port = d.port or free_port(d.address)
    servers, workers = d.servers, d.workers + d.backup_workers
    world = servers + workers
    events, lost = CONTEXT.Queue(), CONTEXT.Queue()
    with Processes() as procs:
        procs.start(
            coordinate, (cfg, str(run.path), progress, test, port, world, events, lost), threads=1
        )
        for rank in range(1, world):
            target = shard if rank < servers else work
            procs.start(target, (cfg, port, rank, world), threads=1)
        summary = _relay(procs, events, lost, servers, on_epoch)
        procs.join_all(d.timeout)
    return summary


def _relay(procs: Processes, events, lost, servers: int, on_epoch) -> dict:
    """Pass server 0's events on until it reports the summary; tell it of dead workers (checked
    between events, and at least every POLL_S seconds)."""
    told: set[int] = set()
    while True:
        procs.raise_errors()
        dead = set(procs.lost())
        if any(i < servers for i in dead):
            raise UserError(
                "a parameter server process died; continue the run with "
                "trainlab train --resume RUN_DIR"
            )
        for i in sorted(dead - told):
            lost.put(i)
        told |= dead
        try:
            kind, value = events.get(timeout=POLL_S)
        except queue.Empty:
            continue
        if kind == "epoch" and on_epoch is not None:
            on_epoch(value)
        elif kind == "done":
            return value


def coordinate(
    cfg: Config, run_path: str, progress: str, test: bool, port: int, world: int, events, lost
) -> None:
    """Server 0: the driver, with the ordinary run folder, over the workers."""
    coordinator = Coordinator(cfg)
    coordinator.connect(port, world, events, lost)
    drive(
        coordinator,
        build.load_data(cfg, "cpu"),
        RunDir(run_path),
        progress,
        test=test,
        on_epoch=lambda metrics: events.put(("epoch", metrics)),
    )


class Coordinator(Mode):
    """Server 0's decisions: which worker gets which batch, which gradients are applied
    (:class:`~trainlab.distributed.mode.Mode`). As a callback, it puts its counters into the
    checkpoint (``state.extra``) and, on resume, takes them back and gives the shards their
    state."""

    def __init__(self, cfg: Config):
        super().__init__(cfg)
        d = cfg.distributed
        self.parts_config = server_config(cfg)
        self.sync, self.n = MODES[d.mode].synchronous, d.workers
        self.servers, self.timeout = d.servers, d.timeout
        self.max_staleness, self.staleness_lr = d.max_staleness, d.staleness_lr
        self.warmup = d.warmup_updates
        self.port = self.world = 0
        self.events = self.lost_queue = None

    def connect(self, port: int, world: int, events, lost) -> None:
        """Where the group meets (``port``, ``world`` processes), the queue of events to the
        launching process and the queue of workers it saw die."""
        self.port, self.world, self.events, self.lost_queue = port, world, events, lost

    def check(self, data: Splits) -> None:
        check(self.cfg)

    def open(self, run: RunDir) -> RunDir:
        d = self.cfg.distributed
        init_group(0, self.world, d.address, self.port, d.timeout)
        return super().open(run)

    def prepare(self, parts: Parts, data: Splits, progress: Progress) -> None:
        """The message layout over the model, the bookkeeping, the gradient receiver."""
        self.parts = parts
        self.layout = layout = Layout(
            parts.model,
            self.servers,
            batch_cap(self.cfg, len(data.x_train)),
            self.world - self.servers,
        )
        self.workers = list(range(self.servers, self.servers + layout.workers))
        self.idle = set(self.workers)
        self.busy: dict[int, tuple[int, float]] = {}  # rank -> (version sent, when)
        self.lost: set[int] = set()
        self.record = Record(len(self.workers))
        self.shard_states: list = []  # the other shards' state at the last epoch's end
        self.inbox: queue.Queue = queue.Queue()
        m.Receiver(layout.gradient_size(0), m.GRADIENT_TAG, self.inbox, layout.workers)

    def on_fit_start(self, state: FitState) -> None:
        if state.extra:
            self.record.load(state.extra["record"])
            self.load_shards(state.extra.get("shards", []))

    def on_epoch_end(self, state: FitState, metrics: dict) -> None:
        state.extra = {"record": self.record.state(), "shards": self.shard_states}

    def finish(self) -> None:
        """Stop every worker and shard; draw distributed.png."""
        self.stop_all()
        plot(self.record, self.run.path / "distributed.png")

    def describe(self) -> dict:
        return summarize(self.cfg, self.record)

    def result(self, summary: dict) -> dict:
        """The summary, also to the launching process."""
        self.events.put(("done", summary))
        self.events.close()
        self.events.join_thread()
        return summary

    @property
    def version(self) -> int:
        return self.record.updates

    # --- epochs --------------------------------------------------------------------------------
    def epoch(self, state: FitState, epoch: int, updates) -> dict | None:
        """One epoch of the server's updates over the workers, then :func:`end_epoch`."""
        lr = self.parts.optimizer.param_groups[0]["lr"]
        self._tell_shards(m.RATE, value=lr)
        self.parts.model.train()
        slices = self._slices(state)
        totals = [0.0, 0.0, 0]  # loss sum, correct, samples of every gradient received
        started = time.perf_counter()
        if self.sync:
            size = self.layout.workers  # workers + backup workers: one batch each
            for i in range(0, len(slices), size):
                self._sync_update(deque(slices[i : i + size]), epoch, totals)
                for update in updates:
                    update()
        else:
            self._async_epoch(deque(slices), epoch, totals, updates)
        self.record.end_epoch(time.perf_counter() - started)
        self.pull_shards()
        if totals[2] == 0:
            raise UserError("no gradient arrived in a whole epoch (every worker lost?)")
        return end_epoch(state, epoch, totals[0] / totals[2], totals[1] / totals[2], lr)

    def _slices(self, state: FitState) -> list[tuple[int, torch.Tensor]]:
        """The epoch's sample indices, in one-process training's order, as (batch id, indices)
        of ``train.batch_size`` each (a last one too small joins the one before)."""
        n = len(state.data.x_train)
        positions = torch.arange(n)
        order, _ = epoch_order(positions, positions, state.options.shuffle, state.shuffle)
        size = build.batch_size(self.cfg, n)
        return list(enumerate(ix for ix, _ in batches(order, order, size, self.parts.min_size)))

    def _async_epoch(self, pending: deque, epoch: int, totals: list, updates) -> None:
        self._hand_out(pending, epoch)
        while pending or self.busy:
            sender, message = self._next()
            if message is None:
                self._hand_out(pending, epoch)
                continue
            h = m.read_header(message)
            numbers, buffers, grads = self.layout.read_gradient(0, message)
            self._count(totals, numbers, h)
            staleness = self.version - h["version"]
            self.record.gradient(sender - self.servers, staleness)
            if 0 <= self.max_staleness < staleness:
                self.record.rejected += 1
            else:
                scale = 1.0 / staleness if self.staleness_lr and staleness > 0 else 1.0
                self._apply([(sender, h["version"], h["count"], numbers, buffers, grads)], scale)
                for update in updates:
                    update()
            self._hand_out(pending, epoch)

    def _sync_update(self, pending: deque, epoch: int, totals: list) -> None:
        accepted = []
        self._hand_out(pending, epoch)
        while len(accepted) < min(self.n, len(self.workers) - len(self.lost)):
            if not any(v == self.version for v, _ in self.busy.values()):
                if not pending:
                    break  # workers were lost while this update waited
            sender, message = self._next()
            if message is not None:
                h = m.read_header(message)
                numbers, buffers, grads = self.layout.read_gradient(0, message)
                self._count(totals, numbers, h)
                self.record.gradient(sender - self.servers, self.version - h["version"])
                if h["version"] == self.version:
                    accepted.append((sender, h["version"], h["count"], numbers, buffers, grads))
                else:
                    self.record.dropped += 1
            self._hand_out(pending, epoch)
        if accepted:
            self._apply(accepted, 1.0)
        self.record.skipped += len(pending)

    @staticmethod
    def _count(totals: list, numbers: list[float], h: dict) -> None:
        totals[0] += numbers[1]
        totals[1] += numbers[2]
        totals[2] += h["count"]

    # --- messages --------------------------------------------------------------------------------
    def _admitted(self, rank: int) -> bool:
        k = rank - self.servers
        return self.warmup == 0 or self.version * len(self.workers) >= k * self.warmup

    def _hand_out(self, pending: deque, epoch: int) -> None:
        """Send a batch of ``pending`` with the current weights to each idle, admitted worker."""
        for rank in sorted(self.idle):
            if not pending:
                return
            if not self._admitted(rank):
                continue
            batch, indices = pending[0]
            head = m.header(m.WORK, 0, self.version, batch, len(indices), epoch)
            if not self._send(self.layout.reply(0, head, indices), rank):
                continue  # the worker died since it asked: the batch waits for another
            pending.popleft()
            self.idle.discard(rank)
            self.busy[rank] = (self.version, time.monotonic())

    def _send(self, message: torch.Tensor, rank: int) -> bool:
        """Send ``message`` to worker ``rank``; False, and the worker counted as lost, if its
        connection is gone (a worker killed between asking and being answered)."""
        try:
            m.send(message, rank, m.REPLY_TAG)
            return True
        except RuntimeError:  # gloo: "Connection reset by peer"
            self._mark_lost([rank])
            return False

    def _next(self) -> tuple[int | None, torch.Tensor | None]:
        """The next gradient message, or (None, None) after a worker was found lost."""
        while True:
            if self._check_lost():
                return None, None
            try:
                sender, message = self.inbox.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if sender is None:
                raise UserError(
                    f"no gradient arrived within distributed.timeout = "
                    f"{self.timeout:g} s ({message}); the last checkpoint is kept"
                )
            if sender in self.lost:
                continue
            self.busy.pop(sender, None)
            self.idle.add(sender)
            return sender, message

    def _check_lost(self) -> bool:
        found = []
        try:
            while True:
                found.append(self.lost_queue.get_nowait())
        except queue.Empty:
            pass
        now = time.monotonic()
        found += [r for r, (_, t) in self.busy.items() if now - t > self.timeout]
        return self._mark_lost(found)

    def _mark_lost(self, found: list[int]) -> bool:
        """Count the workers ``found`` as lost (said once each); True if any is new."""
        found = [r for r in found if r not in self.lost]
        for rank in found:
            self.lost.add(rank)
            self.busy.pop(rank, None)
            self.idle.discard(rank)
            self.record.lost.append(rank - self.servers)
            print(
                f"worker {rank - self.servers} lost (process ended or silent for "
                f"{self.timeout:g} s); going on with the others",
                flush=True,
            )
        if len(self.lost) == len(self.workers):
            raise UserError(
                "every worker was lost; the last checkpoint is kept (continue "
                "with trainlab train --resume RUN_DIR)"
            )
        return bool(found)

    def _apply(self, gradients: list, lr_scale: float) -> None:
        """Average ``gradients`` (weighted by batch size), set them as ``.grad`` on server 0's
        parameters, tell the other shards to do the same, and step."""
        total = sum(g[2] for g in gradients)
        weights = [g[2] / total for g in gradients]
        grad = sum(w * g[5] for w, g in zip(weights, gradients))
        m.unflat(sum(w * g[4] for w, g in zip(weights, gradients)), self.layout.buffers)
        for p in self.layout.owned[0]:
            p.grad = torch.empty_like(p)
        m.unflat(grad, [p.grad for p in self.layout.owned[0]])
        objective = sum(w * g[3][0] for w, g in zip(weights, gradients))
        self._tell_shards(m.APPLY, [(g[0], g[1], w) for g, w in zip(gradients, weights)], lr_scale)
        self.parts.step.apply_gradients(torch.tensor(objective), lr_scale=lr_scale)
        self.record.updates += 1

    # --- other shards ---------------------------------------------------------------------------
    def _tell_shards(
        self, kind: int, entries: list = (), value: float = 0.0, only: int | None = None
    ) -> None:
        """A control message to every other shard (or shard ``only``)."""
        if self.servers == 1:
            return
        body = torch.zeros(3 * self.layout.workers + 1)
        for i, (rank, version, weight) in enumerate(entries):
            body[3 * i : 3 * i + 3] = torch.tensor([rank, version, weight], dtype=torch.float64)
        body[-1] = value
        head = m.header(kind, 0, self.version, 0, len(entries))
        for j in [only] if only is not None else range(1, self.servers):
            m.send(torch.cat([head, body]), j, m.CONTROL_TAG)

    def pull_shards(self) -> None:
        """The other shards' parameters into server 0's model (for validation and checkpoints),
        with their optimizer and schedule state."""
        import torch.distributed as dist

        if self.servers == 1:
            return
        self._tell_shards(m.REPORT)
        self.shard_states = []
        for j in range(1, self.servers):
            box = [None]
            dist.recv_object_list(box, src=j)
            self.shard_states.append(box[0])
            m.unflat(box[0]["params"], self.layout.owned[j])

    def load_shards(self, states: list) -> None:
        """On resume: every shard gets its parameters, optimizer and schedule state back."""
        import torch.distributed as dist

        for j, saved in enumerate(states, start=1):
            self._tell_shards(m.LOAD, only=j)
            dist.send_object_list([saved], dst=j)

    def stop_all(self) -> None:
        """Every live worker and shard told to stop; waits (bounded) for busy workers."""
        deadline = time.monotonic() + self.timeout
        stop = self.layout.reply(0, m.header(m.STOP))
        for rank in sorted(self.idle):
            self._send(stop, rank)
        self.idle.clear()
        while self.busy and time.monotonic() < deadline:
            try:
                sender, _ = self.inbox.get(timeout=POLL_S)
            except queue.Empty:
                self._check_lost_quietly()
                continue
            if sender is not None and self.busy.pop(sender, None) is not None:
                self.record.dropped += 1  # a straggler's gradient, after the last update
                self._send(stop, sender)
        self._tell_shards(m.STOP)

    def _check_lost_quietly(self) -> None:
        try:
            while True:
                self.busy.pop(self.lost_queue.get_nowait(), None)
        except queue.Empty:
            pass
