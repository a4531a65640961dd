"""``trainlab compare``: a grid of variants x seeds, run in parallel, summarized with confidence
intervals and significance tests, plotted, and reported in one HTML page.

Layout of ``--out``::

    compare.json          what was asked (base config, --vary, seeds): a re-run must ask the same
    runs/<variant>/seed-<k>/   ordinary run folders; finished ones are skipped, unfinished resumed
    summary.csv           one row per variant: mean and 95% CI of test accuracy and loss, ...
    curves.png            learning curves, mean and 95% band across seeds
    final.png             final test accuracy per variant, every seed and mean +- 95% CI
    report.html           all of it in one self-contained page
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from .. import api

from ..analysis import stats
from ..config import parse_override, resolve
from ..errors import UserError


def split_values(text: str) -> list[str]:
    """``"a,[1,2],'x,y'"`` -> ``["a", "[1,2]", "'x,y'"]``: commas inside brackets or quotes
    do not split."""
    parts, depth, quote, current = [], 0, None, ""
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += ch
    parts.append(current.strip())
    return parts


def parse_axes(items: list[str], flag: str = "--vary") -> list[tuple[str, list[Any]]]:
    """``["optimizer.name=sgd,adam", "train.batch_size=32,128"]`` ->
    ``[("optimizer.name", ["sgd", "adam"]), ("train.batch_size", [32, 128])]``."""
    axes = []
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"{flag} {item!r}: expected key=value1,value2,...")
        parsed = [parse_override(f"{key}={v}")[1] for v in split_values(values) if v != ""]
        if not parsed:
            raise UserError(f"{flag} {item!r}: the list of values is empty")
        if len({json.dumps(v) for v in parsed}) < len(parsed):
            raise UserError(f"{flag} {item!r}: a value is repeated")
        if key in [k for k, _ in axes]:
            raise UserError(f"{flag} {key}: given twice; put all its values in one {flag}")
        axes.append((key, parsed))
    if not axes:
        raise UserError(f"at least one {flag} key=value1,value2,... is needed")
    return axes


def parse_vary(items: list[str], base=None, overrides: list[str] | None = None,
               flag: str = "--vary") -> list[dict[str, Any]]:
    """Every combination of :func:`parse_axes`, each as ``{"optimizer.name": "sgd", ...}``;
    every one is validated as a config."""
    axes = parse_axes(items, flag)
    grid = [dict(zip([k for k, _ in axes], combo)) for combo in itertools.product(*(v for _, v in axes))]
    for variant in grid:  # any bad key or value fails here, before anything runs
        resolve(base, list(overrides or []) + [f"{k}={json.dumps(v)}" for k, v in variant.items()])
    return grid


def variant_name(variant: dict[str, Any]) -> str:
    return ",".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in variant.items())


def _folder(variant: dict[str, Any]) -> str:
    safe = variant_name(variant).replace("/", "_").replace(" ", "").replace('"', "")
    return safe.replace(",", "__")


def _run_one(config: dict, folder: str, threads: int) -> dict:
    """One seed of one variant, in a worker process: train, resume, or read the finished run."""
    import torch

    torch.set_num_threads(threads)
    path = Path(folder)
    if (path / "summary.json").exists() or (path / "config.toml").exists():
        return api.resume(path, progress="quiet")
    return api.train(config, out=path, progress="quiet")


def run(base, overrides: list[str], vary: list[str], seeds: int, jobs: int | None, out: Path,
        log=print) -> list[dict]:
    """Run (or continue) the grid into ``out``; returns the summary rows."""
    if seeds < 1:
        raise UserError(f"--seeds {seeds}: expected an integer >= 1")
    jobs = jobs or os.cpu_count() or 1
    if jobs < 1:
        raise UserError(f"--jobs {jobs}: expected an integer >= 1")
    grid = parse_vary(vary, base, overrides)
    base_config = resolve(base, overrides)
    manifest = {"base": base_config, "vary": vary, "seeds": seeds}
    if out.exists() and any(out.iterdir()):
        existing = out / "compare.json"
        if not existing.exists():
            raise UserError(f"--out {str(out)!r} is not empty and holds no comparison")
        if json.loads(existing.read_text()) != json.loads(json.dumps(manifest)):
            raise UserError(f"--out {str(out)!r} holds a different comparison (other config, "
                            "--vary or --seeds); choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(manifest, indent=2) + "\n")

    tasks = []
    for variant in grid:
        for k in range(seeds):
            seed = base_config["seed"] + k
            cfg = resolve(base, list(overrides) + [f"{key}={json.dumps(v)}" for key, v in
                                                   variant.items()] + [f"seed={seed}"])
            tasks.append((variant, k, cfg, out / "runs" / _folder(variant) / f"seed-{k}"))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    results: dict[tuple[str, int], dict] = {}
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(_run_one, cfg, str(folder), threads): (variant, k)
                   for variant, k, cfg, folder in tasks}
        for done, future in enumerate(as_completed(futures), 1):
            variant, k = futures[future]
            summary = future.result()
            results[(variant_name(variant), k)] = summary
            acc = summary["test_accuracy"]
            log(f"[{done}/{len(tasks)}] {variant_name(variant)} seed {k}: "
                + ("diverged" if summary["diverged"] else f"test accuracy {acc:.4f}"))
    rows = summarize(grid, seeds, out, results)
    write_outputs(out, grid, seeds, rows, base_config)
    return rows


def _history(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def summarize(grid: list[dict], seeds: int, out: Path, results: dict) -> list[dict]:
    rows = []
    for variant in grid:
        name = variant_name(variant)
        runs = [results[(name, k)] for k in range(seeds)]
        ok = [r for r in runs if not r["diverged"] and r["test_accuracy"] is not None]
        acc, acc_ci = stats.mean_ci([r["test_accuracy"] for r in ok])
        loss, loss_ci = stats.mean_ci([r["test_loss"] for r in ok])
        best_epoch, _ = stats.mean_ci([r["best_epoch"] for r in ok])
        per_epoch = [r["wall_time_s"] / r["epochs_run"] for r in runs if r["epochs_run"]]
        rows.append({"variant": name, **variant, "seeds": seeds,
                     "test_accuracy_mean": acc, "test_accuracy_ci95": acc_ci,
                     "test_loss_mean": loss, "test_loss_ci95": loss_ci,
                     "best_epoch_mean": best_epoch,
                     "time_per_epoch_s": sum(per_epoch) / len(per_epoch) if per_epoch else math.nan,
                     "diverged": len(runs) - len(ok),
                     "accuracies": [r["test_accuracy"] for r in ok]})
    return rows


def write_outputs(out: Path, grid: list[dict], seeds: int, rows: list[dict], base: dict) -> None:
    from ..analysis.report import compare_report

    keys = [k for k in rows[0] if k != "accuracies"]
    with (out / "summary.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (json.dumps(v) if isinstance(v, list) else v) for k, v in r.items()})
    curves = {variant_name(v): [_history(out / "runs" / _folder(v) / f"seed-{k}")
                                for k in range(seeds)] for v in grid}
    plot_curves(out / "curves.png", curves)
    plot_final(out / "final.png", rows)
    tests = stats.pairwise({r["variant"]: r["accuracies"] for r in rows})
    compare_report(out / "report.html", rows, tests, base, grid, seeds)


def plot_curves(path: Path, curves: dict[str, list[list[dict]]]) -> None:
    """Mean and 95% band across seeds of each metric, per epoch (seeds that stopped early count
    up to their last epoch)."""
    from ..analysis.plots import figure, palette

    fig, axes = figure(11, 7.5, 2, 2)
    metrics = [("train_loss", "train loss"), ("val_loss", "validation loss"),
               ("train_accuracy", "train accuracy"), ("val_accuracy", "validation accuracy")]
    for ax, (key, title) in zip(axes.flat, metrics):
        for (name, runs), color in zip(curves.items(), palette(len(curves))):
            epochs = max(len(h) for h in runs)
            mean, lo, hi, xs = [], [], [], []
            for e in range(epochs):
                m, ci = stats.mean_ci([h[e][key] for h in runs if len(h) > e])
                if math.isnan(m):
                    continue
                ci = 0.0 if math.isnan(ci) else ci
                xs.append(e + 1), mean.append(m), lo.append(m - ci), hi.append(m + ci)
            ax.plot(xs, mean, color=color, lw=1.5, label=name)
            ax.fill_between(xs, lo, hi, color=color, alpha=0.2, lw=0)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        if key.endswith("loss"):
            ax.set_yscale("log")
    axes.flat[0].legend(fontsize=8)
    fig.savefig(path, dpi=120)


def plot_final(path: Path, rows: list[dict]) -> None:
    from ..analysis.plots import figure, palette

    fig, ax = figure(max(5, 1.2 * len(rows) + 2), 4.5)
    for i, (r, color) in enumerate(zip(rows, palette(len(rows)))):
        accs = r["accuracies"]
        ax.scatter([i] * len(accs), accs, color=color, alpha=0.5, s=18)
        ci = 0 if math.isnan(r["test_accuracy_ci95"]) else r["test_accuracy_ci95"]
        ax.errorbar(i + 0.15, r["test_accuracy_mean"], yerr=ci, fmt="o", color="black",
                    capsize=4, markersize=5)
    ax.set_xticks(range(len(rows)), [r["variant"] for r in rows], rotation=20, ha="right",
                  fontsize=8)
    ax.set_ylabel("test accuracy")
    ax.set_title("final test accuracy: seeds (dots), mean and 95% CI (black)")
    fig.savefig(path, dpi=120)
