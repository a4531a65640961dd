"""Tuning every arm with the same budget: the choice is the grid value with the lowest mean score
on tuning seeds that are not evaluation seeds, a choice at an edge extends the grid (and is
flagged when the extensions run out), and the evaluation runs at each arm's choice."""

import json
import math

from trainlab.claims.claim import TUNING_SEED, Claim, Tuning
from trainlab.claims.runner import run
from trainlab.claims.tuning import beyond
from trainlab.claims.verdicts import paired_verdict

#: Each arm's best rate, far apart, the second outside the starting grid.
BEST = {"a": 0.1, "b": 30.0}
GRID = (0.01, 0.1, 1.0)


def measure_bowls(seed: int, lr_a: float, lr_b: float) -> dict:
    """Per arm, a score with its minimum at the arm's best rate: (log10 lr - log10 best)^2."""
    values = {"a": lr_a, "b": lr_b}
    return {
        "seed": seed,
        **{arm: (math.log10(values[arm]) - math.log10(BEST[arm])) ** 2 for arm in BEST},
        **{f"lr_{arm}": v for arm, v in values.items()},
    }


def score(result: dict, arm: str) -> float:
    if result["seed"] < TUNING_SEED:
        raise AssertionError("an evaluation seed was used for tuning")
    return result[arm]


def analyze(results, rule):
    return paired_verdict(results, "b", "a", "b - a", delta=rule.get("delta"))


def no_plot(results, row, ax):
    pass


def bowls(extend: int) -> Claim:
    return Claim(
        id=f"bowls-{extend}",
        statement="test",
        lecture="000_c258a766373167ad.txt",
        slide="s1",
        measure=measure_bowls,
        analyze=analyze,
        plot=no_plot,
        params={"lr_a": 1.0, "lr_b": 1.0},
        tuning=Tuning(
            arms={"a": "lr_a", "b": "lr_b"}, grid=GRID, score=score, on="a bowl", extend=extend
        ),
        family="bowls",
        seeds=3,
    )


def test_beyond_extends_by_the_grids_own_step():
    assert beyond([0.01, 0.1, 1.0], 1) == 10.0
    assert math.isclose(beyond([0.01, 0.1, 1.0], -1), 0.001)
    assert beyond([0.0, 0.5, 1.0], -1) == -0.5


def test_each_arm_gets_its_own_choice_and_an_edge_extends_the_grid(tmp_path):
    claim = bowls(extend=3)
    (row,) = run([claim], tmp_path, jobs=1, catalogue=[claim])
    a, b = row["arms"]["a"], row["arms"]["b"]
    assert a["chosen"] == 0.1 and not a["at_edge"] and a["grid"] == list(GRID)
    # 1.0 was at the edge: 10 and then 100 were added, 30 lies between them
    assert b["grid"] == [0.01, 0.1, 1.0, 10.0, 100.0] and b["chosen"] in (10.0, 100.0)
    assert not b["at_edge"]
    assert math.isclose(b["scores"][2], math.log10(30) ** 2)
    # the evaluation seeds ran at the choices
    stored = sorted(tmp_path.glob("bowls-3-*/tuned-*/seed-*/result.json"))
    assert len(stored) == 3
    for path in stored:
        result = json.loads(path.read_text())["result"]
        assert result["seed"] < TUNING_SEED
        assert (result["lr_a"], result["lr_b"]) == (a["chosen"], b["chosen"])


def test_a_choice_still_at_the_edge_is_flagged(tmp_path):
    claim = bowls(extend=1)
    (row,) = run([claim], tmp_path, jobs=1, catalogue=[claim])
    b = row["arms"]["b"]
    assert b["grid"] == [0.01, 0.1, 1.0, 10.0] and b["chosen"] == 10.0 and b["at_edge"]
