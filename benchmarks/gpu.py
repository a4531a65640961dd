"""trainlab on a CUDA GPU (issue 13, section 4): what the default recipe costs and reaches, how
trainlab's loop compares with a hand-written one there, and what train.precision and
train.compile buy.

(a) The default recipe (batch-norm CNN on MNIST-1D, 30 epochs), seeds 0-2: wall time of the
    whole ``trainlab.train`` call (data load included) and test accuracy.
(b) trainlab's ``fit`` against the hand-written loop of ``benchmarks/loop_overhead.py`` (the same
    functions, on the GPU): training samples per second, best of the rounds, alternating order.
(c) Training throughput (samples/s of the updates alone: shuffle, augmentation, steps, running
    metrics; the epoch timed from the first kernel to the synchronization that reads its
    metrics) for each train.precision x train.compile, on the default CNN at batch 64 and on a
    model that fills the GPU (an MLP [4096] x 4 at batch 1024, about 60M parameters). Two warm-up
    epochs first (compilation, cuDNN's choices, and the last batch's other shape).

Writes ``benchmarks/results/gpu.json`` and prints markdown tables.

    python benchmarks/gpu.py [--rounds 3] [--epochs 10]
    python benchmarks/gpu.py --dry-run [--no-compile]

``--dry-run`` runs every code path on the CPU with tiny sizes (1 epoch, 1 round, bf16 in place
of fp16, which is CUDA-only in trainlab, a small "big" model, one thread) so that the script
is known to work without a GPU; its numbers mean nothing and it writes ``gpu-dry-run.json`` instead.
``--no-compile`` leaves out the train.compile cases (each compiles for seconds on a CPU).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

import trainlab  # noqa: E402
from trainlab import build  # noqa: E402
from trainlab.config import resolve  # noqa: E402
from trainlab.training.early_stopping import EarlyStopping  # noqa: E402
from trainlab.training.loop import epoch_updates  # noqa: E402
from trainlab.training.state import FitState  # noqa: E402

from loop_overhead import CASES, bare_loop, trainlab_loop  # noqa: E402

RESULTS = Path(__file__).parent / "results"
BIG = ["model.name=mlp", "model.hidden=[4096,4096,4096,4096]", "model.norm=none",
       "model.dropout=0", "train.batch_size=1024"]
BIG_DRY = ["model.name=mlp", "model.hidden=[64,64]", "model.norm=none", "model.dropout=0",
           "train.batch_size=256"]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def default_recipe(device: torch.device, seeds: list[int], extra: list[str]) -> list[dict]:
    """(a) The default recipe, one run per seed, timed whole."""
    rows = []
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            tic = time.perf_counter()
            summary = trainlab.train(None, [f"seed={seed}", f"device={device.type}", *extra],
                                     out=f"{tmp}/run", progress="quiet")
            rows.append({"seed": seed, "wall_s": time.perf_counter() - tic,
                         "training_s": summary["wall_time_s"],
                         "test_accuracy": summary["test_accuracy"]})
    return rows


def loop_against_bare(device: torch.device, rounds: int, epochs: int, cases: dict) -> list[dict]:
    """(b) loop_overhead.py's comparison, with the data on ``device``."""
    rows = []
    for name, overrides in cases.items():
        e = max(1, epochs // 5) if "online" in name else epochs
        cfg = resolve(None, overrides + [f"train.epochs={e}", f"device={device.type}"])
        s = build.load_data(cfg, device)
        samples = len(s.x_train) * e

        def timed(fn):
            sync(device)
            seconds = fn(cfg, s)
            sync(device)
            return seconds

        timed(bare_loop), timed(trainlab_loop)  # warm-up
        bare, ours = [], []
        for r in range(rounds):
            pair = [(bare, bare_loop), (ours, trainlab_loop)]
            for times, fn in pair if r % 2 == 0 else pair[::-1]:
                times.append(samples / timed(fn))
        rows.append({"case": name, "bare_samples_per_s": max(bare),
                     "trainlab_samples_per_s": max(ours), "ratio_best": max(ours) / max(bare),
                     "ratio_median": statistics.median(o / b for o, b in zip(ours, bare))})
    return rows


def throughput(device: torch.device, overrides: list[str], epochs: int, warmup: int = 2) -> float:
    """(c) Training samples per second of ``epochs`` epochs of updates, after ``warmup``."""
    cfg = resolve(None, overrides + [f"device={device.type}"])
    s = build.load_data(cfg, device)
    parts = build.parts(cfg, s)
    state = FitState(build.fit_options(cfg, parts), s, parts, None,
                     EarlyStopping("val_accuracy", 0, 0.0), torch.Generator().manual_seed(0))
    for _ in range(warmup):
        epoch_updates(state).result()
    sync(device)
    tic = time.perf_counter()
    for _ in range(epochs):
        loss, _ = epoch_updates(state).result()  # reads the metrics: waits for the device
    seconds = time.perf_counter() - tic
    assert loss == loss, "the loss became NaN"
    return len(s.x_train) * epochs / seconds


def precision_compile(device: torch.device, epochs: int, big: list[str], precisions: list[str],
                      compiles: list[bool]) -> list[dict]:
    rows = []
    models = {"default CNN, batch 64": [], f"MLP {big[1].split('=')[1]}, batch "
              f"{big[-1].split('=')[1]}": big}
    for name, overrides in models.items():
        reference = None
        for compiled in compiles:
            for p in precisions:
                rate = throughput(device, overrides + [f"train.precision={p}",
                                                       f"train.compile={str(compiled).lower()}"],
                                  epochs)
                reference = reference or rate  # fp32, eager: the first
                rows.append({"model": name, "precision": p, "compile": compiled,
                             "samples_per_s": rate, "ratio_to_fp32_eager": rate / reference})
                print(f"  {name}, {p}, compile={compiled}: {rate:,.0f} samples/s", flush=True)
    return rows


def markdown(result: dict) -> str:
    lines = [f"{result['device_name']}, torch {result['torch']}"
             + (" (DRY RUN on CPU: the numbers mean nothing)" if result["dry_run"] else ""), "",
             "| seed | wall time (s) | training time (s) | test accuracy |",
             "|---:|---:|---:|---:|"]
    for r in result["default_recipe"]:
        lines.append(f"| {r['seed']} | {r['wall_s']:.2f} | {r['training_s']:.2f} | "
                     f"{r['test_accuracy']:.4f} |")
    lines += ["", "| case | hand-written (samples/s) | trainlab (samples/s) | trainlab / "
              "hand-written (best) | (median of rounds) |", "|---|---:|---:|---:|---:|"]
    for r in result["loop_against_bare"]:
        lines.append(f"| {r['case']} | {r['bare_samples_per_s']:,.0f} | "
                     f"{r['trainlab_samples_per_s']:,.0f} | {r['ratio_best']:.3f} | "
                     f"{r['ratio_median']:.3f} |")
    lines += ["", "| model | precision | compile | samples/s | vs fp32 eager |",
              "|---|---|---|---:|---:|"]
    for r in result["precision_compile"]:
        lines.append(f"| {r['model']} | {r['precision']} | {str(r['compile']).lower()} | "
                     f"{r['samples_per_s']:,.0f} | {r['ratio_to_fp32_eager']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--dry-run", action="store_true", help="every code path on the CPU, tiny")
    ap.add_argument("--no-compile", action="store_true", help="leave out train.compile = true")
    ap.add_argument("--out", type=Path, default=None, help="the JSON file (default: "
                    "benchmarks/results/gpu.json, or gpu-dry-run.json)")
    args = ap.parse_args(argv)
    compiles = [False] if args.no_compile else [False, True]
    if args.dry_run:
        device, rounds, epochs = torch.device("cpu"), 1, 1
        torch.set_num_threads(1)  # a shared CPU: more threads only contend
        seeds, recipe, big = [0], ["train.epochs=1"], BIG_DRY
        precisions = ["fp32", "bf16"]  # fp16 is CUDA-only: bf16 exercises the same paths
        cases = dict(list(CASES.items())[:1])
    else:
        if not torch.cuda.is_available():
            sys.exit("benchmarks/gpu.py: no CUDA device here (--dry-run runs it on the CPU)")
        device, rounds, epochs = torch.device("cuda"), args.rounds, args.epochs
        seeds, recipe, big, cases = [0, 1, 2], [], BIG, CASES
        precisions = ["fp32", "fp16"]
        if torch.cuda.is_bf16_supported():
            precisions.insert(1, "bf16")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    print(f"{name}, torch {torch.__version__}", flush=True)
    result = {"device_name": name, "torch": torch.__version__, "dry_run": args.dry_run,
              "default_recipe": default_recipe(device, seeds, recipe)}
    print("(a) done", flush=True)
    result["loop_against_bare"] = loop_against_bare(device, rounds, epochs, cases)
    print("(b) done", flush=True)
    result["precision_compile"] = precision_compile(device, epochs, big, precisions, compiles)
    out = args.out or RESULTS / ("gpu-dry-run.json" if args.dry_run else "gpu.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))
    return result


if __name__ == "__main__":
    main()
