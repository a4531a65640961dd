"""The learning-rate range test (lecture 003, "how to pick the learning rate"; Smith 2017).

Train from the model's current weights for up to ``steps`` minibatches while the rate rises
exponentially from ``start_lr`` to ``end_lr``: lr_i = start * (end / start)^(i / (steps - 1)).
Record the loss, smoothed by an exponential moving average with bias correction
(s_i = beta s_{i-1} + (1 - beta) loss_i, reported as s_i / (1 - beta^(i+1)), beta = 0.9), and
stop once the smoothed loss exceeds 4x its minimum or is not finite. The model and optimizer
are put back as they were afterwards.

Suggestion rule: the rate at which the smoothed loss falls fastest, i.e. the most negative slope
d(smoothed loss) / d(log lr) over windows of 1/20 of the steps, looked for between the first
point and the minimum of the smoothed loss; that rate is still safely below where the loss
bottoms out and turns up.
"""

from __future__ import annotations

import copy
import csv
import math
from pathlib import Path

import torch

from ..training.step import Step


def range_test(
    step: Step,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    steps: int = 200,
    beta: float = 0.9,
    seed: int = 0,
) -> dict:
    """Run the test with ``step`` (the run's own training step: augmentation, noise, auxiliary
    heads and penalties included; its schedule is not used, the test sets the rate); returns
    ``{"lr", "loss", "smoothed", "suggestion"}`` (lists and a float). The loss recorded is the
    step's objective, the quantity the optimizer minimizes."""
    model, optimizer = step.model, step.optimizer
    step = step.with_schedule(None)
    model_state = copy.deepcopy(model.state_dict())
    optimizer_state = copy.deepcopy(optimizer.state_dict())
    generator = torch.Generator().manual_seed(seed)
    lrs, raw, smoothed = [], [], []
    average, best = 0.0, math.inf
    model.train()
    order = torch.randperm(len(x), generator=generator).to(x.device)
    try:
        for i in range(steps):
            lr = start_lr * (end_lr / start_lr) ** (i / max(1, steps - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            start = (i * batch_size) % len(x)
            if start + batch_size > len(x):
                order = torch.randperm(len(x), generator=generator).to(x.device)
                start = 0
            idx = order[start : start + batch_size]
            step(x[idx], y[idx])
            value = step.loss.item()
            average = beta * average + (1 - beta) * value
            corrected = average / (1 - beta ** (i + 1))
            lrs.append(lr), raw.append(value), smoothed.append(corrected)
            if not math.isfinite(corrected) or corrected > 4 * best:
                break
            best = min(best, corrected)
    finally:
        model.load_state_dict(model_state)
        optimizer.load_state_dict(optimizer_state)
    return {"lr": lrs, "loss": raw, "smoothed": smoothed, "suggestion": suggest(lrs, smoothed)}


def suggest(lrs: list[float], smoothed: list[float]) -> float | None:
    """The rate of steepest descent of the smoothed loss before its minimum: slopes are taken
    over windows of w = len / 20 steps (single steps are too noisy), and the suggestion is the
    geometric middle of the steepest window."""
    finite = [s if math.isfinite(s) else math.inf for s in smoothed]
    low = min(range(len(finite)), key=finite.__getitem__) if finite else 0
    w = max(1, len(finite) // 20)
    if low < w + 1:
        return None
    slopes = [
        (finite[i + w] - finite[i]) / (math.log(lrs[i + w]) - math.log(lrs[i]))
        for i in range(low - w + 1)
    ]
    i = min(range(len(slopes)), key=slopes.__getitem__)
    return math.sqrt(lrs[i] * lrs[i + w])


def write(out: Path, result: dict):
    """lr_find.csv (step, rate, loss, smoothed loss) and lr_find.png; returns the figure."""
    with (out / "lr_find.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "lr", "loss", "smoothed_loss"])
        for i, row in enumerate(zip(result["lr"], result["loss"], result["smoothed"])):
            w.writerow([i, *map(repr, row)])
    from ..analysis import style

    fig, ax = style.figure(7, 4.5)
    ax.plot(result["lr"], result["loss"], color="lightgrey", lw=1, label="loss")
    ax.plot(result["lr"], result["smoothed"], color="tab:blue", lw=2, label="smoothed loss")
    if result["suggestion"]:
        ax.axvline(
            result["suggestion"],
            color="tab:red",
            ls="--",
            label=f"suggested lr {result['suggestion']:.2g} (steepest descent)",
        )
    style.plain_log(ax, "x")
    top = min(max(result["smoothed"][:3] + [0]) * 1.5, max(result["loss"]))
    ax.set_ylim(min(result["smoothed"]) * 0.9, top if math.isfinite(top) else None)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title("learning-rate range test")
    style.legend(ax)
    return style.save(fig, out / "lr_find.png")
