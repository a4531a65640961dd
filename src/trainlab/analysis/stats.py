"""Statistics for comparisons across seeds.

- 95% confidence interval of a mean over n seeds: mean +- t_{0.975, n-1} * s / sqrt(n), with s
  the sample standard deviation (Student's t; n = 1 gives no interval).
- Paired t-test, when two variants were run with the same seeds (``scipy.stats.ttest_rel``):
  on the per-seed differences d_i = a_i - b_i, t = mean(d) / (s_d / sqrt(n)) with n - 1 degrees
  of freedom; the effect size is mean(d) with its t-interval, mean(d) +- t_{0.975, n-1} s_d/sqrt(n).
  Pairing removes what a seed does to both variants alike (the same initialization and batches),
  so it detects a smaller difference than an unpaired test on the same runs.
- Welch's t-test otherwise (unequal variances; Welch 1947; ``scipy.stats.ttest_ind(equal_var=
  False)``): t = (m1 - m2) / sqrt(s1^2/n1 + s2^2/n2), with the Welch-Satterthwaite degrees of
  freedom nu = (v1 + v2)^2 / (v1^2/(n1-1) + v2^2/(n2-1)), v = s^2/n; the effect size is
  m1 - m2 +- t_{0.975, nu} sqrt(v1 + v2).
- Holm's step-down correction for testing several pairs at once (Holm 1979): the k-th smallest
  of m p-values is multiplied by (m - k + 1), made monotone, capped at 1.
- One-sided t-tests of a mean against a bound (what the claims' verdicts are made of; Lakens
  2018): with the estimate m, its standard error se and nu degrees of freedom, the p-value of
  H0: effect <= bound is P[T_nu >= (m - bound) / se] (:func:`p_greater`), of H0: effect >= bound
  P[T_nu <= (m - bound) / se] (:func:`p_less`); the same as
  ``scipy.stats.ttest_1samp(values, bound, alternative="greater" | "less")`` on the values.
- The least-squares slope of y on x (``scipy.stats.linregress``), b = S_xy / S_xx, with its
  standard error sqrt(sum r^2 / (n - 2) / S_xx) (:func:`least_squares`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import combinations

import numpy as np
from scipy import stats as sps


def _finite(values) -> np.ndarray:
    """The values that are numbers (None, nan and inf dropped), as a float array."""
    return np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float]:
    """(mean, half-width of the confidence interval); half-width nan for fewer than 2 values."""
    v = _finite(values)
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


def welch_interval(a, b, confidence: float = 0.95) -> tuple[float, float]:
    """(mean(a) - mean(b), half-width of its Welch-Satterthwaite confidence interval); the
    half-width is nan when either side has fewer than 2 values or neither varies."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
    if len(a) < 2 or len(b) < 2:
        return diff, math.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return diff, math.nan
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return diff, float(sps.t.ppf(0.5 + confidence / 2, dof) * math.sqrt(va + vb))


def paired(a, b) -> tuple[float, float]:
    """Paired t statistic and two-sided p-value of a_i - b_i (``scipy.stats.ttest_rel``); nan
    for fewer than 2 pairs or when the differences do not vary."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if len(d) < 2 or d.std() == 0:
        return math.nan, math.nan
    result = sps.ttest_rel(a, b)
    return float(result.statistic), float(result.pvalue)


def contrast(a, b, confidence: float = 0.95) -> dict:
    """Test a against b. Given ``{seed: value}`` mappings with at least 2 seeds in common: a
    paired t-test on those seeds; otherwise (lists, or too few common seeds): Welch's t-test on
    all values. Returns ``test`` ("paired" or "welch"), ``n_a``, ``n_b``, ``difference`` (mean of
    a - b), ``ci`` (its confidence interval, low and high), ``t``, ``p``."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        common = [k for k in a if k in b and _finite([a[k], b[k]]).size == 2]
        if len(common) >= 2:
            x, y = [a[k] for k in common], [b[k] for k in common]
            t, p = paired(x, y)
            diff, half = mean_ci(np.subtract(x, y), confidence)
            return _result("paired", len(x), len(y), diff, half, t, p)
        a, b = list(a.values()), list(b.values())
    x, y = _finite(a), _finite(b)
    t, p = welch(x, y)
    diff, half = welch_interval(x, y, confidence)
    return _result("welch", len(x), len(y), diff, half, t, p)


def _result(test: str, n_a: int, n_b: int, diff: float, half: float, t: float, p: float) -> dict:
    """The row :func:`contrast` returns."""
    return {
        "test": test,
        "n_a": n_a,
        "n_b": n_b,
        "difference": diff,
        "ci": (diff - half, diff + half),
        "t": t,
        "p": p,
    }


def holm(pvalues: list[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given (nan stays nan)."""
    indexed = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    m, adjusted, running = len(indexed), [math.nan] * len(pvalues), 0.0
    for k, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - k) * p))
        adjusted[i] = running
    return adjusted


def pairwise(groups: dict, alpha: float = 0.05, higher_is_better: bool = True) -> list[dict]:
    """:func:`contrast` for every pair of groups (``{name: [values]}`` for Welch's test, or
    ``{name: {seed: value}}`` for the paired test on common seeds), Holm-corrected, sorted by
    adjusted p. Each row: ``a``, ``b``, the fields of :func:`contrast`, ``p_holm``,
    ``significant`` (adjusted p < alpha) and ``better``: the one with the better mean difference
    (higher or lower, as ``higher_is_better`` says; None for no difference)."""
    pairs = list(combinations(groups, 2))
    rows = [{"a": a, "b": b, **contrast(groups[a], groups[b])} for a, b in pairs]
    for row, q in zip(rows, holm([r["p"] for r in rows])):
        d = row["difference"]
        row["p_holm"] = q
        row["significant"] = bool(q < alpha) if not math.isnan(q) else False
        row["better"] = (
            None
            if math.isnan(d) or d == 0
            else row["a"]
            if (d > 0) == higher_is_better
            else row["b"]
        )
    return sorted(rows, key=lambda r: (math.isnan(r["p_holm"]), r["p_holm"]))


def p_greater(estimate: float, se: float, dof: float, bound: float) -> float:
    """One-sided p-value of H0: effect <= ``bound`` against H1: effect > ``bound``:
    P[T_dof >= (estimate - bound) / se] (Student's t). ``se`` must be > 0."""
    return float(sps.t.sf((estimate - bound) / se, dof))


def p_less(estimate: float, se: float, dof: float, bound: float) -> float:
    """One-sided p-value of H0: effect >= ``bound`` against H1: effect < ``bound``:
    P[T_dof <= (estimate - bound) / se]. ``se`` must be > 0."""
    return float(sps.t.cdf((estimate - bound) / se, dof))


def t_interval(estimate: float, se: float, dof: float, confidence: float) -> tuple[float, float]:
    """Two-sided t-interval estimate +- t_{(1 + confidence) / 2, dof} se; (estimate, estimate)
    when se = 0, (nan, nan) when there is no standard error (fewer than 2 values)."""
    if math.isnan(se) or dof < 1:
        return math.nan, math.nan
    if se == 0:
        return estimate, estimate
    half = float(sps.t.ppf(0.5 + confidence / 2, dof)) * se
    return estimate - half, estimate + half


def least_squares(x, y) -> dict:
    """The least-squares line of ``y`` on ``x`` (``scipy.stats.linregress``): ``slope``, its
    standard error ``se`` (nan for fewer than 3 points), ``intercept`` and ``dof`` = n - 2."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    fit = sps.linregress(x, y)
    se = float(fit.stderr) if len(x) > 2 else math.nan
    return {
        "slope": float(fit.slope),
        "se": se,
        "intercept": float(fit.intercept),
        "dof": len(x) - 2,
    }
