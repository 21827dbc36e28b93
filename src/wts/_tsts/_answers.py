"""What the tsts provider's calls answer, as wtsapi32 answers them: the bytes of
WTSQuerySessionInformationW's buffers and the rows of WTSEnumerateProcessesExW, from MS-TSTS records.

API: ``INFO_EX_CLASSES`` / ``CLIENT_CLASSES`` (the info classes one RpcGetSessionInformationEx or one
RpcGetClientData answers), ``CLIENT_INFO`` / ``CLIENT_ADDRESS`` (WTSClientInfo, WTSClientAddress);
``from_info_ex(session_id, info_class, info)``, ``from_client_data(info_class, client)``,
``client_record(client) -> bytes`` (WTSCLIENTW, 2,304 bytes, as the sim fills it);
``process_rows(processes, session_id)``: the rows ``src/_tsts.pxi`` lays out as WTS_PROCESS_INFO_EXW.
No I/O here: ``_client`` makes the calls.
"""

from __future__ import annotations

import ipaddress
import struct
import time
from collections.abc import Iterable
from typing import Any

from .._types import ANY_SESSION
from . import _calls
from ._actions import AF_INET, AF_INET6, ClientData
from ._ndr import utf16le
from ._processes import Process

__all__ = [
    "ANY_SESSION",
    "CLIENT_ADDRESS",
    "CLIENT_CLASSES",
    "CLIENT_INFO",
    "INFO_EX_CLASSES",
    "client_record",
    "from_client_data",
    "from_info_ex",
    "process_rows",
]

# FILETIME of the Unix epoch, in 100 ns ticks since 1601.
_EPOCH_TICKS = 116_444_736_000_000_000
# WTS_INFO_CLASS values (the SDK's).
_INITIAL_PROGRAM, _WORKING_DIRECTORY = 0, 2
_SESSION_ID, _USER_NAME, _WINSTATION_NAME, _DOMAIN_NAME, _CONNECT_STATE = 4, 5, 6, 7, 8
_CLIENT_BUILD_NUMBER, _CLIENT_NAME, _CLIENT_DIRECTORY, _CLIENT_PRODUCT_ID, _CLIENT_HARDWARE_ID = 9, 10, 11, 12, 13
CLIENT_ADDRESS, _CLIENT_DISPLAY, _CLIENT_PROTOCOL_TYPE = 14, 15, 16
CLIENT_INFO = 23
_SESSION_INFO, _SESSION_INFO_EX, _IS_REMOTE_SESSION = 24, 25, 29

INFO_EX_CLASSES = frozenset(
    {_SESSION_INFO_EX, _SESSION_INFO, _SESSION_ID, _USER_NAME, _WINSTATION_NAME, _DOMAIN_NAME, _CONNECT_STATE}
)
CLIENT_CLASSES = frozenset(
    {
        CLIENT_ADDRESS,
        _CLIENT_HARDWARE_ID,
        _INITIAL_PROGRAM,
        _WORKING_DIRECTORY,
        _CLIENT_BUILD_NUMBER,
        _CLIENT_NAME,
        _CLIENT_DIRECTORY,
        _CLIENT_PRODUCT_ID,
        _CLIENT_DISPLAY,
        _CLIENT_PROTOCOL_TYPE,
        _IS_REMOTE_SESSION,
    }
)


def from_info_ex(session_id: int, info_class: int, info: _calls.SessionInfoEx) -> bytes:
    now = _filetime_now()  # LSM_SESSIONINFO_EX has no current time: the client's clock stands in
    if info_class == _SESSION_INFO_EX:
        level1 = (
            struct.pack("<IIi", session_id, info.state, info.flags)
            + _wchars(info.station, 33)
            + _wchars(info.user, 21)
            + _wchars(info.domain, 18)
            + bytes(4)  # to LogonTime's 8-byte alignment (offset 160)
            + struct.pack("<qqqqq", info.logon_time, info.connect_time, info.disconnect_time, info.last_input_time, now)
            + bytes(24)  # the byte and frame counters: MS-TSTS's level 1 has none
        )
        return struct.pack("<I", 1) + bytes(4) + level1
    if info_class == _SESSION_INFO:
        return (
            struct.pack("<II", info.state, session_id)
            + bytes(24)
            + _wchars(info.station, 32)
            + _wchars(info.domain, 17)
            + _wchars(info.user, 21)
            + bytes(4)
            + struct.pack("<qqqqq", info.connect_time, info.disconnect_time, info.last_input_time, info.logon_time, now)
        )
    if info_class == _SESSION_ID:
        return struct.pack("<I", session_id)
    if info_class == _CONNECT_STATE:
        return struct.pack("<I", info.state)
    text = {_USER_NAME: info.user, _WINSTATION_NAME: info.station, _DOMAIN_NAME: info.domain}[info_class]
    return _wstr(text)


def from_client_data(info_class: int, client: Any) -> bytes:
    if info_class == CLIENT_ADDRESS:
        return client_address(client)
    if info_class == _CLIENT_HARDWARE_ID:
        return struct.pack("<I", client.hardware_id)
    if info_class == _CLIENT_NAME:
        return _wstr(client.name)
    if info_class == _CLIENT_DIRECTORY:
        return _wstr(client.client_directory)
    if info_class == _INITIAL_PROGRAM:
        return _wstr(client.initial_program)
    if info_class == _WORKING_DIRECTORY:
        return _wstr(client.work_directory)
    if info_class == _CLIENT_BUILD_NUMBER:
        return struct.pack("<I", client.build)
    if info_class == _CLIENT_PRODUCT_ID:
        return struct.pack("<H", client.product_id)
    if info_class == _CLIENT_PROTOCOL_TYPE:
        return struct.pack("<H", client.protocol_type)
    if info_class == _IS_REMOTE_SESSION:
        return bytes([1 if client.protocol_type else 0])  # a BOOLEAN, as Windows answers
    return struct.pack("<III", client.h_res, client.v_res, client.color_depth)  # _CLIENT_DISPLAY


def _filetime_now() -> int:
    return _EPOCH_TICKS + time.time_ns() // 100


def _wchars(text: str, units: int) -> bytes:
    """A fixed WCHAR[units] field: truncated to leave its NUL, zero-filled."""
    data = utf16le(text)[: 2 * (units - 1)]
    return data + bytes(2 * units - len(data))


def _wstr(text: str) -> bytes:
    return utf16le(text) + b"\x00\x00"


# WTSCLIENTW (the SDK's layout; wts_seam.h pins its size and offsets).
_CLIENT_SIZE = 2304
_FAMILY, _ADDRESS, _ADDRESS_UNITS, _DISPLAY, _DIRECTORY, _BUILD, _PRODUCT = 1168, 1172, 31, 1234, 1240, 1764, 1772


def client_record(client: ClientData) -> bytes:
    """WTSCLIENTW from one RpcGetClientData answer: name, domain, user, work directory, initial
    program, the address family and address (AF_INET as text in the USHORT array, AF_INET6 as its 16
    bytes first, as Windows and the sim give them), display, client directory, build, product id."""
    out = bytearray(_CLIENT_SIZE)
    at = 0
    for text, units in ((client.name, 21), (client.domain, 18), (client.user, 21)):
        out[at : at + 2 * units] = _wchars(text, units)
        at += 2 * units
    for text in (client.work_directory, client.initial_program):
        out[at : at + 522] = _wchars(text, 261)
        at += 522
    family = client.address_family
    struct.pack_into("<I", out, _FAMILY, family)
    if family == AF_INET:
        out[_ADDRESS : _ADDRESS + 2 * _ADDRESS_UNITS] = _wchars(client.address.strip(), _ADDRESS_UNITS)
    elif family == AF_INET6:
        out[_ADDRESS : _ADDRESS + 16] = _packed(client).ljust(16, b"\0")
    struct.pack_into("<3H", out, _DISPLAY, client.h_res, client.v_res, client.color_depth)
    out[_DIRECTORY : _DIRECTORY + 522] = _wchars(client.client_directory, 261)
    struct.pack_into("<II", out, _BUILD, client.build, client.hardware_id)
    struct.pack_into("<H", out, _PRODUCT, client.product_id)
    return bytes(out)


def _packed(client: ClientData) -> bytes:
    """The client's address as the 4 or 16 bytes of its family; b"" when it reported none (or text
    that is not an address of that family)."""
    try:
        if client.address_family == AF_INET:
            return ipaddress.IPv4Address(client.address.strip()).packed
        if client.address_family == AF_INET6:
            return ipaddress.IPv6Address(client.address.strip()).packed
    except ValueError:
        pass
    return b""


def client_address(client: ClientData) -> bytes:
    """WTS_CLIENT_ADDRESS from RpcGetClientData: the address the client reported (what Microsoft's
    WTS_CLIENT_ADDRESS page says wtsapi32 gives), its family, then two bytes, then the address; a
    session with no client (the console, a listener) has family 0 and no address, as the sim's."""
    packed = _packed(client)
    family = client.address_family if packed else 0
    return struct.pack("<I", family) + bytes(2) + packed + bytes(18 - len(packed))


def process_rows(processes: Iterable[Process], session_id: int = ANY_SESSION) -> list[tuple[Any, ...]]:
    """(session id, pid, image name, SID bytes, threads, handles, pagefile, peak pagefile, working
    set, peak working set, user time, kernel time) per process of ``session_id`` (ANY_SESSION: all),
    the fields of WTS_PROCESS_INFO_EXW in its order; the DWORD counters clipped to 32 bits."""
    limit = (1 << 32) - 1
    return [
        (
            p.session_id,
            p.pid,
            p.image_name,
            p.sid,
            min(p.threads, limit),
            min(p.handles, limit),
            min(p.pagefile_usage, limit),
            min(p.peak_pagefile_usage, limit),
            min(p.working_set, limit),
            min(p.peak_working_set, limit),
            p.user_time,
            p.kernel_time,
        )
        for p in processes
        if session_id == ANY_SESSION or p.session_id == session_id
    ]
