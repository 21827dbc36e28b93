"""DCE/RPC connection-oriented PDUs (C706 chapter 12, MS-RPCE 2.2.2): their records, and reading them.

API summary (F's binding/auth and G's server use these; nothing here does I/O):

* Records (NamedTuples): ``Header``, ``Bind`` (also alter_context), ``BindAck`` (also
  alter_context_resp), ``BindNak``, ``Request``, ``Response``, ``Fault``, ``Auth3``, ``SecTrailer``,
  ``ContextElem`` / ``ContextResult``; ``parse(pdu, protector=None)`` turns ONE fragment into one of
  them (a request/response stub already unwrapped when a protector is given); ``frag_length(prefix)``
  reads the length from the first 10 bytes so a stream can be cut into fragments.
* Encoders are in ``_frames`` (writing PDUs, this module reads them): ``encode_bind``,
  ``encode_alter_context``, ``encode_bind_ack``, ``encode_alter_context_resp``, ``encode_bind_nak``,
  ``encode_auth3``, ``encode_fault``, and the fragmenting ``request_fragments`` /
  ``response_fragments``.
* ``Reassembly(ptype, call_id)``: ``add(pdu) -> bytes | None`` collects a call's fragments (same call
  id, context and opnum, first flag only on the first) and gives the whole stub at the last one.
* A client that signs or seals sets PFC_SUPPORT_HEADER_SIGN in its bind's flags (MS-RPCE 2.2.2.3):
  Windows then expects the signature over the header too, which is what ``Protector`` gives.
* ``Protector`` (a Protocol ``_auth`` implements): ``auth_type``, ``auth_level``, ``context_id``,
  ``signature_size``; ``wrap(header, body, trailer) -> (body', signature)`` and
  ``unwrap(header, body, trailer, signature) -> body``, where header is the 24 (or 40, with an
  object UUID) bytes before the stub, body the stub fragment plus its auth padding (what privacy
  encrypts; zeros pad it to a multiple of 16) and trailer the 8-byte sec_trailer; the signature
  covers all three, as MS-RPCE 3.3.1.5.2 requires for header signing.
* Malformed input raises ``ProtocolError`` (from ``_ndr``) with a one-line message, nothing else.
"""

from __future__ import annotations

import struct
import uuid
from typing import NamedTuple, Protocol, Union

from ._ndr import ProtocolError

__all__ = [
    "NDR_SYNTAX",
    "Auth3",
    "Bind",
    "BindAck",
    "BindNak",
    "ContextElem",
    "ContextResult",
    "Fault",
    "Header",
    "Protector",
    "Reassembly",
    "Request",
    "Response",
    "SecTrailer",
    "SyntaxId",
    "frag_length",
    "parse",
]

# PDU types (C706 12.6.4.1)
REQUEST = 0
RESPONSE = 2
FAULT = 3
BIND = 11
BIND_ACK = 12
BIND_NAK = 13
ALTER_CONTEXT = 14
ALTER_CONTEXT_RESP = 15
AUTH3 = 16
SHUTDOWN = 17
CO_CANCEL = 18
ORPHANED = 19

# pfc_flags (C706 12.6.3.1; MS-RPCE 2.2.2.3 reuses PFC_PENDING_CANCEL as PFC_SUPPORT_HEADER_SIGN in binds)
PFC_FIRST_FRAG = 0x01
PFC_LAST_FRAG = 0x02
PFC_PENDING_CANCEL = 0x04
PFC_SUPPORT_HEADER_SIGN = 0x04
PFC_CONC_MPX = 0x10
PFC_DID_NOT_EXECUTE = 0x20
PFC_MAYBE = 0x40
PFC_OBJECT_UUID = 0x80

# auth levels (MS-RPCE 2.2.1.1.8) and types (2.2.1.1.7)
AUTH_LEVEL_CONNECT = 2
AUTH_LEVEL_PKT_INTEGRITY = 5
AUTH_LEVEL_PKT_PRIVACY = 6
AUTH_TYPE_NEGOTIATE = 9
AUTH_TYPE_NTLM = 10
AUTH_TYPE_KERBEROS = 16

# p_cont_def_result_t and provider reasons (C706 12.6.3.1)
RESULT_ACCEPTANCE = 0
RESULT_USER_REJECTION = 1
RESULT_PROVIDER_REJECTION = 2
REASON_NOT_SPECIFIED = 0
REASON_ABSTRACT_SYNTAX_NOT_SUPPORTED = 1
REASON_TRANSFER_SYNTAXES_NOT_SUPPORTED = 2
# bind_nak reasons
NAK_REASON_NOT_SPECIFIED = 0
NAK_PROTOCOL_VERSION_NOT_SUPPORTED = 4
NAK_AUTHENTICATION_TYPE_NOT_RECOGNIZED = 8
NAK_INVALID_CHECKSUM = 9

COMMON_HEADER_SIZE = 16
REQUEST_HEADER_SIZE = 24  # common header + alloc_hint, p_cont_id, opnum
RESPONSE_HEADER_SIZE = 24  # common header + alloc_hint, p_cont_id, cancel_count, reserved
SEC_TRAILER_SIZE = 8
#: Below this, a fragment cannot carry a header, a trailer and a useful stub; C706 12.6.3.1 says 1432.
MIN_FRAG = 1432
MAX_FRAG = 0xFFFF
#: What a whole call's stub may grow to when reassembled: 64 MiB, far above any MS-TSTS answer.
MAX_STUB = 64 << 20

_HEADER = struct.Struct("<BBBB4sHHI")
_SEC_TRAILER = struct.Struct("<BBBBI")
_REQ = struct.Struct("<IHH")
_RESP = struct.Struct("<IHBB")
_U16 = struct.Struct("<H")


class SyntaxId(NamedTuple):
    """An interface or transfer syntax: UUID and version (major, minor)."""

    uuid: uuid.UUID
    major: int
    minor: int = 0

    def pack(self) -> bytes:
        return self.uuid.bytes_le + struct.pack("<HH", self.major, self.minor)


#: NDR 2.0, the transfer syntax every MS-TSTS interface uses.
NDR_SYNTAX = SyntaxId(uuid.UUID("8a885d04-1ceb-11c9-9fe8-08002b104860"), 2)
#: NDR64 (servers of Windows clients see it offered; we accept only NDR 2.0).
NDR64_SYNTAX = SyntaxId(uuid.UUID("71710533-beba-4937-8319-b5dbef9ccc36"), 1)


class Header(NamedTuple):
    ptype: int
    flags: int
    frag_length: int
    auth_length: int
    call_id: int


class SecTrailer(NamedTuple):
    auth_type: int
    auth_level: int
    pad_length: int
    context_id: int


class ContextElem(NamedTuple):
    context_id: int
    abstract: SyntaxId
    transfers: tuple[SyntaxId, ...]


class ContextResult(NamedTuple):
    result: int  #: RESULT_ACCEPTANCE, RESULT_PROVIDER_REJECTION, ...
    reason: int
    transfer: SyntaxId


class Bind(NamedTuple):
    """bind or alter_context (``header.ptype`` says which)."""

    header: Header
    max_xmit_frag: int
    max_recv_frag: int
    assoc_group: int
    contexts: tuple[ContextElem, ...]
    auth: SecTrailer | None
    auth_value: bytes


class BindAck(NamedTuple):
    """bind_ack or alter_context_resp (``header.ptype`` says which)."""

    header: Header
    max_xmit_frag: int
    max_recv_frag: int
    assoc_group: int
    secondary_address: str
    results: tuple[ContextResult, ...]
    auth: SecTrailer | None
    auth_value: bytes


class BindNak(NamedTuple):
    header: Header
    reason: int


class Request(NamedTuple):
    header: Header
    alloc_hint: int
    context_id: int
    opnum: int
    object: uuid.UUID | None
    stub: bytes  #: this fragment's stub, unwrapped (auth padding removed)


class Response(NamedTuple):
    header: Header
    alloc_hint: int
    context_id: int
    cancel_count: int
    stub: bytes


class Fault(NamedTuple):
    header: Header
    alloc_hint: int
    context_id: int
    status: int  #: an nca_s_* code or a Win32 code (``_calls.fault_winerror`` maps it)


class Auth3(NamedTuple):
    header: Header
    auth: SecTrailer
    auth_value: bytes


class Other(NamedTuple):
    """shutdown, co_cancel, orphaned: nothing in them a client or server of ours acts on beyond the type."""

    header: Header


Pdu = Union[Bind, BindAck, BindNak, Request, Response, Fault, Auth3, Other]


class Protector(Protocol):
    """Packet integrity or privacy for requests and responses (``_auth`` implements it)."""

    auth_type: int
    auth_level: int
    context_id: int
    signature_size: int

    def wrap(self, header: bytes, body: bytes, trailer: bytes) -> tuple[bytes, bytes]: ...

    def unwrap(self, header: bytes, body: bytes, trailer: bytes, signature: bytes) -> bytes: ...


# -- decoding ----------------------------------------------------------------------------------------


def frag_length(prefix: bytes) -> int:
    """The fragment length a PDU's first 10 bytes announce (to cut a byte stream into PDUs)."""
    if len(prefix) < 10:
        raise ProtocolError(f"bad PDU: {len(prefix)} bytes are too few for a header")
    length: int = _U16.unpack_from(prefix, 8)[0]
    if length < COMMON_HEADER_SIZE:
        raise ProtocolError(f"bad PDU: a fragment length of {length} is shorter than the header")
    return length


def _parse_header(pdu: bytes) -> Header:
    if len(pdu) < COMMON_HEADER_SIZE:
        raise ProtocolError(f"bad PDU: {len(pdu)} bytes are too few for a header")
    major, minor, ptype, flags, drep, length, auth_length, call_id = _HEADER.unpack_from(pdu)
    if major != 5 or minor not in (0, 1):
        raise ProtocolError(f"bad PDU: RPC version {major}.{minor}, not 5.0")
    if drep[0] & 0xF0 != 0x10 or drep[0] & 0x0F or drep[1]:
        raise ProtocolError(f"bad PDU: data representation {drep.hex()} (only little-endian ASCII IEEE)")
    if length != len(pdu):
        raise ProtocolError(f"bad PDU: the header says {length} bytes, the fragment has {len(pdu)}")
    if auth_length and COMMON_HEADER_SIZE + SEC_TRAILER_SIZE + auth_length > length:
        raise ProtocolError(f"bad PDU: an auth length of {auth_length} does not fit in {length} bytes")
    return Header(ptype, flags, length, auth_length, call_id)


def _split_auth(pdu: bytes, h: Header, body_start: int) -> tuple[bytes, SecTrailer | None, bytes]:
    """(body, trailer, auth_value) of a PDU; body still includes the auth padding."""
    if not h.auth_length:
        return pdu[body_start:], None, b""
    trailer_at = h.frag_length - h.auth_length - SEC_TRAILER_SIZE
    if trailer_at < body_start:
        raise ProtocolError(f"bad PDU: the sec_trailer at byte {trailer_at} overlaps the header")
    auth_type, auth_level, pad, _, context_id = _SEC_TRAILER.unpack_from(pdu, trailer_at)
    auth = SecTrailer(auth_type, auth_level, pad, context_id)
    if auth.pad_length > trailer_at - body_start:
        raise ProtocolError(
            f"bad PDU: {auth.pad_length} bytes of auth padding in a {trailer_at - body_start}-byte body"
        )
    return pdu[body_start:trailer_at], auth, pdu[trailer_at + SEC_TRAILER_SIZE :]


def _need(pdu: bytes, n: int, what: str) -> None:
    if len(pdu) < n:
        raise ProtocolError(f"bad {what}: {len(pdu)} bytes, at least {n} needed")


def _syntax(data: bytes, at: int) -> SyntaxId:
    major, minor = struct.unpack_from("<HH", data, at + 16)
    return SyntaxId(uuid.UUID(bytes_le=bytes(data[at : at + 16])), major, minor)


def _parse_bind(pdu: bytes, h: Header) -> Bind:
    body, auth, value = _split_auth(pdu, h, COMMON_HEADER_SIZE)
    _need(body, 12, "bind")
    xmit, recv, group, count = struct.unpack_from("<HHIB", body)
    at = 12
    contexts = []
    for _ in range(count):
        _need(body, at + 24, "bind context list")
        ctx_id, n_transfers = struct.unpack_from("<HB", body, at)
        _need(body, at + 24 + 20 * n_transfers, "bind context list")
        abstract = _syntax(body, at + 4)
        transfers = tuple(_syntax(body, at + 24 + 20 * i) for i in range(n_transfers))
        contexts.append(ContextElem(ctx_id, abstract, transfers))
        at += 24 + 20 * n_transfers
    return Bind(h, xmit, recv, group, tuple(contexts), auth, value)


def _parse_bind_ack(pdu: bytes, h: Header) -> BindAck:
    body, auth, value = _split_auth(pdu, h, COMMON_HEADER_SIZE)
    _need(body, 10, "bind_ack")
    xmit, recv, group, addr_len = struct.unpack_from("<HHIH", body)
    _need(body, 10 + addr_len, "bind_ack secondary address")
    address = bytes(body[10 : 10 + addr_len]).split(b"\x00", 1)[0].decode("ascii", "replace")
    at = 10 + addr_len
    at += -(COMMON_HEADER_SIZE + at) % 4
    _need(body, at + 4, "bind_ack result list")
    count = body[at]
    at += 4
    _need(body, at + 24 * count, "bind_ack result list")
    results = []
    for i in range(count):
        result, reason = struct.unpack_from("<HH", body, at + 24 * i)
        results.append(ContextResult(result, reason, _syntax(body, at + 24 * i + 4)))
    return BindAck(h, xmit, recv, group, address, tuple(results), auth, value)


def _unwrap(pdu: bytes, h: Header, head_size: int, protector: Protector | None, what: str) -> bytes:
    body, auth, signature = _split_auth(pdu, h, head_size)
    if auth is None:
        if protector is not None and protector.auth_level >= AUTH_LEVEL_PKT_INTEGRITY:
            raise ProtocolError(f"bad {what}: no verifier on a call made at auth level {protector.auth_level}")
        return body
    if protector is None:
        raise ProtocolError(f"bad {what}: a verifier on a call made without authentication")
    if (auth.auth_type, auth.context_id) != (protector.auth_type, protector.context_id):
        raise ProtocolError(f"bad {what}: auth type {auth.auth_type}, context {auth.context_id} is not ours")
    trailer = pdu[h.frag_length - h.auth_length - SEC_TRAILER_SIZE : h.frag_length - h.auth_length]
    plain = protector.unwrap(pdu[:head_size], body, trailer, signature)
    return plain[: len(plain) - auth.pad_length]


def parse(pdu: bytes, protector: Protector | None = None) -> Pdu:
    """One fragment as a record; a request's or response's stub is unwrapped by ``protector``."""
    h = _parse_header(pdu)
    if h.ptype == REQUEST:
        _need(pdu, REQUEST_HEADER_SIZE, "request")
        hint, ctx, opnum = _REQ.unpack_from(pdu, COMMON_HEADER_SIZE)
        head = REQUEST_HEADER_SIZE
        obj = None
        if h.flags & PFC_OBJECT_UUID:
            _need(pdu, head + 16, "request")
            obj = uuid.UUID(bytes_le=bytes(pdu[head : head + 16]))
            head += 16
        return Request(h, hint, ctx, opnum, obj, _unwrap(pdu, h, head, protector, "request"))
    if h.ptype == RESPONSE:
        _need(pdu, RESPONSE_HEADER_SIZE, "response")
        hint, ctx, cancels, _ = _RESP.unpack_from(pdu, COMMON_HEADER_SIZE)
        return Response(h, hint, ctx, cancels, _unwrap(pdu, h, RESPONSE_HEADER_SIZE, protector, "response"))
    if h.ptype == FAULT:
        _need(pdu, RESPONSE_HEADER_SIZE + 4, "fault")
        hint, ctx, _, _ = _RESP.unpack_from(pdu, COMMON_HEADER_SIZE)
        (status,) = struct.unpack_from("<I", pdu, RESPONSE_HEADER_SIZE)
        return Fault(h, hint, ctx, status)
    if h.ptype in (BIND, ALTER_CONTEXT):
        return _parse_bind(pdu, h)
    if h.ptype in (BIND_ACK, ALTER_CONTEXT_RESP):
        return _parse_bind_ack(pdu, h)
    if h.ptype == BIND_NAK:
        _need(pdu, COMMON_HEADER_SIZE + 2, "bind_nak")
        return BindNak(h, _U16.unpack_from(pdu, COMMON_HEADER_SIZE)[0])
    if h.ptype == AUTH3:
        _, auth, value = _split_auth(pdu, h, COMMON_HEADER_SIZE)
        if auth is None:
            raise ProtocolError("bad auth3: no sec_trailer")
        return Auth3(h, auth, value)
    if h.ptype in (SHUTDOWN, CO_CANCEL, ORPHANED):
        return Other(h)
    raise ProtocolError(f"bad PDU: unknown PDU type {h.ptype}")


class Reassembly:
    """One call's fragments (requests on a server, responses on a client) back into one stub."""

    __slots__ = ("_call_id", "_ctx", "_opnum", "_parts", "_ptype", "_size", "limit")

    def __init__(self, ptype: int, call_id: int | None = None, limit: int = MAX_STUB) -> None:
        self._ptype = ptype
        self._call_id = call_id
        self._ctx: int | None = None
        self._opnum: int | None = None
        self._parts: list[bytes] = []
        self._size = 0
        self.limit = limit

    @property
    def started(self) -> bool:
        return self._ctx is not None

    def add(self, pdu: Request | Response) -> bytes | None:
        """The whole stub when ``pdu`` is the last fragment, else None."""
        h = pdu.header
        what = "request" if self._ptype == REQUEST else "response"
        if h.ptype != self._ptype:
            raise ProtocolError(f"bad {what}: a PDU of type {h.ptype} in the middle of a call")
        if self._call_id is not None and h.call_id != self._call_id:
            raise ProtocolError(f"bad {what}: call id {h.call_id}, expected {self._call_id}")
        opnum = pdu.opnum if isinstance(pdu, Request) else None
        first = bool(h.flags & PFC_FIRST_FRAG)
        if first == self.started:
            raise ProtocolError(f"bad {what}: " + ("a second first fragment" if first else "no first fragment"))
        if first:
            self._call_id, self._ctx, self._opnum = h.call_id, pdu.context_id, opnum
        elif (pdu.context_id, opnum) != (self._ctx, self._opnum):
            raise ProtocolError(f"bad {what}: a fragment for another context or operation")
        self._size += len(pdu.stub)
        if self._size > self.limit:
            raise ProtocolError(f"bad {what}: more than {self.limit} bytes of stub")
        self._parts.append(pdu.stub)
        if not h.flags & PFC_LAST_FRAG:
            return None
        stub = b"".join(self._parts)
        self._parts, self._ctx, self._opnum, self._size = [], None, None, 0
        return stub
