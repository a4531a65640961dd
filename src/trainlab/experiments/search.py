"""``trainlab search``: hyper-parameter search on held-out data (lecture 000, "setting up a
problem": grid search for the hyper-parameters on held-out data), with Optuna.

- Every trial is scored on the **validation split only**: the mean over ``--seeds`` of the best
  value of ``early_stopping.monitor`` (validation accuracy by default) reached during training.
  Trial runs never evaluate the test split (their summaries say ``test_accuracy: null``).
- Samplers: ``grid`` (every combination of the ``--grid`` values), ``random`` and ``tpe``
  (``--trials`` draws from the same values, Bergstra et al. 2011), all seeded.
- Optuna's median pruner stops a trial whose validation score after an epoch is below the median
  of earlier trials at that epoch (after 3 trials and 2 epochs).
- The study lives in ``study.db`` (SQLite): re-running the same command with the same ``--out``
  continues it.
- Then the best configuration is trained once more (``best/``) and evaluated, once, on the test
  split.

Outputs: ``results.csv`` (one row per trial), ``search.png`` (validation score against each
searched parameter), ``best/`` (an ordinary run folder).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .. import api
from .compare import parse_axes, parse_vary
from ..config import resolve
from ..errors import UserError

SAMPLERS = ("grid", "random", "tpe")


def _overrides(params: dict) -> list[str]:
    return [f"{k}={json.dumps(v)}" for k, v in params.items()]


def run(base, overrides: list[str], grid: list[str], sampler: str, trials: int | None,
        seeds: int, out: Path, log=print) -> dict:
    import optuna

    if sampler not in SAMPLERS:
        raise UserError(f"--sampler {sampler!r}: expected one of {', '.join(SAMPLERS)}")
    if seeds < 1:
        raise UserError(f"--seeds {seeds}: expected an integer >= 1")
    if trials is not None and trials < 1:
        raise UserError(f"--trials {trials}: expected an integer >= 1")
    axes = parse_axes(grid, "--grid")
    combos = parse_vary(grid, base, overrides, "--grid")  # validates every combination
    config = resolve(base, overrides)
    monitor = config["early_stopping"]["monitor"]
    maximize = monitor.endswith("accuracy")
    if not monitor.startswith("val_"):
        raise UserError(f"early_stopping.monitor = {monitor!r}: a search scores trials on the "
                        "validation split; use val_accuracy or val_loss")
    total = trials or (len(combos) if sampler == "grid" else None)
    if total is None:
        raise UserError(f"--sampler {sampler} needs --trials N")

    out.mkdir(parents=True, exist_ok=True)
    manifest = {"base": config, "grid": grid, "sampler": sampler, "seeds": seeds}
    stored = out / "search.json"
    if stored.exists() and json.loads(stored.read_text()) != json.loads(json.dumps(manifest)):
        raise UserError(f"--out {str(out)!r} holds a different search; choose a new --out")
    stored.write_text(json.dumps(manifest, indent=2) + "\n")

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    choices = {k: [json.dumps(v) for v in values] for k, values in axes}
    samplers = {"grid": lambda: optuna.samplers.GridSampler(choices, seed=config["seed"]),
                "random": lambda: optuna.samplers.RandomSampler(seed=config["seed"]),
                "tpe": lambda: optuna.samplers.TPESampler(seed=config["seed"])}
    study = optuna.create_study(
        study_name="trainlab", storage=f"sqlite:///{out / 'study.db'}", sampler=samplers[sampler](),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
        direction="maximize" if maximize else "minimize", load_if_exists=True)
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    best_key = "best_val_accuracy" if maximize else "best_val_loss"

    def objective(trial) -> float:
        params = {k: json.loads(trial.suggest_categorical(k, choices[k])) for k, _ in axes}
        scores = []
        for s in range(seeds):
            def report(metrics, first=(s == 0)):
                if first:  # the pruner compares the first seed's curve with earlier trials'
                    trial.report(metrics[monitor], metrics["epoch"])
                    if trial.should_prune():
                        log(f"trial {trial.number}: {params} pruned after epoch "
                            f"{metrics['epoch']} ({monitor} {metrics[monitor]:.4f})")
                        raise optuna.TrialPruned()
            cfg = resolve(base, list(overrides) + _overrides(params) + [f"seed={config['seed'] + s}"])
            summary = api.train(cfg, out=out / "trials" / f"trial-{trial.number}" / f"seed-{s}",
                                progress="quiet", test=False, on_epoch=report)
            scores.append(summary[best_key])
        value = sum(scores) / len(scores)
        log(f"trial {trial.number}: {params} -> {monitor} {value:.4f}")
        return value

    done = sum(t.state in finished for t in study.trials)
    if done < total:
        study.optimize(objective, n_trials=total - done, catch=())
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise UserError("no trial completed (all were pruned); widen the --grid values")
    best = study.best_trial
    params = {k: json.loads(v) for k, v in best.params.items()}
    best_dir = out / "best"
    if (best_dir / "config.toml").exists():
        final = api.resume(best_dir, progress="quiet")
    else:
        final = api.train(resolve(base, list(overrides) + _overrides(params)), out=best_dir,
                          progress="quiet")
    write_results(out, study, axes, monitor)
    return {"best_params": params, "best_value": best.value, "monitor": monitor,
            "test_accuracy": final["test_accuracy"], "test_loss": final["test_loss"],
            "trials": len(study.trials), "best_run": str(best_dir)}


def write_results(out: Path, study, axes: list, monitor: str) -> None:
    keys = [k for k, _ in axes]
    rows = [{"trial": t.number, "state": t.state.name.lower(),
             "value": t.value if t.value is not None else "",
             **{k: t.params.get(k, "") for k in keys}} for t in study.trials]
    with (out / "results.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["trial", "state", "value", *keys])
        w.writeheader()
        w.writerows(rows)
    from ..analysis.plots import figure

    scored = [r for r in rows if r["value"] != ""]
    fig, axs = figure(4.2 * len(keys), 3.8, 1, len(keys))
    for ax, key in zip(list(axs.flat) if len(keys) > 1 else [axs], keys):
        values = dict(axes)[key]
        labels = [json.dumps(v) if not isinstance(v, str) else v for v in values]
        position = {json.dumps(v): i for i, v in enumerate(values)}
        xs = [position[r[key]] for r in scored]
        ax.scatter(xs, [r["value"] for r in scored], alpha=0.7)
        ax.set_xticks(range(len(values)), labels, rotation=20, fontsize=8)
        ax.set_xlabel(key)
        ax.set_ylabel(f"{monitor} (mean over seeds)")
    fig.savefig(out / "search.png", dpi=120)


