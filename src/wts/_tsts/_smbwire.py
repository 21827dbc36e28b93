"""The SMB2 wire for ``wts sim serve``'s server (MS-SMB2 2.2): the numbers it speaks, the sync
header, a request as the server reads it (every offset checked against the bytes present), and the
fixed answers (the error body, NEGOTIATE's SPNEGO hint).  ``_smbserver`` builds on it."""

from __future__ import annotations

import struct
import time
from typing import Any

__all__ = [
    "CANCEL",
    "CLOSE",
    "CREATE",
    "DIALECT_202",
    "DIALECT_210",
    "DIALECT_311",
    "DIALECT_WILDCARD",
    "ECHO",
    "FILE_ATTRIBUTE_NORMAL",
    "FLAG_ASYNC",
    "FLAG_RESPONSE",
    "FLAG_SIGNED",
    "FSCTL_PIPE_TRANSCEIVE",
    "FSCTL_PIPE_WAIT",
    "FULL_ACCESS",
    "HEADER",
    "IOCTL",
    "LOGOFF",
    "MAX_CREDITS",
    "MAX_FRAME",
    "MAX_IO",
    "NEGOTIATE",
    "NEG_TOKEN_INIT",
    "READ",
    "SESSION_SETUP",
    "SHARE_FLAG_NO_CACHING",
    "SHARE_TYPE_PIPE",
    "SIGNING_ENABLED",
    "SIGNING_REQUIRED",
    "STATUS_ACCESS_DENIED",
    "STATUS_BAD_NETWORK_NAME",
    "STATUS_BUFFER_OVERFLOW",
    "STATUS_CANCELLED",
    "STATUS_FILE_CLOSED",
    "STATUS_INVALID_HANDLE",
    "STATUS_INVALID_PARAMETER",
    "STATUS_LOGON_FAILURE",
    "STATUS_MORE_PROCESSING_REQUIRED",
    "STATUS_NETWORK_NAME_DELETED",
    "STATUS_NOT_IMPLEMENTED",
    "STATUS_NOT_SUPPORTED",
    "STATUS_OBJECT_NAME_NOT_FOUND",
    "STATUS_PIPE_BROKEN",
    "STATUS_SUCCESS",
    "STATUS_USER_SESSION_DELETED",
    "TREE_CONNECT",
    "TREE_DISCONNECT",
    "WRITE",
    "ProtocolViolation",
    "Request",
    "error_body",
    "filetime_now",
]

# Commands (MS-SMB2 2.2.1.2)
NEGOTIATE, SESSION_SETUP, LOGOFF, TREE_CONNECT, TREE_DISCONNECT, CREATE, CLOSE = range(7)
READ, WRITE, IOCTL, CANCEL, ECHO = 8, 9, 11, 12, 13

# NTSTATUS values the server answers with (MS-ERREF 2.3)
STATUS_SUCCESS = 0
STATUS_BUFFER_OVERFLOW = 0x80000005
STATUS_NOT_IMPLEMENTED = 0xC0000002
STATUS_INVALID_HANDLE = 0xC0000008
STATUS_INVALID_PARAMETER = 0xC000000D
STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016
STATUS_ACCESS_DENIED = 0xC0000022
STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
STATUS_LOGON_FAILURE = 0xC000006D
STATUS_NOT_SUPPORTED = 0xC00000BB
STATUS_NETWORK_NAME_DELETED = 0xC00000C9
STATUS_BAD_NETWORK_NAME = 0xC00000CC
STATUS_CANCELLED = 0xC0000120
STATUS_FILE_CLOSED = 0xC0000128
STATUS_USER_SESSION_DELETED = 0xC0000203
STATUS_PIPE_BROKEN = 0xC000014B

FLAG_RESPONSE, FLAG_ASYNC, FLAG_SIGNED = 0x1, 0x2, 0x8
SIGNING_ENABLED, SIGNING_REQUIRED = 0x1, 0x2
DIALECT_202, DIALECT_210, DIALECT_311, DIALECT_WILDCARD = 0x0202, 0x0210, 0x0311, 0x02FF
FSCTL_PIPE_TRANSCEIVE = 0x0011C017
FSCTL_PIPE_WAIT = 0x00110018

HEADER = struct.Struct("<4sHHIHHIIQIIQ16s")  # MS-SMB2 2.2.1.2, the sync header: 64 bytes
MAX_IO = 64 * 1024  # MaxTransact/Read/WriteSize: no LARGE_MTU, so one credit per request
MAX_FRAME = MAX_IO + 4096  # the largest request a client may send us (a full write and its header)
MAX_CREDITS = 512
FILE_ATTRIBUTE_NORMAL = 0x80
SHARE_TYPE_PIPE = 0x02
SHARE_FLAG_NO_CACHING = 0x30
FULL_ACCESS = 0x001F01FF
# FILETIME of 1970-01-01: Windows' epoch shift, for the SystemTime of NEGOTIATE.
_EPOCH_TICKS = 116444736000000000


class ProtocolViolation(Exception):
    """A request this server cannot make sense of: the connection is dropped (as Windows drops it)."""


def _der(tag: int, body: bytes) -> bytes:
    return bytes([tag, len(body)]) + body  # every length here is under 128: the short form


# NEGOTIATE's security buffer: a SPNEGO NegTokenInit (RFC 4178) offering NTLMSSP only, so a client
# that reads it knows Kerberos will not be tried.
_SPNEGO_OID = bytes.fromhex("2b0601050502")
_NTLMSSP_OID = bytes.fromhex("2b0601040182370202 0a".replace(" ", ""))
NEG_TOKEN_INIT = _der(
    0x60, _der(0x06, _SPNEGO_OID) + _der(0xA0, _der(0x30, _der(0xA0, _der(0x30, _der(0x06, _NTLMSSP_OID)))))
)


def error_body() -> bytes:
    # SMB2 ERROR Response (2.2.2): StructureSize 9, no error contexts, one byte of ErrorData.
    return struct.pack("<HBBI", 9, 0, 0, 0) + b"\0"


def filetime_now() -> int:
    return _EPOCH_TICKS + time.time_ns() // 100


class Request:
    __slots__ = ("body", "command", "credits", "encrypted", "flags", "message_id", "raw", "session_id", "tree_id")

    def __init__(self, raw: bytes, encrypted: bool = False) -> None:
        if len(raw) < HEADER.size:
            raise ProtocolViolation("short SMB2 header")
        (magic, size, _charge, _status, command, credits, flags, next_command, message_id, _pid, tree_id,
         session_id, _sig) = HEADER.unpack_from(raw)  # fmt: skip
        if magic != b"\xfeSMB" or size != HEADER.size:
            raise ProtocolViolation("not an SMB2 header")
        if next_command or flags & FLAG_ASYNC:
            raise ProtocolViolation("compound or async requests are not supported")
        self.raw = raw
        self.encrypted = encrypted
        self.command = command
        self.credits = credits
        self.flags = flags
        self.message_id = message_id
        self.tree_id = tree_id
        self.session_id = session_id
        self.body = raw[HEADER.size :]

    def field(self, fmt: str, offset: int) -> tuple[Any, ...]:
        try:
            return struct.unpack_from(fmt, self.body, offset)
        except struct.error:
            raise ProtocolViolation("request body too short") from None

    def blob(self, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset`` from the start of the header, all present, or a violation."""
        if offset < HEADER.size or offset + length > len(self.raw):
            raise ProtocolViolation("buffer outside the request")
        return self.raw[offset : offset + length]
