"""PyTorch's elementwise optimizers on stacked models: one update of M models at once, each with
its own hyperparameters (rate, momentum, betas, eps, weight decay, ...) and its own state.

The update is PyTorch's own: ``torch.optim``'s functional form of the run's optimizer
(``torch.optim.adam.adam``, ``sgd``, ...), with the run's ``fused`` / ``foreach`` choice,
called on views of the stacked parameters, gradients and state, once per parameter group and
per slice of consecutive models whose hyperparameters and step counts are equal (a grid of
seeds is one slice; 5 rates x 10 seeds, five); for trainlab's Rprop, its own readable step
(:func:`trainlab.optim.rprop.reference_step`). An elementwise update of a slice is the update
of each of its models, so every model takes exactly its single run's step.

The state lives here while a group trains and is read from and written back to each run's own
optimizer (:meth:`StackedOptimizer.load`, :meth:`StackedOptimizer.store`) in its own format, so
that the run's checkpoints are those of a run trained alone and resume as one. A fresh state is
zeros: PyTorch creates its buffers as zeros, or, for SGD's momentum, as the first gradient,
which ``0 * mu + g`` equals.

Around the update, per model and as the run's own transforms compute them: clipping by value
(clamp to [-c, c]) and by global norm (``clip_grad_norm_``'s g *= min(1, c / (||g|| + 1e-6)),
||g|| over the model's gradients), then gradient noise (N(0, eta / (1 + t)^gamma) from the
run's own noise generator, in its order).
"""

from __future__ import annotations

import torch

from ..optim import GradientClipping, GradientNoise, GradientTransform, Rprop
from ..optim.rprop import reference_step

# The state each rule keeps per parameter, as PyTorch names it (besides "step").
STATE = {
    torch.optim.SGD: ("momentum_buffer",),
    torch.optim.Adam: ("exp_avg", "exp_avg_sq"),
    torch.optim.AdamW: ("exp_avg", "exp_avg_sq"),
    torch.optim.Adagrad: ("sum",),
    torch.optim.RMSprop: ("square_avg", "momentum_buffer", "grad_avg"),
    torch.optim.Adadelta: ("square_avg", "acc_delta"),
    Rprop: ("prev", "step_size", "prev_update"),
}
SUPPORTED = tuple(STATE)
# Entries of a parameter group that differ between runs without changing the rule's numbers.
PER_RUN = ("params", "previous_loss")

# Options that must be equal across the group (they change the rule, not a number in it).
SHARED = {
    torch.optim.SGD: ("nesterov", "dampening", "maximize"),
    torch.optim.Adam: ("amsgrad", "maximize"),
    torch.optim.AdamW: ("amsgrad", "maximize"),
    torch.optim.Adagrad: ("maximize",),
    torch.optim.RMSprop: ("centered", "maximize"),
    torch.optim.Adadelta: ("maximize",),
    Rprop: ("variant",),
}


def unwrap(optimizer: torch.optim.Optimizer):
    """(inner optimizer, clipping or None, noise or None) of a run's optimizer."""
    clip = noise = None
    while isinstance(optimizer, GradientTransform):
        if isinstance(optimizer, GradientClipping):
            clip = optimizer
        elif isinstance(optimizer, GradientNoise):
            noise = optimizer
        else:
            return None, None, None
        optimizer = optimizer.optimizer
    return optimizer, clip, noise


def why_not(optimizers: list[torch.optim.Optimizer]) -> str | None:
    """None if these runs' optimizers can step together here, else why not (one phrase)."""
    inners = [unwrap(o) for o in optimizers]
    kinds = {type(i) for i, _, _ in inners}
    if len(kinds) != 1:
        return "the runs use different optimizers"
    kind = kinds.pop()
    if kind not in SUPPORTED:
        return f"{kind.__name__} is not one of PyTorch's elementwise optimizers"
    shapes = {(c is None, n is None) for _, c, n in inners}
    if len(shapes) != 1:
        return "some runs clip or add gradient noise and others do not"
    for key in SHARED[kind]:
        values = {g.get(key) for i, _, _ in inners for g in i.param_groups}
        if len(values) > 1:
            return f"the runs differ in the optimizer's {key}"
    if kind is torch.optim.SGD and any(
        g.get("dampening", 0) for i, _, _ in inners for g in i.param_groups
    ):
        return "SGD with dampening"
    if any(g.get("maximize") for i, _, _ in inners for g in i.param_groups):
        return "maximize"
    return None


class StackedOptimizer:
    """One optimizer for the stacked parameters ``params`` (name -> (M, ...)) of M runs, whose
    own optimizers are ``optimizers`` over their models' parameters ``named`` (per run: name ->
    parameter), in the same order."""

    def __init__(
        self,
        params: dict[str, torch.Tensor],
        optimizers: list[torch.optim.Optimizer],
        named: list[dict[str, torch.nn.Parameter]],
    ):
        self.params, self.named = params, named
        self.inners, self.clips, self.noises = zip(*(unwrap(o) for o in optimizers))
        self.kind = type(self.inners[0])
        first = self.inners[0]
        group = {id(p): g for g, group in enumerate(first.param_groups) for p in group["params"]}
        # names in the optimizer's own order (its groups, then their parameters): noise draws
        order = {id(p): k for k, p in enumerate(p for g in first.param_groups for p in g["params"])}
        self.names = sorted(
            (name for name, p in named[0].items() if id(p) in group),
            key=lambda n: order[id(named[0][n])],
        )
        self.group_of = {name: group[id(named[0][name])] for name in self.names}
        self.state: dict[str, dict[str, torch.Tensor]] = {}
        self.steps = torch.zeros(len(optimizers), dtype=torch.float64)

    # --- hyperparameters ---------------------------------------------------------------

    def slices(self) -> list[tuple[int, int]]:
        """[a, b) ranges of consecutive models whose hyperparameters (every group's) and step
        counts are equal: each is updated by one call of PyTorch's rule."""
        keys = [
            (
                float(self.steps[m]),
                [tuple((k, v) for k, v in g.items() if k not in PER_RUN) for g in o.param_groups],
            )
            for m, o in enumerate(self.inners)
        ]
        out, start = [], 0
        for m in range(1, len(keys) + 1):
            if m == len(keys) or keys[m] != keys[start]:
                out.append((start, m))
                start = m
        return out

    # --- state ---------------------------------------------------------------------------

    def load(self) -> None:
        """Read every run's optimizer state into stacked tensors (zeros where a run has none)."""
        self.state = {}
        for name in self.names:
            p = self.params[name]
            per_key = {}
            for key in STATE[self.kind]:
                slices = []
                for m, inner in enumerate(self.inners):
                    found = inner.state.get(self.named[m][name], {}).get(key)
                    if found is not None:
                        slices.append(found.detach())
                    elif key == "step_size":  # Rprop's Delta_0: the rate when it first steps
                        lr = inner.param_groups[self.group_of[name]]["lr"]
                        slices.append(torch.full_like(p[m], lr))
                    else:
                        slices.append(torch.zeros_like(p[m]))
                per_key[key] = torch.stack(slices)
            self.state[name] = per_key
        first = self.names[0] if self.names else None
        steps = []
        for m, inner in enumerate(self.inners):
            s = inner.state.get(self.named[m][first], {}).get("step") if first else None
            steps.append(0.0 if s is None else float(s))
        self.steps = torch.tensor(steps, dtype=torch.float64)

    def store(self) -> None:
        """Write the stacked state back into every run's optimizer, in PyTorch's format (no
        entry where PyTorch keeps none: SGD without momentum)."""
        for m, inner in enumerate(self.inners):
            for name in self.names:
                p = self.named[m][name]
                kept = {
                    key: stacked[m].clone()
                    for key, stacked in self.state[name].items()
                    if self._keeps(key, inner, name)
                }
                if self.kind is not torch.optim.SGD:
                    old = inner.state.get(p, {}).get("step")
                    dtype = torch.float64 if self.kind is Rprop else torch.float32
                    like = old if isinstance(old, torch.Tensor) else torch.zeros((), dtype=dtype)
                    kept["step"] = torch.tensor(
                        float(self.steps[m]), dtype=like.dtype, device=like.device
                    )
                if kept:
                    inner.state[p].update(kept)
            if self.kind is Rprop:
                inner._flat = {}  # its fast path's buffers are not these tensors

    def _keeps(self, key: str, inner, name: str) -> bool:
        """Whether PyTorch's optimizer keeps ``key`` for this run (SGD and RMSprop keep a
        momentum buffer only with momentum; RMSprop its gradient average only centered)."""
        group = inner.param_groups[self.group_of[name]]
        if key == "momentum_buffer":
            return group["momentum"] != 0
        if key == "grad_avg":
            return bool(group["centered"])
        if key == "prev_update":
            return group["variant"] in ("rprop+", "irprop+")
        return True

    # --- one update ----------------------------------------------------------------------

    @torch.no_grad()
    def step(
        self,
        params: dict[str, torch.Tensor],
        grads: dict[str, torch.Tensor],
        losses: torch.Tensor | None = None,
    ) -> None:
        """Transform the gradients (clipping, noise) and update every stacked parameter of
        ``params`` (name -> (M, ...), in place) from its gradient in ``grads``; the
        hyperparameters are read from the runs' optimizers now (a schedule may have changed
        them since the last step). ``losses``: each run's objective for these gradients
        (irprop+ compares it with the one before)."""
        self.params = params
        self.went_up = self._losses(losses)
        # contiguous: the fused kernels read gradients with the parameters' layout, and vmap's
        # gradient of a linear layer's weight comes transposed in memory
        grads = {n: grads[n].contiguous() for n in self.names if grads.get(n) is not None}
        self._clip(grads)
        self._noise(grads)
        for a, b in self.slices():
            inner = self.inners[a]
            for g, group in enumerate(inner.param_groups):
                names = [n for n in self.names if self.group_of[n] == g and n in grads]
                if names:
                    self._rule(group, inner, names, a, b, grads)
        self.steps += 1

    def _rule(self, group: dict, inner, names: list[str], a: int, b: int, grads: dict) -> None:
        """PyTorch's update of ``group`` (the hyperparameters of models a..b-1) on the views
        [a:b] of the parameters ``names``."""
        import torch.optim.adadelta as adadelta
        import torch.optim.adagrad as adagrad
        import torch.optim.adam as adam
        import torch.optim.adamw as adamw
        import torch.optim.rmsprop as rmsprop
        import torch.optim.sgd as sgd

        p = [self.params[n][a:b] for n in names]
        g = [grads[n][a:b] for n in names]
        st = [{k: v[a:b] for k, v in self.state[n].items()} for n in names]
        steps = [torch.tensor(float(self.steps[a]), dtype=torch.float32) for _ in names]
        how = {"foreach": group.get("foreach"), "maximize": False}
        fused = {"fused": group.get("fused")}
        kind = self.kind
        if kind is Rprop:
            for n, param, state in zip(names, p, st):
                went_up = False  # irprop+: one value per model, broadcast over its slice
                if self.went_up is not None:
                    went_up = self.went_up[a:b].view(-1, *([1] * (param.dim() - 1)))
                reference_step(param, grads[n][a:b], state, group, went_up)
        elif kind is torch.optim.SGD:
            mu = group["momentum"]
            sgd.sgd(
                p,
                g,
                [s["momentum_buffer"] for s in st] if mu else [None] * len(p),
                **how,
                **fused,
                weight_decay=group["weight_decay"],
                momentum=mu,
                lr=group["lr"],
                dampening=group["dampening"],
                nesterov=group["nesterov"],
            )
        elif kind in (torch.optim.Adam, torch.optim.AdamW):
            rule = adamw.adamw if kind is torch.optim.AdamW else adam.adam
            rule(
                p,
                g,
                [s["exp_avg"] for s in st],
                [s["exp_avg_sq"] for s in st],
                [],
                steps,
                **how,
                **fused,
                amsgrad=False,
                beta1=group["betas"][0],
                beta2=group["betas"][1],
                lr=group["lr"],
                weight_decay=group["weight_decay"],
                eps=group["eps"],
            )
        elif kind is torch.optim.Adagrad:
            adagrad.adagrad(
                p,
                g,
                [s["sum"] for s in st],
                steps,
                **how,
                **fused,
                lr=group["lr"],
                weight_decay=group["weight_decay"],
                lr_decay=group["lr_decay"],
                eps=group["eps"],
            )
        elif kind is torch.optim.RMSprop:
            rmsprop.rmsprop(
                p,
                g,
                [s["square_avg"] for s in st],
                [s["grad_avg"] for s in st],
                [s["momentum_buffer"] for s in st],
                steps,
                **how,
                lr=group["lr"],
                alpha=group["alpha"],
                eps=group["eps"],
                weight_decay=group["weight_decay"],
                momentum=group["momentum"],
                centered=group["centered"],
            )
        else:
            adadelta.adadelta(
                p,
                g,
                [s["square_avg"] for s in st],
                [s["acc_delta"] for s in st],
                steps,
                **how,
                lr=group["lr"],
                rho=group["rho"],
                eps=group["eps"],
                weight_decay=group["weight_decay"],
            )

    def _losses(self, losses: torch.Tensor | None) -> torch.Tensor | None:
        """irprop+: whether each run's loss went up since its last step (kept, as trainlab's
        Rprop keeps it, in each parameter group's ``previous_loss``), as a (M,) mask; None for
        the other rules."""
        if self.kind is not Rprop or self.inners[0].param_groups[0]["variant"] != "irprop+":
            return None
        if losses is None:
            raise RuntimeError("irprop+ needs each run's loss: step(params, grads, losses)")
        went_up = []
        for inner, loss in zip(self.inners, losses.tolist()):
            previous = inner.param_groups[0].get("previous_loss")
            went_up.append(previous is not None and loss > previous)
            for group in inner.param_groups:
                group["previous_loss"] = loss
        return torch.tensor(went_up)

    def _clip(self, grads: dict[str, torch.Tensor]) -> None:
        """Each model's clipping, as ``clip_grad_value_`` and ``clip_grad_norm_`` compute it."""
        if self.clips[0] is None or not grads:
            return
        for m, clip in enumerate(self.clips):
            views = [g[m] for g in grads.values()]
            if clip.max_value is not None:
                torch._foreach_clamp_min_(views, -clip.max_value)
                torch._foreach_clamp_max_(views, clip.max_value)
            if clip.max_norm is not None:
                total = torch.nn.utils.get_total_norm(views, 2.0, foreach=True)
                coef = torch.clamp(clip.max_norm / (total + 1e-6), max=1.0)
                torch._foreach_mul_(views, coef)
                clip.last_norm = total

    def _noise(self, grads: dict[str, torch.Tensor]) -> None:
        """Each model's gradient noise from its own generator, in its own order."""
        if self.noises[0] is None or not grads:
            return
        for m, noise in enumerate(self.noises):
            views = [g[m] for g in grads.values()]
            draws = [
                torch.randn(v.shape, generator=noise.generator, dtype=v.dtype, device=v.device)
                for v in views
            ]
            torch._foreach_add_(views, draws, alpha=noise.sigma())
            noise.t += 1
