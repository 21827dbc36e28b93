"""``Server`` and ``connect``: the WTS API for one RD Session Host, one RPC per method call.

Each method maps to exactly one WTS call, named in its docstring, so the cost of a script is plain to
read: ``sessions()`` is one WTSEnumerateSessionsExW, ``session_info()`` one WTSQuerySessionInformationW.
Arguments are checked before any RPC, so bad input fails fast with a one-line reason.

Every call has a deadline (``timeout``, as ``Farm``'s): it is made by the bulk engine's native worker
(``wts._wts.Engine``, one per call), and this thread waits for it in short slices, so a first Ctrl-C
returns at once (the call is abandoned) and a wedged server costs ``timeout``, not for ever.
``timeout=None`` makes the call directly on this thread, as before: no deadline, no early return.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from types import TracebackType
from typing import Any

from . import _wts
from ._client import client_info_from_raw, protocol_of
from ._credentials import Credentials
from ._errors import NoSuchSessionError, error_from_winerror
from ._provider import close_connections, owns_connections, resolve_provider
from ._results import Interrupted
from ._serverspec import check_server_name
from ._types import (
    CURRENT_SESSION,
    MAX_DWORD,
    MAX_SESSION_ID,
    STATES_BY_VALUE,
    ClientAddress,
    ClientInfo,
    InfoClass,
    MessageResponse,
    Process,
    Session,
    SessionInfo,
    process_from_row,
    session_info_from_ex,
    session_info_from_v1,
    state_of,
)
from ._winerror import WinError

__all__ = ["Server", "connect"]

_AF_INET, _AF_INET6 = 2, 23  # Windows' values (AF_INET6 is 23 there, not 10)
_SLICE = 0.05  # longest this thread waits in C before it looks at Ctrl-C again


def _check_timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 86400:
        raise ValueError(f"timeout must be seconds, more than 0 and at most 86400, or None, not {timeout!r}")
    return float(timeout)


def _call(
    host: _wts.Host,
    submit: Callable[[_wts.Engine, _wts.Host, float], None],
    function: str,
    session_id: int | None,
    limit: float,
    *,
    action: bool = False,
    keep: list[_wts.Engine] | None = None,
) -> Any:
    """One WTS call through an engine of one worker, with a deadline of ``limit`` seconds (0: none).

    The answer's payload, or the call's error raised: WTSTimeoutError (1460) when the deadline passed.
    Ctrl-C (KeyboardInterrupt) abandons the call at once; the worker finishes it and frees everything.
    ``keep`` (tsts): where the engine of a call that came back is kept for the next, its worker and
    the worker's Python thread state with it, instead of a thread started and ended per call."""
    server = host.name
    engine = keep.pop() if keep else _wts.Engine(1, Session, STATES_BY_VALUE)
    done: list[Any] = []
    try:
        submit(engine, host, limit)
        done = engine.wait(_SLICE)
        while not done:
            done = engine.wait(_SLICE)
    except KeyboardInterrupt:
        if not action:
            raise
        where = f"{function} on {server or 'the local server'}" + (
            f", session {session_id}" if session_id is not None else ""
        )
        raise Interrupted(None, f"interrupted: {where} was sent and abandoned; its outcome is unknown") from None
    finally:
        came_back = bool(done) and done[0][2] in (_wts.CALL_OK, _wts.CALL_FAILED)
        if keep is not None and came_back and not keep and not engine.pending:
            keep.append(engine)
        else:
            engine.close()
    [(_tag, _op, status, winerror, payload, _elapsed)] = done
    if status == _wts.CALL_OK:
        return payload
    if status == _wts.CALL_TIMEDOUT:
        detail = f"No answer within {limit:g} s."
        if action:
            detail = (
                f"No answer within {limit:g} s; it was sent, so its outcome is unknown (list the sessions to check)."
            )
        raise error_from_winerror(WinError.ERROR_TIMEOUT, function, server, session_id, detail)
    if status != _wts.CALL_FAILED:
        raise error_from_winerror(WinError.ERROR_CANCELLED, function, server, session_id)
    raise host.provider.error(winerror, function, server, session_id)


def _check_session_id(session_id: object, server: str | None) -> int:
    if isinstance(session_id, bool) or not isinstance(session_id, int):
        raise TypeError(f"session id must be an int, not {type(session_id).__name__} {session_id!r}")
    if session_id == CURRENT_SESSION:
        if server is not None:
            # On a remote server WTS_CURRENT_SESSION would name whatever session there happens to
            # share our local session's id: never what the caller means.
            raise ValueError(
                f"CURRENT_SESSION means this process's own session and is valid only on the local "
                f"server; name the session id to use on {server}"
            )
        return session_id
    if not 0 <= session_id <= MAX_SESSION_ID:
        raise ValueError(f"session id {session_id} is out of range (0 to {MAX_SESSION_ID})")
    return session_id


def _dword(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DWORD:
        raise ValueError(f"{what} must be an int from 0 to {MAX_DWORD}, not {value!r}")
    return value


def _client_address(raw: tuple[int, bytes]) -> ClientAddress:
    family, data = raw
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    # Windows puts the address after two leading bytes (where a sockaddr keeps the port).
    if family == _AF_INET:
        address = ipaddress.IPv4Address(data[2:6])
    elif family == _AF_INET6:
        address = ipaddress.IPv6Address(data[2:18])
    return ClientAddress(family, address, data)


class Server:
    """One RD Session Host: ``Server("RDS01")``, or ``Server()`` for the local one.

    A context manager; ``close()`` releases the handle (WTSCloseServer).  Opening sends nothing over
    the network, as on Windows: an unreachable server fails with ``ServerUnavailableError`` (1722) on
    its first RPC.

    The name is checked as ``wts.parse_servers`` checks one (``\\\\RDS01`` means ``RDS01``; an empty
    name, or one with a character no computer name holds, is a ValueError).  ``timeout``: seconds each
    call may take (default 30, as ``Farm``'s) before it raises ``WTSTimeoutError`` (1460); ``None``:
    wait for ever, the call made directly.

    ``credentials``, ``connect_timeout``, ``encrypt`` (SMB 3 encryption even where the server does not
    require it): the tsts provider's logon and connection (docs/remote.md).
    """

    __slots__ = ("_engines", "_handle", "_host", "_name", "_owns_connections", "_provider", "_timeout")

    def __init__(
        self,
        name: str | None = None,
        *,
        provider: str | _wts.Provider | None = None,
        timeout: float | None = 30.0,
        credentials: Credentials | None = None,
        connect_timeout: float | None = None,
        encrypt: bool = False,
    ) -> None:
        if name is not None and not isinstance(name, str):
            raise ValueError(f"server name must be a non-empty string, not {name!r}")
        self._name = None if name is None else check_server_name(name)
        self._timeout = _check_timeout(timeout)
        self._owns_connections = False
        self._provider = resolve_provider(provider, credentials, connect_timeout, encrypt)
        self._owns_connections = owns_connections(self._provider, provider)
        if self._name is None and self._provider.name == "tsts":
            raise ValueError("the tsts provider reaches servers over the network: name one (an address or a DNS name)")
        # One open handle (no network traffic): the engine's for calls with a deadline, else a direct one.
        self._host: _wts.Host | None = None
        self._handle: _wts.ServerHandle | None = None
        #: tsts: the engine of the last call that came back, for the next (see _call); None elsewhere.
        self._engines: list[_wts.Engine] | None = [] if self._provider.name == "tsts" else None
        if self._timeout is None:
            self._handle = _wts.ServerHandle(self._provider, self._name)
        else:
            self._host = _wts.Host(self._provider, self._name)

    @property
    def name(self) -> str | None:
        """The server's name (trimmed, without a leading ``\\\\``); None for the local server."""
        return self._name

    @property
    def provider(self) -> _wts.Provider:
        return self._provider

    @property
    def timeout(self) -> float | None:
        """Seconds each call may take; None: no deadline."""
        return self._timeout

    @property
    def closed(self) -> bool:
        return bool(self._handle.closed) if self._handle is not None else self._host is None

    def close(self) -> None:
        """Release the server handle (WTSCloseServer; a call still in flight keeps it until it returns).
        Idempotent."""
        if self._handle is not None:
            self._handle.close()
        self._host = None
        while self._engines:
            self._engines.pop().close()
        if self._owns_connections:  # tsts: this server's SMB session and pipes
            close_connections(self._provider)

    def _open_host(self) -> _wts.Host:
        if self._host is None:
            raise ValueError(f"server {self._name or 'local'} is closed")
        return self._host

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<wts.Server {self._name or '(local)'} via {self.provider.name}, {state}>"

    # --- reading -------------------------------------------------------------------------------

    def sessions(self) -> list[Session]:
        """Every session with its user and domain: one RPC (WTSEnumerateSessionsExW, level 1)."""
        if self._handle is not None:
            return self._handle.enumerate_sessions_ex(Session, self._name, STATES_BY_VALUE)
        result: list[Session] = _call(
            self._open_host(),
            lambda e, h, t: e.enumerate(h, 1, t),
            "WTSEnumerateSessionsExW",
            None,
            self._t(),
            keep=self._engines,
        )
        return result

    def _t(self) -> float:
        return self._timeout or 0.0

    def _query(self, sid: int, info_class: int) -> Any:
        if self._handle is not None:
            return self._handle.query(sid, info_class)
        return _call(
            self._open_host(),
            lambda e, h, t: e.query(h, sid, info_class, 1, t),
            "WTSQuerySessionInformationW",
            sid,
            self._t(),
            keep=self._engines,
        )

    def session_info(self, session_id: int) -> SessionInfo:
        """Times, lock state and idle time of one session: one RPC (WTSQuerySessionInformationW with
        WTSSessionInfoEx).

        ``idle`` follows quser: for a disconnected session, the time since it disconnected; otherwise
        the time since its last input; None when Windows reports no such time.
        """
        sid = _check_session_id(session_id, self._name)
        return session_info_from_ex(self._name, self._query(sid, int(InfoClass.SESSION_INFO_EX)))

    def client_info(self, session_id: int, *, protocol: bool = False) -> ClientInfo:
        """The session's client: name, address (IPv4 or IPv6), display, build and product id in one
        RPC (WTSQuerySessionInformationW with WTSClientInfo); with ``protocol=True``, the protocol
        type too, one more (WTSClientProtocolType).  A session with no client answers '' and zeros.
        """
        sid = _check_session_id(session_id, self._name)
        raw = self._query(sid, int(InfoClass.CLIENT_INFO))
        kind = protocol_of(self._query(sid, int(InfoClass.CLIENT_PROTOCOL_TYPE))) if protocol else None
        return client_info_from_raw(self._name, sid, raw, kind)

    def session_by_name(self, station: str) -> Session:
        """The session whose WinStation name is ``station`` (case-insensitive, as Windows compares
        them), e.g. 'RDP-Tcp#3' or 'Console': one RPC (WTSEnumerateSessionsExW)."""
        if not isinstance(station, str) or not station.strip():
            raise ValueError(f"session name must be a non-empty string, not {station!r}")
        wanted = station.strip().casefold()
        for session in self.sessions():
            if session.station.casefold() == wanted:
                return session
        raise NoSuchSessionError(
            WinError.ERROR_CTX_WINSTATION_NOT_FOUND,
            "WTSEnumerateSessionsExW",
            self._name,
            None,
            f"The specified session cannot be found: no session named {station.strip()!r}.",
        )

    def query(self, session_id: int, info_class: InfoClass | int) -> Any:
        """One WTSQuerySessionInformationW (one RPC), decoded: strings as str, CONNECT_STATE as
        ConnectState, CLIENT_PROTOCOL_TYPE as Protocol, CLIENT_ADDRESS as ClientAddress,
        IS_REMOTE_SESSION as bool, SESSION_INFO / SESSION_INFO_EX as SessionInfo, other numbers as
        int, CLIENT_DISPLAY as (width, height, colour depth)."""
        sid = _check_session_id(session_id, self._name)
        cls = InfoClass(info_class)
        raw = self._query(sid, int(cls))
        if cls is InfoClass.CONNECT_STATE:
            return state_of(raw)
        if cls is InfoClass.CLIENT_PROTOCOL_TYPE:
            return protocol_of(raw)
        if cls is InfoClass.CLIENT_ADDRESS:
            return _client_address(raw)
        if cls is InfoClass.IS_REMOTE_SESSION:
            return bool(raw)
        if cls is InfoClass.SESSION_INFO_EX:
            return session_info_from_ex(self._name, raw)
        if cls is InfoClass.SESSION_INFO:
            return session_info_from_v1(self._name, raw)
        return raw

    def processes(self) -> list[Process]:
        """Every process of every session: one RPC (WTSEnumerateProcessesExW, level 1, WTS_ANY_SESSION),
        plus one LookupAccountSidW on this server per distinct SID of the listing, to name the user
        (SYSTEM, LOCAL SERVICE and NETWORK SERVICE need none).  All of it within one ``timeout``.
        A SID the server cannot name leaves ``user`` and ``domain`` empty; ``sid`` still says it."""
        if self._handle is not None:
            rows = self._handle.processes()
        else:
            rows = _call(
                self._open_host(),
                lambda e, h, t: e.processes(h, 1, t),
                "WTSEnumerateProcessesExW",
                None,
                self._t(),
                keep=self._engines,
            )
        return [process_from_row(self._name, row) for row in rows]

    # --- acting --------------------------------------------------------------------------------

    def disconnect(self, session_id: int, wait: bool = True) -> None:
        """Disconnect a session, leaving it logged on: one RPC (WTSDisconnectSession).

        The console cannot be disconnected (ERROR_CTX_CONSOLE_DISCONNECT, 7041).
        """
        self._end(_check_session_id(session_id, self._name), False, bool(wait))

    def logoff(self, session_id: int, wait: bool = True) -> None:
        """Log a session off, ending it: one RPC (WTSLogoffSession)."""
        self._end(_check_session_id(session_id, self._name), True, bool(wait))

    def _end(self, sid: int, logoff: bool, wait: bool) -> None:
        if self._handle is not None:
            (self._handle.logoff if logoff else self._handle.disconnect)(sid, wait)
            return
        function = "WTSLogoffSession" if logoff else "WTSDisconnectSession"
        _call(
            self._open_host(),
            lambda e, h, t: e.end_session(h, sid, logoff, wait, 1, t),
            function,
            sid,
            self._t(),
            action=True,
            keep=self._engines,
        )

    def connect(self, session_id: int, *, target: int, password: str = "", wait: bool = True) -> None:
        """Connect session ``session_id`` of this server to its session ``target`` (which is
        disconnected), as tscon does; ``password`` is ``session_id``'s owner's, needed when that is
        another user.  Over ``tsts``: RpcOpenSession + RpcConnect + RpcCloseSession.  The other
        providers connect on the local server only (WTSConnectSessionW has no server handle): for a
        named server they raise ValueError; use ``wts.connect`` there.  The password never appears
        in errors or reprs."""
        sid = _check_session_id(session_id, self._name)
        dest = _check_session_id(target, self._name)  # CURRENT_SESSION: the caller's, local server only
        if sid == CURRENT_SESSION:
            raise ValueError("connect needs the id of the session to connect, not CURRENT_SESSION")
        if not isinstance(password, str):
            raise TypeError("password must be a str")
        host = self._host if self._host is not None else _wts.Host(self._provider, self._name)
        if self._handle is not None and self._handle.closed:
            raise ValueError(f"server {self._name or 'local'} is closed")
        _call(
            host,
            lambda e, h, t: e.connect(h, sid, dest, password, bool(wait), 1, t),
            "WTSConnectSessionW",
            sid,
            self._t(),
            action=True,
            keep=self._engines,
        )

    def send_message(
        self, session_id: int, title: str, text: str, *, style: int = 0, timeout: int = 0, wait: bool = False
    ) -> MessageResponse | int:
        """Show a message box in a session: one RPC (WTSSendMessageW).

        ``style`` is a MessageBox MB_* value (0: MB_OK); ``timeout`` in seconds (0: wait for ever);
        without ``wait`` the call returns at once with MessageResponse.ASYNC.
        """
        sid = _check_session_id(session_id, self._name)
        if not isinstance(title, str) or not isinstance(text, str):
            raise TypeError("message title and text must be str")
        style, timeout, wait = _dword(style, "style"), _dword(timeout, "timeout"), bool(wait)
        if self._handle is not None:
            raw = self._handle.send_message(sid, title, text, style, timeout, wait)
        else:
            # A message that waits for the answer may take its own timeout first; one that waits with
            # no timeout of its own (0) waits for the user as long as it takes: no deadline then.
            limit = 0.0 if wait and timeout == 0 else self._t() + (timeout if wait else 0)
            raw = _call(
                self._open_host(),
                lambda e, h, t: e.message(h, sid, title, text, style, timeout, wait, 1, t),
                "WTSSendMessageW",
                sid,
                limit,
                action=True,
                keep=self._engines,
            )
        return MessageResponse(raw) if raw in MessageResponse._value2member_map_ else raw

    def terminate_process(self, pid: int, exit_code: int = 0) -> None:
        """End a process: one RPC (WTSTerminateProcess).  An id the server has no process for fails
        with ERROR_INVALID_PARAMETER (87), as Windows' OpenProcess does; one the caller may not end,
        with ERROR_ACCESS_DENIED (5)."""
        pid, code = _dword(pid, "process id"), _dword(exit_code, "exit code")
        if self._handle is not None:
            self._handle.terminate_process(pid, code)
            return
        _call(
            self._open_host(),
            lambda e, h, t: e.terminate(h, pid, code, 1, t),
            "WTSTerminateProcess",
            None,
            self._t(),
            action=True,
            keep=self._engines,
        )


def connect(
    session_id: int,
    *,
    target: int | None = None,
    password: str = "",
    wait: bool = True,
    provider: str | _wts.Provider | None = None,
    timeout: float | None = 30.0,
) -> None:
    """Connect session ``session_id`` to ``target`` (default: this process's own session), as tscon
    does: one RPC (WTSConnectSessionW).  Local server only, as WTSConnectSessionW is; the target is
    disconnected.  ``password`` is the session owner's, needed when that is another user.
    ``timeout`` as ``Server``'s: past it, ``WTSTimeoutError`` (the outcome is unknown); None: no deadline.
    """
    limit = _check_timeout(timeout)
    sid = _check_session_id(session_id, None)
    if sid == CURRENT_SESSION:
        raise ValueError("connect needs the id of the session to connect, not CURRENT_SESSION")
    dest = CURRENT_SESSION if target is None else _check_session_id(target, None)
    if not isinstance(password, str):
        raise TypeError("password must be a str")
    prov = resolve_provider(provider)
    if limit is None:
        _wts.connect_session(prov, sid, dest, password, bool(wait))
        return
    host = _wts.Host(prov, None)
    _call(
        host,
        lambda e, h, t: e.connect(h, sid, dest, password, bool(wait), 1, t),
        "WTSConnectSessionW",
        sid,
        limit,
        action=True,
    )
