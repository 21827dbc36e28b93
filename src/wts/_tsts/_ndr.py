"""NDR 2.0 (C706 chapter 14, little-endian, ASCII, IEEE) for the MS-TSTS calls: a writer and a reader.

API summary (for ``_calls`` and anyone writing another call):

* ``Writer()``: ``u8 u16 u32 i32 hyper`` (each aligned to its size first), ``boolean`` (1 byte),
  ``raw(bytes)``, ``align(n)``, ``context_handle(h20)``, ``wchars(text, n)`` (a fixed ``WCHAR[n]``
  array: NUL-padded, truncated to n-1 units), ``wstring(text)`` (a ``[string] wchar_t*`` referent:
  max count, offset 0, actual count, UTF-16LE with its NUL), ``conformant_bytes(data)``,
  ``referent()`` (the next non-null pointer id), ``getvalue() -> bytes``.
* ``Reader(data)``: the same names for reading (``wchars(n) -> str`` stops at the first NUL,
  ``wstring() -> str``, ``pointer() -> int`` (0 is null), ``count(item_size)`` for a conformance
  that must fit in the bytes left), ``done()`` (everything read, up to alignment padding).
* ``ProtocolError(ValueError)``: the ONE exception for malformed input, a one-line message naming
  the field and the reason.  A reader never raises IndexError, struct.error or MemoryError: every
  length is checked against the bytes present before anything is allocated.

Positions are stub offsets: alignment is relative to the start of the stub (the PDU body), which
C706 14.2.2 and MS-RPCE 2.2.2.13 require to be 8-aligned in the fragment.
Strings decode with U+FFFD for invalid UTF-16 (as ``wts._wts`` does) and encode with surrogatepass.
"""

from __future__ import annotations

import codecs
import struct
from typing import Any

__all__ = ["FILETIME_UNIX_EPOCH", "NULL_HANDLE", "ProtocolError", "Reader", "Writer"]

#: A context handle's wire form: attributes (u32) + a UUID (16 bytes); all zeros is the null handle.
HANDLE_SIZE = 20
NULL_HANDLE = bytes(HANDLE_SIZE)
#: 100-ns ticks from 1601-01-01 (FILETIME's epoch) to 1970-01-01.
FILETIME_UNIX_EPOCH = 116_444_736_000_000_000

_utf16le_decode = codecs.utf_16_le_decode
_utf16le_encode = codecs.utf_16_le_encode
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_REFERENT_BASE = 0x00020000  # what Windows' NDR engine and impacket number referents from
_U32_LIMIT = 1 << 32


#: Alignment gaps are "octets of unspecified value" (C706 14.2.2): we write zeros, impacket 0xBF or
#: 0xAB; referent ids are any non-zero number (we count from 0x20000 as Windows does, impacket picks
#: at random).  ``record_gaps()`` lets a test see where ours are, to compare the rest byte for byte.
_gaps: list[tuple[str, int, int]] | None = None


def record_gaps() -> list[tuple[str, int, int]]:
    """From now on, every Writer appends ("pad" or "referent", offset, length) for each alignment gap
    and referent id to the returned list (until ``stop_recording_gaps()``).  For tests: one encoder
    at a time."""
    global _gaps
    _gaps = []
    return _gaps


def stop_recording_gaps() -> None:
    global _gaps
    _gaps = None


def utf16le(text: str) -> bytes:
    """``text`` as UTF-16LE, a lone surrogate kept as its unit (Windows' strings may hold one).  The
    codec is called directly: ``str.encode`` looks it up by name each time, four times the cost, and
    a level-2 session listing encodes five names a session."""
    return _utf16le_encode(text, "surrogatepass")[0]


class ProtocolError(ValueError):
    """Bytes that are not a valid PDU or stub: truncated, inconsistent, or not what was asked for."""


class Writer:
    """Builds one stub.  Integers are checked against their wire width (ValueError names the field)."""

    __slots__ = ("_buf", "_next_referent")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._next_referent = _REFERENT_BASE

    def getvalue(self) -> bytes:
        return bytes(self._buf)

    def __len__(self) -> int:
        return len(self._buf)

    def align(self, n: int) -> None:
        pad = -len(self._buf) % n
        if pad:
            if _gaps is not None:
                _gaps.append(("pad", len(self._buf), pad))
            self._buf += bytes(pad)

    def raw(self, data: bytes) -> None:
        self._buf += data

    def pack(self, layout: struct.Struct, pads: tuple[tuple[int, int], ...], *values: Any) -> None:
        """A fixed-layout run of fields at once (``layout`` spells out its inner padding, which
        ``pads`` lists as (offset, length) for ``record_gaps``): the fast path for arrays of flat
        structs.  The caller aligns first."""
        at = len(self._buf)
        try:
            self._buf += layout.pack(*values)
        except struct.error as e:
            raise ValueError(f"a value does not fit its field: {e}") from None
        if _gaps is not None:
            _gaps.extend(("pad", at + offset, n) for offset, n in pads)

    def u8(self, value: int) -> None:
        if not 0 <= value < 256:
            raise ValueError(f"{value} does not fit in an unsigned 8-bit field")
        self._buf.append(value)

    def boolean(self, value: bool) -> None:
        """An NDR ``boolean`` (1 byte); the IDL ``BOOL`` is a 32-bit ``u32``."""
        self._buf.append(1 if value else 0)

    def u16(self, value: int) -> None:
        self.align(2)
        try:
            self._buf += _U16.pack(value)
        except struct.error:
            raise ValueError(f"{value} does not fit in an unsigned 16-bit field") from None

    def u32(self, value: int) -> None:
        self.align(4)
        try:
            self._buf += _U32.pack(value)
        except struct.error:
            raise ValueError(f"{value} does not fit in an unsigned 32-bit field") from None

    def i32(self, value: int) -> None:
        self.align(4)
        try:
            self._buf += _I32.pack(value)
        except struct.error:
            raise ValueError(f"{value} does not fit in a signed 32-bit field") from None

    def hyper(self, value: int) -> None:
        """A 64-bit integer (``hyper``, ``LARGE_INTEGER``, FILETIME ticks): signed or unsigned."""
        self.align(8)
        try:
            self._buf += (_I64 if value < 0 else _U64).pack(value)
        except struct.error:
            raise ValueError(f"{value} does not fit in a 64-bit field") from None

    def context_handle(self, handle: bytes) -> None:
        if len(handle) != HANDLE_SIZE:
            raise ValueError(f"a context handle is {HANDLE_SIZE} bytes, not {len(handle)}")
        self.align(4)
        self._buf += handle

    def referent(self) -> int:
        """Writes the id of a non-null unique pointer (its referent comes later) and returns it."""
        ref = self._next_referent
        self._next_referent += 4
        self.u32(ref)
        if _gaps is not None:
            _gaps.append(("referent", len(self._buf) - 4, 4))
        return ref

    def wchars(self, text: str, n: int) -> None:
        """A fixed ``WCHAR[n]`` array: ``text`` NUL-padded; longer text is cut to n-1 units (Windows
        keeps the terminating NUL in these arrays)."""
        data = utf16le(text)[: 2 * (n - 1)]
        self.align(2)
        self._buf += data
        self._buf += bytes(2 * n - len(data))

    def wstring(self, text: str) -> None:
        """A conformant varying ``[string] wchar_t`` array: max count, offset, actual count, units."""
        data = utf16le(text) + b"\x00\x00"
        units = len(data) // 2
        self.u32(units)
        self.u32(0)
        self.u32(units)
        self._buf += data

    def conformant_bytes(self, data: bytes) -> None:
        """A conformant ``[size_is(n)] byte`` array: max count, then the bytes."""
        self.u32(len(data))
        self._buf += data


class Reader:
    """Reads one stub; every method raises ProtocolError (never IndexError) on short or bad data."""

    __slots__ = ("_data", "_pos", "what")

    def __init__(self, data: bytes, what: str = "stub") -> None:
        self._data = data
        self._pos = 0
        self.what = what  #: names the thing being read in error messages ("RpcGetAllSessions response")

    @property
    def pos(self) -> int:
        return self._pos

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def fail(self, reason: str) -> ProtocolError:
        return ProtocolError(f"bad {self.what}: {reason}")

    def _take(self, n: int, field: str) -> bytes:
        end = self._pos + n
        if n < 0 or end > len(self._data):
            raise self.fail(f"{field} at byte {self._pos} needs {n} bytes, {self.remaining()} left")
        out = self._data[self._pos : end]
        self._pos = end
        return out

    def align(self, n: int) -> None:
        pad = -self._pos % n
        if pad:
            self._take(pad, "alignment padding")

    def raw(self, n: int, field: str = "bytes") -> bytes:
        return bytes(self._take(n, field))

    def u8(self, field: str = "byte") -> int:
        return self._take(1, field)[0]

    def boolean(self, field: str = "boolean") -> bool:
        return self._take(1, field)[0] != 0

    def u16(self, field: str = "u16") -> int:
        self.align(2)
        value: int = _U16.unpack(self._take(2, field))[0]
        return value

    def u32(self, field: str = "u32") -> int:
        self.align(4)
        value: int = _U32.unpack(self._take(4, field))[0]
        return value

    def i32(self, field: str = "i32") -> int:
        self.align(4)
        value: int = _I32.unpack(self._take(4, field))[0]
        return value

    def hyper(self, field: str = "hyper") -> int:
        """A signed 64-bit integer (FILETIME ticks and LARGE_INTEGER are signed on the wire)."""
        self.align(8)
        value: int = _I64.unpack(self._take(8, field))[0]
        return value

    def context_handle(self, field: str = "context handle") -> bytes:
        self.align(4)
        return bytes(self._take(HANDLE_SIZE, field))

    def unpack(self, layout: struct.Struct, alignment: int, field: str) -> tuple[Any, ...]:
        """A fixed-layout run of fields at once (``layout`` spells out its own inner padding): the
        fast path for arrays of flat structs."""
        self.align(alignment)
        at = self._pos
        self._take(layout.size, field)
        return layout.unpack_from(self._data, at)

    def pointer(self, field: str = "pointer") -> int:
        """A unique or full pointer's referent id: 0 is null."""
        return self.u32(field)

    def count(self, item_size: int, field: str) -> int:
        """A conformance (max count) whose items, ``item_size`` bytes at least each, must fit in what
        is left: a hostile count can never make us allocate more than the bytes we were sent."""
        n = self.u32(field)
        if n * max(item_size, 1) > self.remaining():
            raise self.fail(f"{field} says {n} items of {item_size} bytes, only {self.remaining()} bytes left")
        return n

    def wchars(self, n: int, field: str = "WCHAR array") -> str:
        """A fixed ``WCHAR[n]`` array, up to its first NUL."""
        self.align(2)
        data = self._take(2 * n, field)
        return utf16z(data)

    def wstring(self, field: str = "string") -> str:
        """A conformant varying ``[string] wchar_t`` array, without its terminating NUL."""
        max_count = self.u32(f"{field} max count")
        offset = self.u32(f"{field} offset")
        actual = self.u32(f"{field} actual count")
        if offset != 0 or actual > max_count:
            raise self.fail(f"{field} has offset {offset} and {actual} of {max_count} units")
        return utf16z(self._take(2 * actual, field))

    def conformant_bytes(self, field: str = "byte array") -> bytes:
        n = self.count(1, f"{field} size")
        return bytes(self._take(n, field))

    def done(self) -> None:
        """Everything was read (trailing bytes mean the peer and we disagree on the layout)."""
        if self._pos != len(self._data):
            raise self.fail(f"{len(self._data) - self._pos} unexpected bytes after byte {self._pos}")


def utf16z(data: bytes) -> str:
    """UTF-16LE up to the first NUL unit, invalid units as U+FFFD (decoding what follows the NUL
    too costs less than finding it in Python; the codec function directly, not ``bytes.decode``,
    saves the codec lookup: a quarter of the cost of a 25-session answer)."""
    return _utf16le_decode(data, "replace")[0].split("\x00", 1)[0]


def u32_status(value: int) -> int:
    """A status read as a signed LONG/HRESULT, as the unsigned 32-bit value the tables use."""
    return value % _U32_LIMIT
