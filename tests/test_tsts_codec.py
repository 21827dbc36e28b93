"""The MS-TSTS codec (wts._tsts: _ndr, _pdu, _calls, _actions) against code we did not write.

* Requests: our stub bytes equal impacket 0.13.1's ``NDRCALL.getData()`` for the same arguments,
  except NDR's unspecified octets (alignment gaps: we write zeros, impacket 0xBF / 0xAB; referent ids:
  any non-zero number) and the differences _calls' docstring documents (impacket marshals the
  unmarshalled ``handle_t hBinding`` of RpcOpenEnum, RpcOpenSession, RpcWinStationOpenServer).
* Responses: we decode what impacket's response classes encode, a 120-session answer included,
  cut into 4,280-byte fragments by impacket's own PDU header class and reassembled by ``_pdu``.
* Server side: impacket decodes what our server encoders write, to the same values.
* Untrusted input: truncated, garbled or hostile stubs and PDUs raise ProtocolError (a ValueError)
  with a one-line message, never IndexError / struct.error / MemoryError.

impacket's encoder writes a fixed ``WCHAR[n]`` array only as long as the string it is given, so its
responses are built here with NUL-padded strings (``_z``): that is impacket's caller contract.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wts._tsts import _actions as A
from wts._tsts import _calls as C
from wts._tsts import _frames, _ndr, _pdu
from wts._tsts import _legacy as L
from wts._tsts import _processes as P
from wts._tsts._ndr import ProtocolError
from wts._winerror import WinError

T: Any = pytest.importorskip("impacket.dcerpc.v5.tsts")
rpcrt: Any = pytest.importorskip("impacket.dcerpc.v5.rpcrt")
impacket_uuid: Any = pytest.importorskip("impacket.uuid")


def _z(text: str, n: int) -> str:
    """A fixed WCHAR[n] value as impacket's encoder needs it: padded with NULs to n units."""
    return text + "\0" * (n - len(text))


def encode_recording(encode: Callable[[], bytes]) -> tuple[bytes, list[tuple[str, int, int]]]:
    gaps = _ndr.record_gaps()
    try:
        return encode(), list(gaps)
    finally:
        _ndr.stop_recording_gaps()


def assert_same_ndr(ours: bytes, gaps: list[tuple[str, int, int]], theirs: bytes) -> None:
    """Byte for byte, except alignment gaps (ours zero) and referent ids (both non-zero)."""
    assert len(ours) == len(theirs), (len(ours), len(theirs), ours.hex(), theirs.hex())
    free = set()
    for kind, at, n in gaps:
        free.update(range(at, at + n))
        if kind == "pad":
            assert ours[at : at + n] == bytes(n)
        else:
            assert ours[at : at + n] != bytes(n) and theirs[at : at + n] != bytes(n), f"null referent at {at}"
    diff = [i for i in range(len(ours)) if i not in free and ours[i] != theirs[i]]
    assert diff == [], f"bytes differ at {diff[:8]}: ours {ours.hex()} impacket {theirs.hex()}"


def request_matches(encode: Callable[[], bytes], call: Any) -> None:
    ours, gaps = encode_recording(encode)
    assert_same_ndr(ours, gaps, call.getData())


HANDLE = bytes(range(1, 21))


def impacket_handle() -> Any:
    h = T.context_handle()
    h["context_handle_attributes"] = struct.unpack("<I", HANDLE[:4])[0]
    h["context_handle_uuid"] = HANDLE[4:]
    return h


# -- requests, byte for byte ---------------------------------------------------------------------------


def test_open_enum_request_omits_the_binding_handle_impacket_marshals() -> None:
    call = T.RpcOpenEnum()
    assert call.getData() == bytes(20)  # impacket's difference, documented in _calls
    assert C.encode_open_enum_request() == b""
    C.decode_open_enum_request(call.getData())  # our server takes impacket's form too
    C.decode_open_enum_request(b"")
    with pytest.raises(ProtocolError, match="RpcOpenEnum request"):
        C.decode_open_enum_request(b"\x00" * 7)


def test_close_enum_request() -> None:
    call = T.RpcCloseEnum()
    call["phEnum"] = impacket_handle()
    request_matches(lambda: C.encode_close_enum_request(HANDLE), call)
    assert C.decode_close_enum_request(call.getData()) == HANDLE


@pytest.mark.parametrize("level", [1, 2])
def test_get_enum_result_request(level: int) -> None:
    call = T.RpcGetEnumResult()
    call["hEnum"] = impacket_handle()
    call["Level"] = level
    request_matches(lambda: C.encode_get_enum_result_request(HANDLE, level), call)
    assert C.decode_get_enum_result_request(call.getData()) == (HANDLE, level)


@pytest.mark.parametrize("level", [1, 2])
def test_get_all_sessions_request(level: int) -> None:
    call = T.RpcGetAllSessions()
    call["pLevel"] = level
    request_matches(lambda: C.encode_get_all_sessions_request(level), call)
    assert C.decode_get_all_sessions_request(call.getData()) == level


@pytest.mark.parametrize("session_id", [0, 1, 7, 65535, -1])
def test_get_session_information_ex_request(session_id: int) -> None:
    call = T.RpcGetSessionInformationEx()
    call["SessionId"] = session_id
    call["Level"] = 1
    request_matches(lambda: C.encode_get_session_information_ex_request(session_id), call)
    assert C.decode_get_session_information_ex_request(call.getData()) == (session_id, 1)


# -- responses impacket encodes, decoded by us ----------------------------------------------------------


def impacket_all_sessions(n: int, level: int = 2, error: int = 0) -> Any:
    resp = T.RpcGetAllSessionsResponse()
    resp["pLevel"] = level
    items = []
    for i in range(n):
        e = T.ExecEnvData_STRUCT()
        e["Level"] = level
        e["ExecEnvData"]["tag"] = level
        if level == 1:
            arm = e["ExecEnvData"]["ExecEnvEnum_Level1"]
        else:
            arm = e["ExecEnvData"]["ExecEnvEnum_Level2"]
            arm["AbsSessionId"] = i + 1
            arm["HostName"] = _z("RDS01", 33)
            arm["UserName"] = _z(f"user{i}", 33)
            arm["DomainName"] = _z("CONTOSO", 33)
            arm["FarmName"] = _z("", 33)
        arm["ExecEnvId"] = i + 1
        arm["State"] = i % 10
        arm["SessionName"] = _z(f"RDP-Tcp#{i}", 33)
        items.append(e)
    resp["ppSessionData"] = items if n else T.NULL
    resp["pcEntries"] = n
    resp["ErrorCode"] = error
    return resp


def expected_all_sessions(n: int, level: int = 2) -> list[C.ExecEnvEntry]:
    out = []
    for i in range(n):
        e = C.ExecEnvEntry(i + 1, i % 10, f"RDP-Tcp#{i}")
        if level == 2:
            e = e._replace(abs_session_id=i + 1, host_name="RDS01", user_name=f"user{i}", domain_name="CONTOSO")
        out.append(e)
    return out


@pytest.mark.parametrize("level", [1, 2])
@pytest.mark.parametrize("n", [0, 1, 25])
def test_get_all_sessions_response_from_impacket(level: int, n: int) -> None:
    got = C.decode_get_all_sessions_response(impacket_all_sessions(n, level).getData())
    assert got == C.SessionsResult(level, expected_all_sessions(n, level), n, 0, 0)


def test_get_all_sessions_error_maps_to_win32() -> None:
    got = C.decode_get_all_sessions_response(impacket_all_sessions(0, error=0x80070005).getData())
    assert (got.entries, got.status, got.error) == ([], 0x80070005, 5)


def impacket_fragments(stub: bytes, call_id: int, max_frag: int) -> list[bytes]:
    """A response cut into fragments by impacket's own PDU header class."""
    room = max_frag - 24
    chunks = [stub[i : i + room] for i in range(0, len(stub), room)]
    out = []
    for i, chunk in enumerate(chunks):
        h = rpcrt.MSRPCRespHeader()
        h["type"] = rpcrt.MSRPC_RESPONSE
        h["flags"] = (rpcrt.PFC_FIRST_FRAG if i == 0 else 0) | (rpcrt.PFC_LAST_FRAG if i == len(chunks) - 1 else 0)
        h["call_id"] = call_id
        h["alloc_hint"] = len(stub) - i * room
        h["pduData"] = chunk
        h["frag_len"] = 24 + len(chunk)
        out.append(h.getData())
    return out


@pytest.mark.parametrize("framer", ["impacket", "ours"])
def test_120_sessions_in_4280_byte_fragments_reassemble(framer: str) -> None:
    stub = impacket_all_sessions(120).getData()
    assert len(stub) > 40_000  # about 352 bytes a session: ten fragments
    if framer == "impacket":
        frags = impacket_fragments(stub, 9, 4280)
    else:
        frags = _frames.response_fragments(9, 0, stub, max_frag=4280)
    assert len(frags) == 10 and all(len(f) <= 4280 for f in frags)
    assembly = _pdu.Reassembly(_pdu.RESPONSE, call_id=9)
    results = [assembly.add(_pdu.parse(f)) for f in frags]  # type: ignore[arg-type]
    assert results[:-1] == [None] * 9
    assert results[-1] == stub
    got = C.decode_get_all_sessions_response(stub)
    assert got.entries == expected_all_sessions(120) and got.total == 120


@pytest.mark.parametrize("level", [1, 2])
def test_get_enum_result_of_150_sessions_in_impacket_fragments(level: int) -> None:
    stub = impacket_enum_result(150, level).getData()
    frags = impacket_fragments(stub, 4, 4280)
    assert len(frags) >= 3
    assembly = _pdu.Reassembly(_pdu.RESPONSE, call_id=4)
    *head, last = [assembly.add(_pdu.parse(f)) for f in frags]  # type: ignore[arg-type]
    assert head == [None] * len(head) and last == stub
    got = C.decode_get_enum_result_response(stub)
    assert got.total == 150 and [e.name for e in got.entries] == [f"s{i}" for i in range(150)]


def impacket_enum_result(n: int, level: int) -> Any:
    resp = T.RpcGetEnumResultResponse()
    items = []
    for i in range(n):
        e = T.SessionInfo_STRUCT()
        e["Level"] = level
        e["SessionInfo"]["tag"] = level
        arm = e["SessionInfo"][f"SessionEnum_Level{level}"]
        arm["SessionId"] = i
        arm["State"] = 4
        arm["Name"] = _z(f"s{i}", 33)
        if level == 2:
            arm["Source"] = 0
            arm["bFullDesktop"] = 1
            arm["SessionType"] = uuid.UUID(int=i + 1).bytes_le
        items.append(e)
    resp["ppSessionEnumResult"] = items
    resp["pEntries"] = n
    resp["ErrorCode"] = 0
    return resp


@pytest.mark.parametrize("level", [1, 2])
def test_get_enum_result_response_from_impacket(level: int) -> None:
    got = C.decode_get_enum_result_response(impacket_enum_result(110, level).getData())
    assert got.total == 110 and got.error == 0
    for i, e in enumerate(got.entries):
        assert (e.session_id, e.state, e.name) == (i, 4, f"s{i}")
        if level == 2:
            assert e.full_desktop and e.session_type == uuid.UUID(int=i + 1).bytes_le


def impacket_info_ex() -> Any:
    resp = T.RpcGetSessionInformationExResponse()
    resp["LSMSessionInfoExPtr"]["tag"] = 1
    arm = resp["LSMSessionInfoExPtr"]["LSM_SessionInfo_Level1"]
    arm["SessionState"] = 4
    arm["SessionFlags"] = 0
    arm["SessionName"] = _z("RDP-Tcp#3", 33)
    arm["DomainName"] = _z("CONTOSO", 18)
    arm["UserName"] = _z("alice", 21)
    arm["ConnectTime"] = 133_000_000_000_000_000
    arm["DisconnectTime"] = 133_000_000_100_000_000
    arm["LogonTime"] = 132_999_999_000_000_000
    arm["LastInputTime"] = 133_000_000_050_000_000
    arm["ProtocolDataSize"] = 5
    arm["ProtocolData"] = b"\x01\x02\x03\x04\x05"
    resp["ErrorCode"] = 0
    return resp


INFO = C.SessionInfoEx(
    4,
    0,
    "RDP-Tcp#3",
    "CONTOSO",
    "alice",
    133_000_000_000_000_000,
    133_000_000_100_000_000,
    132_999_999_000_000_000,
    133_000_000_050_000_000,
    b"\x01\x02\x03\x04\x05",
)


def test_get_session_information_ex_response_from_impacket() -> None:
    assert C.decode_get_session_information_ex_response(impacket_info_ex().getData()) == (INFO, 0, 0)


def test_get_session_information_ex_error_from_impacket() -> None:
    resp = T.RpcGetSessionInformationExResponse()
    resp["LSMSessionInfoExPtr"] = T.NULL
    resp["ErrorCode"] = 0x80071B6E  # HRESULT_FROM_WIN32(ERROR_CTX_WINSTATION_NOT_FOUND)
    got = C.decode_get_session_information_ex_response(resp.getData())
    assert got.info is None and got.status == 0x80071B6E
    assert got.error == WinError.ERROR_CTX_WINSTATION_NOT_FOUND


# -- our server's answers, decoded by impacket ----------------------------------------------------------


def test_our_all_sessions_answer_decodes_in_impacket_and_matches_its_bytes() -> None:
    entries = expected_all_sessions(30)
    ours, gaps = encode_recording(lambda: C.encode_get_all_sessions_response(entries))
    assert_same_ndr(ours, gaps, impacket_all_sessions(30).getData())
    parsed = T.RpcGetAllSessionsResponse(ours)
    assert parsed["pcEntries"] == 30 and parsed["ErrorCode"] == 0
    row = parsed["ppSessionData"][7]["ExecEnvData"]["ExecEnvEnum_Level2"]
    assert (row["ExecEnvId"], row["SessionName"], row["UserName"], row["DomainName"]) == (
        8,
        "RDP-Tcp#7",
        "user7",
        "CONTOSO",
    )


@pytest.mark.parametrize("level", [1, 2])
def test_our_enum_result_answer_decodes_in_impacket(level: int) -> None:
    theirs = impacket_enum_result(12, level).getData()
    entries = C.decode_get_enum_result_response(theirs).entries
    ours, gaps = encode_recording(lambda: C.encode_get_enum_result_response(entries, level))
    if level == 2:  # bFullDesktop: a BOOL for MS-TSTS, a BOOLEAN and 3 pad bytes for impacket (see _calls)
        gaps += [("pad", 8 + i * 108 + 8 + 80 + 1, 3) for i in range(12)]
    assert_same_ndr(ours, gaps, theirs)
    parsed = T.RpcGetEnumResultResponse(ours)
    assert parsed["pEntries"] == 12
    assert parsed["ppSessionEnumResult"][11]["SessionInfo"][f"SessionEnum_Level{level}"]["Name"] == "s11"


def test_our_session_information_ex_answer_decodes_in_impacket() -> None:
    ours, gaps = encode_recording(lambda: C.encode_get_session_information_ex_response(INFO))
    theirs = impacket_info_ex().getData()
    # Offset 0 is Level for MS-TSTS and a referent id for impacket (documented in _calls): both non-zero.
    assert_same_ndr(ours, [*gaps, ("referent", 0, 4)], theirs)
    arm = T.RpcGetSessionInformationExResponse(ours)["LSMSessionInfoExPtr"]["LSM_SessionInfo_Level1"]
    assert (arm["SessionState"], arm["SessionName"], arm["DomainName"], arm["UserName"]) == (
        4,
        "RDP-Tcp#3",
        "CONTOSO",
        "alice",
    )
    assert arm.fields["LogonTime"].fields["Data"] == INFO.logon_time


def test_our_session_information_ex_error_decodes_in_impacket() -> None:
    ours = C.encode_get_session_information_ex_response(None, error=7022)
    parsed = T.RpcGetSessionInformationExResponse(ours)
    assert parsed["ErrorCode"] == 0x80071B6E
    assert C.decode_get_session_information_ex_response(ours).error == 7022
    with pytest.raises(ValueError, match="needs the session"):
        C.encode_get_session_information_ex_response(None)


# -- PDUs ----------------------------------------------------------------------------------------------


def test_bind_matches_impacket() -> None:
    item = rpcrt.CtxItem()
    item["ContextID"] = 0
    item["TransItems"] = 1
    item["AbstractSyntax"] = impacket_uuid.uuidtup_to_bin(("88143fd0-c28d-4b2b-8fef-8d882f6a9390", "1.0"))
    item["TransferSyntax"] = impacket_uuid.uuidtup_to_bin(("8a885d04-1ceb-11c9-9fe8-08002b104860", "2.0"))
    bind = rpcrt.MSRPCBind()
    bind["max_tfrag"] = bind["max_rfrag"] = 4280
    bind.addCtxItem(item)
    packet = rpcrt.MSRPCHeader()
    packet["type"] = rpcrt.MSRPC_BIND
    packet["call_id"] = 1
    packet["pduData"] = bind.getData()
    ctx = _pdu.ContextElem(0, C.TERMSRV_ENUMERATION.syntax, (_pdu.NDR_SYNTAX,))
    ours = _frames.encode_bind(1, [ctx], max_xmit_frag=4280, max_recv_frag=4280)
    assert ours == packet.get_packet()
    parsed = _pdu.parse(packet.get_packet())
    assert isinstance(parsed, _pdu.Bind) and parsed.contexts == (ctx,)


def test_our_bind_ack_decodes_in_impacket() -> None:
    results = [
        _pdu.ContextResult(_pdu.RESULT_ACCEPTANCE, 0, _pdu.NDR_SYNTAX),
        _pdu.ContextResult(_pdu.RESULT_PROVIDER_REJECTION, 2, _pdu.SyntaxId(uuid.UUID(int=0), 0)),
    ]
    ours = _frames.encode_bind_ack(
        1,
        results,
        max_xmit_frag=4280,
        max_recv_frag=4280,
        assoc_group=0x1234,
        secondary_address=r"\PIPE\LSM_API_service",
    )
    ack = rpcrt.MSRPCBindAck(ours)
    assert (ack["max_tfrag"], ack["assoc_group"], ack["ctx_num"]) == (4280, 0x1234, 2)
    assert ack["SecondaryAddr"] in (b"\\PIPE\\LSM_API_service", "\\PIPE\\LSM_API_service")
    first = rpcrt.CtxItemResult(ack["ctx_items"][:24])
    assert first["Result"] == 0 and first["TransferSyntax"] == _pdu.NDR_SYNTAX.pack()
    parsed = _pdu.parse(ours)
    assert isinstance(parsed, _pdu.BindAck) and parsed.results == tuple(results)
    assert parsed.secondary_address == r"\PIPE\LSM_API_service"


def test_request_fragment_matches_impacket() -> None:
    stub = C.encode_get_all_sessions_request(2)
    h = rpcrt.MSRPCRequestHeader()
    h["type"] = rpcrt.MSRPC_REQUEST
    h["call_id"] = 5
    h["ctx_id"] = 1
    h["op_num"] = 10
    h["alloc_hint"] = len(stub)
    h["pduData"] = stub
    (ours,) = _frames.request_fragments(5, 1, 10, stub)
    assert ours == h.get_packet()
    parsed = _pdu.parse(ours)
    assert isinstance(parsed, _pdu.Request) and (parsed.opnum, parsed.context_id, parsed.stub) == (10, 1, stub)


def test_fault_decodes_in_impacket_and_maps_to_win32() -> None:
    ours = _frames.encode_fault(3, 0x1C010002, did_not_execute=True)
    h = rpcrt.MSRPCRespHeader(ours)
    assert h["type"] == rpcrt.MSRPC_FAULT and h["call_id"] == 3
    assert struct.unpack("<L", h["pduData"][:4])[0] == 0x1C010002
    fault = _pdu.parse(ours)
    assert isinstance(fault, _pdu.Fault) and fault.header.flags & _pdu.PFC_DID_NOT_EXECUTE
    from wts._tsts._status import from_fault

    assert from_fault(fault.status) == 1745  # RPC_S_PROCNUM_OUT_OF_RANGE
    assert from_fault(5) == 5
    assert from_fault(0x1C000099) == 1726  # an nca_s code we do not know: the call may have run


# -- session actions, RCMPublic, the legacy API ---------------------------------------------------------


def test_open_session_request_omits_impacket_s_extra_handle() -> None:
    call = T.RpcOpenSession()
    call["SessionId"] = 7
    theirs = call.getData()
    assert theirs == struct.pack("<I", 7) + bytes(20)  # impacket's difference, documented in _actions
    assert A.encode_open_session_request(7) == theirs[:4]
    assert A.decode_open_session_request(theirs) == 7 == A.decode_open_session_request(theirs[:4])


def test_open_session_response_both_ways() -> None:
    resp = T.RpcOpenSessionResponse()
    resp["phSession"] = impacket_handle()
    resp["ErrorCode"] = 0x80071B6E
    got = A.decode_open_session_response(resp.getData())
    assert got == (HANDLE, 0x80071B6E, 7022)
    assert A.encode_open_session_response(HANDLE, 7022) == resp.getData()


def test_close_session_both_ways() -> None:
    call = T.RpcCloseSession()
    call["phSession"] = impacket_handle()
    request_matches(lambda: A.encode_close_session_request(HANDLE), call)
    assert A.decode_close_session_request(call.getData()) == HANDLE
    resp = T.RpcCloseSessionResponse()
    resp["ErrorCode"] = 0
    assert A.decode_close_session_response(resp.getData()) == (0, 0)  # impacket's 4-byte form
    ours = A.encode_close_session_response()
    assert len(ours) == 24 and A.decode_close_session_response(ours) == (0, 0)
    assert T.RpcCloseSessionResponse(ours)["ErrorCode"] == 0  # what impacket reads of ours: success


@pytest.mark.parametrize("password", ["", "p4ss wörd"])
def test_connect_request(password: str) -> None:
    call = T.RpcConnect()
    call["hSession"] = impacket_handle()
    call["TargetSessionId"] = 3
    call["szPassword"] = password + "\0"  # impacket's caller adds the NUL (hRpcConnect does)
    request_matches(lambda: A.encode_connect_request(HANDLE, 3, password), call)
    assert A.decode_connect_request(call.getData()) == (HANDLE, 3, password)


@pytest.mark.parametrize("name", ["RpcDisconnect", "RpcLogoff"])
def test_disconnect_and_logoff_requests(name: str) -> None:
    call = getattr(T, name)()
    call["hSession"] = impacket_handle()
    encode, decode = {
        "RpcDisconnect": (A.encode_disconnect_request, A.decode_disconnect_request),
        "RpcLogoff": (A.encode_logoff_request, A.decode_logoff_request),
    }[name]
    request_matches(lambda: encode(HANDLE), call)
    assert decode(call.getData()) == HANDLE


@pytest.mark.parametrize(
    ("status", "error"),
    [(0, 0), (1, 0), (0x10000000, 0), (0x80070005, 5), (0x80071B6E, 7022), (0xD0000022, 5), (0x80004005, 317)],
)
def test_hresults_map_as_wtsapi32_would(status: int, error: int) -> None:
    # 1 and 0x10000000 are what Windows answers RpcConnect and RpcLogoff with on success: impacket has
    # to special-case them; for us every HRESULT with the severity bit clear is a success.
    resp = T.RpcLogoffResponse()
    resp["ErrorCode"] = status
    assert A.decode_status_response(resp.getData()) == (status, error)


def test_status_response_decodes_in_impacket() -> None:
    assert T.RpcDisconnectResponse(A.encode_status_response(7022))["ErrorCode"] == 0x80071B6E
    assert T.RpcDisconnectResponse(A.encode_status_response())["ErrorCode"] == 0


@pytest.mark.parametrize(("title", "message"), [("", ""), ("Notice", "Saving in 5 minutes"), ("Ünïcødé", "é" * 301)])
def test_show_message_box_request(title: str, message: str) -> None:
    call = T.RpcShowMessageBox()
    call["hSession"] = impacket_handle()
    call["szTitle"] = title + "\0"
    call["szMessage"] = message + "\0"
    call["ulStyle"] = 0x40
    call["ulTimeout"] = 30
    call["bDoNotWait"] = False
    request_matches(lambda: A.encode_show_message_box_request(HANDLE, title, message, 0x40, 30, False), call)
    assert A.decode_show_message_box_request(call.getData()) == (HANDLE, title, message, 0x40, 30, False)


def test_show_message_box_response_both_ways() -> None:
    resp = T.RpcShowMessageBoxResponse()
    resp["pulResponse"] = 32000
    resp["ErrorCode"] = 0
    # pulResponse is a ULONG; impacket marshals it as a 16-bit NDR enum and 2 pad bytes (see _actions)
    assert A.decode_show_message_box_response(resp.getData()) == (32000, 0, 0)
    ours = A.encode_show_message_box_response(32000)
    assert_same_ndr(ours, [("pad", 2, 2)], resp.getData())
    assert T.RpcShowMessageBoxResponse(ours)["pulResponse"] == 32000


@pytest.mark.parametrize("name", ["RpcGetClientData", "RpcGetRemoteAddress"])
def test_rcm_requests(name: str) -> None:
    call = getattr(T, name)()
    call["SessionId"] = 5
    request_matches(lambda: A.encode_session_id_request(5), call)
    assert A.decode_session_id_request(call.getData()) == 5


CLIENT = A.ClientData(
    "WS01",
    "CONTOSO",
    "alice",
    "",
    "",
    "10.0.0.5",
    r"C:\Windows\System32\mstscax.dll",
    2,
    1920,
    1080,
    32,
    2,
    22621,
    1,
    3,
)


def test_our_client_data_decodes_in_impacket() -> None:
    ours = A.encode_get_client_data_response(CLIENT)
    parsed = T.RpcGetClientDataResponse(ours)
    buff = parsed["ppBuff"]
    assert (buff["ClientName"], buff["Domain"], buff["UserName"], buff["ClientAddress"]) == (
        "WS01",
        "CONTOSO",
        "alice",
        "10.0.0.5",
    )
    assert (buff["HRes"], buff["VRes"], parsed["pOutBuffByteLen"], parsed["ErrorCode"]) == (1920, 1080, 2296, 0)
    assert A.decode_get_client_data_response(ours) == (CLIENT, 0, 0)


def test_client_data_error_and_short_image() -> None:
    got = A.decode_get_client_data_response(A.encode_get_client_data_response(None, error=7022))
    assert got == (None, 0x80071B6E, 7022)
    short = struct.pack("<II", 0x20000, 8) + bytes(8) + struct.pack("<II", 8, 0)
    with pytest.raises(ProtocolError, match="a WINSTATIONCLIENT of 8 bytes"):
        A.decode_get_client_data_response(short)


def test_remote_address_ipv4_decodes_in_impacket() -> None:
    ours = A.encode_get_remote_address_response(A.AF_INET, 3389, bytes([10, 0, 0, 5]))
    parsed = T.RpcGetRemoteAddressResponse(ours)
    assert parsed["pRemoteAddress"]["tag"] == 2 and parsed["pRemoteAddress"]["ipv4"]["in_addr"] == "10.0.0.5"
    assert parsed["ErrorCode"] == 0
    assert A.decode_get_remote_address_response(ours) == (2, 3389, bytes([10, 0, 0, 5]), 0, 0)


def test_remote_address_ipv6_round_trip() -> None:
    address = bytes.fromhex("fe800000000000000000000000000001")
    ours = A.encode_get_remote_address_response(A.AF_INET6, 50000, address)
    assert A.decode_get_remote_address_response(ours) == (23, 50000, address, 0, 0)
    with pytest.raises(ValueError, match="family-23 address of 4 bytes"):
        A.encode_get_remote_address_response(A.AF_INET6, 1, bytes(4))


def test_impacket_remote_address_answer_is_four_bytes_short() -> None:
    # impacket's sockaddr arm has 4 bytes of sin_zero, MS-TSTS's 8 (documented in _actions): its answer
    # cannot be ours, and reading it is a clean ProtocolError.
    resp = T.RpcGetRemoteAddressResponse()
    resp["pRemoteAddress"]["tag"] = 2
    resp["pRemoteAddress"]["ipv4"]["in_addr"] = 0x0500000A
    resp["ErrorCode"] = 0
    assert len(resp.getData()) == len(A.encode_get_remote_address_response(2, 0, bytes(4))) - 4
    with pytest.raises(ProtocolError, match="RpcGetRemoteAddress response"):
        A.decode_get_remote_address_response(resp.getData())


def test_open_server_both_ways() -> None:
    call = T.RpcWinStationOpenServer()
    assert call.getData() == bytes(20)  # impacket marshals hBinding (documented in _actions)
    assert A.encode_open_server_request() == b""
    A.decode_open_server_request(call.getData())
    resp = T.RpcWinStationOpenServerResponse()
    resp["pResult"] = 0
    resp["phServer"] = impacket_handle()
    resp["ErrorCode"] = True
    assert A.decode_open_server_response(resp.getData()) == (True, 0, 0, HANDLE)
    ours, gaps = encode_recording(lambda: A.encode_open_server_response(HANDLE))
    assert_same_ndr(ours, gaps, resp.getData())
    denied = A.decode_open_server_response(A.encode_open_server_response(HANDLE, error=5))
    assert (denied.ok, denied.status, denied.error) == (False, 0xC0000022, 5)


@pytest.mark.parametrize(("name", "opnum"), [("RpcWinStationDisconnect", 13), ("RpcWinStationReset", 14)])
def test_winstation_actions(name: str, opnum: int) -> None:
    call = getattr(T, name)()
    call["hServer"] = impacket_handle()
    call["LoginId" if name.endswith("Disconnect") else "LogonId"] = 4
    call["bWait"] = True
    request_matches(lambda: A.encode_winstation_action_request(HANDLE, 4, True), call)
    assert A.decode_winstation_action_request(call.getData()) == (HANDLE, 4, True)
    assert call.opnum == opnum == getattr(C, "RPC_" + "WINSTATION_" + name[len("RpcWinStation") :].upper()).opnum


@pytest.mark.parametrize(("status", "ok", "error"), [(0, True, 0), (0xC00A0015, False, 7022), (0, False, 31)])
def test_legacy_answers_both_ways(status: int, ok: bool, error: int) -> None:
    resp = T.RpcWinStationResetResponse()
    resp["pResult"] = status
    resp["ErrorCode"] = ok
    assert A.decode_legacy_response(resp.getData())[:3] == (ok, status, error)
    if status or ok:
        ours, gaps = encode_recording(lambda: A.encode_legacy_response(error))
        assert_same_ndr(ours, gaps, resp.getData())


def test_terminate_process_and_close_server_requests() -> None:
    call = T.RpcWinStationTerminateProcess()
    call["hServer"] = impacket_handle()
    call["ProcessId"] = 4242
    call["ExitCode"] = 1
    request_matches(lambda: A.encode_terminate_process_request(HANDLE, 4242, 1), call)
    assert A.decode_terminate_process_request(call.getData()) == (HANDLE, 4242, 1)
    close = T.RpcWinStationCloseServer()
    close["hServer"] = impacket_handle()
    request_matches(lambda: A.encode_close_server_request(HANDLE), close)
    assert A.decode_close_server_request(close.getData()) == HANDLE


def test_get_all_processes_request() -> None:
    call = T.RpcWinStationGetAllProcesses()
    call["hServer"] = impacket_handle()
    call["Level"] = 0
    call["pNumberOfProcesses"] = 0x8000
    request_matches(lambda: P.encode_get_all_processes_request(HANDLE), call)
    assert P.decode_get_all_processes_request(call.getData()) == (HANDLE, 0, 0x8000)


SID = bytes.fromhex("010500000000000515000000") + struct.pack("<IIII", 1, 2, 3, 1001)
PROCESSES = [
    P.Process(4, 0, "System", b"", threads=150, handles=3000),
    P.Process(1234, 2, "explorer.exe", SID, parent_pid=1000, handles=12, create_time=133_000_000_000_000_000),
    P.Process(77, 2, "", SID[:8]),
]


def impacket_processes(processes: list[P.Process]) -> Any:
    resp = T.RpcWinStationGetAllProcessesResponse()
    resp["pResult"] = 0
    resp["pNumberOfProcesses"] = len(processes)
    items = []
    for p in processes:
        item = T.TS_ALL_PROCESSES_INFO()
        info = item["pTsProcessInfo"]
        for field, value in (
            ("NumberOfThreads", p.threads),
            ("CreateTime", p.create_time),
            ("UniqueProcessId", p.pid),
            ("InheritedFromUniqueProcessId", p.parent_pid),
            ("HandleCount", p.handles),
            ("SessionId", p.session_id),
        ):
            info[field] = value
        name = p.image_name.encode("utf-16-le")
        info["ImageName"]["Length"] = info["ImageName"]["MaximumLength"] = len(name)
        info["ImageName"]["Buffer"] = p.image_name
        item["SizeOfSid"] = len(p.sid)
        item["pSid"] = list(p.sid) if p.sid else T.NULL
        items.append(item)
    resp["ppTsAllProcessesInfo"] = items
    resp["ErrorCode"] = True
    return resp


def test_get_all_processes_response_both_ways() -> None:
    theirs = impacket_processes(PROCESSES).getData()
    got = P.decode_get_all_processes_response(theirs)
    assert got == (PROCESSES, True, 0, 0)
    ours, gaps = encode_recording(lambda: P.encode_get_all_processes_response(PROCESSES))
    assert_same_ndr(ours, gaps, theirs)
    parsed = T.RpcWinStationGetAllProcessesResponse(ours)
    second = parsed["ppTsAllProcessesInfo"][1]
    assert second.getProcessInfo()["ImageName"].getValue() == "explorer.exe"
    assert b"".join(second.fields["pSid"]["Data"]) == SID


def test_get_all_processes_denied() -> None:
    got = P.decode_get_all_processes_response(P.encode_get_all_processes_response([], error=5))
    assert got == ([], False, 0xC0000022, 5)


# -- untrusted input: one clean exception, and round trips ---------------------------------------------


DECODERS: list[Callable[[bytes], object]] = [
    C.decode_open_enum_response,
    C.decode_close_enum_response,
    C.decode_get_enum_result_response,
    C.decode_get_all_sessions_response,
    C.decode_get_session_information_ex_response,
    C.decode_open_enum_request,
    C.decode_close_enum_request,
    C.decode_get_enum_result_request,
    C.decode_get_all_sessions_request,
    C.decode_get_session_information_ex_request,
    _pdu.parse,
    A.decode_open_session_request,
    A.decode_open_session_response,
    A.decode_close_session_response,
    A.decode_connect_request,
    A.decode_show_message_box_request,
    A.decode_show_message_box_response,
    A.decode_get_client_data_response,
    A.decode_get_remote_address_response,
    A.decode_open_server_response,
    A.decode_legacy_response,
    A.decode_winstation_action_request,
    P.decode_get_all_processes_response,
    P.decode_get_all_processes_request,
]
VALID = [
    impacket_all_sessions(3).getData(),
    impacket_enum_result(3, 2).getData(),
    impacket_info_ex().getData(),
    *_frames.response_fragments(1, 0, impacket_all_sessions(3).getData()),
    _frames.encode_bind_ack(
        1, [_pdu.ContextResult(0, 0, _pdu.NDR_SYNTAX)], max_xmit_frag=4280, max_recv_frag=4280, assoc_group=1
    ),
    A.encode_get_client_data_response(CLIENT),
    A.encode_show_message_box_request(HANDLE, "t", "message"),
    P.encode_get_all_processes_response(PROCESSES),
]


def decodes_cleanly(decode: Callable[[bytes], object], data: bytes) -> None:
    try:
        decode(data)
    except ProtocolError as e:
        assert "\n" not in str(e) and str(e)


@given(st.sampled_from(DECODERS), st.binary(max_size=600))
def test_garbage_raises_protocol_error_only(decode: Callable[[bytes], object], data: bytes) -> None:
    decodes_cleanly(decode, data)


@given(st.sampled_from(DECODERS), st.sampled_from(VALID), st.data())
def test_truncated_or_flipped_answers_raise_protocol_error_only(
    decode: Callable[[bytes], object], valid: bytes, data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(valid)))
    decodes_cleanly(decode, valid[:cut])
    at = data.draw(st.integers(0, len(valid) - 1))
    flipped = bytearray(valid)
    flipped[at] ^= data.draw(st.integers(1, 255))
    decodes_cleanly(decode, bytes(flipped))


def test_a_hostile_count_is_capped_by_the_bytes_present() -> None:
    hostile = struct.pack("<III", 2, 0x20000, 0x7FFF_FFFF) + bytes(64)
    with pytest.raises(ProtocolError, match="session count says 2147483647 items"):
        C.decode_get_all_sessions_response(hostile)
    with pytest.raises(ProtocolError, match="needs 4 bytes, 0 left"):
        C.decode_get_all_sessions_response(b"")


# What fits a WCHAR[33] whole: up to 32 units, none astral (longer names are cut: the last test).
names = st.text(
    st.characters(max_codepoint=0xFFFF, blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=32
)
ids = st.integers(-(2**31), 2**31 - 1)
entries2 = st.builds(C.ExecEnvEntry, ids, st.integers(0, 9), names, ids, names, names, names, names)


@given(st.lists(entries2, max_size=40), st.integers(0, 2**31 - 1))
def test_get_all_sessions_round_trip_through_fragments(entries: list[C.ExecEnvEntry], call_id: int) -> None:
    stub = C.encode_get_all_sessions_response(entries)
    assembly = _pdu.Reassembly(_pdu.RESPONSE, call_id)
    out = [assembly.add(_pdu.parse(f)) for f in _frames.response_fragments(call_id, 0, stub, max_frag=1432)]  # type: ignore[arg-type]
    assert out[-1] == stub
    got = C.decode_get_all_sessions_response(stub)
    assert got.entries == entries and got.total == len(entries) and got.error == 0


times = st.integers(-(2**63), 2**63 - 1)


@given(
    st.builds(
        C.SessionInfoEx,
        st.integers(0, 9),
        st.sampled_from([0, 1, -1]),
        names,
        names,
        names,
        times,
        times,
        times,
        times,
        st.binary(max_size=64),
    )
)
def test_session_information_ex_round_trip(info: C.SessionInfoEx) -> None:
    got = C.decode_get_session_information_ex_response(C.encode_get_session_information_ex_response(info))
    assert got == (info._replace(domain=info.domain[:17], user=info.user[:20]), 0, 0)


def test_fixed_arrays_keep_their_nul_and_cut_longer_names() -> None:
    info = INFO._replace(user="u" * 40, domain="d" * 40, station="s" * 40)
    got = C.decode_get_session_information_ex_response(C.encode_get_session_information_ex_response(info)).info
    assert got is not None and (got.user, got.domain, got.station) == ("u" * 20, "d" * 17, "s" * 32)


def test_levels_may_differ_from_one_entry_to_the_next() -> None:
    # The fast path reads level-2 entries with one struct call; a level-1 entry (82 bytes, then 2 of
    # padding) before one must not shift it.
    one, two = C.ExecEnvEntry(1, 4, "a"), expected_all_sessions(1)[0]
    mixed = C.encode_get_all_sessions_response([one], level=1)[:-8]  # pLevel, pointer, count, entry
    mixed = mixed[:8] + struct.pack("<I", 2) + mixed[12:]  # two entries now (the padding kept)
    mixed += C.encode_get_all_sessions_response([two])[12:]  # a level-2 entry, pcEntries, status
    got = C.decode_get_all_sessions_response(mixed)
    assert got.entries == [one, two]


# -- the PDU layer with real packet privacy (_auth's NTLM over pyspnego) and with hostile framing -------


def test_a_sealed_call_in_fragments_both_ways() -> None:
    """bind (NTLM negotiate) -> bind_ack (challenge) -> auth3 (authenticate), then a 120-session
    answer sealed in 1,432-byte fragments, each padded, signed over header and trailer, reassembled."""
    pytest.importorskip("spnego")
    from wts import Credentials
    from wts._tsts._auth import Account, AuthError, ClientAuth, ServerAuth

    client = ClientAuth(Credentials("admin", "CONTOSO", "Pa55-w0rd!"), "127.0.0.2")
    server = ServerAuth([Account("CONTOSO", "admin", "Pa55-w0rd!")])
    client.context_id = server.context_id = 79231
    trailer = _pdu.SecTrailer(client.auth_type, client.auth_level, 0, 79231)
    ctx = _pdu.ContextElem(0, C.TERMSRV_ENUMERATION.syntax, (_pdu.NDR_SYNTAX,))
    bind = _pdu.parse(_frames.encode_bind(1, [ctx], auth=trailer, auth_value=client.step(None) or b""))
    assert isinstance(bind, _pdu.Bind) and bind.auth is not None and bind.contexts == (ctx,)
    challenge = server.step(bind.auth_value) or b""
    ack = _pdu.parse(
        _frames.encode_bind_ack(
            1,
            [_pdu.ContextResult(0, 0, _pdu.NDR_SYNTAX)],
            max_xmit_frag=1432,
            max_recv_frag=1432,
            assoc_group=7,
            secondary_address=r"\PIPE\LSM_API_service",
            auth=trailer,
            auth_value=challenge,
        )
    )
    assert isinstance(ack, _pdu.BindAck) and ack.auth is not None
    auth3 = _pdu.parse(_frames.encode_auth3(1, trailer, client.step(ack.auth_value) or b""))
    assert isinstance(auth3, _pdu.Auth3)
    assert server.step(auth3.auth_value) is None and server.complete and client.complete

    request_stub = C.encode_get_all_sessions_request(2) + bytes(3000)  # long enough for three fragments
    frags = _frames.request_fragments(2, 0, 10, request_stub, max_frag=1432, protector=client)
    assert len(frags) == 3 and all(len(f) <= 1432 for f in frags)
    assembly = _pdu.Reassembly(_pdu.REQUEST)
    got = [assembly.add(_pdu.parse(f, server)) for f in frags]  # type: ignore[arg-type]
    assert got[-1] == request_stub and request_stub[:4] not in frags[0][24:]  # sealed on the wire

    answer = C.encode_get_all_sessions_response(expected_all_sessions(120))
    frags = _frames.response_fragments(2, 0, answer, max_frag=1432, protector=server)
    assert all(len(f) <= 1432 for f in frags)
    assembly = _pdu.Reassembly(_pdu.RESPONSE, 2)
    got = [assembly.add(_pdu.parse(f, client)) for f in frags]  # type: ignore[arg-type]
    assert got[-1] == answer
    assert C.decode_get_all_sessions_response(got[-1]).entries == expected_all_sessions(120)

    # A flipped bit in a sealed fragment's header, body or trailer fails its check (access denied).
    tampered = _frames.response_fragments(3, 0, b"x" * 40, protector=server)[0]
    assert len(tampered) == 24 + 48 + 8 + 16
    for at in (20, 30, 24 + 48 + 3):  # p_cont_id, the stub, the trailer's auth_reserved
        bad = bytearray(tampered)
        bad[at] ^= 1
        with pytest.raises(AuthError):
            _pdu.parse(bytes(bad), client)


def fragment(call_id: int, flags: int, stub: bytes) -> _pdu.Response:
    pdu = _frames.response_fragments(call_id, 0, stub)[0]
    pdu = pdu[:3] + bytes([flags]) + pdu[4:]
    parsed = _pdu.parse(pdu)
    assert isinstance(parsed, _pdu.Response)
    return parsed


def test_reassembly_refuses_fragments_out_of_order() -> None:
    with pytest.raises(ProtocolError, match="no first fragment"):
        _pdu.Reassembly(_pdu.RESPONSE, 5).add(fragment(5, _pdu.PFC_LAST_FRAG, b"b"))
    assembly = _pdu.Reassembly(_pdu.RESPONSE, 5)
    assert assembly.add(fragment(5, _pdu.PFC_FIRST_FRAG, b"a")) is None
    with pytest.raises(ProtocolError, match="a second first fragment"):
        assembly.add(fragment(5, _pdu.PFC_FIRST_FRAG, b"b"))


def test_reassembly_refuses_another_call_and_caps_the_total() -> None:
    with pytest.raises(ProtocolError, match="call id 6, expected 5"):
        _pdu.Reassembly(_pdu.RESPONSE, 5).add(fragment(6, 3, b"a"))
    assembly = _pdu.Reassembly(_pdu.RESPONSE, 5, limit=100)
    assembly.add(fragment(5, _pdu.PFC_FIRST_FRAG, bytes(60)))
    with pytest.raises(ProtocolError, match="more than 100 bytes"):
        assembly.add(fragment(5, 0, bytes(60)))


def test_a_bind_nak_and_a_fault_read_back() -> None:
    nak = _pdu.parse(_frames.encode_bind_nak(4, _pdu.NAK_AUTHENTICATION_TYPE_NOT_RECOGNIZED))
    assert isinstance(nak, _pdu.BindNak) and nak.reason == 8
    assert rpcrt.MSRPCHeader(_frames.encode_bind_nak(4, 8))["type"] == rpcrt.MSRPC_BINDNAK
    with pytest.raises(ValueError, match=r"outside 1432\.\.65535"):
        _frames.request_fragments(1, 0, 0, b"", max_frag=1000)
    with pytest.raises(ProtocolError, match=r"RPC version 4\.0"):
        _pdu.parse(b"\x04" + _frames.encode_fault(1, 5)[1:])
    with pytest.raises(ProtocolError, match="the header says 32 bytes, the fragment has 31"):
        _pdu.parse(_frames.encode_fault(1, 5)[:-1])


requests = st.builds(
    A.MessageRequest,
    st.binary(min_size=20, max_size=20),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=300),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=300),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)


@given(requests)
def test_show_message_box_request_round_trip(request: A.MessageRequest) -> None:
    assert A.decode_show_message_box_request(A.encode_show_message_box_request(*request)) == request


processes = st.builds(
    P.Process,
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40),
    st.binary(max_size=68),
    **{f: st.integers(0, 2**32 - 1) for f in P.Process._fields[4:] if not f.endswith("time") and f != "base_priority"},
    base_priority=ids,
    **{f: times for f in P.Process._fields[4:] if f.endswith("time")},
)


@given(st.lists(processes, max_size=20))
def test_get_all_processes_round_trip(procs: list[P.Process]) -> None:
    assert P.decode_get_all_processes_response(P.encode_get_all_processes_response(procs)) == (procs, True, 0, 0)


# -- RpcWinStationSendMessage (_legacy) -----------------------------------------------------------------


@pytest.mark.parametrize(("title", "message"), [("Notice", "Saving in 5 minutes"), ("", "x"), ("t", "é" * 1023)])
def test_send_message_request_matches_impacket(title: str, message: str) -> None:
    call = T.RpcWinStationSendMessage()
    call["hServer"] = impacket_handle()
    call["LogonId"] = 3
    call["pTitle"] = title + "\0"  # hRpcWinStationSendMessage pads with NULs (to 1,024); we send one
    call["pMessage"] = message + "\0"
    call["Style"] = 0x30
    call["Timeout"] = 60
    call["DoNotWait"] = False
    request_matches(lambda: L.encode_send_message_request(HANDLE, 3, title, message, 0x30, 60, False), call)
    assert L.decode_send_message_request(call.getData()) == (HANDLE, 3, title, message, 0x30, 60, False)


def test_send_message_as_tstool_pads_it() -> None:
    call = T.RpcWinStationSendMessage()
    call["hServer"] = impacket_handle()
    call["LogonId"] = 3
    call["pTitle"] = T.ZEROPAD("Title", 1024)
    call["pMessage"] = T.ZEROPAD("Text", 1024)
    call["DoNotWait"] = True
    assert L.decode_send_message_request(call.getData()) == (HANDLE, 3, "Title", "Text", 0, 0, True)
    with pytest.raises(ValueError, match="the message is 1024 UTF-16 units long; at most 1023 fit"):
        L.encode_send_message_request(HANDLE, 3, "t", "m" * 1024)


def test_send_message_response_both_ways() -> None:
    resp = T.RpcWinStationSendMessageResponse()
    resp["pResult"] = 0
    resp["pResponse"] = 32001
    resp["ErrorCode"] = True
    assert L.decode_send_message_response(resp.getData()) == (32001, True, 0, 0)
    ours, gaps = encode_recording(lambda: L.encode_send_message_response(32001))
    assert_same_ndr(ours, gaps, resp.getData())
    assert L.decode_send_message_response(L.encode_send_message_response(0, error=7022)) == (0, False, 0xC00A0015, 7022)


@given(st.binary(max_size=300))
def test_send_message_garbage_raises_protocol_error_only(data: bytes) -> None:
    decodes_cleanly(L.decode_send_message_request, data)
    decodes_cleanly(L.decode_send_message_response, data)


def test_the_level2_array_reads_the_same_in_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """RpcGetAllSessions' level-2 array read in one pass equals the element-by-element reading,
    with a surrogate pair (the one-decode shortcut cannot apply), garbage after a NUL, a full
    32-unit name and an empty one."""
    entries = [
        C.ExecEnvEntry(1, 0, "RDP-Tcp#0", 1, "RDS01", "al\U0001f600ice", "CONTOSO", ""),
        C.ExecEnvEntry(2, 4, "x" * 32, 2, "RDS01", "", "", "farm"),
        C.ExecEnvEntry(3, 1, "Console", 3, "RDS01", "bob", "CONTOSO", ""),
    ]
    stub = bytearray(C.encode_get_all_sessions_response(entries))
    at = stub.index("bob".encode("utf-16-le")) + 8  # after bob's NUL: garbage a reader must not show
    stub[at : at + 4] = "zz".encode("utf-16-le")
    fast = C.decode_get_all_sessions_response(bytes(stub))
    monkeypatch.setattr(C, "_level2_entries", lambda *args: None)
    slow = C.decode_get_all_sessions_response(bytes(stub))
    assert fast == slow
    assert fast.entries == entries
