"""Statistics and verdicts of claims.

Every analysis returns one row: ``statistic`` (the test used, in words), ``estimate`` (the
effect size), ``ci`` (its 95% confidence interval), ``p``, ``verdict`` (``holds``, ``does not
hold``, ``holds only when ...`` or ``inconclusive``) and ``explanation`` (one plain sentence).

- Differences between variants: :func:`trainlab.analysis.stats.contrast` (paired t-test on
  shared seeds, ``scipy.stats.ttest_rel``; Welch's otherwise), reused here.
- Scaling claims: the least-squares slope of y on x (``scipy.stats.linregress``) with its
  t-interval, slope +- t_{0.975, n-2} se.
- "Roughly equal to a target" (a slope of -1, say): two one-sided t-tests (TOST; Schuirmann
  1987) with a margin stated in the claim: p = max(P[T >= (est - (target - m)) / se],
  P[T <= (est - (target + m)) / se]). Equivalent at alpha = 0.05 to the 90% interval lying inside
  target +- m; the claim does not hold when the 95% interval lies wholly outside it.
- Several claims of one family: Holm's step-down correction
  (:func:`trainlab.analysis.stats.holm`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from ..analysis.stats import contrast, holm, mean_ci

ALPHA = 0.05


def row(statistic: str, estimate: float, ci, p: float, verdict: str, explanation: str) -> dict:
    """One claim's result row (numbers as plain floats)."""
    return {
        "statistic": statistic,
        "estimate": float(estimate),
        "ci": [float(ci[0]), float(ci[1])],
        "p": float(p),
        "verdict": verdict,
        "explanation": explanation,
    }


def slope(x, y, confidence: float = 0.95) -> dict:
    """Least-squares slope of ``y`` on ``x``: ``estimate``, ``se``, ``dof`` (n - 2), ``ci``
    (t-interval) and ``intercept``."""
    fit = sps.linregress(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    dof = len(x) - 2
    half = sps.t.ppf(0.5 + confidence / 2, dof) * fit.stderr
    return {
        "estimate": float(fit.slope),
        "se": float(fit.stderr),
        "dof": dof,
        "ci": (fit.slope - half, fit.slope + half),
        "intercept": float(fit.intercept),
    }


def mean_estimate(values) -> dict:
    """Mean over seeds as an estimate (``se``, ``dof`` n - 1, t-interval ``ci``)."""
    v = np.asarray(values, dtype=float)
    m, half = mean_ci(v)
    se = v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else math.nan
    return {"estimate": m, "se": float(se), "dof": len(v) - 1, "ci": (m - half, m + half)}


def tost(estimate: float, se: float, dof: int, target: float, margin: float) -> float:
    """TOST p-value that ``estimate`` lies within ``target +- margin`` (t with ``dof``)."""
    if math.isnan(se):  # a single value: nothing to test
        return 1.0
    if not se > 0:  # values that do not vary: exact
        return 0.0 if abs(estimate - target) < margin else 1.0
    p_low = sps.t.sf((estimate - (target - margin)) / se, dof)
    p_high = sps.t.cdf((estimate - (target + margin)) / se, dof)
    return float(max(p_low, p_high))


def equivalence_verdict(fit: dict, target: float, margin: float, what: str) -> dict:
    """Verdict that ``fit`` (a :func:`slope` or :func:`mean_estimate`) equals ``target`` within
    ``margin``: holds if TOST p < 0.05; does not hold if the 95% CI lies outside the band."""
    p = tost(fit["estimate"], fit["se"], fit["dof"], target, margin)
    lo, hi = fit["ci"]
    if p < ALPHA:
        verdict = "holds"
    elif hi < target - margin or lo > target + margin:
        verdict = "does not hold"
    else:
        verdict = "inconclusive"
    text = (
        f"{what} = {fit['estimate']:.3f} (95% CI {lo:.3f} to {hi:.3f}); "
        f"equivalence band {target} +- {margin}"
    )
    return row(f"TOST against {target} +- {margin}", fit["estimate"], fit["ci"], p, verdict, text)


def difference_verdict(a, b, what: str, higher: bool = True) -> dict:
    """Verdict that ``a`` exceeds ``b`` (``higher``) or falls below it: paired t-test on shared
    seeds (``{seed: value}``), else Welch. Holds if p < 0.05 in the claimed direction; does not
    hold if significant the other way or if the CI lies on the wrong side of 0."""
    c = contrast(a, b)
    d, (lo, hi), p = c["difference"], c["ci"], c["p"]
    if math.isnan(p):
        if min(c["n_a"], c["n_b"]) >= 2 and math.isfinite(d):  # differences that do not vary
            p = 0.0 if d != 0 else 1.0
            lo = hi = d
        else:  # fewer than 2 finite values on a side (one seed, or diverged runs): no test
            p = 1.0
    right = d > 0 if higher else d < 0
    if p < ALPHA:
        verdict = "holds" if right else "does not hold"
    else:
        verdict = "inconclusive"
    text = f"{what}: mean difference {d:.3g} (95% CI {lo:.3g} to {hi:.3g}), {c['test']} t-test"
    return row(f"{c['test']} t-test, n = {c['n_a']}", d, (lo, hi), p, verdict, text)


def paired(results: list[dict], a: str, b: str, key=None) -> tuple[dict, dict]:
    """``{seed index: key(result[a])}`` and the same for ``b`` (``key`` the identity if None):
    the two arguments of a paired :func:`difference_verdict`."""
    key = key or (lambda v: v)
    return (
        {i: key(r[a]) for i, r in enumerate(results)},
        {i: key(r[b]) for i, r in enumerate(results)},
    )


def paired_verdict(
    results: list[dict], a: str, b: str, what: str, higher: bool = True, key=None
) -> dict:
    """:func:`difference_verdict` of ``key(r[a]) - key(r[b])`` paired over seeds: holds if
    ``a`` exceeds ``b`` (``higher``) or falls below it, p < 0.05."""
    return difference_verdict(*paired(results, a, b, key), what, higher)


def exact_verdict(ok: list[bool], estimate: float, what: str) -> dict:
    """An exact (deterministic) claim: holds if every seed satisfies it, else does not hold."""
    verdict = "holds" if all(ok) else "does not hold"
    text = f"{what}: {sum(ok)} of {len(ok)} checks satisfy it exactly"
    return row(
        "exact check", estimate, (estimate, estimate), 0.0 if all(ok) else 1.0, verdict, text
    )


def apply_holm(rows: list[dict], families: list[str]) -> None:
    """Holm-correct the p-values of claims that share a family (in place: ``p_holm``), over the
    members being run. A significance-based verdict (``holds``, ``holds only when ...``, and a
    ``does not hold`` from a difference test) whose adjusted p is >= 0.05 becomes
    ``inconclusive``; exact checks, and an equivalence test's ``does not hold`` (decided by its
    interval, not its p), stay."""
    for family in set(families):
        members = [r for r, f in zip(rows, families) if f == family]
        adjusted = holm([r["p"] for r in members]) if family else [r["p"] for r in members]
        for r, q in zip(members, adjusted):
            r["p_holm"] = q
            significance = r["verdict"].startswith("holds") or (
                r["verdict"] == "does not hold" and not r["statistic"].startswith("TOST")
            )
            if family and r["statistic"] != "exact check" and not q < ALPHA and significance:
                r["verdict"] = "inconclusive"
