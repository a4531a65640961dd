"""A model from the user's own callable: ``model.name = "package.module:callable"``
(:mod:`trainlab.imports`), e.g. a ``torch.nn.Module`` subclass or a function that builds one.

It is called as ``fn(input_shape=input_shape, num_classes=num_classes, **model.args)``:
``input_shape`` is one sample's shape (the data's x without its first axis), ``num_classes``
the outputs the loss expects (the number of classes; 1 for regression). What it returns must
be an ``nn.Module`` with at least one trainable parameter, in float32 (the dtype of trainlab's
data, and the master weights its bf16/fp16 precision modes assume). The model then goes through
the same steps as a built-in one (``model.init``, ``model.pretrained``, ``model.freeze``).
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import UserError
from ..imports import call_user, load_callable

KEY = "model.name"
PASSED = ("input_shape", "num_classes")  # what trainlab itself passes


def build_callable(path: str, input_shape: tuple, num_classes: int, args: dict) -> nn.Module:
    """The module ``fn(input_shape=..., num_classes=..., **args)`` returns, for the callable
    ``fn`` that ``path`` names; checked as the module docstring says (each a one-line
    UserError)."""
    where = f"{KEY} = {path!r}"
    args = dict(args or {})
    for name in PASSED:
        if name in args:
            raise UserError(
                f"model.args.{name} = {args[name]!r}: trainlab passes {name} itself "
                f"(from the data) to {path!r}; remove it from model.args"
            )
    fn = load_callable(path, KEY)
    net = call_user(fn, KEY, path, input_shape=tuple(input_shape), num_classes=num_classes, **args)
    if not isinstance(net, nn.Module):
        what = "None" if net is None else f"a {type(net).__module__}.{type(net).__qualname__}"
        raise UserError(
            f"{where}: returned {what.replace('builtins.', '')}; expected a torch.nn.Module"
        )
    params = list(net.named_parameters())
    if not any(p.requires_grad for _, p in params):
        state = "none" if not params else "all with requires_grad=False"
        raise UserError(
            f"{where}: returned a {type(net).__name__} with no trainable parameters "
            f"({state}); there is nothing to train"
        )
    for name, p in params:
        if p.is_floating_point() and p.dtype != torch.float32:
            raise UserError(
                f"{where}: returned a {type(net).__name__} whose parameter {name!r} "
                f"is {str(p.dtype).removeprefix('torch.')}; expected float32 (the "
                "data's dtype; train.precision gives bf16/fp16 compute)"
            )
    return net


__all__ = ["build_callable"]
