"""``wts ps`` and ``wts kill`` (issue 14), driven as an admin drives them: in-process (``wts._cli.main``)
and as ``python -m wts``, on a small farm file copied to tmp_path and used through ``--sim-state``, so
that what a command did is read back independently (``wts.sim.load`` + ``wts.Server.processes``).

The farm: RDS01 is the local server, where the caller is admin in session 2; RDS02 has the same
session ids with other users; DOWN01 cannot be reached.  Each user session runs its system processes
(csrss.exe, winlogon.exe, dwm.exe, as SYSTEM) and the user's own programs; session 0 runs services.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from test_cli import POSIX_ONLY, Run, one_clean_line, run_on_pty, subprocess_run  # tests/ is on sys.path

import wts
from wts._cli import main
from wts._cli._processes import KILL_FIELDS, PROCESS_FIELDS

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
SYSTEM = "NT AUTHORITY\\SYSTEM"
AUDIT_KEYS = {"time", "run", "operator", "command", "server", "session", "action", "outcome", "error", "pid", "image"}

pytestmark = pytest.mark.usefixtures("engine_idle")


def session(sid: int, user: str, *programs: str) -> dict[str, Any]:
    logon = (NOW - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    system = [{"name": n, "user": SYSTEM} for n in ("csrss.exe", "winlogon.exe", "dwm.exe")]
    return {
        "id": sid,
        "state": "Active",
        "station": f"RDP-Tcp#{sid}",
        "user": user,
        "domain": "CONTOSO",
        "logon": logon,
        "connect": logon,
        "last_input": logon,
        "processes": system + [{"name": p, "working_set": 50 * 1024 * 1024, "user_time": 61.5} for p in programs],
    }


def services() -> dict[str, Any]:
    names = ("smss.exe", "lsass.exe", "svchost.exe", "svchost.exe", "spoolsv.exe")
    return {"id": 0, "station": "Services", "state": "Disconnected", "processes": [{"name": n} for n in names]}


FARM = {
    "seed": 1,
    "now": NOW.isoformat(),
    "local": "RDS01",
    "current_session": 2,
    "servers": [
        {
            "name": "RDS01",
            "sessions": [services(), session(2, "admin", "EXCEL.EXE", "cmd.exe"), session(3, "bob", "EXCEL.EXE")],
        },
        {
            "name": "RDS02",
            "sessions": [services(), session(2, "carol", "EXCEL.EXE", "chrome.exe"), session(4, "dave", "notepad.exe")],
        },
        {"name": "DOWN01", "fault": "unreachable"},
    ],
}


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(FARM), encoding="utf-8")
    return path


Runner = Callable[..., Run]


@pytest.fixture
def wts_in(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, state: Path) -> Runner:
    """``wts --sim-state STATE args`` in this process; stdin is never a terminal; tables 200 wide."""
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str, stdin: str = "") -> Run:
        capsys.readouterr()
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        status = main(["--sim-state", str(state), *args])
        out, err = capsys.readouterr()
        return Run(status, out, err)

    return run


def processes(state: Path, server: str = "RDS01") -> dict[int, wts.Process]:
    """The processes of ``server`` in the saved state, read back through the library."""
    wts.sim.load(state)
    with wts.Server(server, provider="sim") as srv:
        return {p.pid: p for p in srv.processes()}


def table(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()]


# --- wts ps --------------------------------------------------------------------------------------------


def test_ps_table_one_line_per_process_in_server_session_pid_order(wts_in: Runner, state: Path) -> None:
    r = wts_in("ps", "-s", "RDS01,RDS02", "excel")
    assert r.status == 0, r.err
    rows = table(r.out)
    assert rows[0] == ["SERVER", "ID", "PID", "IMAGE", "USER", "MEMORY", "CPU"]
    excel = {
        s: sorted(p.pid for p in processes(state, s).values() if p.name == "EXCEL.EXE") for s in ("RDS01", "RDS02")
    }
    expected = [("RDS01", "2", "admin"), ("RDS01", "3", "bob"), ("RDS02", "2", "carol")]
    assert [(r[0], r[1], r[4]) for r in rows[1:]] == expected
    assert [int(r[2]) for r in rows[1:]] == [*excel["RDS01"], *excel["RDS02"]]
    assert all(r[3] == "EXCEL.EXE" and r[5:] == ["51,200", "K", "0:01:01"] for r in rows[1:])
    assert r.err == "3 processes in 3 sessions on 2 of 2 servers in " + r.err.split(" in ")[-1]


def test_ps_narrow_terminal_drops_cpu_then_memory(wts_in: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    for columns, headers in (
        (45, ["SERVER", "ID", "PID", "IMAGE", "USER", "MEMORY"]),
        (35, ["SERVER", "ID", "PID", "IMAGE", "USER"]),
    ):
        monkeypatch.setenv("COLUMNS", str(columns))
        r = wts_in("ps", "-s", "RDS01", "--name", "excel")
        assert r.status == 0
        assert r.out.splitlines()[0].split() == headers
        assert all(len(line) <= columns for line in r.out.splitlines())


def test_ps_filters(wts_in: Runner, state: Path) -> None:
    def names(*args: str) -> set[tuple[str, str, str]]:
        r = wts_in("ps", "--format", "json", *args)
        assert r.status == 0, r.err
        return {(p["server"], str(p["session_id"]), p["name"]) for p in json.loads(r.out)}

    assert names("-s", "RDS02", "--user", "carol") == {("RDS02", "2", n) for n in ("EXCEL.EXE", "chrome.exe")}
    assert names("-s", "RDS0[1-2]", "--session", "3,4", "--name", "*.exe", "--user", "CONTOSO\\*") == {
        ("RDS01", "3", "EXCEL.EXE"),
        ("RDS02", "4", "notepad.exe"),
    }
    assert names("-s", "RDS01", "SVCHOST", "--session", "0") == {("RDS01", "0", "svchost.exe")}
    assert names("-s", "RDS01", "no-such") == set()
    lsass = next(p.pid for p in processes(state).values() if p.name == "lsass.exe")
    assert names("-s", "RDS01", str(lsass)) == {("RDS01", "0", "lsass.exe")}  # a number is a pid


def test_ps_json_and_csv_records_and_a_failed_server(wts_in: Runner, state: Path) -> None:
    r = wts_in("ps", "-s", "RDS01,DOWN01", "--format", "json", "cmd")
    assert r.status == 1
    records = json.loads(r.out)
    assert [list(rec) for rec in records[:1]] == [list(PROCESS_FIELDS)]
    cmd = next(p for p in processes(state).values() if p.name == "cmd.exe")
    assert records[0] == {
        "server": "RDS01",
        "session_id": 2,
        "pid": cmd.pid,
        "name": "cmd.exe",
        "user": "admin",
        "domain": "CONTOSO",
        "sid": cmd.sid,
        "threads": cmd.threads,
        "handles": cmd.handles,
        "working_set_bytes": 50 * 1024 * 1024,
        "peak_working_set_bytes": cmd.peak_working_set_bytes,
        "pagefile_bytes": cmd.pagefile_bytes,
        "peak_pagefile_bytes": cmd.peak_pagefile_bytes,
        "user_seconds": 61.5,
        "kernel_seconds": 0.0,
    }
    down = records[1]
    assert (down["server"], down["status"], down["winerror"], down["error_name"]) == (
        "DOWN01",
        "failed",
        1722,
        "RPC_S_SERVER_UNAVAILABLE",
    )
    assert "DOWN01" in r.err and "[RPC_S_SERVER_UNAVAILABLE 1722]" in r.err
    c = wts_in("ps", "-s", "RDS01,DOWN01", "--format", "csv", "cmd")
    rows = list(csv.DictReader(io.StringIO(c.out)))
    assert list(rows[0]) == [*PROCESS_FIELDS, "status", "winerror", "error_name", "reason"]
    assert [(row["server"], row["name"], row["status"]) for row in rows] == [
        ("RDS01", "cmd.exe", ""),
        ("DOWN01", "", "failed"),
    ]
    lines = wts_in("ps", "-s", "RDS01", "--format", "jsonl", "excel").out.splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["EXCEL.EXE", "EXCEL.EXE"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["ps", "--session", "two"], "--session: 'two' is not a session id"),
        (["ps", "--session", ","], "--session: no session id given"),
        (["ps", "--pid", "12x"], "--pid: '12x' is not a process id"),
        (["ps", "--pid", "4294967296"], "--pid: '4294967296' is not a process id"),
        (["ps", "--name", " "], "--name: no image name given"),
        (["kill"], "wts kill: name processes"),
        (["kill", "-s", "RDS01,RDS02", "1234"], "a process id belongs to one server, but 2 are selected"),
        (["kill", "-s", "RDS01,RDS02", "--pid", "8"], "a process id belongs to one server, but 2 are selected"),
        (["kill", "-s", "RDS01", "--all", "excel"], "--all selects every process"),
        (["kill", "-s", "RDS01", "--system", "svc*"], "--system ends a protected process only when it is named"),
        (["kill", "-s", "RDS01", "--system", "--session", "0"], "--system ends a protected process only when"),
        (["kill", "-s", "RDS01", "excel", "--exit-code", "-1"], "--exit-code"),
        (["kill", "-s", "RDS01", ""], "an empty process id or image name"),
    ],
)
def test_usage_errors_are_one_line_and_status_2(wts_in: Runner, state: Path, args: list[str], words: str) -> None:
    before = processes(state)
    r = wts_in(*args)
    assert r.status == 2, r
    if args[-2:] != ["--exit-code", "-1"]:  # (argparse's own message comes with its usage line)
        assert words in one_clean_line(r)
    else:
        assert words in r.err and "Traceback" not in r.err
    assert r.out == ""
    assert processes(state) == before


# --- wts kill --------------------------------------------------------------------------------------------


def test_kill_dry_run_changes_nothing_and_says_what_it_would_do(wts_in: Runner, state: Path) -> None:
    before = {s: processes(state, s) for s in ("RDS01", "RDS02")}
    r = wts_in("kill", "-s", "RDS01,RDS02", "excel", "--dry-run")
    assert r.status == 0, r.err
    rows = table(r.out)
    assert rows[0] == ["SERVER", "ID", "PID", "IMAGE", "USER", "RESULT", "DETAIL"]
    shown = {(row[0], row[1], row[3], row[5], row[6]) for row in rows[1:5]}
    assert ("RDS01", "3", "EXCEL.EXE", "would", "end") in shown
    assert ("RDS02", "2", "EXCEL.EXE", "would", "end") in shown
    own = next(line for line in r.out.splitlines()[1:] if line.startswith("RDS01") and " 2 " in line)
    assert "skipped" in own and "runs in your own session (--allow-own includes it)" in own
    assert "kill (dry run): 2 planned, 1 skipped" in r.err and "nothing was changed" in r.err
    assert {s: processes(state, s) for s in ("RDS01", "RDS02")} == before


def test_kill_without_yes_refuses_off_a_terminal_and_changes_nothing(wts_in: Runner, state: Path) -> None:
    before = processes(state, "RDS02")
    r = wts_in("kill", "-s", "RDS01,RDS02", "excel")
    assert r.status == 2
    assert "refusing to end 2 processes on 2 servers without confirmation" in one_clean_line(r)
    assert processes(state, "RDS02") == before


def test_kill_ends_the_selection_audits_each_outcome_and_hides_system_skips(
    wts_in: Runner, state: Path, tmp_path: Path
) -> None:
    log = tmp_path / "audit.jsonl"
    before = processes(state, "RDS02")
    r = wts_in("--audit-log", str(log), "kill", "-s", "RDS02", "--session", "2", "-y")
    assert r.status == 0, r.err
    ended = {pid for pid, p in before.items() if p.session_id == 2 and p.name in ("EXCEL.EXE", "chrome.exe")}
    system = {pid for pid, p in before.items() if p.session_id == 2} - ended
    assert set(processes(state, "RDS02")) == set(before) - ended
    rows = table(r.out)[1:]
    assert sorted(int(row[2]) for row in rows) == sorted(ended)
    assert all(row[5] == "ended" for row in rows)
    assert "kill: 2 done, 3 skipped (not shown: 3 protected system processes, never touched; -v lists them)" in r.err
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert all(set(e) == AUDIT_KEYS for e in entries)
    got = {e["pid"]: (e["server"], e["session"], e["image"], e["action"], e["outcome"]) for e in entries}
    assert got == {
        pid: ("RDS02", 2, before[pid].name, "terminate", "done" if pid in ended else "skipped")
        for pid in ended | system
    }
    assert len({e["run"] for e in entries}) == 1


def test_kill_system_needs_the_override_and_an_exact_name(wts_in: Runner, state: Path) -> None:
    spool = next(p.pid for p in processes(state).values() if p.name == "spoolsv.exe")
    r = wts_in("kill", "-s", "RDS01", "spoolsv.exe", "-v")
    assert r.status == 0
    assert "a process of session 0: only --system, with its pid or exact image name, ends it" in r.out
    assert spool in processes(state)
    r = wts_in("kill", "-s", "RDS01", "spoolsv", "--system")
    assert r.status == 0, r.err
    assert "ended" in r.out and spool not in processes(state)


def test_kill_json_records_and_exit_status_when_a_server_fails(wts_in: Runner, state: Path) -> None:
    r = wts_in("kill", "-s", "RDS02,DOWN01", "chrome", "--format", "json", "-y")
    assert r.status == 1
    records = json.loads(r.out)
    assert [list(rec) for rec in records] == [list(KILL_FIELDS)] * 2
    chrome = records[0]
    assert (chrome["server"], chrome["image"], chrome["user"], chrome["status"], chrome["session_id"]) == (
        "RDS02",
        "chrome.exe",
        "carol",
        "done",
        2,
    )
    assert chrome["pid"] not in processes(state, "RDS02")
    assert (records[1]["server"], records[1]["status"], records[1]["winerror"], records[1]["pid"]) == (
        "DOWN01",
        "failed",
        1722,
        None,
    )
    assert "DOWN01" in r.err


def test_kill_by_pid_on_one_server_and_a_pid_that_is_not_there(wts_in: Runner, state: Path) -> None:
    notepad = next(p.pid for p in processes(state, "RDS02").values() if p.name == "notepad.exe")
    r = wts_in("kill", "-s", "RDS02", str(notepad))
    assert r.status == 0, r.err
    assert notepad not in processes(state, "RDS02")
    r = wts_in("kill", "-s", "RDS02", str(notepad))
    assert r.status == 0
    assert "kill: no processes selected" in r.err


def test_kill_as_python_m_wts(state: Path) -> None:
    r = subprocess_run([sys.executable, "-m", "wts"], ["--sim-state", str(state), "kill", "-s", "RDS01", "excel", "-n"])
    assert r.status == 0, r.err
    assert "would end" in r.out and "kill (dry run): 1 planned, 1 skipped" in r.err


@POSIX_ONLY
@pytest.mark.parametrize("answer", ["y", "n"])
def test_kill_confirmation_on_a_terminal(state: Path, answer: str) -> None:
    before = processes(state, "RDS02")
    r = run_on_pty(
        ["--sim-state", str(state), "kill", "-s", "RDS01,RDS02", "excel"], answers=[("[y/N] ", f"{answer}\n")]
    )
    assert "End 2 processes on 2 servers? [y/N]" in r.tty
    assert "PID" in r.tty and "IMAGE" in r.tty  # the plan, as a table
    excel = {pid for pid, p in before.items() if p.name == "EXCEL.EXE"}
    if answer == "y":
        assert r.status == 0, r.tty
        assert not excel & set(processes(state, "RDS02"))
    else:
        assert r.status == 1, r.tty
        assert "nothing was done" in r.tty
        assert processes(state, "RDS02") == before
