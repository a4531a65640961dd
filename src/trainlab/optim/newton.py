"""Second-order steps: Newton's method and its diagonal approximation (lecture 003, slides 10-16:
gradient descent as a second-order Taylor expansion whose Hessian is replaced by a scaled
identity; lecture 000, slides 12-14: "second order methods that normalize the variation across
dimensions"). QuickProp and Rprop (trainlab.optim) approximate the curvature these use exactly.

Both need the loss with its graph, to differentiate twice: ``step(closure)`` with a closure that
re-evaluates the loss. Two conventions work:

- PyTorch's (``torch.optim.LBFGS``): the closure zeroes the gradients (or the caller does before
  ``step``), computes the loss, calls ``loss.backward()`` and returns the loss. While it runs,
  its backward passes keep their graph (``retain_graph=True``, set by a ``TorchFunctionMode``
  that is active only during that call), so the loss it returns can be differentiated again.
- trainlab's training step: the gradients are already in ``.grad``; the closure only recomputes
  the objective on the same batch, with its graph, and calls no backward.

The gradient g they step along is the one in ``.grad`` after the closure ran (after any gradient
transform: clipping, noise); the curvature comes from the loss the closure returned. ``step``
returns that loss detached. Newton with ``adapt_damping`` calls the closure once more after the
update (for the loss there): as with LBFGS, which also evaluates it several times per step, a
closure that calls backward should then zero the gradients itself.

- :class:`Newton`: w <- w - lr (H + lambda I)^-1 g with the exact Hessian H of the batch loss,
  formed in one batched double-backward pass (``is_grads_batched``): O(n^2) memory, so only for
  models up to ``max_params`` parameters.
- :class:`DiagNewton` (Becker & LeCun 1988): w_i <- w_i - lr g_i / (|h_ii| + mu), the Hessian's
  diagonal exact up to ``max_params`` parameters, and estimated by Hutchinson's method above:
  diag(H) = E[z * Hz] for Rademacher z (Bekas, Kokiopoulou & Saad 2007), averaged over
  ``hutchinson_samples`` draws, one Hessian-vector product each.
"""

from __future__ import annotations

import torch
from torch.optim import Optimizer
from torch.overrides import TorchFunctionMode


def _flat(tensors: list[torch.Tensor | None], like: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat(
        [(t if t is not None else torch.zeros_like(p)).reshape(-1) for t, p in zip(tensors, like)]
    )


def gradient_with_graph(loss: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
    """dL/dw as one flat vector that can be differentiated again."""
    grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
    return _flat(list(grads), params)


def hessian(loss: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
    """The exact Hessian d^2 L / dw dw' (n x n, symmetrized) of ``loss`` in ``params``: one
    backward pass per row, batched (``is_grads_batched``) where every op allows it."""
    g = gradient_with_graph(loss, params)
    n = g.numel()
    eye = torch.eye(n, dtype=g.dtype, device=g.device)
    if not g.requires_grad:  # the loss is linear in the parameters
        return torch.zeros_like(eye)
    try:
        rows = torch.autograd.grad(
            g, params, eye, is_grads_batched=True, allow_unused=True, retain_graph=True
        )
        h = torch.cat(
            [
                (
                    r if r is not None else torch.zeros(n, *p.shape, dtype=g.dtype, device=g.device)
                ).reshape(n, -1)
                for r, p in zip(rows, params)
            ],
            1,
        )
    except RuntimeError:  # an op without a batching rule: one row at a time
        h = torch.stack(
            [
                _flat(
                    list(torch.autograd.grad(g, params, e, allow_unused=True, retain_graph=True)),
                    params,
                )
                for e in eye
            ]
        )
    return (h + h.T) / 2


def hutchinson_diagonal(
    loss: torch.Tensor,
    params: list[torch.Tensor],
    samples: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Hutchinson's estimate of diag(H): the mean over ``samples`` Rademacher vectors z of
    z * (H z). Unbiased; the variance of one draw's entry i is sum_{j != i} H_ij^2."""
    g = gradient_with_graph(loss, params)
    if not g.requires_grad:
        return torch.zeros_like(g)
    total = torch.zeros_like(g)
    for _ in range(samples):
        z = torch.randint(0, 2, g.shape, generator=generator, device=g.device).to(g.dtype) * 2 - 1
        hz = _flat(
            list(torch.autograd.grad(g, params, z, allow_unused=True, retain_graph=True)), params
        )
        total += z * hz
    return total / samples


def solve(a: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, str]:
    """d with a d = g, and how it was found: Cholesky when ``a`` is positive definite; else LU
    with pivoting, the exact Newton direction even where H is indefinite (it heads for the
    nearest stationary point, saddles included, as lecture 000 warns); else, when ``a`` is
    singular, the minimum-norm least-squares solution (pseudo-inverse)."""
    factor, info = torch.linalg.cholesky_ex(a)
    if info.item() == 0:
        return torch.cholesky_solve(g[:, None], factor)[:, 0], "cholesky"
    d, info = torch.linalg.solve_ex(a, g)
    if info.item() == 0 and torch.isfinite(d).all():
        return d, "lu"
    return torch.linalg.pinv(a, hermitian=True) @ g, "pinv"


class _RetainGraph(TorchFunctionMode):
    """While active, every backward pass (``Tensor.backward``, ``torch.autograd.backward``,
    ``torch.autograd.grad``) keeps its graph: a PyTorch-convention closure calls
    ``loss.backward()``, which would otherwise free the graph the curvature differentiates.
    Every other call passes through unchanged (same op, same arguments: the same numbers)."""

    _backward = (torch.Tensor.backward, torch.autograd.backward, torch.autograd.grad)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self._backward:
            kwargs = {**kwargs, "retain_graph": True}
        return func(*args, **kwargs)


class _SecondOrder(Optimizer):
    """What both share: argument checks, the closure, the flat gradient, the step loop and the
    weight update; subclasses give the curvature and the direction."""

    reevaluates_loss = True  # the closure must recompute the loss with its graph

    def __init__(self, params, defaults: dict, max_params: int):
        for name in ("lr", "damping", "weight_decay"):
            if not 0.0 <= defaults[name]:
                raise ValueError(
                    f"Invalid {'learning rate' if name == 'lr' else name + ' value'}: "
                    f"{defaults[name]}"
                )
        if max_params < 1:
            raise ValueError(f"Invalid max_params value: {max_params}")
        super().__init__(params, defaults)
        self.size = sum(p.numel() for g in self.param_groups for p in g["params"])

    def _loss(self, closure) -> torch.Tensor:
        """The closure's loss, with its graph even if the closure ran backward on it."""
        if closure is None:
            raise RuntimeError(
                f"{type(self).__name__} needs step(closure) with a closure that "
                "re-evaluates the loss with its graph"
            )
        with torch.enable_grad(), _RetainGraph():
            return closure()

    @staticmethod
    def _group(group: dict) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The group's parameters that have a gradient, and that gradient (+ weight decay) flat."""
        params = [p for p in group["params"] if p.grad is not None]
        g = _flat([p.grad for p in params], params)
        if group["weight_decay"]:
            g = g + group["weight_decay"] * _flat([p.detach() for p in params], params)
        return params, g

    def _curvature(self, loss, params: list[torch.Tensor], group: dict) -> torch.Tensor:
        raise NotImplementedError

    def _direction(self, curvature, g, group: dict, params: list[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def _after(self, group: dict, closure, loss, g, curvature, d) -> None:
        """After the update d was applied (Newton adapts its damping here)."""

    @torch.no_grad()
    def step(self, closure=None):
        loss = self._loss(closure)
        for group in self.param_groups:
            params, g = self._group(group)
            if not params:
                continue
            with torch.enable_grad():
                curvature = self._curvature(loss, params, group)
            d = group["lr"] * self._direction(curvature, g, group, params)
            offset = 0
            for p in params:
                p.sub_(d[offset : offset + p.numel()].view_as(p))
                offset += p.numel()
            self._after(group, closure, loss, g, curvature, d)
        return loss.detach()  # the graph was only for the curvature: free it with this step


class Newton(_SecondOrder):
    """w <- w - lr (H + lambda I)^-1 g (damped Newton; see the module docstring), with the
    solve of :func:`solve`. ``adapt_damping``: Levenberg-Marquardt's rule as Martens (2010) uses
    it: rho = (actual loss decrease) / (decrease the quadratic model predicted,
    g'd - d'Hd / 2 for the step d taken); lambda *= 3/2 if rho < 1/4, lambda *= 2/3 if
    rho > 3/4 (one more evaluation of the closure per step). Weight decay wd adds wd w to g and
    wd to the damping. ``state[first parameter]["solves"]`` counts how each step was solved."""

    def __init__(
        self,
        params,
        lr: float = 1.0,
        damping: float = 1e-4,
        adapt_damping: bool = False,
        max_params: int = 5000,
        weight_decay: float = 0.0,
    ):
        super().__init__(
            params,
            dict(lr=lr, damping=damping, adapt_damping=adapt_damping, weight_decay=weight_decay),
            max_params,
        )
        if self.size > max_params:
            raise ValueError(
                f"Newton forms the full Hessian: the model has {self.size:,} "
                f"parameters, more than max_params = {max_params:,} "
                f"({self.size**2:.2g} Hessian entries); use diag_newton or a "
                "smaller model"
            )

    def _curvature(self, loss, params, group):
        return hessian(loss, params)

    def _direction(self, h, g, group, params):
        eye = torch.eye(len(g), dtype=g.dtype, device=g.device)
        d, method = solve(h + (group["damping"] + group["weight_decay"]) * eye, g)
        solves = self.state[params[0]].setdefault("solves", {})
        solves[method] = solves.get(method, 0) + 1
        return d

    def _after(self, group, closure, before, g, h, d) -> None:
        if not group["adapt_damping"]:
            return
        predicted = (g @ d - d @ h @ d / 2).item()
        with torch.enable_grad():
            after = closure()
        rho = (before - after).item() / predicted if predicted > 0 else -1.0
        if rho < 0.25:
            group["damping"] *= 1.5
        elif rho > 0.75:
            group["damping"] *= 2 / 3


class DiagNewton(_SecondOrder):
    """w_i <- w_i - lr g_i / (|h_ii| + mu) (Becker & LeCun 1988; see the module docstring).
    The diagonal is exact for at most ``max_params`` parameters, else Hutchinson's estimate with
    ``hutchinson_samples`` Rademacher draws (from PyTorch's global generator, which trainlab's
    checkpoints save). Weight decay wd adds wd w to g and wd to h_ii."""

    def __init__(
        self,
        params,
        lr: float = 1.0,
        damping: float = 1e-4,
        max_params: int = 5000,
        hutchinson_samples: int = 1,
        weight_decay: float = 0.0,
    ):
        if hutchinson_samples < 1:
            raise ValueError(f"Invalid hutchinson_samples value: {hutchinson_samples}")
        super().__init__(
            params,
            dict(
                lr=lr,
                damping=damping,
                weight_decay=weight_decay,
                hutchinson_samples=hutchinson_samples,
            ),
            max_params,
        )
        self.exact = self.size <= max_params

    def _curvature(self, loss, params, group):
        if self.exact:
            return hessian(loss, params).diagonal()
        return hutchinson_diagonal(loss, params, group["hutchinson_samples"])

    def _direction(self, diagonal, g, group, params):
        return g / (diagonal.abs() + group["weight_decay"] + group["damping"])
