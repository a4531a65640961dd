"""Atomic file writes: a crash (even SIGKILL or power loss) leaves the old file or the new one,
never a half-written one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..errors import UserError


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(f)`` on a temporary file beside ``path``, fsync it, then rename it over
    ``path`` (``os.replace`` is atomic on POSIX and Windows) and fsync the folder."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise cannot_write(path, e) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) or _failed_write(e):
            raise cannot_write(path, e) from None
        raise
    _fsync_dir(path.parent)


def _failed_write(e: BaseException) -> bool:
    """torch.save reports a failed write of its archive as a RuntimeError."""
    return isinstance(e, RuntimeError) and "write" in str(e).lower() and "fail" in str(e).lower()


def cannot_write(path: Path, e: BaseException) -> UserError:
    """A write the machine refused (disk full, quota, read-only, permissions): one line; what
    was written before stays as it was."""
    reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e).splitlines()[0]
    return UserError(
        f"{str(path)!r} cannot be written ({reason}); the files written before "
        "are intact (free space and continue with trainlab train --resume DIR)"
    )


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not supported on this platform (Windows)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
