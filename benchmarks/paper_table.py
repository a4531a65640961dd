"""MNIST-1D's published table against trainlab: the paper's four models, trained by trainlab.

Greydanus 2020 ("Scaling down deep learning", arXiv:2011.14439) reports test accuracy for
logistic regression, an MLP, a CNN and a GRU on MNIST-1D; its repository's quick-start run
(github.com/greydanus/mnist1d, notebooks/models.py and notebooks/train.py) ends at the second
column below. ``examples/mnist1d_paper_*.toml`` rebuild those models and that recipe with
trainlab's general options (Adam 1e-2, batch 100, 8000 steps = 200 epochs of all 4000 training
samples, raw inputs); this script trains each with ``--seeds`` seeds, one run at a time with one
thread, and writes the paper's numbers beside trainlab's mean and sample standard deviation over
the seeds (the target: within 2 points of the repository's run, or above it).

    python benchmarks/paper_table.py [--seeds 3] [--models linear mlp cnn gru]
                                     [--out benchmarks/results/paper_table.json]
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

import trainlab

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# model -> (paper's reported test accuracy, the repository's quick-start run), in percent
PAPER = {"linear": (32.0, 31.7), "mlp": (68.0, 64.6), "cnn": (94.0, 92.5), "gru": (91.0, 91.1)}
NAMES = {"linear": "logistic regression", "mlp": "MLP", "cnn": "CNN", "gru": "GRU"}


def train_seeds(model: str, seeds: int, folder: Path) -> dict:
    """Train ``examples/mnist1d_paper_<model>.toml`` once per seed; test accuracy in percent."""
    config = EXAMPLES / f"mnist1d_paper_{model}.toml"
    runs = []
    for seed in range(seeds):
        start = time.perf_counter()
        summary = trainlab.train(config, [f"seed={seed}"], out=folder / f"{model}_{seed}",
                                 progress="quiet")
        runs.append({"seed": seed, "test_accuracy": 100 * summary["test_accuracy"],
                     "parameters": summary["parameters"],
                     "seconds": round(time.perf_counter() - start, 1)})
        print(f"  {model} seed {seed}: {runs[-1]['test_accuracy']:.1f}% "
              f"({runs[-1]['seconds']} s)", flush=True)
    accuracies = [r["test_accuracy"] for r in runs]
    paper, repository = PAPER[model]
    mean = statistics.mean(accuracies)
    return {"config": str(config.relative_to(EXAMPLES.parent)), "paper": paper,
            "repository_run": repository, "mean": round(mean, 2),
            "sd": round(statistics.stdev(accuracies), 2) if len(runs) > 1 else 0.0,
            "parameters": runs[0]["parameters"], "within_2_points": mean >= repository - 2,
            "runs": runs}


def table(results: dict) -> str:
    """The markdown table BENCHMARKS.md shows."""
    lines = ["| model | paper | paper's repository run | trainlab, mean ± sd over seeds | "
             "parameters |", "|---|---|---|---|---|"]
    for model, r in results.items():
        lines.append(f"| {NAMES[model]} | {r['paper']:.0f}% | {r['repository_run']:.1f}% | "
                     f"{r['mean']:.1f} ± {r['sd']:.1f}% | {r['parameters']:,} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--models", nargs="+", default=list(PAPER), choices=list(PAPER))
    p.add_argument("--out", default="benchmarks/results/paper_table.json")
    a = p.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in a.models:
            results[model] = train_seeds(model, a.seeds, Path(tmp))
    out = {"machine": {"torch": torch.__version__, "python": platform.python_version(),
                       "cpu": platform.processor() or platform.machine()},
           "seeds": a.seeds, "models": results}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
