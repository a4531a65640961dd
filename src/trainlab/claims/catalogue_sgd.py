"""Claims of lectures 000, 002 and 003 about stochastic, online and minibatch gradient descent:
sample order, step-size schedules, convergence rates, batch size and learning rate."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from .. import build
from ..training.batches import batches, epoch_order
from .claim import Claim, register
from .toolkit import (
    NO_DATA,
    Quadratic,
    config,
    model_step,
    quadratic_step,
    toy,
    whole_run as _whole_run,
    whole_runs,
)
from .verdicts import (
    Kind,
    Verdict,
    difference_verdict,
    equivalence_verdict,
    exact,
    paired_verdict,
    seed_slopes,
)

MNIST1D = ['data.name="mnist1d"', "model.hidden=[64]", "train.checkpoint_seconds=100000"]


def mnist1d_run(seed: int, *overrides: str) -> tuple[dict, list[dict]]:
    """:func:`~trainlab.claims.toolkit.whole_run` of a plain MLP on MNIST-1D with a constant
    rate (``MNIST1D``), then ``overrides``; the summary and the per-epoch metrics."""
    return _whole_run(seed, *MNIST1D, *overrides)


# --- a fixed, class-sorted sample order vs a random one ----------------------------------------


def measure_sample_order(seed: int, samples: int, epochs: int, batch: int, lr: float) -> dict:
    """Minibatch SGD on moons, samples sorted by class, presented in that fixed order every
    epoch or reshuffled (:func:`trainlab.training.batches.epoch_order`): the full training
    loss after every batch of the last epoch and at the end of each epoch."""
    out = {}
    for name, shuffle in (("fixed", False), ("random", True)):
        cfg = config(
            seed,
            'data.name="moons"',
            f"data.samples={samples}",
            "model.hidden=[16]",
            f"optimizer.lr={lr}",
        )
        x, y = toy(cfg)
        order = torch.argsort(y, stable=True)
        x, y = x[order], y[order]
        model, step = model_step(cfg, x)
        g = torch.Generator().manual_seed(seed)
        ends, last = [], []
        for e in range(epochs):
            for xb, yb in batches(*epoch_order(x, y, shuffle, g), batch):
                step(xb, yb)
                if e == epochs - 1:
                    with torch.no_grad():
                        last.append(step.loss_fn(model(x), y).item())
            with torch.no_grad():
                ends.append(step.loss_fn(model(x), y).item())
        out[name] = {"ends": ends, "last_epoch": last}
    return {
        "fixed": out["fixed"]["ends"][-1],
        "random": out["random"]["ends"][-1],
        "fixed_swing": float(np.ptp(out["fixed"]["last_epoch"])),
        "random_swing": float(np.ptp(out["random"]["last_epoch"])),
        "curves": {k: v["last_epoch"] for k, v in out.items()},
    }


def analyze_sample_order(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: full training loss at the end, fixed order - random order (> 0)."""
    out = paired_verdict(
        results,
        "fixed",
        "random",
        "final training loss, fixed class-sorted order - random order",
        delta=rule.get("delta"),
    )
    swing = np.mean([r["fixed_swing"] / max(r["random_swing"], 1e-12) for r in results])
    out = out.also(f"; within the last epoch the loss swings {swing:.1f}x as widely")
    return out


def plot_sample_order(results: list[dict], row: dict, ax) -> None:
    for i, r in enumerate(results):
        for name, color in (("fixed", "C3"), ("random", "C0")):
            ax.plot(
                r["curves"][name], color=color, alpha=0.6, label=f"{name} order" if i == 0 else None
            )
    ax.set_yscale("log")
    ax.set_xlabel("batch within the last epoch")
    ax.set_ylabel("full training loss")
    ax.legend()


register(
    Claim(
        id="sgd-cyclic-order",
        statement="If we loop through the samples in the same order we may get cyclic behaviour; "
        "we must go through them randomly to get more convergent behaviour.",
        lecture="000_c258a766373167ad.txt",
        slide="s43-48",
        measure=measure_sample_order,
        analyze=analyze_sample_order,
        plot=plot_sample_order,
        params={"samples": 400, "epochs": 10, "batch": 10, "lr": 0.1},
        statistic="paired t-test on the final full training loss (fixed - random order)",
        seeds=5,
        fast=True,
        cost_s=0.2,
        family="sgd-order-batch",
        note="The fixed order is the worst case the slides draw: samples sorted by class.",
    )
)


# --- noisy quadratic: fixed rate stalls at a floor, 1/(mu k) converges as 1/k ------------------


def measure_noisy_quadratic(
    seed: int,
    eigenvalues: list,
    schedule: str,
    lr: float,
    noise: float,
    checkpoints: list,
    window: float,
) -> dict:
    """SGD on f = 1/2 w'Aw with Gaussian noise of variance ``noise`` on every gradient
    coordinate (trainlab's gradient noise with gamma = 0); the rate from trainlab's schedule
    stepped once per update: ``constant`` (lr) or ``inverse_time`` with decay 1 (lr / k at the
    k-th update; lr = 1/mu gives the slides' 1/(mu k)). f averaged over updates
    [k, window * k) for each checkpoint k."""
    bowl = Quadratic(eigenvalues, seed)
    over = [
        f"optimizer.lr={lr}",
        f"gradient_noise.eta={noise}",
        "gradient_noise.gamma=0.0",
        f'schedule.name="{schedule}"',
        "schedule.decay=1.0",
        f"train.epochs={int(max(checkpoints) * window) + 1}",
    ]
    step = quadratic_step(bowl, seed, *over)
    sched = build.schedule(config(seed, *over), step.optimizer, 1)
    sums = {k: [] for k in checkpoints}
    for k in range(1, int(max(checkpoints) * window)):
        step(NO_DATA, None)
        sched.after_epoch({})
        value = bowl.loss(bowl.w).item()
        for c in checkpoints:
            if c <= k < window * c:
                sums[c].append(value)
    return {"k": list(checkpoints), "f": [float(np.mean(sums[c])) for c in checkpoints]}


def analyze_rate_slope(results: list[dict], rule: dict) -> Verdict:
    """Log-log slope of f on the update count k, fitted per seed and t-tested over the seeds'
    slopes; TOST against ``rule["target"]`` with ``rule["margin"]``."""
    fit = seed_slopes(
        [[math.log(v) for v in r["k"]] for r in results],
        [[math.log(v) for v in r["f"]] for r in results],
    )
    return equivalence_verdict(fit, rule["target"], rule["margin"], "slope of log f on log k")


def plot_rate_slope(results: list[dict], row: dict, ax) -> None:
    for r in results:
        ax.loglog(r["k"], r["f"], "o-", color="C0", alpha=0.5)
    ax.set_xlabel("update k")
    ax.set_ylabel("f(w_k) - f* (window mean)")
    ax.set_title(f"fitted slope {row['estimate']:.2f}")


QUADRATIC = {
    "eigenvalues": np.geomspace(1.0, 4.0, 10).tolist(),
    "noise": 1.0,
    "checkpoints": [250, 500, 1000, 2000, 4000],
    "window": 1.25,
}

register(
    Claim(
        id="sgd-fixed-lr-noise-floor",
        statement="Except for a perfect fit, correcting the function for individual instances with "
        "a fixed step leads to never-ending, non-convergent updates: SGD at a fixed rate "
        "stalls; we must shrink the learning rate with iterations.",
        lecture="000_c258a766373167ad.txt",
        slide="s49 (and 002, Robbins-Monro)",
        measure=measure_noisy_quadratic,
        analyze=analyze_rate_slope,
        plot=plot_rate_slope,
        params={**QUADRATIC, "schedule": "constant", "lr": 0.1},
        rule={"target": 0.0, "margin": 0.1},
        statistic="slope of log f on log k (fixed rate 0.1), TOST against 0 +- 0.1",
        seeds=5,
        fast=False,
        cost_s=0.65,
        family="sgd-step-size",
        note="Noisy gradients by trainlab's gradient noise on a 10-d quadratic (mu = 1, L = "
        "4); the "
        "floor is lr sigma^2 / 2 per direction in the small-lr limit.",
    )
)

register(
    Claim(
        id="sgd-1-over-k-rate",
        statement="For a strongly convex function SGD with step size 1/(mu k) reaches "
        "f(w_k) - f(w*) = O(1/k) (O(log k / k) for the last iterate): log f falls with "
        "slope -1 in log k.",
        lecture="000_c258a766373167ad.txt",
        slide="s55-57",
        measure=measure_noisy_quadratic,
        analyze=analyze_rate_slope,
        plot=plot_rate_slope,
        params={**QUADRATIC, "schedule": "inverse_time", "lr": 1.0},
        rule={"target": -1.0, "margin": 0.15},
        statistic="slope of log f on log k (rate 1/(mu k)), TOST against -1 +- 0.15",
        seeds=5,
        fast=False,
        cost_s=0.6,
        family="sgd-step-size",
        note="The log k factor of the last-iterate bound bends the slope by ~+0.1 at most here; "
        "the margin 0.15 covers it.",
    )
)


# --- fix the rate until the error plateaus, then divide it by 10 -------------------------------


def measure_plateau_drop(seed: int, lr: float, epochs: int, batch: int, patience: int) -> dict:
    """Two MNIST-1D runs at SGD rate ``lr``: constant, and trainlab's ``plateau`` schedule
    (rate x 0.1 once the validation loss has not improved for more than ``patience`` epochs).
    The training loss per epoch and the test accuracy of each."""
    out = {}
    for name, over in (
        ("constant", []),
        (
            "plateau",
            [
                'schedule.name="plateau"',
                "schedule.factor=0.1",
                f"schedule.patience={patience}",
                'early_stopping.monitor="val_loss"',
            ],
        ),
    ):
        summary, epochs_ = mnist1d_run(
            seed, f"optimizer.lr={lr}", f"train.epochs={epochs}", f"train.batch_size={batch}", *over
        )
        out[name] = [m["train_loss"] for m in epochs_]
        out[f"{name}_test_accuracy"] = summary["test_accuracy"]
        out[f"{name}_lr"] = [m["lr"] for m in epochs_]
    return out


def analyze_plateau_drop(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: final training loss, constant - plateau-drop schedule (> 0)."""
    final = [{"constant": r["constant"][-1], "plateau": r["plateau"][-1]} for r in results]
    out = paired_verdict(
        final,
        "constant",
        "plateau",
        "final training loss, constant rate - drop by 10 at the plateau",
        delta=rule.get("delta"),
    )
    acc = np.mean([r["plateau_test_accuracy"] - r["constant_test_accuracy"] for r in results])
    dropped = sum(min(r["plateau_lr"]) < max(r["plateau_lr"]) for r in results)
    out = out.also(
        f"; the rate dropped in {dropped} of {len(results)} runs; test "
        f"accuracy {acc:+.3f} with the drop"
    )
    return out


def plot_plateau_drop(results: list[dict], row: dict, ax) -> None:
    for i, r in enumerate(results):
        for name, color in (("constant", "C3"), ("plateau", "C0")):
            ax.plot(
                range(1, len(r[name]) + 1),
                r[name],
                color=color,
                alpha=0.6,
                label=f"{name} rate" if i == 0 else None,
            )
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.legend()


register(
    Claim(
        id="lr-drop-at-plateau",
        statement="Convergence depends on the learning rate; a simple technique: fix the learning "
        "rate until the error plateaus, then reduce it by a fixed factor (e.g. 10).",
        lecture="000_c258a766373167ad.txt",
        slide="s84-85",
        measure=measure_plateau_drop,
        analyze=analyze_plateau_drop,
        plot=plot_plateau_drop,
        params={"lr": 0.1, "epochs": 30, "batch": 32, "patience": 2},
        statistic="paired t-test on the final training loss (constant - plateau drop)",
        seeds=5,
        fast=False,
        cost_s=1.4,
        family="sgd-step-size",
        note="MNIST-1D, MLP [64], SGD at 0.1 (a rate that trains); the plateau is detected on the "
        "validation loss by trainlab's plateau schedule.",
    )
)


# --- too big a rate diverges, too small is slow ------------------------------------------------


def measure_lr_sweep(seed: int, rates: list, steps: int, batch: int, cap: float) -> dict:
    """Minibatch SGD on moons (MLP [32, 32]) for ``steps`` updates at each rate: the full
    training loss at the end (``cap`` if it diverged or exceeds it)."""
    losses = []
    for lr in rates:
        cfg = config(seed, 'data.name="moons"', "model.hidden=[32,32]", f"optimizer.lr={lr}")
        x, y = toy(cfg)
        model, step = model_step(cfg, x)
        g = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            i = torch.randint(len(x), (batch,), generator=g)
            step(x[i], y[i])
        with torch.no_grad():
            value = step.loss_fn(model(x), y).item()
        losses.append(value if math.isfinite(value) and value < cap else cap)
    return {"rates": list(rates), "loss": losses}


def analyze_lr_sweep(results: list[dict], rule: dict) -> Verdict:
    """U shape: the rate with the lowest mean log loss is interior, and both the smallest and
    the largest rate end with a higher loss than it (paired one-sided t-tests on log loss, an
    intersection-union test: holds if both hold, p the larger; does not hold if either does
    not hold, or exactly if the best rate is at an edge of the grid). Estimate: the smaller of
    the two mean log-loss gaps."""
    logs = np.log([r["loss"] for r in results])
    best = int(np.argmin(logs.mean(axis=0)))
    rates = results[0]["rates"]
    if best in (0, logs.shape[1] - 1):
        return exact([False], 0.0, "the lowest mean loss is at an interior rate").also(
            f"; the best rate is at the edge of the grid ({rates[best]:g})"
        )
    sides = [
        difference_verdict(
            dict(enumerate(logs[:, j])),
            dict(enumerate(logs[:, best])),
            f"log-loss gap, rate {rates[j]:g} - best rate {rates[best]:g}",
            delta=rule.get("delta"),
        )
        for j in (0, logs.shape[1] - 1)
    ]
    low = min(sides, key=lambda s: s.estimate)
    failed = [s for s in sides if s.kind == Kind.DOES_NOT_HOLD]
    if all(s.kind == Kind.HOLDS for s in sides):
        decided = max(sides, key=lambda s: s.p)
    elif failed:
        decided = min(failed, key=lambda s: s.p)
    else:
        decided = max(sides, key=lambda s: s.p)
    kind = (
        Kind.HOLDS
        if all(s.kind == Kind.HOLDS for s in sides)
        else (Kind.DOES_NOT_HOLD if failed else Kind.INCONCLUSIVE)
    )
    return replace(
        decided,
        kind=kind,
        estimate=low.estimate,
        ci=low.ci,
        statistic="paired one-sided t-tests on log loss (smallest, largest rate vs best), "
        "intersection-union",
        tests=tuple(t for s in sides for t in s.tests),
        sentence=f"best rate {rates[best]:g}; " + "; ".join(s.sentence for s in sides),
    )


def plot_lr_sweep(results: list[dict], row: dict, ax) -> None:
    for r in results:
        ax.loglog(r["rates"], r["loss"], "o-", color="C0", alpha=0.5)
    ax.set_xlabel("SGD learning rate")
    ax.set_ylabel("training loss after the run (capped)")


register(
    Claim(
        id="lr-too-big-too-small",
        statement="Too big a learning rate diverges, too small converges slowly: the loss after a "
        "fixed budget is U-shaped in the rate.",
        lecture="003_4f959921065895eb.txt",
        slide="s22-25",
        measure=measure_lr_sweep,
        analyze=analyze_lr_sweep,
        plot=plot_lr_sweep,
        params={
            "rates": [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0],
            "steps": 300,
            "batch": 32,
            "cap": 100.0,
        },
        statistic="paired t-tests on log final loss, both ends of the grid vs the best rate",
        seeds=5,
        fast=True,
        cost_s=0.45,
        note="Diverged runs count as loss 100 (cap), so that they enter the test as a poor loss.",
    )
)


# --- crank up the learning rate when increasing the batch size ---------------------------------


def measure_batch_scaling(seed: int, small: int, large: int, lr: float, epochs: int) -> dict:
    """MNIST-1D runs for ``epochs`` epochs: batch ``small`` at ``lr``; batch ``large`` at the
    same lr; batch ``large`` at lr * large / small (linear scaling). Final training loss and
    test accuracy of each. The two arms of batch ``large`` differ only in their rate: they
    train together (:func:`~trainlab.claims.toolkit.whole_runs`)."""
    arms = (("small", small, lr), ("large", large, lr), ("scaled", large, lr * large / small))
    runs = whole_runs(
        [
            (
                seed,
                [
                    *MNIST1D,
                    f"optimizer.lr={rate}",
                    f"train.epochs={epochs}",
                    f"train.batch_size={b}",
                ],
            )
            for _, b, rate in arms
        ]
    )
    out = {}
    for (name, _, _), (summary, epochs_) in zip(arms, runs):
        out[name] = epochs_[-1]["train_loss"]
        out[f"{name}_test_accuracy"] = summary["test_accuracy"]
    return out


def analyze_batch_scaling(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: final training loss, large batch at the same rate - large batch at
    the scaled rate (> 0); the gap of the scaled run to the small batch in the explanation."""
    out = paired_verdict(
        results,
        "large",
        "scaled",
        "final training loss, large batch: same lr - scaled lr",
        delta=rule.get("delta"),
    )
    gap = np.mean([r["scaled"] - r["small"] for r in results])
    acc = np.mean([r["scaled_test_accuracy"] - r["small_test_accuracy"] for r in results])
    out = out.also(
        f"; scaled large batch vs small batch: loss {gap:+.3f}, test accuracy {acc:+.3f}"
    )
    return out


def plot_batch_scaling(results: list[dict], row: dict, ax) -> None:
    names = ["small", "large", "scaled"]
    for r in results:
        ax.plot(range(3), [r[n] for n in names], "o-", color="C0", alpha=0.6)
    ax.set_xticks(range(3), ["b small, lr", "b large, lr", "b large, lr x b ratio"])
    ax.set_ylabel("final training loss")


register(
    Claim(
        id="batch-size-raise-lr",
        statement="Crank up the learning rate when increasing the batch size (sync SGD with N "
        "workers is N times the batch: crank up the learning rate).",
        lecture="003_4f959921065895eb.txt",
        slide="s21, s59",
        measure=measure_batch_scaling,
        analyze=analyze_batch_scaling,
        plot=plot_batch_scaling,
        params={"small": 16, "large": 128, "lr": 0.02, "epochs": 10},
        statistic="paired t-test on the final training loss (large batch: same lr - scaled lr)",
        seeds=5,
        fast=False,
        cost_s=0.7,
        family="sgd-order-batch",
        note="Equal epochs (equal samples seen), so that the large batch takes 8x fewer updates.",
    )
)
