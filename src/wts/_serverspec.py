"""Server lists: ``RDS[01-40],APP1`` specs and files of names (``wts.parse_servers``, ``wts.read_servers``)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import IO, cast

__all__ = ["MAX_SERVERS", "parse_servers", "read_servers"]

#: A spec may name at most this many servers: a typo such as RDS[1-100000000] fails at once.
MAX_SERVERS = 100_000

_RANGE = re.compile(r"\[([^\[\]]*)\]")
_BAD_CHARS = set('\\/*?"<>|') | {" ", "\t"}


def _expand(item: str, where: str) -> list[str]:
    """One comma-separated item: a name, or a name with [a-b] ranges (zero-padded as written)."""
    parts = _RANGE.split(item)  # literal, range, literal, range, ...
    names = [""]
    for i, part in enumerate(parts):
        if i % 2 == 0:
            if "[" in part or "]" in part:
                raise ValueError(f"{where}: unbalanced bracket in {item!r}")
            names = [n + part for n in names]
            continue
        m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", part)
        if not m:
            raise ValueError(f"{where}: {item!r}: [{part}] is not a range like [01-40]")
        lo, hi = m.group(1), m.group(2)
        if int(hi) < int(lo):
            raise ValueError(f"{where}: {item!r}: the range [{part}] runs backwards")
        # RDS[01-40] pads to the width written; RDS[1-40] does not pad.
        width = len(lo) if lo.startswith("0") and len(lo) > 1 else 0
        count = int(hi) - int(lo) + 1
        if len(names) * count > MAX_SERVERS:
            raise ValueError(f"{where}: {item!r} names more than {MAX_SERVERS:,} servers")
        names = [f"{n}{k:0{width}d}" for n in names for k in range(int(lo), int(hi) + 1)]
    return names


def parse_servers(spec: str | Iterable[str], *, where: str = "servers") -> list[str]:
    """Server names from a spec such as ``"RDS[01-40],APP1, APP2"`` or a list of such specs.

    Ranges keep the zero padding they are written with.  Names are trimmed; repeats (compared
    case-insensitively, as Windows compares computer names) are dropped, keeping the first.  Bad input
    raises ValueError naming the item and the reason.
    """
    items: list[str]
    if isinstance(spec, str):
        items = [spec]
    else:
        try:
            items = list(spec)
        except TypeError:
            raise TypeError(f"{where}: expected a string or a list of names, not {type(spec).__name__}") from None
    out: list[str] = []
    seen: set[str] = set()
    for entry in items:
        if not isinstance(entry, str):
            raise TypeError(f"{where}: server names must be strings, not {type(entry).__name__} {entry!r}")
        for raw in entry.split(","):
            item = raw.strip()
            if not item:
                if entry.strip() and "," in entry:
                    raise ValueError(f"{where}: empty name in {entry.strip()!r}")
                continue
            # No Windows computer name (NetBIOS, DNS or address) holds these, whitespace or controls.
            bad = sorted({c for c in item if c in _BAD_CHARS or c.isspace() or not c.isprintable()})
            if bad:
                raise ValueError(f"{where}: {item!r} is not a server name (it contains {''.join(bad)!r})")
            for name in _expand(item, where):
                key = name.casefold()
                if key not in seen:
                    seen.add(key)
                    out.append(name)
                    if len(out) > MAX_SERVERS:
                        raise ValueError(f"{where}: more than {MAX_SERVERS:,} servers")
    return out


def read_servers(source: str | os.PathLike[str] | IO[str]) -> list[str]:
    """Server names from a file (a path, or an open text file such as ``sys.stdin``): one name or spec
    per line; ``#`` starts a comment; blank lines are ignored.  Errors name the file and line."""
    if hasattr(source, "read"):
        stream = cast("IO[str]", source)
        name = str(getattr(stream, "name", "<stream>"))
        lines = stream.read().splitlines()
    else:
        name = os.fspath(source)
        try:
            with open(name, encoding="utf-8-sig") as f:
                lines = f.read().splitlines()
        except OSError as exc:
            raise OSError(exc.errno, f"cannot read server list {name}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise ValueError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    out: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        for server in parse_servers(text, where=f"{name}:{number}"):
            if server.casefold() not in seen:
                seen.add(server.casefold())
                out.append(server)
    if not out:
        raise ValueError(f"{name}: lists no servers")
    return out
