"""Typed verdicts of claims, decided by one-sided t-tests against zero and against the smallest
effect of interest (Lakens 2018), then Holm-corrected per family of claims (Holm 1979).

An analysis turns the per-seed measurements into an :class:`Estimate` (the mean over seeds of a
per-seed value: a paired difference, a per-seed slope, a ratio; its standard error s / sqrt(n)
and n - 1 degrees of freedom) and the estimate into a :class:`Verdict`, one of :class:`Kind`.

Every decision is a one-sided t-test at level :data:`ALPHA` = 0.025, which is the same as asking
on which side of a bound the reported two-sided 95% interval lies: a verdict and its interval
never disagree. (Lakens 2018 shows TOST at 0.05 per test, the 90% interval; trainlab takes the
stricter 0.025 so that one interval, the one every table shows, decides every verdict.)

With the effect e oriented so that the claim says e > 0, its standard error se, n - 1 degrees of
freedom, and the smallest effect of interest delta >= 0 (in the metric's units; a claim that
declares none is judged with delta = 0 and records ``delta: None``):

- **directional** claim ("A > B", :func:`directional`), three one-sided tests:
  p_0 = P[T >= e / se] (H0: e <= 0), p_delta = P[T <= (e - delta) / se] (H0: e >= delta),
  p_rev = P[T <= e / se] (H0: e >= 0).

  - ``does not hold`` if p_delta < ALPHA: the effect is shown smaller than delta (the 95%
    interval lies wholly below delta). The sentence says which case it is: reversed (p_rev <
    ALPHA, the interval wholly below 0), a real but negligible effect (also p_0 < ALPHA: above
    0, yet below delta; a real effect too small to matter does not hold), or at most negligible.
    Decided by the test against delta, whose p is the verdict's p.
  - else ``holds`` if p_0 < ALPHA: significantly in the claimed direction and not shown smaller
    than delta. Decided by the test against 0.
  - else ``inconclusive`` (p = p_0).

  With delta = 0, p_delta = p_rev: a claim holds when significantly in its direction and does
  not hold when significantly against it.
- **roughly equal** (:func:`equivalence`, TOST at target +- delta, Schuirmann 1987): p_TOST =
  max(P[T >= (e - (target - delta)) / se], P[T <= (e - (target + delta)) / se]). ``holds`` if
  p_TOST < ALPHA (equivalence shown; p = p_TOST); ``does not hold`` if a difference beyond delta
  is shown, P[T >= (e - (target + delta)) / se] < ALPHA or P[T <= (e - (target - delta)) / se]
  < ALPHA (the interval wholly outside the band; p = that test's); ``inconclusive`` otherwise
  (p = p_TOST).
- **at least as good** (:func:`non_inferiority`, margin delta): ``holds`` if P[T >= (e + delta)
  / se] < ALPHA (H0: e <= -delta rejected), ``does not hold`` if P[T <= (e + delta) / se] <
  ALPHA (shown worse by more than delta), ``inconclusive`` otherwise.
- **exact** checks (:func:`exact`, deterministic computations): ``holds`` if every check
  passes, else ``does not hold``; p = 0 (no sampling error) and Holm leaves them alone.

Degenerate estimates are decided before any t statistic is formed:

- a value that is not a number (NaN, inf: a diverged run) in any seed: ``inconclusive``, the
  arms and their counts named. A t-test cannot weigh a diverged run, and leaving it out would
  bias the comparison (a run that diverged is informative); a claim that wants divergence to
  count as a bad outcome records it as a value (``lr-too-big-too-small`` caps the loss).
- fewer than 2 seeds with a value: no standard error, ``inconclusive`` (never ``holds``).
- every seed giving the same value (se = 0: exactly equal arms, or an exact identity): the
  value is known exactly and decides by comparison with 0, delta or the band; p = 0.

Several claims of one family: Holm's step-down correction (:func:`holm_corrected`,
:func:`trainlab.analysis.stats.holm`) of the p that decided each verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np

from ..analysis.stats import least_squares, p_greater, p_less, t_interval

#: The level of every one-sided test; 1 - 2 ALPHA = 95% is the level of the reported interval.
ALPHA = 0.025
CONFIDENCE = 1 - 2 * ALPHA


class Kind(StrEnum):
    """The verdict kinds, in the order the reports show them."""

    HOLDS = "holds"
    HOLDS_ONLY_WHEN = "holds only when"
    DOES_NOT_HOLD = "does not hold"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Estimate:
    """An effect over seeds: the mean ``value`` of the per-seed values that are numbers, its
    standard error ``se`` = s / sqrt(n) (nan for n < 2), ``dof`` = n - 1, ``n`` the seeds with a
    value, ``seeds`` all seeds, ``method`` in words, and ``diverged``: (arm, how many seeds
    gave NaN or inf) for each arm where any did."""

    value: float
    se: float
    dof: int
    n: int
    seeds: int
    method: str
    diverged: tuple[tuple[str, int], ...] = ()

    @property
    def ci(self) -> tuple[float, float]:
        """The 95% t-interval value +- t_{0.975, n-1} se."""
        return t_interval(self.value, self.se, self.dof, CONFIDENCE)


def _finite(v) -> bool:
    return v is not None and math.isfinite(v)


def mean_estimate(values, method: str = "", arm: str = "value") -> Estimate:
    """:class:`Estimate` of the mean of per-seed ``values`` (a list, or ``{seed: value}``);
    values that are not numbers are counted as diverged under ``arm``."""
    values = list(values.values()) if isinstance(values, Mapping) else list(values)
    good = np.asarray([v for v in values if _finite(v)], dtype=float)
    bad = len(values) - len(good)
    n = len(good)
    mean = float(good.mean()) if n else math.nan
    se = float(good.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return Estimate(
        mean,
        se,
        n - 1,
        n,
        len(values),
        method or f"mean over {n} seeds",
        ((arm, bad),) if bad else (),
    )


def paired_estimate(a, b, names: tuple[str, str] = ("a", "b")) -> Estimate:
    """:class:`Estimate` of the mean paired difference a_i - b_i over seeds i (``a`` and ``b``
    lists in seed order, or ``{seed: value}`` with the same seeds). Seeds where either arm is
    not a number are counted per arm (by ``names``) as diverged and give no difference."""
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        if set(a) != set(b):
            raise ValueError(f"paired arms need the same seeds: {sorted(a)} and {sorted(b)}")
        keys = list(a)
        a, b = [a[k] for k in keys], [b[k] for k in keys]
    if len(a) != len(b):
        raise ValueError(f"paired arms need the same seeds: {len(a)} and {len(b)} values")
    bad = [(name, sum(not _finite(v) for v in arm)) for name, arm in zip(names, (a, b))]
    d = [x - y for x, y in zip(a, b) if _finite(x) and _finite(y)]
    fit = mean_estimate(d, f"paired over {len(d)} seeds")
    return replace(fit, seeds=len(a), diverged=tuple((k, c) for k, c in bad if c))


def seed_slopes(xs, ys, method: str = "") -> Estimate:
    """:class:`Estimate` of a slope fitted per seed: ``xs[i]``, ``ys[i]`` are seed i's points,
    each seed gets its own least-squares line (its own intercept), and the mean slope is
    t-tested over the seeds' slopes. Pooling the seeds' points under one intercept would count
    the seeds' different offsets as noise about one line, and its n - 2 degrees of freedom
    would treat points of one seed as independent; per seed, an exact identity gives the same
    slope in every seed and so a zero-width interval."""
    slopes = []
    for x, y in zip(xs, ys):
        ok = [(u, v) for u, v in zip(x, y) if _finite(u) and _finite(v)]
        slopes.append(
            least_squares(*zip(*ok))["slope"] if len(ok) == len(x) and len(ok) > 1 else math.nan
        )
    n = sum(_finite(s) for s in slopes)
    return mean_estimate(slopes, method or f"mean of {n} per-seed least-squares slopes", "slope")


def slope(x, y, confidence: float = CONFIDENCE) -> dict:
    """Least-squares slope of ``y`` on ``x`` within one seed: ``estimate``, ``se``, ``dof``
    (n - 2), ``ci`` (t-interval) and ``intercept``."""
    fit = least_squares(x, y)
    return {
        "estimate": fit["slope"],
        "se": fit["se"],
        "dof": fit["dof"],
        "ci": t_interval(fit["slope"], fit["se"], fit["dof"], confidence),
        "intercept": fit["intercept"],
    }


@dataclass(frozen=True)
class Verdict:
    """One claim's verdict. ``kind`` (:class:`Kind`); ``condition``: the condition of ``holds
    only when`` (else empty); ``estimate`` and its 95% ``ci`` (low, high) in the metric's
    units; ``p``: the p-value of the hypothesis test that decided the verdict, named by
    ``decided_by``; ``delta``: the smallest effect of interest used (None: none declared, 0
    used); ``sentence``: what was found, in words; ``statistic``: the estimate's method;
    ``tests``: every one-sided test computed, (null hypothesis, p); ``exact``: decided without
    sampling error (p = 0); ``n`` seeds with a value out of ``seeds``; ``diverged``: (arm,
    count) of seeds that gave no number. After Holm's correction: ``p_holm``, ``family`` and
    ``family_size``."""

    kind: Kind
    estimate: float
    ci: tuple[float, float]
    p: float
    decided_by: str
    delta: float | None
    sentence: str
    statistic: str
    condition: str = ""
    tests: tuple[tuple[str, float], ...] = ()
    exact: bool = False
    n: int | None = None
    seeds: int | None = None
    diverged: tuple[tuple[str, int], ...] = ()
    p_holm: float | None = None
    family: str = ""
    family_size: int = 0

    @property
    def label(self) -> str:
        """The verdict in words, its condition included (``holds only when ...``)."""
        return f"{self.kind} {self.condition}" if self.condition else str(self.kind)

    def also(self, text: str) -> Verdict:
        """The same verdict with ``text`` added to its sentence (context, not a decision)."""
        return replace(self, sentence=self.sentence + text)

    def only_when(self, condition: str, why: str = "") -> Verdict:
        """``holds only when <condition>``: a verdict that holds, narrowed (same test and p)."""
        if self.kind != Kind.HOLDS:
            raise ValueError(f"only a verdict that holds can be narrowed, not {self.kind!r}")
        return replace(
            self,
            kind=Kind.HOLDS_ONLY_WHEN,
            condition=condition,
            sentence=self.sentence
            + (f"; holds only when {condition}" + (f": {why}" if why else "")),
        )

    def overruled(self, kind: Kind, why: str, exact: bool = False) -> Verdict:
        """The verdict replaced by ``kind`` for the reason ``why`` (a premise that failed, an
        exact check that overrides the test); ``exact``: the reason is an exact check (p 0)."""
        return replace(
            self,
            kind=kind,
            condition="",
            sentence=f"{self.sentence}; {kind}: {why}",
            decided_by=f"exact check: {why}" if exact else f"{self.decided_by}, overruled: {why}",
            p=0.0 if exact else self.p,
            exact=exact or self.exact,
        )

    def record(self) -> dict:
        """The verdict as plain JSON-able fields (``verdict`` is the kind)."""
        return {
            "verdict": str(self.kind),
            "condition": self.condition,
            "estimate": float(self.estimate),
            "ci": [float(self.ci[0]), float(self.ci[1])],
            "p": float(self.p),
            "decided_by": {"test": self.decided_by, "p": float(self.p)},
            "delta": self.delta,
            "sentence": self.sentence,
            "statistic": self.statistic,
            "tests": {name: float(p) for name, p in self.tests},
            "exact": self.exact,
            "n": self.n,
            "diverged": dict(self.diverged),
            "p_holm": self.p_holm,
            "p_adjusted": self.p_holm,
            "family": self.family,
            "family_size": self.family_size,
        }


def _g(x: float) -> str:
    return f"{x:.3g}"


def _p(x: float) -> str:
    return f"{x:.2g}"


def _head(what: str, est: Estimate) -> str:
    lo, hi = est.ci
    return f"{what} = {_g(est.value)} (95% CI {_g(lo)} to {_g(hi)}; {est.method})"


def _no_delta(delta: float | None) -> str:
    return (
        "; no smallest effect of interest was declared, so delta = 0 was used"
        if delta is None
        else ""
    )


def _untestable(est: Estimate, what: str, delta: float | None, statistic: str) -> Verdict | None:
    """``inconclusive`` for an estimate that no t-test can judge (a diverged seed, fewer than 2
    seeds), with the reason in its sentence; None otherwise."""
    if est.diverged:
        named = ", ".join(f"'{arm}' in {k} of {est.seeds} seeds" for arm, k in est.diverged)
        why = (
            f"{what}: diverged (NaN or inf): {named}; a t-test cannot weigh a diverged run and "
            "leaving it out would bias the comparison"
        )
        test = "no test: diverged runs"
    elif est.n < 2:
        why = (
            f"{what}: only {est.n} seed{'s' if est.n != 1 else ''} with a value, so there is no "
            "standard error and nothing to test"
        )
        test = "no test: fewer than 2 seeds"
    else:
        return None
    return Verdict(
        Kind.INCONCLUSIVE,
        est.value,
        est.ci,
        math.nan,
        test,
        delta,
        why + _no_delta(delta),
        statistic,
        n=est.n,
        seeds=est.seeds,
        diverged=est.diverged,
    )


def directional(
    est: Estimate, what: str, delta: float | None = None, higher: bool = True, statistic: str = ""
) -> Verdict:
    """Verdict that the effect ``est`` is above 0 (``higher``) or below 0, by the directional
    rule of the module docstring (Lakens 2018): ``does not hold`` when shown smaller than
    ``delta`` in the claimed direction (p_delta < 0.025), else ``holds`` when significantly in
    the claimed direction (p_0 < 0.025), else ``inconclusive``."""
    statistic = statistic or f"one-sided t-tests, {est.method}"
    if (bad := _untestable(est, what, delta, statistic)) is not None:
        return bad
    s = 1.0 if higher else -1.0
    d = 0.0 if delta is None else float(delta)
    e = s * est.value  # oriented: the claim says e > 0
    toward, away = ("above", "below") if higher else ("below", "above")
    bound = s * d
    common = {
        "estimate": est.value,
        "ci": est.ci,
        "delta": delta,
        "statistic": statistic,
        "n": est.n,
        "seeds": est.seeds,
    }
    head = _head(what, est)
    if est.se == 0:  # every seed the same value: known exactly
        if e > 0 and e >= d:
            kind, why = Kind.HOLDS, f"{toward} 0" + (f" and not {away} {_g(bound)}" if d else "")
        elif e > 0:
            kind, why = Kind.DOES_NOT_HOLD, f"a real but negligible effect, {away} {_g(bound)}"
        else:
            kind, why = Kind.DOES_NOT_HOLD, f"not {toward} 0"
        return Verdict(
            kind,
            p=0.0,
            decided_by=f"exact: every seed gives {_g(est.value)}",
            sentence=f"{head}: the same in every seed, so exactly {why}" + _no_delta(delta),
            exact=True,
            **common,
        )
    se, dof = est.se, est.dof
    p0 = p_greater(e, se, dof, 0.0)
    p_rev = p_less(e, se, dof, 0.0)
    p_small = p_less(e, se, dof, d)
    h0 = f"H0: effect {'<=' if higher else '>='} 0"
    h_small = f"H0: effect {'>=' if higher else '<='} {_g(bound)}"
    tests = ((h0, p0), (h_small, p_small))
    if d:
        tests += ((f"H0: effect {'>=' if higher else '<='} 0", p_rev),)
    if p_small < ALPHA:
        shown = f"shown {away} the smallest effect of interest {_g(bound)} (p {_p(p_small)})"
        if p_rev < ALPHA:
            why = f"the effect goes the other way, {away} 0" + (
                f" (one-sided p {_p(p_rev)}), so also {shown}"
                if d
                else f" (one-sided p {_p(p_rev)})"
            )
        elif p0 < ALPHA:
            why = f"a real but negligible effect: {toward} 0 (p {_p(p0)}) yet {shown}"
        else:
            why = f"at most a negligible effect: {shown}"
        kind, p, test = Kind.DOES_NOT_HOLD, p_small, f"one-sided t-test, {h_small}"
    elif p0 < ALPHA:
        why = f"{toward} 0 (one-sided p {_p(p0)})" + (
            f" and not shown {away} the smallest effect of interest {_g(bound)} (p {_p(p_small)})"
            if d
            else ""
        )
        kind, p, test = Kind.HOLDS, p0, f"one-sided t-test, {h0}"
    else:
        why = f"not shown {toward} 0 (one-sided p {_p(p0)})" + (
            f" nor {away} the smallest effect of interest {_g(bound)} (p {_p(p_small)})"
            if d
            else f" nor {away} it (p {_p(p_small)})"
        )
        kind, p, test = Kind.INCONCLUSIVE, p0, f"one-sided t-test, {h0}"
    return Verdict(
        kind,
        p=p,
        decided_by=test,
        sentence=f"{head}: {why}" + _no_delta(delta),
        tests=tests,
        **common,
    )


def equivalence(
    est: Estimate, target: float, delta: float | None, what: str, statistic: str = ""
) -> Verdict:
    """Verdict that ``est`` equals ``target`` within +- ``delta`` (TOST, Schuirmann 1987;
    Lakens 2018): ``holds`` if p_TOST = max of the two one-sided p-values < 0.025,
    ``does not hold`` if a difference beyond delta is shown (one-sided test against the nearer
    bound), else ``inconclusive``."""
    statistic = statistic or f"TOST against {target:g} +- {0.0 if delta is None else delta:g}"
    if (bad := _untestable(est, what, delta, statistic)) is not None:
        return bad
    d = 0.0 if delta is None else float(delta)
    low, high = target - d, target + d
    common = {
        "estimate": est.value,
        "ci": est.ci,
        "delta": delta,
        "statistic": statistic,
        "n": est.n,
        "seeds": est.seeds,
    }
    head = f"{_head(what, est)}; equivalence band {_g(low)} to {_g(high)}"
    if est.se == 0:
        inside = abs(est.value - target) < d
        return Verdict(
            Kind.HOLDS if inside else Kind.DOES_NOT_HOLD,
            p=0.0,
            decided_by=f"exact: every seed gives {_g(est.value)}",
            sentence=f"{head}: the same in every seed, so exactly "
            f"{'inside' if inside else 'outside'} the band" + _no_delta(delta),
            exact=True,
            **common,
        )
    se, dof, v = est.se, est.dof, est.value
    p_low, p_high = p_greater(v, se, dof, low), p_less(v, se, dof, high)
    p_tost = max(p_low, p_high)
    p_above, p_below = p_greater(v, se, dof, high), p_less(v, se, dof, low)
    tests = (
        (f"H0: effect <= {_g(low)}", p_low),
        (f"H0: effect >= {_g(high)}", p_high),
        (f"H0: effect <= {_g(high)}", p_above),
        (f"H0: effect >= {_g(low)}", p_below),
    )
    if p_tost < ALPHA:
        why = f"equivalence shown (TOST p {_p(p_tost)})"
        kind, p, test = Kind.HOLDS, p_tost, f"TOST, H0: |effect - {target:g}| >= {d:g}"
    elif min(p_above, p_below) < ALPHA:
        side, p = ("above", p_above) if p_above < p_below else ("below", p_below)
        bound = high if side == "above" else low
        why = f"shown {side} the band (one-sided p {_p(p)})"
        test = f"one-sided t-test, H0: effect {'<=' if side == 'above' else '>='} {_g(bound)}"
        kind = Kind.DOES_NOT_HOLD
    else:
        why = f"neither shown inside the band (TOST p {_p(p_tost)}) nor outside it"
        kind, p, test = Kind.INCONCLUSIVE, p_tost, f"TOST, H0: |effect - {target:g}| >= {d:g}"
    return Verdict(
        kind,
        p=p,
        decided_by=test,
        sentence=f"{head}: {why}" + _no_delta(delta),
        tests=tests,
        **common,
    )


def non_inferiority(
    est: Estimate, delta: float | None, what: str, higher: bool = True, statistic: str = ""
) -> Verdict:
    """Verdict that ``est`` is at least as good as 0 within ``delta`` (higher is better if
    ``higher``): ``holds`` if shown better than -delta (one-sided p < 0.025), ``does not hold``
    if shown worse than -delta, else ``inconclusive``."""
    d = 0.0 if delta is None else float(delta)
    statistic = statistic or f"one-sided t-test, non-inferiority margin {d:g}"
    if (bad := _untestable(est, what, delta, statistic)) is not None:
        return bad
    s = 1.0 if higher else -1.0
    bound = -s * d
    common = {
        "estimate": est.value,
        "ci": est.ci,
        "delta": delta,
        "statistic": statistic,
        "n": est.n,
        "seeds": est.seeds,
    }
    head = f"{_head(what, est)}; non-inferiority bound {_g(bound)}"
    e = s * est.value
    if est.se == 0:
        ok = e > -d
        return Verdict(
            Kind.HOLDS if ok else Kind.DOES_NOT_HOLD,
            p=0.0,
            decided_by=f"exact: every seed gives {_g(est.value)}",
            sentence=f"{head}: the same in every seed, so exactly "
            f"{'better' if ok else 'no better'} than the bound" + _no_delta(delta),
            exact=True,
            **common,
        )
    p_ok = p_greater(e, est.se, est.dof, -d)
    p_bad = p_less(e, est.se, est.dof, -d)
    rel = ">=" if higher else "<="
    tests = (
        (f"H0: effect {'<=' if higher else '>='} {_g(bound)}", p_ok),
        (f"H0: effect {rel} {_g(bound)}", p_bad),
    )
    if p_ok < ALPHA:
        kind, p, test, why = (
            Kind.HOLDS,
            p_ok,
            tests[0][0],
            f"shown no worse than the bound (p {_p(p_ok)})",
        )
    elif p_bad < ALPHA:
        kind, p, test, why = (
            Kind.DOES_NOT_HOLD,
            p_bad,
            tests[1][0],
            f"shown worse than the bound (p {_p(p_bad)})",
        )
    else:
        kind, p, test, why = (
            Kind.INCONCLUSIVE,
            p_ok,
            tests[0][0],
            f"neither shown better nor worse than the bound (p {_p(p_ok)})",
        )
    return Verdict(
        kind,
        p=p,
        decided_by=f"one-sided t-test, {test}",
        sentence=f"{head}: {why}" + _no_delta(delta),
        tests=tests,
        **common,
    )


def exact(ok: list[bool], estimate: float, what: str, statistic: str = "exact check") -> Verdict:
    """An exact (deterministic) claim: ``holds`` if every check in ``ok`` passes, else ``does
    not hold`` (p = 0: no sampling error); ``inconclusive`` if there was nothing to check."""
    if not ok:
        return Verdict(
            Kind.INCONCLUSIVE,
            estimate,
            (estimate, estimate),
            math.nan,
            "no test: nothing to check",
            None,
            f"{what}: no checks were made",
            statistic,
        )
    passed = sum(bool(x) for x in ok)
    return Verdict(
        Kind.HOLDS if passed == len(ok) else Kind.DOES_NOT_HOLD,
        estimate,
        (estimate, estimate),
        0.0,
        "exact check",
        None,
        f"{what}: {passed} of {len(ok)} checks satisfy it exactly",
        statistic,
        exact=True,
    )


def holm_corrected(v: Verdict, p_holm: float, family: str, size: int) -> Verdict:
    """``v`` after Holm's correction over its family of ``size`` claims: the adjusted p is
    recorded; a verdict that a test decided (``holds``, ``holds only when``, ``does not hold``)
    whose adjusted p is not below 0.025 becomes ``inconclusive``. Exact verdicts (p = 0) and
    untested ones stay as they are."""
    v = replace(v, p_holm=p_holm, family=family, family_size=size)
    if v.exact or math.isnan(v.p) or v.kind == Kind.INCONCLUSIVE or p_holm < ALPHA:
        return v
    return replace(
        v,
        kind=Kind.INCONCLUSIVE,
        condition="",
        sentence=f"{v.sentence}; it {v.label} before Holm's correction over the {size} claims "
        f"of family '{family}', which raises its p to {_p(p_holm)} (not below {ALPHA})",
    )


# --- the helpers the catalogue calls ----------------------------------------------------------


def difference_verdict(
    a, b, what: str, higher: bool = True, delta: float | None = None, names=("a", "b")
) -> Verdict:
    """:func:`directional` verdict on the paired difference ``a - b`` over seeds
    (``{seed: value}`` or lists in seed order): ``a`` above ``b`` (``higher``) or below it."""
    return directional(paired_estimate(a, b, names), what, delta, higher)


def paired(results: list[dict], a: str, b: str, key=None) -> tuple[dict, dict]:
    """``{seed index: key(result[a])}`` and the same for ``b`` (``key`` the identity if None):
    the two arms of a paired :func:`difference_verdict`."""
    key = key or (lambda v: v)
    return (
        {i: key(r[a]) for i, r in enumerate(results)},
        {i: key(r[b]) for i, r in enumerate(results)},
    )


def paired_verdict(
    results: list[dict],
    a: str,
    b: str,
    what: str,
    higher: bool = True,
    key=None,
    delta: float | None = None,
) -> Verdict:
    """:func:`difference_verdict` of ``key(r[a]) - key(r[b])`` paired over seeds: ``a``
    above ``b`` (``higher``) or below it, ``delta`` the smallest effect of interest."""
    return difference_verdict(*paired(results, a, b, key), what, higher, delta, names=(a, b))


def equivalence_verdict(fit: Estimate, target: float, margin: float, what: str) -> Verdict:
    """:func:`equivalence` of ``fit`` with ``target`` within +- ``margin`` (the claim's delta)."""
    return equivalence(fit, target, margin, what)


def exact_verdict(ok: list[bool], estimate: float, what: str) -> Verdict:
    """:func:`exact`."""
    return exact(ok, estimate, what)


def tost(estimate: float, se: float, dof: int, target: float, margin: float) -> float:
    """TOST p-value that ``estimate`` lies within ``target +- margin``: the larger of the two
    one-sided p-values (t with ``dof``); 1 without a standard error, 0 or 1 exactly when the
    values do not vary."""
    if math.isnan(se):
        return 1.0
    if not se > 0:
        return 0.0 if abs(estimate - target) < margin else 1.0
    return max(
        p_greater(estimate, se, dof, target - margin), p_less(estimate, se, dof, target + margin)
    )


__all__ = [
    "ALPHA",
    "Estimate",
    "Kind",
    "Verdict",
    "directional",
    "equivalence",
    "exact",
    "holm_corrected",
    "mean_estimate",
    "non_inferiority",
    "paired_estimate",
    "seed_slopes",
]
