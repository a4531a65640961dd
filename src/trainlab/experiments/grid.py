"""The grid runner of the experiment commands (``compare``, ``search``, and later ones): tasks,
each with its own folder, run in parallel worker processes, resumable.

A :class:`Task` is either

- a **run**: a resolved config trained into its folder by
  :func:`trainlab.api.train_or_resume`: a finished folder (``summary.json``) is read, an
  unfinished one (``config.toml``) resumed with :func:`trainlab.api.resume`, a new one trained
  with :func:`trainlab.api.train`; or
- a **measurement**: a picklable module-level function and its arguments, returning a dict that
  :func:`measure` caches in ``<folder>/result.json``: computed once, read on every later call.

:func:`run_tasks` reads the finished tasks and computes the others ``--jobs`` at a time (this
process and spawned worker processes) with ``cores // jobs`` threads each. An experiment folder
holds a manifest of what was asked (``compare.json``, ``search.json``, ...);
:func:`check_manifest` writes it the first time and refuses a folder that holds another
experiment, so that re-running the same command with the same ``--out`` continues the same
experiment.

Variants x seeds: :func:`parse_vary` turns ``--vary key=v1,v2`` flags into variants (every
combination), :func:`seed_tasks` into one run per variant and seed.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from queue import SimpleQueue
from typing import Any

from ..api import train_or_resume
from ..config import PLAIN, Config, parse_override, resolve
from ..config.resolve import pairs_of
from ..errors import UserError
from ..models import MODELS
from ..processes import threads_per_process
from ..runs.atomic import atomic_write_text
from ..runs.lock import LOCK_NAME, FolderLock
from ..runs.rundir import read_json

# --- variants and seeds ------------------------------------------------------------------------


def split_values(text: str) -> list[str]:
    """``"a,[1,2],'x,y'"`` -> ``["a", "[1,2]", "'x,y'"]``: commas inside brackets or quotes
    do not split."""
    parts, depth, quote, current = [], 0, None, ""
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += ch
    parts.append(current.strip())
    return parts


def parse_axes(items: list[str], flag: str = "--vary") -> list[tuple[str, list[Any]]]:
    """``["optimizer.name=sgd,adam", "train.batch_size=32,128"]`` ->
    ``[("optimizer.name", ["sgd", "adam"]), ("train.batch_size", [32, 128])]``."""
    axes = []
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"{flag} {item!r}: expected key=value1,value2,...")
        parsed = [parse_override(f"{key}={v}")[1] for v in split_values(values) if v != ""]
        if not parsed:
            raise UserError(f"{flag} {item!r}: the list of values is empty")
        if len({json.dumps(v) for v in parsed}) < len(parsed):
            raise UserError(f"{flag} {item!r}: a value is repeated")
        if key in [k for k, _ in axes]:
            raise UserError(f"{flag} {key}: given twice; put all its values in one {flag}")
        axes.append((key, parsed))
    if not axes:
        raise UserError(f"at least one {flag} key=value1,value2,... is needed")
    return axes


def as_overrides(variant: dict[str, Any]) -> list[str]:
    """``{"optimizer.lr": 0.1}`` -> ``["optimizer.lr=0.1"]`` (values as JSON, which TOML reads)."""
    return [f"{k}={json.dumps(v)}" for k, v in variant.items()]


def parse_vary(
    items: list[str],
    base=None,
    overrides: list[str] | None = None,
    flag: str = "--vary",
    plain: bool = False,
) -> list[dict[str, Any]]:
    """Every combination of :func:`parse_axes`, each as ``{"optimizer.name": "sgd", ...}``;
    every one is validated as a config."""
    axes = parse_axes(items, flag)
    keys = [k for k, _ in axes]
    grid = [dict(zip(keys, combo)) for combo in itertools.product(*(v for _, v in axes))]
    for variant in grid:  # any bad key or value fails here, before anything runs
        variant_config(base, list(overrides or []), as_overrides(variant), plain)
    return grid


def variant_config(base, overrides: list[str], variant: list[str], plain: bool = False) -> Config:
    """One variant's config: ``variant`` (``key=value`` strings) over the shared ``base`` and
    ``overrides``, which act as presets: a shared key that the variant's model, optimizer,
    schedule, data source or mode does not read is left out of that variant (the base of a
    comparison of sgd with momentum against adam keeps its momentum for sgd alone). ``plain``:
    :data:`trainlab.config.PLAIN` under them (``--plain``, the bare algorithm)."""
    shared = pairs_of(base) if base is not None else {}
    presets = {**(PLAIN if plain else {}), **shared, **dict(map(parse_override, overrides))}
    return resolve(None, variant, presets=presets)


def variant_name(variant: dict[str, Any]) -> str:
    """``{"optimizer.name": "sgd", "model.hidden": [8]}`` ->
    ``"optimizer.name=sgd,model.hidden=[8]"``."""
    return ",".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in variant.items())


def variant_folder(variant: dict[str, Any]) -> str:
    """The variant's folder name: its name without ``/``, spaces and quotes, ``,`` -> ``__``."""
    safe = variant_name(variant).replace("/", "_").replace(" ", "").replace('"', "")
    return safe.replace(",", "__")


def seed_configs(
    base, overrides: list[str], variant: dict[str, Any], seeds: int, plain: bool = False
) -> list[Config]:
    """The variant's configs for seeds ``seed``, ``seed + 1``, ... (``seed`` of base and
    overrides)."""
    first = resolve(base, overrides).seed
    return [
        variant_config(base, overrides, as_overrides(variant) + [f"seed={first + k}"], plain)
        for k in range(seeds)
    ]


# --- tasks ------------------------------------------------------------------------------------


@dataclass
class Task:
    """One cell of an experiment, in its own folder: a run (``config``) or a measurement
    (``function(*args, **kwargs)``, a picklable module-level function returning a dict).
    ``key`` is the caller's name for it (compare: ``(variant name, seed index)``)."""

    key: Any
    folder: Path
    config: Config | None = None
    function: Callable[..., dict] | None = None
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    cost: float = 1.0  # relative; :func:`run_tasks` starts the costliest first


def seed_tasks(
    base, overrides: list[str], variants: list[dict], seeds: int, runs: Path, plain: bool = False
) -> list[Task]:
    """One run per variant and seed, in ``runs/<variant folder>/seed-<k>``; key
    ``(variant name, k)``."""
    return [
        Task(
            (variant_name(v), k),
            runs / variant_folder(v) / f"seed-{k}",
            config=cfg,
            cost=run_cost(cfg),
        )
        for v in variants
        for k, cfg in enumerate(seed_configs(base, overrides, v, seeds, plain))
    ]


FULL_BATCH_COST = 1024  # batch GD: one update per epoch, counted as a batch of this size


def run_cost(cfg: Config) -> float:
    """A run's relative cost, for ordering: epochs x updates per sample (1 / batch size; batch
    GD counted as a batch of :data:`FULL_BATCH_COST`), times the number of hidden units or
    channels (a width sum: a rough size of the model)."""
    model = cfg.model
    convolutional = model.name in MODELS and MODELS[model.name].convolutional
    width = sum(model.channels) if convolutional else sum(model.hidden)
    batch = cfg.train.batch_size
    return cfg.train.epochs / (FULL_BATCH_COST if batch == "full" else batch) * max(width, 1)


def plain(manifest: dict) -> dict:
    """A manifest as JSON reads it back: configs as nested dicts, tuples as lists."""
    return json.loads(
        json.dumps({k: v.to_dict() if isinstance(v, Config) else v for k, v in manifest.items()})
    )


def check_manifest(
    out: Path, filename: str, manifest: dict, what: str, scratch: tuple[str, ...] = ()
) -> Experiment:
    """Check or write the manifest of an experiment folder, and lock the folder: a new or empty
    ``out`` gets ``out/filename``; one that holds the same manifest is continued; one that holds
    another manifest, or files but no manifest, is refused (``what`` names the experiment), and
    so is one that another process is writing. Returns the folder held (a context manager);
    ``scratch``: the experiment's own bookkeeping files (not work to keep if it fails at once)."""
    wanted = plain(manifest)
    stored = out / filename
    _check_stored(out, stored, wanted, what)  # before anything is created
    created = [p for p in (out, *out.parents) if not p.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out {str(out)!r} cannot be written ({e.strerror})") from None
    held = Experiment(FolderLock(out).acquire(), stored, created, scratch)
    try:
        if not _check_stored(out, stored, wanted, what):  # again, holding the lock
            atomic_write_text(stored, json.dumps(wanted, indent=2) + "\n")
    except BaseException:
        held.release()
        raise
    return held


class Experiment:
    """An experiment folder this process holds (:func:`check_manifest`). As a context manager:
    releases the lock when left; left by an error before anything but the manifest was written
    into a folder it created (a variant that cannot be built), it removes what it made."""

    def __init__(
        self, lock: FolderLock, manifest: Path, created: list[Path], scratch: tuple[str, ...]
    ):
        self.lock, self.manifest, self.created = lock, manifest, created
        self.made = (manifest.name, LOCK_NAME, *scratch)

    def release(self) -> None:
        self.lock.release()

    def __enter__(self) -> Experiment:
        return self

    def __exit__(self, kind, error, trace) -> None:
        self.release()
        if kind is None or not issubclass(kind, Exception) or not self.created:
            return
        folder = self.manifest.parent
        if any(p.name not in self.made for p in folder.iterdir()):
            return
        for name in self.made:
            (folder / name).unlink(missing_ok=True)
        for made in self.created:
            try:
                made.rmdir()
            except OSError:
                break


def _check_stored(out: Path, stored: Path, wanted: dict, what: str) -> bool:
    """True if ``out`` holds the manifest ``wanted``; False if it is new or empty; otherwise
    one line saying why it cannot be used."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {str(out)!r} is a file, not a folder")
    found = read_json(stored, f"it is {what}'s manifest: restore it, or choose a new --out")
    if found is not None:
        if found != wanted:
            differ = sorted(
                k for k in wanted.keys() | found.keys() if found.get(k) != wanted.get(k)
            )
            raise UserError(
                f"--out {str(out)!r} holds a different {what} (its {stored.name} differs "
                f"in: {', '.join(differ)}); choose a new --out"
            )
        return True
    if out.exists() and any(p.name != LOCK_NAME for p in out.iterdir()):
        raise UserError(f"--out {str(out)!r} is not empty and holds no {what}")
    return False


def with_threads(base, overrides: list[str], threads: int) -> list[str]:
    """``overrides`` plus ``train.threads=threads`` unless base or overrides set it: every run
    of an experiment records the thread count its numbers were computed with, so that
    ``trainlab train <run>/config.toml`` reproduces them."""
    if resolve(base, overrides).train.threads:
        return list(overrides)
    return [*overrides, f"train.threads={threads}"]


def _signature(task: Task) -> dict:
    """What a measurement is: function and arguments, as they are stored in result.json."""
    name = f"{task.function.__module__}.{task.function.__qualname__}"
    return json.loads(
        json.dumps({"function": name, "args": list(task.args), "kwargs": task.kwargs}, default=str)
    )


def measure(task: Task) -> dict:
    """The measurement's result: read from ``folder/result.json`` if it is there (for the same
    function and arguments), else computed and stored there."""
    stored = Path(task.folder) / "result.json"
    signature = _signature(task)
    found = read_json(stored, "delete it, and the measurement is made again")
    if found is not None:
        if {k: found.get(k) for k in signature} != signature or "result" not in found:
            raise UserError(
                f"{str(stored)!r} holds the result of another measurement; move it "
                "away or choose a new --out"
            )
        return found["result"]
    result = task.function(*task.args, **task.kwargs)
    if not isinstance(result, dict):
        raise TypeError(f"{signature['function']} returned {type(result).__name__}, not a dict")
    Path(task.folder).mkdir(parents=True, exist_ok=True)
    atomic_write_text(stored, json.dumps({**signature, "result": result}, indent=2) + "\n")
    return result


def execute(task: Task) -> dict:
    """The task's result: the run's summary, or the measurement's dict."""
    if task.config is not None:
        return train_or_resume(task.config, Path(task.folder))
    return measure(task)


def finished(task: Task) -> dict | None:
    """The task's result if its folder already holds it (nothing is computed), else None."""
    folder = Path(task.folder)
    done = (folder / "summary.json") if task.config is not None else (folder / "result.json")
    return execute(task) if done.is_file() else None


def execute_unit(unit: list[Task]) -> list[dict]:
    """The results of a unit of work: one task, or a group of runs that differ only in seed and
    numeric hyperparameters, trained together in one vectorized step
    (:func:`trainlab.vectorized.train_group`)."""
    if len(unit) == 1:
        return [execute(unit[0])]
    from ..vectorized import train_group

    return train_group([(t.config, Path(t.folder)) for t in unit])


def _work(unit: list[Task], threads: int) -> list[dict]:
    """In a worker process: ``threads`` threads for PyTorch, then the unit."""
    import torch

    torch.set_num_threads(threads)
    return execute_unit(unit)


def workers(jobs: int | None) -> int:
    """``--jobs``: None -> the number of cores; otherwise an integer >= 1."""
    if jobs is None:
        return os.cpu_count() or 1
    if jobs < 1:
        raise UserError(f"--jobs {jobs}: expected an integer >= 1")
    return jobs


VECTORIZE = ("auto", "on", "off")


def run_tasks(
    tasks: list[Task],
    jobs: int,
    on_result: Callable[[Task, dict, int, int], None] | None = None,
    *,
    vectorize: str = "auto",
    cluster: str | None = None,
) -> list[dict]:
    """Every task's result, in the order given. Finished tasks are read here; the others are
    put into units (:func:`units_of`: runs that differ only in seed and numeric
    hyperparameters train together in one vectorized step, ``vectorize`` = auto / on / off)
    and the units run ``jobs`` at a time with ``cores // jobs`` threads each: in this process
    and in ``jobs - 1`` spawned worker processes, or on the cluster at ``cluster``
    (:mod:`trainlab.experiments.cluster`). A worker takes ~2 s to start (imports: torch, and
    torch._dynamo, which torch.optim loads with its first optimizer); this process, already
    warm, trains meanwhile, and a worker is given a unit only once it has started, so a grid
    that this process finishes alone never waits for one. Units start costliest first
    (``Task.cost``), so that no one idles at the end while one long unit runs.
    ``on_result(task, result, done, total)`` is called, in this thread, as each result
    arrives."""
    results = [finished(t) for t in tasks]
    pending = [i for i, r in enumerate(results) if r is None]
    done = 0
    for task, result in zip(tasks, results):
        if result is not None:
            done += 1
            if on_result:
                on_result(task, result, done, len(tasks))

    def deliver(u: int, unit_results: list[dict]) -> None:
        nonlocal done
        for i, result in zip(units[u], unit_results):
            results[i] = result
            done += 1
            if on_result:
                on_result(tasks[i], result, done, len(tasks))

    units = units_of(tasks, pending, vectorize, jobs)
    work = [[tasks[i] for i in unit] for unit in units]
    threads = threads_per_process(jobs)
    if cluster is not None:
        from .cluster import run_units

        run_units(cluster, work, threads, deliver)
        return results
    queue = deque(sorted(range(len(units)), key=lambda u: -sum(t.cost for t in work[u])))
    helpers = min(jobs, len(queue)) - 1
    if helpers < 1:
        while queue:
            u = queue.popleft()
            deliver(u, _in_process(work[u], threads))
        return results
    feeder = _Feeder(work, queue, threads, helpers)
    try:
        while True:
            for u, future in feeder.arrived():
                deliver(u, future.result())
            u = feeder.take()
            if u is None:
                break
            deliver(u, _in_process(work[u], threads))
        for u, future in feeder.rest():
            deliver(u, future.result())
        while (u := feeder.take()) is not None:  # handed back by a pool that broke
            deliver(u, _in_process(work[u], threads))
    except BaseException:
        feeder.close(wait=True, stop=True)  # nothing left running behind us
        raise
    feeder.close(wait=False)  # a worker still starting exits on its own once imported
    return results


def units_of(tasks: list[Task], pending: list[int], vectorize: str, jobs: int) -> list[list[int]]:
    """The pending tasks as units of work: each a list of task indices. ``vectorize = off``:
    one task per unit; ``auto``: runs that :func:`trainlab.vectorized.group_runs` can train
    together are grouped (split so that every one of the ``jobs`` workers gets a group);
    ``on``: the same, and a run that cannot be vectorized is one line saying why."""
    if vectorize not in VECTORIZE:
        raise UserError(f"--vectorize {vectorize!r}: expected one of {', '.join(VECTORIZE)}")
    runs = [i for i in pending if tasks[i].config is not None]
    others = [[i] for i in pending if tasks[i].config is None]
    if vectorize == "off" or len(runs) < 2:
        return [[i] for i in runs] + others
    from ..vectorized import group_runs

    groups = group_runs([tasks[i].config for i in runs], jobs, strict=vectorize == "on")
    return [[runs[k] for k in group] for group in groups] + others


class _Feeder:
    """The worker side of :func:`run_tasks`: each worker, once started (a warm-up call returned),
    is handed the next task from the shared queue whenever it is free; results come back through
    a queue that the calling thread reads."""

    def __init__(self, units: list[list[Task]], queue: deque, threads: int, workers: int):
        self.units, self.queue, self.threads = units, queue, threads
        self.lock = threading.Lock()
        self.results: SimpleQueue = SimpleQueue()
        self.given = self.returned = 0
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
        for _ in range(workers):
            self.pool.submit(_warm_up).add_done_callback(lambda f: self._next())

    def take(self) -> int | None:
        """The next task, or None when none is left (thread-safe)."""
        with self.lock:
            return self.queue.popleft() if self.queue else None

    def _next(self) -> None:
        """In the pool's thread, as a worker becomes free: hand it the next task."""
        with self.lock:  # taken and counted at once, so that rest() never misses it
            if not self.queue:
                return
            i = self.queue.popleft()
            self.given += 1
        try:
            future = self.pool.submit(_work, self.units[i], self.threads)
        except RuntimeError:  # the pool is shut down or broken: this process runs it
            with self.lock:
                self.queue.appendleft(i)
                self.given -= 1
            self.results.put((None, None))  # wakes rest(), which then sees nothing owed
            return
        future.add_done_callback(lambda f, i=i: (self.results.put((i, f)), self._next()))

    def arrived(self) -> list:
        """The (index, future) pairs that have come back since the last call."""
        out = []
        while not self.results.empty():
            item = self.results.get()
            if item[0] is not None:  # not a wake-up
                out.append(item)
        self.returned += len(out)
        return out

    def rest(self):
        """Wait for the tasks still with the workers; yield (index, future) as they return."""
        while True:
            with self.lock:
                if self.returned >= self.given:
                    return
            item = self.results.get()
            if item[0] is not None:  # not a wake-up
                self.returned += 1
                yield item

    def close(self, wait: bool, stop: bool = False) -> None:
        """Shut the pool down; ``stop``: terminate the workers' runs now (Ctrl-C, SIGTERM, an
        error in another run) instead of letting them finish: their checkpoints are written
        atomically, so each resumes where it stopped."""
        if stop:
            workers = getattr(self.pool, "_processes", None) or {}  # pid -> Process
            for process in list(workers.values()):
                process.terminate()
        self.pool.shutdown(wait=wait, cancel_futures=True)


def _warm_up() -> None:
    """In a new worker: the imports a task needs, torch._dynamo included (torch.optim loads it
    on its first optimizer), before the worker asks for one."""
    import torch._dynamo  # noqa: F401


def _in_process(unit: list[Task], threads: int) -> list[dict]:
    """The unit in this process with ``threads`` threads; this process's count restored after."""
    import torch

    before = torch.get_num_threads()
    try:
        return _work(unit, threads)
    finally:
        torch.set_num_threads(before)
