"""Small factories shared by the models: activations and normalization layers by name."""

from __future__ import annotations

from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def activation(name: str) -> nn.Module:
    return ACTIVATIONS[name]()


def norm(name: str, width: int, dims: int) -> nn.Module:
    """``batch``: batch norm over (N[, length...]) per feature/channel (lecture 000, batch
    normalization); ``layer``: layer norm over each sample's features (Ba et al. 2016; for conv
    layers over channels and positions, i.e. one-group GroupNorm); ``none``: identity.
    ``dims`` is 0 for a linear layer, 1 or 2 for 1-D or 2-D conv layers."""
    if name == "batch":
        return (nn.BatchNorm1d, nn.BatchNorm1d, nn.BatchNorm2d)[dims](width)
    if name == "layer":
        return nn.LayerNorm(width) if dims == 0 else nn.GroupNorm(1, width)
    return nn.Identity()
