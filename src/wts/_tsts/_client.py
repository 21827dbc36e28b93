"""The tsts provider's client: one RD Session Host reached over MS-TSTS, answering as wtsapi32 would.

``Connections`` (``_connections``: one per ``Server``/``Farm`` that asked for credentials, or the
default provider's) holds the credentials, the connect timeout and one ``Client`` per server name.
A ``Client`` keeps one SMB session and binds each pipe on first use, then reuses both for every later
call, so polling a server costs one RPC.  ``Connections.close()`` closes them all.

Each method answers what the matching WTS function returns: ``sessions()`` the rows of
WTSEnumerateSessionsExW level 1; ``query()`` the exact bytes of WTSQuerySessionInformationW's buffer
(the SDK's structs, UTF-16 strings), which src/_tsts.pxi copies into memory the table's free
functions release; actions return what the function does.  Failures raise ``TstsError`` carrying
the Win32 code wtsapi32 gives (1722, 5, 1326, 7022, ...).

Calls used (MS-TSTS): RpcGetAllSessions level 2 (one RPC for who is where), RpcGetSessionInformationEx
(details), RCMPublic's RpcGetClientData (the client: every client class and the whole WTSCLIENTW).  Actions take one RPC
each on the legacy API (``Ctx_WinStation_API_service``): RpcWinStationDisconnect, RpcWinStationReset
(what WTSLogoffSession is: MS-TSTS 3.7.4.1.13, the user logged off and the client disconnected) and
RpcWinStationSendMessage, on the connection's server handle (RpcWinStationOpenServer once, kept).  A
server that does not serve that pipe (or that interface) gets the LSM session-handle calls instead,
RpcOpenSession + RpcDisconnect / RpcLogoff / RpcShowMessageBox + RpcCloseSession (three RPCs), and
the client remembers it for as long as it lives.  RpcConnect is on the LSM path only.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from .._winerror import WinError
from . import _actions, _answers, _calls, _legacy, _lsat, _processes
from ._auth import ClientAuth
from ._binding import Binding, RpcError
from ._calls import Interface
from ._connections import ConnectionsBase, default_addresses, default_port
from ._smb import SmbError, SmbSession

__all__ = ["Client", "Connections", "TstsError", "default_addresses", "default_port"]

T = TypeVar("T")


class _Opened(Protocol):
    """What a call that opens a handle answers (HandleResult, LegacyResult)."""

    @property
    def handle(self) -> bytes: ...

    @property
    def error(self) -> int: ...


class TstsError(Exception):
    """A call failed; ``winerror`` is the Win32 code wtsapi32 reports for it."""

    def __init__(self, winerror: int, message: str, answer: bool = False) -> None:
        super().__init__(message)
        self.winerror = int(winerror)
        #: The server answered the call with this code (Windows' text for it says all there is).
        self.answer = answer


class Connections(ConnectionsBase):
    """The credentials, connect timeout and port of a provider, and its clients by server name."""

    def client(self, server: str) -> Client:
        """The one client of ``server`` (created now, connecting on its first call)."""
        key = server.casefold()
        with self._lock:
            found: Client | None = self._clients.get(key)
            if found is None:
                found = self._clients[key] = Client(server, self)
            return found


class Client:
    """One server: its SMB session (lazily), a binding per pipe, the calls."""

    def __init__(self, server: str, connections: Connections) -> None:
        self.server = server
        self._connections = connections
        self._lock = threading.Lock()
        self._smb: SmbSession | None = None
        self._bindings: dict[str, Binding] = {}
        self._handles: dict[str, tuple[Binding, bytes]] = {}  # interface name -> (its binding, handle)
        self._handle_lock = threading.Lock()  # one open of a handle at a time
        # thread -> (the SIDs of its last process listing, the names found for them)
        self._lookups: dict[int, tuple[list[bytes], dict[bytes, _lsat.Name | None]]] = {}
        #: The server does not serve the legacy API: actions take the LSM path (remembered).
        self.legacy_absent = False
        #: RPCs sent, by name (tests and benchmarks count them).
        self.rpcs: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"Client({self.server!r}, pipes={sorted(self._bindings)})"

    # -- plumbing ------------------------------------------------------------------------------

    def _binding(self, interface: Interface) -> Binding:
        with self._lock:
            found = self._bindings.get(interface.pipe)
            if found is not None and not found.broken:
                return found
            c = self._connections
            fresh = self._smb is None or not self._smb.connected
            if fresh:
                self._connect()
            assert self._smb is not None
            try:
                pipe = self._smb.open_pipe(interface.pipe)
            except SmbError:
                if fresh or self._smb.connected:
                    raise  # an answer about the pipe, or a connection just made that failed
                # The connection was found gone (a server drops an idle one): opening a pipe changes
                # nothing on the server, so once more on a new connection.
                self._connect()
                pipe = self._smb.open_pipe(interface.pipe)
            served = [i for i in _INTERFACES if i.pipe == interface.pipe]
            auth = ClientAuth(c.credentials, self.server, secret=c.secret())
            binding = Binding(pipe, served, auth)
            self._bindings[interface.pipe] = binding
            return binding

    def _connect(self) -> None:
        """A new SmbSession (connecting on its first pipe) in place of the one before, whose pipes,
        bindings and handles go with it; the lock held."""
        c = self._connections
        if self._smb is not None:
            self._smb.close()
        self._bindings.clear()
        self._smb = SmbSession(
            self.server,
            c.credentials,
            port=c.port,
            connect_timeout=c.connect_timeout,
            encrypt=c.encrypt,
            secret=c.secret(),
            address=c.addresses.get(self.server.casefold()),
        )

    def _call(self, op: _calls.Op, stub: bytes, decode: Callable[[bytes], T], *, resend: bool = False) -> T:
        """``op`` with ``stub``, decoded.  ``resend``: the stub names no handle of the connection, so
        when the connection turns out to be gone before anything was sent (a server drops an idle
        one: 1727), it goes once more on a new connection instead of failing."""
        binding = self._binding(op.interface)
        self.rpcs[op.name] = self.rpcs.get(op.name, 0) + 1
        try:
            return decode(binding.call(op.interface, op.opnum, stub))
        except (RpcError, SmbError) as exc:
            if not (resend and exc.winerror == WinError.RPC_S_CALL_FAILED_DNE and binding.broken):
                raise
        binding = self._binding(op.interface)
        self.rpcs[op.name] += 1
        return decode(binding.call(op.interface, op.opnum, stub))

    def note_failure(self, code: int, exc: BaseException) -> None:
        self._connections.note_failure(self.server, code, exc)

    def _fail(self, error: int, what: str, session_id: int | None = None) -> TstsError:
        where = f", session {session_id}" if session_id is not None else ""
        return TstsError(error, f"{self.server}: {what}{where} failed", answer=True)

    def _handle(self, op: _calls.Op, stub: bytes, decode: Callable[[bytes], _Opened]) -> bytes:
        """The handle ``op`` opens (RpcWinStationOpenServer, LsarOpenPolicy2), opened once per
        binding: every later call on that pipe reuses it, a new binding (after a reconnect) opens
        its own."""
        with self._handle_lock:
            binding = self._binding(op.interface)
            held = self._handles.get(op.interface.name)
            if held is not None and held[0] is binding:
                return held[1]
            self.rpcs[op.name] = self.rpcs.get(op.name, 0) + 1
            result = decode(binding.call(op.interface, op.opnum, stub))
            if result.error:
                raise self._fail(result.error, op.name)
            self._handles[op.interface.name] = (binding, result.handle)
            return result.handle

    def _server_handle(self) -> bytes:
        open_server = _calls.RPC_WINSTATION_OPEN_SERVER
        return self._handle(open_server, _actions.encode_open_server_request(), _actions.decode_open_server_response)

    def close(self) -> None:
        with self._lock:
            smb, self._smb, self._bindings, self._handles = self._smb, None, {}, {}
        if smb is not None:
            smb.close()

    # -- reading -------------------------------------------------------------------------------

    def sessions(self) -> list[tuple[int, int, int, str, str, str, str, str]]:
        """(exec_env_id, state, session_id, station, host, user, domain, farm) per session: one RPC
        (RpcGetAllSessions, level 2)."""
        return self.session_rows(self.sessions_answer())

    def sessions_answer(self) -> bytes:
        """RpcGetAllSessions (level 2): its response stub, not decoded.  The tsts provider reads the
        common answer (every entry at level 2, success) straight into WTS_SESSION_INFO_1W in C, and
        hands anything else to ``session_rows``: one RPC either way."""
        return self._call(
            _calls.RPC_GET_ALL_SESSIONS, _calls.encode_get_all_sessions_request(level=2), bytes, resend=True
        )

    def session_rows(self, stub: bytes) -> list[tuple[int, int, int, str, str, str, str, str]]:
        """``sessions()``'s rows from a ``sessions_answer()``; TstsError for a refusal."""
        result = _calls.decode_get_all_sessions_response(stub)
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
            resend=True,
        )
        if result.error or result.info is None:
            raise self._fail(result.error or WinError.RPC_S_CALL_FAILED, "RpcGetSessionInformationEx", session_id)
        return result.info

    def _client_data(self, session_id: int) -> _actions.ClientData:
        result = self._call(
            _calls.RPC_GET_CLIENT_DATA,
            _actions.encode_session_id_request(session_id),
            _actions.decode_get_client_data_response,
            resend=True,
        )
        if result.error or result.client is None:
            raise self._fail(result.error or WinError.RPC_S_CALL_FAILED, "RpcGetClientData", session_id)
        return result.client

    def query(self, session_id: int, info_class: int) -> bytes:
        """The bytes of WTSQuerySessionInformationW's buffer for ``info_class`` (the SDK's layout)."""
        if info_class in _answers.INFO_EX_CLASSES:
            return _answers.from_info_ex(session_id, info_class, self._info_ex(session_id))
        if info_class in _answers.CLIENT_CLASSES:
            return _answers.from_client_data(info_class, self._client_data(session_id))
        if info_class == _answers.CLIENT_INFO:
            return _answers.client_record(self._client_data(session_id))
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

    def _legacy_server(self) -> bytes | None:
        """The connection's legacy server handle (RpcWinStationOpenServer once, kept); None when
        the server does not serve the legacy API (then the LSM path, remembered)."""
        if self.legacy_absent:
            return None
        try:
            return self._server_handle()
        except (SmbError, RpcError) as exc:
            if not self._not_served(exc):
                raise
            self.legacy_absent = True
            return None

    def _not_served(self, exc: SmbError | RpcError) -> bool:
        """The legacy pipe is not there (RDP disabled: nobody listens on it) or does not take the
        interface, on a server whose SMB session is up: the LSM pipe can still do the action."""
        smb = self._smb
        if smb is None or not smb.connected:
            return False
        if isinstance(exc, SmbError):
            return exc.winerror == WinError.RPC_S_SERVER_UNAVAILABLE
        return exc.winerror == WinError.RPC_S_UNKNOWN_IF and exc.executed is False

    def _legacy_status(self, op: _calls.Op, stub: bytes, session_id: int) -> None:
        result = self._call(op, stub, _actions.decode_legacy_response)
        if result.error:
            raise self._fail(result.error, op.name, session_id)

    def disconnect(self, session_id: int, wait: bool = False) -> None:
        """RpcWinStationDisconnect (one RPC), or the LSM path."""
        handle = self._legacy_server()
        if handle is not None:
            stub = _actions.encode_winstation_action_request(handle, session_id, wait)
            self._legacy_status(_calls.RPC_WINSTATION_DISCONNECT, stub, session_id)
            return
        self._with_session(
            session_id,
            lambda h: self._status_call(_calls.RPC_DISCONNECT, _actions.encode_disconnect_request(h), session_id),
            "RpcDisconnect",
        )

    def logoff(self, session_id: int, wait: bool = False) -> None:
        """RpcWinStationReset (one RPC: what WTSLogoffSession does), or the LSM path."""
        handle = self._legacy_server()
        if handle is not None:
            stub = _actions.encode_winstation_action_request(handle, session_id, wait)
            self._legacy_status(_calls.RPC_WINSTATION_RESET, stub, session_id)
            return
        self._with_session(
            session_id,
            lambda h: self._status_call(_calls.RPC_LOGOFF, _actions.encode_logoff_request(h), session_id),
            "RpcLogoff",
        )

    def message(self, session_id: int, title: str, text: str, style: int, timeout: int, wait: bool) -> int:
        """The answer (IDOK ..., IDTIMEOUT, IDASYNC when not waited for): RpcWinStationSendMessage
        (one RPC), or RpcShowMessageBox on the LSM path (also for a title or text longer than the
        legacy call's 1,023 units)."""
        handle = self._legacy_server()
        if handle is not None:
            try:
                stub = _legacy.encode_send_message_request(handle, session_id, title, text, style, timeout, not wait)
            except ValueError:
                stub = b""
            if stub:
                sent = self._call(_calls.RPC_WINSTATION_SEND_MESSAGE, stub, _legacy.decode_send_message_response)
                if sent.error:
                    raise self._fail(sent.error, "RpcWinStationSendMessage", session_id)
                return int(sent.response)

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

    def connect(self, session_id: int, target: int, password: str) -> None:
        """RpcOpenSession(session_id) + RpcConnect(target, password) + RpcCloseSession, as tscon
        over the network: the session's user gets ``target``'s display."""
        self._with_session(
            session_id,
            lambda h: self._status_call(
                _calls.RPC_CONNECT, _actions.encode_connect_request(h, target, password), session_id
            ),
            "RpcConnect",
        )

    # -- processes and their accounts ---------------------------------------------------------

    def processes(self, session_id: int = _answers.ANY_SESSION) -> list[tuple[object, ...]]:
        """WTSEnumerateProcessesExW's rows (``_answers.process_rows``): one RpcWinStationGetAllProcesses
        on the connection's server handle (and RpcWinStationOpenServer once per connection).  The
        SIDs are kept for ``account``: the first lookup names them all in one RPC."""
        result = self._call(
            _calls.RPC_WINSTATION_GET_ALL_PROCESSES,
            _processes.encode_get_all_processes_request(self._server_handle()),
            _processes.decode_get_all_processes_response,
        )
        if result.error:
            raise self._fail(result.error, "RpcWinStationGetAllProcesses")
        rows = _answers.process_rows(result.processes, session_id)
        if not rows and session_id != _answers.ANY_SESSION and all(s[2] != session_id for s in self.sessions()):
            # wtsapi32 says the session does not exist (one more RPC, only when nothing was listed)
            raise self._fail(WinError.ERROR_CTX_WINSTATION_NOT_FOUND, "RpcWinStationGetAllProcesses", session_id)
        sids = list(dict.fromkeys(bytes(r[3]) for r in rows if r[3]))
        with self._lock:
            self._lookups[threading.get_ident()] = (sids, {})
        _LISTED[threading.get_ident()] = weakref.ref(self)
        return rows

    def terminate_process(self, pid: int, exit_code: int = 0) -> None:
        """RpcWinStationTerminateProcess on the connection's server handle: one RPC."""
        result = self._call(
            _calls.RPC_WINSTATION_TERMINATE_PROCESS,
            _actions.encode_terminate_process_request(self._server_handle(), pid, exit_code),
            _actions.decode_legacy_response,
        )
        if result.error:
            raise self._fail(result.error, f"RpcWinStationTerminateProcess of process {pid}")

    def lookup_sids(self, sids: Sequence[bytes]) -> list[_lsat.Name | None]:
        """LsarLookupSids of ``sids`` in one RPC (LsarOpenPolicy2 once per connection): a Name per
        SID, None for one the server cannot name."""
        handle = self._handle(
            _lsat.LSAR_OPEN_POLICY2, _lsat.encode_open_policy2_request(), _lsat.decode_open_policy2_response
        )
        result = self._call(
            _lsat.LSAR_LOOKUP_SIDS, _lsat.encode_lookup_sids_request(handle, sids), _lsat.decode_lookup_sids_response
        )
        if result.error == WinError.ERROR_NONE_MAPPED:
            return [None] * len(sids)
        if result.error:
            raise self._fail(result.error, "LsarLookupSids")
        if len(result.names) != len(sids):
            raise self._fail(WinError.RPC_S_CALL_FAILED, f"LsarLookupSids: {len(result.names)} names for {len(sids)}")
        return [None if n.use == _lsat.SID_TYPE_UNKNOWN else n for n in result.names]

    def account(self, sid: bytes) -> _lsat.Name:
        """LookupAccountSidW on this server: the first lookup after a process listing in this thread
        names every SID of that listing in one LsarLookupSids; the rest answer from it.  A SID the
        server cannot name raises 1332 (ERROR_NONE_MAPPED), as LookupAccountSidW does."""
        ident = threading.get_ident()
        with self._lock:
            pending, found = self._lookups.get(ident, ([], {}))
        if sid not in found:
            batch = [s for s in pending if s not in found] if sid in pending else [sid]
            found.update(zip(batch, self.lookup_sids(batch)))
            with self._lock:
                self._lookups[ident] = (pending, found)
        name = found[sid]
        if name is None:
            raise TstsError(WinError.ERROR_NONE_MAPPED, f"{self.server}: no account has SID {_lsat.sid_text(sid)}")
        return name


#: thread -> the Client whose process listing that thread made last (LookupAccountSidW names a server,
#: not a handle: the lookups that follow a listing go to the same connection).
_LISTED: dict[int, weakref.ref[Client]] = {}


def lookup_account(server: str, sid: bytes) -> _lsat.Name:
    """LookupAccountSidW(server, sid) for src/_tsts.pxi: through the connection that listed this
    thread's last processes on ``server``; any other lookup is 50 (no connection to make it on)."""
    ref = _LISTED.get(threading.get_ident())
    client = ref() if ref is not None else None
    if client is None or client.server.casefold() != server.casefold():
        raise TstsError(WinError.ERROR_NOT_SUPPORTED, f"{server}: LookupAccountSidW outside a process listing")
    return client.account(sid)


_INTERFACES = (
    _calls.TERMSRV_ENUMERATION,
    _calls.TERMSRV_SESSION,
    _calls.RCM_PUBLIC,
    _calls.LEGACY_API,
    _lsat.LSARPC,
)
