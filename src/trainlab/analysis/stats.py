"""Statistics for comparisons across seeds.

- 95% confidence interval of a mean over n seeds: mean +- t_{0.975, n-1} * s / sqrt(n), with s
  the sample standard deviation (Student's t; n = 1 gives no interval).
- Welch's t-test for two variants (unequal variances; Welch 1947):
  t = (m1 - m2) / sqrt(s1^2/n1 + s2^2/n2), degrees of freedom by Welch-Satterthwaite
  (``scipy.stats.ttest_ind(equal_var=False)``).
- Holm's step-down correction for testing several pairs at once (Holm 1979): the k-th smallest
  of m p-values is multiplied by (m - k + 1), made monotone, capped at 1.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
from scipy import stats as sps


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float]:
    """(mean, half-width of the confidence interval); half-width nan for fewer than 2 values."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if len(v) == 0:
        return math.nan, math.nan
    if len(v) < 2:
        return float(v.mean()), math.nan
    t = sps.t.ppf(0.5 + confidence / 2, len(v) - 1)
    return float(v.mean()), float(t * v.std(ddof=1) / math.sqrt(len(v)))


def welch(a, b) -> tuple[float, float]:
    """Welch's t statistic and two-sided p-value; nan when either side has fewer than 2 values
    or neither varies."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2 or (a.std() == 0 and b.std() == 0):
        return math.nan, math.nan
    result = sps.ttest_ind(a, b, equal_var=False)
    return float(result.statistic), float(result.pvalue)


def holm(pvalues: list[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given (nan stays nan)."""
    indexed = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    m, adjusted, running = len(indexed), [math.nan] * len(pvalues), 0.0
    for k, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - k) * p))
        adjusted[i] = running
    return adjusted


def pairwise(groups: dict[str, list[float]], alpha: float = 0.05) -> list[dict]:
    """Welch's t-test for every pair of groups, Holm-corrected; sorted by adjusted p."""
    pairs = list(combinations(groups, 2))
    tests = [welch(groups[a], groups[b]) for a, b in pairs]
    adjusted = holm([p for _, p in tests])
    rows = []
    for (a, b), (t, p), q in zip(pairs, tests, adjusted):
        diff = float(np.mean(groups[a]) - np.mean(groups[b])) if groups[a] and groups[b] else math.nan
        rows.append({"a": a, "b": b, "difference": diff, "t": t, "p": p, "p_holm": q,
                     "significant": bool(q < alpha) if not math.isnan(q) else False})
    return sorted(rows, key=lambda r: (math.isnan(r["p_holm"]), r["p_holm"]))
