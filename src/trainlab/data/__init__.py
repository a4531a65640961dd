"""Data sources, read into memory, checked, split and normalized: see :func:`load`.

Every source returns a :class:`~trainlab.data.arrays.Arrays` (NumPy, train and optional test);
:mod:`trainlab.data.prepare` turns it into :class:`~trainlab.data.prepare.Splits` of tensors on
the training device (train / validation / test), so that the loop can index batches directly.
"""

from __future__ import annotations

import torch

from ..registry import Registry
from .adding import make_adding
from .arrays import Arrays
from .cifar import read_cifar10
from .files import read_csv, read_npz
from .idx import read_idx_folder
from .mnist1d import read_mnist1d
from .prepare import Splits, prepare
from .toy import make_toy

# Every data source, once: ``build(config)`` -> Arrays; ``reads``: what ``data.path`` must name
# ("file", "folder"), or None for sources that need no path; ``task``: "regression" for real-valued
# targets (classification when absent; see :func:`task`).
SOURCES = Registry("data source", "data.name")
SOURCES.add("mnist1d", lambda c: read_mnist1d(), "MNIST-1D (default), generated locally by the "
            "`mnist1d` package's `make_dataset` (4000 train / 1000 test), cached in "
            "`~/.cache/trainlab` (`$TRAINLAB_CACHE`)", reads=None)
SOURCES.add("moons", make_toy, "two interleaving half circles, seeded; `data.samples`, "
            "`data.noise`", reads=None)
SOURCES.add("circles", make_toy, "two concentric circles, seeded; `data.samples`, `data.noise`",
            reads=None)
SOURCES.add("spirals", make_toy, "two interleaved spirals, seeded; `data.samples`, "
            "`data.noise`", reads=None)
SOURCES.add("xor", make_toy, "label 1 where x1 x2 > 0, seeded; `data.samples`, `data.noise`",
            reads=None)
SOURCES.add("adding", make_adding, "the adding problem (Hochreiter & Schmidhuber 1997): "
            "regression of the sum of the two marked values of a sequence of length "
            "`data.seq_len`, seeded; `data.samples`", reads=None, task="regression")
SOURCES.add("npz", lambda c: read_npz(c["data"]["path"]), "`data.path=FILE` with arrays `x`, "
            "`y`, optional `x_test`, `y_test`", reads="file")
SOURCES.add("csv", lambda c: read_csv(c["data"]["path"], c["data"]["label_column"]),
            "`data.path=FILE`, header row, `data.label_column=NAME`, every other column a "
            "feature", reads="file")
SOURCES.add("mnist", lambda c: read_idx_folder(c["data"]["path"], "mnist"),
            "`data.path=FOLDER` with the four MNIST IDX files (gzipped or not)", reads="folder")
SOURCES.add("fashion_mnist", lambda c: read_idx_folder(c["data"]["path"], "fashion_mnist"),
            "`data.path=FOLDER` with the four Fashion-MNIST IDX files (gzipped or not)",
            reads="folder")
SOURCES.add("cifar10", lambda c: read_cifar10(c["data"]["path"]), "`data.path=FOLDER` with the "
            "binary batches `data_batch_*.bin`, `test_batch.bin`", reads="folder")


def task(name: str) -> str:
    """``classification`` or ``regression``: what data source ``name`` asks of a model."""
    return SOURCES[name].facts.get("task", "classification")


def load(config: dict, device: torch.device | str = "cpu") -> Splits:
    """Read ``config["data"]["name"]``, check it, split off validation (and test if the source has
    none) with ``config["seed"]``, normalize on the training split, and put it on ``device``."""
    d = config["data"]
    arrays = SOURCES[d["name"]].build(config)
    return prepare(arrays, seed=config["seed"], val_fraction=d["val_fraction"],
                   test_fraction=d["test_fraction"], normalize=d["normalize"], device=device)


__all__ = ["Arrays", "Splits", "SOURCES", "load", "prepare", "task"]
