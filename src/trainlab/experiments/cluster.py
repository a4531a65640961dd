"""A grid across machines: the units of :func:`trainlab.experiments.grid.run_tasks` computed by
the workers of a Dask distributed cluster (``--cluster ADDRESS``), their results handed back
here, in the calling thread, as they arrive.

Each unit runs on a worker as it would in a local worker process (:func:`grid._work`: PyTorch
set to ``threads`` threads, then :func:`grid.execute_unit`) and writes its run folders itself:
the experiment folder must be on a file system that every worker shares, at the same path (the
folders are sent as absolute paths; a worker that cannot see the experiment folder is refused in
one line). Every machine needs the same trainlab and PyTorch.

Why Dask distributed rather than Ray, measured on this project's 2-core machine (Python 3.11,
December 2026): ``pip download 'dask[distributed]==2026.8.0'`` fetches 5.2 MB in 21 wheels, its
dependencies included (dask and distributed take 24 MB installed), against 79 MB in 18 wheels
for ``ray==2.60.0`` (its own wheel 79 MB, 240 MB installed); a scheduler and two worker
processes started from the command line answered a client and ran two tasks 0.8-0.9 s after
they were started, a local ``ray.init(num_cpus=2)`` with two tasks 2.4-2.8 s. And a task whose
worker dies is given to another worker by the scheduler itself (up to
``distributed.scheduler.allowed-failures`` more times, default 3), which is what a grid of
resumable runs needs: the new worker resumes the lost run from its last checkpoint.

What can go wrong, and what the user sees (one line, exit status 2, from the CLI):

- the extra is not installed: the ``pip install`` that adds it;
- no scheduler answers at the address (:data:`CONNECT_S`): what to start there;
- the scheduler has had no worker for :data:`IDLE_S` seconds, or it is lost: what to start,
  and that running the same command again continues (finished runs are kept, unfinished ones
  resume from their checkpoints);
- a unit whose workers keep dying (``KilledWorker``): its folders, and the likely cause;
- a :class:`~trainlab.errors.UserError` raised on a worker comes back as itself, the same line
  (it is returned rather than raised there, so that Dask does not retry a user's mistake).

Any other exception a unit raises is retried :data:`RETRIES` times (a hiccup of the shared file
system), then re-raised here with its traceback, as a bug. Ctrl-C (or SIGTERM) cancels every
unit not yet started; a unit already running on a worker finishes there (Dask cannot stop a
running task), and its folder is then read or resumed when the command is run again.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from concurrent.futures import CancelledError
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from queue import Empty, SimpleQueue
from uuid import uuid4

from ..errors import UserError
from . import grid

CONNECT_S = 10.0  # for a scheduler to answer: the first connection, and reconnecting
POLL_S = 1.0  # how often the cluster is checked while no result arrives
IDLE_S = 120.0  # how long the scheduler may have no worker before the grid gives up
CLOSE_S = 10.0  # for the client to close
RETRIES = 2  # more tries of a unit that raised something other than a UserError
DEFAULT_PORT = 8786  # dask scheduler's

INSTALL = "--cluster needs Dask distributed, an optional extra: pip install 'trainlab[cluster]'"


def run_units(
    address: str,
    work: list[list[grid.Task]],
    threads: int,
    deliver: Callable[[int, list[dict]], None],
) -> None:
    """Compute every unit of ``work`` on the cluster whose scheduler is at ``address``, with
    ``threads`` PyTorch threads each, costliest first; ``deliver(u, results)`` is called in
    this thread as unit ``u``'s results arrive. Nothing to compute: nothing is contacted."""
    if not work:
        return
    try:
        from distributed import Client
    except ImportError:
        raise UserError(INSTALL) from None
    address = scheduler_address(address)
    _check_answers(address)
    with _quiet_engine():
        try:
            client = Client(address, timeout=CONNECT_S, set_as_default=False)
        except OSError as e:  # something answers, but not a Dask scheduler (or too slowly)
            raise UserError(_no_scheduler(address, str(e))) from None
        futures = {}
        try:
            costs = [sum(t.cost for t in unit) for unit in work]
            order = sorted(range(len(work)), key=lambda u: -costs[u])
            for rank, u in enumerate(order):  # Dask starts the highest priority first
                unit = [replace(t, folder=Path(t.folder).absolute()) for t in work[u]]
                future = client.submit(
                    _on_worker,
                    unit,
                    threads,
                    _anchor(unit[0].folder),
                    key=f"trainlab-unit-{u}-{uuid4().hex}",
                    priority=len(order) - rank,
                    retries=RETRIES,
                    pure=False,
                )
                futures[future] = u
            _gather(client, futures, work, deliver, address)
        except BaseException:  # Ctrl-C, SIGTERM, an error: start nothing more
            try:
                client.cancel(list(futures), force=True)
            except Exception:  # the scheduler may be gone already
                pass
            raise
        finally:
            client.close(timeout=CLOSE_S)


def scheduler_address(text: str) -> str:
    """``"host"``, ``"host:port"`` or ``"tcp://host:port"`` -> ``"tcp://host:port"`` (port
    8786 by default); addresses of other Dask transports are left as they are."""
    from distributed.comm.addressing import parse_address, parse_host_port, unparse_host_port

    try:
        scheme, location = parse_address(text.strip())
        if scheme not in ("tcp", "tls"):
            return text.strip()
        host, port = parse_host_port(location, DEFAULT_PORT)
    except (ValueError, TypeError):
        host = ""
    if not host:
        raise UserError(
            f"--cluster {text!r}: expected a Dask scheduler's address, such as "
            f"tcp://HOST:{DEFAULT_PORT}"
        )
    return f"{scheme}://{unparse_host_port(host, port)}"


def _check_answers(address: str) -> None:
    """A plain TCP connection first: a refused or unknown address is one line at once (Dask's
    client would retry it for :data:`CONNECT_S`)."""
    from distributed.comm.addressing import get_address_host_port

    try:
        host, port = get_address_host_port(address)
    except (ValueError, TypeError):  # a transport without host and port (inproc, ucx)
        return
    try:
        socket.create_connection((host, port), timeout=CONNECT_S).close()
    except OSError as e:
        raise UserError(_no_scheduler(address, e.strerror or str(e) or type(e).__name__)) from None


def _no_scheduler(address: str, why: str) -> str:
    return (
        f"--cluster {address}: no Dask scheduler answers there ({why}); start one on that "
        f"machine with `dask scheduler`, and workers with `dask worker {address}`"
    )


def _lost(address: str) -> UserError:
    return UserError(
        f"--cluster {address}: lost the Dask scheduler; start it again (`dask scheduler`) with "
        f"workers (`dask worker {address}`) and run the same command: finished runs are kept, "
        "unfinished ones resume"
    )


def _anchor(folder: Path) -> Path:
    """The deepest folder above ``folder`` that exists here: a worker must see it too."""
    return next(p for p in folder.parents if p.is_dir())


def _on_worker(unit: list[grid.Task], threads: int, anchor: Path) -> list[dict] | UserError:
    """On a worker: the unit's results (:func:`grid._work`), or the UserError it raised,
    returned so that Dask does not retry it and the caller raises the same line."""
    try:
        if not anchor.is_dir():
            raise UserError(
                f"{str(anchor)!r} is not on Dask worker {socket.gethostname()}: --cluster needs "
                "the --out folder on a file system that every worker shares, at the same path"
            )
        return grid._work(unit, threads)
    except UserError as e:
        return e


def _gather(client, futures: dict, work: list, deliver, address: str) -> None:
    """Deliver each future's results in this thread as it finishes; between arrivals, every
    :data:`POLL_S`, check that the scheduler is there and has a worker."""
    arrived: SimpleQueue = SimpleQueue()
    for future in futures:
        future.add_done_callback(arrived.put)  # called in Dask's callback thread
    for _ in range(len(futures)):
        while True:
            try:
                future = arrived.get(timeout=POLL_S)
                break
            except Empty:
                _check_cluster(client, address)
        u = futures[future]
        deliver(u, _result(future, work[u], address))


def _check_cluster(client, address: str) -> None:
    """A lost scheduler, or none of its workers for :data:`IDLE_S`: one line saying so. While
    the client reconnects (for up to :data:`CONNECT_S`), nothing is decided."""
    from distributed.exceptions import WorkerStartTimeoutError

    if client.status in ("closing", "closed", "failed"):
        raise _lost(address)
    if client.status != "running":
        return
    try:
        client.wait_for_workers(1, timeout=IDLE_S)  # at once when a worker is there
    except OSError as e:  # the scheduler's connection, or the timeout (a TimeoutError)
        if isinstance(e, WorkerStartTimeoutError) and client.status == "running":
            raise UserError(
                f"--cluster {address}: the scheduler has had no worker for {IDLE_S:g} s; start "
                f"workers with `dask worker {address}` and run the same command: finished runs "
                "are kept, unfinished ones resume"
            ) from None
        raise _lost(address) from None


def _result(future, unit: list[grid.Task], address: str) -> list[dict]:
    """A finished future's results; a unit whose workers kept dying, or a lost scheduler, as
    one line; a worker's UserError raised here as itself."""
    from distributed import KilledWorker

    try:
        results = future.result(timeout=CONNECT_S)  # it has finished: the timeout is a guard
    except KilledWorker as e:
        folders = ", ".join(repr(str(t.folder)) for t in unit)
        raise UserError(
            f"{folders}: the Dask workers that ran it died {e.allowed_failures + 1} times (out "
            "of memory?); the runs that finished are kept, and running the same command again "
            "tries the rest"
        ) from None
    except CancelledError:  # not by us: the scheduler went away
        raise _lost(address) from None
    if isinstance(results, UserError):
        raise results
    return results


@contextmanager
def _quiet_engine():
    """Dask's own log lines (connections closing, reconnecting) off stderr while a grid runs:
    what matters reaches the user as one line from here."""
    loggers = [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)]
    handlers = {h for g in loggers if g.name.startswith("distributed") for h in g.handlers}
    levels = {h: h.level for h in handlers}
    for h in handlers:
        h.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for h, level in levels.items():
            h.setLevel(level)
