"""``--sim-state FILE``: the sim's farm carried from one command to the next, safely.

- A lock, held from before the farm is read until it is written back, so two runs on one file take
  turns (the second waits, says so, and then sees the first one's changes).  It is a sidecar,
  ``FILE.lock`` (left in place: removing it would race with a run about to take it), locked with
  ``fcntl.flock`` on POSIX and ``msvcrt.locking`` on Windows, where the state file itself cannot be
  replaced while it is open.
- Written to a unique temporary name in the same directory, then renamed over the file (a crash
  never leaves half a farm; two writers never share a temporary file), with the file's own mode.
- Written only when the farm changed: read-only commands leave the file as it was.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Callable
from typing import IO

import wts

__all__ = ["StateLock", "save_state"]


class StateLock:
    """An exclusive lock on ``path + '.lock'``, taken at once (``waiting`` is called first if another
    run holds it, then it waits); ``release`` gives it back."""

    def __init__(self, path: str, waiting: Callable[[], None]) -> None:
        self.path = f"{path}.lock"
        try:
            self.file: IO[bytes] | None = open(self.path, "a+b")
        except OSError as exc:
            from ._status import UsageError

            raise UsageError(f"--sim-state: cannot open the lock file {self.path}: {exc.strerror}") from None
        try:
            if not _try_lock(self.file):
                waiting()
                _lock(self.file)
        except BaseException:
            self.file.close()
            self.file = None
            raise

    def release(self) -> None:
        if self.file is not None:
            try:
                _unlock(self.file)
            finally:
                self.file.close()
                self.file = None


if sys.platform == "win32":
    import msvcrt
    import time

    def _try_lock(f: IO[bytes]) -> bool:
        f.seek(0)
        try:
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _lock(f: IO[bytes]) -> None:
        while not _try_lock(f):  # LK_LOCK gives up after 10 s; a run may hold it longer
            time.sleep(0.05)

    def _unlock(f: IO[bytes]) -> None:
        f.seek(0)
        msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(f: IO[bytes]) -> bool:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _lock(f: IO[bytes]) -> None:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)

    def _unlock(f: IO[bytes]) -> None:
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def save_state(path: str, at_load: dict[str, object] | None) -> str | None:
    """Write the farm to ``path`` if it changed since ``at_load`` (None: it was not loaded from
    ``path``, so write it); returns why it could not (one line), else None."""
    now = wts.sim.dump()
    if at_load is not None and now == at_load:
        return None
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        return f"cannot write {path}: {exc.strerror}"
    if mode is not None and not os.access(path, os.W_OK):
        return f"{path} is read-only: the farm's changes were not saved (make it writable, or use a copy)"
    directory = os.path.dirname(os.path.abspath(path))
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
        os.close(fd)
        wts.sim.save(tmp)  # a new file with the usual mode (the sim writes tmp.tmp and renames it)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        for leftover in (tmp, f"{tmp}.tmp") if tmp else ():
            try:
                os.remove(leftover)
            except OSError:
                pass
        return f"cannot write {path}: {exc.strerror or exc}"
    return None
