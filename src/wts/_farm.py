"""``wts.Farm``: one operation across many RD Session Hosts, every RPC in flight at once, nothing lost.

This module is the public facade: ``Farm`` checks its arguments (before any RPC) and hands the work to
the run loop (``_bulk.Run``); what comes back is in ``_results``, the filters in ``_filters``.

The plan of each operation is RPC-minimal:

* one WTSEnumerateSessionsExW per server lists its sessions with user and domain;
* one WTSQuerySessionInformationW(WTSSessionInfoEx) per session, only when details are asked for or a
  filter needs times (idle, disconnected, logon); one more (WTSClientName) only for the client name;
  two more (WTSClientInfo, WTSClientProtocolType) for the whole client record (``details="clients"``);
* a listing with ``own=True``: one query of the local server (which session is the caller's) per run,
  and one WTSSessionInfoEx for a session that looks like it (same id, user and station) when its
  logon time is not known;
* one WTSDisconnectSession / WTSLogoffSession / WTSSendMessageW per selected session;
* one WTSEnumerateProcessesExW per server lists its processes (``processes``, ``terminate``), and one
  WTSTerminateProcess ends each selected process (``_procrun``; the filters and safety rules of
  processes are in ``_procselect``).

Guarantees (tested in tests/test_farm.py, and for processes tests/test_farm_processes.py): every
selected session (or process) gets exactly one Outcome; every
server that failed appears once in ``failures``; a call with no answer after ``timeout`` seconds
fails its server with ERROR_TIMEOUT instead of being waited on (an action among them is "unknown");
only what cannot take effect twice is retried (``_retry``);
a dry run sends no action (only listings, detail queries and the own-session query); an interrupt stops
new calls and reports everything.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from . import _wts
from ._credentials import Credentials
from ._provider import close_connections, owns_connections, resolve_provider
from ._results import ActionResult, Failure, Interrupted, Item, ProcessesResult, ProgressCallback, SessionsResult
from ._serverspec import parse_servers
from ._types import MAX_DWORD, STATES_BY_VALUE, Session, SessionInfo

if TYPE_CHECKING:
    from ._bulk import Run

__all__ = ["Farm"]


class Stream(Iterator[Item]):
    """What ``Farm.stream()`` returns: an iterator of items, with ``stop()``."""

    __slots__ = ("_items", "_run")

    def __init__(self, run: Run) -> None:
        self._run = run
        self._items = iter(run)

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> Item:
        return next(self._items)

    @property
    def own(self) -> Session | SessionInfo | None:
        """A listing with ``own=True``: the caller's own session among the records, once the
        iteration has ended (None before, or when it is none of them or cannot be told; always None
        for processes)."""
        own: Session | SessionInfo | None = getattr(self._run, "own_record", None)
        return own

    def stop(self) -> None:
        """Stop as a first Ctrl-C does: nothing new is sent; what is in flight still reports."""
        self._run.stop()

    def close(self) -> None:
        """Stop at once, reading nothing more (as for a generator)."""
        close = getattr(self._items, "close", None)
        if close is not None:
            close()


class Farm:
    """Many RD Session Hosts, acted on together: ``Farm("RDS[01-40]")``.

    ``servers``: a spec string (``"RDS[01-40],APP1"``), or a list of names or specs (see
    ``wts.read_servers`` for files).  ``concurrency``: the most WTS calls in flight at once.
    ``timeout``: seconds a call may take before its server is abandoned as hung (reported as
    ERROR_TIMEOUT; an action it was making is "unknown").  ``retries``: extra tries for transient RPC
    errors (1723 and 1727; 1726 for listings and queries only, never an action that may have run),
    ``backoff`` seconds apart, doubling.  Nothing is opened until an operation runs.
    ``credentials``, ``connect_timeout``, ``encrypt`` (SMB 3 encryption even where a server does not
    require it): the tsts provider's logon and connections (docs/remote.md).
    """

    __slots__ = (
        "_engine",
        "_hosts",
        "_owns_connections",
        "backoff",
        "concurrency",
        "provider",
        "retries",
        "servers",
        "timeout",
    )

    def __init__(
        self,
        servers: str | Iterable[str],
        *,
        concurrency: int = 64,
        timeout: float = 30.0,
        retries: int = 2,
        backoff: float = 0.05,
        provider: str | _wts.Provider | None = None,
        credentials: Credentials | None = None,
        connect_timeout: float | None = None,
        encrypt: bool = False,
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
        self.provider = resolve_provider(provider, credentials, connect_timeout, encrypt)
        self._owns_connections = owns_connections(self.provider, provider)
        #: tsts: the engine's server handles, kept from an operation that ended well for the next one.
        #: Such a handle is only a reference to the server's client, which the connections keep anyway,
        #: and opening and closing one per server and operation took the GIL twice more per RPC.  A
        #: win32 or sim handle is the system's, opened and closed with each operation as before.
        self._hosts: dict[str | None, _wts.Host] = {}
        #: tsts: the engine (its workers, each with its Python thread state) of the last run that ended
        #: well, for the next: a run's new workers each made and destroyed a thread and a thread state.
        self._engine: _wts.Engine | None = None

    def _take_host(self, name: str | None) -> _wts.Host:
        """An open handle to ``name``: the one kept from an earlier operation, or a new one (which may
        raise WTSError)."""
        host = self._hosts.pop(name, None)
        if host is not None and host.provider is self.provider:
            return host
        return _wts.Host(self.provider, name)

    def _take_engine(self) -> _wts.Engine:
        engine, self._engine = self._engine, None
        if engine is not None and engine.concurrency == self.concurrency:
            return engine
        if engine is not None:
            engine.close()
        return _wts.Engine(self.concurrency, Session, STATES_BY_VALUE)

    def _keep_engine(self, engine: _wts.Engine) -> bool:
        """Keep ``engine`` (idle: nothing pending) for the next operation; False: the caller closes it."""
        if self.provider.name != "tsts" or engine.pending or self._engine is not None:
            return False
        self._engine = engine
        return True

    def _keep_host(self, name: str | None, host: _wts.Host) -> None:
        if host.provider is self.provider and self.provider.name == "tsts":
            self._hosts[name] = host

    def close(self) -> None:
        """Close the connections this farm holds (tsts: one SMB session per server, reused by every
        operation until now); a later operation opens new ones.  With credentials on win32 or sim: let
        go of the logon (its token closes when no call uses it); a later operation is a ValueError.
        Idempotent; nothing for sim or win32 without credentials."""
        self._hosts.clear()
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.close()
        if self._owns_connections:
            close_connections(self.provider)

    def __enter__(self) -> Farm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        allow_system: bool = False,
        exit_code: int = 0,
        progress: ProgressCallback | None = None,
        own: bool = False,
        **filters: Any,
    ) -> Stream:
        """The items of an operation as they arrive, for farms too big to hold twice: records (for
        "sessions" and "processes") or Outcomes (for "disconnect", "logoff", "message" and
        "terminate"), and Failures.

        Arguments are checked here, before any RPC; the work starts on the first ``next()``.
        An interrupt ends the iteration with ``wts.Interrupted`` after the last item.  ``stop()`` on
        the returned ``Stream`` stops it as a first Ctrl-C does (nothing new is sent, the calls in
        flight finish and their outcomes still come, the rest are skipped as cancelled), without an
        ``Interrupted``: for a caller that has its own reason (a full audit log, say).
        """
        if own and action != "sessions":
            raise ValueError("own= marks the caller's session in a listing; actions always protect it")
        if action in ("processes", "terminate"):
            return self._process_stream(
                action,
                targets,
                dry_run=dry_run,
                allow_own=allow_own,
                allow_system=allow_system,
                exit_code=exit_code,
                progress=progress,
                filters=filters,
            )
        if action not in ("sessions", "disconnect", "logoff", "message"):
            raise ValueError(
                f"unknown action {action!r}: expected sessions, disconnect, logoff, message, processes or terminate"
            )
        if allow_system or exit_code:
            raise ValueError("allow_system and exit_code are for processes (action 'terminate')")
        if details not in (False, True, "client", "clients"):
            raise ValueError(f"details must be False, True, 'client' or 'clients', not {details!r}")
        if progress is not None and not callable(progress):
            raise TypeError("progress must be a callable taking a wts.Progress")
        # Deferred: the run loop and what it needs (filters, random, heapq, signal, threading) load with
        # the first operation, so `import wts` and `wts --help` don't pay for them.
        from ._bulk import Run
        from ._filters import Filter
        from ._selection import targets as select_targets

        filt = Filter(filters)
        message = None
        if action == "message":
            if not isinstance(title, str) or not isinstance(text, str):
                raise TypeError("a message needs title and text, both str")
            for value, what in ((style, "style"), (message_timeout, "message timeout")):
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DWORD:
                    raise ValueError(f"{what} must be an int from 0 to {MAX_DWORD}, not {value!r}")
            if wait and message_timeout == 0:
                raise ValueError(
                    "a bulk message with wait=True needs a timeout (seconds), so that a session where "
                    "nobody answers cannot hold the run for ever"
                )
            message = (title, text, style, message_timeout)
        if targets is not None and action == "sessions":
            raise ValueError("targets select sessions to act on; to list, use filters such as ids=")
        selection = None if targets is None else select_targets(self.servers, targets)
        run = Run(
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
            find_own=bool(own),
        )
        return Stream(run)

    def _process_stream(
        self,
        action: str,
        targets: Iterable[Any] | None,
        *,
        dry_run: bool,
        allow_own: bool,
        allow_system: bool,
        exit_code: int,
        progress: ProgressCallback | None,
        filters: dict[str, Any],
    ) -> Stream:
        """``stream`` for "processes" and "terminate": every argument checked before any RPC."""
        if progress is not None and not callable(progress):
            raise TypeError("progress must be a callable taking a wts.Progress")
        from ._procrun import ProcessRun
        from ._procselect import ProcessFilter, process_targets

        pfilt = ProcessFilter(filters)
        selection = None
        if action == "processes":
            if targets is not None:
                raise ValueError("targets select processes to end; to list, use filters such as pid=")
            if dry_run or allow_own or allow_system or exit_code:
                raise ValueError("dry_run, allow_own, allow_system and exit_code are for terminate, not a listing")
        else:
            if isinstance(exit_code, bool) or not isinstance(exit_code, int) or not 0 <= exit_code <= MAX_DWORD:
                raise ValueError(f"exit_code must be an int from 0 to {MAX_DWORD}, not {exit_code!r}")
            if pfilt.pids is not None and len(self.servers) > 1:
                # Each server numbers its own processes: pid 4242 is another program on every server.
                raise ValueError(
                    f"pid= names a process of one server, but this farm has {len(self.servers):,}: "
                    "make a Farm of that server, or select by name=, user= or session="
                )
            selection = None if targets is None else process_targets(self.servers, targets)
        run = ProcessRun(
            self,
            action,
            pfilt,
            targets=selection,
            dry_run=bool(dry_run),
            allow_own=bool(allow_own),
            allow_system=bool(allow_system),
            exit_code=exit_code,
            progress=progress,
        )
        return Stream(run)

    def _collect(self, action: str, **kwargs: Any) -> SessionsResult | ProcessesResult | ActionResult:
        started = time.perf_counter()
        items: list[Any] = []
        failures: list[Failure] = []
        interrupted: Interrupted | None = None
        stream = self.stream(action, **kwargs)
        run = stream._run
        try:
            for batch in run.batches():  # a list at a time: no generator step per record
                items.extend(batch)
        except Interrupted as exc:
            interrupted = exc
        if run.ledger.failures:  # the ledger counts them: no scan of the records when there are none
            kept: list[Any] = []
            for item in items:
                (failures if isinstance(item, Failure) else kept).append(item)
            items = kept
        elapsed = time.perf_counter() - started
        result: SessionsResult | ProcessesResult | ActionResult
        if action == "sessions":
            result = SessionsResult(items, failures, elapsed, interrupted is not None, stream.own)
        elif action == "processes":
            result = ProcessesResult(items, failures, elapsed, interrupted is not None)
        else:
            result = ActionResult(action, items, failures, elapsed, interrupted is not None)
        if interrupted is not None:
            raise Interrupted(result, f"interrupted: {result!r}")
        return result

    # -- operations -------------------------------------------------------------------------------

    def sessions(
        self,
        *,
        details: bool | str = False,
        progress: ProgressCallback | None = None,
        own: bool = False,
        **filters: Any,
    ) -> SessionsResult:
        """Every session of every server (one RPC per server), filtered.

        ``details=True`` adds times, lock state and idle time (one more RPC per session:
        ``SessionInfo`` records); ``details="client"`` also the client name (one more);
        ``details="clients"`` the whole client record instead, ``SessionInfo.client_info`` (name,
        address, display, build, product id and protocol: two more, WTSClientInfo and
        WTSClientProtocolType).  Filters that need times or the client fetch them for the sessions
        still in the running; the records keep the type ``details`` asks for.

        ``own=True``: ``result.own`` is the caller's own session among the records (as quser marks it
        with ``>``): one more RPC per run, to the local server, and one for a look-alike on another
        server (same id, user and station) whose logon time is not known.
        """
        result = self._collect("sessions", details=details, progress=progress, own=own, **filters)
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

    def processes(self, *, progress: ProgressCallback | None = None, **filters: Any) -> ProcessesResult:
        """Every process of every server (one WTSEnumerateProcessesExW per server, with its users'
        names), filtered: ``name=`` image-name globs (``"excel"`` matches EXCEL.EXE), ``user=`` user
        globs (as for sessions), ``session=`` session ids, ``pid=`` process ids."""
        result = self._collect("processes", progress=progress, **filters)
        assert isinstance(result, ProcessesResult)
        return result

    def terminate(
        self,
        targets: Iterable[Any] | None = None,
        *,
        dry_run: bool = False,
        exit_code: int = 0,
        allow_system: bool = False,
        allow_own: bool = False,
        progress: ProgressCallback | None = None,
        **filters: Any,
    ) -> ActionResult:
        """End the selected processes: WTSTerminateProcess each, with ``exit_code``.

        Selected: ``targets`` (``Process`` records from ``processes()``, or the Outcomes of an earlier
        terminate, such as a dry run's plan), else every process the filters match (``name=``,
        ``user=``, ``session=``, ``pid=``; ``pid=`` only on a one-server farm).  Each server is listed
        first, and each target must still be there as the same program (image, session, user):
        Windows reuses pids.  Never touched: processes of session 0 and the system's own images
        (``wts.SYSTEM_IMAGES``), unless named explicitly (by pid, by exact image name, or as targets)
        with ``allow_system=True``; processes in the caller's own session, unless ``allow_own=True``.
        Exactly one Outcome per selected process, naming its server, session, pid and image.
        """
        return self._act(
            "terminate",
            targets,
            dry_run=dry_run,
            exit_code=exit_code,
            allow_system=allow_system,
            allow_own=allow_own,
            progress=progress,
            **filters,
        )
