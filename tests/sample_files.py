"""Small data files in each on-disk format trainlab reads, written from the formats' own
descriptions (not with trainlab's readers)."""

import struct
from pathlib import Path

import numpy as np

from trainlab.data.idx import FILES


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file written from the format's description: 0, 0, type 0x08, ndim, dims (>i4)."""
    head = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">i", d) for d in array.shape)
    return head + array.astype(np.uint8).tobytes()


def write(source: str, folder: Path, n: int = 40) -> Path:
    """A small data set for ``source`` (npz, csv, mnist, fashion_mnist, cifar10) in ``folder``;
    returns what ``data.path`` should name."""
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    if source == "npz":
        np.savez(folder / "d.npz", x=rng.normal(size=(n, 6)).astype(np.float32), y=y)
        return folder / "d.npz"
    if source == "csv":
        rows = [f"{a:.3f},{b:.3f},{label}" for (a, b), label in zip(rng.normal(size=(n, 2)), y)]
        (folder / "d.csv").write_text("a,b,label\n" + "\n".join(rows) + "\n")
        return folder / "d.csv"
    if source in ("mnist", "fashion_mnist"):
        arrays = {
            "x": rng.integers(0, 256, (n, 28, 28)),
            "y": y,
            "x_test": rng.integers(0, 256, (9, 28, 28)),
            "y_test": y[:9],
        }
        for key, stem in FILES.items():
            (folder / stem).write_bytes(idx_bytes(arrays[key]))
        return folder
    if source == "cifar10":
        records = np.concatenate([y[:, None], rng.integers(0, 256, (n, 3072))], 1)
        (folder / "data_batch_1.bin").write_bytes(records.astype(np.uint8).tobytes())
        (folder / "test_batch.bin").write_bytes(records[:9].astype(np.uint8).tobytes())
        return folder
    raise ValueError(f"no sample file for {source!r}")
