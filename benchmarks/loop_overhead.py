"""trainlab's training loop against a hand-written PyTorch loop: same model, data, optimizer,
schedule, shuffling and per-epoch validation, in one process, alternating which goes first.

Both sides start from the same tensors in memory and are timed whole: building the model and
optimizer, every epoch, the test evaluation. trainlab's time includes everything it adds: the
running train metrics, the metrics.jsonl lines, the best and last checkpoints (written
atomically, with fsync), the summary. Reported: training samples per second of each, best of
the rounds (as timeit advises: interference from the rest of the machine only ever adds time),
their ratio trainlab / bare (1.0 = no overhead), and the median of the per-round ratios.

    python benchmarks/loop_overhead.py [--rounds 5] [--epochs 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

from trainlab import build
from trainlab.config import Config, resolve
from trainlab.data import Splits
from trainlab.runs.rundir import RunDir
from trainlab.training.loop import fit
from trainlab.training.progress import Progress

CASES = {
    "default CNN on MNIST-1D, minibatch 64": [],
    "MLP [256, 256] on MNIST-1D, minibatch 32": ["model.name=mlp", "train.batch_size=32"],
    "MLP [32] on MNIST-1D, online GD (batch 1)": [
        "model.name=mlp", "model.hidden=[32]", "model.norm=none", "train.batch_size=1",
        "optimizer.name=sgd", "optimizer.lr=0.01", "schedule.name=constant"],
}


def bare_loop(cfg: Config, s: Splits, result: dict | None = None) -> float:
    """What a careful person writes by hand, on the data's device (benchmarks/gpu.py uses it
    on CUDA). Returns seconds; ``result`` (if given) receives
    the last epoch's validation accuracy."""
    tic = time.perf_counter()
    torch.manual_seed(cfg.seed)
    model = build.model(cfg, s.input_shape, s.num_classes).to(s.x_train.device)
    opt = build.optimizer(cfg, model.parameters())
    n, b, epochs = len(s.x_train), cfg.train.batch_size, cfg.train.epochs
    sched = None
    if cfg.schedule.name == "one_cycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg.optimizer.lr, total_steps=epochs * -(-n // b),
            cycle_momentum=False)
    g = torch.Generator().manual_seed(cfg.seed)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=g).to(s.x_train.device)  # CPU: a no-op
        x, y = s.x_train[perm], s.y_train[perm]
        for i in range(0, n, b):
            loss = F.cross_entropy(model(x[i:i + b]), y[i:i + b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
        model.eval()
        with torch.no_grad():
            val = (model(s.x_val).argmax(1) == s.y_val).float().mean().item()
    with torch.no_grad():
        test = (model(s.x_test).argmax(1) == s.y_test).float().mean().item()
    assert val >= 0 and test >= 0
    seconds = time.perf_counter() - tic
    if result is not None:
        result["val_accuracy"] = val
    return seconds


def trainlab_loop(cfg: Config, s: Splits, result: dict | None = None) -> float:
    """trainlab's ``build.parts`` and ``fit``, run folder and all. Returns seconds; ``result``
    (if given) receives the last epoch's validation accuracy."""
    with tempfile.TemporaryDirectory() as tmp:
        tic = time.perf_counter()
        parts = build.parts(cfg, s)
        fit(parts, s, RunDir.create(f"{tmp}/run", cfg), build.fit_options(cfg, parts),
            Progress(cfg.train.epochs, "quiet"))
        seconds = time.perf_counter() - tic
        if result is not None:
            with open(f"{tmp}/run/metrics.jsonl") as f:
                result["val_accuracy"] = json.loads(f.read().splitlines()[-1])["val_accuracy"]
        return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--online-epochs", type=int, default=2)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; "
          f"{args.rounds} rounds")
    print("| case | bare loop (samples/s, best) | trainlab (samples/s, best) | trainlab / bare "
          "(best) | trainlab / bare (median of rounds) |")
    print("|---|---:|---:|---:|---:|")
    for name, overrides in CASES.items():
        epochs = args.online_epochs if "online" in name else args.epochs
        cfg = resolve(None, overrides + [f"train.epochs={epochs}", "device=cpu"])
        s = build.load_data(cfg)
        samples = len(s.x_train) * epochs
        bare_loop(cfg, s), trainlab_loop(cfg, s)  # warm-up
        bare, ours = [], []
        for r in range(args.rounds):
            pair = [(bare, bare_loop), (ours, trainlab_loop)]
            for times, run in pair if r % 2 == 0 else pair[::-1]:
                times.append(samples / run(cfg, s))
        b, o = max(bare), max(ours)
        ratio = statistics.median(x / y for x, y in zip(ours, bare))
        print(f"| {name} | {b:,.0f} | {o:,.0f} | {o / b:.3f} | {ratio:.3f} |", flush=True)


if __name__ == "__main__":
    main()
