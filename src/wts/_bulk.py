"""The run loop of ``wts.Farm``: one bulk operation driven through the native engine, as a generator
of items (records or Outcomes, and Failures).

The calls are made by native worker threads (wts._wts.Engine) with no GIL, up to ``concurrency`` at
once across and within servers, in the order they become possible.  This module only decides what to
call next and what each answer means (retries, deadlines, the safety rules, interrupts): it never
blocks except in Engine.wait.

What the run decides without an RPC (explicit targets, the safety rules) is in ``_selection``, the
filters in ``_filters``, which failures are retried in ``_retry``, its state and what it reports in
``_ledger``, Ctrl-C in ``_sigint``.  What is left is one state machine (``Run``: submit, answer, decide),
about 550 lines: split further, each answer's handling would sit apart from the state it
changes, so it stays whole.
"""

from __future__ import annotations

import heapq
import random
import time
from collections import deque
from collections.abc import Iterator
from typing import Any, Protocol

from . import _wts
from ._client import client_info_from_raw, protocol_of
from ._errors import WTSError, error_from_winerror
from ._filters import Filter
from ._ledger import Ledger, ServerState, Target, error_text
from ._results import Failure, Interrupted, Item, Progress, ProgressCallback, Reason
from ._retry import backoff_delay, retryable
from ._selection import PROTECTED_TEXT, OwnSession, is_own, match_selection, needs_logon_check, protected
from ._sigint import Sigint
from ._types import (
    ConnectState,
    InfoClass,
    MessageResponse,
    Session,
    SessionInfo,
    session_info_from_ex,
)
from ._winerror import WinError

__all__ = ["Run", "Settings"]

# What Outcomes carry as ``winerror``: plain ints, as Windows reports them.  (Which errors are retried
# is ``_retry``'s rule.)
_CANCELLED = int(WinError.ERROR_CANCELLED)
_TIMEOUT = int(WinError.ERROR_TIMEOUT)
_WAIT_SLICE = 0.1  # longest the owner thread sleeps before looking at interrupts and retries
_PROGRESS_EVERY = 0.05

_ACTIONS = {
    "disconnect": "WTSDisconnectSession",
    "logoff": "WTSLogoffSession",
    "message": "WTSSendMessageW",
    "terminate": "WTSTerminateProcess",
}
_ENUM_FN, _QUERY_FN = "WTSEnumerateSessionsExW", "WTSQuerySessionInformationW"
#: The info class each read-only stage of a session queries.
_STAGE_CLASS = {
    "times": InfoClass.SESSION_INFO_EX,
    "client": InfoClass.CLIENT_NAME,
    "clientinfo": InfoClass.CLIENT_INFO,
    "protocol": InfoClass.CLIENT_PROTOCOL_TYPE,
}


#: Calls in flight to one server at once, by provider (0: no limit).  The tsts client makes one call
#: at a time on a server's connection, so more in flight to that server only hold engine workers
#: waiting on it, which other servers' calls could use: a farm's details, queued server by server,
#: ran about as many servers at once as the concurrency holds sessions of one server.
PER_SERVER = {"tsts": 1}


class Settings(Protocol):
    """What a run needs of its ``Farm``."""

    servers: tuple[str, ...]
    concurrency: int
    timeout: float
    retries: int
    backoff: float
    provider: _wts.Provider

    def _take_engine(self) -> _wts.Engine: ...
    def _keep_engine(self, engine: _wts.Engine) -> bool: ...
    def _take_host(self, name: str | None) -> _wts.Host: ...
    def _keep_host(self, name: str | None, host: _wts.Host) -> None: ...


class Run:
    """One bulk operation as a generator of items (records or outcomes, and failures).

    The operations on processes (``_procrun.ProcessRun``) are this machine with another listing and
    another action: they override the hooks ``_send_list``, ``_on_rows``, ``_decide`` and ``_send_action``.
    """

    #: The listing call, as errors name it.
    list_fn = _ENUM_FN

    def __init__(
        self,
        farm: Settings,
        action: str,
        filt: Filter,
        *,
        details: bool | str = False,
        targets: dict[str, dict[int, Any]] | None = None,
        dry_run: bool = False,
        allow_own: bool = False,
        wait: bool = True,
        message: tuple[str, str, int, int] | None = None,
        progress: ProgressCallback | None = None,
        find_own: bool = False,
    ) -> None:
        self.farm = farm
        self.action = action  # "sessions", "disconnect", "logoff", "message" (or "processes", "terminate")
        self.listing_only = action in ("sessions", "processes")
        self.filt = filt
        self.want_times = bool(details) or filt.needs_times
        # "clients": the whole client record (WTSClientInfo, which has the name too, and the protocol).
        self.want_clients = details == "clients"
        self.want_client = (details == "client" or filt.needs_client) and not self.want_clients
        self.details = bool(details)
        self.dry_run = dry_run
        self.allow_own = allow_own
        self.wait = wait
        self.message = message
        self.progress_cb = progress
        names = farm.servers if targets is None else [n for n in farm.servers if n.casefold() in targets]
        self.servers = [ServerState(n, None if targets is None else targets[n.casefold()]) for n in names]
        self.calls: dict[int, tuple[str, Any]] = {}
        self.inbox: deque[tuple[int, int, int, int, Any, float]] = deque()  # answers taken, not yet handled
        self.next_tag = 0
        self.retry_heap: list[tuple[float, int, str, Any]] = []
        self.ledger = Ledger(action)
        self.calls_done = 0
        self.servers_done = 0
        self.cancelling = False
        self.abandoned = False
        self.started = time.perf_counter()
        self.last_progress = 0.0
        self.interrupts = 0  # Ctrl-C presses seen by the loop (reported through Progress)
        self.stopping = False  # stop() was called: as a first Ctrl-C, but not an interrupt
        self.own: OwnSession | None = None  # the caller's session, once the local server said which
        self.own_pending = False  # the own-session query is in flight: decisions wait for it
        self.undecided: list[Target] = []
        self.own_host: Any = None
        # find_own (a listing that marks the caller's session): the records seen while the own-session
        # query was in flight, and the records found to be that session (one, unless it is ambiguous).
        self.find_own = find_own
        self.own_pool: list[tuple[ServerState, Session | SessionInfo]] = []
        self.own_found: list[Session | SessionInfo] = []
        self.engine: Any = None
        self.rng = random.Random()
        self.per_server = PER_SERVER.get(farm.provider.name, 0)
        self.parked = 0  # calls waiting for their server's turn (ServerState.parked), all servers

    # -- the loop ---------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Item]:
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[list[Item]]:
        """The run, its items in the lists they come in (what one wait for answers gave)."""
        sigint = Sigint()
        sigint.install()
        farm = self.farm
        finished = False
        self.engine = engine = farm._take_engine()
        try:
            if (not self.listing_only and not self.allow_own) or self.find_own:
                self._ask_own()
            for srv in self.servers:
                self._list(srv)
            while True:
                self._on_interrupts(sigint.count)
                if self.abandoned or (engine.pending == 0 and not self.retry_heap and not self.inbox):
                    break
                try:
                    self._step()
                except KeyboardInterrupt:
                    # Not from SIGINT (Sigint's handler only counts, and calls the application's own
                    # inside a try): from a progress callback, say.  A press all the same; the answers
                    # not yet handled wait in the inbox, none is handled twice.
                    sigint.count += 1
                    continue
                self._report_progress(False)
                batch = self.ledger.take()
                if batch:
                    yield batch
            self._report_progress(True)
            batch = self.ledger.take()
            if batch:
                yield batch
            finished = True
        finally:
            sigint.restore()
            # The engine and handles of a run that went to its end with no call given up on (killed,
            # interrupted, stopped, or the caller leaving the loop early) serve the farm's next operation.
            keep = finished and not (self.abandoned or self.cancelling or sigint.count)
            if not (keep and farm._keep_engine(engine)):
                engine.close()
            if keep and self.own_host is not None:
                farm._keep_host(None, self.own_host)
            self.own_host = None
            for srv in self.servers:
                if keep and srv.host is not None and srv.error is None:
                    farm._keep_host(srv.name, srv.host)
                srv.host = None
        if sigint.count:
            if sigint.raised is not None and not isinstance(sigint.raised, KeyboardInterrupt):
                raise sigint.raised  # the application's handler asked for this; the run has stopped first
            raise Interrupted(None, f"interrupted: {self.action} stopped before it was complete")

    def _step(self) -> None:
        """Wait for answers (at most a slice), handle each, send the retries that are due."""
        if not self.inbox:
            wait = _WAIT_SLICE
            if self.retry_heap:
                wait = max(0.0, min(wait, self.retry_heap[0][0] - time.monotonic()))
            self.inbox.extend(self.engine.wait(wait))
        inbox = self.inbox
        while inbox:
            self._on(*inbox.popleft())
        self._due_retries()

    def stop(self) -> None:
        """Stop as a first Ctrl-C does, without being one (no ``Interrupted``): the caller's reason."""
        self.stopping = True

    def _on_interrupts(self, count: int) -> None:
        """First press (or stop()): nothing new is sent (a listing stops at once: nothing is at risk);
        second: the calls in flight are abandoned."""
        first = count or self.stopping
        if first and not self.cancelling:
            self._cancel()
        if (count >= 2 or (first and self.listing_only)) and not self.abandoned:
            self._abandon()
        if count != self.interrupts:
            self.interrupts = count
            self._report_progress(False, force=True)

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
        engine = self.engine.pending if not self.abandoned else 0
        pending = engine + len(self.retry_heap) + len(self.inbox) + self.parked
        self.progress_cb(
            Progress(
                self.calls_done,
                self.calls_done + pending,
                self.servers_done,
                len(self.servers),
                self.ledger.failures,
                now - self.started,
                self.interrupts,
                # The engine runs at most `concurrency` calls at once and starts a queued one as soon
                # as a worker is free: beyond that many, the calls pending are queued, not sent.
                min(engine, self.farm.concurrency),
            )
        )

    # -- submitting -------------------------------------------------------------------------------

    def _ask_own(self) -> None:
        """Which session is the caller's own: asked of the local server through the engine, with the
        same deadline as every call, while the listings run."""
        self.own_host = self.farm._take_host(None)
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
            self.own = OwnSession(
                int(sid), str(user).casefold(), str(domain).casefold(), str(station).casefold(), int(logon)
            )
        self.own_pending = False
        waiting, self.undecided = self.undecided, []
        for t in waiting:
            self._decide(t)
        pool, self.own_pool = self.own_pool, []
        for srv, record in pool:
            self._seen(srv, record)

    @property
    def own_record(self) -> Session | SessionInfo | None:
        """The record of the caller's own session among those listed, when ``find_own`` found exactly one."""
        return self.own_found[0] if len(self.own_found) == 1 else None

    def _seen(self, srv: ServerState, record: Session | SessionInfo) -> None:
        """A listed record, for find_own: is it the caller's session?  A look-alike (same id, user and
        station on another server) whose logon time is not known yet costs one WTSSessionInfoEx."""
        if not self.find_own:
            return
        if self.own_pending:
            self.own_pool.append((srv, record))
            return
        verdict = is_own(record, self.own)
        if verdict is True:
            self.own_found.append(record)
        elif verdict is None and not self.cancelling and srv.error is None and srv.host is not None:
            tag = self._tag("owncheck", (srv, record))
            self.engine.query(srv.host, record.id, int(InfoClass.SESSION_INFO_EX), tag, self.farm.timeout)

    def _on_own_check(self, status: int, obj: tuple[ServerState, Session], payload: Any) -> None:
        srv, record = obj
        if status == _wts.CALL_OK and is_own(session_info_from_ex(srv.name, payload), self.own):
            self.own_found.append(record)  # (no answer: not shown as ours, since it cannot be told)

    def _list(self, srv: ServerState) -> None:
        if self.cancelling:
            self._not_sent("list", srv)
            return
        if srv.host is None:
            try:
                srv.host = self.farm._take_host(srv.name)
            except WTSError as exc:
                self._server_failed(srv, exc)
                return
        srv.tries += 1
        self._send_list(srv, self._tag("list", srv))

    def _send_list(self, srv: ServerState, tag: int) -> None:
        self.engine.enumerate(srv.host, tag, self.farm.timeout)

    def _call(self, t: Target, stage: str) -> None:
        if self.cancelling:  # after an interrupt nothing new is sent
            t.stage = stage
            self._not_sent(stage, t)
            return
        t.stage = stage
        farm, srv, sid = self.farm, t.srv, t.session_id
        if self.per_server:
            if srv.inflight >= self.per_server:
                srv.parked.append((t, stage))
                self.parked += 1
                return
            srv.inflight += 1
        t.tries += 1
        tag = self._tag(stage, t)
        if stage in _STAGE_CLASS:
            self.engine.query(srv.host, sid, int(_STAGE_CLASS[stage]), tag, farm.timeout)
        elif self.action == "message":
            assert self.message is not None
            title, text, style, msg_timeout = self.message
            # A message that waits for an answer may take its own timeout before the server replies.
            self.engine.message(
                srv.host, sid, title, text, style, msg_timeout, self.wait, tag, farm.timeout + msg_timeout
            )
        else:
            self._send_action(t, tag)

    def _unpark(self, srv: ServerState) -> None:
        """The calls waiting for ``srv``'s turn, as it comes (``PER_SERVER``); all of them at once,
        unsent, when the server has failed or the run was interrupted."""
        while srv.parked and (srv.inflight < self.per_server or srv.error is not None or self.cancelling):
            t, stage = srv.parked.popleft()
            self.parked -= 1
            if srv.error is not None:
                self._not_sent(stage, t)
            else:
                self._call(t, stage)  # interrupted: reported unsent there

    def _send_action(self, t: Target, tag: int) -> None:
        self.engine.end_session(t.srv.host, t.session_id, self.action == "logoff", self.wait, tag, self.farm.timeout)

    def _retry(self, kind: str, obj: Any, tries: int) -> None:
        delay = backoff_delay(self.farm.backoff, tries, self.rng)
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
        if kind == "owncheck":
            self._on_own_check(status, obj, payload)
            return
        srv = obj if kind == "list" else obj.srv
        if self.per_server and kind != "list":
            srv.inflight -= 1  # before the answer is handled: this target's next call goes first
        if status == _wts.CALL_CANCELLED:
            self._not_sent(kind, obj)
        elif status == _wts.CALL_TIMEDOUT:
            self._timed_out(kind, obj)
        elif kind == "list":
            self._on_list(obj, status, winerror, payload)
        else:
            self._on_target(obj, kind, status, winerror, payload)
        if srv.parked:
            self._unpark(srv)

    def _not_sent(self, kind: str, obj: Any) -> None:
        """A call that was never sent: its server had failed, or the run was interrupted."""
        srv = obj if kind == "list" else obj.srv
        if srv.error is not None:
            if kind != "list":  # (a listing's failure was reported with its server)
                self.ledger.final_error(obj, srv.error, sent=False)
            return
        if kind == "list":
            err = error_from_winerror(
                WinError.ERROR_CANCELLED, self.list_fn, srv.name, None, "Not listed: the run was interrupted."
            )
            self._server_failed(srv, err)
            return
        if self.listing_only:
            err = error_from_winerror(
                WinError.ERROR_CANCELLED,
                _QUERY_FN,
                srv.name,
                obj.session_id,
                "Interrupted before its details were read.",
            )
            self.ledger.failure(Failure(srv.name, err, obj.session_id))
            obj.final = True
        else:
            self.ledger.outcome(
                obj, "skipped", Reason.CANCELLED, _CANCELLED, "cancelled: interrupted before it was sent"
            )

    def _timed_out(self, kind: str, obj: Any) -> None:
        """No answer by the deadline: the server is abandoned.  A listing or a query failed (nothing
        was changed); an action was sent and may have run: its outcome is unknown."""
        srv = obj if kind == "list" else obj.srv
        limit = self.farm.timeout
        if kind == "act" and self.message is not None:
            limit += self.message[3]  # a message that waits had its own timeout added to the deadline
        detail = f"No answer within {limit:g} s; the server was abandoned (its calls not yet sent were cancelled)."
        fn = self.list_fn if kind == "list" else _QUERY_FN if kind in _STAGE_CLASS else _ACTIONS[self.action]
        err = error_from_winerror(
            WinError.ERROR_TIMEOUT, fn, srv.name, None if kind == "list" else obj.session_id, detail
        )
        if kind == "act":
            self.ledger.outcome(
                obj, "unknown", Reason.NO_ANSWER, _TIMEOUT, f"no answer within {limit:g} s: outcome unknown"
            )
        self._server_failed(srv, err)
        if kind != "list":
            self.ledger.final_error(obj, err, sent=True)

    def _transient(self, kind: str, winerror: int, tries: int) -> bool:
        return retryable(kind, winerror) and tries <= self.farm.retries and not self.cancelling

    def _on_list(self, srv: ServerState, status: int, winerror: int, rows: Any) -> None:
        if status != _wts.CALL_OK:
            if self._transient("list", winerror, srv.tries):
                self._retry("list", srv, srv.tries)
                return
            self._server_failed(srv, self._failed(winerror, self.list_fn, srv.name))
            return
        srv.listed = True
        self.servers_done += 1
        self._on_rows(srv, rows)

    def _on_rows(self, srv: ServerState, rows: Any) -> None:
        """A server's fresh listing: records (a listing), or targets to decide on (an action)."""
        filt = self.filt
        if srv.selection is not None:
            rows = match_selection(srv, rows, self.ledger)
        if self.action == "sessions":
            if not (self.want_times or self.want_client):
                # A plain listing: the records as they came (the commonest run, 28 records a server).
                kept = list(rows) if filt.lists_all else [row for row in rows if filt.listing(row)]
                self.ledger.records(kept)
                if self.find_own:
                    for row in kept:
                        self._seen(srv, row)
                return
            for row in rows:
                if filt.listing(row):
                    self._call(Target(srv, row), "times" if self.want_times else "client")
            return
        for row in rows:
            t = Target(srv, row)
            if not filt.listing(row):
                self._filtered_out(t)
            else:
                if self.want_times:
                    self._call(t, "times")
                elif self.want_client:
                    self._call(t, "client")
                else:
                    self._decide(t)

    def _filtered_out(self, t: Target) -> None:
        if t.named and not self.listing_only:
            self.ledger.outcome(t, "skipped", Reason.FILTERED, None, "does not match the filters")
        t.final = True

    def _on_target(self, t: Target, kind: str, status: int, winerror: int, payload: Any) -> None:
        srv = t.srv
        if status != _wts.CALL_OK:
            if self._transient(kind, winerror, t.tries):
                self._retry(kind, t, t.tries)
                return
            # (An action is retried only after an error that says it did not run, so a retry that finds
            # the session gone (7022) is no sign that an earlier try took effect: it fails as any 7022.)
            fn = _ACTIONS[self.action] if kind == "act" else _QUERY_FN
            err = self._failed(winerror, fn, srv.name, t.session_id)
            if winerror == WinError.RPC_S_SERVER_UNAVAILABLE:
                self._server_failed(srv, err)  # the server went away: stop sending it calls
            self.ledger.final_error(t, err, sent=True)
            return
        t.tries = 0
        if kind == "times":
            t.info = session_info_from_ex(srv.name, payload)
            if not self.filt.times(t.info):
                self._filtered_out(t)
                return
            if self.want_clients and t.client_info is None:
                self._call(t, "clientinfo")
                return
            if self.want_client and t.client is None:
                self._call(t, "client")
                return
        elif kind == "client":
            t.client = payload
            if not self.filt.client_ok(payload):
                self._filtered_out(t)
                return
        elif kind == "clientinfo":
            t.client_info = client_info_from_raw(srv.name, t.row.id, payload)
            t.client = t.client_info.name
            if not self.filt.client_ok(t.client):
                self._filtered_out(t)
                return
            self._call(t, "protocol")
            return
        elif kind == "protocol":
            assert t.client_info is not None
            t.client_info = t.client_info._replace(protocol=protocol_of(payload))
        else:
            response = None
            reason = ""
            if self.action == "message":
                response = MessageResponse(payload) if payload in MessageResponse._value2member_map_ else payload
                reason = f"answered {response.name}" if isinstance(response, MessageResponse) else ""
            self.ledger.outcome(t, "done", Reason.DONE, None, reason, response)
            return
        if self.action == "sessions":
            self._emit_record(t)
        else:
            self._decide(t)

    def _emit_record(self, t: Target) -> None:
        t.final = True
        info = t.info if self.details else None  # fetched only for a filter: the plain record
        record: Session | SessionInfo = t.row
        if info is not None:
            record = info._replace(client=t.client, client_info=t.client_info) if t.client is not None else info
        self.ledger.record(record)
        self._seen(t.srv, record)

    def _decide(self, t: Target) -> None:
        """The safety rules, then the dry run, then the call."""
        if self.own_pending:
            self.undecided.append(t)
            return
        why = protected(t.row, t.info, self.own)
        if needs_logon_check(why, t.info, self.own):
            self._call(t, "times")  # a look-alike of ours: its logon time tells whether it really is
        elif why is not None:
            self.ledger.outcome(t, "skipped", why, None, PROTECTED_TEXT[why])
        elif self.action == "disconnect" and t.row.state == ConnectState.DISCONNECTED:
            self.ledger.outcome(t, "skipped", Reason.ALREADY, None, "already disconnected")
        elif self.dry_run:
            verb = {"disconnect": "disconnect", "logoff": "log off", "message": "send the message"}[self.action]
            self.ledger.outcome(t, "planned", Reason.DRY_RUN, None, f"dry run: would {verb}")
        else:
            self._call(t, "act")

    # -- results ----------------------------------------------------------------------------------

    def _failed(self, winerror: int, function: str, server: str, session_id: int | None = None) -> WTSError:
        """The error of a call that failed, with the provider's reason where it has one (tsts)."""
        return self.farm.provider.error(winerror, function, server, session_id)

    def _server_failed(self, srv: ServerState, err: WTSError) -> None:
        if srv.error is not None:
            return
        srv.error = err
        if srv.host is not None:
            srv.host.kill()
        if not srv.listed:
            self.servers_done += 1
            if srv.selection is not None and not self.listing_only:
                # The caller named these sessions: each gets its Outcome.
                for sid, picked in srv.selection.items():
                    self.ledger.outcome_for(
                        srv.name, sid, picked, "failed", Reason.NOT_REACHED, err.winerror, error_text(err)
                    )
        self.ledger.failure(Failure(srv.name, err))

    def _cancel(self) -> None:
        """First interrupt: nothing new is sent; what is in flight finishes (within the timeout)."""
        self.cancelling = True
        self.engine.cancel_queued()
        for srv in self.servers:
            if srv.parked:
                self._unpark(srv)

    def _abandon(self) -> None:
        """Second interrupt (or the first, for a listing): stop waiting for calls in flight; an action
        among them has an unknown outcome."""
        while True:
            # Answers already in, taken or not yet taken from the engine, are answers: handled, not
            # abandoned (a server that answered before the press is reported, an action that ran is
            # known to have run).  wait(0) does not block.
            while self.inbox:
                self._on(*self.inbox.popleft())
            self.inbox.extend(self.engine.wait(0))
            if not self.inbox:
                break
        self.abandoned = True
        for kind, obj in list(self.calls.values()):
            if kind in ("retry", "own", "owncheck") or obj is None:
                continue
            if kind == "list":
                err = error_from_winerror(
                    WinError.ERROR_CANCELLED,
                    self.list_fn,
                    obj.name,
                    None,
                    "Interrupted while the listing was in flight.",
                )
                self._server_failed(obj, err)
            elif self.listing_only:
                if not obj.final:  # its details were being read: the session is reported, unread
                    obj.final = True
                    err = error_from_winerror(
                        WinError.ERROR_CANCELLED,
                        _QUERY_FN,
                        obj.srv.name,
                        obj.session_id,
                        "Interrupted while its details were read.",
                    )
                    self.ledger.failure(Failure(obj.srv.name, err, obj.session_id))
            elif kind == "act":  # sent, and no answer will come: it may have run
                detail = "interrupted again while the call was in flight: outcome unknown"
                self.ledger.outcome(obj, "unknown", Reason.ABANDONED, _CANCELLED, detail)
            else:  # a query before the action: the action was never sent
                detail = "cancelled: interrupted before it was sent"
                self.ledger.outcome(obj, "skipped", Reason.CANCELLED, _CANCELLED, detail)
        for _, _, kind, obj in self.retry_heap:
            self._not_sent(kind, obj)
        for t in self.undecided:
            self.ledger.outcome(t, "skipped", Reason.CANCELLED, _CANCELLED, "cancelled: interrupted before it was sent")
        self.undecided.clear()
        self.retry_heap.clear()
        self.calls.clear()
        self.inbox.clear()
        self.engine.close()
