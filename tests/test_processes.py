"""Processes through the WTS API on the simulated farm: Server.processes (WTSEnumerateProcessesExW level 1
and the LookupAccountSidW of each distinct SID), Server.terminate_process (WTSTerminateProcess), the
engine's process jobs, and processes in farm files, dumps and generated farms (issue 14)."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest

import wts
from wts import _wts
from wts._farmfile import FarmFileError, compile_farm, parse_compiled
from wts._types import process_from_row
from wts._winerror import WinError

pytestmark = pytest.mark.usefixtures("engine_idle")

NOW = "2026-11-21T05:00:00Z"
GIB = 1024**3


def _farm(**extra: Any) -> dict[str, Any]:
    """Two servers; RDS01 has alice (session 2, four processes, one of them denied nothing special) and
    session 0 with SYSTEM's and NETWORK SERVICE's processes."""
    farm: dict[str, Any] = {
        "seed": 1,
        "now": NOW,
        "servers": [
            {
                "name": "RDS01",
                "sessions": [
                    {
                        "id": 0,
                        "station": "Services",
                        "state": "Disconnected",
                        "processes": [
                            {"name": "System", "pid": 4, "user": "SYSTEM", "threads": 150},
                            {"name": "svchost.exe", "pid": 900, "user": "NETWORK SERVICE"},
                            {"name": "Idle", "pid": 0, "user": ""},
                        ],
                    },
                    {
                        "id": 2,
                        "station": "RDP-Tcp#1",
                        "state": "Active",
                        "user": "alice",
                        "domain": "CONTOSO",
                        "processes": [
                            {
                                "name": "EXCEL.EXE",
                                "pid": 4242,
                                "threads": 24,
                                "handles": 1400,
                                "working_set": 200_000_000,
                                "peak_working_set": 250_000_000,
                                "pagefile": 150_000_000,
                                "user_time": 12.5,
                                "kernel_time": 0.25,
                            },
                            {"name": "explorer.exe"},
                            {"name": "notepad.exe", "user": "CONTOSO\\bob"},
                            {"name": "dwm.exe", "user": "DWM-2"},
                        ],
                    },
                ],
            },
            {"name": "RDS02", "sessions": [{"id": 3, "state": "Active", "user": "bob", "domain": "CONTOSO"}]},
            {"name": "DOWN", "fault": "unreachable"},
        ],
        **extra,
    }
    return farm


@pytest.fixture
def procs() -> wts.sim.CompiledFarm:
    return wts.sim.load(_farm())


def _by_pid(processes: list[wts.Process]) -> dict[int, wts.Process]:
    return {p.pid: p for p in processes}


@pytest.mark.parametrize("timeout", [30.0, None], ids=["engine", "direct"])
def test_processes_fields(procs: object, timeout: float | None) -> None:
    with wts.Server("RDS01", provider="sim", timeout=timeout) as server:
        got = _by_pid(server.processes())
    assert len(got) == 7
    excel = got[4242]
    assert excel == wts.Process(
        "RDS01",
        2,
        4242,
        "EXCEL.EXE",
        "alice",
        "CONTOSO",
        excel.sid,
        24,
        1400,
        150_000_000,
        150_000_000,
        200_000_000,
        250_000_000,
        timedelta(seconds=12.5),
        timedelta(seconds=0.25),
    )
    assert excel.sid.startswith("S-1-5-21-") and excel.sid.count("-") == 7
    # The session's user by default; another user of the same domain gets another RID of the same domain.
    explorer = next(p for p in got.values() if p.name == "explorer.exe")
    notepad = next(p for p in got.values() if p.name == "notepad.exe")
    assert (explorer.user, explorer.sid) == ("alice", excel.sid)
    assert notepad.user == "bob" and notepad.sid.rsplit("-", 1)[0] == excel.sid.rsplit("-", 1)[0] != notepad.sid
    assert (got[4].user, got[4].domain, got[4].sid, got[4].threads) == ("SYSTEM", "NT AUTHORITY", "S-1-5-18", 150)
    assert (got[900].user, got[900].domain, got[900].sid) == ("NETWORK SERVICE", "NT AUTHORITY", "S-1-5-20")
    assert (got[0].user, got[0].domain, got[0].sid) == ("", "", "")  # no SID at all
    dwm = next(p for p in got.values() if p.name == "dwm.exe")
    assert (dwm.domain, dwm.user, dwm.sid) == ("Window Manager", "DWM-2", "S-1-5-90-0-2")
    # Pids not given are free multiples of 4, unique on the server.
    assert all(pid % 4 == 0 for pid in got if pid != 4242)


def test_processes_cost_one_rpc_plus_one_lookup_per_distinct_unnamed_sid(procs: object) -> None:
    wts.sim.reset_counters()
    with wts.Server("RDS01", provider="sim") as server:
        server.processes()
    # The enumeration, then alice and bob (each once, though alice runs two processes); SYSTEM, NETWORK
    # SERVICE and DWM-2 are named without an RPC.
    assert wts.sim.rpc_counts()["RDS01"] == 3


def test_accounts_are_farm_wide() -> None:
    # bob's SID is the same on both servers, and RDS02 names it as RDS01 does.
    farm = _farm()
    farm["servers"][1]["sessions"][0]["processes"] = [{"name": "a.exe", "user": "bob"}]
    wts.sim.load(farm)
    with wts.Server("RDS02", provider="sim") as server:
        [row] = server.processes()
    with wts.Server("RDS01", provider="sim") as server:
        notepad = next(p for p in server.processes() if p.name == "notepad.exe")
    assert (row.user, row.domain, row.sid) == ("bob", "CONTOSO", notepad.sid)


def test_processes_of_an_unreachable_server_fail_with_its_code(procs: object) -> None:
    with wts.Server("DOWN", provider="sim") as server, pytest.raises(wts.ServerUnavailableError) as info:
        server.processes()
    assert info.value.winerror == WinError.RPC_S_SERVER_UNAVAILABLE
    assert info.value.function == "WTSEnumerateProcessesExW"


def test_terminate_process_removes_it_once(procs: object) -> None:
    with wts.Server("RDS01", provider="sim") as server:
        wts.sim.reset_counters()
        server.terminate_process(4242, 1)
        assert wts.sim.rpc_counts()["RDS01"] == 1
        assert 4242 not in _by_pid(server.processes())
        with pytest.raises(wts.WTSError) as info:
            server.terminate_process(4242)
    assert info.value.winerror == WinError.ERROR_INVALID_PARAMETER
    assert info.value.function == "WTSTerminateProcess"
    # The dump no longer has it either.
    names = [p["name"] for s in wts.sim.dump()["servers"][0]["sessions"] for p in s.get("processes", [])]
    assert "EXCEL.EXE" not in names and "explorer.exe" in names


def test_terminate_denied_in_a_session_that_denies_it() -> None:
    farm = _farm()
    farm["servers"][0]["sessions"][1]["deny"] = ["terminate"]
    wts.sim.load(farm)
    with wts.Server("RDS01", provider="sim") as server:
        with pytest.raises(wts.AccessDeniedError) as info:
            server.terminate_process(4242)
        assert info.value.winerror == WinError.ERROR_ACCESS_DENIED
        assert 4242 in _by_pid(server.processes())


@pytest.mark.parametrize("pid", [-1, 2**32, True, "4242", 4.0])
def test_terminate_refuses_bad_arguments_before_any_rpc(procs: object, pid: object) -> None:
    wts.sim.reset_counters()
    with wts.Server("RDS01", provider="sim") as server, pytest.raises(ValueError, match="process id"):
        server.terminate_process(pid)  # type: ignore[arg-type]
    assert wts.sim.rpc_total() == 0


def test_logoff_ends_the_sessions_processes(procs: object) -> None:
    with wts.Server("RDS01", provider="sim") as server:
        server.logoff(2)
        assert {p.session_id for p in server.processes()} == {0}


def test_engine_process_rows_are_the_handles_rows(procs: object) -> None:
    provider = _wts.get_provider("sim")
    handle = _wts.ServerHandle(provider, "RDS01")
    try:
        direct = handle.processes()
    finally:
        handle.close()
    engine = _wts.Engine(2)
    host = _wts.Host(provider, "RDS01")
    try:
        engine.processes(host, 7, 10.0)
        engine.terminate(host, 123456, 0, 8, 10.0)
        done: list[Any] = []
        while len(done) < 2:
            done += engine.wait(1.0)
    finally:
        engine.close()
    by_tag = {tag: (op, status, err, payload) for tag, op, status, err, payload, _ in done}
    assert by_tag[7] == (_wts.OP_PROCESSES, _wts.CALL_OK, 0, direct)
    assert by_tag[8][:3] == (_wts.OP_TERMINATE, _wts.CALL_FAILED, WinError.ERROR_INVALID_PARAMETER)
    assert [process_from_row("RDS01", r) for r in direct] == wts.Server("RDS01", provider="sim").processes()


def test_one_session_only(procs: object) -> None:
    handle = _wts.ServerHandle(_wts.get_provider("sim"), "RDS01")
    try:
        assert {r[0] for r in handle.processes(2)} == {2}
        assert handle.processes(77) == []  # no such session: nothing runs there
        assert len(handle.processes(_wts.ANY_SESSION)) == 7
    finally:
        handle.close()


# --- farm files ---------------------------------------------------------------------------------


def test_dump_and_load_round_trip(procs: wts.sim.CompiledFarm) -> None:
    dumped = wts.sim.dump()
    excel = next(p for p in dumped["servers"][0]["sessions"][1]["processes"] if p["name"] == "EXCEL.EXE")
    assert excel["user"] == "CONTOSO\\alice" and excel["user_time"] == 12.5 and excel["kernel_time"] == 0.25
    text = compile_farm(parse_compiled(procs.text)).text
    assert text == procs.text
    again = wts.sim.load(json.loads(json.dumps(dumped)))
    assert again.text == procs.text


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        ({"name": ""}, "processes[0].name", "must not be empty"),
        ({"name": "x" * 261}, "processes[0].name", "at most 260"),
        ({"pid": -4}, "processes[0].pid", "must be between 0 and 4294967295"),
        ({"threads": 2**32}, "processes[0].threads", "4294967295"),
        ({"working_set": 10, "peak_working_set": 5}, "processes[0].peak_working_set", "at least working_set (10)"),
        ({"user_time": -1}, "processes[0].user_time", "between 0 and"),
        ({"sid": "S-1-5-x"}, "processes[0].sid", "is not a SID"),
        ({"user": "", "sid": "S-1-5-21-1-2-3-500"}, "processes[0].sid", "needs an account"),
        ({"user": "NOBODY\\"}, "processes[0].user", "names no user"),
        ({"color": 1}, "processes[0]", "color"),
        ({"pid": 900}, "processes[0].pid", "already used by"),
    ],
)
def test_bad_processes_are_one_line_errors(change: dict[str, Any], path: str, reason: str) -> None:
    farm = _farm()
    process = farm["servers"][0]["sessions"][1]["processes"][0]
    process.update(change)
    with pytest.raises(FarmFileError) as info:
        compile_farm(farm)
    message = str(info.value)
    assert "\n" not in message and reason in message
    assert path in message


def test_a_sid_names_one_account_farm_wide() -> None:
    farm = _farm()
    farm["servers"][1]["sessions"][0]["processes"] = [{"name": "a.exe", "user": "bob", "sid": "S-1-5-18"}]
    with pytest.raises(FarmFileError, match="S-1-5-18 is already the SID of NT AUTHORITY\\\\SYSTEM"):
        compile_farm(farm)


def test_the_sim_refuses_a_duplicate_pid_in_compiled_text(procs: wts.sim.CompiledFarm) -> None:
    text = procs.text.replace("process\t900\t", "process\t4\t")
    with pytest.raises(ValueError, match="process id 4 is used twice"):
        _wts.sim_load(text)


# --- generated farms ------------------------------------------------------------------------------


def test_generated_servers_have_windows_processes_and_some_excel() -> None:
    wts.sim.generate(servers=3, sessions=20, seed=5, now=NOW)
    seen = []
    for name in ("RDS01", "RDS02", "RDS03"):
        with wts.Server(name, provider="sim") as server:
            sessions = {s.id: s for s in server.sessions()}
            processes = server.processes()
        seen += processes
        zero = [p.name for p in processes if p.session_id == 0]
        assert zero[:6] == ["System", "smss.exe", "csrss.exe", "wininit.exe", "services.exe", "lsass.exe"]
        assert zero.count("svchost.exe") >= 6
        assert len({p.pid for p in processes}) == len(processes)
        for sid, session in sessions.items():
            mine = [p for p in processes if p.session_id == sid]
            if session.user:
                names = {p.name for p in mine}
                assert {"csrss.exe", "winlogon.exe", "dwm.exe", "fontdrvhost.exe", "explorer.exe"} <= names
                assert ("rdpclip.exe" in names) == (session.state is wts.ConnectState.ACTIVE)
                assert all(p.user == session.user for p in mine if p.name == "explorer.exe")
    assert sum(p.name == "EXCEL.EXE" for p in seen) >= 5
    # Deterministic: the same seed gives the same processes.
    again = wts.sim.generate(servers=3, sessions=20, seed=5, now=NOW)
    assert again.text.count("EXCEL.EXE") == sum(p.name == "EXCEL.EXE" for p in seen)


def test_generated_sessions_are_as_before_processes_or_not() -> None:
    spec = {"seed": 9, "now": NOW, "generate": [{"prefix": "R", "count": 2, "sessions": 5}]}
    with_procs = compile_farm(spec).text
    spec["generate"][0]["processes"] = False
    without = compile_farm(spec).text
    assert "\nprocess\t" in with_procs and "\nprocess\t" not in without
    assert [x for x in with_procs.split("\n") if not x.startswith("process\t")] == without.split("\n")


def test_the_process_limit_is_checked_before_generating() -> None:
    spec = {"now": NOW, "generate": [{"prefix": "R", "count": 20000, "sessions": 20}]}
    with pytest.raises(FarmFileError) as info:
        compile_farm(spec)
    assert "generate[0].processes" in str(info.value) and "2,000,000" in str(info.value)
    spec["generate"][0]["processes"] = False
    assert compile_farm(spec).sessions == 20000 * 23


# --- the engine's guarantees hold for the new ops ---------------------------------------------------


def _collect(engine: _wts.Engine, n: int) -> list[tuple[int, int, int, int, Any, float]]:
    out: list[tuple[int, int, int, int, Any, float]] = []
    while len(out) < n:
        out += engine.wait(1.0)
    return out


@pytest.mark.parametrize("fault", ["hang", "slow"])
@pytest.mark.parametrize("op", ["processes", "terminate"])
def test_engine_process_ops_have_a_deadline_and_free_what_comes_back_late(op: str, fault: str) -> None:
    # "slow": the call succeeds after its deadline, and its worker frees the listing (or the process is
    # gone: the outcome of an abandoned action is unknown); the leak check after the test proves it.
    # The owner waits longer than the deadline in one wait: it must be woken at the deadline, even when
    # the call started after it began to wait.
    farm = _farm()
    if fault == "hang":
        farm["servers"][0]["fault"] = "hang"
    else:
        farm["servers"][0]["latency_ms"] = 1500
    wts.sim.load(farm)
    engine = _wts.Engine(1)
    host = _wts.Host(_wts.get_provider("sim"), "RDS01")
    try:
        if op == "processes":
            engine.processes(host, 1, 0.05, 0)  # session 0: SYSTEM's and NETWORK SERVICE's, no lookups
        else:
            engine.terminate(host, 4242, 0, 1, 0.05)
        started = time.monotonic()
        [(_, got_op, status, err, payload, elapsed)] = engine.wait(1.2)
        waited = time.monotonic() - started
        expected = _wts.OP_PROCESSES if op == "processes" else _wts.OP_TERMINATE
        assert (got_op, status, err, payload) == (expected, _wts.CALL_TIMEDOUT, WinError.ERROR_TIMEOUT, None)
        assert 0.04 <= elapsed < 1.0 and waited < 1.0
        assert wts.sim.hung_calls() == (1 if fault == "hang" else 0)
    finally:
        engine.close()
        wts.sim.release_hangs()


def test_engine_process_ops_can_be_cancelled_unsent(procs: object) -> None:
    engine = _wts.Engine(1)
    host = _wts.Host(_wts.get_provider("sim"), "RDS01")
    try:
        host.kill()
        wts.sim.reset_counters()
        engine.processes(host, 1, 5.0)
        engine.terminate(host, 4242, 0, 2, 5.0)
        done = _collect(engine, 2)
        assert sorted((tag, status) for tag, _, status, *_ in done) == [
            (1, _wts.CALL_CANCELLED),
            (2, _wts.CALL_CANCELLED),
        ]
        assert wts.sim.rpc_total() == 0
    finally:
        engine.close()
    with wts.Server("RDS01", provider="sim") as server:
        assert 4242 in _by_pid(server.processes())


def test_server_processes_times_out_on_a_hung_server() -> None:
    farm = _farm()
    farm["servers"][0]["fault"] = "hang"
    wts.sim.load(farm)
    try:
        with wts.Server("RDS01", provider="sim", timeout=0.05) as server, pytest.raises(wts.WTSTimeoutError) as info:
            server.processes()
        assert info.value.function == "WTSEnumerateProcessesExW"
    finally:
        wts.sim.release_hangs()
