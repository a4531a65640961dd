"""Gradient transforms that wrap any optimizer (the Optax idea: small parts that compose).

A :class:`GradientTransform` changes the gradients, then calls the wrapped optimizer's step. It
is a ``torch.optim.Optimizer`` that shares the wrapped one's ``param_groups``, ``state`` and
``defaults``, so PyTorch's schedulers, ``state_dict`` and checkpoints see one optimizer.
Wrappers nest: ``GradientClipping(GradientNoise(SGD(...)))`` clips, then adds noise, then steps.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch.optim import Optimizer

from .closure import evaluate as closure_loss


class GradientTransform(Optimizer):
    def __init__(self, optimizer: Optimizer):
        # Optimizer.__init__ is not called: the wrapped optimizer owns the groups and the state.
        self.optimizer = optimizer
        for hooks in (
            "_optimizer_step_pre_hooks",
            "_optimizer_step_post_hooks",
            "_optimizer_state_dict_pre_hooks",
            "_optimizer_state_dict_post_hooks",
            "_optimizer_load_state_dict_pre_hooks",
            "_optimizer_load_state_dict_post_hooks",
        ):
            setattr(self, hooks, OrderedDict())

    param_groups = property(lambda self: self.optimizer.param_groups)
    state = property(lambda self: self.optimizer.state)
    defaults = property(lambda self: self.optimizer.defaults)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.optimizer!r})"

    def transform(self, params: list[torch.Tensor]) -> None:
        """Change the gradients of ``params`` (those that have one) in place."""
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure_loss(closure)
        params = [p for g in self.param_groups for p in g["params"] if p.grad is not None]
        if params:
            self.transform(params)
        if loss is None:
            return self.optimizer.step()
        if getattr(self.optimizer, "reevaluates_loss", False):  # Newton: the closure itself
            return self.optimizer.step(closure)
        # the inner optimizer may want the loss (irprop+): hand it over without recomputing
        return self.optimizer.step(lambda: loss)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none)

    def transform_state(self) -> dict:
        return {}

    def load_transform_state(self, state: dict) -> None:
        pass

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "transform": self.transform_state()}

    def load_state_dict(self, state_dict: dict) -> None:
        self.optimizer.load_state_dict(state_dict["optimizer"])
        self.load_transform_state(state_dict["transform"])
