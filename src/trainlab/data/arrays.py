"""What every data source returns before it is checked and split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Arrays:
    """Samples ``x`` (N, ...) and integer labels ``y`` (N,), with an optional test split.

    ``origin`` names where they came from (a file, a folder, a generator) for error messages;
    ``task`` is ``classification`` (integer labels), ``regression`` (real targets ``y``) or
    ``multilabel`` (``y`` a 0/1 matrix (N, C); a classification ``y`` that is 2-D is read so);
    ``classes``: the number of classes a source defines (MNIST's 10: labels 0..9, of which a
    small subset may miss some), None where the labels found define them.
    """

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    origin: str = ""
    task: str = "classification"
    x_val: np.ndarray | None = None  # a validation split of the caller's (else one is held out)
    y_val: np.ndarray | None = None
    classes: int | None = None
