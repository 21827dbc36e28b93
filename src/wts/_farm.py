"""``wts.Farm``: one operation across many RD Session Hosts, every RPC in flight at once, nothing lost.

The plan of each operation is RPC-minimal:

* one WTSEnumerateSessionsExW per server lists its sessions with user and domain;
* one WTSQuerySessionInformationW(WTSSessionInfoEx) per session, only when details are asked for or a
  filter needs times (idle, disconnected, logon); one more (WTSClientName) only for the client name;
* one WTSDisconnectSession / WTSLogoffSession / WTSSendMessageW per selected session.

The calls are made by native worker threads (wts._wts.Engine) with no GIL, up to ``concurrency`` at
once across and within servers, in the order they become possible.  This module only decides what to
call next and what each answer means: it never blocks except in Engine.wait.

Guarantees (tested in tests/test_farm.py): every selected session gets exactly one Outcome; every
server that failed appears once in ``failures``; a call with no answer after ``timeout`` seconds
fails its server with ERROR_TIMEOUT instead of being waited on; only transient RPC errors are retried;
a dry run sends no action (only listings, detail queries and the own-session query); an interrupt stops
new calls and reports everything.
"""

from __future__ import annotations

import fnmatch
import heapq
import random
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from types import FrameType
from typing import Any, NamedTuple, Union

from . import _wts
from ._errors import WTSError, error_from_winerror
from ._provider import resolve_provider
from ._server import _session_info_from_ex
from ._servers import parse_servers
from ._types import (
    STATES_BY_VALUE,
    ConnectState,
    InfoClass,
    MessageResponse,
    Session,
    SessionInfo,
    filetime_to_datetime,
)

__all__ = [
    "ActionResult",
    "Failure",
    "Farm",
    "Interrupted",
    "Outcome",
    "Progress",
    "SessionsResult",
]

# Errors worth another try: the server or the RPC channel was momentarily unable to answer.
TRANSIENT_ERRORS = frozenset({1723, 1726})  # RPC_S_SERVER_TOO_BUSY, RPC_S_CALL_FAILED
_ERROR_TIMEOUT, _ERROR_CANCELLED, _NOT_FOUND, _UNAVAILABLE = 1460, 1223, 7022, 1722
_LISTENER_FIRST_ID = 65536  # RD Session Host listeners (RDP-Tcp) have ids from 65536 up
_MAX_DWORD = 0xFFFFFFFF
_WAIT_SLICE = 0.1  # longest the owner thread sleeps before looking at interrupts and retries
_PROGRESS_EVERY = 0.05

_VERIFY = "verify"  # _protected: only the session's logon time can tell
_ACTIONS = {"disconnect": "WTSDisconnectSession", "logoff": "WTSLogoffSession", "message": "WTSSendMessageW"}
_ENUM_FN, _QUERY_FN = "WTSEnumerateSessionsExW", "WTSQuerySessionInformationW"


class Failure(NamedTuple):
    """A server that failed (``session_id`` None), or one session whose details could not be read."""

    server: str
    error: WTSError
    session_id: int | None = None

    def __str__(self) -> str:
        return str(self.error)


class Outcome(NamedTuple):
    """What happened to one selected session.

    ``status``: "done", "failed", "skipped" (never sent: protected, already in that state, gone,
    changed or cancelled; ``reason`` says which) or "planned" (a dry run's "would do").
    """

    server: str
    session_id: int
    station: str
    user: str
    action: str  #: "disconnect", "logoff" or "message"
    status: str
    winerror: int | None  #: the Win32 code when the call failed (or why it was skipped); else None
    reason: str  #: one line: Windows' text for failures, the reason for skips; "" when done
    response: MessageResponse | int | None = None  #: for messages sent: what the session answered


class Progress(NamedTuple):
    """Work done so far: RPCs (``done`` of ``total`` known so far: the total grows as servers list
    their sessions) and servers (listed or failed, of all)."""

    done: int
    total: int
    servers_done: int
    servers_total: int
    failures: int
    elapsed: float
    #: Ctrl-C presses so far: 1 means stopping (the calls in flight, total - done, are being waited
    #: for), 2 that they were abandoned.  Reported at once, so a UI can say what is happening.
    interrupts: int = 0


Record = Union[Session, SessionInfo]
Item = Union[Session, SessionInfo, Outcome, Failure]
ProgressCallback = Callable[[Progress], object]


class SessionsResult:
    """``Farm.sessions()``: ``sessions`` (each carrying its ``server``, in the order they arrived) and
    ``failures`` (servers that could not be listed, sessions whose details could not be read)."""

    __slots__ = ("elapsed", "failures", "interrupted", "sessions")

    def __init__(self, sessions: list[Record], failures: list[Failure], elapsed: float, interrupted: bool) -> None:
        self.sessions = sessions
        self.failures = failures
        self.elapsed = elapsed
        self.interrupted = interrupted

    def __iter__(self) -> Iterator[Record]:
        return iter(self.sessions)

    def __len__(self) -> int:
        return len(self.sessions)

    def __repr__(self) -> str:
        extra = ", interrupted" if self.interrupted else ""
        return f"<SessionsResult {len(self.sessions)} sessions, {len(self.failures)} failures{extra}>"


class ActionResult:
    """``Farm.disconnect/logoff/send_message()``: one ``Outcome`` per selected session and the
    ``failures`` (servers that failed)."""

    __slots__ = ("action", "elapsed", "failures", "interrupted", "outcomes")

    def __init__(
        self, action: str, outcomes: list[Outcome], failures: list[Failure], elapsed: float, interrupted: bool
    ) -> None:
        self.action = action
        self.outcomes = outcomes
        self.failures = failures
        self.elapsed = elapsed
        self.interrupted = interrupted

    def __iter__(self) -> Iterator[Outcome]:
        return iter(self.outcomes)

    def __len__(self) -> int:
        return len(self.outcomes)

    def with_status(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    def counts(self) -> dict[str, int]:
        """Outcomes by status: {"done": n, "failed": n, "skipped": n, "planned": n}."""
        out = dict.fromkeys(("done", "failed", "skipped", "planned"), 0)
        for o in self.outcomes:
            out[o.status] += 1
        return out

    @property
    def ok(self) -> bool:
        """True when no outcome failed and no server failed."""
        return not self.failures and all(o.status != "failed" for o in self.outcomes)

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items() if n)
        extra = ", interrupted" if self.interrupted else ""
        return f"<ActionResult {self.action}: {counts or 'nothing'}; {len(self.failures)} failures{extra}>"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped a bulk operation.  Calls in flight were finished (first interrupt) or
    abandoned (second); nothing was started after the first.  ``result`` holds everything done so far:
    sessions not reached have a "skipped" (cancelled) Outcome, servers not reached a 1223 failure."""

    def __init__(self, result: SessionsResult | ActionResult | None, summary: str) -> None:
        super().__init__(summary)
        self.result = result

    def __str__(self) -> str:
        return str(self.args[0])


# --- filters -------------------------------------------------------------------------------------

_FILTER_NAMES = (
    "state",
    "user",
    "domain",
    "station",
    "client",
    "idle_over",
    "idle_under",
    "disconnected_over",
    "logon_before",
    "logon_after",
    "ids",
)


def _globs(value: object, name: str) -> re.Pattern[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable) or isinstance(items, (bytes, Mapping)):
        raise TypeError(f"filter {name}= takes a glob or a list of globs, not {type(value).__name__}")
    pats = list(items)
    if not pats or not all(isinstance(p, str) for p in pats):
        raise TypeError(f"filter {name}= takes a glob or a list of globs (strings), not {value!r}")
    # Windows compares user, domain, station and computer names case-insensitively.
    return re.compile("|".join(f"(?:{fnmatch.translate(p.strip())})" for p in pats), re.IGNORECASE)


def _duration(value: object, name: str) -> timedelta:
    if isinstance(value, timedelta):
        d = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        d = timedelta(seconds=value)
    else:
        raise TypeError(f"filter {name}= takes a timedelta or seconds, not {type(value).__name__} {value!r}")
    if d < timedelta(0):
        raise ValueError(f"filter {name}= must not be negative, not {value!r}")
    return d


def _moment(value: object, name: str) -> datetime | timedelta:
    """A datetime (naive means local time, as Python's datetime.now() gives) or a timedelta ("ago")."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    if isinstance(value, timedelta):
        return _duration(value, name)
    raise TypeError(f"filter {name}= takes a datetime, or a timedelta meaning 'this long ago', not {value!r}")


def _states(value: object) -> frozenset[int]:
    items = [value] if isinstance(value, (str, int)) else value
    if not isinstance(items, Iterable):
        raise TypeError(f"filter state= takes a state or a list of states, not {value!r}")
    out = set()
    for item in items:
        if isinstance(item, str):
            out.add(int(ConnectState.parse(item)))
        elif isinstance(item, int) and not isinstance(item, bool):
            out.add(int(ConnectState(item)))
        else:
            raise TypeError(f"filter state= takes ConnectState values or names, not {item!r}")
    if not out:
        raise ValueError("filter state= names no state")
    return frozenset(out)


def _ids(value: object) -> frozenset[int]:
    items = [value] if isinstance(value, int) else value
    if not isinstance(items, Iterable):
        raise TypeError(f"filter ids= takes a session id or a list of them, not {value!r}")
    out = set()
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item < _MAX_DWORD:
            raise ValueError(f"filter ids=: {item!r} is not a session id (0 to {_MAX_DWORD - 1})")
        out.add(item)
    return frozenset(out)


class _Filter:
    """Filters, checked in cost order: listing fields first (free), then times (one RPC per
    session), then the client name (one more)."""

    def __init__(self, filters: Mapping[str, Any]) -> None:
        unknown = [k for k in filters if k not in _FILTER_NAMES]
        if unknown:
            import difflib  # only on this error path

            close = difflib.get_close_matches(unknown[0], _FILTER_NAMES, 1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise TypeError(f"unknown filter {unknown[0]!r}{hint}; filters are: {', '.join(_FILTER_NAMES)}")
        f = {k: v for k, v in filters.items() if v is not None}
        self.states = _states(f["state"]) if "state" in f else None
        self.user = _globs(f["user"], "user") if "user" in f else None
        self.domain = _globs(f["domain"], "domain") if "domain" in f else None
        self.station = _globs(f["station"], "station") if "station" in f else None
        self.client = _globs(f["client"], "client") if "client" in f else None
        self.ids = _ids(f["ids"]) if "ids" in f else None
        self.idle_over = _duration(f["idle_over"], "idle_over") if "idle_over" in f else None
        self.idle_under = _duration(f["idle_under"], "idle_under") if "idle_under" in f else None
        self.disc_over = _duration(f["disconnected_over"], "disconnected_over") if "disconnected_over" in f else None
        self.logon_before = _moment(f["logon_before"], "logon_before") if "logon_before" in f else None
        self.logon_after = _moment(f["logon_after"], "logon_after") if "logon_after" in f else None
        self.needs_times = any(
            v is not None
            for v in (self.idle_over, self.idle_under, self.disc_over, self.logon_before, self.logon_after)
        )
        self.needs_client = self.client is not None

    def listing(self, s: Session) -> bool:
        return (
            (self.states is None or int(s.state) in self.states)
            and (self.ids is None or s.id in self.ids)
            and (self.user is None or self.user.match(s.user) is not None)
            and (self.domain is None or self.domain.match(s.domain) is not None)
            and (self.station is None or self.station.match(s.station) is not None)
            # disconnected_over can only match a disconnected session: decide it from the listing, so
            # no other session costs a WTSSessionInfoEx RPC for times that cannot select it.
            and (self.disc_over is None or s.state == ConnectState.DISCONNECTED)
        )

    def times(self, info: SessionInfo) -> bool:
        if self.idle_over is not None and not (info.idle is not None and info.idle > self.idle_over):
            return False
        if self.idle_under is not None and not (info.idle is not None and info.idle < self.idle_under):
            return False
        if self.disc_over is not None:
            if info.state != ConnectState.DISCONNECTED or info.disconnect_time is None:
                return False
            now = info.current_time or datetime.now(timezone.utc)
            if not now - info.disconnect_time > self.disc_over:
                return False
        for bound, before in ((self.logon_before, True), (self.logon_after, False)):
            if bound is None:
                continue
            if info.logon_time is None:
                return False
            moment = (
                (info.current_time or datetime.now(timezone.utc)) - bound if isinstance(bound, timedelta) else bound
            )
            if (info.logon_time >= moment) if before else (info.logon_time <= moment):
                return False
        return True

    def client_ok(self, client: str) -> bool:
        return self.client is None or self.client.match(client) is not None


# --- one run -------------------------------------------------------------------------------------


class _Srv:
    __slots__ = ("error", "host", "listed", "name", "selection", "tries")

    def __init__(self, name: str, selection: dict[int, Any] | None) -> None:
        self.name = name
        self.host: Any = None
        self.error: WTSError | None = None
        self.listed = False
        self.tries = 0
        self.selection = selection  # session id -> the record the caller selected, or None


class _Tgt:
    """One session on its way through details, client and the action."""

    __slots__ = ("client", "final", "info", "named", "row", "srv", "stage", "tries")

    def __init__(self, srv: _Srv, row: Session) -> None:
        self.srv = srv
        self.named = srv.selection is not None  # the caller selected it by name: it gets an Outcome
        self.row = row
        self.info: SessionInfo | None = None
        self.client: str | None = None
        self.stage = ""  # the call in flight: "times", "client" or "act"
        self.tries = 0
        self.final = False


class _Sigint:
    """While a run is active in the main thread: Ctrl-C only sets a flag, so no KeyboardInterrupt can
    land in the middle of the bookkeeping.  Third press: the default behaviour, at once."""

    def __init__(self) -> None:
        self.count = 0
        self._old: Any = None
        self._installed = False

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # Python delivers SIGINT to the main thread only
        try:
            if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
                return  # the application handles Ctrl-C itself; leave it alone
            self._old = signal.signal(signal.SIGINT, self._handler)
            self._installed = True
        except ValueError:  # not the main interpreter
            pass

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count >= 3:
            self.restore()
            raise KeyboardInterrupt

    def restore(self) -> None:
        if self._installed:
            self._installed = False
            signal.signal(signal.SIGINT, self._old)


class _Run:
    """One bulk operation as a generator of items (records or outcomes, and failures)."""

    def __init__(
        self,
        farm: Farm,
        action: str,
        filt: _Filter,
        *,
        details: bool | str = False,
        targets: dict[str, dict[int, Any]] | None = None,
        dry_run: bool = False,
        allow_own: bool = False,
        wait: bool = True,
        message: tuple[str, str, int, int] | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.farm = farm
        self.action = action  # "sessions", "disconnect", "logoff" or "message"
        self.filt = filt
        self.want_times = bool(details) or filt.needs_times
        self.want_client = details == "client" or filt.needs_client
        self.details = bool(details)
        self.dry_run = dry_run
        self.allow_own = allow_own
        self.wait = wait
        self.message = message
        self.progress_cb = progress
        names = farm.servers if targets is None else [n for n in farm.servers if n.casefold() in targets]
        self.servers = [_Srv(n, None if targets is None else targets[n.casefold()]) for n in names]
        self.calls: dict[int, tuple[str, Any]] = {}
        self.next_tag = 0
        self.retry_heap: list[tuple[float, int, str, Any]] = []
        self.out: list[Item] = []
        self.failures = 0
        self.calls_done = 0
        self.servers_done = 0
        self.cancelling = False
        self.abandoned = False
        self.started = time.perf_counter()
        self.last_progress = 0.0
        self.interrupts = 0  # Ctrl-C presses seen by the loop (reported through Progress)
        # The caller's session: id, user, domain, station (lower-cased) and logon time (0: unknown).
        self.own: tuple[int, str, str, str, int] | None = None
        self.own_pending = False  # the own-session query is in flight: decisions wait for it
        self.undecided: list[_Tgt] = []
        self.own_host: Any = None
        self.engine: Any = None
        self.rng = random.Random()

    # -- the loop ---------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Item]:
        sigint = _Sigint()
        sigint.install()
        farm = self.farm
        self.engine = engine = _wts.Engine(farm.concurrency, Session, STATES_BY_VALUE)
        try:
            if self.action != "sessions" and not self.allow_own:
                self._ask_own()
            for srv in self.servers:
                self._list(srv)
            while True:
                if sigint.count and not self.cancelling:
                    self._cancel()
                if sigint.count >= 2 and not self.abandoned:
                    self._abandon()
                if sigint.count != self.interrupts:
                    self.interrupts = sigint.count
                    self._report_progress(False, force=True)
                if self.abandoned or (engine.pending == 0 and not self.retry_heap):
                    break
                wait = _WAIT_SLICE
                if self.retry_heap:
                    wait = max(0.0, min(wait, self.retry_heap[0][0] - time.monotonic()))
                try:
                    batch = engine.wait(wait)
                    for done in batch:
                        self._on(*done)
                    self._due_retries()
                except KeyboardInterrupt:
                    # Only when the application installed its own SIGINT handler that raises.
                    sigint.count += 1
                    continue
                self._report_progress(False)
                if self.out:
                    items, self.out = self.out, []
                    yield from items
            self._report_progress(True)
            if self.out:
                items, self.out = self.out, []
                yield from items
        finally:
            sigint.restore()
            engine.close()
            self.own_host = None
            for srv in self.servers:
                srv.host = None
        if sigint.count:
            raise Interrupted(None, f"interrupted: {self.action} stopped before it was complete")

    def _tag(self, kind: str, obj: Any) -> int:
        self.next_tag += 1
        self.calls[self.next_tag] = (kind, obj)
        return self.next_tag

    def _report_progress(self, final: bool, force: bool = False) -> None:
        if self.progress_cb is None:
            return
        now = time.perf_counter()
        if not final and not force and now - self.last_progress < _PROGRESS_EVERY:
            return
        self.last_progress = now
        pending = (self.engine.pending if not self.abandoned else 0) + len(self.retry_heap)
        self.progress_cb(
            Progress(
                self.calls_done,
                self.calls_done + pending,
                self.servers_done,
                len(self.servers),
                self.failures,
                now - self.started,
                self.interrupts,
            )
        )

    # -- submitting -------------------------------------------------------------------------------

    def _ask_own(self) -> None:
        """Which session is the caller's own: asked of the local server through the engine, with the
        same deadline as every call, while the listings run."""
        self.own_host = _wts.Host(self.farm.provider, None)
        self.own_pending = True
        self.engine.query(
            self.own_host,
            _wts.CURRENT_SESSION,
            int(InfoClass.SESSION_INFO_EX),
            self._tag("own", None),
            self.farm.timeout,
        )

    def _on_own(self, status: int, payload: Any) -> None:
        # No answer (no session, as for a service or a farm without one; or no reply in time) leaves
        # nothing to protect beyond session 0, the console and listeners.
        if status == _wts.CALL_OK:
            sid, _state, _flags, station, user, domain, logon = payload[:7]
            self.own = int(sid), str(user).casefold(), str(domain).casefold(), str(station).casefold(), int(logon)
        self.own_pending = False
        waiting, self.undecided = self.undecided, []
        for t in waiting:
            self._decide(t)

    def _list(self, srv: _Srv) -> None:
        if self.cancelling:
            self._not_sent("list", srv)
            return
        if srv.host is None:
            try:
                srv.host = _wts.Host(self.farm.provider, srv.name)
            except WTSError as exc:
                self._server_failed(srv, exc)
                return
        srv.tries += 1
        self.engine.enumerate(srv.host, self._tag("list", srv), self.farm.timeout)

    def _call(self, t: _Tgt, stage: str) -> None:
        if self.cancelling:  # after an interrupt nothing new is sent
            t.stage = stage
            self._not_sent(stage, t)
            return
        t.stage = stage
        t.tries += 1
        farm, srv, sid = self.farm, t.srv, t.row.id
        tag = self._tag(stage, t)
        if stage == "times":
            self.engine.query(srv.host, sid, int(InfoClass.SESSION_INFO_EX), tag, farm.timeout)
        elif stage == "client":
            self.engine.query(srv.host, sid, int(InfoClass.CLIENT_NAME), tag, farm.timeout)
        elif self.action == "message":
            assert self.message is not None
            title, text, style, msg_timeout = self.message
            # A message that waits for an answer may take its own timeout before the server replies.
            self.engine.message(
                srv.host, sid, title, text, style, msg_timeout, self.wait, tag, farm.timeout + msg_timeout
            )
        else:
            self.engine.end_session(srv.host, sid, self.action == "logoff", self.wait, tag, farm.timeout)

    def _retry(self, kind: str, obj: Any, tries: int) -> None:
        delay = min(self.farm.backoff * (2 ** (tries - 1)), 2.0) * self.rng.uniform(0.75, 1.25)
        heapq.heappush(self.retry_heap, (time.monotonic() + delay, self._tag("retry", None), kind, obj))

    def _due_retries(self) -> None:
        now = time.monotonic()
        while self.retry_heap and self.retry_heap[0][0] <= now:
            _, tag, kind, obj = heapq.heappop(self.retry_heap)
            self.calls.pop(tag, None)
            srv = obj if kind == "list" else obj.srv
            if self.cancelling or srv.error is not None:
                self._not_sent(kind, obj)
            elif kind == "list":
                self._list(obj)
            else:
                self._call(obj, kind)

    # -- answers ----------------------------------------------------------------------------------

    def _on(self, tag: int, op: int, status: int, winerror: int, payload: Any, elapsed: float) -> None:
        kind, obj = self.calls.pop(tag)
        self.calls_done += 1
        if kind == "own":
            self._on_own(status, payload)
            return
        if status == _wts.CALL_CANCELLED:
            self._not_sent(kind, obj)
            return
        if status == _wts.CALL_TIMEDOUT:
            srv = obj if kind == "list" else obj.srv
            detail = (
                f"No answer within {self.farm.timeout:g} s; the server was abandoned "
                f"(its calls not yet sent were cancelled)."
            )
            fn = _ENUM_FN if kind == "list" else _QUERY_FN if kind in ("times", "client") else _ACTIONS[self.action]
            err = error_from_winerror(_ERROR_TIMEOUT, fn, srv.name, None if kind == "list" else obj.row.id, detail)
            self._server_failed(srv, err)
            if kind != "list":
                self._final_error(obj, err)
            return
        if kind == "list":
            self._on_list(obj, status, winerror, payload)
        else:
            self._on_target(obj, kind, status, winerror, payload)

    def _not_sent(self, kind: str, obj: Any) -> None:
        """A call that was never sent: its server had failed, or the run was interrupted."""
        srv = obj if kind == "list" else obj.srv
        if srv.error is not None:
            if kind != "list":  # (a listing's failure was reported with its server)
                self._final_error(obj, srv.error)
            return
        if kind == "list":
            err = error_from_winerror(
                _ERROR_CANCELLED, _ENUM_FN, srv.name, None, "Not listed: the run was interrupted."
            )
            self._server_failed(srv, err)
            return
        if self.action == "sessions":
            err = error_from_winerror(
                _ERROR_CANCELLED, _QUERY_FN, srv.name, obj.row.id, "Interrupted before its details were read."
            )
            self._emit_failure(Failure(srv.name, err, obj.row.id))
            obj.final = True
        else:
            self._outcome(obj, "skipped", _ERROR_CANCELLED, "cancelled: interrupted before it was sent")

    def _transient(self, winerror: int, tries: int) -> bool:
        return winerror in TRANSIENT_ERRORS and tries <= self.farm.retries and not self.cancelling

    def _on_list(self, srv: _Srv, status: int, winerror: int, rows: Any) -> None:
        if status != _wts.CALL_OK:
            if self._transient(winerror, srv.tries):
                self._retry("list", srv, srv.tries)
                return
            self._server_failed(srv, error_from_winerror(winerror, _ENUM_FN, srv.name))
            return
        srv.listed = True
        self._server_done(srv)
        filt = self.filt
        if srv.selection is not None:
            rows = self._match_selection(srv, rows)
        if self.action == "sessions":
            for row in rows:
                if filt.listing(row):
                    if self.want_times or self.want_client:
                        self._call(_Tgt(srv, row), "times" if self.want_times else "client")
                    else:
                        self.out.append(row)
            return
        for row in rows:
            t = _Tgt(srv, row)
            if not filt.listing(row):
                self._filtered_out(t)
            else:
                if self.want_times:
                    self._call(t, "times")
                elif self.want_client:
                    self._call(t, "client")
                else:
                    self._decide(t)

    def _filtered_out(self, t: _Tgt) -> None:
        if t.named and self.action != "sessions":
            self._outcome(t, "skipped", None, "does not match the filters")
        t.final = True

    def _match_selection(self, srv: _Srv, rows: list[Session]) -> list[Session]:
        """The sessions the caller selected that are still the same sessions; others get an Outcome."""
        assert srv.selection is not None
        by_id = {row.id: row for row in rows}
        keep = []
        for sid, picked in srv.selection.items():
            row = by_id.get(sid)
            if row is None:
                self._outcome_for(srv, sid, picked, "skipped", _NOT_FOUND, "no longer exists")
                continue
            was = (getattr(picked, "user", None), getattr(picked, "domain", None))
            # An Outcome (a dry run's plan) carries the user but no domain: compare what the record has.
            if was[0] is not None and (
                was[0].casefold() != row.user.casefold()
                or (was[1] is not None and was[1].casefold() != row.domain.casefold())
            ):
                before = (f"{was[1]}\\{was[0]}" if was[1] is not None else was[0]) if was[0] else "nobody"
                now = f"{row.domain}\\{row.user}" if row.user else "nobody"
                self._outcome_for(
                    srv, sid, row, "skipped", None, f"changed since it was listed: now {now}'s, was {before}'s"
                )
                continue
            keep.append(row)
        return keep

    def _on_target(self, t: _Tgt, kind: str, status: int, winerror: int, payload: Any) -> None:
        srv = t.srv
        if status != _wts.CALL_OK:
            if self._transient(winerror, t.tries):
                self._retry(kind, t, t.tries)
                return
            fn = _ACTIONS[self.action] if kind == "act" else _QUERY_FN
            if kind == "act" and winerror == _NOT_FOUND and t.tries > 1 and self.action == "logoff":
                # An earlier try failed in transit but reached the server: the session is gone.
                self._outcome(t, "done", None, "logged off (an earlier attempt took effect)")
                return
            err = error_from_winerror(winerror, fn, srv.name, t.row.id)
            if winerror == _UNAVAILABLE:
                self._server_failed(srv, err)  # the server went away: stop sending it calls
            self._final_error(t, err)
            return
        t.tries = 0
        if kind == "times":
            t.info = _session_info_from_ex(srv.name, payload)
            if not self.filt.times(t.info):
                self._filtered_out(t)
                return
            if self.want_client and t.client is None:
                self._call(t, "client")
                return
        elif kind == "client":
            t.client = payload
            if not self.filt.client_ok(payload):
                self._filtered_out(t)
                return
        else:
            response = None
            reason = ""
            if self.action == "message":
                response = MessageResponse(payload) if payload in MessageResponse._value2member_map_ else payload
                reason = f"answered {response.name}" if isinstance(response, MessageResponse) else ""
            self._outcome(t, "done", None, reason, response)
            return
        if self.action == "sessions":
            self._emit_record(t)
        else:
            self._decide(t)

    def _emit_record(self, t: _Tgt) -> None:
        t.final = True
        info = t.info if self.details else None  # fetched only for a filter: the plain record
        if info is None:
            self.out.append(t.row)
        else:
            self.out.append(info._replace(client=t.client) if t.client is not None else info)

    def _decide(self, t: _Tgt) -> None:
        """The safety rules, then the dry run, then the call."""
        if self.own_pending:
            self.undecided.append(t)
            return
        reason = self._protected(t)
        if reason is _VERIFY:
            self._call(t, "times")  # its logon time tells whether it is really ours
        elif reason is not None:
            self._outcome(t, "skipped", None, reason)
        elif self.action == "disconnect" and t.row.state == ConnectState.DISCONNECTED:
            self._outcome(t, "skipped", None, "already disconnected")
        elif self.dry_run:
            verb = {"disconnect": "disconnect", "logoff": "log off", "message": "send the message"}[self.action]
            self._outcome(t, "planned", None, f"dry run: would {verb}")
        else:
            self._call(t, "act")

    def _protected(self, t: _Tgt) -> str | None:
        row = t.row
        if row.id == 0:
            return "session 0 (services) is never touched"
        if row.state == ConnectState.LISTEN or row.id >= _LISTENER_FIRST_ID:
            return "a listener is never touched"
        if row.station.casefold() == "console":
            return "the console session is never touched"
        own = self.own
        if (
            own is not None
            and row.id == own[0]
            and row.user.casefold() == own[1]
            and row.domain.casefold() == own[2]
            and row.station.casefold() == own[3]
        ):
            # Server names can't tell which server is this machine (aliases, FQDNs, addresses), but a
            # session's logon time, to 100 ns, can: another server's session with the same id, user
            # and station logged on at another instant.  Unknown times leave it protected.
            if own[4] > 0:
                if t.info is None:
                    return _VERIFY
                if t.info.logon_time is not None and t.info.logon_time != filetime_to_datetime(own[4]):
                    return None
            return "your own session (pass allow_own=True to include it)"
        return None

    # -- results ----------------------------------------------------------------------------------

    def _server_done(self, srv: _Srv) -> None:
        self.servers_done += 1

    def _server_failed(self, srv: _Srv, err: WTSError) -> None:
        if srv.error is not None:
            return
        srv.error = err
        if srv.host is not None:
            srv.host.kill()
        if not srv.listed:
            self._server_done(srv)
            if srv.selection is not None and self.action != "sessions":
                # The caller named these sessions: each gets its Outcome.
                for sid, picked in srv.selection.items():
                    self._outcome_for(srv, sid, picked, "failed", err.winerror, _reason(err))
        self._emit_failure(Failure(srv.name, err))

    def _emit_failure(self, failure: Failure) -> None:
        self.failures += 1
        self.out.append(failure)

    def _final_error(self, t: _Tgt, err: WTSError) -> None:
        if t.final:
            return
        if self.action == "sessions":
            t.final = True
            if err is not t.srv.error:  # the server's own failure is reported once, not per session
                self._emit_failure(Failure(t.srv.name, err, t.row.id))
            return
        if t.stage in ("times", "client") and err is not t.srv.error:
            self._outcome(t, "failed", err.winerror, f"could not read its details: {_reason(err)}")
        else:
            self._outcome(t, "failed", err.winerror, _reason(err))

    def _outcome(
        self, t: _Tgt, status: str, winerror: int | None, reason: str, response: MessageResponse | int | None = None
    ) -> None:
        if t.final:
            return
        t.final = True
        row = t.row
        self.out.append(
            Outcome(t.srv.name, row.id, row.station, row.user, self.action, status, winerror, reason, response)
        )

    def _outcome_for(self, srv: _Srv, sid: int, row: Any, status: str, winerror: int | None, reason: str) -> None:
        station = getattr(row, "station", "") or ""
        user = getattr(row, "user", "") or ""
        self.out.append(Outcome(srv.name, sid, station, user, self.action, status, winerror, reason))

    def _cancel(self) -> None:
        """First interrupt: nothing new is sent; what is in flight finishes (within the timeout)."""
        self.cancelling = True
        self.engine.cancel_queued()

    def _abandon(self) -> None:
        """Second interrupt: stop waiting for calls in flight; their outcome is unknown."""
        self.abandoned = True
        for kind, obj in list(self.calls.values()):
            if kind in ("retry", "own") or obj is None:
                continue
            if kind == "list":
                err = error_from_winerror(
                    _ERROR_CANCELLED, _ENUM_FN, obj.name, None, "Interrupted while the listing was in flight."
                )
                self._server_failed(obj, err)
            elif self.action == "sessions":
                obj.final = True
            else:
                detail = "interrupted again while the call was in flight: outcome unknown"
                self._outcome(obj, "failed", _ERROR_CANCELLED, detail)
        for _, _, kind, obj in self.retry_heap:
            self._not_sent(kind, obj)
        for t in self.undecided:
            self._outcome(t, "skipped", _ERROR_CANCELLED, "cancelled: interrupted before it was sent")
        self.undecided.clear()
        self.retry_heap.clear()
        self.calls.clear()
        self.engine.close()


def _reason(err: WTSError) -> str:
    name = f" [{err.code_name}]" if err.code_name else f" [WinError {err.winerror}]"
    return f"{err.strerror}{name}"


# --- the public class ----------------------------------------------------------------------------


def _targets(farm: Farm, selection: Iterable[Any]) -> dict[str, dict[int, Any]]:
    """Explicit targets grouped by server (case-insensitively), validated before any RPC."""
    if isinstance(selection, (str, bytes)) or not isinstance(selection, Iterable):
        raise TypeError(f"targets must be sessions from Farm.sessions() (or (server, id) pairs), not {selection!r}")
    if isinstance(selection, (SessionsResult, ActionResult)):
        selection = selection.sessions if isinstance(selection, SessionsResult) else selection.outcomes
    known = {n.casefold() for n in farm.servers}
    out: dict[str, dict[int, Any]] = {}
    server: Any
    sid: Any
    record: Any
    for item in selection:
        if isinstance(item, Outcome):
            server, sid, record = item.server, item.session_id, item
        elif hasattr(item, "server") and hasattr(item, "id"):
            server, sid, record = item.server, item.id, item
        elif isinstance(item, tuple) and len(item) == 2:
            server, sid, record = item[0], item[1], None
        else:
            raise TypeError(f"targets: {item!r} is not a session (need .server and .id, or a (server, id) pair)")
        if not isinstance(server, str) or server.casefold() not in known:
            raise ValueError(f"targets: session {sid} is on {server!r}, which is not a server of this farm")
        if isinstance(sid, bool) or not isinstance(sid, int) or not 0 <= sid < _MAX_DWORD:
            raise ValueError(f"targets: {sid!r} on {server} is not a session id")
        out.setdefault(server.casefold(), {})[sid] = record
    return out


class Farm:
    """Many RD Session Hosts, acted on together: ``Farm("RDS[01-40]")``.

    ``servers``: a spec string (``"RDS[01-40],APP1"``), or a list of names or specs (see
    ``wts.read_servers`` for files).  ``concurrency``: the most WTS calls in flight at once.
    ``timeout``: seconds a call may take before its server is abandoned as hung (reported as
    ERROR_TIMEOUT).  ``retries``: extra tries for transient RPC errors (1723, 1726), ``backoff``
    seconds apart, doubling.  Nothing is opened until an operation runs.
    """

    __slots__ = ("backoff", "concurrency", "provider", "retries", "servers", "timeout")

    def __init__(
        self,
        servers: str | Iterable[str],
        *,
        concurrency: int = 64,
        timeout: float = 30.0,
        retries: int = 2,
        backoff: float = 0.05,
        provider: str | _wts.Provider | None = None,
    ) -> None:
        names = parse_servers(servers)
        if not names:
            raise ValueError("a Farm needs at least one server")
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= 4096:
            raise ValueError(f"concurrency must be an int from 1 to 4096, not {concurrency!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 86400:
            raise ValueError(f"timeout must be seconds, more than 0 and at most 86400, not {timeout!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
            raise ValueError(f"retries must be an int from 0 to 10, not {retries!r}")
        if isinstance(backoff, bool) or not isinstance(backoff, (int, float)) or not 0 <= backoff <= 60:
            raise ValueError(f"backoff must be seconds from 0 to 60, not {backoff!r}")
        self.servers: tuple[str, ...] = tuple(names)
        self.concurrency = concurrency
        self.timeout = float(timeout)
        self.retries = retries
        self.backoff = float(backoff)
        self.provider = resolve_provider(provider)

    def __repr__(self) -> str:
        first = ", ".join(self.servers[:3]) + (", ..." if len(self.servers) > 3 else "")
        return (
            f"<wts.Farm {len(self.servers)} servers ({first}) via {self.provider.name}, concurrency {self.concurrency}>"
        )

    # -- streaming: the one engine path everything else uses --------------------------------------

    def stream(
        self,
        action: str = "sessions",
        targets: Iterable[Any] | None = None,
        *,
        details: bool | str = False,
        dry_run: bool = False,
        allow_own: bool = False,
        wait: bool = True,
        title: str | None = None,
        text: str | None = None,
        style: int = 0,
        message_timeout: int = 0,
        progress: ProgressCallback | None = None,
        **filters: Any,
    ) -> Iterator[Item]:
        """The items of an operation as they arrive, for farms too big to hold twice: records (for
        "sessions") or Outcomes (for "disconnect", "logoff", "message"), and Failures.

        Arguments are checked here, before any RPC; the work starts on the first ``next()``.
        An interrupt ends the iteration with ``wts.Interrupted`` after the last item.
        """
        if action not in ("sessions", "disconnect", "logoff", "message"):
            raise ValueError(f"unknown action {action!r}: expected sessions, disconnect, logoff or message")
        if details not in (False, True, "client"):
            raise ValueError(f"details must be False, True or 'client', not {details!r}")
        if progress is not None and not callable(progress):
            raise TypeError("progress must be a callable taking a wts.Progress")
        filt = _Filter(filters)
        message = None
        if action == "message":
            if not isinstance(title, str) or not isinstance(text, str):
                raise TypeError("a message needs title and text, both str")
            for value, what in ((style, "style"), (message_timeout, "message timeout")):
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_DWORD:
                    raise ValueError(f"{what} must be an int from 0 to {_MAX_DWORD}, not {value!r}")
            if wait and message_timeout == 0:
                raise ValueError(
                    "a bulk message with wait=True needs a timeout (seconds), so that a session where "
                    "nobody answers cannot hold the run for ever"
                )
            message = (title, text, style, message_timeout)
        if targets is not None and action == "sessions":
            raise ValueError("targets select sessions to act on; to list, use filters such as ids=")
        selection = None if targets is None else _targets(self, targets)
        run = _Run(
            self,
            action,
            filt,
            details=details,
            targets=selection,
            dry_run=bool(dry_run),
            allow_own=bool(allow_own),
            wait=bool(wait),
            message=message,
            progress=progress,
        )
        return iter(run)

    def _collect(self, action: str, **kwargs: Any) -> SessionsResult | ActionResult:
        started = time.perf_counter()
        items: list[Any] = []
        failures: list[Failure] = []
        interrupted: Interrupted | None = None
        try:
            for item in self.stream(action, **kwargs):
                if isinstance(item, Failure):
                    failures.append(item)
                else:
                    items.append(item)
        except Interrupted as exc:
            interrupted = exc
        elapsed = time.perf_counter() - started
        result: SessionsResult | ActionResult
        if action == "sessions":
            result = SessionsResult(items, failures, elapsed, interrupted is not None)
        else:
            result = ActionResult(action, items, failures, elapsed, interrupted is not None)
        if interrupted is not None:
            raise Interrupted(result, f"interrupted: {result!r}")
        return result

    # -- operations -------------------------------------------------------------------------------

    def sessions(
        self, *, details: bool | str = False, progress: ProgressCallback | None = None, **filters: Any
    ) -> SessionsResult:
        """Every session of every server (one RPC per server), filtered.

        ``details=True`` adds times, lock state and idle time (one more RPC per session:
        ``SessionInfo`` records); ``details="client"`` also the client name (one more).  Filters that
        need times or the client fetch them for the sessions still in the running; the records keep
        the type ``details`` asks for.
        """
        result = self._collect("sessions", details=details, progress=progress, **filters)
        assert isinstance(result, SessionsResult)
        return result

    def disconnect(
        self,
        targets: Iterable[Any] | None = None,
        *,
        dry_run: bool = False,
        wait: bool = True,
        allow_own: bool = False,
        progress: ProgressCallback | None = None,
        **filters: Any,
    ) -> ActionResult:
        """Disconnect the selected sessions (they stay logged on): WTSDisconnectSession each."""
        return self._act(
            "disconnect", targets, dry_run=dry_run, wait=wait, allow_own=allow_own, progress=progress, **filters
        )

    def logoff(
        self,
        targets: Iterable[Any] | None = None,
        *,
        dry_run: bool = False,
        wait: bool = True,
        allow_own: bool = False,
        progress: ProgressCallback | None = None,
        **filters: Any,
    ) -> ActionResult:
        """Log the selected sessions off: WTSLogoffSession each."""
        return self._act(
            "logoff", targets, dry_run=dry_run, wait=wait, allow_own=allow_own, progress=progress, **filters
        )

    def send_message(
        self,
        title: str,
        text: str,
        targets: Iterable[Any] | None = None,
        *,
        style: int = 0,
        timeout: int = 0,
        wait: bool = False,
        dry_run: bool = False,
        allow_own: bool = False,
        progress: ProgressCallback | None = None,
        **filters: Any,
    ) -> ActionResult:
        """Show a message box in the selected sessions: WTSSendMessageW each.  ``timeout`` is the
        message box's (seconds); with ``wait=True`` each Outcome's ``response`` is the answer."""
        return self._act(
            "message",
            targets,
            dry_run=dry_run,
            wait=wait,
            allow_own=allow_own,
            progress=progress,
            title=title,
            text=text,
            style=style,
            message_timeout=timeout,
            **filters,
        )

    def _act(self, action: str, targets: Iterable[Any] | None, **kwargs: Any) -> ActionResult:
        result = self._collect(action, targets=targets, **kwargs)
        assert isinstance(result, ActionResult)
        return result
