"""What a run prints while it trains: a live bar in a terminal, a line per epoch otherwise.

Everything goes to stderr, so that stdout carries only the result lines.
"""

from __future__ import annotations

import sys

from tqdm import tqdm


def format_epoch(m: dict, epochs: int) -> str:
    """One line per epoch: the metrics there are (a regression task's losses are mean squared
    errors and it has no accuracy; a run without a validation split has no val_*)."""
    name = "loss" if "train_accuracy" in m else "mse"
    parts = [f"epoch {m['epoch']:>{len(str(epochs))}}/{epochs}"]
    for split in ("train", "val"):
        if f"{split}_loss" in m:
            accuracy = m.get(f"{split}_accuracy")
            parts.append(
                f"{split} {name} {m[f'{split}_loss']:.4f}"
                + (f" acc {accuracy:.4f}" if accuracy is not None else "")
            )
    return "  ".join(parts + [f"lr {m['lr']:.3g}", f"{m['time_s']:.2f}s"])


class Progress:
    """``mode``: ``auto`` (a bar if stderr is a terminal, else lines), ``bar``, ``lines``,
    ``quiet``."""

    def __init__(self, epochs: int, mode: str = "auto"):
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "lines"
        self.mode, self.epochs, self.bar = mode, epochs, None

    def start_epoch(self, epoch: int, updates: int) -> None:
        if self.mode == "bar":
            self.bar = tqdm(
                total=updates,
                desc=f"epoch {epoch}/{self.epochs}",
                leave=False,
                unit="batch",
                file=sys.stderr,
                dynamic_ncols=True,
            )

    def update(self) -> None:
        if self.bar is not None:
            self.bar.update()

    def end_epoch(self, metrics: dict) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self.message(format_epoch(metrics, self.epochs))

    def message(self, text: str) -> None:
        if self.mode != "quiet":
            tqdm.write(text, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
