"""Claims of lectures 000, 002 and 003 about regularization and heuristics: L1/L2, dropout, early
stopping, gradient clipping, augmentation, input normalization, label smoothing, confidence
penalty, auxiliary classifiers, batch- and layer-norm details.

The overfitting claims train trainlab's own runs (:func:`trainlab.training.loop.fit`, nothing
written to disk) on a small MNIST-1D training set (a seeded subset of the 4000 samples; the
1000 test samples stay whole), so that the regularizers have something to fight.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np
import torch

from .. import build
from ..config import Config
from ..data import prepare, read
from ..data.arrays import Arrays
from ..models.layers import norm as make_norm, population_statistics
from ..runs.rundir import RunDir
from ..training.callbacks import Callback
from ..training.loop import evaluate, fit
from ..training.progress import Progress
from .claim import Claim, register
from .plots import plot_pairs, plot_seed_points
from .toolkit import NO_DATA, Quadratic, config, model_step, quadratic_step, train_losses
from .verdicts import (
    Kind,
    Verdict,
    equivalence_verdict,
    exact_verdict,
    mean_estimate,
    paired_estimate,
    paired_verdict,
)

LECTURE_000 = "000_c258a766373167ad.txt"
LECTURE_002 = "002_7a1911faa9f7a81a.txt"
LECTURE_003 = "003_4f959921065895eb.txt"

#: Every MNIST-1D run here: an MLP trained by SGD with momentum 0.9 at a constant rate, batches
#: of 32, one thread (small models), the last epoch evaluated (no model selection) unless a claim
#: says otherwise.
MNIST = [
    'data.name="mnist1d"',
    'optimizer.name="momentum"',
    "optimizer.lr=0.05",
    'schedule.name="constant"',
    "train.batch_size=32",
    "data.val_fraction=0.2",
    "early_stopping.restore_best=false",
    "train.threads=1",
]


# --- shared pieces ------------------------------------------------------------------------------


def small_mnist1d(cfg: Config, samples: int):
    """``samples`` MNIST-1D training samples drawn without replacement (seeded by the config's
    seed), split into train/validation by ``data.val_fraction`` and normalized by trainlab's
    :func:`~trainlab.data.prepare`; the test split is MNIST-1D's whole test set."""
    a = read("mnist1d", cfg.seed, {})
    keep = np.random.default_rng([cfg.seed, 35]).permutation(len(a.x))[:samples]
    return prepare(
        Arrays(a.x[keep], a.y[keep], a.x_test, a.y_test, "mnist1d"),
        seed=cfg.seed,
        val_fraction=cfg.data.val_fraction,
        test_fraction=0.2,
        normalize=cfg.data.normalize,
    )


def train_run(seed: int, samples: int, epochs: int, *overrides: str, callbacks=()):
    """One trainlab run (``fit``, nothing written) of an MLP on ``samples`` MNIST-1D samples:
    returns (model, summary, per-epoch metrics, splits)."""
    cfg = config(seed, *MNIST, f"train.epochs={epochs}", *overrides)
    data = small_mnist1d(cfg, samples)
    history: list[dict] = []
    parts = build.parts(cfg, data)
    model, summary = fit(
        parts,
        data,
        RunDir("/nonexistent/trainlab-claim"),
        build.fit_options(cfg, parts),
        Progress(epochs, "quiet"),
        writes=False,
        on_epoch=history.append,
        callbacks=list(callbacks),
    )
    return model, summary, history, data


@contextmanager
def one_thread():
    """PyTorch on one thread while the block runs (these models are too small to gain from
    more, and a claim worker may share its cores), as ``train.threads=1`` does for ``fit``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def accuracy(model, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy of ``model`` in evaluation mode (trainlab's ``evaluate``)."""
    return evaluate(model, x, y, torch.nn.functional.cross_entropy)[1]


@torch.no_grad()
def expected_calibration_error(model, x: torch.Tensor, y: torch.Tensor, bins: int = 15) -> float:
    """ECE (Guo et al. 2017): sum over equal-width confidence bins b of |b|/n |acc_b - conf_b|,
    confidence = the largest softmax probability, in evaluation mode."""
    model.eval()
    p = torch.softmax(model(x), 1)
    conf, pred = p.max(1)
    hit = (pred == y).double()
    edges = torch.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            ece += inside.double().mean().item() * abs(
                hit[inside].mean().item() - conf[inside].double().mean().item()
            )
    return ece


def test_accuracies(
    seed: int, samples: int, epochs: int, hidden: list, variants: dict[str, list[str]]
) -> dict:
    """Test accuracy of one :func:`train_run` (MLP ``hidden``) per variant, ``{name: extra
    overrides}``, in that order."""
    return {
        name: train_run(seed, samples, epochs, f"model.hidden={hidden}", *extra)[1]["test_accuracy"]
        for name, extra in variants.items()
    }


# --- batch norm's backward formulas (slides 123-128) --------------------------------------------


def measure_bn_backward(seed: int, batch: int, width: int) -> dict:
    """Gradients of L = sum(g * BN(z)) through trainlab's batch-norm layer (``model.norm =
    batch``, training mode, float64) by autograd, and by the slides' formulas (000 s123-128),
    with u = (z - mu) / sqrt(s2 + eps), dL/du = gamma g:
    dL/ds2 = sum_i dL/du_i (z_i - mu) (-1/2)(s2 + eps)^(-3/2);
    dL/dmu = sum_i dL/du_i (-1 / sqrt(s2 + eps)) + dL/ds2 sum_i -2 (z_i - mu) / B;
    dL/dz_i = dL/du_i / sqrt(s2 + eps) + dL/ds2 2 (z_i - mu) / B + dL/dmu / B;
    dL/dgamma = sum_i u_i g_i, dL/dbeta = sum_i g_i. Returns the largest relative errors."""
    with one_thread():
        g = torch.Generator().manual_seed(seed)
        layer = make_norm("batch", width, 0).double().train()
        with torch.no_grad():
            layer.weight.copy_(torch.rand(width, generator=g, dtype=torch.float64) + 0.5)
            layer.bias.copy_(torch.randn(width, generator=g, dtype=torch.float64))
        z = (3 * torch.randn(batch, width, generator=g, dtype=torch.float64) + 1).requires_grad_()
        up = torch.randn(batch, width, generator=g, dtype=torch.float64)
        (layer(z) * up).sum().backward()
        zd, b, eps, gamma = z.detach(), batch, layer.eps, layer.weight.detach()
        mu, s2 = zd.mean(0), zd.var(0, unbiased=False)
        u = (zd - mu) / torch.sqrt(s2 + eps)
        du = gamma * up
        ds2 = (du * (zd - mu)).sum(0) * -0.5 * (s2 + eps) ** -1.5
        dmu = (du * -1 / torch.sqrt(s2 + eps)).sum(0) + ds2 * (-2 * (zd - mu)).sum(0) / b
        dz = du / torch.sqrt(s2 + eps) + ds2 * 2 * (zd - mu) / b + dmu / b

        def rel(hand, auto):
            return ((hand - auto).abs().max() / auto.abs().max()).item()

        return {
            "dz": rel(dz, z.grad),
            "dgamma": rel((u * up).sum(0), layer.weight.grad),
            "dbeta": rel(up.sum(0), layer.bias.grad),
        }


def analyze_bn_backward(results: list[dict], rule: dict) -> Verdict:
    """Exact (to float64 rounding): every relative error below ``rule["tolerance"]``."""
    worst = max(max(r.values()) for r in results)
    return exact_verdict(
        [max(r.values()) < rule["tolerance"] for r in results],
        worst,
        f"slide formulas = autograd within {rule['tolerance']:g} (worst "
        f"relative error {worst:.2g})",
    )


def plot_bn_backward(results: list[dict], row: dict, ax) -> None:
    plot_seed_points(
        results,
        ["dz", "dgamma", "dbeta"],
        ["dL/dz", "dL/dgamma", "dL/dbeta"],
        "max |slides - autograd| / max |autograd|",
        ax,
    )


register(
    Claim(
        id="bn-backward-formulas",
        statement="Batch norm's backward pass is given by the slides' formulas for "
        "dDiv/dsigma_B^2, "
        "dDiv/dmu_B and dDiv/dz_i (through the minibatch mean and variance).",
        lecture=LECTURE_000,
        slide="s123-128",
        measure=measure_bn_backward,
        analyze=analyze_bn_backward,
        plot=plot_bn_backward,
        params={"batch": 8, "width": 6},
        rule={"tolerance": 1e-10},
        statistic="largest relative error, slide formulas vs autograd through trainlab's BN layer "
        "(float64)",
        seeds=3,
        kind="exact",
        fast=True,
        cost_s=0.01,
    )
)


# --- batch norm at inference: population statistics (slide 129) --------------------------------


class Recorder:
    """Forward hooks that keep every input a batch-norm layer sees."""

    def __init__(self, layers):
        self.inputs = {id(m): [] for m in layers}
        self.handles = [m.register_forward_hook(self.hook) for m in layers]

    def hook(self, module, args, output) -> None:
        self.inputs[id(module)].append(args[0].detach().clone())

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def measure_bn_population(seed: int, samples: int, epochs: int, batch: int) -> dict:
    """A BN MLP trained with ``model.bn_stats = population``; then, in float64, trainlab's
    :func:`population_statistics` over the training set in batches of B, its inputs to each BN
    layer recorded: the largest relative error of its running mean and variance against the
    slide's mu = mean of batch means, sigma^2 = B/(B-1) mean of batch variances (000 s129). And
    batch independence at inference: the largest change of 8 test samples' logits when their
    batch-mates change (evaluation mode), against the change in training mode."""
    with one_thread():
        model, _, _, data = train_run(
            seed,
            samples,
            epochs,
            'model.norm="batch"',
            'model.bn_stats="population"',
            "model.hidden=[64,64]",
            f"train.batch_size={batch}",
        )
        model = model.double()
        x = data.x_train.double()
        layers = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
        rec = Recorder(layers)
        population_statistics(model, x, batch)
        rec.remove()
        errors = []
        for m in layers:
            zs = rec.inputs[id(m)]
            mu = torch.stack([z.mean(0) for z in zs]).mean(0)
            var = batch / (batch - 1) * torch.stack([z.var(0, unbiased=False) for z in zs]).mean(0)
            scale = var.sqrt().max()  # the inputs' mean can be ~0: errors relative to their spread
            errors += [
                ((m.running_mean - mu).abs().max() / scale).item(),
                ((m.running_var - var).abs().max() / var.max()).item(),
            ]
        xt = data.x_test.double()
        g = torch.Generator().manual_seed(seed)
        mates = [xt[8 + torch.randperm(len(xt) - 8, generator=g)[:56]] for _ in range(2)]

        def change(train: bool) -> float:
            model.train(train)
            with torch.no_grad():
                a, b = (model(torch.cat([xt[:8], m]))[:8] for m in mates)
            return (a - b).abs().max().item()

        return {
            "formula_error": max(errors),
            "eval_change": change(False),
            "train_change": change(True),
        }


def analyze_bn_population(results: list[dict], rule: dict) -> Verdict:
    """Exact: population statistics match the slide's formula (error < tolerance, the mean's
    relative to the inputs' largest standard deviation, the variance's to the largest) and
    a test sample's output does not change with its batch-mates (< tolerance) in every seed."""
    tol = rule["tolerance"]
    ok = [r["formula_error"] < tol and r["eval_change"] < tol for r in results]
    out = exact_verdict(
        ok,
        max(r["eval_change"] for r in results),
        "population statistics = slide formula, inference independent of batch",
    )
    worst = {k: max(r[k] for r in results) for k in ("formula_error", "eval_change")}
    out = out.also(
        f"; largest formula error {worst['formula_error']:.2g}, largest "
        f"inference change {worst['eval_change']:.2g} (in training mode: "
        f"{min(r['train_change'] for r in results):.2g} at least)"
    )
    return out


def plot_bn_population(results: list[dict], row: dict, ax) -> None:
    plot_seed_points(
        results,
        ["formula_error", "eval_change", "train_change"],
        ["|stats - formula|", "logit change\n(inference)", "logit change\n(training mode)"],
        "largest (relative) difference",
        ax,
    )


register(
    Claim(
        id="bn-population-inference",
        statement="At inference batch norm uses the average of the training minibatches' means and "
        "B/(B-1) times the average of their variances, so a test sample's output no longer "
        "depends on the other samples in its batch.",
        lecture=LECTURE_000,
        slide="s129 (003: 'test time batch normalization', deterministic)",
        measure=measure_bn_population,
        analyze=analyze_bn_population,
        plot=plot_bn_population,
        params={"samples": 300, "epochs": 3, "batch": 8},
        rule={"tolerance": 1e-10},
        statistic="largest relative error of the population statistics against the slide's "
        "formula; largest change of test logits with other batch-mates (float64)",
        seeds=3,
        kind="exact",
        fast=True,
        cost_s=0.1,
    )
)


# --- B / (B - 1) makes the variance unbiased (slide 129) ----------------------------------------


def measure_bn_unbiased(seed: int, batch: int, hidden: int) -> dict:
    """A BN MLP at initialization on MNIST-1D's training split (seeded order): trainlab's
    :func:`population_statistics` in batches of B gives the first BN layer's variance estimate;
    returns its mean ratio (over units) to the variance of that layer's input over the whole
    training split, and the same ratio without the B/(B-1) factor."""
    with one_thread():
        cfg = config(seed, *MNIST, 'model.norm="batch"', f"model.hidden=[{hidden}]")
        data = small_mnist1d(cfg, 4000)
        torch.manual_seed(seed)
        model = build.model(cfg, data.input_shape, data.num_classes)
        population_statistics(model, data.x_train, batch)
        linear, bn = model.net[1], model.net[2]
        with torch.no_grad():
            truth = linear(data.x_train).double().var(0, unbiased=False)
        ratio = (bn.running_var.double() / truth).mean().item()
        return {"corrected": ratio, "uncorrected": ratio * (batch - 1) / batch}


def analyze_bn_unbiased(results: list[dict], rule: dict) -> Verdict:
    """TOST: the corrected ratio equals 1 within ``rule["margin"]`` (t over seeds)."""
    fit = mean_estimate([r["corrected"] for r in results])
    out = equivalence_verdict(fit, 1.0, rule["margin"], "population variance / true variance")
    out = out.also(f"; without B/(B-1): {np.mean([r['uncorrected'] for r in results]):.3f}")
    return out


def plot_bn_unbiased(results: list[dict], row: dict, ax) -> None:
    plot_pairs(
        results,
        ["uncorrected", "corrected"],
        ["mean of batch variances", "x B/(B-1)"],
        "estimate / variance over the training set",
        ax,
    )
    ax.axhline(1.0, color="k", ls="--")


register(
    Claim(
        id="bn-variance-unbiased",
        statement="The B/(B-1) term makes the averaged minibatch variance an unbiased estimate of "
        "the variance used at inference.",
        lecture=LECTURE_000,
        slide="s129",
        measure=measure_bn_unbiased,
        analyze=analyze_bn_unbiased,
        plot=plot_bn_unbiased,
        params={"batch": 4, "hidden": 64},
        rule={"margin": 0.03},
        statistic="mean over seeds of (population variance / variance over the training split), "
        "TOST against 1 +- 0.03 (B = 4: the uncorrected average is 0.75)",
        seeds=5,
        fast=False,
        cost_s=0.1,
    )
)


# --- layer norm does not depend on the batch, batch norm does (003 s99-100) ---------------------


def measure_norm_batch_dependence(seed: int, hidden: int, mates: int) -> dict:
    """trainlab MLPs (2 hidden layers, ``model.norm`` layer / batch) in training mode, float64,
    at initialization: the largest change of 8 MNIST-1D samples' logits when the ``mates``
    other samples of their batch are replaced by others."""
    with one_thread():
        cfg = config(seed, *MNIST)
        data = small_mnist1d(cfg, 4000)
        x = data.x_train.double()
        g = torch.Generator().manual_seed(seed)
        others = [x[8 + torch.randperm(len(x) - 8, generator=g)[:mates]] for _ in range(2)]
        out = {}
        for name in ("layer", "batch"):
            torch.manual_seed(seed)
            model = (
                build.model(
                    config(
                        seed, *MNIST, f'model.norm="{name}"', f"model.hidden=[{hidden},{hidden}]"
                    ),
                    data.input_shape,
                    data.num_classes,
                )
                .double()
                .train()
            )
            with torch.no_grad():
                a, b = (model(torch.cat([x[:8], o]))[:8] for o in others)
            out[name] = (a - b).abs().max().item()
        return out


def analyze_norm_batch_dependence(results: list[dict], rule: dict) -> Verdict:
    """Exact: layer norm's change below ``rule["tolerance"]`` and batch norm's above
    ``rule["visible"]`` in every seed."""
    ok = [r["layer"] < rule["tolerance"] and r["batch"] > rule["visible"] for r in results]
    out = exact_verdict(
        ok,
        max(r["layer"] for r in results),
        "layer norm's output ignores the batch, batch norm's does not",
    )
    out = out.also(
        f"; largest change with layer norm "
        f"{max(r['layer'] for r in results):.2g}, smallest with batch norm "
        f"{min(r['batch'] for r in results):.2g}"
    )
    return out


def plot_norm_batch_dependence(results: list[dict], row: dict, ax) -> None:
    plot_seed_points(
        results,
        ["layer", "batch"],
        ["layer norm", "batch norm"],
        "largest change of a sample's logits\nwhen its batch-mates change",
        ax,
    )


register(
    Claim(
        id="layernorm-batch-independent",
        statement="Layer norm normalizes over a sample's hidden units, so (unlike batch norm) a "
        "sample's output does not depend on the batch: no worry about batch size.",
        lecture=LECTURE_003,
        slide="s99-100",
        measure=measure_norm_batch_dependence,
        analyze=analyze_norm_batch_dependence,
        plot=plot_norm_batch_dependence,
        params={"hidden": 64, "mates": 24},
        rule={"tolerance": 1e-12, "visible": 1e-3},
        statistic="largest change of 8 samples' logits (training mode, float64) when the other 24 "
        "samples of the batch change",
        seeds=3,
        kind="exact",
        fast=True,
        cost_s=0.05,
    )
)


# --- batch norm makes dropout unnecessary (000 s130, 003 s94) ------------------------------------


def measure_bn_dropout(seed: int, samples: int, epochs: int, hidden: list, p: float) -> dict:
    """Test accuracy of four runs on small MNIST-1D: plain, dropout p, batch norm, batch norm
    with dropout p."""
    return test_accuracies(
        seed,
        samples,
        epochs,
        hidden,
        {
            "plain": [],
            "dropout": [f"model.dropout={p}"],
            "bn": ['model.norm="batch"'],
            "bn_dropout": ['model.norm="batch"', f"model.dropout={p}"],
        },
    )


def analyze_bn_dropout(results: list[dict], rule: dict) -> Verdict:
    """TOST over seeds: dropout's effect on top of BN (test accuracy, BN + dropout - BN) lies
    within +- ``rule["margin"]``; the effect of dropout without BN is reported beside it."""
    fit = paired_estimate(
        [r["bn_dropout"] for r in results], [r["bn"] for r in results], ("bn_dropout", "bn")
    )
    out = equivalence_verdict(fit, 0.0, rule["margin"], "test accuracy, BN + dropout - BN")
    alone = np.mean([r["dropout"] - r["plain"] for r in results])
    out = out.also(f"; dropout without BN: {alone:+.3f}")
    return out


def plot_bn_dropout(results: list[dict], row: dict, ax) -> None:
    plot_pairs(
        results,
        ["plain", "dropout", "bn", "bn_dropout"],
        ["plain", "dropout", "BN", "BN +\ndropout"],
        "test accuracy",
        ax,
    )


register(
    Claim(
        id="bn-makes-dropout-unnecessary",
        statement="Batch normalization regularizes the model: dropout adds nothing on top of it "
        "('anecdotal evidence that BN eliminates the need for dropout').",
        lecture=LECTURE_000,
        slide="s130 (003 s94: 'regularizes model, making dropout unnecessary')",
        measure=measure_bn_dropout,
        analyze=analyze_bn_dropout,
        plot=plot_bn_dropout,
        params={"samples": 1000, "epochs": 30, "hidden": [128, 128], "p": 0.3},
        rule={"margin": 0.02},
        statistic="paired test-accuracy difference (BN + dropout 0.3) - BN, TOST against 0 +- 0.02",
        seeds=5,
        cost_s=1.3,
    )
)


# --- L2 regularization: smaller weights, lower test error (000 s144-148, 002) --------------------


def weight_norm(model) -> float:
    """L2 norm of every weight matrix together (biases left out)."""
    return math.sqrt(sum(p.detach().pow(2).sum().item() for p in model.parameters() if p.dim() > 1))


def measure_l2(seed: int, samples: int, epochs: int, hidden: list, l2: float) -> dict:
    """Test error and weight norm without and with the penalty l2/2 sum w^2
    (``regularization.l2``) on small MNIST-1D."""
    out = {}
    for name, lam in (("none", 0.0), ("l2", l2)):
        model, summary, _, _ = train_run(
            seed, samples, epochs, f"model.hidden={hidden}", f"regularization.l2={lam}"
        )
        out[name] = 1 - summary["test_accuracy"]
        out[f"{name}_norm"] = weight_norm(model)
    return out


def analyze_l2(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: test error with L2 - without (< 0 claimed); weight norms reported."""
    out = paired_verdict(
        results,
        "l2",
        "none",
        "test error, L2 - none",
        higher=False,
        delta=rule.get("delta"),
    )
    ratio = np.mean([r["l2_norm"] / r["none_norm"] for r in results])
    out = out.also(f"; weight norm with L2 / without: {ratio:.2f}")
    return out


def plot_l2(results: list[dict], row: dict, ax) -> None:
    plot_pairs(results, ["none", "l2"], ["no penalty", "L2 penalty"], "test error", ax)
    ax.set_title(
        "weight norm "
        + ", ".join(f"{np.mean([r[k] for r in results]):.1f}" for k in ("none_norm", "l2_norm")),
        fontsize=9,
    )


register(
    Claim(
        id="l2-lower-test-error",
        statement="Penalizing 1/2 lambda |W|^2 keeps the weights small, so the network gives "
        "smoother responses and overfits less: lower test error when data are few.",
        lecture=LECTURE_000,
        slide="s144-148 (002: L2 regularization)",
        measure=measure_l2,
        analyze=analyze_l2,
        plot=plot_l2,
        params={"samples": 500, "epochs": 60, "hidden": [128, 128], "l2": 0.003},
        statistic="paired test-error difference (L2 lambda = 0.003 - none), 400 training samples",
        seeds=5,
        cost_s=0.8,
        family="overfitting",
    )
)


# --- L1 makes weights sparse, L2 does not (003 s67, 002) ----------------------------------------


def measure_l1(
    seed: int, samples: int, epochs: int, hidden: list, l1: float, l2: float, zero: float
) -> dict:
    """Fraction of first-layer weights with |w| < ``zero`` after training with the penalty
    l1 sum |w| (``regularization.l1``) and with l2/2 sum w^2 (``regularization.l2``)."""
    out = {}
    for name, extra in (("l1", f"regularization.l1={l1}"), ("l2", f"regularization.l2={l2}")):
        model, summary, _, _ = train_run(seed, samples, epochs, f"model.hidden={hidden}", extra)
        first = next(p for p in model.parameters() if p.dim() > 1)
        out[name] = (first.detach().abs() < zero).double().mean().item()
        out[f"{name}_accuracy"] = summary["test_accuracy"]
    return out


def analyze_l1(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: fraction of near-zero weights, L1 - L2 (> 0 claimed)."""
    out = paired_verdict(
        results,
        "l1",
        "l2",
        "fraction of |w| < 1e-3, L1 - L2",
        higher=True,
        delta=rule.get("delta"),
    )
    out = out.also(
        f"; test accuracy L1 {np.mean([r['l1_accuracy'] for r in results]):.3f}"
        f", L2 {np.mean([r['l2_accuracy'] for r in results]):.3f}"
    )
    return out


def plot_l1(results: list[dict], row: dict, ax) -> None:
    plot_pairs(
        results,
        ["l2", "l1"],
        ["L2 penalty", "L1 penalty"],
        "fraction of first-layer weights with |w| < 1e-3",
        ax,
    )


register(
    Claim(
        id="l1-sparse-weights",
        statement="L1 regularization encourages sparsity (weights at zero); L2 only discourages "
        "large weights.",
        lecture=LECTURE_003,
        slide="s67 (002: 'L1 regularization (weights selection)')",
        measure=measure_l1,
        analyze=analyze_l1,
        plot=plot_l1,
        params={
            "samples": 500,
            "epochs": 30,
            "hidden": [128, 128],
            "l1": 0.001,
            "l2": 0.003,
            "zero": 0.001,
        },
        statistic="paired difference of the fraction of first-layer weights with |w| < 1e-3 "
        "(L1 lambda = 0.001 - L2 lambda = 0.003)",
        seeds=5,
        fast=True,
        cost_s=0.5,
    )
)


# --- dropout narrows the train-test gap (000 s154-165, 003 s76-78) ------------------------------


def measure_dropout_gap(seed: int, samples: int, epochs: int, hidden: list, p: float) -> dict:
    """Train accuracy (evaluation mode) minus test accuracy, and test accuracy, without and with
    dropout p after each hidden layer."""
    out = {}
    for name, rate in (("none", 0.0), ("dropout", p)):
        model, summary, _, data = train_run(
            seed, samples, epochs, f"model.hidden={hidden}", f"model.dropout={rate}"
        )
        out[name] = accuracy(model, data.x_train, data.y_train) - summary["test_accuracy"]
        out[f"{name}_test"] = summary["test_accuracy"]
    return out


def analyze_dropout_gap(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: train-test accuracy gap with dropout - without (< 0 claimed); the
    change of test accuracy reported."""
    out = paired_verdict(
        results,
        "dropout",
        "none",
        "train-test accuracy gap, dropout - none",
        higher=False,
        delta=rule.get("delta"),
    )
    test = np.mean([r["dropout_test"] - r["none_test"] for r in results])
    out = out.also(f"; test accuracy changes by {test:+.3f}")
    return out


def plot_dropout_gap(results: list[dict], row: dict, ax) -> None:
    plot_pairs(
        results,
        ["none", "dropout"],
        ["no dropout", "dropout 0.5"],
        "train accuracy - test accuracy",
        ax,
    )


register(
    Claim(
        id="dropout-narrows-gap",
        statement="Dropout (each hidden unit turned off with probability 1 - alpha in training) "
        "prevents overfitting: a smaller gap between training and test performance.",
        lecture=LECTURE_000,
        slide="s154-165 (003 s76-78; 002: dropout)",
        measure=measure_dropout_gap,
        analyze=analyze_dropout_gap,
        plot=plot_dropout_gap,
        params={"samples": 500, "epochs": 60, "hidden": [256, 256], "p": 0.5},
        statistic="paired difference of (train accuracy - test accuracy), dropout 0.5 - none",
        seeds=5,
        cost_s=1.4,
        family="overfitting",
    )
)


# --- original (test-time scaling) and inverted dropout agree (000 s162-164) ---------------------


def measure_dropout_modes(seed: int, samples: int, epochs: int, hidden: list, p: float) -> dict:
    """Test accuracy after training with dropout p in each form (``model.dropout_mode``:
    original = keep units unscaled and multiply by 1 - p at test time, the expected output over
    the ensemble; inverted = scale kept units by 1 / (1 - p) in training)."""
    return test_accuracies(
        seed,
        samples,
        epochs,
        hidden,
        {
            mode: [f"model.dropout={p}", f'model.dropout_mode="{mode}"']
            for mode in ("original", "inverted")
        },
    )


def analyze_dropout_modes(results: list[dict], rule: dict) -> Verdict:
    """TOST over seeds: test accuracy, original - inverted, within +- ``rule["margin"]``."""
    fit = paired_estimate(
        [r["original"] for r in results], [r["inverted"] for r in results], ("original", "inverted")
    )
    return equivalence_verdict(fit, 0.0, rule["margin"], "test accuracy, original - inverted")


def plot_dropout_modes(results: list[dict], row: dict, ax) -> None:
    plot_pairs(
        results,
        ["original", "inverted"],
        ["original\n(x alpha at test)", "inverted\n(/ alpha in training)"],
        "test accuracy",
        ax,
    )


register(
    Claim(
        id="dropout-original-matches-inverted",
        statement="Scaling every output by alpha at test time (the expected output over the "
        "ensemble) and scaling by 1/alpha during training instead give the same network.",
        lecture=LECTURE_000,
        slide="s162-164",
        measure=measure_dropout_modes,
        analyze=analyze_dropout_modes,
        plot=plot_dropout_modes,
        params={"samples": 500, "epochs": 60, "hidden": [256, 256], "p": 0.5},
        rule={"margin": 0.02},
        statistic="paired test-accuracy difference (original - inverted dropout 0.5), TOST against "
        "0 +- 0.02",
        seeds=5,
        cost_s=1.5,
        note="The two forms compute the same function only for fixed weights (inverted weights = "
        "alpha x original weights after a dropout layer). Trained by SGD from the same "
        "initialization they are different runs: the inverted form feeds the next layer "
        "inputs 1/alpha larger, which changes that layer's effective step size; the test "
        "measures the networks that training gives, as a user of either form gets them.",
    )
)


# --- early stopping at the validation minimum (000 s166, 002, 003) ------------------------------


class LastWeights(Callback):
    """Keeps the final epoch's weights (before ``fit`` restores the best epoch's)."""

    def on_fit_end(self, state) -> None:
        self.weights = {k: v.clone() for k, v in state.parts.model.state_dict().items()}


def measure_early_stopping(seed: int, samples: int, epochs: int, hidden: list) -> dict:
    """One unregularized run, model selection on the validation loss (trainlab's
    ``early_stopping``, ``restore_best``): test loss and accuracy of the epoch with the lowest
    validation loss and of the last epoch; the validation-loss curve."""
    last = LastWeights()
    model, summary, history, data = train_run(
        seed,
        samples,
        epochs,
        f"model.hidden={hidden}",
        'early_stopping.monitor="val_loss"',
        "early_stopping.restore_best=true",
        callbacks=[last],
    )
    model.load_state_dict(last.weights)
    loss, acc = evaluate(model, data.x_test, data.y_test, torch.nn.functional.cross_entropy)
    return {
        "best": summary["test_loss"],
        "last": loss,
        "best_accuracy": summary["test_accuracy"],
        "last_accuracy": acc,
        "best_epoch": summary["best_epoch"],
        "val_loss": [h["val_loss"] for h in history],
        "train_loss": [h["train_loss"] for h in history],
    }


def analyze_early_stopping(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: test loss (the slides' 'error', the divergence) at the validation
    minimum - at the end (< 0 claimed); the accuracies reported."""
    out = paired_verdict(
        results,
        "best",
        "last",
        "test loss, early-stopped - trained to the end",
        higher=False,
        delta=rule.get("delta"),
    )
    out = out.also(
        f"; test accuracy "
        f"{np.mean([r['best_accuracy'] for r in results]):.3f} (stopped at "
        f"epoch {np.mean([r['best_epoch'] for r in results]):.0f} on average)"
        f" vs {np.mean([r['last_accuracy'] for r in results]):.3f} (end)"
    )
    return out


def plot_early_stopping(results: list[dict], row: dict, ax) -> None:
    for i, r in enumerate(results):
        epochs = range(1, len(r["val_loss"]) + 1)
        ax.plot(
            epochs, r["train_loss"], color="C0", alpha=0.5, label="training" if i == 0 else None
        )
        ax.plot(
            epochs, r["val_loss"], color="C1", alpha=0.5, label="validation" if i == 0 else None
        )
        ax.axvline(r["best_epoch"], color="C1", ls=":", alpha=0.5)
    ax.set_yscale("log")
    ax.set_xlabel("epoch (dotted: validation minimum)")
    ax.set_ylabel("cross-entropy")
    ax.legend()


register(
    Claim(
        id="early-stopping-beats-last",
        statement="Continued training overfits the training data; stopping where the error on "
        "held-out validation data is lowest gives a better network than training on.",
        lecture=LECTURE_000,
        slide="s166 (002: 'stop training once validation error starts to "
        "increase'; 003: early stopping)",
        measure=measure_early_stopping,
        analyze=analyze_early_stopping,
        plot=plot_early_stopping,
        params={"samples": 500, "epochs": 80, "hidden": [256, 256]},
        statistic="paired test cross-entropy difference (epoch of lowest validation loss - last of "
        "80 epochs), 400 training samples",
        seeds=5,
        cost_s=0.8,
        family="overfitting",
    )
)


# --- gradient clipping keeps a steep problem from diverging (000 s167) --------------------------


def measure_clipping(seed: int, eigenvalues: list, lr: float, theta: float, steps: int) -> dict:
    """SGD on the bowl 1/2 w'Aw (steep: lambda_max lr > 2, where plain GD diverges) without and
    with trainlab's element-wise clipping to [-theta, theta] (``gradient_clip.max_value``):
    log10(final loss / initial loss) and the loss curve of each."""
    with one_thread():
        out = {}
        for name, clip in (("plain", 0.0), ("clipped", theta)):
            bowl = Quadratic(eigenvalues, seed)
            start = bowl.loss(bowl.w).item()
            step = quadratic_step(
                bowl,
                seed,
                'optimizer.name="sgd"',
                f"optimizer.lr={lr}",
                f"gradient_clip.max_value={clip}",
            )
            curve = []
            for _ in range(steps):
                step(NO_DATA, None)
                curve.append(math.log10(step.loss.item() / start))
            out[name] = math.log10(bowl.loss(bowl.w).item() / start)
            out[f"{name}_curve"] = curve
        return out


def analyze_clipping(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: log10(final / initial loss), clipped - plain (< 0 claimed). The
    premise (plain SGD diverges: ratio > 1 in every seed) must hold, else inconclusive; a clipped
    run whose loss grew means the claim does not hold."""
    out = paired_verdict(
        results,
        "clipped",
        "plain",
        "log10(final / initial loss), clipped - plain",
        higher=False,
        delta=rule.get("delta"),
    )
    if not all(r["plain"] > 0 for r in results):
        out = out.overruled(
            Kind.INCONCLUSIVE, "premise failed: plain SGD did not diverge in every seed"
        )
    elif not all(r["clipped"] < 0 for r in results):
        out = out.overruled(Kind.DOES_NOT_HOLD, "a clipped run diverged too", exact=True)
    out = out.also(
        f"; final loss / initial: plain 10^"
        f"{np.mean([r['plain'] for r in results]):.0f}, clipped 10^"
        f"{np.mean([r['clipped'] for r in results]):.1f}"
    )
    return out


def plot_clipping(results: list[dict], row: dict, ax) -> None:
    for i, r in enumerate(results):
        for key, color in (("plain", "C3"), ("clipped", "C0")):
            ax.plot(
                range(1, len(r[f"{key}_curve"]) + 1),
                r[f"{key}_curve"],
                color=color,
                alpha=0.5,
                label=("no clipping" if key == "plain" else "clipped at 5") if i == 0 else None,
            )
    ax.set_yscale("symlog")
    ax.set_xlabel("update")
    ax.set_ylabel("log10(loss / initial loss)")
    ax.legend()


register(
    Claim(
        id="gradient-clipping-steep",
        statement="Where the divergence has a steep slope the derivative is too high and training "
        "is unstable; capping each derivative at theta (typically 5) prevents it.",
        lecture=LECTURE_000,
        slide="s167",
        measure=measure_clipping,
        analyze=analyze_clipping,
        plot=plot_clipping,
        params={
            "eigenvalues": [1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0],
            "lr": 0.005,
            "theta": 5.0,
            "steps": 200,
        },
        statistic="paired difference of log10(final / initial loss), clipped (theta = 5) - plain, "
        "SGD at lr = 0.005 = 5 / lambda_max on a 7-D bowl with lambda in [1, 1000]",
        seeds=5,
        fast=True,
        cost_s=0.05,
    )
)


# --- augmentation on a small training set (000 s168, 002) ---------------------------------------


def measure_augmentation(
    seed: int, samples: int, epochs: int, hidden: list, shift: float, stretch: float
) -> dict:
    """Test accuracy without and with trainlab's augmentation (each training signal shifted by
    up to ``shift`` positions and stretched by a factor in [1 - stretch, 1 + stretch])."""
    return test_accuracies(
        seed,
        samples,
        epochs,
        hidden,
        {"none": [], "augmented": [f"augment.shift={shift}", f"augment.stretch={stretch}"]},
    )


def analyze_augmentation(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: test accuracy, augmented - none (> 0 claimed)."""
    return paired_verdict(
        results,
        "augmented",
        "none",
        "test accuracy, augmented - none",
        higher=True,
        delta=rule.get("delta"),
    )


def plot_augmentation(results: list[dict], row: dict, ax) -> None:
    plot_pairs(
        results,
        ["none", "augmented"],
        ["no augmentation", "shift 4, stretch 0.1"],
        "test accuracy",
        ax,
    )


register(
    Claim(
        id="augmentation-small-data",
        statement="When the training data are few, extending them with distorted copies (shifts, "
        "stretching, noise) gives a better network.",
        lecture=LECTURE_000,
        slide="s168 (002: dataset augmentation)",
        measure=measure_augmentation,
        analyze=analyze_augmentation,
        plot=plot_augmentation,
        params={"samples": 500, "epochs": 60, "hidden": [128, 128], "shift": 4.0, "stretch": 0.1},
        statistic="paired test-accuracy difference (augmented - none), 400 training samples",
        seeds=5,
        cost_s=0.8,
        family="overfitting",
    )
)


# --- input normalization speeds convergence (000 s169) ------------------------------------------


def measure_input_normalization(
    seed: int, scale: list, offset: list, rates: list, steps: int, hidden: list
) -> dict:
    """Moons in 'raw units' (x * scale + offset per feature), as given (``data.normalize =
    none``) and normalized to zero mean and unit variance on the training split (``standard``):
    for each, the mean training loss of the last 20 of ``steps`` SGD updates at each rate of
    ``rates`` (inf if it diverged), and the best over the rates."""
    with one_thread():
        cfg = config(seed, 'data.name="moons"', f"model.hidden={hidden}")
        a = read("moons", cfg.seed, cfg.data.to_dict())
        raw = Arrays(a.x * np.float32(scale) + np.float32(offset), a.y, origin="moons")
        out = {}
        for name in ("none", "standard"):
            data = prepare(raw, seed=seed, val_fraction=0.1, test_fraction=0.2, normalize=name)
            losses = []
            for lr in rates:
                run_cfg = config(
                    seed, 'data.name="moons"', f"model.hidden={hidden}", f"optimizer.lr={lr}"
                )
                _, step = model_step(run_cfg, data.x_train)
                curve = train_losses(step, data.x_train, data.y_train, steps, 64, seed)
                losses.append(float(np.mean(curve[-20:])) if len(curve) == steps else math.inf)
            out[f"{name}_by_rate"] = losses
            out[name] = min(losses)
        return out


def analyze_input_normalization(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: best final training loss, normalized - raw (< 0 claimed)."""
    return paired_verdict(
        results,
        "standard",
        "none",
        "training loss after the budget (each at its best rate), normalized - raw",
        higher=False,
        delta=rule.get("delta"),
    )


def plot_input_normalization(results: list[dict], row: dict, ax) -> None:
    rates = None
    for i, r in enumerate(results):
        for key, color, label in (("none", "C3", "raw inputs"), ("standard", "C0", "normalized")):
            values = [v if math.isfinite(v) else np.nan for v in r[f"{key}_by_rate"]]
            rates = rates or list(range(len(values)))
            ax.plot(rates, values, "o-", color=color, alpha=0.5, label=label if i == 0 else None)
    ax.set_yscale("log")
    ax.set_xlabel("learning rate (index into the grid 1e-4 ... 1, x sqrt(10) apart)")
    ax.set_ylabel("training loss after 300 updates")
    ax.legend()


register(
    Claim(
        id="input-normalization-faster",
        statement="Normalizing the input (the whole training set shifted to zero mean and scaled "
        "to unit variance, batch norm on the input) makes training converge faster.",
        lecture=LECTURE_000,
        slide="s169",
        measure=measure_input_normalization,
        analyze=analyze_input_normalization,
        plot=plot_input_normalization,
        params={
            "scale": [30.0, 0.3],
            "offset": [100.0, 5.0],
            "rates": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0],
            "steps": 300,
            "hidden": [32, 32],
        },
        statistic="paired difference of the training loss after 300 SGD updates, each variant at "
        "its best rate of a 9-point grid (normalized - raw)",
        seeds=5,
        cost_s=0.9,
        note="The toy sets and MNIST-1D come already centred and scaled, so the claim is tested on "
        "moons given raw-unit features (x1 * 30 + 100, x2 * 0.3 + 5); each variant gets its "
        "own best rate so that the raw inputs are not judged at a rate that suits only the "
        "normalized ones.",
    )
)


# --- label smoothing and the confidence penalty against over-confidence (003 s70-74) ------------


def measure_calibration(
    seed: int, samples: int, epochs: int, hidden: list, option: str, value: float
) -> dict:
    """Test ECE and accuracy without and with ``loss.<option> = value`` (label smoothing eps:
    target (1 - eps) one-hot + eps / C; confidence penalty beta: loss - beta H(p))."""
    out = {}
    for name, v in (("none", 0.0), ("regularized", value)):
        model, summary, _, data = train_run(
            seed, samples, epochs, f"model.hidden={hidden}", f"loss.{option}={v}"
        )
        out[name] = expected_calibration_error(model, data.x_test, data.y_test)
        out[f"{name}_accuracy"] = summary["test_accuracy"]
    return out


def analyze_calibration(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: test ECE, regularized - none (< 0 claimed). 'At equal accuracy':
    a TOST on the accuracy difference (+- ``rule["margin"]``); when ECE falls but equal
    accuracy is not shown the verdict says so."""
    out = paired_verdict(
        results,
        "regularized",
        "none",
        "test ECE, regularized - none",
        higher=False,
        delta=rule.get("delta"),
    )
    fit = paired_estimate(
        [r["regularized_accuracy"] for r in results],
        [r["none_accuracy"] for r in results],
        ("regularized_accuracy", "none_accuracy"),
    )
    same = equivalence_verdict(fit, 0.0, rule["margin"], "test accuracy difference")
    out = out.also(f"; {same.sentence}")
    if out.kind == Kind.HOLDS and same.kind != Kind.HOLDS:
        out = out.only_when(
            "accuracy may differ", f"equal accuracy (+-{rule['margin']}) not shown: {same.label}"
        )
    return out


def plot_calibration(results: list[dict], row: dict, ax) -> None:
    plot_pairs(
        results,
        ["none", "regularized"],
        ["cross-entropy", "regularized"],
        "expected calibration error (test)",
        ax,
    )


for _id, _option, _value, _name, _slide in (
    (
        "label-smoothing-calibration",
        "label_smoothing",
        0.1,
        "label smoothing 0.1",
        "s70-72 (Szegedy et al. 2015)",
    ),
    (
        "confidence-penalty-calibration",
        "confidence_penalty",
        0.1,
        "confidence penalty 0.1",
        "s70, s73-74 (Pereyra et al. 2017)",
    ),
):
    register(
        Claim(
            id=_id,
            statement="We do not want an over-confident model: training towards a smoother target "
            "distribution (label smoothing) or penalizing low entropy (confidence "
            "penalty) gives less over-confident outputs.",
            lecture=LECTURE_003,
            slide=_slide,
            measure=measure_calibration,
            analyze=analyze_calibration,
            plot=plot_calibration,
            params={
                "samples": 1000,
                "epochs": 40,
                "hidden": [256, 256],
                "option": _option,
                "value": _value,
            },
            rule={"margin": 0.02},
            statistic=f"paired difference of test ECE (15 bins), {_name} - none; TOST on the "
            "accuracy difference (+- 0.02)",
            seeds=5,
            cost_s=1.6,
            family="confidence",
        )
    )


# --- auxiliary classifiers help a deep plain net train (003 s68) --------------------------------


def measure_aux(
    seed: int, samples: int, epochs: int, depth: int, width: int, weight: float
) -> dict:
    """A plain deep MLP (``depth`` hidden ReLU layers of ``width``, PyTorch's default init, no
    normalization) without and with auxiliary classifiers on every hidden block but the last
    (``loss.aux_weight``): final training loss of the main head (epoch mean), its curve, and
    test accuracy."""
    out = {}
    for name, w in (("none", 0.0), ("aux", weight)):
        _, summary, history, _ = train_run(
            seed, samples, epochs, f"model.hidden={[width] * depth}", f"loss.aux_weight={w}"
        )
        out[name] = history[-1]["train_loss"]
        out[f"{name}_curve"] = [h["train_loss"] for h in history]
        out[f"{name}_accuracy"] = summary["test_accuracy"]
    return out


def analyze_aux(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: final training loss of the main head, aux - none (< 0 claimed)."""
    out = paired_verdict(
        results,
        "aux",
        "none",
        "final training loss, with auxiliary heads - without",
        higher=False,
        delta=rule.get("delta"),
    )
    out = out.also(
        f"; test accuracy {np.mean([r['none_accuracy'] for r in results]):.3f}"
        f" without, {np.mean([r['aux_accuracy'] for r in results]):.3f} with"
    )
    return out


def plot_aux(results: list[dict], row: dict, ax) -> None:
    for i, r in enumerate(results):
        for key, color, label in (("none", "C3", "plain"), ("aux", "C0", "+ auxiliary heads")):
            curve = r[f"{key}_curve"]
            ax.plot(
                range(1, len(curve) + 1),
                curve,
                color=color,
                alpha=0.5,
                label=label if i == 0 else None,
            )
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (main head)")
    ax.legend()


register(
    Claim(
        id="aux-classifiers-deep-net",
        statement="Auxiliary classifiers on intermediate layers (deeply supervised nets) help a "
        "deep network train.",
        lecture=LECTURE_003,
        slide="s68 (Lee et al. 2015)",
        measure=measure_aux,
        analyze=analyze_aux,
        plot=plot_aux,
        params={"samples": 1000, "epochs": 20, "depth": 10, "width": 32, "weight": 0.3},
        statistic="paired difference of the final training loss of the main head (aux weight 0.3 "
        "- none), 10-layer plain ReLU MLP",
        seeds=5,
        cost_s=1.0,
    )
)
