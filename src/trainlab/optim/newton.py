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
  or the saddle-free step w <- w - lr (|H| + lambda I)^-1 g (Dauphin et al. 2014), |H| = Q |L| Q'
  for H = Q L Q'. Near a saddle point H is indefinite and the Newton step heads for it; the
  saddle-free step goes downhill along negative curvature instead. (Lecture 003, s10-18,
  derives gradient descent from the same second-order Taylor model, and s61 cites escaping
  saddle points, Anandkumar & Ge 2016; lecture 000, s96, shows optimizers at a saddle point.)
  Levenberg-Marquardt's rule adapts lambda from 1 (``adapt_damping``).
- :class:`DiagNewton` (Becker & LeCun 1988): w_i <- w_i - lr g_i / (|h_ii| + mu), the Hessian's
  diagonal exact up to ``max_params`` parameters, and estimated by Hutchinson's method above:
  diag(H) = E[z * Hz] for Rademacher z (Bekas, Kokiopoulou & Saad 2007), averaged over
  ``hutchinson_samples`` draws, one Hessian-vector product each.

Memory: the exact Hessian (or diagonal) is formed row by row, a chunk of k rows per batched
double-backward pass (``is_grads_batched``). One row's pass costs about 3 S bytes, S the bytes
autograd saved for the loss and its gradient's graph (counted while they are built; measured on
CPU: 2.5 S per row for an MLP, 1.9 S for a 1-D CNN); the n x n matrix and its solve about 4 n^2
values (the matrix, its damped copy, the factor or eigenvectors, a temporary). Within
``memory_mb`` MiB: a model whose 4 n^2 values exceed it is refused when the optimizer is made,
before anything is allocated; k is the largest number of rows whose k 3 S fits in what is left
(at least 1: one row costs about what a training step's backward does).
"""

from __future__ import annotations

import math

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


class SavedBytes(torch.autograd.graph.saved_tensors_hooks):
    """While active, counts the bytes of the tensors autograd saves for backward (``total``);
    the tensors themselves are saved unchanged."""

    def __init__(self):
        self.total = 0

        def pack(t: torch.Tensor) -> torch.Tensor:
            self.total += t.numel() * t.element_size()
            return t

        super().__init__(pack, lambda t: t)


def _rows(g: torch.Tensor, params: list[torch.Tensor], start: int, end: int) -> torch.Tensor:
    """Rows start..end-1 of the Hessian, d g_i / dw for i in [start, end): one batched
    double-backward pass (``is_grads_batched``), or one pass per row for an op without a
    batching rule."""
    n, k = g.numel(), end - start
    basis = torch.zeros(k, n, dtype=g.dtype, device=g.device)
    basis[torch.arange(k), torch.arange(start, end)] = 1
    try:
        rows = torch.autograd.grad(
            g, params, basis, is_grads_batched=True, allow_unused=True, retain_graph=True
        )
        return torch.cat(
            [
                (
                    r if r is not None else torch.zeros(k, *p.shape, dtype=g.dtype, device=g.device)
                ).reshape(k, -1)
                for r, p in zip(rows, params)
            ],
            1,
        )
    except RuntimeError:
        return torch.stack(
            [
                _flat(
                    list(torch.autograd.grad(g, params, e, allow_unused=True, retain_graph=True)),
                    params,
                )
                for e in basis
            ]
        )


def hessian(
    loss: torch.Tensor,
    params: list[torch.Tensor],
    rows_per_pass: int | None = None,
    diagonal_only: bool = False,
) -> torch.Tensor:
    """The exact Hessian d^2 L / dw dw' (n x n, symmetrized: (H + H') / 2) of ``loss`` in
    ``params``, formed ``rows_per_pass`` rows per batched backward pass (all at once when None);
    with ``diagonal_only``, only its diagonal (n values: each chunk of rows is dropped once its
    diagonal entries are kept)."""
    return hessian_of(gradient_with_graph(loss, params), params, rows_per_pass, diagonal_only)


def hessian_of(
    g: torch.Tensor,
    params: list[torch.Tensor],
    rows_per_pass: int | None = None,
    diagonal_only: bool = False,
) -> torch.Tensor:
    """:func:`hessian` from the flat gradient ``g`` (:func:`gradient_with_graph`)."""
    n = g.numel()
    if not g.requires_grad:  # the loss is linear in the parameters
        return g.new_zeros(n if diagonal_only else (n, n)).detach()
    k = max(1, min(n, rows_per_pass or n))
    out = g.new_empty(n if diagonal_only else (n, n)).detach()
    for start in range(0, n, k):
        end = min(n, start + k)
        rows = _rows(g, params, start, end)
        if diagonal_only:
            out[start:end] = rows[torch.arange(end - start), torch.arange(start, end)]
        else:
            out[start:end] = rows
        del rows
    if not diagonal_only:  # in place: one temporary copy
        out.add_(out.T.contiguous()).mul_(0.5)
    return out


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


def saddle_free(h: torch.Tensor, g: torch.Tensor, damping: float) -> torch.Tensor:
    """(|H| + damping I)^-1 g, |H| = Q |L| Q' for the eigendecomposition H = Q L Q' (Dauphin et
    al. 2014, "Identifying and attacking the saddle point problem"): along each eigenvector the
    step is g's component divided by |curvature| + damping, so it goes downhill along negative
    curvature instead of up toward a saddle. A direction with |curvature| + damping = 0 (no
    curvature and no damping) gets no step (pseudo-inverse)."""
    eigenvalues, q = torch.linalg.eigh(h)
    scale = eigenvalues.abs_().add_(damping)
    tiny = scale.max().clamp_min(1e-300) * len(g) * torch.finfo(g.dtype).eps
    inverse = torch.where(scale > tiny, 1 / scale, torch.zeros_like(scale))
    return q @ (inverse * (q.T @ g))


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
    """What both share: argument checks, the closure, the flat gradient, the memory budget, the
    step loop, the weight update and Levenberg-Marquardt's damping rule; subclasses give the
    curvature, the direction and the quadratic model's curvature term."""

    reevaluates_loss = True  # the closure must recompute the loss with its graph
    ROW_COST = 3  # one Hessian row's backward pass, in bytes saved for the graph (measured)

    def __init__(self, params, defaults: dict, memory_mb: float):
        for name in ("lr", "damping", "weight_decay"):
            if not 0.0 <= defaults[name]:
                raise ValueError(
                    f"Invalid {'learning rate' if name == 'lr' else name + ' value'}: "
                    f"{defaults[name]}"
                )
        if not memory_mb > 0:
            raise ValueError(f"Invalid memory_mb value: {memory_mb}")
        super().__init__(params, defaults)
        self.memory = memory_mb * 2**20
        self.size = sum(p.numel() for g in self.param_groups for p in g["params"])
        self.itemsize = max(
            (p.element_size() for g in self.param_groups for p in g["params"]), default=4
        )
        self.rows_per_pass = 1  # the last step's k (describe reports it)

    def _loss(self, closure) -> torch.Tensor:
        """The closure's loss, with its graph even if the closure ran backward on it; counts the
        bytes autograd saves for it (``self._saved``)."""
        if closure is None:
            raise RuntimeError(
                f"{type(self).__name__} needs step(closure) with a closure that "
                "re-evaluates the loss with its graph"
            )
        saved = SavedBytes()
        with torch.enable_grad(), _RetainGraph(), saved:
            loss = closure()
        self._saved = saved.total
        return loss

    def _matrix_bytes(self) -> int:
        """What the curvature's matrices take besides the row passes."""
        return 0

    def _exact(self, loss, params, diagonal_only: bool = False) -> torch.Tensor:
        """The exact Hessian (or its diagonal) within the budget: k rows per batched pass, k
        the most whose cost k ROW_COST S fits in what the matrices leave, S the bytes autograd
        saved for the loss and its gradient's graph (at least 1 row)."""
        saved = SavedBytes()
        with saved:
            g = gradient_with_graph(loss, params)
        per_row = max(1, self.ROW_COST * (self._saved + saved.total))
        left = self.memory - self._matrix_bytes()
        self.rows_per_pass = max(1, min(self.size, int(left // per_row)))
        return hessian_of(g, params, self.rows_per_pass, diagonal_only)

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

    def _model_curvature(self, curvature, d: torch.Tensor) -> float:
        """d' C d for the quadratic model's curvature C (H, or its diagonal)."""
        raise NotImplementedError

    def _adapt(self, group: dict, closure, before, g, curvature, d) -> None:
        """Levenberg-Marquardt's rule as Martens (2010) uses it, after the update d was applied
        (w <- w - d): rho = (actual loss decrease) / (decrease the quadratic model predicted,
        g'd - (d'Cd + wd d'd) / 2); damping *= 3/2 if rho < 1/4, *= 2/3 if rho > 3/4 (one more
        evaluation of the closure per step)."""
        if not group["adapt_damping"]:
            return
        curve = self._model_curvature(curvature, d) + group["weight_decay"] * (d @ d).item()
        predicted = (g @ d).item() - curve / 2
        with torch.enable_grad():
            after = closure()
        rho = (before - after).item() / predicted if predicted > 0 else -1.0
        if not math.isfinite(rho) or rho < 0.25:
            group["damping"] *= 1.5
        elif rho > 0.75:
            group["damping"] *= 2 / 3

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
            self._adapt(group, closure, loss, g, curvature, d)
        return loss.detach()  # the graph was only for the curvature: free it with this step


class Newton(_SecondOrder):
    """w <- w - lr (H + lambda I)^-1 g (damped Newton; see the module docstring), with the
    solve of :func:`solve`; with ``saddle_free``, w <- w - lr (|H| + lambda I)^-1 g
    (:func:`saddle_free`, Dauphin et al. 2014). ``adapt_damping``: Levenberg-Marquardt's rule
    (:meth:`_SecondOrder._adapt`, the model's curvature H), from ``damping``: from 1 it learns
    a small non-convex net where lambda = 1e-4 steps onto a saddle. Weight decay wd adds wd w
    to g and wd to the damping. ``memory_mb``: the budget in MiB for the Hessian, its solve
    and the row passes (module docstring); a larger model is a ValueError here.
    ``state[first parameter]["solves"]`` counts how each step was solved."""

    MATRICES = 4  # n x n values: the Hessian, its damped copy, the factor, a temporary

    def __init__(
        self,
        params,
        lr: float = 1.0,
        damping: float = 1.0,
        adapt_damping: bool = True,
        saddle_free: bool = False,
        memory_mb: float = 1024.0,
        weight_decay: float = 0.0,
    ):
        super().__init__(
            params,
            dict(
                lr=lr,
                damping=damping,
                adapt_damping=adapt_damping,
                saddle_free=saddle_free,
                weight_decay=weight_decay,
            ),
            memory_mb,
        )
        if self._matrix_bytes() > self.memory:
            raise ValueError(
                f"Newton forms the full Hessian: {self.size:,} parameters need about "
                f"{self._matrix_bytes() / 2**20:,.1f} MiB ({self.MATRICES} x n^2 values of "
                f"{self.itemsize} bytes: the Hessian, its damped copy, the factor, a "
                f"temporary), more than optimizer.hessian_memory_mb = {memory_mb:g}; use "
                "diag_newton, a smaller model or a larger budget"
            )

    def _matrix_bytes(self) -> int:
        return self.MATRICES * self.size**2 * self.itemsize

    def _curvature(self, loss, params, group):
        return self._exact(loss, params)

    def _direction(self, h, g, group, params):
        damping = group["damping"] + group["weight_decay"]
        if group["saddle_free"]:
            d, method = saddle_free(h, g, damping), "saddle_free"
        else:
            eye = torch.eye(len(g), dtype=g.dtype, device=g.device)
            d, method = solve(h + damping * eye, g)
        solves = self.state[params[0]].setdefault("solves", {})
        solves[method] = solves.get(method, 0) + 1
        return d

    def _model_curvature(self, h, d):
        return (d @ h @ d).item()


class DiagNewton(_SecondOrder):
    """w_i <- w_i - lr g_i / (|h_ii| + mu) (Becker & LeCun 1988; see the module docstring).
    The diagonal is exact for at most ``max_params`` parameters (formed row by row within
    ``memory_mb`` MiB, keeping only the diagonal), else Hutchinson's estimate with
    ``hutchinson_samples`` Rademacher draws (from PyTorch's global generator, which trainlab's
    checkpoints save). ``adapt_damping``: Levenberg-Marquardt's rule on mu
    (:meth:`_SecondOrder._adapt`, the model's curvature |diag(H)|, as the step uses it).
    Weight decay wd adds wd w to g and wd to h_ii."""

    def __init__(
        self,
        params,
        lr: float = 1.0,
        damping: float = 1.0,
        adapt_damping: bool = True,
        max_params: int = 5000,
        hutchinson_samples: int = 1,
        memory_mb: float = 1024.0,
        weight_decay: float = 0.0,
    ):
        if hutchinson_samples < 1:
            raise ValueError(f"Invalid hutchinson_samples value: {hutchinson_samples}")
        if max_params < 1:
            raise ValueError(f"Invalid max_params value: {max_params}")
        super().__init__(
            params,
            dict(
                lr=lr,
                damping=damping,
                adapt_damping=adapt_damping,
                weight_decay=weight_decay,
                hutchinson_samples=hutchinson_samples,
            ),
            memory_mb,
        )
        self.exact = self.size <= max_params

    def _curvature(self, loss, params, group):
        if self.exact:
            return self._exact(loss, params, diagonal_only=True)
        return hutchinson_diagonal(loss, params, group["hutchinson_samples"])

    def _direction(self, diagonal, g, group, params):
        return g / (diagonal.abs() + group["weight_decay"] + group["damping"])

    def _model_curvature(self, diagonal, d):
        return (diagonal.abs() * d * d).sum().item()
