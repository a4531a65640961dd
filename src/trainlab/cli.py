"""The ``trainlab`` command: ``train``, ``evaluate``, ``config``.

A mistake the user can make ends in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

from . import api
from .config import PLAIN, SCHEMA, documented_defaults, dumps, replace, resolve
from .config.plain import described as plain_described
from .errors import CannotWrite, UserError
from .experiments.grid import VECTORIZE
from .experiments.trajectories import DEFAULT_OPTIMIZERS, FUNCTIONS, OVERLAY
from .optim import OPTIMIZERS

TRAIN_HELP = """\
CONFIG is a TOML file; key=value overrides apply on top of it, values read as TOML:
  trainlab train optimizer.name=sgd optimizer.lr=0.1 optimizer.momentum=0.9 train.epochs=20
  trainlab train my.toml model.hidden=[256,256] train.shuffle=false train.batch_size='"full"'

Writes to --out (default runs/<timestamp>): config.toml, metrics.jsonl, summary.json,
last.pt and best.pt. `trainlab config` prints the defaults as TOML with comments.

--plain: the bare algorithm of the lectures, the optimizer's update rule alone (constant rate, no
weight decay, dropout, norm, augmentation, noise, penalties, clipping, averaging or early
stopping); these act as defaults under CONFIG and the overrides, and are left out where the
model or optimizer does not read them. `trainlab config --plain` prints what they resolve to.

keys:
"""


def _keys_help() -> str:
    width = max(map(len, SCHEMA))
    lines = []
    for name, key in SCHEMA.items():
        allowed = f" [{'|'.join(key.choices)}]" if key.choices else ""
        lines.append(f"  {name:<{width}}  {key.meaning}{allowed} (default {key.default!r})")
    return "\n".join(lines)


CONFIG_ARGS = "[CONFIG.toml] [key=value ...]"
MANY = 10**6  # steps, trials, seeds: more is a day's work on these models, most likely a typo


def _integer(low: int, high: int):
    """An argparse type: an integer from ``low`` to ``high``, else argparse's one-line error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value}: expected an integer from {low} to {high}")
        return value

    return parse


def _rate(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text}: expected a finite number > 0")
    return value


def _jobs() -> int:
    """The most processes a grid may run at once: 4 per core, at least 8."""
    return max(8, 4 * (os.cpu_count() or 1))


PLAIN_HELP = (
    "the bare algorithm of the lectures, unless CONFIG or an override sets a key: "
    + plain_described()
)


CLUSTER_HELP = (
    "run on a Dask cluster: the address of its scheduler (`dask scheduler`; workers: "
    "`dask worker ADDRESS`), e.g. tcp://host:8786; --out must be on a file system every worker "
    "shares (pip install 'trainlab[cluster]')"
)

VECTORIZE_HELP = (
    "auto (default): runs that differ only in seed and numeric hyperparameters train together "
    "in one vectorized step, each as if alone; on: the same, and a run that cannot is refused "
    "with the reason; off: one run at a time"
)


def _run_commands(sub) -> None:
    """train, evaluate, config."""
    t = sub.add_parser(
        "train",
        help="train a model (lecture 000's recipe)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=TRAIN_HELP + _keys_help(),
    )
    t.add_argument("args", nargs="*", metavar=CONFIG_ARGS)
    t.add_argument("--out", help="run folder to create (default runs/<timestamp>)")
    t.add_argument("--resume", metavar="DIR", help="continue the interrupted run in DIR")
    t.add_argument("--plain", action="store_true", help=PLAIN_HELP)
    t.add_argument(
        "--progress",
        choices=("auto", "bar", "lines", "quiet"),
        default="auto",
        help="auto: a live bar in a terminal, a line per epoch otherwise",
    )
    e = sub.add_parser("evaluate", help="evaluate a run's checkpoint on its test split")
    e.add_argument("run_dir", metavar="DIR")
    e.add_argument("--checkpoint", choices=("best", "last"), default="best")
    e.add_argument("--device", choices=("auto", "cpu", "cuda"))
    e.add_argument(
        "--mc-dropout",
        type=int,
        default=0,
        metavar="N",
        help="also Monte Carlo dropout: the mean softmax of N stochastic passes with dropout on "
        "(lecture 003 s79), beside the deterministic test-time rule, and their difference",
    )
    c = sub.add_parser(
        "config",
        help="print the default config with a comment on every key, or "
        "the config that CONFIG and overrides resolve to",
    )
    c.add_argument("args", nargs="*", metavar=CONFIG_ARGS)
    c.add_argument("--plain", action="store_true", help=PLAIN_HELP)


def _grid_commands(sub) -> None:
    """compare, search."""
    cp = sub.add_parser(
        "compare",
        help="a grid of variants x seeds, with confidence intervals, "
        "significance tests, plots and an HTML report",
    )
    cp.add_argument("args", nargs="*", metavar=CONFIG_ARGS)
    cp.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="values of one key to compare (repeat for a grid)",
    )
    cp.add_argument(
        "--seeds", type=_integer(1, MANY), default=3, help="seeds per variant (default 3)"
    )
    cp.add_argument("--plain", action="store_true", help=PLAIN_HELP)
    cp.add_argument(
        "--jobs",
        type=_integer(1, _jobs()),
        help="parallel runs (default: the number of cores, 1 thread each)",
    )
    cp.add_argument("--cluster", metavar="ADDRESS", help=CLUSTER_HELP)
    cp.add_argument("--vectorize", choices=VECTORIZE, default="auto", help=VECTORIZE_HELP)
    cp.add_argument(
        "--out",
        help="folder (default runs/compare-<timestamp>); re-running with "
        "the same --out skips finished runs and resumes unfinished ones",
    )
    cp.add_argument(
        "--metric",
        default="test_accuracy",
        choices=(
            "test_accuracy",
            "test_loss",
            "best_val_accuracy",
            "test_label_accuracy",
            "epochs_to_target",
            "time_to_target",
        ),
        help="what to summarize and test (default test_accuracy); *_to_target: "
        "epochs or seconds until the validation accuracy first reaches --target",
    )
    cp.add_argument(
        "--target",
        type=float,
        metavar="X",
        help="validation accuracy in (0, 1] for --metric epochs_to_target or time_to_target",
    )
    se = sub.add_parser(
        "search",
        help="hyper-parameter search on the validation split (Optuna: "
        "grid, random or TPE, with pruning; resumable), then one test evaluation",
    )
    se.add_argument("args", nargs="*", metavar=CONFIG_ARGS)
    se.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="values to search for one key (repeat for more keys)",
    )
    se.add_argument("--sampler", default="grid", help="grid (default), random or tpe")
    se.add_argument(
        "--trials",
        type=_integer(1, MANY),
        help="number of trials (default for grid: all combinations)",
    )
    se.add_argument(
        "--seeds", type=_integer(1, MANY), default=1, help="seeds per trial, averaged (default 1)"
    )
    se.add_argument("--plain", action="store_true", help=PLAIN_HELP)
    se.add_argument("--vectorize", choices=VECTORIZE, default="auto", help=VECTORIZE_HELP)
    se.add_argument(
        "--out",
        help="folder (default runs/search-<timestamp>); re-running with "
        "the same --out continues the search",
    )
    se.add_argument(
        "--storage",
        metavar="URL",
        help="an Optuna storage shared by several "
        "search processes, on one machine or many: sqlite:///FILE, "
        "postgresql://..., mysql://..., or journal:FILE on a shared disk "
        "(default: OUT/study.db, this search alone); only on a trusted network",
    )
    se.add_argument("--study", default="trainlab", help="the study's name in --storage")


def _look_commands(sub) -> None:
    """lr-find, diagnose, trajectories."""
    lf = sub.add_parser(
        "lr-find",
        help="pick a learning rate: Smith's range test (loss against an exponentially "
        "rising rate, plot and suggestion) or lecture 003's halving (--method halving)",
    )
    lf.add_argument("args", nargs="*", metavar=CONFIG_ARGS)
    lf.add_argument(
        "--method",
        choices=("range", "halving"),
        default="range",
        help="range: Smith 2017's range test; halving: lecture 003 (s25), start high and halve "
        "the rate while a trial diverges (default range)",
    )
    lf.add_argument(
        "--start-lr",
        type=_rate,
        default=None,
        help="range: the lowest rate (default 1e-7); halving: the first rate (default 10)",
    )
    lf.add_argument("--end-lr", type=_rate, default=None, help="range: the highest (default 10)")
    lf.add_argument(
        "--steps",
        type=_integer(1, MANY),
        default=None,
        help="range: updates in all (default 200); halving: updates per trial (default 50)",
    )
    lf.add_argument("--out", help="folder to create (default runs/lr-find-<timestamp>)")
    dg = sub.add_parser(
        "diagnose",
        help="per-layer diagnostics of a run as heat maps (re-runs it "
        "with diagnostics=true if it did not record them)",
    )
    dg.add_argument("run_dir", metavar="DIR")
    dg.add_argument(
        "--out",
        help="where to write diagnostics.png (default: the run folder; a "
        "re-run goes to DIR/diagnose)",
    )
    tr = sub.add_parser(
        "trajectories",
        help="optimizers' paths on a 2-D function (lecture 000, "
        "slides 94-96): contour plot, GIF, CSV",
    )
    tr.add_argument("args", nargs="*", metavar=CONFIG_ARGS)
    tr.add_argument("--function", default="beale", help=", ".join(FUNCTIONS))
    tr.add_argument(
        "--optimizers",
        default=",".join(DEFAULT_OPTIMIZERS),
        help=f"comma-separated names from {', '.join(OPTIMIZERS)}",
    )
    tr.add_argument("--steps", type=_integer(1, MANY), default=1000)
    tr.add_argument(
        "--lrs",
        help="learning rates per optimizer, e.g. sgd=0.001,adam=0.1 "
        "(defaults: each optimizer's trajectory_lr in trainlab.optim.OPTIMIZERS)",
    )
    tr.add_argument(
        "--only",
        metavar="NAME,...",
        help="the few optimizers drawn together in trajectories.png and the GIF "
        f"(default: those of {','.join(OVERLAY)} that run); "
        "trajectories_panels.png shows every one",
    )
    tr.add_argument("--no-gif", action="store_true", help="skip the animation")
    tr.add_argument("--out", help="folder to create (default runs/trajectories-<timestamp>)")


def _claims_command(sub) -> None:
    """claims (issue 9)."""
    cl = sub.add_parser(
        "claims",
        help="measure the lectures' claims over seeds: statistic, "
        "95%% CI, p-value and verdict per claim",
    )
    cl.add_argument("--list", action="store_true", help="list the claims and stop")
    cl.add_argument("--only", metavar="ID,...", help="only these claim ids")
    cl.add_argument("--lecture", metavar="FILE", help="only claims from this seed file (or prefix)")
    cl.add_argument(
        "--seeds",
        type=_integer(1, MANY),
        help="seeds per claim (default: each claim's own; exact claims keep theirs)",
    )
    cl.add_argument(
        "--seed-offset",
        type=_integer(0, 2**62),
        default=0,
        metavar="K",
        help="first seed (default 0)",
    )
    cl.add_argument(
        "--jobs",
        type=_integer(1, _jobs()),
        help="parallel processes (default: the number of cores)",
    )
    cl.add_argument("--cluster", metavar="ADDRESS", help=CLUSTER_HELP)
    cl.add_argument(
        "--fast", action="store_true", help="the subset with robust verdicts, at most 3 seeds"
    )
    cl.add_argument(
        "--out",
        default="runs/claims",
        help="folder (default runs/claims); results are cached per claim and seed",
    )
    cl.add_argument(
        "--publish",
        metavar="DIR",
        help="also write the record to DIR: claims.json (with the git commit), claims.md, plots",
    )
    cl.add_argument(
        "--against",
        metavar="FILE",
        help="a published claims.json: Holm's correction takes the p of claims not run from "
        "it, and each claim is said to reproduce its recorded verdict or not",
    )


def _claims(ns: argparse.Namespace) -> int:
    from pathlib import Path

    from .claims import all_claims
    from .claims.runner import listing, run, select

    claims = select(all_claims(), ns.only, ns.lecture, ns.fast)
    if ns.list:
        print("\n".join(listing(claims)))
        return 0
    from .claims import record

    against = record.read_record(Path(ns.against)) if ns.against else None
    rows = run(
        claims,
        Path(ns.out),
        ns.seeds,
        ns.seed_offset,
        ns.jobs,
        ns.fast,
        log=lambda line: print(line, file=sys.stderr),
        cluster=ns.cluster,
        reference=record.reference_p(against) if against else None,
    )
    width = max(len(r["id"]) for r in rows)
    for r in rows:
        print(
            f"{r['id']:<{width}}  {r['verdict']:<14}  {r['estimate']:.4g} "
            f"[{r['ci'][0]:.4g}, {r['ci'][1]:.4g}]  p={r['p']:.3g}  ({r['statistic']})"
        )
    print(f"written to {ns.out}: claims.json, claims.csv, claims.md and a plot per claim")
    print(f"open: {Path(ns.out) / 'claims.html'}")
    if against:
        print("\n".join(record.reproduced(rows, against)))
    if ns.publish:
        command = " ".join(["trainlab", *sys.argv[1:]])
        record.publish(Path(ns.out), rows, Path(ns.publish), ns.seed_offset, command)
        print(f"published to {ns.publish}: claims.json, claims.md and a plot per claim")
    failed = [r["id"] for r in rows if r.get("control_failed")]
    if failed:  # the verdicts of this run cannot be trusted: say so in the exit status too
        print(
            f"trainlab: {len(failed)} control claim(s) did not come out as expected "
            f"({', '.join(failed)}): the verdicts of this run are not to be trusted",
            file=sys.stderr,
        )
        return 1
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with trainlab's errors: one line naming the command's help, exit status 2
    (instead of argparse's usage block above the message)."""

    def error(self, message: str):
        self.exit(2, f"trainlab: error: {message} (see {self.prog} --help)\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="trainlab", description="Train neural networks with the lectures' techniques.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _run_commands(sub)
    _grid_commands(sub)
    _look_commands(sub)
    _claims_command(sub)
    return p


def split_args(args: list[str]) -> tuple[str | None, list[str]]:
    """``[CONFIG] key=value ...`` -> (CONFIG or None, overrides)."""
    config = None
    overrides = []
    for i, a in enumerate(args):
        # a compare run's config lives in a folder named after its variant (optimizer.name=adam)
        is_file = i == 0 and a.endswith(".toml") and os.path.isfile(a)
        if "=" in a and not is_file:
            overrides.append(a)
        elif i == 0:
            config = a
        else:
            raise UserError(
                f"unexpected argument {a!r}: expected key=value (only the first "
                "argument may be a config file)"
            )
    return config, overrides


def _train(ns: argparse.Namespace) -> int:
    if ns.resume:
        if ns.args or ns.out or ns.plain:
            raise UserError(
                "--resume DIR takes no config, overrides, --out or --plain: the run continues "
                "with its own config.toml"
            )
        finished = os.path.isfile(os.path.join(ns.resume, "summary.json"))
        summary = api.resume(ns.resume, progress=ns.progress)
    else:
        finished = False
        config, overrides = split_args(ns.args)
        summary = api.train(config, overrides, out=ns.out, progress=ns.progress, plain=ns.plain)
    if os.environ.get("RANK", "0") != "0":  # under torchrun: rank 0 speaks for the run
        return 0
    if summary["diverged"]:
        print(f"diverged at epoch {summary['diverged_at_epoch']}")
    if summary["test_accuracy"] is not None:
        print(
            f"test accuracy {summary['test_accuracy']:.4f}  test loss {summary['test_loss']:.4f}"
            f"  ({_epochs_line(summary)}, {summary['wall_time_s']:.1f}s)"
        )
        if summary.get("test_label_accuracy") is not None:
            print(_label_accuracy_line(summary))
    elif summary.get("task") == "regression" and summary["test_loss"] is not None:
        print(
            f"test mse {summary['test_loss']:.4f}  (baseline, predicting the training mean: "
            f"{summary['baseline_test_loss']:.4f})  {summary['wall_time_s']:.1f}s"
        )
    if summary.get("distributed"):
        print(_distributed_line(summary["distributed"]))
    if summary.get("techniques"):
        from .config.techniques import line

        print(f"used: {line(summary['techniques'])}")
    if finished:
        print(f"{summary['run_dir']} had already finished: nothing was trained or written")
    else:
        print(f"run written to {summary['run_dir']}")
    return 0


def _epochs_line(summary: dict) -> str:
    """Which epoch's weights were tested, and whether training stopped before its last epoch:
    "stopped early at epoch 10 of 30; best epoch 8" or "best epoch 8 of 10"."""
    best = summary["evaluated"] == "best"
    epoch = summary["best_epoch"] if best else summary["epochs_run"]
    which = f"{summary['evaluated']} epoch {epoch}"
    if not summary.get("stopped_early"):
        return f"{which} of {summary['epochs_run']}"
    planned = resolve(os.path.join(summary["run_dir"], "config.toml")).train.epochs
    return f"stopped early at epoch {summary['epochs_run']} of {planned}; {which}"


def _distributed_line(d: dict) -> str:
    """One line of what a distributed mode did, from its summary entry."""
    shown = {
        "updates": "updates",
        "rejected": "rejected",
        "dropped": "dropped",
        "mean_staleness": "mean staleness",
        "batches_skipped": "batches skipped",
        "world_size": "ranks",
        "stages": "stages",
    }
    parts = [
        f"{label} {d[key]:.2f}" if isinstance(d[key], float) else f"{label} {d[key]}"
        for key, label in shown.items()
        if d.get(key) is not None
    ]
    if "workers_lost" in d:
        lost = d["workers_lost"]
        parts.append(f"workers lost: {', '.join(map(str, lost))}" if lost else "no worker lost")
    return f"{d['mode']}: " + ", ".join(parts)


def _compare(ns: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from .experiments import compare

    config, overrides = split_args(ns.args)
    out = Path(ns.out) if ns.out else Path("runs") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    rows = compare.run(
        config,
        overrides,
        ns.vary,
        ns.seeds,
        ns.jobs,
        out,
        log=lambda line: print(line, file=sys.stderr),
        metric=ns.metric,
        target=ns.target,
        plain=ns.plain,
        cluster=ns.cluster,
        vectorize=ns.vectorize,
    )
    width = max(len(r["variant"]) for r in rows)
    for r in rows:
        mean, ci = r[f"{r['metric']}_mean"], r[f"{r['metric']}_ci95"]  # regression: test_loss
        count = (
            f"{r['reached']} of {r['seeds']} reached the target"
            if "reached" in r
            else f"{r['diverged']} diverged"
        )
        if "baseline_test_loss_mean" in r:
            count += f", baseline {r['baseline_test_loss_mean']:.4f}"
        label = "test mse" if "baseline_test_loss_mean" in r else r["metric"].replace("_", " ")
        print(
            f"{r['variant']:<{width}}  {label} "
            + ("–" if mean != mean else f"{mean:.4f}")
            + ("" if ci != ci else f" ± {ci:.4f}")
            + f"  ({count})"
        )
    print(f"written to {out}: summary.csv, curves.png, final.png, the runs")
    print(f"open: {out / 'report.html'}")
    return 0


def _search(ns: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from .experiments import search

    config, overrides = split_args(ns.args)
    out = Path(ns.out) if ns.out else Path("runs") / f"search-{time.strftime('%Y%m%d-%H%M%S')}"
    r = search.run(
        config,
        overrides,
        ns.grid,
        ns.sampler,
        ns.trials,
        ns.seeds,
        out,
        log=lambda line: print(line, file=sys.stderr),
        storage=ns.storage,
        study_name=ns.study,
        plain=ns.plain,
        vectorize=ns.vectorize,
    )
    print(
        f"best on validation ({r['monitor']} {r['best_value']:.4f}, {r['trials']} trials): "
        + " ".join(f"{k}={v}" for k, v in r["best_params"].items())
    )
    print(
        "trained again and evaluated once on the test split: "
        f"{_test_score(r['test_accuracy'], r['test_loss'])}  ({r['best_run']})"
    )
    print(f"written to {out}: results.csv, the trials' runs")
    print(f"open: {out / 'search.png'}")
    return 0


def _lr_find_config(ns: argparse.Namespace):
    """lr-find's config; refused for an optimizer that sets its own step sizes (Rprop: the
    rate is only its first step, Delta_0, so no rate can be found by training at it)."""
    config = resolve(*split_args(ns.args))
    if OPTIMIZERS[config.optimizer.name].own_step_size:
        raise UserError(
            f"lr-find with optimizer.name = {config.optimizer.name!r}: it sets its own step "
            "sizes and optimizer.lr is only the first one (Delta_0), so there is no rate to "
            "find; set optimizer.step_sizes and optimizer.etas instead"
        )
    return config


def _lr_find(ns: argparse.Namespace) -> int:
    from . import build
    from .experiments import lrfind
    from .runs.rundir import output_folder

    if ns.method == "halving":
        return _lr_halving(ns)
    ns.start_lr = 1e-7 if ns.start_lr is None else ns.start_lr
    ns.end_lr = 10.0 if ns.end_lr is None else ns.end_lr
    ns.steps = 200 if ns.steps is None else ns.steps
    if not 0 < ns.start_lr < ns.end_lr:
        raise UserError(
            f"--start-lr {ns.start_lr} / --end-lr {ns.end_lr}: expected 0 < start < end"
        )
    if ns.steps < 3:
        raise UserError(f"--steps {ns.steps}: expected an integer >= 3")
    config = _lr_find_config(ns)
    splits = build.load_data(config, build.device(config))
    parts = build.parts(config, splits)
    result = lrfind.range_test(
        parts.step,
        splits.x_train,
        splits.y_train,
        parts.batch_size,
        ns.start_lr,
        ns.end_lr,
        ns.steps,
        seed=config.seed,
    )
    out = output_folder(ns.out, "lr-find")
    lrfind.write(out, result)
    s = result["suggestion"]
    print(
        f"suggested learning rate: {s:.3g} (Smith 2017's range test: where the smoothed loss "
        "falls fastest)"
        if s
        else "no suggestion: the loss did not fall (try a lower --start-lr or more --steps)"
    )
    print(f"written to {out}: lr_find.csv")
    print(f"open: {out / 'lr_find.png'}")
    return 0


def _lr_halving(ns: argparse.Namespace) -> int:
    """lr-find --method halving: lecture 003's procedure (trainlab.experiments.lrfind.halving)."""
    from . import build
    from .experiments import lrfind
    from .runs.rundir import output_folder

    start = 10.0 if ns.start_lr is None else ns.start_lr
    steps = 50 if ns.steps is None else ns.steps
    if ns.end_lr is not None:
        raise UserError(f"--end-lr {ns.end_lr}: only for --method range (halving starts high)")
    if not start > 0:
        raise UserError(f"--start-lr {start}: expected a number > 0")
    if steps < 1:
        raise UserError(f"--steps {steps}: expected an integer >= 1")
    config = _lr_find_config(ns)
    splits = build.load_data(config, build.device(config))
    parts = build.parts(config, splits)
    result = lrfind.halving(
        parts.step,
        splits.x_train,
        splits.y_train,
        parts.batch_size,
        start,
        steps,
        seed=config.seed,
    )
    out = output_folder(ns.out, "lr-find")
    lrfind.write_halving(out, result)
    chosen, halvings = result["chosen"], len(result["lr"]) - 1
    print(
        f"learning rate: {chosen:.3g} (lecture 003, slide 25: start high, halve while it "
        f"diverges; {halvings} halving{'s' if halvings != 1 else ''} from {start:g}, "
        f"{steps} updates per trial)"
        if chosen
        else f"no rate down to {result['lr'][-1]:.3g} kept the loss from rising in {steps} "
        "updates (lecture 003's halving; try more --steps)"
    )
    print(f"written to {out}: lr_halving.csv")
    print(f"open: {out / 'lr_halving.png'}")
    return 0


def _label_accuracy_line(r: dict) -> str:
    """Multi-label targets: what the accuracy above is, and the per-label one."""
    return (
        f"multi-label: test accuracy is exact-match (every label of a sample right); "
        f"per-label accuracy {r['test_label_accuracy']:.4f}"
    )


def _print_mc_dropout(r: dict) -> None:
    """Monte Carlo dropout's line and its difference from the deterministic rule's."""
    mc = r["mc_dropout"]
    rule = "no scaling at test" if mc["dropout_mode"] == "inverted" else "outputs x (1 - p)"
    if r["test_accuracy"] is None:  # regression
        print(f"deterministic rule ({rule}): test loss {r['test_loss']:.4f}")
        print(f"mc dropout, {mc['passes']} passes: test loss {mc['test_loss']:.4f}")
        print(f"difference (mc - deterministic): loss {mc['loss_difference']:+.4f}")
    else:
        print(
            f"deterministic rule ({mc['dropout_mode']} dropout, {rule}): test accuracy "
            f"{r['test_accuracy']:.4f}  test loss {r['test_loss']:.4f}"
        )
        print(
            f"mc dropout, mean softmax of {mc['passes']} passes (seed {mc['seed']}): test "
            f"accuracy {mc['test_accuracy']:.4f}  test loss {mc['test_loss']:.4f}"
        )
        print(
            f"difference (mc - deterministic): accuracy {mc['accuracy_difference']:+.4f}  "
            f"loss {mc['loss_difference']:+.4f}"
        )
    if not mc["dropout_layers"]:
        print("the model has no dropout: every pass is the deterministic one")


def _diagnose(ns: argparse.Namespace) -> int:
    from pathlib import Path

    from .runs.rundir import RunDir
    from .training import diagnostics

    run = RunDir.open(ns.run_dir)
    if not run.diagnostics.exists():
        config = replace(run.read_config(), diagnostics=True)
        print(
            f"{run.path} recorded no diagnostics: training it again with diagnostics=true "
            f"into {run.path / 'diagnose'}",
            file=sys.stderr,
        )
        api.train(config, out=run.path / "diagnose", progress="lines")
        run = RunDir(run.path / "diagnose")
    target = Path(ns.out) if ns.out else run.path
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out {str(target)!r} cannot be created ({e.strerror})") from None
    diagnostics.plot(diagnostics.read(run.diagnostics), target / "diagnostics.png", str(run.path))
    if run.lr_updates.exists():  # the rate changed within epochs: its per-update course
        from .analysis import rates

        rates.plot(run.lr_updates, target / "lr_updates.png", str(run.path))
        print(f"the rate of every update: {target / 'lr_updates.png'}")
    print(f"open: {target / 'diagnostics.png'}")
    return 0


def _trajectories(ns: argparse.Namespace) -> int:
    from .experiments import trajectories as tj
    from .runs.rundir import output_folder

    config, overrides = split_args(ns.args)
    resolve(config, overrides)  # validate before running anything
    names = [n.strip() for n in ns.optimizers.split(",") if n.strip()]
    picked = tj.chosen(names, ns.only)
    paths = tj.run_all(ns.function, names, ns.steps, tj.parse_lrs(ns.lrs), config, overrides)
    few = [t for t in paths if t.optimizer in picked]
    out = output_folder(ns.out, "trajectories")
    tj.write_csv(out / "trajectories.csv", paths)
    tj.plot(out / "trajectories.png", ns.function, few)
    tj.plot_panels(out / "trajectories_panels.png", ns.function, paths)
    if not ns.no_gif:
        tj.animate(out / "trajectories.gif", ns.function, few)
    for t in paths:
        x, y, value = t.points[-1]
        print(
            f"{t.optimizer:>10}: ({x:.4f}, {y:.4f}) f = {value:.3g}"
            f"{'  diverged' if t.diverged else ''}"
        )
    drawn = ", ".join(t.optimizer for t in few)
    print(f"written to {out} (trajectories.png and the GIF draw {drawn}; --only chooses)")
    print(f"open: {out / 'trajectories_panels.png'}")
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it ends as after Ctrl-C: children stopped,
    checkpoints intact, one line, exit status 143."""


def _terminate(signum, frame) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    p = parser()
    try:
        ns, extra = p.parse_known_args(argv)
        # key=value overrides may follow the flags (trainlab train a.toml --out x seed=1)
        late = [a for a in extra if "=" in a and not a.startswith("-")]
        if len(late) < len(extra) or (late and not hasattr(ns, "args")):
            p.parse_args(argv)  # argparse's own one-line error (exit 2) for what is left
    except SystemExit as e:  # --help (0), or argparse's one line (2): a status, as below
        return e.code if isinstance(e.code, int) else 2
    if late:
        ns.args = [*ns.args, *late]
    _default_out(ns, argv)
    previous = _on_sigterm(_terminate)
    try:
        try:
            return _command(ns)
        except Exception as e:  # raised while handling Ctrl-C (a writer's cleanup): the Ctrl-C
            interrupt = _interrupt_behind(e)
            if interrupt is None:
                raise
            raise interrupt from None
    except UserError as e:
        command = _continuing_command(ns, argv) if isinstance(e, CannotWrite) else None
        then = f", then continue with: {command}" if command else ""
        print(f"trainlab: error: {e}{then}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        command = _continuing_command(ns, argv)
        if command:
            print(f"trainlab: interrupted; continue with: {command}", file=sys.stderr)
        elif ns.command == "train":
            print(
                "trainlab: interrupted before the run began; nothing was written", file=sys.stderr
            )
        else:
            print("trainlab: interrupted; run the command again", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    except MemoryError:
        print(f"trainlab: error: {_out_of_memory(ns)}", file=sys.stderr)
        return 2
    except RuntimeError as e:  # PyTorch's allocator says so in a RuntimeError
        if not _is_out_of_memory(e):
            raise
        print(f"trainlab: error: {_out_of_memory(ns)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `trainlab config | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        _on_sigterm(previous)


def _interrupt_behind(e: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C or SIGTERM that ``e`` was raised while handling, if any (its context chain):
    an interrupt that arrives inside a write or a cleanup can surface as the error that code
    raises on the way out, and it is still the user's interrupt."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return e
        seen.add(id(e))
        e = e.__cause__ or (None if e.__suppress_context__ else e.__context__)
    return None


def _on_sigterm(handler):
    """Install ``handler`` for SIGTERM (only the main thread may); returns the previous one."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or handler is None:
        return None
    return signal.signal(signal.SIGTERM, handler)


def _default_out(ns: argparse.Namespace, argv: list[str]) -> None:
    """Fix the folder a writing command will use when --out is not given, and add it to
    ``argv``, so that the line after an interruption names the exact command that continues."""
    import time

    from .runs.rundir import RunDir

    if not hasattr(ns, "out") or ns.out or ns.command in ("diagnose",):
        return
    if ns.command == "train":
        if ns.resume:
            return
        ns.out = str(RunDir.default_path())
    elif ns.command in ("compare", "search", "lr-find", "trajectories"):
        ns.out = f"runs/{ns.command}-{time.strftime('%Y%m%d-%H%M%S')}"
    else:
        return
    argv += ["--out", ns.out]


def _continuing_command(ns: argparse.Namespace, argv: list[str]) -> str | None:
    """The exact command that continues an interrupted or failed command: ``train --resume``
    of the run folder (None if it was not made yet), the same command line for compare,
    search and claims (finished runs are kept, unfinished ones resume); None for the commands
    that keep nothing part-way."""
    import shlex
    from pathlib import Path

    if ns.command == "train":
        folder = ns.resume or ns.out
        if not (Path(folder) / "config.toml").is_file():
            return None
        return shlex.join(["trainlab", "train", "--resume", folder])
    if ns.command in ("compare", "search", "claims"):
        return shlex.join(["trainlab", *argv])
    return None


def _is_out_of_memory(e: RuntimeError) -> bool:
    import torch

    text = str(e)
    return isinstance(e, torch.OutOfMemoryError) or "can't allocate memory" in text


def _out_of_memory(ns: argparse.Namespace) -> str:
    return (
        f"trainlab {ns.command}: out of memory: the model or data is larger than this machine "
        "can hold; use smaller sizes (model.hidden, model.channels, data.samples, "
        "data.seq_len, train.batch_size)"
    )


def _test_score(accuracy: float | None, loss: float | None) -> str:
    """A run's test score in words: a regression run has no accuracy (its loss is the mean
    squared error), and one that diverged in its first epoch has no score at all."""
    if loss is None:
        return "no test score (it diverged before an epoch ended)"
    if accuracy is None:
        return f"test mse {loss:.4f}"
    return f"test accuracy {accuracy:.4f}  test loss {loss:.4f}"


def _command(ns: argparse.Namespace) -> int:
    """Run the parsed command; its return value is the exit status."""
    if ns.command == "train":
        return _train(ns)
    if ns.command == "evaluate":
        r = api.evaluate(ns.run_dir, ns.checkpoint, ns.device, mc_dropout=ns.mc_dropout)
        score = _test_score(r["test_accuracy"], r["test_loss"])
        print(f"{score}  ({r['checkpoint']} checkpoint, {r['samples']} samples)")
        if r.get("test_label_accuracy") is not None:
            print(_label_accuracy_line(r))
        if "mc_dropout" in r:
            _print_mc_dropout(r)
        return 0
    if ns.command == "trajectories":
        return _trajectories(ns)
    if ns.command == "compare":
        return _compare(ns)
    if ns.command == "lr-find":
        return _lr_find(ns)
    if ns.command == "search":
        return _search(ns)
    if ns.command == "diagnose":
        return _diagnose(ns)
    if ns.command == "claims":
        return _claims(ns)
    if ns.args or ns.plain:
        presets = PLAIN if ns.plain else None
        print(dumps(resolve(*split_args(ns.args), presets=presets)), end="")
    else:
        print(documented_defaults(), end="")
    return 0
