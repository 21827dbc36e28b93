"""What the ``wts`` command prints on stdout: tables that fit the terminal, records as JSON, JSON
Lines or CSV, and the cells of a session row (colour and widths: ``_terminal``; the progress bar:
``_progress``).

Hand-written on purpose: a table and a bar are a few dozen lines, while rich or tabulate plus tqdm
would add dependencies to every admin box and tens of milliseconds to each ``wts`` start
(docs/cli.md, "Why no libraries").
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import IO, Any

from wts import ClientInfo, ConnectState, Failure, MessageResponse, Outcome, Protocol, Session, SessionInfo

from ._terminal import PLAIN, Style
from ._text import describe_error, error_name, printable, reason_text

#: The fields of the client record (``ClientInfo``) in a session record.
CLIENT_FIELDS = (
    "client_address",
    "client_protocol",
    "client_width",
    "client_height",
    "client_bits_per_pixel",
    "client_build",
    "client_product_id",
)
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
    # The caller's own session (quser's ">"): true or false; null for a server that failed.
    "own",
    # --clients: the whole client record (SessionInfo.client_info); null when not fetched.
    *CLIENT_FIELDS,
)
#: What a record of a server that could not be listed (or a session whose details could not be read)
#: adds to the session fields: the same four fields an action's failure record has.
FAILURE_FIELDS = ("status", "winerror", "error_name", "reason")
#: The CSV columns of a listing: every session field, then the failure fields (empty for a session).
SESSION_CSV_FIELDS = SESSION_FIELDS + FAILURE_FIELDS
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

#: The short state names a table falls back to when it is too wide (as qwinsta's "Disc").
STATE_SHORT = {"Disconnected": "Disc", "ConnectQuery": "ConnQ", "Connected": "Conn"}
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


def protocol_name(protocol: Protocol | int | None) -> str | None:
    """WTSClientProtocolType as a word: 'Console', 'ICA', 'RDP'; another value as its number."""
    if protocol is None:
        return None
    return _PROTOCOL_NAMES.get(int(protocol), str(int(protocol)))


_PROTOCOL_NAMES: dict[int, str] = {Protocol.CONSOLE: "Console", Protocol.ICA: "ICA", Protocol.RDP: "RDP"}


def client_record(c: ClientInfo | None) -> dict[str, Any]:
    """The client fields of a session record: the address as text, the protocol by name."""
    if c is None:
        return dict.fromkeys(CLIENT_FIELDS)
    return {
        "client_address": str(c.address) if c.address is not None else None,
        "client_protocol": protocol_name(c.protocol),
        "client_width": c.width,
        "client_height": c.height,
        "client_bits_per_pixel": c.bits_per_pixel,
        "client_build": c.build,
        "client_product_id": c.product_id,
    }


def session_record(s: Session | SessionInfo, own: bool | None = None) -> dict[str, Any]:
    """A session as a flat record (JSON and CSV): times in ISO 8601 UTC, idle in seconds, state by name;
    ``own``: whether it is the caller's session (None: not looked for)."""
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
    rec["own"] = own
    if isinstance(s, SessionInfo):
        rec.update(client_record(s.client_info))
    return rec


def failure_record(f: Failure, fields: tuple[str, ...] = SESSION_FIELDS, id_key: str = "id") -> dict[str, Any]:
    """A server that could not be listed (its id null), or a session whose details could not be read,
    as a record of a listing: the listing's ``fields`` (null where unknown; the session id under
    ``id_key``) and the failure's, as an action's failure record has them."""
    rec: dict[str, Any] = dict.fromkeys(fields)
    rec["server"] = f.server
    rec[id_key] = f.session_id
    rec.update(
        status="failed",
        winerror=f.error.winerror,
        error_name=error_name(f.error.winerror),
        reason=describe_error(f.error, with_function=True),
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
        # Each row is written with the RFC 4180 line end, so that the csv module quotes every field
        # holding a CR or a LF (with "\n" as the line end it leaves a lone CR bare, and a reader
        # splits the row there); the row then ends in "\n" like every other line wts prints.
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore", lineterminator="\r\n")

        def row(write: Any) -> None:
            buf.seek(0)
            buf.truncate()
            write()
            out.write(buf.getvalue()[:-2] + "\n")

        row(writer.writeheader)
        for rec in records:
            row(lambda rec=rec: writer.writerow({k: csv_cell(v) for k, v in rec.items()}))
    else:  # pragma: no cover - argparse restricts the choices
        raise ValueError(fmt)


#: What a spreadsheet reads as a formula when a cell starts with it (OWASP, "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell: None empty; text that a spreadsheet would run as a formula (a user or client named
    ``=HYPERLINK(...)``) gets a leading ``'``, which spreadsheets show as text.  Numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _cut(text: str, width: int, middle: bool = False) -> str:
    """Cut at the end with '…'; or, for names (``middle``), in the middle, keeping both ends, so that
    names that differ only at the end (RDS-PROD-01, administrator2) stay told apart."""
    if len(text) <= width:
        return text
    if not middle:
        return text[: max(width - 1, 0)] + "…"
    if width <= 1:
        return "…"[:width]
    head = (width - 1 + 1) // 2
    tail = width - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


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
    short: Iterable[int] = (),
    middle: Iterable[int] = (),
) -> str:
    """Columns two spaces apart; control characters in cells shown escaped (``printable``).  When
    ``width`` is given and the table is wider: the ``short`` columns first use their short words
    (``STATE_SHORT``: Disc for Disconnected), then the ``flexible`` columns are cut fairly (the widest
    loses a character at a time, down to a floor) with '…' (the ``middle`` ones, names, in the middle,
    the others at the end); if the table is still too
    wide, the ``droppable`` columns are left out, in the order given, until it fits."""
    cells = [[printable(cell) for cell in row] for row in rows]
    if width is not None and short:
        cells = _shorten(headers, cells, width, set(short))
    rows = cells
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
        flex = sorted(i for i in set(flexible) if i in widths)
        while excess > 0 and flex:
            i = max(flex, key=lambda k: widths[k])  # the widest loses one: every name keeps its share
            if widths[i] <= max(len(headers[i]), 6):
                flex.remove(i)
                continue
            widths[i] -= 1
            excess -= 1
        if excess <= 0 or not to_drop:
            break
        gone = to_drop.pop(0)
        if gone in visible:
            visible.remove(gone)
    right_set = set(right)
    middle_set = set(middle)
    style = style or PLAIN
    last = visible[-1]

    def line(cells: Sequence[str], paint: Sequence[str | None] | None, header: bool) -> str:
        parts = []
        for i in visible:
            text = _cut(cells[i], widths[i], i in middle_set)
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


def _shorten(headers: Sequence[str], rows: list[list[str]], width: int, short: set[int]) -> list[list[str]]:
    """The rows with the ``short`` columns' words shortened (Disconnected -> Disc), if the table is
    wider than ``width`` with them whole."""
    full = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    if sum(full) + 2 * (len(headers) - 1) <= width:
        return rows
    return [[STATE_SHORT.get(c, c) if i in short else c for i, c in enumerate(r)] for r in rows]


def state_colour(state: ConnectState | int) -> str | None:
    return _STATE_COLOUR.get(state) if isinstance(state, ConnectState) else None
