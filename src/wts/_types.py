"""Records and enumerations of the public API, the constants of the session-id space, and the
builders that turn what wts._wts decodes into ``SessionInfo`` records (``Server`` and ``Farm`` share them).

Records are NamedTuples: immutable, cheap to make by the million (wts._wts builds ``Session`` rows in
C), and nothing behind an attribute costs an RPC.  Times are aware UTC datetimes, durations
timedeltas.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta, timezone
from enum import IntEnum
from typing import Any, NamedTuple, cast

__all__ = [
    "CURRENT_SESSION",
    "FIRST_LISTENER_ID",
    "MAX_DWORD",
    "MAX_SESSION_ID",
    "ClientAddress",
    "ClientInfo",
    "ConnectState",
    "InfoClass",
    "MessageResponse",
    "Process",
    "Protocol",
    "Session",
    "SessionInfo",
    "datetime_to_filetime",
    "filetime_to_datetime",
    "idle_time",
    "process_from_row",
    "session_info_from_ex",
    "session_info_from_v1",
    "state_of",
]

#: WTS_CURRENT_SESSION: "the session this process runs in"; valid on the local server only.
CURRENT_SESSION = 0xFFFFFFFF
#: The largest real session id (a DWORD; the one above it is WTS_CURRENT_SESSION).
MAX_SESSION_ID = CURRENT_SESSION - 1
#: WTS_ANY_SESSION: WTSEnumerateProcessesExW's "every session" (the same number as MAX_SESSION_ID).
ANY_SESSION = 0xFFFFFFFE
#: The largest DWORD, for arguments the API takes as one (timeouts, styles).
MAX_DWORD = 0xFFFFFFFF
#: RD Session Host listeners (RDP-Tcp) have session ids from 65536 up; user sessions stay below.
FIRST_LISTENER_ID = 65536
# WTSINFOEX_LEVEL1_W.SessionFlags (Windows 8 and later; Windows 7 / 2008 R2 report them reversed).
_WTS_SESSIONSTATE_LOCK, _WTS_SESSIONSTATE_UNLOCK = 0, 1


class ConnectState(IntEnum):
    """WTS_CONNECTSTATE_CLASS, with the SDK's values."""

    ACTIVE = 0
    CONNECTED = 1
    CONNECT_QUERY = 2
    SHADOW = 3
    DISCONNECTED = 4
    IDLE = 5
    LISTEN = 6
    RESET = 7
    DOWN = 8
    INIT = 9

    @property
    def sdk_name(self) -> str:
        """The name qwinsta and the SDK use: 'Active', 'Disconnected', 'ConnectQuery', ..."""
        return _SDK_STATE_NAMES[self]

    @classmethod
    def parse(cls, text: str) -> ConnectState:
        """'Active', 'WTSActive', 'active', 'disc', 'CONNECT_QUERY' -> the state; ValueError otherwise."""
        key = text.strip().lower().replace("_", "").replace("-", "")
        if key.startswith("wts"):
            key = key[3:]
        for state in cls:
            name = _SDK_STATE_NAMES[state].lower()
            if key == name or (key == "disc" and state is cls.DISCONNECTED):
                return state
        names = ", ".join(_SDK_STATE_NAMES.values())
        raise ValueError(f"{text!r} is not a connect state (expected one of {names})")


_SDK_STATE_NAMES = {
    ConnectState.ACTIVE: "Active",
    ConnectState.CONNECTED: "Connected",
    ConnectState.CONNECT_QUERY: "ConnectQuery",
    ConnectState.SHADOW: "Shadow",
    ConnectState.DISCONNECTED: "Disconnected",
    ConnectState.IDLE: "Idle",
    ConnectState.LISTEN: "Listen",
    ConnectState.RESET: "Reset",
    ConnectState.DOWN: "Down",
    ConnectState.INIT: "Init",
}

#: ConnectState members indexed by value, for building records in C.
STATES_BY_VALUE: tuple[ConnectState, ...] = tuple(ConnectState)


class InfoClass(IntEnum):
    """WTS_INFO_CLASS, with the SDK's values (for ``Server.query``)."""

    INITIAL_PROGRAM = 0
    APPLICATION_NAME = 1
    WORKING_DIRECTORY = 2
    OEM_ID = 3
    SESSION_ID = 4
    USER_NAME = 5
    WINSTATION_NAME = 6
    DOMAIN_NAME = 7
    CONNECT_STATE = 8
    CLIENT_BUILD_NUMBER = 9
    CLIENT_NAME = 10
    CLIENT_DIRECTORY = 11
    CLIENT_PRODUCT_ID = 12
    CLIENT_HARDWARE_ID = 13
    CLIENT_ADDRESS = 14
    CLIENT_DISPLAY = 15
    CLIENT_PROTOCOL_TYPE = 16
    IDLE_TIME = 17
    LOGON_TIME = 18
    INCOMING_BYTES = 19
    OUTGOING_BYTES = 20
    INCOMING_FRAMES = 21
    OUTGOING_FRAMES = 22
    CLIENT_INFO = 23
    SESSION_INFO = 24
    SESSION_INFO_EX = 25
    CONFIG_INFO = 26
    VALIDATION_INFO = 27
    SESSION_ADDRESS_V4 = 28
    IS_REMOTE_SESSION = 29


class Protocol(IntEnum):
    """WTSClientProtocolType: WTS_PROTOCOL_TYPE_CONSOLE, _ICA, _RDP."""

    CONSOLE = 0
    ICA = 1
    RDP = 2


class MessageResponse(IntEnum):
    """What WTSSendMessageW reports: the button pressed (winuser.h IDOK...), or why none was."""

    OK = 1
    CANCEL = 2
    ABORT = 3
    RETRY = 4
    IGNORE = 5
    YES = 6
    NO = 7
    TRY_AGAIN = 10
    CONTINUE = 11
    TIMEOUT = 32000  # IDTIMEOUT: nobody answered within the timeout
    ASYNC = 32001  # IDASYNC: sent without waiting for an answer


class Session(NamedTuple):
    """One session as listed by WTSEnumerateSessionsExW (level 1): no further RPC behind it."""

    server: str | None  #: the server's name; None for the local server
    id: int
    station: str  #: WinStation name: 'Console', 'RDP-Tcp#3', '' for a disconnected RDP session
    state: ConnectState
    user: str  #: '' when nobody is logged on
    domain: str


class SessionInfo(NamedTuple):
    """One session's details from WTSQuerySessionInformationW(WTSSessionInfoEx): one RPC."""

    server: str | None
    id: int
    station: str
    state: ConnectState
    user: str
    domain: str
    logon_time: datetime | None
    connect_time: datetime | None
    disconnect_time: datetime | None
    last_input_time: datetime | None
    current_time: datetime | None  #: the server's clock when it answered
    locked: bool | None  #: None when Windows does not know (no user logged on)
    idle: timedelta | None  #: as quser computes it: see ``Server.session_info``
    #: The client computer's name (WTSClientName): fetched only by ``Farm`` with ``details="client"``
    #: or a ``client=`` filter; None when not fetched.  '' when the session has no client.
    client: str | None = None
    #: The whole client record (address, display, build, product id, protocol): fetched only by
    #: ``Farm`` with ``details="clients"``; None when not fetched.
    client_info: ClientInfo | None = None


class ClientAddress(NamedTuple):
    """WTSClientAddress: the family (AF_INET 2, AF_INET6 23, 0 none) and the parsed address."""

    family: int
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    raw: bytes  #: the 20 bytes of WTS_CLIENT_ADDRESS.Address, as Windows returned them


#: WTS_CLIENT_DISPLAY.ColorDepth (and WTSCLIENTW.ColorDepth) -> bits per pixel, Microsoft's table:
#: 8 is "a 3-byte RGB value", 24 bits.
_COLOUR_DEPTH_BITS = {1: 4, 2: 8, 4: 16, 8: 24, 16: 15, 24: 24, 32: 32}


class ClientInfo(NamedTuple):
    """The client of one session, from WTSQuerySessionInformationW(WTSClientInfo), the SDK's
    WTSCLIENTW: name, address, display, build and product id in one RPC; the protocol type
    (WTSClientProtocolType) is one more, and None when it was not asked for.

    A session with no client (session 0, a listener, a disconnected console) has '' and zeros."""

    server: str | None
    session_id: int
    name: str  #: the client computer's NetBIOS name
    #: AF_INET: the address Windows gives as text; AF_INET6: its 16 bytes.  None when the family is
    #: neither, or the address cannot be read as one
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    family: int  #: AF_INET 2, AF_INET6 23, 0 (AF_UNSPEC) when none
    width: int  #: the client's display, in pixels (0: not reported)
    height: int
    colour_depth: int  #: the SDK's code (WTS_CLIENT_DISPLAY.ColorDepth): see ``bits_per_pixel``
    build: int  #: the client's build number (e.g. 22621)
    product_id: int
    protocol: Protocol | int | None = None  #: WTSClientProtocolType, when fetched

    @property
    def bits_per_pixel(self) -> int | None:
        """The colour depth in bits per pixel (4, 8, 15, 16, 24, 32); None for a code the SDK does not list."""
        return _COLOUR_DEPTH_BITS.get(self.colour_depth)


_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)


def filetime_to_datetime(ticks: int) -> datetime | None:
    """FILETIME (100 ns ticks since 1601-01-01 UTC) to an aware datetime; 0 means 'never'."""
    if ticks <= 0:
        return None
    return _FILETIME_EPOCH + timedelta(microseconds=ticks // 10)


def datetime_to_filetime(when: datetime) -> int:
    """Aware (or UTC-naive) datetime to FILETIME ticks."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    delta = when - _FILETIME_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


# --- building records from what wts._wts decodes -------------------------------------------------


def state_of(value: int) -> ConnectState:
    """The ConnectState; a value outside the SDK's range (Windows defines none) stays a plain int."""
    return STATES_BY_VALUE[value] if 0 <= value < len(STATES_BY_VALUE) else cast(ConnectState, value)


def idle_time(
    state: ConnectState | int, disconnect_ticks: int, last_input_ticks: int, now_ticks: int
) -> timedelta | None:
    """Idle time as quser computes it: since the disconnect for a disconnected session, else since the
    last input; None when Windows reports no such time."""
    since = disconnect_ticks if state == ConnectState.DISCONNECTED else last_input_ticks
    if since <= 0 or now_ticks <= 0:
        return None
    return timedelta(microseconds=max(now_ticks - since, 0) // 10)


def _session_info(
    server: str | None,
    sid: int,
    state: int,
    station: str,
    user: str,
    domain: str,
    times: tuple[int, int, int, int, int],
    locked: bool | None,
) -> SessionInfo:
    logon, connect_, disconnect, last_input, current = times
    st = state_of(state)
    return SessionInfo(
        server,
        sid,
        station,
        st,
        user,
        domain,
        filetime_to_datetime(logon),
        filetime_to_datetime(connect_),
        filetime_to_datetime(disconnect),
        filetime_to_datetime(last_input),
        filetime_to_datetime(current),
        locked,
        idle_time(st, disconnect, last_input, current),
    )


def session_info_from_ex(server: str | None, raw: tuple[Any, ...]) -> SessionInfo:
    """The SessionInfo of WTSINFOEX_LEVEL1_W, as wts._wts decodes it (``Server`` and ``Farm`` both)."""
    sid, state, flags, station, user, domain, *times = raw
    locked = True if flags == _WTS_SESSIONSTATE_LOCK else False if flags == _WTS_SESSIONSTATE_UNLOCK else None
    return _session_info(server, sid, state, station, user, domain, tuple(times), locked)


def session_info_from_v1(server: str | None, raw: tuple[Any, ...]) -> SessionInfo:
    """The SessionInfo of WTSINFOW, which has no lock state."""
    sid, state, station, user, domain, *times = raw
    return _session_info(server, sid, state, station, user, domain, tuple(times), None)


# --- processes ----------------------------------------------------------------------------------


class Process(NamedTuple):
    """One process as WTSEnumerateProcessesExW (level 1) lists it, with the account its SID names
    (LookupAccountSidW on the same server, once per distinct SID of the listing)."""

    server: str | None  #: the server it runs on; None for the local server
    session_id: int
    pid: int
    name: str  #: the image name as Windows reports it, e.g. 'EXCEL.EXE'
    user: str  #: '' when the process has no SID or the server could not name it
    domain: str  #: '' likewise; 'NT AUTHORITY' for SYSTEM, LOCAL SERVICE and NETWORK SERVICE
    sid: str  #: 'S-1-5-21-...', or '' when the process has none
    threads: int
    handles: int
    pagefile_bytes: int
    peak_pagefile_bytes: int
    working_set_bytes: int
    peak_working_set_bytes: int
    user_time: timedelta  #: CPU time in user mode
    kernel_time: timedelta  #: CPU time in kernel mode


def _cpu_time(ticks: int) -> timedelta:
    # 100 ns units (Microsoft's page says milliseconds; the values are the kernel's, docs/sim.md).
    return timedelta(microseconds=max(ticks, 0) // 10)


def process_from_row(server: str | None, row: tuple[Any, ...]) -> Process:
    """The Process of one row as wts._wts decodes a process listing (``ServerHandle.processes`` and the
    engine's process jobs return the same rows)."""
    (session_id, pid, name, user, domain, sid, threads, handles, pagefile, peak_pagefile, working_set,
     peak_working_set, user_ticks, kernel_ticks) = row  # fmt: skip
    return Process(
        server,
        session_id,
        pid,
        name,
        user,
        domain,
        sid,
        threads,
        handles,
        pagefile,
        peak_pagefile,
        working_set,
        peak_working_set,
        _cpu_time(user_ticks),
        _cpu_time(kernel_ticks),
    )
