"""What bulk operations return: per-session outcomes, failures, progress, and why each outcome is so.

(Being filled: the records and result classes move here from ``_farm.py``.)
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Reason"]


class Reason(str, Enum):
    """Why an ``Outcome`` is what it is, for programs: ``Outcome.why``.  ``Outcome.reason`` says the
    same for people; a caller (the CLI included) decides on this enum, never on that text.

    The values are stable strings (they appear in JSON records and audit logs).
    """

    #: done: the call succeeded.
    DONE = "done"
    #: done: an earlier try failed in transit but reached the server (a logoff found it gone).
    EARLIER_ATTEMPT = "earlier-attempt"
    #: planned: a dry run's "would do".
    DRY_RUN = "dry-run"
    #: skipped, protected: session 0 (services) is never touched.
    SYSTEM_SESSION = "system-session"
    #: skipped, protected: a listener (RDP-Tcp, ids from 65536) is never touched.
    LISTENER = "listener"
    #: skipped, protected: the console session is never touched.
    CONSOLE = "console"
    #: skipped, protected: the caller's own session (allow_own=True includes it).
    OWN_SESSION = "own-session"
    #: skipped: already in the state the action would put it in (disconnect of a disconnected session).
    ALREADY = "already"
    #: skipped: named by the caller, but it does not match the filters.
    FILTERED = "filtered"
    #: skipped: named by the caller, and no longer exists on its server.
    GONE = "gone"
    #: skipped: named by the caller, and another user's session now has that id.
    CHANGED = "changed"
    #: skipped: interrupted (Ctrl-C) before it was sent.
    CANCELLED = "cancelled"
    #: failed: its server could not be reached or listed, so nothing was sent (``winerror`` says why).
    NOT_REACHED = "not-reached"
    #: failed: its details (times, client) could not be read, so the action was not sent.
    NO_DETAILS = "no-details"
    #: failed: the call itself failed (``winerror`` says why).
    CALL_FAILED = "call-failed"
    #: failed: interrupted a second time while the call was in flight; whether it took effect is unknown.
    ABANDONED = "abandoned"

    @property
    def protected(self) -> bool:
        """True for the sessions wts never touches (system, listener, console, own)."""
        return self in _PROTECTED

    @property
    def system(self) -> bool:
        """True for the system sessions every server has (session 0, the console, listeners)."""
        return self in _SYSTEM


_SYSTEM = frozenset({Reason.SYSTEM_SESSION, Reason.LISTENER, Reason.CONSOLE})
_PROTECTED = _SYSTEM | {Reason.OWN_SESSION}
