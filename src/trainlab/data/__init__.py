"""Data sources, read into memory, checked, split and normalized: see :func:`load`.

Every source returns a :class:`~trainlab.data.arrays.Arrays` (NumPy, train and optional test);
:mod:`trainlab.data.prepare` turns it into :class:`~trainlab.data.prepare.Splits` of tensors on
the training device (train / validation / test), so that the loop can index batches directly.
"""

from __future__ import annotations

import torch

from .arrays import Arrays
from .cifar import read_cifar10
from .files import read_csv, read_npz
from .idx import read_idx_folder
from .mnist1d import read_mnist1d
from .prepare import Splits, prepare
from .toy import make_toy

SOURCES = {
    "mnist1d": lambda c: read_mnist1d(),
    "moons": make_toy,
    "circles": make_toy,
    "spirals": make_toy,
    "xor": make_toy,
    "npz": lambda c: read_npz(c["data"]["path"]),
    "csv": lambda c: read_csv(c["data"]["path"], c["data"]["label_column"]),
    "mnist": lambda c: read_idx_folder(c["data"]["path"], "mnist"),
    "fashion_mnist": lambda c: read_idx_folder(c["data"]["path"], "fashion_mnist"),
    "cifar10": lambda c: read_cifar10(c["data"]["path"]),
}


def load(config: dict, device: torch.device | str = "cpu") -> Splits:
    """Read ``config["data"]["name"]``, check it, split off validation (and test if the source has
    none) with ``config["seed"]``, normalize on the training split, and put it on ``device``."""
    d = config["data"]
    arrays = SOURCES[d["name"]](config)
    return prepare(arrays, seed=config["seed"], val_fraction=d["val_fraction"],
                   test_fraction=d["test_fraction"], normalize=d["normalize"], device=device)


__all__ = ["Arrays", "Splits", "SOURCES", "load", "prepare"]
