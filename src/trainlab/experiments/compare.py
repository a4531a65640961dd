"""``trainlab compare``: a grid of variants x seeds, run in parallel (:mod:`.grid`), summarized
with confidence intervals and significance tests on a chosen metric, plotted, and reported in one
HTML page.

Metrics (``--metric``), one value per run:

- ``test_accuracy`` (default), ``test_loss``, ``best_val_accuracy``: from the run's summary; a
  diverged run has none; for multi-label data the accuracies are exact-match ones, and
  ``test_label_accuracy`` is the fraction of labels right (multi-label data only);
- ``epochs_to_target``: the first epoch whose ``val_accuracy`` is >= ``--target``, from the run's
  ``metrics.jsonl``; ``time_to_target``: the summed ``time_s`` (training and validation) of the
  epochs up to and including that one: time-to-result, as MLCommons AlgoPerf scores training
  algorithms. A run that never reaches the target has no value; the summary counts the seeds
  that did (``reached``) and its statistics are over those.

Lower is better for ``test_loss`` and the two ``*_to_target``; higher for the others. The seeds of
every variant are the same, so pairs of variants are compared with a paired t-test on the seeds
both have a value for (Welch's when fewer than two are common), Holm-corrected.

Layout of ``--out``::

    compare.json          what was asked (base config, --vary, seeds): a re-run must ask the same
    runs/<variant>/seed-<k>/   ordinary run folders; finished ones are read, unfinished resumed
    summary.csv           one row per variant: mean and 95% CI of test accuracy and loss, ...,
                          and of the chosen metric (metric, <metric>_mean, <metric>_ci95, reached)
    curves.png            learning curves, mean and 95% band across seeds
    final.png             the chosen metric per variant, every seed and mean +- 95% CI
    report.html           all of it in one self-contained page
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import NamedTuple

from ..analysis import stats
from ..config import PLAIN, resolve
from ..config.resolve import task
from ..errors import UserError
from ..processes import threads_per_process
from ..runs.rundir import RunDir
from . import grid
from .grid import parse_axes, parse_vary, split_values, variant_name  # noqa: F401 (as before)

METRICS = {
    "test_accuracy": ("test accuracy", False),
    "test_loss": ("test loss", True),
    "best_val_accuracy": ("best validation accuracy", False),
    "test_label_accuracy": ("test per-label accuracy", False),
    "epochs_to_target": ("epochs to target", True),
    "time_to_target": ("seconds to target", True),
}
TARGET_METRICS = ("epochs_to_target", "time_to_target")


class Metric(NamedTuple):
    """What a comparison is scored on: ``name`` (a key of :data:`METRICS`), how the report calls
    it, its direction, and the validation accuracy to reach (``*_to_target`` only)."""

    name: str
    label: str
    lower_is_better: bool
    target: float | None = None


def choose_metric(name: str = "test_accuracy", target: float | None = None) -> Metric:
    """The :class:`Metric` for ``--metric name --target target``, checked."""
    if name not in METRICS:
        raise UserError(f"--metric {name!r}: expected one of {', '.join(METRICS)}")
    if name in TARGET_METRICS:
        if target is None:
            raise UserError(f"--metric {name} needs --target X (a validation accuracy in (0, 1])")
        if not 0 < target <= 1:
            raise UserError(f"--target {target}: expected a validation accuracy in (0, 1]")
    elif target is not None:
        raise UserError(f"--target is only used with --metric {' or '.join(TARGET_METRICS)}")
    label, lower = METRICS[name]
    return Metric(name, label, lower, target)


def to_target(history: list[dict], target: float) -> tuple[int | None, float | None]:
    """(epoch, seconds) at which ``val_accuracy`` first reaches ``target`` (>=): that epoch's
    number and the summed ``time_s`` of the epochs up to and including it; (None, None) if it
    never does."""
    seconds = 0.0
    for row in history:
        seconds += row["time_s"]
        accuracy = row.get("val_accuracy")
        if accuracy is not None and accuracy >= target:
            return row["epoch"], seconds
    return None, None


def run_value(metric: Metric, summary: dict, history: list[dict]) -> float | None:
    """One run's value of ``metric``; None when it has none (diverged, not evaluated, or the
    target never reached)."""
    if metric.name in TARGET_METRICS:
        epoch, seconds = to_target(history, metric.target)
        return epoch if metric.name == "epochs_to_target" else seconds
    if metric.name not in summary:  # test_label_accuracy of single-label data
        raise UserError(
            f"--metric {metric.name}: for multi-label data only (a 0/1 matrix of labels)"
        )
    if summary["diverged"]:
        return None
    return summary[metric.name]


def run(
    base,
    overrides: list[str],
    vary: list[str],
    seeds: int,
    jobs: int | None,
    out: Path,
    log=print,
    metric: str = "test_accuracy",
    target: float | None = None,
    plain: bool = False,
    cluster: str | None = None,
    vectorize: str = "auto",
) -> list[dict]:
    """Run (or continue) the grid into ``out``; returns the summary rows. ``plain``: every
    variant over :data:`trainlab.config.PLAIN` (``--plain``, the bare algorithm). ``cluster``:
    the address of a Dask scheduler whose workers train the runs (``--cluster``,
    :mod:`.cluster`). ``vectorize`` (auto, on, off): runs that differ only in seed and numeric
    hyperparameters train together (:mod:`trainlab.vectorized`)."""
    if seeds < 1:
        raise UserError(f"--seeds {seeds}: expected an integer >= 1")
    jobs = grid.workers(jobs)
    base_config = resolve(base, overrides, presets=PLAIN if plain else None)
    regression = task(base_config.data.name) == "regression"
    chosen = choose_metric(regression_metric(metric) if regression else metric, target)
    if regression:
        chosen = chosen._replace(label="test mean squared error")
    variants = parse_vary(vary, base, overrides, plain=plain)
    with grid.check_manifest(
        out, "compare.json", {"base": base_config, "vary": vary, "seeds": seeds}, "comparison"
    ):
        tasks = grid.seed_tasks(
            base,
            grid.with_threads(base, overrides, threads_per_process(jobs)),
            variants,
            seeds,
            out / "runs",
            plain,
        )

        def progress(task: grid.Task, summary: dict, done: int, total: int) -> None:
            name, k = task.key
            if summary["diverged"]:  # a run that diverged in its first epoch has no test score
                result = "diverged"
            elif regression:
                result = f"test mse {summary['test_loss']:.4f}"
            else:
                result = f"test accuracy {summary['test_accuracy']:.4f}"
            log(f"[{done}/{total}] {name} seed {k}: {result}")

        summaries = grid.run_tasks(
            tasks, jobs, on_result=progress, cluster=cluster, vectorize=vectorize
        )
        together = [s.get("trained_together", 1) for s in summaries]
        grouped = sum(1 for t in together if t > 1)
        if grouped:
            log(
                f"{grouped} of {len(summaries)} runs trained in vectorized groups (up to "
                f"{max(together)} models at once)"
            )
        runs = {t.key: (s, _history(Path(t.folder))) for t, s in zip(tasks, summaries)}
        rows = summarize(variants, seeds, runs, chosen)
        write_outputs(out, rows, runs, base_config, seeds, chosen)
        return rows


def regression_metric(name: str) -> str:
    """A regression task is scored on its test mean squared error (``test_loss``), the default
    there; the accuracy metrics do not exist for it."""
    if name == "test_accuracy":  # the default
        return "test_loss"
    if name != "test_loss":
        raise UserError(
            f"--metric {name}: the data is a regression task (no accuracy); "
            "expected test_loss (its mean squared error)"
        )
    return name


def _history(folder: Path) -> list[dict]:
    """The run's metrics.jsonl: one dict per epoch."""
    return RunDir(folder).read_metrics()


def _columns(name: str, variant: dict, seeds: int, summaries: list[dict]) -> dict:
    """The columns every summary.csv has had: test accuracy and loss (mean, 95% CI) over the
    seeds that did not diverge, mean best epoch, seconds per epoch, diverged seeds."""
    ok = [r for r in summaries if not r["diverged"] and r["test_loss"] is not None]
    acc, acc_ci = stats.mean_ci([r["test_accuracy"] for r in ok])
    loss, loss_ci = stats.mean_ci([r["test_loss"] for r in ok])
    best_epoch, _ = stats.mean_ci([r["best_epoch"] for r in ok])
    per_epoch = [r["wall_time_s"] / r["epochs_run"] for r in summaries if r["epochs_run"]]
    by_task = (
        {"baseline_test_loss_mean": stats.mean_ci([r["baseline_test_loss"] for r in ok])[0]}
        if summaries and summaries[0].get("task") == "regression"
        else {}
    )
    if summaries and summaries[0].get("task") == "multilabel":  # the accuracy is exact-match
        labels = stats.mean_ci([r["test_label_accuracy"] for r in ok])
        by_task = {"test_label_accuracy_mean": labels[0], "test_label_accuracy_ci95": labels[1]}
    return {
        "variant": name,
        **variant,
        "seeds": seeds,
        "test_accuracy_mean": acc,
        "test_accuracy_ci95": acc_ci,
        "test_loss_mean": loss,
        "test_loss_ci95": loss_ci,
        "best_epoch_mean": best_epoch,
        "time_per_epoch_s": sum(per_epoch) / len(per_epoch) if per_epoch else math.nan,
        "diverged": len(summaries) - len(ok),
        "accuracies": [r["test_accuracy"] for r in ok],
        **by_task,
    }


def summarize(variants: list[dict], seeds: int, runs: dict, metric: Metric) -> list[dict]:
    """One row per variant from ``runs[(variant name, k)] = (summary, history)``: the standard
    columns, then ``metric``, ``<metric>_mean``, ``<metric>_ci95`` over the seeds that have a
    value, ``reached`` (target metrics: how many seeds reached the target), and ``values``
    (``{seed index: value}``, for the tests and plots)."""
    rows = []
    for variant in variants:
        name = variant_name(variant)
        pairs = [runs[(name, k)] for k in range(seeds)]
        row = _columns(name, variant, seeds, [summary for summary, _ in pairs])
        values = {
            k: value
            for k, (summary, history) in enumerate(pairs)
            if (value := run_value(metric, summary, history)) is not None
        }
        mean, ci = stats.mean_ci(list(values.values()))
        row.update({"metric": metric.name, f"{metric.name}_mean": mean, f"{metric.name}_ci95": ci})
        if metric.target is not None:
            row["reached"] = len(values)
        rows.append({**row, "values": values})
    return rows


def write_outputs(
    out: Path, rows: list[dict], runs: dict, base: dict, seeds: int, metric: Metric
) -> None:
    """summary.csv, curves.png, final.png and report.html."""
    from ..analysis.report import compare_report

    keys = [k for k in rows[0] if k not in ("accuracies", "values")]
    with (out / "summary.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (json.dumps(v) if isinstance(v, list) else v) for k, v in r.items()})
    curves: dict[str, list[list[dict]]] = {r["variant"]: [] for r in rows}  # variants' order
    for (name, _), (_, history) in runs.items():
        curves[name].append(history)
    plot_curves(out / "curves.png", curves)
    plot_final(out / "final.png", rows, metric)
    tests = stats.pairwise(
        {r["variant"]: r["values"] for r in rows}, higher_is_better=not metric.lower_is_better
    )
    compare_report(out / "report.html", rows, tests, base, seeds, metric)


def plot_curves(path: Path, curves: dict[str, list[list[dict]]]):
    """Mean and 95% band across seeds of each metric, per epoch (seeds that stopped early count
    up to their last epoch); one legend for all panels, each variant in its own look (by the
    variants' order, as in final.png). Returns the figure."""
    from ..analysis import style

    metrics = [
        ("train_loss", "train loss"),
        ("val_loss", "validation loss"),
        ("train_accuracy", "train accuracy"),
        ("val_accuracy", "validation accuracy"),
    ]
    first = next((h[0] for runs in curves.values() for h in runs if h), {})
    if "val_accuracy" not in first and "val_loss" in first:  # regression: losses only (MSE)
        metrics = [("train_loss", "train loss (MSE)"), ("val_loss", "validation loss (MSE)")]
    fig, axes = style.figure(10, 3.4 * (len(metrics) // 2), len(metrics) // 2, 2, squeeze=False)
    look = style.looks(curves)
    for ax, (key, title) in zip(axes.flat, metrics):
        lowest = math.inf  # the smallest positive mean of a curve whose band reaches 0
        floor = math.inf  # the smallest positive value any curve or band draws
        for name, runs in curves.items():
            epochs = max(len(h) for h in runs)
            mean, lo, hi, xs = [], [], [], []
            for e in range(epochs):
                m, ci = stats.mean_ci([h[e][key] for h in runs if len(h) > e and key in h[e]])
                if math.isnan(m):
                    continue
                ci = 0.0 if math.isnan(ci) else ci
                xs.append(e + 1), mean.append(m), lo.append(m - ci), hi.append(m + ci)
            ax.plot(xs, mean, lw=1.5, label=name, **look[name].line(), markersize=3)
            ax.fill_between(xs, lo, hi, color=look[name].color, alpha=0.2, lw=0)
            floor = min([v for v in mean + lo if v > 0] + [floor])
            if any(v <= 0 for v in lo):  # the band cannot be drawn down to 0 on a log axis
                lowest = min([m for m in mean if m > 0] + [lowest])
        ax.set_title(title)
        ax.set_xlabel("epoch")
        style.integer_ticks(ax.xaxis)
        if key.endswith("loss"):
            style.plain_log(ax, "y")
            if math.isfinite(lowest):  # a band reaching 0 or below runs off the bottom edge
                ax.set_ylim(bottom=min(lowest / 3, floor))
    longest = max(len(name) for name in curves)
    style.outside_legend(
        fig,
        axes.flat[0],
        "outside lower center",
        title="variant",
        ncols=min(len(curves), 4 if longest <= 24 else 2),
    )
    return style.save(fig, path)


def plot_final(path: Path, rows: list[dict], metric: Metric):
    """The metric per variant: every seed's value (dots in the variant's look), mean and 95% CI
    (black). Returns the figure."""
    from ..analysis import style

    # a variant's name on lines split at its commas, each label ~0.075 in per character
    labels = [r["variant"].replace(",", ",\n") for r in rows]
    needed = 0.075 * max(len(line) for label in labels for line in label.split("\n"))
    fits = len(rows) * needed + 1.5 <= 10
    width = min(10, max(5, len(rows) * needed + 1.5))
    fig, ax = style.figure(width, 4.5 + 0.15 * max(label.count("\n") for label in labels))
    look = style.looks(r["variant"] for r in rows)
    for i, r in enumerate(rows):
        values = list(r["values"].values())
        ax.scatter([i] * len(values), values, color=look[r["variant"]].color, alpha=0.6, s=18)
        ci = r[f"{metric.name}_ci95"]
        ax.errorbar(
            i + 0.15,
            r[f"{metric.name}_mean"],
            yerr=0 if math.isnan(ci) else ci,
            fmt="o",
            color="black",
            capsize=4,
            markersize=5,
        )
    ax.set_xticks(
        range(len(rows)),
        labels,
        rotation=0 if fits else 20,
        ha="center" if fits else "right",
        fontsize=8,
    )
    ax.set_xlim(-0.5, len(rows) - 0.5)
    ax.set_ylabel(metric.label)
    if metric.name == "epochs_to_target":
        style.integer_ticks(ax.yaxis)
    ax.set_title(f"{metric.label}\nseeds (dots), mean and 95% CI (black)", fontsize=10)
    return style.save(fig, path)
