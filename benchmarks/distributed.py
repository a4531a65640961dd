"""Distributed SGD on this machine: throughput, stragglers, accuracy and staleness per mode.

    python benchmarks/distributed.py [--quick] [--out benchmarks/results/distributed.json]

1. Throughput (training samples per second of epoch time, validation included, the first epoch
   left out) of one process and of hogwild, async and sync with 1, 2 and 4 workers, pipeline
   with 2 and 4 stages, ddp with 1 and 2 ranks under torchrun; the default CNN on MNIST-1D,
   4 epochs.
2. Seconds per update of sync with 2 workers when worker 0 is slowed by 0.2 s per gradient,
   without and with one backup worker.
3. Test accuracy after the same epochs (the default recipe, 15 epochs, seed 0) per mode, with
   2 workers (pipeline: 2 stages), against one process.
4. The staleness histogram of async with 1, 2 and 4 workers.

Every run is an ordinary `trainlab.train`; one process at a time, so that the modes do not
compete for the cores (the machine's cores bound every mode: see BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import trainlab


def run(overrides: dict, folder: Path) -> dict:
    shutil.rmtree(folder, ignore_errors=True)
    summary = trainlab.train(None, overrides, out=folder, progress="quiet")
    return with_epoch_seconds(summary, folder)


def with_epoch_seconds(summary: dict, folder: Path) -> dict:
    """``epoch_seconds``: the epochs' times after the first (start-up, lazy initialization and
    the first allocations are not throughput)."""
    metrics = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    summary["epoch_seconds"] = sum(m["time_s"] for m in metrics[1:])
    summary["timed_epochs"] = len(metrics) - 1
    return summary


def ddp_run(overrides: dict, folder: Path, ranks: int) -> dict:
    shutil.rmtree(folder, ignore_errors=True)
    args = [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in overrides.items()]
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node",
                    str(ranks), "-m", "trainlab", "train", "distributed.mode=ddp", *args,
                    "--out", str(folder), "--progress", "quiet"], check=True, timeout=600)
    return with_epoch_seconds(json.loads((folder / "summary.json").read_text()), folder)


def rate(summary: dict, n_train: int) -> float:
    return summary["timed_epochs"] * n_train / summary["epoch_seconds"]


def throughput(tmp: Path, epochs: int, n_train: int) -> list[dict]:
    rows = []
    base = {"train.epochs": epochs}
    one = run(base, tmp / "one")
    rows.append({"mode": "none", "workers": 1, "samples_per_s": rate(one, n_train)})
    for mode in ("hogwild", "async", "sync"):
        for workers in (1, 2, 4):
            s = run({**base, "distributed.mode": mode, "distributed.workers": workers},
                    tmp / f"{mode}{workers}")
            rows.append({"mode": mode, "workers": workers, "samples_per_s": rate(s, n_train)})
            print(rows[-1], flush=True)
    for stages in (2, 4):
        s = run({**base, "distributed.mode": "pipeline", "distributed.workers": stages},
                tmp / f"pipeline{stages}")
        rows.append({"mode": "pipeline", "workers": stages, "samples_per_s": rate(s, n_train)})
    if (Path(trainlab.__file__).parent / "distributed" / "ddp.py").exists():
        for ranks in (1, 2):
            s = ddp_run(base, tmp / f"ddp{ranks}", ranks)
            rows.append({"mode": "ddp", "workers": ranks, "samples_per_s": rate(s, n_train)})
    for r in rows:
        r["ratio_to_one_process"] = r["samples_per_s"] / rows[0]["samples_per_s"]
    return rows


def stragglers(tmp: Path) -> dict:
    slow = {"train.epochs": 1, "distributed.mode": "sync", "distributed.workers": 2,
            "distributed.slow_worker": "0:0.2"}
    plain = run(slow, tmp / "plain")["distributed"]
    backup = run({**slow, "distributed.backup_workers": 1}, tmp / "backup")["distributed"]
    return {"without_backup_s_per_update": plain["seconds_per_update"],
            "with_1_backup_s_per_update": backup["seconds_per_update"],
            "dropped_with_backup": backup["dropped"]}


def accuracy(tmp: Path, epochs: int) -> list[dict]:
    rows = []
    for mode in ("none", "hogwild", "async", "sync", "pipeline"):
        s = run({"train.epochs": epochs, "distributed.mode": mode}, tmp / f"acc-{mode}")
        rows.append({"mode": mode, "test_accuracy": s["test_accuracy"],
                     "updates": (s.get("distributed") or {}).get("updates")})
        print(rows[-1], flush=True)
    return rows


def staleness(tmp: Path) -> dict:
    out = {}
    for workers in (1, 2, 4):
        d = run({"train.epochs": 2, "distributed.mode": "async", "distributed.workers": workers},
                tmp / f"stale{workers}")["distributed"]
        out[workers] = {"histogram": d["staleness_histogram"], "mean": d["mean_staleness"]}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 epochs, 3-epoch accuracy")
    p.add_argument("--out", default="benchmarks/results/distributed.json")
    a = p.parse_args()
    os.environ.setdefault("TRAINLAB_CACHE", str(Path(tempfile.gettempdir()) / "trainlab-cache"))
    tmp = Path(tempfile.mkdtemp(prefix="trainlab-dist-bench-"))
    try:
        result = {"cores": os.cpu_count(),
                  "throughput": throughput(tmp, 2 if a.quick else 4, 3600),
                  "stragglers": stragglers(tmp),
                  "accuracy": accuracy(tmp, 3 if a.quick else 15),
                  "staleness": staleness(tmp)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
