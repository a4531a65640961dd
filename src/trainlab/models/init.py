"""Weight initialization by name, built on ``torch.nn.init``.

Applies to the weights of every Linear, Conv and recurrent layer; their biases are set to
``bias`` (0 by default) except with ``default``, which keeps PyTorch's own initialization of
both; normalization layers keep gamma = 1, beta = 0. ``recurrent`` overrides the rule for the
hidden-to-hidden matrices of recurrent layers. Sources: lecture 002 (zeros, N(0, 1),
1/sqrt(n), Glorot uniform, He normal, orthogonal), lecture 001 (zero initialization leaves every
hidden unit identical), lecture 003 (uniform +-0.1, He, identity for RNNs).

- ``zeros``: W = 0 (symmetry is never broken: lecture 001); ``constant``: W = value.
- ``normal``: W ~ N(0, std^2) (lecture 002 uses std = 1).
- ``uniform``: W ~ U(-a, a) (lecture 003: +-0.1).
- ``lecun``: W ~ N(0, 1 / fan_in) (LeCun et al. 1998; lecture 002's 1/sqrt(n) scaling).
- ``glorot_uniform`` / ``glorot_normal``: variance 2 / (fan_in + fan_out) (Glorot & Bengio 2010);
  uniform on [-b, b], b = sqrt(6 / (fan_in + fan_out)).
- ``he_normal`` / ``he_uniform``: variance 2 / fan_in (He et al. 2015).
- ``orthogonal``: W a (semi-)orthogonal matrix (Saxe et al. 2014).
- ``identity`` (recurrent weights): W_hh = I (Le et al. 2015, IRNN); for gated cells each gate's
  block is the identity.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..registry import Registry
from .local import LocallyConnected1d, LocallyConnected2d
from .recurrent import RecurrentLayer

WEIGHTED = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.RNNBase,
    RecurrentLayer,
    LocallyConnected1d,
    LocallyConnected2d,
)
LOCAL = (LocallyConnected1d, LocallyConnected2d)


def per_position(rule):
    """A rule for a locally connected weight (*positions, *kernel, C, O): applied to each
    position's filter laid out as a convolution's weight (O, C, *kernel), so that fan_in =
    C * kernel and fan_out = O * kernel, as for the convolution it replaces."""

    def fill(w: torch.Tensor) -> torch.Tensor:
        k = (w.dim() - 2) // 2  # as many kernel dimensions as position dimensions
        with torch.no_grad():
            for filt in w.flatten(0, k - 1):  # (*kernel, C, O)
                as_conv = filt.permute(k + 1, k, *range(k))  # a view, (O, C, *kernel)
                fresh = torch.empty(as_conv.shape, dtype=w.dtype, device=w.device)
                rule(fresh)
                as_conv.copy_(fresh)
        return w

    return fill


def _lecun(w: torch.Tensor) -> torch.Tensor:
    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(w)
    return nn.init.normal_(w, 0.0, 1.0 / math.sqrt(fan_in))


def _identity(w: torch.Tensor) -> torch.Tensor:
    """Identity blocks: a gated cell stacks one square matrix per gate."""
    with torch.no_grad():
        rows, cols = w.shape
        for start in range(0, rows, cols):
            nn.init.eye_(w[start : start + cols])
    return w


# Every weight initialization, once: ``build(std, a, value)`` -> a function that fills a weight
# in place; ``recurrent``: offered for hidden-to-hidden weights (model.init_recurrent);
# ``recurrent_only``: for those only.
INITS = Registry("initialization", "model.init", config_key=True)
INITS.add("default", lambda std, a, value: None, "PyTorch's own initialization of each layer")
INITS.add("zeros", lambda std, a, value: nn.init.zeros_, "W = 0: symmetry is never broken")
INITS.add(
    "constant", lambda std, a, value: lambda w: nn.init.constant_(w, value), "W = model.init_value"
)
INITS.add(
    "normal",
    lambda std, a, value: lambda w: nn.init.normal_(w, 0.0, std),
    "W ~ N(0, model.init_std^2)",
)
INITS.add(
    "uniform",
    lambda std, a, value: lambda w: nn.init.uniform_(w, -a, a),
    "W ~ U(-a, a), a = model.init_range",
)
INITS.add("lecun", lambda std, a, value: _lecun, "W ~ N(0, 1 / fan_in) (LeCun et al. 1998)")
INITS.add(
    "glorot_uniform",
    lambda std, a, value: nn.init.xavier_uniform_,
    "U(-b, b), b = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)",
)
INITS.add(
    "glorot_normal",
    lambda std, a, value: nn.init.xavier_normal_,
    "N(0, 2 / (fan_in + fan_out)) (Glorot & Bengio 2010)",
)
INITS.add(
    "he_normal",
    lambda std, a, value: lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    "N(0, 2 / fan_in) (He et al. 2015)",
)
INITS.add(
    "he_uniform",
    lambda std, a, value: lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"),
    "U with variance 2 / fan_in (He et al. 2015)",
)
INITS.add(
    "orthogonal",
    lambda std, a, value: nn.init.orthogonal_,
    "a (semi-)orthogonal matrix (Saxe et al. 2014)",
    recurrent=True,
)
INITS.add(
    "identity",
    lambda std, a, value: _identity,
    "W_hh = I, a block per gate (Le et al. 2015); recurrent weights only",
    recurrent=True,
    recurrent_only=True,
)


def weight_rule(name: str, std: float = 1.0, a: float = 0.1, value: float = 0.0):
    """The function that fills a weight by rule ``name`` (None for ``default``)."""
    return INITS[name].build(std, a, value)


def initialize(
    model: nn.Module,
    name: str,
    std: float = 1.0,
    a: float = 0.1,
    value: float = 0.0,
    bias: float = 0.0,
    recurrent: str = "same",
) -> nn.Module:
    """Initialize ``model``'s weights by rule ``name`` (see the module docstring)."""
    fill = weight_rule(name, std, a, value)
    fill_hh = fill if recurrent == "same" else weight_rule(recurrent, std, a, value)
    for module in model.modules():
        if not isinstance(module, WEIGHTED):
            continue
        for pname, p in module.named_parameters(recurse=False):
            rule = fill_hh if pname.startswith("weight_hh") else fill
            if pname.startswith("weight") and rule is not None:
                (per_position(rule) if isinstance(module, LOCAL) else rule)(p.data)
            elif pname.startswith("bias") and fill is not None:
                nn.init.constant_(p.data, bias)
    return model
