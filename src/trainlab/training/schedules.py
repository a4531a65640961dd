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
    (after any warm-up), the run's epochs, the peak rate, and the metric plateau watches."""

    updates: int
    epochs: int
    lr: float
    monitor: str


def _plateau(opt, s: dict, span: Span):
    return lr_scheduler.ReduceLROnPlateau(
        opt, mode="max" if maximizes(span.monitor) else "min", factor=s["factor"],
        patience=s["patience"], min_lr=s["min_lr"])


# Every schedule, once: ``build(optimizer, schedule options, Span)`` -> a PyTorch scheduler (or
# None); ``per_update``: stepped after every update rather than every epoch.
SCHEDULES = Registry("schedule", "schedule.name")
SCHEDULES.add("constant", lambda opt, s, span: None, "lr", per_update=False)
SCHEDULES.add("step", lambda opt, s, span: lr_scheduler.StepLR(opt, s["step_size"], s["gamma"]),
              "lr gamma^floor(epoch / step_size)", per_update=False)
SCHEDULES.add("exponential", lambda opt, s, span: lr_scheduler.ExponentialLR(opt, s["gamma"]),
              "lr gamma^epoch (= lr e^(-kt), k = -ln gamma)", per_update=False)
SCHEDULES.add("inverse_time", lambda opt, s, span: lr_scheduler.LambdaLR(
    opt, lambda e: 1.0 / (1.0 + s["decay"] * e)), "lr / (1 + decay epoch) (Robbins-Monro)",
    per_update=False)
SCHEDULES.add("linear", lambda opt, s, span: lr_scheduler.LinearLR(
    opt, 1.0, s["end_factor"], s["decay_epochs"] or span.epochs),
    "lr -> end_factor lr linearly over decay_epochs, then constant", per_update=False)
SCHEDULES.add("plateau", _plateau, "lr factor when the monitored metric stalls for more than "
              "patience epochs", per_update=False)
SCHEDULES.add("cosine", lambda opt, s, span: lr_scheduler.CosineAnnealingLR(
    opt, span.updates, s["min_lr"]), "min_lr + (lr - min_lr)(1 + cos(pi t / T)) / 2",
    per_update=True)
SCHEDULES.add("one_cycle", lambda opt, s, span: lr_scheduler.OneCycleLR(
    opt, max_lr=span.lr, total_steps=span.updates, cycle_momentum=False),  # momentum as set
    "warm up to lr, then anneal (Smith & Topin 2019)", per_update=True)
PER_UPDATE = SCHEDULES.names(per_update=True)


class Schedule:
    """The PyTorch schedulers a config asks for, and when to step them."""

    def __init__(self, config: dict, optimizer: torch.optim.Optimizer, updates_per_epoch: int):
        s, epochs = config["schedule"], config["train"]["epochs"]
        self.per_update = s["name"] in PER_UPDATE
        self.watches = config["early_stopping"]["monitor"]
        self.warmup_updates = round(s["warmup_epochs"] * updates_per_epoch)
        self.updates_per_epoch = updates_per_epoch
        self.updates = 0
        total = max(1, epochs * updates_per_epoch - self.warmup_updates)
        self.scheduler = SCHEDULES[s["name"]].build(
            optimizer, s, Span(total, epochs, config["optimizer"]["lr"], self.watches))
        self.warmup = None
        if self.warmup_updates:  # built last: it sets the starting rate
            self.warmup = lr_scheduler.LinearLR(optimizer, 1.0 / self.warmup_updates, 1.0,
                                                self.warmup_updates - 1)

    @property
    def warming_up(self) -> bool:
        return self.updates < self.warmup_updates

    @property
    def acts_per_update(self) -> bool:
        """Whether :meth:`after_update` has anything to do (the loop skips it otherwise)."""
        return self.per_update or self.warmup_updates > 0

    def after_update(self) -> None:
        if self.warming_up:
            self.warmup.step()
        elif self.per_update:
            self.scheduler.step()
        self.updates += 1

    def after_epoch(self, metrics: dict) -> None:
        began_warming_up = (self.warmup_updates > 0 and
                            self.updates - self.updates_per_epoch < self.warmup_updates)
        if self.per_update or self.scheduler is None or began_warming_up:
            return  # per-epoch schedules count the epochs after the warm-up
        if isinstance(self.scheduler, lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(metrics[self.watches])
        else:
            self.scheduler.step()

    def state_dict(self) -> dict:
        state = {"updates": self.updates}
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if self.warmup is not None:
            state["warmup"] = self.warmup.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.updates = state["updates"]
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.warmup is not None:
            self.warmup.load_state_dict(state["warmup"])
