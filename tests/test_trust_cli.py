"""Issue 12 ("Trust"), the command's side: each test names its item and failed before the fix.

Farms: examples/demo-farm.json (RDS01 local, the caller in session 2; RDS02..RDS06 generated),
tests/farms/cli_faults.json (RDS01 with a session every action is denied on, DOWN01 unreachable,
HANG01 hanging, BUSY01 busy) and tests/farms/cli_names.json (names an RDP client or an account can
carry: a newline in a user name, formulas and a CR in client names; HANG01 hanging).  Every command
runs on a copy in tmp_path through --sim-state, and what it did is read back through the library.
POSIX-only tests (signals, /dev/full, closed descriptors, flock) skip on Windows.  No timing is
asserted beyond generous bounds that prove "does not hang".
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest

import wts
from wts import ConnectState, Outcome, Progress, Reason
from wts._cli import main

ROOT = Path(__file__).resolve().parents[1]
FARMS = Path(__file__).resolve().parent / "farms"
DEMO = ROOT / "examples" / "demo-farm.json"
POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="signals, /dev/full and flock are POSIX-only")
PYTHON_M = [sys.executable, "-m", "wts"]


class Run(NamedTuple):
    status: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


@pytest.fixture(autouse=True)
def _no_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs print to a StringIO: whole values, unless a test sets COLUMNS itself."""
    monkeypatch.delenv("COLUMNS", raising=False)


@pytest.fixture(autouse=True)
def _engine_idle() -> Iterator[None]:
    """A hung call of an in-process run is released and its worker gone before conftest counts."""
    yield
    wts.sim.release_hangs()
    deadline = time.monotonic() + 10
    while wts._wts.engine_threads() != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.01)


def copy(tmp_path: Path, source: Path, name: str = "state.json") -> Path:
    path = tmp_path / name
    shutil.copyfile(source, path)
    return path


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return copy(tmp_path, DEMO)


@pytest.fixture
def faults(tmp_path: Path) -> Path:
    return copy(tmp_path, FARMS / "cli_faults.json")


@pytest.fixture
def names(tmp_path: Path) -> Path:
    return copy(tmp_path, FARMS / "cli_names.json")


def run(*args: str, stdin: str = "") -> Run:
    """``wts._cli.main`` in this process, with its own streams."""
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return Run(status, out.getvalue(), err.getvalue())


def child_env(**extra: str) -> dict[str, str]:
    drop = {"COLUMNS", "LINES", "NO_COLOR", "WTS_SIM_FARM", "WTS_SIM_STATE", "WTS_PROVIDER", "TERM"}
    out = {k: v for k, v in os.environ.items() if k not in drop}
    out.update(WTS_PROVIDER="sim", PYTHONIOENCODING="utf-8", **extra)
    return out


def spawn(args: Sequence[str], **kw: Any) -> subprocess.Popen[str]:
    kw.setdefault("stdin", subprocess.DEVNULL)
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([*PYTHON_M, *args], text=True, encoding="utf-8", errors="replace", env=child_env(), **kw)


def child(args: Sequence[str], timeout: float = 60, **kw: Any) -> Run:
    proc = spawn(args, **kw)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
        proc.wait()
    return Run(proc.returncode, out or "", err or "")


def one_line(r: Run) -> str:
    """The run's stderr is exactly one line starting 'wts:', with no traceback."""
    assert "Traceback" not in r.err and "internal error" not in r.err, r.err
    assert len(r.err_lines) == 1, r.err
    assert r.err_lines[0].startswith("wts: "), r.err
    return r.err_lines[0]


def states(path: Path, server: str = "RDS01") -> dict[int, ConnectState]:
    wts.sim.load(path)
    with wts.Server(server, provider="sim") as srv:
        return {s.id: s.state for s in srv.sessions()}


def audit(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def fake_stream(items: list[Any], progress: list[Progress] = ()) -> Any:  # type: ignore[assignment]
    """A Farm.stream that hands the command ``items`` (real library records) after ``progress``."""

    def stream(self: wts.Farm, action: str = "sessions", targets: Any = None, **kw: Any) -> Iterator[Any]:
        callback = kw.get("progress")
        for p in progress:
            if callback is not None:
                callback(p)
        yield from items

    return stream


# --- item 2: an action whose answer never came is "unknown" -------------------------------------------


def unknown_outcome(sid: int, why: Reason, code: int) -> Outcome:
    return Outcome("RDS01", sid, f"RDP-Tcp#{sid}", "dave", "logoff", "unknown", code, "no answer", None, why)


def test_item2_unknown_outcomes_are_shown_counted_logged_and_exit_1(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = [
        Outcome("RDS01", 4, "TERM04", "carol", "logoff", "done", None, "", None, Reason.DONE),
        unknown_outcome(10, Reason.NO_ANSWER, 1460),
        unknown_outcome(12, Reason.ABANDONED, 1223),
    ]
    monkeypatch.setattr(wts.Farm, "stream", fake_stream(items))
    log = tmp_path / "audit.jsonl"
    r = run("--sim-state", str(demo), "--audit-log", str(log), "logoff", "--user", "*", "-s", "RDS01", "--yes")
    assert r.status == 1  # neither done nor failed, but not all done either
    rows = {line.split()[1]: line for line in r.out.splitlines()[1:]}
    assert "UNKNOWN" in rows["10"] and "UNKNOWN" in rows["12"] and "logged off" in rows["4"]
    assert "ERROR_TIMEOUT 1460" in rows["10"]
    summary = r.err_lines[-1]
    assert "1 done" in summary and "2 unknown" in summary and "failed" not in summary
    hint = [line for line in r.err_lines if "check with" in line]
    assert hint == [hint[0]] and "wts sessions -s RDS01 --id 10,12" in hint[0]
    assert [(e["session"], e["outcome"]) for e in audit(log)] == [(4, "done"), (10, "unknown"), (12, "unknown")]
    records = run("--sim-state", str(demo), "logoff", "--user", "*", "-s", "RDS01", "--yes", "--format", "json")
    assert [rec["status"] for rec in json.loads(records.out)] == ["done", "unknown", "unknown"]
    assert [rec["reason"] for rec in json.loads(records.out)][1:] == ["no answer", "no answer"]


# --- item 6: tsdiscon, tscon and connect have a deadline, and Ctrl-C returns at once ------------------


def test_item6_tsdiscon_on_a_hung_server_ends_at_its_timeout_with_an_unknown_outcome(
    faults: Path, tmp_path: Path
) -> None:
    log = tmp_path / "audit.jsonl"
    started = time.monotonic()
    r = child(
        ["--sim-state", str(faults), "--audit-log", str(log), "--timeout", "1", "tsdiscon", "5", "/server:HANG01"]
    )
    assert time.monotonic() - started < 50  # it ended on its own (it used to wait for ever)
    assert r.status == 1
    line = one_line(r)
    assert "unknown" in line and "ERROR_TIMEOUT 1460" in line and "wts sessions -s HANG01 --id 5" in line
    assert [(e["server"], e["session"], e["outcome"]) for e in audit(log)] == [("HANG01", 5, "unknown")]


def test_item6_connect_on_a_hung_local_server_ends_at_its_timeout(tmp_path: Path) -> None:
    farm = tmp_path / "hung.json"
    farm.write_text(json.dumps({"local": "HANG01", "servers": [{"name": "HANG01", "fault": "hang"}]}))
    for argv in (["connect", "5"], ["tscon", "5"]):
        r = child(["--sim-farm", str(farm), "--timeout", "1", *argv], timeout=50)
        assert r.status == 1, r
        assert "1460" in one_line(r)


@POSIX_ONLY
def test_item6_ctrl_c_during_tsdiscon_returns_at_once_and_says_the_outcome_is_unknown(faults: Path) -> None:
    argv = ["tsdiscon", "5", "/server:HANG01", "/v"]
    proc = spawn(["--sim-state", str(faults), "--timeout", "600", *argv])
    try:
        assert proc.stdout is not None
        said = proc.stdout.readline()  # /v says it, flushed, just before the call (which never returns)
        assert said.startswith("Disconnecting session 5 on HANG01"), said
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)  # at once, not after --timeout (600 s)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "abandoned; its outcome is unknown" in err and "wts sessions -s HANG01 --id 5" in err


# --- item 8: a failed audit write stops the run, prints what was done, exit 1 ----------------------------


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_item8_a_full_audit_log_stops_new_actions_and_reports_what_was_done(demo: Path) -> None:
    every = ["RDS01", "RDS02", "RDS03", "RDS04", "RDS05", "RDS06"]
    wts.sim.load(demo)
    before = {(s.server, s.id) for s in wts.Farm(every, provider="sim").sessions(user="?*")}
    argv = ["--sim-state", str(demo), "--audit-log", "/dev/full", "--concurrency", "1"]
    r = child([*argv, "logoff", "--all", "-s", "RDS[01-06]", "--yes", "--format", "json"])
    assert r.status == 1, r.err
    assert "Traceback" not in r.err and "internal error" not in r.err and "Exception ignored" not in r.err
    audit_errors = [line for line in r.err_lines if "audit" in line and line.startswith("wts:")]
    assert len(audit_errors) == 1 and "--audit-log: cannot write /dev/full" in audit_errors[0], r.err
    assert "stopped: the audit log could not be written" in r.err_lines[-1]
    outcomes = json.loads(r.out)  # the outcomes so far were printed
    done = {(o["server"], o["session_id"]) for o in outcomes if o["status"] == "done"}
    # It stopped: the users of at least five servers were never sent a logoff.
    wts.sim.load(demo)
    after = {(s.server, s.id) for s in wts.Farm(every, provider="sim").sessions(user="?*")}
    assert len({server for server, _ in after & before if server != "RDS01"}) >= 5
    assert before - after == done  # --sim-state was saved, and holds exactly what was printed as done


def test_item8_the_audit_log_is_synced_at_the_end(demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    log = tmp_path / "audit.jsonl"
    assert run("--sim-state", str(demo), "--audit-log", str(log), "disconnect", "4", "-s", "RDS01").status == 0
    assert synced and len(audit(log)) == 1


# --- item 9: stdout that cannot be written after actions ran: exit 1, and what was done -----------------


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_item9_a_full_stdout_after_actions_is_exit_1_and_says_what_was_done(demo: Path) -> None:
    with open("/dev/full", "w") as full:
        r = child(["--sim-state", str(demo), "disconnect", "4", "5", "-s", "RDS01", "--yes"], stdout=full)
    assert r.status == 1, r.err
    assert "Traceback" not in r.err and "Exception ignored" not in r.err
    line = one_line(r)
    assert "stdout" in line and "2 done" in line
    assert states(demo)[4] is ConnectState.DISCONNECTED


# --- item 10: closed standard streams ----------------------------------------------------------------------


@POSIX_ONLY
@pytest.mark.parametrize(
    ("argv", "redirect", "status", "words"),
    [
        (["connect", "23", "--password-prompt"], "<&-", 2, "stdin is closed"),
        (["ls", "-s", "-"], "<&-", 2, "stdin is closed"),
        (["ls"], ">&-", 1, "stdout is closed"),
    ],
)
def test_item10_closed_standard_streams_are_one_line(
    demo: Path, argv: list[str], redirect: str, status: int, words: str
) -> None:
    cmd = " ".join([*PYTHON_M, "--sim-state", str(demo), *argv])
    proc = subprocess.run(
        ["/bin/sh", "-c", f"exec {cmd} {redirect}"], capture_output=True, text=True, timeout=60, env=child_env()
    )
    r = Run(proc.returncode, proc.stdout, proc.stderr)
    assert r.status == status, r.err
    assert words in one_line(r)
    assert states(demo)[23] is ConnectState.DISCONNECTED  # nothing was connected with an empty password


# --- item 11: names are untrusted input ------------------------------------------------------------------


def test_item11_control_characters_in_names_cannot_forge_a_table_row(names: Path) -> None:
    r = run("--sim-state", str(names), "sessions", "--clients")
    assert r.status == 0
    lines = r.out.splitlines()
    assert len(lines) == 1 + 7  # the header and one line per session: no forged row
    assert not any(line.startswith("RDS01   9") for line in lines)
    evil = next(line for line in lines if line.split()[1] == "3")
    assert "evil\\nRDS01   9  X" in evil and "\r" not in r.out  # shown, escaped
    assert "=CMD()\\r" in evil


def test_item11_csv_round_trips_and_guards_formulas(names: Path) -> None:
    as_json = json.loads(run("--sim-state", str(names), "sessions", "--clients", "--format", "json").out)
    as_csv = list(
        csv.DictReader(
            io.StringIO(run("--sim-state", str(names), "sessions", "--clients", "--format", "csv").out, newline="")
        )
    )
    assert len(as_csv) == len(as_json) == 7
    by_id = {int(row["id"]): row for row in as_csv}
    assert by_id[3]["user"] == "evil\nRDS01   9  X"  # whole, as the JSON has it
    # A cell a spreadsheet would run as a formula starts with ' (docs/cli.md); the rest is the name.
    for sid in (3, 4, 5):
        rec = next(r for r in as_json if r["id"] == sid)
        assert rec["client"][0] in "=@-"
        assert by_id[sid]["client"] == "'" + rec["client"]
    assert by_id[2]["user"] == "admin"


# --- item 12: machine-readable listings carry the failed servers -----------------------------------------


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_item12_listings_have_a_record_per_failed_server(faults: Path, fmt: str) -> None:
    r = run("--sim-state", str(faults), "ls", "-s", "DOWN01,RDS01", "--format", fmt)
    assert r.status == 1
    if fmt == "json":
        records = json.loads(r.out)
    elif fmt == "jsonl":
        records = [json.loads(line) for line in r.out.splitlines()]
    else:
        records = list(csv.DictReader(io.StringIO(r.out, newline="")))
    failed = [rec for rec in records if rec["server"] == "DOWN01"]
    assert len(failed) == 1
    assert failed[0]["status"] == "failed"
    assert str(failed[0]["winerror"]) == "1722" and failed[0]["error_name"] == "RPC_S_SERVER_UNAVAILABLE"
    assert failed[0]["id"] in (None, "")
    assert {rec["server"] for rec in records} == {"DOWN01", "RDS01"}


# --- item 13: the audit log says which run, what command, which target ---------------------------------------


def test_item13_audit_lines_carry_run_id_command_line_and_resolved_sessions(demo: Path, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    assert (
        run("--sim-state", str(demo), "--audit-log", str(log), "logoff", "4", "10", "-s", "RDS01", "--yes").status == 0
    )
    assert run("--sim-state", str(demo), "--audit-log", str(log), "tsdiscon").status == 0
    other = copy(tmp_path, DEMO, "other.json")  # the current session, still connected
    assert run("--sim-state", str(other), "--audit-log", str(log), "tscon", "23", "/password:mypass").status == 0
    lines = audit(log)
    assert len(lines) == 4
    assert lines[0]["run"] == lines[1]["run"] != lines[2]["run"] != lines[3]["run"]
    assert lines[0]["command"] == [
        "wts",
        "--sim-state",
        str(demo),
        "--audit-log",
        str(log),
        "logoff",
        "4",
        "10",
        "-s",
        "RDS01",
        "--yes",
    ]
    assert (lines[2]["action"], lines[2]["session"]) == ("disconnect", 2)  # the current session, by its id
    assert lines[3]["action"] == "connect" and lines[3]["session"] == 23 and lines[3]["target"] == 2
    assert lines[3]["command"][-1] == "/password:***"
    assert "mypass" not in log.read_text(encoding="utf-8")


# --- item 14: an empty -s is refused; only no -s means the local server --------------------------------------


@pytest.mark.parametrize("spec", ["", "  "])
def test_item14_an_empty_server_is_refused(demo: Path, spec: str) -> None:
    r = run("--sim-state", str(demo), "logoff", "-s", spec, "--all", "--yes")
    assert r.status == 2
    assert "-s" in one_line(r) and "empty" in r.err
    assert states(demo)[4] is ConnectState.ACTIVE  # nobody on the local server was logged off


def test_item14_the_summary_says_the_local_server(demo: Path) -> None:
    r = run("--sim-state", str(demo), "disconnect", "4")
    assert r.status == 0
    assert "on the local server (RDS01)" in r.err_lines[-1]
    r = run("--sim-state", str(demo), "ls")
    assert "on the local server (RDS01)" in r.err_lines[-1]


# --- item 15: tsdiscon /SERVER: takes one server ------------------------------------------------------------


@pytest.mark.parametrize("switch", ["/server:RDS[01-03]", "/SERVER: ", "/server:RDS01,RDS02"])
def test_item15_tsdiscon_server_takes_one_name(demo: Path, switch: str) -> None:
    r = run("--sim-state", str(demo), "tsdiscon", "4", switch)
    assert r.status == 2
    assert r.err.startswith("Invalid parameter(s)\n") and "TSDISCON [sessionid" in r.err
    assert states(demo)[4] is ConnectState.ACTIVE


# --- item 17: --sort by a time fetches the times --------------------------------------------------------------


@pytest.mark.parametrize(("key", "attr"), [("-idle", "idle"), ("logon", "logon_time")])
def test_item17_sorting_by_a_time_fetches_it(demo: Path, key: str, attr: str) -> None:
    r = run("--sim-state", str(demo), "ls", "-s", "RDS01", f"--sort={key}", "--users", "--format", "json")
    assert r.status == 0
    records = json.loads(r.out)
    assert all("idle_seconds" in rec for rec in records)  # the times were fetched
    wts.sim.load(demo)
    infos = wts.Farm(["RDS01"], provider="sim").sessions(details=True, user="?*").sessions
    values = {s.id: getattr(s, attr) for s in infos}
    ids = [rec["id"] for rec in records]
    expected = sorted(values, key=lambda i: (values[i], i), reverse=key.startswith("-"))
    assert [values[i] for i in ids] == [values[i] for i in expected]
    table = run("--sim-state", str(demo), "ls", "-s", "RDS01", "--sort=-idle")
    assert "IDLE" in table.out.splitlines()[0]


# --- item 18: durations and moments that cannot be computed are usage errors ------------------------------------


@pytest.mark.parametrize(
    "option",
    [
        ["--idle-over", "1000000000d"],
        ["--logon-before", "0001-01-01T00:00:00+01:00"],
        ["--logon-before", "800000d"],
        ["--disconnected-over", "9" * 400 + "s"],
    ],
)
def test_item18_huge_durations_are_usage_errors_before_any_rpc(demo: Path, option: list[str]) -> None:
    wts.sim.load(demo)
    wts.sim.reset_counters()
    r = run("--sim-state", str(demo), "ls", "-s", "RDS01", *option)
    assert r.status == 2
    assert option[0] in one_line(r)
    assert wts.sim.rpc_total() == 0


# --- item 19: bounded reads ---------------------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_item19_a_password_file_is_read_up_to_1_kib(demo: Path) -> None:
    r = child(["--sim-state", str(demo), "connect", "23", "--password-file", "/dev/zero"], timeout=60)
    assert r.status == 2
    assert "1024 bytes" in one_line(r)


def test_item19_a_long_password_line_is_refused(demo: Path, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("x" * 5000 + "\n")
    r = run("--sim-state", str(demo), "connect", "23", "--password-file", str(pw))
    assert r.status == 2 and "1024" in one_line(r)
    pw.write_text("mypass\nsecond line\n")
    assert run("--sim-state", str(demo), "connect", "23", "--password-file", str(pw)).status == 0


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_item19_servers_from_dev_zero_are_one_line(demo: Path) -> None:
    r = child(["--sim-state", str(demo), "ls", "-s", "@/dev/zero"], timeout=60)
    assert r.status == 2
    one_line(r)


# --- item 20: --sim-state -------------------------------------------------------------------------------------------


def test_item20_read_only_commands_leave_the_state_file_alone(demo: Path) -> None:
    before = demo.stat()
    assert run("--sim-state", str(demo), "ls", "-s", "RDS[01-06]", "-d").status == 0
    assert run("--sim-state", str(demo), "disconnect", "4", "--dry-run").status == 0
    after = demo.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert run("--sim-state", str(demo), "disconnect", "4").status == 0
    assert demo.stat().st_mtime_ns != before.st_mtime_ns or demo.stat().st_ino != before.st_ino


@POSIX_ONLY
def test_item20_the_state_files_mode_is_kept(demo: Path) -> None:
    demo.chmod(0o640)
    assert run("--sim-state", str(demo), "disconnect", "4").status == 0
    assert stat.S_IMODE(demo.stat().st_mode) == 0o640
    assert states(demo)[4] is ConnectState.DISCONNECTED


def test_item20_no_fixed_temporary_name(demo: Path) -> None:
    (demo.parent / f"{demo.name}.tmp").mkdir()  # another run's fixed temporary name, in the way
    r = run("--sim-state", str(demo), "disconnect", "4")
    assert r.status == 0, r.err
    assert states(demo)[4] is ConnectState.DISCONNECTED
    assert sorted(p.name for p in demo.parent.iterdir()) == sorted([demo.name, f"{demo.name}.tmp", f"{demo.name}.lock"])


@POSIX_ONLY
def test_item20_a_run_waits_for_the_lock_of_another(demo: Path) -> None:
    import fcntl

    with open(f"{demo}.lock", "a+b") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        proc = spawn(["--sim-state", str(demo), "disconnect", "4"])
        try:
            time.sleep(1.5)
            assert proc.poll() is None  # waiting for the other run
            assert states(demo)[4] is ConnectState.ACTIVE
        finally:
            fcntl.flock(held.fileno(), fcntl.LOCK_UN)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "waiting for" in err
    assert states(demo)[4] is ConnectState.DISCONNECTED


@POSIX_ONLY
def test_item20_concurrent_runs_lose_no_update(demo: Path) -> None:
    ids = [4, 5, 10, 23]  # sessions of RDS01 that a logoff removes
    procs = [spawn(["--sim-state", str(demo), "logoff", str(i), "-s", "RDS01"]) for i in ids]
    for p in procs:
        p.communicate(timeout=60)
        assert p.returncode == 0
    json.loads(demo.read_text(encoding="utf-8"))  # whole JSON
    left = states(demo)
    assert not set(ids) & set(left)


@POSIX_ONLY
def test_item20_sigterm_stops_the_run_and_saves_the_state(faults: Path, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    proc = spawn(["--sim-state", str(faults), "--audit-log", str(log), "--timeout", "5", "logoff", "8", "-s", "RDS01"])
    proc.communicate(timeout=60)  # warm-up: the state is saved after a normal run
    assert 8 not in states(faults)
    proc = spawn(
        [
            "--sim-state",
            str(faults),
            "--audit-log",
            str(log),
            "--timeout",
            "30",
            "logoff",
            "--user",
            "gina,hank,admin",
            "-s",
            "RDS01,HANG01",
            "--yes",
            "--allow-own",
        ]
    )
    try:
        deadline = time.monotonic() + 30
        while len(audit(log)) < 2 and time.monotonic() < deadline:  # RDS01 answered, HANG01 never does
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert 2 not in states(faults)  # admin's logoff was done and saved


# --- item 21: passwords -----------------------------------------------------------------------------------------------


def test_item21_redaction_covers_the_whole_value(demo: Path) -> None:
    r = run("--sim-state", str(demo), "connect", "23", "/password:correct horse S3cret")
    assert r.status == 2
    assert "horse" not in r.err and "S3cret" not in r.err and "***" in r.err
    r = run("--sim-state", str(demo), "connect", "/password:S3cret")
    assert r.status == 1
    assert "S3cret" not in r.err and "no session named" in one_line(r)


def test_item21_docs_warn_about_passwords_on_the_command_line() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert "/proc/<pid>/cmdline" in text and "/password:*" in text.lower() and "--password-file" in text


# --- item 29: the smaller ones -----------------------------------------------------------------------------------


def test_item29_sessions_help_says_clients_implies_details() -> None:
    r = run("sessions", "--help")
    assert r.status == 0
    text = " ".join(r.out.split())
    assert "implies --details" in text and "with --details, also" not in text


def test_item29_no_provider_names_the_commands_options(monkeypatch: pytest.MonkeyPatch) -> None:
    if sys.platform == "win32":
        pytest.skip("Windows has a provider")
    for name in ("WTS_PROVIDER", "WTS_SIM_FARM", "WTS_SIM_STATE"):
        monkeypatch.delenv(name, raising=False)
    # As in a fresh process: no farm loaded (an earlier test's farm would be what a bare run reaches).
    monkeypatch.setattr(wts._wts, "sim_loaded", lambda: False)
    r = run("ls")
    assert r.status == 2
    line = one_line(r)
    assert "--provider sim --sim-farm FILE" in line and "provider='sim'" not in line and "wts.sim" not in line


def test_item29_ctrl_c_message_counts_only_calls_in_flight(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stopping = Progress(
        done=10, total=500, servers_done=1, servers_total=40, failures=0, elapsed=1.0, interrupts=1, in_flight=3
    )
    monkeypatch.setattr(wts.Farm, "stream", fake_stream([], [stopping]))
    r = run("--sim-state", str(demo), "ls", "-s", "RDS01")
    assert "waiting for the 3 calls in flight" in r.err


def test_item29_named_system_sessions_are_shown_skipped(demo: Path) -> None:
    r = run("--sim-state", str(demo), "disconnect", "0", "1", "65536", "-s", "RDS01", "--yes")
    assert r.status == 0
    rows = {line.split()[1]: line for line in r.out.splitlines()[1:]}
    assert set(rows) == {"0", "1", "65536"}
    assert all("skipped" in row for row in rows.values())


def test_item29_narrow_tables_keep_names_apart(names: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    r = run("--sim-state", str(names), "ls")
    lines = r.out.splitlines()
    assert all(len(line) <= 40 for line in lines), lines
    users = [line.split()[3] for line in lines[1:] if line.split()[1] in ("4", "5")]
    assert len(set(users)) == 2, lines  # administrator1 and administrator2 stay told apart
    assert any(line.split()[-1] == "Disc" for line in lines)


def test_item24_the_1722_hint_once_for_a_farm_and_on_a_single_server_error(demo: Path) -> None:
    # What usually causes 1722 (off, firewall on 445, AllowRemoteRPC = 0): on a one-server error's line;
    # for a farm, with -v, once after the failure lines, not once per dead server.
    r = run("--sim-state", str(demo), "tsdiscon", "3", "/server:RDS99")
    line = one_line(r)
    assert "1722" in line and "AllowRemoteRPC" in line
    r = run("--sim-state", str(demo), "-v", "ls", "-s", "RDS01,RDS98,RDS99")
    hints = [x for x in r.err.splitlines() if "AllowRemoteRPC" in x]
    assert len(hints) == 1 and "RPC_S_SERVER_UNAVAILABLE 1722" in hints[0]
    assert sum("RDS9" in x for x in r.err.splitlines()) == 2
    r = run("--sim-state", str(demo), "ls", "-s", "RDS01,RDS98,RDS99")
    assert "AllowRemoteRPC" not in r.err  # without -v: one line per dead server, as before
