"""trainlab claims: the --fast verdicts, the statistics against scipy and hand values, the
cache, and the bad-input lines."""

import dataclasses
import json
import math

import numpy as np
import pytest
from scipy import stats as sps

from trainlab.claims import all_claims
from trainlab.claims.runner import run, select
from trainlab.claims.verdicts import (
    apply_holm,
    difference_verdict,
    equivalence_verdict,
    slope,
    tost,
)
from trainlab.cli import main


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    out = tmp_path_factory.mktemp("claims")
    return out, run(select(all_claims(), None, None, True), out, jobs=2, fast=True)


#: The verdict each --fast claim must reach (a claim that stops reaching it means a technique
#: of the lectures broke in trainlab); one line per claim.
FAST_VERDICTS = {
    "recurrent-batchnorm-faster": "holds",
    "layernorm-rnn-batch-one": "holds",
    "zero-init-symmetry": "holds",
    "sigmoid-gradients-vanish": "holds",
    "gd-diverges-above-2-over-lambda": "holds",
    "newton-one-step": "holds",
    "momentum-sqrt-kappa": "holds",
    "sgd-cyclic-order": "holds",
    "lr-too-big-too-small": "holds",
    "quickprop-diagonal-newton": "holds",
    "rprop-sign-rule": "holds",
    "nesterov-faster-quadratic": "holds",
    "adaptive-leave-saddle": "holds only when the method is momentum, rmsprop, adam",
    "mse-sigmoid-saturates": "holds",
    "mse-softmax-saturates": "holds",
    "hand-gradients-equal-autograd": "holds",
    "normal-init-grows-sqrt-n": "holds",
    "scaled-init-keeps-std": "holds",
    "cnn-beats-mlp-mnist1d": "holds",
    "bn-backward-formulas": "holds",
    "bn-population-inference": "holds",
    "layernorm-batch-independent": "holds",
    "l1-sparse-weights": "holds",
    "gradient-clipping-steep": "holds",
}


@pytest.mark.slow
@pytest.mark.multiprocess
def test_fast_verdicts(fast):
    out, rows = fast
    verdicts = {r["id"]: r["verdict"] for r in rows}
    assert verdicts == FAST_VERDICTS
    assert json.loads((out / "claims.json").read_text())[0]["id"] == rows[0]["id"]
    assert (out / "claims.csv").read_text().startswith("id,lecture,slide,statement,statistic")
    assert all((out / f"{r['id']}.png").stat().st_size > 1000 for r in rows)


@pytest.mark.slow
@pytest.mark.multiprocess
def test_cache_reruns_only_changed_claim(fast):
    out, _ = fast
    claims = select(all_claims(), "newton-one-step,zero-init-symmetry", None, True)
    run(claims, out, jobs=1, fast=True)
    results = sorted(out.glob("*/seed-*/result.json"))
    before = {p: p.stat().st_mtime_ns for p in results}
    zero, newton = sorted(claims, key=lambda c: c.id != "zero-init-symmetry")
    changed = [dataclasses.replace(zero, params={**zero.params, "hidden": 11}), newton]
    rows = run(changed, out, jobs=1, fast=True)
    assert rows[0]["verdict"] == "holds"
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())  # nothing recomputed
    assert len(list(out.glob("zero-init-symmetry-*"))) == 2  # the changed one ran anew


def test_slope_ci_against_hand_values():
    x = np.arange(5.0)
    y = np.array([0.1, 0.9, 2.2, 2.8, 4.1])
    fit = slope(x, y)
    sxx = ((x - x.mean()) ** 2).sum()
    b = ((x - x.mean()) * (y - y.mean())).sum() / sxx
    resid = y - (y.mean() + b * (x - x.mean()))
    se = math.sqrt((resid**2).sum() / 3 / sxx)
    assert fit["estimate"] == pytest.approx(b)
    assert fit["ci"][1] - b == pytest.approx(sps.t.ppf(0.975, 3) * se)


def test_tost_is_max_of_one_sided_tests():
    assert tost(-1.0, 0.02, 10, -1.0, 0.1) < 1e-3
    p = tost(-0.95, 0.05, 8, -1.0, 0.1)
    assert p == pytest.approx(sps.t.cdf((-0.95 + 0.9) / 0.05, 8))
    far = equivalence_verdict(
        {"estimate": -0.5, "se": 0.01, "dof": 10, "ci": (-0.52, -0.48)}, -1.0, 0.1, "slope"
    )
    assert far["verdict"] == "does not hold"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--only", "zero-init"], "close: zero-init-symmetry"),
        (["--seeds", "0"], "--seeds: 0: expected an integer from 1"),
        (["--jobs", "0"], "--jobs: 0: expected an integer from 1"),
    ],
)
def test_bad_input(tmp_path, capsys, argv, message):
    assert main(["claims", *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_out_of_another_kind(tmp_path, capsys):
    (tmp_path / "compare.json").write_text("{}")
    assert main(["claims", "--fast", "--out", str(tmp_path)]) == 2
    assert "holds no claims experiment" in capsys.readouterr().err


def test_list(capsys):
    assert main(["claims", "--list"]) == 0
    assert "minibatch-variance-1-over-b  [000_c258a766373167ad.txt s80" in capsys.readouterr().out


def test_difference_verdict_against_scipy_and_without_a_test():
    a = {0: 1.0, 1: 1.4, 2: 0.9, 3: 1.6, 4: 1.2}
    b = {0: 0.7, 1: 0.8, 2: 1.0, 3: 0.9, 4: 0.6}
    out = difference_verdict(a, b, "x", higher=True)
    assert out["p"] == pytest.approx(sps.ttest_rel(list(a.values()), list(b.values())).pvalue)
    assert out["verdict"] == "holds"
    assert difference_verdict(b, a, "x", higher=True)["verdict"] == "does not hold"
    assert difference_verdict(a, b, "x", higher=False)["verdict"] == "does not hold"
    # one seed, or every run diverged: nothing to test
    assert difference_verdict({0: 1.0}, {0: 0.0}, "x")["verdict"] == "inconclusive"
    assert (
        difference_verdict({0: math.inf, 1: math.inf}, {0: 1.0, 1: 2.0}, "x")["verdict"]
        == "inconclusive"
    )
    assert tost(0.0, math.nan, 0, 0.0, 0.1) == 1.0


def test_holm_downgrades_every_significance_verdict():
    rows = [
        {"p": 0.03, "statistic": "paired t-test, n = 5", "verdict": "holds only when x"},
        {"p": 0.04, "statistic": "paired t-test, n = 5", "verdict": "does not hold"},
        {"p": 0.9, "statistic": "TOST against 0 +- 0.1", "verdict": "does not hold"},
        {"p": 0.001, "statistic": "paired t-test, n = 5", "verdict": "holds"},
    ]
    apply_holm(rows, ["f"] * 4)
    # Holm by hand: sorted p 0.001, 0.03, 0.04, 0.9 -> x4, x3, x2, x1, running maximum
    assert [r["p_holm"] for r in rows] == pytest.approx([0.09, 0.09, 0.9, 0.004])
    assert [r["verdict"] for r in rows] == [
        "inconclusive",
        "inconclusive",
        "does not hold",
        "holds",
    ]
