"""``Server`` and ``connect``: the WTS API for one RD Session Host, one RPC per method call.

Each method maps to exactly one WTS call, named in its docstring, so the cost of a script is plain to
read: ``sessions()`` is one WTSEnumerateSessionsExW, ``session_info()`` one WTSQuerySessionInformationW.
Arguments are checked before any RPC, so bad input fails fast with a one-line reason.
"""

from __future__ import annotations

import ipaddress
from types import TracebackType
from typing import Any

from . import _wts
from ._errors import NoSuchSessionError
from ._provider import resolve_provider
from ._types import (
    CURRENT_SESSION,
    MAX_DWORD,
    MAX_SESSION_ID,
    STATES_BY_VALUE,
    ClientAddress,
    InfoClass,
    MessageResponse,
    Protocol,
    Session,
    SessionInfo,
    session_info_from_ex,
    session_info_from_v1,
    state_of,
)
from ._winerror import WinError

__all__ = ["Server", "connect"]

_AF_INET, _AF_INET6 = 2, 23  # Windows' values (AF_INET6 is 23 there, not 10)


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
    """

    __slots__ = ("_handle", "_name")

    def __init__(self, name: str | None = None, *, provider: str | _wts.Provider | None = None) -> None:
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ValueError(f"server name must be a non-empty string, not {name!r}")
        self._name = name.strip() if name is not None else None
        self._handle = _wts.ServerHandle(resolve_provider(provider), self._name)

    @property
    def name(self) -> str | None:
        """The server's name as given; None for the local server."""
        return self._name

    @property
    def provider(self) -> _wts.Provider:
        return self._handle.provider

    @property
    def closed(self) -> bool:
        return bool(self._handle.closed)

    def close(self) -> None:
        """Release the server handle (WTSCloseServer). Idempotent."""
        self._handle.close()

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
        return self._handle.enumerate_sessions_ex(Session, self._name, STATES_BY_VALUE)

    def session_info(self, session_id: int) -> SessionInfo:
        """Times, lock state and idle time of one session: one RPC (WTSQuerySessionInformationW with
        WTSSessionInfoEx).

        ``idle`` follows quser: for a disconnected session, the time since it disconnected; otherwise
        the time since its last input; None when Windows reports no such time.
        """
        sid = _check_session_id(session_id, self._name)
        return session_info_from_ex(self._name, self._handle.session_info_ex(sid))

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
        raw = self._handle.query(sid, int(cls))
        if cls is InfoClass.CONNECT_STATE:
            return state_of(raw)
        if cls is InfoClass.CLIENT_PROTOCOL_TYPE:
            return Protocol(raw) if raw in Protocol._value2member_map_ else raw
        if cls is InfoClass.CLIENT_ADDRESS:
            return _client_address(raw)
        if cls is InfoClass.IS_REMOTE_SESSION:
            return bool(raw)
        if cls is InfoClass.SESSION_INFO_EX:
            return session_info_from_ex(self._name, raw)
        if cls is InfoClass.SESSION_INFO:
            return session_info_from_v1(self._name, raw)
        return raw

    # --- acting --------------------------------------------------------------------------------

    def disconnect(self, session_id: int, wait: bool = True) -> None:
        """Disconnect a session, leaving it logged on: one RPC (WTSDisconnectSession).

        The console cannot be disconnected (ERROR_CTX_CONSOLE_DISCONNECT, 7041).
        """
        sid = _check_session_id(session_id, self._name)
        self._handle.disconnect(sid, bool(wait))

    def logoff(self, session_id: int, wait: bool = True) -> None:
        """Log a session off, ending it: one RPC (WTSLogoffSession)."""
        sid = _check_session_id(session_id, self._name)
        self._handle.logoff(sid, bool(wait))

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
        raw = self._handle.send_message(
            sid, title, text, _dword(style, "style"), _dword(timeout, "timeout"), bool(wait)
        )
        return MessageResponse(raw) if raw in MessageResponse._value2member_map_ else raw


def connect(
    session_id: int,
    *,
    target: int | None = None,
    password: str = "",
    wait: bool = True,
    provider: str | _wts.Provider | None = None,
) -> None:
    """Connect session ``session_id`` to ``target`` (default: this process's own session), as tscon
    does: one RPC (WTSConnectSessionW).  Local server only, as WTSConnectSessionW is; the target is
    disconnected.  ``password`` is the session owner's, needed when that is another user.
    """
    sid = _check_session_id(session_id, None)
    if sid == CURRENT_SESSION:
        raise ValueError("connect needs the id of the session to connect, not CURRENT_SESSION")
    dest = CURRENT_SESSION if target is None else _check_session_id(target, None)
    if not isinstance(password, str):
        raise TypeError("password must be a str")
    _wts.connect_session(resolve_provider(provider), sid, dest, password, bool(wait))
