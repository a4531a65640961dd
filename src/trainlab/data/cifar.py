"""CIFAR-10 from its binary batches on disk (the "binary version" of Krizhevsky's archive).

The folder ``data.path`` (or its subfolder ``cifar-10-batches-bin``) holds ``data_batch_*.bin``
and ``test_batch.bin``. Each record is 3073 bytes: one label byte (0-9), then 3072 pixel bytes,
the red, green and blue 32x32 planes in row-major order. Images become (N, 3, 32, 32) floats in
[0, 1]. The Python-pickle version of the archive is not read: unpickling can run code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import UserError
from .arrays import Arrays

RECORD = 1 + 3 * 32 * 32


def read_batches(files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    chunks = []
    for f in files:
        raw = np.fromfile(f, dtype=np.uint8)
        if raw.size == 0 or raw.size % RECORD:
            raise UserError(
                f"{str(f)!r}: {raw.size} bytes is not a whole number of CIFAR-10 "
                f"records of {RECORD} bytes"
            )
        chunks.append(raw.reshape(-1, RECORD))
    records = np.concatenate(chunks)
    x = (records[:, 1:].reshape(-1, 3, 32, 32) / np.float32(255)).astype(np.float32)
    return x, records[:, 0].astype(np.int64)


def read_cifar10(folder: str) -> Arrays:
    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"data.path {folder!r} is not a folder (expected CIFAR-10 binary batches)")
    if (root / "cifar-10-batches-bin").is_dir():
        root = root / "cifar-10-batches-bin"
    train = sorted(root.glob("data_batch_*.bin"))
    test = root / "test_batch.bin"
    if not train or not test.is_file():
        raise UserError(
            f"data.path {folder!r} has no data_batch_*.bin and test_batch.bin "
            "(the CIFAR-10 binary version)"
        )
    x, y = read_batches(train)
    x_test, y_test = read_batches([test])
    return Arrays(x, y, x_test, y_test, origin=folder, classes=10)
