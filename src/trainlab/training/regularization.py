"""Regularization around one update (lectures 000, 002, 003): penalties added to the loss, and
noise on the inputs and weights. Dropout, hidden-activation noise and batch-norm statistics live
in the models (``trainlab.models.layers``); target noise in ``trainlab.training.losses``.

- L2 penalty: lambda/2 * sum w^2, gradient lambda * w. With plain SGD this is the same step as
  ``weight_decay = lambda``; with adaptive optimizers it is not: the penalty's gradient is
  rescaled by Adam's per-weight denominators, decoupled weight decay (``adamw``) is not
  (Loshchilov & Hutter 2019).
- L1 penalty: lambda * sum |w|, gradient lambda * sign(w): drives weights to exactly 0.
- Per-layer L2 (lecture 004, "Per-layer regularization"): sum_l lambda_l / 2 * ||W_l||^2, one
  strength per weight layer l (each module's ``weight`` of 2 or more dimensions: linear,
  convolutional, locally connected and recurrent weights, in the order of ``model.modules()``).
- L1 on the hidden activations (lecture 000 s153, "L1 regularization of network
  activations"): lambda * mean_n sum_j |h_nj| over every hidden activation h (the output of
  each activation module: ReLU, tanh, ...) of the batch's forward pass; sparse activations.
- Input noise: x + N(0, sigma^2) for every training sample (lecture 002, "noise").
- Weight noise: w + N(0, sigma^2) for the forward and backward pass; the update is applied to the
  clean weights with the gradient taken at the noisy ones (Graves 2011, lecture 002).

``exclude_bias_and_norm`` leaves biases and normalization parameters out of the penalties and
out of ``optimizer.weight_decay`` (:func:`decay_groups`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import UserError
from ..models.layers import ACTIVATIONS


def penalized(model: nn.Module, exclude_bias_and_norm: bool) -> list[nn.Parameter]:
    """Trainable parameters that penalties and weight decay act on."""
    if not exclude_bias_and_norm:
        return [p for p in model.parameters() if p.requires_grad]
    return [
        p
        for m in model.modules()
        if not isinstance(m, (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm))
        for name, p in m.named_parameters(recurse=False)
        if p.requires_grad and name.startswith("weight")
    ]


def decay_groups(model: nn.Module, exclude_bias_and_norm: bool) -> list[dict]:
    """Optimizer parameter groups: weight decay on the penalized parameters only."""
    decayed = penalized(model, exclude_bias_and_norm)
    ids = {id(p) for p in decayed}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
    return [{"params": decayed}] + ([{"params": rest, "weight_decay": 0.0}] if rest else [])


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The weight matrices (and kernels) of ``model``, in the order of ``model.modules()``:
    every trainable parameter named ``weight...`` of 2 or more dimensions, with its name."""
    return [
        (f"{module_name}.{name}".lstrip("."), p)
        for module_name, m in model.named_modules()
        for name, p in m.named_parameters(recurse=False)
        if p.requires_grad and name.startswith("weight") and p.dim() >= 2
    ]


def activation_types() -> tuple[type, ...]:
    """The module classes of the registered hidden activations (``model.activation``)."""
    builds = (ACTIVATIONS[name].build for name in ACTIVATIONS)
    return tuple(b for b in builds if isinstance(b, type))


class ActivationL1:
    """Records the hidden activations of ``model``'s last forward pass in training (forward
    hooks on its activation modules; a pre-hook on the model forgets the previous pass's) for
    the penalty lambda * mean_n sum_j |h_nj| (lecture 000 s153)."""

    def __init__(self, model: nn.Module, strength: float):
        self.strength = strength
        self.outputs: list[torch.Tensor] = []
        modules = [m for m in model.modules() if isinstance(m, activation_types())]
        if not modules:
            raise UserError(
                f"regularization.l1_activations = {strength}: the model has no hidden "
                "activation layers to penalize (use model.name = mlp, cnn1d or cnn2d with "
                "hidden layers)"
            )
        for m in modules:
            m.register_forward_hook(self._record)
        model.register_forward_pre_hook(self._forget)

    def __getstate__(self) -> dict:  # a model sent to another process: without activations
        return {**self.__dict__, "outputs": []}

    def _forget(self, module: nn.Module, inputs) -> None:
        self.outputs = []

    def _record(self, module: nn.Module, inputs, output: torch.Tensor) -> None:
        if module.training and torch.is_grad_enabled():
            self.outputs.append(output)

    def penalty(self) -> torch.Tensor:
        """lambda * sum over the recorded activations of sum |h| / batch size; forgets them."""
        outputs, self.outputs = self.outputs, []
        if not outputs:
            return torch.zeros(())
        total = sum(h.abs().sum() for h in outputs)
        return self.strength * total / len(outputs[0])


class Regularization:
    """The penalties lambda_2/2 sum w^2 (``l2``) and lambda_1 sum |w| (``l1``) over ``model``'s
    penalized parameters (all, or without biases and normalization parameters when
    ``exclude_bias_and_norm``), sum_l lambda_l/2 ||W_l||^2 with ``l2_per_layer`` (one strength
    per weight layer, :func:`weight_layers`), lambda mean_n sum_j |h_nj| over the hidden
    activations (``l1_activations``), Gaussian ``input_noise`` on every training input and
    ``weight_noise`` on the weights for each forward/backward pass (standard deviations)."""

    def __init__(
        self,
        model: nn.Module,
        *,
        l1: float = 0.0,
        l2: float = 0.0,
        l2_per_layer: Sequence[float] = (),
        l1_activations: float = 0.0,
        input_noise: float = 0.0,
        weight_noise: float = 0.0,
        exclude_bias_and_norm: bool = False,
    ):
        self.l1, self.l2 = l1, l2
        self.input_noise, self.weight_noise = input_noise, weight_noise
        self.params = penalized(model, exclude_bias_and_norm)
        self.per_layer: list[tuple[float, nn.Parameter]] = []
        if l2_per_layer:
            layers = weight_layers(model)
            if len(layers) != len(l2_per_layer):
                raise UserError(
                    f"regularization.l2_per_layer = {list(l2_per_layer)}: expected one strength "
                    f"per weight layer, {len(layers)} ({', '.join(n for n, _ in layers)})"
                )
            self.per_layer = [(s, p) for s, (_, p) in zip(l2_per_layer, layers) if s]
        self.activations = ActivationL1(model, l1_activations) if l1_activations else None
        self.has_penalty = bool(
            self.l1 or self.l2 or self.per_layer or self.activations is not None
        )
        self.noisy = bool(self.input_noise or self.weight_noise)

    def penalty(self) -> torch.Tensor:
        total = torch.zeros((), device=self.params[0].device)
        if self.l2:
            total = total + self.l2 / 2 * torch.stack(torch._foreach_norm(self.params)).pow(2).sum()
        if self.l1:
            total = total + self.l1 * torch.stack(torch._foreach_norm(self.params, 1)).sum()
        for strength, w in self.per_layer:
            total = total + strength / 2 * w.pow(2).sum()
        if self.activations is not None:
            total = total + self.activations.penalty().to(total.device)
        return total

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.input_noise * torch.randn_like(x) if self.input_noise else x

    @torch.no_grad()
    def perturb_weights(self) -> list[torch.Tensor] | None:
        """Add weight noise; returns the clean weights for :meth:`restore_weights`."""
        if not self.weight_noise:
            return None
        clean = [p.detach().clone() for p in self.params]
        for p in self.params:
            p.add_(torch.randn_like(p), alpha=self.weight_noise)
        return clean

    @torch.no_grad()
    def restore_weights(self, clean: list[torch.Tensor] | None) -> None:
        if clean is not None:
            torch._foreach_copy_(self.params, clean)
