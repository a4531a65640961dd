"""Claims of lectures 000 and 002 about divergences: cross-entropy against squared error with
sigmoid and softmax outputs.

trainlab's ``mse`` loss is ||softmax(z) - q||^2 / C and its ``cross_entropy`` is -log softmax(z)_y
(:mod:`trainlab.training.losses`). With two classes, softmax(z)_1 = sigmoid(d), d = z_1 - z_0, so
both become the lecture's sigmoid-output losses of the one logit d: MSE = (sigmoid(d) - y)^2 and
CE = -y log sigmoid(d) - (1 - y) log(1 - sigmoid(d)), y in {0, 1}.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import build
from .claim import Claim, register
from .toolkit import config, whole_runs
from .verdicts import Verdict, difference_verdict, exact_verdict


def logit_gradient(loss: str, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """d loss / d z of trainlab's loss ``loss`` (mean over the batch, times the batch size, so
    each row is that sample's own gradient) at logits ``z`` (float64) and labels ``y``."""
    z = z.detach().clone().requires_grad_(True)
    fn = build.loss(config(0, 'data.name="moons"', f'loss.name="{loss}"'))
    (fn(z, y) * len(z)).backward()
    return z.grad


# --- MSE's gradient saturates with a sigmoid output, CE's does not ----------------------------


def measure_sigmoid_saturation(seed: int, margins: list) -> dict:
    """Two classes, true class 0, logits z = (0, d) for d in ``margins`` (d > 0: the sigmoid
    output y_hat = sigmoid(d) predicts the wrong class, badly for large d). The gradient of
    trainlab's ``mse`` and ``cross_entropy`` with respect to d (= dL/dz_1 - dL/dz_0 over 2, by
    symmetry dL/dz_0 = -dL/dz_1), and the lecture's formulas: dCE/dd = y_hat - y,
    dMSE/dd = 2 (y_hat - y) sigma'(d) (lecture 002; the 2 of d(e^2)/de, which the slide folds into
    its constant)."""
    d = torch.tensor(margins, dtype=torch.float64)
    z = torch.stack([torch.zeros_like(d), d], 1)
    y = torch.zeros(len(d), dtype=torch.long)
    y_hat = torch.sigmoid(d)
    out = {"margin": list(margins), "y_hat": y_hat.tolist()}
    for loss in ("mse", "cross_entropy"):
        g = logit_gradient(loss, z, y)
        out[loss] = ((g[:, 1] - g[:, 0]) / 2).tolist()
    out["ce_formula"] = (y_hat - 0).tolist()
    out["mse_formula"] = (2 * (y_hat - 0) * y_hat * (1 - y_hat)).tolist()
    return out


def analyze_sigmoid_saturation(results: list[dict], rule: dict) -> Verdict:
    """Exact: trainlab's gradients equal the lecture's formulas (to ``rule["tolerance"]``), and
    wherever the prediction is badly wrong (y_hat >= ``rule["wrong"]``) MSE's gradient is below
    ``rule["ratio"]`` times CE's while CE's is >= ``rule["wrong"]``."""
    ok, ratios = [], []
    for r in results:
        for key in ("mse", "cross_entropy"):
            formula = r["ce_formula" if key == "cross_entropy" else "mse_formula"]
            ok += [abs(a - b) <= rule["tolerance"] for a, b in zip(r[key], formula)]
        for y_hat, mse, ce in zip(r["y_hat"], r["mse"], r["cross_entropy"]):
            if y_hat >= rule["wrong"]:
                ratios.append(abs(mse) / abs(ce))
                ok += [abs(mse) < rule["ratio"] * abs(ce), abs(ce) >= rule["wrong"]]
    out = exact_verdict(
        ok,
        max(ratios),
        f"gradients equal the formulas; |dMSE| / |dCE| small where y_hat >= {rule['wrong']}",
    )
    out = out.also(f"; largest |dMSE/dd| / |dCE/dd| there {max(ratios):.3g}")
    return out


def plot_sigmoid_saturation(results: list[dict], row: dict, ax) -> None:
    r = results[0]
    for key, label in (("cross_entropy", "cross-entropy"), ("mse", "squared error")):
        ax.semilogy(r["margin"], np.abs(r[key]), "o-", label=label)
    ax.set_xlabel("wrong-class logit d (sigmoid output y_hat = sigmoid(d), target 0)")
    ax.set_ylabel("|dL/dd|")
    ax.legend()


register(
    Claim(
        id="mse-sigmoid-saturates",
        statement="With a sigmoid output, dL_CE/dw = x (y_hat - y) while dL_MSE/dw = x (y_hat - y) "
        "sigma'(z): when the output saturates on the wrong answer, sigma'(z) is close to 0 "
        "and learning with MSE slows down; cross-entropy avoids the vanishing gradient.",
        lecture="002_7a1911faa9f7a81a.txt",
        slide="B.1 'Cross-entropy + sigmoid output' (lines 125-137)",
        measure=measure_sigmoid_saturation,
        analyze=analyze_sigmoid_saturation,
        plot=plot_sigmoid_saturation,
        params={"margins": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0]},
        rule={"tolerance": 1e-12, "wrong": 0.99, "ratio": 0.05},
        statistic="trainlab's loss gradients against the slide's formulas; largest |dMSE| / |dCE| "
        "where the sigmoid output is >= 0.99 on the wrong class",
        seeds=1,
        kind="exact",
        fast=True,
        cost_s=0.05,
    )
)


# --- the same with a softmax output (the slide's exercise) -------------------------------------


def measure_softmax_saturation(seed: int, classes: int, samples: int, gaps: list) -> dict:
    """Random logits N(0, 1) over ``classes`` classes for ``samples`` samples (seeded); a wrong
    class k != y gets the largest logit plus ``gap``. Per gap: the norms |dL/dz| of trainlab's
    ``mse`` and ``cross_entropy`` per sample, and the softmax output's largest entry."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(samples, classes, generator=g, dtype=torch.float64)
    y = torch.randint(classes, (samples,), generator=g)
    k = (y + torch.randint(1, classes, (samples,), generator=g)) % classes  # a wrong class
    out = {"gap": list(gaps), "mse": [], "cross_entropy": [], "p_wrong": []}
    rows = torch.arange(samples)
    for gap in gaps:
        z = base.clone()
        z[rows, k] = base.max(1).values + gap
        out["p_wrong"].append(z.softmax(1)[rows, k].tolist())
        for loss in ("mse", "cross_entropy"):
            out[loss].append(logit_gradient(loss, z, y).norm(dim=1).tolist())
    return out


def analyze_softmax_saturation(results: list[dict], rule: dict) -> Verdict:
    """Exact: for every sample whose softmax puts >= ``rule["wrong"]`` on one wrong class,
    |dMSE/dz| < ``rule["ratio"]`` |dCE/dz| and |dCE/dz| >= 1."""
    ok, ratios = [], []
    for r in results:
        for p_row, m_row, c_row in zip(r["p_wrong"], r["mse"], r["cross_entropy"]):
            for p, m, c in zip(p_row, m_row, c_row):
                if p >= rule["wrong"]:
                    ratios.append(m / c)
                    ok += [m < rule["ratio"] * c, c >= 1.0]
    out = exact_verdict(
        ok, max(ratios), "badly wrong softmax outputs: |dMSE/dz| small, |dCE/dz| >= 1"
    )
    out = out.also(
        f" ({len(ratios)} samples with p_wrong >= {rule['wrong']}); largest "
        f"|dMSE/dz| / |dCE/dz| there {max(ratios):.3g}"
    )
    return out


def plot_softmax_saturation(results: list[dict], row: dict, ax) -> None:
    for key, color, label in (
        ("cross_entropy", "C0", "cross-entropy"),
        ("mse", "C1", "squared error"),
    ):
        for i, r in enumerate(results):
            med = [np.median(v) for v in r[key]]
            ax.semilogy(
                r["gap"], med, "o-", color=color, alpha=0.6, label=label if i == 0 else None
            )
    ax.set_xlabel("wrong logit's lead over the largest other logit")
    ax.set_ylabel("median |dL/dz| over samples")
    ax.legend()


register(
    Claim(
        id="mse-softmax-saturates",
        statement="Cross-entropy with a softmax output also provides a non-saturated architecture "
        "(log softmax(z)_i = z_i - log sum_j exp z_j); the slide's exercise: check it "
        "against MSE + softmax, whose gradient vanishes on a confident wrong output.",
        lecture="002_7a1911faa9f7a81a.txt",
        slide="B.1 'Cross-entropy + softmax output' (lines 141-148)",
        measure=measure_softmax_saturation,
        analyze=analyze_softmax_saturation,
        plot=plot_softmax_saturation,
        params={"classes": 10, "samples": 200, "gaps": [0.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0]},
        rule={"wrong": 0.99, "ratio": 0.05},
        statistic="largest |dMSE/dz| / |dCE/dz| over samples with a softmax output >= 0.99 on a "
        "wrong class",
        seeds=3,
        kind="exact",
        fast=True,
        cost_s=0.05,
    )
)


# --- cross-entropy trains a classifier faster than L2 ------------------------------------------


def measure_ce_vs_mse(seed: int, hidden: list, epochs: int, rates: list) -> dict:
    """MNIST-1D, ReLU MLP, plain SGD, ``epochs`` epochs, for each loss (``cross_entropy``,
    ``mse``) and each rate: the best validation and the test accuracy (whole trainlab runs; 0
    for a run that diverged at once)."""
    out = {"rates": list(rates)}
    for loss in ("cross_entropy", "mse"):
        runs = [  # one loss's rates train together
            summary
            for summary, _ in whole_runs(
                [
                    (
                        seed,
                        [
                            'data.name="mnist1d"',
                            f"model.hidden={hidden}",
                            f'loss.name="{loss}"',
                            f"optimizer.lr={lr}",
                            f"train.epochs={epochs}",
                        ],
                    )
                    for lr in rates
                ]
            )
        ]
        out[loss] = {
            "val": [r["best_val_accuracy"] or 0.0 for r in runs],  # None: diverged
            "test": [r["test_accuracy"] or 0.0 for r in runs],
        }
    return out


def _tuned(r: dict, loss: str) -> float:
    """Test accuracy at the rate with the best validation accuracy."""
    return r[loss]["test"][int(np.argmax(r[loss]["val"]))]


def analyze_ce_vs_mse(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: test accuracy after the short run, cross-entropy minus MSE, each loss
    at its own rate chosen on validation accuracy. Holds if > 0 (p < 0.05)."""
    ce = {i: _tuned(r, "cross_entropy") for i, r in enumerate(results)}
    mse = {i: _tuned(r, "mse") for i, r in enumerate(results)}
    out = difference_verdict(
        ce,
        mse,
        "test accuracy, cross-entropy - MSE (each at its tuned rate)",
        delta=rule.get("delta"),
    )
    chosen = {
        k: [r["rates"][int(np.argmax(r[k]["val"]))] for r in results]
        for k in ("cross_entropy", "mse")
    }
    out = out.also(
        f"; means {np.mean(list(ce.values())):.3f} (CE, rates chosen "
        f"{chosen['cross_entropy']}) and {np.mean(list(mse.values())):.3f} "
        f"(MSE, rates {chosen['mse']})"
    )
    return out


def plot_ce_vs_mse(results: list[dict], row: dict, ax) -> None:
    for key, color, label in (
        ("cross_entropy", "C0", "cross-entropy"),
        ("mse", "C1", "squared error (softmax)"),
    ):
        for i, r in enumerate(results):
            ax.semilogx(
                r["rates"],
                r[key]["test"],
                "o-",
                color=color,
                alpha=0.5,
                label=label if i == 0 else None,
            )
    ax.set_xlabel("SGD learning rate")
    ax.set_ylabel("test accuracy after the short run")
    ax.legend()


register(
    Claim(
        id="ce-trains-faster-than-mse",
        statement="The best divergence is steep far from the optimum; for classification the KL "
        "divergence (cross-entropy) is better than the L2 divergence, which is shallow "
        "(saturated) far from the optimum, so cross-entropy trains a classifier faster.",
        lecture="000_c258a766373167ad.txt",
        slide="s100-105; 002 B.1",
        measure=measure_ce_vs_mse,
        analyze=analyze_ce_vs_mse,
        plot=plot_ce_vs_mse,
        params={"hidden": [64], "epochs": 5, "rates": [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0]},
        statistic="paired difference of MNIST-1D test accuracy after 5 SGD epochs, CE - MSE, each "
        "at its best of 7 rates (chosen on validation accuracy)",
        seeds=5,
        cost_s=1.5,
        note="Each loss gets its own rate from the same grid (chosen on the validation split), so "
        "that MSE's smaller gradient scale is not a handicap of an untuned rate. The first grid "
        "(0.03 to 1) put both losses' best rate at its top edge (test accuracy then 0.44 for "
        "CE, 0.22 for MSE, 5 seeds); it was widened to 0.1 to 10, where MSE's best rate was "
        "still the top one (validation accuracy 0.41 to 0.49), so to 0.1 to 100 for the "
        "same reason: each loss's optimum must lie inside the grid.",
    )
)
