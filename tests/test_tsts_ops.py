"""The tsts provider's processes, process ends, SID lookups (LSA), WTSClientInfo record and remote
connect, end to end against ``wts sim serve`` in a process of its own (loopback, a free port, stopped
by the test, bounded): the same records and errors as the sim gives for the same farm, the farm
served sees the effects, and the RPCs are counted on the served farm."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("smbprotocol")
pytest.importorskip("spnego")

import wts
from wts._cli import main
from wts._winerror import WinError

WAIT = 30.0
PASSWORD = "Op5-Pa55"
CREDS = wts.Credentials("admin", "CONTOSO", PASSWORD)
FARM: dict[str, Any] = {
    "seed": 11,
    "now": "2026-11-21T05:00:00Z",
    "accounts": [{"domain": "CONTOSO", "user": "admin", "password": PASSWORD}],
    "servers": [
        {
            "name": "RDS01",
            "sessions": [
                {
                    "id": 0,
                    "station": "Services",
                    "state": "Disconnected",
                    "processes": [{"name": "System", "pid": 4}, {"name": "svchost.exe", "user": "NETWORK SERVICE"}],
                },
                {
                    "id": 2,
                    "station": "RDP-Tcp#0",
                    "state": "Active",
                    "user": "alice",
                    "domain": "CONTOSO",
                    "client": "PC-ALICE",
                    "address": "10.0.8.15",
                    "processes": [
                        {
                            "name": "EXCEL.EXE",
                            "pid": 4242,
                            "working_set": 200000000,
                            "user_time": 12.5,
                            "kernel_time": 0.0000037,
                            "pagefile": 5000,
                            "peak_pagefile": 9000,
                            "threads": 7,
                        },
                        {"name": "explorer.exe", "pid": 4300},
                        {"name": "dwm.exe", "user": "DWM-2"},
                        {"name": "orphan.exe", "user": ""},
                    ],
                },
                {
                    "id": 3,
                    "station": "RDP-Tcp#1",
                    "state": "Disconnected",
                    "user": "bob",
                    "domain": "FABRIKAM",
                    "deny": ["terminate"],
                    "password": "BobPw1",
                    "processes": [{"name": "notepad.exe", "pid": 5000}, {"name": "calc.exe", "user": "CONTOSO\\alice"}],
                },
            ],
        },
    ],
    "generate": [{"prefix": "APP", "count": 2, "sessions": 4}],
}


@pytest.fixture
def served(sim_serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """FARM served for this test alone (tests/conftest.py's ``sim_serve``): its addresses by name and
    the farm file (the sim's side of a comparison loads the same one)."""
    farm = tmp_path / "farm.json"
    farm.write_text(json.dumps(FARM), encoding="utf-8")
    served = sim_serve(farm)
    monkeypatch.setenv("WTS_TSTS_PORT", str(served.port))
    return {"servers": dict(served.servers), "farm": farm}


def _same_farm_through_sim() -> None:
    wts.sim.load(FARM)


def _strip(p: wts.Process) -> wts.Process:
    return p._replace(server=None)


def test_processes_equal_the_sims_for_the_same_farm(served: dict[str, Any]) -> None:
    _same_farm_through_sim()
    for name in ("RDS01", "APP01"):
        expected = [_strip(p) for p in wts.Server(name, provider="sim").processes()]
        with wts.Server(served["servers"][name], provider="tsts", credentials=CREDS) as server:
            got = [_strip(p) for p in server.processes()]
            assert got == expected and len(got) > 3


def test_process_fields_units_and_accounts(served: dict[str, Any]) -> None:
    with wts.Server(served["servers"]["RDS01"], provider="tsts", credentials=CREDS) as server:
        by_name = {p.name: p for p in server.processes()}
    excel = by_name["EXCEL.EXE"]
    assert (excel.pid, excel.session_id, excel.user, excel.domain) == (4242, 2, "alice", "CONTOSO")
    assert excel.working_set_bytes == 200000000 and excel.threads == 7
    assert (excel.pagefile_bytes, excel.peak_pagefile_bytes) == (5000, 9000)
    assert excel.user_time.total_seconds() == 12.5
    assert excel.sid.startswith("S-1-5-21-")
    assert (by_name["svchost.exe"].user, by_name["svchost.exe"].domain) == ("NETWORK SERVICE", "NT AUTHORITY")
    assert (by_name["dwm.exe"].user, by_name["dwm.exe"].domain) == ("DWM-2", "Window Manager")
    assert (by_name["orphan.exe"].sid, by_name["orphan.exe"].user) == ("", "")
    assert (by_name["notepad.exe"].user, by_name["notepad.exe"].domain) == ("bob", "FABRIKAM")


def test_one_sessions_processes_and_a_session_that_does_not_exist(served: dict[str, Any]) -> None:
    # WTSEnumerateProcessesExW with a session id (the seam's filter): the listing filtered, and 7022
    # for a session the server does not have, as the sim answers (one more RPC, only when empty)
    from wts._tsts import _client

    connections = _client.Connections(CREDS)
    try:
        client = connections.client(served["servers"]["RDS01"])
        assert {row[2] for row in client.processes(3)} == {"notepad.exe", "calc.exe"}
        with pytest.raises(_client.TstsError) as info:
            client.processes(77)
        assert info.value.winerror == WinError.ERROR_CTX_WINSTATION_NOT_FOUND
        assert client.processes(0)  # session 0's system processes
    finally:
        connections.close()


def test_terminate_ends_the_served_process_and_errors_map(served: dict[str, Any]) -> None:
    _same_farm_through_sim()
    codes = {}
    for pid in (999999, 5000):  # no such process; a session that denies terminate
        with pytest.raises(wts.WTSError) as info:
            wts.Server("RDS01", provider="sim").terminate_process(pid)
        codes[pid] = info.value.winerror
    assert codes == {999999: WinError.ERROR_INVALID_PARAMETER, 5000: WinError.ERROR_ACCESS_DENIED}
    with wts.Server(served["servers"]["RDS01"], provider="tsts", credentials=CREDS) as server:
        for pid, code in codes.items():
            with pytest.raises(wts.WTSError) as info:
                server.terminate_process(pid)
            assert info.value.winerror == code
        server.terminate_process(4242)
        assert 4242 not in {p.pid for p in server.processes()}
        with pytest.raises(wts.WTSError) as info:
            server.terminate_process(4242)
        assert info.value.winerror == WinError.ERROR_INVALID_PARAMETER


def test_farm_processes_and_terminate_through_the_engine(served: dict[str, Any]) -> None:
    addrs = list(served["servers"].values())
    with wts.Farm(addrs, provider="tsts", credentials=CREDS, timeout=WAIT) as farm:
        listed = farm.processes()
        assert not listed.failures
        names = {(p.server, p.name) for p in listed.processes}
        assert (served["servers"]["RDS01"], "EXCEL.EXE") in names
        assert any(p.user == "alice" and p.domain == "CONTOSO" for p in listed.processes)
        dry = farm.terminate(name="notepad.exe", dry_run=True)
        assert [o.why for o in dry.outcomes] == [wts.Reason.DRY_RUN]
        done = farm.terminate(name="explorer.exe")
        assert done.outcomes and all(o.status == "done" for o in done.outcomes)
    with wts.Server(served["servers"]["RDS01"], provider="tsts", credentials=CREDS) as server:
        left = {p.name for p in server.processes()}
    assert "notepad.exe" in left and "explorer.exe" not in left


def test_client_info_is_the_sims_record(served: dict[str, Any]) -> None:
    _same_farm_through_sim()
    sim = wts.Server("RDS01", provider="sim")
    with wts.Server(served["servers"]["RDS01"], provider="tsts", credentials=CREDS) as server:
        for sid in (0, 2, 3):
            for info_class in (
                wts.InfoClass.CLIENT_INFO,
                wts.InfoClass.CLIENT_ADDRESS,  # session 0 has none: family 0, as the sim answers (not 50)
                wts.InfoClass.CLIENT_HARDWARE_ID,
            ):
                assert server.query(sid, info_class) == sim.query(sid, info_class), (sid, info_class)
            mine = server.client_info(sid, protocol=True)
            theirs = sim.client_info(sid, protocol=True)
            assert mine._replace(server=None) == theirs._replace(server=None)
    assert mine.server == served["servers"]["RDS01"]


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env_pw = os.environ.get("WTS_PASSWORD")
    os.environ["WTS_PASSWORD"] = PASSWORD
    try:
        code = main(["--provider", "tsts", "-U", "CONTOSO\\admin", *argv], stdin=io.StringIO(), stdout=out, stderr=err)
    finally:
        if env_pw is None:
            del os.environ["WTS_PASSWORD"]
        else:
            os.environ["WTS_PASSWORD"] = env_pw
    return int(code), out.getvalue(), err.getvalue()


#: Not compared: the server's name, and what the reader's clock gives (MS-TSTS's session details carry no
#: current time, so over tsts the client's clock stands in; the sim uses the farm's "now").
_CLOCK = ("server", "own", "current_time", "idle_seconds")


def test_cli_sessions_clients_same_records_as_the_sim(served: dict[str, Any]) -> None:
    rds01 = served["servers"]["RDS01"]
    code, out, err = _cli("sessions", "-s", rds01, "--clients", "--format", "json")
    assert code == 0, err
    ours = [{k: v for k, v in r.items() if k not in _CLOCK} for r in json.loads(out)]
    sim_out, sim_err = io.StringIO(), io.StringIO()
    argv = ["--sim-farm", str(served["farm"]), "sessions", "-s", "RDS01", "--clients", "--format", "json"]
    assert main(argv, stdin=io.StringIO(), stdout=sim_out, stderr=sim_err) == 0, sim_err.getvalue()
    theirs = [{k: v for k, v in r.items() if k not in _CLOCK} for r in json.loads(sim_out.getvalue())]
    assert ours == theirs and any(r.get("client_address") == "10.0.8.15" for r in ours)


def test_cli_ps_kill_and_sessions_clients(served: dict[str, Any]) -> None:
    rds01 = served["servers"]["RDS01"]
    code, out, err = _cli("ps", "-s", rds01)
    assert code == 0, err
    assert "EXCEL.EXE" in out and "alice" in out
    code, out, err = _cli("sessions", "-s", rds01, "--clients")
    assert code == 0, err
    assert "PC-ALICE" in out and "10.0.8.15" in out
    code, out, err = _cli("kill", "-s", rds01, "orphan.exe", "--yes")
    assert code == 0, err
    code, out, err = _cli("kill", "-s", rds01, "calc.exe", "--yes", "--format", "json")  # its session denies it
    assert code == 1, (out, err)
    assert [(r.get("image"), r["status"], r["winerror"]) for r in json.loads(out)] == [("calc.exe", "failed", 5)], out
    code, out, err = _cli("ps", "-s", rds01)
    assert "orphan.exe" not in out and "calc.exe" in out


def test_rpc_economy(served: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # Counted at the client's one door to the wire: every RPC goes through Binding.call
    from wts._tsts import _binding

    calls: list[str] = []
    real = _binding.Binding.call

    def counted(self: Any, interface: Any, opnum: int, stub: bytes, timeout: float | None = None) -> bytes:
        calls.append(f"{interface.name}:{opnum}")
        return real(self, interface, opnum, stub, timeout)

    monkeypatch.setattr(_binding.Binding, "call", counted)
    with wts.Server(served["servers"]["RDS01"], provider="tsts", credentials=CREDS) as server:
        server.processes()
        # cold: RpcWinStationOpenServer, GetAllProcesses, LsarOpenPolicy2, then ONE LsarLookupSids
        # for every distinct SID of the listing (win32 makes one LookupAccountSidW per SID)
        assert calls == ["LegacyApi:0", "LegacyApi:43", "lsarpc:44", "lsarpc:15"]
        calls.clear()
        server.processes()
        assert calls == ["LegacyApi:43", "lsarpc:15"]  # warm: the handles are kept
        calls.clear()
        server.terminate_process(4300)
        assert calls == ["LegacyApi:37"]
        calls.clear()
        server.client_info(2)
        assert calls == ["RCMPublic:0"]  # the whole WTSCLIENTW from one RpcGetClientData
        calls.clear()
        server.connect(3, target=2, password="BobPw1")
        assert calls == ["TermSrvSession:0", "TermSrvSession:2", "TermSrvSession:1"]  # open, connect, close


def test_connect_over_tsts_changes_the_served_farm(served: dict[str, Any]) -> None:
    rds01 = served["servers"]["RDS01"]
    with wts.Server(rds01, provider="tsts", credentials=CREDS) as server:
        with pytest.raises(wts.AccessDeniedError) as denied:
            server.connect(3, target=2, password="not-bobs")
        assert denied.value.winerror == WinError.ERROR_LOGON_FAILURE and "not-bobs" not in str(denied.value)
        with pytest.raises(wts.NoSuchSessionError):
            server.connect(99, target=2, password="BobPw1")
        server.connect(3, target=2, password="BobPw1")
        states = {s.id: s.state for s in server.sessions()}
    assert (states[3], states[2]) == (wts.ConnectState.ACTIVE, wts.ConnectState.DISCONNECTED)


def test_connect_stays_local_only_on_the_other_providers() -> None:
    _same_farm_through_sim()
    with pytest.raises(ValueError, match="local server only"):
        wts.Server("APP01", provider="sim").connect(2, target=3)
    with pytest.raises(wts.AccessDeniedError):  # the local server: WTSConnectSessionW, as wts.connect
        wts.Server(None, provider="sim").connect(3, target=2, password="wrong")


def test_cli_connect_over_tsts(served: dict[str, Any], tmp_path: Path) -> None:
    rds01 = served["servers"]["RDS01"]
    owner = tmp_path / "bob.pw"
    owner.write_text("BobPw1\n", encoding="utf-8")
    code, out, err = _cli("connect", "3", "-s", rds01)
    assert code == 2 and "--target" in err
    code, out, err = _cli("connect", "3", "--target", "2", "-s", f"{rds01},{served['servers']['APP01']}")
    assert code == 2 and "one server" in err
    code, out, err = _cli("connect", "3", "--target", "2", "-s", rds01, "--password-file", str(owner))
    assert code == 0, err
    assert "BobPw1" not in out + err
    code, out, err = _cli("sessions", "-s", rds01, "--format", "json")
    states = {r["id"]: r["state"] for r in json.loads(out)}
    assert (states[3], states[2]) == ("Active", "Disconnected")
