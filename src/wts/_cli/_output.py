"""What the ``wts`` command prints on stdout: tables that fit the terminal, records as JSON, JSON
Lines or CSV, and the cells of a session row (colour and widths: ``_terminal``; the progress bar:
``_progress``).

Hand-written on purpose: a table and a bar are a few dozen lines, while rich or tabulate plus tqdm
would add dependencies to every admin box and tens of milliseconds to each ``wts`` start
(docs/cli.md, "Why no libraries").
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import IO, Any

from wts import ConnectState, Failure, MessageResponse, Outcome, Session, SessionInfo

from ._terminal import PLAIN, Style
from ._text import describe_error, error_name, reason_text

# Column order of session records: the seven columns first, then what JSON and CSV add.
SESSION_FIELDS = (
    "server",
    "id",
    "station",
    "user",
    "domain",
    "state",
    "idle_seconds",
    "logon_time",
    "connect_time",
    "disconnect_time",
    "last_input_time",
    "current_time",
    "locked",
    "client",
)
OUTCOME_FIELDS = (
    "server",
    "session_id",
    "station",
    "user",
    "action",
    "status",
    "winerror",
    "error_name",
    "reason",
    "response",
)


# --- cells ----------------------------------------------------------------------------------------

_STATE_SHORT = {ConnectState.DISCONNECTED: "Disc", ConnectState.CONNECT_QUERY: "ConnQ"}
_STATE_COLOUR = {ConnectState.ACTIVE: "green", ConnectState.DISCONNECTED: "yellow", ConnectState.LISTEN: "dim"}


def state_name(state: ConnectState | int) -> str:
    return state.sdk_name if isinstance(state, ConnectState) else str(state)


def format_idle(idle: timedelta | None) -> str:
    """Idle time the way quser shows it: '.' under a minute, then minutes, h:mm, and d+hh:mm."""
    if idle is None:
        return ""
    minutes = int(idle.total_seconds()) // 60
    if minutes < 1:
        return "."
    if minutes < 60:
        return str(minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}:{minutes:02d}"
    days, hours = divmod(hours, 24)
    return f"{days}+{hours:02d}:{minutes:02d}"


def format_time(when: datetime | None) -> str:
    """Local time, to the minute, in ISO order: the same in every locale (unlike quser's)."""
    return when.astimezone().strftime("%Y-%m-%d %H:%M") if when is not None else ""


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def session_record(s: Session | SessionInfo) -> dict[str, Any]:
    """A session as a flat record (JSON and CSV): times in ISO 8601 UTC, idle in seconds, state by name."""
    rec: dict[str, Any] = {
        "server": s.server,
        "id": s.id,
        "station": s.station,
        "user": s.user,
        "domain": s.domain,
        "state": state_name(s.state),
    }
    if isinstance(s, SessionInfo):
        rec.update(
            idle_seconds=s.idle.total_seconds() if s.idle is not None else None,
            logon_time=_iso(s.logon_time),
            connect_time=_iso(s.connect_time),
            disconnect_time=_iso(s.disconnect_time),
            last_input_time=_iso(s.last_input_time),
            current_time=_iso(s.current_time),
            locked=s.locked,
            client=s.client,
        )
    return rec


def outcome_record(item: Outcome | Failure, action: str) -> dict[str, Any]:
    """An outcome as a flat record; a server that failed as a whole is one record with no session."""
    if isinstance(item, Failure):
        err = item.error
        return {
            "server": item.server,
            "session_id": item.session_id,
            "station": None,
            "user": None,
            "action": action,
            "status": "failed",
            "winerror": err.winerror,
            "error_name": error_name(err.winerror),
            "reason": describe_error(err, with_function=True),
            "response": None,
        }
    response = item.response
    return {
        "server": item.server,
        "session_id": item.session_id,
        "station": item.station,
        "user": item.user,
        "action": item.action,
        "status": item.status,
        "winerror": item.winerror,
        "error_name": error_name(item.winerror) if item.winerror else None,
        "reason": reason_text(item),
        "response": response.name if isinstance(response, MessageResponse) else response,
    }


# --- writers ----------------------------------------------------------------------------------------


def write_records(out: IO[str], fmt: str, records: Iterable[dict[str, Any]], fields: Sequence[str]) -> None:
    """Records as JSON (one array), JSON Lines (one object a line) or CSV (a header, then rows)."""
    if fmt == "json":
        out.write(json.dumps(list(records), indent=1, ensure_ascii=False))
        out.write("\n")
    elif fmt == "jsonl":
        for rec in records:
            out.write(json.dumps(rec, ensure_ascii=False))
            out.write("\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for rec in records:
            writer.writerow({k: ("" if v is None else v) for k, v in rec.items()})
    else:  # pragma: no cover - argparse restricts the choices
        raise ValueError(fmt)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    width: int | None,
    right: Iterable[int] = (),
    flexible: Iterable[int] = (),
    droppable: Sequence[int] = (),
    colours: Sequence[Sequence[str | None]] | None = None,
    style: Style | None = None,
) -> str:
    """Columns two spaces apart.  When ``width`` is given, the ``flexible`` columns (longest first) are
    cut with '…' down to a floor; if the table is still too wide, the ``droppable`` columns are left
    out, in the order given, until it fits."""
    full = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            if len(cell) > full[i]:
                full[i] = len(cell)
    visible = list(range(len(headers)))
    widths = dict(enumerate(full))
    to_drop = list(droppable)
    while True:
        widths = {i: full[i] for i in visible}
        if width is None:
            break
        excess = sum(widths.values()) + 2 * (len(visible) - 1) - width
        flex = [i for i in set(flexible) if i in widths]
        while excess > 0 and flex:
            i = max(flex, key=lambda k: widths[k])
            floor = max(len(headers[i]), 6)
            if widths[i] <= floor:
                flex.remove(i)
                continue
            step = min(excess, widths[i] - floor)
            widths[i] -= step
            excess -= step
        if excess <= 0 or not to_drop:
            break
        gone = to_drop.pop(0)
        if gone in visible:
            visible.remove(gone)
    right_set = set(right)
    style = style or PLAIN
    last = visible[-1]

    def line(cells: Sequence[str], paint: Sequence[str | None] | None, header: bool) -> str:
        parts = []
        for i in visible:
            text = _cut(cells[i], widths[i])
            pad = widths[i] - len(text)
            text = (" " * pad + text) if i in right_set else (text + (" " * pad if i != last else ""))
            if header:
                text = style(text, "bold")
            elif paint is not None and paint[i]:
                text = style(text, paint[i])  # type: ignore[arg-type]
            parts.append(text)
        return "  ".join(parts).rstrip()

    lines = [line(headers, None, True)]
    for n, row in enumerate(rows):
        lines.append(line(row, colours[n] if colours else None, False))
    return "\n".join(lines) + "\n"


def state_colour(state: ConnectState | int) -> str | None:
    return _STATE_COLOUR.get(state) if isinstance(state, ConnectState) else None
