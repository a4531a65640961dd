"""M models of one architecture as one: their parameters and buffers stacked along a new first
dimension, and one forward pass over all of them (``torch.func.functional_call`` under
``torch.func.vmap``).

Random layers are replayed: PyTorch's ``vmap`` would draw dropout masks from one generator for
the whole stack, in an order no single run has. Instead every model's random numbers are drawn
before its forward pass, from that model's own copy of the global generator, with the same
calls, shapes and order as its single run's layers make them (:meth:`Stack.draw`), and the
layers then use them (:class:`Replay`). So model m sees exactly the masks and noise its run
alone would see, on the CPU, where ``nn.Dropout`` is ``x * (bernoulli(1 - p) / (1 - p))``
(ATen's ``_dropout``; on CUDA PyTorch's fused kernel draws differently, so there the masks are
equally distributed but not the single run's).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from ..models.layers import GaussianNoise, OriginalDropout

RANDOM_LAYERS = (nn.Dropout, OriginalDropout, GaussianNoise)
BATCH_NORMS = (nn.modules.batchnorm._BatchNorm,)


class Replay(nn.Module):
    """A random layer (inverted dropout, the original form, Gaussian noise) that, in training,
    applies a draw made beforehand (:meth:`Stack.draw`) instead of drawing: inverted dropout
    ``x * mask`` with mask = bernoulli(1 - p) / (1 - p); the original form ``x * mask`` with
    mask = bernoulli(1 - p), and ``x * (1 - p)`` in evaluation; noise ``x + sigma * z``. In
    evaluation it is the layer it replaces."""

    def __init__(self, layer: nn.Module, feed: Feed):
        super().__init__()
        self.layer, self.feed = layer, feed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.layer(x)
        draw = self.feed.next()
        if isinstance(self.layer, GaussianNoise):
            return x + self.layer.sigma * draw
        return x * draw


class Feed:
    """The draws of one forward pass, handed to the :class:`Replay` layers in their order."""

    def __init__(self):
        self.draws: Iterator[torch.Tensor] = iter(())

    def next(self) -> torch.Tensor:
        return next(self.draws)


def random_layers(model: nn.Module) -> list[nn.Module]:
    """The layers of ``model`` that draw random numbers in training and can be replayed."""
    return [m for m in model.modules() if isinstance(m, RANDOM_LAYERS)]


def draw(
    layer: nn.Module,
    shape: torch.Size,
    like: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """What ``layer`` would draw for an input of ``shape``, from ``generator`` (default: the
    global one; a generator in the global one's state draws the same numbers), with the calls
    it makes itself (``nn.Dropout``: ATen's ``empty_like(x).bernoulli_(1 - p)`` then
    ``div_(1 - p)``; :class:`OriginalDropout`: the same without the division;
    :class:`GaussianNoise`: ``randn_like(x)``)."""
    if isinstance(layer, GaussianNoise):
        return torch.randn(shape, dtype=like.dtype, device=like.device, generator=generator)
    mask = torch.empty(shape, dtype=like.dtype, device=like.device)
    mask.bernoulli_(1 - layer.p, generator=generator)
    return mask.div_(1 - layer.p) if isinstance(layer, nn.Dropout) else mask


class Stack:
    """``models`` (same architecture, each built and seeded as its own run) stacked: their
    parameters and buffers as tensors with a first dimension of size M, which
    :meth:`forward` trains and :meth:`unstack` copies back into the models."""

    def __init__(self, models: list[nn.Module]):
        self.models = models
        self.template = copy.deepcopy(models[0]).to("meta")
        self.feed = Feed()
        self.layers = _replace_random_layers(self.template, self.feed)
        self.shapes: dict[tuple, list[torch.Size]] = {}
        self.random = [random_layers(m) for m in models]
        self.trainable = [n for n, p in models[0].named_parameters() if p.requires_grad]
        self.params, self.buffers = {}, {}
        self.restack()

    def restack(self, models: list[nn.Module] | None = None) -> None:
        """(Re)read the models' parameters and buffers into the stacked tensors; ``models``:
        another set of models of the same architecture (a group whose runs changed)."""
        if models is not None:
            self.models = models
            self.random = [random_layers(m) for m in models]
        params, buffers = stack_module_state(self.models)
        self.params = {n: p.detach().requires_grad_(n in self.trainable) for n, p in params.items()}
        self.buffers = buffers

    @torch.no_grad()
    def unstack(self) -> None:
        """Copy the stacked parameters and buffers back into each model."""
        for m, model in enumerate(self.models):
            for name, p in model.named_parameters():
                p.copy_(self.params[name][m])
            for name, b in model.named_buffers():
                b.copy_(self.buffers[name][m])

    def draw_shapes(self, sample: torch.Tensor) -> list[torch.Size]:
        """The input shape of each random layer, in the order a training forward pass reaches
        them, for a batch shaped like ``sample`` (found once per shape, on the meta device)."""
        key = tuple(sample.shape)
        if key not in self.shapes:
            seen: list[torch.Size] = []
            probe = copy.deepcopy(self.models[0]).to("meta").train()
            hooks = [
                m.register_forward_pre_hook(lambda mod, args: seen.append(args[0].shape))
                for m in random_layers(probe)
            ]
            with torch.no_grad():
                probe(torch.empty(sample.shape, device="meta", dtype=sample.dtype))
            for h in hooks:
                h.remove()
            self.shapes[key] = seen
        return self.shapes[key]

    def draws(
        self, m: int, sample: torch.Tensor, generator: torch.Generator | None = None
    ) -> list[torch.Tensor]:
        """Model ``m``'s draws for one training forward pass of a batch shaped like ``sample``,
        from ``generator``, or the global generator (the caller sets it to model m's state)."""
        shapes = self.draw_shapes(sample)
        return [draw(layer, s, sample, generator) for layer, s in zip(self.random[m], shapes)]

    def forward(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        draws: list[torch.Tensor] | None,
        params: dict | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The M models' outputs (M, B, ...) for inputs ``x`` (M, B, ...) in training mode and
        their losses ``loss_fn(outputs, y)`` (M), with ``draws`` (each stacked (M, ...)) for
        the random layers (one vmap for both: its set-up is most of a tiny model's step);
        batch-norm running statistics are updated in the stacked buffers."""
        if not self.template.training:
            self.template.train()
        params = self.params if params is None else params

        def one(p, b, xb, yb, d):
            self.feed.draws = iter(d)
            z = functional_call(self.template, (p, b), (xb,))
            return z, loss_fn(z, yb)

        return vmap(one, randomness="error")(params, self.buffers, x, y, draws or [])


def _replace_random_layers(model: nn.Module, feed: Feed) -> list[nn.Module]:
    """Replace every random layer of ``model`` by a :class:`Replay` of it, in place."""
    replaced = []
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, RANDOM_LAYERS):
                setattr(parent, name, Replay(child, feed))
                replaced.append(child)
    return replaced
