"""Data augmentation on the device, per batch (lecture 000, "data augmentation"; lecture 002).

Each sample gets its own random transform, drawn from PyTorch's global generator (seeded by the
run's seed and saved in checkpoints, so runs and resumes are deterministic):

- 1-D signals (N, L) or (N, C, L), e.g. MNIST-1D: shift by up to ``shift`` positions and stretch
  by a factor in [1 - stretch, 1 + stretch] around the centre, linear interpolation, zeros
  outside;
- images (N, C, H, W): rotation up to ``rotate`` degrees, zoom in [1 - stretch, 1 + stretch],
  shift up to ``shift`` of the width/height, bilinear, zeros outside;
- then Gaussian noise of std ``noise``.

Both are one ``affine_grid`` + ``grid_sample``: the output at normalized position u reads the
input at A u + t.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def warp(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample images ``x`` (N, C, H, W) at ``theta`` (N, 2, 3) applied to output positions."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def shift_stretch_1d(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Signals (N, C, L): output position i reads input position (i - c) / scale + c - shift,
    c the centre; ``shift`` in positions, ``scale`` > 1 stretches."""
    n, _, length = x.shape
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = 1 / scale
    theta[:, 0, 2] = -2 * shift / length  # normalized units: 2 / L per position
    theta[:, 1, 1] = 1
    return warp(x.unsqueeze(2), theta).squeeze(2)


def rotate_zoom_shift(
    x: torch.Tensor, degrees: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor
) -> torch.Tensor:
    """Images (N, C, H, W): rotate by ``degrees`` (positive: counter-clockwise as displayed,
    row 0 at the top, like ``torch.rot90(x, 1, (2, 3))``), zoom by ``scale``, shift by ``shift``
    (N, 2) fractions of (width, height)."""
    r = torch.deg2rad(degrees)
    cos, sin = torch.cos(r) / scale, torch.sin(r) / scale
    theta = torch.stack(
        [
            torch.stack([cos, -sin, -2 * shift[:, 0]], 1),
            torch.stack([sin, cos, -2 * shift[:, 1]], 1),
        ],
        1,
    )
    return warp(x, theta.to(x.dtype))


class Augmentation:
    """Random transformations of each training batch of samples shaped ``input_shape``, drawn
    per sample: ``shift`` (1-D: positions; images: fraction of the size), ``stretch`` s (scale
    in [1 - s, 1 + s]), ``rotate`` (images: degrees), then Gaussian ``noise`` (std); 0 = off."""

    def __init__(
        self,
        input_shape: tuple[int, ...],
        *,
        shift: float = 0.0,
        stretch: float = 0.0,
        rotate: float = 0.0,
        noise: float = 0.0,
    ):
        self.shift, self.stretch, self.rotate, self.noise = shift, stretch, rotate, noise
        self.image = len(input_shape) == 3
        self.geometric = bool(self.shift or self.stretch or (self.rotate and self.image))
        self.active = self.geometric or bool(self.noise)

    def _uniform(self, n: int, half_width: float, device, *shape) -> torch.Tensor:
        return (torch.rand(n, *shape, device=device) * 2 - 1) * half_width

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n = len(x)
        if self.geometric:
            scale = 1 + self._uniform(n, self.stretch, x.device)
            if self.image:
                x = rotate_zoom_shift(
                    x,
                    self._uniform(n, self.rotate, x.device),
                    scale,
                    self._uniform(n, self.shift, x.device, 2),
                )
            else:
                flat = x.unsqueeze(1) if x.dim() == 2 else x
                flat = shift_stretch_1d(flat, self._uniform(n, self.shift, x.device), scale)
                x = flat.squeeze(1) if x.dim() == 2 else flat
        if self.noise:
            x = x + self.noise * torch.randn_like(x)
        return x


__all__ = ["Augmentation", "rotate_zoom_shift", "shift_stretch_1d", "warp"]
