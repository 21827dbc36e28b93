"""The tsts client against a farm served by another process, seen only as an administrator sees it:
through ``wts.Server``, ``wts.Farm`` and the command line.  Each action's effect is checked by
listing again, never through ``wts.sim``, so the farm may run anywhere.

This is what proves the client on Windows: ``.ci/wine`` (run d) serves tests/farms/served.json with
Linux's Python (``wts sim serve``) and runs this file in the Windows Python under Wine, naming the
farm in ``WTS_TEST_SERVED`` ("PORT NAME=ADDRESS ..."; a farm served for this run alone: the tests
change it).  Without that variable the tests serve the farm themselves (tests/conftest.py: loopback,
stopped, bounded), on any system.
"""

from __future__ import annotations

import io
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("smbprotocol")
pytest.importorskip("spnego")

from conftest import QuietHost  # tests/ is on sys.path (pytest's rootdir conftest)

import wts
from wts._winerror import WinError

FARM = Path(__file__).parent / "farms" / "served.json"
PASSWORD = "Ev3rywhere-pw"  # the farm file's account
CREDS = wts.Credentials("admin", "CONTOSO", PASSWORD)
BOUND = 30.0  # seconds: nothing here comes near it on a healthy machine


def _given() -> tuple[int, dict[str, str]] | None:
    """``WTS_TEST_SERVED``: the port and name -> address of a farm served elsewhere, or None."""
    text = os.environ.get("WTS_TEST_SERVED", "").split()
    if not text:
        return None
    return int(text[0]), dict(item.split("=", 1) for item in text[1:])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, dict[str, str]]]:
    given = _given()
    if given is not None:
        yield given
        return
    from conftest import start_serve  # tests/ is on sys.path (pytest's rootdir conftest)

    with start_serve(FARM, tmp_path_factory.mktemp("served")) as serving:
        yield serving.port, dict(serving.servers)


@pytest.fixture
def servers(served: tuple[int, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    port, addresses = served
    monkeypatch.setenv("WTS_TSTS_PORT", str(port))
    return addresses


def _states(server: wts.Server) -> dict[int, wts.ConnectState]:
    return {s.id: s.state for s in server.sessions()}


def test_a_server_lists_its_sessions_with_their_details(servers: dict[str, str]) -> None:
    with wts.Server(servers["RDS01"], provider="tsts", credentials=CREDS) as server:
        rows = [(s.id, s.station, s.user, s.domain) for s in server.sessions()]
        assert rows[:3] == [
            (0, "Services", "", ""),
            (2, "RDP-Tcp#0", "alice", "CONTOSO"),
            (3, "RDP-Tcp#1", "bob", "CONTOSO"),
        ]
        info = server.session_info(2)
        assert (info.user, info.state) == ("alice", wts.ConnectState.ACTIVE)
        assert info.logon_time is not None and info.logon_time.isoformat().startswith("2026-11-21T04:58:12")
        assert server.query(2, wts.InfoClass.CLIENT_NAME) == "PC-ALICE"
        with pytest.raises(wts.NoSuchSessionError) as raised:
            server.session_info(99)
        assert raised.value.winerror == WinError.ERROR_CTX_WINSTATION_NOT_FOUND


def test_a_farm_lists_every_server_and_again_on_its_connections(servers: dict[str, str]) -> None:
    with wts.Farm(list(servers.values()), provider="tsts", credentials=CREDS, timeout=BOUND) as farm:
        first = farm.sessions()
        again = farm.sessions()  # on the connections kept
    for result in (first, again):
        assert not result.failures
        count: dict[str, int] = {}
        for s in result.sessions:
            count[s.server] = count.get(s.server, 0) + 1
        assert count[servers["APP01"]] == count[servers["APP02"]] >= 120  # 120 users, and system sessions
    assert sorted(first.sessions) == sorted(again.sessions)


def test_disconnect_logoff_message_and_connect_act_on_the_farm(servers: dict[str, str]) -> None:
    with wts.Server(servers["RDS01"], provider="tsts", credentials=CREDS) as server:
        server.disconnect(3)
        assert _states(server)[3] == wts.ConnectState.DISCONNECTED
        assert server.send_message(4, "Patch", "Rebooting at 22:00", style=4, timeout=30, wait=True) == (
            wts.MessageResponse.NO  # the farm file's reply for dave
        )
        assert server.send_message(2, "Patch", "Rebooting at 22:00") == wts.MessageResponse.ASYNC
        server.connect(6, target=4, password="Erin-pw1")  # tscon 6 /dest:RDP-Tcp#2 /password:...
        states = _states(server)
        assert states[6] == wts.ConnectState.ACTIVE
    with wts.Server(servers["RDS02"], provider="tsts", credentials=CREDS) as server:
        server.logoff(7)
        assert 7 not in _states(server)
        with pytest.raises(wts.NoSuchSessionError):
            server.logoff(7)


def test_the_command_line_takes_U_and_the_password_from_the_environment(
    servers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from wts._cli import main

    monkeypatch.setenv("WTS_PASSWORD", PASSWORD)
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["--provider", "tsts", "-U", r"CONTOSO\admin", "quser", "/server:" + servers["RDS02"]], stdout=out, stderr=err
    )
    assert (code, err.getvalue()) == (0, "")
    assert "carol" in out.getvalue() and PASSWORD not in out.getvalue()
    monkeypatch.setenv("WTS_PASSWORD", "not-" + PASSWORD)
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["--provider", "tsts", "-U", r"CONTOSO\admin", "quser", "/server:" + servers["RDS02"]], stdout=out, stderr=err
    )
    assert code != 0 and "1326" in err.getvalue() and PASSWORD not in err.getvalue()
    assert len(err.getvalue().strip().splitlines()) == 1


def test_a_wrong_password_is_1326(servers: dict[str, str]) -> None:
    wrong = wts.Credentials("admin", "CONTOSO", "x" + PASSWORD)
    with wts.Server(servers["RDS01"], provider="tsts", credentials=wrong) as server:
        with pytest.raises(wts.AccessDeniedError) as raised:
            server.sessions()
    assert raised.value.winerror == WinError.ERROR_LOGON_FAILURE
    assert "x" + PASSWORD not in str(raised.value)


def test_nobody_listening_is_1722(servers: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    monkeypatch.setenv("WTS_TSTS_PORT", str(probe.getsockname()[1]))
    probe.close()  # nothing listens there now: refused
    with wts.Server("127.0.0.1", provider="tsts", credentials=CREDS, connect_timeout=2) as server:
        with pytest.raises(wts.ServerUnavailableError) as raised:
            server.sessions()
    assert raised.value.winerror == WinError.RPC_S_SERVER_UNAVAILABLE


@pytest.mark.parametrize("stage", ["negotiate", "session setup"])
def test_a_server_that_goes_quiet_fails_within_the_connect_timeout(
    servers: dict[str, str], monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    """A host that takes the TCP connection and then says nothing, or answers the negotiate (relayed
    to the served farm) and then nothing: 1722 at the connect timeout, on every system.  (Windows does
    not wake a read of a socket shut down on another thread: the client must not depend on it.)"""
    upstream = (servers["RDS01"], int(os.environ.get("WTS_TSTS_PORT", "445")))
    with QuietHost(upstream if stage == "session setup" else None, BOUND) as quiet:
        monkeypatch.setenv("WTS_TSTS_PORT", str(quiet.port))
        started = time.monotonic()
        result = wts.Farm(
            ["127.0.0.1"], provider="tsts", credentials=CREDS, connect_timeout=1.0, timeout=BOUND
        ).sessions()
        elapsed = time.monotonic() - started
    assert [f.error.winerror for f in result.failures] == [WinError.RPC_S_SERVER_UNAVAILABLE]
    assert elapsed < BOUND / 3, f"took {elapsed:.1f} s"
