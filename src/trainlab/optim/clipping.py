"""Gradient clipping (lecture 000, "gradient clipping": keep each derivative within
[-theta, theta], theta = 5; Pascanu et al. 2013 rescale the whole gradient instead).

- by value: g_i <- clamp(g_i, -max_value, max_value)   (``torch.nn.utils.clip_grad_value_``)
- by global norm: g <- g * min(1, max_norm / ||g||_2), ||g|| over all parameters
  (``torch.nn.utils.clip_grad_norm_``)

Both may be given: by value first, then by norm. ``last_norm`` is the norm before clipping.
"""

from __future__ import annotations

import torch
from torch.optim import Optimizer

from .transform import GradientTransform


class GradientClipping(GradientTransform):
    def __init__(
        self, optimizer: Optimizer, max_norm: float | None = None, max_value: float | None = None
    ):
        if max_norm is None and max_value is None:
            raise ValueError("GradientClipping needs max_norm, max_value or both")
        for name, v in (("max_norm", max_norm), ("max_value", max_value)):
            if v is not None and not v > 0:
                raise ValueError(f"Invalid {name} value: {v}")
        super().__init__(optimizer)
        self.max_norm, self.max_value = max_norm, max_value
        self.last_norm: torch.Tensor | None = None

    def transform(self, params: list[torch.Tensor]) -> None:
        if self.max_value is not None:
            torch.nn.utils.clip_grad_value_(params, self.max_value, foreach=True)
        if self.max_norm is not None:
            self.last_norm = torch.nn.utils.clip_grad_norm_(params, self.max_norm, foreach=True)
