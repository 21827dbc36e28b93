"""The audit log (``--audit-log FILE``): one JSON line per session acted on or skipped, and per
server that failed, appended as the results arrive (docs/cli.md, "Audit log").

Durability: each line is flushed to the operating system as it is written (one ``write`` of a
whole line, in append mode), so a crash of wts loses no line already written; at the end the file
is ``fsync``-ed, so a power cut after wts has ended loses none either.  A line that cannot be
written raises ``OSError`` to the caller (which stops the run); the log then takes no more lines."""

from __future__ import annotations

import errno
import json
import os
import sys
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import IO, Any

from ._secret import redact_argv
from ._status import UsageError

__all__ = ["AuditLog"]


class AuditLog:
    """JSON Lines, one per thing done: time, run, operator, command, server, session, action,
    outcome, error (and, for ``connect``, the target).  Opened before any RPC, so a bad path stops the
    command before it changes anything.  It never holds a password: no field takes one, and the
    command line is written with every password replaced by ``***``."""

    def __init__(self, path: str, argv: Sequence[str] = ()) -> None:
        self.path = path
        try:
            self.file: IO[str] | None = open(path, "a", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--audit-log: cannot open {path}: {exc.strerror}") from None
        self.operator = _operator()
        #: one id per command run, in every line: the lines of one run are found together
        self.run_id = uuid.uuid4().hex
        self.command = ["wts", *redact_argv(argv)]
        self.failed = False

    def write(
        self,
        server: str | None,
        session: int | None,
        action: str,
        outcome: str,
        error: str | None,
        **extra: Any,
    ) -> None:
        """One line, written and flushed now; raises OSError if it cannot be (the log stops there)."""
        if self.file is None or self.failed:
            return
        entry = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "run": self.run_id,
            "operator": self.operator,
            "command": self.command,
            "server": server,
            "session": session,
            "action": action,
            "outcome": outcome,
            "error": error,
            **extra,
        }
        try:
            self.file.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self.file.flush()
        except OSError:
            self.failed = True
            raise

    def close(self) -> str | None:
        """Flush, fsync and close; returns the reason it could not (one line), else None.  Never raises."""
        if self.file is None:
            return None
        f, self.file = self.file, None
        problem = None
        try:
            f.flush()
            try:
                os.fsync(f.fileno())
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EROFS):
                    raise  # EINVAL: a device or a pipe (/dev/stderr), which has nothing to sync
        except OSError as exc:
            if not self.failed:  # a failed write has had its line already
                problem = f"--audit-log: cannot write {self.path}: {exc.strerror or exc}"
        try:
            f.close()
        except OSError:  # what could not be flushed above is lost; it has been said
            pass
        return problem


def _operator() -> str:
    """Who ran the command: DOMAIN\\user@host on Windows, user@host elsewhere."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except Exception:  # no USER/LOGNAME and no passwd entry: still log the action
        user = "unknown"
    domain = os.environ.get("USERDOMAIN")
    who = f"{domain}\\{user}" if domain and sys.platform == "win32" else user
    return f"{who}@{socket.gethostname()}"
