"""Claims of lectures 000, 001, 002, 003 and 004 about architecture and initialization scale:
hand-derived gradients, activation growth with N(0, 1) against 1/sqrt(n) weights, He
initialization, width, depth at a fixed parameter count, convolutional against fully and locally
connected layers, and pretraining."""

from __future__ import annotations

import math
import os
import tempfile

import numpy as np
import torch

from .. import build
from ..data.mnist1d import read_mnist1d
from .claim import Claim, register
from .toolkit import config, model_step, toy, whole_run, whole_runs
from .verdicts import (
    Estimate,
    Kind,
    Verdict,
    difference_verdict,
    equivalence_verdict,
    exact_verdict,
    mean_estimate,
    slope,
)

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


def measure_init_scale(seed: int, widths: list, depth: int, batch: int) -> dict:
    """Per rule of :data:`INIT_SCALES` (``normal`` with std 1, the others ~ 1/sqrt(n)): the
    log-log slope of the pre-activation std on the width n (= fan-in), the log stds and the
    saturated fractions per width."""
    out = {"widths": list(widths)}
    for init in INIT_SCALES:
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
    ``rule["margin"]``."""
    out = equivalence_verdict(
        _slopes(results, "normal"),
        0.5,
        rule["margin"],
        "slope of log(pre-activation std) on log(n), N(0, 1) weights",
    )
    sat = np.mean([r["normal"]["saturated"][-1] for r in results])
    out = out.also(f"; at n = {results[0]['widths'][-1]}, {sat:.0%} of tanh units saturate")
    return out


def analyze_scaled_stable(results: list[dict], rule: dict) -> Verdict:
    """TOST: the mean slope with 1/sqrt(n) weights (``lecun``: N(0, 1/n)) equals 0 within
    ``rule["margin"]``; holds only for the rules whose slopes pass if Glorot or orthogonal's do
    not."""
    out = equivalence_verdict(
        _slopes(results, "lecun"),
        0.0,
        rule["margin"],
        "slope of log(pre-activation std) on log(n), N(0, 1/n) weights",
    )
    others = {i: _slopes(results, i).value for i in ("glorot_normal", "orthogonal")}
    out = out.also("; slopes " + ", ".join(f"{k} {v:.3f}" for k, v in others.items()))
    bad = [k for k, v in others.items() if abs(v) > rule["margin"]]
    if out.kind == Kind.HOLDS and bad:
        out = out.only_when("the scale is 1/sqrt(n)", f"not for {', '.join(bad)}")
    return out


def plot_init_scale(results: list[dict], row: dict, ax) -> None:
    for c, init in enumerate(INIT_SCALES):
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


INIT_PARAMS = {"widths": [16, 64, 256, 1024], "depth": 3, "batch": 256}

register(
    Claim(
        id="normal-init-grows-sqrt-n",
        statement="With independent N(0, 1) weights, the standard deviation of a unit's weighted "
        "input increases as ~sqrt(n), n the number of inputs, which may saturate the "
        "neurons.",
        lecture="002_7a1911faa9f7a81a.txt",
        slide="B.2 'Weights initialization' (lines 159-177)",
        measure=measure_init_scale,
        analyze=analyze_normal_growth,
        plot=plot_init_scale,
        params=INIT_PARAMS,
        rule={"margin": 0.1},
        statistic="mean over seeds of the log-log slope of pre-activation std on n (3-layer tanh "
        "MLP, N(0, 1) inputs), TOST against 0.5 +- 0.1",
        seeds=5,
        fast=True,
        cost_s=0.5,
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
        measure=measure_init_scale,
        analyze=analyze_scaled_stable,
        plot=plot_init_scale,
        params=INIT_PARAMS,
        rule={"margin": 0.1},
        statistic="mean over seeds of the log-log slope of pre-activation std on n with N(0, 1/n) "
        "weights, TOST against 0 +- 0.1 (Glorot and orthogonal beside it)",
        seeds=5,
        fast=True,
        cost_s=0.5,
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
    """TOST: He's mean per-layer slope of log2 Var[y_l] equals 0 within ``rule["margin"]``
    (a factor 2^0.1 per layer); Glorot's slope (He et al. 2015: -1, halving) beside it."""
    out = equivalence_verdict(
        mean_estimate([r["he_normal"]["slope"] for r in results]),
        0.0,
        rule["margin"],
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
        measure=measure_he,
        analyze=analyze_he,
        plot=plot_he,
        params={"depth": 20, "width": 256, "batch": 512},
        rule={"margin": 0.1},
        statistic="mean over seeds of the per-layer slope of log2 Var[y_l] (20-layer ReLU MLP), "
        "TOST against 0 +- 0.1",
        seeds=5,
        cost_s=0.1,
        family="init-scale",
    )
)


# --- 2 hidden units cannot solve the 2-D task, 10 can ------------------------------------------


def measure_width(seed: int, widths: list, epochs: int, lr: float) -> dict:
    """Lecture 001's setup: tanh units, random weights with zero offsets (Glorot uniform, biases
    0), SGD on one random example at a time, ``epochs`` passes over circles (a closed boundary,
    which two half-planes cannot enclose): test accuracy per hidden width (whole runs)."""
    return {
        str(w): whole_run(
            seed,
            'data.name="circles"',
            f"model.hidden=[{w}]",
            'model.activation="tanh"',
            'model.init="glorot_uniform"',
            f"optimizer.lr={lr}",
            "train.batch_size=1",
            f"train.epochs={epochs}",
        )[0]["test_accuracy"]
        for w in widths
    }


def analyze_width(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: test accuracy with 10 units minus with 2 (> 0, p < 0.05). Does not
    hold if 2 units solve it too (mean >= ``rule["solved"]``); holds only partly if 10 units do
    not reach ``rule["solved"]``."""
    few = {i: r["2"] for i, r in enumerate(results)}
    many = {i: r["10"] for i, r in enumerate(results)}
    out = difference_verdict(
        many,
        few,
        "test accuracy, 10 hidden units - 2",
        delta=rule.get("delta"),
    )
    m_few, m_many = np.mean(list(few.values())), np.mean(list(many.values()))
    out = out.also(f"; means {m_few:.3f} (2 units) and {m_many:.3f} (10 units)")
    if out.kind == Kind.HOLDS and m_few >= rule["solved"]:
        out = out.overruled(
            Kind.DOES_NOT_HOLD, f"2 units solve it too (mean {m_few:.3f} >= {rule['solved']})"
        )
    elif out.kind == Kind.HOLDS and m_many < rule["solved"]:
        out = out.only_when(
            "'solve' means 'beat 2 units'", f"10 units reach {m_many:.2f} < {rule['solved']}"
        )
    return out


def plot_width(results: list[dict], row: dict, ax) -> None:
    widths = [int(w) for w in results[0]]
    for r in results:
        ax.plot(widths, list(r.values()), "o-", color="C0", alpha=0.5)
    ax.set_xlabel("hidden units (tanh)")
    ax.set_ylabel("circles test accuracy, 10 epochs")


register(
    Claim(
        id="two-hidden-units-too-few",
        statement="On this 2-D task 2 hidden units can no longer solve it; with 10 hidden units, "
        "after ~10 epochs the units are arranged in a manner sufficient for the task.",
        lecture="001_5171c685ea3f3814.txt",
        slide="'2 Hidden Units', '10 Hidden Units' (text lines 200-280)",
        measure=measure_width,
        analyze=analyze_width,
        plot=plot_width,
        params={"widths": [2, 10], "epochs": 10, "lr": 0.1},
        rule={"solved": 0.95},
        statistic="paired difference of circles test accuracy after 10 epochs of one-sample SGD, "
        "10 tanh units - 2",
        seeds=5,
        cost_s=2.5,
        family="architecture",
    )
)


# --- deeper nets generalize better at a fixed parameter count ----------------------------------


def measure_depth(seed: int, nets: dict, epochs: int, lr: float) -> dict:
    """Spirals (2-D, 1000 points as the slides'), ReLU MLPs of about the same parameter count,
    Adam, ``epochs`` epochs: test accuracy and parameters per net (whole runs)."""
    out = {}
    for name, hidden in nets.items():
        s, _ = whole_run(
            seed,
            'data.name="spirals"',
            f"model.hidden={hidden}",
            'optimizer.name="adam"',
            f"optimizer.lr={lr}",
            "train.batch_size=32",
            f"train.epochs={epochs}",
        )
        out[name] = {"test": s["test_accuracy"], "parameters": s["parameters"]}
    return out


def analyze_depth(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: test accuracy of the deep net minus the shallow one (> 0)."""
    deep = {i: r["deep"]["test"] for i, r in enumerate(results)}
    shallow = {i: r["shallow"]["test"] for i, r in enumerate(results)}
    out = difference_verdict(
        deep,
        shallow,
        "test accuracy, 4 hidden layers - 1, equal parameter count",
        delta=rule.get("delta"),
    )
    out = out.also(
        f"; parameters {results[0]['deep']['parameters']} (deep) and "
        f"{results[0]['shallow']['parameters']} (shallow)"
    )
    return out


def plot_depth(results: list[dict], row: dict, ax) -> None:
    for r in results:
        ax.plot([0, 1], [r["shallow"]["test"], r["deep"]["test"]], "o-", color="C0", alpha=0.5)
    ax.set_xticks([0, 1], ["1 hidden layer (179)", "4 hidden layers (16 each)"])
    ax.set_ylabel("test accuracy on spirals")


register(
    Claim(
        id="deeper-generalizes-at-equal-parameters",
        statement="For a given number of parameters deeper networks impose more smoothness than "
        "shallow ones; deeper networks seem to learn better.",
        lecture="000_c258a766373167ad.txt",
        slide="s150-152",
        measure=measure_depth,
        analyze=analyze_depth,
        plot=plot_depth,
        params={"nets": {"shallow": [179], "deep": [16, 16, 16, 16]}, "epochs": 50, "lr": 0.01},
        statistic="paired difference of spirals test accuracy, 4x16 ReLU MLP - 1x179 (897 vs 898 "
        "parameters), Adam, 50 epochs",
        seeds=5,
        cost_s=1.0,
        family="architecture",
    )
)


# --- convolutional vs fully and locally connected layers on MNIST-1D ---------------------------

LAYER_NETS = {
    "conv": ['model.name="cnn1d"', "model.channels=[16,16]"],
    "local": ['model.name="cnn1d"', "model.channels=[16,16]", 'model.layer="local"'],
    "mlp": ['model.name="mlp"', "model.hidden=[128]"],
}


def measure_layers(seed: int, nets: list, epochs: int, rates: list) -> dict:
    """MNIST-1D (signals shifted at random: not registered), Adam, ``epochs`` epochs, for each
    net of :data:`LAYER_NETS` in ``nets`` (two conv blocks of 16 channels with convolutional or
    locally connected layers, or a 128-unit MLP) and each rate: best validation and test
    accuracy, and the parameter count (whole runs)."""
    out = {"rates": list(rates)}
    for name in nets:
        runs = [  # the rates of one net train together where that is faster (the MLP)
            summary
            for summary, _ in whole_runs(
                [
                    (
                        seed,
                        [
                            *LAYER_NETS[name],
                            'optimizer.name="adam"',
                            f"optimizer.lr={lr}",
                            f"train.epochs={epochs}",
                        ],
                    )
                    for lr in rates
                ]
            )
        ]
        out[name] = {
            "val": [r["best_val_accuracy"] for r in runs],
            "test": [r["test_accuracy"] for r in runs],
            "parameters": runs[0]["parameters"],
        }
    return out


def _tuned_test(r: dict, name: str) -> float:
    """Test accuracy at the rate with the best validation accuracy."""
    return r[name]["test"][int(np.argmax(r[name]["val"]))]


def analyze_layers(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: test accuracy of the convolutional net minus ``rule["other"]``'s,
    each at its rate chosen on validation accuracy (> 0, p < 0.05)."""
    other = rule["other"]
    conv = {i: _tuned_test(r, "conv") for i, r in enumerate(results)}
    rest = {i: _tuned_test(r, other) for i, r in enumerate(results)}
    out = difference_verdict(
        conv,
        rest,
        f"test accuracy, conv - {other}",
        delta=rule.get("delta"),
    )
    out = out.also(
        f"; means {np.mean(list(conv.values())):.3f} (conv, "
        f"{results[0]['conv']['parameters']} parameters) and "
        f"{np.mean(list(rest.values())):.3f} ({other}, "
        f"{results[0][other]['parameters']} parameters)"
    )
    return out


def plot_layers(results: list[dict], row: dict, ax) -> None:
    names = [k for k in results[0] if k != "rates"]
    for r in results:
        ax.plot(range(len(names)), [_tuned_test(r, n) for n in names], "o-", color="C0", alpha=0.5)
    ax.set_xticks(
        range(len(names)), [f"{n}\n({results[0][n]['parameters']} params)" for n in names]
    )
    ax.set_ylabel("MNIST-1D test accuracy (tuned rate)")


LAYER_PARAMS = {"epochs": 10, "rates": [0.001, 0.003, 0.01]}

register(
    Claim(
        id="cnn-beats-mlp-mnist1d",
        statement="Convolutional layers (local dependencies, translation invariance, tied filter "
        "weights: few parameters) beat fully connected ones, which waste parameters on "
        "non-local correlations when training samples are few.",
        lecture="004_a2d6be35e5397803.txt",
        slide="'Fully-connected Layer', 'Convolutional Layer' "
        "(lines 30-34); 001 'Filtering' (text lines 380-390)",
        measure=measure_layers,
        analyze=analyze_layers,
        plot=plot_layers,
        params={"nets": ["conv", "mlp"], **LAYER_PARAMS},
        rule={"other": "mlp"},
        statistic="paired difference of MNIST-1D test accuracy after 10 Adam epochs, CNN (2x16 "
        "channels) - MLP (128 units), each at its best of 3 rates (on validation)",
        seeds=5,
        fast=True,
        cost_s=3.5,
        family="architecture",
    )
)

register(
    Claim(
        id="conv-beats-local-unregistered",
        statement="A locally connected layer (a filter per position, many more parameters) suits "
        "registered inputs; a convolutional layer shares the same parameters across "
        "locations, assuming the input is stationary.",
        lecture="004_a2d6be35e5397803.txt",
        slide="'Locally-connected Layer', 'Convolutional Layer' (lines 31-34)",
        measure=measure_layers,
        analyze=analyze_layers,
        plot=plot_layers,
        params={"nets": ["conv", "local"], **LAYER_PARAMS},
        rule={"other": "local"},
        statistic="paired difference of MNIST-1D test accuracy after 10 Adam epochs, convolutional "
        "- locally connected blocks (same shape), each at its best of 3 rates",
        seeds=5,
        cost_s=7.5,
        family="architecture",
    )
)


# --- pretraining on a related task speeds convergence ------------------------------------------


def _digits(folder: str, name: str, keep, size: int | None, seed: int) -> str:
    """An npz of MNIST-1D's samples whose label is in ``keep`` (relabelled 0..), the first
    ``size`` of a seeded shuffle of the training ones (all if None), every test one."""
    arrays = read_mnist1d()
    train = np.flatnonzero(np.isin(arrays.y, keep))
    train = np.random.default_rng(seed).permutation(train)[:size]
    test = np.isin(arrays.y_test, keep)
    path = os.path.join(folder, f"{name}.npz")
    np.savez(
        path,
        x=arrays.x[train],
        y=np.searchsorted(keep, arrays.y[train]),
        x_test=arrays.x_test[test],
        y_test=np.searchsorted(keep, arrays.y_test[test]),
    )
    return path


def measure_pretraining(
    seed: int, source: list, target: list, samples: int, epochs: int, lr: float, freeze: list
) -> dict:
    """A small CNN pretrained on MNIST-1D's ``source`` digits (all their training samples), then
    trained ``epochs`` epochs on ``samples`` samples of the ``target`` digits: from those
    weights (``model.pretrained``, all fine-tuned), from them with the ``freeze`` layers frozen
    (``model.freeze``), and from scratch. Test accuracy on the target digits (whole runs)."""
    net = [
        'model.name="cnn1d"',
        "model.channels=[16,16]",
        'optimizer.name="adam"',
        f"optimizer.lr={lr}",
        f"train.epochs={epochs}",
        'data.name="npz"',
    ]
    with tempfile.TemporaryDirectory() as folder:
        a = _digits(folder, "source", source, None, seed)
        b = _digits(folder, "target", target, samples, seed)
        whole_run(seed, *net, f'data.path="{a}"', out=os.path.join(folder, "pre"))
        pre = f'model.pretrained="{os.path.join(folder, "pre")}"'
        out = {}
        for name, extra in (
            ("scratch", []),
            ("fine-tuned", [pre]),
            ("frozen", [pre, f"model.freeze={freeze}"]),
        ):
            out[name] = whole_run(seed, *net, f'data.path="{b}"', *extra)[0]["test_accuracy"]
    return out


def analyze_pretraining(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: target test accuracy after the short run, fine-tuned from the
    pretrained weights minus from scratch (> 0, p < 0.05); frozen beside it."""
    tuned = {i: r["fine-tuned"] for i, r in enumerate(results)}
    scratch = {i: r["scratch"] for i, r in enumerate(results)}
    out = difference_verdict(
        tuned,
        scratch,
        "test accuracy, fine-tuned - from scratch",
        delta=rule.get("delta"),
    )
    means = {k: np.mean([r[k] for r in results]) for k in results[0]}
    out = out.also("; means " + ", ".join(f"{k} {v:.3f}" for k, v in means.items()))
    return out


def plot_pretraining(results: list[dict], row: dict, ax) -> None:
    names = list(results[0])
    for r in results:
        ax.plot(range(len(names)), [r[n] for n in names], "o-", color="C0", alpha=0.5)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("test accuracy, digits 5-9")


register(
    Claim(
        id="pretraining-converges-faster",
        statement="Initializing with weights from a network trained for another task gives much "
        "faster convergence and better generalization; the pretrained weights can be "
        "frozen or fine-tuned.",
        lecture="003_4f959921065895eb.txt",
        slide="Slides 113-115",
        measure=measure_pretraining,
        analyze=analyze_pretraining,
        plot=plot_pretraining,
        params={
            "source": [0, 1, 2, 3, 4],
            "target": [5, 6, 7, 8, 9],
            "samples": 300,
            "epochs": 5,
            "lr": 0.003,
            "freeze": ["net.0", "net.3"],
        },
        statistic="paired difference of test accuracy on digits 5-9 after 5 epochs on 300 of "
        "their samples, fine-tuned from a CNN pretrained on digits 0-4 - from scratch",
        seeds=5,
        cost_s=1.5,
        family="architecture",
    )
)
