"""QuickProp (Fahlman 1988, "An empirical study of learning speed in back-propagation networks";
lecture 000, the quiz on QuickProp: with a diagonal Hessian it is Newton's method with the
curvature of each weight estimated by a secant).

Per weight, with S_t = dE/dw at the current weight (plus ``weight_decay * w``) and dw_{t-1} the
previous step, the parabola through (w_{t-1}, S_{t-1}) and (w_t, S_t) has its minimum at

    q = S_t / (S_{t-1} - S_t) * dw_{t-1}.

The rules trainlab uses, in order:

1. If |dw_{t-1}| <= 1e-12 (the first step, or a weight that did not move): a gradient step,
   dw = -lr * S_t.
2. Else, if q is finite, downhill (q * S_t < 0: the parabola opens upward) and no larger than
   ``max_growth * |dw_{t-1}|``: the secant step, dw = q.
3. Else, if the slope kept its sign (S_t * S_{t-1} > 0): the step grows by the maximum factor in
   the downhill direction, plus Fahlman's gradient term:
   dw = -sign(S_t) * max_growth * |dw_{t-1}| - lr * S_t.
4. Else (the slope changed sign but the parabola is unusable): a gradient step, dw = -lr * S_t.

Fahlman adds the gradient term -lr * S_t to every step whose slope keeps its sign; trainlab adds
it only where the secant step is not taken (rule 3), so that on a quadratic with a diagonal
Hessian the secant step is exact: after one gradient step whose size is at least
1 / (1 + max_growth) of the distance to the minimum, the next step lands on it.

Speed: ``foreach`` (the default for contiguous parameters of one dtype and device) runs the
same rules as ~40 in-place passes over cache-sized chunks with float 0/1 masks, each choice
written as m * a + (1 - m) * b so that the chosen value is exact; ``foreach=False`` is the
readable per-parameter reference (the two agree to rounding, tested in float64).
"""

from __future__ import annotations

import torch
from torch.optim import Optimizer

from .chunked import Workspace, spans
from .closure import evaluate as closure_loss

TINY = 1e-12


class QuickProp(Optimizer):
    def __init__(
        self,
        params,
        lr: float = 0.01,
        max_growth: float = 1.75,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
    ):
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 1.0 < max_growth:
            raise ValueError(f"Invalid max_growth value: {max_growth} (must be > 1)")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(
            params, dict(lr=lr, max_growth=max_growth, weight_decay=weight_decay, foreach=foreach)
        )
        self._work = Workspace(6)

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure_loss(closure)
        for group in self.param_groups:
            lr, mu, wd = group["lr"], group["max_growth"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float64)
                    state["prev_slope"] = torch.zeros_like(p)
                    state["prev_update"] = torch.zeros_like(p)
                state["step"] += 1
                fast = (
                    group["foreach"] is not False
                    and p.is_contiguous()
                    and p.grad.is_contiguous()
                    and state["prev_slope"].is_contiguous()
                )
                if fast:
                    self._chunked(p, state, lr, mu, wd)
                else:
                    self._single(p, state, lr, mu, wd)
        return loss

    @staticmethod
    def _single(p, state, lr, mu, wd) -> None:
        """The readable per-parameter reference."""
        slope = p.grad if wd == 0 else p.grad.add(p, alpha=wd)
        prev_slope, prev_update = state["prev_slope"], state["prev_update"]
        gradient_step = -lr * slope  # rules 1, 4
        limit = mu * prev_update.abs()
        secant = slope / (prev_slope - slope) * prev_update
        usable = torch.isfinite(secant) & (secant * slope < 0) & (secant.abs() <= limit)
        same_sign = slope * prev_slope > 0
        grown = -slope.sign() * limit + gradient_step  # rule 3
        update = torch.where(usable, secant, torch.where(same_sign, grown, gradient_step))
        update = torch.where(prev_update.abs() <= TINY, gradient_step, update)
        p.add_(update)
        prev_update.copy_(update)
        prev_slope.copy_(slope)

    def _chunked(self, p, state, lr, mu, wd) -> None:
        """The same rules, in place on cache-sized chunks with float masks."""
        g, w = p.grad.view(-1), p.view(-1)
        P, D = state["prev_slope"].view(-1), state["prev_update"].view(-1)
        for start, end in spans(len(g)):
            a, b, c, d, e, s = self._work.get(p, end - start)
            S = g[start:end] if wd == 0 else torch.add(g[start:end], w[start:end], alpha=wd, out=s)
            Ps, Ds = P[start:end], D[start:end]
            torch.abs(Ds, out=a).mul_(mu)  # a = limit = mu |dw_prev|
            torch.sub(Ps, S, out=b)
            torch.div(S, b, out=c).mul_(Ds).nan_to_num_(0.0, 0.0, 0.0)  # c = secant (0: none)
            torch.lt(torch.mul(c, S, out=b), 0, out=b)  # b = [downhill]
            b.mul_(torch.le(torch.abs(c, out=d), a, out=d))  # b = usable (rule 2)
            torch.gt(torch.mul(S, Ps, out=d), 0, out=d)  # d = [slope kept its sign]
            torch.sign(S, out=e).mul_(a).mul_(d).add_(S, alpha=lr)  # e = -(rules 3/4 step)
            torch.mul(c, b, out=d)  # d = usable * secant
            b.neg_().add_(1.0)
            d.sub_(e.mul_(b))  # + (1 - usable) * rules 3/4
            torch.le(torch.abs(Ds, out=a), TINY, out=a)  # a = [no previous step]
            torch.mul(S, a, out=e).mul_(-lr)  # e = rule 1 where it applies
            d.mul_(a.neg_().add_(1.0)).add_(e)
            w[start:end].add_(d)
            Ds.copy_(d)
            Ps.copy_(S)
