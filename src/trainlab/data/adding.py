"""The adding problem (Hochreiter & Schmidhuber 1997, experiment 4; in the form of Le et al.
2015, lecture 003's identity-RNN slide): a regression task that needs memory over the whole
sequence.

Each sample is a sequence of ``data.seq_len`` steps with two channels: a value drawn from
U(0, 1) and a marker, 1 at exactly two steps (one in the first half, one in the second) and 0
elsewhere. The target is the sum of the two marked values, a real number in [0, 2]. Predicting
the mean of the targets scores a mean squared error of about Var(u1 + u2) = 2/12 = 0.167; a net
must remember the first marked value over up to ``seq_len`` steps to do better. Seeded by the
run's ``seed``; ``data.samples`` sequences (split into train / test by ``data.test_fraction``).
"""

from __future__ import annotations

import numpy as np

from .arrays import Arrays


def make_adding(*, seed: int, samples: int, seq_len: int) -> Arrays:
    """``samples`` sequences of ``seq_len`` steps of the adding problem, seeded by ``seed``."""
    n, length = samples, seq_len
    rng = np.random.default_rng([seed, 3])
    values = rng.uniform(0.0, 1.0, (n, length))
    half = length // 2
    first = rng.integers(0, half, n)
    second = rng.integers(half, length, n)
    markers = np.zeros((n, length))
    rows = np.arange(n)
    markers[rows, first] = markers[rows, second] = 1.0
    y = values[rows, first] + values[rows, second]
    x = np.stack([values, markers], 1)  # (N, channels, length): the recurrent models' layout
    return Arrays(x.astype(np.float32), y.astype(np.float32), origin="adding", task="regression")
