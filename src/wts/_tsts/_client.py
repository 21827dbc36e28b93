"""The tsts provider's client: one RD Session Host reached over MS-TSTS, answering as wtsapi32 would.

``Connections`` (one per ``Server``/``Farm`` that asked for credentials, or the default provider's)
holds the credentials, the connect timeout and one ``Client`` per server name.  A ``Client`` keeps one
SMB session and binds each pipe on first use, then reuses both for every later call, so polling a
server costs one RPC.  ``Connections.close()`` closes them all.

Each method answers what the matching WTS function returns: ``sessions()`` the rows of
WTSEnumerateSessionsExW level 1; ``query()`` the exact bytes of WTSQuerySessionInformationW's buffer
(the SDK's structs, UTF-16 strings), which src/_tsts.pxi copies into memory the table's free
functions release; actions return what the function does.  Failures raise ``TstsError`` carrying
the Win32 code wtsapi32 gives (1722, 5, 1326, 7022, ...).

Calls used (MS-TSTS): RpcGetAllSessions level 2 (one RPC for who is where), RpcGetSessionInformationEx
(details), RCMPublic's RpcGetClientData and RpcGetRemoteAddress (the client), and the LSM session
handle calls RpcOpenSession + RpcDisconnect / RpcLogoff / RpcShowMessageBox + RpcCloseSession.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .._credentials import Credentials
from .._winerror import WinError
from . import _actions, _calls
from ._auth import ClientAuth
from ._binding import Binding
from ._calls import Interface
from ._smb import DEFAULT_PORT, SmbSession

__all__ = ["Client", "Connections", "TstsError", "default_port"]

T = TypeVar("T")

# FILETIME of the Unix epoch, in 100 ns ticks since 1601.
_EPOCH_TICKS = 116_444_736_000_000_000
# WTS_INFO_CLASS values (the SDK's).
_INITIAL_PROGRAM, _WORKING_DIRECTORY = 0, 2
_SESSION_ID, _USER_NAME, _WINSTATION_NAME, _DOMAIN_NAME, _CONNECT_STATE = 4, 5, 6, 7, 8
_CLIENT_BUILD_NUMBER, _CLIENT_NAME, _CLIENT_DIRECTORY, _CLIENT_PRODUCT_ID = 9, 10, 11, 12
_CLIENT_ADDRESS, _CLIENT_DISPLAY, _CLIENT_PROTOCOL_TYPE = 14, 15, 16
_SESSION_INFO, _SESSION_INFO_EX, _IS_REMOTE_SESSION = 24, 25, 29


def default_port() -> int:
    """445, or ``WTS_TSTS_PORT`` (a test farm on an unprivileged port, a tunnel)."""
    text = os.environ.get("WTS_TSTS_PORT", "").strip()
    if not text:
        return DEFAULT_PORT
    if not text.isdigit() or not 0 < int(text) < 1 << 16:
        raise ValueError(f"WTS_TSTS_PORT={text!r} is not a TCP port (1 to 65535)")
    return int(text)


class TstsError(Exception):
    """A call failed; ``winerror`` is the Win32 code wtsapi32 reports for it."""

    def __init__(self, winerror: int, message: str) -> None:
        super().__init__(message)
        self.winerror = int(winerror)


def _filetime_now() -> int:
    return _EPOCH_TICKS + time.time_ns() // 100


def _wchars(text: str, units: int) -> bytes:
    """A fixed WCHAR[units] field: truncated to leave its NUL, zero-filled."""
    data = text.encode("utf-16-le", "surrogatepass")[: 2 * (units - 1)]
    return data + bytes(2 * units - len(data))


def _wstr(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass") + b"\x00\x00"


class Connections:
    """The credentials, connect timeout and port of a provider, and its clients by server name."""

    def __init__(
        self,
        credentials: Credentials | None = None,
        connect_timeout: float = 5.0,
        port: int | None = None,
        encrypt: bool = False,
    ) -> None:
        if not isinstance(connect_timeout, (int, float)) or not 0 < connect_timeout <= 3600:
            raise ValueError(f"connect_timeout must be a number of seconds above 0, not {connect_timeout!r}")
        self.credentials = credentials
        self.connect_timeout = float(connect_timeout)
        self.port = default_port() if port is None else port
        self.encrypt = encrypt
        self._lock = threading.Lock()
        self._clients: dict[str, Client] = {}

    def __repr__(self) -> str:
        who = self.credentials.principal if self.credentials is not None else "(ticket cache)"
        return f"Connections(user={who!r}, port={self.port}, servers={len(self._clients)})"

    def client(self, server: str) -> Client:
        """The one client of ``server`` (created now, connecting on its first call)."""
        key = server.casefold()
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                found = self._clients[key] = Client(server, self)
            return found

    def close(self) -> None:
        """Close every server's pipes and SMB session (a later call connects again).  Idempotent."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


class Client:
    """One server: its SMB session (lazily), a binding per pipe, the calls."""

    def __init__(self, server: str, connections: Connections) -> None:
        self.server = server
        self._connections = connections
        self._lock = threading.Lock()
        self._smb: SmbSession | None = None
        self._bindings: dict[str, Binding] = {}

    def __repr__(self) -> str:
        return f"Client({self.server!r}, pipes={sorted(self._bindings)})"

    # -- plumbing ------------------------------------------------------------------------------

    def _binding(self, interface: Interface) -> Binding:
        with self._lock:
            found = self._bindings.get(interface.pipe)
            if found is not None and not found.broken:
                return found
            c = self._connections
            if self._smb is None or not self._smb.connected:
                if self._smb is not None:
                    self._smb.close()
                self._smb = SmbSession(
                    self.server, c.credentials, port=c.port, connect_timeout=c.connect_timeout, encrypt=c.encrypt
                )
            served = [i for i in _INTERFACES if i.pipe == interface.pipe]
            binding = Binding(self._smb.open_pipe(interface.pipe), served, ClientAuth(c.credentials, self.server))
            self._bindings[interface.pipe] = binding
            return binding

    def _call(self, op: _calls.Op, stub: bytes, decode: Callable[[bytes], T]) -> T:
        return decode(self._binding(op.interface).call(op.interface, op.opnum, stub))

    def _fail(self, error: int, what: str, session_id: int | None = None) -> TstsError:
        where = f", session {session_id}" if session_id is not None else ""
        return TstsError(error, f"{self.server}: {what}{where} failed")

    def close(self) -> None:
        with self._lock:
            smb, self._smb, self._bindings = self._smb, None, {}
        if smb is not None:
            smb.close()

    # -- reading -------------------------------------------------------------------------------

    def sessions(self) -> list[tuple[int, int, int, str, str, str, str, str]]:
        """(exec_env_id, state, session_id, station, host, user, domain, farm) per session: one RPC
        (RpcGetAllSessions, level 2)."""
        result = self._call(
            _calls.RPC_GET_ALL_SESSIONS,
            _calls.encode_get_all_sessions_request(level=2),
            _calls.decode_get_all_sessions_response,
        )
        if result.error:
            raise self._fail(result.error, "RpcGetAllSessions")
        return [
            (
                e.exec_env_id,
                e.state,
                e.abs_session_id,
                e.session_name,
                e.host_name,
                e.user_name,
                e.domain_name,
                e.farm_name,
            )
            for e in result.entries
        ]

    def _info_ex(self, session_id: int) -> _calls.SessionInfoEx:
        result = self._call(
            _calls.RPC_GET_SESSION_INFORMATION_EX,
            _calls.encode_get_session_information_ex_request(session_id, level=1),
            _calls.decode_get_session_information_ex_response,
        )
        if result.error or result.info is None:
            raise self._fail(result.error or WinError.RPC_S_CALL_FAILED, "RpcGetSessionInformationEx", session_id)
        return result.info

    def _client_data(self, session_id: int) -> _actions.ClientData:
        result = self._call(
            _calls.RPC_GET_CLIENT_DATA,
            _actions.encode_session_id_request(session_id),
            _actions.decode_get_client_data_response,
        )
        if result.error or result.client is None:
            raise self._fail(result.error or WinError.RPC_S_CALL_FAILED, "RpcGetClientData", session_id)
        return result.client

    def query(self, session_id: int, info_class: int) -> bytes:
        """The bytes of WTSQuerySessionInformationW's buffer for ``info_class`` (the SDK's layout)."""
        if info_class in (
            _SESSION_INFO_EX,
            _SESSION_INFO,
            _SESSION_ID,
            _USER_NAME,
            _WINSTATION_NAME,
            _DOMAIN_NAME,
            _CONNECT_STATE,
        ):
            info = self._info_ex(session_id)
            return _from_info_ex(session_id, info_class, info)
        if info_class == _CLIENT_ADDRESS:
            result = self._call(
                _calls.RPC_GET_REMOTE_ADDRESS,
                _actions.encode_session_id_request(session_id),
                _actions.decode_get_remote_address_response,
            )
            if result.error:
                raise self._fail(result.error, "RpcGetRemoteAddress", session_id)
            # WTS_CLIENT_ADDRESS: the family, then (as Windows fills it) two bytes, then the address.
            address = (bytes(2) + result.address)[:20]
            return struct.pack("<I", result.family) + address + bytes(20 - len(address))
        if info_class in _CLIENT_CLASSES:
            return _from_client_data(info_class, self._client_data(session_id))
        raise TstsError(WinError.ERROR_NOT_SUPPORTED, f"{self.server}: information class {info_class} over MS-TSTS")

    # -- acting --------------------------------------------------------------------------------

    def _with_session(self, session_id: int, act: Callable[[bytes], int], what: str) -> int:
        opened = self._call(
            _calls.RPC_OPEN_SESSION,
            _actions.encode_open_session_request(session_id),
            _actions.decode_open_session_response,
        )
        if opened.error == WinError.ERROR_FILE_NOT_FOUND:
            # What Windows' LSM answers for a session that does not exist; wtsapi32's callers get 7022.
            raise self._fail(WinError.ERROR_CTX_WINSTATION_NOT_FOUND, "RpcOpenSession", session_id)
        if opened.error:
            raise self._fail(opened.error, "RpcOpenSession", session_id)
        try:
            return act(opened.handle)
        finally:
            try:
                self._call(
                    _calls.RPC_CLOSE_SESSION,
                    _actions.encode_close_session_request(opened.handle),
                    _actions.decode_close_session_response,
                )
            except Exception:
                pass

    def _status_call(self, op: _calls.Op, stub: bytes, session_id: int) -> int:
        result = self._call(op, stub, _actions.decode_status_response)
        if result.error:
            raise self._fail(result.error, op.name, session_id)
        return 0

    def disconnect(self, session_id: int) -> None:
        self._with_session(
            session_id,
            lambda h: self._status_call(_calls.RPC_DISCONNECT, _actions.encode_disconnect_request(h), session_id),
            "RpcDisconnect",
        )

    def logoff(self, session_id: int) -> None:
        self._with_session(
            session_id,
            lambda h: self._status_call(_calls.RPC_LOGOFF, _actions.encode_logoff_request(h), session_id),
            "RpcLogoff",
        )

    def message(self, session_id: int, title: str, text: str, style: int, timeout: int, wait: bool) -> int:
        """RpcShowMessageBox: the answer (IDOK ..., IDTIMEOUT, IDASYNC when not waited for)."""

        def show(handle: bytes) -> int:
            result = self._call(
                _calls.RPC_SHOW_MESSAGE_BOX,
                _actions.encode_show_message_box_request(handle, title, text, style, timeout, not wait),
                _actions.decode_show_message_box_response,
            )
            if result.error:
                raise self._fail(result.error, "RpcShowMessageBox", session_id)
            return int(result.response)

        return self._with_session(session_id, show, "RpcShowMessageBox")


_INTERFACES = (_calls.TERMSRV_ENUMERATION, _calls.TERMSRV_SESSION, _calls.RCM_PUBLIC, _calls.LEGACY_API)
_CLIENT_CLASSES = frozenset(
    {
        _INITIAL_PROGRAM,
        _WORKING_DIRECTORY,
        _CLIENT_BUILD_NUMBER,
        _CLIENT_NAME,
        _CLIENT_DIRECTORY,
        _CLIENT_PRODUCT_ID,
        _CLIENT_DISPLAY,
        _CLIENT_PROTOCOL_TYPE,
        _IS_REMOTE_SESSION,
    }
)


def _from_info_ex(session_id: int, info_class: int, info: _calls.SessionInfoEx) -> bytes:
    now = _filetime_now()  # LSM_SESSIONINFO_EX has no current time: the client's clock stands in
    if info_class == _SESSION_INFO_EX:
        level1 = (
            struct.pack("<IIi", session_id, info.state, info.flags)
            + _wchars(info.station, 33)
            + _wchars(info.user, 21)
            + _wchars(info.domain, 18)
            + bytes(4)  # to LogonTime's 8-byte alignment (offset 160)
            + struct.pack("<qqqqq", info.logon_time, info.connect_time, info.disconnect_time, info.last_input_time, now)
            + bytes(24)  # the byte and frame counters: MS-TSTS's level 1 has none
        )
        return struct.pack("<I", 1) + bytes(4) + level1
    if info_class == _SESSION_INFO:
        return (
            struct.pack("<II", info.state, session_id)
            + bytes(24)
            + _wchars(info.station, 32)
            + _wchars(info.domain, 17)
            + _wchars(info.user, 21)
            + bytes(4)
            + struct.pack("<qqqqq", info.connect_time, info.disconnect_time, info.last_input_time, info.logon_time, now)
        )
    if info_class == _SESSION_ID:
        return struct.pack("<I", session_id)
    if info_class == _CONNECT_STATE:
        return struct.pack("<I", info.state)
    text = {_USER_NAME: info.user, _WINSTATION_NAME: info.station, _DOMAIN_NAME: info.domain}[info_class]
    return _wstr(text)


def _from_client_data(info_class: int, client: Any) -> bytes:
    if info_class == _CLIENT_NAME:
        return _wstr(client.name)
    if info_class == _CLIENT_DIRECTORY:
        return _wstr(client.client_directory)
    if info_class == _INITIAL_PROGRAM:
        return _wstr(client.initial_program)
    if info_class == _WORKING_DIRECTORY:
        return _wstr(client.work_directory)
    if info_class == _CLIENT_BUILD_NUMBER:
        return struct.pack("<I", client.build)
    if info_class == _CLIENT_PRODUCT_ID:
        return struct.pack("<H", client.product_id)
    if info_class == _CLIENT_PROTOCOL_TYPE:
        return struct.pack("<H", client.protocol_type)
    if info_class == _IS_REMOTE_SESSION:
        return bytes([1 if client.protocol_type else 0])  # a BOOLEAN, as Windows answers
    return struct.pack("<III", client.h_res, client.v_res, client.color_depth)  # _CLIENT_DISPLAY
