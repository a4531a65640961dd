"""Claims of lecture 000 ("Neural Networks: Optimization Part 2") and 003 about gradient
descent, Newton's method, momentum and minibatches."""

from __future__ import annotations

import math

import numpy as np
import torch

from .claim import Claim, register
from .toolkit import NO_DATA, Quadratic, config, model_step, quadratic_step, toy
from .verdicts import Estimate, equivalence_verdict, exact_verdict, seed_slopes

# --- GD on a quadratic diverges iff lr > 2 / lambda_max ----------------------------------------


def measure_gd_threshold(seed: int, eigenvalues: list, factors: list, steps: int) -> dict:
    """GD (``optimizer.name=sgd``) on f = 1/2 w'Aw at lr = factor * 2 / lambda_max: the ratio
    |w_T| / |w_0| after ``steps`` updates, per factor."""
    ratios = {}
    for factor in factors:
        bowl = Quadratic(eigenvalues, seed)
        start = bowl.w.detach().norm().item()
        step = quadratic_step(bowl, seed, f"optimizer.lr={factor * 2 / max(eigenvalues)}")
        for _ in range(steps):
            step(NO_DATA, None)
        ratio = bowl.w.detach().norm().item() / start
        ratios[str(factor)] = ratio if math.isfinite(ratio) else math.inf  # overflow: diverged
    return {"ratio": ratios}


def analyze_gd_threshold(results: list[dict], rule: dict):
    """Exact: for every seed and factor, diverged (ratio > 1) exactly when factor > 1."""
    ok = [(r > 1) == (float(f) > 1) for res in results for f, r in res["ratio"].items()]
    return exact_verdict(ok, float(np.mean(ok)), "GD diverges iff lr > 2/lambda_max")


def plot_gd_threshold(results: list[dict], row: dict, ax) -> None:
    for res in results:
        f = [float(k) for k in res["ratio"]]
        ax.semilogy(f, list(res["ratio"].values()), "o-", alpha=0.6)
    ax.axvline(1.0, color="k", ls="--")
    ax.set_xlabel("lr / (2 / lambda_max)")
    ax.set_ylabel("|w_T| / |w_0|")


register(
    Claim(
        id="gd-diverges-above-2-over-lambda",
        statement="On a quadratic, gradient descent converges for lr < 2/lambda_max and diverges "
        "beyond it (twice the optimal step 1/lambda_max).",
        lecture="000_c258a766373167ad.txt",
        slide="s10-11",
        measure=measure_gd_threshold,
        analyze=analyze_gd_threshold,
        plot=plot_gd_threshold,
        params={
            "eigenvalues": [1.0, 4.0, 10.0],
            "factors": [0.5, 0.9, 0.98, 1.02, 1.1, 1.5],
            "steps": 2000,
        },
        statistic="fraction of (seed, lr) cells that converge/diverge as predicted",
        seeds=3,
        kind="exact",
        fast=True,
        cost_s=0.5,
    )
)


# --- Newton solves a quadratic in one step -----------------------------------------------------


def measure_newton(seed: int, eigenvalues: list) -> dict:
    """One undamped Newton step (``optimizer.name=newton``, lr 1, damping 0) and one GD step at
    the best constant rate 2 / (lambda_min + lambda_max): f after / f before."""
    out = {}
    for name, overrides in (
        ("newton", ['optimizer.name="newton"', "optimizer.lr=1.0", "optimizer.damping=0.0"]),
        ("gd", [f"optimizer.lr={2 / (min(eigenvalues) + max(eigenvalues))}"]),
    ):
        bowl = Quadratic(eigenvalues, seed)
        before = bowl.loss(bowl.w).item()
        quadratic_step(bowl, seed, *overrides)(NO_DATA, None)
        out[name] = bowl.loss(bowl.w).item() / before
    return out


def analyze_newton(results: list[dict], rule: dict):
    """Exact: after one Newton step f / f_0 < ``rule["tolerance"]`` for every seed."""
    ok = [r["newton"] < rule["tolerance"] for r in results]
    return exact_verdict(
        ok,
        max(r["newton"] for r in results),
        f"max f_1/f_0 after one Newton step (tolerance {rule['tolerance']:g})",
    )


def plot_newton(results: list[dict], row: dict, ax) -> None:
    ax.bar(
        ["Newton", "GD (best lr)"],
        [max(np.mean([r[k] for r in results]), 1e-300) for k in ("newton", "gd")],
    )
    ax.set_yscale("log")
    ax.set_ylabel("f after one step / f before")


register(
    Claim(
        id="newton-one-step",
        statement="Normalizing the step by the Hessian (Newton's method) solves a quadratic in one "
        "step at any condition number.",
        lecture="000_c258a766373167ad.txt",
        slide="s12",
        measure=measure_newton,
        analyze=analyze_newton,
        plot=plot_newton,
        params={"eigenvalues": [1.0, 10.0, 100.0, 1000.0]},
        rule={"tolerance": 1e-12},
        statistic="max over seeds of f_1 / f_0",
        seeds=3,
        kind="exact",
        fast=True,
        cost_s=0.3,
    )
)


# --- momentum needs ~sqrt(kappa) iterations, GD ~kappa -----------------------------------------


def iterations_to(step, bowl: Quadratic, eps: float, limit: int) -> int:
    """Updates until f <= eps * f_0 (``limit`` if never)."""
    target = eps * bowl.loss(bowl.w).item()
    for k in range(1, limit + 1):
        step(NO_DATA, None)
        if bowl.loss(bowl.w).item() <= target:
            return k
    return limit


def measure_momentum(seed: int, kappas: list, eps: float, dim: int, limit: int) -> dict:
    """Iterations to f <= eps f_0 on a quadratic with eigenvalues log-spaced in [1, kappa]:
    GD at lr = 2/(1 + kappa) and heavy-ball momentum (torch's form, ``optimizer.momentum``) at
    Polyak's rates lr = 4/(1 + sqrt kappa)^2, mu = ((sqrt kappa - 1)/(sqrt kappa + 1))^2."""
    out = {"gd": [], "momentum": []}
    for kappa in kappas:
        eig = np.geomspace(1.0, kappa, dim).tolist()
        s = math.sqrt(kappa)
        for name, over in (
            ("gd", [f"optimizer.lr={2 / (1 + kappa)}"]),
            (
                "momentum",
                [
                    f"optimizer.lr={4 / (1 + s) ** 2}",
                    f"optimizer.momentum={((s - 1) / (s + 1)) ** 2}",
                ],
            ),
        ):
            bowl = Quadratic(eig, seed)
            out[name].append(iterations_to(quadratic_step(bowl, seed, *over), bowl, eps, limit))
    return {"kappa": list(kappas), **out}


def _log_slope(results: list[dict], key: str) -> Estimate:
    """The slope of log(``key``) on log(kappa), fitted per seed, its mean over seeds."""
    return seed_slopes(
        [[math.log(k) for k in r["kappa"]] for r in results],
        [[math.log(v) for v in r[key]] for r in results],
    )


def analyze_momentum(results: list[dict], rule: dict):
    """Slope of log(iterations) on log(kappa) for momentum, fitted per seed and t-tested over
    the seeds' slopes: TOST against 1/2 with the stated margin (GD's slope, expected 1, in the
    sentence)."""
    fit = _log_slope(results, "momentum")
    out = equivalence_verdict(fit, 0.5, rule["margin"], "momentum's log-log slope")
    return out.also(f"; GD's slope {_log_slope(results, 'gd').value:.3f}")


def plot_momentum(results: list[dict], row: dict, ax) -> None:
    for key, color in (("gd", "C0"), ("momentum", "C1")):
        for i, r in enumerate(results):
            ax.loglog(
                r["kappa"], r[key], "o", color=color, alpha=0.5, label=key if i == 0 else None
            )
    ax.set_xlabel("condition number kappa")
    ax.set_ylabel("iterations to f <= eps f_0")
    ax.legend()


register(
    Claim(
        id="momentum-sqrt-kappa",
        statement="With momentum, gradient descent reaches a given accuracy on an ill-conditioned "
        "quadratic in ~sqrt(kappa) iterations, where plain GD needs ~kappa.",
        lecture="000_c258a766373167ad.txt",
        slide="s15-18",
        measure=measure_momentum,
        analyze=analyze_momentum,
        plot=plot_momentum,
        params={"kappas": [10.0, 30.0, 100.0, 300.0], "eps": 1e-6, "dim": 10, "limit": 20000},
        rule={"margin": 0.1},
        statistic="slope of log iterations on log kappa (momentum)",
        seeds=5,
        fast=True,
        cost_s=2.0,
        note="Both methods at their optimal constant rates "
        "(Polyak 1964), so that the comparison is of the methods, not of a rate choice.",
    )
)


# --- variance of the minibatch gradient falls as 1/b -------------------------------------------


def measure_gradient_variance(seed: int, sizes: list, draws: int, samples: int) -> dict:
    """A small MLP at initialization on moons: the mean squared distance between a random
    minibatch's gradient (``Step.compute_gradients``) and the full-batch gradient, per batch
    size b (``draws`` minibatches each, drawn without replacement)."""
    cfg = config(seed, 'data.name="moons"', f"data.samples={samples}", "model.hidden=[16]")
    x, y = toy(cfg)
    model, step = model_step(cfg, x)

    def grad(i):
        step.compute_gradients(x[i], y[i])
        return torch.cat([p.grad.flatten() for p in model.parameters()])

    full = grad(torch.arange(len(x)))
    g = torch.Generator().manual_seed(seed)
    variances = []
    for b in sizes:
        d = [
            (grad(torch.randperm(len(x), generator=g)[:b]) - full).square().sum().item()
            for _ in range(draws)
        ]
        variances.append(float(np.mean(d)))
    return {"b": list(sizes), "variance": variances}


def analyze_gradient_variance(results: list[dict], rule: dict):
    """Slope of log(variance) on log(b), fitted per seed and t-tested over the seeds' slopes;
    TOST against -1 (margin stated)."""
    fit = seed_slopes(
        [[math.log(b) for b in r["b"]] for r in results],
        [[math.log(v) for v in r["variance"]] for r in results],
    )
    return equivalence_verdict(fit, -1.0, rule["margin"], "log-log slope")


def plot_gradient_variance(results: list[dict], row: dict, ax) -> None:
    for r in results:
        ax.loglog(r["b"], r["variance"], "o", color="C0", alpha=0.5)
    b = np.asarray(results[0]["b"], dtype=float)
    mid = np.exp(np.mean([np.log(v) for r in results for v in r["variance"]]))
    ax.loglog(
        b,
        mid * (b / np.exp(np.log(b).mean())) ** row["estimate"],
        "k-",
        label=f"fit: slope {row['estimate']:.2f}",
    )
    ax.set_xlabel("batch size b")
    ax.set_ylabel("E|g_b - g|^2")
    ax.legend()


register(
    Claim(
        id="minibatch-variance-1-over-b",
        statement="The variance of the minibatch gradient is 1/b times the variance of a single "
        "sample's: var(Err) = 1/b var(div).",
        lecture="000_c258a766373167ad.txt",
        slide="s80 (and s62-65)",
        measure=measure_gradient_variance,
        analyze=analyze_gradient_variance,
        plot=plot_gradient_variance,
        params={"sizes": [1, 2, 4, 8, 16, 32], "draws": 200, "samples": 2000},
        rule={"margin": 0.1},
        statistic="slope of log variance on log b",
        seeds=5,
        fast=False,
        cost_s=1.0,
        note="Sampling without replacement from N samples gives (N-b)/(N-1) of 1/b; "
        "with b <= 32 and N = 2000 that bends the slope by less than 0.01.",
    )
)
