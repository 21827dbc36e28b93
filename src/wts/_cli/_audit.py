"""The audit log (``--audit-log FILE``): one JSON line per session acted on or skipped, and per
server that failed, appended as the results arrive (docs/cli.md, "Audit log")."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from typing import IO

from ._status import UsageError

__all__ = ["AuditLog"]


class AuditLog:
    """JSON Lines, one per thing done: time, operator, server, session, action, outcome, error.
    Opened before any RPC, so a bad path stops the command before it changes anything.  It never
    holds a password: no field takes one."""

    def __init__(self, path: str) -> None:
        try:
            self.file: IO[str] | None = open(path, "a", encoding="utf-8", buffering=1)
        except OSError as exc:
            raise UsageError(f"--audit-log: cannot open {path}: {exc.strerror}") from None
        self.operator = _operator()

    def write(self, server: str | None, session: int | None, action: str, outcome: str, error: str | None) -> None:
        if self.file is None:
            return
        entry = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "operator": self.operator,
            "server": server,
            "session": session,
            "action": action,
            "outcome": outcome,
            "error": error,
        }
        self.file.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


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
