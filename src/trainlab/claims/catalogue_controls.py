"""Control claims: statements whose verdict is known before anything runs, measured and judged by
the same machinery as the lectures' claims. A control that does not come out as expected
(``Claim.expected_verdict``) means a verdict of this run cannot be trusted; the runner reports it
as a failure (``CONTROL FAILED``).

- ``control-null``: two arms that are the same experiment under two labels (the label only picks
  the arm's random stream, as two names for one technique would get different draws). Any
  difference is noise, so "arm a trains better than arm b" must not come out ``holds``.
- ``control-lr-100x-better``: a known-false statement, that SGD at a learning rate 100 times
  too large trains better than at a well-chosen one. It must come out ``does not hold``.
"""

from __future__ import annotations

import hashlib

import torch

from .claim import Claim, register
from .plots import plot_pairs
from .toolkit import config, model_step, toy, train_losses
from .verdicts import Verdict, paired_verdict

MOONS = {"samples": 400, "hidden": 16, "steps": 300, "batch": 32}


def training_accuracy(seed: int, lr: float, samples: int, hidden: int, steps: int, batch: int):
    """A one-hidden-layer MLP trained by SGD at ``lr`` for ``steps`` minibatches on ``samples``
    moons points (all drawn from ``seed``): its accuracy on those points afterwards."""
    torch.set_num_threads(1)
    cfg = config(
        seed,
        'data.name="moons"',
        f"data.samples={samples}",
        f"model.hidden=[{hidden}]",
        f"optimizer.lr={lr}",
    )
    x, y = toy(cfg)
    model, step = model_step(cfg, x)
    train_losses(step, x, y, steps, batch, seed)
    with torch.no_grad():
        return (model(x).argmax(1) == y).double().mean().item()


def label_seed(seed: int, label: str) -> int:
    """The seed of arm ``label`` in seed set ``seed``: 32 bits of SHA-256 of both."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{label}".encode()).digest()[:4], "big")


def measure_null(seed: int, lr: float, **moons) -> dict:
    """Arms ``a`` and ``b``: the same training run (:func:`training_accuracy` at ``lr``), each
    with the random stream its label picks (:func:`label_seed`)."""
    return {label: training_accuracy(label_seed(seed, label), lr, **moons) for label in "ab"}


def analyze_null(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: training accuracy, arm a - arm b (> 0 claimed)."""
    return paired_verdict(
        results, "a", "b", "training accuracy, arm a - arm b", delta=rule.get("delta")
    )


def plot_null(results: list[dict], row: dict, ax) -> None:
    plot_pairs(results, ["a", "b"], ["arm a", "arm b"], "training accuracy", ax)


register(
    Claim(
        id="control-null",
        statement="Control (null): arm a, an experiment, trains better than arm b, the same "
        "experiment under another label.",
        lecture="controls",
        slide="-",
        measure=measure_null,
        analyze=analyze_null,
        plot=plot_null,
        params={"lr": 0.3, **MOONS},
        statistic="paired one-sided t-tests on training accuracy (arm a - arm b)",
        fast=True,
        cost_s=0.2,
        family="controls",
        delta=0.05,
        delta_reason="five points of training accuracy: a difference a reader would call a "
        "better-training arm on 400 points",
        pilot_sd=0.0305,
        pilot_seeds=5,
        operationalization="A one-hidden-layer MLP (16 units) trained by SGD at rate 0.3 for "
        "300 minibatches of 32 on 400 moons points, twice per seed: arm a and arm b are the same "
        "run, each with the random stream (data, initialization, batches) its label picks. "
        "Metric: training accuracy after training, a - b, paired over seeds.",
        primary_metric="training accuracy, arm a - arm b",
        direction="greater",
        expected_verdict=("does not hold", "inconclusive"),
        history=(
            {
                "changed": "delta 0.02 and 5 seeds -> delta 0.05 and seeds from the power "
                "calculation",
                "reason": "every empirical claim now runs a power calculation with >= 10 "
                "seeds; 0.02 was below what a reader would call better training",
                "verdict": "inconclusive",
            },
        ),
        note="The arms differ only in the random stream their label picks: the true effect is 0.",
    )
)


def measure_lr_100x(seed: int, lr: float, factor: float, **moons) -> dict:
    """:func:`training_accuracy` at a well-chosen rate ``lr`` (``good``) and at ``factor``
    times it (``large``), same seed."""
    return {
        "good": training_accuracy(seed, lr, **moons),
        "large": training_accuracy(seed, lr * factor, **moons),
    }


def analyze_lr_100x(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: training accuracy, 100x rate - good rate (> 0 claimed)."""
    return paired_verdict(
        results,
        "large",
        "good",
        "training accuracy, 100x rate - good rate",
        delta=rule.get("delta"),
    )


def plot_lr_100x(results: list[dict], row: dict, ax) -> None:
    plot_pairs(results, ["good", "large"], ["lr 1", "lr 100"], "training accuracy", ax)


register(
    Claim(
        id="control-lr-100x-better",
        statement="Control (known false): SGD at a learning rate 100 times too large trains "
        "better than at a well-chosen one.",
        lecture="controls",
        slide="-",
        measure=measure_lr_100x,
        analyze=analyze_lr_100x,
        plot=plot_lr_100x,
        params={"lr": 1.0, "factor": 100.0, **MOONS},
        statistic="paired one-sided t-tests on training accuracy (lr 100 - lr 1)",
        fast=True,
        cost_s=0.2,
        family="controls",
        delta=0.05,
        delta_reason="five points of training accuracy, the same as the null control's",
        pilot_sd=0.0716,
        pilot_seeds=5,
        operationalization="The null control's MLP on moons, trained at rate 1 (which fits "
        "the 400 points) and at 100 times it, from the same seed. Metric: training accuracy "
        "after 300 updates, rate 100 - rate 1, paired over seeds.",
        primary_metric="training accuracy, 100x rate - good rate",
        direction="greater",
        expected_verdict=("does not hold",),
        history=(
            {
                "changed": "delta 0.02 and 5 seeds -> delta 0.05 and seeds from the power "
                "calculation",
                "reason": "the same delta as the null control's",
                "verdict": "does not hold",
            },
        ),
        note="lr 1 fits these 400 moons points (training accuracy ~1.0 after 300 updates); "
        "lr 100 leaves the net at chance (~0.5).",
    )
)
