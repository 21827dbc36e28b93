"""The client record (``ClientInfo``) from the bytes of WTSCLIENTW, as WTSQuerySessionInformationW
(WTSClientInfo) returns them: one buffer of 2304 bytes holding the name, the address, the display,
the build and the product id.  ``Server`` and ``Farm`` share it.

The bytes are untrusted (a server, or what answers for one, chose them): a short buffer reads as if
padded with zeros, strings stop at their array's end when they have no NUL, text that is not UTF-16
is replaced, and an address that cannot be read is None.  Nothing here raises on any input.
"""

from __future__ import annotations

import ipaddress
import struct

from ._types import ClientInfo, Protocol

__all__ = ["CLIENT_INFO_SIZE", "client_info_from_raw", "protocol_of"]

#: sizeof(WTSCLIENTW) on every architecture (no pointers in it); wts_seam.h asserts the same.
CLIENT_INFO_SIZE = 2304
# Offsets of the fields read (WTSCLIENTW, SDK layout; wts_seam.h pins the family, ClientDirectory and
# DeviceId offsets with static asserts, and these follow from them).
_NAME, _NAME_UNITS = 0, 21  # ClientName[CLIENTNAME_LENGTH + 1]
_FAMILY = 1168  # ULONG ClientAddressFamily
_ADDRESS, _ADDRESS_UNITS = 1172, 31  # USHORT ClientAddress[CLIENTADDRESS_LENGTH + 1]
_DISPLAY = 1234  # USHORT HRes, VRes, ColorDepth
_BUILD = 1764  # ULONG ClientBuildNumber, ULONG ClientHardwareId, USHORT ClientProductId
_PRODUCT = 1772
_AF_INET, _AF_INET6 = 2, 23  # Windows' values


def _units_text(raw: bytes) -> str:
    """UTF-16LE up to the first NUL unit (or the end); what is not UTF-16 is replaced."""
    for i in range(0, len(raw) - 1, 2):
        if raw[i] == 0 and raw[i + 1] == 0:
            raw = raw[:i]
            break
    return raw.decode("utf-16-le", "replace")


def _address(family: int, units: bytes) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """WTSCLIENTW.ClientAddress: for AF_INET the address as text ("10.0.0.5"); for AF_INET6 its 16
    bytes, first in the array (as the seam header records).  An AF_INET6 address written as text is
    read as text too, so that either form Windows may give is understood."""
    text = _units_text(units)
    looks_textual = bool(text) and text.isascii() and text.isprintable()
    try:
        if family == _AF_INET:
            return ipaddress.IPv4Address(text.strip()) if looks_textual else None
        if family == _AF_INET6:
            if looks_textual and ":" in text:
                return ipaddress.IPv6Address(text.strip())
            return ipaddress.IPv6Address(units[:16])
    except ValueError:
        return None
    return None


def client_info_from_raw(
    server: str | None, session_id: int, raw: bytes, protocol: Protocol | int | None = None
) -> ClientInfo:
    """The ClientInfo of a WTSCLIENTW buffer (``raw``: its bytes, any length)."""
    if len(raw) < CLIENT_INFO_SIZE:
        raw = raw + bytes(CLIENT_INFO_SIZE - len(raw))
    name = _units_text(raw[_NAME : _NAME + 2 * _NAME_UNITS])
    (family,) = struct.unpack_from("<I", raw, _FAMILY)
    width, height, depth = struct.unpack_from("<3H", raw, _DISPLAY)
    (build,) = struct.unpack_from("<I", raw, _BUILD)
    (product,) = struct.unpack_from("<H", raw, _PRODUCT)
    address = _address(family, raw[_ADDRESS : _ADDRESS + 2 * _ADDRESS_UNITS])
    return ClientInfo(server, session_id, name, address, family, width, height, depth, build, product, protocol)


def protocol_of(value: int) -> Protocol | int:
    """WTSClientProtocolType's USHORT as a Protocol; a value Windows does not define stays an int."""
    return Protocol(value) if value in Protocol._value2member_map_ else value
