"""Claims of lectures 001 ("Training Neural Networks", 6.036) and 004 ("Deep Learning for
Graphics") about initialization and activations."""

from __future__ import annotations

import math

import numpy as np

from .claim import Claim, register
from .toolkit import config, model_step, toy, train_losses
from .verdicts import Kind, Verdict, difference_verdict, exact_verdict, slope

# --- zero initialization never breaks symmetry -------------------------------------------------


def measure_zero_init(seed: int, hidden: int, steps: int, lr: float) -> dict:
    """A 2-layer sigmoid MLP with every weight and bias 0 (``model.init=zeros``), trained by SGD
    on moons: the largest difference between two hidden units' incoming weights, and how far
    any weight moved. Sigmoid, not ReLU: with ReLU every hidden output and gradient is 0 at
    W = 0, so nothing moves at all and the symmetry is never put to the test; sigmoid(0) = 1/2
    gives the output layer gradients, and through it the hidden layer, so the weights do move."""
    cfg = config(
        seed,
        'data.name="moons"',
        f"model.hidden=[{hidden}]",
        'model.init="zeros"',
        'model.activation="sigmoid"',
        "model.bias_value=0.0",
        f"optimizer.lr={lr}",
    )
    x, y = toy(cfg)
    model, step = model_step(cfg, x)
    train_losses(step, x, y, steps, 32, seed)
    weights = [p.detach() for p in model.parameters() if p.dim() == 2]
    spread = (weights[0] - weights[0][:1]).abs().max().item()
    moved = min(w.abs().max().item() for w in weights)  # every weight matrix left 0
    return {"spread": spread, "scale": weights[0].abs().max().item(), "moved": moved}


def analyze_zero_init(results: list[dict], rule: dict) -> Verdict:
    """Exact: the hidden units' weights stay identical in every seed, up to float32 rounding:
    a spread below ``rule["relative"]`` of the largest first-layer weight."""
    out = exact_verdict(
        [r["spread"] <= rule["relative"] * r["scale"] for r in results],
        max(r["spread"] / r["scale"] for r in results),
        "hidden units identical after training (spread / largest weight)",
    )
    out = out.also(
        "; yet every weight matrix moved (smallest largest |w| after "
        f"training {min(r['moved'] for r in results):g})"
    )
    return out


def plot_zero_init(results: list[dict], row: dict, ax) -> None:
    ax.bar(
        ["spread between units", "largest |parameter|"],
        [max(r["spread"] for r in results), max(r["moved"] for r in results)],
    )
    ax.set_ylabel("after training from W = 0")


register(
    Claim(
        id="zero-init-symmetry",
        statement="If all weights are initialized to 0, the hidden units stay identical: symmetry "
        "is never broken.",
        lecture="001_5171c685ea3f3814.txt",
        slide="'What happens when all weights are initialized to 0?' (text lines 179-188)",
        measure=measure_zero_init,
        analyze=analyze_zero_init,
        plot=plot_zero_init,
        params={"hidden": 10, "steps": 200, "lr": 0.1},
        rule={"relative": 1e-4},
        statistic="largest weight difference between hidden units / largest weight",
        seeds=1,
        kind="exact",
        fast=True,
        cost_s=0.3,
        note="First setup: a ReLU MLP, whose weights never move from 0 (every hidden output and "
        "gradient is 0), a check that could not fail; changed to sigmoid, where they do move. "
        "In float32 the units then differ by rounding, ~1e-5 of the weights' size after 200 "
        "steps (units are computed by different lanes of the same kernels); the rule, written "
        "after seeing that, counts spreads below 1e-4 of the largest weight as identical.",
    )
)


# --- sigmoid nets' gradients vanish, ReLU's do not ---------------------------------------------


def layer_gradient_norms(seed: int, activation: str, init: str, depth: int, width: int) -> list:
    """log10 of the gradient norm of each hidden layer's weight matrix, input layer first, for
    one batch of 256 moons samples at initialization."""
    cfg = config(
        seed,
        'data.name="moons"',
        f"model.hidden={[width] * depth}",
        f'model.activation="{activation}"',
        f'model.init="{init}"',
    )
    x, y = toy(cfg)
    model, step = model_step(cfg, x)
    step.compute_gradients(x[:256], y[:256])
    weights = [p for p in model.parameters() if p.dim() == 2][:depth]
    return [math.log10(p.grad.norm().item()) for p in weights]


def measure_vanishing(seed: int, depth: int, width: int) -> dict:
    """Per-layer slope of log10 |dL/dW_l| (layers counted from the input): sigmoid with Glorot
    init, ReLU with He init (each with the init the lectures pair it with)."""
    out = {}
    for name, act, init in (("sigmoid", "sigmoid", "glorot_normal"), ("relu", "relu", "he_normal")):
        norms = layer_gradient_norms(seed, act, init, depth, width)
        out[name] = norms
        out[f"{name}_slope"] = slope(range(depth), norms)["estimate"]
    return out


def analyze_vanishing(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: per-layer log10 gradient slope (input to output) of sigmoid minus
    ReLU (> 0: sigmoid's gradient shrinks faster toward the input). Holds fully only if ReLU's
    mean factor per layer is within ``rule["relu_band"]`` of 1."""
    relu = {i: r["relu_slope"] for i, r in enumerate(results)}
    sig = {i: r["sigmoid_slope"] for i, r in enumerate(results)}
    out = difference_verdict(
        sig,
        relu,
        "per-layer log10 gradient slope, sigmoid - ReLU",
        delta=rule.get("delta"),
    )
    factor = 10 ** -np.mean(list(relu.values()))
    sig_factor = 10 ** -np.mean(list(sig.values()))
    out = out.also(
        f"; gradient factor per layer toward the input: sigmoid {sig_factor:.3f}, ReLU {factor:.3f}"
    )
    if out.kind == Kind.HOLDS and abs(math.log10(factor)) > math.log10(rule["relu_band"]):
        out = out.only_when("compared with ReLU", "ReLU's gradient shrinks too")
    return out


def plot_vanishing(results: list[dict], row: dict, ax) -> None:
    for key, color in (("sigmoid", "C0"), ("relu", "C1")):
        for i, r in enumerate(results):
            ax.plot(
                range(1, len(r[key]) + 1),
                r[key],
                "o-",
                color=color,
                alpha=0.5,
                label=key if i == 0 else None,
            )
    ax.set_xlabel("hidden layer (1 = next to the input)")
    ax.set_ylabel("log10 |dL/dW|")
    ax.legend()


register(
    Claim(
        id="sigmoid-gradients-vanish",
        statement="The gradient signal is scaled by < 0.25 per sigmoid layer, so updates in the "
        "first layers of a 10-layer sigmoid net are minimal; ReLU (scaling {0, 1}) "
        "solves it.",
        lecture="004_a2d6be35e5397803.txt",
        slide="s20-22",
        measure=measure_vanishing,
        analyze=analyze_vanishing,
        plot=plot_vanishing,
        params={"depth": 10, "width": 64},
        rule={"relu_band": 1.25},
        statistic="paired difference of per-layer log10 gradient slopes (sigmoid - ReLU)",
        seeds=5,
        fast=True,
        cost_s=0.3,
    )
)
