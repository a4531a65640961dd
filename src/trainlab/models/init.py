"""Weight initialization by name, built on ``torch.nn.init``.

Applies to the weights of every Linear, Conv and recurrent layer; their biases are set to zero
(except with ``default``, which keeps PyTorch's own initialization); normalization layers keep
gamma = 1, beta = 0. Sources: lecture 002 (zeros, N(0, 1), 1/sqrt(n), Glorot uniform, He normal,
orthogonal), lecture 001 (zero initialization leaves every hidden unit identical).

- ``zeros``: W = 0 (symmetry is never broken: lecture 001).
- ``normal``: W ~ N(0, std^2) (lecture 002 uses std = 1).
- ``uniform``: W ~ U(-a, a) (lecture 003: +-0.1).
- ``glorot_uniform``: W ~ U(-b, b), b = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010).
- ``he_normal``: W ~ N(0, 2 / fan_in) (He et al. 2015).
- ``orthogonal``: W a (semi-)orthogonal matrix (Saxe et al. 2014).
"""

from __future__ import annotations

from torch import nn

WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.RNNBase)


def initialize(model: nn.Module, name: str, std: float = 1.0, a: float = 0.1) -> nn.Module:
    if name == "default":
        return model
    fill = {
        "zeros": nn.init.zeros_,
        "normal": lambda w: nn.init.normal_(w, 0.0, std),
        "uniform": lambda w: nn.init.uniform_(w, -a, a),
        "glorot_uniform": nn.init.xavier_uniform_,
        "he_normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
        "orthogonal": nn.init.orthogonal_,
    }[name]
    for module in model.modules():
        if not isinstance(module, WEIGHTED):
            continue
        for pname, p in module.named_parameters(recurse=False):
            if pname.startswith("weight"):
                fill(p.data)
            elif pname.startswith("bias"):
                nn.init.zeros_(p.data)
    return model
