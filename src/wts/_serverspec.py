"""Server lists: ``RDS[01-40],APP1`` specs and files of names (``wts.parse_servers``, ``wts.read_servers``),
and the one rule for a single server name (``check_server_name``) that ``Server`` and ``Farm`` share.

Every input is bounded before it is expanded: a name is at most ``MAX_NAME_LENGTH`` characters, one call
(or one file) names at most ``MAX_SERVERS`` servers and expands at most ``MAX_EXPANDED`` names (repeats
included), and a server file is read up to ``MAX_FILE_BYTES``.  A typo such as ``RDS[1-100000000]`` or a
path such as ``/dev/zero`` fails at once, with an error that names the limit.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import IO, cast

__all__ = [
    "MAX_EXPANDED",
    "MAX_FILE_BYTES",
    "MAX_NAME_LENGTH",
    "MAX_SERVERS",
    "check_server_name",
    "parse_servers",
    "read_servers",
]

#: One call of parse_servers (or one file for read_servers) names at most this many servers, repeats
#: dropped: a typo such as RDS[1-100000000] fails at once.
MAX_SERVERS = 100_000
#: ... and its ranges expand to at most this many names in all, repeats included (the work it does).
MAX_EXPANDED = 10 * MAX_SERVERS
#: The longest server name: a DNS host name is at most 253 characters, and Windows takes 255.
MAX_NAME_LENGTH = 255
#: The most read_servers reads from one file or stream (16 MiB; characters, for a text stream).
MAX_FILE_BYTES = 16 * 1024 * 1024

_RANGE = re.compile(r"\[([^\[\]]*)\]")
_BAD_CHARS = set('\\/*?"<>|') | {" ", "\t"}
_BAD_IN_NAME = _BAD_CHARS | set("[],")  # a single name: no range brackets, no comma list
_UNC = "\\\\"


def _strip(raw: str, where: str, bad_chars: set[str]) -> str:
    """A name or spec item trimmed, ``\\\\NAME`` (the UNC form admins type) taken as ``NAME``; an empty
    one or one holding characters no Windows computer name (NetBIOS, DNS or address) holds is refused."""
    item = raw.strip()
    if item.startswith(_UNC):
        item = item[len(_UNC) :]
    if not item:
        raise ValueError(f"{where}: empty server name {raw!r}")
    bad = sorted({c for c in item if c in bad_chars or c.isspace() or not c.isprintable()})
    if bad:
        raise ValueError(f"{where}: {item!r} is not a server name (it contains {''.join(bad)!r})")
    return item


def _too_long(item: str, length: int, where: str) -> ValueError:
    return ValueError(
        f"{where}: {_short(item)} names a server of {length:,} characters; a server name has at most {MAX_NAME_LENGTH}"
    )


def check_server_name(name: object, *, where: str = "server") -> str:
    """The server name ``name`` normalized (trimmed, ``\\\\RDS01`` taken as ``RDS01``), or ValueError with the
    reason, in parse_servers' words: empty, too long, or holding a character no computer name holds
    (whitespace, a control, ``\\ / * ? " < > |``, or the ``[ ] ,`` of a spec).  TypeError if not a str."""
    if not isinstance(name, str):
        raise TypeError(f"{where}: a server name must be a string, not {type(name).__name__} {name!r}")
    item = _strip(name, where, _BAD_IN_NAME)
    if len(item) > MAX_NAME_LENGTH:
        raise _too_long(item, len(item), where)
    return item


class _Budget:
    """What one call (or one file) may still expand: MAX_EXPANDED names, repeats included."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = MAX_EXPANDED

    def take(self, count: int, where: str, item: str) -> None:
        if count > MAX_SERVERS:
            raise ValueError(f"{where}: {_short(item)} names more than {MAX_SERVERS:,} servers")
        if count > self.left:
            raise ValueError(
                f"{where}: the ranges expand to more than {MAX_EXPANDED:,} names in all (repeats included)"
            )
        self.left -= count


def _short(item: str) -> str:
    return repr(item) if len(item) <= 60 else repr(item[:57]) + "..."


def _expand(item: str, where: str, budget: _Budget) -> list[str]:
    """One comma-separated item: a name, or a name with [a-b] ranges (zero-padded as written).  The
    count and the length of the names are known before any is built, and are checked first."""
    parts = _RANGE.split(item)  # literal, range, literal, range, ...
    ranges: list[tuple[int, int, int]] = []
    count = 1
    length = 0
    for i, part in enumerate(parts):
        if i % 2 == 0:
            if "[" in part or "]" in part:
                raise ValueError(f"{where}: unbalanced bracket in {_short(item)}")
            length += len(part)
            continue
        m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", part)
        if not m:
            raise ValueError(f"{where}: {_short(item)}: [{part}] is not a range like [01-40]")
        lo_text, hi_text = m.group(1), m.group(2)
        lo, hi = int(lo_text), int(hi_text)
        if hi < lo:
            raise ValueError(f"{where}: {_short(item)}: the range [{part}] runs backwards")
        # RDS[01-40] pads to the width written; RDS[1-40] does not pad.
        width = len(lo_text) if lo_text.startswith("0") and len(lo_text) > 1 else 0
        count *= hi - lo + 1
        if count > MAX_SERVERS:  # before the product grows without end (RDS[1-99999999999999])
            raise ValueError(f"{where}: {_short(item)} names more than {MAX_SERVERS:,} servers")
        length += max(width, len(str(hi)))
        ranges.append((lo, hi, width))
    if length > MAX_NAME_LENGTH:
        raise _too_long(item, length, where)
    if not ranges:
        budget.take(1, where, item)
        return [item]
    budget.take(count, where, item)
    names = [""]
    for i, part in enumerate(parts):
        if i % 2 == 0:
            names = [n + part for n in names]
        else:
            lo, hi, width = ranges[i // 2]
            names = [f"{n}{k:0{width}d}" for n in names for k in range(lo, hi + 1)]
    return names


def _collect(entries: Iterable[tuple[str, str]], out: list[str], seen: set[str], budget: _Budget) -> None:
    """Expand (spec, where) pairs into ``out``, dropping repeats (compared case-insensitively, as Windows
    compares computer names); at most MAX_SERVERS names in ``out``."""
    for entry, where in entries:
        if not entry.strip():
            raise ValueError(f"{where}: empty server name {entry!r}; name at least one server")
        for raw in entry.split(","):
            if not raw.strip():
                raise ValueError(f"{where}: empty name in {_short(entry.strip())}")
            for name in _expand(_strip(raw, where, _BAD_CHARS), where, budget):
                key = name.casefold()
                if key not in seen:
                    seen.add(key)
                    out.append(name)
                    if len(out) > MAX_SERVERS:
                        raise ValueError(f"{where}: more than {MAX_SERVERS:,} servers")


def parse_servers(spec: str | Iterable[str], *, where: str = "servers") -> list[str]:
    """Server names from a spec such as ``"RDS[01-40],APP1, APP2"`` or a list of such specs.

    Ranges keep the zero padding they are written with.  Names are trimmed, and ``\\\\RDS01`` (the UNC
    form) means ``RDS01``; repeats (compared case-insensitively, as Windows compares computer names) are
    dropped, keeping the first.  Bad input raises ValueError naming the item and the reason: an empty or
    blank spec or name, a name longer than ``MAX_NAME_LENGTH`` (255) characters, more than ``MAX_SERVERS``
    (100,000) servers in one call, or ranges expanding to more than ``MAX_EXPANDED`` (1,000,000) names
    with repeats.  An empty list gives an empty list.
    """
    items: list[str]
    if isinstance(spec, str):
        items = [spec]
    else:
        try:
            items = list(spec)
        except TypeError:
            raise TypeError(f"{where}: expected a string or a list of names, not {type(spec).__name__}") from None
    for entry in items:
        if not isinstance(entry, str):
            raise TypeError(f"{where}: server names must be strings, not {type(entry).__name__} {entry!r}")
    out: list[str] = []
    _collect(((entry, where) for entry in items), out, set(), _Budget())
    return out


def _read_limited(source: str | os.PathLike[str] | IO[str]) -> tuple[str, str]:
    """(name, text) of a server file, refusing one larger than MAX_FILE_BYTES before reading more."""
    limit = f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, the most a server list may hold"
    if hasattr(source, "read"):
        stream = cast("IO[str]", source)
        name = str(getattr(stream, "name", "<stream>"))
        text = stream.read(MAX_FILE_BYTES + 1)
        if len(text) > MAX_FILE_BYTES:
            raise ValueError(f"{name}: {limit}")
        return name, text
    name = os.fspath(source)
    try:
        with open(name, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot read server list {name}: {exc.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"{name}: {limit}")
    try:
        return name, data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def read_servers(source: str | os.PathLike[str] | IO[str]) -> list[str]:
    """Server names from a file (a path, or an open text file such as ``sys.stdin``): one name or spec
    per line; ``#`` starts a comment; blank lines are ignored.  Errors name the file and line.  The limits
    of parse_servers hold for the whole file, and at most ``MAX_FILE_BYTES`` (16 MiB) are read."""
    name, text = _read_limited(source)
    lines = ((line.split("#", 1)[0], f"{name}:{number}") for number, line in enumerate(text.splitlines(), 1))
    out: list[str] = []
    _collect(((t, where) for t, where in lines if t.strip()), out, set(), _Budget())
    if not out:
        raise ValueError(f"{name}: lists no servers")
    return out
