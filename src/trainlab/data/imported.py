"""Data from the user's own callable: ``data.name = "package.module:callable"``, called with
``data.args`` as keyword arguments (:mod:`trainlab.imports`).

It returns ``(x, y)``, ``(x, y, x_test, y_test)`` or a dict with keys ``x``, ``y`` and optional
``x_test``, ``y_test``; each a NumPy array or a torch tensor (copied to NumPy on the CPU). The
task follows the type of ``y``: integer labels are classification (classes 0..C-1), floating
targets regression, a 2-D ``y`` (samples, labels >= 2) of 0 and 1 multi-label. Everything else
:func:`trainlab.data.prepare.check` checks for every source (numeric finite features of shape
(N, ...), one label per sample, labels in 0..C-1, matching test shapes), with
``data.name = '<path>'`` naming the source in its messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ..errors import UserError
from ..imports import call_user, load_callable
from .arrays import Arrays
from .prepare import task_of_targets

KEY = "data.name"
NAMES = ("x", "y", "x_test", "y_test")
EXPECTED = (
    "expected (x, y), (x, y, x_test, y_test) or a dict with keys x, y and optional "
    "x_test, y_test, each a NumPy array or a torch tensor"
)


def _what(value: Any) -> str:
    """A short description of what the callable returned, for the error message."""
    if value is None:
        return "None"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    if isinstance(value, Mapping):
        return f"a dict with keys {', '.join(map(repr, value)) or 'none'}"
    return f"a {type(value).__module__}.{type(value).__qualname__}".replace("builtins.", "")


def _named(result: Any, path: str) -> dict[str, Any]:
    """The returned values by name (x, y [, x_test, y_test]), or the UserError of another form."""
    where = f"{KEY} = {path!r}"
    if isinstance(result, (tuple, list)) and len(result) in (2, 4):
        return dict(zip(NAMES, result))
    if isinstance(result, Mapping):
        unknown = [k for k in result if k not in NAMES]
        missing = [k for k in ("x", "y") if k not in result]
        if unknown or missing:
            problem = f"unexpected key {unknown[0]!r}" if unknown else f"no key {missing[0]!r}"
            raise UserError(f"{where}: returned a dict with {problem}; {EXPECTED}")
        if ("x_test" in result) != ("y_test" in result):
            raise UserError(
                f"{where}: returned x_test and y_test not together (only "
                f"{'x_test' if 'x_test' in result else 'y_test'}); give both or "
                "neither"
            )
        return dict(result)
    raise UserError(f"{where}: returned {_what(result)}; {EXPECTED}")


def _numpy(name: str, value: Any, path: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:  # NumPy has no bfloat16; float32 holds it exactly
            value = value.float()
        return value.numpy()
    if isinstance(value, np.ndarray):
        return np.asarray(value)  # a subclass (np.matrix, a memmap) as a plain array
    raise UserError(
        f"{KEY} = {path!r}: returned {name} as {_what(value)}; expected a NumPy "
        "array or a torch tensor"
    )


def read_callable(path: str, args: dict) -> Arrays:
    """The arrays the user's callable ``path`` returns when called with ``**args``: see the
    module docstring for the forms accepted. ``task``: what ``y`` says
    (:func:`~trainlab.data.prepare.task_of_targets`): ``multilabel`` for a 2-D ``y`` of two or
    more 0/1 columns, ``regression`` for a floating dtype, else ``classification`` (labels of
    another dtype are then refused by the checks of :mod:`trainlab.data.prepare`)."""
    fn = load_callable(path, KEY)
    named = _named(call_user(fn, KEY, path, **(args or {})), path)
    arrays = {name: _numpy(name, value, path) for name, value in named.items()}
    task = task_of_targets(arrays["y"])
    return Arrays(
        arrays["x"],
        arrays["y"],
        arrays.get("x_test"),
        arrays.get("y_test"),
        origin=f"{KEY} = {path!r}",
        task=task,
    )


__all__ = ["read_callable"]
