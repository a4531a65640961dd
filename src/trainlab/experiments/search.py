"""``trainlab search``: hyper-parameter search on held-out data (lecture 000, "setting up a
problem": grid search for the hyper-parameters on held-out data), with Optuna.

- Every trial is scored on the **validation split only**: the mean over ``--seeds`` of the best
  value of ``early_stopping.monitor`` (validation accuracy by default) reached during training;
  a trial's seeds train together in one vectorized group where they can
  (:mod:`trainlab.vectorized`), else at once in one process each.
  Trial runs never evaluate the test split (their summaries say ``test_accuracy: null``).
- Samplers: ``grid`` (every combination of the ``--grid`` values), ``random`` and ``tpe``
  (``--trials`` draws from the same values, Bergstra et al. 2011), all seeded.
- Optuna's median pruner stops a trial whose validation score after an epoch (the mean over
  its seeds) is below the median of earlier trials at
  that epoch (after 3 trials and 2 epochs).
- The study lives in ``study.db`` (SQLite): re-running the same command with the same ``--out``
  continues it. A trial whose process was killed is failed once its heartbeat is 20 s old and
  retried with the same parameters; its runs, in a folder named by its parameters, resume.
- Then the best configuration is trained once more (``best/``) and evaluated, once, on the test
  split.

Trials run one after another (the pruner needs each epoch's score), through the grid runner's
:func:`~trainlab.api.train_or_resume`, like ``best/``;
``search.json`` is the experiment's manifest (:func:`~trainlab.experiments.grid.check_manifest`).

Outputs: ``results.csv`` (one row per trial), ``search.png`` (validation score against each
searched parameter), ``best/`` (an ordinary run folder; if a continued search finds another
best, that one goes to ``best-trial-<n>/`` and ``best/`` is kept).
"""

from __future__ import annotations

import csv
import json
import time
import warnings
from pathlib import Path

from ..api import train_or_resume
from ..config import PLAIN, resolve
from ..errors import UserError
from ..processes import threads_per_process
from ..runs.rundir import other_config
from ..training.early_stopping import maximizes
from ..vectorized import train_group, why_not, why_not_worth_it
from .grid import (
    VECTORIZE,
    as_overrides,
    check_manifest,
    parse_axes,
    parse_vary,
    plain,
    seed_configs,
    variant_config,
    variant_folder,
    with_threads,
)

SAMPLERS = ("grid", "random", "tpe")


def _check(
    base,
    overrides: list[str],
    grid: list[str],
    sampler: str,
    trials: int | None,
    seeds: int,
    plain: bool = False,
) -> tuple[list, dict, int]:
    """Validate the arguments before anything is written; returns the searched axes, the base
    config and the number of trials to run in all."""
    if sampler not in SAMPLERS:
        raise UserError(f"--sampler {sampler!r}: expected one of {', '.join(SAMPLERS)}")
    if seeds < 1:
        raise UserError(f"--seeds {seeds}: expected an integer >= 1")
    if trials is not None and trials < 1:
        raise UserError(f"--trials {trials}: expected an integer >= 1")
    axes = parse_axes(grid, "--grid")
    combos = parse_vary(grid, base, overrides, "--grid", plain)  # validates every combination
    config = resolve(base, overrides, presets=PLAIN if plain else None)
    monitor = config.early_stopping.monitor
    if config.data.val_fraction == 0:
        raise UserError(
            "data.val_fraction = 0: a search scores trials on the validation split; "
            "hold one out (e.g. data.val_fraction = 0.1)"
        )
    if not monitor.startswith("val_"):
        raise UserError(
            f"early_stopping.monitor = {monitor!r}: a search scores trials on the "
            "validation split; use val_accuracy or val_loss"
        )
    total = trials or (len(combos) if sampler == "grid" else None)
    if total is None:
        raise UserError(f"--sampler {sampler} needs --trials N")
    return axes, config, total


class Duplicate(Exception):
    """A trial whose parameters an earlier trial, still running elsewhere, has: it ends as
    failed, without training."""


OPEN_ATTEMPTS = 5  # a storage that fails to open is tried again (processes creating it at once)
HEARTBEAT_S = 5.0  # a running trial's process writes a heartbeat this often
# in a shared study, a trial waits this long before looking for an earlier twin: two processes
# can create trials at once, and the earlier one's parameters reach the storage a moment later
SETTLE_S = 0.5
GRACE_S = 20.0  # a trial without a heartbeat for this long is failed and retried


def _storage(url: str | None, out: Path):
    """An Optuna storage: ``out/study.db`` (SQLite) by default; any database URL Optuna takes
    (``sqlite:///``, ``postgresql://``, ``mysql://``), with heartbeats; or ``journal:PATH``,
    Optuna's journal file for a disk the machines share (no heartbeats: a killed process's
    trial stays running there)."""
    from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
    from optuna.storages.journal import JournalFileBackend

    if url and url.startswith("journal:"):
        return JournalStorage(JournalFileBackend(url[len("journal:") :]))
    for attempt in range(OPEN_ATTEMPTS):
        try:
            return RDBStorage(
                url or f"sqlite:///{out / 'study.db'}",
                heartbeat_interval=int(HEARTBEAT_S),
                grace_period=int(GRACE_S),
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=3),
            )
        except ImportError:
            raise UserError(
                f"--storage {url!r} needs its database driver: pip install "
                "'psycopg[binary]' (PostgreSQL) or pymysql (MySQL)"
            ) from None
        except Exception as e:  # sqlalchemy's: a bad URL, no server, or processes that
            if attempt == OPEN_ATTEMPTS - 1:  # create the same new database at once
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                if url:
                    raise UserError(f"--storage {url!r} cannot be opened: {first}") from None
                raise UserError(
                    f"the search's study {str(out / 'study.db')!r} cannot be opened ({first}); "
                    "if it is damaged, delete it: finished trials' runs are kept and read back"
                ) from None
            time.sleep(0.5 * (attempt + 1))


def _study(
    out: Path,
    choices: dict,
    sampler: str,
    seed: int,
    maximize: bool,
    storage: str | None = None,
    name: str = "trainlab",
    manifest: dict | None = None,
):
    """The Optuna study ``name`` in ``storage`` (created, or loaded to continue it). Trials
    keep a heartbeat: one whose process was killed is failed once its heartbeat is
    ``GRACE_S`` old and retried with the same parameters (Optuna's
    ``RetryHeartbeatStaleTrialCallback``). A shared study (``storage`` given) holds the
    search's manifest and refuses another search; each process's sampler is then seeded with
    the seed plus its process id, as Optuna advises for distributed searches."""
    import os

    import optuna

    # ERROR: Optuna logs a failed trial at WARNING with its traceback; trainlab reports the
    # failure itself in one line
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # heartbeats and stale-trial retries are marked experimental (stable since Optuna 2.9)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    if storage:
        seed = seed + os.getpid()
    samplers = {
        "grid": lambda: optuna.samplers.GridSampler(choices, seed=seed),
        "random": lambda: optuna.samplers.RandomSampler(seed=seed),
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed),
    }
    try:
        study = optuna.create_study(
            study_name=name,
            storage=_storage(storage, out),
            sampler=samplers[sampler](),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
            direction="maximize" if maximize else "minimize",
            load_if_exists=True,
        )
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - the storage's own error: a damaged or foreign file
        where = storage or str(out / "study.db")
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(
            f"the search's study {where!r} cannot be opened ({first[:200]}); if it is a "
            "damaged study.db, delete it: finished trials' runs are kept and read back"
        ) from None
    if manifest is not None:
        wanted = plain(manifest)
        found = study.user_attrs.get("trainlab_search")
        if found is None:
            study.set_user_attr("trainlab_search", wanted)
        elif found != wanted:
            raise UserError(
                f"study {name!r} in --storage holds another search (its grid, "
                "sampler, seeds or config differ); choose another --study"
            )
    return study


def _earlier_twin(trial):
    """An earlier trial of the study with the same parameters, if any: another process drew
    them first (two processes can draw the same grid point at once)."""
    from optuna.trial import TrialState

    live = (TrialState.RUNNING, TrialState.WAITING, TrialState.COMPLETE, TrialState.PRUNED)
    for other in trial.study.get_trials(deepcopy=False, states=live):
        if other.number < trial.number and other.params == trial.params:
            return other
    return None


def _seed_run(config: dict, folder: str, seed: int, events) -> None:
    """In a worker process: one seed's run of a trial, its epochs and summary sent to
    ``events``."""
    summary = train_or_resume(
        config,
        Path(folder),
        test=False,
        on_epoch=lambda metrics: events.put(("epoch", seed, metrics)),
    )
    events.put(("done", seed, summary))
    events.close()
    events.join_thread()


def _seeds_at_once(configs: list[dict], folders: list[Path], monitor: str, report) -> list[dict]:
    """Every seed's run of a trial, each in its own process, all at once; ``report(epoch,
    mean)`` is called with the mean ``monitor`` over the seeds once every running seed has
    finished that epoch (it may raise to prune the trial: the processes are then stopped)."""
    import queue

    from ..processes import CONTEXT, Processes

    events, curves = CONTEXT.Queue(), [{} for _ in configs]
    summaries: list[dict | None] = [None] * len(configs)
    reported = 0
    with Processes() as procs:
        for s, (config, folder) in enumerate(zip(configs, folders)):
            procs.start(
                _seed_run,
                (config, str(folder), s, events),
                threads=threads_per_process(len(configs)),
            )
        while any(x is None for x in summaries):
            try:
                kind, s, value = events.get(timeout=0.5)
            except queue.Empty:
                procs.raise_errors()
                if procs.lost():
                    raise UserError(
                        f"a seed's run of the trial ended without a result "
                        f"(processes {procs.lost()}); run the search again"
                    ) from None
                continue
            if kind == "done":
                summaries[s] = value
            else:
                curves[s][value["epoch"]] = value[monitor]
            while True:  # report each epoch every seed still running has finished
                e = reported + 1
                running = [c for c, x in zip(curves, summaries) if x is None]
                reached = [c[e] for c in curves if e in c]
                if not reached or not all(e in c for c in running):
                    break
                reported = e
                report(e, sum(reached) / len(reached))
        procs.join_all(60)
    return summaries


def _objective(
    base,
    overrides: list[str],
    choices: dict,
    seeds: int,
    monitor: str,
    out: Path,
    log,
    grid: bool = True,
    shared: bool = False,
    plain: bool = False,
    vectorize: str = "auto",
):
    """A trial: its parameters' runs for every seed, in ``trials/<parameters>/seed-<s>`` (a
    retried trial resumes them), never evaluated on the test split; the score is the mean of
    their best ``monitor``. The pruner sees, after every epoch, the mean over the seeds (seeds
    train together in this process, :func:`trainlab.vectorized.train_group`, unless
    ``vectorize`` is off or the trial's runs cannot; then at once, one process each; a single
    seed runs in this process). A trial whose runs diverged before any epoch could be scored
    counts as pruned."""
    import optuna
    from optuna.trial import TrialState

    best_key = "best_val_accuracy" if maximizes(monitor) else "best_val_loss"

    def objective(trial) -> float:
        params = {
            k: json.loads(trial.suggest_categorical(k, values)) for k, values in choices.items()
        }
        if shared:  # let a twin another process created just before this trial write its
            time.sleep(SETTLE_S)  # parameters, so that the check below sees it
        twin = _earlier_twin(trial)
        if twin is not None:  # never train one configuration twice
            if grid or twin.state not in (TrialState.COMPLETE, TrialState.PRUNED):
                # grid: a point two processes drew at once; failed, the sampler draws again
                raise Duplicate(f"trial {twin.number} has these parameters")
            if twin.state == TrialState.PRUNED:  # random, tpe: the same draw again
                raise optuna.TrialPruned()
            return twin.value

        def report(epoch: int, value: float) -> None:
            trial.report(value, epoch)
            if trial.should_prune():
                log(
                    f"trial {trial.number}: {params} pruned after epoch {epoch} "
                    f"({monitor} {value:.4f}, mean over seeds)"
                )
                raise optuna.TrialPruned()

        configs = seed_configs(base, overrides, params, seeds, plain)
        folders = [out / "trials" / variant_folder(params) / f"seed-{s}" for s in range(seeds)]
        if seeds == 1:
            summaries = [
                train_or_resume(
                    configs[0],
                    folders[0],
                    test=False,
                    on_epoch=lambda m: report(m["epoch"], m[monitor]),
                )
            ]
        elif _together(configs[0], vectorize):
            summaries = train_group(
                list(zip(configs, folders)),
                strict=vectorize == "on",
                test=False,
                on_epoch=lambda epoch, ended: report(epoch, _mean_of(ended, monitor)),
            )
        elif vectorize == "on":
            raise UserError(f"--vectorize on: {why_not(configs[0])}; use --vectorize auto or off")
        else:
            summaries = _seeds_at_once(configs, folders, monitor, report)
        if any(x[best_key] is None for x in summaries):  # diverged before any good epoch
            log(f"trial {trial.number}: {params} diverged (counted as pruned)")
            raise optuna.TrialPruned()
        value = sum(x[best_key] for x in summaries) / len(summaries)
        log(f"trial {trial.number}: {params} -> {monitor} {value:.4f}")
        return value

    return objective


def _together(config, vectorize: str) -> bool:
    """Whether a trial's seeds of ``config`` train together: ``on``, or ``auto`` where they
    can and it is worth it (:mod:`trainlab.vectorized.plan`)."""
    if vectorize == "off" or why_not(config) is not None:
        return False
    return vectorize == "on" or why_not_worth_it(config) is None


def _mean_of(ended: list[dict | None], monitor: str) -> float:
    """The mean ``monitor`` over the runs that finished an epoch (the pruner's value)."""
    values = [m[monitor] for m in ended if m is not None]
    return sum(values) / len(values) if values else float("nan")


def _finished(trials, grid: bool) -> int:
    """Trials that count toward the total: complete or pruned ones (grid: distinct points)."""
    from optuna.trial import TrialState

    done = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    return len({json.dumps(t.params, sort_keys=True) for t in done}) if grid else len(done)


def _optimize(study, objective, total: int, grid: bool = True) -> None:
    """Run trials until ``total`` are complete or pruned: stale trials (a killed process's) are
    failed and retried; trials another live process is running are waited for."""
    import optuna
    from optuna.trial import TrialState

    while True:
        optuna.storages.fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        done = _finished(trials, grid)
        running = sum(t.state == TrialState.RUNNING for t in trials)
        if done >= total:
            return
        if total - done - running > 0:
            study.optimize(objective, n_trials=total - done - running, catch=(Duplicate,))
        else:
            time.sleep(HEARTBEAT_S)


def run(
    base,
    overrides: list[str],
    grid: list[str],
    sampler: str,
    trials: int | None,
    seeds: int,
    out: Path,
    log=print,
    storage: str | None = None,
    study_name: str = "trainlab",
    plain: bool = False,
    vectorize: str = "auto",
) -> dict:
    """Run (or continue) the search into ``out``, then train the best configuration once more
    into ``out/best`` and evaluate it on the test split; returns what was found. ``storage``
    and ``study_name``: a study shared with other ``trainlab search`` processes, on this
    machine or others (each takes trials no other has; each writes its own ``out``). ``plain``:
    every trial over :data:`trainlab.config.PLAIN` (``--plain``, the bare algorithm).
    ``vectorize`` (auto, on, off): a trial's seeds train together in this process with all the
    cores (:mod:`trainlab.vectorized`), or each in a process of its own."""
    import optuna

    if vectorize not in VECTORIZE:
        raise UserError(f"--vectorize {vectorize!r}: expected one of {', '.join(VECTORIZE)}")

    axes, config, total = _check(base, overrides, grid, sampler, trials, seeds, plain)
    manifest = {"base": config, "grid": grid, "sampler": sampler, "seeds": seeds}
    with check_manifest(out, "search.json", manifest, "search", scratch=("study.db",)):
        monitor = config.early_stopping.monitor
        choices = {k: [json.dumps(v) for v in values] for k, values in axes}
        study = _study(
            out,
            choices,
            sampler,
            config.seed,
            maximizes(monitor),
            storage,
            study_name,
            manifest if storage else None,
        )
        together = seeds > 1 and _together(config, vectorize)
        threads = with_threads(base, overrides, threads_per_process(1 if together else seeds))
        is_grid = sampler == "grid"
        _optimize(
            study,
            _objective(
                base,
                threads,
                choices,
                seeds,
                monitor,
                out,
                log,
                is_grid,
                shared=storage is not None,
                plain=plain,
                vectorize=vectorize,
            ),
            total,
            is_grid,
        )
        if not any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
            raise UserError("no trial completed (all were pruned); widen the --grid values")
        best = study.best_trial
        params = {k: json.loads(v) for k, v in best.params.items()}
        config = variant_config(base, list(overrides), as_overrides(params), plain)
        folder = out / "best"
        if other_config(folder, config) is not None:  # more trials found a new best: keep the old
            folder = out / f"best-trial-{best.number}"
        final = train_or_resume(config, folder)
        write_results(out, study, axes, monitor)
        return {
            "best_params": params,
            "best_value": best.value,
            "monitor": monitor,
            "test_accuracy": final["test_accuracy"],
            "test_loss": final["test_loss"],
            "trials": len(study.trials),
            "best_run": str(folder),
        }


def write_results(out: Path, study, axes: list, monitor: str):
    """results.csv (trial, state, score, parameters) and search.png (score against each
    searched parameter); returns the figure."""
    keys = [k for k, _ in axes]
    rows = [
        {
            "trial": t.number,
            "state": t.state.name.lower(),
            "value": t.value if t.value is not None else "",
            **{k: t.params.get(k, "") for k in keys},
        }
        for t in study.trials
    ]
    with (out / "results.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["trial", "state", "value", *keys])
        w.writeheader()
        w.writerows(rows)
    from ..analysis import style

    scored = [r for r in rows if r["value"] != ""]
    fig, axs = style.figure(min(10, 1 + 3.6 * len(keys)), 3.8, 1, len(keys), squeeze=False)
    for ax, key in zip(axs.flat, keys):
        values = dict(axes)[key]
        labels = [json.dumps(v) if not isinstance(v, str) else v for v in values]
        position = {json.dumps(v): i for i, v in enumerate(values)}
        xs = [position[r[key]] for r in scored]
        ax.scatter(xs, [r["value"] for r in scored], alpha=0.7, color=style.look(0).color)
        ax.set_xticks(range(len(values)), labels, rotation=20, fontsize=8)
        ax.set_xlim(-0.5, len(values) - 0.5)
        ax.set_xlabel(key)
        ax.set_ylabel(f"{monitor} (mean over seeds)")
    return style.save(fig, out / "search.png")
