"""What a bulk run keeps and owes: the state of each server and each session (or process) on its way,
and the ledger of what it reports (records, Outcomes, Failures), which gives every selected session or
process exactly one Outcome.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from ._errors import WTSError
from ._results import Failure, Item, Outcome, Reason
from ._types import ClientInfo, MessageResponse, Process, Session, SessionInfo
from ._winerror import WinError

__all__ = ["Ledger", "ServerState", "Target", "error_text"]


class ServerState:
    """One server of the run: its handle, whether it was listed, how it failed."""

    __slots__ = ("error", "host", "inflight", "listed", "name", "parked", "selection", "tries")

    def __init__(self, name: str, selection: dict[int, Any] | None) -> None:
        self.name = name
        self.host: Any = None
        self.error: WTSError | None = None
        self.listed = False
        self.tries = 0
        self.selection = selection  # session id (a process: pid) -> the record the caller selected, or None
        #: Where the provider takes one call at a time per server (``_bulk.PER_SERVER``): the calls to
        #: this server sent and not yet answered, and those waiting their turn (target, stage).
        self.inflight = 0
        self.parked: deque[tuple[Target, str]] = deque()


class Target:
    """One session (or process) on its way through details, client and the action."""

    __slots__ = ("client", "client_info", "final", "info", "named", "row", "session_id", "srv", "stage", "tries")

    def __init__(self, srv: ServerState, row: Any) -> None:
        self.srv = srv
        self.named = srv.selection is not None  # the caller selected it by name: it gets an Outcome
        self.row = row  # a Session, or a Process
        self.session_id: int = row.session_id if isinstance(row, Process) else row.id
        self.info: SessionInfo | None = None
        self.client: str | None = None
        self.client_info: ClientInfo | None = None  # details="clients": WTSClientInfo and the protocol
        self.stage = ""  # the call in flight: "times", "client", "clientinfo", "protocol" or "act"
        self.tries = 0
        self.final = False  # its record, Outcome or Failure is out: nothing more is said about it


class Ledger:
    """The items a run reports, in the order they were decided, until the loop ``take``s them."""

    __slots__ = ("action", "failures", "items")

    def __init__(self, action: str) -> None:
        self.action = action
        self.items: list[Item] = []
        self.failures = 0

    def take(self) -> list[Item]:
        items, self.items = self.items, []
        return items

    def record(self, record: Session | SessionInfo | Process) -> None:
        self.items.append(record)

    def records(self, records: list[Session]) -> None:
        self.items.extend(records)

    def failure(self, failure: Failure) -> None:
        self.failures += 1
        self.items.append(failure)

    def outcome(
        self,
        t: Target,
        status: str,
        why: Reason,
        winerror: int | None,
        reason: str,
        response: MessageResponse | int | None = None,
    ) -> None:
        """The Outcome of ``t``, unless it has one already."""
        if t.final:
            return
        t.final = True
        row = t.row
        if isinstance(row, Process):
            self.items.append(
                Outcome(
                    t.srv.name,
                    row.session_id,
                    "",
                    row.user,
                    self.action,
                    status,
                    winerror,
                    reason,
                    None,
                    why,
                    row.pid,
                    row.name,
                )
            )
            return
        self.items.append(
            Outcome(t.srv.name, row.id, row.station, row.user, self.action, status, winerror, reason, response, why)
        )

    def final_error(self, t: Target, err: WTSError, *, sent: bool) -> None:
        """``t`` failed with ``err``; ``sent``: its call in stage ``t.stage`` went out (and failed)."""
        if t.final:
            return
        if self.action in ("sessions", "processes"):
            t.final = True
            if err is not t.srv.error:  # the server's own failure is reported once, not per session
                self.failure(Failure(t.srv.name, err, t.row.id))
            return
        if t.stage in ("times", "client", "clientinfo", "protocol") and err is not t.srv.error:
            self.outcome(t, "failed", Reason.NO_DETAILS, err.winerror, f"could not read its details: {error_text(err)}")
        else:
            # The action call itself failed, or its server failed before the action was sent.
            acted = sent and t.stage == "act"
            if acted and err.winerror == WinError.RPC_S_CALL_FAILED:
                # Failed in transit, after it may have run (and it is not retried): neither done nor
                # failed.  List the session again to see.
                text = f"{error_text(err)}: the call may have run; outcome unknown"
                self.outcome(t, "unknown", Reason.IN_TRANSIT, err.winerror, text)
                return
            why = Reason.CALL_FAILED if acted else Reason.NOT_REACHED
            self.outcome(t, "failed", why, err.winerror, error_text(err))

    def outcome_for(
        self, server: str, sid: int, row: Any, status: str, why: Reason, winerror: int | None, reason: str
    ) -> None:
        """The Outcome of a session the caller named that was never listed as it was named (for a
        terminate: ``sid`` is the pid, ``row`` the Process or Outcome the caller named, or the process
        that has its pid now)."""
        if self.action == "terminate":
            image = row.name if isinstance(row, Process) else row.image
            self.items.append(
                Outcome(
                    server, row.session_id, "", row.user, self.action, status, winerror, reason, None, why, sid, image
                )
            )
            return
        station = getattr(row, "station", "") or ""
        user = getattr(row, "user", "") or ""
        self.items.append(Outcome(server, sid, station, user, self.action, status, winerror, reason, None, why))


def error_text(err: WTSError) -> str:
    """Outcome.reason of a failure: Windows' text and the code's name (``Access is denied. [ERROR_ACCESS_DENIED]``)."""
    name = f" [{err.code_name}]" if err.code_name else f" [WinError {err.winerror}]"
    return f"{err.strerror}{name}"
