"""``distributed.mode = ddp``: synchronous data parallelism with PyTorch's DistributedDataParallel,
one process per rank, started by ``torchrun`` (lecture 003, ``003_4f959921065895eb.txt``, slides
57-59: sync SGD "waits for all gradients before update" and is "equivalent to increasing the
batch size N times"; Chen et al. 2016; PyTorch DDP docs,
https://pytorch.org/docs/stable/notes/ddp.html).

Every rank builds the same seeded model, optimizer and schedule, wraps the model in
``DistributedDataParallel`` and runs the ordinary epoch loop (:func:`~trainlab.training.loop.fit`,
through the driver :func:`~trainlab.distributed.mode.drive`; :class:`DDP` is this mode).
In each epoch every rank draws the same sample order (the run's shuffle generator, identical on
all ranks) and cuts it into global minibatches of ``B = N b`` samples, ``N`` ranks and
``b = train.batch_size`` (per rank), exactly as one process at batch ``B`` would. Rank ``r``
takes the ``r``-th of ``N`` near-equal parts of each global batch (``b`` samples each when the
batch is full). In ``backward`` DDP all-reduces the gradients and divides by ``N``; each rank's
loss is weighted by ``w_r = N n_r / n`` (``n_r`` its samples, ``n`` the global batch's), so that

    (1/N) sum_r w_r grad L_r = sum_r (n_r / n) grad L_r = grad L(global batch),

the gradient of one process at batch ``B`` (``w_r = 1`` for every full batch). A rank whose part
of a short last batch is smaller than a batch can be (fewer than 2 samples with batch norm) runs
a stand-in slice with weight 0, so that every rank joins every all-reduce. The per-update
schedule counts global updates. Hence N ranks at batch b train as one process at batch N b, up
to float rounding (without batch norm, dropout or noise).

Train loss and accuracy are all-reduced: every rank, rank 0 included, sees the whole epoch's.
Every rank then validates with the same weights (batch-norm buffers broadcast from rank 0 first),
so early stopping and per-epoch schedules decide the same everywhere. Rank 0 alone writes the run
folder (``writes=False`` elsewhere); resuming (``--resume DIR``, or a ``torchrun`` elastic
restart of a ``--out DIR`` run) reads ``last.pt`` on every rank, so several machines need the
run folder on a shared filesystem.

Randomness: dropout, noise and augmentation draw from each rank's global generator, re-seeded at
every epoch from (seed, epoch, rank): the ranks draw different masks, and a resumed run draws
what an uninterrupted one would have. Gradient noise has its own generator, the same on every
rank, so the weights stay identical.

Batch norm: ``nn.SyncBatchNorm`` refuses CPU modules ("SyncBatchNorm layers only work with GPU
modules", torch 2.13), so each rank normalizes with its own part's statistics (b samples, as
"ghost batch norm"); DDP broadcasts rank 0's running statistics before every forward pass.

On CPU with gloo; ``device = cuda`` is refused. ``distributed.address`` and ``port`` are not
used (torchrun's ``--rdzv-endpoint`` / ``--master-addr`` say where ranks meet).
"""

from __future__ import annotations

import datetime
import gc
import hashlib
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..config import Config, replace
from ..data import Splits
from ..errors import UserError
from ..optim import OPTIMIZERS, reevaluates_loss
from ..processes import die_with_parent
from ..runs.rundir import RunDir
from ..training.batches import batches, epoch_order
from ..training.loop import end_epoch
from ..training.metrics import RunningMetrics
from ..training.progress import Progress
from ..training.state import FitState, Parts
from ..training.step import Step
from .mode import Mode, delay_of


class DDP(Mode):
    """This rank's part of the run (:class:`~trainlab.distributed.mode.Mode`): the process
    group torchrun set up, the run folder rank 0 makes, the parts at the global batch with a
    step through DDP; rank 0 writes the run, and every rank returns rank 0's summary. As a
    callback: after ``Resume``, every rank continues from the same epoch with the same world
    size."""

    def check(self, data: Splits) -> None:
        """What ddp cannot run, as one-line errors (torchrun missing is the driver's): CUDA,
        an optimizer that evaluates the loss again (Newton)."""
        if data.x_train.device.type != "cpu":
            raise UserError(
                "distributed.mode = ddp runs on the CPU with gloo here; use device = 'cpu'"
            )
        name = self.cfg.optimizer.name
        if OPTIMIZERS[name].reevaluates_loss:
            raise UserError(
                f"optimizer.name = {name!r} with distributed.mode = ddp: it "
                "differentiates the loss twice, which DDP's all-reduce in backward "
                "does not support"
            )

    def open(self, run: RunDir | Path | str | None) -> RunDir:
        """Join torchrun's process group; the run folder: the RunDir being resumed, or the one
        rank 0 creates."""
        die_with_parent()  # torchrun killed: no rank goes on alone
        dist.init_process_group(
            "gloo", timeout=datetime.timedelta(seconds=self.cfg.distributed.timeout)
        )
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        self.writes = self.rank == 0
        self.parts_config = global_config(self.cfg, self.world)
        self.run = shared_run_folder(run, self.cfg, self.rank)
        return self.run

    def prepare(self, parts: Parts, data: Splits, progress: Progress) -> None:
        """The parts of one process at the global batch, with a Step whose forward pass goes
        through DDP (parts.model stays the plain model: checkpoints and validation use it).
        Nothing here keeps the DDP wrapper: it is released with the parts, before the group
        ends."""
        if reevaluates_loss(parts.optimizer):
            raise UserError(
                "an optimizer that evaluates the loss again (Newton) cannot run "
                "under distributed.mode = ddp"
            )
        b = self.cfg.train.batch_size
        if parts.min_size > 1 and b != "full" and b < parts.min_size:
            raise UserError(
                "train.batch_size = 1 per rank with model.norm = 'batch': each "
                "rank's batch norm needs at least 2 samples"
            )
        self.weighted = WeightedLoss(parts.loss_fn)
        old = parts.step
        parts.step = Step(
            WrappedModel(parts.model),
            self.weighted,
            parts.optimizer,
            regularization=old.regularization,
            augmentation=old.augmentation,
            schedule=parts.schedule,
            aux_weight=old.aux_weight,
        )
        self.global_batch = parts.batch_size
        self.batch_norm = any(
            isinstance(m, nn.modules.batchnorm._BatchNorm) for m in parts.model.modules()
        )
        self.delay = delay_of(self.cfg, self.rank)

    def on_fit_start(self, state: FitState) -> None:
        saved = state.extra.get("world_size", self.world)
        if saved != self.world:
            raise UserError(
                f"this run was trained with {saved} ranks; resume it with "
                f"{saved} (train.batch_size is per rank, so the global batch "
                f"would change), not {self.world}"
            )
        state.extra["world_size"] = self.world
        starts = [None] * self.world
        dist.all_gather_object(starts, state.start)
        if len(set(starts)) > 1:
            raise UserError(
                f"the ranks would resume from different epochs ({starts}): every "
                f"rank must see {state.run.path}/last.pt (a shared filesystem)"
            )

    def shares(self, xs: torch.Tensor, ys: torch.Tensor, parts: Parts) -> list[tuple]:
        """This rank's (x, y, weight) of each global batch; a part too small for the model is
        replaced by a stand-in of weight 0 (it adds nothing to the gradient)."""
        out = []
        for xb, yb in batches(xs, ys, parts.batch_size, parts.min_size):
            start, size = rank_share(len(xb), self.rank, self.world)
            if size < parts.min_size:
                out.append((xb[: parts.min_size], yb[: parts.min_size], 0.0))
            else:
                out.append(
                    (
                        xb[start : start + size],
                        yb[start : start + size],
                        self.world * size / len(xb),
                    )
                )
        return out

    def epoch(self, state: FitState, epoch: int, updates: list) -> dict | None:
        p, data = state.parts, state.data
        lr = p.optimizer.param_groups[0]["lr"]
        p.model.train()
        torch.manual_seed(epoch_seed(state.options.seed, epoch, self.rank))
        xs, ys = epoch_order(data.x_train, data.y_train, state.options.shuffle, state.shuffle)
        shares = self.shares(xs, ys, p)
        real = [y for _, y, w in shares if w]
        running = RunningMetrics(torch.cat(real) if real else ys[:0], p.loss_fn)
        for x, y, weight in shares:
            self.update(p.step, x, y, weight, running)
            for update in updates:
                update()
        broadcast_buffers(p.model)
        loss, accuracy = all_reduce_metrics(running, len(real) > 0)
        return end_epoch(state, epoch, loss, accuracy, lr)

    def update(
        self, step: Step, x: torch.Tensor, y: torch.Tensor, weight: float, running: RunningMetrics
    ) -> None:
        """One global update: this rank's gradient (DDP averages them in backward), then the
        same step on every rank."""
        if self.delay:
            time.sleep(self.delay)  # distributed.slow_worker: everyone waits for this rank
        self.weighted.weight = weight
        logits = step.compute_gradients(x, y)
        if weight:
            running.add(logits)
        if step.needs_loss:  # irprop+ compares objectives: the global one, the same everywhere
            loss = step.loss.detach().clone()
            dist.all_reduce(loss)
            step.apply_gradients(loss / self.world)
        else:
            step.apply_gradients()

    def describe(self) -> dict:
        """What the summary says of the ddp run."""
        return {
            "mode": "ddp",
            "world_size": self.world,
            "backend": "gloo",
            "batch_size_per_rank": self.cfg.train.batch_size,
            "global_batch_size": self.global_batch,
            "batch_norm": "per-rank statistics" if self.batch_norm else None,
            "restarts": int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")),
        }

    def result(self, summary: dict) -> dict:
        """Rank 0's summary (the best weights are on its disk), the same on every rank."""
        written = [summary]
        dist.broadcast_object_list(written, src=0)
        return written[0]

    def close(self, error: BaseException | None) -> None:
        """Leave the process group. After a normal end, the DDP wrapper (in reference cycles)
        is collected first: collected later, after the group is gone, its reducer sometimes
        aborts the process ("terminate called without an active exception", 1 exit in 8
        here); then every rank leaves together."""
        try:
            if error is None:
                gc.collect()
                dist.barrier()
        finally:
            if dist.is_initialized():
                dist.destroy_process_group()


def shared_run_folder(run: RunDir | Path | str | None, cfg: Config, rank: int) -> RunDir:
    """The run folder on every rank: the RunDir being resumed, or the one rank 0 creates (its
    path, or its error, sent to the other ranks)."""
    if isinstance(run, RunDir):
        return run
    message: list = [None]
    if rank == 0:
        try:
            message = [("path", str(create_or_reopen(run, cfg).path))]
        except UserError as e:
            message = [("error", str(e))]
    dist.broadcast_object_list(message, src=0)
    kind, text = message[0]
    if kind == "error":
        raise UserError(text)
    return RunDir(text)


def create_or_reopen(out: Path | str | None, cfg: Config) -> RunDir:
    """A new run folder; after a torchrun elastic restart (TORCHELASTIC_RESTART_COUNT > 0), the
    run the first attempt created in ``out`` with the same config, which then resumes from its
    last checkpoint."""
    restarted = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0
    if restarted and out is not None and RunDir(out).config.is_file():
        run = RunDir.open(out)
        if run.read_config() == cfg:
            return run
    return RunDir.create(out, cfg)


class WeightedLoss:
    """``loss_fn(logits, y) * weight``; the epoch sets ``weight = N n_r / n`` before each
    update (see the module docstring)."""

    def __init__(self, loss_fn):
        self.loss_fn, self.weight = loss_fn, 1.0

    def __call__(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = self.loss_fn(logits, y)
        return loss if self.weight == 1.0 else loss * self.weight


class WrappedModel(DistributedDataParallel):
    """DDP that also shows the wrapped model's auxiliary heads' outputs to the Step."""

    @property
    def aux_outputs(self) -> list[torch.Tensor]:
        return self.module.aux_outputs


def global_config(cfg: Config, world: int) -> Config:
    """``cfg`` with the global batch ``N b``: what the update count and schedule follow."""
    b = cfg.train.batch_size
    if b == "full":
        return cfg
    return replace(cfg, **{"train.batch_size": b * world})


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """A seed of its own for each (run seed, epoch, rank)."""
    digest = hashlib.sha256(f"{seed}/{epoch}/{rank}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def rank_share(n: int, rank: int, world: int) -> tuple[int, int]:
    """(start, size) of rank's part of a global batch of n: N near-equal consecutive parts."""
    q, r = divmod(n, world)
    return rank * q + min(rank, r), q + (rank < r)


def all_reduce_metrics(running: RunningMetrics, has_samples: bool) -> tuple[float, float]:
    """The epoch's train loss and accuracy over every rank's samples."""
    totals = torch.zeros(3, dtype=torch.float64)
    if has_samples:
        running.result()
        totals = torch.stack(
            [
                running.loss_sum.double().cpu(),
                running.correct.double().cpu(),
                torch.tensor(float(running.count), dtype=torch.float64),
            ]
        )
    dist.all_reduce(totals)
    return (totals[0] / totals[2]).item(), (totals[1] / totals[2]).item()


@torch.no_grad()
def broadcast_buffers(model: nn.Module) -> None:
    """Rank 0's buffers (batch-norm running statistics) everywhere, so that every rank
    validates the same model."""
    for buffer in model.buffers():
        dist.broadcast(buffer, src=0)
