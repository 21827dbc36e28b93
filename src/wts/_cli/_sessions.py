"""``wts sessions`` (``wts ls``): list sessions across servers, like qwinsta and quser; one
WTSEnumerateSessionsExW per server, plus one call per session for --details and three for --clients
(the times, WTSClientInfo and WTSClientProtocolType), and one query of the local server for the
caller's own session, which the table marks with ``>`` as quser does (``"own"`` in JSON and CSV)."""

from __future__ import annotations

from typing import Any

from wts import ClientInfo, ConnectState, Failure, Session, SessionInfo

from . import _selection
from ._args import parse_session
from ._context import Context
from ._order import sort_keys, sort_sessions
from ._output import (
    SESSION_CSV_FIELDS,
    SESSION_FIELDS,
    failure_record,
    format_idle,
    format_time,
    protocol_name,
    render_table,
    session_record,
    state_colour,
    state_name,
    write_records,
)
from ._status import ExitStatus, UsageError
from ._stream import stream
from ._terminal import terminal_width
from ._text import failure_lines

__all__ = ["run"]

_TIME_FILTERS = ("idle_over", "idle_under", "disconnected_over", "logon_before", "logon_after")


def run(ctx: Context) -> ExitStatus:
    ctx.setup()
    a = ctx.args
    filters = _filters(ctx)
    details = _details(ctx, filters)
    sort_keys(a.sort)  # a bad key stops the command before any RPC
    servers = _selection.servers(ctx)
    farm = ctx.farm(servers)
    result = stream(ctx, farm, "sessions", "sessions", False, details=details, own=True, **filters)
    records: list[Session | SessionInfo] = result.items
    sort_sessions(records, a.sort)
    if a.reverse:
        records.reverse()

    if a.format == "table":
        _write_table(ctx, records, details, result.own)
    else:
        # Every server that failed is a record too (as in an action's output), so a script that reads
        # only stdout still sees it: status "failed", its code and Windows' words.
        rows = [session_record(r, r is result.own) for r in records]
        rows += [failure_record(f) for f in result.failures]
        write_records(ctx.stdout, a.format, rows, SESSION_CSV_FIELDS if a.format == "csv" else SESSION_FIELDS)
    ctx.stdout.flush()
    for line in failure_lines(result.failures, hints=ctx.verbose > 0):
        ctx.error(line)

    where = ctx.where(servers) if ctx.local_only else ""
    ctx.info(_summary(records, result.failures, len(servers), result.elapsed, result.interrupted, where))
    if result.interrupted:
        return ExitStatus.INTERRUPTED
    return ExitStatus.FAILED if result.failures else ExitStatus.OK


def _filters(ctx: Context) -> dict[str, Any]:
    """The selection filters, plus the listing's own: --id and --users (sorted out from the listing)."""
    a = ctx.args
    filters = _selection.filters(ctx)
    if a.ids:
        ids = []
        for item in a.ids:
            for token in item.split(","):
                sid = parse_session(token, "--id")
                if not isinstance(sid, int):
                    raise UsageError(f"--id: {token!r} is not a session id (names go to --station)")
                ids.append(sid)
        filters["ids"] = ids
    if a.users and "user" not in filters:
        filters["user"] = ["?*"]  # somebody is logged on: sorted out from the listing, no RPC
    return filters


def _details(ctx: Context, filters: dict[str, Any]) -> bool | str:
    """Farm's ``details``: "clients" (the whole client record) for --clients; "client" (its name) for
    --client or sorting by client; True for --details, a time filter or sorting by idle or logon
    time (what a filter or a sort needs is fetched, and then shown)."""
    a = ctx.args
    sorting = {k.lstrip("-+") for k in sort_keys(a.sort)}
    if a.clients:
        return "clients"
    if "client" in filters or "client" in sorting:
        return "client"
    if a.details or any(k in filters for k in _TIME_FILTERS) or sorting & {"idle", "logon"}:
        return True  # the times are fetched for the filter or the sort anyway: show them
    return False


def _write_table(
    ctx: Context, records: list[Session | SessionInfo], details: bool | str, own: Session | SessionInfo | None
) -> None:
    """SERVER ID STATION USER STATE, then IDLE and LOGON with details, CLIENT with the client's name,
    and with --clients its ADDRESS, DISPLAY and PROTOCOL too (the last two are left out first when
    the terminal is too narrow).  The caller's own session is marked with ``>`` before its line, as
    quser marks it; when it is not listed, the lines have no mark column."""
    if not records:
        return
    show_times = bool(details)
    client = details in ("client", "clients")
    whole = details == "clients"
    headers = ["SERVER", "ID", "STATION", "USER", "STATE"]
    if show_times:
        headers += ["IDLE", "LOGON"]
    if client:
        headers.append("CLIENT")
    if whole:
        headers += ["ADDRESS", "DISPLAY", "PROTOCOL"]
    rows, colours = [], []
    for r in records:
        info = r if isinstance(r, SessionInfo) else None
        row = [r.server or "", str(r.id), r.station, r.user, state_name(r.state)]
        paint: list[str | None] = [None, None, None, None, state_colour(r.state)]
        if show_times:
            row += [format_idle(info.idle) if info else "", format_time(info.logon_time) if info else ""]
            paint += [None, None]
        if client:
            row.append((info.client or "") if info else "")
            paint.append(None)
        if whole:
            row += _client_cells(info.client_info if info else None)
            paint += [None, None, None]
        rows.append(row)
        colours.append(paint)
    marked = own is not None and any(r is own for r in records)
    width = terminal_width(ctx.stdout)
    table = render_table(
        headers,
        rows,
        width=None if width is None else max(width - 1, 1) if marked else width,
        right=(1, 5) if show_times else (1,),
        flexible=(0, 2, 3, 7) if client else (0, 2, 3),
        droppable=(9, 10, 6, 5, 7) if whole else (7, 6, 5) if client else (6, 5) if show_times else (),
        short=(4,),
        middle=(0, 2, 3, 7),
        colours=colours,
        style=ctx.colour_out,
    )
    if marked:
        lines = table.splitlines()
        marks = [" "] + [">" if r is own else " " for r in records]
        table = "".join(f"{m}{line}".rstrip() + "\n" for m, line in zip(marks, lines))
    ctx.stdout.write(table)


def _client_cells(c: ClientInfo | None) -> list[str]:
    """ADDRESS, DISPLAY (1920x1080x32: pixels and bits per pixel) and PROTOCOL of a client."""
    if c is None:
        return ["", "", ""]
    address = str(c.address) if c.address is not None else ""
    display = ""
    if c.width or c.height:
        bits = c.bits_per_pixel
        display = f"{c.width}x{c.height}" + (f"x{bits}" if bits is not None else "")
    return [address, display, protocol_name(c.protocol) or ""]


def _summary(
    records: list[Session | SessionInfo],
    failures: list[Failure],
    servers: int,
    elapsed: float,
    interrupted: bool,
    where: str = "",
) -> str:
    """'65 sessions (30 active, 23 disconnected, 12 other) on 6 of 6 servers in 0.01s; ...'"""
    failed_servers = {f.server.casefold() for f in failures if f.session_id is None}
    states = {"active": 0, "disconnected": 0, "other": 0}
    for r in records:
        if r.state == ConnectState.ACTIVE:
            states["active"] += 1
        elif r.state == ConnectState.DISCONNECTED:
            states["disconnected"] += 1
        else:
            states["other"] += 1
    parts = ", ".join(f"{n:,} {k}" for k, n in states.items() if n)
    summary = (
        f"{len(records):,} session{'s' if len(records) != 1 else ''}"
        + (f" ({parts})" if parts else "")
        + (f" {where}" if where else f" on {servers - len(failed_servers):,} of {servers:,} servers")
        + f" in {elapsed:.2f}s"
    )
    if failed_servers:
        n = len(failed_servers)
        summary += f"; {n:,} server{'s' if n != 1 else ''} failed"
    detail_failures = len(failures) - len(failed_servers)
    if detail_failures:
        summary += f"; details of {detail_failures:,} sessions failed"
    if interrupted:
        summary += "; interrupted"
    return summary
