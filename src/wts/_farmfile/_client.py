"""A session's client beyond its name and address, both ways: the farm file's ``display``,
``client_build``, ``client_product_id`` and ``protocol`` fields, and the compiled ``client`` line
that carries them to the C simulator (right after the session's own line, only when one is set).

``client\\tHRES\\tVRES\\tDEPTH\\tBUILD\\tPRODUCT\\tPROTOCOL``: the display in pixels and the colour depth
as the SDK's code (WTS_CLIENT_DISPLAY.ColorDepth), the build number, the product id, and the
protocol type (WTS_PROTOCOL_TYPE_*, or -1: as the simulator derives it, 0 for the console and
session 0, 2 elsewhere).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .._types import MAX_DWORD
from ._errors import BadLine, Invalid
from ._values import describe, integer, short

__all__ = ["CLIENT_FIELDS", "CLIENT_LINE_FIELDS", "client_line", "parse_client_line"]

#: The farm file's session fields this module reads.
CLIENT_FIELDS = ("display", "client_build", "client_product_id", "protocol")
#: Fields of a compiled client line, its kind included.
CLIENT_LINE_FIELDS = 7

#: Bits per pixel -> WTS_CLIENT_DISPLAY.ColorDepth (Microsoft's table: 1 is 4 bpp, 2 is 8, 4 is 16,
#: 16 is 15, 24 is 24, 32 is 32; 8, "a 3-byte RGB value", also means 24 bpp and is read back as 24).
_DEPTH_CODE = {4: 1, 8: 2, 15: 16, 16: 4, 24: 24, 32: 32}
_DEPTH_BITS = {code: bits for bits, code in _DEPTH_CODE.items()}
_PROTOCOLS = ("console", "ica", "rdp")  # WTS_PROTOCOL_TYPE_CONSOLE 0, _ICA 1, _RDP 2
_DISPLAY = re.compile(r"([0-9]{1,5})x([0-9]{1,5})x([0-9]{1,2})\Z")
_MAX_PIXELS = 65535  # WTSCLIENTW.HRes and VRes are USHORTs


def _display(value: object, path: str) -> tuple[int, int, int]:
    if value is None:
        return 0, 0, 0
    if not isinstance(value, str):
        raise Invalid(path, f"must be null or 'WIDTHxHEIGHTxBITS' (e.g. '1920x1080x32'), not {describe(value)}")
    m = _DISPLAY.match(value)
    if m is None:
        raise Invalid(path, f"{short(value)} is not 'WIDTHxHEIGHTxBITS' (e.g. '1920x1080x32')")
    width, height, bits = (int(g) for g in m.groups())
    if not (1 <= width <= _MAX_PIXELS and 1 <= height <= _MAX_PIXELS):
        raise Invalid(path, f"{short(value)}: width and height must be 1 to {_MAX_PIXELS} pixels")
    if bits not in _DEPTH_CODE:
        raise Invalid(path, f"{short(value)}: colour depth must be one of 4, 8, 15, 16, 24, 32 bits, not {bits}")
    return width, height, _DEPTH_CODE[bits]


def _protocol(value: object, path: str) -> int:
    if value is None:
        return -1
    if not isinstance(value, str) or value.lower() not in _PROTOCOLS:
        raise Invalid(path, f"must be null, 'console', 'ica' or 'rdp', not {describe(value)}")
    return _PROTOCOLS.index(value.lower())


def client_line(session: Mapping[str, Any], path: str) -> str | None:
    """The compiled client line of a farm-file session, or None when it sets none of the fields."""
    if all(session.get(k) is None for k in CLIENT_FIELDS):
        return None
    width, height, depth = _display(session.get("display"), f"{path}.display")
    build = integer(session.get("client_build", 0), f"{path}.client_build", 0, MAX_DWORD)
    product = integer(session.get("client_product_id", 0), f"{path}.client_product_id", 0, 0xFFFF)
    protocol = _protocol(session.get("protocol"), f"{path}.protocol")
    if (width, build, product, protocol) == (0, 0, 0, -1):
        return None
    return f"client\t{width}\t{height}\t{depth}\t{build}\t{product}\t{protocol}"


def parse_client_line(lineno: int, fields: list[str]) -> dict[str, Any]:
    """A compiled client line back into the farm file's fields (only those set)."""
    values = []
    limits = ((0, _MAX_PIXELS), (0, _MAX_PIXELS), (0, 32), (0, MAX_DWORD), (0, 0xFFFF), (-1, 2))
    for text, (low, high) in zip(fields[1:], limits):
        digits = text[1:] if text.startswith("-") else text
        if not (digits.isascii() and digits.isdecimal()) or not low <= int(text) <= high:
            raise BadLine(lineno, f"client field {text!r} is not an integer from {low} to {high}")
        values.append(int(text))
    width, height, depth, build, product, protocol = values
    out: dict[str, Any] = {}
    if width or height or depth:
        if not (width and height) or depth not in _DEPTH_BITS:
            raise BadLine(lineno, f"client display {width}x{height} with colour depth code {depth} is not valid")
        out["display"] = f"{width}x{height}x{_DEPTH_BITS[depth]}"
    if build:
        out["client_build"] = build
    if product:
        out["client_product_id"] = product
    if protocol >= 0:
        out["protocol"] = _PROTOCOLS[protocol]
    return out
