"""Which sessions an action may touch, decided without an RPC: the explicit targets (checked before any
RPC, then matched against the fresh listing: gone or changed) and the safety rules (session 0,
listeners, the console and the caller's own session are never touched).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, TypeVar

from ._ledger import Ledger, ServerState
from ._results import ActionResult, Outcome, Reason, SessionsResult
from ._types import FIRST_LISTENER_ID, MAX_SESSION_ID, ConnectState, Session, SessionInfo, filetime_to_datetime
from ._winerror import WinError

_Row = TypeVar("_Row")

__all__ = [
    "PROTECTED_TEXT",
    "OwnSession",
    "changed",
    "is_own",
    "is_own_session",
    "match_selection",
    "needs_logon_check",
    "protected",
    "targets",
]

_NOT_FOUND = int(WinError.ERROR_CTX_WINSTATION_NOT_FOUND)

#: Outcome.reason of the sessions the safety rules protect.
PROTECTED_TEXT = {
    Reason.SYSTEM_SESSION: "session 0 (services) is never touched",
    Reason.LISTENER: "a listener is never touched",
    Reason.CONSOLE: "the console session is never touched",
    Reason.OWN_SESSION: "your own session (pass allow_own=True to include it)",
}


class OwnSession(NamedTuple):
    """The caller's own session, as the local server reports it (names case-folded)."""

    id: int
    user: str
    domain: str
    station: str
    logon: int  #: its logon time in FILETIME ticks; 0 when unknown


def protected(row: Session, info: SessionInfo | None, own: OwnSession | None) -> Reason | None:
    """Why the session must never be touched, or None.  ``info``: its details when read."""
    if row.id == 0:
        return Reason.SYSTEM_SESSION
    if row.state == ConnectState.LISTEN or row.id >= FIRST_LISTENER_ID:
        return Reason.LISTENER
    if row.station.casefold() == "console":
        return Reason.CONSOLE
    if (
        own is not None
        and row.id == own.id
        and row.user.casefold() == own.user
        and row.domain.casefold() == own.domain
        and row.station.casefold() == own.station
    ):
        # Server names can't tell which server is this machine (aliases, FQDNs, addresses), but a
        # session's logon time, to 100 ns, can: another server's session with the same id, user
        # and station logged on at another instant.  Unknown times leave it protected (the run reads
        # the logon time of such a look-alike first: see ``needs_logon_check``).
        logon = info.logon_time if info is not None else None
        if own.logon > 0 and logon is not None and logon != filetime_to_datetime(own.logon):
            return None
        return Reason.OWN_SESSION
    return None


def is_own_session(info: SessionInfo, own: OwnSession) -> bool:
    """Whether the session ``info`` (read from any server) is the caller's own: the same id, user,
    domain and station, and (when both are known) the same logon time to 100 ns.  For a process, whose
    listing names only its session id, this is the whole test (``protected`` decides from a listing)."""
    if (info.id, info.user.casefold(), info.domain.casefold(), info.station.casefold()) != (
        own.id,
        own.user,
        own.domain,
        own.station,
    ):
        return False
    return own.logon <= 0 or info.logon_time is None or info.logon_time == filetime_to_datetime(own.logon)


def needs_logon_check(why: Reason | None, info: SessionInfo | None, own: OwnSession | None) -> bool:
    """True for a look-alike of the caller's own session whose logon time, not yet read, can tell."""
    return why is Reason.OWN_SESSION and info is None and own is not None and own.logon > 0


def changed(picked: Any, row: Session) -> str | None:
    """Outcome.reason when ``row``, listed now, is no longer the session the caller picked (another
    user's session has its id: acting on it would hit the wrong person); None when it still is."""
    user, domain = getattr(picked, "user", None), getattr(picked, "domain", None)
    # An Outcome (a dry run's plan) carries the user but no domain: compare what the record has.
    if user is None or (
        user.casefold() == row.user.casefold() and (domain is None or domain.casefold() == row.domain.casefold())
    ):
        return None
    before = (f"{domain}\\{user}" if domain is not None else user) if user else "nobody"
    now = f"{row.domain}\\{row.user}" if row.user else "nobody"
    return f"changed since it was listed: now {now}'s, was {before}'s"


def targets(servers: Iterable[str], selection: Iterable[Any]) -> dict[str, dict[int, Any]]:
    """Explicit targets grouped by server (case-insensitively), validated before any RPC."""
    if isinstance(selection, (str, bytes)) or not isinstance(selection, Iterable):
        raise TypeError(f"targets must be sessions from Farm.sessions() (or (server, id) pairs), not {selection!r}")
    if isinstance(selection, (SessionsResult, ActionResult)):
        selection = selection.sessions if isinstance(selection, SessionsResult) else selection.outcomes
    known = {n.casefold() for n in servers}
    out: dict[str, dict[int, Any]] = {}
    server: Any
    sid: Any
    record: Any
    for item in selection:
        if isinstance(item, Outcome):
            server, sid, record = item.server, item.session_id, item
        elif hasattr(item, "server") and hasattr(item, "id"):
            server, sid, record = item.server, item.id, item
        elif isinstance(item, tuple) and len(item) == 2:
            server, sid, record = item[0], item[1], None
        else:
            raise TypeError(f"targets: {item!r} is not a session (need .server and .id, or a (server, id) pair)")
        if not isinstance(server, str) or server.casefold() not in known:
            raise ValueError(f"targets: session {sid} is on {server!r}, which is not a server of this farm")
        if isinstance(sid, bool) or not isinstance(sid, int) or not 0 <= sid <= MAX_SESSION_ID:
            raise ValueError(f"targets: {sid!r} on {server} is not a session id")
        out.setdefault(server.casefold(), {})[sid] = record
    return out


def match_picked(
    srv: ServerState,
    rows: Iterable[_Row],
    ledger: Ledger,
    key: Callable[[_Row], int],
    changed_from: Callable[[Any, _Row], str | None],
    gone_code: int | None,
) -> list[_Row]:
    """The targets the caller picked on ``srv`` (sessions by id, processes by pid: ``key``) that its
    fresh listing ``rows`` still has as the same thing (``changed_from`` says why not); each of the
    others gets its Outcome in ``ledger``: gone (with ``gone_code``), or changed."""
    assert srv.selection is not None
    by_key = {key(row): row for row in rows}
    keep = []
    for k, picked in srv.selection.items():
        row = by_key.get(k)
        if row is None:
            ledger.outcome_for(srv.name, k, picked, "skipped", Reason.GONE, gone_code, "no longer exists")
            continue
        why_not = changed_from(picked, row)
        if why_not is not None:
            ledger.outcome_for(srv.name, k, row, "skipped", Reason.CHANGED, None, why_not)
            continue
        keep.append(row)
    return keep


def match_selection(srv: ServerState, rows: list[Session], ledger: Ledger) -> list[Session]:
    """The sessions the caller selected on ``srv`` that are still the same sessions in its fresh
    listing ``rows``; each of the others gets its Outcome (gone, or changed) in ``ledger``."""
    return match_picked(srv, rows, ledger, lambda row: row.id, changed, _NOT_FOUND)


def is_own(record: Session | SessionInfo, own: OwnSession | None) -> bool | None:
    """Whether a listed session is the caller's own (for marking it, as quser's ``>``): True, False,
    or None for a look-alike (the same id, user, domain and station, as another server may have)
    whose logon time, not in ``record``, would tell.  Unlike ``protected``, the console and any id
    may be the caller's."""
    if (
        own is None
        or record.id != own.id
        or record.user.casefold() != own.user
        or record.domain.casefold() != own.domain
        or record.station.casefold() != own.station
    ):
        return False
    if own.logon <= 0:
        return True  # the local server did not say when it logged on: the names are all there is
    if not isinstance(record, SessionInfo):
        return None
    return record.logon_time is not None and record.logon_time == filetime_to_datetime(own.logon)
