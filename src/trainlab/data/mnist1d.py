"""MNIST-1D (Greydanus 2020): 1-D signals of length 40, 10 classes, 4000 train / 1000 test.

Generated locally with the ``mnist1d`` package's ``make_dataset`` and its default arguments (it
never downloads), then cached as ``mnist1d.npz`` in ``$TRAINLAB_CACHE`` (default
``~/.cache/trainlab``) so that later runs load it in milliseconds.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np

from ..runs.atomic import atomic_write
from .arrays import Arrays


def cache_dir() -> Path:
    return Path(os.environ.get("TRAINLAB_CACHE", Path.home() / ".cache" / "trainlab"))


def generate() -> dict[str, np.ndarray]:
    """Run ``mnist1d.data.make_dataset`` with its defaults, leaving the global RNGs as they were
    (it seeds Python's and NumPy's global generators)."""
    from mnist1d.data import make_dataset

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        d = make_dataset()
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {k: np.asarray(d[k]) for k in ("x", "y", "x_test", "y_test")}


def read_mnist1d() -> Arrays:
    path = cache_dir() / "mnist1d.npz"
    arrays = None
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in ("x", "y", "x_test", "y_test")}
        except (OSError, ValueError, KeyError):
            arrays = None  # a damaged cache is regenerated, not trusted
    if arrays is None:
        arrays = generate()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda f: np.savez(f, **arrays))
        except OSError:
            pass  # a read-only home only costs regenerating next time
    return Arrays(
        arrays["x"].astype(np.float32),
        arrays["y"].astype(np.int64),
        arrays["x_test"].astype(np.float32),
        arrays["y_test"].astype(np.int64),
        origin="mnist1d",
        classes=10,
    )
