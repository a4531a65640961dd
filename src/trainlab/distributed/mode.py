"""One interface for the distributed modes, and the one driver that trains with any of them.

A mode says only how it differs from one-process training: what it refuses, what it starts
around the run's parts, how an epoch's updates are computed, and what it did. :func:`drive` does
the rest for every mode, in this order::

    [torchrun mode: the torchrun environment is there] [cpu_only mode: the data to the CPU]
    mode.check(data)                       refusals, before anything starts
    run = mode.open(run)                   ddp: the process group, the folder rank 0 makes
    parts = build.parts(mode.parts_config, data)
    mode.prepare(parts, data, progress)    start the workers / stages around the parts
    fit(parts, ..., epoch_fn=mode.epoch, callbacks=[mode], writes=mode.writes)
    mode.finish()                          the normal end: processes told to stop, joined
    summary["distributed"] = mode.describe(); written by the process that writes the run
    mode.result(summary)                   the summary this process returns
    mode.close(error)                      always: processes, connections, groups released

A RuntimeError from ``fit`` (a failed send, receive or collective) is passed to
:meth:`Mode.explain`, which may name its cause (a lost pipeline stage).

Every check reads the registries' facts, never a name: ``MODES[mode]`` (``cpu_only``,
``torchrun``, ``server``) and ``OPTIMIZERS[name]`` (``reevaluates_loss``, ``switches``,
``needs_loss(options)``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import torch

from .. import build
from ..config import Config
from ..data import Splits
from ..errors import UserError
from ..runs.rundir import RunDir
from ..training.callbacks import Callback
from ..training.loop import fit
from ..training.progress import Progress
from ..training.state import FitState, Parts

TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


class Mode(Callback):
    """A distributed mode, as :func:`drive` runs it: made from the run's config in the process
    that runs ``fit`` (the calling process; server 0; every ddp rank). It is one of ``fit``'s
    callbacks too (``on_fit_start``: read what a resume restored into ``state.extra``).

    ``parts_config``: the config the parts are built from (default the run's; ddp and sync:
    the batch of a whole update). ``writes``: whether this process writes the run folder and
    shows progress (ddp: rank 0 only). ``run``: the run folder, once :meth:`open` gave it."""

    writes: bool = True

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.parts_config = cfg
        self.run: RunDir | None = None

    def check(self, data: Splits) -> None:
        """Refuse what this mode cannot run, as one-line UserErrors, before anything starts."""

    def open(self, run: RunDir | Path | str | None) -> RunDir:
        """Join what must exist before the parts (ddp: the process group) and return the run
        folder (ddp: the one rank 0 creates for a new run)."""
        self.run = run
        return run

    def prepare(self, parts: Parts, data: Splits, progress: Progress) -> None:
        """Start what the mode needs around the seeded ``parts`` (workers, stages, the DDP
        wrapper); it may replace their step, optimizer and schedule."""

    def epoch(self, state: FitState, epoch: int, updates: list[Callable[[], None]]) -> dict | None:
        """``fit``'s epoch function: one epoch of updates computed the mode's way, ended by
        :func:`~trainlab.training.loop.end_epoch`."""
        raise NotImplementedError

    def finish(self) -> None:
        """After ``fit`` returned: tell the mode's processes to stop, and wait for them."""

    def describe(self) -> dict:
        """What the mode did: the summary's ``distributed`` entry."""
        raise NotImplementedError

    def result(self, summary: dict) -> dict:
        """The summary this process returns, once it is written (ddp: rank 0's, everywhere)."""
        return summary

    def explain(self, error: RuntimeError) -> BaseException:
        """The error to report for a failed send, receive or collective in ``fit``."""
        return error

    def close(self, error: BaseException | None) -> None:
        """Release what the mode started (always called; ``error``: what ended the run, None
        after a normal end)."""


def drive(
    mode: Mode,
    splits: Splits,
    run: RunDir | Path | str | None,
    progress: str,
    *,
    test: bool = True,
    on_epoch: Callable[[dict], None] | None = None,
) -> dict:
    """Train ``mode.cfg`` with ``mode`` into ``run`` (new or resumed; ddp: the --out path of a
    new run); returns the summary, written to the run folder (see the module docstring)."""
    from . import MODES

    info = MODES[mode.cfg.distributed.mode]
    if info.torchrun:
        check_torchrun(mode.cfg)
    data = on_cpu(splits) if info.cpu_only else splits
    mode.check(data)
    try:
        summary = _train(mode, data, mode.open(run), progress, test, on_epoch)
    except BaseException as error:
        mode.close(error)
        raise
    mode.close(None)  # _train's parts are gone: ddp collects its wrapper before the group ends
    return summary


def _train(mode: Mode, data: Splits, run: RunDir, progress: str, test: bool, on_epoch) -> dict:
    cfg = mode.cfg
    parts = build.parts(mode.parts_config, data)
    report = Progress(cfg.train.epochs, progress if mode.writes else "quiet")
    mode.prepare(parts, data, report)
    try:
        _, summary = fit(
            parts,
            data,
            run,
            build.fit_options(cfg, parts),
            report,
            test=test,
            on_epoch=on_epoch,
            writes=mode.writes,
            callbacks=[mode],
            epoch_fn=mode.epoch,
        )
    except RuntimeError as error:
        explained = mode.explain(error)
        if explained is error:
            raise
        raise explained from None
    mode.finish()
    summary["distributed"] = mode.describe()
    if mode.writes:
        run.write_summary(summary)
    return mode.result(summary)


def check_torchrun(cfg: Config) -> None:
    """A mode whose processes torchrun starts (``MODES[mode].torchrun``), started without it:
    one line saying how to start it."""
    missing = [k for k in TORCHRUN_ENV if k not in os.environ]
    if missing:
        mode = cfg.distributed.mode
        raise UserError(
            f"distributed.mode = {mode} runs one process per rank under torchrun "
            f"({', '.join(missing)} not set); start it with: torchrun "
            f"--nproc-per-node N -m trainlab train distributed.mode={mode} ... "
            "(or --resume DIR)"
        )


def on_cpu(splits: Splits) -> Splits:
    """``splits`` on the CPU (a CPU-only mode, with ``device = auto`` on a GPU machine)."""
    if splits.x_train.device.type == "cpu":
        return splits
    return dataclasses.replace(
        splits,
        **{
            f.name: getattr(splits, f.name).cpu()
            for f in dataclasses.fields(splits)
            if isinstance(getattr(splits, f.name), torch.Tensor)
        },
    )


def slow_worker(cfg: Config) -> tuple[int, float] | None:
    """``distributed.slow_worker = "i:seconds"`` -> (i, seconds), or None when unset."""
    text = cfg.distributed.slow_worker
    if not text:
        return None
    index, seconds = text.split(":")
    return int(index), float(seconds)


def delay_of(cfg: Config, index: int) -> float:
    """The seconds worker (rank, stage) ``index`` waits before each gradient
    (``distributed.slow_worker``), 0 for every other."""
    slow = slow_worker(cfg)
    return slow[1] if slow is not None and slow[0] == index else 0.0
