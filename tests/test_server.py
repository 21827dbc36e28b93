"""wts.Server and wts.connect through the public API, against the reference farm (Windows' answers).

Read-only tests of the local server take the ``provider`` fixture and also run on Windows against the
real wtsapi32; everything that changes state, counts RPCs or needs the farm's exact contents is
sim-only (``farm`` / ``sim`` fixtures).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import wts
from wts import (
    CURRENT_SESSION,
    AccessDeniedError,
    ClientAddress,
    ConnectState,
    InfoClass,
    MessageResponse,
    NoSuchSessionError,
    NotSupportedError,
    Protocol,
    ServerUnavailableError,
    Session,
    SessionInfo,
    WTSError,
)

REFERENCE_FARM = Path(__file__).resolve().parent / "farms" / "windows.json"
UTC = timezone.utc
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
A, C, D, L = ConnectState.ACTIVE, ConnectState.CONNECTED, ConnectState.DISCONNECTED, ConnectState.LISTEN

# The reference farm's RDS01, in enumeration order: (id, station, state, user, domain).
RDS01 = [
    (0, "Services", D, "", ""),
    (1, "Console", A, "admin", "CONTOSO"),
    (2, "RDP-Tcp#0", A, "alice", "CONTOSO"),
    (3, "", D, "bob", "CONTOSO"),
    (4, "RDP-Tcp#1", A, "carol", "CONTOSO"),
    (5, "RDP-Tcp#2", A, "dave", "CONTOSO"),
    (6, "RDP-Tcp#3", C, "", ""),
    (65536, "RDP-Tcp", L, "", ""),
]
RDS02 = [
    (0, "Services", D, "", ""),
    (1, "Console", C, "", ""),
    (2, "RDP-Tcp#0", A, "erin", "FABRIKAM"),
    (3, "", D, "frank", "FABRIKAM"),
    (65536, "RDP-Tcp", L, "", ""),
]
DENIED = 4  # carol: every operation denied
LISTENER = 65536


def server(name: str | None = "RDS01") -> wts.Server:
    return wts.Server(name, provider="sim")


def rows(sessions: list[Session]) -> list[tuple[object, ...]]:
    return [(s.id, s.station, s.state, s.user, s.domain) for s in sessions]


def rpcs(name: str = "RDS01") -> int:
    return wts.sim.rpc_counts()[name]


def by_id(sessions: list[Session]) -> dict[int, Session]:
    return {s.id: s for s in sessions}


# ------------------------------------------------------------------------------------------------
# Read-only, on every provider (the local server)
# ------------------------------------------------------------------------------------------------


def test_local_server_lists_console_or_services_session(provider: str) -> None:
    with wts.Server(None, provider=provider) as s:
        sessions = s.sessions()
    assert sessions, "the local server has at least one session"
    assert any(x.station.casefold() == "console" or x.id == 0 for x in sessions)
    for x in sessions:
        assert x.server is None  # the local server has no name
        assert type(x.state) is ConnectState
        assert isinstance(x.id, int) and 0 <= x.id < CURRENT_SESSION
        assert isinstance(x.user, str) and isinstance(x.domain, str)
    assert len({x.id for x in sessions}) == len(sessions)


def test_local_current_session_info(provider: str) -> None:
    with wts.Server(None, provider=provider) as s:
        listed = by_id(s.sessions())
        info = s.session_info(CURRENT_SESSION)
        assert s.query(CURRENT_SESSION, InfoClass.SESSION_ID) == info.id
        assert s.query(CURRENT_SESSION, InfoClass.USER_NAME) == listed[info.id].user
    assert isinstance(info, SessionInfo)
    assert info.id in listed
    assert info.user == listed[info.id].user
    assert info.domain == listed[info.id].domain
    assert type(info.state) is ConnectState
    assert info.current_time is not None and info.current_time.tzinfo is not None
    assert info.current_time.utcoffset() == timedelta(0)


def test_local_current_session_by_station_name(provider: str) -> None:
    with wts.Server(None, provider=provider) as s:
        me = s.session_info(CURRENT_SESSION)
        if not me.station:
            pytest.skip("this process's session has no WinStation name (disconnected)")
        found = s.session_by_name(me.station.swapcase())
    assert found.id == me.id


def test_local_state_query_agrees_with_listing(provider: str) -> None:
    with wts.Server(None, provider=provider) as s:
        me = s.session_info(CURRENT_SESSION)
        state = s.query(CURRENT_SESSION, InfoClass.CONNECT_STATE)
        station = s.query(CURRENT_SESSION, InfoClass.WINSTATION_NAME)
    assert state is me.state
    assert station == me.station


# ------------------------------------------------------------------------------------------------
# Enumeration
# ------------------------------------------------------------------------------------------------


def test_sessions_are_exactly_the_farms(farm: object) -> None:
    with server("RDS01") as s:
        got = s.sessions()
    assert rows(got) == RDS01
    assert all(x.server == "RDS01" for x in got)
    assert all(type(x.state) is ConnectState for x in got)


def test_sessions_of_second_server_carry_its_name(farm: object) -> None:
    with server("RDS02") as s:
        got = s.sessions()
    assert rows(got) == RDS02
    assert {x.server for x in got} == {"RDS02"}


def test_local_server_is_the_farms_local_with_no_name(farm: object) -> None:
    with server(None) as s:
        got = s.sessions()
    assert rows(got) == RDS01
    assert {x.server for x in got} == {None}


def test_server_names_are_case_insensitive(farm: object) -> None:
    with server("rds02") as s:
        got = s.sessions()
    assert rows(got) == RDS02
    assert {x.server for x in got} == {"rds02"}  # the name as the caller gave it


def test_sessions_is_one_rpc(farm: object) -> None:
    with server("RDS01") as s:
        wts.sim.reset_counters()
        s.sessions()
        assert rpcs() == 1
        assert wts.sim.rpc_total() == 1
        s.sessions()
        assert rpcs() == 2
    assert rpcs("RDS02") == 0


def test_opening_a_server_sends_nothing(farm: object) -> None:
    wts.sim.reset_counters()
    with server("RDS01"), server("DOWN01"), server("NOT-IN-FARM"):
        pass
    assert wts.sim.rpc_total() == 0


def test_connect_state_values_are_the_sdks() -> None:
    assert issubclass(ConnectState, int)
    assert [(m.name, int(m)) for m in ConnectState] == [
        ("ACTIVE", 0),
        ("CONNECTED", 1),
        ("CONNECT_QUERY", 2),
        ("SHADOW", 3),
        ("DISCONNECTED", 4),
        ("IDLE", 5),
        ("LISTEN", 6),
        ("RESET", 7),
        ("DOWN", 8),
        ("INIT", 9),
    ]
    assert ConnectState.DISCONNECTED.sdk_name == "Disconnected"
    assert ConnectState.parse("WTSActive") is ConnectState.ACTIVE
    assert ConnectState.parse("disc") is ConnectState.DISCONNECTED
    with pytest.raises(ValueError):
        ConnectState.parse("sleeping")


def test_session_is_an_immutable_named_tuple(farm: object) -> None:
    with server() as s:
        first = s.sessions()[2]
    assert isinstance(first, Session) and isinstance(first, tuple)
    assert Session._fields == ("server", "id", "station", "state", "user", "domain")
    assert first == ("RDS01", 2, "RDP-Tcp#0", ConnectState.ACTIVE, "alice", "CONTOSO")
    with pytest.raises(AttributeError):
        first.user = "mallory"  # type: ignore[misc]
    with pytest.raises(TypeError):
        first[1] = 9  # type: ignore[index]


# ------------------------------------------------------------------------------------------------
# session_info
# ------------------------------------------------------------------------------------------------


def test_session_info_of_active_session(farm: object) -> None:
    with server() as s:
        wts.sim.reset_counters()
        info = s.session_info(2)
        assert rpcs() == 1
    assert info == SessionInfo(
        "RDS01",
        2,
        "RDP-Tcp#0",
        ConnectState.ACTIVE,
        "alice",
        "CONTOSO",
        datetime(2026, 11, 21, 8, 0, tzinfo=UTC),
        datetime(2026, 11, 21, 8, 0, 5, tzinfo=UTC),
        None,
        datetime(2026, 11, 21, 11, 55, tzinfo=UTC),
        NOW,
        False,
        timedelta(minutes=5),
    )
    for t in (info.logon_time, info.connect_time, info.last_input_time, info.current_time):
        assert t is not None and t.utcoffset() == timedelta(0)


def test_session_info_of_disconnected_session_idles_since_the_disconnect(farm: object) -> None:
    with server() as s:
        info = s.session_info(3)
    assert info.state is ConnectState.DISCONNECTED
    assert info.station == ""
    assert info.user == "bob"
    assert info.disconnect_time == datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    assert info.last_input_time == datetime(2026, 11, 21, 2, 58, tzinfo=UTC)
    assert info.current_time == NOW
    assert info.idle == timedelta(hours=9)  # since the disconnect, not since the last input
    assert info.locked is False


def test_session_info_lock_state(farm: object) -> None:
    wts.sim.load(
        {
            "now": "2026-11-21T12:00:00Z",
            "servers": [
                {
                    "name": "RDS01",
                    "sessions": [
                        {
                            "id": 2,
                            "station": "RDP-Tcp#0",
                            "state": "Active",
                            "user": "u",
                            "domain": "D",
                            "locked": True,
                        },
                        {"id": 3, "station": "RDP-Tcp#1", "state": "Active", "user": "v", "domain": "D"},
                        {"id": 4, "station": "RDP-Tcp#2", "state": "Connected"},
                    ],
                }
            ],
        }
    )
    with server() as s:
        assert s.session_info(2).locked is True
        assert s.session_info(3).locked is False
        assert s.session_info(4).locked is None  # nobody logged on: Windows does not know


def test_session_info_without_times(farm: object) -> None:
    with server() as s:
        for sid in (0, 6, LISTENER):
            info = s.session_info(sid)
            assert info.logon_time is None
            assert info.connect_time is None
            assert info.disconnect_time is None
            assert info.last_input_time is None
            assert info.idle is None
            assert info.locked is None
            assert info.current_time == NOW
            assert info.user == "" and info.domain == ""


def test_session_info_of_current_session_on_local_server(farm: object) -> None:
    with server(None) as s:
        info = s.session_info(CURRENT_SESSION)
    assert info.id == 2
    assert info.server is None
    assert (info.user, info.domain) == ("alice", "CONTOSO")


def test_session_info_current_time_is_farm_now_everywhere(farm: object) -> None:
    with server("RDS02") as s:
        assert s.session_info(3).current_time == NOW
        assert s.session_info(3).idle == timedelta(hours=1)
        assert s.session_info(2).idle == timedelta(minutes=30)


# ------------------------------------------------------------------------------------------------
# session_by_name
# ------------------------------------------------------------------------------------------------


def test_session_by_name_is_case_insensitive_and_one_rpc(farm: object) -> None:
    with server() as s:
        wts.sim.reset_counters()
        found = s.session_by_name("rdp-tcp#0")
        assert rpcs() == 1
        assert s.session_by_name("  CONSOLE ").id == 1
    assert found == Session("RDS01", 2, "RDP-Tcp#0", ConnectState.ACTIVE, "alice", "CONTOSO")


def test_session_by_name_unknown(farm: object) -> None:
    with server() as s, pytest.raises(NoSuchSessionError) as info:
        s.session_by_name("RDP-Tcp#99")
    err = info.value
    assert isinstance(err, LookupError)
    assert err.winerror == 7022
    assert err.server == "RDS01"
    assert err.session_id is None
    assert "RDP-Tcp#99" in str(err)


@pytest.mark.parametrize("bad", ["", "   ", None, 2])
def test_session_by_name_rejects_non_names(farm: object, bad: object) -> None:
    with server() as s:
        wts.sim.reset_counters()
        with pytest.raises(ValueError):
            s.session_by_name(bad)  # type: ignore[arg-type]
        assert wts.sim.rpc_total() == 0


# ------------------------------------------------------------------------------------------------
# query
# ------------------------------------------------------------------------------------------------


def test_query_strings(farm: object) -> None:
    with server() as s:
        assert s.query(2, InfoClass.USER_NAME) == "alice"
        assert s.query(2, InfoClass.DOMAIN_NAME) == "CONTOSO"
        assert s.query(2, InfoClass.WINSTATION_NAME) == "RDP-Tcp#0"
        assert s.query(2, InfoClass.CLIENT_NAME) == "ALICE-PC"
        assert s.query(3, InfoClass.WINSTATION_NAME) == ""
        assert s.query(6, InfoClass.USER_NAME) == ""
        assert s.query(2, InfoClass.INITIAL_PROGRAM) == ""


def test_query_is_one_rpc(farm: object) -> None:
    with server() as s:
        wts.sim.reset_counters()
        s.query(2, InfoClass.USER_NAME)
        assert rpcs() == 1


def test_query_numbers(farm: object) -> None:
    with server() as s:
        assert s.query(5, InfoClass.SESSION_ID) == 5
        assert s.query(LISTENER, InfoClass.SESSION_ID) == LISTENER
        state = s.query(3, InfoClass.CONNECT_STATE)
        assert state is ConnectState.DISCONNECTED
        assert s.query(2, InfoClass.CONNECT_STATE) is ConnectState.ACTIVE
        assert s.query(LISTENER, 8) is ConnectState.LISTEN  # a plain int info class works too


def test_query_client_address_ipv4_and_ipv6(farm: object) -> None:
    with server() as s:
        v4 = s.query(2, InfoClass.CLIENT_ADDRESS)
        v6 = s.query(3, InfoClass.CLIENT_ADDRESS)
        none = s.query(6, InfoClass.CLIENT_ADDRESS)
    assert isinstance(v4, ClientAddress)
    assert v4.family == 2
    assert v4.address == ipaddress.IPv4Address("10.0.0.5")
    assert len(v4.raw) == 20 and v4.raw[2:6] == bytes([10, 0, 0, 5])
    assert v6.family == 23  # Windows' AF_INET6, not Linux's 10
    assert v6.address == ipaddress.IPv6Address("2001:db8::5")
    assert none.family == 0 and none.address is None


def test_query_protocol(farm: object) -> None:
    with server() as s:
        assert s.query(2, InfoClass.CLIENT_PROTOCOL_TYPE) is Protocol.RDP
        assert s.query(3, InfoClass.CLIENT_PROTOCOL_TYPE) is Protocol.RDP
        assert s.query(1, InfoClass.CLIENT_PROTOCOL_TYPE) is Protocol.CONSOLE
        assert s.query(0, InfoClass.CLIENT_PROTOCOL_TYPE) is Protocol.CONSOLE


def test_query_is_remote_session(farm: object) -> None:
    with server() as s:
        assert s.query(2, InfoClass.IS_REMOTE_SESSION) is True
        assert s.query(1, InfoClass.IS_REMOTE_SESSION) is False
        assert s.query(0, InfoClass.IS_REMOTE_SESSION) is False


def test_query_session_info_v1_has_no_lock_state(farm: object) -> None:
    with server() as s:
        v1 = s.query(2, InfoClass.SESSION_INFO)
        ex = s.query(2, InfoClass.SESSION_INFO_EX)
        assert ex == s.session_info(2)
    assert isinstance(v1, SessionInfo)
    assert v1.locked is None
    assert v1._replace(locked=False) == ex
    assert (v1.id, v1.station, v1.state, v1.user, v1.domain) == (2, "RDP-Tcp#0", A, "alice", "CONTOSO")
    assert v1.logon_time == datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    assert v1.current_time == NOW
    assert v1.idle == timedelta(minutes=5)


def test_query_session_info_v1_of_disconnected(farm: object) -> None:
    with server() as s:
        v1 = s.query(3, InfoClass.SESSION_INFO)
    assert v1.state is D
    assert v1.disconnect_time == datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    assert v1.idle == timedelta(hours=9)


def test_query_unknown_info_class_fails_before_rpc(farm: object) -> None:
    with server() as s:
        wts.sim.reset_counters()
        with pytest.raises(ValueError):
            s.query(2, 99)
        assert wts.sim.rpc_total() == 0


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------


def check(err: WTSError, cls: type, winerror: int, function: str, srv: str | None, sid: int | None) -> None:
    assert type(err) is cls
    assert err.winerror == winerror
    assert err.function == function
    assert err.server == srv
    assert err.session_id == sid
    assert f"[WinError {winerror}]" in str(err)


@pytest.mark.parametrize(
    "call, function",
    [
        (lambda s, sid: s.session_info(sid), "WTSQuerySessionInformationW"),
        (lambda s, sid: s.query(sid, InfoClass.USER_NAME), "WTSQuerySessionInformationW"),
        (lambda s, sid: s.disconnect(sid), "WTSDisconnectSession"),
        (lambda s, sid: s.logoff(sid), "WTSLogoffSession"),
        (lambda s, sid: s.send_message(sid, "t", "m"), "WTSSendMessageW"),
    ],
    ids=["session_info", "query", "disconnect", "logoff", "send_message"],
)
def test_unknown_session(sim: object, call, function: str) -> None:
    with server() as s, pytest.raises(NoSuchSessionError) as info:
        call(s, 77)
    check(info.value, NoSuchSessionError, 7022, function, "RDS01", 77)
    assert isinstance(info.value, LookupError)


@pytest.mark.parametrize(
    "call, function",
    [
        (lambda s, sid: s.session_info(sid), "WTSQuerySessionInformationW"),
        (lambda s, sid: s.query(sid, InfoClass.CLIENT_NAME), "WTSQuerySessionInformationW"),
        (lambda s, sid: s.disconnect(sid), "WTSDisconnectSession"),
        (lambda s, sid: s.logoff(sid), "WTSLogoffSession"),
        (lambda s, sid: s.send_message(sid, "t", "m", wait=True), "WTSSendMessageW"),
    ],
    ids=["session_info", "query", "disconnect", "logoff", "send_message"],
)
def test_denied_session(sim: object, call, function: str) -> None:
    with server() as s:
        with pytest.raises(AccessDeniedError) as info:
            call(s, DENIED)
        check(info.value, AccessDeniedError, 5, function, "RDS01", DENIED)
        assert isinstance(info.value, PermissionError)
        assert rows(s.sessions()) == RDS01  # nothing changed
    assert wts.sim.messages() == []


def test_denied_session_is_still_listed(farm: object) -> None:
    with server() as s:
        assert by_id(s.sessions())[DENIED].user == "carol"


def test_denied_connect(sim: object) -> None:
    with pytest.raises(AccessDeniedError) as info:
        wts.connect(DENIED, password="carolpw", provider="sim")
    check(info.value, AccessDeniedError, 5, "WTSConnectSessionW", None, DENIED)


def test_disconnect_console_is_not_supported(sim: object) -> None:
    with server() as s:
        with pytest.raises(NotSupportedError) as info:
            s.disconnect(1)
        check(info.value, NotSupportedError, 7041, "WTSDisconnectSession", "RDS01", 1)
        assert info.value.code_name == "ERROR_CTX_CONSOLE_DISCONNECT"
        assert by_id(s.sessions())[1].state is ConnectState.ACTIVE


@pytest.mark.parametrize("sid", [0, LISTENER], ids=["services", "listener"])
@pytest.mark.parametrize(
    "call, function",
    [
        (lambda s, sid: s.disconnect(sid), "WTSDisconnectSession"),
        (lambda s, sid: s.logoff(sid), "WTSLogoffSession"),
        (lambda s, sid: s.send_message(sid, "t", "m"), "WTSSendMessageW"),
    ],
    ids=["disconnect", "logoff", "send_message"],
)
def test_system_sessions_refuse_user_operations(sim: object, call, function: str, sid: int) -> None:
    with server() as s:
        with pytest.raises(AccessDeniedError) as info:
            call(s, sid)
        check(info.value, AccessDeniedError, 7045, function, "RDS01", sid)
        assert rows(s.sessions()) == RDS01
    assert wts.sim.messages() == []


@pytest.mark.parametrize("name", ["DOWN01", "NOT-IN-FARM"])
def test_unreachable_server_opens_then_fails_on_first_rpc(farm: object, name: str) -> None:
    wts.sim.reset_counters()
    with server(name) as s:  # opening is no RPC and cannot fail
        assert not s.closed
        with pytest.raises(ServerUnavailableError) as info:
            s.sessions()
        check(info.value, ServerUnavailableError, 1722, "WTSEnumerateSessionsExW", name, None)
        assert isinstance(info.value, ConnectionError)
        with pytest.raises(ServerUnavailableError) as info:
            s.session_info(2)
        check(info.value, ServerUnavailableError, 1722, "WTSQuerySessionInformationW", name, 2)
        with pytest.raises(ServerUnavailableError):
            s.disconnect(2)
    counts = wts.sim.rpc_counts()
    key = name if name in counts else "*"
    assert counts[key] == 3
    assert wts.sim.rpc_total() == 3


class _HungCall:
    """A call running in a thread, blocked on a 'hang' server."""

    def __init__(self, fn: Callable[[], object]) -> None:
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(fn,))

    def _run(self, fn: Callable[[], object]) -> None:
        try:
            fn()
        except BaseException as exc:
            self.error = exc


@contextlib.contextmanager
def hung_call(fn: Callable[[], object]) -> Iterator[_HungCall]:
    """Starts fn in a thread and yields once it is blocked on a hang server; on exit, releases hangs
    until it has returned, so no test can leave a thread blocked."""
    call = _HungCall(fn)
    call.thread.start()
    try:
        deadline = time.monotonic() + 5
        while wts.sim.hung_calls() != 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert wts.sim.hung_calls() == 1
        assert call.thread.is_alive()
        yield call
    finally:
        deadline = time.monotonic() + 5
        while call.thread.is_alive() and time.monotonic() < deadline:
            wts.sim.release_hangs()
            call.thread.join(0.01)
    assert not call.thread.is_alive()
    assert wts.sim.hung_calls() == 0


def test_hung_server_fails_with_call_failed_when_released(farm: object) -> None:
    with server("HANG01") as s, hung_call(s.sessions) as call:
        pass
    assert call.error is not None
    check(call.error, ServerUnavailableError, 1726, "WTSEnumerateSessionsExW", "HANG01", None)


BAD_IDS = [
    pytest.param(-1, ValueError, id="negative"),
    pytest.param(0xFFFFFFFF + 1, ValueError, id="too-big"),
    pytest.param(CURRENT_SESSION, ValueError, id="current-on-remote"),
    pytest.param(True, TypeError, id="bool"),
    pytest.param("2", TypeError, id="str"),
    pytest.param(2.0, TypeError, id="float"),
    pytest.param(None, TypeError, id="none"),
]

CALLS = [
    pytest.param(lambda s, sid: s.session_info(sid), id="session_info"),
    pytest.param(lambda s, sid: s.query(sid, InfoClass.USER_NAME), id="query"),
    pytest.param(lambda s, sid: s.disconnect(sid), id="disconnect"),
    pytest.param(lambda s, sid: s.logoff(sid), id="logoff"),
    pytest.param(lambda s, sid: s.send_message(sid, "t", "m"), id="send_message"),
]


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("bad, exc", BAD_IDS)
def test_bad_session_ids_fail_before_any_rpc(sim: object, call, bad: object, exc: type) -> None:
    with server("RDS01") as s:
        wts.sim.reset_counters()
        with pytest.raises(exc):
            call(s, bad)
        assert wts.sim.rpc_total() == 0
        assert rpcs() == 0


def test_current_session_on_remote_server_says_why(farm: object) -> None:
    with server("RDS01") as s, pytest.raises(ValueError, match="local server"):
        s.session_info(CURRENT_SESSION)


def test_largest_session_id_is_accepted(farm: object) -> None:
    with server() as s, pytest.raises(NoSuchSessionError) as info:
        s.session_info(0xFFFFFFFE)
    assert info.value.session_id == 0xFFFFFFFE


@pytest.mark.parametrize("bad", ["", "   ", 5])
def test_bad_server_names(bad: object) -> None:
    with pytest.raises(ValueError):
        wts.Server(bad, provider="sim")  # type: ignore[arg-type]


def test_send_message_checks_arguments_before_rpc(sim: object) -> None:
    with server() as s:
        wts.sim.reset_counters()
        with pytest.raises(TypeError):
            s.send_message(2, None, "text")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            s.send_message(2, "title", b"text")  # type: ignore[arg-type]
        for style in (-1, 0x1_0000_0000, True, "0"):
            with pytest.raises(ValueError):
                s.send_message(2, "t", "m", style=style)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            s.send_message(2, "t", "m", timeout=-5)
        assert wts.sim.rpc_total() == 0
    assert wts.sim.messages() == []


# ------------------------------------------------------------------------------------------------
# disconnect / logoff
# ------------------------------------------------------------------------------------------------


def test_disconnect_active_session(sim: object) -> None:
    with server() as s:
        wts.sim.reset_counters()
        assert s.disconnect(5) is None
        assert rpcs() == 1
        listed = by_id(s.sessions())[5]
        info = s.session_info(5)
    assert listed == Session("RDS01", 5, "", ConnectState.DISCONNECTED, "dave", "CONTOSO")
    assert info.state is ConnectState.DISCONNECTED
    assert info.station == ""  # an RDP session gives up its WinStation name
    assert info.disconnect_time == NOW
    assert info.idle == timedelta(0)
    assert info.user == "dave"  # still logged on
    assert info.logon_time == datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    assert info.locked is not None  # somebody is logged on, so the lock state is known


def test_disconnect_leaves_other_sessions_alone(sim: object) -> None:
    with server() as s:
        s.disconnect(2)
        after = rows(s.sessions())
    expected = list(RDS01)
    expected[2] = (2, "", D, "alice", "CONTOSO")
    assert after == expected
    with server("RDS02") as s:
        assert rows(s.sessions()) == RDS02


def test_disconnect_already_disconnected_changes_nothing(sim: object) -> None:
    with server() as s:
        before = s.session_info(3)
        s.disconnect(3)
        after = s.session_info(3)
    assert after == before
    assert after.disconnect_time == datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


def test_disconnect_current_session_on_local_server(sim: object) -> None:
    with server(None) as s:
        s.disconnect(CURRENT_SESSION)
        assert by_id(s.sessions())[2].state is D


def test_disconnected_session_cannot_be_found_by_old_station(sim: object) -> None:
    with server() as s:
        s.disconnect(2)
        with pytest.raises(NoSuchSessionError):
            s.session_by_name("RDP-Tcp#0")


def test_logoff_ends_session(sim: object) -> None:
    with server() as s:
        wts.sim.reset_counters()
        assert s.logoff(3) is None
        assert rpcs() == 1
        listed = s.sessions()
        assert 3 not in by_id(listed)
        assert rows(listed) == [r for r in RDS01 if r[0] != 3]
        with pytest.raises(NoSuchSessionError):
            s.session_info(3)
        with pytest.raises(NoSuchSessionError):
            s.logoff(3)


def test_logoff_console_leaves_logon_screen(sim: object) -> None:
    with server() as s:
        s.logoff(1)
        listed = by_id(s.sessions())
        info = s.session_info(1)
    assert listed[1] == Session("RDS01", 1, "Console", ConnectState.CONNECTED, "", "")
    assert info.user == "" and info.domain == ""
    assert info.locked is None
    assert info.logon_time is None
    assert len(listed) == len(RDS01)


# ------------------------------------------------------------------------------------------------
# send_message
# ------------------------------------------------------------------------------------------------


def test_send_message_without_wait_is_async(sim: object) -> None:
    with server() as s:
        wts.sim.reset_counters()
        assert s.send_message(2, "Title", "Body") is MessageResponse.ASYNC
        assert rpcs() == 1


def test_send_message_waits_for_farm_reply(sim: object) -> None:
    with server() as s:
        assert s.send_message(2, "t", "m", wait=True) is MessageResponse.OK
        assert s.send_message(5, "t", "m", wait=True) is MessageResponse.NO


def test_send_message_to_disconnected_session_times_out(sim: object) -> None:
    with server() as s:
        assert s.send_message(3, "t", "m", timeout=30, wait=True) is MessageResponse.TIMEOUT
        assert s.send_message(3, "t", "m") is MessageResponse.ASYNC


def test_messages_are_recorded_and_escaping_round_trips(sim: object) -> None:
    title = "Wartung\theute"
    text = "Line 1\nLine 2\twith tab\r\nback\\slash \\n literal, Grüße, 日本語, 🎉"
    with server() as s:
        s.send_message(2, title, text, style=0x40 | 0x4, timeout=60, wait=True)
        s.send_message(5, "second", "", wait=False)
    with server(None) as s:
        s.send_message(CURRENT_SESSION, "mine", "x", wait=True)
    with server("RDS02") as s:
        s.send_message(3, "away", "y", wait=True)
    assert wts.sim.messages() == [
        {
            "server": "RDS01",
            "session": 2,
            "title": title,
            "text": text,
            "style": 0x44,
            "timeout": 60,
            "wait": True,
            "response": int(MessageResponse.OK),
        },
        {
            "server": "RDS01",
            "session": 5,
            "title": "second",
            "text": "",
            "style": 0,
            "timeout": 0,
            "wait": False,
            "response": int(MessageResponse.ASYNC),
        },
        {
            "server": "RDS01",
            "session": 2,
            "title": "mine",
            "text": "x",
            "style": 0,
            "timeout": 0,
            "wait": True,
            "response": int(MessageResponse.OK),
        },
        {
            "server": "RDS02",
            "session": 3,
            "title": "away",
            "text": "y",
            "style": 0,
            "timeout": 0,
            "wait": True,
            "response": int(MessageResponse.TIMEOUT),
        },
    ]


# ------------------------------------------------------------------------------------------------
# connect (tscon)
# ------------------------------------------------------------------------------------------------


def test_connect_moves_session_onto_callers_connection(sim: object) -> None:
    wts.sim.reset_counters()
    assert wts.connect(3, password="bobpw", provider="sim") is None
    assert rpcs() == 1
    with server() as s:
        listed = by_id(s.sessions())
        bob = s.session_info(3)
        alice = s.session_info(2)
        bob_client = s.query(3, InfoClass.CLIENT_NAME)
        bob_address = s.query(3, InfoClass.CLIENT_ADDRESS)
    assert listed[3] == Session("RDS01", 3, "RDP-Tcp#0", A, "bob", "CONTOSO")
    assert listed[2] == Session("RDS01", 2, "", D, "alice", "CONTOSO")
    assert bob.connect_time == NOW
    assert bob.last_input_time == NOW
    assert bob.idle == timedelta(0)
    assert bob_client == "ALICE-PC"
    assert bob_address.family == 2 and bob_address.address == ipaddress.IPv4Address("10.0.0.5")
    assert alice.disconnect_time == NOW
    assert alice.user == "alice"
    # The other sessions are untouched.
    others = [r for r in RDS01 if r[0] not in (2, 3)]
    assert rows([listed[r[0]] for r in others]) == others


def test_connect_to_explicit_target(sim: object) -> None:
    wts.connect(3, target=5, password="bobpw", provider="sim")
    with server() as s:
        listed = by_id(s.sessions())
    assert listed[3] == Session("RDS01", 3, "RDP-Tcp#2", A, "bob", "CONTOSO")
    assert listed[5] == Session("RDS01", 5, "", D, "dave", "CONTOSO")
    assert listed[2].state is A  # the caller's session is not involved


def test_connect_own_session_needs_no_password(sim: object) -> None:
    wts.sim.load(
        {
            "now": "2026-11-21T12:00:00Z",
            "local": "RDS01",
            "current_session": 2,
            "servers": [
                {
                    "name": "RDS01",
                    "sessions": [
                        {"id": 2, "station": "RDP-Tcp#0", "state": "Active", "user": "alice", "domain": "CONTOSO"},
                        {"id": 3, "station": "", "state": "Disconnected", "user": "Alice", "domain": "contoso"},
                    ],
                }
            ],
        }
    )
    wts.connect(3, provider="sim")
    with server() as s:
        assert rows(s.sessions()) == [(2, "", D, "alice", "CONTOSO"), (3, "RDP-Tcp#0", A, "Alice", "contoso")]


@pytest.mark.parametrize("password", ["", "wrong", "BOBPW", "bobpw "])
def test_connect_wrong_password(sim: object, password: str) -> None:
    with pytest.raises(AccessDeniedError) as info:
        wts.connect(3, password=password, provider="sim")
    check(info.value, AccessDeniedError, 1326, "WTSConnectSessionW", None, 3)
    assert info.value.code_name == "ERROR_LOGON_FAILURE"
    with server() as s:
        assert rows(s.sessions()) == RDS01


def test_connect_missing_password(sim: object) -> None:
    with pytest.raises(AccessDeniedError) as info:
        wts.connect(3, provider="sim")
    assert info.value.winerror == 1326


def test_connect_session_without_password_is_refused(sim: object) -> None:
    # dave has no password in the farm: nobody else can take his session over.
    with pytest.raises(AccessDeniedError) as info:
        wts.connect(5, password="", provider="sim")
    assert info.value.winerror == 1326


@pytest.mark.parametrize("sid, target", [(1, None), (3, 1)], ids=["from-console", "to-console"])
def test_connect_console_not_supported(sim: object, sid: int, target: int | None) -> None:
    with pytest.raises(NotSupportedError) as info:
        wts.connect(sid, target=target, password="bobpw", provider="sim")
    check(info.value, NotSupportedError, 7042, "WTSConnectSessionW", None, sid)
    with server() as s:
        assert rows(s.sessions()) == RDS01


def test_connect_unknown_session(sim: object) -> None:
    with pytest.raises(NoSuchSessionError) as info:
        wts.connect(77, password="x", provider="sim")
    check(info.value, NoSuchSessionError, 7022, "WTSConnectSessionW", None, 77)
    with pytest.raises(NoSuchSessionError):
        wts.connect(3, target=77, password="bobpw", provider="sim")


def test_connect_system_sessions_refused(sim: object) -> None:
    with pytest.raises(AccessDeniedError) as info:
        wts.connect(0, provider="sim")
    assert info.value.winerror == 7045
    with pytest.raises(AccessDeniedError) as info:
        wts.connect(3, target=LISTENER, password="bobpw", provider="sim")
    assert info.value.winerror == 7045


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        ({"session_id": CURRENT_SESSION}, ValueError),
        ({"session_id": -3}, ValueError),
        ({"session_id": True}, TypeError),
        ({"session_id": "3"}, TypeError),
        ({"session_id": 3, "target": -1}, ValueError),
        ({"session_id": 3, "password": None}, TypeError),
    ],
)
def test_connect_checks_arguments_before_rpc(sim: object, kwargs: dict, exc: type) -> None:
    wts.sim.reset_counters()
    sid = kwargs.pop("session_id")
    with pytest.raises(exc):
        wts.connect(sid, provider="sim", **kwargs)
    assert wts.sim.rpc_total() == 0


# ------------------------------------------------------------------------------------------------
# Closing
# ------------------------------------------------------------------------------------------------


def test_closed_server_refuses_calls(farm: object) -> None:
    s = server()
    s.close()
    assert s.closed
    wts.sim.reset_counters()
    for call in (
        s.sessions,
        lambda: s.session_info(2),
        lambda: s.query(2, InfoClass.USER_NAME),
        lambda: s.disconnect(2),
        lambda: s.logoff(2),
        lambda: s.send_message(2, "t", "m"),
        lambda: s.session_by_name("Console"),
    ):
        with pytest.raises(ValueError, match="closed"):
            call()
    assert wts.sim.rpc_total() == 0
    s.close()  # idempotent
    s.close()
    assert s.closed
    assert "closed" in repr(s)


def test_close_releases_the_handle(farm: object) -> None:
    base = wts.sim.outstanding()
    s = server("RDS02")
    assert wts.sim.outstanding() == base + 1
    s.close()
    assert wts.sim.outstanding() == base
    s.close()
    assert wts.sim.outstanding() == base


def test_context_manager_closes(farm: object) -> None:
    with server() as s:
        assert not s.closed
        assert s.name == "RDS01"
        assert s.provider.name == "sim"
        assert "open" in repr(s)
    assert s.closed


def test_context_manager_closes_on_error(farm: object) -> None:
    with pytest.raises(NoSuchSessionError), server() as s:
        s.session_info(77)
    assert s.closed


def test_forgotten_server_is_released_by_gc(farm: object) -> None:
    import gc

    base = wts.sim.outstanding()
    s = server()
    s.sessions()
    del s
    gc.collect()
    assert wts.sim.outstanding() == base


def test_local_server_close(farm: object) -> None:
    s = server(None)
    assert s.name is None
    s.close()
    with pytest.raises(ValueError):
        s.sessions()


# ------------------------------------------------------------------------------------------------
# Threads and latency
# ------------------------------------------------------------------------------------------------


def test_concurrent_calls_are_consistent(farm: object) -> None:
    with server("RDS02") as s:
        expected_sessions = s.sessions()
        expected_info = s.session_info(3)
    wts.sim.reset_counters()
    barrier = threading.Barrier(16)
    results: list[tuple[list[Session], SessionInfo]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            with server("RDS02") as s:
                barrier.wait()
                got = (s.sessions(), s.session_info(3))
            with lock:
                results.append(got)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert len(results) == 16
    for sessions, info in results:
        assert sessions == expected_sessions
        assert info == expected_info
    assert rpcs("RDS02") == 32
    assert wts.sim.rpc_total() == 32
    assert rpcs("RDS01") == 0


def test_latency_and_parallel_round_trips() -> None:
    wts.sim.generate(servers=4, sessions=2, latency_ms=20, seed=1, now="2026-11-21T12:00:00Z")
    names = ["RDS01", "RDS02", "RDS03", "RDS04"]
    with server("RDS01") as s:
        start = time.perf_counter()
        s.sessions()
        assert time.perf_counter() - start >= 0.020

    handles = [server(n) for n in names]
    try:
        barrier = threading.Barrier(len(names) + 1)
        out: dict[str, int] = {}

        def work(h: wts.Server) -> None:
            barrier.wait()
            out[h.name] = len(h.sessions())  # type: ignore[index]

        threads = [threading.Thread(target=work, args=(h,)) for h in handles]
        for t in threads:
            t.start()
        barrier.wait()
        start = time.perf_counter()
        for t in threads:
            t.join(5)
        elapsed = time.perf_counter() - start
    finally:
        for h in handles:
            h.close()
    assert out == {n: 5 for n in names}  # 2 user sessions + services, console, listener
    # Serialised, 4 round trips would take >= 80 ms; overlapped they take about 20.
    assert elapsed < 0.060, f"4 parallel 20 ms round trips took {elapsed * 1000:.1f} ms"


def test_same_server_calls_overlap_too() -> None:
    wts.sim.generate(servers=1, sessions=1, latency_ms=20, seed=1, now="2026-11-21T12:00:00Z")
    with server("RDS01") as s:
        barrier = threading.Barrier(5)

        def work() -> None:
            barrier.wait()
            s.session_info(2)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        barrier.wait()
        start = time.perf_counter()
        for t in threads:
            t.join(5)
        elapsed = time.perf_counter() - start
    assert elapsed < 0.060, f"4 parallel 20 ms round trips on one server took {elapsed * 1000:.1f} ms"


# ------------------------------------------------------------------------------------------------
# Generated farms, dumps, reloads
# ------------------------------------------------------------------------------------------------


def snapshot(names: list[str] | tuple[str, ...]) -> dict[str, tuple[list[Session], list[SessionInfo]]]:
    out = {}
    for name in names:
        with server(name) as s:
            sessions = s.sessions()
            # carol's session (RDS01 4) refuses queries: compare it through the listing alone.
            infos = [s.session_info(x.id) for x in sessions if x.user != "carol"]
            out[name] = (sessions, infos)
    return out


def test_generate_is_deterministic() -> None:
    a_farm = wts.sim.generate(servers=3, sessions=5, seed=11, now="2026-11-21T12:00:00Z")
    a = snapshot(a_farm.servers)
    b_farm = wts.sim.generate(servers=3, sessions=5, seed=11, now="2026-11-21T12:00:00Z")
    b = snapshot(b_farm.servers)
    assert a_farm == b_farm
    assert a == b
    c_farm = wts.sim.generate(servers=3, sessions=5, seed=12, now="2026-11-21T12:00:00Z")
    c = snapshot(c_farm.servers)
    assert c_farm.servers == a_farm.servers
    assert c != a
    assert len(a["RDS01"][0]) == 5 + 3


def test_dump_shows_new_state_and_reloads_identically(sim: object) -> None:
    with server() as s:
        s.disconnect(5)
        s.send_message(2, "hi", "there", wait=True)
    state = wts.sim.dump()
    rds01 = next(x for x in state["servers"] if x["name"] == "RDS01")
    dave = next(x for x in rds01["sessions"] if x["id"] == 5)
    assert dave["state"] == "Disconnected"
    assert dave["station"] == ""
    assert dave["disconnect"] == "2026-11-21T12:00:00Z"
    assert dave["user"] == "dave"
    assert dave["reply"] == "no"
    assert state["now"] == "2026-11-21T12:00:00Z"
    assert state["current_session"] == 2
    assert len(state["messages"]) == 1
    json.dumps(state)  # a plain JSON-able dict

    names = ["RDS01", "RDS02"]
    before = snapshot(names)
    wts.sim.load(wts.sim.dump())
    assert snapshot(names) == before
    assert wts.sim.dump()["servers"] == state["servers"]
    # Behaviour survives too: passwords, denials, replies, faults.
    wts.connect(3, password="bobpw", provider="sim")
    with server() as s:
        with pytest.raises(AccessDeniedError):
            s.session_info(DENIED)
    with server("DOWN01") as s, pytest.raises(ServerUnavailableError):
        s.sessions()


def test_save_and_load_file(sim: object, tmp_path) -> None:
    with server() as s:
        s.logoff(5)
        s.disconnect(2)
    names = ["RDS01", "RDS02"]
    before = snapshot(names)
    path = tmp_path / "state.json"
    wts.sim.save(path)
    assert not (tmp_path / "state.json.tmp").exists()
    json.loads(path.read_text(encoding="utf-8"))
    wts.sim.load(path)
    assert snapshot(names) == before
    with server() as s:
        assert 5 not in by_id(s.sessions())


def test_malformed_farm_keeps_previous_farm(farm: object, tmp_path) -> None:
    with server() as s:
        s.disconnect(2)
    before = snapshot(["RDS01", "RDS02"])
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "seed": 1,\n  "servers": [,]\n}\n', encoding="utf-8")
    with pytest.raises(wts.sim.FarmFileError) as info:
        wts.sim.load(bad)
    err = info.value
    assert isinstance(err, ValueError)
    assert str(bad) in str(err)
    assert f"{bad}:3:15" in str(err)
    assert (err.line, err.column) == (3, 15)
    assert snapshot(["RDS01", "RDS02"]) == before


def test_invalid_farm_keeps_previous_farm(farm: object) -> None:
    with pytest.raises(wts.sim.FarmFileError, match=r"servers\[0\]\.sessions\[0\]\.state"):
        wts.sim.load({"servers": [{"name": "X", "sessions": [{"id": 1, "state": "Sleeping"}]}]})
    with server() as s:
        assert rows(s.sessions()) == RDS01


def test_loaded(farm: object) -> None:
    assert wts.sim.loaded() is True


# ------------------------------------------------------------------------------------------------
# Pickling records
# ------------------------------------------------------------------------------------------------


def test_records_pickle(farm: object) -> None:
    with server() as s:
        sessions = s.sessions()
        infos = [s.session_info(x.id) for x in sessions if x.id != DENIED]
        address = s.query(3, InfoClass.CLIENT_ADDRESS)
    for record in [*sessions, *infos, address]:
        for proto in range(pickle.HIGHEST_PROTOCOL + 1):
            copy = pickle.loads(pickle.dumps(record, proto))
            assert copy == record
            assert type(copy) is type(record)
    copy = pickle.loads(pickle.dumps(infos[2]))
    assert copy.state is ConnectState.ACTIVE
    assert copy.current_time == NOW and copy.current_time.tzinfo is not None
    assert copy.idle == timedelta(minutes=5)


def test_provider_pickles_to_itself(farm: object) -> None:
    with server() as s:
        p = s.provider
    assert pickle.loads(pickle.dumps(p)) is p


# ------------------------------------------------------------------------------------------------
# More faults, reloads and edge cases
# ------------------------------------------------------------------------------------------------


def test_busy_server(farm: object) -> None:
    wts.sim.load({"servers": [{"name": "BUSY01", "fault": "busy", "sessions": [{"id": 2, "state": "Active"}]}]})
    with server("BUSY01") as s, pytest.raises(ServerUnavailableError) as info:
        s.session_info(2)
    check(info.value, ServerUnavailableError, 1723, "WTSQuerySessionInformationW", "BUSY01", 2)


def test_reloading_the_farm_fails_hung_calls(farm: object) -> None:
    with server("HANG01") as s, hung_call(lambda: s.session_info(2)) as call:
        wts.sim.load(REFERENCE_FARM)  # replaces the farm: calls blocked on the old one give up
        call.thread.join(2)
        assert not call.thread.is_alive(), "the reload did not wake the hung call"
    assert call.error is not None
    check(call.error, ServerUnavailableError, 1726, "WTSQuerySessionInformationW", "HANG01", 2)


def test_server_without_sessions(farm: object) -> None:
    wts.sim.load({"servers": [{"name": "EMPTY01"}]})
    with server("EMPTY01") as s:
        assert s.sessions() == []
        with pytest.raises(NoSuchSessionError):
            s.session_by_name("Console")


def test_open_handles_follow_a_reloaded_farm(farm: object) -> None:
    with server("RDS02") as s:
        assert rows(s.sessions()) == RDS02
        wts.sim.generate(servers=2, sessions=3, seed=5, now="2026-11-21T12:00:00Z")
        after = s.sessions()
        assert [x.id for x in after] == [0, 1, 2, 3, 4, 65536]
        assert all(x.server == "RDS02" for x in after)
    with server("DOWN01") as s, pytest.raises(ServerUnavailableError):
        s.sessions()  # no longer in the farm: does not answer


def test_server_name_is_stripped(farm: object) -> None:
    with server("  RDS02 ") as s:
        assert s.name == "RDS02"
        assert {x.server for x in s.sessions()} == {"RDS02"}


def test_rpcs_are_counted_per_server(farm: object) -> None:
    wts.sim.reset_counters()
    with server(None) as s:
        s.sessions()
    with server("rds02") as s:
        s.sessions()
        s.session_info(2)
    counts = wts.sim.rpc_counts()
    assert counts == {"RDS01": 1, "RDS02": 2, "DOWN01": 0, "HANG01": 0, "*": 0}
    assert wts.sim.rpc_total() == 3


def test_connect_session_to_itself_fails(sim: object) -> None:
    with pytest.raises(WTSError) as info:
        wts.connect(3, target=3, password="bobpw", provider="sim")
    assert info.value.winerror == 87
    assert info.value.function == "WTSConnectSessionW"
    with server() as s:
        assert rows(s.sessions()) == RDS01


def test_connect_with_explicit_current_target(sim: object) -> None:
    wts.connect(3, target=CURRENT_SESSION, password="bobpw", provider="sim")
    with server() as s:
        assert s.session_by_name("RDP-Tcp#0").id == 3


def test_dump_reloads_after_logging_off_the_callers_session(sim: object) -> None:
    # dump() promises a farm that load() accepts "after disconnects, logoffs, ...".
    with server(None) as s:
        s.logoff(CURRENT_SESSION)
    names = ["RDS01", "RDS02"]
    before = snapshot(names)
    wts.sim.load(wts.sim.dump())
    assert snapshot(names) == before


def test_message_with_unpaired_surrogate_is_recorded(sim: object) -> None:
    # WTSSendMessageW takes any UTF-16 (wts passes lone surrogates through); the sim accepts the
    # message, so its message log and dump must still be readable afterwards.
    title = "broken \ud800 pair"
    with server() as s:
        assert s.send_message(2, title, "text", wait=True) is MessageResponse.OK
    recorded = wts.sim.messages()
    assert [(m["session"], m["title"], m["text"]) for m in recorded] == [(2, title, "text")]


def test_generated_farm_dump_round_trip() -> None:
    farm = wts.sim.generate(servers=2, sessions=6, seed=3, now="2026-11-21T12:00:00Z")
    with server("RDS01") as s:
        user = next(x for x in s.sessions() if x.state is A and x.user)
        s.disconnect(user.id)
    before = snapshot(farm.servers)
    wts.sim.load(wts.sim.dump())
    assert snapshot(farm.servers) == before


def test_connect_to_a_disconnected_target_is_refused(sim: object) -> None:
    # A disconnected target has no connection for the session to take over (docs/sim.md).
    with wts.Server(provider="sim") as local:
        local.disconnect(5)
        with pytest.raises(wts.WTSError) as info:
            wts.connect(2, target=5, provider="sim")
        assert info.value.winerror == 87
        states = {s.id: s.state for s in local.sessions()}
    assert states[2] is wts.ConnectState.ACTIVE and states[5] is wts.ConnectState.DISCONNECTED


def test_close_while_a_call_is_in_flight_waits_for_it() -> None:
    # close() from another thread must not free the handle under a call running without the GIL:
    # the call completes, and the last one out closes the handle.
    import threading
    import time

    wts.sim.generate(servers=1, sessions=3, latency_ms=100, seed=1)
    wts.sim.reset_counters()
    server = wts.Server("RDS01", provider="sim")
    results: list[object] = []
    worker = threading.Thread(target=lambda: results.append(server.sessions()))
    worker.start()
    deadline = time.monotonic() + 5
    while wts.sim.rpc_total() == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    server.close()
    assert server.closed
    assert wts.sim.outstanding() == 1  # the handle lives until the call returns
    worker.join()
    assert len(results[0]) == 6  # type: ignore[arg-type]
    assert wts.sim.outstanding() == 0
    with pytest.raises(ValueError, match="closed"):
        server.sessions()
