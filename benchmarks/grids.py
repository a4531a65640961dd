"""Grids that use every core: a `trainlab compare` grid's wall time against its limit.

The limit of a grid of R runs on C cores is the sum of the runs' training times, each measured
alone in this process on one thread (the summary's ``wall_time_s``: every epoch's training and
validation, the test evaluation and the checkpoints), divided by C: what perfect packing of the
runs onto the cores would take, with nothing else in the way. The grid is timed whole, as a user
meets it: ``python -m trainlab compare ... --jobs J`` in a fresh process (interpreter start,
imports, worker processes, data loading, run folders, the report) with ``train.threads = T``,
and its parts are reported: imports, the grid itself (``run_tasks``), the report after it. The
ratio to the limit is the grid's (the command's interpreter start and report do not shrink with
the number of runs and are listed beside it).

Grids: 20 runs of a tiny model (moons, MLP [10]; 4 rates x 5 seeds) and 20 of the default CNN
on MNIST-1D at 3 epochs (4 rates x 5 seeds); and, for many models at once
(:mod:`trainlab.vectorized`), 5 rates x 10 seeds of the default MLP on MNIST-1D at 5 epochs
(``mlp50``), 20 seeds of the default CNN at 3 epochs (``cnn20``) and 20 seeds of the tiny MLP
(``tiny20``). A layout is ``JxT`` (J jobs, T threads each) with ``--vectorize auto`` (runs that
differ only in seed and numeric hyperparameters train together where that is faster),
``JxT-on`` (together wherever they can), or ``JxT-off`` (one run at a time, in J processes: the
runner before vectorized groups); ``--per-process`` adds one ``trainlab train`` process per
run, one at a time. Targets for vectorized groups on 2
cores: mlp50 >= 10x faster than one run at a time, cnn20 >= 3x.

Best of ``--rounds`` (the limit's runs too, run by run: interference only adds time).

    python benchmarks/grids.py [--layouts 2x1,2x1-off] [--grids mlp50,cnn20,tiny20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import trainlab
from trainlab.config import resolve
from trainlab.experiments.grid import parse_vary

ROOT = Path(__file__).resolve().parent.parent
RATES = "optimizer.lr=0.001,0.002,0.005,0.01,0.02"
TINY = ["data.name=moons", "model.name=mlp", "model.hidden=[10]", "model.norm=none"]
# name -> (overrides, --vary, seeds)
GRIDS = {
    "tiny": (TINY, "optimizer.lr=0.01,0.02,0.05,0.1", 5),
    "cnn": (["train.epochs=3"], "optimizer.lr=0.005,0.01,0.02,0.04", 5),
    # the MNIST-1D paper's MLP, and trainlab's default one
    "mlp50": (["model.name=mlp", "model.hidden=[100,100]", "train.epochs=5"], RATES, 10),
    "mlp50w": (["model.name=mlp", "train.epochs=5"], RATES, 10),
    "cnn20": (["train.epochs=3"], "optimizer.lr=0.01", 20),
    "tiny20": (TINY, "optimizer.lr=0.05", 20),
}


def run_times(overrides: list[str], vary: str, seeds: int) -> list[float]:
    """Each run of the grid alone, in this process, one thread: its ``wall_time_s``."""
    torch.set_num_threads(1)
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, variant in enumerate(parse_vary([vary])):
            extra = [f"{k}={json.dumps(v)}" for k, v in variant.items()]
            for seed in range(seeds):
                cfg = resolve(None, [*overrides, *extra, f"seed={seed}", "train.threads=1"])
                summary = trainlab.train(cfg, out=f"{tmp}/{i}-{seed}", progress="quiet")
                times.append(summary["wall_time_s"])
    return times


def per_process_time(overrides: list[str], vary: str, seeds: int) -> float:
    """The grid as one ``trainlab train`` process per run, one run at a time, one thread each
    (a shell loop over the runs): the total wall time."""
    tic = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i, variant in enumerate(parse_vary([vary])):
            extra = [f"{k}={json.dumps(v)}" for k, v in variant.items()]
            for seed in range(seeds):
                subprocess.run(
                    [sys.executable, "-m", "trainlab", "train", *overrides, *extra,
                     f"seed={seed}", "train.threads=1", "--out", f"{tmp}/{i}-{seed}"],
                    check=True, capture_output=True,
                )
    return time.perf_counter() - tic


def limit(rounds: list[list[float]], cores: int) -> dict:
    """The sum over runs of each run's best time over the rounds, over ``cores``."""
    best = [min(ts) for ts in zip(*rounds)]
    return {"runs": len(best), "sum_s": sum(best), "limit_s": sum(best) / cores,
            "longest_s": max(best), "shortest_s": min(best)}


DRIVER = """
import json, sys, time
tic = time.perf_counter()
from trainlab.experiments import compare, grid
imported = time.perf_counter()
inner = grid.run_tasks
spans = []
def timed(*a, **k):
    start = time.perf_counter()
    try:
        return inner(*a, **k)
    finally:
        spans.append(time.perf_counter() - start)
compare.grid.run_tasks = timed
overrides, vary, seeds, jobs, vectorize, out = json.loads(sys.argv[1])
from pathlib import Path
compare.run(None, overrides, [vary], seeds, jobs, Path(out), log=lambda line: None,
            vectorize=vectorize)
done = time.perf_counter()
together = [json.loads(p.read_text()).get("trained_together", 1)
            for p in Path(out, "runs").glob("*/*/summary.json")]
print(json.dumps({"imports_s": imported - tic, "grid_s": spans[0],
                  "report_s": done - imported - spans[0], "largest_group": max(together)}))
"""


def grid_time(
    overrides: list[str], vary: str, seeds: int, jobs: int, threads: int, vectorize: str
) -> dict:
    """``trainlab compare`` in a new process: the whole command's wall time (``total_s``) and its
    parts: interpreter start and imports, the grid itself (:func:`run_tasks`: worker processes,
    runs, run folders), the summary and report after it."""
    with tempfile.TemporaryDirectory() as tmp:
        job = json.dumps([[*overrides, f"train.threads={threads}"], vary, seeds, jobs,
                          vectorize, f"{tmp}/grid"])
        tic = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", DRIVER, job], check=True,
                              capture_output=True, text=True)
        parts = json.loads(done.stdout.strip().splitlines()[-1])
        return {"total_s": time.perf_counter() - tic, **parts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grids", default="mlp50,cnn20,tiny20")
    parser.add_argument("--layouts", default="2x1,2x1-off",
                        help="jobs x threads per job; -on / -off: --vectorize on / off "
                        "(default 2x1,2x1-off)")
    parser.add_argument("--rounds", type=int, default=2, help="best of (default 2)")
    parser.add_argument("--per-process", action="store_true",
                        help="also time one trainlab train process per run, one at a time")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "grids.json"))
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    layouts = []
    for layout in args.layouts.split(","):
        shape, _, mode = layout.partition("-")
        jobs, threads = (int(v) for v in shape.split("x"))
        layouts.append((jobs, threads, mode or "auto", layout))
    result = {"cores": cores, "torch": torch.__version__,
              "cpu": platform.processor() or platform.machine(), "grids": {}}
    for name in args.grids.split(","):
        overrides, vary, seeds = GRIDS[name]
        alone, timed = [], {key: [] for *_, key in layouts}
        for _ in range(args.rounds):  # alternating: the limit's runs, then each layout
            alone.append(run_times(overrides, vary, seeds))
            for jobs, threads, vectorize, key in layouts:
                timed[key].append(grid_time(overrides, vary, seeds, jobs, threads, vectorize))
        lim = limit(alone, cores)
        rows = {}
        for key, tries in timed.items():
            t = min(tries, key=lambda r: r["grid_s"])  # best of the rounds
            t["ratio"] = t["grid_s"] / lim["limit_s"]
            t["ratio_total"] = t["total_s"] / lim["limit_s"]
            t["grid_s_rounds"] = [r["grid_s"] for r in tries]
            t["runs_per_s"] = lim["runs"] / t["grid_s"]
            rows[key] = t
            print(f"{name} {key}: grid {t['grid_s']:.2f} s = {t['ratio']:.2f} x the limit "
                  f"{lim['limit_s']:.2f} s, {t['runs_per_s']:.2f} runs/s (largest group "
                  f"{t['largest_group']}); whole command {t['total_s']:.2f} s (imports "
                  f"{t['imports_s']:.2f}, report {t['report_s']:.2f})", flush=True)
        result["grids"][name] = {"limit": lim, "layouts": rows}
        if args.per_process:
            alone_s = per_process_time(overrides, vary, seeds)
            result["grids"][name]["per_process_s"] = alone_s
            print(f"{name}: one process per run, one at a time: {alone_s:.1f} s "
                  f"({lim['runs'] / alone_s:.2f} runs/s)", flush=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print("| grid | limit (s) | " + " | ".join(f"{key}: grid (x limit) / command"
                                                for *_, key in layouts) + " |")
    print("|---|---:|" + "---:|" * len(layouts))
    for name, g in result["grids"].items():
        cells = " | ".join(f"{r['grid_s']:.2f} ({r['ratio']:.2f}x) / {r['total_s']:.1f}"
                           for r in g["layouts"].values())
        print(f"| {name} | {g['limit']['limit_s']:.2f} | {cells} |")


if __name__ == "__main__":
    main()
