"""Check a source's arrays, split them, normalize them, and move them to the device once.

- Checks (each a one-line :class:`UserError`): numeric features of shape (N, ...), finite values,
  1-D integer labels in 0..C-1 with C taken from the training labels, matching test shapes; for
  a regression source, 1-D finite real targets (the model then has one output).
- Multi-label targets (lecture 002, "Multi-label classification"): a classification source
  whose ``y`` is 2-D with C >= 2 columns is read as C independent labels per sample and must
  hold only 0 and 1 (its task becomes ``multilabel``; a source may also say
  ``task = "multilabel"``, and then a 2-D ``y`` is required, one column allowed). The model
  has C outputs, one sigmoid each; the labels become float32 tensors (N, C).
- Splits (seeded by the run's seed): a test split when the source has none
  (``test_fraction``), then a validation split held out of the training data
  (``val_fraction``). The test split is used only for the final evaluation.
- Normalization, fitted on the training split only (lecture 000, "input normalization": shift
  the inputs to zero mean and scale them to unit variance): ``standard`` per feature,
  ``scalar`` one mean and std for all, ``none``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import UserError
from .arrays import Arrays


@dataclass
class Splits:
    """Train / validation / test tensors on one device, with what the model needs to know."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int  # outputs of the model: 1 for regression, C labels for multilabel
    task: str = "classification"  # or "regression", "multilabel"
    target_mean: float | None = None  # regression: the training targets' mean (the baseline)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def _check_x(name: str, x: np.ndarray, origin: str) -> None:
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_) or np.iscomplexobj(x):
        raise UserError(f"{origin}: {name} has dtype {x.dtype}; expected real numbers")
    if x.ndim < 2 or x.shape[0] == 0:
        raise UserError(
            f"{origin}: {name} has shape {x.shape}; expected (samples, features...) "
            "with at least one sample"
        )
    bad = ~np.isfinite(x)
    if bad.any():
        first = int(np.argwhere(bad.reshape(len(x), -1).any(1))[0, 0])
        raise UserError(
            f"{origin}: {name} has {int(bad.sum())} NaN/Inf values (first in sample "
            f"{first}); remove or impute them"
        )


def _check_y(name: str, y: np.ndarray, n: int, origin: str) -> np.ndarray:
    if y.ndim != 1 or len(y) != n:
        raise UserError(
            f"{origin}: {name} has shape {y.shape}; expected ({n},), one label per sample"
        )
    if not np.issubdtype(y.dtype, np.number) or np.iscomplexobj(y):
        raise UserError(f"{origin}: {name} has dtype {y.dtype}; expected integer class labels")
    if not np.isfinite(y).all() or (y != np.round(y)).any():
        raise UserError(f"{origin}: {name} holds non-integer labels; expected class indices 0..C-1")
    if (y < 0).any():
        raise UserError(f"{origin}: {name} holds label {int(y.min())}; labels must be 0..C-1")
    return y.astype(np.int64)


def _check_targets(name: str, y: np.ndarray, n: int, origin: str) -> np.ndarray:
    if y.ndim != 1 or len(y) != n or not np.issubdtype(y.dtype, np.number):
        raise UserError(
            f"{origin}: {name} has shape {y.shape} and dtype {y.dtype}; expected "
            f"({n},) real regression targets"
        )
    if not np.isfinite(y).all():
        raise UserError(f"{origin}: {name} holds NaN/Inf targets; remove or impute them")
    return y.astype(np.float32)


def _check_multilabel(name: str, y: np.ndarray, n: int, labels: int, origin: str) -> np.ndarray:
    if y.ndim != 2 or len(y) != n or y.shape[1] != labels:
        raise UserError(
            f"{origin}: {name} has shape {y.shape}; expected ({n}, {labels}), a 0/1 row of "
            f"{labels} labels per sample (multi-label targets)"
        )
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_) or np.iscomplexobj(y):
        raise UserError(f"{origin}: {name} has dtype {y.dtype}; expected 0/1 multi-label targets")
    if not np.isin(y, (0, 1)).all():
        bad = y[~np.isin(y, (0, 1))].flat[0]
        raise UserError(
            f"{origin}: {name} holds {bad!r}; a 2-D y is read as multi-label targets "
            "(one 0/1 column per label), so it may hold only 0 and 1"
        )
    return y.astype(np.float32)


def is_multilabel(a: Arrays) -> bool:
    """Multi-label targets: ``task = "multilabel"``, or a classification source whose ``y`` is
    2-D with two or more columns, (N, C >= 2) (one column is a single label: give y as (N,))."""
    if a.task == "multilabel":
        return True
    return a.task == "classification" and np.ndim(a.y) == 2 and np.shape(a.y)[1] >= 2


def task_of_targets(y: np.ndarray) -> str:
    """The task that targets ``y`` of the caller's own arrays say: ``multilabel`` for a 2-D y
    of two or more columns (integer, or floating holding only 0 and 1), else ``regression`` for
    a floating y and ``classification`` for the rest."""
    floating = np.issubdtype(y.dtype, np.floating)
    if y.ndim == 2 and y.shape[1] >= 2 and (not floating or np.isin(y, (0, 1)).all()):
        return "multilabel"
    return "regression" if floating else "classification"


def _check_multilabel_arrays(a: Arrays, origin: str) -> tuple[Arrays, int]:
    if np.ndim(a.y) != 2:
        raise UserError(
            f"{origin}: task = 'multilabel' but y has shape {np.shape(a.y)}; expected "
            "(samples, labels) of 0 and 1"
        )
    labels = np.shape(a.y)[1]
    if labels < 1:
        raise UserError(f"{origin}: y has shape {np.shape(a.y)}; expected at least one label")
    y = _check_multilabel("y", a.y, len(a.x), labels, origin)
    checked = {}
    for split in ("test", "val"):
        x_s, y_s = getattr(a, f"x_{split}"), getattr(a, f"y_{split}")
        checked[split] = None
        if x_s is not None:
            _check_x(f"x_{split}", x_s, origin)
            _check_shape(f"x_{split}", x_s, a.x, origin)
            checked[split] = _check_multilabel(f"y_{split}", y_s, len(x_s), labels, origin)
    return Arrays(
        a.x, y, a.x_test, checked["test"], origin, "multilabel", a.x_val, checked["val"]
    ), labels


def check(a: Arrays, remap_labels: bool = False) -> tuple[Arrays, int]:
    """Validate a source's arrays; returns them with int64 labels (float32 targets for a
    regression source, float32 0/1 matrices for multi-label targets), and the number of
    classes (1 output for regression, C labels for multi-label).

    Class labels must be 0..C-1 with every class present in ``y`` (labels {0, 1000} would
    otherwise ask for a 1001-way output layer); ``remap_labels`` numbers the distinct labels of
    ``y`` 0..C-1 in sorted order instead, in every split."""
    origin = a.origin or "data"
    _check_x("x", a.x, origin)
    if is_multilabel(a):
        return _check_multilabel_arrays(a, origin)
    if a.task == "regression":
        checked = {}
        for split in ("test", "val"):
            x_s, y_s = getattr(a, f"x_{split}"), getattr(a, f"y_{split}")
            if x_s is not None:
                _check_x(f"x_{split}", x_s, origin)
                _check_shape(f"x_{split}", x_s, a.x, origin)
            checked[split] = (
                None if x_s is None else _check_targets(f"y_{split}", y_s, len(x_s), origin)
            )
        return Arrays(
            a.x,
            _check_targets("y", a.y, len(a.x), origin),
            a.x_test,
            checked["test"],
            origin,
            a.task,
            a.x_val,
            checked["val"],
        ), 1
    y = _check_y("y", a.y, len(a.x), origin)
    labels = np.unique(y)
    num_classes = len(labels) if a.classes is None else a.classes
    if len(labels) < 2:
        raise UserError(f"{origin}: y holds a single class; classification needs at least 2")
    if a.classes is not None:
        if labels[-1] >= a.classes:
            raise UserError(
                f"{origin}: y holds label {int(labels[-1])}; this source's labels are "
                f"0..{a.classes - 1}"
            )
        remap_labels = False  # the source's own numbering
    elif remap_labels:
        y = np.searchsorted(labels, y)
    elif labels[-1] != num_classes - 1:
        raise UserError(
            f"{origin}: y holds the {num_classes} labels {_listed(labels)}; expected 0.."
            f"{num_classes - 1} with every class present (data.remap_labels = true numbers "
            "them so, in sorted order)"
        )
    checked = {}
    for split in ("test", "val"):
        x_s, y_s = getattr(a, f"x_{split}"), getattr(a, f"y_{split}")
        checked[split] = None
        if x_s is None:
            continue
        _check_x(f"x_{split}", x_s, origin)
        _check_shape(f"x_{split}", x_s, a.x, origin)
        checked[split] = _check_y(f"y_{split}", y_s, len(x_s), origin)
        if remap_labels:
            unknown = np.setdiff1d(checked[split], labels)
            if len(unknown):
                raise UserError(
                    f"{origin}: y_{split} holds label {int(unknown[0])}, which y does not "
                    f"(its labels: {_listed(labels)})"
                )
            checked[split] = np.searchsorted(labels, checked[split])
        if len(checked[split]) and checked[split].max() >= num_classes:
            raise UserError(
                f"{origin}: y_{split} holds label {int(checked[split].max())}, but "
                f"the training labels are 0..{num_classes - 1}"
            )
    return Arrays(
        a.x, y, a.x_test, checked["test"], origin, a.task, a.x_val, checked["val"]
    ), num_classes


def _listed(values: np.ndarray, most: int = 8) -> str:
    """``{0, 5, 1000000}``, or the first and last few of many."""
    shown = [str(int(v)) for v in values]
    if len(shown) > most:
        shown = [*shown[: most // 2], "...", *shown[-(most // 2) :]]
    return "{" + ", ".join(shown) + "}"


def _check_shape(name: str, x: np.ndarray, reference: np.ndarray, origin: str) -> None:
    if x.shape[1:] != reference.shape[1:]:
        raise UserError(
            f"{origin}: {name} samples have shape {x.shape[1:]}, x samples "
            f"{reference.shape[1:]}; they must match"
        )


def _split(n: int, fraction: float, rng: np.random.Generator, what: str, origin: str):
    k = int(round(n * fraction))
    if k < 1 or k >= n:
        raise UserError(
            f"{origin}: {n} samples are too few to hold out {what}_fraction = "
            f"{fraction} of them (need at least 1 on each side)"
        )
    perm = rng.permutation(n)
    return perm[k:], perm[:k]


def prepare(
    arrays: Arrays,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    normalize: str,
    device: torch.device | str = "cpu",
    remap_labels: bool = False,
) -> Splits:
    a, num_classes = check(arrays, remap_labels)
    rng = np.random.default_rng([seed, 2])
    x, y = a.x, a.y
    if a.x_test is None:
        keep, test = _split(len(x), test_fraction, rng, "test", a.origin)
        x, y, x_test, y_test = x[keep], y[keep], x[test], y[test]
    else:
        x_test, y_test = a.x_test, a.y_test
    if a.x_val is not None:  # the caller's own validation split
        x_train, y_train, x_val, y_val = x, y, a.x_val, a.y_val
    else:
        if val_fraction == 0:  # train on all of it, as papers do: no validation split
            train, val = np.arange(len(x)), np.arange(0)
        else:
            train, val = _split(len(x), val_fraction, rng, "val", a.origin)
        x_train, y_train, x_val, y_val = x[train], y[train], x[val], y[val]

    x_train64 = x_train.astype(np.float64)
    if normalize == "standard":
        mean, std = x_train64.mean(0), x_train64.std(0)
    elif normalize == "scalar":
        mean, std = x_train64.mean(), x_train64.std()
    else:
        mean, std = 0.0, 1.0
    std = np.where(np.asarray(std) > 1e-8, std, 1.0)  # constant features stay as they are

    def tensor(v: np.ndarray, labels: bool = False) -> torch.Tensor:
        if labels:
            return torch.as_tensor(
                v, dtype=torch.int64 if v.dtype == np.int64 else torch.float32
            ).to(device)
        v = ((v.astype(np.float64) - mean) / std).astype(np.float32)
        return torch.as_tensor(v).to(device)

    mean_target = float(y_train.astype(np.float64).mean()) if a.task == "regression" else None
    return Splits(
        tensor(x_train),
        tensor(y_train, True),
        tensor(x_val),
        tensor(y_val, True),
        tensor(x_test),
        tensor(y_test, True),
        num_classes,
        a.task,
        mean_target,
    )
