"""Data sources, read into memory, checked, split and normalized (:func:`trainlab.build.load_data`
puts them together for a config).

Every source returns a :class:`~trainlab.data.arrays.Arrays` (NumPy, train and optional test);
:mod:`trainlab.data.prepare` turns it into :class:`~trainlab.data.prepare.Splits` of tensors on
the training device (train / validation / test), so that the loop can index batches directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..registry import Registry
from .adding import make_adding
from .arrays import Arrays
from .cifar import read_cifar10
from .files import read_csv, read_npz
from .idx import read_idx_folder
from .mnist1d import read_mnist1d
from .prepare import Splits, prepare
from .toy import make_toy


@dataclass(frozen=True)
class SourceInfo:
    """What the rest of trainlab needs to know of a data source: the ``data.*`` keys its builder
    takes (``reads``; besides ``seed``, which every builder takes), what ``data.path`` must name
    (``path``: "file", "folder", or None for sources that need no path), and its ``task``
    ("regression" for real-valued targets)."""

    reads: tuple[str, ...] = ()
    path: str | None = None
    task: str = "classification"


def _toy(name: str):
    return lambda *, seed, samples, noise: make_toy(name, seed=seed, samples=samples, noise=noise)


# Every data source, once: ``build(seed=..., **{key: value for key in reads})`` -> Arrays.
SOURCES = Registry("data source", "data.name", SourceInfo, config_key=True)
SOURCES.add(
    "mnist1d",
    lambda *, seed: read_mnist1d(),
    "MNIST-1D (default), generated locally by "
    "the `mnist1d` package's `make_dataset` (4000 train / 1000 test), cached in "
    "`~/.cache/trainlab` (`$TRAINLAB_CACHE`)",
)
SOURCES.add(
    "moons",
    _toy("moons"),
    "two interleaving half circles, seeded; `data.samples`, `data.noise`",
    reads=("samples", "noise"),
)
SOURCES.add(
    "circles",
    _toy("circles"),
    "two concentric circles, seeded; `data.samples`, `data.noise`",
    reads=("samples", "noise"),
)
SOURCES.add(
    "spirals",
    _toy("spirals"),
    "two interleaved spirals, seeded; `data.samples`, `data.noise`",
    reads=("samples", "noise"),
)
SOURCES.add(
    "xor",
    _toy("xor"),
    "label 1 where x1 x2 > 0, seeded; `data.samples`, `data.noise`",
    reads=("samples", "noise"),
)
SOURCES.add(
    "adding",
    make_adding,
    "the adding problem (Hochreiter & Schmidhuber 1997): "
    "regression of the sum of the two marked values of a sequence of length "
    "`data.seq_len`, seeded; `data.samples`",
    reads=("samples", "seq_len"),
    task="regression",
)
SOURCES.add(
    "npz",
    lambda *, seed, path: read_npz(path),
    "`data.path=FILE` with arrays `x`, `y`, optional `x_test`, `y_test`; a 2-D 0/1 `y` "
    "(samples, labels) is multi-label",
    reads=("path",),
    path="file",
)
SOURCES.add(
    "csv",
    lambda *, seed, path, label_column: read_csv(path, label_column),
    "`data.path=FILE`, header row, `data.label_column=NAME` (several, `A,B,C`: multi-label), "
    "every other column a feature",
    reads=("path", "label_column"),
    path="file",
)
SOURCES.add(
    "mnist",
    lambda *, seed, path: read_idx_folder(path, "mnist"),
    "`data.path=FOLDER` with the four MNIST IDX files (gzipped or not)",
    reads=("path",),
    path="folder",
)
SOURCES.add(
    "fashion_mnist",
    lambda *, seed, path: read_idx_folder(path, "fashion_mnist"),
    "`data.path=FOLDER` with the four Fashion-MNIST IDX files (gzipped or not)",
    reads=("path",),
    path="folder",
)
SOURCES.add(
    "cifar10",
    lambda *, seed, path: read_cifar10(path),
    "`data.path=FOLDER` with the binary batches `data_batch_*.bin`, `test_batch.bin`",
    reads=("path",),
    path="folder",
)


def read(name: str, seed: int, options: dict) -> Arrays:
    """The arrays of source ``name``: its builder called with ``seed`` and, of ``options``
    (``data.*`` keys), the ones its registry entry reads."""
    entry = SOURCES[name]
    return entry.build(seed=seed, **{key: options[key] for key in entry.reads})


__all__ = ["Arrays", "SourceInfo", "Splits", "SOURCES", "prepare", "read"]
