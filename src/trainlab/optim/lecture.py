"""The slides' own update rules, where they differ from PyTorch's: momentum and Nesterov as
lecture 000 writes them, RMSProp with epsilon inside the square root (lecture 000), Adam without
bias correction (lecture 002). trainlab builds them only when a config asks for the slide's form
(``optimizer.momentum_form = "lecture"``, ``optimizer.eps_inside_sqrt = true``,
``optimizer.bias_correction = false``); the defaults stay PyTorch's own classes.

Each is a plain per-parameter loop, with PyTorch's argument checks and state names.
"""

from __future__ import annotations

import torch
from torch.optim import Optimizer


def _check(lr: float, **values: float) -> None:
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    for name, value in values.items():
        if not 0.0 <= value:
            raise ValueError(f"Invalid {name} value: {value}")


class LectureSGD(Optimizer):
    """Momentum as lecture 000 writes it (s16, and the pseudo-code of s18), the step itself
    remembered::

        dW <- beta dW - lr g(W)        W <- W + dW

    and Nesterov's accelerated gradient (s24-28: "first extend the previous step, then compute
    the gradient at the resultant position")::

        dW <- beta dW - lr g(W + beta dW)        W <- W + dW

    PyTorch remembers the gradients instead (v <- beta v + g, W <- W - lr v): the same steps at
    a constant rate (dW = -lr v), different once the rate changes, since torch's past gradients
    are then scaled by today's rate and the slide's past steps keep the rate they were taken
    with.

    For Nesterov the parameters hold the look-ahead point W~ = W + beta dW, where the slide
    takes the gradient, so that the gradient the training step computes is the slide's (Sutskever
    et al. 2013's change of variables, also PyTorch's): W~ <- W~ - beta dW_old + (1 + beta)
    dW_new. The slide's W is W~ - beta dW (:meth:`slide_weights`). Weight decay wd adds wd w to
    g (coupled L2, as torch.optim.SGD). ``state[p]["delta"]`` is dW."""

    def __init__(
        self,
        params,
        lr: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ):
        _check(lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum requires a momentum")
        super().__init__(
            params, dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
        )

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, beta, wd = group["lr"], group["momentum"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad if wd == 0 else p.grad.add(p, alpha=wd)
                state = self.state[p]
                if "delta" not in state:
                    state["delta"] = torch.zeros_like(p)
                delta = state["delta"]
                if group["nesterov"]:
                    p.sub_(delta, alpha=beta)  # back to the slide's W
                delta.mul_(beta).sub_(g, alpha=lr)
                p.add_(delta, alpha=1 + beta if group["nesterov"] else 1.0)
        return loss

    def slide_weights(self, p: torch.Tensor) -> torch.Tensor:
        """The slide's W for parameter ``p``: ``p`` itself, or for Nesterov W~ - beta dW."""
        group = next(g for g in self.param_groups if any(q is p for q in g["params"]))
        delta = self.state.get(p, {}).get("delta")
        if not group["nesterov"] or delta is None:
            return p.detach().clone()
        return p.detach() - group["momentum"] * delta


class LectureRMSprop(Optimizer):
    """RMSProp (Hinton), with epsilon where lecture 000 puts it (s92-93, inside the root)::

        E[g^2] <- alpha E[g^2] + (1 - alpha) g^2        w <- w - lr g / sqrt(E[g^2] + eps)

    or, with ``eps_inside_sqrt=False``, PyTorch's (and lecture 002's) w <- w - lr g /
    (sqrt(E[g^2]) + eps), which is torch.optim.RMSprop (not centered). With momentum mu,
    as torch: b <- mu b + g / denominator, w <- w - lr b. Inside the root eps bounds the
    step where E[g^2] ~ 0 at lr / sqrt(eps) (1e4 lr for eps = 1e-8), outside at lr / eps.
    Weight decay wd adds wd w to g."""

    def __init__(
        self,
        params,
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        eps_inside_sqrt: bool = True,
    ):
        _check(lr, alpha=alpha, momentum=momentum, weight_decay=weight_decay)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        super().__init__(
            params,
            dict(
                lr=lr,
                alpha=alpha,
                eps=eps,
                momentum=momentum,
                weight_decay=weight_decay,
                eps_inside_sqrt=eps_inside_sqrt,
            ),
        )

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            alpha, eps, mu = group["alpha"], group["eps"], group["momentum"]
            wd = group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad if wd == 0 else p.grad.add(p, alpha=wd)
                state = self.state[p]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["square_avg"] = torch.zeros_like(p)
                    if mu > 0:
                        state["momentum_buffer"] = torch.zeros_like(p)
                state["step"] += 1
                square_avg = state["square_avg"]
                square_avg.mul_(alpha).addcmul_(g, g, value=1 - alpha)
                if group["eps_inside_sqrt"]:
                    denominator = square_avg.add(eps).sqrt_()
                else:
                    denominator = square_avg.sqrt().add_(eps)
                if mu > 0:
                    buf = state["momentum_buffer"]
                    buf.mul_(mu).addcdiv_(g, denominator)
                    p.add_(buf, alpha=-group["lr"])
                else:
                    p.addcdiv_(g, denominator, value=-group["lr"])
        return loss


class LectureAdam(Optimizer):
    """Adam (Kingma & Ba 2015) with or without bias correction. Lecture 002 writes it without::

        m <- beta1 m + (1 - beta1) g        v <- beta2 v + (1 - beta2) g^2
        w <- w - lr m / (sqrt(v) + eps)

    and lecture 003 (s47) explains the correction that Adam's paper (and torch.optim.Adam) adds,
    because m and v start at 0 and are biased toward it in the first steps: with
    ``bias_correction=True``, w <- w - lr m_hat / (sqrt(v_hat) + eps), m_hat = m / (1 -
    beta1^t), v_hat = v / (1 - beta2^t), computed in torch.optim.Adam's order. Without it the
    first steps are (1 - beta1) / sqrt(1 - beta2) ~ 3.2 times larger at the default betas
    (|g| >> eps). Weight decay wd adds wd w to g (coupled L2, as torch.optim.Adam)."""

    def __init__(
        self,
        params,
        lr: float = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        bias_correction: bool = False,
    ):
        _check(lr, weight_decay=weight_decay)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        super().__init__(
            params,
            dict(
                lr=lr,
                betas=tuple(betas),
                eps=eps,
                weight_decay=weight_decay,
                bias_correction=bias_correction,
            ),
        )

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            (beta1, beta2), eps, wd = group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad if wd == 0 else p.grad.add(p, alpha=wd)
                state = self.state[p]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                if group["bias_correction"]:
                    t = state["step"].item()
                    step_size = group["lr"] / (1 - beta1**t)
                    denominator = (v.sqrt() / (1 - beta2**t) ** 0.5).add_(eps)
                else:
                    step_size, denominator = group["lr"], v.sqrt().add_(eps)
                p.addcdiv_(m, denominator, value=-step_size)
        return loss
