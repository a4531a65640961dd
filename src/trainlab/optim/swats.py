"""SWATS: Adam that switches to SGD (Keskar & Socher 2017, "Improving generalization performance
by switching from Adam to SGD"; lecture 003, "Adam first, then SGD").

Adam phase, per parameter group, step k (Algorithm 1 of the paper):

    m = beta1 m + (1 - beta1) g,   v = beta2 v + (1 - beta2) g^2
    p_k = -lr * (m / (1 - beta1^k)) / (sqrt(v / (1 - beta2^k)) + eps),   w += p_k
    if p_k . g != 0:
        gamma_k  = (p_k . p_k) / (-p_k . g)         # the SGD rate whose step projects onto p_k
        lambda_k = beta2 lambda_{k-1} + (1 - beta2) gamma_k
        if k > 1 and |lambda_k / (1 - beta2^k) - gamma_k| < eps:
            switch, Lambda = lambda_k / (1 - beta2^k)

SGD phase (momentum beta1):  v = beta1 v + g,   w -= (1 - beta1) Lambda v.

The dot products run over the whole group. Each group records ``switched_at`` (the last Adam
step, or None) and ``sgd_lr`` (Lambda). ``switch_at=S`` forces the switch after step S (the
simple form: Adam for a fixed number of steps, then SGD), with Lambda = ``sgd_lr`` if given, else
the current estimate lambda_k / (1 - beta2^k), else ``lr``.
"""

from __future__ import annotations

import torch
from torch.optim import Optimizer

from .closure import evaluate as closure_loss


class SWATS(Optimizer):
    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-9,
        weight_decay: float = 0.0,
        switch_at: int | None = None,
        sgd_lr: float | None = None,
    ):
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"Invalid beta parameters: {betas[0]}, {betas[1]}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if switch_at is not None and switch_at < 0:
            raise ValueError(f"Invalid switch_at value: {switch_at}")
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            switch_at=switch_at,
            sgd_lr=sgd_lr,
            switched_at=None,
            estimate=0.0,
            step=0,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure_loss(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            beta1, beta2 = group["betas"]
            grads = [
                p.grad if group["weight_decay"] == 0 else p.grad.add(p, alpha=group["weight_decay"])
                for p in params
            ]
            if (
                group["switched_at"] is None
                and group["switch_at"] is not None
                and group["step"] >= group["switch_at"]
            ):
                k = group["step"]
                estimate = group["estimate"] / (1 - beta2**k) if k else 0.0
                group["sgd_lr"] = group["sgd_lr"] or estimate or group["lr"]
                group["switched_at"] = k
            group["step"] += 1
            k = group["step"]
            if group["switched_at"] is not None:
                for p, g in zip(params, grads):
                    buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p))
                    buf.mul_(beta1).add_(g)
                    p.add_(buf, alpha=-(1 - beta1) * group["sgd_lr"])
                continue
            states = [self.state[p] for p in params]
            for p, state in zip(params, states):
                if "exp_avg" not in state:
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                    state["update"] = torch.zeros_like(p)  # p_k, kept: no allocation per step
            m, v, update = (
                [st[key] for st in states] for key in ("exp_avg", "exp_avg_sq", "update")
            )
            torch._foreach_lerp_(m, grads, 1 - beta1)  # m = beta1 m + (1 - beta1) g
            torch._foreach_mul_(v, beta2)
            torch._foreach_addcmul_(v, grads, grads, value=1 - beta2)
            torch._foreach_copy_(update, v)  # p_k = -lr m_hat / (sqrt(v_hat) + eps)
            torch._foreach_sqrt_(update)
            torch._foreach_div_(update, (1 - beta2**k) ** 0.5)
            torch._foreach_add_(update, group["eps"])
            torch._foreach_reciprocal_(update)
            torch._foreach_mul_(update, m)
            torch._foreach_mul_(update, -group["lr"] / (1 - beta1**k))
            torch._foreach_add_(params, update)
            pg = sum(
                torch.dot(u.reshape(-1), g.reshape(-1)).double() for u, g in zip(update, grads)
            )
            pp = torch.stack(torch._foreach_norm(update)).double().pow(2).sum()
            if pg.item() != 0:
                gamma = (pp / -pg).item()
                group["estimate"] = beta2 * group["estimate"] + (1 - beta2) * gamma
                corrected = group["estimate"] / (1 - beta2**k)
                if k > 1 and abs(corrected - gamma) < group["eps"]:
                    group["switched_at"], group["sgd_lr"] = k, corrected
        return loss
