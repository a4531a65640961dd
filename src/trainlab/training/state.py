"""What the epoch loop (:mod:`.loop`) and its callbacks (:mod:`.callbacks`) share: the parts
being trained, the options of the loop, and the state of a fit."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..data import Splits
from ..runs.rundir import RunDir
from .averaging import IterateAverage
from .early_stopping import EarlyStopping
from .losses import LossFn
from .schedules import Schedule
from .step import Step


@dataclass
class Parts:
    """What is trained, seeded: the model, the divergence, the optimizer (inside its gradient
    transforms), the schedule, the step that uses them, and the batching that goes with them."""

    model: nn.Module
    loss_fn: LossFn
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    step: Step
    batch_size: int
    min_size: int  # a last batch smaller than this joins the one before
    updates: int  # per epoch
    average: IterateAverage | None = None  # train.average: the iterates' average, evaluated


@dataclass(frozen=True)
class FitOptions:
    """How the epoch loop runs (lecture 000: train with periodic validation and early
    stopping): ``epochs``; ``shuffle`` the samples every epoch from ``seed``; ``monitor`` the
    metric that defines the best epoch, stopping after ``patience`` epochs (0 = never) without
    an improvement larger than ``min_delta``; evaluate the best epoch's weights
    (``restore_best``) or the last; recompute batch-norm statistics over the training set before
    each evaluation (``population_statistics``); write checkpoints at most every
    ``checkpoint_seconds``; train with ``threads`` PyTorch threads (0 = PyTorch's default);
    record ``diagnostics``; log to ``tensorboard``. ``optimizer`` and ``lr`` are what the
    summary reports of the optimizer."""

    epochs: int
    seed: int = 0
    shuffle: bool = True
    monitor: str = "val_loss"
    patience: int = 0
    min_delta: float = 0.0
    restore_best: bool = True
    population_statistics: bool = False
    checkpoint_seconds: float = 5.0
    threads: int = 0
    diagnostics: bool = False
    tensorboard: bool = False
    optimizer: str = ""
    lr: float | None = None
    techniques: dict | None = None  # what the run uses (config.techniques), for the summary


@dataclass
class FitState:
    """Everything the epoch loop and its callbacks share. Callbacks read it, and change what
    their docstrings say they change (``Resume`` restores it; ``ModelSelection`` sets ``stop``)."""

    options: FitOptions
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

    @classmethod
    def new(cls, options: FitOptions, data: Splits, parts: Parts, run: RunDir) -> FitState:
        """The state of a fit before its first epoch: early stopping as ``options`` say, and
        the sample order's generator seeded with ``options.seed``."""
        return cls(
            options,
            data,
            parts,
            run,
            EarlyStopping(options.monitor, options.patience, options.min_delta),
            torch.Generator().manual_seed(options.seed),
        )

    def evaluated_model(self) -> nn.Module:
        """The model that validation, model selection, checkpoints and the test evaluate: the
        trained one, or, once iterate averaging has averaged an update (``train.average``), the
        averaged one with its batch-norm statistics recomputed over the training split."""
        p = self.parts
        if p.average is None or not p.average.active:
            return p.model
        return p.average.evaluated(p.model, self.data.x_train, p.batch_size)
