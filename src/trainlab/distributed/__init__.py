"""Distributed SGD (lecture 003, slides 51-60): the same training step in several processes.

``distributed.mode`` chooses how (each mode is one module; formulas and sources in its docstring):

============  ==============================================================================
none          one process (the default)
hogwild       N processes update one shared-memory model without locks (Niu et al. 2011)
async         a parameter server: workers pull weights, push gradients, the server applies each
              gradient as it arrives; stale gradients can be rejected (Dean et al. 2012)
sync          every update averages N gradients of the current weights; backup workers let the
              slowest be dropped (Chen et al. 2016)
ddp           PyTorch's DistributedDataParallel under ``torchrun``
pipeline      the model split into stages in separate processes, micro-batches flowing through
              (model parallelism, Dean et al. 2012)
============  ==============================================================================

Every mode writes the ordinary run folder (metrics evaluated by the server or rank 0 each epoch,
checkpoints, summary) and adds to the summary what it did (``distributed`` in ``summary.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from ..registry import Registry

if TYPE_CHECKING:
    from ..data import Splits
    from ..runs.rundir import RunDir


def _lazy(module: str):
    """The mode's ``train`` function, imported when first used (torch.distributed is slow to
    import and most runs never need it)."""
    def train(*args, **kwargs):
        return import_module(f"{__name__}.{module}").train(*args, **kwargs)
    return train


@dataclass(frozen=True)
class ModeInfo:
    """What the rest of trainlab needs to know of a distributed mode: the ``distributed.*`` keys
    it reads (``reads``; besides mode, address, port, timeout and slow_worker), whether it runs
    on the CPU only (``cpu_only``: one model in CPU shared memory), needs ``torchrun`` to start
    its processes, and has a parameter ``server``."""

    reads: tuple[str, ...] = ()
    cpu_only: bool = False
    torchrun: bool = False
    server: bool = False


# Each mode's ``train(config, splits, run, progress, *, test, on_epoch) -> summary``, where
# ``run`` is a RunDir (new or being resumed) or, for ``ddp``, the --out path (rank 0 makes it).
MODES = Registry("distributed mode", "distributed.mode", ModeInfo, config_key=True)
MODES.add("none", None, "one process")
MODES.add("hogwild", _lazy("hogwild"), "N processes, one shared-memory model, no locks "
          "(Niu et al. 2011)", reads=("workers",), cpu_only=True)
MODES.add("async", _lazy("server"), "parameter server, gradients applied as they arrive; "
          "stale ones rejected (Dean et al. 2012)", server=True,
          reads=("workers", "max_staleness", "staleness_lr", "warmup_updates", "servers"))
MODES.add("sync", _lazy("server"), "each update averages N gradients of the current weights; "
          "backup workers (Chen et al. 2016)", server=True,
          reads=("workers", "backup_workers", "servers"))
MODES.add("ddp", _lazy("ddp"), "DistributedDataParallel under torchrun", torchrun=True)
MODES.add("pipeline", _lazy("pipeline"), "model split into stages, micro-batches "
          "(Dean et al. 2012)", reads=("workers", "micro_batches"))


def train(config: dict, splits: Splits, run: RunDir | Path | str | None, progress: str, *,
          test: bool = True, on_epoch=None) -> dict:
    """Run ``config`` in its ``distributed.mode``; returns the summary (written by the mode)."""
    return MODES[config["distributed"]["mode"]].build(config, splits, run, progress, test=test,
                                                      on_epoch=on_epoch)


def slow_worker(config: dict) -> tuple[int, float] | None:
    """``distributed.slow_worker = "i:seconds"`` -> (i, seconds), or None when unset."""
    text = config["distributed"]["slow_worker"]
    if not text:
        return None
    index, seconds = text.split(":")
    return int(index), float(seconds)
