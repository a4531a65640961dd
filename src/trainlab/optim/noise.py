"""Gradient noise (Neelakantan et al. 2015, "Adding gradient noise improves learning for very
deep networks"; lecture 003, "gradient noise").

Before each step of the wrapped optimizer, every gradient gets independent Gaussian noise

    g_t <- g_t + N(0, sigma_t^2),   sigma_t^2 = eta / (1 + t)^gamma,

with t the number of steps taken before this one (sigma_0^2 = eta); the paper's choices are
eta in {0.01, 0.3, 1.0} and gamma = 0.55.
"""

from __future__ import annotations

import math

import torch
from torch.optim import Optimizer

from .transform import GradientTransform


class GradientNoise(GradientTransform):
    def __init__(
        self, optimizer: Optimizer, eta: float = 0.3, gamma: float = 0.55, seed: int | None = None
    ):
        if not 0.0 <= eta:
            raise ValueError(f"Invalid eta value: {eta}")
        if not 0.0 <= gamma:
            raise ValueError(f"Invalid gamma value: {gamma}")
        super().__init__(optimizer)
        self.eta, self.gamma, self.t = eta, gamma, 0
        device = next(p.device for g in self.param_groups for p in g["params"])
        self.generator = torch.Generator(device)
        self.generator.manual_seed(torch.initial_seed() if seed is None else seed)

    def sigma(self) -> float:
        return math.sqrt(self.eta / (1 + self.t) ** self.gamma)

    def transform(self, params: list[torch.Tensor]) -> None:
        grads = [p.grad for p in params]
        noise = [
            torch.randn(g.shape, generator=self.generator, dtype=g.dtype, device=g.device)
            for g in grads
        ]
        torch._foreach_add_(grads, noise, alpha=self.sigma())
        self.t += 1

    def transform_state(self) -> dict:
        return {"t": self.t, "generator": self.generator.get_state()}

    def load_transform_state(self, state: dict) -> None:
        self.t = state["t"]
        self.generator.set_state(state["generator"].cpu())
