"""What bulk operations return: per-session (and per-process) outcomes, failures, progress, and why
each outcome is so.

``Farm`` yields and collects these; the CLI renders them.  ``Reason`` is the machine-readable why of
every ``Outcome``: programs (the CLI included) decide on it, never on ``Outcome.reason``'s text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import Enum
from typing import NamedTuple, Union

from ._errors import WTSError
from ._types import MessageResponse, Process, Session, SessionInfo

__all__ = [
    "ActionResult",
    "Failure",
    "Interrupted",
    "Item",
    "Outcome",
    "ProcessesResult",
    "Progress",
    "ProgressCallback",
    "Reason",
    "Record",
    "SessionsResult",
]


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
    #: skipped: named by the caller, and no longer exists on its server (a session, or a process).
    GONE = "gone"
    #: skipped: named by the caller, and another user's session now has that id (or, for a process,
    #: its pid now belongs to another image, session or user: Windows reuses pids).
    CHANGED = "changed"
    #: skipped: interrupted (Ctrl-C) before it was sent.
    CANCELLED = "cancelled"
    #: failed: its server could not be reached or listed, so nothing was sent (``winerror`` says why).
    NOT_REACHED = "not-reached"
    #: failed: its details (times, client) could not be read, so the action was not sent.
    NO_DETAILS = "no-details"
    #: failed: the call itself failed (``winerror`` says why).
    CALL_FAILED = "call-failed"
    #: unknown: interrupted a second time while the action call was in flight; whether it took effect
    #: is unknown (``winerror`` 1223, ERROR_CANCELLED).
    ABANDONED = "abandoned"
    #: unknown: the action call was sent but no answer came by its deadline; whether it took effect is
    #: unknown (``winerror`` 1460, ERROR_TIMEOUT).
    NO_ANSWER = "no-answer"
    #: unknown: the action call failed in transit (RPC_S_CALL_FAILED, 1726), after it may have run;
    #: it is not retried, and whether it took effect is unknown.
    IN_TRANSIT = "in-transit"
    #: skipped, protected: one of the system's own processes (csrss.exe, winlogon.exe, lsass.exe, ...:
    #: ``wts.SYSTEM_IMAGES``), touched only when named explicitly with ``allow_system=True``.  (A process of
    #: session 0 is skipped as ``SYSTEM_SESSION``, under the same override.)
    SYSTEM_PROCESS = "system-process"

    @property
    def protected(self) -> bool:
        """True for the sessions wts never touches (system, listener, console, own)."""
        return self in _PROTECTED

    @property
    def system(self) -> bool:
        """True for the system sessions every server has (session 0, the console, listeners), and the
        system's own processes."""
        return self in _SYSTEM


_SYSTEM = frozenset({Reason.SYSTEM_SESSION, Reason.LISTENER, Reason.CONSOLE, Reason.SYSTEM_PROCESS})
_PROTECTED = _SYSTEM | {Reason.OWN_SESSION}


class Failure(NamedTuple):
    """A server that failed (``session_id`` None), or one session whose details could not be read."""

    server: str
    error: WTSError
    session_id: int | None = None

    def __str__(self) -> str:
        return str(self.error)


class Outcome(NamedTuple):
    """What happened to one selected session (or, for ``Farm.terminate``, one selected process: then
    ``pid`` and ``image`` name it, ``session_id`` and ``user`` are its session's and its own, and
    ``station`` is '').

    ``status``: "done", "failed", "skipped" (never sent: protected, already in that state, gone,
    changed or cancelled), "planned" (a dry run's "would do") or "unknown" (the action call was sent
    but its answer never came: its deadline passed, ``Reason.NO_ANSWER``, it failed in transit after it
    may have run, ``Reason.IN_TRANSIT`` (1726), or a second Ctrl-C abandoned it, ``Reason.ABANDONED``;
    it may well have taken effect: list the session again to see).
    ``why`` says which, for programs (a ``Reason``: ``Reason.LISTENER``, ``Reason.GONE``, ...);
    ``reason`` says it for people.
    """

    server: str
    session_id: int
    station: str
    user: str
    action: str  #: "disconnect", "logoff", "message" or "terminate"
    status: str
    winerror: int | None  #: the Win32 code when the call failed (or why it was skipped); else None
    reason: str  #: one line: Windows' text for failures, the reason for skips; "" when done
    response: MessageResponse | int | None = None  #: for messages sent: what the session answered
    #: Why it is so, as a ``Reason`` (with a default, so positional construction still works).
    why: Reason = Reason.DONE
    #: The process (``Farm.terminate``): its pid and image name, as listed; None for a session's outcome.
    pid: int | None = None
    image: str | None = None


class Progress(NamedTuple):
    """Work done so far: RPCs (``done`` of ``total`` known so far: the total grows as servers list
    their sessions) and servers (listed or failed, of all)."""

    done: int
    total: int
    servers_done: int
    servers_total: int
    failures: int
    elapsed: float
    #: Ctrl-C presses so far: 1 means stopping (the calls in flight are being waited for), 2 that
    #: they were abandoned.  Reported at once, so a UI can say what is happening.
    interrupts: int = 0
    #: Calls sent and not answered yet (queued ones, waiting for a worker, are not in flight).
    in_flight: int = 0


Record = Union[Session, SessionInfo]
Item = Union[Session, SessionInfo, Process, Outcome, Failure]
ProgressCallback = Callable[[Progress], object]


class SessionsResult:
    """``Farm.sessions()``: ``sessions`` (each carrying its ``server``, in the order they arrived) and
    ``failures`` (servers that could not be listed, sessions whose details could not be read); with
    ``own=True``, ``own``: the record of the caller's own session among them, or None."""

    __slots__ = ("elapsed", "failures", "interrupted", "own", "sessions")

    def __init__(
        self,
        sessions: list[Record],
        failures: list[Failure],
        elapsed: float,
        interrupted: bool,
        own: Record | None = None,
    ) -> None:
        self.sessions = sessions
        self.failures = failures
        self.elapsed = elapsed
        self.interrupted = interrupted
        self.own = own

    def __iter__(self) -> Iterator[Record]:
        return iter(self.sessions)

    def __len__(self) -> int:
        return len(self.sessions)

    def __repr__(self) -> str:
        extra = ", interrupted" if self.interrupted else ""
        return f"<SessionsResult {len(self.sessions)} sessions, {len(self.failures)} failures{extra}>"


class ProcessesResult:
    """``Farm.processes()``: ``processes`` (each carrying its ``server``, in the order they arrived) and
    ``failures`` (servers whose processes could not be listed)."""

    __slots__ = ("elapsed", "failures", "interrupted", "processes")

    def __init__(self, processes: list[Process], failures: list[Failure], elapsed: float, interrupted: bool) -> None:
        self.processes = processes
        self.failures = failures
        self.elapsed = elapsed
        self.interrupted = interrupted

    def __iter__(self) -> Iterator[Process]:
        return iter(self.processes)

    def __len__(self) -> int:
        return len(self.processes)

    def __repr__(self) -> str:
        extra = ", interrupted" if self.interrupted else ""
        return f"<ProcessesResult {len(self.processes)} processes, {len(self.failures)} failures{extra}>"


class ActionResult:
    """``Farm.disconnect/logoff/send_message()``: one ``Outcome`` per selected session (``Farm.terminate``:
    per selected process) and the ``failures`` (servers that failed)."""

    __slots__ = ("action", "elapsed", "failures", "interrupted", "outcomes")

    def __init__(
        self, action: str, outcomes: list[Outcome], failures: list[Failure], elapsed: float, interrupted: bool
    ) -> None:
        self.action = action
        self.outcomes = outcomes
        self.failures = failures
        self.elapsed = elapsed
        self.interrupted = interrupted

    def __iter__(self) -> Iterator[Outcome]:
        return iter(self.outcomes)

    def __len__(self) -> int:
        return len(self.outcomes)

    def with_status(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    def counts(self) -> dict[str, int]:
        """Outcomes by status: {"done": n, "failed": n, "unknown": n, "skipped": n, "planned": n}."""
        out = dict.fromkeys(("done", "failed", "unknown", "skipped", "planned"), 0)
        for o in self.outcomes:
            out[o.status] += 1
        return out

    @property
    def unknown(self) -> list[Outcome]:
        """The outcomes whose action was sent but never answered (status "unknown"): each may have
        taken effect; list their sessions again to know."""
        return self.with_status("unknown")

    @property
    def ok(self) -> bool:
        """True when every outcome is known and none failed, and no server failed."""
        return not self.failures and all(o.status not in ("failed", "unknown") for o in self.outcomes)

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items() if n)
        extra = ", interrupted" if self.interrupted else ""
        return f"<ActionResult {self.action}: {counts or 'nothing'}; {len(self.failures)} failures{extra}>"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped a bulk operation.  Calls in flight were finished (first interrupt) or
    abandoned (second); nothing was started after the first.  ``result`` holds everything done so far:
    sessions not reached have a "skipped" (cancelled) Outcome, servers not reached a 1223 failure."""

    def __init__(self, result: SessionsResult | ProcessesResult | ActionResult | None, summary: str) -> None:
        super().__init__(summary)
        self.result = result

    def __str__(self) -> str:
        return str(self.args[0])
