"""Claims of lectures 000, 001, 002, 003 and 004 about architecture and initialization scale:
hand-derived gradients, activation growth with N(0, 1) against 1/sqrt(n) weights, He
initialization, width (2 against 10 hidden units), depth (fully connected nets of 3 against 6
layers; deep against shallow at the same number of neurons), convolutional against fully and
locally connected layers, and pooling's invariance to small shifts.

Every comparison of trained nets gives each arm its own rate, tuned with the same budget
(:class:`trainlab.claims.claim.Tuning`): on validation error for a claim about generalization,
on the training metric of tuning seeds for a claim about fitting."""

from __future__ import annotations

import math
import os
import tempfile

import numpy as np
import torch

from .. import build
from ..data.mnist1d import read_mnist1d
from ..training.step import Step
from .claim import Claim, Tuning, register
from .plots import plot_pairs
from .toolkit import config, model_step, toy, train_losses, whole_runs
from .verdicts import (
    Estimate,
    Kind,
    Verdict,
    equivalence_verdict,
    exact_verdict,
    mean_estimate,
    paired_verdict,
    slope,
)

#: Per-seed standard deviation of each empirical claim's effect in its pilot (5 seeds, at the
#: measurement's default rates in ``params``: the pilot ran before the runner tuned any arm),
#: for the power calculation of its seed count.
PILOT = {
    "normal-init-grows-sqrt-n": 0.0078,
    "scaled-init-keeps-std": 0.012,
    "he-init-keeps-variance": 0.02,
    "two-hidden-units-too-few": 0.188,
    "more-hidden-units-fit-easier": 0.048,
    "fc-two-three-layers-most": 0.028,
    "deeper-learns-better-equal-neurons": 0.07,
    "cnn-beats-mlp-mnist1d": 0.015,
    "conv-beats-local-unregistered": 0.028,
    "pooling-shift-invariance": 0.0125,
}

# --- hand-derived gradients of lecture 001 equal autograd's ------------------------------------


def hand_gradients(model: torch.nn.Module, x: torch.Tensor, label: int) -> dict:
    """Lecture 001's back-propagation formulas for one sample, as gradients of trainlab's
    two-class ``hinge`` loss. With logits (z_0, z_1), z = z_1 - z_0 and y = 2 label - 1 in
    {-1, +1}, that loss is sum_{k != label} max(0, 1 - z_label + z_k) / 2 = Loss(y z) / 2 with the
    lecture's Loss(yz) = max(0, 1 - yz), and the lecture's output weights are differences of the
    head's rows: V = H_1 - H_0, V_0 = c_1 - c_0. The lecture's gradients (text lines 41-50,
    144-146):

        dLoss/dV_j  = [-y if Loss > 0 else 0] f(z_j)        (x_j for the 1-layer net)
        dLoss/dW_ij = [-y if Loss > 0 else 0] V_j [z_j > 0] x_i
        dLoss/dW_0j = [-y if Loss > 0 else 0] V_j [z_j > 0],  dLoss/dV_0 = [-y if Loss > 0]

    and by the chain rule through z = z_1 - z_0, dL/dH_1 = dLoss/dV / 2 = -dL/dH_0. Returns
    the gradient of every parameter of ``model`` (a trainlab ``linear`` or one-hidden-layer
    ``mlp`` with ReLU), by its name."""
    named = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    layers = [m for _, m in named]
    y = 2.0 * label - 1.0
    head = layers[-1]
    v, v0 = head.weight[1] - head.weight[0], head.bias[1] - head.bias[0]
    if len(layers) == 2:
        first = layers[0]
        z_hidden = first.weight @ x + first.bias  # z_j = sum_i x_i W_ij + W_0j
        f = z_hidden.clamp(min=0)  # f(z_j) = max(0, z_j)
    else:
        f = x
    z = f @ v + v0
    outer = -y if 1.0 - y * z > 0 else 0.0  # d Loss(yz) / dz
    dv, dv0 = outer * f, torch.tensor(outer, dtype=x.dtype)
    grads = {}
    if len(layers) == 2:
        active = (z_hidden > 0).to(x.dtype)
        dw = outer * torch.outer(v * active, x)  # [j, i] = W_ij's gradient
        grads.update(
            {f"{named[0][0]}.weight": dw / 2, f"{named[0][0]}.bias": outer * v * active / 2}
        )
    name = named[-1][0]
    grads[f"{name}.weight"] = torch.stack([-dv, dv]) / 2
    grads[f"{name}.bias"] = torch.stack([-dv0, dv0]) / 2
    return grads


def measure_hand_gradients(seed: int, samples: int, hidden: int) -> dict:
    """For lecture 001's 1-layer (``linear``) and 2-layer ReLU nets (``mlp`` with one hidden
    layer, PyTorch's default random weights and biases), in float64, on ``samples`` moons
    samples one at a time (the lecture's SGD picks one example): the largest |hand - autograd|
    over every parameter entry (autograd through trainlab's model, hinge loss and Step), the
    largest |gradient|, and how many samples had a positive loss."""
    out = {}
    for net, overrides in (
        ("1-layer", ['model.name="linear"']),
        ("2-layer", [f"model.hidden=[{hidden}]"]),
    ):
        cfg = config(
            seed, 'data.name="moons"', 'loss.name="hinge"', 'model.init="default"', *overrides
        )
        x, y = toy(cfg)
        model, step = model_step(cfg, x)
        model.double()
        params = dict(model.named_parameters())
        err, size, active = 0.0, 0.0, 0
        for i in range(samples):
            xi = x[i].double()
            step.compute_gradients(xi[None], y[i : i + 1])
            hand = hand_gradients(model, xi, int(y[i]))
            assert hand.keys() == params.keys(), (hand.keys(), params.keys())
            for name, g in hand.items():
                err = max(err, (g - params[name].grad).abs().max().item())
                size = max(size, params[name].grad.abs().max().item())
            active += int(any(g.abs().max() > 0 for g in hand.values()))
        out[net] = {"max_error": err, "max_gradient": size, "active": active}
    return out


def analyze_hand_gradients(results: list[dict], rule: dict) -> Verdict:
    """Exact: for both nets and every seed, max |hand - autograd| <= ``rule["tolerance"]``
    (float64 rounding), with a positive loss (a nonzero gradient) for some samples."""
    ok = [
        r[n]["max_error"] <= rule["tolerance"] and r[n]["active"] > 0
        for r in results
        for n in ("1-layer", "2-layer")
    ]
    worst = max(r[n]["max_error"] for r in results for n in ("1-layer", "2-layer"))
    out = exact_verdict(ok, worst, f"hand-derived = autograd within {rule['tolerance']:g}")
    out = out.also(f"; largest difference {worst:.3g}")
    return out


def plot_hand_gradients(results: list[dict], row: dict, ax) -> None:
    nets = ("1-layer", "2-layer")
    ax.bar(
        nets,
        [max(max(r[n]["max_error"] for r in results), 1e-20) for n in nets],
        label="max |hand - autograd|",
    )
    ax.bar(
        nets,
        [max(r[n]["max_gradient"] for r in results) for n in nets],
        alpha=0.3,
        label="max |gradient|",
    )
    ax.set_yscale("log")
    ax.set_ylabel("float64")
    ax.legend()


register(
    Claim(
        id="hand-gradients-equal-autograd",
        statement="Back-propagation: the gradients derived by the chain rule for the 1- and "
        "2-layer "
        "ReLU networks with the hinge loss, dLoss/dV_j = -y f(z_j) [Loss > 0] and "
        "dLoss/dW_ij = -y V_j [z_j > 0] x_i [Loss > 0], are the loss's gradients.",
        lecture="001_5171c685ea3f3814.txt",
        slide="'Gradients for Single-Layer Networks', 'Updates for W_ij' (text lines 37-175)",
        quote="Gradients for Single-Layer Networks Computing gradient analytically ... "
        "$$V_j \\leftarrow V_j + \\eta_k y^{(t)} f(z_j^{(t)}), \\quad j = 1, \\dots, m$$ "
        "$W_{ij} \\leftarrow W_{ij} + \\eta_k x_i^{(t)} [[z_j^{(t)} > 0]] V_j y^{(t)}, "
        "\\quad i = 1, \\dots, d, \\ j = 1, \\dots, m$",
        operationalization="Lecture 001's 1-layer (linear) and 2-layer (10 ReLU units) nets "
        "with PyTorch's default random weights, trainlab's two-class hinge loss (the lecture's "
        "max(0, 1 - y z) / 2 with z = z_1 - z_0), float64, 50 moons examples one at a time: "
        "the lecture's hand-derived gradients of every parameter against autograd's through "
        "trainlab's model, loss and Step. Checked exactly: the largest difference is float64 "
        "rounding (<= 1e-12) and some examples have a positive loss (a nonzero gradient).",
        primary_metric="largest |hand-derived - autograd| gradient entry",
        direction="equal",
        measure=measure_hand_gradients,
        analyze=analyze_hand_gradients,
        plot=plot_hand_gradients,
        params={"samples": 50, "hidden": 10},
        rule={"tolerance": 1e-12},
        statistic="largest |hand-derived - autograd| gradient entry, float64",
        seeds=3,
        kind="exact",
        fast=True,
        cost_s=0.15,
    )
)


# --- N(0, 1) weights: activations grow ~ sqrt(n); 1/sqrt(n) keeps them stable ------------------


def activation_scale(seed: int, init: str, width: int, depth: int, batch: int) -> tuple:
    """A tanh MLP (``model.init``) with ``width`` inputs and ``depth`` hidden layers of
    ``width`` units, on a batch of N(0, 1) inputs: the mean over hidden layers of log std of
    the pre-activations, and the fraction of saturated units (|tanh| > 0.99)."""
    cfg = config(
        seed,
        f"model.hidden={[width] * depth}",
        'model.activation="tanh"',
        f'model.init="{init}"',
        "model.init_std=1.0",
    )
    torch.manual_seed(seed)
    model = build.model(cfg, (width,), 2)
    h = torch.randn(batch, width, generator=torch.Generator().manual_seed(seed))
    logs, saturated = [], []
    with torch.no_grad():
        for layer in list(model.net)[:-1]:
            h = layer(h)
            if isinstance(layer, torch.nn.Linear):
                logs.append(math.log(h.std().item()))
            elif isinstance(layer, torch.nn.Tanh):
                saturated.append((h.abs() > 0.99).double().mean().item())
    return float(np.mean(logs)), float(np.mean(saturated))


INIT_SCALES = ("normal", "lecun", "glorot_normal", "orthogonal")


def measure_init_scale(seed: int, inits: list, widths: list, depth: int, batch: int) -> dict:
    """Per rule in ``inits`` (of :data:`INIT_SCALES`: ``normal`` with std 1, the others
    ~ 1/sqrt(n)): the
    log-log slope of the pre-activation std on the width n (= fan-in), the log stds and the
    saturated fractions per width."""
    out = {"widths": list(widths)}
    for init in inits:
        pairs = [activation_scale(seed, init, n, depth, batch) for n in widths]
        logs = [p[0] for p in pairs]
        out[init] = {
            "log_std": logs,
            "saturated": [p[1] for p in pairs],
            "slope": slope(np.log(widths), logs)["estimate"],
        }
    return out


def _slopes(results: list[dict], init: str) -> Estimate:
    return mean_estimate([r[init]["slope"] for r in results])


def analyze_normal_growth(results: list[dict], rule: dict) -> Verdict:
    """TOST: the mean slope of log std on log n with N(0, 1) weights equals 1/2 within
    ``rule["delta"]``."""
    out = equivalence_verdict(
        _slopes(results, "normal"),
        0.5,
        rule["delta"],
        "slope of log(pre-activation std) on log(n), N(0, 1) weights",
    )
    sat = np.mean([r["normal"]["saturated"][-1] for r in results])
    out = out.also(f"; at n = {results[0]['widths'][-1]}, {sat:.0%} of tanh units saturate")
    return out


def analyze_scaled_stable(results: list[dict], rule: dict) -> Verdict:
    """TOST: the mean slope with 1/sqrt(n) weights (``lecun``: N(0, 1/n)) equals 0 within
    ``rule["delta"]``; holds only for the rules whose slopes pass if Glorot or orthogonal's do
    not."""
    out = equivalence_verdict(
        _slopes(results, "lecun"),
        0.0,
        rule["delta"],
        "slope of log(pre-activation std) on log(n), N(0, 1/n) weights",
    )
    others = {i: _slopes(results, i).value for i in ("glorot_normal", "orthogonal")}
    out = out.also("; slopes " + ", ".join(f"{k} {v:.3f}" for k, v in others.items()))
    bad = [k for k, v in others.items() if abs(v) > rule["delta"]]
    if out.kind == Kind.HOLDS and bad:
        out = out.only_when("the scale is 1/sqrt(n)", f"not for {', '.join(bad)}")
    return out


def plot_init_scale(results: list[dict], row: dict, ax) -> None:
    for c, init in enumerate(i for i in INIT_SCALES if i in results[0]):
        for i, r in enumerate(results):
            ax.loglog(
                r["widths"],
                np.exp(r[init]["log_std"]),
                "o-",
                color=f"C{c}",
                alpha=0.5,
                label=init if i == 0 else None,
            )
    ax.set_xlabel("fan-in n (inputs and units per layer)")
    ax.set_ylabel("pre-activation std (geometric mean over layers)")
    ax.legend()


INIT_PARAMS = {"widths": [16, 64, 256, 512], "depth": 3, "batch": 256}

register(
    Claim(
        id="normal-init-grows-sqrt-n",
        statement="With independent N(0, 1) weights, the standard deviation of a unit's weighted "
        "input increases as ~sqrt(n), n the number of inputs, which may saturate the "
        "neurons.",
        lecture="002_7a1911faa9f7a81a.txt",
        slide="B.2 'Weights initialization' (lines 159-177)",
        quote="Use independent Gaussian RV with $\\mu = 0$ , $\\sigma = 1$ (or uniform "
        "noise). ... Standard deviation increases as $\\sim \\sqrt{n}$ , where n is number of "
        "inputs => may cause saturation of neurons or gradient exploding",
        operationalization="3-hidden-layer tanh MLPs whose inputs and layers have n = 16, 64, "
        "256, 512 units, N(0, 1) weights, a batch of 256 N(0, 1) inputs, at initialization: "
        "per seed, the least-squares slope of log(pre-activation std), averaged over the "
        "layers, on log n. The claim is a slope of 1/2 (std ~ sqrt(n)); TOST against 0.5 +- "
        "delta over seeds. The saturated fraction of tanh units (|tanh| > 0.99) is reported "
        "beside it.",
        primary_metric="slope of log pre-activation std on log n (N(0, 1) weights)",
        direction="equal",
        delta=0.1,
        delta_reason="0.1 on a log-log slope of 1/2 is a factor 32^0.1 = 1.4 over the 32-fold "
        "range of n: less would still be read as ~sqrt(n)",
        pilot_sd=PILOT["normal-init-grows-sqrt-n"],
        pilot_seeds=5,
        measure=measure_init_scale,
        analyze=analyze_normal_growth,
        plot=plot_init_scale,
        params={"inits": ["normal"], **INIT_PARAMS},
        statistic="mean over seeds of the log-log slope of pre-activation std on n (3-layer tanh "
        "MLP, N(0, 1) inputs), TOST against 0.5 +- 0.1",
        fast=True,
        cost_s=0.1,
        family="init-scale",
    )
)

register(
    Claim(
        id="scaled-init-keeps-std",
        statement="Initializing with variance ~ 1/n_inputs (1/sqrt(n) scale: LeCun's N(0, 1/n), "
        "Glorot, orthogonal matrices) keeps the weighted inputs' scale independent of n.",
        lecture="002_7a1911faa9f7a81a.txt",
        slide="B.2 'Weights initialization' and 'Weights initialization examples' (lines 175-195)",
        quote="Solution: Initialize with variation $\\sim 1/\\sqrt{n_{inputs}}$ .",
        operationalization="As normal-init-grows-sqrt-n, with LeCun's N(0, 1/n) weights: per "
        "seed, the slope of log(pre-activation std) on log n; TOST against 0 +- delta over "
        "seeds. Glorot normal and orthogonal's slopes beside it (holds only when the scale is "
        "1/sqrt(n) if those two are off).",
        primary_metric="slope of log pre-activation std on log n (N(0, 1/n) weights)",
        direction="equal",
        delta=0.1,
        delta_reason="0.1 on the log-log slope is a factor 1.4 over the 32-fold range of n, "
        "the least that would be read as a scale that depends on n",
        pilot_sd=PILOT["scaled-init-keeps-std"],
        pilot_seeds=5,
        measure=measure_init_scale,
        analyze=analyze_scaled_stable,
        plot=plot_init_scale,
        params={"inits": ["lecun", "glorot_normal", "orthogonal"], **INIT_PARAMS},
        statistic="mean over seeds of the log-log slope of pre-activation std on n with N(0, 1/n) "
        "weights, TOST against 0 +- 0.1 (Glorot and orthogonal beside it)",
        fast=True,
        cost_s=1.5,
        family="init-scale",
    )
)


# --- He initialization keeps Var[y_L] ~ Var[y_0] in deep ReLU nets -----------------------------


def measure_he(seed: int, depth: int, width: int, batch: int) -> dict:
    """A ReLU MLP of ``depth`` hidden layers of ``width`` on N(0, 1) inputs: log2 of the
    variance of each layer's pre-activation y_l, per rule (``he_normal``, ``glorot_normal``),
    and its least-squares slope per layer."""
    out = {}
    for init in ("he_normal", "glorot_normal"):
        cfg = config(seed, f"model.hidden={[width] * depth}", f'model.init="{init}"')
        torch.manual_seed(seed)
        model = build.model(cfg, (width,), 2)
        h = torch.randn(batch, width, generator=torch.Generator().manual_seed(seed))
        logs = []
        with torch.no_grad():
            for layer in list(model.net)[:-1]:
                h = layer(h)
                if isinstance(layer, torch.nn.Linear):
                    logs.append(math.log2(h.var().item()))
        out[init] = {"log2_var": logs, "slope": slope(range(1, depth + 1), logs)["estimate"]}
    return out


def analyze_he(results: list[dict], rule: dict) -> Verdict:
    """TOST: He's mean per-layer slope of log2 Var[y_l] equals 0 within ``rule["delta"]``
    (a factor 2^0.1 per layer); Glorot's slope (He et al. 2015: -1, halving) beside it."""
    out = equivalence_verdict(
        mean_estimate([r["he_normal"]["slope"] for r in results]),
        0.0,
        rule["delta"],
        "He: per-layer slope of log2 Var[y_l]",
    )
    g = mean_estimate([r["glorot_normal"]["slope"] for r in results])
    out = out.also(
        f"; Glorot: {g.value:.3f} (95% CI {g.ci[0]:.3f} to "
        f"{g.ci[1]:.3f}), i.e. x{2**g.value:.2f} per layer"
    )
    return out


def plot_he(results: list[dict], row: dict, ax) -> None:
    for c, init in enumerate(("he_normal", "glorot_normal")):
        for i, r in enumerate(results):
            logs = r[init]["log2_var"]
            ax.plot(
                range(1, len(logs) + 1),
                logs,
                "o-",
                color=f"C{c}",
                alpha=0.5,
                label=init if i == 0 else None,
            )
    ax.set_xlabel("layer l")
    ax.set_ylabel("log2 Var[y_l] (input: Var = 1)")
    ax.legend()


register(
    Claim(
        id="he-init-keeps-variance",
        statement="He initialization for ReLU networks keeps Var[y_L] = Var[y_0]: neither "
        "exploding activations (divergence) nor diminishing ones (vanishing gradient).",
        lecture="003_4f959921065895eb.txt",
        slide="Slides 107-109",
        paper="He et al. 2015, Delving deep into rectifiers",
        quote="If Var[y L ] >> Var[y 0], exploding activations → divergeIf Var[yL] << Var[y0], "
        "diminishing activations → vanishing gradientKey idea: Var[yL ] = Var[y0]",
        operationalization="A 20-hidden-layer ReLU MLP of 256 units with He normal weights "
        "(Glorot normal beside it), a batch of 512 N(0, 1) inputs, at initialization: per "
        "seed, the least-squares slope of log2 Var[y_l] on the layer l; TOST against 0 +- "
        "delta over seeds (Glorot's slope, -1 by He et al.'s analysis, reported beside it).",
        primary_metric="per-layer slope of log2 Var[y_l] with He initialization",
        direction="equal",
        delta=0.1,
        delta_reason="0.1 per layer is a factor 2^2 = 4 in variance over 20 layers, the least "
        "that would be called growing or shrinking",
        pilot_sd=PILOT["he-init-keeps-variance"],
        pilot_seeds=5,
        measure=measure_he,
        analyze=analyze_he,
        plot=plot_he,
        params={"depth": 20, "width": 256, "batch": 512},
        statistic="mean over seeds of the per-layer slope of log2 Var[y_l] (20-layer ReLU MLP), "
        "TOST against 0 +- 0.1",
        cost_s=0.1,
        family="init-scale",
    )
)


# --- comparisons of whole runs, each arm at its own tuned rate ---------------------------------


def arm_result(summary: dict, curve: list[dict], lr: float) -> dict:
    """One arm's whole run as a claim records it: its rate, validation and test error
    (1 - best validation accuracy, 1 - test accuracy at that epoch; a run that diverged before
    any evaluation counts as error 1), the training error per epoch (nan where not a number)
    and the parameter count."""
    train = [1.0 - e["train_accuracy"] for e in curve]
    return {
        "lr": lr,
        "val_error": 1.0 - (summary["best_val_accuracy"] or 0.0),
        "test_error": 1.0 - (summary["test_accuracy"] or 0.0),
        "train_error": [v if math.isfinite(v) else math.nan for v in train],
        "parameters": summary["parameters"],
    }


def last_train_error(arm: dict, epochs: int) -> float:
    """Training error of the last of ``epochs`` epochs; 1 (nothing fitted) for a run that
    diverged before it."""
    errors = arm["train_error"]
    last = errors[epochs - 1] if len(errors) >= epochs else math.nan
    return last if math.isfinite(last) else 1.0


def score_val_error(result: dict, arm: str) -> float:
    """Tuning score of ``arm``: its validation error (lower is better)."""
    return result[arm]["val_error"]


def score_last_train_error(result: dict, arm: str) -> float:
    """Tuning score of ``arm``: its training error in the last epoch (lower is better)."""
    return last_train_error(result[arm], result["epochs"])


def compare_runs(seed: int, arms: dict, common: list) -> dict:
    """Whole runs (:func:`whole_runs`, same ``seed``: same data split and sample order) of each
    arm ``{name: (lr, overrides)}`` with the ``common`` overrides: ``{name: arm_result}``."""
    names = list(arms)
    runs = whole_runs([(seed, [*common, *arms[n][1], f"optimizer.lr={arms[n][0]}"]) for n in names])
    return {n: arm_result(s, c, arms[n][0]) for n, (s, c) in zip(names, runs)}


def plot_arms(results: list[dict], arms: list, labels: list, key: str, ylabel: str, ax) -> None:
    """One line per seed through the arms' ``key`` (test_error, val_error), means as black
    diamonds; each label names the arm's rate(s)."""
    rates = [sorted({r[a]["lr"] for r in results}) for a in arms]
    ticks = [
        f"{label}\nlr {', '.join(f'{v:g}' for v in rate)}" for label, rate in zip(labels, rates)
    ]
    plot_pairs(results, arms, ticks, ylabel, ax, value=lambda v: v[key])


# --- 2 hidden units cannot solve the 2-D task, 10 can; more units fit more easily -------------


def measure_width(seed: int, samples: int, epochs: int, lr_2: float, lr_10: float) -> dict:
    """Lecture 001's setup: tanh units, random weights with zero offsets (Glorot uniform,
    biases 0), SGD on one random example at a time, ``epochs`` passes over ``samples`` points of
    circles (a closed boundary, which two half-planes cannot enclose; half of them held out
    for testing, so that the test error is not a handful of points), cross-entropy: 2 hidden
    units at rate ``lr_2`` and 10 at ``lr_10`` (:func:`compare_runs`)."""
    common = [
        'data.name="circles"',
        f"data.samples={samples}",
        "data.test_fraction=0.5",
        'model.activation="tanh"',
        'model.init="glorot_uniform"',
        "train.batch_size=1",
        f"train.epochs={epochs}",
    ]
    arms = {"2": (lr_2, ["model.hidden=[2]"]), "10": (lr_10, ["model.hidden=[10]"])}
    return {"epochs": epochs, **compare_runs(seed, arms, common)}


WIDTH_TUNING = {
    "arms": {"2": "lr_2", "10": "lr_10"},
    "grid": (0.01, 0.03, 0.1, 0.3),
}
WIDTH_PARAMS = {"samples": 300, "epochs": 10, "lr_2": 0.1, "lr_10": 0.1}


def analyze_width(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: test error with 2 hidden units minus with 10 (> 0), directional rule
    with ``rule["delta"]``; holds only partly if 10 units' mean test accuracy stays below
    ``rule["solved"]``."""
    out = paired_verdict(
        results,
        "2",
        "10",
        "test error, 2 hidden units - 10",
        key=lambda v: v["test_error"],
        delta=rule.get("delta"),
    )
    few, many = (1 - np.mean([r[k]["test_error"] for r in results]) for k in ("2", "10"))
    out = out.also(f"; mean test accuracy {few:.3f} (2 units) and {many:.3f} (10 units)")
    if out.kind == Kind.HOLDS and many < rule["solved"]:
        out = out.only_when(
            "'solve' means 'beat 2 units'", f"10 units reach {many:.2f} < {rule['solved']}"
        )
    return out


def plot_width(results: list[dict], row: dict, ax) -> None:
    plot_arms(
        results,
        ["2", "10"],
        ["2 tanh units", "10 tanh units"],
        "test_error",
        "circles test error (tuned rate)",
        ax,
    )


register(
    Claim(
        id="two-hidden-units-too-few",
        statement="On this 2-D task 2 hidden units can no longer solve it; with 10 hidden units, "
        "after ~10 epochs the units are arranged in a manner sufficient for the task.",
        lecture="001_5171c685ea3f3814.txt",
        slide="'2 Hidden Units', '10 Hidden Units' (text lines 200-280)",
        quote="After ~ 10 epochs the hidden units are arranged in a manner sufficient for the "
        "task (but not otherwise perfect) ... 2 hidden units can no longer solve this task",
        operationalization="Circles (300 points, half held out for testing; 2-D, a closed "
        "class boundary), one hidden "
        "layer of tanh units with random weights and zero offsets (Glorot uniform), "
        "cross-entropy, SGD on one example at a time for 10 epochs (the slide's ~10 passes), 2 "
        "units against 10, same seed. Each width's rate is tuned on validation error (4 rates, "
        "2 tuning seeds each); the validation-best epoch is evaluated. Metric: test error, 2 "
        "units minus 10. 10 epochs is the slide's own budget; a 2-unit net's error is a matter "
        "of capacity, which more epochs do not change.",
        primary_metric="test error, 2 hidden units - 10",
        direction="greater",
        delta=0.05,
        delta_reason="'can no longer solve' against 'sufficient for the task' is a gap of many "
        "points; 5 points of test error is the least that reads as one",
        tuning=Tuning(**WIDTH_TUNING, score=score_val_error, on="validation error"),
        measure=measure_width,
        analyze=analyze_width,
        plot=plot_width,
        params=WIDTH_PARAMS,
        rule={"solved": 0.95},
        statistic="paired difference of circles test error after 10 epochs of one-example "
        "SGD, 2 tanh units - 10, each at its tuned rate",
        pilot_sd=PILOT["two-hidden-units-too-few"],
        pilot_seeds=5,
        cost_s=0.6,
        family="architecture",
        history=(
            {
                "changed": "300 circles points, half of them for testing, instead of 1000 with "
                "20% (cost); each width's rate tuned "
                "on validation (was 0.1 for both); metric test error (was test accuracy, the "
                "same effect with the other sign)",
                "reason": "fair arms; the catalogue's cost budget",
                "verdict": "holds",
            },
        ),
    )
)


def analyze_fit(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: training error in the last epoch with 2 hidden units minus with 10
    (> 0: 10 units fit the training data better), directional rule with ``rule["delta"]``."""
    out = paired_verdict(
        results,
        "2",
        "10",
        "last-epoch training error, 2 hidden units - 10",
        key=lambda v: last_train_error(v, results[0]["epochs"]),
        delta=rule.get("delta"),
    )
    means = {
        k: np.mean([last_train_error(r[k], r["epochs"]) for r in results]) for k in ("2", "10")
    }
    return out.also(f"; means {means['2']:.3f} (2 units) and {means['10']:.3f} (10 units)")


def plot_fit(results: list[dict], row: dict, ax) -> None:
    for c, arm in enumerate(("2", "10")):
        for i, r in enumerate(results):
            ax.plot(
                range(1, len(r[arm]["train_error"]) + 1),
                r[arm]["train_error"],
                "o-",
                color=f"C{c}",
                alpha=0.5,
                label=f"{arm} tanh units" if i == 0 else None,
            )
    ax.set_xlabel("epoch")
    ax.set_ylabel("training error (during the epoch)")
    ax.legend()


register(
    Claim(
        id="more-hidden-units-fit-easier",
        statement="Increasing the number of hidden units (10 instead of 2 on lecture 001's 2-D "
        "task) makes it easier to fit the data.",
        lecture="001_5171c685ea3f3814.txt",
        slide="'Architectural Variations...' (text lines 287-292)",
        quote="Increasing the number of hidden units - More powerful decision boundary - Easier "
        "to fit the data",
        operationalization="The setup of two-hidden-units-too-few (circles, 300 points, "
        "half for testing, tanh, "
        "Glorot uniform with zero offsets, one-example SGD, 10 epochs), 2 units against 10. "
        "Each width's rate is tuned on the same metric on tuning seeds (the claim is about "
        "fitting the training data). Metric: training error in the 10th epoch, 2 units minus "
        "10. Ten epochs of one-example SGD is ~1350 updates, where the curves have flattened "
        "(the plot shows them).",
        primary_metric="training error in the last epoch, 2 hidden units - 10",
        direction="greater",
        delta=0.02,
        delta_reason="2 points of training error is the least difference in fit a user would "
        "call easier",
        tuning=Tuning(**WIDTH_TUNING, score=score_last_train_error, on="last-epoch training error"),
        measure=measure_width,
        analyze=analyze_fit,
        plot=plot_fit,
        params=WIDTH_PARAMS,
        statistic="paired difference of last-epoch training error, 2 tanh units - 10",
        pilot_sd=PILOT["more-hidden-units-fit-easier"],
        pilot_seeds=5,
        cost_s=0.6,
        family="architecture",
    )
)


# --- fully connected: 2 or 3 layers are the most that train effectively -------------------------


def measure_fc_depth(seed: int, width: int, epochs: int, lr_3: float, lr_6: float) -> dict:
    """Plain fully connected ReLU nets (PyTorch's default initialization, no normalization, no
    dropout) of ``width`` units per hidden layer on spirals (1000 points), plain SGD on
    minibatches of 32 for ``epochs`` epochs: 3 layers (2 hidden) at ``lr_3`` and 6 layers (5
    hidden) at ``lr_6`` (:func:`compare_runs`)."""
    common = [
        'data.name="spirals"',
        'model.init="default"',
        "train.batch_size=32",
        f"train.epochs={epochs}",
    ]
    arms = {
        "3": (lr_3, [f"model.hidden={[width] * 2}"]),
        "6": (lr_6, [f"model.hidden={[width] * 5}"]),
    }
    return {"epochs": epochs, **compare_runs(seed, arms, common)}


def analyze_fc_depth(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: last-epoch training error of the 6-layer net minus the 3-layer one
    (> 0: the deeper net trains less effectively), directional rule with ``rule["delta"]``."""
    out = paired_verdict(
        results,
        "6",
        "3",
        "last-epoch training error, 6 layers - 3",
        key=lambda v: last_train_error(v, results[0]["epochs"]),
        delta=rule.get("delta"),
    )
    means = {k: np.mean([last_train_error(r[k], r["epochs"]) for r in results]) for k in ("3", "6")}
    return out.also(f"; means {means['3']:.3f} (3 layers) and {means['6']:.3f} (6 layers)")


def plot_fc_depth(results: list[dict], row: dict, ax) -> None:
    for c, arm in enumerate(("3", "6")):
        for i, r in enumerate(results):
            errors = [1.0 if not math.isfinite(v) else v for v in r[arm]["train_error"]]
            ax.plot(
                range(1, len(errors) + 1),
                errors,
                "-",
                color=f"C{c}",
                alpha=0.5,
                label=f"{arm} layers, lr {r[arm]['lr']:g}" if i == 0 else None,
            )
    ax.set_xlabel("epoch")
    ax.set_ylabel("spirals training error (diverged: 1)")
    ax.legend()


register(
    Claim(
        id="fc-two-three-layers-most",
        statement="For fully connected models, 2 or 3 layers seem the most that can be "
        "effectively trained: a deeper plain fully connected net reaches a worse training "
        "error in the same budget.",
        lecture="001_5171c685ea3f3814.txt",
        slide="'Representational Power' (text lines 313-319)",
        quote="For fully connected models 2 or 3 layers seems the most that can be effectively "
        "trained",
        operationalization="Plain fully connected ReLU nets as the lecture trains them (random "
        "initialization, PyTorch's default; no normalization, no dropout; plain SGD on "
        "minibatches of 32) with 32 units per hidden layer on spirals (1000 points), 30 "
        "epochs: 3 layers (2 hidden, the lecture's counting: '1 layer: Linear') against 6 "
        "layers (5 hidden), same seed. Each depth's rate is tuned on the same metric on tuning "
        "seeds (4 rates, 2 seeds). Metric: training error in the last epoch, 6 layers minus 3 "
        "(the deeper net has more capacity, so a worse training error is a failure to train, "
        "not to represent). The budget is fixed, 30 epochs (~900 updates) for both depths: "
        "'effectively trained' is read as the training error reached in a given budget; in "
        "the pilot the curves were still falling slowly (the plot shows them).",
        primary_metric="last-epoch training error, 6 layers - 3",
        direction="greater",
        delta=0.02,
        delta_reason="2 points of training error is the least that reads as trained less "
        "effectively",
        tuning=Tuning(
            arms={"3": "lr_3", "6": "lr_6"},
            grid=(0.03, 0.1, 0.3, 1.0),
            score=score_last_train_error,
            on="last-epoch training error on tuning seeds",
        ),
        measure=measure_fc_depth,
        analyze=analyze_fc_depth,
        plot=plot_fc_depth,
        params={"width": 32, "epochs": 30, "lr_3": 0.3, "lr_6": 0.3},
        statistic="paired difference of spirals last-epoch training error, 6-layer - 3-layer "
        "plain ReLU MLP, each at its tuned SGD rate",
        pilot_sd=PILOT["fc-two-three-layers-most"],
        pilot_seeds=5,
        cost_s=0.5,
        family="architecture",
    )
)


# --- deeper nets learn better for the same number of neurons ------------------------------------


def measure_depth(seed: int, nets: dict, epochs: int, lr_shallow: float, lr_deep: float) -> dict:
    """Spirals (1000 points, as the slides'), ReLU MLPs ``nets`` = {"shallow": widths, "deep":
    widths} with the same total number of hidden neurons, Adam on minibatches of 32 for
    ``epochs`` epochs, each at its rate (:func:`compare_runs`)."""
    common = [
        'data.name="spirals"',
        'optimizer.name="adam"',
        "train.batch_size=32",
        f"train.epochs={epochs}",
    ]
    arms = {
        "shallow": (lr_shallow, [f"model.hidden={nets['shallow']}"]),
        "deep": (lr_deep, [f"model.hidden={nets['deep']}"]),
    }
    return {"epochs": epochs, "nets": nets, **compare_runs(seed, arms, common)}


def analyze_depth(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: test error of the shallow net minus the deep one (> 0: the deep one
    learns better), each at its tuned rate; directional rule with ``rule["delta"]``."""
    out = paired_verdict(
        results,
        "shallow",
        "deep",
        "test error, shallow - deep, same number of hidden neurons",
        key=lambda v: v["test_error"],
        delta=rule.get("delta"),
    )
    r = results[0]
    return out.also(
        f"; hidden layers {r['nets']['shallow']} ({r['shallow']['parameters']} parameters) "
        f"and {r['nets']['deep']} ({r['deep']['parameters']} parameters)"
    )


def plot_depth(results: list[dict], row: dict, ax) -> None:
    nets = results[0]["nets"]
    plot_arms(
        results,
        ["shallow", "deep"],
        [f"{nets['shallow']}", f"{nets['deep']}"],
        "test_error",
        "spirals test error (tuned rate)",
        ax,
    )


register(
    Claim(
        id="deeper-learns-better-equal-neurons",
        statement="Deeper networks seem to learn better, for the same number of total neurons.",
        lecture="000_c258a766373167ad.txt",
        slide="s151-152",
        quote="1000 training points ... Deeper networks seem to learn better, for the same "
        "number of total neurons",
        operationalization="Spirals (1000 points, as s151's), ReLU MLPs with 64 hidden neurons "
        "in all: one hidden layer of 64 against four of 16, Adam on minibatches of 32 for 60 "
        "epochs, same seed. Each net's rate is tuned on validation error (4 rates, 2 tuning "
        "seeds); the validation-best epoch is evaluated, so each net is taken at its validation "
        "optimum within 60 epochs. Metric: test error, shallow minus deep.",
        primary_metric="test error, 1x64 - 4x16 hidden ReLU units",
        direction="greater",
        delta=0.02,
        delta_reason="2 points of test error is the least difference that 'learns better' "
        "would be said of",
        tuning=Tuning(
            arms={"shallow": "lr_shallow", "deep": "lr_deep"},
            grid=(0.001, 0.003, 0.01, 0.03),
            score=score_val_error,
            on="validation error",
        ),
        measure=measure_depth,
        analyze=analyze_depth,
        plot=plot_depth,
        params={
            "nets": {"shallow": [64], "deep": [16, 16, 16, 16]},
            "epochs": 60,
            "lr_shallow": 0.01,
            "lr_deep": 0.01,
        },
        statistic="paired difference of spirals test error, 1x64 - 4x16 ReLU MLP, each at its "
        "tuned Adam rate",
        pilot_sd=PILOT["deeper-learns-better-equal-neurons"],
        pilot_seeds=5,
        cost_s=0.8,
        family="architecture",
        history=(
            {
                "changed": "id (was deeper-generalizes-at-equal-parameters), statement and arms: "
                "s152's words, deeper learns better for the same number of neurons (1x64 vs "
                "4x16), instead of the same number of parameters (1x179 vs 4x16); each net's "
                "rate tuned on validation (was Adam 0.01 for both); metric test error (was "
                "test accuracy)",
                "reason": "the deck says 'learn better' at an equal number of neurons (s152); "
                "at an equal number of parameters it says 'impose more smoothness' (s150), "
                "which is not what was measured",
                "verdict": "inconclusive",
            },
        ),
    )
)


# --- convolutional vs fully and locally connected layers on MNIST-1D ---------------------------

LAYER_NETS = {
    "conv": ['model.name="cnn1d"', "model.channels=[16,16]"],
    "local": ['model.name="cnn1d"', "model.channels=[16,16]", 'model.layer="local"'],
    "mlp": ['model.name="mlp"', "model.hidden=[128]"],
}


def mnist1d_npz(folder: str, name: str, keep, train: int | None, val: int, seed: int) -> str:
    """An npz of MNIST-1D's samples whose label is in ``keep`` (relabelled 0..): of a seeded
    shuffle of their training samples, the first ``val`` as the validation set and the next
    ``train`` (all the rest if None) as the training set; every test sample of those labels."""
    arrays = read_mnist1d()
    keep = np.asarray(sorted(keep))
    pool = np.random.default_rng(seed).permutation(np.flatnonzero(np.isin(arrays.y, keep)))
    val_idx, rest = pool[:val], pool[val:]
    train_idx = rest if train is None else rest[:train]
    test = np.isin(arrays.y_test, keep)
    path = os.path.join(folder, f"{name}.npz")
    np.savez(
        path,
        x=arrays.x[train_idx],
        y=np.searchsorted(keep, arrays.y[train_idx]),
        x_val=arrays.x[val_idx],
        y_val=np.searchsorted(keep, arrays.y[val_idx]),
        x_test=arrays.x_test[test],
        y_test=np.searchsorted(keep, arrays.y_test[test]),
    )
    return path


def measure_layers(seed: int, nets: list, samples: int, epochs: int, **rates) -> dict:
    """MNIST-1D (signals shifted at random: not registered) with ``samples`` training signals
    and 500 validation ones (:func:`mnist1d_npz`), Adam on minibatches of 64 for ``epochs``
    epochs, for each net of :data:`LAYER_NETS` in ``nets`` (two conv blocks of 16 channels
    with convolutional or locally connected layers, or a 128-unit MLP) at its rate
    ``rates[f"lr_{net}"]`` (:func:`compare_runs`)."""
    with tempfile.TemporaryDirectory() as folder:
        path = mnist1d_npz(folder, "digits", range(10), samples, 500, seed)
        common = [
            'data.name="npz"',
            f'data.path="{path}"',
            'optimizer.name="adam"',
            f"train.epochs={epochs}",
        ]
        arms = {n: (rates[f"lr_{n}"], LAYER_NETS[n]) for n in nets}
        return {"nets": list(nets), **compare_runs(seed, arms, common)}


def analyze_layers(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: test error of ``rule["other"]`` minus the convolutional net's (> 0:
    conv better), each at its tuned rate; directional rule with ``rule["delta"]``."""
    other = rule["other"]
    out = paired_verdict(
        results,
        other,
        "conv",
        f"test error, {other} - conv",
        key=lambda v: v["test_error"],
        delta=rule.get("delta"),
    )
    means = {k: np.mean([r[k]["test_error"] for r in results]) for k in (other, "conv")}
    return out.also(
        f"; mean test error {means['conv']:.3f} (conv, {results[0]['conv']['parameters']} "
        f"parameters) and {means[other]:.3f} ({other}, {results[0][other]['parameters']} "
        "parameters)"
    )


def plot_layers(results: list[dict], row: dict, ax) -> None:
    nets = results[0]["nets"]
    plot_arms(
        results,
        nets,
        [f"{n} ({results[0][n]['parameters']} params)" for n in nets],
        "test_error",
        "MNIST-1D test error (tuned rate)",
        ax,
    )


LAYER_GRID = (0.001, 0.003, 0.01, 0.03)
LAYER_PARAMS = {"samples": 1000, "epochs": 15}

register(
    Claim(
        id="cnn-beats-mlp-mnist1d",
        statement="A fully connected layer wastes parameters on non-local correlations when "
        "training samples are few; convolutional layers (local dependencies, translation "
        "invariance, tied filter weights: few parameters) generalize better.",
        lecture="004_a2d6be35e5397803.txt",
        slide="line 30 'Fully-connected Layer'; 001 'Filtering' (text lines 380-386)",
        quote="Fully-connected Layer Example: 200x200 image 40K hidden units ~2B parameters!!! "
        "Spatial correlation is local - Waste of resources - we have not enough training "
        "samples anyway..",
        operationalization="MNIST-1D with 1000 training signals (few samples: a quarter of the "
        "set), 500 validation signals and the 1000 test signals; a CNN of two conv blocks of 16 "
        "channels against an MLP of 128 units, Adam on minibatches of 64 for 15 epochs, same "
        "seed. Each net's rate is tuned on validation error (4 rates, 2 tuning seeds); the "
        "validation-best epoch is evaluated (both nets reach their validation optimum within "
        "15 epochs of 16 updates). Metric: test error, MLP minus CNN.",
        primary_metric="test error, MLP - CNN",
        direction="greater",
        delta=0.02,
        delta_reason="2 points of test error on a 10-class task is the least that 'better' "
        "would be said of",
        tuning=Tuning(
            arms={"conv": "lr_conv", "mlp": "lr_mlp"},
            grid=LAYER_GRID,
            score=score_val_error,
            on="validation error",
        ),
        measure=measure_layers,
        analyze=analyze_layers,
        plot=plot_layers,
        params={"nets": ["conv", "mlp"], **LAYER_PARAMS, "lr_conv": 0.01, "lr_mlp": 0.003},
        rule={"other": "mlp"},
        statistic="paired difference of MNIST-1D test error (1000 training signals), MLP (128 "
        "units) - CNN (2x16 channels), each at its tuned Adam rate",
        pilot_sd=PILOT["cnn-beats-mlp-mnist1d"],
        pilot_seeds=5,
        cost_s=0.7,
        family="architecture",
        history=(
            {
                "changed": "1000 training signals instead of 4000 and 15 epochs instead of 10; "
                "each net's rate tuned by the runner on tuning seeds (was the best of 3 on "
                "validation per seed); metric test error (was accuracy, same effect); quote of "
                "004's fully-connected slide",
                "reason": "the statement is about few training samples; the catalogue's cost "
                "budget; the same tuning budget for every arm",
                "verdict": "holds",
            },
        ),
    )
)

register(
    Claim(
        id="conv-beats-local-unregistered",
        statement="A locally connected layer (a filter per position, many more parameters) is "
        "good when the input is registered; a convolutional layer shares the same parameters "
        "across locations, assuming the input is stationary, so on unregistered (shifted) "
        "inputs it generalizes better.",
        lecture="004_a2d6be35e5397803.txt",
        slide="lines 31-33 'Locally-connected Layer', 'Convolutional Layer'",
        quote="Note: This parameterization is good when input image is registered (e.g., face "
        "recognition). ... Convolutional Layer Share the same parameters across different "
        "locations (assuming input is stationary)",
        operationalization="MNIST-1D, whose signals are shifted at random (not registered), "
        "with 1000 training, 500 validation and 1000 test signals; two blocks of 16 channels "
        "with convolutional layers against the same shape with locally connected layers, Adam "
        "on minibatches of 64 for 15 epochs, same seed. Each net's rate is tuned on validation "
        "error (4 rates, 2 tuning seeds); the validation-best epoch is evaluated. Metric: test "
        "error, locally connected minus convolutional.",
        primary_metric="test error, locally connected - convolutional",
        direction="greater",
        delta=0.02,
        delta_reason="2 points of test error on a 10-class task is the least that 'better' "
        "would be said of",
        tuning=Tuning(
            arms={"conv": "lr_conv", "local": "lr_local"},
            grid=LAYER_GRID,
            score=score_val_error,
            on="validation error",
        ),
        measure=measure_layers,
        analyze=analyze_layers,
        plot=plot_layers,
        params={"nets": ["conv", "local"], **LAYER_PARAMS, "lr_conv": 0.01, "lr_local": 0.003},
        rule={"other": "local"},
        statistic="paired difference of MNIST-1D test error (1000 training signals), locally "
        "connected - convolutional blocks (same shape), each at its tuned Adam rate",
        pilot_sd=PILOT["conv-beats-local-unregistered"],
        pilot_seeds=5,
        cost_s=1.0,
        family="architecture",
        history=(
            {
                "changed": "1000 training signals instead of 4000 and 15 epochs instead of 10; "
                "each net's rate tuned by the runner on tuning seeds (was the best of 3 on "
                "validation per seed); metric test error (was accuracy, same effect)",
                "reason": "the catalogue's cost budget; the same tuning budget for every arm",
                "verdict": "holds",
            },
        ),
    )
)


# --- pooling gives invariance to small shifts ---------------------------------------------------


def measure_pooling(
    seed: int, channels: list, steps: int, batch: int, lr_max: float, lr_none: float
) -> dict:
    """MNIST-1D (one scalar standardization, so that a shifted signal is standardized alike),
    3500 training and 500 validation signals of a seeded split, the 1000 test signals; a
    ``cnn1d`` of ``channels`` with max pooling (window 2, stride 2, after every block but the
    first) at ``lr_max`` and the same without pooling at ``lr_none``, Adam, ``steps`` random
    minibatches of ``batch``. Per net: validation and test error, and the fraction of test signals
    whose predicted class changes when the signal is shifted by one position (circularly,
    the mean over a shift left and right)."""
    torch.set_num_threads(1)
    arrays = read_mnist1d()
    order = np.random.default_rng(seed).permutation(len(arrays.y))
    mean, std = arrays.x[order[500:]].mean(), arrays.x[order[500:]].std()

    def tensor(a):
        return torch.from_numpy(((a - mean) / std).astype(np.float32))

    x, y = tensor(arrays.x[order[500:]]), torch.from_numpy(arrays.y[order[500:]]).long()
    x_val, y_val = tensor(arrays.x[order[:500]]), torch.from_numpy(arrays.y[order[:500]]).long()
    x_test, y_test = tensor(arrays.x_test), torch.from_numpy(arrays.y_test).long()
    out = {}
    for pool, lr in (("max", lr_max), ("none", lr_none)):
        cfg = config(
            seed,
            'data.name="mnist1d"',
            'model.name="cnn1d"',
            f"model.channels={channels}",
            f'model.pool="{pool}"',
            'optimizer.name="adam"',
            f"optimizer.lr={lr}",
        )
        torch.manual_seed(cfg.seed)
        model = build.model(cfg, tuple(x.shape[1:]), 10)
        step = Step(model, build.loss(cfg), build.optimizer(cfg, model.parameters()))
        train_losses(step, x, y, steps, batch, seed)
        model.eval()
        with torch.no_grad():
            pred = model(x_test).argmax(1)
            flips = [
                (model(torch.roll(x_test, k, dims=1)).argmax(1) != pred).double().mean().item()
                for k in (-1, 1)
            ]
            out[pool] = {
                "lr": lr,
                "val_error": (model(x_val).argmax(1) != y_val).double().mean().item(),
                "test_error": (pred != y_test).double().mean().item(),
                "flip": float(np.mean(flips)),
            }
    return out


def analyze_pooling(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: the fraction of predictions a one-position shift changes, without
    pooling minus with max pooling (> 0: pooling more invariant); directional rule with
    ``rule["delta"]``."""
    out = paired_verdict(
        results,
        "none",
        "max",
        "predictions changed by a one-position shift, no pooling - max pooling",
        key=lambda v: v["flip"],
        delta=rule.get("delta"),
    )
    err = {k: np.mean([r[k]["test_error"] for r in results]) for k in ("max", "none")}
    return out.also(f"; test error {err['max']:.3f} (max pooling) and {err['none']:.3f} (none)")


def plot_pooling(results: list[dict], row: dict, ax) -> None:
    plot_arms(
        results,
        ["max", "none"],
        ["max pooling", "no pooling"],
        "flip",
        "test predictions changed by a 1-step shift",
        ax,
    )


register(
    Claim(
        id="pooling-shift-invariance",
        statement="Spatial pooling gives invariance to small transformations: a CNN with "
        "pooling changes its prediction less often than the same CNN without pooling when the "
        "input is shifted by one position.",
        lecture="001_5171c685ea3f3814.txt",
        slide="'Pooling' (text lines 415-420)",
        quote="Spatial Pooling - Non-overlapping/overlapping regions - Sum or max - Invariance "
        "to small transformations",
        operationalization="MNIST-1D (3500 training, 500 validation, 1000 test signals), a "
        "1-D CNN of three blocks of 16 channels (kernel 5, ReLU) with max pooling (window 2, "
        "stride 2, after blocks 2 and 3: 40 -> 20 -> 10 positions) against the same net "
        "without pooling, Adam on 400 minibatches of 64 (~7 epochs; test error ~0.08 at a good "
        "rate, a trained net), same seed. Each net's "
        "rate is tuned on validation error (4 rates, 2 tuning seeds), so that both are trained "
        "as well as they can be. Metric: the fraction of test signals whose predicted class "
        "changes when the signal is shifted circularly by one position (mean of left and "
        "right), without pooling minus with it.",
        primary_metric="fraction of test predictions changed by a one-position shift, no "
        "pooling - max pooling",
        direction="greater",
        delta=0.02,
        delta_reason="2% of predictions changing is the least difference in invariance a "
        "user would notice",
        tuning=Tuning(
            arms={"max": "lr_max", "none": "lr_none"},
            grid=(0.001, 0.003, 0.01, 0.03),
            score=score_val_error,
            on="validation error",
        ),
        measure=measure_pooling,
        analyze=analyze_pooling,
        plot=plot_pooling,
        params={
            "channels": [16, 16, 16],
            "steps": 400,
            "batch": 64,
            "lr_max": 0.01,
            "lr_none": 0.01,
        },
        note="A first pilot with 8 channels and 250 minibatches of 128 at rate 0.003 left the "
        "nets at test error ~0.45 (undertrained, not the regime of the statement); the budget "
        "was raised to 16 channels and 400 minibatches of 64 at a default rate 0.01 (test "
        "error ~0.08) and piloted again (effect -0.013, per-seed sd 0.0125, 5 seeds).",
        statistic="paired difference of the fraction of test predictions a one-position shift "
        "changes, no pooling - max pooling, each at its tuned Adam rate",
        pilot_sd=PILOT["pooling-shift-invariance"],
        pilot_seeds=5,
        cost_s=1.6,
        family="architecture",
    )
)
