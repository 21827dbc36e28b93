"""The order rows are printed in: servers in natural order (RDS2 before RDS10), then session ids;
``wts sessions --sort`` keys."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from wts import Outcome, Session, SessionInfo

from ._status import UsageError
from ._text import printable

__all__ = ["SORT_KEYS", "by_server_and_id", "natural_key", "server_blocks", "sort_keys", "sort_sessions"]

R = TypeVar("R")

SORT_KEYS = ("server", "id", "station", "user", "domain", "state", "idle", "logon", "client")


def natural_key(name: str | None) -> tuple[Any, ...]:
    """RDS2 before RDS10."""
    return tuple(int(p) if p.isdigit() else p.casefold() for p in re.split(r"(\d+)", name or ""))


def by_server_and_id(o: Outcome) -> tuple[Any, ...]:
    """The key that orders outcomes: server (naturally), then session id (then pid, for processes)."""
    return (natural_key(o.server), o.session_id, o.pid or 0)


def _value(r: Session | SessionInfo, name: str) -> Any:
    """A record's value for sort key ``name``; None when it does not have one (no details fetched)."""
    if name == "server":
        return natural_key(r.server)
    if name in ("station", "user", "domain"):
        return getattr(r, name).casefold()
    if name == "state":
        return int(r.state)
    if name == "id":
        return r.id
    if isinstance(r, SessionInfo):
        return {"idle": r.idle, "logon": r.logon_time, "client": r.client}[name]
    return None


def sort_keys(spec: str) -> list[str]:
    """The keys of ``spec`` ('-idle,user' -> ['-idle', 'user']), each checked."""
    keys = [k.strip() for k in spec.split(",") if k.strip()]
    for key in keys:
        name = key.lstrip("-+")
        if name not in SORT_KEYS:
            raise UsageError(f"--sort: unknown key {name!r} (keys: {', '.join(SORT_KEYS)}; prefix - for descending)")
    return keys


def sort_sessions(records: list[Session | SessionInfo], spec: str) -> None:
    """Sort in place by ``spec`` ('user', '-idle,user'): stable, one key at a time from the last;
    unknown values last, whichever the direction; ties in server, then id order."""
    keys = sort_keys(spec)
    named = {k.lstrip("-+") for k in keys}
    keys += [k for k in ("server", "id") if k not in named]
    for key in reversed(keys):
        desc = key.startswith("-")
        name = key.lstrip("-+")
        if name not in SORT_KEYS:
            raise UsageError(f"--sort: unknown key {name!r} (keys: {', '.join(SORT_KEYS)}; prefix - for descending)")
        present = [r for r in records if _value(r, name) is not None]
        missing = [r for r in records if _value(r, name) is None]
        present.sort(key=functools.partial(_value, name=name), reverse=desc)
        records[:] = present + missing


def server_blocks(names: Iterable[str], rows: Iterable[R], bulk: bool) -> Iterator[tuple[str, str, list[R]]]:
    """The classic listings' blocks: ``(name, heading, rows)`` for each server of ``names`` that has
    rows, in natural order, rows in the order given.  ``heading`` is what goes before the block's
    table: nothing for one server; ``NAME:`` (after a blank line, but for the first) with several."""
    by_server: dict[str, list[R]] = {}
    for r in rows:
        by_server.setdefault((getattr(r, "server", None) or "").casefold(), []).append(r)
    first = True
    for name in sorted(names, key=natural_key):
        block = by_server.get(name.casefold())
        if not block:
            continue
        heading = ("" if first else "\n") + f"{printable(name)}:\n" if bulk else ""
        first = False
        yield name, heading, block
