"""``wts sim serve``: the simulated farm over SMB2 + MS-TSTS on loopback, checked with clients we did
not write (impacket's tstool.py and its tsts module; smbprotocol for the SMB side).

Every server is started by the test that uses it and always stopped (``serving`` stops it in a
``finally``); every wait is bounded; every address is in 127.0.0.0/8.  As root (CI) the servers
listen on port 445, where tstool.py itself runs (it takes no other port); otherwise on a high port,
where the same calls are made through impacket's ``tsts`` helpers, as tstool makes them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import (  # tests/ is on sys.path
    SERVE_PORT,
    SERVE_ROOT,
    SERVE_WAIT,
    Served,
    serve_address,
    serve_in_process,
)

import wts
from wts._farmfile import compile_farm
from wts._farmfile._compiled import prompt_servers
from wts._winerror import WinError

pytest.importorskip("spnego")
smbconnection = pytest.importorskip("impacket.smbconnection")
TSTS = pytest.importorskip("impacket.dcerpc.v5.tsts")

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name == "nt", reason="POSIX signals")

ROOT, PORT, WAIT = SERVE_ROOT, SERVE_PORT, SERVE_WAIT  # tests/conftest.py: as root, port 445
PASSWORD = "Pa55:word!"  # a colon: NTLM files could not hold it, our accounts can

FARM: dict[str, Any] = {
    "seed": 7,
    "now": "2026-11-21T05:00:00Z",
    "accounts": [
        {"domain": "CONTOSO", "user": "admin", "password": PASSWORD},
        {"domain": "", "user": "local", "password": "x"},
    ],
    "servers": [
        {
            "name": "RDS01",
            "sessions": [
                {"id": 0, "station": "Services", "state": "Disconnected"},
                {"id": 1, "station": "Console", "state": "Connected"},
                {
                    "id": 2,
                    "station": "RDP-Tcp#0",
                    "state": "Active",
                    "user": "alice",
                    "domain": "CONTOSO",
                    "client": "PC-ALICE",
                    "address": "10.0.8.15",
                    "display": "1920x1080x32",
                    "client_build": 22621,
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
                    "locked": True,
                },
                {"id": 4, "station": "RDP-Tcp#2", "state": "Active", "user": "carol", "domain": "CONTOSO"},
                {
                    "id": 7,
                    "station": "RDP-Tcp#4",
                    "state": "Active",
                    "user": "svc",
                    "domain": "CONTOSO",
                    "deny": ["logoff"],
                },
                {"id": 5, "state": "Disconnected", "user": "dave", "domain": "CONTOSO", "password": "DavePw1"},
                {"id": 6, "station": "RDP-Tcp#3", "state": "Active", "user": "erin", "domain": "CONTOSO"},
                {"id": 65536, "station": "RDP-Tcp", "state": "Listen"},
            ],
        },
        {"name": "RDS-DOWN", "fault": "unreachable"},
    ],
    "generate": [{"prefix": "APP", "count": 2, "sessions": 120}],
}


def wts_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "wts", *args]


@pytest.fixture(scope="module")
def farm_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("serve") / "farm.json"
    path.write_text(json.dumps(FARM), encoding="utf-8")
    return path


@pytest.fixture
def served(shared_serve: Any) -> Served:
    """The farm served for the whole run (tests/conftest.py), for the tests that only read; each test
    that changes the farm, or stops the server, starts its own with ``sim_serve``."""
    served: Served = shared_serve(FARM)
    return served


def in_process(farm: dict[str, Any], latency: float = 0.0) -> Any:
    """``_serve.serve`` on a thread of this process, over the sim loaded here: what the clients do is
    then visible through ``wts.sim`` and ``wts.Server(provider="sim")`` in the test itself."""
    return serve_in_process(farm, serve_address(), PORT, latency=latency)


def login(host: str, port: int, user: str = "admin", password: str = PASSWORD, domain: str = "CONTOSO") -> Any:
    conn = smbconnection.SMBConnection(host, host, sess_port=port, timeout=10)
    conn.login(user, password, domain)
    return conn


def qwinsta(host: str, port: int) -> dict[int, tuple[str, str, str, str]]:
    """tstool's qwinsta, call for call: id -> (station, state, DOMAIN\\user, desktop)."""
    conn = login(host, port)
    try:
        with TSTS.TermSrvEnumeration(conn, host, False) as lsm:
            handle = lsm.hRpcOpenEnum()
            rows = lsm.hRpcGetEnumResult(handle, Level=1)["ppSessionEnumResult"]
            lsm.hRpcCloseEnum(handle)
        out = {}
        with TSTS.TermSrvSession(conn, host, False) as session:
            for row in rows:
                s = row["SessionInfo"]["SessionEnum_Level1"]
                info = session.hRpcGetSessionInformationEx(s["SessionId"])["LSMSessionInfoExPtr"]
                l1 = info["LSM_SessionInfo_Level1"]
                user = f"{l1['DomainName']}\\{l1['UserName']}" if l1["UserName"] else ""
                state = TSTS.enum2value(TSTS.WINSTATIONSTATECLASS, s["State"]).split("_")[-1]
                flags = TSTS.enum2value(TSTS.SESSIONFLAGS, l1["SessionFlags"]).split("_")[-1]
                out[s["SessionId"]] = (s["Name"], state, user, flags)
        return out
    finally:
        conn.close()


# -- starting and stopping -------------------------------------------------------------------------


def test_one_line_per_server_when_ready_and_sigterm_exits_0(farm_file: Path, sim_serve: Any) -> None:
    address = serve_address()
    with sim_serve(farm_file, address=address) as s:
        first = address.rsplit(".", 1)[0]
        assert s.servers == {
            "RDS01": f"{first}.2",
            "RDS-DOWN": f"{first}.3",
            "APP01": f"{first}.4",
            "APP02": f"{first}.5",
        }
        status, err = s.stop(signal.SIGTERM)
    assert (status, err) == (0, "")


def test_ctrl_c_exits_130(farm_file: Path, sim_serve: Any) -> None:
    with sim_serve(farm_file) as s:
        status, err = s.stop(signal.SIGINT)
    assert (status, err) == (130, "wts: interrupted\n")


def test_a_farm_of_200_servers_in_one_process(tmp_path: Path, sim_serve: Any) -> None:
    path = tmp_path / "big.json"
    path.write_text(
        json.dumps({"accounts": FARM["accounts"], "generate": [{"prefix": "RDS", "count": 200, "sessions": 3}]}),
        encoding="utf-8",
    )
    with sim_serve(path, address=f"127.{100 + os.getpid() % 100}.200.1") as s:
        assert len(s.servers) == 200
        assert len(set(s.servers.values())) == 200
        last = s.servers["RDS200"]
        rows = qwinsta(last, s.port)
        assert sorted(v[1] for v in rows.values()).count("Listen") == 1
        assert len(rows) == 6  # 3 users + services, console, listener


# -- what impacket sees ----------------------------------------------------------------------------


def test_impacket_lists_the_farms_sessions(served: Served) -> None:
    rows = qwinsta(served.servers["RDS01"], served.port)
    assert rows == {
        0: ("Services", "Disconnected", "", "UNKNOWN"),
        1: ("Console", "Connected", "", "UNKNOWN"),
        2: ("RDP-Tcp#0", "Active", "CONTOSO\\alice", "UNLOCK"),
        3: ("RDP-Tcp#1", "Active", "CONTOSO\\bob", "LOCK"),
        4: ("RDP-Tcp#2", "Active", "CONTOSO\\carol", "UNLOCK"),
        5: ("", "Disconnected", "CONTOSO\\dave", "UNLOCK"),
        6: ("RDP-Tcp#3", "Active", "CONTOSO\\erin", "UNLOCK"),
        7: ("RDP-Tcp#4", "Active", "CONTOSO\\svc", "UNLOCK"),
        65536: ("RDP-Tcp", "Listen", "", "UNKNOWN"),
    }


def test_impacket_reads_times_as_the_farm_gives_them(served: Served) -> None:
    host = served.servers["RDS01"]
    conn = login(host, served.port)
    try:
        with TSTS.TermSrvSession(conn, host, False) as session:
            l1 = session.hRpcGetSessionInformationEx(2)["LSMSessionInfoExPtr"]["LSM_SessionInfo_Level1"]
    finally:
        conn.close()
    assert str(l1["LogonTime"]) == "2026-11-21 04:58:12"
    assert str(l1["ConnectTime"]) == "2026-11-21 04:58:13"
    assert str(l1["LastInputTime"]) == "2026-11-21 04:59:30"


def test_a_generated_server_of_120_sessions_answers_in_many_fragments(served: Served) -> None:
    host = served.servers["APP02"]
    conn = login(host, served.port)
    try:
        with TSTS.TermSrvEnumeration(conn, host, False) as lsm:
            handle = lsm.hRpcOpenEnum()
            rows = lsm.hRpcGetEnumResult(handle, Level=1)["ppSessionEnumResult"]
            lsm.hRpcCloseEnum(handle)
    finally:
        conn.close()
    assert len(rows) == 123


@pytest.mark.skipif(not ROOT, reason="tstool.py takes port 445 only, which needs root")
def test_tstool_qwinsta(served: Served) -> None:
    tstool = shutil.which("tstool.py") or str(Path(sys.executable).with_name("tstool.py"))
    if not Path(tstool).exists():
        pytest.skip("impacket's tstool.py is not installed")
    target = f"CONTOSO/admin:{PASSWORD}@{served.servers['RDS01']}"
    out = subprocess.run([sys.executable, tstool, target, "qwinsta"], capture_output=True, text=True, timeout=WAIT)
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines() if line.strip()]
    assert ["RDP-Tcp#0", "CONTOSO\\alice", "2", "Active", "Unlocked", "2026/11/21", "04:58:13", "None"] in rows
    assert ["RDP-Tcp#1", "CONTOSO\\bob", "3", "Active", "Locked", "None", "None"] in rows
    assert ["RDP-Tcp", "65536", "Listen", "None", "None"] in rows


def test_calls_reach_the_sim_farm(tmp_path: Path) -> None:
    with in_process(FARM) as servers:
        wts.sim.reset_counters()
        rows = qwinsta(servers["APP01"], PORT)
        counts = wts.sim.rpc_counts()
    assert len(rows) == 123
    # One enumeration, then one query per session: the sim answered each of impacket's calls.
    assert {k: v for k, v in counts.items() if v} == {"APP01": 1 + 123}


def test_an_unreachable_server_faults_as_the_rpc_runtime_does(tmp_path: Path) -> None:
    with in_process(FARM) as servers:
        host = servers["RDS-DOWN"]
        conn = login(host, PORT)
        try:
            with TSTS.TermSrvEnumeration(conn, host, False) as lsm:
                handle = lsm.hRpcOpenEnum()
                with pytest.raises(Exception) as caught:
                    lsm.hRpcGetEnumResult(handle, Level=1)
        finally:
            conn.close()
    # impacket names the fault codes it knows; this one it prints: "... fault status code: 000006ba".
    assert str(caught.value).endswith(f"{int(WinError.RPC_S_SERVER_UNAVAILABLE):08x}")


def session_call(host: str, helper: str, *args: Any, session: int) -> Any:
    """Open session ``session`` (RpcOpenSession) and make one TermSrvSession call on it, as tstool does."""
    conn = login(host, PORT)
    try:
        with TSTS.TermSrvSession(conn, host, False) as ts:
            handle = ts.hRpcOpenSession(session)
            return getattr(ts, helper)(handle, *args)
    finally:
        conn.close()


def test_actions_change_the_sim_farm() -> None:
    with in_process(FARM) as servers:
        host = servers["RDS01"]
        before = {s.id: s for s in wts.Server("RDS01", provider="sim").sessions()}
        assert session_call(host, "hRpcDisconnect", session=2)["ErrorCode"] == 0
        assert session_call(host, "hRpcLogoff", session=4)["ErrorCode"] == 0
        answer = session_call(host, "hRpcShowMessageBox", "Patch", "Rebooting at 22:00", session=3)
        assert answer["ErrorCode"] == 0
        assert session_call(host, "hRpcConnect", 6, "DavePw1", session=5)["ErrorCode"] == 0
        after = {s.id: s for s in wts.Server("RDS01", provider="sim").sessions()}
        messages = wts.sim.messages()
    assert before[2].state is wts.ConnectState.ACTIVE and after[2].state is wts.ConnectState.DISCONNECTED
    assert 4 in before and 4 not in after
    assert [(m["server"], m["session"], m["title"], m["text"]) for m in messages] == [
        ("RDS01", 3, "Patch", "Rebooting at 22:00")
    ]
    # tscon 5 -> 6: dave's session takes erin's connection (with dave's password); erin's is disconnected.
    assert (after[5].state, after[5].station) == (wts.ConnectState.ACTIVE, "RDP-Tcp#3")
    assert after[6].state is wts.ConnectState.DISCONNECTED


def test_refusals_come_back_as_windows_gives_them() -> None:
    with in_process(FARM) as servers:
        host = servers["RDS01"]
        with pytest.raises(TSTS.DCERPCSessionError) as missing:
            session_call(host, "hRpcDisconnect", session=99)
        with pytest.raises(TSTS.DCERPCSessionError) as denied:
            session_call(host, "hRpcLogoff", session=7)
        with pytest.raises(TSTS.DCERPCSessionError) as wrong_password:
            session_call(host, "hRpcConnect", 6, "not dave's", session=5)
        sessions = {s.id: s.state for s in wts.Server("RDS01", provider="sim").sessions()}
    # RpcOpenSession of a session that is not there: HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND), which
    # tstool.py reports as "Could not find SessionID".
    assert missing.value.error_code == 0x80070000 | WinError.ERROR_FILE_NOT_FOUND
    assert denied.value.error_code == 0x80070000 | WinError.ERROR_ACCESS_DENIED
    assert wrong_password.value.error_code == 0x80070000 | WinError.ERROR_LOGON_FAILURE
    assert sessions[7] is wts.ConnectState.ACTIVE and sessions[5] is wts.ConnectState.DISCONNECTED


def test_a_stale_handle_is_the_runtimes_fault(served: Served) -> None:
    host = served.servers["RDS01"]
    conn = login(host, served.port)
    try:
        with TSTS.TermSrvEnumeration(conn, host, False) as lsm:
            handle = lsm.hRpcOpenEnum()
            lsm.hRpcCloseEnum(handle)
            with pytest.raises(Exception) as caught:
                lsm.hRpcGetEnumResult(handle, Level=1)
    finally:
        conn.close()
    assert "context_mismatch" in str(caught.value)  # impacket's name for nca_s_fault_context_mismatch


def test_the_legacy_api_messages_disconnects_and_resets() -> None:
    with in_process(FARM) as servers:
        host = servers["RDS01"]
        conn = login(host, PORT)
        try:
            with TSTS.LegacyAPI(conn, host, False) as legacy:
                handle = legacy.hRpcWinStationOpenServer()
                assert legacy.hRpcWinStationSendMessage(handle, 4, "Notice", "Back at 9")["ErrorCode"]
                assert legacy.hRpcWinStationDisconnect(handle, 2)["ErrorCode"]
                assert legacy.hRpcWinStationReset(handle, 3)["ErrorCode"]
                legacy.hRpcWinStationCloseServer(handle)
        finally:
            conn.close()
        sessions = {s.id: s.state for s in wts.Server("RDS01", provider="sim").sessions()}
        messages = wts.sim.messages()
    assert sessions[2] is wts.ConnectState.DISCONNECTED
    assert 3 not in sessions
    # impacket pads the texts with NULs to 1,024 units; the sim gets them as typed.
    assert [(m["session"], m["title"], m["text"]) for m in messages] == [(4, "Notice", "Back at 9")]


def test_the_legacy_api_lists_and_ends_processes() -> None:
    with in_process(FARM) as servers:
        host = servers["APP01"]
        expected = wts.Server("APP01", provider="sim").processes()
        victim = next(p for p in expected if p.session_id != 0)
        conn = login(host, PORT)
        try:
            with TSTS.LegacyAPI(conn, host, False) as legacy:
                handle = legacy.hRpcWinStationOpenServer()
                listed = legacy.hRpcWinStationGetAllProcesses(handle)
                ended = legacy.hRpcWinStationTerminateProcess(handle, victim.pid)
        finally:
            conn.close()
        after = {p.pid for p in wts.Server("APP01", provider="sim").processes()}
    info = [e.getProcessInfo() for e in listed]
    assert [(i["UniqueProcessId"], i["SessionId"], i["ImageName"].getValue()) for i in info] == [
        (p.pid, p.session_id, p.name) for p in expected
    ]
    # impacket names the well-known SIDs (SYSTEM, ...); the users' come as sent.
    users = [(e.getSid(), p.sid) for e, p in zip(listed, expected) if p.sid.startswith("S-1-5-21-")]
    assert users and all(got == want for got, want in users)
    assert ended["ErrorCode"] and victim.pid not in after


def test_rcm_public_gives_the_client(served: Served) -> None:
    host = served.servers["RDS01"]
    conn = login(host, served.port)
    try:
        with TSTS.RCMPublic(conn, host, False) as rcm:
            data = rcm.hRpcGetClientData(2)["ppBuff"]
            console = rcm.hRpcGetClientData(1)["ppBuff"]
    finally:
        conn.close()
    assert (data["ClientName"], data["ClientAddress"], data["UserName"], data["Domain"]) == (
        "PC-ALICE",
        "10.0.8.15",
        "alice",
        "CONTOSO",
    )
    assert (data["HRes"], data["VRes"], data["ClientBuildNumber"]) == (1920, 1080, 22621)
    assert (console["ClientName"], console["ClientAddress"]) == ("", "")


@pytest.mark.skipif(not ROOT, reason="tstool.py takes port 445 only, which needs root")
def test_tstool_tsdiscon_logoff_msg_tscon(farm_file: Path, sim_serve: Any) -> None:
    tstool = shutil.which("tstool.py") or str(Path(sys.executable).with_name("tstool.py"))
    if not Path(tstool).exists():
        pytest.skip("impacket's tstool.py is not installed")
    with sim_serve(farm_file) as s:
        target = f"CONTOSO/admin:{PASSWORD}@{s.servers['RDS01']}"

        def tstool_run(*args: str) -> list[str]:
            return tstool_run_all(tstool, target, *args)

        assert "Disconnecting SessionID: 2 ...OK" in tstool_run("tsdiscon", "-session", "2")
        assert "Signing-out SessionID: 4 ...OK" in tstool_run("logoff", "-session", "4")
        assert "Sending message to SessionID: 3 ...OK" in tstool_run(
            "msg", "-session", "3", "-title", "Hi", "-message", "Yo"
        )
        assert "Connecting SessionID 5 to 6 ...OK" in tstool_run(
            "tscon", "-source", "5", "-dest", "6", "-password", "DavePw1"
        )
        missing = tstool_run("tsdiscon", "-session", "99")
        assert missing[-2:] == ["Disconnecting SessionID: 99 ...FAIL", "[-] Could not find SessionID: 99"]
        rows = [line.split() for line in tstool_run("qwinsta")[4:] if line.strip()]
    ids = {next(word for word in row if word.isdigit()): row for row in rows}
    assert ids["2"][:3] == ["CONTOSO\\alice", "2", "Disconnected"]
    assert "4" not in ids
    assert ids["5"][:4] == ["RDP-Tcp#3", "CONTOSO\\dave", "5", "Active"]
    assert ids["6"][:3] == ["CONTOSO\\erin", "6", "Disconnected"]


def tstool_run_all(tstool: str, target: str, *args: str) -> list[str]:
    out = subprocess.run([sys.executable, tstool, target, *args], capture_output=True, text=True, timeout=WAIT)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


# -- logons ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "password", "domain"),
    [("admin", "wrong", "CONTOSO"), ("nobody", PASSWORD, "CONTOSO"), ("admin", PASSWORD, "FABRIKAM")],
)
def test_a_wrong_account_cannot_log_on(served: Served, user: str, password: str, domain: str) -> None:
    with pytest.raises(smbconnection.SessionError) as caught:
        login(served.servers["RDS01"], served.port, user, password, domain)
    assert caught.value.getErrorCode() == 0xC000006D  # STATUS_LOGON_FAILURE


def test_an_account_without_a_domain(served: Served) -> None:
    login(served.servers["RDS01"], served.port, "local", "x", "").close()


# -- bad input -------------------------------------------------------------------------------------


def run_wts(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(wts_command(*args), capture_output=True, text=True, timeout=WAIT)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"accounts": []}, 'farm.json: no "accounts": nobody could log on (docs/sim.md, "Accounts")'),
        ({"accounts": [{"user": "a\\b", "password": "x"}]}, "accounts[0].user: 'a\\\\b' contains '\\\\'"),
        ({"accounts": [{"user": "a", "password": "x", "pin": 1}]}, "accounts[0].pin: unknown field"),
        ({"accounts": [{"user": "a"}]}, "accounts[0]"),
        (
            {"accounts": [{"user": "a", "password": "x"}, {"user": "A", "password": "y"}]},
            "accounts[1]: A is already accounts[0] (names are case-insensitive)",
        ),
    ],
)
def test_bad_accounts_are_one_line(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    path = tmp_path / "farm.json"
    path.write_text(json.dumps({**FARM, **change}), encoding="utf-8")
    out = run_wts("sim", "serve", str(path), "--address", serve_address(), "--port", str(PORT))
    assert out.returncode == 2
    assert out.stdout == ""
    assert len(out.stderr.splitlines()) == 1, out.stderr
    assert message in out.stderr


def test_a_bad_farm_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "farm.json"
    path.write_text('{"servers": [}', encoding="utf-8")
    out = run_wts("sim", "serve", str(path))
    assert (out.returncode, out.stdout, len(out.stderr.splitlines())) == (2, "", 1)
    assert str(path) in out.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--address", "10.0.0.1"), "10.0.0.1 is not a loopback address"),
        (("--address", "rds01"), "'rds01' is not an IPv4 address"),
        (("--address", "127.255.255.253"), "run past 127.255.255.254"),
        (("--port", "0"), "0 is not from 1 to 65535"),
        (("--latency-ms", "-1"), "-1 is not from 0 to 1000000"),
        (("--latency-ms", "nan"), "nan is not from 0 to 1000000"),
    ],
)
def test_bad_options_are_one_line(farm_file: Path, args: tuple[str, ...], message: str) -> None:
    out = run_wts("sim", "serve", str(farm_file), *args)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_an_address_in_use_is_one_line(farm_file: Path, sim_serve: Any) -> None:
    address = serve_address()
    with sim_serve(farm_file, address=address):
        out = run_wts("sim", "serve", str(farm_file), "--address", address, "--port", str(PORT))
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.strip().endswith(
        f"cannot listen on {address}:{PORT}: the address is already in use (another wts sim serve, or Samba?)"
    )
    assert len(out.stderr.splitlines()) == 1


# -- the SMB side on its own -----------------------------------------------------------------------


def test_garbage_drops_the_connection_not_the_server(served: Served) -> None:
    host = served.servers["RDS01"]
    for junk in (
        b"\x00\xff\xff\xff" + b"x" * 64,
        b"\x00\x00\x00\x08\xfeSMBjunk",
        b"GET / HTTP/1.0\r\n\r\n",
        b"\x00\x00\x00\x40" + bytes(64),
    ):
        with socket.create_connection((host, served.port), timeout=WAIT) as sock:
            sock.sendall(junk)
            sock.shutdown(socket.SHUT_WR)
            assert sock.recv(65536) == b""  # closed without an answer
    assert 2 in qwinsta(host, served.port)


def test_latency_delays_every_answer(farm_file: Path, sim_serve: Any) -> None:
    with sim_serve(farm_file, "--latency-ms", "150") as s:
        host = s.servers["RDS01"]
        started = time.monotonic()
        login(host, s.port).close()  # negotiate x2 (SMB1 then SMB2), session setup x2: four answers
        elapsed = time.monotonic() - started
    assert elapsed >= 4 * 0.150


# -- a client built on smbprotocol (FSCTL_PIPE_TRANSCEIVE), as the tsts provider's ---------------------


class TransceivePipe:
    """An MS-TSTS pipe over smbprotocol: one FSCTL_PIPE_TRANSCEIVE per call, the rest of a long answer
    read after STATUS_BUFFER_OVERFLOW and further fragments with READ.  ``another(pipe)`` opens a
    second pipe on the same SMB session."""

    def __init__(
        self,
        host: str,
        port: int,
        pipe: str,
        max_output: int,
        *,
        of: TransceivePipe | None = None,
        dialect: int | None = None,
        encrypt: bool = False,
    ) -> None:
        import uuid

        from smbprotocol.connection import Connection
        from smbprotocol.open import (
            CreateDisposition,
            CreateOptions,
            FilePipePrinterAccessMask,
            ImpersonationLevel,
            Open,
            ShareAccess,
        )
        from smbprotocol.session import Session
        from smbprotocol.tree import TreeConnect

        self.host, self.port, self.max_output = host, port, max_output
        if of is None:
            self.conn = Connection(uuid.uuid4(), host, port)
            self.conn.connect(dialect, timeout=10)
            self.session = Session(self.conn, "CONTOSO\\admin", PASSWORD, require_encryption=encrypt)
            self.session.connect()
            self.tree = TreeConnect(self.session, rf"\\{host}\IPC$")
            self.tree.connect()
        else:
            self.conn, self.session, self.tree = of.conn, of.session, of.tree
        self.open = Open(self.tree, pipe)
        access = FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE
        share = ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE
        self.open.create(
            ImpersonationLevel.Impersonation,
            access,
            0,
            share,
            CreateDisposition.FILE_OPEN,
            CreateOptions.FILE_NON_DIRECTORY_FILE,
        )
        self.overflows = 0
        self.reads = 0

    def another(self, pipe: str) -> TransceivePipe:
        return TransceivePipe(self.host, self.port, pipe, self.max_output, of=self)

    def send_transceive(self, data: bytes) -> Any:
        """Send one FSCTL_PIPE_TRANSCEIVE without waiting: the request to hand to ``answer``."""
        from smbprotocol.ioctl import CtlCode, IOCTLFlags, SMB2IOCTLRequest

        req = SMB2IOCTLRequest()
        req["ctl_code"] = CtlCode.FSCTL_PIPE_TRANSCEIVE
        req["file_id"] = self.open.file_id
        req["max_output_response"] = self.max_output
        req["flags"] = IOCTLFlags.SMB2_0_IOCTL_IS_FSCTL
        req["buffer"] = data
        return self.conn.send(req, self.session.session_id, self.tree.tree_connect_id)

    def answer(self, request: Any, timeout: float | None = None) -> bytes:
        from smbprotocol.exceptions import BufferOverflow
        from smbprotocol.ioctl import SMB2IOCTLResponse

        try:
            header = self.conn.receive(request, timeout=timeout)
            more = False
        except BufferOverflow as exc:
            header, more = exc.header, True
            self.overflows += 1
        resp = SMB2IOCTLResponse()
        resp.unpack(header["data"].get_value())
        out = resp["buffer"].get_value()
        if more:
            out += self.open.read(0, 65536)  # the rest of this message
        return bytes(out)

    def transceive(self, data: bytes) -> bytes:
        return self.answer(self.send_transceive(data))

    def read(self) -> bytes:
        self.reads += 1
        return bytes(self.open.read(0, 65536))

    def close(self) -> None:
        self.conn.disconnect(True)


def rpc_bind(pipe: TransceivePipe, host: str, iface: Any, max_recv_frag: int = 4280) -> tuple[Any, int]:
    """Bind at packet privacy with NTLM (wts' ClientAuth): (the protector, the server's max_recv_frag)."""
    from wts._credentials import Credentials
    from wts._tsts import _frames, _pdu
    from wts._tsts._auth import ClientAuth

    auth = ClientAuth(Credentials("admin", "CONTOSO", PASSWORD), host)
    trailer = _pdu.SecTrailer(auth.auth_type, auth.auth_level, 0, 0)
    contexts = [_pdu.ContextElem(0, iface.syntax, (_pdu.NDR_SYNTAX,))]
    token = auth.step(None) or b""
    bind = _frames.encode_bind(1, contexts, max_recv_frag=max_recv_frag, auth=trailer, auth_value=token)
    ack = _pdu.parse(pipe.transceive(bind))
    assert isinstance(ack, _pdu.BindAck) and ack.results[0].result == _pdu.RESULT_ACCEPTANCE
    pipe.open.write(_frames.encode_auth3(1, trailer, auth.step(ack.auth_value) or b""), 0)
    return auth, ack.max_recv_frag  # ClientAuth is a _pdu.Protector (context id 0)


def rpc_response(pipe: TransceivePipe, protector: Any, first: bytes, max_recv_frag: int = 4280) -> bytes:
    """The stub of call 2's answer, from its first fragment and the ones read after it."""
    from wts._tsts import _pdu

    whole = _pdu.Reassembly(_pdu.RESPONSE, 2)
    fragment = first
    while True:
        pdu = _pdu.parse(fragment, protector)
        assert isinstance(pdu, _pdu.Response), pdu
        assert len(fragment) <= max_recv_frag
        stub_out = whole.add(pdu)
        if stub_out is not None:
            return stub_out
        fragment = pipe.read()


def rpc_call(pipe: TransceivePipe, host: str, iface: Any, opnum: int, stub: bytes) -> bytes:
    """Bind, make one call (call id 2), return its response stub."""
    from wts._tsts import _frames

    protector, max_frag = rpc_bind(pipe, host, iface)
    (request,) = _frames.request_fragments(2, 0, opnum, stub, max_frag=max_frag, protector=protector)
    return rpc_response(pipe, protector, pipe.transceive(request))


@pytest.mark.parametrize("max_output", [65536, 1024])
def test_smbprotocol_transceive_lists_who_is_where_in_one_call(served: Served, max_output: int) -> None:
    pytest.importorskip("smbprotocol")
    from wts._tsts import _calls

    host = served.servers["APP01"]
    pipe = TransceivePipe(host, served.port, _calls.TERMSRV_ENUMERATION.pipe, max_output)
    try:
        stub = rpc_call(pipe, host, _calls.TERMSRV_ENUMERATION, 10, _calls.encode_get_all_sessions_request(2))
    finally:
        pipe.close()
    result = _calls.decode_get_all_sessions_response(stub)
    assert (result.error, result.level, result.total, len(result.entries)) == (0, 2, 123, 123)
    users = [e for e in result.entries if e.user_name]
    assert len(users) == 120
    assert {e.host_name for e in result.entries} == {"APP01"}
    # The answer came as fragments of at most 4,280 bytes (the max_recv_frag bound); with 1,024 bytes
    # of output room the transceive's own fragment overflowed once, and the rest came with READ.
    assert pipe.reads >= len(stub) // 4280
    assert pipe.overflows == (0 if max_output == 65536 else 1)


def test_without_pyspnego_it_says_what_to_install(farm_file: Path) -> None:
    code = (
        "import sys; sys.modules['spnego'] = None; from wts._cli import main; "
        f"sys.exit(main(['sim', 'serve', {str(farm_file)!r}, '--address', {serve_address()!r}]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.splitlines() == [
        "wts: the tsts provider needs spnego, which is not installed: "
        "pip install 'wts[remote]' (smbprotocol and pyspnego)"
    ]


def test_a_call_waiting_on_the_farm_does_not_hold_up_the_connection() -> None:
    """Two pipes on one SMB session: the first call hangs in the sim (its server's first RPC hangs),
    the second is answered meanwhile; released, the first ends as the sim ends it: failed in transit
    (1726), which the server reports as the RPC runtime does, in a fault."""
    pytest.importorskip("smbprotocol")
    from wts._tsts import _calls, _frames, _pdu

    farm = {
        **FARM,
        "servers": [{"name": "SLOW", "fault": "hang", "fault_rpcs": 1, "sessions": FARM["servers"][0]["sessions"]}],
    }
    with in_process(farm) as servers:
        host = servers["SLOW"]
        first = TransceivePipe(host, PORT, _calls.TERMSRV_ENUMERATION.pipe, 65536)
        try:
            second = first.another(_calls.TERMSRV_SESSION.pipe)
            enum_auth, enum_frag = rpc_bind(first, host, _calls.TERMSRV_ENUMERATION)
            info_auth, info_frag = rpc_bind(second, host, _calls.TERMSRV_SESSION)
            stub = _calls.encode_get_all_sessions_request(2)
            (listing,) = _frames.request_fragments(2, 0, 10, stub, max_frag=enum_frag, protector=enum_auth)
            stub = _calls.encode_get_session_information_ex_request(2)
            (details,) = _frames.request_fragments(2, 0, 17, stub, max_frag=info_frag, protector=info_auth)
            hanging = first.send_transceive(listing)
            deadline = time.monotonic() + WAIT
            while not wts.sim.hung_calls() and time.monotonic() < deadline:
                time.sleep(0.01)
            assert wts.sim.hung_calls() == 1
            info = _calls.decode_get_session_information_ex_response(
                rpc_response(second, info_auth, second.answer(second.send_transceive(details), timeout=WAIT))
            )
            wts.sim.release_hangs()
            ended = _pdu.parse(first.answer(hanging, timeout=WAIT))
        finally:
            wts.sim.release_hangs()
            first.close()
    assert info.info is not None and info.info.user == "alice"
    assert isinstance(ended, _pdu.Fault) and ended.status == WinError.RPC_S_CALL_FAILED


def test_only_calls_to_a_server_that_waits_leave_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server with latency (or jitter, or a hang) is called in a thread, so its wait holds up no
    other server's answer; a server that never waits is called in the event loop itself."""
    from wts._tsts import _tsserver

    in_thread: dict[str, set[bool]] = {}
    original = _tsserver.Farm._server

    def spy(self: Any, name: str) -> Any:
        in_thread.setdefault(name, set()).add(threading.current_thread().name.startswith("wts-serve"))
        return original(self, name)

    monkeypatch.setattr(_tsserver.Farm, "_server", spy)
    farm = {**FARM, "servers": [*FARM["servers"], {"name": "LATE", "latency_ms": 1500, "sessions": []}]}
    with in_process(farm) as servers:
        late = threading.Thread(target=qwinsta, args=(servers["LATE"], PORT))
        late.start()
        try:
            deadline = time.monotonic() + WAIT
            while "LATE" not in in_thread and time.monotonic() < deadline:
                time.sleep(0.01)
            rows = qwinsta(servers["RDS01"], PORT)
            assert late.is_alive()  # RDS01 answered while LATE's listing still waited out its latency
        finally:
            late.join(WAIT)
    assert len(rows) == 9
    assert in_thread == {"LATE": {True}, "RDS01": {False}}


def test_the_servers_that_never_wait_are_read_from_the_farm() -> None:
    wts.sim.load(
        {
            "local": "Quick",
            "defaults": {"latency_ms": 0},
            "servers": [
                {"name": "Quick"},
                {"name": "SLOW", "latency_ms": 0.001},
                {"name": "JITTER", "jitter_ms": 1},
                {"name": "HANG", "fault": "hang"},
                {"name": "HANG-ONCE", "fault": "hang", "fault_rpcs": 1},
                {"name": "BUSY", "fault": "busy"},
            ],
        }
    )
    assert prompt_servers(wts._wts.sim_dump() or "") == (frozenset({"quick", "busy"}), "Quick")


@pytest.mark.parametrize(
    ("dialect", "encrypt", "expected"),
    [(None, False, 0x0311), (None, True, 0x0311), (0x0210, False, 0x0210), (0x0202, False, 0x0202)],
    ids=["3.1.1 signed", "3.1.1 encrypted", "2.1", "2.0.2"],
)
def test_every_dialect_smbprotocol_offers(served: Served, dialect: int | None, encrypt: bool, expected: int) -> None:
    pytest.importorskip("smbprotocol")
    from wts._tsts import _calls

    host = served.servers["RDS01"]
    pipe = TransceivePipe(host, served.port, _calls.TERMSRV_ENUMERATION.pipe, 1024, dialect=dialect, encrypt=encrypt)
    try:
        stub = rpc_call(pipe, host, _calls.TERMSRV_ENUMERATION, 10, _calls.encode_get_all_sessions_request(2))
        assert (pipe.conn.dialect, bool(pipe.session.encrypt_data)) == (expected, encrypt)
    finally:
        pipe.close()
    assert [e.user_name for e in _calls.decode_get_all_sessions_response(stub).entries][2:5] == [
        "alice",
        "bob",
        "carol",
    ]


def test_impacket_negotiates_3_1_1_from_its_smb1_opening(served: Served) -> None:
    host = served.servers["RDS01"]
    conn = smbconnection.SMBConnection(host, host, sess_port=served.port, timeout=10)
    try:
        assert conn.getDialect() == 0x0311
        conn.login("admin", PASSWORD, "CONTOSO")
        with TSTS.TermSrvSession(conn, host, False) as session:
            l1 = session.hRpcGetSessionInformationEx(3)["LSMSessionInfoExPtr"]["LSM_SessionInfo_Level1"]
    finally:
        conn.close()
    assert (l1["UserName"], l1["SessionFlags"]) == ("bob", 0)  # WTS_SESSIONSTATE_LOCK


def test_sigterm_stops_it_while_a_call_hangs(tmp_path: Path, sim_serve: Any) -> None:
    """A call stuck on a 'hang' server must not keep the process alive once it is told to stop."""
    path = tmp_path / "hang.json"
    path.write_text(json.dumps({**FARM, "servers": [{"name": "STUCK", "fault": "hang"}], "generate": []}))
    with sim_serve(path) as s:
        host = s.servers["STUCK"]
        conn = login(host, s.port)
        try:
            with TSTS.TermSrvEnumeration(conn, host, False) as lsm:
                handle = lsm.hRpcOpenEnum()
                conn.getSMBServer().set_timeout(1)  # the next call hangs in the sim: give up on it at once
                with pytest.raises(Exception):  # noqa: B017 - impacket's timeout surfaces as its own error types
                    lsm.hRpcGetEnumResult(handle, Level=1)
        finally:
            conn.close()
        status, err = s.stop(signal.SIGTERM)
    assert (status, err) == (0, "")


def test_accounts_are_read_and_never_shown() -> None:
    farm = compile_farm(FARM)
    assert [(a.domain, a.user, a.password) for a in farm.accounts] == [
        ("CONTOSO", "admin", PASSWORD),
        ("", "local", "x"),
    ]
    shown = repr(farm.accounts) + str(farm.accounts[0]) + repr(farm)
    assert PASSWORD not in shown and "admin" in shown
    assert compile_farm({"generate": FARM["generate"]}).accounts == ()


@pytest.mark.skipif(not ROOT or not shutil.which("setpriv"), reason="needs root and util-linux's setpriv")
def test_port_445_without_the_right_is_one_line(farm_file: Path) -> None:
    """Root without CAP_NET_BIND_SERVICE is refused port 445 as any other user is (EACCES)."""
    address = serve_address()
    cmd = ["setpriv", "--bounding-set", "-net_bind_service", *wts_command("sim", "serve", str(farm_file))]
    out = subprocess.run([*cmd, "--address", address], capture_output=True, text=True, timeout=WAIT)
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr.splitlines() == [
        f"wts: cannot listen on {address}:445: permission denied "
        "(ports below 1024 need root or CAP_NET_BIND_SERVICE; try --port 4450)"
    ]
