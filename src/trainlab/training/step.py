"""One training step, in two halves that also work apart (lecture 000's recipe, one update).

``compute_gradients(x, y)``: batch -> [augmentation, input noise, weight noise] -> model ->
divergence [+ aux_weight * sum of the auxiliary heads' divergences (Lee et al. 2015)
+ penalties (L1, L2)] -> backward -> [clean weights back: the gradient is taken at the noisy
weights, the update applies to the clean ones (Graves 2011)]. The gradients are left in each
parameter's ``.grad``; it returns the batch's logits (detached) for the running metrics.

``apply_gradients()``: gradient transforms (clipping, then noise) and the optimizer step, which
wrap each other (``trainlab.build.optimizer``), then the per-update schedule (warm-up, cosine,
one-cycle).

``precision`` (``trainlab.training.precision``): the forward pass and the objective run under
its autocast (bf16, fp16); with fp16 the backward pass is of the scaled objective s * L and
``apply_gradients`` unscales (before the gradient transforms, so clipping sees the true
gradients), steps unless a gradient is inf/NaN, and updates s (``torch.amp.GradScaler``).
fp32 (the default) is the plain step. ``forward``: what computes the logits, e.g.
``torch.compile(model)``; default the model itself (which stays what is checkpointed).

A parameter-server worker calls only the first half and ships the ``.grad`` tensors; the server
copies gradients that arrive from elsewhere into ``.grad`` and calls only the second. Every
caller that trains (``fit``, ``lr-find``, ``trajectories``, distributed workers, claim
experiments) uses this class, so they all train the same way.

>>> step = Step(model, torch.nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), 0.1))
>>> logits = step(x, y)            # both halves: one update
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable

import torch
from torch import nn

from ..errors import UserError
from ..optim import GradientTransform, needs_loss, reevaluates_loss
from .augment import Augmentation
from .losses import LossFn
from .precision import Precision, scheduler_after_skipped_step
from .regularization import Regularization
from .schedules import Schedule

_nothing = contextlib.nullcontext


class Step:
    """One update of ``model`` on a batch: see the module docstring. ``regularization``,
    ``augmentation``, ``schedule``, ``precision`` (None: fp32) and ``forward`` (None: the
    model) are optional."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        optimizer: torch.optim.Optimizer,
        *,
        regularization: Regularization | None = None,
        augmentation: Augmentation | None = None,
        schedule: Schedule | None = None,
        aux_weight: float = 0.0,
        precision: Precision | None = None,
        forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
        clone_logits: bool = False,
    ):
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.forward = model if forward is None else forward
        # A CUDA graph's outputs are overwritten by its next replay (torch.compile's
        # reduce-overhead mode): keep a copy of the logits, and mark each new step.
        self.clone_logits = clone_logits
        self.precision = precision if precision is not None and precision.active else None
        self.scaler = None if self.precision is None else self.precision.scaler
        self.schedule, self.aux_weight = schedule, aux_weight
        # Decided once: per-update branches cost more than the work for online GD on a small net.
        self.augmentation = (
            augmentation if augmentation is not None and augmentation.active else None
        )
        active = regularization is not None
        self.regularization = regularization
        self.noisy = active and regularization.noisy
        self.penalized = active and regularization.has_penalty
        self.needs_loss = needs_loss(optimizer)  # a closure costs torch's optimizers a little
        self.reevaluates = reevaluates_loss(optimizer)  # second-order: the loss with its graph
        self._batch: tuple[torch.Tensor, torch.Tensor] | None = None
        self.per_update_schedule = schedule is not None and schedule.acts_per_update
        self.loss: torch.Tensor | None = None  # the last objective (graph freed after backward)
        if self.scaler is not None and (self.needs_loss or self.reevaluates):
            raise UserError(
                "train.precision = fp16 with an optimizer that needs the loss "
                "(irprop+, newton, diag_newton): the gradient scaler cannot step "
                "it; use bf16 or fp32"
            )
        # unscale_ before the transforms (clipping); a plain optimizer is unscaled by step()
        self.unscale_first = isinstance(optimizer, GradientTransform)

    def objective(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Divergence + auxiliary heads' divergences + penalties: what the gradient is of."""
        loss = self.loss_fn(logits, y)
        if self.aux_weight:
            loss = loss + self.aux_weight * sum(self.loss_fn(z, y) for z in self.model.aux_outputs)
        if self.penalized:
            loss = loss + self.regularization.penalty()
        return loss

    def compute_gradients(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The gradient of one batch's objective into every parameter's ``.grad`` (replacing
        what was there); returns the logits (detached)."""
        if self.augmentation is not None:
            x = self.augmentation(x)
        if self.noisy:
            x = self.regularization.inputs(x)
            clean = self.regularization.perturb_weights()
        if self.reevaluates:
            self._batch = (x, y)  # as the model saw it: augmented, noisy
        if self.clone_logits:
            torch.compiler.cudagraph_mark_step_begin()
        if self.precision is None:
            logits = self.forward(x)
            loss = self.objective(logits, y)
        else:
            with self.precision.autocast():
                logits = self.forward(x)
                loss = self.objective(logits, y)
            logits = logits.float()  # the running metrics' loss in float32
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
        else:
            self.scaler.scale(loss).backward()
        if self.noisy:
            self.regularization.restore_weights(clean)
        self.loss = loss
        logits = logits.detach()
        return logits.clone() if self.clone_logits else logits

    def apply_gradients(
        self, loss: torch.Tensor | float | None = None, lr_scale: float = 1.0
    ) -> None:
        """Gradient transforms, optimizer step and per-update schedule, from the ``.grad`` there
        is. ``loss``: the objective those gradients belong to, for optimizers that need it
        (irprop+); default: the last one :meth:`compute_gradients` computed. Optimizers that
        differentiate the loss again (Newton) get a closure that recomputes the objective on the
        last batch (in training mode: dropout draws a new mask). ``lr_scale``: this step only,
        every rate times this factor (a stale gradient's 1/staleness, Zhang et al. 2016); the
        schedule then sees the rates as they were."""
        if lr_scale != 1.0:
            groups = self.optimizer.param_groups
            rates = [g["lr"] for g in groups]
            for g in groups:
                g["lr"] = g["lr"] * lr_scale
        if self.scaler is not None:  # fp16: no closure optimizers (refused in __init__)
            if self.unscale_first:
                self.scaler.unscale_(self.optimizer)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        elif self.reevaluates:
            self.optimizer.step(self._objective_again)
        elif self.needs_loss:
            value = self.loss if loss is None else loss
            self.optimizer.step(lambda: value)
        else:
            self.optimizer.step()
        if lr_scale != 1.0:
            for g, rate in zip(groups, rates):
                g["lr"] = rate
        if self.per_update_schedule:
            if self.scaler is None:
                self.schedule.after_update()
            else:  # the update may have been skipped (overflow): no warning for that
                with scheduler_after_skipped_step():
                    self.schedule.after_update()

    def _objective_again(self) -> torch.Tensor:
        x, y = self._batch
        with self.precision.autocast() if self.precision is not None else _nothing():
            return self.objective(self.forward(x), y)

    def with_schedule(self, schedule: Schedule | None) -> Step:
        """The same step (same model, optimizer, noise and augmentation) with another schedule,
        or none (the learning-rate range test sets the rate itself)."""
        other = copy.copy(self)
        other.schedule = schedule
        other.per_update_schedule = schedule is not None and schedule.acts_per_update
        return other

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Both halves: one update on the batch; returns its logits (detached)."""
        logits = self.compute_gradients(x, y)
        self.apply_gradients()
        return logits
