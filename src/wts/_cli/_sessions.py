"""``wts sessions`` (``wts ls``): list sessions across servers, like qwinsta and quser; one
WTSEnumerateSessionsExW per server, plus one call per session for --details and --clients."""

from __future__ import annotations

from typing import Any

from wts import ConnectState, Failure, Session, SessionInfo

from . import _selection
from ._args import parse_session
from ._context import Context
from ._order import sort_keys, sort_sessions
from ._output import (
    SESSION_CSV_FIELDS,
    SESSION_FIELDS,
    failure_session_record,
    format_idle,
    format_time,
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
    result = stream(ctx, farm, "sessions", "sessions", False, details=details, **filters)
    records: list[Session | SessionInfo] = result.items
    sort_sessions(records, a.sort)
    if a.reverse:
        records.reverse()

    if a.format == "table":
        _write_table(ctx, records, details)
    else:
        # Every server that failed is a record too (as in an action's output), so a script that reads
        # only stdout still sees it: status "failed", its code and Windows' words.
        rows = [session_record(r) for r in records] + [failure_session_record(f) for f in result.failures]
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
    """Farm's ``details``: "client" for --clients, --client or sorting by client; True for --details,
    a time filter or sorting by idle or logon time (what a filter or a sort needs is fetched, and
    then shown)."""
    a = ctx.args
    sorting = {k.lstrip("-+") for k in sort_keys(a.sort)}
    if a.clients or "client" in filters or "client" in sorting:
        return "client"
    if a.details or any(k in filters for k in _TIME_FILTERS) or sorting & {"idle", "logon"}:
        return True  # the times are fetched for the filter or the sort anyway: show them
    return False


def _write_table(ctx: Context, records: list[Session | SessionInfo], details: bool | str) -> None:
    """SERVER ID STATION USER STATE, then IDLE and LOGON with details, CLIENT with clients."""
    if not records:
        return
    show_times = bool(details)
    clients = details == "client"
    headers = ["SERVER", "ID", "STATION", "USER", "STATE"]
    if show_times:
        headers += ["IDLE", "LOGON"]
    if clients:
        headers.append("CLIENT")
    rows, colours = [], []
    for r in records:
        info = r if isinstance(r, SessionInfo) else None
        row = [r.server or "", str(r.id), r.station, r.user, state_name(r.state)]
        paint: list[str | None] = [None, None, None, None, state_colour(r.state)]
        if show_times:
            row += [format_idle(info.idle) if info else "", format_time(info.logon_time) if info else ""]
            paint += [None, None]
        if clients:
            row.append((info.client or "") if info else "")
            paint.append(None)
        rows.append(row)
        colours.append(paint)
    ctx.stdout.write(
        render_table(
            headers,
            rows,
            width=terminal_width(ctx.stdout),
            right=(1, 5) if show_times else (1,),
            flexible=(0, 2, 3, 7) if clients else (0, 2, 3),
            droppable=(7, 6, 5) if clients else (6, 5) if show_times else (),
            short=(4,),
            middle=(0, 2, 3, 7),
            colours=colours,
            style=ctx.colour_out,
        )
    )


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
