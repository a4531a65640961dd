"""Resilient backpropagation, Rprop (lecture 000, the quiz on RProp; lecture 004), in the four
variants of Igel & Hüsken 2000, "Improving the Rprop learning algorithm".

Every weight has its own step size Delta, adapted by the sign of g_t * g_{t-1} only (the
gradient's size is ignored):

    g_t * g_{t-1} > 0:  Delta = min(Delta * eta_plus,  Delta_max)
    g_t * g_{t-1} < 0:  Delta = max(Delta * eta_minus, Delta_min)

and the weight moves by dw = -sign(g_t) * Delta, except after a sign change:

=========  =====================================================================================
rprop+     (Riedmiller & Braun 1993, what lecture 000's quiz describes) on a sign change undo the
           previous step (w -= dw_{t-1}, "weight backtracking") and set g_t = 0
rprop-     no backtracking: step by -sign(g_t) * Delta whatever happened
irprop+    on a sign change set g_t = 0, and undo the previous step only if the loss went up
           (E_t > E_{t-1}); needs the loss: ``step(closure)``
irprop-    on a sign change set g_t = 0 (no step for that weight this time), no backtracking;
           the same algorithm as ``torch.optim.Rprop``
=========  =====================================================================================

g_{t-1} is stored after that zeroing (``prev``), so a zeroed weight takes its next step with the
unchanged Delta. ``lr`` is the initial step size Delta_0, as in ``torch.optim.Rprop``;
``weight_decay`` adds an L2 term wd * w to the gradient (torch's Rprop has none).

Rprop is a full-batch method: with minibatches the sign of the gradient is noisy.

Speed: ``irprop-`` has a flat multi-tensor path: the state of a parameter group lives in one
contiguous buffer (each parameter's ``prev`` and ``step_size`` are views of it), and a step is
ten in-place passes over it with float masks, no boolean indexing and no allocation. It takes
the same steps as the per-parameter loop (to rounding: the step-size factor is built as
1 + (eta - 1) * mask) and is several times faster than ``torch.optim.Rprop``'s foreach path
(BENCHMARKS.md).
"""

from __future__ import annotations

import torch
from torch.optim import Optimizer

from .chunked import Workspace, spans
from .closure import evaluate as closure_loss

VARIANTS = ("rprop+", "rprop-", "irprop+", "irprop-")


class Rprop(Optimizer):
    def __init__(
        self,
        params,
        lr: float = 0.01,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50.0),
        variant: str = "irprop-",
        weight_decay: float = 0.0,
        foreach: bool | None = None,
    ):
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        if not 0.0 <= step_sizes[0] <= step_sizes[1]:
            raise ValueError(f"Invalid step sizes: {step_sizes[0]}, {step_sizes[1]}")
        if variant not in VARIANTS:
            raise ValueError(
                f"Invalid variant: {variant!r} (expected one of {', '.join(VARIANTS)})"
            )
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(
            lr=lr,
            etas=tuple(etas),
            step_sizes=tuple(step_sizes),
            variant=variant,
            weight_decay=weight_decay,
            foreach=foreach,
        )
        super().__init__(params, defaults)
        self._flat: dict[int, dict] = {}  # group index -> flat buffers of the fast path
        self._work = Workspace(2)

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self._flat = {}  # loaded state tensors are no longer views of the flat buffers

    def _init_state(self, p: torch.Tensor, group: dict) -> dict:
        state = self.state[p]
        if not state:
            state["step"] = torch.zeros((), dtype=torch.float64)
            state["prev"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["step_size"] = torch.full_like(p, group["lr"])
            if group["variant"] in ("rprop+", "irprop+"):
                state["prev_update"] = torch.zeros_like(p)
        return state

    @property
    def needs_loss(self) -> bool:
        """irprop+ compares the loss with the last one: ``step`` needs it (a closure)."""
        return any(g["variant"] == "irprop+" for g in self.param_groups)

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure_loss(closure)
        for index, group in enumerate(self.param_groups):
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            if any(p.grad.is_sparse for p in params):
                raise RuntimeError("Rprop does not support sparse gradients")
            if group["variant"] == "irprop+":
                if loss is None:
                    raise RuntimeError(
                        "Rprop variant 'irprop+' needs the loss: call "
                        "step(closure) with a closure that returns it"
                    )
                previous_loss = group.get("previous_loss")
                group["previous_loss"] = float(loss)
                loss_went_up = previous_loss is not None and float(loss) > previous_loss
            else:
                loss_went_up = False
            use_flat = (
                group["variant"] == "irprop-"
                and group["foreach"] is not False
                and group["weight_decay"] == 0
                and len(params) == len(group["params"])
                and len({(p.device, p.dtype) for p in params}) == 1
                and all(p.is_contiguous() and p.grad.is_contiguous() for p in params)
            )
            if use_flat:
                self._flat_irprop_minus(index, group, params)
            else:
                for p in params:
                    self._single(p, group, loss_went_up)
        return loss

    def _single(self, p: torch.Tensor, group: dict, loss_went_up: bool) -> None:
        """The readable per-parameter reference for all four variants."""
        state = self._init_state(p, group)
        state["step"] += 1
        reference_step(p, p.grad, state, group, loss_went_up)

    def _flat_irprop_minus(self, index: int, group: dict, params: list[torch.Tensor]) -> None:
        """iRprop- without boolean indexing or allocation: large parameters in place, a chunk
        that fits in cache at a time; small ones (biases, norm scales) together in one flat
        buffer, since a few kernel launches per tensor would cost more than their arithmetic."""
        etas, bounds = group["etas"], group["step_sizes"]
        big = [p for p in params if p.numel() >= SMALL]
        small = [p for p in params if p.numel() < SMALL]
        for p in big:
            state = self._init_state(p, group)
            g, prev, step_size, w = (
                p.grad.reshape(-1),
                state["prev"].view(-1),
                state["step_size"].view(-1),
                p.view(-1),
            )
            for start, end in spans(len(g)):
                a, b = self._work.get(p, end - start)
                sign = _irprop_minus(
                    g[start:end], prev[start:end], step_size[start:end], a, b, etas, bounds
                )
                w[start:end].addcmul_(sign, step_size[start:end], value=-1.0)
        if small:
            flat = self._flat.get(index)
            if flat is None or flat["params"] != [id(p) for p in small]:
                flat = self._flat[index] = self._make_flat(group, small)
            torch.cat([p.grad.reshape(-1) for p in small], out=flat["grad"])
            _irprop_minus(
                flat["grad"], flat["prev"], flat["step_size"], flat["a"], flat["b"], etas, bounds
            )
            torch._foreach_addcmul_(small, flat["sign_views"], flat["step_views"], value=-1.0)
        torch._foreach_add_([self.state[p]["step"] for p in params], 1.0)

    def _make_flat(self, group: dict, params: list[torch.Tensor]) -> dict:
        """One contiguous buffer per state; the per-parameter state becomes views of it."""
        states = [self._init_state(p, group) for p in params]
        sizes = [p.numel() for p in params]
        like = params[0]
        flat = {"params": [id(p) for p in params]}
        for name in ("prev", "step_size"):
            buffer = torch.cat([s[name].reshape(-1) for s in states])
            for s, view, p in zip(states, buffer.split(sizes), params):
                s[name] = view.view_as(p)
            flat[name] = buffer
        for name in ("grad", "a", "b"):
            flat[name] = torch.empty(sum(sizes), dtype=like.dtype, device=like.device)
        flat["sign_views"] = [v.view_as(p) for v, p in zip(flat["b"].split(sizes), params)]
        flat["step_views"] = [s["step_size"] for s in states]
        return flat


SMALL = 1 << 14  # parameters smaller than this share one flat buffer


def reference_step(
    p: torch.Tensor,
    g: torch.Tensor,
    state: dict,
    group: dict,
    loss_went_up: bool | torch.Tensor = False,
) -> None:
    """One step of ``group``'s variant on ``p`` (in place) from its gradient ``g`` (not
    changed), updating ``state``'s ``prev``, ``step_size`` and ``prev_update``: the readable
    form of every variant. Elementwise, so ``p`` may also hold several models stacked along
    its first dimension, with ``loss_went_up`` (irprop+) a mask broadcast over it: one value
    per model."""
    etaminus, etaplus = group["etas"]
    step_min, step_max = group["step_sizes"]
    variant = group["variant"]
    grad = g.add(p, alpha=group["weight_decay"])  # a copy: g is left as it is
    prev, step_size = state["prev"], state["step_size"]

    product = grad * prev
    increase, decrease = product > 0, product < 0
    factor = torch.ones_like(grad)
    factor[increase] = etaplus
    factor[decrease] = etaminus
    step_size.mul_(factor).clamp_(step_min, step_max)

    update = -grad.sign() * step_size
    if variant in ("rprop+", "irprop+"):
        # rprop+ undoes the last step after every sign change; irprop+ only if the loss rose
        backtrack = decrease if variant == "rprop+" else decrease & loss_went_up
        update[decrease] = 0.0
        update[backtrack] = -state["prev_update"][backtrack]
        state["prev_update"].copy_(update)
        grad[decrease] = 0.0
    elif variant == "irprop-":
        grad[decrease] = 0.0
        update[decrease] = 0.0
    p.add_(update)
    prev.copy_(grad)


def _irprop_minus(g, prev, step_size, a, b, etas, bounds) -> torch.Tensor:
    """One iRprop- step on 1-D tensors, in place, with float masks; ``a`` and ``b`` are scratch.
    Updates ``step_size`` and ``prev``; returns sign(g after zeroing), the step's direction."""
    etaminus, etaplus = etas
    torch.mul(g, prev, out=a)
    torch.gt(a, 0, out=b)  # b = [g * prev > 0]
    torch.lt(a, 0, out=a)  # a = [g * prev < 0]
    step_size.addcmul_(step_size, b, value=etaplus - 1.0)
    step_size.addcmul_(step_size, a, value=etaminus - 1.0)
    step_size.clamp_(*bounds)
    torch.addcmul(g, g, a, value=-1.0, out=prev)  # prev = g, zeroed after a sign change
    return torch.sign(prev, out=b)
