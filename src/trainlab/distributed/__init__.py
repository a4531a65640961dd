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

Each mode implements the small interface :class:`~trainlab.distributed.mode.Mode` (what it
refuses, what it starts around the run's parts, its epoch of updates, what it did); one driver,
:func:`~trainlab.distributed.mode.drive`, builds the parts, runs ``fit`` and writes the summary
for all of them. What the rest of trainlab needs to know of a mode is a fact of its registry
entry (:class:`ModeInfo`), never its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from ..registry import Registry

if TYPE_CHECKING:
    from ..config import Config
    from ..data import Splits
    from ..runs.rundir import RunDir


def _lazy(module: str, cls: str):
    """The mode's :class:`~trainlab.distributed.mode.Mode` class, made from a config when first
    used (torch.distributed is slow to import and most runs never need it)."""

    def make(cfg: Config, *args, **kwargs):
        return getattr(import_module(f"{__name__}.{module}"), cls)(cfg, *args, **kwargs)

    make.__qualname__ = make.__name__ = cls
    return make


@dataclass(frozen=True)
class ModeInfo:
    """What the rest of trainlab needs to know of a distributed mode: the ``distributed.*`` keys
    it reads (``reads``; besides mode, address, port, timeout and slow_worker), whether it runs
    on the CPU only (``cpu_only``: one model in CPU shared memory), needs ``torchrun`` to start
    its processes, has a parameter ``server``, and is ``synchronous`` (every update averages the
    gradients of several workers, all computed at the current weights: one process at a batch
    that many times larger; Chen et al. 2016)."""

    reads: tuple[str, ...] = ()
    cpu_only: bool = False
    torchrun: bool = False
    server: bool = False
    synchronous: bool = False


# Each mode's entry builds its Mode from the run's config (``MODES[mode].build(cfg)``).
MODES = Registry("distributed mode", "distributed.mode", ModeInfo, config_key=True)
MODES.add("none", None, "one process")
MODES.add(
    "hogwild",
    _lazy("hogwild", "Hogwild"),
    "N processes, one shared-memory model, no locks (Niu et al. 2011)",
    reads=("workers",),
    cpu_only=True,
)
MODES.add(
    "async",
    _lazy("server", "Coordinator"),
    "parameter server, gradients applied as they arrive; stale ones rejected (Dean et al. 2012)",
    server=True,
    reads=("workers", "max_staleness", "staleness_lr", "warmup_updates", "servers"),
)
MODES.add(
    "sync",
    _lazy("server", "Coordinator"),
    "each update averages N gradients of the current weights; backup workers (Chen et al. 2016)",
    server=True,
    synchronous=True,
    reads=("workers", "backup_workers", "servers"),
)
MODES.add(
    "ddp",
    _lazy("ddp", "DDP"),
    "DistributedDataParallel under torchrun",
    torchrun=True,
    synchronous=True,
)
MODES.add(
    "pipeline",
    _lazy("pipeline", "PipelineMode"),
    "model split into stages, micro-batches (Dean et al. 2012)",
    reads=("workers", "micro_batches"),
)


def train(
    cfg: Config,
    splits: Splits,
    run: RunDir | Path | str | None,
    progress: str,
    *,
    test: bool = True,
    on_epoch=None,
) -> dict:
    """Train ``cfg`` in its ``distributed.mode`` into ``run`` (a RunDir, new or being resumed;
    for a mode that torchrun starts, the --out path of a new run, which rank 0 creates);
    returns the summary, also written to the run folder. The driver
    (:func:`~trainlab.distributed.mode.drive`) runs here, or, for a mode with a parameter
    ``server``, in server 0, a process of its own that this one starts and relays."""
    info = MODES[cfg.distributed.mode]
    if info.server:
        from .server import launch

        return launch(cfg, splits, run, progress, test=test, on_epoch=on_epoch)
    from .mode import drive

    return drive(info.build(cfg), splits, run, progress, test=test, on_epoch=on_epoch)
