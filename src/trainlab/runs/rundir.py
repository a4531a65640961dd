"""A run's folder: what it holds, and the rules for creating and resuming one.

::

    config.toml      the fully resolved config (written first: it marks the folder as a run)
    metrics.jsonl    one JSON object per epoch: epoch, train_loss, train_accuracy, val_loss,
                     val_accuracy, lr, time_s
    last.pt          resumable checkpoint (see trainlab.runs.checkpoint)
    best.pt          weights of the best epoch
    summary.json     written when the run ends: test_loss, test_accuracy, best_epoch,
                     best_val_accuracy, epochs_run, wall_time_s, stopped_early, diverged, ...

A new run never writes into a folder that already holds files; resuming needs a folder with
``config.toml``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..config import Config, dumps, resolve
from ..config.resolve import pairs_of
from ..errors import UserError
from .atomic import atomic_write_text, cannot_write


def read_jsonl(path: Path) -> list[dict]:
    """The rows of a JSON-lines file (metrics.jsonl, diagnostics.jsonl); [] if it is missing."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def write_jsonl(path: Path, rows: list[dict], append: bool = False) -> None:
    """Write ``rows`` as JSON lines: atomically replacing the file, or appended to it."""
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if append:
        try:
            with path.open("a") as f:
                f.write(text)
        except OSError as e:
            raise cannot_write(path, e) from None
    else:
        atomic_write_text(path, text)


def output_folder(out: str | Path | None, prefix: str) -> Path:
    """A new, empty folder for an experiment command (default ``runs/<prefix>-<timestamp>``);
    refuses one that already holds files."""
    path = Path(out) if out else Path("runs") / f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UserError(f"--out {str(path)!r} exists and is not an empty folder; choose a new one")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out {str(path)!r} cannot be created ({e.strerror})") from None
    return path


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    config = property(lambda self: self.path / "config.toml")
    metrics = property(lambda self: self.path / "metrics.jsonl")
    last = property(lambda self: self.path / "last.pt")
    best = property(lambda self: self.path / "best.pt")
    summary = property(lambda self: self.path / "summary.json")
    diagnostics = property(lambda self: self.path / "diagnostics.jsonl")
    lr_updates = property(lambda self: self.path / "lr_updates.csv")

    @classmethod
    def create(cls, out: str | Path | None, config: dict) -> RunDir:
        """A new run folder (``runs/<timestamp>`` by default); refuses one that holds files."""
        if out is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            out = Path("runs") / stamp
            n = 2
            while out.exists():
                out, n = Path("runs") / f"{stamp}-{n}", n + 1
        run = cls(out)
        if run.path.exists():
            if not run.path.is_dir():
                raise UserError(f"--out {str(run.path)!r} is a file, not a folder")
            if run.config.exists():
                raise UserError(
                    f"--out {str(run.path)!r} is an existing run; refusing to overwrite "
                    f"it (continue it with --resume {run.path}, or choose a new --out)"
                )
            if any(run.path.iterdir()):
                raise UserError(
                    f"--out {str(run.path)!r} is not empty; choose a new or empty folder"
                )
        try:
            run.path.mkdir(parents=True, exist_ok=True)
            atomic_write_text(run.config, dumps(config))
        except OSError as e:
            raise UserError(f"--out {str(run.path)!r} cannot be written ({e.strerror})") from None
        return run

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        """An existing run folder (for --resume and evaluate)."""
        run = cls(path)
        if not run.path.is_dir():
            raise UserError(f"{str(run.path)!r} is not a folder (expected a trainlab run folder)")
        if not run.config.is_file():
            raise UserError(f"{str(run.path)!r} is not a trainlab run (it has no config.toml)")
        return run

    def read_config(self) -> Config:
        """The run's config. Read as presets: a key its model or optimizer does not read (a
        run written before such keys were refused, where it was ignored) is left out, so that
        every earlier run can still be resumed and evaluated."""
        return resolve(None, presets=pairs_of(self.config))

    def write_metrics(self, history: list[dict]) -> None:
        """Rewrite metrics.jsonl from the full history (on resume, to match the checkpoint)."""
        write_jsonl(self.metrics, history)

    def read_metrics(self) -> list[dict]:
        """metrics.jsonl: one dict per epoch."""
        return read_jsonl(self.metrics)

    def append_metrics(self, row: dict) -> None:
        write_jsonl(self.metrics, [row], append=True)

    def write_summary(self, summary: dict) -> None:
        atomic_write_text(self.summary, json.dumps(summary, indent=2) + "\n")

    def read_summary(self) -> dict | None:
        return json.loads(self.summary.read_text()) if self.summary.exists() else None
