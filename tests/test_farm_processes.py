"""``Farm.processes`` and ``Farm.terminate`` (issue 14, item 2) on the simulated farm: the filters,
exactly one Outcome per selected process (with injected faults and deadlines too), the protected
processes and the override, the caller's own session, the dry run, targets re-checked against a
fresh listing (Windows reuses pids), and the streaming form.

What a run did is checked independently: each server's processes are read back with ``wts.Server``.
Nothing here asserts how fast anything is; SLACK only bounds "it finished".
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import wts
from wts import ActionResult, Outcome, Process, Progress, Reason

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
LOCAL = "RDS01"
OWN_ID = 2
TIMEOUT = 0.3  # a deadline where a server hangs
SLACK = 5.0
SESSION_0 = "a process of session 0 (services)"

pytestmark = pytest.mark.usefixtures("engine_idle")  # no engine thread outlives a test (conftest)


def ago(delta: timedelta) -> str:
    return (NOW - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def user(sid: int, name: str, *images: str, station: str | None = None, **extra: Any) -> dict[str, Any]:
    """A user's active session with processes of ``images``: the system's own run as SYSTEM, the
    others as the session's user."""
    return {
        "id": sid,
        "state": "Active",
        "station": f"RDP-Tcp#{sid}" if station is None else station,
        "user": name,
        "domain": "CONTOSO",
        "logon": ago(timedelta(hours=3)),
        "connect": ago(timedelta(hours=3)),
        "last_input": ago(timedelta(hours=2)),
        "processes": [
            {"name": i, "user": "NT AUTHORITY\\SYSTEM"} if i.casefold() in wts.SYSTEM_IMAGES else {"name": i}
            for i in images
        ],
        **extra,
    }


def services(*images: str) -> dict[str, Any]:
    """Session 0, with its processes running as SYSTEM."""
    return {"id": 0, "station": "Services", "state": "Disconnected", "processes": [{"name": i} for i in images]}


def server(name: str, *sessions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "sessions": list(sessions), **extra}


def standard(name: str, own_user: str = "me", **extra: Any) -> dict[str, Any]:
    """A server: session 0 (services), session 2 (``own_user``, as the caller's own on RDS01) and session
    3 (bob), each user session with its share of the system's own processes."""
    return server(
        name,
        services("smss.exe", "csrss.exe", "services.exe", "lsass.exe", "svchost.exe", "svchost.exe", "spoolsv.exe"),
        user(OWN_ID, own_user, "csrss.exe", "winlogon.exe", "explorer.exe", "EXCEL.EXE", "notepad.exe"),
        user(3, "bob", "csrss.exe", "winlogon.exe", "dwm.exe", "explorer.exe", "EXCEL.EXE", "chrome.exe", "chrome.exe"),
        **extra,
    )


def load(*servers: dict[str, Any], **top: Any) -> list[str]:
    farm = {"seed": 5, "now": NOW.isoformat(), "local": LOCAL, "current_session": OWN_ID, **top}
    wts.sim.load({**farm, "servers": list(servers)})
    wts.sim.reset_counters()
    return [s["name"] for s in servers]


def listed(name: str) -> list[Process]:
    with wts.Server(name, provider="sim") as srv:
        return srv.processes()


def pids_of(name: str, image: str | None = None, session: int | None = None) -> set[int]:
    return {
        p.pid
        for p in listed(name)
        if (image is None or p.name.casefold() == image.casefold()) and (session is None or p.session_id == session)
    }


WELL_KNOWN = {"S-1-5-18", "S-1-5-19", "S-1-5-20"}  # SYSTEM, LOCAL SERVICE, NETWORK SERVICE


def listing_rpcs(name: str) -> int:
    """What listing ``name``'s processes costs: one WTSEnumerateProcessesExW, and one LookupAccountSidW
    per distinct SID that is not a well-known service account's."""
    return 1 + len({p.sid for p in listed(name) if p.sid and p.sid not in WELL_KNOWN})


def key(o: Outcome) -> tuple[str, int]:
    assert o.pid is not None
    return (o.server, o.pid)


def by_process(result: ActionResult) -> dict[tuple[str, int], Outcome]:
    """Outcomes by (server, pid), checking that no process got two."""
    out = {key(o): o for o in result}
    assert len(out) == len(result.outcomes), "a process got two outcomes"
    for o in result:
        assert o.action == "terminate" and o.image, o
    return out


@pytest.fixture
def farm() -> wts.Farm:
    """RDS01 (local; the caller is 'me' in session 2) and RDS02 (session 2 is dave's)."""
    names = load(standard(LOCAL), standard("RDS02", own_user="dave"))
    return wts.Farm(names, provider="sim")


# --- listing -----------------------------------------------------------------------------------------


def test_processes_lists_every_server_one_listing_each(farm: wts.Farm) -> None:
    result = farm.processes()
    assert result.failures == [] and not result.interrupted
    for name in farm.servers:
        mine = sorted((p for p in result if p.server == name), key=lambda p: p.pid)
        assert mine == sorted((p._replace(server=name) for p in listed(name)), key=lambda p: p.pid)
    assert len(result) == len(listed(LOCAL)) + len(listed("RDS02"))
    assert repr(result) == f"<ProcessesResult {len(result)} processes, 0 failures>"


def test_processes_costs_one_listing_per_server_and_a_lookup_per_account(farm: wts.Farm) -> None:
    cost = {name: listing_rpcs(name) for name in farm.servers}
    assert cost == {LOCAL: 3, "RDS02": 3}  # me or dave, and bob; SYSTEM's name needs no RPC
    wts.sim.reset_counters()
    farm.processes(name="excel")
    assert wts.sim.rpc_counts() == {**cost, "*": 0}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            {"name": "excel"},
            {(LOCAL, "EXCEL.EXE", 2), (LOCAL, "EXCEL.EXE", 3), ("RDS02", "EXCEL.EXE", 2), ("RDS02", "EXCEL.EXE", 3)},
        ),
        ({"name": "Excel.exe", "session": 3}, {(LOCAL, "EXCEL.EXE", 3), ("RDS02", "EXCEL.EXE", 3)}),
        (
            {"name": ["chr*", "NOTEPAD"]},
            {(s, i, n) for s in (LOCAL, "RDS02") for i, n in (("chrome.exe", 3), ("notepad.exe", 2))},
        ),
        ({"user": "bob", "name": "e*"}, {(s, i, 3) for s in (LOCAL, "RDS02") for i in ("explorer.exe", "EXCEL.EXE")}),
        (
            {"user": "CONTOSO\\dave", "name": "*.exe", "session": [2, 3]},
            {("RDS02", i, 2) for i in ("explorer.exe", "EXCEL.EXE", "notepad.exe")},
        ),
        ({"user": "SYSTEM", "name": "lsass*"}, {(s, "lsass.exe", 0) for s in (LOCAL, "RDS02")}),
        ({"name": "nothing-like-this"}, set()),
    ],
)
def test_processes_filters(farm: wts.Farm, filters: dict[str, Any], expected: set[tuple[str, str, int]]) -> None:
    got = {(p.server, p.name, p.session_id) for p in farm.processes(**filters)}
    assert got == expected


def test_pid_filter_and_images_compared_without_case(farm: wts.Farm) -> None:
    excel = sorted(pids_of("RDS02", "excel.exe"))
    got = farm.processes(pid=excel[0])
    assert {(p.server, p.pid) for p in got} == {("RDS02", excel[0])} | (
        {(LOCAL, excel[0])} if excel[0] in pids_of(LOCAL) else set()
    )
    assert {p.name for p in farm.processes(name="EXCEL.exe")} == {"EXCEL.EXE"}


def test_bad_filters_are_refused_before_any_rpc(farm: wts.Farm) -> None:
    wts.sim.reset_counters()
    for bad, error in [
        ({"image": "excel"}, TypeError),
        ({"name": 3}, TypeError),
        ({"name": ""}, TypeError),
        ({"session": "two"}, TypeError),
        ({"session": -1}, ValueError),
        ({"pid": 2**32}, ValueError),
        ({"pid": True}, ValueError),
        ({"state": "Active"}, TypeError),
    ]:
        with pytest.raises(error):
            farm.processes(**bad)
        with pytest.raises(error):
            farm.terminate(dry_run=True, **bad)
    with pytest.raises(ValueError, match="pid= names a process of one server"):
        farm.terminate(pid=4)
    with pytest.raises(ValueError, match="exit_code"):
        farm.terminate(name="excel", exit_code=-1)
    with pytest.raises(ValueError, match="for terminate"):
        farm.stream("processes", allow_system=True)
    with pytest.raises(ValueError, match="for processes"):
        farm.stream("logoff", allow_system=True)
    with pytest.raises(TypeError, match="not a process"):
        farm.terminate([(LOCAL, 4)])
    with pytest.raises(ValueError, match="not a server of this farm"):
        farm.terminate([_process("OTHER", 4)])
    assert wts.sim.rpc_total() == 0


def _process(server: str, pid: int, name: str = "EXCEL.EXE", session: int = 3, user: str = "bob") -> Process:
    zero = timedelta(0)
    return Process(server, session, pid, name, user, "CONTOSO", "", 1, 0, 0, 0, 0, 0, zero, zero)


def test_a_server_that_fails_is_one_failure_the_others_answer() -> None:
    names = load(standard(LOCAL), standard("DOWN", fault="unreachable"), standard("BUSY", fault="busy"))
    result = wts.Farm(names, provider="sim", retries=1, backoff=0).processes(name="excel")
    assert {p.server for p in result} == {LOCAL}
    failures = {f.server: f for f in result.failures}
    assert set(failures) == {"DOWN", "BUSY"}
    assert failures["BUSY"].error.winerror == wts._winerror.WinError.RPC_S_SERVER_TOO_BUSY
    assert failures["BUSY"].error.function == "WTSEnumerateProcessesExW"
    assert all(f.session_id is None for f in result.failures)


# --- terminate: done, protected, own session ----------------------------------------------------------


def test_terminate_ends_exactly_the_selection_one_outcome_each(farm: wts.Farm) -> None:
    before = {name: listed(name) for name in farm.servers}
    result = farm.terminate(name="excel", session=3)
    outcomes = by_process(result)
    expected = {
        (p.server or name, p.pid): p
        for name in farm.servers
        for p in before[name]
        if p.name == "EXCEL.EXE" and p.session_id == 3
    }
    assert set(outcomes) == {(name, p.pid) for (name, _), p in expected.items()}
    for (name, pid), o in outcomes.items():
        assert (o.status, o.why, o.winerror, o.session_id, o.image, o.user) == (
            "done",
            Reason.DONE,
            None,
            3,
            "EXCEL.EXE",
            "bob",
        )
        assert pid not in pids_of(name)
    for name in farm.servers:  # nothing else changed
        gone = {pid for (n, pid) in outcomes if n == name}
        assert {p.pid for p in listed(name)} == {p.pid for p in before[name]} - gone
    assert result.ok and result.failures == []


def test_terminate_costs_one_listing_per_server_and_one_call_per_process(farm: wts.Farm) -> None:
    cost = {name: listing_rpcs(name) for name in farm.servers}
    wts.sim.reset_counters()
    result = farm.terminate(name="chrome", allow_own=True)  # (allow_own: no look at the own session)
    assert result.counts()["done"] == 4
    assert wts.sim.rpc_counts() == {LOCAL: cost[LOCAL] + 2, "RDS02": cost["RDS02"] + 2, "*": 0}


def test_protected_processes_are_skipped_and_say_why(farm: wts.Farm) -> None:
    before = {name: listed(name) for name in farm.servers}
    result = farm.terminate(session=[0, 3], allow_own=True)
    outcomes = by_process(result)
    for name in farm.servers:
        for p in before[name]:
            if p.session_id not in (0, 3):
                assert (name, p.pid) not in outcomes
                continue
            o = outcomes[(name, p.pid)]
            if p.session_id == 0:
                assert (o.status, o.why) == ("skipped", Reason.SYSTEM_SESSION), o
                assert o.reason == f"{SESSION_0} is never touched unless named explicitly with allow_system=True"
            elif p.name.casefold() in wts.SYSTEM_IMAGES:
                assert (o.status, o.why) == ("skipped", Reason.SYSTEM_PROCESS), o
                assert (
                    o.reason
                    == f"a system process ({p.name}) is never touched unless named explicitly with allow_system=True"
                )
            else:
                assert (o.status, o.why) == ("done", Reason.DONE), o
    assert Reason.SYSTEM_PROCESS.protected and Reason.SYSTEM_PROCESS.system
    survivors = {p.name for p in listed("RDS02") if p.session_id == 3}
    assert survivors == {"csrss.exe", "winlogon.exe", "dwm.exe"}


def test_the_override_needs_the_process_named_explicitly(farm: wts.Farm) -> None:
    # allow_system with a glob, or with only a session: still skipped, saying what would do it.
    for filters in ({"name": "svc*"}, {"name": "*", "session": 0}):
        result = farm.terminate(allow_system=True, allow_own=True, dry_run=True, **filters)
        assert result.outcomes and all(o.status == "skipped" for o in result), filters
        assert all(o.why in (Reason.SYSTEM_SESSION, Reason.SYSTEM_PROCESS) for o in result)
        assert all("only when named explicitly, by its pid or its exact image name" in o.reason for o in result)
    # Without the override, the exact name is not enough.
    result = farm.terminate(name="spoolsv.exe", allow_own=True)
    assert {(o.status, o.why) for o in result} == {("skipped", Reason.SYSTEM_SESSION)}
    # The exact name (with or without .exe) and the override: ended.
    result = farm.terminate(name="spoolsv", allow_system=True, allow_own=True)
    assert {(o.server, o.status, o.session_id) for o in result} == {(LOCAL, "done", 0), ("RDS02", "done", 0)}
    assert not pids_of(LOCAL, "spoolsv.exe")
    # By pid on one server: ended; its namesakes elsewhere untouched.
    dwm, local_dwm = sorted(pids_of("RDS02", "dwm.exe")), pids_of(LOCAL, "dwm.exe")
    one = wts.Farm(["RDS02"], provider="sim").terminate(pid=dwm[0], allow_system=True)
    assert [(o.status, o.image) for o in one] == [("done", "dwm.exe")]
    assert pids_of(LOCAL, "dwm.exe") == local_dwm and dwm[0] not in pids_of("RDS02")


def test_own_session_is_skipped_only_on_the_server_it_is_on(farm: wts.Farm) -> None:
    """Session 2 is the caller's on RDS01 and dave's on RDS02: one WTSSessionInfoEx each tells them apart."""
    cost = {name: listing_rpcs(name) for name in farm.servers}
    wts.sim.reset_counters()
    result = farm.terminate(name="notepad")
    # RDS01: the listing, the own-session query, the look-alike's query; RDS02: listing, query, terminate.
    assert wts.sim.rpc_counts() == {LOCAL: cost[LOCAL] + 2, "RDS02": cost["RDS02"] + 2, "*": 0}
    outcomes = {o.server: o for o in result}
    assert len(result.outcomes) == 2
    own = outcomes[LOCAL]
    assert (own.status, own.why, own.session_id) == ("skipped", Reason.OWN_SESSION, OWN_ID)
    assert own.reason == "runs in your own session (pass allow_own=True to include it)"
    assert (outcomes["RDS02"].status, outcomes["RDS02"].why) == ("done", Reason.DONE)
    assert pids_of(LOCAL, "notepad.exe") and not pids_of("RDS02", "notepad.exe")
    again = farm.terminate(name="notepad", allow_own=True)
    assert [(o.server, o.status) for o in again] == [(LOCAL, "done")]


# --- dry run, targets, pid reuse -------------------------------------------------------------------


def test_dry_run_sends_no_terminate_and_plans_what_the_run_does(farm: wts.Farm) -> None:
    before = {name: listed(name) for name in farm.servers}
    cost = {name: listing_rpcs(name) for name in farm.servers}
    wts.sim.reset_counters()
    plan = farm.terminate(name=["excel", "csrss.exe"], dry_run=True)
    # One listing per server; the own-session query, and the look-alike check of session 2 on each.
    assert wts.sim.rpc_counts() == {LOCAL: cost[LOCAL] + 2, "RDS02": cost["RDS02"] + 1, "*": 0}
    assert {name: listed(name) for name in farm.servers} == before
    planned = plan.with_status("planned")
    assert {(o.server, o.session_id) for o in planned} == {(LOCAL, 3), ("RDS02", 2), ("RDS02", 3)}
    assert all(o.why is Reason.DRY_RUN and o.reason == "dry run: would end the process" for o in planned)

    done = farm.terminate(planned)  # the plan, carried out: exactly its processes
    assert {key(o): o.status for o in done} == {key(o): "done" for o in planned}
    for o in planned:
        assert o.pid not in pids_of(o.server)


def test_targets_are_checked_against_a_fresh_listing(farm: wts.Farm) -> None:
    """Process records from an earlier listing: a process gone is skipped as gone; a pid that now runs
    another program (Windows reuses pids) as changed, and that program is left alone."""
    procs = farm.processes(name=["chrome", "notepad"], session=3)
    assert len(procs) == 4
    chrome = [p for p in procs if p.server == "RDS02"]
    gone, reused = chrome[0], chrome[1]
    with wts.Server("RDS02", provider="sim") as srv:
        srv.terminate_process(gone.pid)
    state = wts.sim.dump()
    for s in state["servers"]:
        if s["name"] == "RDS02":
            for session in s["sessions"]:
                for p in session.get("processes", []):
                    if p.get("pid") == reused.pid:
                        p["name"] = "payroll.exe"
    wts.sim.load(state)
    result = farm.terminate(procs, allow_own=True)
    outcomes = by_process(result)
    assert set(outcomes) == {(p.server, p.pid) for p in procs}
    g, r = outcomes[("RDS02", gone.pid)], outcomes[("RDS02", reused.pid)]
    assert (g.status, g.why, g.reason, g.image) == ("skipped", Reason.GONE, "no longer exists", "chrome.exe")
    assert (r.status, r.why, r.image) == ("skipped", Reason.CHANGED, "payroll.exe")
    assert (
        r.reason
        == "pid reused since it was listed: now payroll.exe in session 3 (bob), was chrome.exe in session 3 (bob)"
    )
    assert reused.pid in pids_of("RDS02")
    assert [o.status for o in outcomes.values() if o.server == LOCAL] == ["done", "done"]


def test_named_targets_on_a_server_that_fails_are_not_reached() -> None:
    names = load(standard(LOCAL), standard("RDS02"))
    farm = wts.Farm(names, provider="sim", timeout=TIMEOUT, retries=0)
    procs = farm.processes(name="excel")
    state = wts.sim.dump()
    for s in state["servers"]:
        if s["name"] == "RDS02":
            s["fault"] = "unreachable"
    wts.sim.load(state)
    result = farm.terminate(procs, allow_own=True)
    outcomes = by_process(result)
    assert set(outcomes) == {(p.server, p.pid) for p in procs}
    for (name, _), o in outcomes.items():
        if name == "RDS02":
            assert (o.status, o.why, o.winerror) == ("failed", Reason.NOT_REACHED, 1722), o
        else:
            assert o.status == "done"
    assert [f.server for f in result.failures] == ["RDS02"]


# --- faults and deadlines: exactly once -------------------------------------------------------------


def faulty_farm(**fault: Any) -> tuple[wts.Farm, Any, list[Progress]]:
    """LOCAL (fast) and RDS02 (150 ms a call), each with two stuck.exe in session 3 running as SYSTEM (a
    well-known SID: listing them is one RPC, no account lookup); and a progress callback that reloads
    the farm with ``fault`` on RDS02 while RDS02's listing is in flight.  That call saw the farm before
    the reload, so it still succeeds: the fault hits the terminate calls after it."""
    stuck = {**user(3, "bob"), "processes": [{"name": "stuck.exe", "user": "NT AUTHORITY\\SYSTEM"}] * 2}
    servers = [server(LOCAL, user(OWN_ID, "me"), stuck), server("RDS02", stuck, latency_ms=150)]
    names = load(*servers)
    faulty = [servers[0], {**servers[1], **fault}]
    top = {"seed": 5, "now": NOW.isoformat(), "local": LOCAL, "current_session": OWN_ID}
    fired: list[Progress] = []

    def reload(p: Progress) -> None:
        if not fired and wts.sim.rpc_counts().get("RDS02", 0) >= 1 and p.servers_done < p.servers_total:
            fired.append(p)
            wts.sim.load({**top, "servers": faulty})

    return wts.Farm(names, provider="sim", timeout=TIMEOUT, retries=2, backoff=0.01), reload, fired


def test_a_busy_answer_to_terminate_is_retried_and_ends_it_once() -> None:
    farm, reload, fired = faulty_farm(fault="busy", fault_rpcs=2)
    result = farm.terminate(name="stuck", allow_own=True, progress=reload)
    assert fired
    outcomes = by_process(result)
    assert len(outcomes) == 4 and all(o.status == "done" for o in outcomes.values()), outcomes
    # (A load starts each server's count afresh: these are the calls after the reload.)
    assert wts.sim.rpc_counts()["RDS02"] == 2 * 2  # each terminate: refused (1723), then done
    assert not pids_of("RDS02", "stuck.exe")  # (LOCAL's were ended before the reload brought them back)


def test_a_terminate_that_hangs_is_unknown_not_failed_and_the_rest_still_report() -> None:
    farm, reload, fired = faulty_farm(fault="hang")
    started = time.monotonic()
    result = farm.terminate(name="stuck", allow_own=True, progress=reload)
    assert time.monotonic() - started < SLACK
    assert fired
    outcomes = by_process(result)
    assert len(outcomes) == 4
    on2 = [o for o in outcomes.values() if o.server == "RDS02"]
    assert {(o.status, o.why, o.winerror) for o in on2} == {("unknown", Reason.NO_ANSWER, 1460)}
    assert all("outcome unknown" in o.reason for o in on2)
    assert all(o.status == "done" for o in outcomes.values() if o.server == LOCAL)
    assert [(f.server, f.error.winerror) for f in result.failures] == [("RDS02", 1460)]
    assert len(result.unknown) == 2 and not result.ok
    wts.sim.release_hangs()


def test_a_terminate_failed_in_transit_is_not_retried() -> None:
    """1726 after the call went out: it may have run; it is not sent again, and it says so."""
    farm, reload, fired = faulty_farm(fault="hang")
    farm.timeout = SLACK

    def release_soon(p: Progress) -> None:
        reload(p)
        if fired and wts.sim.hung_calls() == 2:
            wts.sim.release_hangs()  # each hung call fails with RPC_S_CALL_FAILED (1726)

    result = farm.terminate(name="stuck", allow_own=True, progress=release_soon)
    outcomes = by_process(result)
    assert len(outcomes) == 4
    on2 = [o for o in outcomes.values() if o.server == "RDS02"]
    assert {(o.status, o.why, o.winerror) for o in on2} == {("unknown", Reason.IN_TRANSIT, 1726)}
    assert wts.sim.rpc_counts()["RDS02"] == 2  # (counted from the reload) each terminate once: never again


def test_stream_yields_processes_and_outcomes_as_they_come(farm: wts.Farm) -> None:
    items = list(farm.stream("processes", name="explorer"))
    assert len(items) == 4 and all(isinstance(i, Process) for i in items)
    items = list(farm.stream("terminate", name="explorer", session=3, dry_run=True))
    assert len(items) == 2 and all(isinstance(i, Outcome) and i.status == "planned" for i in items)
    # Stopped before it started: nothing is sent, and whatever it says, nothing was ended.
    stream = farm.stream("terminate", name="explorer", session=3)
    stream.stop()
    rest = list(stream)
    assert all(isinstance(i, (Outcome, wts.Failure)) for i in rest)
    assert all(i.status != "done" for i in rest if isinstance(i, Outcome))
    assert len(pids_of(LOCAL, "explorer.exe")) + len(pids_of("RDS02", "explorer.exe")) == 4


# --- interrupts ------------------------------------------------------------------------------------


@pytest.fixture
def ctrl_c() -> Iterator[None]:
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("something else handles SIGINT in this process")
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("Ctrl-C reaches the main thread only")
    yield


def slow_server(n: int, latency_ms: int) -> list[str]:
    """One server (the local one), ``n`` notepad.exe in session 3 as SYSTEM: a one-RPC listing."""
    procs = [{"name": "notepad.exe", "user": "NT AUTHORITY\\SYSTEM"}] * n
    return load(server(LOCAL, user(OWN_ID, "me"), {**user(3, "bob"), "processes": procs}, latency_ms=latency_ms))


def test_processes_not_reached_after_ctrl_c_are_cancelled_each_once(ctrl_c: None) -> None:
    names = slow_server(5, 100)  # one worker: when the listing is in, one terminate is in flight, four wait
    fired: list[Progress] = []

    def press_ctrl_c(p: Progress) -> None:
        if not fired and p.servers_done == 1:
            fired.append(p)
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(wts.Interrupted) as info:
        wts.Farm(names, provider="sim", concurrency=1).terminate(name="notepad", allow_own=True, progress=press_ctrl_c)
    result = info.value.result
    assert isinstance(result, ActionResult) and result.interrupted
    outcomes = by_process(result)
    assert len(outcomes) == 5
    cancelled = [o for o in result if o.why is Reason.CANCELLED]
    assert cancelled, "every terminate went out: the interrupt came too late to prove anything"
    for o in cancelled:
        assert (o.status, o.winerror, o.reason) == ("skipped", 1223, "cancelled: interrupted before it was sent")
    assert {o.why for o in result} <= {Reason.CANCELLED, Reason.DONE}
    ended = {o.pid for o in result if o.status == "done"}
    assert pids_of(LOCAL, "notepad.exe") == {o.pid for o in cancelled}
    assert not ended & pids_of(LOCAL)


def test_terminates_in_flight_at_a_second_ctrl_c_are_unknown(ctrl_c: None) -> None:
    names = slow_server(3, 1000)
    presses: list[Progress] = []

    def press_ctrl_c(p: Progress) -> None:
        if p.servers_done == 1 and len(presses) < 2:
            if not presses:
                time.sleep(0.3)  # the workers pick the terminates up
            presses.append(p)
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(wts.Interrupted) as info:
        wts.Farm(names, provider="sim").terminate(name="notepad", allow_own=True, progress=press_ctrl_c)
    assert len(presses) == 2
    result = info.value.result
    assert isinstance(result, ActionResult)
    assert len(by_process(result)) == 3
    assert {(o.status, o.why, o.winerror) for o in result} == {("unknown", Reason.ABANDONED, 1223)}


def test_a_first_ctrl_c_stops_a_process_listing_at_once(ctrl_c: None) -> None:
    """Nothing is at risk in a listing: the first Ctrl-C does not wait out the call in flight (here a
    hung server's, under a 20 s deadline)."""
    stuck = {**user(3, "bob"), "processes": [{"name": "a.exe", "user": "NT AUTHORITY\\SYSTEM"}]}
    names = load(server(LOCAL, user(OWN_ID, "me"), stuck), server("HANG1", fault="hang"))
    pressed: list[Progress] = []

    def press(p: Progress) -> None:
        if not pressed and p.servers_done == 1:
            pressed.append(p)
            signal.raise_signal(signal.SIGINT)

    started = time.monotonic()
    with pytest.raises(wts.Interrupted) as info:
        wts.Farm(names, provider="sim", timeout=20).processes(progress=press)
    assert time.monotonic() - started < SLACK
    result = info.value.result
    assert isinstance(result, wts.ProcessesResult) and result.interrupted
    assert [(p.server, p.name) for p in result] == [(LOCAL, "a.exe")]
    assert [(f.server, f.error.winerror, f.error.function) for f in result.failures] == [
        ("HANG1", 1223, "WTSEnumerateProcessesExW")
    ]
    wts.sim.release_hangs()


def test_a_terminate_windows_refuses_fails_with_its_code_and_is_not_retried() -> None:
    denied = {**user(3, "bob", "EXCEL.EXE", "chrome.exe"), "deny": ["terminate"]}
    names = load(server(LOCAL, user(OWN_ID, "me"), denied))
    cost = listing_rpcs(LOCAL)
    wts.sim.reset_counters()
    result = wts.Farm(names, provider="sim", retries=2).terminate(name=["excel", "chrome"], allow_own=True)
    outcomes = by_process(result)
    assert len(outcomes) == 2
    for o in outcomes.values():
        assert (o.status, o.why, o.winerror) == ("failed", Reason.CALL_FAILED, 5), o
        assert o.reason == "Access is denied. [ERROR_ACCESS_DENIED]"
    assert wts.sim.rpc_counts()[LOCAL] == cost + 2  # an answer, not an accident: each sent once
    assert result.failures == [] and not result.ok
    assert pids_of(LOCAL, "excel.exe") and pids_of(LOCAL, "chrome.exe")
