"""Claims of lecture 003 (slides 52-59) about distributed SGD: Hogwild, asynchronous SGD with a
parameter server (stale gradients, rejecting them, adding workers slowly, staleness against the
number of workers) and synchronous SGD (a larger batch; backup workers).

Every experiment is a whole trainlab run (:func:`trainlab.api.train`) in one of its distributed
modes (:mod:`trainlab.distributed`): a small MLP on moons, a few hundred updates, every process
it starts ended before the measurement returns (the run's own clean-up, then
:func:`_end_children` with a deadline; every wait of the modes has ``distributed.timeout``).
Starting a process (Python and torch) costs about 1.5-2.5 core-seconds, far more than the
training, so each measurement starts as few as its statement allows: two workers where two
show the mechanism, one epoch where the statement is about the start of training. The times
compared are those the run records per update (``distributed.seconds_per_update``), never the
wall clock of start-up.

Processes make these measurements non-deterministic (``deterministic=False``: measured anew on
every run). The constructed cases (a straggler slowed on purpose, a rate high enough for stale
gradients to matter) are ``demonstration`` s: their arms share the rate that defines the
construction.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import tempfile
import time

import numpy as np

from .claim import Claim, Tuning, register
from .plots import plot_pairs
from .verdicts import (
    Verdict,
    directional,
    exact_verdict,
    non_inferiority,
    paired_estimate,
    paired_verdict,
    seed_slopes,
)

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
    "train.epochs": 2,
    "train.batch_size": 20,
    "train.threads": 1,
    "train.checkpoint_seconds": 1e6,
    "distributed.timeout": 30.0,
}


def run(seed: int, *, weights: bool = False, **overrides) -> dict:
    """One trainlab run of :data:`BASE` with ``overrides`` (dotted keys with ``__`` for ``.``)
    in a temporary folder: its test loss and accuracy, the first and last epochs' training and
    validation losses, the ``distributed`` record of its summary and, if ``weights``, the final
    weights (``last.pt``). Any child process still alive afterwards is ended."""
    import torch

    import trainlab

    options = {**BASE, "seed": seed, **{k.replace("__", "."): v for k, v in overrides.items()}}
    before = set(multiprocessing.active_children())  # e.g. a grid's workers: not the run's
    try:
        with tempfile.TemporaryDirectory() as folder:
            summary = trainlab.train(None, options, out=f"{folder}/run", progress="quiet")
            with open(f"{folder}/run/metrics.jsonl") as f:
                epochs = [json.loads(line) for line in f]
            state = (
                torch.load(f"{folder}/run/last.pt", weights_only=True)["model"] if weights else None
            )
    finally:
        _end_children(before)
    out = {
        "test_loss": summary["test_loss"],
        "test_accuracy": summary["test_accuracy"],
        "first_train_loss": epochs[0]["train_loss"],
        "train_loss": epochs[-1]["train_loss"],
        "val_loss": epochs[-1]["val_loss"],
        "distributed": summary.get("distributed"),
    }
    if state is not None:
        out["weights"] = {k: v.double().flatten().tolist() for k, v in state.items()}
    return out


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


def score_val_loss(result: dict, arm: str) -> float:
    """Tuning score: the arm's validation loss after its last epoch (lower is better)."""
    value = result[arm]["val_loss"]
    return value if value is not None and math.isfinite(value) else math.inf


# --- Hogwild can work for dense updates ----------------------------------------------------


def measure_hogwild(seed: int, workers: int, lr_one: float, lr_hogwild: float) -> dict:
    """Test accuracy and validation loss of one process (at ``lr_one``) and of Hogwild
    (``distributed.mode=hogwild``, ``workers`` processes updating one shared-memory MLP
    without locks, at ``lr_hogwild``; every update is dense), same config and epochs."""
    return {
        "one": run(seed, optimizer__lr=lr_one),
        "hogwild": run(
            seed,
            optimizer__lr=lr_hogwild,
            distributed__mode="hogwild",
            distributed__workers=workers,
        ),
    }


def analyze_hogwild(results: list[dict], rule: dict) -> Verdict:
    """Non-inferiority over seeds: test accuracy, Hogwild - one process, not below -delta."""
    d = paired_estimate(
        [r["hogwild"]["test_accuracy"] for r in results],
        [r["one"]["test_accuracy"] for r in results],
        ("hogwild", "one"),
    )
    out = non_inferiority(d, rule.get("delta"), "test accuracy, Hogwild - one process")
    acc = np.mean([r["one"]["test_accuracy"] for r in results])
    return out.also(f"; mean one-process test accuracy {acc:.3f} (0.5 is chance)")


def plot_hogwild(results: list[dict], row: dict, ax) -> None:
    plot_pairs(
        results,
        ["one", "hogwild"],
        ["one process", "Hogwild, 2 workers\n(dense updates)"],
        "test accuracy (moons)",
        ax,
        value=lambda v: v["test_accuracy"],
    )


register(
    Claim(
        id="hogwild-converges",
        statement="Hogwild (lock-free updates of shared parameters by several workers) can work "
        "for dense updates too: as accurate as one process after the same epochs.",
        quote="Hogwild! Lock-free update of parameters across multiple threads Fast for sparse "
        "updates Surprisingly can work for dense updates",
        lecture=LECTURE,
        slide="s52",
        paper="Niu et al. 2011, Hogwild! A lock-free approach to parallelizing stochastic "
        "gradient descent",
        operationalization="An MLP (16 hidden units) on moons (1000 samples), plain SGD, batch 20, "
        "2 epochs: one process against trainlab's Hogwild with 2 worker processes updating one "
        "shared-memory model without locks; every gradient of an MLP is dense. Each arm's rate "
        "is tuned on its validation loss over the same grid and tuning seed. The metric is "
        "the paired difference in test accuracy, judged for non-inferiority. Two epochs bring "
        "the one-process run to its plateau on moons (test accuracy 0.97-0.99 at its tuned "
        "rate in a pilot; 0.90 at rate 0.3).",
        kind="demonstration",
        primary_metric="test accuracy, Hogwild - one process",
        direction="at least as good",
        delta=0.03,
        delta_reason="3 points of accuracy: 'can work' means no loss beyond the noise of a "
        "200-sample test set (one standard error ~0.025).",
        measure=measure_hogwild,
        analyze=analyze_hogwild,
        plot=plot_hogwild,
        params={"workers": 2, "lr_one": 1.0, "lr_hogwild": 1.0},
        tuning=Tuning(
            arms={"one": "lr_one", "hogwild": "lr_hogwild"},
            grid=(0.3, 1.0, 3.0),
            score=score_val_loss,
            on="validation loss of each arm's run (tuning seed)",
            seeds=1,
        ),
        statistic="one-sided t-test of non-inferiority on the paired test-accuracy difference",
        seeds=5,
        cost_s=6.0,
        family="distributed",
        deterministic=False,
        history=(
            {
                "changed": "kind demonstration (the deck says 'can work'); non-inferiority at "
                "delta 0.03 instead of TOST at 0.05; 2 epochs instead of 3; each arm's rate tuned "
                "on validation (was 0.1 for both)",
                "reason": "the deck's words are a possibility claim; cost",
                "verdict": "holds",
            },
        ),
    )
)


# --- stale gradients: rejecting those from too far ago ------------------------------------------


def measure_reject(seed: int, slow: str, bound: int, lr: float) -> dict:
    """Test and final training loss of async SGD with 2 workers, worker ``slow``
    ("i:seconds") a straggler whose gradients are therefore stale by several updates: accepting
    every gradient, and rejecting those with staleness > ``bound``
    (``distributed.max_staleness``); same epochs and rate."""
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
    return out.also(f"; mean staleness {st:.2f}, fraction rejected {rej:.2f}")


def plot_reject(results: list[dict], row: dict, ax) -> None:
    plot_pairs(
        results,
        ["all", "reject"],
        ["accept every gradient", "reject staleness > 2"],
        "test loss (moons)",
        ax,
        value=lambda v: v["test_loss"],
    )


register(
    Claim(
        id="async-reject-stale",
        statement="In asynchronous SGD, updating the parameters with old gradients hurts; "
        "rejecting gradients that are from too far ago helps.",
        quote="Using old gradients to update new parameters ... Hack: reject gradients that "
        "are from too far ago",
        lecture=LECTURE,
        slide="s56",
        operationalization="Async SGD with a parameter server and 2 workers, an MLP on moons "
        "(1000 samples, batch 20, 2 epochs) at rate 1.0; worker 1 is made a straggler (100 ms "
        "per gradient) so that its gradients arrive several updates stale, the situation the "
        "hack is for. Arms: accept every gradient, or reject those with staleness > 2; same "
        "rate (the rate is part of the construction: high enough that a stale step overshoots). "
        "Metric: the paired difference in test loss after the same epochs.",
        kind="demonstration",
        primary_metric="test loss, rejecting - accepting every gradient",
        direction="less",
        delta=0.01,
        delta_reason="0.01 nats of test loss: below that, the hack changes nothing a user "
        "would see on a two-class task (loss ~0.3).",
        measure=measure_reject,
        analyze=analyze_reject,
        plot=plot_reject,
        params={"slow": "1:0.1", "bound": 2, "lr": 1.0},
        statistic="one-sided t-tests on the paired test-loss difference (reject - accept all)",
        seeds=4,
        cost_s=11.0,
        family="distributed",
        deterministic=False,
        history=(
            {
                "changed": "kind demonstration, delta 0.01 declared; rate 1.0 instead of 0.3; "
                "a 100 ms straggler instead of 20 ms; 2 epochs instead of 3",
                "reason": "a straggler built on purpose is a constructed case; at rate 0.3 "
                "stale gradients barely matter on moons, and with 20 ms the mean staleness "
                "was ~1 in a pilot on a loaded machine (nothing 'too far ago' to reject), so "
                "the construction did not show the mechanism it is for; cost",
                "verdict": "inconclusive",
            },
        ),
    )
)


# --- staleness grows with the number of workers ------------------------------------------------


def measure_staleness(seed: int, workers: tuple) -> dict:
    """Mean staleness of the gradients the server received (updates applied between a
    worker's pull of the weights and the arrival of its gradient) in async SGD with each
    number of equal workers in ``workers``; one epoch each."""
    out = {}
    for w in workers:
        r = run(seed, distributed__mode="async", distributed__workers=w, train__epochs=1)
        out[str(w)] = r["distributed"]["mean_staleness"]
    return out


def analyze_staleness(results: list[dict], rule: dict) -> Verdict:
    """Per-seed least-squares slope of mean staleness on the number of workers, t-tested over
    seeds (> 0: staleness grows). With W equal workers served in turn, each gradient is
    stale by about the W - 1 updates of the others (slope ~1)."""
    xs = [[int(k) for k in r] for r in results]
    ys = [list(r.values()) for r in results]
    est = seed_slopes(xs, ys, "mean of per-seed slopes of mean staleness on workers")
    out = directional(est, "slope of mean staleness per added worker", rule.get("delta"))
    means = {k: np.mean([r[k] for r in results]) for k in results[0]}
    return out.also(
        "; mean staleness " + ", ".join(f"{k} workers {v:.2f}" for k, v in means.items())
    )


def plot_staleness(results: list[dict], row: dict, ax) -> None:
    for i, r in enumerate(results):
        ax.plot(
            [int(k) for k in r],
            list(r.values()),
            "o-",
            color="C0",
            alpha=0.6,
            label="one seed" if i == 0 else None,
        )
    ks = [int(k) for k in results[0]]
    ax.plot(ks, [k - 1 for k in ks], "k--", label="W - 1 (workers served in turn)")
    ax.set_xticks(ks)
    ax.set_xlabel("workers W")
    ax.set_ylabel("mean staleness of a gradient (updates)")
    ax.legend()


register(
    Claim(
        id="async-staleness-grows",
        statement="In asynchronous SGD, the staleness of the gradients grows as more workers are "
        "added.",
        quote="Each worker has a different copy of parameters Using old gradients to update new "
        "parameters Staleness grows as more workers are added",
        lecture=LECTURE,
        slide="s56",
        operationalization="trainlab's parameter server (async, gradients applied as they "
        "arrive) with 1, 2 and 3 equal workers, an MLP on moons (1000 samples, batch 20, one "
        "epoch: 40 gradients); the server records each gradient's staleness (updates applied "
        "since its weights were pulled). Metric: per seed, the least-squares slope of the mean "
        "staleness on the number of workers; the slopes are t-tested over seeds. Staleness is "
        "a property of the protocol, reached from the first updates: no training regime is "
        "needed. A demonstration, not a typical-case estimate: each seed starts 9 processes, so "
        "few seeds are affordable; the effect (about one update per worker) is far above the "
        "seed-to-seed noise.",
        kind="demonstration",
        primary_metric="slope of mean staleness (updates) per added worker",
        direction="greater",
        delta=0.25,
        delta_reason="a quarter of an update per added worker: below that, staleness would "
        "barely grow; the round-robin expectation is 1.",
        measure=measure_staleness,
        analyze=analyze_staleness,
        plot=plot_staleness,
        params={"workers": (1, 2, 3)},
        statistic="one-sided t-tests on per-seed slopes of mean staleness on workers",
        seeds=2,
        cost_s=15.0,
        family="distributed",
        deterministic=False,
    )
)


# --- sync SGD: N workers are a batch N times larger ----------------------------------------------

#: The largest weight difference that is float rounding (see the claim's delta_reason).
SYNC_TOL = 1e-5


def measure_sync_batch(seed: int, workers: int, batch: int) -> dict:
    """Final weights of sync SGD (``distributed.mode=sync``) with ``workers`` workers at batch
    ``batch`` each, and of one process at batch ``workers * batch``: same data, order and
    initial weights, 2 epochs; the largest absolute weight difference."""
    sync = run(
        seed,
        weights=True,
        distributed__mode="sync",
        distributed__workers=workers,
        train__batch_size=batch,
    )
    one = run(seed, weights=True, train__batch_size=workers * batch)
    diff = max(
        max(abs(a - b) for a, b in zip(sync["weights"][k], one["weights"][k]))
        for k in one["weights"]
    )
    scale = max(max(abs(v) for v in w) for w in one["weights"].values())
    return {
        "max_diff": diff,
        "max_weight": scale,
        "updates": sync["distributed"]["updates"],
        "test_loss": {"sync": sync["test_loss"], "one": one["test_loss"]},
    }


def analyze_sync_batch(results: list[dict], rule: dict) -> Verdict:
    """Exact: every weight of the sync run equals the one-process run's at batch N b to
    ``rule["tol"]`` (float rounding of a mean of means against one mean)."""
    ok = [r["max_diff"] <= rule["tol"] for r in results]
    r = results[0]
    out = exact_verdict(
        ok,
        max(r["max_diff"] for r in results),
        "largest |weight, sync N workers at batch b - one process at batch N b|",
    )
    return out.also(
        f"; after {r['updates']} updates, weights up to {r['max_weight']:.2f} in size; "
        f"test loss sync {r['test_loss']['sync']:.6f}, one process {r['test_loss']['one']:.6f}"
    )


def plot_sync_batch(results: list[dict], row: dict, ax) -> None:
    ax.plot(
        [0] * len(results),
        [max(r["max_diff"], 1e-18) for r in results],
        "o",
        ms=10,
        color="C0",
        label="measured (exact zero drawn at 1e-18)",
    )
    ax.axhline(SYNC_TOL, color="gray", ls="--", label="tolerance")
    ax.set_yscale("log")
    ax.set_xticks([0], ["sync, 2 workers at batch 20\nvs one process at batch 40"])
    ax.set_xlim(-1, 1)
    ax.set_ylabel("largest |weight difference|")
    ax.legend()


register(
    Claim(
        id="sync-sgd-larger-batch",
        statement="Synchronous SGD with N workers, each computing a gradient on a batch of b "
        "samples and the update waiting for all N, is the same algorithm as one process with a "
        "batch of N b samples.",
        quote="Sync SGD Wait for all gradients before update ... Sync SGD Equivalent to "
        "increasing up the batch size N times",
        lecture=LECTURE,
        slide="s57, s59",
        paper="Chen et al. 2016, Revisiting distributed synchronous SGD",
        operationalization="trainlab's sync mode (a parameter server averaging the gradients "
        "of N = 2 worker processes, weighted by their batch sizes, before each update; torch."
        "distributed with gloo on the CPU) at batch 20 per worker, against one process at "
        "batch 40: the same seeded initial weights and sample order, an MLP on moons, plain "
        "SGD, 2 epochs (80 updates). Metric: the largest absolute difference between the two "
        "runs' final weights; it must be float rounding (<= 1e-5). An exact check: the "
        "statement is an identity. The deck's 'but faster' is not tested here.",
        kind="exact",
        primary_metric="largest |weight difference| after 2 epochs",
        direction="equal",
        delta=1e-5,
        delta_reason="float32 rounding of a mean of two means against one mean, accumulated "
        "over 80 updates, stays well below 1e-5 for weights of size ~1.",
        measure=measure_sync_batch,
        analyze=analyze_sync_batch,
        plot=plot_sync_batch,
        params={"workers": 2, "batch": 20},
        rule={"tol": SYNC_TOL},
        statistic="exact check: largest absolute weight difference against 1e-5",
        seeds=1,
        cost_s=7.0,
        family="distributed",
        deterministic=False,
    )
)


# --- sync SGD with backup workers --------------------------------------------------------------


def measure_backup(seed: int, slow: str, backups: int) -> dict:
    """Synchronous SGD (``distributed.mode=sync``, 2 gradients per update) with worker
    ``slow`` a straggler, without and with ``backups`` backup workers (each update uses the
    first 2 gradients of the current weights, Chen et al. 2016): seconds per update as the run
    records them, and test accuracy after the same epoch."""
    common = {
        "distributed__mode": "sync",
        "distributed__workers": 2,
        "distributed__slow_worker": slow,
        "train__epochs": 1,
    }
    return {
        "none": run(seed, **common),
        "backup": run(seed, **common, distributed__backup_workers=backups),
    }


def analyze_backup(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: log seconds per update, with backups - without (< 0: no longer
    waiting for the slowest worker). Test accuracies are reported, not judged (the deck says
    nothing of them)."""
    out = paired_verdict(
        results,
        "backup",
        "none",
        "log seconds per update, backup workers - none",
        higher=False,
        key=lambda v: math.log(v["distributed"]["seconds_per_update"]),
        delta=rule.get("delta"),
    )
    acc = {k: np.mean([r[k]["test_accuracy"] for r in results]) for k in ("none", "backup")}
    return out.also(
        f"; mean test accuracy without backups {acc['none']:.3f}, with {acc['backup']:.3f}"
    )


def plot_backup(results: list[dict], row: dict, ax) -> None:
    plot_pairs(
        results,
        ["none", "backup"],
        ["no backup", "1 backup worker"],
        "ms per update (a 200 ms straggler)",
        ax,
        value=lambda v: 1000 * v["distributed"]["seconds_per_update"],
        log=True,
    )


register(
    Claim(
        id="sync-backup-workers",
        statement="Synchronous SGD has to wait for the slowest worker; extra backup workers, "
        "with each update made when the first N gradients are received, remove that wait.",
        quote="Problem: have to wait for slowest worker Solution: add extra backup workers, and "
        "update when N gradients received",
        lecture=LECTURE,
        slide="s59",
        paper="Chen et al. 2016, Revisiting distributed synchronous SGD",
        operationalization="trainlab's sync mode with N = 2 workers, worker 0 a straggler (200 "
        "ms per gradient, far above the few ms of a gradient even on a loaded machine), an MLP "
        "on moons (1000 samples, batch 20, one epoch: 18 updates of 2 gradients): without "
        "backup workers, and with 1 backup worker (each update uses the first 2 gradients of "
        "the current weights, the late one is dropped). Metric: the paired difference of log "
        "seconds per update as the server records them (start-up excluded). The waiting is "
        "the protocol's, present from the first update. A constructed straggler: a "
        "demonstration. Test accuracy is reported beside it.",
        kind="demonstration",
        primary_metric="log seconds per update, backup workers - none",
        direction="less",
        delta=math.log(1.5),
        delta_reason="a third less time per update (ratio 1/1.5): a saving that matters; the "
        "straggler's 200 ms against a few ms of a normal gradient would allow far more.",
        measure=measure_backup,
        analyze=analyze_backup,
        plot=plot_backup,
        params={"slow": "0:0.2", "backups": 1},
        statistic="one-sided t-tests on the paired log seconds per update (backups - none)",
        seeds=4,
        cost_s=11.0,
        family="distributed",
        deterministic=False,
        history=(
            {
                "changed": "the 'equal accuracy' condition dropped (reported only); delta "
                "log 1.5 declared; kind demonstration; one epoch instead of 3; a 200 ms "
                "straggler instead of 50 ms",
                "reason": "the deck says only that backups remove the wait for the slowest "
                "worker; the straggler is constructed; cost; in a pilot on a loaded machine a "
                "normal gradient took 20-30 ms, so 50 ms barely made a straggler",
                "verdict": "holds",
            },
        ),
    )
)


# --- adding workers slowly -----------------------------------------------------------------------


def measure_warmup(seed: int, updates: int, lr: float) -> dict:
    """First-epoch training loss and test loss of async SGD with 2 workers at rate ``lr``, all
    workers from the start and admitted one by one over the first ``updates`` updates
    (``distributed.warmup_updates``); one epoch."""
    common = {
        "distributed__mode": "async",
        "distributed__workers": 2,
        "optimizer__lr": lr,
        "train__epochs": 1,
    }
    return {
        "all": run(seed, **common),
        "warmup": run(seed, **common, distributed__warmup_updates=updates),
    }


def analyze_warmup(results: list[dict], rule: dict) -> Verdict:
    """Paired over seeds: first-epoch training loss, warm-up - none (< 0: a better start)."""
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
    return out.also(f"; mean test loss all {t['all']:.3f}, warm-up {t['warmup']:.3f}")


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
        statement="A trick for asynchronous SGD: at the start of training, add the workers "
        "slowly (the start goes better than with all workers at once).",
        quote="Async SGD ... Trick: at the start of training, slowly add more workers",
        lecture=LECTURE,
        slide="s54",
        operationalization="trainlab's async parameter server with 2 workers, an MLP on moons "
        "(1000 samples, batch 20, one epoch: 40 updates) at rate 0.5, high enough that the "
        "stale gradients of the first updates disturb training: all workers from the start, "
        "or the second admitted after 10 updates (warm-up over 20 updates). Metric: the paired "
        "difference in the first epoch's training loss (the statement is about the start of "
        "training only). The rate is part of the construction: a demonstration.",
        kind="demonstration",
        primary_metric="first-epoch training loss, workers added slowly - all at once",
        direction="less",
        delta=0.01,
        delta_reason="0.01 nats of training loss over the first epoch: below that the start is "
        "not visibly better.",
        measure=measure_warmup,
        analyze=analyze_warmup,
        plot=plot_warmup,
        params={"updates": 20, "lr": 0.5},
        statistic="one-sided t-tests on the paired first-epoch training loss (warm-up - none)",
        seeds=4,
        cost_s=11.0,
        family="distributed",
        deterministic=False,
        history=(
            {
                "changed": "one epoch instead of 3; delta 0.01 declared; kind demonstration",
                "reason": "the statement is about the start of training only; cost; the rate "
                "is a constructed case",
                "verdict": "holds",
            },
        ),
    )
)
