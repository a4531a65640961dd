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
"""

from __future__ import annotations

import torch
from torch.optim import Optimizer

from .closure import evaluate as closure_loss

TINY = 1e-12


class QuickProp(Optimizer):
    def __init__(self, params, lr: float = 0.01, max_growth: float = 1.75,
                 weight_decay: float = 0.0):
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 1.0 < max_growth:
            raise ValueError(f"Invalid max_growth value: {max_growth} (must be > 1)")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, max_growth=max_growth, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure_loss(closure)
        for group in self.param_groups:
            lr, mu, wd = group["lr"], group["max_growth"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                slope = p.grad if wd == 0 else p.grad.add(p, alpha=wd)
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float64)
                    state["prev_slope"] = torch.zeros_like(p)
                    state["prev_update"] = torch.zeros_like(p)
                prev_slope, prev_update = state["prev_slope"], state["prev_update"]
                state["step"] += 1

                gradient_step = -lr * slope
                limit = mu * prev_update.abs()
                secant = slope / (prev_slope - slope) * prev_update
                usable = torch.isfinite(secant) & (secant * slope < 0) & (secant.abs() <= limit)
                same_sign = slope * prev_slope > 0
                grown = -slope.sign() * limit + gradient_step
                update = torch.where(usable, secant, torch.where(same_sign, grown, gradient_step))
                update = torch.where(prev_update.abs() <= TINY, gradient_step, update)

                p.add_(update)
                prev_update.copy_(update)
                prev_slope.copy_(slope)
        return loss
