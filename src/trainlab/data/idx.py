"""MNIST and Fashion-MNIST from their IDX files on disk (LeCun et al.'s format).

The folder ``data.path`` holds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each optionally gzipped (``.gz``), as
both data sets ship. IDX: two zero bytes, a type byte (0x08 = unsigned byte), the number of
dimensions, each dimension as a big-endian int32, then the data. Images become (N, 1, 28, 28)
floats in [0, 1].
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from ..errors import UserError
from .arrays import Arrays

FILES = {
    "x": "train-images-idx3-ubyte",
    "y": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file of unsigned bytes (gzipped or not) into an array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise UserError(f"{str(path)!r} cannot be read ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise UserError(f"{str(path)!r} is not an IDX file (bad magic number)")
    if raw[2] != 0x08:
        raise UserError(
            f"{str(path)!r}: IDX type 0x{raw[2]:02x} is not supported (expected 0x08, "
            "unsigned bytes)"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != header + int(np.prod(shape)):
        raise UserError(
            f"{str(path)!r}: header says shape {shape}, but the file holds "
            f"{len(raw) - header} bytes of data"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def read_idx_folder(folder: str, name: str) -> Arrays:
    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"data.path {folder!r} is not a folder (expected the {name} IDX files)")
    arrays = {}
    for key, stem in FILES.items():
        found = [p for p in (root / stem, root / f"{stem}.gz") if p.is_file()]
        if not found:
            raise UserError(f"data.path {folder!r} has no {stem} (or {stem}.gz) for {name}")
        arrays[key] = read_idx(found[0])
    for key in ("x", "x_test"):
        if arrays[key].ndim != 3:
            raise UserError(
                f"{name} {FILES[key]}: expected 3 dimensions (N, rows, cols), got "
                f"{arrays[key].ndim}"
            )
        arrays[key] = (arrays[key][:, None] / np.float32(255)).astype(np.float32)
    return Arrays(
        arrays["x"],
        arrays["y"].astype(np.int64),
        arrays["x_test"],
        arrays["y_test"].astype(np.int64),
        origin=folder,
        classes=10,
    )
