"""Starting, watching and ending child processes, so that none is left behind: the helpers that
the distributed modes (:mod:`trainlab.distributed`) and the experiments (a search's seeds run at
once) share. It imports nothing of trainlab but :mod:`trainlab.errors`, so that any module can
use it.

- Children are started with the ``spawn`` method (:data:`CONTEXT`: a fresh interpreter, no state
  forked from the parent, the same on every platform; torch's multiprocessing, so that tensors
  pickle as shared-memory handles) and, on Linux, ask the kernel to kill them when the process
  that started them dies (:func:`die_with_parent`, ``PR_SET_PDEATHSIG``), so that even a parent
  killed with SIGKILL leaves no orphans.
- :class:`Processes` is a context manager: leaving it (normally or by an exception) joins every
  child for a short grace period, then terminates and finally kills what is left.
- A child's :class:`~trainlab.errors.UserError` (a port in use, a model that cannot be split)
  reaches the parent as a message and becomes the parent's error, one line, exit status 2.
- :func:`threads_per_process` shares the cores out; :func:`free_port` and :func:`check_port`
  find and check a TCP port for processes that meet over one.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import torch
import torch.multiprocessing as mp

from .errors import UserError

CONTEXT = mp.get_context("spawn")
GRACE_S = 5.0  # how long a finished run waits for its children to exit by themselves


def free_port(address: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on at ``address`` now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def check_port(address: str, port: int) -> None:
    """A clear error when ``port`` at ``address`` is taken (or the address is not this host's)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError as e:
            raise UserError(
                f"distributed.port = {port} at distributed.address = {address!r} "
                f"cannot be used ({e.strerror}); choose another, or 0 for a free "
                "one"
            ) from None


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def threads_per_process(processes: int) -> int:
    """The cores shared out: each of ``processes`` gets at least one thread."""
    return max(1, (os.cpu_count() or 1) // processes)


def _child(target: Callable[..., Any], args: tuple, threads: int, errors) -> None:
    """A child's entry point: dies with its parent, uses its share of the cores, and reports a
    UserError (or a crash's traceback) to the parent before exiting non-zero. ``target`` must
    flush any multiprocessing queue it wrote to (``close`` + ``join_thread``) before returning:
    a child that finishes leaves at once (``os._exit``)."""
    die_with_parent()
    torch.set_num_threads(threads)
    try:
        target(*args)
        # A receiving thread may still wait inside gloo: leave without the interpreter's
        # shutdown, which would wait for it (or abort).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    except UserError as e:
        errors.put(("user", str(e)))
        sys.exit(2)
    except BaseException:
        errors.put(("crash", traceback.format_exc()))
        sys.exit(1)


class Processes:
    """Children started with :meth:`start`, all ended when the ``with`` block is left.

    >>> with Processes() as procs:
    ...     procs.start(work, (rank,), threads=1)
    ...     procs.join_all(timeout_s=60)
    """

    def __init__(self):
        self.children: list[mp.Process] = []
        self.errors = CONTEXT.Queue()

    def __enter__(self) -> Processes:
        return self

    def start(self, target: Callable[..., Any], args: tuple, threads: int = 1) -> mp.Process:
        p = CONTEXT.Process(target=_child, args=(target, args, threads, self.errors))
        p.start()
        self.children.append(p)
        return p

    def raise_errors(self) -> None:
        """Raise the first error a child reported: a UserError as itself, a crash as a
        RuntimeError carrying the child's traceback."""
        try:
            kind, message = self.errors.get_nowait()
        except Exception:  # queue.Empty
            return
        if kind == "user":
            raise UserError(message)
        raise RuntimeError(f"a distributed process failed:\n{message}")

    def lost(self) -> list[int]:
        """Indices (in start order) of children that exited abnormally (killed or failed)."""
        return [
            i for i, p in enumerate(self.children) if p.exitcode is not None and p.exitcode != 0
        ]

    def join_all(self, timeout_s: float) -> None:
        """Wait for every child to exit, at most ``timeout_s`` seconds in all; raises a child's
        error, or a UserError naming those still running at the deadline."""
        deadline = time.monotonic() + timeout_s
        for p in self.children:
            p.join(max(0.0, deadline - time.monotonic()))
        self.raise_errors()
        running = [i for i, p in enumerate(self.children) if p.is_alive()]
        if running:
            raise UserError(
                f"distributed processes {running} did not finish within "
                f"{timeout_s:g} s (distributed.timeout)"
            )

    def stop(self) -> None:
        """End every child: a grace period, then SIGTERM, then SIGKILL."""
        deadline = time.monotonic() + GRACE_S
        for p in self.children:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in self.children:
            if p.is_alive():
                p.terminate()
        for p in self.children:
            p.join(1.0)
            if p.is_alive():
                p.kill()
                p.join(1.0)

    def __exit__(self, *exc) -> None:
        self.stop()
        self.errors.close()
        self.errors.join_thread()
