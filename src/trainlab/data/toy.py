"""2-D toy sets for the lectures' small experiments (e.g. lecture 001's 2 vs 10 hidden units).

All are seeded by the run's ``seed``; ``data.samples`` points in all (split into train / test by
``data.test_fraction``), Gaussian noise of standard deviation ``data.noise`` added to each point.

- ``moons``: two interleaving half circles (upper: (cos t, sin t); lower: (1 - cos t, 0.5 - sin t)).
- ``circles``: two concentric circles of radius 1 and 0.5.
- ``spirals``: two interleaved Archimedean spirals, r = t, angle = 4 pi t + k pi, t in [0, 1].
- ``xor``: points uniform in [-1, 1]^2, label 1 where x1 * x2 > 0 (not linearly separable).
"""

from __future__ import annotations

import numpy as np

from .arrays import Arrays


def make_toy(name: str, *, seed: int, samples: int, noise: float) -> Arrays:
    """``samples`` points of the toy set ``name`` (seeded by ``seed``), with Gaussian noise of
    standard deviation ``noise`` on each coordinate."""
    x, y = TOY_SETS[name](np.random.default_rng(seed), samples)
    x = x + np.random.default_rng([seed, 1]).normal(0.0, noise, x.shape)
    return Arrays(x.astype(np.float32), y.astype(np.int64), origin=name)


def _halves(n: int) -> tuple[int, int]:
    return n // 2, n - n // 2


def moons(rng: np.random.Generator, n: int):
    a, b = _halves(n)
    t0, t1 = rng.uniform(0, np.pi, a), rng.uniform(0, np.pi, b)
    x = np.concatenate(
        [np.stack([np.cos(t0), np.sin(t0)], 1), np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1)]
    )
    return x, np.repeat([0, 1], [a, b])


def circles(rng: np.random.Generator, n: int):
    a, b = _halves(n)
    t = rng.uniform(0, 2 * np.pi, n)
    r = np.repeat([1.0, 0.5], [a, b])
    return np.stack([r * np.cos(t), r * np.sin(t)], 1), np.repeat([0, 1], [a, b])


def spirals(rng: np.random.Generator, n: int):
    a, b = _halves(n)
    t = rng.uniform(0.05, 1, n)
    k = np.repeat([0, 1], [a, b])
    angle = 4 * np.pi * t + k * np.pi
    return np.stack([t * np.cos(angle), t * np.sin(angle)], 1), k


def xor(rng: np.random.Generator, n: int):
    x = rng.uniform(-1, 1, (n, 2))
    return x, (x[:, 0] * x[:, 1] > 0).astype(np.int64)


TOY_SETS = {"moons": moons, "circles": circles, "spirals": spirals, "xor": xor}
