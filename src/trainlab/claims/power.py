"""How many seeds a claim needs: the power calculation of a one-sided one-sample t-test.

An empirical claim is decided by one-sided t-tests at level ALPHA over the per-seed effects
(:mod:`trainlab.claims.verdicts`). With per-seed standard deviation sigma (from a pilot run) and
the smallest effect that matters delta, n seeds detect a true effect of delta (reject
H0: e <= 0) with probability

    power(n) = P[T'_{n-1, ncp} > t_{1-ALPHA, n-1}],  ncp = delta sqrt(n) / sigma,

T' the noncentral t distribution (Cohen 1988, ch. 2; any power table of the one-sample t-test).
By the symmetry of the two tests, the same n shows a true effect of 0 to be below delta with the
same probability, so n is enough for either verdict. :func:`seeds_needed` is the smallest n with
power(n) >= the target (0.8 by convention).
"""

from __future__ import annotations

import math

from scipy import stats

from .verdicts import ALPHA


def power(n: int, sd: float, delta: float, alpha: float = ALPHA) -> float:
    """The probability that ``n`` seeds give p < ``alpha`` in the one-sided t-test of
    H0: e <= 0 when the true effect is ``delta`` and the per-seed standard deviation ``sd``."""
    if n < 2:
        return 0.0
    if sd <= 0:
        return 1.0
    critical = stats.t.ppf(1 - alpha, n - 1)
    return float(stats.nct.sf(critical, n - 1, delta * math.sqrt(n) / sd))


def seeds_needed(
    sd: float, delta: float, target: float = 0.8, alpha: float = ALPHA, most: int = 10_000
) -> int:
    """The smallest n >= 2 with :func:`power` (n) >= ``target``; ``most`` + 1 if none up to
    ``most`` is (delta tiny beside sd)."""
    if not (delta > 0):
        raise ValueError(f"delta must be > 0 for a power calculation, got {delta}")
    for n in range(2, most + 1):
        if power(n, sd, delta, alpha) >= target:
            return n
    return most + 1
