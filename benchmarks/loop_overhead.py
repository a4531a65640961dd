"""trainlab's training loop against a hand-written PyTorch loop: same model, data, optimizer,
schedule and per-epoch validation, in one process, alternating, several rounds.

Reports training samples per second of each and their ratio (trainlab / bare; 1.0 = no
overhead). trainlab's time includes everything it does per epoch: metrics, the metrics.jsonl
line, the best and last checkpoints written atomically with fsync.

    python benchmarks/loop_overhead.py [--rounds 5] [--epochs 10]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

import trainlab
from trainlab import data, models, optim
from trainlab.config import resolve

CASES = {
    "default CNN on MNIST-1D, minibatch 64": [],
    "MLP [256, 256] on MNIST-1D, minibatch 32": ["model.name=mlp", "train.batch_size=32"],
    "MLP [32] on MNIST-1D, online GD (batch 1)": [
        "model.name=mlp", "model.hidden=[32]", "model.norm=none", "train.batch_size=1",
        "optimizer.name=sgd", "optimizer.lr=0.01", "schedule.name=constant"],
}


def bare_loop(cfg: dict) -> float:
    """What a careful person writes by hand: seconds for ``epochs`` epochs."""
    torch.manual_seed(cfg["seed"])
    s = data.load(cfg)
    model = models.build(cfg, s.input_shape, s.num_classes)
    opt = optim.build(cfg, model.parameters())
    n, b, epochs = len(s.x_train), cfg["train"]["batch_size"], cfg["train"]["epochs"]
    steps = -(-n // b)
    sched = None
    if cfg["schedule"]["name"] == "one_cycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg["optimizer"]["lr"],
                                                    total_steps=epochs * steps, cycle_momentum=False)
    g = torch.Generator().manual_seed(0)
    tic = time.perf_counter()
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=g)
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
            val_acc = (model(s.x_val).argmax(1) == s.y_val).float().mean().item()
    assert val_acc >= 0
    return time.perf_counter() - tic


def trainlab_loop(cfg: dict) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        trainlab.train(cfg, out=f"{tmp}/run", progress="quiet")
        rows = [line for line in open(f"{tmp}/run/metrics.jsonl")]
    import json
    return sum(json.loads(r)["time_s"] for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--online-epochs", type=int, default=1)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    print("| case | bare loop (samples/s) | trainlab (samples/s) | ratio |")
    print("|---|---:|---:|---:|")
    for name, overrides in CASES.items():
        epochs = args.online_epochs if "online" in name else args.epochs
        cfg = resolve(None, overrides + [f"train.epochs={epochs}", "device=cpu"])
        n = len(data.load(cfg).x_train) * epochs
        bare_loop(cfg), trainlab_loop(cfg)  # warm-up
        bare, ours = [], []
        for _ in range(args.rounds):
            bare.append(n / bare_loop(cfg))
            ours.append(n / trainlab_loop(cfg))
        b, o = statistics.median(bare), statistics.median(ours)
        print(f"| {name} | {b:,.0f} | {o:,.0f} | {o / b:.3f} |", flush=True)


if __name__ == "__main__":
    main()
