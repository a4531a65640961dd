"""Pretraining (lecture 003): start from the weights of an earlier trainlab run, then fine-tune
all of them or freeze some layers.

``path`` is a run folder (its ``best.pt``) or a checkpoint file. Every tensor whose name and
shape match the new model is copied; the others (e.g. a classifier head for a different number
of classes) keep their fresh initialization and are reported. ``freeze`` lists name prefixes of
parameters (``net.1`` is the first Linear of an MLP, ``net.0`` the first conv of a CNN; an
unknown prefix is an error that lists the layers) whose ``requires_grad`` is turned off.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from ..errors import UserError
from ..runs import checkpoint


def load_pretrained(model: nn.Module, path: str) -> list[str]:
    """Copy matching tensors from ``path`` into ``model``; returns the names left as they were."""
    source = Path(path)
    if source.is_dir():
        source = source / "best.pt"
    if not source.is_file():
        raise UserError(
            f"model.pretrained = {path!r}: no such run folder (with best.pt) or checkpoint file"
        )
    weights = checkpoint.load(source)["model"]
    own = model.state_dict()
    matching = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    if not matching:
        raise UserError(
            f"model.pretrained = {path!r}: none of its tensors fits this model "
            "(different architecture?)"
        )
    model.load_state_dict(matching, strict=False)
    return sorted(set(own) - set(matching))


def freeze(model: nn.Module, prefixes: list[str]) -> int:
    """Turn off gradients of the parameters whose names start with any prefix; returns how many."""
    names = [n for n, _ in model.named_parameters()]
    for prefix in prefixes:
        if not any(n == prefix or n.startswith(prefix + ".") for n in names):
            layers = sorted({n.rsplit(".", 1)[0] for n in names})
            raise UserError(
                f"model.freeze: no parameter is named {prefix!r}; the layers are "
                f"{', '.join(layers)}"
            )
    count = 0
    for n, p in model.named_parameters():
        if any(n == prefix or n.startswith(prefix + ".") for prefix in prefixes):
            p.requires_grad_(False)
            count += 1
    return count
