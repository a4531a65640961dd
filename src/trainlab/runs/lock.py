"""One writer per folder: a run folder or an experiment folder is written by one process at a time.

The lock is an exclusive ``flock`` on ``FOLDER/.lock``. The kernel drops it when its process
ends, however it ends (SIGKILL included), so a lock left by a killed process never blocks the
next resume; the file itself stays and only records who held it last (pid, host, command), which
the refusal quotes. A file system without ``flock`` (some network mounts) and Windows get no
lock: trainlab then writes as before, one file at a time and atomically.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from pathlib import Path

from ..errors import UserError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK_NAME = ".lock"


class FolderLock:
    """An exclusive lock on ``folder`` (which must exist), held until :meth:`release` or the
    end of the process. A second holder, in this process or another, is refused in one line
    naming the process that holds it. Usable as a context manager."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        """Take the lock (already held by this object: nothing to do)."""
        if fcntl is None or self._fd is not None:
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                return self  # a read-only copy of a run: nothing will be written to it either
            raise UserError(f"{str(self.folder)!r} cannot be written ({e.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _read_owner(fd)
            os.close(fd)
            raise UserError(
                f"{str(self.folder)!r} is being written by another process ({owner}); "
                "wait for it to finish or stop it, then run this again"
            ) from None
        except OSError:  # no flock on this file system
            os.close(fd)
            return self
        os.ftruncate(fd, 0)
        os.pwrite(fd, _owner().encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _owner() -> str:
    command = " ".join(sys.argv) if sys.argv and sys.argv[0] else "python"
    return f"pid {os.getpid()} on {socket.gethostname()}: {command}"


def _read_owner(fd: int) -> str:
    try:
        text = os.pread(fd, 4096, 0).decode(errors="replace").strip()
    except OSError:
        text = ""
    return text.splitlines()[0] if text else "pid unknown"
