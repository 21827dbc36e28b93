"""MS-TSTS interfaces and the calls that list sessions and read a session's details, both directions.

API summary (stubs are the NDR bytes of a request's or response's body, without PDU headers):

* Interfaces: ``TERMSRV_SESSION``, ``TERMSRV_ENUMERATION`` (pipe ``LSM_API_service``),
  ``RCM_PUBLIC`` (``TermSrv_API_service``), ``LEGACY_API`` (``Ctx_WinStation_API_service``); each an
  ``Interface(name, syntax, pipe)`` whose ``syntax`` goes in a bind's ``ContextElem``.
* ``Op`` records (interface, opnum, name) for every call wts uses, e.g. ``RPC_GET_ALL_SESSIONS``;
  ``OPS`` maps (interface UUID, opnum) -> Op for a server's dispatch.
* For each call, client ``encode_<call>_request(...) -> bytes`` and ``decode_<call>_response(stub)
  -> record``; server ``decode_<call>_request(stub) -> ...`` and ``encode_<call>_response(..., error=0)
  -> bytes``.  Every response record has ``status`` (the raw HRESULT) and ``error`` (its Win32 code,
  0 on success: ``_status.from_hresult``); a server encoder takes ``error`` as a Win32 code.
  Calls here: RpcOpenEnum, RpcCloseEnum, RpcGetEnumResult (levels 1, 2), RpcGetAllSessions
  (levels 1, 2), RpcGetSessionInformationEx (level 1).  Session actions, RCMPublic and the legacy
  API are in ``_actions`` (RpcWinStationGetAllProcesses in ``_processes``, RpcWinStationSendMessage in
  ``_legacy``).
* Times are FILETIME ticks (100 ns since 1601, as ints; 0 means never), states are
  WTS_CONNECTSTATE_CLASS values, handles are the 20 wire bytes of a context handle.

Documented differences from impacket 0.13.1's ``tsts`` module (tests/test_tsts_codec.py proves each):

* RpcOpenEnum (and RpcOpenSession, RpcWinStationOpenServer in ``_actions``): impacket sends 20 zero
  bytes for ``hBinding``, a binding handle that NDR does not marshal; we send what the IDL says (an
  empty stub for RpcOpenEnum).
* SESSIONENUM_LEVEL2.bFullDesktop is a BOOL (4 bytes); impacket writes a BOOLEAN and 3 pad bytes
  (0xAB) at the same place, so we read only its low byte (Windows writes 0 or 1).
* RpcGetSessionInformationEx's answer: MS-TSTS marshals a ``[ref]`` pointer to
  LSMSESSIONINFORMATION_EX ``{DWORD Level; [switch_is(Level)] union}``; impacket reads the Level
  as a unique pointer's referent id.  The bytes agree when Level is 1, so we write 1 there and, on
  reading, accept any Level and switch on the union's own discriminant (which must be 1).
"""

from __future__ import annotations

import codecs
import struct
import uuid
from collections.abc import Sequence
from typing import NamedTuple

from ._ndr import Reader, Writer, utf16le, utf16z
from ._pdu import SyntaxId
from ._status import from_hresult, hresult_from_win32

_utf16le_decode = codecs.utf_16_le_decode

__all__ = [
    "LEGACY_API",
    "OPS",
    "RCM_PUBLIC",
    "TERMSRV_ENUMERATION",
    "TERMSRV_SESSION",
    "EnumEntry",
    "EnumResult",
    "ExecEnvEntry",
    "HandleResult",
    "Interface",
    "Op",
    "SessionInfoEx",
    "SessionInfoExResult",
    "SessionsResult",
    "StatusResult",
]


class Interface(NamedTuple):
    name: str
    syntax: SyntaxId
    pipe: str  #: the named pipe on IPC$, without ``\\pipe\\``


TERMSRV_SESSION = Interface(
    "TermSrvSession", SyntaxId(uuid.UUID("484809d6-4239-471b-b5bc-61df8c23ac48"), 1), "LSM_API_service"
)
TERMSRV_ENUMERATION = Interface(
    "TermSrvEnumeration", SyntaxId(uuid.UUID("88143fd0-c28d-4b2b-8fef-8d882f6a9390"), 1), "LSM_API_service"
)
RCM_PUBLIC = Interface(
    "RCMPublic", SyntaxId(uuid.UUID("bde95fdf-eee0-45de-9e12-e5a61cd0d4fe"), 1), "TermSrv_API_service"
)
LEGACY_API = Interface(
    "LegacyApi", SyntaxId(uuid.UUID("5ca4a760-ebb1-11cf-8611-00a0245420ed"), 1), "Ctx_WinStation_API_service"
)


class Op(NamedTuple):
    interface: Interface
    opnum: int
    name: str


RPC_OPEN_ENUM = Op(TERMSRV_ENUMERATION, 0, "RpcOpenEnum")
RPC_CLOSE_ENUM = Op(TERMSRV_ENUMERATION, 1, "RpcCloseEnum")
RPC_GET_ENUM_RESULT = Op(TERMSRV_ENUMERATION, 5, "RpcGetEnumResult")
RPC_GET_ALL_SESSIONS = Op(TERMSRV_ENUMERATION, 10, "RpcGetAllSessions")
RPC_OPEN_SESSION = Op(TERMSRV_SESSION, 0, "RpcOpenSession")
RPC_CLOSE_SESSION = Op(TERMSRV_SESSION, 1, "RpcCloseSession")
RPC_CONNECT = Op(TERMSRV_SESSION, 2, "RpcConnect")
RPC_DISCONNECT = Op(TERMSRV_SESSION, 3, "RpcDisconnect")
RPC_LOGOFF = Op(TERMSRV_SESSION, 4, "RpcLogoff")
RPC_SHOW_MESSAGE_BOX = Op(TERMSRV_SESSION, 9, "RpcShowMessageBox")
RPC_GET_SESSION_INFORMATION_EX = Op(TERMSRV_SESSION, 17, "RpcGetSessionInformationEx")
RPC_GET_CLIENT_DATA = Op(RCM_PUBLIC, 0, "RpcGetClientData")
RPC_GET_REMOTE_ADDRESS = Op(RCM_PUBLIC, 4, "RpcGetRemoteAddress")
RPC_WINSTATION_OPEN_SERVER = Op(LEGACY_API, 0, "RpcWinStationOpenServer")
RPC_WINSTATION_CLOSE_SERVER = Op(LEGACY_API, 1, "RpcWinStationCloseServer")
RPC_WINSTATION_SEND_MESSAGE = Op(LEGACY_API, 7, "RpcWinStationSendMessage")
RPC_WINSTATION_DISCONNECT = Op(LEGACY_API, 13, "RpcWinStationDisconnect")
RPC_WINSTATION_RESET = Op(LEGACY_API, 14, "RpcWinStationReset")
RPC_WINSTATION_TERMINATE_PROCESS = Op(LEGACY_API, 37, "RpcWinStationTerminateProcess")
RPC_WINSTATION_GET_ALL_PROCESSES = Op(LEGACY_API, 43, "RpcWinStationGetAllProcesses")

OPS: dict[tuple[uuid.UUID, int], Op] = {
    (op.interface.syntax.uuid, op.opnum): op for name, op in list(globals().items()) if name.startswith("RPC_")
}

# Fixed WCHAR array lengths (MS-TSTS 2.2.2.4.1.1, 2.2.2.6.1.2, 2.2.2.11)
_NAME = 33
_EX_DOMAIN = 18
_EX_USER = 21
_LEVEL1_SIZE = 4 + 4 + 2 * _NAME  # the smallest array element: id, state, name (+ Level, tag below)


class StatusResult(NamedTuple):
    status: int
    error: int


class HandleResult(NamedTuple):
    handle: bytes
    status: int
    error: int


def _status(r: Reader) -> StatusResult:
    status = r.u32("status")
    r.done()
    return StatusResult(status, from_hresult(status))


def _encode_status(w: Writer, error: int) -> bytes:
    w.u32(hresult_from_win32(error))
    return w.getvalue()


# -- RpcOpenEnum / RpcCloseEnum ------------------------------------------------------------------------


def encode_open_enum_request() -> bytes:
    """RpcOpenEnum's only [in] is the binding handle: nothing is marshalled."""
    return b""


def decode_open_enum_request(stub: bytes) -> None:
    """Accepts impacket's 20 extra bytes (see the module's docstring) and nothing else."""
    if len(stub) not in (0, 20):
        raise Reader(stub, "RpcOpenEnum request").fail(f"{len(stub)} bytes, expected none")


def _handle_result(stub: bytes, what: str) -> HandleResult:
    r = Reader(stub, what)
    handle = r.context_handle("handle")
    status = r.u32("status")
    r.done()
    return HandleResult(handle, status, from_hresult(status))


def decode_open_enum_response(stub: bytes) -> HandleResult:
    return _handle_result(stub, "RpcOpenEnum response")


def encode_open_enum_response(handle: bytes, error: int = 0) -> bytes:
    w = Writer()
    w.context_handle(handle)
    return _encode_status(w, error)


def encode_close_enum_request(handle: bytes) -> bytes:
    w = Writer()
    w.context_handle(handle)
    return w.getvalue()


def decode_close_enum_request(stub: bytes) -> bytes:
    r = Reader(stub, "RpcCloseEnum request")
    handle = r.context_handle("phEnum")
    r.done()
    return handle


def decode_close_enum_response(stub: bytes) -> HandleResult:
    """The [in, out] handle comes back zeroed when the server closed it."""
    return _handle_result(stub, "RpcCloseEnum response")


def encode_close_enum_response(handle: bytes, error: int = 0) -> bytes:
    return encode_open_enum_response(handle, error)


# -- RpcGetEnumResult ----------------------------------------------------------------------------------


class EnumEntry(NamedTuple):
    """SESSIONENUM_LEVEL1 / LEVEL2 (MS-TSTS 2.2.2.4.1): level 1 leaves source, full_desktop, session_type
    at their defaults."""

    session_id: int
    state: int
    name: str
    source: int = 0
    full_desktop: bool = False
    session_type: bytes = bytes(16)  #: a GUID's 16 wire bytes (little-endian fields)


class EnumResult(NamedTuple):
    entries: list[EnumEntry]
    total: int  #: pEntries
    status: int
    error: int


def encode_get_enum_result_request(handle: bytes, level: int = 1) -> bytes:
    w = Writer()
    w.context_handle(handle)
    w.u32(level)
    return w.getvalue()


def decode_get_enum_result_request(stub: bytes) -> tuple[bytes, int]:
    """(handle, level)."""
    r = Reader(stub, "RpcGetEnumResult request")
    handle = r.context_handle("hEnum")
    level = r.u32("Level")
    r.done()
    return handle, level


def _level(r: Reader, allowed: tuple[int, ...]) -> int:
    level = r.u32("Level")
    tag = r.u32("union discriminant")
    if level != tag or tag not in allowed:
        raise r.fail(f"level {level} with union arm {tag} (expected one of {allowed})")
    return level


def decode_get_enum_result_response(stub: bytes) -> EnumResult:
    r = Reader(stub, "RpcGetEnumResult response")
    entries = []
    if r.pointer("ppSessionEnumResult"):
        n = r.count(8 + _LEVEL1_SIZE, "session count")
        for _ in range(n):
            level = _level(r, (1, 2))
            entry = EnumEntry(r.i32("SessionId"), r.i32("State"), r.wchars(_NAME, "Name"))
            if level == 2:
                entry = entry._replace(
                    source=r.u32("Source"),
                    full_desktop=r.u32("bFullDesktop") & 0xFF != 0,  # impacket: a BOOLEAN and 3 pad bytes
                    session_type=r.raw(16, "GUID"),
                )
            entries.append(entry)
    count = r.u32("pEntries")
    result = _status(r)
    return EnumResult(entries, count, *result)


def encode_get_enum_result_response(entries: Sequence[EnumEntry], level: int = 1, error: int = 0) -> bytes:
    """The answer at ``level`` (1 or 2); on error, a null array and no entries."""
    w = Writer()
    if error:
        w.u32(0)
        w.u32(0)
        return _encode_status(w, error)
    w.referent()
    w.u32(len(entries))
    for e in entries:
        w.u32(level)
        w.u32(level)
        w.i32(e.session_id)
        w.i32(e.state)
        w.wchars(e.name, _NAME)
        if level == 2:
            if len(e.session_type) != 16:
                raise ValueError(f"a session type GUID is 16 bytes, not {len(e.session_type)}")
            w.u32(e.source)
            w.u32(1 if e.full_desktop else 0)
            w.raw(e.session_type)
    w.u32(len(entries))
    return _encode_status(w, 0)


# -- RpcGetAllSessions ---------------------------------------------------------------------------------


class ExecEnvEntry(NamedTuple):
    """EXECENVDATA_LEVEL1 / LEVEL2 (MS-TSTS 2.2.2.6.1): who is where; level 1 fills the first three."""

    exec_env_id: int
    state: int
    session_name: str
    abs_session_id: int = 0
    host_name: str = ""
    user_name: str = ""
    domain_name: str = ""
    farm_name: str = ""


class SessionsResult(NamedTuple):
    level: int
    entries: list[ExecEnvEntry]
    total: int  #: pcEntries
    status: int
    error: int


def encode_get_all_sessions_request(level: int = 2) -> bytes:
    w = Writer()
    w.u32(level)
    return w.getvalue()


def decode_get_all_sessions_request(stub: bytes) -> int:
    """The level asked for."""
    r = Reader(stub, "RpcGetAllSessions request")
    level = r.u32("pLevel")
    r.done()
    return level


# EXECENVDATA at level 2 (Level, union discriminant, the arm), 352 bytes: one struct call a session.
_EXEC_ENV_2 = struct.Struct("<IIii66s2xi66s66s66s66s")
_EXEC_ENV_2_PADS = ((82, 2),)


def _wchars(text: str) -> bytes:
    """A WCHAR[33]'s content for struct's "66s" (which pads with NULs): at most 32 units."""
    return utf16le(text)[: 2 * (_NAME - 1)]


def _level2_entries(stub: bytes, at: int, n: int) -> list[ExecEnvEntry] | None:
    """The array when all ``n`` elements are level 2 (352 bytes each, a multiple of 4: no padding
    between them), read in one pass; None for anything else (the element-by-element path reads it,
    and says what is wrong)."""
    end = at + n * _EXEC_ENV_2.size
    if at % 4 or end > len(stub):
        return None
    out = []
    for level, tag, env_id, state, name, abs_id, host, user, domain, farm in _EXEC_ENV_2.iter_unpack(stub[at:end]):
        if level != 2 or tag != 2:
            return None
        # The five WCHAR[33] in one decode: 165 characters when every unit stands alone (no
        # surrogate pair joins two units); otherwise field by field.
        text = _utf16le_decode(name + host + user + domain + farm, "replace")[0]
        if len(text) == 5 * _NAME:
            names = [text[i : i + _NAME].split("\x00", 1)[0] for i in range(0, 5 * _NAME, _NAME)]
        else:
            names = [utf16z(name), utf16z(host), utf16z(user), utf16z(domain), utf16z(farm)]
        out.append(ExecEnvEntry(env_id, state, names[0], abs_id, names[1], names[2], names[3], names[4]))
    return out


def decode_get_all_sessions_response(stub: bytes) -> SessionsResult:
    r = Reader(stub, "RpcGetAllSessions response")
    level = r.u32("pLevel")
    entries = []
    if r.pointer("ppSessionData"):
        n = r.count(8 + _LEVEL1_SIZE, "session count")
        fast = _level2_entries(stub, r.pos, n)
        if fast is not None:
            entries = fast
            r.raw(n * _EXEC_ENV_2.size, "sessions")
            n = 0
        for _ in range(n):
            r.align(4)
            if r.remaining() >= _EXEC_ENV_2.size and stub[r.pos : r.pos + 8] == b"\x02\x00\x00\x00\x02\x00\x00\x00":
                _, _, env_id, state, name, abs_id, host, user, domain, farm = r.unpack(_EXEC_ENV_2, 4, "session")
                entries.append(
                    ExecEnvEntry(
                        env_id, state, utf16z(name), abs_id, utf16z(host), utf16z(user), utf16z(domain), utf16z(farm)
                    )
                )
                continue
            _level(r, (1,))
            entries.append(ExecEnvEntry(r.i32("ExecEnvId"), r.i32("State"), r.wchars(_NAME, "SessionName")))
    count = r.u32("pcEntries")
    result = _status(r)
    return SessionsResult(level, entries, count, *result)


def encode_get_all_sessions_response(entries: Sequence[ExecEnvEntry], level: int = 2, error: int = 0) -> bytes:
    w = Writer()
    w.u32(level)
    if error:
        w.u32(0)
        w.u32(0)
        return _encode_status(w, error)
    w.referent()
    w.u32(len(entries))
    for e in entries:
        if level == 2:
            w.pack(
                _EXEC_ENV_2,
                _EXEC_ENV_2_PADS,
                2,
                2,
                e.exec_env_id,
                e.state,
                _wchars(e.session_name),
                e.abs_session_id,
                _wchars(e.host_name),
                _wchars(e.user_name),
                _wchars(e.domain_name),
                _wchars(e.farm_name),
            )
            continue
        w.u32(level)
        w.u32(level)
        w.i32(e.exec_env_id)
        w.i32(e.state)
        w.wchars(e.session_name, _NAME)
    w.u32(len(entries))
    return _encode_status(w, 0)


# -- RpcGetSessionInformationEx ------------------------------------------------------------------------


class SessionInfoEx(NamedTuple):
    """LSM_SESSIONINFO_EX_LEVEL1 (MS-TSTS 2.2.2.11)."""

    state: int
    flags: int  #: WTS_SESSIONSTATE_LOCK (0), _UNLOCK (1) or _UNKNOWN (-1)
    station: str
    domain: str
    user: str
    connect_time: int
    disconnect_time: int
    logon_time: int
    last_input_time: int
    protocol_data: bytes = b""


class SessionInfoExResult(NamedTuple):
    info: SessionInfoEx | None  #: None on error
    status: int
    error: int


def encode_get_session_information_ex_request(session_id: int, level: int = 1) -> bytes:
    w = Writer()
    w.i32(session_id)
    w.u32(level)
    return w.getvalue()


def decode_get_session_information_ex_request(stub: bytes) -> tuple[int, int]:
    """(session id, level)."""
    r = Reader(stub, "RpcGetSessionInformationEx request")
    session_id = r.i32("SessionId")
    level = r.u32("Level")
    r.done()
    return session_id, level


def decode_get_session_information_ex_response(stub: bytes) -> SessionInfoExResult:
    r = Reader(stub, "RpcGetSessionInformationEx response")
    level = r.u32("Level")  # impacket reads a referent id here: see the module's docstring
    if level == 0 and r.remaining() == 4:  # an error: no union, only the status (what impacket reads)
        status = r.u32("status")
        return SessionInfoExResult(None, status, from_hresult(status))
    tag = r.u32("union discriminant")
    if tag != 1:
        raise r.fail(f"union arm {tag} (only level 1 exists)")
    r.align(8)
    state, flags = r.i32("SessionState"), r.i32("SessionFlags")
    station, domain, user = (
        r.wchars(_NAME, "SessionName"),
        r.wchars(_EX_DOMAIN, "DomainName"),
        r.wchars(_EX_USER, "UserName"),
    )
    times = [r.hyper(f) for f in ("ConnectTime", "DisconnectTime", "LogonTime", "LastInputTime")]
    size = r.u32("ProtocolDataSize")
    data = b""
    if r.pointer("ProtocolData"):
        data = r.conformant_bytes("ProtocolData")
        if len(data) != size:
            raise r.fail(f"ProtocolDataSize says {size} bytes, the array has {len(data)}")
    result = _status(r)
    info = SessionInfoEx(state, flags, station, domain, user, times[0], times[1], times[2], times[3], data)
    return SessionInfoExResult(info, *result)


def encode_get_session_information_ex_response(info: SessionInfoEx | None, error: int = 0) -> bytes:
    """The level-1 answer; on error (``info`` None) a null LSMSessionInfoExPtr and the status, the
    only error form impacket's tstool reads."""
    if info is None and not error:
        raise ValueError("a successful RpcGetSessionInformationEx answer needs the session's information")
    w = Writer()
    if error or info is None:
        w.u32(0)
        return _encode_status(w, error)
    w.u32(1)
    w.u32(1)
    w.align(8)
    w.i32(info.state)
    w.i32(info.flags)
    w.wchars(info.station, _NAME)
    w.wchars(info.domain, _EX_DOMAIN)
    w.wchars(info.user, _EX_USER)
    for t in (info.connect_time, info.disconnect_time, info.logon_time, info.last_input_time):
        w.hyper(t)
    w.u32(len(info.protocol_data))
    if info.protocol_data:
        w.referent()
        w.conformant_bytes(info.protocol_data)
    else:
        w.u32(0)
    return _encode_status(w, 0)
