"""Farm-file compiler for the simulated RD Session Host farm.

The C simulator deliberately knows nothing about JSON: it loads a farm from
a small line-based text format ("compiled farm") that is trivial to parse in
C.  All the user-facing work -- reading the JSON farm file, validating it
with precise error messages, expanding ``generate`` blocks into thousands of
realistic sessions -- happens here, in Python, where it is cheap to do well.

The reverse direction, :func:`parse_compiled`, turns compiled text (for
example a state dump taken from the running simulator) back into a JSON-able
farm dict, so a farm can be inspected, edited and loaded again.

This module must not import anything else from the ``wts`` package: it is
used (and tested) without the compiled extension.  The format is documented
in ``docs/sim.md``.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import functools
import ipaddress
import json
import math
import os
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

__all__ = ["CompiledFarm", "FarmFileError", "compile_farm", "parse_compiled"]

# --------------------------------------------------------------------------
# Constants shared with the C simulator (see docs/sim.md).
# --------------------------------------------------------------------------

FORMAT_MAGIC = "WTSSIM"
FORMAT_VERSION = 1

#: WTS_CURRENT_SESSION; a pseudo id, never the id of a real session.
WTS_CURRENT_SESSION = 0xFFFFFFFF
MAX_SESSION_ID = WTS_CURRENT_SESSION - 1

#: Buffer limits from the Windows SDK, in WCHARs (UTF-16 code units).
MAX_SERVER_NAME = 255
WINSTATIONNAME_LENGTH = 32
USERNAME_LENGTH = 20
DOMAIN_LENGTH = 17
CLIENTNAME_LENGTH = 20
#: Not an SDK constant: the simulator stores passwords in a fixed buffer of
#: this many WCHARs (plus the terminator).  Generous for any real password.
MAX_PASSWORD = 256

#: Upper bound for latency_ms / jitter_ms.  Chosen so the compiled
#: microsecond values always fit a signed 32-bit integer in the C parser.
MAX_DELAY_MS = 1_000_000

#: WTS_CONNECTSTATE_CLASS, in enum order (the index is the value).
CONNECT_STATES: tuple[str, ...] = (
    "Active",
    "Connected",
    "ConnectQuery",
    "Shadow",
    "Disconnected",
    "Idle",
    "Listen",
    "Reset",
    "Down",
    "Init",
)
_STATE_BY_KEY: dict[str, int] = {}
for _value, _name in enumerate(CONNECT_STATES):
    _STATE_BY_KEY[_name.lower()] = _value
    _STATE_BY_KEY["wts" + _name.lower()] = _value
del _value, _name

#: Operations a session can refuse with ERROR_ACCESS_DENIED, as mask bits.
DENY_BITS: dict[str, int] = {
    "query": 1,
    "disconnect": 2,
    "logoff": 4,
    "message": 8,
    "connect": 16,
}
_ALL_DENY_BITS = sum(DENY_BITS.values())

#: Message-box answers (IDOK, IDCANCEL, ...).
REPLIES: dict[str, int] = {
    "ok": 1,
    "cancel": 2,
    "abort": 3,
    "retry": 4,
    "ignore": 5,
    "yes": 6,
    "no": 7,
    "tryagain": 10,
    "continue": 11,
    "timeout": 32000,
}
_REPLY_NAMES: dict[int, str] = {v: k for k, v in REPLIES.items()}

FAULTS: tuple[str, ...] = ("unreachable", "hang", "busy")
#: Most RPCs a limited fault (``fault_rpcs``) may hit.
MAX_FAULT_RPCS = 1_000_000_000

AF_INET = 2
AF_INET6 = 23  # the Windows value, not Linux's 10
_ADDRESS_BYTES = 20  # WTS_CLIENT_ADDRESS.Address
_ADDRESS_OFFSET = 2  # where Windows puts the IP bytes inside Address

TICKS_PER_SECOND = 10_000_000  # FILETIME resolution is 100 ns
_UTC = _dt.timezone.utc
_FILETIME_EPOCH = _dt.datetime(1601, 1, 1, tzinfo=_UTC)
_EPOCH_ORDINAL = _FILETIME_EPOCH.toordinal()

_TOP_FIELDS = (
    "seed",
    "now",
    "local",
    "current_session",
    "defaults",
    "servers",
    "generate",
    "messages",
)
_DEFAULT_FIELDS = ("latency_ms", "jitter_ms", "fault", "fault_rpcs")
_SERVER_FIELDS = ("name", "latency_ms", "jitter_ms", "fault", "fault_rpcs", "sessions")
_SESSION_FIELDS = (
    "id",
    "station",
    "state",
    "user",
    "domain",
    "client",
    "address",
    "logon",
    "connect",
    "disconnect",
    "last_input",
    "locked",
    "deny",
    "reply",
    "password",
)
_GENERATE_FIELDS = (
    "prefix",
    "count",
    "sessions",
    "start",
    "digits",
    "latency_ms",
    "jitter_ms",
    "fault",
    "fault_rpcs",
    "domain",
    "disconnected",
    "locked",
    "system_sessions",
)

# Generator tuning.  Changing any of these changes generated farms, which
# breaks the "same JSON -> same bytes" promise across versions; don't.
_LOGON_WINDOW_S = 3 * 86400
_MIN_LOGON_AGE_S = 3600
_MAX_INPUT_AGE_S = 6 * 3600
_MIN_INPUT_AGE_S = 60
_IDLE_BEFORE_DISCONNECT_S = 300
_GEN_LISTENER_ID = 65536
_GEN_FIRST_USER_ID = 2

# Control characters other than tab/LF/CR (which are escaped), and lone
# surrogates (which JSON "\ud800" can produce but UTF-8 cannot encode).
_BAD_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_CANONICAL_TIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,7}))?Z")
_FRACTION = re.compile(r"(\d\d:\d\d:\d\d|[T ]\d{6})[.,](\d+)")
_HEX40 = re.compile(r"[0-9a-fA-F]{40}")
_ESCAPE_SEQ = re.compile(r"\\(.?)", re.DOTALL)
_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


class FarmFileError(ValueError):
    """A farm file or dict that cannot be loaded.

    ``str()`` is a single line, ``'<where>: <what is wrong>'``, where
    ``<where>`` is the file name (``'<dict>'`` for a mapping, ``'<compiled>'``
    for :func:`parse_compiled`), followed by ``:line:column`` for JSON
    syntax errors or by the JSON path of the offending value.  The parts
    are also available separately so tools can point at the problem.
    """

    def __init__(
        self,
        source: str,
        reason: str,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.source = source
        self.reason = reason
        self.path = path
        self.line = line
        self.column = column
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        if self.path:
            where += f": {self.path}"
        return f"{where}: {self.reason}"

    def __reduce__(self) -> tuple[Any, ...]:
        # The default exception pickling would call cls(message) and lose
        # the structured attributes (and fail: reason is required).
        return (
            type(self),
            (self.source, self.reason, self.path, self.line, self.column),
        )


@dataclass(frozen=True)
class CompiledFarm:
    """The compiled farm text plus a summary that callers commonly need
    (which servers exist, how big the farm is) without re-parsing it."""

    text: str
    servers: tuple[str, ...]
    sessions: int


def compile_farm(source: str | os.PathLike[str] | Mapping[str, Any]) -> CompiledFarm:
    """Validate a farm (JSON file path or mapping) and compile it to text.

    Compilation is all-or-nothing: the first problem raises
    :class:`FarmFileError` and nothing is returned.
    """
    if isinstance(source, Mapping):
        name = "<dict>"
        data: Any = source
    elif isinstance(source, (str, os.PathLike)):
        name = os.fsdecode(source)
        data = _load_json(source, name)
    else:
        raise TypeError(f"compile_farm() expects a path or a mapping, not {type(source).__name__}")
    try:
        return _Compiler().compile(data)
    except _Invalid as exc:
        raise FarmFileError(name, exc.reason, path=exc.path) from None


def parse_compiled(text: str) -> dict[str, Any]:
    """Turn compiled farm text (or a simulator dump) back into a farm dict.

    The result has explicit servers only (no ``defaults``/``generate``), so
    ``compile_farm(parse_compiled(t)).text == t`` for text made by
    :func:`compile_farm`.  ``message`` lines become a top-level
    ``"messages"`` list, which :func:`compile_farm` ignores.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_compiled() expects str, not {type(text).__name__}")
    try:
        return _parse(text)
    except _BadLine as exc:
        raise FarmFileError("<compiled>", exc.reason, line=exc.line) from None


# --------------------------------------------------------------------------
# Reading JSON
# --------------------------------------------------------------------------


class _JsonObject(dict[str, Any]):
    """A JSON object that remembers its first duplicated key.

    ``json`` silently keeps the last of duplicated keys; for a hand-edited
    farm that hides mistakes, so the validator reports it (with a path)."""

    __slots__ = ("duplicate",)
    duplicate: str | None


def _object_pairs(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject(pairs)
    obj.duplicate = None
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                obj.duplicate = key
                break
            seen.add(key)
    return obj


def _os_error_text(exc: OSError) -> str:
    # str(OSError) appends the file name, which the message already starts
    # with; keep just "[Errno N] reason".
    if exc.errno is not None and exc.strerror:
        return f"[Errno {exc.errno}] {exc.strerror}"
    return str(exc)


def _load_json(path: str | os.PathLike[str], name: str) -> Any:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise FarmFileError(name, f"cannot read: {_os_error_text(exc)}") from None
    try:
        # Tolerate a UTF-8 BOM: Windows editors like to add one.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise FarmFileError(
            name,
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            line=line,
            column=column,
        ) from None
    try:
        return json.loads(text, object_pairs_hook=_object_pairs)
    except json.JSONDecodeError as exc:
        raise FarmFileError(name, exc.msg, line=exc.lineno, column=exc.colno) from None
    except RecursionError:
        raise FarmFileError(name, "JSON is nested too deeply") from None


# --------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------


class _Invalid(Exception):
    """Internal: a validation failure at a JSON path.  compile_farm adds
    the source name and converts it to FarmFileError."""

    def __init__(self, path: str | None, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


def _join(path: str, key: object) -> str:
    """Extend a JSON path with an object key, bracketing awkward keys so
    the path stays unambiguous."""
    if isinstance(key, str) and key.isidentifier():
        return f"{path}.{key}" if path else key
    text = json.dumps(key) if isinstance(key, str) else repr(key)
    return f"{path}[{text}]"


def _short(text: str, limit: int = 40) -> str:
    """repr() of a string, cut short so one bad value cannot flood the
    (single-line) error message."""
    if len(text) <= limit:
        return repr(text)
    quoted = repr(text[:limit])
    return quoted[:-1] + "..." + quoted[-1]


def _describe(value: object) -> str:
    """Name a value the way a JSON author thinks of it."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {_short(value)}"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return f"a {type(value).__name__}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _object(
    value: object,
    path: str,
    fields: tuple[str, ...],
    required: tuple[str, ...] = (),
) -> Mapping[str, Any]:
    """Check that value is an object with only known fields (typos must not
    be silently ignored) and all required ones."""
    if not isinstance(value, Mapping):
        raise _Invalid(path or None, f"must be an object, not {_describe(value)}")
    duplicate = getattr(value, "duplicate", None)
    if duplicate is not None:
        raise _Invalid(_join(path, duplicate), "field is given more than once")
    for key in value:
        if key not in fields:
            if isinstance(key, str):
                close = difflib.get_close_matches(key, fields, n=1)
            else:
                close = []
            if close:
                hint = f"did you mean {close[0]}?"
            else:
                hint = "expected one of " + ", ".join(fields)
            raise _Invalid(_join(path, key), f"unknown field ({hint})")
    for key in required:
        if key not in value:
            raise _Invalid(path or None, f"missing required field {key!r}")
    return value


def _array(value: object, path: str) -> Sequence[Any]:
    if not isinstance(value, (list, tuple)):
        raise _Invalid(path, f"must be an array, not {_describe(value)}")
    return value


def _int(value: object, path: str, low: int | None = None, high: int | None = None) -> int:
    if not _is_int(value):
        raise _Invalid(path, f"must be an integer, not {_describe(value)}")
    assert isinstance(value, int)
    if low is not None and value < low:
        raise _Invalid(path, _range_text(value, low, high))
    if high is not None and value > high:
        raise _Invalid(path, _range_text(value, low, high))
    return value


def _range_text(value: object, low: float | None, high: float | None) -> str:
    if high is None:
        return f"must be >= {low}, not {value!r}"
    if low is None:
        return f"must be <= {high}, not {value!r}"
    return f"must be between {low} and {high}, not {value!r}"


def _number(value: object, path: str, low: float, high: float) -> float:
    if not (_is_int(value) or isinstance(value, float)):
        raise _Invalid(path, f"must be a number, not {_describe(value)}")
    assert isinstance(value, (int, float))
    if isinstance(value, float) and not math.isfinite(value):
        raise _Invalid(path, f"must be a finite number, not {value!r}")
    if not low <= value <= high:
        raise _Invalid(path, _range_text(value, low, high))
    return value


def _bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(path, f"must be true or false, not {_describe(value)}")
    return value


def _utf16_len(text: str) -> int:
    """Length in WCHARs, which is what the SDK buffer limits count."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def _string(value: object, path: str, limit: int | None = None, limit_name: str = "") -> str:
    if not isinstance(value, str):
        raise _Invalid(path, f"must be a string, not {_describe(value)}")
    bad = _BAD_CHAR.search(value)
    if bad is not None:
        code = ord(bad.group())
        if 0xD800 <= code <= 0xDFFF:
            raise _Invalid(
                path,
                f"contains a lone surrogate U+{code:04X}, which cannot be encoded as UTF-8",
            )
        raise _Invalid(path, f"contains the control character U+{code:04X}, which is not allowed")
    if limit is not None:
        size = _utf16_len(value)
        if size > limit:
            raise _Invalid(
                path,
                f"{_short(value)} is {size} characters long; at most {limit} are allowed ({limit_name})",
            )
    return value


# Characters Windows allows in no computer name (and '*', which rpc_counts() uses for unknown names).
_NAME_FORBIDDEN = frozenset('\\/:*?"<>|')


def _check_name_chars(name: str, path: str) -> None:
    for ch in name:
        if ch.isspace():
            raise _Invalid(path, f"{_short(name)} contains whitespace, which server names cannot")
        if ch in _NAME_FORBIDDEN:
            raise _Invalid(path, f"{_short(name)} contains {ch!r}, which server names cannot")


def _server_name(value: object, path: str) -> str:
    name = _string(value, path, MAX_SERVER_NAME, "server names")
    if not name:
        raise _Invalid(path, "must not be empty")
    _check_name_chars(name, path)
    return name


def _enum_key(value: object, path: str, what: str) -> str:
    """Enum names are matched case-insensitively; returns the lookup key."""
    if not isinstance(value, str):
        raise _Invalid(path, f"must be {what} name (a string), not {_describe(value)}")
    return value.lower()


def _state(value: object, path: str) -> int:
    key = _enum_key(value, path, "a connect state")
    state = _STATE_BY_KEY.get(key)
    if state is None:
        raise _Invalid(
            path,
            f"{_short(str(value))} is not a connect state (expected one of {', '.join(CONNECT_STATES)})",
        )
    return state


def _reply(value: object, path: str) -> int:
    key = _enum_key(value, path, "a reply")
    reply = REPLIES.get(key)
    if reply is None:
        raise _Invalid(
            path,
            f"{_short(str(value))} is not a message-box reply (expected one of {', '.join(REPLIES)})",
        )
    return reply


def _fault(value: object, path: str) -> str:
    """Validate a fault; returns its compiled spelling ('none' for null)."""
    if value is None:
        return "none"
    if not isinstance(value, str):
        raise _Invalid(path, f"must be null or a fault name, not {_describe(value)}")
    key = value.lower()
    if key not in FAULTS:
        raise _Invalid(
            path,
            f"{_short(value)} is not a fault (expected null or one of {', '.join(FAULTS)})",
        )
    return key


def _deny(value: object, path: str) -> int:
    items = _array(value, path)
    mask = 0
    for i, item in enumerate(items):
        item_path = f"{path}[{i}]"
        if not isinstance(item, str):
            raise _Invalid(item_path, f"must be an operation name, not {_describe(item)}")
        bit = DENY_BITS.get(item.lower())
        if bit is None:
            raise _Invalid(
                item_path,
                f"{_short(item)} is not an operation that can be denied (expected one of {', '.join(DENY_BITS)})",
            )
        mask |= bit
    return mask


def _delay_us(value: object, path: str) -> int:
    ms = _number(value, path, 0, MAX_DELAY_MS)
    return round(ms * 1000)


@functools.lru_cache(maxsize=4096)
def _day_ticks(date_text: str) -> int:
    """FILETIME ticks at midnight UTC of an ISO date (cached: a farm's
    timestamps fall on few distinct days)."""
    days = _dt.date.fromisoformat(date_text).toordinal() - _EPOCH_ORDINAL
    return days * 86400 * TICKS_PER_SECOND


def _iso_to_ticks(text: str) -> int:
    """Parse an ISO-8601 date/time into FILETIME ticks; ValueError if bad.

    Fractional seconds are handled here rather than by fromisoformat so
    all 7 digits of FILETIME precision survive a dump/load round trip.
    The canonical UTC form (what parse_compiled writes) takes a fast path,
    because big dumps carry hundreds of thousands of timestamps."""
    match = _CANONICAL_TIME.fullmatch(text)
    if match is not None:
        date_text, hh, mm, ss, digits = match.groups()
        hours, minutes, seconds = int(hh), int(mm), int(ss)
        if hours < 24 and minutes < 60 and seconds < 60:
            fraction = int(digits.ljust(7, "0")) if digits else 0
            return _day_ticks(date_text) + (hours * 3600 + minutes * 60 + seconds) * TICKS_PER_SECOND + fraction
    fraction = 0
    match = _FRACTION.search(text)
    if match is not None:
        digits = match.group(2)
        fraction = int(digits[:7].ljust(7, "0"))
        text = text[: match.end(1)] + text[match.end(2) :]
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = _dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_UTC)  # naive means UTC
    delta = moment - _FILETIME_EPOCH
    return (delta.days * 86400 + delta.seconds) * TICKS_PER_SECOND + delta.microseconds * 10 + fraction


def _time(value: object, path: str) -> int:
    """A timestamp field: null -> 0, else FILETIME ticks (> 0)."""
    if value is None:
        return 0
    if not isinstance(value, str):
        raise _Invalid(path, f"must be null or an ISO-8601 date and time, not {_describe(value)}")
    try:
        ticks = _iso_to_ticks(value)
    except (ValueError, OverflowError):
        raise _Invalid(
            path,
            f"{_short(value)} is not an ISO-8601 date and time (e.g. 2026-11-21T05:00:00Z)",
        ) from None
    if ticks <= 0:
        # FILETIME 0 is how the format says "no time", so the epoch itself
        # cannot be represented either.
        raise _Invalid(path, f"{_short(value)} is not after 1601-01-01T00:00:00Z, the FILETIME epoch")
    return ticks


def _address(value: object, path: str) -> tuple[int, str]:
    """Encode a client address as (family, hex of WTS_CLIENT_ADDRESS.Address)."""
    if value is None:
        return 0, ""
    if not isinstance(value, str):
        raise _Invalid(path, f"must be null or an IP address string, not {_describe(value)}")
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        raise _Invalid(path, f"{_short(value)} is not an IPv4 or IPv6 address") from None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id is not None:
            raise _Invalid(
                path,
                f"{_short(value)} has a scope id, which WTS_CLIENT_ADDRESS cannot hold",
            )
        family = AF_INET6
    else:
        family = AF_INET
    packed = ip.packed
    buf = bytes(_ADDRESS_OFFSET) + packed + bytes(_ADDRESS_BYTES - _ADDRESS_OFFSET - len(packed))
    return family, buf.hex()


def _escape(text: str) -> str:
    """Escape a string field for the tab/newline separated format."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _now_ticks() -> int:
    now = _dt.datetime.now(_UTC).replace(microsecond=0)
    delta = now - _FILETIME_EPOCH
    return (delta.days * 86400 + delta.seconds) * TICKS_PER_SECOND


def _session_line(
    sid: int,
    station: str,
    state: int,
    user: str = "",
    domain: str = "",
    client: str = "",
    family: int = 0,
    address: str = "",
    logon: int = 0,
    connect: int = 0,
    disconnect: int = 0,
    last_input: int = 0,
    locked: bool = False,
    deny: int = 0,
    reply: int = REPLIES["ok"],
    password: str = "",
) -> str:
    """Build one session line; string arguments must already be escaped."""
    return (
        f"session\t{sid}\t{station}\t{state}\t{user}\t{domain}\t{client}\t"
        f"{family}\t{address}\t{logon}\t{connect}\t{disconnect}\t{last_input}\t"
        f"{1 if locked else 0}\t{deny}\t{reply}\t{password}"
    )


# --------------------------------------------------------------------------
# Compiler
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Block:
    """A validated generate block."""

    index: int
    prefix: str
    count: int
    sessions: int
    start: int
    digits: int
    latency_us: int
    jitter_us: int
    fault: str
    domain: str
    disconnected: float
    locked: float
    system_sessions: bool


class _Compiler:
    """One compilation: accumulates lines and the farm-wide name table."""

    def __init__(self) -> None:
        self.lines: list[str] = [f"{FORMAT_MAGIC}\t{FORMAT_VERSION}", ""]
        self.server_names: list[str] = []
        # lower-cased name -> (name as written, where it came from)
        self.names: dict[str, tuple[str, str]] = {}
        self.explicit_ids: dict[str, set[int]] = {}
        self.generated: dict[str, tuple[int, bool]] = {}
        self.session_count = 0
        self.defaults: dict[str, Any] = {}

    # -- top level ---------------------------------------------------------

    def compile(self, data: object) -> CompiledFarm:
        if not isinstance(data, Mapping):
            raise _Invalid(None, f"the farm must be a JSON object, not {_describe(data)}")
        farm = _object(data, "", _TOP_FIELDS)

        seed = _int(farm.get("seed", 0), "seed") & 0xFFFFFFFFFFFFFFFF
        now_value = farm.get("now")
        now = 0 if now_value is None else _time(now_value, "now")
        local = farm.get("local")
        if local is not None:
            local = _string(local, "local")
        current = farm.get("current_session")
        if current is not None:
            current = self._session_id(current, "current_session")

        if "defaults" in farm:
            defaults = _object(farm["defaults"], "defaults", _DEFAULT_FIELDS)
            for key in ("latency_ms", "jitter_ms"):
                if key in defaults:
                    self.defaults[key] = _delay_us(defaults[key], f"defaults.{key}")
            if "fault" in defaults:
                self.defaults["fault"] = _fault(defaults["fault"], "defaults.fault")
            if "fault_rpcs" in defaults:
                self.defaults["fault_rpcs"] = _int(defaults["fault_rpcs"], "defaults.fault_rpcs", 1, MAX_FAULT_RPCS)

        for i, server in enumerate(_array(farm.get("servers", []), "servers")):
            self._server(server, f"servers[{i}]")

        blocks = [self._block(block, i) for i, block in enumerate(_array(farm.get("generate", []), "generate"))]
        if any(b.count and b.sessions for b in blocks):
            gen_now = now or _now_ticks()
            if gen_now <= _LOGON_WINDOW_S * TICKS_PER_SECOND:
                raise _Invalid(
                    "now",
                    f"{_short(str(now_value))} is too early for generated sessions, "
                    "which log on up to 3 days before now",
                )
        else:
            gen_now = now
        self._generate(blocks, seed, gen_now)

        if not self.server_names:
            raise _Invalid(None, "the farm has no servers (add 'servers' or 'generate')")
        local_name = self._local(local)
        if current is None:
            current_text = "-1"
        else:
            self._check_current(current, local_name)
            current_text = str(current)

        self.lines[1] = f"farm\t{seed}\t{now}\t{_escape(local_name)}\t{current_text}"
        self.lines.append("")  # every line, including the last, ends in \n
        return CompiledFarm(
            text="\n".join(self.lines),
            servers=tuple(self.server_names),
            sessions=self.session_count,
        )

    def _local(self, local: str | None) -> str:
        if local is None:
            return self.server_names[0]
        entry = self.names.get(local.lower())
        if entry is None:
            close = difflib.get_close_matches(local, self.server_names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise _Invalid("local", f"{_short(local)} is not a server of this farm{hint}")
        return entry[0]

    def _check_current(self, current: int, local_name: str) -> None:
        key = local_name.lower()
        if key in self.explicit_ids:
            exists = current in self.explicit_ids[key]
        else:
            users, system = self.generated[key]
            exists = _GEN_FIRST_USER_ID <= current < _GEN_FIRST_USER_ID + users or (
                system and current in (0, 1, _GEN_LISTENER_ID)
            )
        if not exists:
            raise _Invalid(
                "current_session",
                f"session {current} does not exist on the local server {local_name!r}",
            )

    @staticmethod
    def _session_id(value: object, path: str) -> int:
        sid = _int(value, path)
        if sid == WTS_CURRENT_SESSION:
            raise _Invalid(
                path,
                f"{sid} is WTS_CURRENT_SESSION, not a real session id (ids are 0..{MAX_SESSION_ID})",
            )
        if not 0 <= sid <= MAX_SESSION_ID:
            raise _Invalid(path, _range_text(sid, 0, MAX_SESSION_ID))
        return sid

    def _claim(self, name: str, path: str, where: str, label: str = "") -> None:
        """Register a server name; names are unique case-insensitively
        across the whole farm, generated servers included."""
        key = name.lower()
        taken = self.names.get(key)
        if taken is not None:
            other, other_where = taken
            reason = f"{label}{name!r} is already the name of {other_where}"
            if other != name:
                reason += f" ({other!r}; server names are case-insensitive)"
            raise _Invalid(path, reason)
        self.names[key] = (name, where)
        self.server_names.append(name)

    def _server_delays(self, obj: Mapping[str, Any], path: str) -> tuple[int, int, str]:
        """latency, jitter, fault for a server or block: its own value if the
        key is present (even null for fault), else defaults, else none."""
        latency = (
            _delay_us(obj["latency_ms"], f"{path}.latency_ms")
            if "latency_ms" in obj
            else self.defaults.get("latency_ms", 0)
        )
        jitter = (
            _delay_us(obj["jitter_ms"], f"{path}.jitter_ms")
            if "jitter_ms" in obj
            else self.defaults.get("jitter_ms", 0)
        )
        fault = _fault(obj["fault"], f"{path}.fault") if "fault" in obj else self.defaults.get("fault", "none")
        # fault_rpcs: the fault hits only the first N RPCs, then the server recovers (compiled "busy:N").
        if "fault_rpcs" in obj:
            rpcs = _int(obj["fault_rpcs"], f"{path}.fault_rpcs", 1, MAX_FAULT_RPCS)
            if fault == "none":
                raise _Invalid(f"{path}.fault_rpcs", "limits a fault, but this server has none")
        else:
            rpcs = self.defaults.get("fault_rpcs", 0) if fault != "none" else 0
        if rpcs:
            fault = f"{fault}:{rpcs}"
        return latency, jitter, fault

    # -- explicit servers --------------------------------------------------

    def _server(self, value: object, path: str) -> None:
        obj = _object(value, path, _SERVER_FIELDS, required=("name",))
        name = _server_name(obj["name"], f"{path}.name")
        self._claim(name, f"{path}.name", path)
        latency, jitter, fault = self._server_delays(obj, path)
        self.lines.append(f"server\t{_escape(name)}\t{latency}\t{jitter}\t{fault}")
        ids: dict[int, str] = {}
        stations: dict[str, str] = {}
        sessions = _array(obj.get("sessions", []), f"{path}.sessions")
        for i, session in enumerate(sessions):
            self._session(session, f"{path}.sessions[{i}]", ids, stations)
        self.explicit_ids[name.lower()] = set(ids)
        self.session_count += len(sessions)

    def _session(
        self,
        value: object,
        path: str,
        ids: dict[int, str],
        stations: dict[str, str],
    ) -> None:
        s = _object(value, path, _SESSION_FIELDS, required=("id", "state"))
        sid = self._session_id(s["id"], f"{path}.id")
        if sid in ids:
            raise _Invalid(f"{path}.id", f"session id {sid} is already used by {ids[sid]}")
        ids[sid] = path

        station = _string(s.get("station", ""), f"{path}.station", WINSTATIONNAME_LENGTH, "WINSTATIONNAME_LENGTH")
        if station:
            key = station.lower()
            if key in stations:
                raise _Invalid(
                    f"{path}.station",
                    f"{_short(station)} is already the station of {stations[key]} "
                    "(station names are unique per server, case-insensitively)",
                )
            stations[key] = path
        state = _state(s["state"], f"{path}.state")
        user = _string(s.get("user", ""), f"{path}.user", USERNAME_LENGTH, "USERNAME_LENGTH")
        domain = _string(s.get("domain", ""), f"{path}.domain", DOMAIN_LENGTH, "DOMAIN_LENGTH")
        client = _string(s.get("client", ""), f"{path}.client", CLIENTNAME_LENGTH, "CLIENTNAME_LENGTH")
        family, address = _address(s.get("address"), f"{path}.address")
        logon = _time(s.get("logon"), f"{path}.logon")
        connect = _time(s.get("connect"), f"{path}.connect")
        disconnect = _time(s.get("disconnect"), f"{path}.disconnect")
        last_input = _time(s.get("last_input"), f"{path}.last_input")
        locked = _bool(s.get("locked", False), f"{path}.locked")
        deny = _deny(s.get("deny", []), f"{path}.deny")
        reply = _reply(s.get("reply", "ok"), f"{path}.reply")
        password = _string(s.get("password", ""), f"{path}.password", MAX_PASSWORD, "passwords")
        self.lines.append(
            _session_line(
                sid,
                _escape(station),
                state,
                _escape(user),
                _escape(domain),
                _escape(client),
                family,
                address,
                logon,
                connect,
                disconnect,
                last_input,
                locked,
                deny,
                reply,
                _escape(password),
            )
        )

    # -- generated servers -------------------------------------------------

    def _block(self, value: object, index: int) -> _Block:
        path = f"generate[{index}]"
        b = _object(value, path, _GENERATE_FIELDS, required=("prefix", "count", "sessions"))
        prefix = _string(b["prefix"], f"{path}.prefix")
        _check_name_chars(prefix, f"{path}.prefix")
        count = _int(b["count"], f"{path}.count", 1)
        system = _bool(b.get("system_sessions", True), f"{path}.system_sessions")
        # Generated user sessions get ids 2, 3, ...; with system sessions
        # they must stay below the listener's 65536.
        max_users = _GEN_LISTENER_ID - _GEN_FIRST_USER_ID if system else MAX_SESSION_ID - _GEN_FIRST_USER_ID + 1
        sessions = _int(b["sessions"], f"{path}.sessions", 0, max_users)
        start = _int(b.get("start", 1), f"{path}.start", 0)
        last = start + count - 1
        if "digits" in b:
            digits = _int(b["digits"], f"{path}.digits", 1, MAX_SERVER_NAME)
        else:
            digits = max(2, len(str(last)))
        longest = _utf16_len(prefix) + max(digits, len(str(last)))
        if longest > MAX_SERVER_NAME:
            raise _Invalid(
                path,
                f"generated server names would be {longest} characters long; at most {MAX_SERVER_NAME} are allowed",
            )
        latency, jitter, fault = self._server_delays(b, path)
        domain = _string(b.get("domain", "CONTOSO"), f"{path}.domain", DOMAIN_LENGTH, "DOMAIN_LENGTH")
        disconnected = _number(b.get("disconnected", 0.2), f"{path}.disconnected", 0, 1)
        locked = _number(b.get("locked", 0.1), f"{path}.locked", 0, 1)
        return _Block(
            index=index,
            prefix=prefix,
            count=count,
            sessions=sessions,
            start=start,
            digits=digits,
            latency_us=latency,
            jitter_us=jitter,
            fault=fault,
            domain=domain,
            disconnected=float(disconnected),
            locked=float(locked),
            system_sessions=system,
        )

    def _generate(self, blocks: list[_Block], seed: int, now: int) -> None:
        """Expand generate blocks into server and session lines.

        Hot path (10^5 sessions must compile well under a second): times
        are integer FILETIME arithmetic, random numbers come from the fast
        random()/getrandbits() primitives, lines are plain f-strings."""
        total_users = sum(b.count * b.sessions for b in blocks)
        # A farm-wide pool about two thirds the size of the number of user
        # sessions, so many users have sessions on several servers; never
        # smaller than one server's sessions, so a user appears at most
        # once per server (as with "restrict to a single session").
        pool = max(1, (2 * total_users + 2) // 3, max((b.sessions for b in blocks), default=0))
        width = max(4, len(str(pool - 1)))
        tick = TICKS_PER_SECOND
        system_head = (
            _session_line(0, "Services", _STATE_BY_KEY["disconnected"]),
            _session_line(1, "Console", _STATE_BY_KEY["connected"]),
        )
        system_tail = _session_line(_GEN_LISTENER_ID, "RDP-Tcp", _STATE_BY_KEY["listen"])
        active = _STATE_BY_KEY["active"]
        disconnected_state = _STATE_BY_KEY["disconnected"]
        lines = self.lines
        for block in blocks:
            rng = random.Random(f"wts-farm/{seed}/{block.index}")
            rand = rng.random
            bits = rng.getrandbits
            sample = rng.sample
            domain = _escape(block.domain)
            n = block.sessions
            n_disc = int(n * block.disconnected + 0.5)
            n_lock = int((n - n_disc) * block.locked + 0.5)
            server_tail = f"\t{block.latency_us}\t{block.jitter_us}\t{block.fault}"
            path = f"generate[{block.index}]"
            for k in range(block.count):
                name = f"{block.prefix}{block.start + k:0{block.digits}d}"
                self._claim(name, path, path, "generated server name ")
                self.generated[name.lower()] = (n, block.system_sessions)
                lines.append(f"server\t{_escape(name)}{server_tail}")
                if block.system_sessions:
                    lines.extend(system_head)
                disc = set(sample(range(n), n_disc)) if n_disc else set()
                locked = set(sample(range(n - n_disc), n_lock)) if n_lock else set()
                users = sample(range(pool), n)
                rank = 0  # index among active sessions, for `locked`
                for i in range(n):
                    logon_age = _MIN_LOGON_AGE_S + int(rand() * (_LOGON_WINDOW_S - _MIN_LOGON_AGE_S))
                    window = min(logon_age // 2, _MAX_INPUT_AGE_S) - _MIN_INPUT_AGE_S
                    if i in disc:
                        disc_age = _MIN_INPUT_AGE_S + int(rand() * window)
                        input_age = disc_age + int(rand() * _IDLE_BEFORE_DISCONNECT_S)
                        disconnect = now - disc_age * tick
                        state = disconnected_state
                        station = ""
                        is_locked = False
                    else:
                        input_age = _MIN_INPUT_AGE_S + int(rand() * window)
                        disconnect = 0
                        state = active
                        station = f"RDP-Tcp#{i}"
                        is_locked = rank in locked
                        rank += 1
                    connect_age = input_age + 1 + int(rand() * (logon_age - input_age - 1))
                    net = bits(16)
                    lines.append(
                        f"session\t{i + _GEN_FIRST_USER_ID}\t{station}\t{state}\t"
                        f"user{users[i]:0{width}d}\t{domain}\tPC-{bits(16):04X}\t"
                        f"{AF_INET}\t00000a{net:04x}{1 + int(rand() * 254):02x}"
                        "0000000000000000000000000000\t"
                        f"{now - logon_age * tick}\t{now - connect_age * tick}\t"
                        f"{disconnect}\t{now - input_age * tick}\t"
                        f"{1 if is_locked else 0}\t0\t1\t"
                    )
                if block.system_sessions:
                    lines.append(system_tail)
                    self.session_count += 3
                self.session_count += n


# --------------------------------------------------------------------------
# Parsing compiled text
# --------------------------------------------------------------------------


class _BadLine(Exception):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


@functools.lru_cache(maxsize=4096)
def _day_text(days: int) -> str:
    """ISO date of a day number since 1601-01-01 (cached, see _day_ticks)."""
    return _dt.date.fromordinal(_EPOCH_ORDINAL + days).isoformat()


def _ticks_to_iso(ticks: int) -> str:
    """FILETIME ticks -> '2026-11-21T05:00:00Z', with as many fractional
    digits (up to 7) as needed to be exact.  Raises OverflowError/ValueError
    past year 9999."""
    seconds, fraction = divmod(ticks, TICKS_PER_SECOND)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    text = f"{_day_text(days)}T{hours:02d}:{minutes:02d}:{seconds:02d}"
    if fraction:
        text += "." + f"{fraction:07d}".rstrip("0")
    return text + "Z"


class _LineReader:
    """Field accessors for one compiled line, raising _BadLine with the
    line number so a corrupt dump is easy to locate."""

    def __init__(self, lineno: int, fields: list[str]) -> None:
        self.lineno = lineno
        self.fields = fields

    def fail(self, reason: str) -> NoReturn:
        raise _BadLine(self.lineno, reason)

    def integer(self, index: int, what: str, low: int, high: int | None = None) -> int:
        text = self.fields[index]
        digits = text[1:] if text.startswith("-") else text
        # isdecimal() alone would let through non-ASCII digits; int() alone
        # would accept " 5", "+5" and "1_0".
        if not (digits.isascii() and digits.isdecimal()):
            self.fail(f"{what} {text!r} is not an integer")
        value = int(text)
        if value < low or (high is not None and value > high):
            self.fail(f"{what} {value} is out of range")
        return value

    def string(self, index: int, what: str) -> str:
        text = self.fields[index]
        if "\\" not in text:
            return text

        def unescape(match: re.Match[str]) -> str:
            char = match.group(1)
            if char not in _UNESCAPES:
                if char:
                    self.fail(f"{what} contains an unknown escape \\{char}")
                self.fail(f"{what} ends with a lone backslash")
            return _UNESCAPES[char]

        return _ESCAPE_SEQ.sub(unescape, text)

    def time(self, index: int, what: str) -> str | None:
        ticks = self.integer(index, what, 0)
        if ticks == 0:
            return None
        try:
            return _ticks_to_iso(ticks)
        except (OverflowError, ValueError):
            self.fail(f"{what} {ticks} is beyond year 9999")

    def address(self, family_index: int) -> str | None:
        family = self.integer(family_index, "address family", 0)
        text = self.fields[family_index + 1]
        if family == 0:
            if text and text.strip("0"):
                self.fail("address bytes given for address family 0")
            return None
        if family not in (AF_INET, AF_INET6):
            self.fail(f"address family {family} is not 0, {AF_INET} or {AF_INET6}")
        if not _HEX40.fullmatch(text):
            self.fail("address is not 40 hex digits")
        raw = bytes.fromhex(text)
        size = 4 if family == AF_INET else 16
        ip_bytes = raw[_ADDRESS_OFFSET : _ADDRESS_OFFSET + size]
        if any(raw[:_ADDRESS_OFFSET]) or any(raw[_ADDRESS_OFFSET + size :]):
            self.fail(f"address has non-zero bytes outside Address[2..{_ADDRESS_OFFSET + size - 1}]")
        return str(ipaddress.ip_address(ip_bytes))


_FIELD_COUNTS = {"farm": 5, "server": 5, "session": 17, "message": 9}


def _parse(text: str) -> dict[str, Any]:
    farm: dict[str, Any] | None = None
    servers: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    seen_header = False
    lines = text.split("\n")
    for lineno, line in enumerate(lines, 1):
        if line.endswith("\r"):
            line = line[:-1]  # a dump written in text mode on Windows
        if not line:
            continue
        fields = line.split("\t")
        kind = fields[0]
        if not seen_header:
            if kind != FORMAT_MAGIC:
                raise _BadLine(lineno, f"not a compiled farm (expected a {FORMAT_MAGIC} header line)")
            if len(fields) != 2 or fields[1] != str(FORMAT_VERSION):
                raise _BadLine(lineno, f"unsupported format version (expected {FORMAT_MAGIC}\\t{FORMAT_VERSION})")
            seen_header = True
            continue
        expected = _FIELD_COUNTS.get(kind)
        if expected is None:
            raise _BadLine(lineno, f"unknown record type {kind!r}")
        if len(fields) != expected:
            raise _BadLine(lineno, f"{kind} line has {len(fields)} fields, expected {expected}")
        r = _LineReader(lineno, fields)
        if kind == "farm":
            if farm is not None:
                r.fail("second farm line")
            current = r.integer(4, "current session", -1, MAX_SESSION_ID)
            farm = {
                "seed": r.integer(1, "seed", 0, 0xFFFFFFFFFFFFFFFF),
                "now": r.time(2, "now"),
                "local": r.string(3, "local server"),
                "current_session": None if current == -1 else current,
            }
            continue
        if farm is None:
            r.fail(f"{kind} line before the farm line")
        if kind == "server":
            fault, _, rpcs_text = fields[4].partition(":")
            if fault != "none" and fault not in FAULTS:
                r.fail(f"unknown fault {fault!r}")
            if rpcs_text and not (rpcs_text.isdigit() and 1 <= int(rpcs_text) <= MAX_FAULT_RPCS):
                r.fail(f"bad fault RPC count {rpcs_text!r}")
            latency = r.integer(2, "latency", 0)
            jitter = r.integer(3, "jitter", 0)
            servers.append(
                {
                    "name": r.string(1, "server name"),
                    "latency_ms": latency // 1000 if latency % 1000 == 0 else latency / 1000,
                    "jitter_ms": jitter // 1000 if jitter % 1000 == 0 else jitter / 1000,
                    "fault": None if fault == "none" else fault,
                    **({"fault_rpcs": int(rpcs_text)} if rpcs_text else {}),
                    "sessions": [],
                }
            )
        elif kind == "session":
            if not servers:
                r.fail("session line before any server line")
            deny = r.integer(14, "deny mask", 0)
            if deny & ~_ALL_DENY_BITS:
                r.fail(f"deny mask {deny} has unknown bits")
            reply = r.integer(15, "reply", 0)
            if reply not in _REPLY_NAMES:
                r.fail(f"reply {reply} is not a known message-box answer")
            servers[-1]["sessions"].append(
                {
                    "id": r.integer(1, "session id", 0, MAX_SESSION_ID),
                    "station": r.string(2, "station"),
                    "state": CONNECT_STATES[r.integer(3, "state", 0, len(CONNECT_STATES) - 1)],
                    "user": r.string(4, "user"),
                    "domain": r.string(5, "domain"),
                    "client": r.string(6, "client"),
                    "address": r.address(7),
                    "logon": r.time(9, "logon time"),
                    "connect": r.time(10, "connect time"),
                    "disconnect": r.time(11, "disconnect time"),
                    "last_input": r.time(12, "last input time"),
                    "locked": bool(r.integer(13, "locked flag", 0, 1)),
                    "deny": [name for name, bit in DENY_BITS.items() if deny & bit],
                    "reply": _REPLY_NAMES[reply],
                    "password": r.string(16, "password"),
                }
            )
        else:  # message
            messages.append(
                {
                    "server": r.string(1, "message server"),
                    "session": r.integer(2, "message session id", 0, WTS_CURRENT_SESSION),
                    "title": r.string(3, "message title"),
                    "text": r.string(4, "message text"),
                    "style": r.integer(5, "message style", 0),
                    "timeout": r.integer(6, "message timeout", 0),
                    "wait": bool(r.integer(7, "message wait flag", 0, 1)),
                    "response": r.integer(8, "message response", 0),
                }
            )
    if not seen_header:
        raise _BadLine(1, f"not a compiled farm (expected a {FORMAT_MAGIC} header line)")
    if farm is None:
        raise _BadLine(len(lines), "no farm line")
    farm["servers"] = servers
    farm["messages"] = messages
    return farm
