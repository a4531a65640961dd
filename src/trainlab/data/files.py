"""User data in files: NPZ (arrays ``x``, ``y``, optional ``x_test``, ``y_test``, ``x_val``,
``y_val``, and ``task``: "classification" (the default), "regression" or "multilabel"; a 2-D
0/1 ``y`` (N, C) is multi-label) and CSV (a header row, one label column, or several separated
by commas for multi-label targets, every other column a numeric feature)."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np

from ..errors import UserError
from .arrays import Arrays


def _existing_file(path: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise UserError(f"data.path {path!r} does not exist")
    if not p.is_file():
        raise UserError(f"data.path {path!r} is not a file")
    return p


def _reason(e: BaseException) -> str:
    """A reader's error in a few words, without advice to load pickled objects."""
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    if "pickle" in text.lower():
        return "it is neither a .npz nor a .npy file (NumPy would unpickle it, which can run code)"
    return text


def read_npz(path: str) -> Arrays:
    p = _existing_file(path)
    try:
        loaded = np.load(p, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        # not NumPy's advice to allow pickles: that would run code from the file
        raise UserError(
            f"data.path {path!r} is not a .npz archive of arrays x, y, ... (np.savez writes "
            f"one): {_reason(e)}"
        ) from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise UserError(
            f"data.path {path!r} holds a single array (a .npy file); expected a .npz "
            "archive of arrays x, y, ... (np.savez(path, x=x, y=y) writes one)"
        )
    try:
        with loaded as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as e:
        raise UserError(f"data.path {path!r} is a damaged .npz archive ({_reason(e)})") from None
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise UserError(
            f"data.path {path!r} has no array {missing[0]!r} (it has "
            f"{', '.join(sorted(arrays)) or 'none'}; needed: x, y, optional x_test, y_test)"
        )
    for split in ("test", "val"):
        if (f"x_{split}" in arrays) != (f"y_{split}" in arrays):
            raise UserError(f"data.path {path!r}: x_{split} and y_{split} must be given together")
    task = str(arrays["task"]) if "task" in arrays else "classification"
    if task not in ("classification", "regression", "multilabel"):
        raise UserError(
            f"data.path {path!r}: task = {task!r}; expected classification, regression or "
            "multilabel"
        )
    return Arrays(
        arrays["x"],
        arrays["y"],
        arrays.get("x_test"),
        arrays.get("y_test"),
        origin=path,
        task=task,
        x_val=arrays.get("x_val"),
        y_val=arrays.get("y_val"),
    )


def read_csv(path: str, label_column: str) -> Arrays:
    p = _existing_file(path)
    try:
        with p.open(newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"data.path {path!r} is not a readable CSV file ({e})") from None
    if len(rows) < 2:
        raise UserError(f"data.path {path!r}: expected a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    label_columns = [c.strip() for c in label_column.split(",")]
    for column in label_columns:
        if column not in header:
            raise UserError(
                f"data.label_column {column!r} is not a column of {path!r} "
                f"(columns: {', '.join(header)})"
            )
    values = np.empty((len(rows) - 1, len(header)), dtype=np.float64)
    for i, row in enumerate(rows[1:]):
        if len(row) != len(header):
            raise UserError(
                f"{path!r} line {i + 2}: {len(row)} fields, the header has {len(header)}"
            )
        for j, cell in enumerate(row):
            try:
                values[i, j] = float(cell)
            except ValueError:
                raise UserError(
                    f"{path!r} line {i + 2}, column {header[j]!r}: {cell!r} is not a number"
                ) from None
    labels = [header.index(c) for c in label_columns]
    y = values[:, labels[0]] if len(labels) == 1 else values[:, labels]  # several: multi-label
    return Arrays(np.delete(values, labels, axis=1), y, origin=path)
