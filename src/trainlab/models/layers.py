"""Pieces shared by the models: activations, normalization, the two forms of dropout, Gaussian
noise, population batch-norm statistics, and a Sequential with auxiliary heads."""

from __future__ import annotations

import torch
from torch import nn

from ..registry import Registry

# Every hidden activation, once.
ACTIVATIONS = Registry("activation", "model.activation", config_key=True)
ACTIVATIONS.add("relu", nn.ReLU, "max(0, x)")
ACTIVATIONS.add("leaky_relu", nn.LeakyReLU, "max(0.01 x, x)")
ACTIVATIONS.add("tanh", nn.Tanh, "tanh x")
ACTIVATIONS.add("sigmoid", nn.Sigmoid, "1 / (1 + e^-x)")


def activation(name: str) -> nn.Module:
    return ACTIVATIONS[name].build()


def _batch_norm(width: int, dims: int, momentum: float) -> nn.Module:
    return (nn.BatchNorm1d, nn.BatchNorm1d, nn.BatchNorm2d)[dims](width, momentum=momentum)


def _layer_norm(width: int, dims: int, momentum: float) -> nn.Module:
    return nn.LayerNorm(width) if dims == 0 else nn.GroupNorm(1, width)


# Every normalization, once: ``build(width, dims, momentum)``, dims 0 for a linear layer, 1 or 2
# for conv layers.
NORMS = Registry("normalization", "model.norm", config_key=True)
NORMS.add("none", lambda width, dims, momentum: nn.Identity(), "no normalization")
NORMS.add(
    "batch",
    _batch_norm,
    "batch norm over (N[, length...]) per feature/channel (lecture "
    "000), running averages with model.bn_momentum",
)
NORMS.add(
    "layer",
    _layer_norm,
    "layer norm over each sample's features (Ba et al. 2016; for conv "
    "layers over channels and positions, i.e. one-group GroupNorm)",
)


def norm(name: str, width: int, dims: int, momentum: float = 0.1) -> nn.Module:
    """The normalization ``name`` (see :data:`NORMS`) after a layer of ``width`` outputs."""
    return NORMS[name].build(width, dims, momentum)


class OriginalDropout(nn.Module):
    """Dropout as first described (lecture 000, dropout slides; Srivastava et al. 2014): in
    training each unit is kept with probability 1 - p and *not* rescaled; at test time every
    output is multiplied by the keep probability 1 - p. In expectation the same as the inverted
    form (``nn.Dropout``: scale by 1 / (1 - p) in training, nothing at test time)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return x * torch.empty_like(x).bernoulli_(1 - self.p)
        return x * (1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class GaussianNoise(nn.Module):
    """Adds N(0, sigma^2) to every activation in training (noise injection, lecture 002)."""

    def __init__(self, sigma: float):
        super().__init__()
        self.sigma = sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.sigma * torch.randn_like(x) if self.training else x

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}"


def dropout(p: float, mode: str = "inverted") -> list[nn.Module]:
    """[] for p = 0, else the dropout layer of the chosen form."""
    if not p:
        return []
    return [nn.Dropout(p) if mode == "inverted" else OriginalDropout(p)]


def regularizers(hidden_noise: float, p: float, mode: str) -> list[nn.Module]:
    """What follows every hidden activation: Gaussian noise of std ``hidden_noise``, then
    dropout with probability ``p`` in ``mode``."""
    noise = [GaussianNoise(hidden_noise)] if hidden_noise else []
    return noise + dropout(p, mode)


class TappedSequential(nn.Module):
    """``self.net`` (a Sequential) plus optional auxiliary classifiers (deeply supervised nets,
    Lee et al. 2015; lecture 003): ``heads[k]`` reads the output of ``net[taps[k]]``. In training
    the heads' logits are left in ``self.aux_outputs`` for the loop's loss; in evaluation they are
    not computed at all."""

    net: nn.Sequential

    def set_heads(self, taps: list[int], heads: list[nn.Module]) -> None:
        self.taps = taps
        self.heads = nn.ModuleList(heads)
        self.aux_outputs: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and getattr(self, "taps", None)):
            return self.net(x)
        outputs, tap = [], 0
        for i, layer in enumerate(self.net):
            x = layer(x)
            if tap < len(self.taps) and i == self.taps[tap]:
                outputs.append(self.heads[tap](x))
                tap += 1
        self.aux_outputs = outputs
        return x


@torch.no_grad()
def population_statistics(model: nn.Module, x: torch.Tensor, batch_size: int) -> None:
    """Replace every batch norm's running statistics by the population statistics of lecture
    000's inference rule: the mean of the minibatch means, and B / (B - 1) times the mean of the
    minibatch variances, over the training set in batches of B (PyTorch's cumulative average,
    momentum None, of its unbiased batch variances). Dropout and noise stay off."""
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not layers:
        return
    training = model.training
    model.eval()
    saved = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    full = len(x) - len(x) % batch_size or len(x)  # whole batches only: each of size B
    for i in range(0, full, batch_size):
        model(x[i : i + batch_size])
    for m, momentum in zip(layers, saved):
        m.momentum = momentum
    model.train(training)
