"""One behaviour suite, three providers: what ``wts.Server`` and ``wts.Farm`` promise, checked in one
body against

* ``sim``: the simulated farm in this process;
* ``win32``: the real Windows code path (wts_win32.c, the wtsapi32 imports) into our simulator built
  as ``wtsapi32.dll``: only under Wine with that DLL (.ci/wine's run c), skipped elsewhere;
* ``tsts``: MS-TSTS over SMB on loopback, against ``wts sim serve`` of the same farm file in a
  process of its own (tests/conftest.py), with credentials from the farm's accounts.

All three see the same farm: tests/farms/windows.json (the reference farm) with an account to log
on with and a few processes.  Issue 13: "a caller cannot tell the providers apart except by what they
can reach".  So the body compares what each backend returns with what the farm file says and with the
sim's own answer (records from the farm's data must be equal, server names aside); where a provider
cannot do a thing yet, only that backend's case is a strict xfail, so that the day it can, the xfail
fails and the mark must go.

Tests that change the farm (disconnect, logoff, terminate) take ``acting``: a freshly loaded farm (and,
over tsts, a fresh ``wts sim serve``); the others take ``backend``, which over tsts shares one served
farm for the run.  Effects are checked the way a caller sees them: through a fresh listing, over the
same provider.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from conftest import REFERENCE_FARM, _win32_skip_reason  # tests/ is on sys.path

import wts
from wts import _wts
from wts._winerror import WinError

#: No engine thread outlives a test, no run leaves its SIGINT handler behind (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("engine_idle")

#: Every call of these tests is bounded: a Server's calls, a Farm's run, the connect over tsts.
WAIT = 20.0
PASSWORD = "Behave-Pa55"


def behaviour_farm() -> dict[str, Any]:
    """The reference farm, with an account (tsts logs on with it) and processes in three sessions."""
    farm: dict[str, Any] = json.loads(REFERENCE_FARM.read_text(encoding="utf-8"))
    farm = copy.deepcopy(farm)
    farm["accounts"] = [{"domain": "CONTOSO", "user": "admin", "password": PASSWORD}]
    rds01 = {s["id"]: s for s in farm["servers"][0]["sessions"]}
    rds01[0]["processes"] = [{"name": "System", "pid": 4}, {"name": "svchost.exe", "pid": 812}]
    rds01[2]["processes"] = [{"name": "explorer.exe", "pid": 5000}, {"name": "notepad.exe", "pid": 5004}]
    rds01[5]["processes"] = [{"name": "EXCEL.EXE", "pid": 4242}]
    return farm


FARM = behaviour_farm()
#: What the farm file says of RDS01's sessions: id -> (station, state, user, domain).
FARM_RDS01 = {
    s["id"]: (s.get("station", ""), s["state"], s.get("user", ""), s.get("domain", ""))
    for s in FARM["servers"][0]["sessions"]
}


class Backend:
    """A way to reach the behaviour farm: ``server(NAME)`` and ``farm(NAMES)`` take the farm's server
    names (RDS01, ...); ``label(NAME)`` is how records name that server; ``nowhere`` names a server
    that does not exist; ``log()`` is the farm's message log, or None where this process cannot see
    the farm (over tsts it lives in the server's process); ``unnamed_sids``, why this backend cannot name
    the farm's SIDs, if it cannot."""

    def __init__(
        self,
        name: str,
        addresses: dict[str, str],
        nowhere: str,
        credentials: wts.Credentials | None = None,
        log: Callable[[], list[dict[str, Any]]] | None = None,
        unnamed_sids: str | None = None,
    ) -> None:
        self.name = name
        self.unnamed_sids = unnamed_sids
        self.addresses = addresses
        self.nowhere = nowhere
        self.credentials = credentials
        self.log = log

    def label(self, name: str) -> str:
        return self.addresses.get(name, name)

    def server(self, name: str, **kwargs: Any) -> wts.Server:
        kwargs.setdefault("timeout", WAIT)
        return wts.Server(self.label(name), provider=self.name, credentials=self.credentials, **kwargs)

    def farm(self, names: list[str], **kwargs: Any) -> wts.Farm:
        kwargs.setdefault("timeout", WAIT)
        servers = [self.label(n) for n in names]
        return wts.Farm(servers, provider=self.name, credentials=self.credentials, **kwargs)

    def __repr__(self) -> str:
        return f"<Backend {self.name}>"


def _backend(request: pytest.FixtureRequest, fresh: bool) -> Backend:
    name = request.param
    wts.sim.load(FARM)  # sim and win32 reach it directly; tsts compares with it
    if name == "sim":
        return Backend("sim", {}, "NOSUCH01", log=wts.sim.messages)
    if name == "win32":
        reason = _win32_skip_reason()
        if reason is None and _wts.sim_backend() != "wtsapi32.dll":
            reason = "the win32 provider reaches the behaviour farm only where wtsapi32.dll is our simulator"
        if reason is not None:
            pytest.skip(reason)
        # wts_win32.c names SIDs with the system's advapi32 LookupAccountSidW (Wine's), which knows none
        # of the sim's: the DLL stands in for wtsapi32 only (docs/sim.md).  A real server's LSA names them.
        unnamed = "advapi32's LookupAccountSidW (Wine's) knows no SID of the simulated farm (docs/sim.md)"
        return Backend("win32", {}, "NOSUCH01", log=wts.sim.messages, unnamed_sids=unnamed)
    pytest.importorskip("smbprotocol", reason="tsts needs the remote extra (smbprotocol)")
    pytest.importorskip("spnego", reason="tsts needs the remote extra (pyspnego)")
    if os.name == "nt":
        pytest.skip("wts sim serve is tested on POSIX (signals stop it)")
    monkeypatch = request.getfixturevalue("monkeypatch")
    served = request.getfixturevalue("sim_serve" if fresh else "shared_serve")(FARM)
    monkeypatch.setenv("WTS_TSTS_PORT", str(served.port))
    # Served farms take consecutive addresses from .2: the one after the last is in nobody's farm.
    last = max(served.servers.values(), key=lambda a: int(a.rsplit(".", 1)[1]))
    nowhere = f"{last.rsplit('.', 1)[0]}.{int(last.rsplit('.', 1)[1]) + 1}"
    return Backend("tsts", dict(served.servers), nowhere, credentials=served.credentials)


BACKENDS = ["sim", "win32", "tsts"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """For tests that only read: over tsts, one served farm for the whole run."""
    return _backend(request, fresh=False)


@pytest.fixture(params=BACKENDS)
def acting(request: pytest.FixtureRequest) -> Backend:
    """For tests that change the farm: a fresh farm (over tsts, a fresh ``wts sim serve``)."""
    return _backend(request, fresh=True)


@pytest.fixture
def sim_rds01(backend: Backend) -> Iterator[wts.Server]:
    """The sim's own answers on the farm ``backend`` loaded: what every backend must equal."""
    with wts.Server("RDS01", provider="sim", timeout=WAIT) as server:
        yield server


def _no_server(record: Any) -> Any:
    return record._replace(server=None)


def _farm_data(info: wts.SessionInfo) -> wts.SessionInfo:
    """The part of a SessionInfo that is the farm's: the current time is the answering clock's (the
    sim's frozen "now"; over MS-TSTS, which carries none, the client's), and idle follows from it."""
    return info._replace(server=None, current_time=None, idle=None)


# -- listing -----------------------------------------------------------------------------------------


def test_listing_gives_user_domain_state_and_station(backend: Backend, sim_rds01: wts.Server) -> None:
    with backend.server("RDS01") as server:
        sessions = server.sessions()
    assert {s.server for s in sessions} == {backend.label("RDS01")}
    assert {s.id: (s.station, s.state.name.title(), s.user, s.domain) for s in sessions} == FARM_RDS01
    assert [_no_server(s) for s in sessions] == [_no_server(s) for s in sim_rds01.sessions()]
    assert all(isinstance(s.state, wts.ConnectState) for s in sessions)


def test_a_second_server_lists_its_own_sessions(backend: Backend) -> None:
    with backend.server("RDS02") as server, wts.Server("RDS02", provider="sim") as sim:
        assert [_no_server(s) for s in server.sessions()] == [_no_server(s) for s in sim.sessions()]
        assert [s.user for s in server.sessions()] == ["", "", "erin", "frank", ""]


def test_session_by_name(backend: Backend) -> None:
    with backend.server("RDS01") as server:
        assert server.session_by_name("rdp-tcp#2").user == "dave"
        with pytest.raises(wts.NoSuchSessionError) as caught:
            server.session_by_name("RDP-Tcp#99")
    assert caught.value.winerror == WinError.ERROR_CTX_WINSTATION_NOT_FOUND


# -- details -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("session_id", [1, 2, 3, 5, 6])
def test_session_info_times_and_lock_state(backend: Backend, sim_rds01: wts.Server, session_id: int) -> None:
    with backend.server("RDS01") as server:
        info = server.session_info(session_id)
    assert info.server == backend.label("RDS01")
    assert _farm_data(info) == _farm_data(sim_rds01.session_info(session_id))
    # idle, as quser has it: since the disconnect for a disconnected session, else since the last input.
    since = info.disconnect_time if info.state is wts.ConnectState.DISCONNECTED else info.last_input_time
    assert info.idle == (None if since is None else max(info.current_time - since, timedelta(0)))


def test_session_info_of_the_farm_file(backend: Backend) -> None:
    with backend.server("RDS01") as server:
        bob = server.session_info(3)
        alice = server.query(2, wts.InfoClass.SESSION_INFO_EX)
    assert (bob.user, bob.domain, bob.state, bob.locked) == ("bob", "CONTOSO", wts.ConnectState.DISCONNECTED, False)
    assert bob.disconnect_time is not None and bob.disconnect_time.isoformat() == "2026-11-21T03:00:00+00:00"
    assert bob.logon_time is not None and bob.logon_time.isoformat() == "2026-11-20T18:00:00+00:00"
    assert alice.last_input_time is not None and alice.last_input_time.isoformat() == "2026-11-21T11:55:00+00:00"


def test_a_locked_session_the_caller_may_not_query(backend: Backend) -> None:
    """carol's session (4) is locked and denies "query": 5, AccessDeniedError, from every provider."""
    with backend.server("RDS01") as server:
        with pytest.raises(wts.AccessDeniedError) as caught:
            server.session_info(4)
    assert caught.value.winerror == WinError.ERROR_ACCESS_DENIED


# -- the client ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("session_id", [2, 3, 5])
def test_client_name_and_address(backend: Backend, sim_rds01: wts.Server, session_id: int) -> None:
    with backend.server("RDS01") as server:
        name = server.query(session_id, wts.InfoClass.CLIENT_NAME)
        address = server.query(session_id, wts.InfoClass.CLIENT_ADDRESS)
    farm_session = next(s for s in FARM["servers"][0]["sessions"] if s["id"] == session_id)
    assert name == farm_session["client"]
    assert str(address.address) == farm_session["address"]
    assert (name, address) == (
        sim_rds01.query(session_id, wts.InfoClass.CLIENT_NAME),
        sim_rds01.query(session_id, wts.InfoClass.CLIENT_ADDRESS),
    )


@pytest.mark.parametrize("session_id", [1, 6])
def test_a_session_without_a_client_has_an_empty_address(
    backend: Backend, sim_rds01: wts.Server, session_id: int
) -> None:
    """The console and a session still at the logon screen: wtsapi32 answers an empty address (family
    0), not an error (over tsts too: the address comes from RpcGetClientData, as the client reported it)."""
    with backend.server("RDS01") as server:
        assert server.query(session_id, wts.InfoClass.CLIENT_NAME) == ""
        address = server.query(session_id, wts.InfoClass.CLIENT_ADDRESS)
    assert address.address is None and address.family == 0
    assert address == sim_rds01.query(session_id, wts.InfoClass.CLIENT_ADDRESS)


@pytest.mark.parametrize("session_id", [1, 2, 3])
def test_client_info(backend: Backend, sim_rds01: wts.Server, session_id: int) -> None:
    with backend.server("RDS01") as server:
        info = server.client_info(session_id, protocol=True)
    assert _no_server(info) == _no_server(sim_rds01.client_info(session_id, protocol=True))
    assert info.server == backend.label("RDS01") and info.session_id == session_id
    if session_id == 2:
        assert (info.name, str(info.address)) == ("ALICE-PC", "10.0.0.5")


# -- acting ---------------------------------------------------------------------------------------------


def _states(backend: Backend, name: str = "RDS01") -> dict[int, wts.ConnectState]:
    """A fresh listing, over a new Server: what a caller sees after the fact."""
    with backend.server(name) as server:
        return {s.id: s.state for s in server.sessions()}


def test_disconnect_and_logoff_seen_by_a_fresh_listing(acting: Backend) -> None:
    with acting.server("RDS01") as server:
        server.disconnect(5)
        server.logoff(3)
    states = _states(acting)
    assert states[5] is wts.ConnectState.DISCONNECTED
    assert 3 not in states
    assert {i: s for i, s in states.items() if i not in (3, 5)} == {
        i: wts.ConnectState[state.upper()] for i, (_, state, _, _) in FARM_RDS01.items() if i not in (3, 5)
    }


def test_a_denied_action_changes_nothing(acting: Backend) -> None:
    with acting.server("RDS01") as server:
        for act in (server.disconnect, server.logoff):
            with pytest.raises(wts.AccessDeniedError) as caught:
                act(4)  # carol's session denies both
            assert caught.value.winerror == WinError.ERROR_ACCESS_DENIED
    assert _states(acting)[4] is wts.ConnectState.ACTIVE


@pytest.mark.parametrize(
    ("session_id", "style", "timeout", "wait", "response"),
    [
        (2, 0, 0, False, wts.MessageResponse.ASYNC),  # not waited for: IDASYNC at once
        (2, 0x4, 30, True, wts.MessageResponse.OK),  # alice answers "ok" (the default)
        (5, 0x4, 15, True, wts.MessageResponse.NO),  # MB_YESNO; dave's reply is "no"
    ],
)
def test_message_style_timeout_and_response(
    backend: Backend, session_id: int, style: int, timeout: int, wait: bool, response: wts.MessageResponse
) -> None:
    with backend.server("RDS01") as server:
        answer = server.send_message(session_id, "Patch", "Reboot at 22:00", style=style, timeout=timeout, wait=wait)
    assert answer is response
    if backend.log is not None:  # the farm is in this process: the message as it arrived
        (sent,) = backend.log()
        assert (sent["session"], sent["title"], sent["text"], sent["style"], sent["timeout"], sent["wait"]) == (
            session_id,
            "Patch",
            "Reboot at 22:00",
            style,
            timeout,
            wait,
        )
    assert _states(backend)[session_id] is wts.ConnectState[FARM_RDS01[session_id][1].upper()]


def _unnamed(p: wts.Process) -> wts.Process:
    """A process without the names of its user: who it runs as is still its SID."""
    return p._replace(server=None, user="", domain="")


def test_processes(backend: Backend) -> None:
    with backend.server("RDS01") as server:
        processes = server.processes()
    with wts.Server("RDS01", provider="sim") as sim:
        assert [_unnamed(p) for p in processes] == [_unnamed(p) for p in sim.processes()]
    mine = {(p.pid, p.name, p.session_id) for p in processes if p.session_id in (2, 5)}
    assert mine == {(5000, "explorer.exe", 2), (5004, "notepad.exe", 2), (4242, "EXCEL.EXE", 5)}
    assert {p.server for p in processes} == {backend.label("RDS01")}
    assert len({p.sid for p in processes if p.session_id == 2}) == 1


def test_processes_name_their_users(backend: Backend, request: pytest.FixtureRequest) -> None:
    """Each SID named once per listing (LookupAccountSidW, over tsts LsarLookupSids), as the farm's."""
    if backend.unnamed_sids is not None:
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=backend.unnamed_sids))
    with backend.server("RDS01") as server:
        processes = server.processes()
    with backend.farm(["RDS01"]) as farm:
        excel = farm.processes(name="excel").processes
    with wts.Server("RDS01", provider="sim") as sim:
        assert [_no_server(p) for p in processes] == [_no_server(p) for p in sim.processes()]
    users = {(p.pid, p.domain, p.user) for p in processes if p.session_id in (2, 5)}
    assert users == {(5000, "CONTOSO", "alice"), (5004, "CONTOSO", "alice"), (4242, "CONTOSO", "dave")}
    assert [(p.pid, p.user) for p in excel] == [(4242, "dave")]


def test_terminate_seen_by_a_fresh_listing(acting: Backend) -> None:
    with acting.server("RDS01") as server:
        server.terminate_process(5004)
        with pytest.raises(wts.WTSError) as caught:
            server.terminate_process(999_999)
        after = {p.pid for p in server.processes()}
    assert caught.value.winerror == WinError.ERROR_INVALID_PARAMETER
    assert 5004 not in after and {4, 812, 5000, 4242} <= after


# -- errors ----------------------------------------------------------------------------------------------


def test_an_unknown_session_is_7022(backend: Backend) -> None:
    with backend.server("RDS01") as server:
        calls: list[Callable[[], object]] = [
            lambda: server.session_info(99),
            lambda: server.query(99, wts.InfoClass.USER_NAME),
            lambda: server.disconnect(99),
            lambda: server.logoff(99),
            lambda: server.send_message(99, "t", "x"),
        ]
        for call in calls:
            with pytest.raises(wts.NoSuchSessionError) as caught:
                call()
            assert caught.value.winerror == WinError.ERROR_CTX_WINSTATION_NOT_FOUND
            assert isinstance(caught.value, wts.WTSError)


@pytest.mark.parametrize("where", ["nowhere", "DOWN01"])
def test_a_server_that_does_not_answer_is_1722(backend: Backend, where: str) -> None:
    """A name no server answers to, and the farm's unreachable server: 1722, ServerUnavailableError."""
    with backend.server(backend.nowhere if where == "nowhere" else where) as server:
        with pytest.raises(wts.ServerUnavailableError) as caught:
            server.sessions()
    assert caught.value.winerror == WinError.RPC_S_SERVER_UNAVAILABLE


# -- Farm --------------------------------------------------------------------------------------------------


def test_farm_sessions_one_outcome_per_server(backend: Backend) -> None:
    names = ["RDS01", "RDS02", "DOWN01"]
    with backend.farm(names) as farm:
        result = farm.sessions()
    listed = {s.server for s in result.sessions}
    failed = [f.server for f in result.failures]
    assert listed == {backend.label("RDS01"), backend.label("RDS02")}
    assert failed == [backend.label("DOWN01")]
    assert isinstance(result.failures[0].error, wts.ServerUnavailableError)
    assert result.failures[0].error.winerror == WinError.RPC_S_SERVER_UNAVAILABLE
    with wts.Farm(["RDS01", "RDS02"], provider="sim") as sim:
        expected = sim.sessions().sessions
    key = lambda s: (s.server, s.id)  # noqa: E731 - the order servers answer in is not promised
    ours = sorted(result.sessions, key=key)
    names_of = {backend.label(n): n for n in names}
    assert [s._replace(server=names_of[s.server]) for s in ours] == sorted(expected, key=key)


def test_farm_sessions_with_details(backend: Backend) -> None:
    with backend.farm(["RDS02"]) as farm:
        result = farm.sessions(details=True, user=["erin", "frank"])
    assert not result.failures
    rows = sorted(result.sessions, key=lambda r: r.id)  # in the order the answers came: not promised
    assert [(r.server, r.id, r.user) for r in rows] == [
        (backend.label("RDS02"), 2, "erin"),
        (backend.label("RDS02"), 3, "frank"),
    ]
    frank = rows[1]
    assert isinstance(frank, wts.SessionInfo)
    assert frank.disconnect_time is not None and frank.disconnect_time.isoformat() == "2026-11-21T11:00:00+00:00"


def test_farm_disconnect_dry_run_changes_nothing(backend: Backend) -> None:
    before = {n: _states(backend, n) for n in ("RDS01", "RDS02")}
    with backend.farm(["RDS01", "RDS02"]) as farm:
        result = farm.disconnect(dry_run=True, user=["dave", "erin"])
    assert sorted((o.server, o.session_id, o.status) for o in result.outcomes) == [
        (backend.label("RDS01"), 5, "planned"),
        (backend.label("RDS02"), 2, "planned"),
    ]
    assert not result.failures
    assert {n: _states(backend, n) for n in ("RDS01", "RDS02")} == before
    if backend.log is not None:
        assert backend.log() == []


def test_farm_disconnect_one_outcome_per_selected_session(acting: Backend) -> None:
    """dave and erin are disconnected, carol's denies it, bob's is already disconnected, DOWN01 fails
    as a server: every selected session has exactly one outcome, and a fresh listing agrees."""
    with acting.farm(["RDS01", "RDS02", "DOWN01"]) as farm:
        result = farm.disconnect(user=["dave", "erin", "carol", "bob"])
    outcomes = sorted((o.server, o.session_id, o.user, o.status, o.winerror) for o in result.outcomes)
    rds01, rds02 = acting.label("RDS01"), acting.label("RDS02")
    assert [o[:4] for o in outcomes] == [
        (rds01, 3, "bob", "skipped"),
        (rds01, 4, "carol", "failed"),
        (rds01, 5, "dave", "done"),
        (rds02, 2, "erin", "done"),
    ]
    assert outcomes[1][4] == WinError.ERROR_ACCESS_DENIED
    assert [(f.server, f.error.winerror) for f in result.failures] == [
        (acting.label("DOWN01"), WinError.RPC_S_SERVER_UNAVAILABLE)
    ]
    assert _states(acting)[5] is wts.ConnectState.DISCONNECTED
    assert _states(acting)[4] is wts.ConnectState.ACTIVE
    assert _states(acting, "RDS02")[2] is wts.ConnectState.DISCONNECTED


def test_farm_message_and_logoff(acting: Backend) -> None:
    with acting.farm(["RDS01", "RDS02"]) as farm:
        sent = farm.send_message("Notice", "Back at 9", user=["dave", "frank"], style=0x4, timeout=5, wait=True)
        ended = farm.logoff(user="frank")
    answers = sorted((o.server, o.session_id, o.status, o.response) for o in sent.outcomes)
    assert answers == [
        (acting.label("RDS01"), 5, "done", wts.MessageResponse.NO),
        # frank's session is disconnected: no desktop to show the box on, so it times out at once.
        (acting.label("RDS02"), 3, "done", wts.MessageResponse.TIMEOUT),
    ]
    assert [(o.server, o.session_id, o.status) for o in ended.outcomes] == [(acting.label("RDS02"), 3, "done")]
    assert 3 not in _states(acting, "RDS02")


def test_farm_processes_one_listing_per_server(backend: Backend) -> None:
    with backend.farm(["RDS01", "RDS02", "DOWN01"]) as farm:
        result = farm.processes(name="excel")
    assert [(p.server, p.pid, p.name, p.session_id) for p in result.processes] == [
        (backend.label("RDS01"), 4242, "EXCEL.EXE", 5)
    ]
    assert [(f.server, f.error.winerror) for f in result.failures] == [
        (backend.label("DOWN01"), WinError.RPC_S_SERVER_UNAVAILABLE)
    ]


def test_farm_deadline_a_hanging_server_fails_alone(acting: Backend) -> None:
    """HANG01 never answers: past the run's timeout it is one failure (1460, WTSTimeoutError) and the
    other server's sessions are all there; nothing waits longer than the deadline allows."""
    with acting.farm(["RDS02", "HANG01"], timeout=1.0, retries=0) as farm:
        result = farm.sessions()
    assert [(f.server, type(f.error), f.error.winerror) for f in result.failures] == [
        (acting.label("HANG01"), wts.WTSTimeoutError, WinError.ERROR_TIMEOUT)
    ]
    assert sorted(s.id for s in result.sessions) == [0, 1, 2, 3, 65536]
    assert result.elapsed < WAIT
