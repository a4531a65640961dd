"""Two ways to pick the learning rate: Smith's range test and lecture 003's halving.

**The range test** (Smith 2017, "Cyclical learning rates for training neural networks", beside
lecture 003's "how to pick the learning rate").

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

**Halving** (lecture 003, slide 25: "Too big = diverge, too small = slow convergence ... Start
from a high value and keep cutting by half if model diverges"): :func:`halving`. The slide does
not say what diverging is; here a trial of ``steps`` updates at rate lr diverges when a loss is
not finite or the training loss after it is not below the loss before it.
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


def halving(
    step: Step,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    start_lr: float = 10.0,
    steps: int = 50,
    max_halvings: int = 30,
    seed: int = 0,
    sample: int = 4096,
) -> dict:
    """Lecture 003 (s25): from ``start_lr``, train ``steps`` minibatches from the model's current
    weights with ``step`` (its schedule is not used); the trial diverged if a loss was not finite
    or the loss L after it is not below L before it, L the divergence (``step.loss_fn``) on a
    fixed seeded sample of up to ``sample`` training points, in evaluation mode. Then put the
    model and optimizer back, and if it diverged halve the rate and try again, at most
    ``max_halvings`` times. Returns ``{"lr", "after", "diverged"}`` (one entry per trial),
    ``"before"`` and ``"chosen"`` (the first rate that did not diverge, or None)."""
    from ..training.loop import evaluate

    model, optimizer = step.model, step.optimizer
    step = step.with_schedule(None)
    model_state = copy.deepcopy(model.state_dict())
    optimizer_state = copy.deepcopy(optimizer.state_dict())
    generator = torch.Generator().manual_seed(seed)
    probe = torch.randperm(len(x), generator=generator)[: min(len(x), sample)].to(x.device)
    before, _ = evaluate(model, x[probe], y[probe], step.loss_fn)
    result = {"lr": [], "after": [], "diverged": [], "before": before, "chosen": None}
    lr = start_lr
    try:
        for _ in range(max_halvings + 1):
            for group in optimizer.param_groups:
                group["lr"] = lr
            finite = True
            model.train()
            order = torch.randperm(len(x), generator=generator).to(x.device)
            for i in range(steps):
                start = (i * batch_size) % len(x)
                if start + batch_size > len(x):
                    order = torch.randperm(len(x), generator=generator).to(x.device)
                    start = 0
                idx = order[start : start + batch_size]
                step(x[idx], y[idx])
                if not math.isfinite(step.loss.item()):
                    finite = False
                    break
            after = evaluate(model, x[probe], y[probe], step.loss_fn)[0] if finite else math.nan
            diverged = not (math.isfinite(after) and after < before)
            result["lr"].append(lr), result["after"].append(after)
            result["diverged"].append(diverged)
            model.load_state_dict(model_state)
            # a copy each time: load_state_dict keeps the given tensors, which the next trial's
            # updates change in place
            optimizer.load_state_dict(copy.deepcopy(optimizer_state))
            if not diverged:
                result["chosen"] = lr
                break
            lr /= 2
    finally:
        model.load_state_dict(model_state)
        optimizer.load_state_dict(optimizer_state)
    return result


def write_halving(out: Path, result: dict):
    """lr_halving.csv (trial, rate, loss before, loss after, diverged) and lr_halving.png;
    returns the figure."""
    with (out / "lr_halving.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trial", "lr", "loss_before", "loss_after", "diverged"])
        for i, (lr, after, diverged) in enumerate(
            zip(result["lr"], result["after"], result["diverged"])
        ):
            w.writerow([i, repr(lr), repr(result["before"]), repr(after), diverged])
    from ..analysis import style

    fig, ax = style.figure(7, 4.5)
    finite = [a if math.isfinite(a) else None for a in result["after"]]
    ax.plot(result["lr"], finite, color="tab:blue", marker="o", lw=1, label="loss after the trial")
    ax.axhline(result["before"], color="grey", ls=":", label="loss before")
    gone = [lr for lr, a in zip(result["lr"], result["after"]) if not math.isfinite(a)]
    if gone:
        ax.plot(gone, [result["before"]] * len(gone), "x", color="tab:red", label="not finite")
    if result["chosen"]:
        ax.axvline(
            result["chosen"], color="tab:red", ls="--", label=f"chosen lr {result['chosen']:.3g}"
        )
    style.plain_log(ax, "x")
    ax.set_xlabel("learning rate (halved after each diverged trial, from the right)")
    ax.set_ylabel("training loss")
    ax.set_title("start high, halve while it diverges (lecture 003, slide 25)")
    style.legend(ax)
    return style.save(fig, out / "lr_halving.png")


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
    ax.set_title("learning-rate range test (Smith 2017)")
    style.legend(ax)
    return style.save(fig, out / "lr_find.png")
