"""RpcWinStationSendMessage (LegacyApi opnum 7), both directions.

With RpcWinStationDisconnect and RpcWinStationReset (in ``_actions``) it lets a client act on a
session in one RPC after one RpcWinStationOpenServer per connection, where the LSM path costs three
(RpcOpenSession, the action, RpcCloseSession).

API summary (conventions of ``_actions``):

* ``encode_send_message_request(handle, session_id, title, message, style=0, timeout=0,
  do_not_wait=True)``; ``decode_send_message_request(stub) -> LegacyMessage``.
* ``decode_send_message_response(stub) -> LegacyMessageResult`` (the MessageBox answer, the
  BOOLEAN, the NTSTATUS pResult and its Win32 code); ``encode_send_message_response(response,
  error=0)``.

The title and the message are ``[size_is(Length)] PWCHAR`` with ``[range(0, 1024)] Length``: a
conformant array of at most 1,024 UTF-16 units, sent with its terminating NUL (as impacket's
``hRpcWinStationSendMessage`` does, after padding them with NULs to 1,024); a longer text is a
ValueError, never cut short.
"""

from __future__ import annotations

from typing import NamedTuple

from ._ndr import Reader, Writer, utf16le, utf16z
from ._status import from_ntstatus, ntstatus_from_win32

__all__ = ["LegacyMessage", "LegacyMessageResult"]

MAX_UNITS = 1024  #: the IDL's range(0, 1024) on TitleLength and MessageLength


class LegacyMessage(NamedTuple):
    handle: bytes
    session_id: int
    title: str
    message: str
    style: int
    timeout: int
    do_not_wait: bool


class LegacyMessageResult(NamedTuple):
    response: int  #: IDOK (1) ... IDTIMEOUT (32000), IDASYNC (32001)
    ok: bool
    status: int
    error: int


def _units(text: str, what: str) -> bytes:
    data = utf16le(text) + b"\x00\x00"
    if len(data) // 2 > MAX_UNITS:
        raise ValueError(f"the {what} is {len(data) // 2 - 1} UTF-16 units long; at most {MAX_UNITS - 1} fit")
    return data


def encode_send_message_request(
    handle: bytes,
    session_id: int,
    title: str,
    message: str,
    style: int = 0,
    timeout: int = 0,
    do_not_wait: bool = True,
) -> bytes:
    w = Writer()
    w.context_handle(handle)
    w.u32(session_id % (1 << 32))
    for text, what in ((title, "title"), (message, "message")):
        data = _units(text, what)
        w.u32(len(data) // 2)  # the conformant array's max count ...
        w.raw(data)
        w.u32(len(data) // 2)  # ... and TitleLength / MessageLength, the same number
    w.u32(style)
    w.u32(timeout)
    w.boolean(do_not_wait)
    return w.getvalue()


def decode_send_message_request(stub: bytes) -> LegacyMessage:
    r = Reader(stub, "RpcWinStationSendMessage request")
    handle = r.context_handle("hServer")
    session_id = r.u32("LogonId")
    texts = []
    for what in ("Title", "Message"):
        count = r.count(2, f"p{what} count")
        text = utf16z(r.raw(2 * count, f"p{what}"))
        length = r.u32(f"{what}Length")
        if length != count or count > MAX_UNITS:
            raise r.fail(f"{what}Length {length} for an array of {count} units (at most {MAX_UNITS})")
        texts.append(text)
    out = LegacyMessage(
        handle, session_id, texts[0], texts[1], r.u32("Style"), r.u32("Timeout"), r.boolean("DoNotWait")
    )
    r.done()
    return out


def decode_send_message_response(stub: bytes) -> LegacyMessageResult:
    r = Reader(stub, "RpcWinStationSendMessage response")
    status = r.u32("pResult")
    response = r.u32("pResponse")
    ok = r.boolean("return value")
    r.done()
    error = from_ntstatus(status)
    if not ok and not error:  # FALSE without a status is still a failure
        error = from_ntstatus(0xC0000001)
    return LegacyMessageResult(response, ok, status, error)


def encode_send_message_response(response: int, error: int = 0) -> bytes:
    w = Writer()
    w.u32(ntstatus_from_win32(error))
    w.u32(0 if error else response)
    w.boolean(error == 0)
    return w.getvalue()
