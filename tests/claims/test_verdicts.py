"""The claims' verdict rules against references no one here wrote: SciPy's one-sample t-tests
(``scipy.stats.ttest_1samp`` with ``alternative=``) and its t-intervals, ``linregress``, Holm's
correction worked by hand, and the degenerate cases (one seed, equal arms, diverged runs)."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from trainlab.analysis.stats import holm
from trainlab.claims.catalogue_adaptive import analyze_adam_then_sgd
from trainlab.claims.verdicts import (
    Kind,
    Verdict,
    difference_verdict,
    directional,
    equivalence,
    holm_corrected,
    mean_estimate,
    non_inferiority,
    paired_estimate,
    seed_slopes,
    tost,
)


def one_sided(d, bound, alternative):
    return sps.ttest_1samp(d, bound, alternative=alternative).pvalue


def interval(d):
    ci = sps.ttest_1samp(d, 0.0).confidence_interval(0.95)
    return ci.low, ci.high


# --- directional claims ------------------------------------------------------------------------


def test_a_clear_effect_holds_with_scipys_p_and_interval():
    a = {0: 1.0, 1: 1.4, 2: 0.9, 3: 1.6, 4: 1.2}
    b = {0: 0.7, 1: 0.8, 2: 1.0, 3: 0.9, 4: 0.6}
    d = [a[k] - b[k] for k in a]
    v = difference_verdict(a, b, "x", delta=0.05)
    assert isinstance(v, Verdict) and v.kind is Kind.HOLDS
    assert v.p == pytest.approx(one_sided(d, 0.0, "greater"))  # decided by H0: effect <= 0
    assert "<= 0" in v.decided_by
    assert v.ci == pytest.approx(interval(d))
    assert v.estimate == pytest.approx(np.mean(d))
    assert v.delta == 0.05


def test_a_real_but_negligible_effect_does_not_hold():
    # every difference about 0.01: significantly above 0, and significantly below delta = 0.05
    d = [0.010, 0.011, 0.012, 0.009, 0.010]
    assert one_sided(d, 0.0, "greater") < 0.025 and one_sided(d, 0.05, "less") < 0.025
    v = directional(mean_estimate(d), "x", delta=0.05)
    assert v.kind is Kind.DOES_NOT_HOLD
    assert v.p == pytest.approx(one_sided(d, 0.05, "less"))  # the test against delta, not ~1
    assert "negligible" in v.sentence and ">= 0.05" in v.decided_by


def test_an_interval_wholly_below_delta_does_not_hold_and_above_it_holds():
    near = [0.02, 0.03, 0.01, 0.025, 0.015]  # 95% CI about 0.01 to 0.03
    v = directional(mean_estimate(near), "x", delta=0.1)
    assert v.kind is Kind.DOES_NOT_HOLD
    assert v.p == pytest.approx(one_sided(near, 0.1, "less"))
    big = [0.52, 0.49, 0.55, 0.5, 0.47]
    w = directional(mean_estimate(big), "x", delta=0.1)
    assert w.kind is Kind.HOLDS and w.p == pytest.approx(one_sided(big, 0.0, "greater"))


def test_the_reverse_direction_does_not_hold():
    # claimed lower (higher=False) with delta 0.02, but every difference is positive
    d = [0.3, 0.25, 0.35, 0.28, 0.32]
    v = directional(mean_estimate(d), "x", delta=0.02, higher=False)
    assert v.kind is Kind.DOES_NOT_HOLD
    # H0 for "does not hold" when lower is claimed: effect <= -delta, tested one-sided upward
    assert v.p == pytest.approx(one_sided(d, -0.02, "greater"))
    assert "other way" in v.sentence
    holds = directional(mean_estimate([-x for x in d]), "x", delta=0.02, higher=False)
    assert holds.kind is Kind.HOLDS
    assert holds.p == pytest.approx(one_sided([-x for x in d], 0.0, "less"))


def test_noise_is_inconclusive():
    d = [0.1, -0.2, 0.15, -0.05, 0.02]
    v = directional(mean_estimate(d), "x", delta=0.05)
    assert v.kind is Kind.INCONCLUSIVE
    assert v.p == pytest.approx(one_sided(d, 0.0, "greater"))


def test_without_delta_zero_is_used_and_recorded_as_none():
    d = [0.3, 0.25, 0.35, 0.28, 0.32]
    v = directional(mean_estimate(d), "x")
    assert v.kind is Kind.HOLDS and v.delta is None and v.record()["delta"] is None
    assert "no smallest effect of interest was declared" in v.sentence
    # with delta 0 the two-sided 95% interval decides: as a two-sided t-test at 0.05
    assert v.p == pytest.approx(sps.ttest_1samp(d, 0.0).pvalue / 2)


# --- degenerate cases ---------------------------------------------------------------------------


def test_one_seed_is_inconclusive_never_holds():
    v = difference_verdict({0: 1.0}, {0: 0.0}, "x", delta=0.1)
    assert v.kind is Kind.INCONCLUSIVE and math.isnan(v.p)
    assert "only 1 seed" in v.sentence
    # the case a review found: Adam-then-SGD with one seed had se = nan and said "holds"
    one = analyze_adam_then_sgd([{"adam": 0.8, "switch": 0.9}], {"margin": 0.02})
    assert one.kind is Kind.INCONCLUSIVE and "no standard error" in one.sentence


def test_equal_arms_are_decided_exactly_not_by_a_t_test():
    a = {0: 0.5, 1: 0.75, 2: 1.0}  # sums and differences with 0.25 are exact in binary
    v = difference_verdict(a, dict(a), "x")
    assert v.kind is Kind.DOES_NOT_HOLD and v.exact and v.p == 0.0
    assert "same in every seed" in v.sentence
    plus = {k: x + 0.25 for k, x in a.items()}  # 0.25 in every seed
    assert difference_verdict(plus, a, "x", delta=0.1).kind is Kind.HOLDS
    small = difference_verdict(plus, a, "x", delta=0.5)  # real, but below delta
    assert small.kind is Kind.DOES_NOT_HOLD and "negligible" in small.sentence
    same = equivalence(paired_estimate(plus, a), 0.25, 0.01, "x")
    assert same.kind is Kind.HOLDS and same.exact


def test_diverged_arms_are_counted_and_named():
    a = {0: 1.0, 1: math.nan, 2: 1.2, 3: math.inf, 4: 1.1}
    b = {0: 0.5, 1: 0.6, 2: 0.4, 3: 0.5, 4: None}
    v = difference_verdict(a, b, "loss", names=("clipped", "plain"))
    assert v.kind is Kind.INCONCLUSIVE
    assert dict(v.diverged) == {"clipped": 2, "plain": 1}
    assert "'clipped' in 2 of 5 seeds" in v.sentence and "'plain' in 1 of 5 seeds" in v.sentence
    assert v.n == 2  # seeds 0 and 2, where both arms gave a number; nothing averaged in silently


# --- roughly equal (TOST) and at least as good --------------------------------------------------


def test_tost_holds_with_the_larger_of_scipys_one_sided_p():
    d = [0.01, -0.02, 0.015, 0.0, -0.005]
    v = equivalence(mean_estimate(d), 0.0, 0.05, "x")
    p = max(one_sided(d, -0.05, "greater"), one_sided(d, 0.05, "less"))
    assert v.kind is Kind.HOLDS and v.p == pytest.approx(p)
    assert tost(np.mean(d), sps.sem(d), 4, 0.0, 0.05) == pytest.approx(p)


def test_tost_shown_outside_the_band_does_not_hold_with_that_tests_p():
    d = [0.31, 0.29, 0.33, 0.3, 0.28]
    v = equivalence(mean_estimate(d), 0.0, 0.1, "x")
    assert v.kind is Kind.DOES_NOT_HOLD
    assert v.p == pytest.approx(one_sided(d, 0.1, "greater"))
    wide = [0.2, -0.3, 0.1, 0.25, -0.2]
    w = equivalence(mean_estimate(wide), 0.0, 0.1, "x")
    assert w.kind is Kind.INCONCLUSIVE
    assert w.p == pytest.approx(max(one_sided(wide, -0.1, "greater"), one_sided(wide, 0.1, "less")))


def test_non_inferiority_against_scipy():
    d = [0.0, 0.005, -0.004, 0.002, 0.001]
    v = non_inferiority(mean_estimate(d), 0.02, "x")
    assert v.kind is Kind.HOLDS and v.p == pytest.approx(one_sided(d, -0.02, "greater"))
    worse = [-0.1, -0.12, -0.09, -0.11, -0.1]
    w = non_inferiority(mean_estimate(worse), 0.02, "x")
    assert w.kind is Kind.DOES_NOT_HOLD and w.p == pytest.approx(one_sided(worse, -0.02, "less"))


# --- slopes per seed ----------------------------------------------------------------------------


def test_seed_slopes_fit_each_seed_then_test_over_seeds():
    rng = np.random.default_rng(0)
    xs = [np.log([1, 2, 4, 8, 16])] * 4
    ys = [-x + rng.normal(0, 0.1, 5) + 3 * i for i, x in enumerate(xs)]  # own intercept each
    fit = seed_slopes(xs, ys)
    slopes = [sps.linregress(x, y).slope for x, y in zip(xs, ys)]
    assert fit.value == pytest.approx(np.mean(slopes))
    assert fit.se == pytest.approx(sps.sem(slopes)) and fit.dof == 3
    assert fit.ci == pytest.approx(interval(slopes))


def test_an_exact_identity_comes_out_with_a_tiny_interval():
    # variance = c_seed / b exactly: slope -1 in every seed, the seeds' offsets differ
    b = np.array([1.0, 2, 4, 8, 16, 32])
    xs = [np.log(b)] * 5
    ys = [np.log(c / b) for c in (1.0, 3.0, 10.0, 0.5, 7.0)]
    fit = seed_slopes(xs, ys)
    assert fit.ci[1] - fit.ci[0] < 1e-12 and fit.value == pytest.approx(-1.0)
    pooled = sps.linregress(np.concatenate(xs), np.concatenate(ys))
    assert pooled.stderr > 0.05  # one intercept for all seeds: the offsets count as noise
    assert equivalence(fit, -1.0, 0.01, "slope").kind is Kind.HOLDS


# --- Holm's correction --------------------------------------------------------------------------


def test_holm_against_hand_values():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # 0.001 x 3 = 0.003; 0.02 x 2 = 0.04; 0.9 x 1 = 0.9; and capped at 1
    assert holm([0.9, 0.001, 0.02]) == pytest.approx([0.9, 0.003, 0.04])
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])


def test_holm_turns_a_decision_it_no_longer_supports_into_inconclusive():
    d = [0.3, 0.25, 0.35, 0.28, 0.32]
    v = directional(mean_estimate(d), "x")
    kept = holm_corrected(v, 0.02, "f", 3)
    assert kept.kind is Kind.HOLDS and kept.p_holm == 0.02 and kept.family_size == 3
    lost = holm_corrected(v, 0.03, "f", 3)
    assert lost.kind is Kind.INCONCLUSIVE and "Holm" in lost.sentence
    assert lost.p == v.p  # the deciding test's own p is kept beside the adjusted one
    exact = difference_verdict({0: 1.0, 1: 1.0}, {0: 1.0, 1: 1.0}, "x")
    assert holm_corrected(exact, 1.0, "f", 3).kind is Kind.DOES_NOT_HOLD  # no sampling error
