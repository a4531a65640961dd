"""A run's folder: what it holds, and the rules for creating and resuming one.

::

    config.toml      the fully resolved config (written first: it marks the folder as a run)
    metrics.jsonl    one JSON object per epoch: epoch, train_loss, train_accuracy, val_loss,
                     val_accuracy, lr, time_s
    last.pt          resumable checkpoint (see trainlab.runs.checkpoint)
    best.pt          weights of the best epoch
    summary.json     written when the run ends: test_loss, test_accuracy, best_epoch,
                     best_val_accuracy, epochs_run, wall_time_s, stopped_early, diverged, ...
    .lock            one writer at a time (trainlab.runs.lock): who last wrote the run

A new run never writes into a folder that already holds files; resuming needs a folder with
``config.toml``.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from shlex import quote

from ..config import Config, dumps, resolve
from ..config.resolve import pairs_of
from ..errors import UserError
from .atomic import atomic_write_text, cannot_write
from .lock import LOCK_NAME, FolderLock


def read_jsonl(path: Path, advice: str) -> list[dict]:
    """The rows of a JSON-lines file (metrics.jsonl, diagnostics.jsonl); [] if it is missing.
    A damaged file is one line naming it and the damaged line, with ``advice`` (what to do)."""
    if not path.exists():
        return []
    rows = []
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{str(path)!r} cannot be read ({_reason(e)}); {advice}") from None
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except ValueError as e:
            row = e
        if not isinstance(row, dict):
            raise UserError(f"{str(path)!r} line {number} is damaged (not a JSON object); {advice}")
        rows.append(row)
    return rows


def read_json(path: Path, advice: str) -> dict | None:
    """The JSON object in ``path`` (summary.json, a manifest); None if it is missing. A damaged
    file is one line naming it, with ``advice``."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{str(path)!r} cannot be read ({_reason(e)}); {advice}") from None
    try:
        found = json.loads(text)
    except ValueError:
        found = None
    if not isinstance(found, dict):
        raise UserError(f"{str(path)!r} is damaged (not a JSON object); {advice}")
    return found


def _reason(e: BaseException) -> str:
    return e.strerror if isinstance(e, OSError) and e.strerror else type(e).__name__


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
    """A run's folder. :meth:`create` and :meth:`open` with ``write=True`` hold its
    :class:`~trainlab.runs.lock.FolderLock` (one writer at a time) until :meth:`close`; use the
    run as a context manager to close it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock: FolderLock | None = None
        self._created: list[Path] = []  # folders create() made, deepest first
        self._digest: str | None = None

    config = property(lambda self: self.path / "config.toml")
    metrics = property(lambda self: self.path / "metrics.jsonl")
    last = property(lambda self: self.path / "last.pt")
    best = property(lambda self: self.path / "best.pt")
    summary = property(lambda self: self.path / "summary.json")
    diagnostics = property(lambda self: self.path / "diagnostics.jsonl")
    lr_updates = property(lambda self: self.path / "lr_updates.csv")

    @classmethod
    def create(cls, out: str | Path | None, config: dict | Config) -> RunDir:
        """A new run folder (``runs/<timestamp>`` by default) holding ``config.toml``, locked;
        refuses one that holds files."""
        run = cls(cls.default_path() if out is None else out)
        run._refuse_existing()
        run._created = [p for p in (run.path, *run.path.parents) if not p.exists()]
        try:
            run.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"--out {str(run.path)!r} cannot be created ({e.strerror})") from None
        try:
            run._lock = FolderLock(run.path).acquire()
            run._refuse_existing()  # again, holding the lock: another process may have begun
            atomic_write_text(run.config, dumps(config))
        except BaseException:
            run.discard_if_unstarted()
            raise
        return run

    @staticmethod
    def default_path() -> Path:
        """``runs/<timestamp>``, with ``-2``, ``-3``, ... when that exists."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out, n = Path("runs") / stamp, 2
        while out.exists():
            out, n = Path("runs") / f"{stamp}-{n}", n + 1
        return out

    def _refuse_existing(self) -> None:
        if not self.path.exists():
            return
        if not self.path.is_dir():
            raise UserError(f"--out {str(self.path)!r} is a file, not a folder")
        if self.config.exists():
            raise UserError(
                f"--out {str(self.path)!r} is an existing run; refusing to overwrite "
                f"it (continue it with trainlab train --resume {quote(str(self.path))}, or "
                "choose a new --out)"
            )
        if any(p.name != LOCK_NAME for p in self.path.iterdir()):
            raise UserError(f"--out {str(self.path)!r} is not empty; choose a new or empty folder")

    @classmethod
    def open(cls, path: str | Path, *, write: bool = False) -> RunDir:
        """An existing run folder (for --resume and evaluate); ``write=True`` locks it."""
        run = cls(path)
        if not run.path.is_dir():
            raise UserError(f"{str(run.path)!r} is not a folder (expected a trainlab run folder)")
        if not run.config.is_file():
            raise UserError(f"{str(run.path)!r} is not a trainlab run (it has no config.toml)")
        if write:
            run._lock = FolderLock(run.path).acquire()
        return run

    def close(self) -> None:
        """Release the folder's lock (if this object holds it)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def discard_if_unstarted(self) -> None:
        """Remove what :meth:`create` wrote when the run then failed before writing anything
        else (a mistake found while building it): the config and lock, and the folders it made.
        A folder holding anything more is left as it is."""
        self.close()
        if not self._created or not self.path.is_dir():
            return
        if any(p.name not in ("config.toml", LOCK_NAME) for p in self.path.iterdir()):
            return
        for name in ("config.toml", LOCK_NAME):
            (self.path / name).unlink(missing_ok=True)
        for folder in self._created:
            try:
                folder.rmdir()
            except OSError:
                break
        self._created = []

    def config_digest(self) -> str | None:
        """SHA-256 of config.toml as it was written (None without one). Checkpoints record it,
        so that a config.toml damaged or edited after them is noticed before it is used."""
        if self._digest is None:
            try:
                self._digest = hashlib.sha256(self.config.read_bytes()).hexdigest()
            except OSError:
                return None
        return self._digest

    def check_config(self, saved: Path) -> None:
        """One line when config.toml is not the one the checkpoint ``saved`` was written with.
        A checkpoint that cannot be read, or one from before checkpoints recorded it, is not
        checked here (reading it reports the former)."""
        from . import checkpoint

        if not saved.is_file():
            return
        try:
            recorded = checkpoint.load(saved).get("config_sha256")
        except UserError:
            return
        if recorded is not None and recorded != self.config_digest():
            raise UserError(
                f"{str(self.config)!r} is not the config {saved.name} was trained with: it was "
                "damaged or edited since; restore it (or start the run over with a new --out)"
            )

    def read_config(self) -> Config:
        """The run's config. Read as presets: a key its model or optimizer does not read (a
        run written before such keys were refused, where it was ignored) is left out, so that
        every earlier run can still be resumed and evaluated."""
        try:
            return resolve(None, presets=pairs_of(self.config))
        except UserError as e:  # trainlab wrote a valid one: it was damaged or edited since
            where = "" if str(self.config) in str(e) else f"{str(self.config)!r}: "
            raise UserError(
                f"{where}{e} (the run's config.toml is damaged or was edited; restore it)"
            ) from None

    def write_metrics(self, history: list[dict]) -> None:
        """Rewrite metrics.jsonl from the full history (on resume, to match the checkpoint)."""
        write_jsonl(self.metrics, history)

    def read_metrics(self) -> list[dict]:
        """metrics.jsonl: one dict per epoch."""
        return read_jsonl(self.metrics, self._rewrite_advice)

    def append_metrics(self, row: dict) -> None:
        write_jsonl(self.metrics, [row], append=True)

    def write_summary(self, summary: dict) -> None:
        atomic_write_text(self.summary, json.dumps(summary, indent=2) + "\n")

    def read_summary(self) -> dict | None:
        """summary.json, or None while the run is unfinished."""
        return read_json(self.summary, self._rewrite_advice)

    @property
    def _rewrite_advice(self) -> str:
        # last.pt holds every epoch's metrics: resuming from it rewrites both files
        return (
            f"delete {str(self.summary)!r} and run the command again: the run is then "
            "finished from last.pt, which rewrites metrics.jsonl and summary.json"
        )


def _without_threads(config: Config) -> dict:
    tree = config.to_dict()
    del tree["train"]["threads"]
    return tree


def other_config(folder: Path, config: Config) -> list[str] | None:
    """None if ``folder`` holds no run or a run of ``config``; else the config sections its
    run differs in (a stale or foreign run). ``train.threads`` is not compared: it says how a
    run was computed (an experiment continued with another ``--jobs`` keeps its runs)."""
    run = RunDir(folder)
    if not run.config.exists():
        return None
    found, config = _without_threads(run.read_config()), _without_threads(config)
    return None if found == config else [k for k in config if found.get(k) != config[k]]


def refuse_other_config(folder: Path, config: Config) -> None:
    """One line when ``folder`` holds a run of another configuration (:func:`other_config`)."""
    differ = other_config(folder, config)
    if differ is not None:
        raise UserError(
            f"{str(folder)!r} holds a run of another configuration (differs in: "
            f"{', '.join(differ) or 'keys'}); move it away or choose a new --out"
        )
