"""MS-TSTS calls that act on a session, and the client's name and address: both directions.

API summary (same conventions as ``_calls``: stubs without PDU headers; response records carry
``status`` (raw) and ``error`` (Win32 code, 0 on success); server encoders take ``error``):

* TermSrvSession (LSM, HRESULT): RpcOpenSession (``encode_open_session_request(session_id)``,
  answer ``HandleResult``), RpcCloseSession, RpcConnect (``(handle, target_id, password)``),
  RpcDisconnect, RpcLogoff, RpcShowMessageBox (``(handle, title, message, style, timeout,
  do_not_wait)``, answer ``MessageResult.response``: IDOK ... IDTIMEOUT 32000, IDASYNC 32001).
* RCMPublic (HRESULT): RpcGetClientData (``ClientData``: name, domain, user, address family and
  text, resolution, colour depth, build, product id, directory) and RpcGetRemoteAddress
  (``RemoteAddress``: family, port, address bytes in network order).
* LegacyApi (a BOOLEAN return and an NTSTATUS ``pResult``; records carry both and ``error``):
  RpcWinStationOpenServer / CloseServer, RpcWinStationDisconnect / Reset (``(handle, session_id,
  wait)``), RpcWinStationTerminateProcess (``(handle, pid, exit_code)``) and
  RpcWinStationGetAllProcesses (in ``_processes``).

Documented differences from impacket 0.13.1 (tests/test_tsts_codec.py proves each):

* RpcOpenSession / RpcWinStationOpenServer requests: impacket appends 20 zero bytes (an [out] handle
  or the unmarshalled hBinding); we send the IDL's parameters only, and our server accepts both.
* RpcCloseSession's answer: MS-TSTS returns the [in, out] handle (zeroed) before the HRESULT;
  impacket reads only an HRESULT (so it reads the handle's first 4 bytes).  We write the handle and
  read either form.
* RpcGetRemoteAddress's answer: MS-TSTS's sockaddr arm has 8 bytes of sin_zero; impacket's has 4, so
  its answers are 4 bytes short; we read ours and impacket reads ours (same fields at the same
  offsets, its status taken from the first half of sin_zero, which is zero).
* RpcGetClientData's buffer is a WINSTATIONCLIENT C image (the offsets are below); impacket reads
  it as an NDR struct (a "flags hack" for the bit fields), and finds the names, the address and the
  resolution at the same offsets as we do; its bit flags come out wrong, and we do not read them.
* RpcShowMessageBox's pulResponse is a ULONG; impacket marshals a 16-bit NDR enum and 2 pad bytes
  (0xBF), so we read the low 16 bits (every MessageBox answer, up to IDASYNC 32001, fits).
* sin_port is in network byte order (as in a sockaddr): impacket shows it byte-swapped.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from ._calls import HandleResult, StatusResult
from ._ndr import Reader, Writer, utf16le, utf16z
from ._status import from_hresult, from_ntstatus, hresult_from_win32, ntstatus_from_win32

__all__ = ["ClientData", "LegacyResult", "MessageResult", "RemoteAddress"]

_HANDLE_ONLY = 20  # impacket's extra bytes: one 20-byte handle


def _hresult(w: Writer, error: int) -> bytes:
    w.u32(hresult_from_win32(error))
    return w.getvalue()


def _status_only(stub: bytes, what: str) -> StatusResult:
    r = Reader(stub, what)
    status = r.u32("status")
    r.done()
    return StatusResult(status, from_hresult(status))


def _handle_only(stub: bytes, what: str) -> bytes:
    r = Reader(stub, what)
    handle = r.context_handle("hSession")
    r.done()
    return handle


def _with_handle(handle: bytes) -> Writer:
    w = Writer()
    w.context_handle(handle)
    return w


# -- TermSrvSession ------------------------------------------------------------------------------------


def encode_open_session_request(session_id: int) -> bytes:
    w = Writer()
    w.i32(session_id)
    return w.getvalue()


def decode_open_session_request(stub: bytes) -> int:
    """The session id (impacket's 20 trailing zero bytes accepted: see the module's docstring)."""
    r = Reader(stub, "RpcOpenSession request")
    session_id = r.i32("SessionId")
    if r.remaining() == _HANDLE_ONLY:
        r.raw(_HANDLE_ONLY, "impacket's phSession")
    r.done()
    return session_id


def decode_open_session_response(stub: bytes) -> HandleResult:
    r = Reader(stub, "RpcOpenSession response")
    handle = r.context_handle("phSession")
    status = r.u32("status")
    r.done()
    return HandleResult(handle, status, from_hresult(status))


def encode_open_session_response(handle: bytes, error: int = 0) -> bytes:
    return _hresult(_with_handle(handle), error)


def encode_close_session_request(handle: bytes) -> bytes:
    return _with_handle(handle).getvalue()


def decode_close_session_request(stub: bytes) -> bytes:
    return _handle_only(stub, "RpcCloseSession request")


def decode_close_session_response(stub: bytes) -> StatusResult:
    """The handle (zeroed) and the HRESULT; impacket's 4-byte form (the HRESULT alone) is read too."""
    if len(stub) == 4:
        return _status_only(stub, "RpcCloseSession response")
    r = Reader(stub, "RpcCloseSession response")
    r.context_handle("phSession")
    status = r.u32("status")
    r.done()
    return StatusResult(status, from_hresult(status))


def encode_close_session_response(error: int = 0) -> bytes:
    return _hresult(_with_handle(bytes(_HANDLE_ONLY)), error)


def encode_connect_request(handle: bytes, target_session_id: int, password: str = "") -> bytes:
    w = _with_handle(handle)
    w.i32(target_session_id)
    w.wstring(password)
    return w.getvalue()


def decode_connect_request(stub: bytes) -> tuple[bytes, int, str]:
    """(handle, target session id, password)."""
    r = Reader(stub, "RpcConnect request")
    out = (r.context_handle("hSession"), r.i32("TargetSessionId"), r.wstring("szPassword"))
    r.done()
    return out


def encode_disconnect_request(handle: bytes) -> bytes:
    return _with_handle(handle).getvalue()


def decode_disconnect_request(stub: bytes) -> bytes:
    return _handle_only(stub, "RpcDisconnect request")


def encode_logoff_request(handle: bytes) -> bytes:
    return _with_handle(handle).getvalue()


def decode_logoff_request(stub: bytes) -> bytes:
    return _handle_only(stub, "RpcLogoff request")


def decode_status_response(stub: bytes) -> StatusResult:
    """RpcConnect's, RpcDisconnect's and RpcLogoff's answer: an HRESULT."""
    return _status_only(stub, "response")


def encode_status_response(error: int = 0) -> bytes:
    """An answer that is only an HRESULT (RpcConnect, RpcDisconnect, RpcLogoff)."""
    return _hresult(Writer(), error)


class MessageRequest(NamedTuple):
    handle: bytes
    title: str
    message: str
    style: int
    timeout: int  #: seconds, 0 for none
    do_not_wait: bool


class MessageResult(NamedTuple):
    response: int  #: IDOK (1) ... IDTIMEOUT (32000), IDASYNC (32001) when not waited for
    status: int
    error: int


def encode_show_message_box_request(
    handle: bytes, title: str, message: str, style: int = 0, timeout: int = 0, do_not_wait: bool = True
) -> bytes:
    w = _with_handle(handle)
    w.wstring(title)
    w.wstring(message)
    w.u32(style)
    w.u32(timeout)
    w.u32(1 if do_not_wait else 0)  # a BOOL: 4 bytes
    return w.getvalue()


def decode_show_message_box_request(stub: bytes) -> MessageRequest:
    r = Reader(stub, "RpcShowMessageBox request")
    out = MessageRequest(
        r.context_handle("hSession"),
        r.wstring("szTitle"),
        r.wstring("szMessage"),
        r.u32("ulStyle"),
        r.u32("ulTimeout"),
        r.u32("bDoNotWait") != 0,
    )
    r.done()
    return out


def decode_show_message_box_response(stub: bytes) -> MessageResult:
    r = Reader(stub, "RpcShowMessageBox response")
    response = r.u32("pulResponse") & 0xFFFF  # impacket: a 16-bit enum and 2 pad bytes (module docstring)
    status = r.u32("status")
    r.done()
    return MessageResult(response, status, from_hresult(status))


def encode_show_message_box_response(response: int, error: int = 0) -> bytes:
    w = Writer()
    w.u32(response)
    return _hresult(w, error)


# -- RCMPublic -----------------------------------------------------------------------------------------


def encode_session_id_request(session_id: int) -> bytes:
    """RpcGetClientData's and RpcGetRemoteAddress's request: the session id (a ULONG)."""
    w = Writer()
    w.u32(session_id % (1 << 32))
    return w.getvalue()


def decode_session_id_request(stub: bytes) -> int:
    r = Reader(stub, "request")
    session_id = r.u32("SessionId")
    r.done()
    return session_id


AF_INET = 2
AF_INET6 = 23  # Windows' value


class RemoteAddress(NamedTuple):
    family: int  #: AF_INET (2) or AF_INET6 (23); 0 when the server had none
    port: int
    address: bytes  #: 4 or 16 bytes, network order
    status: int
    error: int


def decode_get_remote_address_response(stub: bytes) -> RemoteAddress:
    r = Reader(stub, "RpcGetRemoteAddress response")
    family = r.u16("sin_family")
    if family not in (AF_INET, AF_INET6):
        raise r.fail(f"address family {family} (only AF_INET and AF_INET6 exist here)")
    r.u16("union discriminant")  # or padding, if the union is encapsulated: either way not read
    r.align(4)
    port = struct.unpack(">H", r.raw(2, "sin_port"))[0]
    if family == AF_INET:
        r.align(4)
        address = r.raw(4, "in_addr")
        r.raw(8, "sin_zero")
    else:
        r.u32("sin6_flowinfo")
        address = r.raw(16, "sin6_addr")
        r.u32("sin6_scope_id")
    status = r.u32("status")
    r.done()
    return RemoteAddress(family, port, address, status, from_hresult(status))


def encode_get_remote_address_response(family: int, port: int, address: bytes, error: int = 0) -> bytes:
    """The RCM_REMOTEADDRESS union (sin_family, its repeat as the discriminant, the sockaddr arm).
    An error answer still needs an arm: an IPv4 one, all zero."""
    if error:
        family, port, address = AF_INET, 0, bytes(4)
    if (family, len(address)) not in ((AF_INET, 4), (AF_INET6, 16)):
        raise ValueError(f"a family-{family} address of {len(address)} bytes")
    w = Writer()
    w.u16(family)
    w.u16(family)
    w.align(4)
    w.raw(struct.pack(">H", port))
    if family == AF_INET:
        w.align(4)
        w.raw(address)
        w.raw(bytes(8))
    else:
        w.u32(0)
        w.raw(address)
        w.u32(0)
    return _hresult(w, error)


# WINSTATIONCLIENT (MS-TSTS 2.2.2.19) as the C image RpcGetClientData returns in its byte buffer:
# (field, offset, WCHARs) for the strings, (field, offset, struct format) for the numbers.
_CLIENT_STRINGS = (
    ("name", 4, 21),
    ("domain", 46, 18),
    ("user", 82, 21),
    ("work_directory", 154, 257),
    ("initial_program", 668, 257),
    ("address", 1196, 31),
    ("client_directory", 1350, 257),
)
_CLIENT_NUMBERS = (
    ("address_family", 1192, "<I"),
    ("h_res", 1258, "<H"),
    ("v_res", 1260, "<H"),
    ("color_depth", 1262, "<H"),
    ("protocol_type", 1264, "<H"),
    ("build", 2012, "<I"),
    ("product_id", 2020, "<H"),
    ("client_session_id", 2220, "<I"),
    ("hardware_id", 2016, "<I"),
)
CLIENT_IMAGE_SIZE = 2296  # up to ActiveInputLocale, the last field MS-TSTS lists


class ClientData(NamedTuple):
    """The parts of WINSTATIONCLIENT that WTSQuerySessionInformation's client classes give."""

    name: str
    domain: str
    user: str
    work_directory: str
    initial_program: str
    address: str  #: text, as the client reported it ("10.0.0.5")
    client_directory: str
    address_family: int
    h_res: int
    v_res: int
    color_depth: int
    protocol_type: int
    build: int
    product_id: int
    client_session_id: int
    hardware_id: int = 0  #: ClientHardwareId


class ClientDataResult(NamedTuple):
    client: ClientData | None
    status: int
    error: int


def _image_string(image: bytes, at: int, units: int) -> str:
    return utf16z(image[at : at + 2 * units])


def decode_get_client_data_response(stub: bytes) -> ClientDataResult:
    r = Reader(stub, "RpcGetClientData response")
    image = b""
    if r.pointer("ppBuff"):
        image = r.conformant_bytes("ppBuff")
    length = r.u32("pOutBuffByteLen")
    status = r.u32("status")
    r.done()
    if not image:
        return ClientDataResult(None, status, from_hresult(status))
    if len(image) < CLIENT_IMAGE_SIZE or length != len(image):
        raise r.fail(f"a WINSTATIONCLIENT of {len(image)} bytes (pOutBuffByteLen {length}, {CLIENT_IMAGE_SIZE} needed)")
    values: dict[str, str | int] = {f: _image_string(image, at, n) for f, at, n in _CLIENT_STRINGS}
    values.update((f, struct.unpack_from(fmt, image, at)[0]) for f, at, fmt in _CLIENT_NUMBERS)
    return ClientDataResult(ClientData(**values), status, from_hresult(status))  # type: ignore[arg-type]


def encode_get_client_data_response(client: ClientData | None, error: int = 0) -> bytes:
    w = Writer()
    if client is None or error:
        w.u32(0)
        w.u32(0)
        return _hresult(w, error or 0)
    image = bytearray(CLIENT_IMAGE_SIZE)
    for f, at, n in _CLIENT_STRINGS:
        data = utf16le(str(getattr(client, f)))[: 2 * (n - 1)]
        image[at : at + len(data)] = data
    for f, at, fmt in _CLIENT_NUMBERS:
        struct.pack_into(fmt, image, at, getattr(client, f))
    w.referent()
    w.conformant_bytes(bytes(image))
    w.u32(len(image))
    return _hresult(w, 0)


# -- LegacyApi -----------------------------------------------------------------------------------------


class LegacyResult(NamedTuple):
    """A legacy call's answer: the BOOLEAN it returns, its NTSTATUS pResult, and their Win32 code."""

    ok: bool
    status: int
    error: int
    handle: bytes = b""  #: RpcWinStationOpenServer's SERVER_HANDLE


def _legacy(ok: bool, status: int) -> tuple[bool, int, int]:
    error = from_ntstatus(status)
    if not ok and not error:  # FALSE without a status: still a failure (wtsapi32 would say so)
        error = from_ntstatus(0xC0000001)
    return ok, status, error


def _legacy_answer(w: Writer, error: int) -> bytes:
    w.boolean(error == 0)
    return w.getvalue()


def encode_open_server_request() -> bytes:
    return b""


def decode_open_server_request(stub: bytes) -> None:
    """Nothing, or impacket's 20 bytes for the binding handle."""
    if len(stub) not in (0, _HANDLE_ONLY):
        raise Reader(stub, "RpcWinStationOpenServer request").fail(f"{len(stub)} bytes, expected none")


def decode_open_server_response(stub: bytes) -> LegacyResult:
    r = Reader(stub, "RpcWinStationOpenServer response")
    status = r.u32("pResult")
    handle = r.context_handle("phServer")
    ok = r.boolean("return value")
    r.done()
    return LegacyResult(*_legacy(ok, status), handle)


def encode_open_server_response(handle: bytes, error: int = 0) -> bytes:
    w = Writer()
    w.u32(ntstatus_from_win32(error))
    w.context_handle(handle)
    return _legacy_answer(w, error)


def encode_close_server_request(handle: bytes) -> bytes:
    return _with_handle(handle).getvalue()


def decode_close_server_request(stub: bytes) -> bytes:
    return _handle_only(stub, "RpcWinStationCloseServer request")


def decode_legacy_response(stub: bytes) -> LegacyResult:
    """The answer of RpcWinStationCloseServer, Disconnect, Reset, TerminateProcess: pResult, BOOLEAN."""
    r = Reader(stub, "legacy API response")
    status = r.u32("pResult")
    ok = r.boolean("return value")
    r.done()
    return LegacyResult(*_legacy(ok, status))


def encode_legacy_response(error: int = 0) -> bytes:
    w = Writer()
    w.u32(ntstatus_from_win32(error))
    return _legacy_answer(w, error)


def encode_winstation_action_request(handle: bytes, session_id: int, wait: bool = False) -> bytes:
    """RpcWinStationDisconnect's and RpcWinStationReset's request."""
    w = _with_handle(handle)
    w.u32(session_id % (1 << 32))
    w.boolean(wait)
    return w.getvalue()


def decode_winstation_action_request(stub: bytes) -> tuple[bytes, int, bool]:
    """(handle, session id, wait)."""
    r = Reader(stub, "RpcWinStationDisconnect/Reset request")
    out = (r.context_handle("hServer"), r.u32("LogonId"), r.boolean("bWait"))
    r.done()
    return out


def encode_terminate_process_request(handle: bytes, pid: int, exit_code: int = 0) -> bytes:
    w = _with_handle(handle)
    w.u32(pid)
    w.u32(exit_code)
    return w.getvalue()


def decode_terminate_process_request(stub: bytes) -> tuple[bytes, int, int]:
    """(handle, process id, exit code)."""
    r = Reader(stub, "RpcWinStationTerminateProcess request")
    out = (r.context_handle("hServer"), r.u32("ProcessId"), r.u32("ExitCode"))
    r.done()
    return out
