"""Reading one JSON value of a farm file: check its type and range, or say precisely what is wrong.

Every reader takes the value and its JSON path and returns the value in the form the compiled
format wants (FILETIME ticks, microseconds, a mask, a compiled fault spelling), or raises
:class:`Invalid` with a one-line reason written for the person editing the farm file.  Those
reasons are part of the interface (tests pin them, docs/sim.md quotes them): change none lightly.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .._types import CURRENT_SESSION, MAX_SESSION_ID
from ._constants import (
    ADDRESS_BYTES,
    ADDRESS_OFFSET,
    AF_INET,
    AF_INET6,
    CONNECT_STATES,
    DENY_BITS,
    FAULTS,
    MAX_DELAY_MS,
    MAX_FAULT_RPCS,
    MAX_SERVER_NAME,
    REPLIES,
    STATE_BY_KEY,
)
from ._errors import Invalid
from ._times import END_TICKS, iso_to_ticks

__all__ = [
    "boolean",
    "check_name_chars",
    "client_address",
    "delay_us",
    "deny_mask",
    "describe",
    "fault",
    "integer",
    "join_path",
    "json_array",
    "json_object",
    "number",
    "range_text",
    "reply",
    "server_delays",
    "server_name",
    "session_id",
    "short",
    "state",
    "string",
    "timestamp",
    "utf16_len",
]

# Control characters other than tab/LF/CR (which are escaped), and lone
# surrogates (which JSON "\ud800" can produce but UTF-8 cannot encode).
_BAD_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")

# Characters Windows allows in no computer name (and '*', which rpc_counts() uses for unknown names).
_NAME_FORBIDDEN = frozenset('\\/:*?"<>|')


# -- wording ---------------------------------------------------------------


def join_path(path: str, key: object) -> str:
    """Extend a JSON path with an object key, bracketing awkward keys so
    the path stays unambiguous."""
    if isinstance(key, str) and key.isidentifier():
        return f"{path}.{key}" if path else key
    text = json.dumps(key) if isinstance(key, str) else repr(key)
    return f"{path}[{text}]"


def short(text: str, limit: int = 40) -> str:
    """repr() of a string, cut short so one bad value cannot flood the
    (single-line) error message."""
    if len(text) <= limit:
        return repr(text)
    quoted = repr(text[:limit])
    return quoted[:-1] + "..." + quoted[-1]


def describe(value: object) -> str:
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
        return f"the string {short(value)}"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return f"a {type(value).__name__}"


def range_text(value: object, low: float | None, high: float | None) -> str:
    if high is None:
        return f"must be >= {low}, not {value!r}"
    if low is None:
        return f"must be <= {high}, not {value!r}"
    return f"must be between {low} and {high}, not {value!r}"


# -- JSON types --------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def json_object(
    value: object,
    path: str,
    fields: tuple[str, ...],
    required: tuple[str, ...] = (),
) -> Mapping[str, Any]:
    """Check that value is an object with only known fields (typos must not
    be silently ignored) and all required ones."""
    if not isinstance(value, Mapping):
        raise Invalid(path or None, f"must be an object, not {describe(value)}")
    duplicate = getattr(value, "duplicate", None)
    if duplicate is not None:
        raise Invalid(join_path(path, duplicate), "field is given more than once")
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
            raise Invalid(join_path(path, key), f"unknown field ({hint})")
    for key in required:
        if key not in value:
            raise Invalid(path or None, f"missing required field {key!r}")
    return value


def json_array(value: object, path: str) -> Sequence[Any]:
    if not isinstance(value, (list, tuple)):
        raise Invalid(path, f"must be an array, not {describe(value)}")
    return value


def integer(value: object, path: str, low: int | None = None, high: int | None = None) -> int:
    if not _is_int(value):
        raise Invalid(path, f"must be an integer, not {describe(value)}")
    assert isinstance(value, int)
    if low is not None and value < low:
        raise Invalid(path, range_text(value, low, high))
    if high is not None and value > high:
        raise Invalid(path, range_text(value, low, high))
    return value


def number(value: object, path: str, low: float, high: float) -> float:
    if not (_is_int(value) or isinstance(value, float)):
        raise Invalid(path, f"must be a number, not {describe(value)}")
    assert isinstance(value, (int, float))
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid(path, f"must be a finite number, not {value!r}")
    if not low <= value <= high:
        raise Invalid(path, range_text(value, low, high))
    return value


def boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid(path, f"must be true or false, not {describe(value)}")
    return value


def utf16_len(text: str) -> int:
    """Length in WCHARs, which is what the SDK buffer limits count."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def string(value: object, path: str, limit: int | None = None, limit_name: str = "") -> str:
    if not isinstance(value, str):
        raise Invalid(path, f"must be a string, not {describe(value)}")
    bad = _BAD_CHAR.search(value)
    if bad is not None:
        code = ord(bad.group())
        if 0xD800 <= code <= 0xDFFF:
            raise Invalid(
                path,
                f"contains a lone surrogate U+{code:04X}, which cannot be encoded as UTF-8",
            )
        raise Invalid(path, f"contains the control character U+{code:04X}, which is not allowed")
    if limit is not None:
        size = utf16_len(value)
        if size > limit:
            raise Invalid(
                path,
                f"{short(value)} is {size} characters long; at most {limit} are allowed ({limit_name})",
            )
    return value


# -- farm-file values --------------------------------------------------------


def check_name_chars(name: str, path: str) -> None:
    for ch in name:
        if ch.isspace():
            raise Invalid(path, f"{short(name)} contains whitespace, which server names cannot")
        if ch in _NAME_FORBIDDEN:
            raise Invalid(path, f"{short(name)} contains {ch!r}, which server names cannot")


def server_name(value: object, path: str) -> str:
    name = string(value, path, MAX_SERVER_NAME, "server names")
    if not name:
        raise Invalid(path, "must not be empty")
    check_name_chars(name, path)
    return name


def session_id(value: object, path: str) -> int:
    sid = integer(value, path)
    if sid == CURRENT_SESSION:
        raise Invalid(
            path,
            f"{sid} is WTS_CURRENT_SESSION, not a real session id (ids are 0..{MAX_SESSION_ID})",
        )
    if not 0 <= sid <= MAX_SESSION_ID:
        raise Invalid(path, range_text(sid, 0, MAX_SESSION_ID))
    return sid


def _enum_key(value: object, path: str, what: str) -> str:
    """Enum names are matched case-insensitively; returns the lookup key."""
    if not isinstance(value, str):
        raise Invalid(path, f"must be {what} name (a string), not {describe(value)}")
    return value.lower()


def state(value: object, path: str) -> int:
    key = _enum_key(value, path, "a connect state")
    found = STATE_BY_KEY.get(key)
    if found is None:
        raise Invalid(
            path,
            f"{short(str(value))} is not a connect state (expected one of {', '.join(CONNECT_STATES)})",
        )
    return found


def reply(value: object, path: str) -> int:
    key = _enum_key(value, path, "a reply")
    found = REPLIES.get(key)
    if found is None:
        raise Invalid(
            path,
            f"{short(str(value))} is not a message-box reply (expected one of {', '.join(REPLIES)})",
        )
    return found


def fault(value: object, path: str) -> str:
    """Validate a fault; returns its compiled spelling ('none' for null)."""
    if value is None:
        return "none"
    if not isinstance(value, str):
        raise Invalid(path, f"must be null or a fault name, not {describe(value)}")
    key = value.lower()
    if key not in FAULTS:
        raise Invalid(
            path,
            f"{short(value)} is not a fault (expected null or one of {', '.join(FAULTS)})",
        )
    return key


def deny_mask(value: object, path: str) -> int:
    items = json_array(value, path)
    mask = 0
    for i, item in enumerate(items):
        item_path = f"{path}[{i}]"
        if not isinstance(item, str):
            raise Invalid(item_path, f"must be an operation name, not {describe(item)}")
        bit = DENY_BITS.get(item.lower())
        if bit is None:
            raise Invalid(
                item_path,
                f"{short(item)} is not an operation that can be denied (expected one of {', '.join(DENY_BITS)})",
            )
        mask |= bit
    return mask


def delay_us(value: object, path: str) -> int:
    ms = number(value, path, 0, MAX_DELAY_MS)
    return round(ms * 1000)


def server_delays(obj: Mapping[str, Any], path: str, defaults: Mapping[str, Any]) -> tuple[int, int, str]:
    """latency, jitter, fault for a server or generate block: its own value if
    the key is present (even null for fault), else defaults, else none."""
    latency = (
        delay_us(obj["latency_ms"], f"{path}.latency_ms") if "latency_ms" in obj else defaults.get("latency_ms", 0)
    )
    jitter = delay_us(obj["jitter_ms"], f"{path}.jitter_ms") if "jitter_ms" in obj else defaults.get("jitter_ms", 0)
    compiled_fault = fault(obj["fault"], f"{path}.fault") if "fault" in obj else defaults.get("fault", "none")
    # fault_rpcs: the fault hits only the first N RPCs, then the server recovers (compiled "busy:N").
    if "fault_rpcs" in obj:
        rpcs = integer(obj["fault_rpcs"], f"{path}.fault_rpcs", 1, MAX_FAULT_RPCS)
        if compiled_fault == "none":
            raise Invalid(f"{path}.fault_rpcs", "limits a fault, but this server has none")
    else:
        rpcs = defaults.get("fault_rpcs", 0) if compiled_fault != "none" else 0
    if rpcs:
        compiled_fault = f"{compiled_fault}:{rpcs}"
    return latency, jitter, compiled_fault


def timestamp(value: object, path: str) -> int:
    """A timestamp field: null -> 0, else FILETIME ticks (> 0)."""
    if value is None:
        return 0
    if not isinstance(value, str):
        raise Invalid(path, f"must be null or an ISO-8601 date and time, not {describe(value)}")
    try:
        ticks = iso_to_ticks(value)
    except (ValueError, OverflowError):
        raise Invalid(
            path,
            f"{short(value)} is not an ISO-8601 date and time (e.g. 2026-11-21T05:00:00Z)",
        ) from None
    if ticks <= 0:
        # FILETIME 0 is how the format says "no time", so the epoch itself
        # cannot be represented either.
        raise Invalid(path, f"{short(value)} is not after 1601-01-01T00:00:00Z, the FILETIME epoch")
    if ticks >= END_TICKS:
        # A time past year 9999 (UTC) would load, but no datetime (nor a saved farm) could hold it.
        raise Invalid(path, f"{short(value)} is not before 10000-01-01T00:00:00Z (years end at 9999)")
    return ticks


def client_address(value: object, path: str) -> tuple[int, str]:
    """Encode a client address as (family, hex of WTS_CLIENT_ADDRESS.Address)."""
    if value is None:
        return 0, ""
    if not isinstance(value, str):
        raise Invalid(path, f"must be null or an IP address string, not {describe(value)}")
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        raise Invalid(path, f"{short(value)} is not an IPv4 or IPv6 address") from None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id is not None:
            raise Invalid(
                path,
                f"{short(value)} has a scope id, which WTS_CLIENT_ADDRESS cannot hold",
            )
        family = AF_INET6
    else:
        family = AF_INET
    packed = ip.packed
    buf = bytes(ADDRESS_OFFSET) + packed + bytes(ADDRESS_BYTES - ADDRESS_OFFSET - len(packed))
    return family, buf.hex()
