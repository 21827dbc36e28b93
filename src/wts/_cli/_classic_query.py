"""``wts qwinsta`` / ``wts query session`` and ``wts quser`` / ``wts query user``: the classic
listings, with Windows' syntax, usage texts, fixed-width columns and exit status.

Each takes one optional word (a session name, a user name or a session id) and ``/SERVER:``; beyond
the originals, ``/SERVER:`` also takes a range or a list (``RDS[01-40]``, ``A,B``): every server is
listed through one ``Farm`` (all calls in flight together) and answers in the original's format,
in a block of its own headed ``NAME:`` (natural order, a blank line between blocks, as ``ls`` lists
several directories).  A server that fails is one line on stderr, ``NAME: Error [1722]:The RPC
server is unavailable.``, and makes the exit status 1.  ``--format json|jsonl|csv`` gives wts'
records instead (with ``"own"``: the caller's own session, the one marked ``>``).

RPCs: qwinsta, one WTSEnumerateSessionsExW per server; quser, that plus one
WTSQuerySessionInformationW(WTSSessionInfoEx) per session with a user (the idle and logon times);
both, one more on the local server for the caller's own session (the ``>`` marker).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import wts
from wts import CURRENT_SESSION, ConnectState, Failure, Session, SessionInfo, WTSError

from ._classic_usage import QUERY_USAGE, QUSER_USAGE, QWINSTA_USAGE
from ._context import Context
from ._order import natural_key, server_blocks
from ._output import SESSION_CSV_FIELDS, failure_record, format_idle, session_record, write_records
from ._status import ExitStatus
from ._stream import stream
from ._switches import Invalid, invalid, parse, servers_of, session_word, usage
from ._text import printable

__all__ = [
    "QUSER_HEADER",
    "QWINSTA_HEADER",
    "STATE_WORDS",
    "classic_error",
    "logon_text",
    "quser_line",
    "qwinsta_line",
    "run_query",
    "run_quser",
    "run_qwinsta",
]

#: The STATE column's words, as qwinsta and quser print them.
STATE_WORDS = {
    ConnectState.ACTIVE: "Active",
    ConnectState.CONNECTED: "Conn",
    ConnectState.CONNECT_QUERY: "ConnQ",
    ConnectState.SHADOW: "Shadow",
    ConnectState.DISCONNECTED: "Disc",
    ConnectState.IDLE: "Idle",
    ConnectState.LISTEN: "Listen",
    ConnectState.RESET: "Reset",
    ConnectState.DOWN: "Down",
    ConnectState.INIT: "Init",
}

# The headers, character for character (qwinsta's ends in a space, as Windows prints it).
QWINSTA_HEADER = " SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE "
QUSER_HEADER = " USERNAME              SESSIONNAME        ID  STATE   IDLE TIME  LOGON TIME"


def _cell(text: str, width: int) -> str:
    """A name cut to ``width`` and padded to it (as the originals cut long names), control
    characters shown as escapes so a name cannot forge a line."""
    return printable(text)[:width].ljust(width)


def _state(state: ConnectState | int) -> str:
    return STATE_WORDS.get(state, str(int(state))) if isinstance(state, ConnectState) else str(state)


def qwinsta_line(row: Session | SessionInfo, own: bool) -> str:
    """One qwinsta row: 76 columns, TYPE and DEVICE blank (as captures of Windows Server 2016 and later show
    them for RDP sessions)."""
    mark = ">" if own else " "
    station = _cell(row.station, 17) + " "
    return f"{mark}{station}{_cell(row.user, 20)}{row.id:>7}  {_state(row.state):<6}  {'':<10}  {'':<8}"


def logon_text(when: datetime | None) -> str:
    """quser's LOGON TIME, en-US, in this computer's time zone: '11/21/2026 7:55 AM'."""
    if when is None:
        return ""
    t = when.astimezone()
    hour = t.hour % 12 or 12
    return f"{t.month}/{t.day}/{t.year} {hour}:{t.minute:02d} {'AM' if t.hour < 12 else 'PM'}"


def quser_line(row: SessionInfo, own: bool) -> str:
    """One quser row: IDLE TIME as quser prints it ('.', '5', '1:02', '2+03:04'; 'none' when Windows
    reports no time)."""
    mark = ">" if own else " "
    idle = format_idle(row.idle) if row.idle is not None else "none"
    line = (
        f"{mark}{_cell(row.user, 20)}  {_cell(row.station, 15)}{row.id:>6}  {_state(row.state):<6}  "
        f"{idle:>9}  {logon_text(row.logon_time)}"
    )
    return line.rstrip()


def classic_error(server: str, err: WTSError) -> str:
    """A server that failed, as the originals word it after the server's name:
    'RDS07: Error [1722]:The RPC server is unavailable.'"""
    return f"{server}: Error [{err.winerror}]:{err.strerror}"


# --- the commands ---------------------------------------------------------------------------------


def run_qwinsta(ctx: Context) -> ExitStatus:
    return _listing(ctx, "qwinsta", list(ctx.args.classic_args))


def run_quser(ctx: Context) -> ExitStatus:
    return _listing(ctx, "quser", list(ctx.args.classic_args))


def run_query(ctx: Context) -> ExitStatus:
    """``query {session | user | process}``, as query.exe hands its word to qwinsta, quser, qprocess."""
    args = list(ctx.args.classic_args)
    what = args[0].lower() if args else ""
    if what == "session":
        return _listing(ctx, "qwinsta", args[1:])
    if what == "user":
        return _listing(ctx, "quser", args[1:])
    if what == "process":
        from ._classic_process import run_qprocess_args

        return run_qprocess_args(ctx, args[1:])
    if what in ("/?", "-?"):
        return usage(ctx, QUERY_USAGE)
    return invalid(ctx, QUERY_USAGE)  # termserver: there is no farm-wide answer to give


def _listing(ctx: Context, tool: str, args: list[str]) -> ExitStatus:
    text = QUSER_USAGE if tool == "quser" else QWINSTA_USAGE
    flags = () if tool == "quser" else ("mode", "flow", "connect", "counter", "vm")
    try:
        words, sw = parse(args, flags, ("server",), ("--format",))
        if len(words) > 1:
            raise Invalid
        servers = servers_of(sw)
    except Invalid:
        return invalid(ctx, text)
    if sw.get("?"):
        return usage(ctx, text)
    if any(sw.get(f) for f in ("mode", "flow", "connect", "counter", "vm")):
        # The line, flow and connect settings and the counters are no WTS API data; /VM names
        # virtual-machine sessions wts cannot reach.
        ctx.error(f"{tool}: /MODE, /FLOW, /CONNECT, /COUNTER and /VM are not supported: wts lists sessions only")
        return ExitStatus.USAGE
    ctx.setup()
    wanted = session_word(words[0], tool) if words else None
    names = servers if servers is not None else [ctx.local_name()]
    quser = tool == "quser"
    filters: dict[str, Any] = {"user": ["?*"]} if quser else {}
    if isinstance(wanted, int):
        filters["ids"] = [wanted]
    farm = ctx.farm(names)
    result = stream(ctx, farm, "sessions", tool, False, details=quser, **filters)
    rows = [r for r in result.items if wanted is None or isinstance(wanted, int) or _named(r, wanted)]
    own = _own_session(ctx)
    fmt = str(sw.get("--format", "table"))
    if fmt != "table":
        recs = [dict(session_record(r), own=_is_own(r, own, ctx)) for r in _ordered(rows)]
        recs += [failure_record(f) for f in result.failures]
        write_records(ctx.stdout, fmt, recs, (*SESSION_CSV_FIELDS, "own"))
    else:
        _write_blocks(ctx, tool, names, rows, own, bulk=len(names) > 1)
    ctx.stdout.flush()
    for f in result.failures:
        ctx.env.note(classic_error(f.server, f.error) if f.session_id is None else _detail_error(f))
    if not rows and not result.failures:
        ctx.env.note(f"No {'User' if quser else 'session'} exists for {words[0] if words else '*'}")
    if result.interrupted:
        return ExitStatus.INTERRUPTED
    return ExitStatus.FAILED if result.failures or not rows else ExitStatus.OK


def _detail_error(f: Failure) -> str:
    return f"{f.server}: session {f.session_id}: Error [{f.error.winerror}]:{f.error.strerror}"


def _named(row: Session | SessionInfo, name: str) -> bool:
    """The word names the session (its WinStation name) or its user, case-insensitively."""
    key = name.casefold()
    return row.station.casefold() == key or row.user.casefold() == key


def _ordered(rows: list[Any]) -> list[Any]:
    return sorted(rows, key=lambda r: (natural_key(r.server), r.id))


def _write_blocks(
    ctx: Context, tool: str, names: list[str], rows: list[Any], own: SessionInfo | None, bulk: bool
) -> None:
    """The original's table; with several servers, one block per server that has rows."""
    header = QUSER_HEADER if tool == "quser" else QWINSTA_HEADER
    for _name, heading, block in server_blocks(names, _ordered(rows), bulk):
        ctx.stdout.write(heading)
        ctx.stdout.write(header + "\n")
        for r in block:
            mine = _is_own(r, own, ctx)
            ctx.stdout.write((quser_line(r, mine) if tool == "quser" else qwinsta_line(r, mine)) + "\n")


def _own_session(ctx: Context) -> SessionInfo | None:
    """The caller's own session on the local server (one RPC), for the > marker; None when there is
    none to find (no local session host, or it would not say)."""
    try:
        with ctx.server(None) as srv:
            return srv.session_info(CURRENT_SESSION)
    except (WTSError, wts.ProviderError, ValueError, OSError):
        return None


def _is_own(row: Session | SessionInfo, own: SessionInfo | None, ctx: Context) -> bool:
    """True for the caller's own session: the local server's, with its id, user and WinStation (and
    its logon time, when both are known: another server's look-alike logged on at another instant)."""
    if own is None or (row.server or "").casefold() != ctx.local_name().casefold():
        return False
    same = (row.id, row.user.casefold(), row.station.casefold()) == (
        own.id,
        own.user.casefold(),
        own.station.casefold(),
    )
    if same and isinstance(row, SessionInfo) and row.logon_time is not None and own.logon_time is not None:
        return row.logon_time == own.logon_time
    return same
