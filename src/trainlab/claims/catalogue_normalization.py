"""Claims of lectures 000 (slides 106-131), 002 and 003 (slide 94) about batch normalization: a
larger usable learning rate, and invariance to the scale of the weights."""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import build
from ..training.callbacks import Callback
from .catalogue_regularization import one_thread, train_run
from .claim import Claim, Tuning, register
from .plots import plot_seed_points
from .toolkit import config, model_step, toy, train_losses
from .verdicts import Verdict, difference_verdict, exact_verdict

LECTURE_002 = "002_7a1911faa9f7a81a.txt"
LECTURE_003 = "003_4f959921065895eb.txt"


def trains(seed: int, norm: str, lr: float, steps: int) -> bool:
    """Whether a 3-hidden-layer MLP trains on moons at ``lr``: the mean loss of the last 10
    batches is finite and below 0.9 * ln 2 (the loss of a constant guess)."""
    cfg = config(
        seed,
        'data.name="moons"',
        "model.hidden=[32,32,32]",
        f'model.norm="{norm}"',
        f"optimizer.lr={lr}",
    )
    x, y = toy(cfg)
    _, step = model_step(cfg, x)
    losses = train_losses(step, x, y, steps, 64, seed)
    return len(losses) == steps and float(np.mean(losses[-10:])) < 0.9 * math.log(2)


def largest_rate(seed: int, norm: str, low: float, high: float, rounds: int, steps: int) -> float:
    """log2 of the largest rate that trains, by bisection on log2(lr) in [low, high]."""
    lo, hi = math.log2(low), math.log2(high)
    for _ in range(rounds):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if trains(seed, norm, 2**mid, steps) else (lo, mid)
    return lo


def measure_bn_rate(seed: int, low: float, high: float, rounds: int, steps: int) -> dict:
    """The largest trainable SGD rate (log2) without and with batch norm (``model.norm``)."""
    with one_thread():
        return {
            "plain": largest_rate(seed, "none", low, high, rounds, steps),
            "batch": largest_rate(seed, "batch", low, high, rounds, steps),
        }


def analyze_bn_rate(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: log2(largest rate with BN) - log2(largest rate without)."""
    return difference_verdict(
        {i: r["batch"] for i, r in enumerate(results)},
        {i: r["plain"] for i, r in enumerate(results)},
        "log2 largest trainable lr, BN - plain",
        delta=rule.get("delta"),
    )


def plot_bn_rate(results: list[dict], row: dict, ax) -> None:
    for r in results:
        ax.plot([0, 1], [2 ** r["plain"], 2 ** r["batch"]], "o-", color="C0", alpha=0.6)
    ax.set_xticks([0, 1], ["plain MLP", "MLP + batch norm"])
    ax.set_yscale("log", base=2)
    ax.set_ylabel("largest SGD rate that trains")


register(
    Claim(
        id="batchnorm-higher-lr",
        statement="Batch normalization enables a higher learning rate: the largest SGD rate at "
        "which the network still trains is higher with batch norm than without.",
        quote="Advantages Enables higher learning rate by stabilizing gradients",
        lecture=LECTURE_003,
        slide="s94 (000 s130: 'To get maximum benefit from BN, learning rates must be increased')",
        measure=measure_bn_rate,
        analyze=analyze_bn_rate,
        plot=plot_bn_rate,
        params={"low": 1e-3, "high": 1e3, "rounds": 6, "steps": 100},
        statistic="paired t-test on log2 largest trainable rate (BN - plain)",
        operationalization="Moons, MLP 2-32-32-32-2 without and with batch norm, plain SGD, "
        "batches of 64, 100 updates. 'Trains': every loss finite and the mean loss of the last "
        "10 batches below 0.9 ln 2. The largest such rate is found by 6 rounds of bisection "
        "on log2(lr) in [1e-3, 1e3] for each arm (the same budget; the rate is the measured "
        "quantity, so there is nothing else to tune). Primary metric: log2(largest rate with "
        "BN) - log2(largest rate without), paired over seeds.",
        kind="empirical",
        primary_metric="log2 largest trainable rate, BN - plain",
        direction="greater",
        delta=1.0,
        pilot_sd=0.806,
        pilot_seeds=5,
        delta_reason="a factor 2 in the rate: a smaller gain is within the bisection's "
        "resolution (~0.3 in log2) twice over and would not be called 'higher'",
        history=(
            {
                "changed": "pre-registered (quote 003 s94, delta a factor 2); measured on one "
                "thread",
                "reason": "the issue's pre-registration; the measurement is the same",
                "verdict": "holds",
            },
        ),
        fast=False,
        cost_s=1.5,
        note="First setup (spirals, 150 steps): the plain "
        "MLP reached the criterion at no rate at all, a task too hard for the comparison; moved to "
        "moons, which the plain MLP learns, before any verdict was read.",
    )
)


# --- batch norm is resilient to the scale of the weights (003 s94, 002) --------------------------

#: BN's eps for the exact identity: PyTorch requires eps > 0 in training; this one is below
#: float64's resolution at any variance here, so var + eps = var.
TINY = 1e-300


def measure_bn_scale(seed: int, batch: int, hidden: list, scales: list) -> dict:
    """A trainlab MLP with batch norm (``model.norm = batch``, training mode, float64, BN's
    eps :data:`TINY`, in effect 0: the identity's own setting) on a seeded batch of 40-feature
    inputs; for each a in ``scales`` the first layer's weights W replaced by a W. Returns the
    largest relative change of the logits; the largest relative difference between a times
    the gradient with respect to a W and the gradient with respect to W (Ioffe and Szegedy
    2015, section 3.3: BN((a W) u) = BN(W u), and d/d(a W) = (1/a) d/dW); and the logits'
    change with the default eps 1e-5 (small, reported)."""
    with one_thread():
        cfg = config(seed, 'data.name="mnist1d"', 'model.norm="batch"', f"model.hidden={hidden}")
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(batch, 40, generator=g, dtype=torch.float64)
        y = torch.randint(10, (batch,), generator=g)

        def run(a: float, eps: float):
            torch.manual_seed(seed)
            model = build.model(cfg, (40,), 10).double().train()
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm1d):
                    m.eps = eps
            first = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
            with torch.no_grad():
                first.weight.mul_(a)
            out = model(x)
            torch.nn.functional.cross_entropy(out, y).backward()
            return out.detach(), first.weight.grad.clone()

        def rel(u, v):
            return ((u - v).abs().max() / v.abs().max()).item()

        base, grad = run(1.0, TINY)
        result = {"output": 0.0, "gradient": 0.0, "output_eps": 0.0}
        for a in scales:
            out, g_a = run(a, TINY)
            result["output"] = max(result["output"], rel(out, base))
            result["gradient"] = max(result["gradient"], rel(a * g_a, grad))
            out_eps, _ = run(a, 1e-5)
            base_eps, _ = run(1.0, 1e-5)
            result["output_eps"] = max(result["output_eps"], rel(out_eps, base_eps))
        return result


def analyze_bn_scale(results: list[dict], rule: dict) -> Verdict:
    """Exact: outputs unchanged and gradients scaled by 1/a, relative errors below
    ``rule["tolerance"]`` in every seed."""
    tol = rule["tolerance"]
    worst = max(max(r["output"], r["gradient"]) for r in results)
    out = exact_verdict(
        [max(r["output"], r["gradient"]) < tol for r in results],
        worst,
        f"BN(a W u) = BN(W u) and gradient x 1/a within {tol:g} (worst {worst:.2g})",
    )
    return out.also(
        f"; with eps = 1e-5 the outputs change by up to "
        f"{max(r['output_eps'] for r in results):.2g} (relative)"
    )


def plot_bn_scale(results: list[dict], row: dict, ax) -> None:
    plot_seed_points(
        results,
        ["output", "gradient", "output_eps"],
        ["logits (eps ~0)", "a x gradient\nvs gradient", "logits\n(eps 1e-5)"],
        "largest relative difference, weights x a vs x 1",
        ax,
    )


register(
    Claim(
        id="bn-parameter-scale",
        statement="Batch norm is resilient to the scale of the weights: scaling a layer's "
        "weights by a leaves the network's output unchanged, and the gradient with respect to "
        "the scaled weights is 1/a times the original (larger weights get smaller gradients).",
        quote="More resilient to parameter scale",
        paper="Ioffe and Szegedy 2015, 'Batch normalization: accelerating deep network training "
        "by reducing internal covariate shift', section 3.3",
        lecture=LECTURE_003,
        slide="s94 (002: 'Robust to \"bad\" initializations of weights')",
        measure=measure_bn_scale,
        analyze=analyze_bn_scale,
        plot=plot_bn_scale,
        params={"batch": 16, "hidden": [32, 32], "scales": [0.1, 10.0]},
        rule={"tolerance": 1e-10},
        statistic="largest relative change of the logits and of a x gradient, first layer's "
        "weights scaled by a = 0.1, 10 (float64, BN eps 1e-300)",
        operationalization="trainlab's MLP 40-32-32-10 with batch norm (training mode, "
        "float64) on a seeded batch of 16 inputs; the first layer's weights scaled by a = 0.1 "
        "and a = 10. Measured: the largest relative change of the logits, and of a x the "
        "cross-entropy's gradient with respect to the scaled weights against the gradient "
        "at a = 1. Exact check: both below 1e-10 in every seed, with BN's eps 1e-300, in "
        "effect 0 (the identity holds exactly only then; with the default eps 1e-5 the "
        "change is reported).",
        kind="exact",
        primary_metric="largest relative change of logits and of a x gradient",
        direction="equal",
        seeds=3,
        fast=True,
        cost_s=0.05,
    )
)


# --- batch norm is robust to a bad initialization (002) ------------------------------------------

#: A training loss above this (nats; ln 10 = 2.3 is a uniform guess over MNIST-1D's classes) is
#: counted as this, and so is every epoch after a run diverged: a diverged arm stays comparable.
LOSS_CAP = 10.0


class ScaledInit(Callback):
    """Multiplies every hidden layer's weights (every linear layer but the output) by ``scale``
    when the fit starts: a badly scaled initialization."""

    def __init__(self, scale: float):
        self.scale = scale

    def on_fit_start(self, state) -> None:
        layers = [m for m in state.parts.model.modules() if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for layer in layers[:-1]:
                layer.weight.mul_(self.scale)


def _training_area(
    seed: int, samples: int, epochs: int, hidden: list, norm: str, scale: float, lr: float
) -> tuple[float, list[float]]:
    """Mean over ``epochs`` of the epoch's training loss (each capped at :data:`LOSS_CAP`; the
    epochs after a divergence count as the cap) of a deep MLP, and the capped curve."""
    _, _, history, _ = train_run(
        seed,
        samples,
        epochs,
        f"model.hidden={hidden}",
        f'model.norm="{norm}"',
        f"optimizer.lr={lr}",
        callbacks=[ScaledInit(scale)],
    )
    curve = [
        min(h["train_loss"], LOSS_CAP) if math.isfinite(h["train_loss"]) else LOSS_CAP
        for h in history
    ]
    curve += [LOSS_CAP] * (epochs - len(curve))
    return float(np.mean(curve)), curve


def measure_bn_init(
    seed: int,
    samples: int,
    epochs: int,
    hidden: list,
    scale: float,
    lr_plain: float,
    lr_plain_bad: float,
    lr_bn: float,
    lr_bn_bad: float,
) -> dict:
    """Four runs of a deep ReLU MLP on small MNIST-1D (SGD with momentum 0.9): without and with
    batch norm, each from PyTorch's default initialization and from it with every hidden weight
    multiplied by ``scale``, each at its own rate. Per arm: the mean training loss over the
    epochs (:func:`_training_area`) and its curve."""
    out = {}
    with one_thread():
        for name, norm, c, lr in (
            ("plain", "none", 1.0, lr_plain),
            ("plain_bad", "none", scale, lr_plain_bad),
            ("bn", "batch", 1.0, lr_bn),
            ("bn_bad", "batch", scale, lr_bn_bad),
        ):
            out[name], out[f"{name}_curve"] = _training_area(
                seed, samples, epochs, hidden, norm, c, lr
            )
    out["plain_harm"] = out["plain_bad"] - out["plain"]
    out["bn_harm"] = out["bn_bad"] - out["bn"]
    return out


def area_score(result: dict, arm: str) -> float:
    """Tuning score: the arm's mean training loss over the run (tuning seeds only)."""
    value = result[arm]
    return value if math.isfinite(value) else math.inf


def analyze_bn_init(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: the harm of the bad initialization (mean training loss, bad - good)
    without BN minus with BN (> 0 claimed)."""
    out = difference_verdict(
        {i: r["plain_harm"] for i, r in enumerate(results)},
        {i: r["bn_harm"] for i, r in enumerate(results)},
        "harm of the bad init (mean training loss, bad - good), plain - BN",
        delta=rule.get("delta"),
        names=("plain_harm", "bn_harm"),
    )
    mean = {k: np.mean([r[k] for r in results]) for k in ("plain", "plain_bad", "bn", "bn_bad")}
    return out.also("; mean training loss: " + ", ".join(f"{k} {v:.3f}" for k, v in mean.items()))


def plot_bn_init(results: list[dict], row: dict, ax) -> None:
    styles = (
        ("plain", "C3", "-", "plain, default init"),
        ("plain_bad", "C3", "--", "plain, init x scale"),
        ("bn", "C0", "-", "BN, default init"),
        ("bn_bad", "C0", "--", "BN, init x scale"),
    )
    for i, r in enumerate(results):
        for key, color, ls, label in styles:
            curve = r[f"{key}_curve"]
            ax.plot(
                range(1, len(curve) + 1),
                curve,
                color=color,
                ls=ls,
                alpha=0.5,
                label=f"{label} (rate tuned)" if i == 0 else None,
            )
    ax.axhline(LOSS_CAP, color="k", ls=":", lw=0.8, label=f"cap {LOSS_CAP:g} (diverged)")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.legend(fontsize=7)


register(
    Claim(
        id="bn-robust-bad-init",
        statement="Batch normalization is robust to a bad initialization of the weights: scaling "
        "the initial weights by 10 slows training much less with batch norm than without.",
        quote='Robust to "bad" initializations of weights.',
        lecture=LECTURE_002,
        slide="line 378 (003 s94: 'More resilient to parameter scale')",
        measure=measure_bn_init,
        analyze=analyze_bn_init,
        plot=plot_bn_init,
        params={
            "samples": 500,
            "epochs": 10,
            "hidden": [32] * 5,
            "scale": 10.0,
            "lr_plain": 0.03,
            "lr_plain_bad": 0.01,
            "lr_bn": 0.1,
            "lr_bn_bad": 0.3,
        },
        statistic="paired difference over seeds of (mean training loss, init x10 - default) "
        "without BN minus with BN",
        operationalization="Small MNIST-1D (400 training samples), a deep ReLU MLP with 5 hidden "
        "layers of 32 without and with batch norm, SGD with momentum 0.9, batches of 32, 10 "
        "epochs. Four arms: each network from PyTorch's default initialization and from it "
        "with every hidden layer's weights x10 (a bad init), each arm with its own rate tuned "
        "(same 4-point grid) on its mean training loss over tuning seeds. Primary metric: the "
        "harm of the bad init, mean training loss over the epochs (area under the curve; "
        "losses capped at 10 nats, a diverged run's remaining epochs at the cap), bad - good, "
        "without BN minus with BN, paired over seeds.",
        kind="empirical",
        primary_metric="(mean training loss, bad - good init), plain - BN",
        direction="greater",
        delta=0.1,
        pilot_sd=3.78,
        pilot_seeds=5,
        delta_reason="0.1 nats of average training loss (4% of ln 10, a uniform guess): a "
        "smaller difference in harm is not 'robust' against 'not robust'",
        tuning=Tuning(
            arms={
                "plain": "lr_plain",
                "plain_bad": "lr_plain_bad",
                "bn": "lr_bn",
                "bn_bad": "lr_bn_bad",
            },
            grid=(0.01, 0.03, 0.1, 0.3),
            score=area_score,
            on="mean training loss over the run, on tuning seeds",
        ),
        cost_s=1.0,
    )
)
