"""Claims of lecture 003 (slides 51-60) about distributed SGD: Hogwild, asynchronous SGD and stale
gradients, adding workers slowly, synchronous SGD with backup workers.

Every experiment is a whole trainlab run (:func:`trainlab.api.train`) in one of its distributed
modes (:mod:`trainlab.distributed`): a small MLP on moons, 2 workers, a few seconds, every
process it starts ended before the measurement returns. Process start-up dominates the cost
(about 1.5 core-seconds per process); the times compared are those the run itself records per
update (``distributed.seconds_per_update`` in its summary), never the wall clock of start-up.
"""

from __future__ import annotations

import math
import multiprocessing
import tempfile
import time

import numpy as np

from .claim import Claim, register
from .plots import plot_pairs
from .verdicts import Kind, Verdict, equivalence_verdict, paired_estimate, paired_verdict

LECTURE = "003_4f959921065895eb.txt"
BASE = {
    "data.name": "moons",
    "data.samples": 1000,
    "model.name": "mlp",
    "model.hidden": [16],
    "model.norm": "none",
    "model.dropout": 0.0,
    "optimizer.name": "sgd",
    "optimizer.lr": 0.1,
    "optimizer.weight_decay": 0.0,
    "schedule.name": "constant",
    "train.epochs": 3,
    "train.batch_size": 20,
    "train.threads": 1,
    "train.checkpoint_seconds": 1e6,
    "distributed.timeout": 30.0,
}


def run(seed: int, **overrides) -> dict:
    """One trainlab run of :data:`BASE` with ``overrides`` (dotted keys with ``__`` for ``.``)
    in a temporary folder; its summary (test loss and accuracy, the ``distributed`` record) and
    the first epoch's training loss. Any child process still alive afterwards is ended."""
    import json

    import trainlab

    options = {**BASE, "seed": seed, **{k.replace("__", "."): v for k, v in overrides.items()}}
    before = set(multiprocessing.active_children())  # e.g. a grid's workers: not the run's
    try:
        with tempfile.TemporaryDirectory() as folder:
            summary = trainlab.train(None, options, out=f"{folder}/run", progress="quiet")
            first = json.loads(open(f"{folder}/run/metrics.jsonl").readline())
    finally:
        _end_children(before)
    return {
        "test_loss": summary["test_loss"],
        "test_accuracy": summary["test_accuracy"],
        "first_train_loss": first["train_loss"],
        "distributed": summary.get("distributed"),
    }


def _end_children(keep: set, wait_s: float = 10.0) -> None:
    """Wait for the run's child processes (this process's children not in ``keep``, which
    were there before it: the servers and workers end by themselves); kill any left after
    ``wait_s``."""
    deadline = time.monotonic() + wait_s

    def left() -> list:
        return [p for p in multiprocessing.active_children() if p not in keep]

    while left() and time.monotonic() < deadline:
        time.sleep(0.05)
    for p in left():
        p.kill()
        p.join(5)


# --- Hogwild converges ------------------------------------------------------------------------


def measure_hogwild(seed: int, workers: int) -> dict:
    """Test accuracy and loss of one process and of Hogwild (``distributed.mode=hogwild``,
    ``workers`` processes updating one shared-memory MLP without locks), same config and
    epochs; every update of the MLP is dense."""
    return {
        "one": run(seed),
        "hogwild": run(seed, distributed__mode="hogwild", distributed__workers=workers),
    }


def analyze_hogwild(results: list[dict], rule: dict) -> Verdict:
    """TOST over seeds: test accuracy of Hogwild - one process within +- ``rule["margin"]``."""
    d = paired_estimate(
        [r["hogwild"]["test_accuracy"] for r in results],
        [r["one"]["test_accuracy"] for r in results],
        ("hogwild", "one"),
    )
    out = equivalence_verdict(d, 0.0, rule["margin"], "test accuracy, Hogwild - one process")
    loss = np.mean([r["hogwild"]["test_loss"] for r in results])
    out = out.also(f"; mean Hogwild test loss {loss:.3f} (ln 2 = 0.693 is chance)")
    return out


def plot_hogwild(results: list[dict], row: dict, ax) -> None:
    plot_pairs(
        results,
        ["one", "hogwild"],
        ["one process", "Hogwild, 2 workers"],
        "test accuracy (moons)",
        ax,
        value=lambda v: v["test_accuracy"],
    )


register(
    Claim(
        id="hogwild-converges",
        statement="Hogwild's lock-free updates of shared parameters converge, surprisingly also "
        "for dense updates: as accurate as one process after the same epochs.",
        lecture=LECTURE,
        slide="s52 (Hogwild!; Niu et al. 2011)",
        measure=measure_hogwild,
        analyze=analyze_hogwild,
        plot=plot_hogwild,
        params={"workers": 2},
        rule={"margin": 0.05},
        statistic="TOST on the paired test-accuracy difference (Hogwild - one process), "
        "margin 0.05",
        seeds=5,
        cost_s=6.0,
        family="distributed",
        deterministic=False,
    )
)


# --- rejecting too-stale gradients --------------------------------------------------------------


def measure_reject(seed: int, slow: str, bound: int, lr: float) -> dict:
    """Test loss of async SGD with 2 workers, worker ``slow`` ("i:seconds") a straggler whose
    gradients are therefore stale by several updates, accepting every gradient and rejecting
    those with staleness > ``bound`` (``distributed.max_staleness``); same epochs."""
    common = {
        "distributed__mode": "async",
        "distributed__workers": 2,
        "distributed__slow_worker": slow,
        "optimizer__lr": lr,
    }
    return {
        "all": run(seed, **common),
        "reject": run(seed, **common, distributed__max_staleness=bound),
    }


def analyze_reject(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: test loss, rejecting - accepting all (< 0: rejection helps)."""
    out = paired_verdict(
        results,
        "reject",
        "all",
        "test loss, rejecting stale gradients - accepting all",
        higher=False,
        key=lambda v: v["test_loss"],
        delta=rule.get("delta"),
    )
    st = np.mean([r["all"]["distributed"]["mean_staleness"] for r in results])
    rej = np.mean(
        [
            r["reject"]["distributed"]["rejected"] / r["reject"]["distributed"]["gradients"]
            for r in results
        ]
    )
    out = out.also(f"; mean staleness {st:.2f}, fraction rejected {rej:.2f}")
    return out


def plot_reject(results: list[dict], row: dict, ax) -> None:
    plot_pairs(
        results,
        ["all", "reject"],
        ["accept all", "reject staleness > 2"],
        "test loss (moons)",
        ax,
        value=lambda v: v["test_loss"],
    )


register(
    Claim(
        id="async-reject-stale",
        statement="Using old gradients to update new parameters hurts asynchronous SGD; rejecting "
        "gradients that are from too far ago helps convergence.",
        lecture=LECTURE,
        slide="s56 (Hack: reject gradients that are from too far ago)",
        measure=measure_reject,
        analyze=analyze_reject,
        plot=plot_reject,
        params={"slow": "1:0.02", "bound": 2, "lr": 0.3},
        statistic="paired t-test on test loss after 3 epochs (reject staleness > 2 - accept all)",
        seeds=5,
        cost_s=16.5,
        family="distributed",
        deterministic=False,
        note="With 2 equal workers almost every gradient has staleness 0 or 1, so nothing is 'too "
        "old'; worker 1 is slowed by 20 ms per gradient to make its gradients several updates "
        "stale, the situation the slide's hack is for.",
    )
)


# --- sync SGD with backup workers -----------------------------------------------------------


def measure_backup(seed: int, slow: str, backups: int) -> dict:
    """Synchronous SGD (``distributed.mode=sync``, 2 gradients per update) with worker
    ``slow`` a straggler, without and with ``backups`` backup workers (each update uses the
    first 2 gradients, Chen et al. 2016): seconds per update as the run records them, and test
    accuracy after the same epochs."""
    common = {
        "distributed__mode": "sync",
        "distributed__workers": 2,
        "distributed__slow_worker": slow,
    }
    return {
        "none": run(seed, **common),
        "backup": run(seed, **common, distributed__backup_workers=backups),
    }


def analyze_backup(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: log seconds per update, with backups - without (< 0: faster). Holds
    fully only if the test accuracies are also equivalent (TOST, margin ``rule["margin"]``)."""
    out = paired_verdict(
        results,
        "backup",
        "none",
        "log seconds per update, backup workers - none",
        higher=False,
        key=lambda v: math.log(v["distributed"]["seconds_per_update"]),
        delta=rule.get("delta"),
    )
    acc = equivalence_verdict(
        paired_estimate(
            [r["backup"]["test_accuracy"] for r in results],
            [r["none"]["test_accuracy"] for r in results],
            ("backup", "none"),
        ),
        0.0,
        rule["margin"],
        "test accuracy, backups - none",
    )
    out = out.also(f"; {acc.sentence}")
    if out.kind == Kind.HOLDS and acc.kind != Kind.HOLDS:
        out = out.only_when(
            "accuracy is not required equal", f"equal accuracy not shown: {acc.label}"
        )
    return out


def plot_backup(results: list[dict], row: dict, ax) -> None:
    plot_pairs(
        results,
        ["none", "backup"],
        ["no backup", "1 backup worker"],
        "ms per update (a 50 ms straggler)",
        ax,
        value=lambda v: 1000 * v["distributed"]["seconds_per_update"],
        log=True,
    )


register(
    Claim(
        id="sync-backup-workers",
        statement="Synchronous SGD has to wait for the slowest worker; extra backup workers, "
        "updating when the first N gradients are received, cut the time per update at "
        "equal accuracy.",
        lecture=LECTURE,
        slide="s59 (Chen et al. 2016)",
        measure=measure_backup,
        analyze=analyze_backup,
        plot=plot_backup,
        params={"slow": "0:0.05", "backups": 1},
        rule={"margin": 0.05},
        statistic="paired t-test on log seconds per update (backups - none); TOST on accuracy",
        seeds=5,
        cost_s=19.0,
        family="distributed",
        deterministic=False,
    )
)


# --- adding workers slowly -----------------------------------------------------------------------


def measure_warmup(seed: int, updates: int, lr: float) -> dict:
    """First-epoch training loss and final test loss of async SGD with 2 workers at rate
    ``lr``, all workers from the start and admitted one by one over the first ``updates``
    updates (``distributed.warmup_updates``)."""
    common = {"distributed__mode": "async", "distributed__workers": 2, "optimizer__lr": lr}
    return {
        "all": run(seed, **common),
        "warmup": run(seed, **common, distributed__warmup_updates=updates),
    }


def analyze_warmup(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: first-epoch training loss, warm-up - none (< 0: more stable start)."""
    out = paired_verdict(
        results,
        "warmup",
        "all",
        "first-epoch training loss, workers added slowly - all at once",
        higher=False,
        key=lambda v: v["first_train_loss"],
        delta=rule.get("delta"),
    )
    t = {k: np.mean([r[k]["test_loss"] for r in results]) for k in ("all", "warmup")}
    out = out.also(f"; mean final test loss all {t['all']:.3f}, warm-up {t['warmup']:.3f}")
    return out


def plot_warmup(results: list[dict], row: dict, ax) -> None:
    plot_pairs(
        results,
        ["all", "warmup"],
        ["all workers at once", "added over 20 updates"],
        "first-epoch training loss (moons)",
        ax,
        value=lambda v: v["first_train_loss"],
    )


register(
    Claim(
        id="async-add-workers-slowly",
        statement="At the start of asynchronous training, slowly adding more workers stabilizes "
        "it.",
        lecture=LECTURE,
        slide="s54 (Async SGD trick)",
        measure=measure_warmup,
        analyze=analyze_warmup,
        plot=plot_warmup,
        params={"updates": 20, "lr": 0.5},
        statistic="paired t-test on first-epoch training loss (warm-up - none)",
        seeds=5,
        cost_s=17.0,
        family="distributed",
        deterministic=False,
    )
)
