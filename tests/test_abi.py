"""ABI tests: the simulator compiled as a stand-in wtsapi32, called through ctypes.

src/wtsapi/wts_sim.c built with -DWTSSIM_AS_WTSAPI exports the real wtsapi32 names.  These tests
call them exactly as a ctypes program calls wtsapi32.dll (x64 struct layouts, UTF-16 strings,
BOOL + per-thread GetLastError, Win32 error codes) and use the simulator's wtssim_* controls to
count live allocations and RPCs.  They need only a C compiler and ctypes, not the wts package.
"""

from __future__ import annotations

import calendar
import ctypes
import importlib.util
import ipaddress
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from ctypes import POINTER, byref, c_uint32, c_void_p, sizeof
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _import_simlib():
    spec = importlib.util.spec_from_file_location("wts_tools_simlib", REPO / "tools" / "simlib.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


S = _import_simlib()

if S.find_compiler() is None:
    pytest.skip("no C compiler found (cc or $CC): cannot build the simulated wtsapi32", allow_module_level=True)
if sizeof(c_void_p) != 8:
    pytest.skip("the ABI tests pin x64 layouts; this Python is not 64-bit", allow_module_level=True)

# ---------------------------------------------------------------------------------------------------
# The farm

UNIX_EPOCH_TICKS = 116444736000000000
HOUR = 3600 * 10_000_000


def ticks(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return UNIX_EPOCH_TICKS + calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) * 10_000_000


NOW = ticks(2026, 11, 21, 5)
SENTINEL = 0xDEADBEEF
SENTINEL_PTR = 0xDEADBEEFCAFE


def address_hex(ip: str | None) -> tuple[int, str]:
    """(family, 40 hex digits) with the IP bytes at Address[2..], as Windows lays them out."""
    if ip is None:
        return 0, ""
    packed = ipaddress.ip_address(ip).packed
    family = S.AF_INET if len(packed) == 4 else S.AF_INET6
    return family, (bytes(2) + packed + bytes(18 - len(packed))).hex()


def session(
    sid: int,
    station: str,
    state: int,
    user: str = "",
    domain: str = "",
    client: str = "",
    ip: str | None = None,
    logon: int = 0,
    connect: int = 0,
    disconnect: int = 0,
    last_input: int = 0,
    locked: int = 0,
    deny: int = 0,
    reply: int = 0,
    password: str = "",
) -> str:
    family, hexaddr = address_hex(ip)
    fields = [
        sid,
        station,
        state,
        user,
        domain,
        client,
        family,
        hexaddr,
        logon,
        connect,
        disconnect,
        last_input,
        locked,
        deny,
        reply,
        password,
    ]
    return "session\t" + "\t".join(str(f) for f in fields) + "\n"


BOB_CLIENT = "LAPTOP-B\u00d6B\U0001f600"  # a non-BMP character: two UTF-16 units
BOB_TIMES = dict(logon=NOW - 20 * HOUR, connect=NOW - 19 * HOUR, disconnect=NOW - 10 * HOUR, last_input=NOW - 11 * HOUR)
ALICE_TIMES = dict(logon=NOW - 4 * HOUR, connect=NOW - 3 * HOUR, last_input=NOW - HOUR)

FARM = (
    "WTSSIM\t1\n"
    f"farm\t2026\t{NOW}\tRDS01\t2\n"
    "server\tRDS01\t0\t0\tnone\n"
    + session(0, "Services", S.WTSDisconnected)
    + session(1, "Console", S.WTSActive, "admin", "CONTOSO", logon=NOW - 50 * HOUR, locked=1, reply=S.IDNO)
    + session(2, "RDP-Tcp#0", S.WTSActive, "alice", "CONTOSO", "PC-ALICE", "10.0.8.15", **ALICE_TIMES)
    + session(3, "", S.WTSDisconnected, "bob", "CONTOSO", BOB_CLIENT, "fd00::1:42", **BOB_TIMES, password="Pa55word!")
    + session(4, "RDP-Tcp#1", S.WTSActive, "carol", "CONTOSO", "PC-CAROL", "10.0.9.3", deny=31)
    + session(65536, "RDP-Tcp", S.WTSListen)
    + "server\tDOWN01\t0\t0\tunreachable\n"
    + session(2, "RDP-Tcp#0", S.WTSActive, "dave", "CONTOSO")
    + "server\tBUSY01\t0\t0\tbusy\n"
    + session(2, "RDP-Tcp#0", S.WTSActive, "erin", "CONTOSO")
)

# (id, station, state, user, domain) of RDS01's sessions, in farm order.
RDS01 = [
    (0, "Services", S.WTSDisconnected, None, None),
    (1, "Console", S.WTSActive, "admin", "CONTOSO"),
    (2, "RDP-Tcp#0", S.WTSActive, "alice", "CONTOSO"),
    (3, "", S.WTSDisconnected, "bob", "CONTOSO"),
    (4, "RDP-Tcp#1", S.WTSActive, "carol", "CONTOSO"),
    (65536, "RDP-Tcp", S.WTSListen, None, None),
]
# Non-NULL strings in one WTSEnumerateSessionsExW answer for RDS01: session and host name for each
# session, plus user and domain where there is a user.
RDS01_EX_STRINGS = 2 * len(RDS01) + 2 * sum(1 for s in RDS01 if s[3])


@pytest.fixture(scope="session")
def lib(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    return S.load(S.build(tmp_path_factory.mktemp("wtssim")))


@pytest.fixture(autouse=True)
def fresh_farm(lib: ctypes.CDLL) -> None:
    """Every test starts from a fresh copy of FARM with zeroed RPC counters."""
    S.load_farm(lib, FARM)
    lib.wtssim_reset_counters()


# ---------------------------------------------------------------------------------------------------
# Helpers


@contextmanager
def opened(lib: ctypes.CDLL, name: str) -> Iterator[int]:
    h = lib.WTSOpenServerW(S.wbuf(name))
    assert h, f"WTSOpenServerW({name!r}) failed with {lib.GetLastError()}"
    try:
        yield h
    finally:
        lib.WTSCloseServer(h)


def enum_ex(lib: ctypes.CDLL, h: int | None = None) -> list[dict]:
    """WTSEnumerateSessionsExW as a list of dicts, freed with WTSFreeMemoryExW."""
    level, count = c_uint32(1), c_uint32()
    info = POINTER(S.WTS_SESSION_INFO_1W)()
    assert lib.WTSEnumerateSessionsExW(h, byref(level), 0, byref(info), byref(count)), lib.GetLastError()
    try:
        return [
            {
                "ExecEnvId": e.ExecEnvId,
                "State": e.State,
                "SessionId": e.SessionId,
                "pSessionName": S.wstring_at(e.pSessionName),
                "pHostName": S.wstring_at(e.pHostName),
                "pUserName": S.wstring_at(e.pUserName),
                "pDomainName": S.wstring_at(e.pDomainName),
                "pFarmName": S.wstring_at(e.pFarmName),
            }
            for e in info[: count.value]
        ]
    finally:
        assert lib.WTSFreeMemoryExW(S.WTSTypeSessionInfoLevel1, info, count.value)


def query(lib: ctypes.CDLL, h: int | None, sid: int, cls: int) -> bytes:
    """The bytes WTSQuerySessionInformationW returns (exactly pBytesReturned of them); the buffer
    is freed.  Fails the test if the call fails."""
    buf, n = c_void_p(), c_uint32(SENTINEL)
    ok = lib.WTSQuerySessionInformationW(h, sid, cls, byref(buf), byref(n))
    assert ok, f"query({sid}, {cls}) failed with {lib.GetLastError()}"
    try:
        return ctypes.string_at(buf.value, n.value)
    finally:
        lib.WTSFreeMemory(buf)


def query_error(lib: ctypes.CDLL, h: int | None, sid: int, cls: int) -> int:
    """The error a failing WTSQuerySessionInformationW sets; the outputs must stay untouched."""
    buf, n = c_void_p(SENTINEL_PTR), c_uint32(SENTINEL)
    assert not lib.WTSQuerySessionInformationW(h, sid, cls, byref(buf), byref(n))
    err = lib.GetLastError()
    assert (buf.value, n.value) == (SENTINEL_PTR, SENTINEL), "outputs written on failure"
    return err


def query_str(lib: ctypes.CDLL, h: int | None, sid: int, cls: int) -> str:
    raw = query(lib, h, sid, cls)
    assert len(raw) % 2 == 0 and raw.endswith(b"\0\0"), raw
    return raw[:-2].decode("utf-16-le", "surrogatepass")


def info_ex(lib: ctypes.CDLL, sid: int, h: int | None = None) -> S.WTSINFOEXW:
    raw = query(lib, h, sid, S.WTSSessionInfoEx)
    assert len(raw) == sizeof(S.WTSINFOEXW)
    return S.WTSINFOEXW.from_buffer_copy(raw)


def ex_ptr_sentinel() -> ctypes._Pointer:
    return ctypes.cast(c_void_p(SENTINEL_PTR), POINTER(S.WTS_SESSION_INFO_1W))


def ptr_value(p) -> int | None:
    return ctypes.cast(p, c_void_p).value


def send(
    lib: ctypes.CDLL, h: int | None, sid: int, title: str, text: str, wait: bool, style: int = 0, timeout: int = 0
) -> tuple[bool, int, int]:
    """WTSSendMessageW with byte lengths; returns (ok, response, last error)."""
    t, m = S.wbuf(title), S.wbuf(text)
    resp = c_uint32(SENTINEL)
    ok = lib.WTSSendMessageW(
        h, sid, t, 2 * (sizeof(t) // 2 - 1), m, 2 * (sizeof(m) // 2 - 1), style, timeout, byref(resp), wait
    )
    return bool(ok), resp.value, lib.GetLastError()


def garbage_handle() -> ctypes.Array:
    """Memory that is not a server handle (keep a reference while it is used)."""
    return ctypes.create_string_buffer(b"\xa5" * 64)


# ---------------------------------------------------------------------------------------------------
# Struct layouts


@pytest.mark.parametrize(
    "struct, size, offsets",
    [
        (S.WTS_SESSION_INFOW, 24, {"SessionId": 0, "pWinStationName": 8, "State": 16}),
        (
            S.WTS_SESSION_INFO_1W,
            56,
            {
                "ExecEnvId": 0,
                "State": 4,
                "SessionId": 8,
                "pSessionName": 16,
                "pHostName": 24,
                "pUserName": 32,
                "pDomainName": 40,
                "pFarmName": 48,
            },
        ),
        (S.WTS_CLIENT_ADDRESS, 24, {"AddressFamily": 0, "Address": 4}),
        (
            S.WTSINFOW,
            216,
            {
                "State": 0,
                "SessionId": 4,
                "IncomingBytes": 8,
                "OutgoingCompressedBytes": 28,
                "WinStationName": 32,
                "Domain": 96,
                "UserName": 130,
                "ConnectTime": 176,
                "DisconnectTime": 184,
                "LastInputTime": 192,
                "LogonTime": 200,
                "CurrentTime": 208,
            },
        ),
        (
            S.WTSINFOEX_LEVEL1_W,
            224,
            {
                "SessionId": 0,
                "SessionState": 4,
                "SessionFlags": 8,
                "WinStationName": 12,
                "UserName": 78,
                "DomainName": 120,
                "LogonTime": 160,
                "ConnectTime": 168,
                "DisconnectTime": 176,
                "LastInputTime": 184,
                "CurrentTime": 192,
                "IncomingBytes": 200,
                "OutgoingCompressedBytes": 220,
            },
        ),
        (S.WTSINFOEXW, 232, {"Level": 0, "Data": 8}),
        (
            S.WTSCLIENTW,
            2304,
            {
                "EncryptionLevel": 1164,
                "ClientAddressFamily": 1168,
                "ClientAddress": 1172,
                "HRes": 1234,
                "ClientDirectory": 1240,
                "ClientBuildNumber": 1764,
                "ClientProductId": 1772,
                "DeviceId": 1780,
            },
        ),
        (S.WTSCONFIGINFOW, 1668, {"ShadowSettings": 20, "LogonUserName": 24, "ApplicationName": 1146}),
    ],
    ids=lambda v: getattr(v, "__name__", None) if isinstance(v, type) else None,
)
def test_struct_layout_matches_sdk_x64(struct, size, offsets) -> None:
    assert sizeof(struct) == size
    assert {name: getattr(struct, name).offset for name in offsets} == offsets


def test_c_side_writes_the_sdk_layouts(lib) -> None:
    """Distinct values in every field, read back through the ctypes layouts: a field the C side put
    anywhere else (e.g. WTSINFOW's times in WTSINFOEX order) would read wrong."""
    w = S.WTSINFOW.from_buffer_copy(query(lib, None, 3, S.WTSSessionInfo))
    assert (w.State, w.SessionId) == (S.WTSDisconnected, 3)
    assert (S.warray_str(w.WinStationName), S.warray_str(w.Domain), S.warray_str(w.UserName)) == ("", "CONTOSO", "bob")
    assert (w.ConnectTime, w.DisconnectTime, w.LastInputTime, w.LogonTime, w.CurrentTime) == (
        BOB_TIMES["connect"],
        BOB_TIMES["disconnect"],
        BOB_TIMES["last_input"],
        BOB_TIMES["logon"],
        NOW,
    )

    x = info_ex(lib, 3)
    l1 = x.Data.WTSInfoExLevel1
    assert x.Level == 1
    assert (l1.SessionId, l1.SessionState, l1.SessionFlags) == (3, S.WTSDisconnected, S.WTS_SESSIONSTATE_UNLOCK)
    assert (S.warray_str(l1.WinStationName), S.warray_str(l1.UserName), S.warray_str(l1.DomainName)) == (
        "",
        "bob",
        "CONTOSO",
    )
    assert (l1.LogonTime, l1.ConnectTime, l1.DisconnectTime, l1.LastInputTime, l1.CurrentTime) == (
        BOB_TIMES["logon"],
        BOB_TIMES["connect"],
        BOB_TIMES["disconnect"],
        BOB_TIMES["last_input"],
        NOW,
    )

    a = S.WTS_CLIENT_ADDRESS.from_buffer_copy(query(lib, None, 3, S.WTSClientAddress))
    assert a.AddressFamily == S.AF_INET6
    assert bytes(a.Address) == bytes(2) + ipaddress.ip_address("fd00::1:42").packed + bytes(2)


# ---------------------------------------------------------------------------------------------------
# WTSEnumerateSessionsExW


@pytest.mark.parametrize("level", [0, 2])
def test_enum_ex_level_must_be_1(lib, level) -> None:
    lv, count, info = c_uint32(level), c_uint32(SENTINEL), ex_ptr_sentinel()
    before = lib.wtssim_outstanding()
    assert not lib.WTSEnumerateSessionsExW(None, byref(lv), 0, byref(info), byref(count))
    assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER
    assert (lv.value, count.value, ptr_value(info)) == (level, SENTINEL, SENTINEL_PTR)
    assert lib.wtssim_outstanding() == before


def test_enum_ex_null_level(lib) -> None:
    count, info = c_uint32(SENTINEL), ex_ptr_sentinel()
    assert not lib.WTSEnumerateSessionsExW(None, None, 0, byref(info), byref(count))
    assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER
    assert (count.value, ptr_value(info)) == (SENTINEL, SENTINEL_PTR)


@pytest.mark.parametrize("filter_", [1, 0xFFFFFFFF])
def test_enum_ex_filter_must_be_0(lib, filter_) -> None:
    lv, count, info = c_uint32(1), c_uint32(SENTINEL), ex_ptr_sentinel()
    assert not lib.WTSEnumerateSessionsExW(None, byref(lv), filter_, byref(info), byref(count))
    assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER
    assert (lv.value, count.value, ptr_value(info)) == (1, SENTINEL, SENTINEL_PTR)


def test_enum_ex_null_outputs(lib) -> None:
    lv, count, info = c_uint32(1), c_uint32(SENTINEL), ex_ptr_sentinel()
    before = lib.wtssim_outstanding()
    assert not lib.WTSEnumerateSessionsExW(None, byref(lv), 0, None, byref(count))
    assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER
    assert count.value == SENTINEL
    assert not lib.WTSEnumerateSessionsExW(None, byref(lv), 0, byref(info), None)
    assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER
    assert ptr_value(info) == SENTINEL_PTR
    assert lib.wtssim_outstanding() == before


def test_enum_ex_success(lib) -> None:
    lv, count, info = c_uint32(1), c_uint32(SENTINEL), ex_ptr_sentinel()
    assert lib.WTSEnumerateSessionsExW(None, byref(lv), 0, byref(info), byref(count))
    try:
        assert lv.value == 1
        assert count.value == len(RDS01)
        got = [
            (e.SessionId, S.wstring_at(e.pSessionName), e.State, S.wstring_at(e.pUserName), S.wstring_at(e.pDomainName))
            for e in info[: count.value]
        ]
        assert got == RDS01
        for e in info[: count.value]:
            assert S.wstring_at(e.pHostName) == "RDS01"
            assert e.pFarmName is None
            assert e.ExecEnvId == e.SessionId  # the sim's choice; documented in wts_sim.c
    finally:
        assert lib.WTSFreeMemoryExW(S.WTSTypeSessionInfoLevel1, info, count.value)


def test_enum_ex_remote_handle_reports_canonical_host_name(lib) -> None:
    with opened(lib, "rds01") as h:  # server names are case-insensitive
        sessions = enum_ex(lib, h)
    assert [s["SessionId"] for s in sessions] == [s[0] for s in RDS01]
    assert {s["pHostName"] for s in sessions} == {"RDS01"}


# ---------------------------------------------------------------------------------------------------
# Memory accounting


def test_free_memory_ex_returns_to_baseline(lib) -> None:
    base = lib.wtssim_outstanding()
    lv, count, info = c_uint32(1), c_uint32(), POINTER(S.WTS_SESSION_INFO_1W)()
    assert lib.WTSEnumerateSessionsExW(None, byref(lv), 0, byref(info), byref(count))
    assert lib.wtssim_outstanding() == base + 1 + RDS01_EX_STRINGS  # the array and each string
    assert lib.WTSFreeMemoryExW(S.WTSTypeSessionInfoLevel1, info, count.value)
    assert lib.wtssim_outstanding() == base


def test_plain_free_memory_leaks_the_ex_strings(lib) -> None:
    base = lib.wtssim_outstanding()
    lv, count, info = c_uint32(1), c_uint32(), POINTER(S.WTS_SESSION_INFO_1W)()
    assert lib.WTSEnumerateSessionsExW(None, byref(lv), 0, byref(info), byref(count))
    strings = [
        p
        for e in info[: count.value]
        for p in (e.pSessionName, e.pHostName, e.pUserName, e.pDomainName, e.pFarmName)
        if p
    ]
    assert len(strings) == RDS01_EX_STRINGS
    lib.WTSFreeMemory(info)  # frees the array alone, as on Windows
    assert lib.wtssim_outstanding() == base + RDS01_EX_STRINGS
    for p in strings:  # clean up what leaked
        lib.WTSFreeMemory(p)
    assert lib.wtssim_outstanding() == base


@pytest.mark.parametrize(
    "type_class, count_delta",
    [
        (S.WTSTypeSessionInfoLevel1, +1),
        (S.WTSTypeSessionInfoLevel1, -1),
        (S.WTSTypeSessionInfoLevel1, -len(RDS01)),
        (S.WTSTypeProcessInfoLevel0, 0),
        (S.WTSTypeProcessInfoLevel1, 0),
        (3, 0),
    ],
)
def test_free_memory_ex_rejects_wrong_count_or_type(lib, type_class, count_delta) -> None:
    base = lib.wtssim_outstanding()
    lv, count, info = c_uint32(1), c_uint32(), POINTER(S.WTS_SESSION_INFO_1W)()
    assert lib.WTSEnumerateSessionsExW(None, byref(lv), 0, byref(info), byref(count))
    held = lib.wtssim_outstanding()
    assert not lib.WTSFreeMemoryExW(type_class, info, count.value + count_delta)
    assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER
    assert lib.wtssim_outstanding() == held  # nothing freed
    assert S.wstring_at(info[0].pSessionName) == "Services"  # still readable
    assert lib.WTSFreeMemoryExW(S.WTSTypeSessionInfoLevel1, info, count.value)
    assert lib.wtssim_outstanding() == base


def test_free_memory_ex_rejects_other_blocks_and_null(lib) -> None:
    base = lib.wtssim_outstanding()
    info, count = POINTER(S.WTS_SESSION_INFOW)(), c_uint32()
    assert lib.WTSEnumerateSessionsW(None, 0, 1, byref(info), byref(count))
    assert not lib.WTSFreeMemoryExW(S.WTSTypeSessionInfoLevel1, info, count.value)
    assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER
    assert lib.wtssim_outstanding() == base + 1
    lib.WTSFreeMemory(info)
    assert not lib.WTSFreeMemoryExW(S.WTSTypeSessionInfoLevel1, None, 0)
    assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER
    assert lib.wtssim_outstanding() == base


def test_free_memory_null_is_harmless(lib) -> None:
    base = lib.wtssim_outstanding()
    lib.WTSFreeMemory(None)
    assert lib.wtssim_outstanding() == base


def test_server_handles_are_counted(lib) -> None:
    base = lib.wtssim_outstanding()
    h1 = lib.WTSOpenServerW(S.wbuf("RDS01"))
    assert h1 and lib.wtssim_outstanding() == base + 1
    h2 = lib.WTSOpenServerExW(S.wbuf("DOWN01"))
    assert h2 and h2 != h1 and lib.wtssim_outstanding() == base + 2
    lib.WTSCloseServer(h1)
    assert lib.wtssim_outstanding() == base + 1
    lib.WTSCloseServer(h2)
    assert lib.wtssim_outstanding() == base
    lib.WTSCloseServer(None)  # WTS_CURRENT_SERVER_HANDLE: nothing to close
    assert lib.wtssim_outstanding() == base


# ---------------------------------------------------------------------------------------------------
# WTSEnumerateSessionsW


@pytest.mark.parametrize("reserved, version", [(1, 1), (0, 0), (0, 2), (0xFFFFFFFF, 1)])
def test_enum_reserved_and_version(lib, reserved, version) -> None:
    info = ctypes.cast(c_void_p(SENTINEL_PTR), POINTER(S.WTS_SESSION_INFOW))
    count = c_uint32(SENTINEL)
    base = lib.wtssim_outstanding()
    assert not lib.WTSEnumerateSessionsW(None, reserved, version, byref(info), byref(count))
    assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER
    assert (ptr_value(info), count.value) == (SENTINEL_PTR, SENTINEL)
    assert lib.wtssim_outstanding() == base


def test_enum_null_outputs(lib) -> None:
    info = ctypes.cast(c_void_p(SENTINEL_PTR), POINTER(S.WTS_SESSION_INFOW))
    count = c_uint32(SENTINEL)
    assert not lib.WTSEnumerateSessionsW(None, 0, 1, None, byref(count))
    assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER and count.value == SENTINEL
    assert not lib.WTSEnumerateSessionsW(None, 0, 1, byref(info), None)
    assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER and ptr_value(info) == SENTINEL_PTR


def test_enum_success_is_one_block(lib) -> None:
    base = lib.wtssim_outstanding()
    info, count = POINTER(S.WTS_SESSION_INFOW)(), c_uint32(SENTINEL)
    assert lib.WTSEnumerateSessionsW(None, 0, 1, byref(info), byref(count))
    assert lib.wtssim_outstanding() == base + 1
    got = [(e.SessionId, S.wstring_at(e.pWinStationName), e.State) for e in info[: count.value]]
    assert got == [(s[0], s[1], s[2]) for s in RDS01]
    lib.WTSFreeMemory(info)
    assert lib.wtssim_outstanding() == base


# ---------------------------------------------------------------------------------------------------
# WTSQuerySessionInformationW


def test_query_null_outputs_is_invalid_user_buffer(lib) -> None:
    buf, n = c_void_p(SENTINEL_PTR), c_uint32(SENTINEL)
    assert not lib.WTSQuerySessionInformationW(None, 2, S.WTSUserName, None, byref(n))
    assert lib.GetLastError() == S.ERROR_INVALID_USER_BUFFER
    assert n.value == SENTINEL
    assert not lib.WTSQuerySessionInformationW(None, 2, S.WTSUserName, byref(buf), None)
    assert lib.GetLastError() == S.ERROR_INVALID_USER_BUFFER
    assert buf.value == SENTINEL_PTR


@pytest.mark.parametrize("cls", [30, 1000, -1])
def test_query_unknown_info_class(lib, cls) -> None:
    assert query_error(lib, None, 2, cls) == S.ERROR_INVALID_PARAMETER


@pytest.mark.parametrize(
    "sid, cls, expected",
    [
        (2, S.WTSUserName, "alice"),
        (2, S.WTSDomainName, "CONTOSO"),
        (2, S.WTSWinStationName, "RDP-Tcp#0"),
        (2, S.WTSClientName, "PC-ALICE"),
        (2, S.WTSInitialProgram, ""),
        (3, S.WTSWinStationName, ""),
        (3, S.WTSClientName, BOB_CLIENT),
        (0, S.WTSUserName, ""),
    ],
)
def test_query_string_byte_counts_include_terminator(lib, sid, cls, expected) -> None:
    raw = query(lib, None, sid, cls)
    units = len(expected.encode("utf-16-le")) // 2
    assert len(raw) == (units + 1) * 2
    assert raw == expected.encode("utf-16-le") + b"\0\0"


@pytest.mark.parametrize("sid, state", [(s[0], s[2]) for s in RDS01 if s[0] != 4])  # 4 denies queries
def test_query_connect_state_is_a_dword(lib, sid, state) -> None:
    raw = query(lib, None, sid, S.WTSConnectState)
    assert len(raw) == 4 and int.from_bytes(raw, "little") == state


def test_query_session_id_is_a_dword(lib) -> None:
    assert query(lib, None, 65536, S.WTSSessionId) == (65536).to_bytes(4, "little")


@pytest.mark.parametrize("sid, protocol", [(1, 0), (2, 2), (0, 0)])
def test_query_client_protocol_type_is_a_ushort(lib, sid, protocol) -> None:
    raw = query(lib, None, sid, S.WTSClientProtocolType)
    assert len(raw) == 2 and int.from_bytes(raw, "little") == protocol


# Every info class: (class, session, what Windows answers) where "what" is the byte count (an int), a
# struct (its size), "utf16" (a NUL-terminated UTF-16 string) or a Win32 error for classes that fail.
# Sizes and types as Microsoft's WTS_INFO_CLASS page gives them and Wine's conformance tests
# (dlls/wtsapi32/tests/wtsapi.c, which pass on Windows) check them; docs/sim.md, "Info classes".
INFO_CLASSES = [
    (S.WTSInitialProgram, "utf16"),
    (S.WTSApplicationName, "utf16"),
    (S.WTSWorkingDirectory, "utf16"),
    (S.WTSOEMId, 4),  # CHAR[4], ANSI: not a UTF-16 string
    (S.WTSSessionId, 4),
    (S.WTSUserName, "utf16"),
    (S.WTSWinStationName, "utf16"),
    (S.WTSDomainName, "utf16"),
    (S.WTSConnectState, 4),
    (S.WTSClientBuildNumber, 4),
    (S.WTSClientName, "utf16"),
    (S.WTSClientDirectory, "utf16"),
    (S.WTSClientProductId, 2),
    (S.WTSClientHardwareId, 4),
    (S.WTSClientAddress, S.WTS_CLIENT_ADDRESS),
    (S.WTSClientDisplay, S.WTS_CLIENT_DISPLAY),
    (S.WTSClientProtocolType, 2),
    (S.WTSIdleTime, -S.ERROR_NOT_SUPPORTED),
    (S.WTSLogonTime, -S.ERROR_NOT_SUPPORTED),
    (S.WTSIncomingBytes, -S.ERROR_NOT_SUPPORTED),
    (S.WTSOutgoingBytes, -S.ERROR_NOT_SUPPORTED),
    (S.WTSIncomingFrames, -S.ERROR_NOT_SUPPORTED),
    (S.WTSOutgoingFrames, -S.ERROR_NOT_SUPPORTED),
    (S.WTSClientInfo, S.WTSCLIENTW),
    (S.WTSSessionInfo, S.WTSINFOW),
    (S.WTSSessionInfoEx, S.WTSINFOEXW),
    (S.WTSConfigInfo, S.WTSCONFIGINFOW),
    (S.WTSValidationInfo, -S.ERROR_NOT_SUPPORTED),
    (S.WTSSessionAddressV4, -S.ERROR_NOT_SUPPORTED),  # no session has a virtual IP
    (S.WTSIsRemoteSession, 1),  # a BOOLEAN, one byte (pywin32 #2152), not a 4-byte BOOL
]


def wchars(units: ctypes.Array[ctypes.c_uint16]) -> str:
    """A NUL-terminated WCHAR array of a struct as str."""
    raw = bytes(units)
    n = next((i for i in range(0, len(raw), 2) if raw[i : i + 2] == b"\0\0"), len(raw))
    return raw[:n].decode("utf-16-le")


def test_info_class_table_covers_every_class() -> None:
    assert [c for c, _ in INFO_CLASSES] == list(range(30))


@pytest.mark.parametrize("sid", [2, 3, 1, 0, 65536])
@pytest.mark.parametrize("cls, what", INFO_CLASSES)
def test_query_answers_every_class_with_the_windows_size_and_type(lib, sid, cls, what) -> None:
    if isinstance(what, int) and what < 0:
        assert query_error(lib, None, sid, cls) == -what
        return
    raw = query(lib, None, sid, cls)
    if what == "utf16":
        assert len(raw) % 2 == 0 and len(raw) >= 2 and raw.endswith(b"\0\0")
        units = [raw[i : i + 2] for i in range(0, len(raw), 2)]
        assert units.index(b"\0\0") == len(units) - 1  # the terminator is the last unit, and the only one
    elif isinstance(what, int):
        assert len(raw) == what
    else:
        assert len(raw) == sizeof(what)


@pytest.mark.parametrize("sid, remote", [(2, 1), (3, 1), (1, 0), (0, 0), (65536, 1)])
def test_query_is_remote_session_is_one_byte(lib, sid, remote) -> None:
    assert query(lib, None, sid, S.WTSIsRemoteSession) == bytes([remote])


def test_query_oem_id_is_ansi(lib) -> None:
    # CHAR[4]: an RDP listener has no OEM id, so four zero bytes (UTF-16 would be pairs of bytes).
    assert query(lib, None, 2, S.WTSOEMId) == bytes(4)


def test_query_client_info(lib) -> None:
    v4 = S.WTSCLIENTW.from_buffer_copy(query(lib, None, 2, S.WTSClientInfo))
    assert (wchars(v4.ClientName), wchars(v4.UserName), wchars(v4.Domain)) == (
        "PC-ALICE",
        "alice",
        "CONTOSO",
    )
    # AF_INET: the address as text in the USHORT array (Microsoft's WTSCLIENT remarks).
    assert v4.ClientAddressFamily == S.AF_INET
    assert "".join(map(chr, v4.ClientAddress)).rstrip("\0") == "10.0.8.15"
    assert (v4.ClientBuildNumber, v4.HRes, v4.VRes, v4.ColorDepth) == (0, 0, 0, 0)
    v6 = S.WTSCLIENTW.from_buffer_copy(query(lib, None, 3, S.WTSClientInfo))
    assert v6.ClientAddressFamily == S.AF_INET6
    assert bytes(v6)[1172 : 1172 + 16] == ipaddress.ip_address("fd00::1:42").packed  # AF_INET6: binary
    assert wchars(v6.ClientName) == BOB_CLIENT


def test_query_config_info(lib) -> None:
    c = S.WTSCONFIGINFOW.from_buffer_copy(query(lib, None, 2, S.WTSConfigInfo))
    assert c.version == 1
    assert (wchars(c.LogonUserName), wchars(c.LogonDomain)) == ("alice", "CONTOSO")
    assert wchars(c.InitialProgram) == wchars(c.ApplicationName) == ""


def test_query_client_address_ipv4(lib) -> None:
    raw = query(lib, None, 2, S.WTSClientAddress)
    assert len(raw) == 24 == sizeof(S.WTS_CLIENT_ADDRESS)
    a = S.WTS_CLIENT_ADDRESS.from_buffer_copy(raw)
    assert a.AddressFamily == S.AF_INET
    assert list(a.Address[2:6]) == [10, 0, 8, 15]
    assert not any(a.Address[:2]) and not any(a.Address[6:])


def test_query_client_address_none(lib) -> None:
    a = S.WTS_CLIENT_ADDRESS.from_buffer_copy(query(lib, None, 1, S.WTSClientAddress))
    assert a.AddressFamily == 0 and not any(a.Address)


def test_query_session_info(lib) -> None:
    raw = query(lib, None, 2, S.WTSSessionInfo)
    assert len(raw) == 216
    w = S.WTSINFOW.from_buffer_copy(raw)
    assert (w.State, w.SessionId) == (S.WTSActive, 2)
    assert S.warray_str(w.WinStationName) == "RDP-Tcp#0"
    assert (S.warray_str(w.Domain), S.warray_str(w.UserName)) == ("CONTOSO", "alice")
    assert (w.LogonTime, w.ConnectTime, w.DisconnectTime, w.LastInputTime, w.CurrentTime) == (
        ALICE_TIMES["logon"],
        ALICE_TIMES["connect"],
        0,
        ALICE_TIMES["last_input"],
        NOW,
    )


@pytest.mark.parametrize(
    "sid, flags",
    [
        (1, S.WTS_SESSIONSTATE_LOCK),  # locked, with a user
        (2, S.WTS_SESSIONSTATE_UNLOCK),
        (3, S.WTS_SESSIONSTATE_UNLOCK),
        (0, S.WTS_SESSIONSTATE_UNKNOWN),  # no user
        (65536, S.WTS_SESSIONSTATE_UNKNOWN),
    ],
)
def test_query_session_info_ex_flags(lib, sid, flags) -> None:
    raw = query(lib, None, sid, S.WTSSessionInfoEx)
    assert len(raw) == 232
    x = S.WTSINFOEXW.from_buffer_copy(raw)
    assert x.Level == 1
    l1 = x.Data.WTSInfoExLevel1
    assert l1.SessionId == sid
    assert l1.SessionFlags == flags
    if flags == S.WTS_SESSIONSTATE_UNKNOWN:
        assert raw[16:20] == b"\xff\xff\xff\xff"  # SessionFlags: Data at 8, then SessionId, SessionState


def test_query_unknown_session(lib) -> None:
    assert query_error(lib, None, 77, S.WTSUserName) == S.ERROR_CTX_WINSTATION_NOT_FOUND


def test_query_denied_session(lib) -> None:
    assert query_error(lib, None, 4, S.WTSUserName) == S.ERROR_ACCESS_DENIED


def test_query_current_session_on_current_server(lib) -> None:
    assert query(lib, None, S.WTS_CURRENT_SESSION, S.WTSSessionId) == (2).to_bytes(4, "little")
    assert query_str(lib, None, S.WTS_CURRENT_SESSION, S.WTSUserName) == "alice"


@pytest.mark.parametrize("server", ["RDS01", "DOWN01"])
def test_query_current_session_on_opened_handle(lib, server) -> None:
    """Even a handle to the local server by name is "remote": there is no current session on it."""
    with opened(lib, server) as h:
        assert query_error(lib, h, S.WTS_CURRENT_SESSION, S.WTSSessionId) == S.ERROR_INVALID_PARAMETER


def test_query_buffers_are_freed_by_free_memory(lib) -> None:
    base = lib.wtssim_outstanding()
    for cls in (
        S.WTSUserName,
        S.WTSConnectState,
        S.WTSClientProtocolType,
        S.WTSClientAddress,
        S.WTSSessionInfo,
        S.WTSSessionInfoEx,
    ):
        buf, n = c_void_p(), c_uint32()
        assert lib.WTSQuerySessionInformationW(None, 2, cls, byref(buf), byref(n))
        assert lib.wtssim_outstanding() == base + 1
        lib.WTSFreeMemory(buf)
        assert lib.wtssim_outstanding() == base


# ---------------------------------------------------------------------------------------------------
# Servers: faults, unknown names, bad handles


def test_unreachable_server_opens_then_fails_its_first_rpc(lib) -> None:
    base = lib.wtssim_outstanding()
    with opened(lib, "DOWN01") as h:
        assert h
        lv, count, info = c_uint32(1), c_uint32(SENTINEL), ex_ptr_sentinel()
        assert not lib.WTSEnumerateSessionsExW(h, byref(lv), 0, byref(info), byref(count))
        assert lib.GetLastError() == S.RPC_S_SERVER_UNAVAILABLE
        assert (count.value, ptr_value(info)) == (SENTINEL, SENTINEL_PTR)
        assert query_error(lib, h, 2, S.WTSUserName) == S.RPC_S_SERVER_UNAVAILABLE
    assert lib.wtssim_outstanding() == base


def test_busy_server(lib) -> None:
    with opened(lib, "BUSY01") as h:
        info, count = POINTER(S.WTS_SESSION_INFOW)(), c_uint32(SENTINEL)
        assert not lib.WTSEnumerateSessionsW(h, 0, 1, byref(info), byref(count))
        assert lib.GetLastError() == S.RPC_S_SERVER_TOO_BUSY
        assert count.value == SENTINEL
        assert not lib.WTSDisconnectSession(h, 2, True)
        assert lib.GetLastError() == S.RPC_S_SERVER_TOO_BUSY


def test_name_not_in_farm_behaves_as_unavailable(lib) -> None:
    with opened(lib, "NOSUCH99") as h:
        assert query_error(lib, h, 2, S.WTSUserName) == S.RPC_S_SERVER_UNAVAILABLE
        assert not lib.WTSLogoffSession(h, 2, True)
        assert lib.GetLastError() == S.RPC_S_SERVER_UNAVAILABLE
    assert S.rpc_report(lib)["*"] == 2


def test_invalid_handle(lib) -> None:
    junk = garbage_handle()
    h = ctypes.addressof(junk)
    lv, count, info = c_uint32(1), c_uint32(SENTINEL), ex_ptr_sentinel()
    assert not lib.WTSEnumerateSessionsExW(h, byref(lv), 0, byref(info), byref(count))
    assert lib.GetLastError() == S.ERROR_INVALID_HANDLE
    assert (count.value, ptr_value(info)) == (SENTINEL, SENTINEL_PTR)
    winfo = POINTER(S.WTS_SESSION_INFOW)()
    assert not lib.WTSEnumerateSessionsW(h, 0, 1, byref(winfo), byref(count))
    assert lib.GetLastError() == S.ERROR_INVALID_HANDLE
    assert query_error(lib, h, 2, S.WTSUserName) == S.ERROR_INVALID_HANDLE
    for fn in (lib.WTSDisconnectSession, lib.WTSLogoffSession):
        assert not fn(h, 2, True)
        assert lib.GetLastError() == S.ERROR_INVALID_HANDLE
    ok, resp, err = send(lib, h, 2, "t", "m", True)
    assert (ok, resp, err) == (False, SENTINEL, S.ERROR_INVALID_HANDLE)
    lib.WTSCloseServer(h)  # ignored
    assert bytes(junk.raw) == b"\xa5" * 64 + b"\0"
    assert lib.wtssim_rpc_total() == 0


def test_open_server_null_name(lib) -> None:
    assert lib.WTSOpenServerW(None) is None
    assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER


# ---------------------------------------------------------------------------------------------------
# Disconnect and logoff


def test_disconnect_console(lib) -> None:
    assert not lib.WTSDisconnectSession(None, 1, True)
    assert lib.GetLastError() == S.ERROR_CTX_CONSOLE_DISCONNECT


@pytest.mark.parametrize("sid", [0, 65536])
@pytest.mark.parametrize("op", ["WTSDisconnectSession", "WTSLogoffSession"])
def test_system_sessions_are_off_limits(lib, op, sid) -> None:
    assert not getattr(lib, op)(None, sid, True)
    assert lib.GetLastError() == S.ERROR_CTX_WINSTATION_ACCESS_DENIED
    assert [(e["SessionId"], e["State"]) for e in enum_ex(lib)] == [(s[0], s[2]) for s in RDS01]


@pytest.mark.parametrize("op", ["WTSDisconnectSession", "WTSLogoffSession"])
def test_denied_and_unknown_sessions(lib, op) -> None:
    assert not getattr(lib, op)(None, 4, True)
    assert lib.GetLastError() == S.ERROR_ACCESS_DENIED
    assert not getattr(lib, op)(None, 99, True)
    assert lib.GetLastError() == S.ERROR_CTX_WINSTATION_NOT_FOUND


@pytest.mark.parametrize("op", ["WTSDisconnectSession", "WTSLogoffSession"])
def test_current_session_on_opened_handle_is_invalid(lib, op) -> None:
    with opened(lib, "RDS01") as h:
        assert not getattr(lib, op)(h, S.WTS_CURRENT_SESSION, True)
        assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER
    assert lib.wtssim_rpc_total() == 0


def test_disconnect_stamps_time_and_clears_station(lib) -> None:
    assert lib.WTSDisconnectSession(None, 2, True)
    assert lib.GetLastError() == 0
    l1 = info_ex(lib, 2).Data.WTSInfoExLevel1
    assert l1.SessionState == S.WTSDisconnected
    assert l1.DisconnectTime == NOW
    assert S.warray_str(l1.WinStationName) == ""
    assert S.warray_str(l1.UserName) == "alice"  # still logged on
    assert query_str(lib, None, 2, S.WTSWinStationName) == ""
    e = enum_ex(lib)[2]
    assert (e["SessionId"], e["State"], e["pSessionName"]) == (2, S.WTSDisconnected, "")


def test_disconnect_through_opened_handle(lib) -> None:
    with opened(lib, "RDS01") as h:
        assert lib.WTSDisconnectSession(h, 2, False)
        assert info_ex(lib, 2, h).Data.WTSInfoExLevel1.SessionState == S.WTSDisconnected


def test_disconnect_current_session(lib) -> None:
    assert lib.WTSDisconnectSession(None, S.WTS_CURRENT_SESSION, True)
    assert info_ex(lib, 2).Data.WTSInfoExLevel1.SessionState == S.WTSDisconnected


def test_logoff_removes_the_session(lib) -> None:
    assert len(enum_ex(lib)) == len(RDS01)
    assert lib.WTSLogoffSession(None, 3, True)
    ids = [s["SessionId"] for s in enum_ex(lib)]
    assert ids == [s[0] for s in RDS01 if s[0] != 3]
    assert query_error(lib, None, 3, S.WTSUserName) == S.ERROR_CTX_WINSTATION_NOT_FOUND
    assert not lib.WTSLogoffSession(None, 3, True)
    assert lib.GetLastError() == S.ERROR_CTX_WINSTATION_NOT_FOUND


def test_logoff_console_keeps_the_winstation(lib) -> None:
    assert lib.WTSLogoffSession(None, 1, True)
    e = enum_ex(lib)[1]
    assert (e["SessionId"], e["pSessionName"], e["State"], e["pUserName"]) == (1, "Console", S.WTSConnected, None)


# ---------------------------------------------------------------------------------------------------
# WTSSendMessageW


def test_send_message_lengths_are_bytes(lib) -> None:
    t, m = S.wbuf("Title"), S.wbuf("Hello world")
    resp = c_uint32(SENTINEL)
    for tl, ml in [(9, 22), (10, 21), (1, 0)]:
        assert not lib.WTSSendMessageW(None, 2, t, tl, m, ml, 0, 0, byref(resp), True)
        assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER
        assert resp.value == SENTINEL
    assert lib.wtssim_rpc_total() == 0
    # 10 bytes of "Hello world" is "Hello": a length in characters would take "Hello worl".
    assert lib.WTSSendMessageW(None, 2, t, 10, m, 10, 0, 0, byref(resp), True)
    assert resp.value == S.IDOK
    msgs = [line for line in S.dump(lib).splitlines() if line.startswith("message\t")]
    assert msgs == ["message\tRDS01\t2\tTitle\tHello\t0\t0\t1\t1"]


def test_send_message_null_response(lib) -> None:
    t, m = S.wbuf("T"), S.wbuf("M")
    assert not lib.WTSSendMessageW(None, 2, t, 2, m, 2, 0, 0, None, True)
    assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER


def test_send_message_null_strings(lib) -> None:
    t = S.wbuf("T")
    resp = c_uint32(SENTINEL)
    assert not lib.WTSSendMessageW(None, 2, t, 2, None, 0, 0, 0, byref(resp), True)
    assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER
    assert not lib.WTSSendMessageW(None, 2, None, 0, t, 2, 0, 0, byref(resp), True)
    assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER
    assert resp.value == SENTINEL


@pytest.mark.parametrize(
    "sid, wait, response",
    [
        (2, False, S.IDASYNC),
        (2, True, S.IDOK),  # reply 0 in the farm: IDOK
        (1, True, S.IDNO),  # the console's configured reply
        (1, False, S.IDASYNC),
        (3, True, S.IDTIMEOUT),  # disconnected: nobody answers
    ],
)
def test_send_message_responses(lib, sid, wait, response) -> None:
    assert send(lib, None, sid, "T", "M", wait) == (True, response, 0)


@pytest.mark.parametrize(
    "sid, err",
    [
        (4, S.ERROR_ACCESS_DENIED),
        (0, S.ERROR_CTX_WINSTATION_ACCESS_DENIED),
        (65536, S.ERROR_CTX_WINSTATION_ACCESS_DENIED),
        (42, S.ERROR_CTX_WINSTATION_NOT_FOUND),
    ],
)
def test_send_message_refused(lib, sid, err) -> None:
    assert send(lib, None, sid, "T", "M", True) == (False, SENTINEL, err)


def test_send_message_is_logged_in_the_dump(lib) -> None:
    title, text = "Wartung \u2013 Neustart", "Reboot at 22:00\tsave your work \\ now\U0001f600"
    assert send(lib, None, 2, title, text, True, style=0x30, timeout=60) == (True, S.IDOK, 0)
    with opened(lib, "rds01") as h:
        assert send(lib, h, 1, "x", "y", False) == (True, S.IDASYNC, 0)
    msgs = [line for line in S.dump(lib).splitlines() if line.startswith("message\t")]
    escaped = text.replace("\\", "\\\\").replace("\t", "\\t")
    assert msgs == [
        f"message\tRDS01\t2\t{title}\t{escaped}\t48\t60\t1\t1",
        "message\tRDS01\t1\tx\ty\t0\t0\t0\t32001",
    ]


# ---------------------------------------------------------------------------------------------------
# WTSConnectSessionW


def test_connect_wrong_password(lib) -> None:
    before = S.dump(lib)
    for pw in ("wrong", "pa55word!", "", None):
        assert not lib.WTSConnectSessionW(3, S.LOGONID_CURRENT, S.wbuf(pw), True)
        assert lib.GetLastError() == S.ERROR_LOGON_FAILURE
    assert S.dump(lib) == before


def test_connect_with_password_takes_over_the_callers_session(lib) -> None:
    assert lib.WTSConnectSessionW(3, S.LOGONID_CURRENT, S.wbuf("Pa55word!"), True)
    assert lib.GetLastError() == 0
    bob = info_ex(lib, 3).Data.WTSInfoExLevel1
    assert (bob.SessionState, S.warray_str(bob.WinStationName)) == (S.WTSActive, "RDP-Tcp#0")
    assert (bob.ConnectTime, bob.LastInputTime) == (NOW, NOW)
    assert query_str(lib, None, 3, S.WTSClientName) == "PC-ALICE"
    alice = info_ex(lib, 2).Data.WTSInfoExLevel1
    assert (alice.SessionState, S.warray_str(alice.WinStationName), alice.DisconnectTime) == (
        S.WTSDisconnected,
        "",
        NOW,
    )


@pytest.mark.parametrize("logon_id, target", [(1, S.LOGONID_CURRENT), (3, 1)])
def test_connect_console(lib, logon_id, target) -> None:
    assert not lib.WTSConnectSessionW(logon_id, target, S.wbuf("Pa55word!"), True)
    assert lib.GetLastError() == S.ERROR_CTX_CONSOLE_CONNECT


@pytest.mark.parametrize(
    "logon_id, target, err",
    [
        (99, S.LOGONID_CURRENT, S.ERROR_CTX_WINSTATION_NOT_FOUND),
        (3, 99, S.ERROR_CTX_WINSTATION_NOT_FOUND),
        (4, S.LOGONID_CURRENT, S.ERROR_ACCESS_DENIED),
        (65536, S.LOGONID_CURRENT, S.ERROR_CTX_WINSTATION_ACCESS_DENIED),
        (3, 0, S.ERROR_CTX_WINSTATION_ACCESS_DENIED),
        (2, S.LOGONID_CURRENT, S.ERROR_INVALID_PARAMETER),  # onto itself
    ],
)
def test_connect_refused(lib, logon_id, target, err) -> None:
    assert not lib.WTSConnectSessionW(logon_id, target, S.wbuf("Pa55word!"), True)
    assert lib.GetLastError() == err


# ---------------------------------------------------------------------------------------------------
# Last error per thread


def test_last_error_is_per_thread(lib) -> None:
    step = threading.Barrier(2, timeout=10)
    seen: dict[str, list[int]] = {"fail": [], "ok": []}
    errors: list[BaseException] = []

    def failing() -> None:
        try:
            buf, n = c_void_p(), c_uint32()
            assert not lib.WTSQuerySessionInformationW(None, 77, S.WTSUserName, byref(buf), byref(n))
            step.wait()  # 1: failed; the other thread now succeeds
            step.wait()  # 2: it has succeeded
            seen["fail"].append(lib.GetLastError())
            assert not lib.WTSDisconnectSession(None, 1, True)  # 7041 here, after its success
            step.wait()  # 3
        except BaseException as e:
            errors.append(e)
            step.abort()

    def succeeding() -> None:
        try:
            step.wait()  # 1
            buf, n = c_void_p(), c_uint32()
            assert lib.WTSQuerySessionInformationW(None, 2, S.WTSUserName, byref(buf), byref(n))
            lib.WTSFreeMemory(buf)
            step.wait()  # 2
            step.wait()  # 3: the other thread has failed again
            seen["ok"].append(lib.GetLastError())
        except BaseException as e:
            errors.append(e)
            step.abort()

    assert not lib.WTSDisconnectSession(None, 0, True)  # this thread's own error: 7045
    threads = [threading.Thread(target=failing), threading.Thread(target=succeeding)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors, errors
    assert seen == {"fail": [S.ERROR_CTX_WINSTATION_NOT_FOUND], "ok": [0]}
    assert lib.GetLastError() == S.ERROR_CTX_WINSTATION_ACCESS_DENIED


def test_last_error_per_thread_under_contention(lib) -> None:
    """Many threads alternate their own failures and successes at full speed."""
    codes = {77: S.ERROR_CTX_WINSTATION_NOT_FOUND, 4: S.ERROR_ACCESS_DENIED, 2: 0}
    mismatches: list[tuple[int, int]] = []

    def worker(sid: int) -> None:
        for _ in range(300):
            buf, n = c_void_p(), c_uint32()
            ok = lib.WTSQuerySessionInformationW(None, sid, S.WTSSessionId, byref(buf), byref(n))
            err = lib.GetLastError()
            if ok:
                lib.WTSFreeMemory(buf)
            if err != codes[sid]:
                mismatches.append((sid, err))

    threads = [threading.Thread(target=worker, args=(sid,)) for sid in list(codes) * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert mismatches == []


# ---------------------------------------------------------------------------------------------------
# RPC counting


def test_rpc_counting(lib) -> None:
    def delta(expected: int, call) -> None:
        before = lib.wtssim_rpc_total()
        call()
        assert lib.wtssim_rpc_total() - before == expected, call

    assert lib.wtssim_rpc_total() == 0
    handles = []
    delta(0, lambda: handles.append(lib.WTSOpenServerW(S.wbuf("RDS01"))))
    delta(0, lambda: handles.append(lib.WTSOpenServerExW(S.wbuf("DOWN01"))))
    h, down = handles

    # One RPC each, whether the call succeeds or the server refuses it.
    delta(1, lambda: enum_ex(lib, h))  # includes WTSFreeMemoryExW, which is free
    delta(1, lambda: query(lib, None, 2, S.WTSUserName))  # includes WTSFreeMemory
    delta(1, lambda: query_error(lib, None, 77, S.WTSUserName))
    delta(1, lambda: query_error(lib, h, 4, S.WTSUserName))
    delta(1, lambda: query(lib, None, 2, S.WTSSessionInfoEx))

    def enum_plain(server):
        info, count = POINTER(S.WTS_SESSION_INFOW)(), c_uint32()
        if lib.WTSEnumerateSessionsW(server, 0, 1, byref(info), byref(count)):
            lib.WTSFreeMemory(info)

    delta(1, lambda: enum_plain(None))
    delta(1, lambda: enum_plain(down))  # fails with 1722, but the RPC was attempted
    delta(1, lambda: send(lib, h, 2, "t", "m", False))
    delta(1, lambda: lib.WTSDisconnectSession(h, 2, True))
    delta(1, lambda: lib.WTSDisconnectSession(None, 1, True))  # 7041
    delta(1, lambda: lib.WTSConnectSessionW(3, S.LOGONID_CURRENT, S.wbuf("wrong"), True))
    delta(1, lambda: lib.WTSConnectSessionW(3, S.LOGONID_CURRENT, S.wbuf("Pa55word!"), True))
    delta(1, lambda: lib.WTSLogoffSession(None, 3, True))

    # Rejected on the parameters: nothing goes on the wire.
    def ex(level, filter_=0, out=True):
        lv, count, info = c_uint32(level), c_uint32(), POINTER(S.WTS_SESSION_INFO_1W)()
        assert not lib.WTSEnumerateSessionsExW(None, byref(lv), filter_, byref(info) if out else None, byref(count))

    delta(0, lambda: ex(0))
    delta(0, lambda: ex(2))
    delta(0, lambda: ex(1, filter_=1))
    delta(0, lambda: ex(1, out=False))
    delta(0, lambda: lib.WTSEnumerateSessionsW(None, 1, 1, byref(POINTER(S.WTS_SESSION_INFOW)()), byref(c_uint32())))
    delta(0, lambda: lib.WTSQuerySessionInformationW(None, 2, S.WTSUserName, None, byref(c_uint32())))
    delta(0, lambda: query_error(lib, None, 2, 30))
    delta(0, lambda: query_error(lib, h, S.WTS_CURRENT_SESSION, S.WTSUserName))
    delta(0, lambda: lib.WTSSendMessageW(None, 2, S.wbuf("t"), 1, S.wbuf("m"), 2, 0, 0, byref(c_uint32()), True))
    delta(0, lambda: lib.WTSSendMessageW(None, 2, S.wbuf("t"), 2, S.wbuf("m"), 2, 0, 0, None, True))
    delta(0, lambda: lib.WTSLogoffSession(down, S.WTS_CURRENT_SESSION, True))
    junk = garbage_handle()
    delta(0, lambda: query_error(lib, ctypes.addressof(junk), 2, S.WTSUserName))
    delta(0, lambda: lib.WTSFreeMemory(None))
    delta(0, lambda: lib.WTSFreeMemoryExW(S.WTSTypeSessionInfoLevel1, None, 0))
    delta(0, lambda: [lib.WTSCloseServer(x) for x in handles])

    total = lib.wtssim_rpc_total()
    assert total == 13
    report = S.rpc_report(lib)
    assert report == {"RDS01": 12, "DOWN01": 1, "BUSY01": 0, "*": 0}
    lib.wtssim_reset_counters()
    assert lib.wtssim_rpc_total() == 0
    assert set(S.rpc_report(lib).values()) == {0}


def test_server_without_sessions(lib) -> None:
    S.load_farm(lib, "WTSSIM\t1\nfarm\t0\t0\tEMPTY\t-1\nserver\tEMPTY\t0\t0\tnone\n")
    base = lib.wtssim_outstanding()
    lv, count, info = c_uint32(1), c_uint32(SENTINEL), POINTER(S.WTS_SESSION_INFO_1W)()
    assert lib.WTSEnumerateSessionsExW(None, byref(lv), 0, byref(info), byref(count))
    assert count.value == 0 and ptr_value(info) is not None
    assert lib.WTSFreeMemoryExW(S.WTSTypeSessionInfoLevel1, info, 0)
    winfo = POINTER(S.WTS_SESSION_INFOW)()
    assert lib.WTSEnumerateSessionsW(None, 0, 1, byref(winfo), byref(count))
    assert count.value == 0
    lib.WTSFreeMemory(winfo)
    assert lib.wtssim_outstanding() == base
    assert query_error(lib, None, S.WTS_CURRENT_SESSION, S.WTSSessionId) == S.ERROR_CTX_WINSTATION_NOT_FOUND


# ---------------------------------------------------------------------------------------------------
# Hang servers


def test_hang_server_blocks_until_released(lib) -> None:
    S.load_farm(lib, "WTSSIM\t1\nfarm\t0\t0\tRDS01\t-1\nserver\tRDS01\t0\t0\tnone\nserver\tSTUCK\t0\t0\thang\n")
    result: list[int] = []
    with opened(lib, "STUCK") as h:

        def call() -> None:
            result.append(query_error(lib, h, 2, S.WTSUserName))

        t = threading.Thread(target=call)
        t.start()
        deadline = time.monotonic() + 10
        while lib.wtssim_hung_calls() == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert lib.wtssim_hung_calls() == 1
        assert result == []
        lib.wtssim_release_hangs()
        t.join(10)
    assert result == [S.RPC_S_CALL_FAILED]
    assert lib.wtssim_hung_calls() == 0


# ---------------------------------------------------------------------------------------------------
# wtssim_load


def _load_raw(lib, text: str) -> tuple[int, str]:
    data = text.encode("utf-8")
    err = ctypes.create_string_buffer(256)
    rc = lib.wtssim_load(data, len(data), err, len(err))
    return rc, err.value.decode("utf-8", "replace")


HEADER = "WTSSIM\t1\nfarm\t1\t0\tA\t-1\n"


BODY = FARM.split("\n", 1)[1]  # FARM without its header line


@pytest.mark.parametrize(
    "text, line, reason",
    [
        pytest.param("WTSSIM\t2\n" + BODY, 1, "not a WTSSIM 1 farm", id="version"),
        pytest.param("WTSSIX\t1\n" + BODY, 1, "not a WTSSIM 1 farm", id="magic"),
        pytest.param(BODY, 1, "not a WTSSIM 1 farm", id="missing-header"),
        # No header at all, behind a blank line: the header check must not be skipped.
        pytest.param("\n" + BODY, None, "not a WTSSIM 1 farm", id="missing-header-after-blank"),
        # A wrong header is the first thing wrong, and it is on line 1.
        pytest.param("WTSSIM\t2\n", 1, "not a WTSSIM 1 farm", id="header-only"),
        pytest.param("WTSSIM\t1\nfarm\t1\t0\nserver\tA\t0\t0\tnone\n", 2, "a farm line has 5 fields", id="farm-fields"),
        pytest.param(HEADER + "server\tA\t0\t0\n", 3, "a server line has 5 fields", id="server-fields"),
        pytest.param(
            HEADER + "server\tA\t0\t0\tnone\nsession\t2\tRDP-Tcp#0\t0\n",
            4,
            "a session line has 17 fields",
            id="session-fields",
        ),
        pytest.param(
            HEADER + "server\tA\t0\t0\tnone\nserver\tB\t0\t0\tnone\nserver\ta\t0\t0\tnone\n",
            5,
            "duplicate server name",
            id="duplicate-server",
        ),
        pytest.param(HEADER + "server\tA\t0\t0\tflaky\n", 3, "unknown fault", id="unknown-fault"),
        pytest.param(HEADER + "server\tA\t0\t0\tNone\n", 3, "unknown fault", id="fault-is-case-sensitive"),
        pytest.param(
            HEADER + session(2, "RDP-Tcp#0", 0) + "server\tA\t0\t0\tnone\n",
            3,
            "session before any server",
            id="session-before-server",
        ),
    ],
)
def test_load_rejects_malformed_text_and_keeps_the_farm(lib, text, line, reason) -> None:
    assert send(lib, None, 2, "before", "reload", True)[0]  # some state that a reload would lose
    before = S.dump(lib)
    rc, err = _load_raw(lib, text)
    assert rc != 0, "malformed text was accepted"
    assert reason in err, err
    if line is not None:
        assert err.startswith(f"line {line}:"), err
    else:
        assert err.startswith("line "), err
    assert S.dump(lib) == before
    assert lib.wtssim_loaded() == 1
    assert [s["SessionId"] for s in enum_ex(lib)] == [s[0] for s in RDS01]


def test_load_error_helper_raises(lib) -> None:
    with pytest.raises(ValueError, match=r"^line 3: unknown fault$"):
        S.load_farm(lib, HEADER + "server\tA\t0\t0\tflaky\n")


def test_dump_round_trips_the_loaded_farm(lib) -> None:
    """The dump is the loaded text, except that reply 0 reads back as the IDOK it stands for."""
    expected = []
    for line in FARM.splitlines(keepends=True):
        fields = line.split("\t")
        if fields[0] == "session" and fields[15] == "0":
            fields[15] = str(S.IDOK)
        expected.append("\t".join(fields))
    text = S.dump(lib)
    assert text == "".join(expected)
    S.load_farm(lib, text)
    assert S.dump(lib) == text


# ---------------------------------------------------------------------------------------------------
# Processes: WTSEnumerateProcessesExW, WTSTerminateProcess, and the sim's LookupAccountSidW

ALICE_SID = "S-1-5-21-1-2-3-1001"


def process(pid: int, name: str, sid: str = "", domain: str = "", user: str = "", *figures: int) -> str:
    counts = list(figures) + [0] * (8 - len(figures))
    return "process\t" + "\t".join(str(f) for f in [pid, name, sid, domain, user, *counts]) + "\n"


PFARM = (
    "WTSSIM\t1\n"
    f"farm\t2026\t{NOW}\tRDS01\t2\n"
    "server\tRDS01\t0\t0\tnone\n"
    + session(0, "Services", S.WTSDisconnected)
    + process(4, "System", "S-1-5-18", "NT AUTHORITY", "SYSTEM", 150, 3000)
    + process(0, "Idle")
    + session(2, "RDP-Tcp#0", S.WTSActive, "alice", "CONTOSO")
    + process(1234, "EXCEL.EXE", ALICE_SID, "CONTOSO", "alice", 24, 1400, 10, 11, 12, 13, 14, 15)
    + process(1240, "explorer.exe", ALICE_SID, "CONTOSO", "alice")
    + session(4, "RDP-Tcp#1", S.WTSActive, "carol", "CONTOSO", deny=32)
    + process(2000, "notepad.exe", "S-1-5-21-1-2-3-1002", "CONTOSO", "carol")
    + "server\tDOWN01\t0\t0\tunreachable\n"
)


def enum_processes(lib: ctypes.CDLL, h: int | None, session_id: int, level: int = 1) -> tuple[c_void_p, int, int]:
    lv, count, info = c_uint32(level), c_uint32(), c_void_p()
    assert lib.WTSEnumerateProcessesExW(h, byref(lv), session_id, byref(info), byref(count)), lib.GetLastError()
    return info, count.value, lv.value


def sid_text(lib: ctypes.CDLL, sid: int) -> str:
    text = c_void_p()
    assert lib.wtssim_ConvertSidToStringSidW(sid, byref(text))
    try:
        return S.wstring_at(text.value)
    finally:
        lib.wtssim_FreeSidString(text)


def test_process_structs_match_sdk_x64() -> None:
    assert sizeof(S.WTS_PROCESS_INFOW) == 24 and S.WTS_PROCESS_INFOW.pUserSid.offset == 16
    assert sizeof(S.WTS_PROCESS_INFO_EXW) == 64
    offsets = {"pProcessName": 8, "pUserSid": 16, "NumberOfThreads": 24, "PeakWorkingSetSize": 44,
               "UserTime": 48, "KernelTime": 56}  # fmt: skip
    assert {name: getattr(S.WTS_PROCESS_INFO_EXW, name).offset for name in offsets} == offsets


def test_enum_processes_level_1(lib) -> None:
    S.load_farm(lib, PFARM)
    info, count, level = enum_processes(lib, None, S.WTS_ANY_SESSION)
    try:
        assert level == 1
        rows = ctypes.cast(info, POINTER(S.WTS_PROCESS_INFO_EXW))[:count]
        assert [(r.SessionId, r.ProcessId, S.wstring_at(r.pProcessName)) for r in rows] == [
            (0, 4, "System"),
            (0, 0, "Idle"),
            (2, 1234, "EXCEL.EXE"),
            (2, 1240, "explorer.exe"),
            (4, 2000, "notepad.exe"),
        ]
        excel = rows[2]
        assert (excel.NumberOfThreads, excel.HandleCount, excel.PagefileUsage, excel.PeakPagefileUsage) == (
            24,
            1400,
            10,
            11,
        )
        assert (excel.WorkingSetSize, excel.PeakWorkingSetSize, excel.UserTime, excel.KernelTime) == (12, 13, 14, 15)
        assert rows[1].pUserSid is None  # no SID: NULL
        assert sid_text(lib, rows[0].pUserSid) == "S-1-5-18" and sid_text(lib, excel.pUserSid) == ALICE_SID
    finally:
        assert lib.WTSFreeMemoryExW(S.WTSTypeProcessInfoLevel1, info, count)


def test_enum_processes_level_0_and_one_session(lib) -> None:
    S.load_farm(lib, PFARM)
    with opened(lib, "RDS01") as h:
        info, count, level = enum_processes(lib, h, 2, level=0)
    try:
        rows = ctypes.cast(info, POINTER(S.WTS_PROCESS_INFOW))[:count]
        assert level == 0 and [(r.SessionId, r.ProcessId) for r in rows] == [(2, 1234), (2, 1240)]
    finally:
        assert lib.WTSFreeMemoryExW(S.WTSTypeProcessInfoLevel0, info, count)


@pytest.mark.parametrize("level", [2, 0xFFFFFFFF])
def test_enum_processes_bad_level_is_87_before_any_rpc(lib, level) -> None:
    lv, count, info = c_uint32(level), c_uint32(SENTINEL), c_void_p(SENTINEL_PTR)
    assert not lib.WTSEnumerateProcessesExW(None, byref(lv), S.WTS_ANY_SESSION, byref(info), byref(count))
    assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER
    assert (lv.value, count.value, info.value) == (level, SENTINEL, SENTINEL_PTR)
    assert lib.wtssim_rpc_total() == 0


def test_enum_processes_current_session_on_opened_handle_is_87(lib) -> None:
    lv, count, info = c_uint32(1), c_uint32(), c_void_p()
    with opened(lib, "RDS01") as h:
        assert not lib.WTSEnumerateProcessesExW(h, byref(lv), S.WTS_CURRENT_SESSION, byref(info), byref(count))
    assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER


def test_enum_processes_of_an_unreachable_server(lib) -> None:
    S.load_farm(lib, PFARM)
    lv, count, info = c_uint32(1), c_uint32(), c_void_p()
    with opened(lib, "DOWN01") as h:
        assert not lib.WTSEnumerateProcessesExW(h, byref(lv), S.WTS_ANY_SESSION, byref(info), byref(count))
    assert lib.GetLastError() == S.RPC_S_SERVER_UNAVAILABLE
    assert S.rpc_report(lib)["DOWN01"] == 1


def test_process_array_free_contract(lib) -> None:
    """FreeMemoryExW with the level's type and count frees the array, names and SIDs; any other type or
    count frees nothing; plain WTSFreeMemory frees the array alone and leaks the rest, as on Windows."""
    S.load_farm(lib, PFARM)
    base = lib.wtssim_outstanding()
    info, count, _ = enum_processes(lib, None, S.WTS_ANY_SESSION)
    # The array, five names and four SIDs (Idle has none).
    assert lib.wtssim_outstanding() == base + 1 + 5 + 4
    held = lib.wtssim_outstanding()
    for type_class, n in [
        (S.WTSTypeProcessInfoLevel0, count),
        (S.WTSTypeSessionInfoLevel1, count),
        (S.WTSTypeProcessInfoLevel1, count - 1),
        (S.WTSTypeProcessInfoLevel1, count + 1),
    ]:
        assert not lib.WTSFreeMemoryExW(type_class, info, n)
        assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER
        assert lib.wtssim_outstanding() == held
    rows = ctypes.cast(info, POINTER(S.WTS_PROCESS_INFO_EXW))[:count]
    leaked = [p for r in rows for p in (r.pProcessName, r.pUserSid) if p]
    lib.WTSFreeMemory(info)
    assert lib.wtssim_outstanding() == base + len(leaked) == base + 9
    for p in leaked:
        lib.WTSFreeMemory(p)
    assert lib.wtssim_outstanding() == base
    info, count, _ = enum_processes(lib, None, S.WTS_ANY_SESSION)
    assert lib.WTSFreeMemoryExW(S.WTSTypeProcessInfoLevel1, info, count)
    assert lib.wtssim_outstanding() == base


def test_terminate_process(lib) -> None:
    S.load_farm(lib, PFARM)
    lib.wtssim_reset_counters()
    with opened(lib, "RDS01") as h:
        assert lib.WTSTerminateProcess(h, 1234, 1)
        assert not lib.WTSTerminateProcess(h, 1234, 1)  # gone: no such process
        assert lib.GetLastError() == S.ERROR_INVALID_PARAMETER
        assert not lib.WTSTerminateProcess(h, 2000, 0)  # carol's session denies it
        assert lib.GetLastError() == S.ERROR_ACCESS_DENIED
    assert S.rpc_report(lib)["RDS01"] == 3
    info, count, _ = enum_processes(lib, None, 2)
    try:
        assert [r.ProcessId for r in ctypes.cast(info, POINTER(S.WTS_PROCESS_INFO_EXW))[:count]] == [1240]
    finally:
        assert lib.WTSFreeMemoryExW(S.WTSTypeProcessInfoLevel1, info, count)
    assert "process\t1234\t" not in S.dump(lib) and "process\t1240\t" in S.dump(lib)


def lookup(lib: ctypes.CDLL, server: str | None, sid: int, size: int = 64) -> tuple[int, str, str, int]:
    """wtssim_LookupAccountSidW with buffers of ``size`` WCHARs: (last error, 'user\\domain' or '',
    'name size,domain size' as the call left them, SID_NAME_USE)."""
    name, domain = (ctypes.c_uint16 * size)(), (ctypes.c_uint16 * size)()
    n, d, use = c_uint32(size), c_uint32(size), c_uint32(SENTINEL)
    server_name = S.wbuf(server) if server is not None else None
    ok = lib.wtssim_LookupAccountSidW(
        server_name, sid, ctypes.addressof(name), byref(n), ctypes.addressof(domain), byref(d), byref(use)
    )
    if not ok:
        return lib.GetLastError(), "", f"{n.value},{d.value}", use.value
    return 0, S.warray_str(name) + "\\" + S.warray_str(domain), f"{n.value},{d.value}", use.value


def test_lookup_account_sid(lib) -> None:
    S.load_farm(lib, PFARM)
    info, count, _ = enum_processes(lib, None, S.WTS_ANY_SESSION)
    try:
        rows = ctypes.cast(info, POINTER(S.WTS_PROCESS_INFO_EXW))[:count]
        system, alice = rows[0].pUserSid, rows[2].pUserSid
        lib.wtssim_reset_counters()
        # SidTypeUser (1); the sizes are the lengths written, without the terminator.
        assert lookup(lib, "\\\\RDS01", alice) == (0, "alice\\CONTOSO", "5,7", 1)
        assert lookup(lib, None, system) == (0, "SYSTEM\\NT AUTHORITY", "6,12", 5)  # SidTypeWellKnownGroup
        # Too small: 122, and the sizes needed, terminator included.
        assert lookup(lib, "RDS01", alice, size=3)[:3] == (S.ERROR_INSUFFICIENT_BUFFER, "", "6,8")
        assert S.rpc_report(lib)["RDS01"] == 3  # each lookup is an RPC to that server's LSA
        assert lookup(lib, "DOWN01", alice)[0] == S.RPC_S_SERVER_UNAVAILABLE
        assert lookup(lib, "NOSUCH", alice)[0] == S.RPC_S_SERVER_UNAVAILABLE
        unknown = (ctypes.c_ubyte * 16)(1, 2, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 99, 0, 0, 0)  # S-1-5-21-99
        assert lookup(lib, "RDS01", ctypes.addressof(unknown))[0] == S.ERROR_NONE_MAPPED
        assert sid_text(lib, ctypes.addressof(unknown)) == "S-1-5-21-99"
        bad = (ctypes.c_ubyte * 8)(2, 1, 0, 0, 0, 0, 0, 5)  # revision 2: not a SID
        assert lookup(lib, "RDS01", ctypes.addressof(bad))[0] == S.ERROR_INVALID_PARAMETER
    finally:
        assert lib.WTSFreeMemoryExW(S.WTSTypeProcessInfoLevel1, info, count)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (process(8, "a.exe", "S-1-5", "NT AUTHORITY", "X"), "SID is not"),
        (process(8, "a.exe", "S-1-5-18", "OTHER", "SYSTEM"), "already names another account"),
        (process(8, "a.exe", "", "CONTOSO", "x"), "an account name without a SID"),
        (process(8, "", "S-1-5-18", "NT AUTHORITY", "SYSTEM"), "empty image name"),
        (process(4, "dup.exe"), "process id 4 is used twice"),
        ("process\t8\ta.exe\n", "a process line has 14 fields"),
    ],
)
def test_load_rejects_bad_process_lines(lib, line, reason) -> None:
    with pytest.raises(ValueError, match=reason):
        S.load_farm(
            lib, PFARM + "server\tRDS09\t0\t0\tnone\n" + session(0, "Services", 4) + process(4, "System") + line
        )
    assert "RDS09" not in S.dump(lib)  # the old farm stays


def test_process_before_any_session_is_refused(lib) -> None:
    with pytest.raises(ValueError, match="process before any session"):
        S.load_farm(lib, PFARM + "server\tRDS09\t0\t0\tnone\n" + process(4, "System"))


def test_the_dll_exports_what_the_library_declares(lib) -> None:
    """tools/wine/wtsapi32.def (the Wine DLL's exports) lists exactly the functions simlib declares, and the
    native build exports each of them."""
    lines = (REPO / "tools" / "wine" / "wtsapi32.def").read_text(encoding="utf-8").splitlines()
    start = lines.index("EXPORTS") + 1
    exports = {line.strip() for line in lines[start:] if line.strip() and not line.startswith(";")}
    assert exports == set(S.WTSAPI_PROTOTYPES) | set(S.CONTROL_PROTOTYPES)
    assert all(hasattr(lib, name) for name in exports)
