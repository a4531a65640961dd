"""Step time of trainlab's optimizers next to PyTorch's closest, on a ResNet-18-sized parameter
list (62 tensors, 11.7M parameters, random gradients), CPU.

Each pair is timed in one process, alternating, several rounds. Before every step the gradients
are replaced (untimed) by one of two random sets in turn, so that signs change and adaptive
state moves as in training. Reported: milliseconds per step (best round) and the speed ratio
reference time / trainlab time (> 1: trainlab is faster).

    python benchmarks/optimizers.py [--rounds 5] [--steps 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from shapes import resnet18_params  # noqa: E402

from trainlab.optim import SWATS, GradientClipping, GradientNoise, QuickProp, Rprop  # noqa: E402


class NoiseThenSGD:
    """The hand-written reference for GradientNoise(SGD): add N(0, sigma^2), then step."""

    def __init__(self, params):
        self.params, self.sgd = params, torch.optim.SGD(params, lr=1e-3, foreach=True)

    def step(self):
        grads = [p.grad for p in self.params]
        torch._foreach_add_(grads, [torch.randn_like(g) for g in grads], alpha=0.1)
        self.sgd.step()


class ClipThenSGD:
    """The hand-written reference for GradientClipping(SGD): clip_grad_norm_, then step."""

    def __init__(self, params):
        self.params, self.sgd = params, torch.optim.SGD(params, lr=1e-3, foreach=True)

    def step(self):
        torch.nn.utils.clip_grad_norm_(self.params, 1.0, foreach=True)
        self.sgd.step()


PAIRS = {
    "Rprop irprop- (fast path) vs torch.optim.Rprop (foreach)":
        (lambda p: Rprop(p), lambda p: torch.optim.Rprop(p, foreach=True)),
    "Rprop rprop+ (per-parameter) vs torch.optim.Rprop (foreach)":
        (lambda p: Rprop(p, variant="rprop+"), lambda p: torch.optim.Rprop(p, foreach=True)),
    "QuickProp vs torch.optim.SGD (momentum, foreach)":
        (lambda p: QuickProp(p), lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, foreach=True)),
    "SWATS (Adam phase) vs torch.optim.Adam (foreach)":
        (lambda p: SWATS(p), lambda p: torch.optim.Adam(p, foreach=True)),
    "GradientNoise(SGD) vs randn_like noise + SGD":
        (lambda p: GradientNoise(torch.optim.SGD(p, lr=1e-3, foreach=True), eta=0.01, seed=0),
         NoiseThenSGD),
    "GradientClipping(SGD) vs clip_grad_norm_ + SGD":
        (lambda p: GradientClipping(torch.optim.SGD(p, lr=1e-3, foreach=True), max_norm=1.0),
         ClipThenSGD),
}


def time_steps(optimizer, params, grad_sets, steps: int) -> float:
    total = 0.0
    for i in range(steps):
        torch._foreach_copy_([p.grad for p in params], grad_sets[i % 2])
        tic = time.perf_counter()
        optimizer.step()
        total += time.perf_counter() - tic
    return total / steps * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; ResNet-18-sized "
          f"parameters; best of {args.rounds} rounds of {args.steps} steps")
    print("| trainlab vs reference | trainlab (ms/step) | reference (ms/step) | speed ratio |")
    print("|---|---:|---:|---:|")
    grad_sets = [[p.grad for p in resnet18_params(seed)] for seed in (1, 2)]
    for name, (ours_factory, ref_factory) in PAIRS.items():
        p_ours, p_ref = resnet18_params(), resnet18_params()
        ours, ref = ours_factory(p_ours), ref_factory(p_ref)
        for opt, params in ((ours, p_ours), (ref, p_ref)):
            time_steps(opt, params, grad_sets, 2)  # warm-up: state allocated
        t_ours, t_ref = [], []
        for _ in range(args.rounds):
            t_ours.append(time_steps(ours, p_ours, grad_sets, args.steps))
            t_ref.append(time_steps(ref, p_ref, grad_sets, args.steps))
        a, b = min(t_ours), min(t_ref)
        print(f"| {name} | {a:.1f} | {b:.1f} | {b / a:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
