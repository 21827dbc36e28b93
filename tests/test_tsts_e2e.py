"""End to end: ``wts.Server(ADDRESS, provider="tsts", credentials=...)`` and ``wts.Farm`` against
``wts sim serve`` in a process of its own (tests/conftest.py: loopback, stopped, bounded): what
they list is the farm file's sessions, an action changes the served farm (a wrong password, 1326:
tests/test_tsts_served_elsewhere.py)."""

from __future__ import annotations

import time
from typing import Any

import pytest

pytest.importorskip("smbprotocol")
pytest.importorskip("spnego")
pytest.importorskip("wts._tsts._serve")  # wts sim serve (its own helper's work) must be on this branch

import wts
from wts._winerror import WinError

WAIT = 30.0
PASSWORD = "E2e-Pa55"
CREDS = wts.Credentials("admin", "CONTOSO", PASSWORD)
FARM = {
    "seed": 7,
    "now": "2026-11-21T05:00:00Z",
    "accounts": [{"domain": "CONTOSO", "user": "admin", "password": PASSWORD}],
    "servers": [
        {
            "name": "RDS01",
            "sessions": [
                {"id": 0, "station": "Services", "state": "Disconnected"},
                {
                    "id": 2,
                    "station": "RDP-Tcp#0",
                    "state": "Active",
                    "user": "alice",
                    "domain": "CONTOSO",
                    "client": "PC-ALICE",
                    "address": "10.0.8.15",
                    "logon": "2026-11-21T04:58:12Z",
                    "connect": "2026-11-21T04:58:13Z",
                    "last_input": "2026-11-21T04:59:30Z",
                },
                {
                    "id": 3,
                    "station": "RDP-Tcp#1",
                    "state": "Active",
                    "user": "bob",
                    "domain": "CONTOSO",
                    "logon": "2026-11-21T03:00:00Z",
                },
            ],
        },
        {
            "name": "RDS02",
            "sessions": [{"id": 5, "station": "RDP-Tcp#4", "state": "Active", "user": "carol", "domain": "FABRIKAM"}],
        },
    ],
    "generate": [{"prefix": "APP", "count": 1, "sessions": 120}],
}


@pytest.fixture
def served(shared_serve: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The farm served for the whole run (tests/conftest.py's ``shared_serve``): for tests that only read."""
    served = shared_serve(FARM)
    monkeypatch.setenv("WTS_TSTS_PORT", str(served.port))
    return dict(served.servers)


@pytest.fixture
def served_fresh(sim_serve: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The farm served for this test alone: for tests that change it."""
    served = sim_serve(FARM)
    monkeypatch.setenv("WTS_TSTS_PORT", str(served.port))
    return dict(served.servers)


def test_server_lists_the_served_farm(served: dict[str, str], socket_path: str) -> None:
    """Each way the client reads its socket (tests/conftest.py, socket_path): the logon's answers and the
    pipes' exchanges."""
    with wts.Server(served["RDS01"], provider="tsts", credentials=CREDS) as server:
        rows = [(s.id, s.station, s.state, s.user, s.domain) for s in server.sessions()]
        assert rows == [
            (0, "Services", wts.ConnectState.DISCONNECTED, "", ""),
            (2, "RDP-Tcp#0", wts.ConnectState.ACTIVE, "alice", "CONTOSO"),
            (3, "RDP-Tcp#1", wts.ConnectState.ACTIVE, "bob", "CONTOSO"),
        ]
        info = server.session_info(2)
        assert (info.id, info.user, info.station) == (2, "alice", "RDP-Tcp#0")
        assert info.logon_time is not None and info.logon_time.isoformat().startswith("2026-11-21T04:58:12")
        assert server.query(2, wts.InfoClass.CLIENT_NAME) == "PC-ALICE"
        with pytest.raises(wts.NoSuchSessionError):
            server.session_info(99)


def test_farm_lists_every_server_and_120_sessions_in_fragments(served: dict[str, str], socket_path: str) -> None:
    with wts.Farm(list(served.values()), provider="tsts", credentials=CREDS, timeout=WAIT) as farm:
        result = farm.sessions()
        assert not result.failures
        by_server: dict[str, int] = {}
        for s in result.sessions:
            by_server[s.server] = by_server.get(s.server, 0) + 1
        assert by_server[served["RDS01"]] == 3 and by_server[served["RDS02"]] == 1
        assert by_server[served["APP01"]] >= 120


def test_a_disconnect_changes_the_served_farm(served_fresh: dict[str, str]) -> None:
    with wts.Server(served_fresh["RDS01"], provider="tsts", credentials=CREDS) as server:
        server.disconnect(3)
        states = {s.id: s.state for s in server.sessions()}
        assert states[3] == wts.ConnectState.DISCONNECTED
        assert states[2] == wts.ConnectState.ACTIVE
        for act in (server.disconnect, server.logoff):
            with pytest.raises(wts.NoSuchSessionError) as info:
                act(99)  # as wtsapi32 reports it: 7022, though LSM's RpcOpenSession says 2
            assert info.value.winerror == WinError.ERROR_CTX_WINSTATION_NOT_FOUND


@pytest.mark.parametrize("version", ["1.17.0", "1.18.0"])
def test_an_untested_smbprotocol_keeps_the_connection(
    served: dict[str, str], monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    """The client sends the pipes' messages itself (``_smbio``) only with the smbprotocol release
    whose internals that was checked with; with another it leaves every message to smbprotocol, and
    lists the same."""
    from wts._tsts import _client, _smb

    monkeypatch.setattr(_smb, "_smbprotocol_version", lambda: version)
    connections = _client.Connections(CREDS)
    try:
        client = connections.client(served["RDS01"])
        rows = [(r[2], r[5]) for r in client.sessions()]
        smb = client._smb
        assert smb is not None
        assert (smb._wire is not None) == version.startswith(_smb.WIRE_TESTED)
    finally:
        connections.close()
    assert rows == [(0, ""), (2, "alice"), (3, "bob")]


def test_a_server_that_dropped_the_connection_is_reached_again(sim_serve: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The served farm restarts (every connection to it dropped while the Server idled).  A listing
    names no handle of the old connection: it goes once more on a new one and is answered.  An action
    on a connection whose legacy pipe is bound names that connection's server handle: it fails as one
    that did not run (1727, nothing sent on the dead connection), and the one after it connects again
    and is done."""
    first = sim_serve(FARM)
    monkeypatch.setenv("WTS_TSTS_PORT", str(first.port))
    address = first.servers["RDS01"]
    with wts.Server(address, provider="tsts", credentials=CREDS) as server:
        assert len(server.sessions()) == 3
        first.stop()
        second = sim_serve(FARM, address=address, port=first.port)
        time.sleep(0.05)  # the old connection's end reaches the client
        listed = server.sessions()
        assert [s.user for s in listed] == ["", "alice", "bob"]
        alice = next(s.id for s in listed if s.user == "alice")
        server.disconnect(alice)  # the legacy pipe bound, its server handle opened
        second.stop()
        sim_serve(FARM, address=address, port=first.port)
        time.sleep(0.05)
        with pytest.raises(wts.WTSError) as raised:
            server.disconnect(alice)
        assert raised.value.winerror == WinError.RPC_S_CALL_FAILED_DNE
        server.disconnect(alice)
        assert {s.user: s.state for s in server.sessions()}["alice"] == wts.ConnectState.DISCONNECTED
