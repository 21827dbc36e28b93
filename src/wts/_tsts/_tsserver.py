"""The MS-TSTS calls ``wts sim serve`` answers, each made on the simulated farm.

API: ``Farm()`` reaches the sim through the public API (one ``wts.Server(name, provider="sim")`` per
server, calls in worker threads, so effects are real and ``wts.sim`` sees them); ``Calls(server,
farm)`` is one association's state (its context handles); ``HANDLERS[(interface uuid, opnum)]`` is
``async (calls, stub) -> response stub``, decoding with ``_calls`` / ``_actions`` and encoding the
answer, errors in the call's own status as TermSrv gives them.  ``Fault(status)`` is raised for what
the RPC runtime reports as a fault instead: a context handle the association does not hold
(``nca_s_fault_context_mismatch``), a server the farm makes unreachable (1722) or busy (1723), a
call that failed in transit (1726, a hang released) or was never sent (1727).

Where the sim and Windows differ, the answer follows Windows as MS-TSTS and tstool.py show it:
RpcOpenSession of a session that does not exist fails with HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND);
RpcConnect works on the farm's local server only (the sim's WTSConnectSessionW acts there, with
its ``current_session`` as the caller).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

from .. import _wts
from .._farmfile._compiled import prompt_servers
from .._types import InfoClass
from .._winerror import WinError
from . import _actions, _calls, _legacy, _processes, _status

__all__ = ["HANDLERS", "CallFailed", "Calls", "Farm", "Fault"]  # CallFailed: a WTSError from the sim

_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)
#: What the sim fails with that is the RPC runtime's to report (a fault), not TermSrv's (a status).
_TRANSPORT_FAULTS = {
    WinError.RPC_S_SERVER_UNAVAILABLE,
    WinError.RPC_S_SERVER_TOO_BUSY,
    WinError.RPC_S_CALL_FAILED,
    WinError.RPC_S_CALL_FAILED_DNE,
}
_LOCK, _UNLOCK, _UNKNOWN = 0, 1, -1  # WTS_SESSIONSTATE_* (MS-TSTS 2.2.2.11 SessionFlags)
_HANDLE_SIZE = 20


def _ticks(moment: datetime | None) -> int:
    """FILETIME ticks (0: never)."""
    if moment is None:
        return 0
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


class CallFailed(Exception):
    """A call the farm refused with ``winerror``."""

    def __init__(self, winerror: int) -> None:
        super().__init__(winerror)
        self.winerror = int(winerror)


class Fault(Exception):
    """The call ends in a fault PDU with ``status`` (an nca_s_* value or a Win32 code)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = int(status)


class Farm:
    """The sim farm as the server reaches it: one ``wts.Server`` per server name.  A call to a server
    whose simulated calls wait (its ``latency_ms`` or ``jitter_ms``, or a ``hang`` fault) runs in a
    thread (the sim sleeps outside every lock, so calls to one server overlap as on a network); any
    other returns in microseconds and runs in the event loop itself, which saves the hop to a thread
    and back (a third of the served farm's CPU per warm listing).  Which servers wait is read from
    the farm loaded at the first call."""

    def __init__(self, workers: int = 64) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wts-serve")
        self._servers: dict[str, Any] = {}
        #: Casefolded names of the servers that never wait, and the local server (a call without a
        #: server name): read once, from the farm loaded now or, if none is yet, at the first call.
        self._prompt: tuple[frozenset[str], str] | None = None
        if _wts.sim_loaded():
            self._prompt = prompt_servers(_wts.sim_dump() or "")

    def _answers_at_once(self, server: str | None) -> bool:
        if self._prompt is None:
            self._prompt = prompt_servers(_wts.sim_dump() or "")
        prompt, local = self._prompt
        return (server if server is not None else local).casefold() in prompt

    def close(self) -> None:
        """Stop taking calls and release every server handle (a call still running keeps its own
        until it returns, as WTSCloseServer allows).  Calls stuck on a 'hang' server are released
        (they fail with 1726): the worker threads must end for the process to exit."""
        import wts

        self._executor.shutdown(wait=False, cancel_futures=True)
        wts.sim.release_hangs()
        for server in self._servers.values():
            server.close()
        self._servers.clear()

    def _server(self, name: str) -> Any:
        import wts

        server = self._servers.get(name)
        if server is None:
            server = self._servers[name] = wts.Server(name, provider="sim", timeout=None)
        return server

    async def call(self, server: str | None, method: str, *args: Any, **kwargs: Any) -> Any:
        """``wts.Server(server).method(*args)`` (``wts.method`` when ``server`` is None) in a worker
        thread; a WTSError becomes CallFailed."""
        import wts

        def run() -> Any:
            try:
                if server is None:
                    return getattr(wts, method)(*args, provider="sim", timeout=None, **kwargs)
                return getattr(self._server(server), method)(*args, **kwargs)
            except wts.WTSError as exc:
                raise CallFailed(exc.winerror) from None

        if self._answers_at_once(server):
            return run()
        return await asyncio.get_running_loop().run_in_executor(self._executor, run)


class Calls:
    """One association's calls on one server: its context handles, and the farm."""

    def __init__(self, server: str, farm: Farm) -> None:
        self.server = server
        self.farm = farm
        self.handles: dict[bytes, tuple[str, int]] = {}  # handle -> (kind, session id)

    async def farm_call(self, method: str, *args: Any, local: bool = False, **kwargs: Any) -> tuple[Any, int]:
        """(result, 0), or (None, the Win32 code the call failed with); a server the farm makes
        unreachable or busy raises Fault (1722 / 1723, as the RPC runtime gives them)."""
        try:
            return await self.farm.call(None if local else self.server, method, *args, **kwargs), 0
        except CallFailed as exc:
            if exc.winerror in _TRANSPORT_FAULTS:
                raise Fault(_status.fault_from_win32(exc.winerror)) from None
            return None, exc.winerror

    def new_handle(self, kind: str, session_id: int = 0) -> bytes:
        handle = bytes(4) + os.urandom(_HANDLE_SIZE - 4)
        self.handles[handle] = (kind, session_id)
        return handle

    def held(self, handle: bytes, kind: str) -> int:
        """The session id a handle of ``kind`` stands for; a handle this association does not hold
        (stale, of another kind, made up) is the fault the RPC runtime gives."""
        held_kind, session_id = self.handles.get(handle, ("", 0))
        if held_kind != kind:
            raise Fault(_status.FAULT_CONTEXT_MISMATCH)
        return session_id


Handler = Callable[[Calls, bytes], Awaitable[bytes]]


# -- TermSrvEnumeration --------------------------------------------------------------------------------


async def _open_enum(calls: Calls, stub: bytes) -> bytes:
    _calls.decode_open_enum_request(stub)
    return _calls.encode_open_enum_response(calls.new_handle("enum"))


async def _close_enum(calls: Calls, stub: bytes) -> bytes:
    handle = _calls.decode_close_enum_request(stub)
    calls.held(handle, "enum")
    del calls.handles[handle]
    return _calls.encode_close_enum_response(bytes(_HANDLE_SIZE))


async def _get_enum_result(calls: Calls, stub: bytes) -> bytes:
    handle, level = _calls.decode_get_enum_result_request(stub)
    calls.held(handle, "enum")
    if level not in (1, 2):
        return _calls.encode_get_enum_result_response([], 1, WinError.ERROR_INVALID_PARAMETER)
    sessions, error = await calls.farm_call("sessions")
    if error:
        return _calls.encode_get_enum_result_response([], level, error)
    entries = [_calls.EnumEntry(s.id, int(s.state), s.station) for s in sessions]
    return _calls.encode_get_enum_result_response(entries, level)


async def _get_all_sessions(calls: Calls, stub: bytes) -> bytes:
    level = _calls.decode_get_all_sessions_request(stub)
    if level not in (1, 2):
        return _calls.encode_get_all_sessions_response([], 1, WinError.ERROR_INVALID_PARAMETER)
    sessions, error = await calls.farm_call("sessions")
    if error:
        return _calls.encode_get_all_sessions_response([], level, error)
    entries = [
        _calls.ExecEnvEntry(s.id, int(s.state), s.station, s.id, calls.server, s.user, s.domain, "") for s in sessions
    ]
    return _calls.encode_get_all_sessions_response(entries, level)


# -- TermSrvSession ------------------------------------------------------------------------------------


async def _get_session_information_ex(calls: Calls, stub: bytes) -> bytes:
    session_id, level = _calls.decode_get_session_information_ex_request(stub)
    if level != 1:
        return _calls.encode_get_session_information_ex_response(None, WinError.ERROR_INVALID_PARAMETER)
    info, error = await calls.farm_call("session_info", session_id % (1 << 32))  # the wire has it signed
    if error:
        return _calls.encode_get_session_information_ex_response(None, error)
    flags = _UNKNOWN if info.locked is None else _LOCK if info.locked else _UNLOCK
    ex = _calls.SessionInfoEx(
        int(info.state),
        flags,
        info.station,
        info.domain,
        info.user,
        _ticks(info.connect_time),
        _ticks(info.disconnect_time),
        _ticks(info.logon_time),
        _ticks(info.last_input_time),
    )
    return _calls.encode_get_session_information_ex_response(ex)


async def _open_session(calls: Calls, stub: bytes) -> bytes:
    session_id = _actions.decode_open_session_request(stub) % (1 << 32)
    sessions, error = await calls.farm_call("sessions")
    if not error and not any(s.id == session_id for s in sessions):
        error = WinError.ERROR_FILE_NOT_FOUND  # what Windows answers (tstool.py tests for it)
    if error:
        return _actions.encode_open_session_response(bytes(_HANDLE_SIZE), error)
    return _actions.encode_open_session_response(calls.new_handle("session", session_id))


async def _close_session(calls: Calls, stub: bytes) -> bytes:
    handle = _actions.decode_close_session_request(stub)
    calls.held(handle, "session")
    del calls.handles[handle]
    return _actions.encode_close_session_response()


async def _session_action(calls: Calls, handle: bytes, method: str, *args: Any) -> bytes:
    session_id = calls.held(handle, "session")
    _, error = await calls.farm_call(method, session_id, *args)
    return _actions.encode_status_response(error)


async def _disconnect(calls: Calls, stub: bytes) -> bytes:
    return await _session_action(calls, _actions.decode_disconnect_request(stub), "disconnect", True)


async def _logoff(calls: Calls, stub: bytes) -> bytes:
    return await _session_action(calls, _actions.decode_logoff_request(stub), "logoff", True)


async def _show_message_box(calls: Calls, stub: bytes) -> bytes:
    req = _actions.decode_show_message_box_request(stub)
    session_id = calls.held(req.handle, "session")
    response, error = await calls.farm_call(
        "send_message",
        session_id,
        req.title.rstrip("\0"),
        req.message.rstrip("\0"),
        style=req.style,
        timeout=req.timeout,
        wait=not req.do_not_wait,
    )
    return _actions.encode_show_message_box_response(0 if error else int(response), error)


async def _connect(calls: Calls, stub: bytes) -> bytes:
    import wts

    handle, target, password = _actions.decode_connect_request(stub)
    session_id = calls.held(handle, "session")
    if wts.sim.local_server().casefold() != calls.server.casefold():
        return _actions.encode_status_response(WinError.ERROR_NOT_SUPPORTED)
    _, error = await calls.farm_call(
        "connect", session_id, target=target % (1 << 32), password=password.rstrip("\0"), local=True
    )
    return _actions.encode_status_response(error)


# -- RCMPublic -----------------------------------------------------------------------------------------


async def _client_address(calls: Calls, session_id: int) -> tuple[Any, int]:
    return await calls.farm_call("query", session_id, InfoClass.CLIENT_ADDRESS)


async def _get_client_data(calls: Calls, stub: bytes) -> bytes:
    session_id = _actions.decode_session_id_request(stub)
    info, error = await calls.farm_call("session_info", session_id)
    if not error:
        client, error = await calls.farm_call("client_info", session_id, protocol=True)
    if error:
        return _actions.encode_get_client_data_response(None, error)
    family = {2: _actions.AF_INET, 23: _actions.AF_INET6}.get(client.family, 0)
    data = _actions.ClientData(
        name=client.name,
        domain=info.domain,
        user=info.user,
        work_directory="",
        initial_program="",
        address=str(client.address or ""),
        client_directory="",
        address_family=family,
        h_res=client.width,
        v_res=client.height,
        color_depth=client.colour_depth,
        protocol_type=int(client.protocol or 0),
        build=client.build,
        product_id=client.product_id,
        client_session_id=0,
    )
    return _actions.encode_get_client_data_response(data)


async def _get_remote_address(calls: Calls, stub: bytes) -> bytes:
    session_id = _actions.decode_session_id_request(stub)
    address, error = await _client_address(calls, session_id)
    if not error and address.address is None:
        error = WinError.ERROR_NOT_SUPPORTED  # no client address (the console, a listener)
    if error:
        return _actions.encode_get_remote_address_response(0, 0, b"", error)
    family = _actions.AF_INET if address.address.version == 4 else _actions.AF_INET6
    return _actions.encode_get_remote_address_response(family, 0, address.address.packed)


# -- LegacyApi -----------------------------------------------------------------------------------------


async def _open_server(calls: Calls, stub: bytes) -> bytes:
    _actions.decode_open_server_request(stub)
    return _actions.encode_open_server_response(calls.new_handle("server"))


async def _close_server(calls: Calls, stub: bytes) -> bytes:
    handle = _actions.decode_close_server_request(stub)
    calls.held(handle, "server")
    del calls.handles[handle]
    return _actions.encode_legacy_response()


async def _winstation_action(calls: Calls, stub: bytes, method: str) -> bytes:
    handle, session_id, wait = _actions.decode_winstation_action_request(stub)
    calls.held(handle, "server")
    _, error = await calls.farm_call(method, session_id, wait)
    return _actions.encode_legacy_response(error)


async def _winstation_send_message(calls: Calls, stub: bytes) -> bytes:
    req = _legacy.decode_send_message_request(stub)
    calls.held(req.handle, "server")
    response, error = await calls.farm_call(
        "send_message",
        req.session_id,
        req.title,
        req.message,
        style=req.style,
        timeout=req.timeout,
        wait=not req.do_not_wait,
    )
    return _legacy.encode_send_message_response(0 if error else int(response), error)


async def _winstation_disconnect(calls: Calls, stub: bytes) -> bytes:
    return await _winstation_action(calls, stub, "disconnect")


async def _winstation_reset(calls: Calls, stub: bytes) -> bytes:
    return await _winstation_action(calls, stub, "logoff")


def _binary_sid(text: str) -> bytes:
    """'S-1-5-21-...' as the SID structure's bytes (revision, count, 48-bit authority, sub-authorities)."""
    if not text:
        return b""
    parts = [int(p) for p in text.split("-")[1:]]
    revision, authority, subs = parts[0], parts[1], parts[2:]
    return bytes([revision, len(subs)]) + authority.to_bytes(6, "big") + b"".join(x.to_bytes(4, "little") for x in subs)


def _ticks_of(span: Any) -> int:
    return int(span // timedelta(microseconds=1)) * 10  # exact: the sim's ticks to the microsecond


async def _get_all_processes(calls: Calls, stub: bytes) -> bytes:
    handle, _level, max_count = _processes.decode_get_all_processes_request(stub)
    calls.held(handle, "server")
    listed, error = await calls.farm_call("processes")
    if error:
        return _processes.encode_get_all_processes_response([], error)
    out = [
        _processes.Process(
            pid=p.pid,
            session_id=p.session_id,
            image_name=p.name,
            sid=_binary_sid(p.sid),
            threads=p.threads,
            handles=p.handles,
            user_time=_ticks_of(p.user_time),
            kernel_time=_ticks_of(p.kernel_time),
            working_set=p.working_set_bytes,
            peak_working_set=p.peak_working_set_bytes,
            pagefile_usage=p.pagefile_bytes,
            peak_pagefile_usage=p.peak_pagefile_bytes,
        )
        for p in listed
    ]
    if len(out) > max_count:
        return _processes.encode_get_all_processes_response([], WinError.ERROR_INSUFFICIENT_BUFFER)
    return _processes.encode_get_all_processes_response(out)


async def _terminate_process(calls: Calls, stub: bytes) -> bytes:
    handle, pid, exit_code = _actions.decode_terminate_process_request(stub)
    calls.held(handle, "server")
    _, error = await calls.farm_call("terminate_process", pid, exit_code)
    return _actions.encode_legacy_response(error)


def _key(op: _calls.Op) -> tuple[Any, int]:
    return (op.interface.syntax.uuid, op.opnum)


HANDLERS: dict[tuple[Any, int], Handler] = {
    _key(_calls.RPC_OPEN_ENUM): _open_enum,
    _key(_calls.RPC_CLOSE_ENUM): _close_enum,
    _key(_calls.RPC_GET_ENUM_RESULT): _get_enum_result,
    _key(_calls.RPC_GET_ALL_SESSIONS): _get_all_sessions,
    _key(_calls.RPC_GET_SESSION_INFORMATION_EX): _get_session_information_ex,
    _key(_calls.RPC_OPEN_SESSION): _open_session,
    _key(_calls.RPC_CLOSE_SESSION): _close_session,
    _key(_calls.RPC_CONNECT): _connect,
    _key(_calls.RPC_DISCONNECT): _disconnect,
    _key(_calls.RPC_LOGOFF): _logoff,
    _key(_calls.RPC_SHOW_MESSAGE_BOX): _show_message_box,
    _key(_calls.RPC_GET_CLIENT_DATA): _get_client_data,
    _key(_calls.RPC_GET_REMOTE_ADDRESS): _get_remote_address,
    _key(_calls.RPC_WINSTATION_OPEN_SERVER): _open_server,
    _key(_calls.RPC_WINSTATION_CLOSE_SERVER): _close_server,
    _key(_calls.RPC_WINSTATION_SEND_MESSAGE): _winstation_send_message,
    _key(_calls.RPC_WINSTATION_DISCONNECT): _winstation_disconnect,
    _key(_calls.RPC_WINSTATION_RESET): _winstation_reset,
    _key(_calls.RPC_WINSTATION_GET_ALL_PROCESSES): _get_all_processes,
    _key(_calls.RPC_WINSTATION_TERMINATE_PROCESS): _terminate_process,
}
