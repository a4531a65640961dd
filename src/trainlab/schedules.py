"""Learning-rate schedules by name, on PyTorch's schedulers (lectures 000, 002, 003).

=============  ====================================================  ==========
constant       lr                                                    --
step           lr * gamma^floor(epoch / step_size)                   per epoch
exponential    lr * gamma^epoch  (= lr0 e^(-kt) with k = -ln gamma)  per epoch
plateau        lr * factor each time the monitored validation        per epoch
               metric has not improved for more than ``patience``
               epochs (PyTorch's ReduceLROnPlateau)
cosine         min_lr + (lr - min_lr)(1 + cos(pi t / T)) / 2         per update
one_cycle      warm up to lr, then anneal (Smith & Topin 2019)       per update
=============  ====================================================  ==========

``plateau`` watches ``early_stopping.monitor`` (the same metric that picks the best epoch).
"""

from __future__ import annotations

import torch
from torch.optim import lr_scheduler

PER_UPDATE = ("cosine", "one_cycle")


class Schedule:
    """A PyTorch scheduler (or none, for ``constant``) and when to step it."""

    def __init__(self, config: dict, optimizer: torch.optim.Optimizer, updates_per_epoch: int):
        s, epochs = config["schedule"], config["train"]["epochs"]
        self.per_update = s["name"] in PER_UPDATE
        self.watches = config["early_stopping"]["monitor"]
        total = epochs * updates_per_epoch
        self.scheduler = {
            "constant": lambda: None,
            "step": lambda: lr_scheduler.StepLR(optimizer, s["step_size"], s["gamma"]),
            "exponential": lambda: lr_scheduler.ExponentialLR(optimizer, s["gamma"]),
            "plateau": lambda: lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="max" if self.watches.endswith("accuracy") else "min",
                factor=s["factor"], patience=s["patience"], min_lr=s["min_lr"]),
            "cosine": lambda: lr_scheduler.CosineAnnealingLR(optimizer, total, s["min_lr"]),
            "one_cycle": lambda: lr_scheduler.OneCycleLR(
                optimizer, max_lr=config["optimizer"]["lr"], total_steps=total,
                cycle_momentum=False),  # keep the optimizer's momentum/betas as configured
        }[s["name"]]()

    def after_update(self) -> None:
        if self.per_update:
            self.scheduler.step()

    def after_epoch(self, metrics: dict) -> None:
        if self.per_update or self.scheduler is None:
            return
        if isinstance(self.scheduler, lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(metrics[self.watches])
        else:
            self.scheduler.step()

    def state_dict(self) -> dict:
        return {} if self.scheduler is None else self.scheduler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state)
