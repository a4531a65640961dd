"""Learning-rate schedules by name, on PyTorch's schedulers (lectures 000, 002, 003).

=============  ========================================================  ==========
constant       lr                                                        --
step           lr * gamma^floor(epoch / step_size)                       per epoch
exponential    lr * gamma^epoch  (= lr0 e^(-kt) with k = -ln gamma)      per epoch
inverse_time   lr / (1 + decay * epoch): sum lr = inf, sum lr^2 < inf,   per epoch
               the Robbins-Monro conditions (lectures 000, 002)
linear         lr -> end_factor * lr linearly over decay_epochs          per epoch
               (0 = all epochs), then constant (lecture 002)
plateau        lr * factor each time the monitored validation metric    per epoch
               has not improved for more than ``patience`` epochs
               (PyTorch's ReduceLROnPlateau)
cosine         min_lr + (lr - min_lr)(1 + cos(pi t / T)) / 2             per update
one_cycle      warm up to lr, then anneal (Smith & Topin 2019)           per update
=============  ========================================================  ==========

``warmup_epochs`` > 0 puts a linear warm-up in front of any of them (Goyal et al. 2017): the rate
rises from lr / (warm-up updates) to lr, one step per update, over that many epochs; then the
schedule above starts, as PyTorch's ``SequentialLR`` would run them (cosine and one_cycle then
span the updates that are left). ``plateau`` watches ``early_stopping.monitor``.

``every`` ("auto", "epoch" or "update") says when a schedule steps: "auto" is the column above;
"update" steps it after every update, its constants then counted in updates (``step_size``
updates between decays, ``gamma`` per update, ``inverse_time`` at lr / (1 + decay k) with k the
update count, ``linear`` over ``decay_epochs`` updates, cosine and one_cycle over the run's
updates), as lecture 000's SGD pseudo-code shrinks eta_k after every update k (s50-51, s76-77;
the conditions sum eta = inf, sum eta^2 < inf, s49-56) and as Robbins-Monro's mu_n does in
lecture 002 ("C.1 Gradient descent: stochastic approximation"); "epoch" steps it after every
epoch, its constants counted in epochs (cosine and one_cycle over the run's epochs).
``plateau`` watches a metric measured once per epoch, so it steps per epoch only. The rate each
update used is kept in :attr:`Schedule.rates` whenever it can change within an epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.optim import lr_scheduler

from ..registry import Registry
from .early_stopping import maximizes


@dataclass(frozen=True)
class Span:
    """What a schedule's builder needs besides the ``schedule`` options: the updates it spans
    (after any warm-up), the run's epochs, the peak rate, the metric plateau watches, and
    whether it is stepped after every update (``per_update``); ``steps``: how many times it is
    stepped over the run (updates or epochs)."""

    updates: int
    epochs: int
    lr: float
    monitor: str
    per_update: bool = True

    @property
    def steps(self) -> int:
        return self.updates if self.per_update else self.epochs


def _plateau(opt, span: Span, *, factor: float, patience: int, min_lr: float):
    return lr_scheduler.ReduceLROnPlateau(
        opt,
        mode="max" if maximizes(span.monitor) else "min",
        factor=factor,
        patience=patience,
        min_lr=min_lr,
    )


@dataclass(frozen=True)
class ScheduleInfo:
    """``reads``: the ``schedule.*`` keys its builder takes; ``per_update``: stepped after every
    update rather than every epoch."""

    per_update: bool
    reads: tuple[str, ...] = ()


# Every schedule, once: ``build(optimizer, Span, **{key: value for key in reads})`` -> a PyTorch
# scheduler (or None).
SCHEDULES = Registry("schedule", "schedule.name", ScheduleInfo, config_key=True)
SCHEDULES.add("constant", lambda opt, span: None, "lr", per_update=False)
SCHEDULES.add(
    "step",
    lambda opt, span, *, step_size, gamma: lr_scheduler.StepLR(opt, step_size, gamma),
    "lr gamma^floor(epoch / step_size)",
    per_update=False,
    reads=("step_size", "gamma"),
)
SCHEDULES.add(
    "exponential",
    lambda opt, span, *, gamma: lr_scheduler.ExponentialLR(opt, gamma),
    "lr gamma^epoch (= lr e^(-kt), k = -ln gamma)",
    per_update=False,
    reads=("gamma",),
)
SCHEDULES.add(
    "inverse_time",
    lambda opt, span, *, decay: lr_scheduler.LambdaLR(opt, lambda e: 1.0 / (1.0 + decay * e)),
    "lr / (1 + decay epoch) (Robbins-Monro)",
    per_update=False,
    reads=("decay",),
)
SCHEDULES.add(
    "linear",
    lambda opt, span, *, end_factor, decay_epochs: lr_scheduler.LinearLR(
        opt, 1.0, end_factor, decay_epochs or span.steps
    ),
    "lr -> end_factor lr linearly over decay_epochs, then constant",
    per_update=False,
    reads=("end_factor", "decay_epochs"),
)
SCHEDULES.add(
    "plateau",
    _plateau,
    "lr factor when the monitored metric stalls for more than patience epochs",
    per_update=False,
    reads=("factor", "patience", "min_lr"),
)
SCHEDULES.add(
    "cosine",
    lambda opt, span, *, min_lr: lr_scheduler.CosineAnnealingLR(opt, span.steps, min_lr),
    "min_lr + (lr - min_lr)(1 + cos(pi t / T)) / 2",
    per_update=True,
    reads=("min_lr",),
)
SCHEDULES.add(
    "one_cycle",
    lambda opt, span: lr_scheduler.OneCycleLR(
        opt, max_lr=span.lr, total_steps=span.steps, cycle_momentum=False
    ),  # momentum as set
    "warm up to lr, then anneal (Smith & Topin 2019)",
    per_update=True,
)
PER_UPDATE = SCHEDULES.names(per_update=True)
EVERY = ("auto", "epoch", "update")


class Schedule:
    """The PyTorch schedulers for ``optimizer`` (at its peak rate ``lr``): the schedule ``name``
    (the table above) with its ``options`` (the keys its registry entry reads: ``step_size``,
    ``gamma``, ...), over ``epochs`` epochs of ``updates_per_epoch`` updates, after a linear
    warm-up of ``warmup_epochs``; ``monitor``: the metric ``plateau`` watches; ``every``: when
    it steps ("auto": the table's column; "epoch"; "update": its constants counted in updates,
    the module docstring). Say when to step: :meth:`after_update`, :meth:`after_epoch`.
    :attr:`rates`: the rate each update used, kept when it can change within an epoch
    (:attr:`acts_per_update`); otherwise metrics' per-epoch ``lr`` is the whole course."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        name: str = "constant",
        *,
        updates_per_epoch: int,
        epochs: int = 1,
        lr: float | None = None,
        monitor: str = "val_loss",
        warmup_epochs: float = 0.0,
        every: str = "auto",
        **options,
    ):
        entry = SCHEDULES[name]
        missing = [key for key in entry.reads if key not in options]
        if missing:
            raise TypeError(f"Schedule {name!r} needs the options {', '.join(missing)}")
        if every not in EVERY:
            raise ValueError(f"Invalid every value: {every!r} (auto, epoch or update)")
        if every == "update" and name == "plateau":
            raise ValueError("plateau watches a metric measured once per epoch: every='update'")
        self.per_update = entry.per_update if every == "auto" else every == "update"
        self.optimizer = optimizer
        self.rates: list[float] = []
        self.watches = monitor
        self.warmup_updates = round(warmup_epochs * updates_per_epoch)
        self.updates_per_epoch = updates_per_epoch
        self.updates = 0
        total = max(1, epochs * updates_per_epoch - self.warmup_updates)
        lr = optimizer.param_groups[0]["lr"] if lr is None else lr
        self.scheduler = entry.build(
            optimizer,
            Span(total, epochs, lr, self.watches, self.per_update),
            **{key: options[key] for key in entry.reads},
        )
        self.warmup = None
        if self.warmup_updates:  # built last: it sets the starting rate
            self.warmup = lr_scheduler.LinearLR(
                optimizer, 1.0 / self.warmup_updates, 1.0, self.warmup_updates - 1
            )

    @property
    def warming_up(self) -> bool:
        return self.updates < self.warmup_updates

    @property
    def acts_per_update(self) -> bool:
        """Whether :meth:`after_update` has anything to do (the loop skips it otherwise)."""
        return self.per_update or self.warmup_updates > 0

    def after_update(self) -> None:
        self.rates.append(self.optimizer.param_groups[0]["lr"])  # the rate this update used
        if self.warming_up:
            self.warmup.step()
        elif self.per_update and self.scheduler is not None:  # constant: nothing to step
            self.scheduler.step()
        self.updates += 1

    def after_epoch(self, metrics: dict) -> None:
        began_warming_up = (
            self.warmup_updates > 0 and self.updates - self.updates_per_epoch < self.warmup_updates
        )
        if self.per_update or self.scheduler is None or began_warming_up:
            return  # per-epoch schedules count the epochs after the warm-up
        if isinstance(self.scheduler, lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(metrics[self.watches])
        else:
            self.scheduler.step()

    def state_dict(self) -> dict:
        state = {"updates": self.updates, "rates": torch.tensor(self.rates, dtype=torch.float64)}
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if self.warmup is not None:
            state["warmup"] = self.warmup.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.updates = state["updates"]
        self.rates = state["rates"].tolist() if "rates" in state else []
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.warmup is not None:
            self.warmup.load_state_dict(state["warmup"])
