"""How a ``wts`` command ends: its exit status (``ExitStatus``), and the two exceptions that end a
command early with a chosen status (``UsageError``, ``Refused``).

The statuses are the ones docs/cli.md documents (httpie's ``ExitStatus``, pip's ``status_codes``).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitStatus", "Refused", "UsageError"]


class ExitStatus(IntEnum):
    """The exit status of the ``wts`` command (docs/cli.md, "Exit status")."""

    #: all done (for a dry run or a listing: everything answered)
    OK = 0
    #: some sessions or servers failed, an unknown session was named, or the answer was no
    FAILED = 1
    #: a bad option or value, a refusal, or no provider
    USAGE = 2
    #: Ctrl-C (128 + SIGINT, as shells report it)
    INTERRUPTED = 130
    #: SIGTERM (128 + SIGTERM): stopped as Ctrl-C stops a run, the sim's state saved
    TERMINATED = 143


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit status 2."""


class Refused(Exception):
    """The command will not go on (no confirmation possible, or the answer was no)."""

    def __init__(self, message: str, status: ExitStatus) -> None:
        super().__init__(message)
        self.status = status
