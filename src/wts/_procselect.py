"""Which processes a bulk operation lists or ends, decided without an RPC: the filters of
``Farm.processes`` and ``Farm.terminate`` (image name, user, session, pid), the explicit targets
(checked before any RPC, then matched against the fresh listing: gone, or its pid reused), and the
safety rules for processes (session 0 and the system's own images are never touched unless named
explicitly with ``allow_system=True``).  docs/bulk.md, "Processes", says the same for people.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ._filters import UserMatch
from ._ledger import Ledger, ServerState
from ._results import ActionResult, Outcome, ProcessesResult, Reason
from ._selection import match_picked
from ._sysimages import SYSTEM_IMAGES
from ._types import MAX_DWORD, MAX_SESSION_ID, Process

__all__ = [
    "PROCESS_FILTER_NAMES",
    "ProcessFilter",
    "match_processes",
    "process_targets",
    "protected_process",
    "protected_text",
]

#: The keyword arguments ``Farm.processes`` and ``Farm.terminate`` take as filters.
PROCESS_FILTER_NAMES = ("name", "user", "session", "pid")


_GLOB_CHARS = re.compile(r"[*?\[]")


def _names(value: object, name: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable) or isinstance(items, (bytes, Mapping)):
        raise TypeError(f"filter {name}= takes a glob or a list of globs, not {type(value).__name__}")
    pats = list(items)
    if not pats or not all(isinstance(p, str) and p.strip() for p in pats):
        raise TypeError(f"filter {name}= takes a glob or a list of globs (non-empty strings), not {value!r}")
    return [p.strip() for p in pats]


def _numbers(value: object, name: str, top: int, what: str) -> frozenset[int]:
    items = [value] if isinstance(value, int) else value
    if not isinstance(items, Iterable) or isinstance(items, (str, bytes, Mapping)):
        raise TypeError(f"filter {name}= takes {what} or a list of them, not {value!r}")
    out = set()
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= top:
            raise ValueError(f"filter {name}=: {item!r} is not {what} (0 to {top})")
        out.add(item)
    if not out:
        raise ValueError(f"filter {name}= names no {what}")
    return frozenset(out)


def _stem(image: str) -> str:
    """The image name without a final '.exe' (tskill's 'excel' for EXCEL.EXE)."""
    return image[:-4] if image.casefold().endswith(".exe") else image


class ProcessFilter:
    """The filters of a process operation; every value checked here, before any RPC.

    - ``name``: image-name globs, case-insensitive; a pattern also matches the name without its
      '.exe' (``excel`` and ``EXCEL.EXE`` both match EXCEL.EXE, as tskill takes them).
    - ``user``: user-name globs in ``Farm.sessions``' three forms (``carol``, ``CONTOSO\\carol``,
      ``carol@contoso.com``); a process whose SID could not be resolved has the user ''.
    - ``session``: session ids.  ``pid``: process ids.

    A process is *named explicitly* by a ``pid`` it has, or by a ``name`` pattern without glob
    characters that is its image name: only such a process may be one the safety rules protect, and
    then only with ``allow_system=True``.
    """

    __slots__ = ("literal", "name", "pids", "sessions", "user")

    def __init__(self, filters: Mapping[str, Any]) -> None:
        unknown = [k for k in filters if k not in PROCESS_FILTER_NAMES]
        if unknown:
            import difflib  # only on this error path

            close = difflib.get_close_matches(unknown[0], PROCESS_FILTER_NAMES, 1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise TypeError(
                f"unknown filter {unknown[0]!r}{hint}; process filters are: {', '.join(PROCESS_FILTER_NAMES)}"
            )
        f = {k: v for k, v in filters.items() if v is not None}
        self.name: re.Pattern[str] | None = None
        self.literal: frozenset[str] = frozenset()
        if "name" in f:
            pats = _names(f["name"], "name")
            self.name = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in pats), re.IGNORECASE)
            self.literal = frozenset(_stem(p).casefold() for p in pats if not _GLOB_CHARS.search(p))
        self.user = UserMatch(f["user"]) if "user" in f else None
        self.sessions = _numbers(f["session"], "session", MAX_SESSION_ID, "a session id") if "session" in f else None
        self.pids = _numbers(f["pid"], "pid", MAX_DWORD, "a process id") if "pid" in f else None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.name, self.user, self.sessions, self.pids))

    def match(self, p: Process) -> bool:
        return (
            (self.sessions is None or p.session_id in self.sessions)
            and (self.pids is None or p.pid in self.pids)
            and (self.name is None or self.name.match(p.name) is not None or self.name.match(_stem(p.name)) is not None)
            and (self.user is None or self.user.match(p.user, p.domain))
        )

    def explicit(self, p: Process) -> bool:
        """Whether ``p`` (which matches) was named explicitly: by its pid, or by its exact image name."""
        return (self.pids is not None and p.pid in self.pids) or _stem(p.name).casefold() in self.literal


def protected_process(p: Process, *, explicit: bool, allow_system: bool) -> Reason | None:
    """Why ``p`` must not be ended, from its listing alone (the caller's own session needs its
    session's details: the run asks for them), or None."""
    if allow_system and explicit:
        return None
    if p.session_id == 0:
        return Reason.SYSTEM_SESSION
    if p.name.casefold() in SYSTEM_IMAGES:
        return Reason.SYSTEM_PROCESS
    return None


def protected_text(why: Reason, p: Process, allow_system: bool) -> str:
    """Outcome.reason of a protected process (Farm speaks Python: ``allow_system=True``)."""
    if why is Reason.OWN_SESSION:
        return "runs in your own session (pass allow_own=True to include it)"
    what = "a process of session 0 (services)" if why is Reason.SYSTEM_SESSION else f"a system process ({p.name})"
    if allow_system:
        return f"{what}: allow_system=True ends it only when named explicitly, by its pid or its exact image name"
    return f"{what} is never touched unless named explicitly with allow_system=True"


def process_targets(servers: Iterable[str], selection: Iterable[Any]) -> dict[str, dict[int, Any]]:
    """Processes to end, grouped by server (case-insensitively) and keyed by pid, validated before
    any RPC: ``Process`` records (from ``Farm.processes``), or the Outcomes of an earlier terminate
    (a dry run's plan).  A bare pid is no target: it means something only with its server and its
    image, so it goes through the ``pid=`` filter of a one-server farm."""
    if isinstance(selection, (str, bytes)) or not isinstance(selection, Iterable):
        raise TypeError(f"targets must be processes from Farm.processes(), not {selection!r}")
    if isinstance(selection, ProcessesResult):
        selection = selection.processes
    elif isinstance(selection, ActionResult):
        selection = selection.outcomes
    known = {n.casefold() for n in servers}
    out: dict[str, dict[int, Any]] = {}
    server: Any
    pid: Any
    for item in selection:
        if isinstance(item, Outcome) and item.pid is not None and item.image is not None:
            server, pid = item.server, item.pid
        elif isinstance(item, Process):
            server, pid = item.server, item.pid
        else:
            raise TypeError(
                f"targets: {item!r} is not a process (need Process records from Farm.processes(), or the "
                "Outcomes of a terminate)"
            )
        if not isinstance(server, str) or server.casefold() not in known:
            raise ValueError(f"targets: process {pid} is on {server!r}, which is not a server of this farm")
        if isinstance(pid, bool) or not isinstance(pid, int) or not 0 <= pid <= MAX_DWORD:
            raise ValueError(f"targets: {pid!r} on {server} is not a process id")
        out.setdefault(server.casefold(), {})[pid] = item
    return out


def _identity(picked: Any) -> tuple[str, int, str]:
    """(image, session id, user) of a target: a Process or a terminate Outcome."""
    image = picked.name if isinstance(picked, Process) else picked.image
    return str(image), int(picked.session_id), str(picked.user)


def _changed(picked: Any, p: Process) -> str | None:
    """Outcome.reason when pid ``p.pid`` no longer runs the process the caller picked (Windows reuses
    pids: ending it would end another program); None when it still does."""
    image, sid, user = _identity(picked)
    if image.casefold() == p.name.casefold() and sid == p.session_id and user.casefold() == p.user.casefold():
        return None
    was = f"{image} in session {sid}" + (f" ({user})" if user else "")
    now = f"{p.name} in session {p.session_id}" + (f" ({p.user})" if p.user else "")
    return f"pid reused since it was listed: now {now}, was {was}"


def match_processes(srv: ServerState, rows: list[Process], ledger: Ledger) -> list[Process]:
    """The processes the caller picked on ``srv`` that its fresh listing ``rows`` still has, as the
    same program (pid, image, session and user); each of the others gets its Outcome (gone, or its
    pid reused) in ``ledger``.  (A pid that is gone has no Win32 code: nothing was called.)"""
    return match_picked(srv, rows, ledger, lambda p: p.pid, _changed, None)
