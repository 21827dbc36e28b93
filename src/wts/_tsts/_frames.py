"""Writing DCE/RPC connection-oriented PDUs (C706 chapter 12, MS-RPCE 2.2.2); ``_pdu`` reads them.

API summary:

* ``encode_bind(call_id, contexts, *, max_xmit_frag=5840, max_recv_frag=5840, assoc_group=0,
  auth=None, auth_value=b"")`` and ``encode_alter_context`` (same arguments); ``encode_bind_ack(call_id,
  results, *, max_xmit_frag, max_recv_frag, assoc_group, secondary_address="", auth=None,
  auth_value=b"")`` and ``encode_alter_context_resp``; ``encode_bind_nak(call_id, reason)``;
  ``encode_auth3(call_id, auth, auth_value)``; ``encode_fault(call_id, status, *, context_id=0,
  did_not_execute=False)``.  ``auth`` is a ``_pdu.SecTrailer`` (its pad_length is computed here).
* ``request_fragments(call_id, context_id, opnum, stub, *, max_frag=5840, protector=None,
  object_uuid=None)`` and ``response_fragments(call_id, context_id, stub, *, max_frag=5840,
  protector=None)``: lists of fragments of at most ``max_frag`` bytes (the peer's max_recv_frag),
  PFC_FIRST_FRAG / PFC_LAST_FRAG set, alloc_hint the stub bytes still to come; with a
  ``_pdu.Protector``, each stub fragment is padded with zeros to a multiple of 16 (only the last
  one needs it: the others are cut at multiples of 16), then signed or sealed.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Sequence

from ._pdu import (
    ALTER_CONTEXT,
    ALTER_CONTEXT_RESP,
    AUTH3,
    BIND,
    BIND_ACK,
    BIND_NAK,
    COMMON_HEADER_SIZE,
    FAULT,
    MAX_FRAG,
    MAX_STUB,
    MIN_FRAG,
    PFC_DID_NOT_EXECUTE,
    PFC_FIRST_FRAG,
    PFC_LAST_FRAG,
    PFC_OBJECT_UUID,
    REQUEST,
    REQUEST_HEADER_SIZE,
    RESPONSE,
    RESPONSE_HEADER_SIZE,
    SEC_TRAILER_SIZE,
    ContextElem,
    ContextResult,
    Protector,
    SecTrailer,
)

__all__ = [
    "encode_alter_context",
    "encode_alter_context_resp",
    "encode_auth3",
    "encode_bind",
    "encode_bind_ack",
    "encode_bind_nak",
    "encode_fault",
    "request_fragments",
    "response_fragments",
]

_DREP = b"\x10\x00\x00\x00"  # little-endian integers, ASCII characters, IEEE floats
_HEADER = struct.Struct("<BBBB4sHHI")
_SEC_TRAILER = struct.Struct("<BBBBI")
_REQ = struct.Struct("<IHH")
_RESP = struct.Struct("<IHBB")


def _header(ptype: int, flags: int, frag_length: int, auth_length: int, call_id: int) -> bytes:
    return _HEADER.pack(5, 0, ptype, flags, _DREP, frag_length, auth_length, call_id)


def _with_auth(ptype: int, flags: int, call_id: int, body: bytes, auth: SecTrailer | None, value: bytes) -> bytes:
    """A PDU whose auth_value is sent as is (bind, alter_context, auth3 and their answers)."""
    if auth is None:
        return _header(ptype, flags, COMMON_HEADER_SIZE + len(body), 0, call_id) + body
    pad = -(COMMON_HEADER_SIZE + len(body)) % 4  # the sec_trailer is 4-aligned in the PDU
    trailer = _SEC_TRAILER.pack(auth.auth_type, auth.auth_level, pad, 0, auth.context_id)
    total = COMMON_HEADER_SIZE + len(body) + pad + SEC_TRAILER_SIZE + len(value)
    return _header(ptype, flags, total, len(value), call_id) + body + bytes(pad) + trailer + value


def _contexts(contexts: Sequence[ContextElem]) -> bytes:
    out = bytearray(struct.pack("<BBH", len(contexts), 0, 0))
    for c in contexts:
        out += struct.pack("<HBB", c.context_id, len(c.transfers), 0) + c.abstract.pack()
        for t in c.transfers:
            out += t.pack()
    return bytes(out)


def encode_bind(
    call_id: int,
    contexts: Sequence[ContextElem],
    *,
    max_xmit_frag: int = 5840,
    max_recv_frag: int = 5840,
    assoc_group: int = 0,
    auth: SecTrailer | None = None,
    auth_value: bytes = b"",
    flags: int = PFC_FIRST_FRAG | PFC_LAST_FRAG,
    ptype: int = BIND,
) -> bytes:
    """A bind PDU (or alter_context with ``ptype=ALTER_CONTEXT``) offering ``contexts``."""
    body = struct.pack("<HHI", max_xmit_frag, max_recv_frag, assoc_group) + _contexts(contexts)
    return _with_auth(ptype, flags, call_id, body, auth, auth_value)


def encode_alter_context(call_id: int, contexts: Sequence[ContextElem], **kw: object) -> bytes:
    return encode_bind(call_id, contexts, ptype=ALTER_CONTEXT, **kw)  # type: ignore[arg-type]


def encode_bind_ack(
    call_id: int,
    results: Sequence[ContextResult],
    *,
    max_xmit_frag: int,
    max_recv_frag: int,
    assoc_group: int,
    secondary_address: str = "",
    auth: SecTrailer | None = None,
    auth_value: bytes = b"",
    flags: int = PFC_FIRST_FRAG | PFC_LAST_FRAG,
    ptype: int = BIND_ACK,
) -> bytes:
    """A bind_ack (or alter_context_resp): the secondary address is the pipe's name, e.g.
    ``\\PIPE\\LSM_API_service``; alter_context_resp sends an empty one."""
    address = secondary_address.encode("ascii", "replace") + b"\x00" if secondary_address else b""
    body = bytearray(struct.pack("<HHIH", max_xmit_frag, max_recv_frag, assoc_group, len(address)))
    body += address
    body += bytes(-len(body) % 4)  # the result list is 4-aligned (COMMON_HEADER_SIZE is too)
    body += struct.pack("<BBH", len(results), 0, 0)
    for r in results:
        body += struct.pack("<HH", r.result, r.reason) + r.transfer.pack()
    return _with_auth(ptype, flags, call_id, bytes(body), auth, auth_value)


def encode_alter_context_resp(call_id: int, results: Sequence[ContextResult], **kw: object) -> bytes:
    return encode_bind_ack(call_id, results, ptype=ALTER_CONTEXT_RESP, **kw)  # type: ignore[arg-type]


def encode_bind_nak(call_id: int, reason: int) -> bytes:
    """bind_nak with the one protocol version we speak (5.0)."""
    body = struct.pack("<HBBB", reason, 1, 5, 0)
    return _header(BIND_NAK, PFC_FIRST_FRAG | PFC_LAST_FRAG, COMMON_HEADER_SIZE + len(body), 0, call_id) + body


def encode_auth3(call_id: int, auth: SecTrailer, auth_value: bytes) -> bytes:
    """rpc_auth_3: 4 bytes of padding (the old max_xmit/max_recv), then the trailer and the token."""
    return _with_auth(AUTH3, PFC_FIRST_FRAG | PFC_LAST_FRAG, call_id, bytes(4), auth, auth_value)


def encode_fault(call_id: int, status: int, *, context_id: int = 0, did_not_execute: bool = False) -> bytes:
    """A fault PDU; ``did_not_execute`` sets PFC_DID_NOT_EXECUTE (the client may retry safely)."""
    flags = PFC_FIRST_FRAG | PFC_LAST_FRAG | (PFC_DID_NOT_EXECUTE if did_not_execute else 0)
    body = _RESP.pack(0, context_id, 0, 0) + struct.pack("<II", status, 0)
    return _header(FAULT, flags, COMMON_HEADER_SIZE + len(body), 0, call_id) + body


def _split(stub: bytes, max_frag: int, overhead: int, protector: Protector | None) -> list[bytes]:
    if not MIN_FRAG <= max_frag <= MAX_FRAG:
        raise ValueError(f"a fragment of {max_frag} bytes is outside {MIN_FRAG}..{MAX_FRAG}")
    room = max_frag - overhead
    if protector is not None:
        room -= SEC_TRAILER_SIZE + protector.signature_size
        room -= room % 16  # only the last fragment needs auth padding
    if len(stub) > MAX_STUB:
        raise ValueError(f"a stub of {len(stub)} bytes is above the {MAX_STUB}-byte limit")
    return [stub[i : i + room] for i in range(0, len(stub), room)] or [b""]


def _frame(
    ptype: int, flags: int, call_id: int, after_header: bytes, chunk: bytes, protector: Protector | None
) -> bytes:
    """One request/response fragment: header, ``after_header`` (alloc_hint ...), stub, auth."""
    if protector is None:
        length = COMMON_HEADER_SIZE + len(after_header) + len(chunk)
        return _header(ptype, flags, length, 0, call_id) + after_header + chunk
    pad = -len(chunk) % 16
    body = chunk + bytes(pad)
    size = protector.signature_size
    length = COMMON_HEADER_SIZE + len(after_header) + len(body) + SEC_TRAILER_SIZE + size
    head = _header(ptype, flags, length, size, call_id) + after_header
    trailer = _SEC_TRAILER.pack(protector.auth_type, protector.auth_level, pad, 0, protector.context_id)
    body, signature = protector.wrap(head, body, trailer)
    if len(signature) != size:
        raise ValueError(f"the protector's signature is {len(signature)} bytes, not {size}")
    return head + body + trailer + signature


def request_fragments(
    call_id: int,
    context_id: int,
    opnum: int,
    stub: bytes,
    *,
    max_frag: int = 5840,
    protector: Protector | None = None,
    object_uuid: uuid.UUID | None = None,
) -> list[bytes]:
    """A call's request as fragments of at most ``max_frag`` bytes (the server's max_recv_frag)."""
    extra = object_uuid.bytes_le if object_uuid is not None else b""
    chunks = _split(stub, max_frag, REQUEST_HEADER_SIZE + len(extra), protector)
    out = []
    left = len(stub)
    for i, chunk in enumerate(chunks):
        flags = (PFC_FIRST_FRAG if i == 0 else 0) | (PFC_LAST_FRAG if i == len(chunks) - 1 else 0)
        flags |= PFC_OBJECT_UUID if extra else 0
        out.append(_frame(REQUEST, flags, call_id, _REQ.pack(left, context_id, opnum) + extra, chunk, protector))
        left -= len(chunk)
    return out


def response_fragments(
    call_id: int, context_id: int, stub: bytes, *, max_frag: int = 5840, protector: Protector | None = None
) -> list[bytes]:
    """A call's response as fragments of at most ``max_frag`` bytes (the client's max_recv_frag)."""
    chunks = _split(stub, max_frag, RESPONSE_HEADER_SIZE, protector)
    out = []
    left = len(stub)
    for i, chunk in enumerate(chunks):
        flags = (PFC_FIRST_FRAG if i == 0 else 0) | (PFC_LAST_FRAG if i == len(chunks) - 1 else 0)
        out.append(_frame(RESPONSE, flags, call_id, _RESP.pack(left, context_id, 0, 0), chunk, protector))
        left -= len(chunk)
    return out
