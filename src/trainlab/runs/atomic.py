"""Atomic file writes: a crash (even SIGKILL or power loss) leaves the old file or the new one,
never a half-written one."""

from __future__ import annotations

import errno
import functools
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..errors import CannotWrite


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(f)`` on a temporary file beside ``path``, fsync it, then rename it over
    ``path`` (``os.replace`` is atomic on POSIX and Windows) and fsync the folder."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise cannot_write(path, e) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide the run from the group
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        refused = _os_error(e)
        if refused is not None:
            raise cannot_write(path, refused) from None
        raise
    _fsync_dir(path.parent)


def _os_error(e: BaseException | None) -> OSError | None:
    """The OSError behind ``e``: itself, or the one it was raised while handling (torch.save's
    zip writer answers a full disk with a RuntimeError, "enforce fail at inline_container.cc",
    raised while handling the OSError of the write)."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, OSError):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None


FIXES = {
    errno.ENOSPC: "free some space",
    errno.EDQUOT: "free some space (the disk quota is full)",
    errno.EROFS: "make the file system writable",
    errno.EFBIG: "raise the file size limit (ulimit -f)",
    errno.EACCES: "get permission to write there",
    errno.EPERM: "get permission to write there",
}


def cannot_write(path: Path, e: BaseException) -> CannotWrite:
    """A write the machine refused (disk full, quota, read-only, permissions): one line saying
    what to fix; what was written before stays as it was."""
    lines = str(e).strip().splitlines()
    reason = e.strerror if isinstance(e, OSError) and e.strerror else (lines or ["failed"])[0]
    fix = FIXES.get(getattr(e, "errno", None), "fix the cause")
    return CannotWrite(
        f"{str(path)!r} cannot be written ({reason}); the files written before are intact: {fix}"
    )


@functools.cache
def _umask() -> int:
    """The process's umask (read once: reading it means setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
