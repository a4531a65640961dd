"""Time to a target accuracy: trainlab's speed recipe (``examples/fast.toml``) against the MNIST-1D
paper's reference recipe, side by side in one process, alternating which goes first.

- **reference**: the paper's CNN (``examples/mnist1d_paper_cnn.toml``: 3 strided convolutions,
  25 channels, 5,210 parameters; Greydanus 2020, arXiv:2011.14439), Adam at 1e-2, minibatches of
  100 taken in order as the paper's ``train.py`` does, raw inputs, trained in a hand-written
  PyTorch loop (no trainlab code in the loop; the module is built by ``trainlab.build.model``).
- **fast**: ``trainlab train examples/fast.toml`` (the lectures' advice: batch norm, a higher rate,
  a one-cycle schedule, standardized inputs; see the file).

Both use trainlab's split of MNIST-1D (3,600 train / 400 validation / 1,000 test), the same threads,
and validate after every epoch. The clock is the one ``trainlab compare --metric time_to_target``
uses: the summed seconds of training and validation of the epochs up to and including the first
one whose validation accuracy reaches the target (:func:`trainlab.experiments.compare.to_target`);
model construction is not counted on either side. Reported per recipe: the median over seeds of
the seconds to 90% and to 94% (seeds that never reach it are counted as such), and the final test
accuracy of each seed (the fast recipe: the best validation epoch, as ``trainlab train`` reports;
the reference: the last epoch, as the paper does).

Targets (issue 13): 90% in at most a third of the reference's time (median over seeds), every seed
of the fast recipe at >= 94% test accuracy at the end.

    python benchmarks/time_to_target.py [--seeds 5] [--epochs 100] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import trainlab
from trainlab import build
from trainlab.config import resolve
from trainlab.experiments.compare import to_target
from trainlab.runs.rundir import RunDir

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "examples" / "mnist1d_paper_cnn.toml"
FAST = ROOT / "examples" / "fast.toml"
TARGETS = (0.90, 0.94)


def reference(seed: int, epochs: int, threads: int) -> dict:
    """The paper's recipe in a hand-written loop: per-epoch history (``time_s``,
    ``val_accuracy``) and the last epoch's test accuracy."""
    cfg = resolve(REFERENCE, [f"seed={seed}", "data.val_fraction=0.1", f"train.threads={threads}"])
    torch.set_num_threads(threads)
    s = build.load_data(cfg)
    torch.manual_seed(seed)
    model = build.model(cfg, s.input_shape, s.num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    n, b = len(s.x_train), 100
    history = []
    for epoch in range(1, epochs + 1):
        tic = time.perf_counter()
        model.train()
        for i in range(0, n, b):  # in order, as the paper's train.py
            loss = F.cross_entropy(model(s.x_train[i:i + b]), s.y_train[i:i + b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val = (model(s.x_val).argmax(1) == s.y_val).float().mean().item()
        history.append({"epoch": epoch, "time_s": time.perf_counter() - tic, "val_accuracy": val})
    with torch.no_grad():
        test = (model(s.x_test).argmax(1) == s.y_test).float().mean().item()
    return {"history": history, "test_accuracy": test}


def fast(seed: int, threads: int) -> dict:
    """``examples/fast.toml`` trained by trainlab: its metrics.jsonl and reported test accuracy."""
    with tempfile.TemporaryDirectory() as tmp:
        summary = trainlab.train(FAST, [f"seed={seed}", f"train.threads={threads}"],
                                 out=f"{tmp}/run", progress="quiet")
        history = RunDir(f"{tmp}/run").read_metrics()
    return {"history": history, "test_accuracy": summary["test_accuracy"]}


def scores(run: dict) -> dict:
    """Seconds (and epochs) to each target; None where never reached."""
    out = {"test_accuracy": run["test_accuracy"], "epochs": len(run["history"]),
           "seconds": sum(r["time_s"] for r in run["history"])}
    for target in TARGETS:
        epoch, seconds = to_target(run["history"], target)
        out[f"epoch_to_{target:.0%}"] = epoch
        out[f"s_to_{target:.0%}"] = seconds
    return out


def median_or_none(values: list) -> float | None:
    """Median of the reached values, None if fewer than half the seeds reached the target (then
    the median over all seeds is itself 'never')."""
    reached = sorted(v for v in values if v is not None)
    if len(reached) * 2 <= len(values) - 1:
        return None
    # unreached seeds count as infinitely slow: the median of the whole list
    full = reached + [float("inf")] * (len(values) - len(reached))
    return statistics.median(full)


def summarize(runs: list[dict]) -> dict:
    """Per recipe: medians of seconds to each target, how many seeds reached it, test accuracy."""
    out = {"seeds": len(runs), "test_accuracy": [round(r["test_accuracy"], 4) for r in runs],
           "min_test_accuracy": min(r["test_accuracy"] for r in runs),
           "median_seconds_total": statistics.median(r["seconds"] for r in runs),
           "epochs": runs[0]["epochs"]}
    for target in TARGETS:
        key = f"s_to_{target:.0%}"
        out[f"median_{key}"] = median_or_none([r[key] for r in runs])
        out[f"reached_{target:.0%}"] = sum(r[key] is not None for r in runs)
        out[f"median_epoch_to_{target:.0%}"] = median_or_none(
            [r[f"epoch_to_{target:.0%}"] for r in runs])
    return out


def fmt(v, digits=2) -> str:
    return "never (median)" if v is None else ("never" if v == float("inf") else f"{v:.{digits}f}")


def table(result: dict) -> str:
    """The markdown table BENCHMARKS.md shows."""
    ref, fst = result["reference"], result["fast"]
    lines = ["| recipe | s to 90% val (median) | epoch | seeds reaching 90% | s to 94% val (median) "
             "| seeds reaching 94% | test accuracy per seed (%) | min |",
             "|---|---:|---:|---:|---:|---:|---|---:|"]
    for name, r in (("reference: paper CNN, Adam 1e-2, batch 100, hand-written loop", ref),
                    ("trainlab examples/fast.toml", fst)):
        tests = " ".join(f"{100 * a:.1f}" for a in r["test_accuracy"])
        lines.append(f"| {name} | {fmt(r['median_s_to_90%'])} | {fmt(r['median_epoch_to_90%'], 0)} "
                     f"| {r['reached_90%']} of {r['seeds']} | {fmt(r['median_s_to_94%'])} "
                     f"| {r['reached_94%']} of {r['seeds']} | {tests} "
                     f"| {100 * r['min_test_accuracy']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=100, help="reference epochs (default 100)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "time_to_target.json"))
    args = parser.parse_args()
    runs = {"reference": [], "fast": []}
    for seed in range(args.seeds):
        order = ["reference", "fast"] if seed % 2 == 0 else ["fast", "reference"]
        for name in order:
            run = (reference(seed, args.epochs, args.threads) if name == "reference"
                   else fast(seed, args.threads))
            runs[name].append(scores(run))
            print(f"seed {seed} {name}: {runs[name][-1]}", flush=True)
    result = {name: summarize(r) for name, r in runs.items()}
    ref90, fast90 = result["reference"]["median_s_to_90%"], result["fast"]["median_s_to_90%"]
    result["speed-up_to_90%"] = (ref90 / fast90) if ref90 and fast90 else None
    result["targets_met"] = {
        "90% in <= 1/3 of the reference's time": bool(result["speed-up_to_90%"]
                                                      and result["speed-up_to_90%"] >= 3),
        "every fast seed >= 94% test": result["fast"]["min_test_accuracy"] >= 0.94}
    result["machine"] = {"cpu": platform.processor() or platform.machine(),
                         "threads": args.threads, "torch": torch.__version__}
    result["runs"] = runs
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"speed-up to 90%: {fmt(result['speed-up_to_90%'])}x; targets: {result['targets_met']}")


if __name__ == "__main__":
    main()
