"""The classic commands with Windows' syntax (issue 14, item 3): qwinsta / query session, quser /
query user, logoff, msg, rwinsta / reset session, driven as an admin types them, on the simulated
farm tests/farms/classic.json (RDS01 is local and the caller is admin in session 2; RDS02; DOWN01
unreachable; BUSY01 answers every call with 1723).

For each command: its usage text (``/?``), what it rejects (``Invalid parameter(s)`` and the usage
on stderr, status 2), its fixed-width output column for column, its exit status, and the bulk
``/server:`` form on a farm with failing servers.  Every command runs on a copy of the farm through
``--sim-state``; what an action did is read back through the library.  Times print in this
computer's time zone, so the tests that compare LOGON TIME run with TZ=UTC (POSIX only).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

import wts
from wts._cli import main
from wts._cli._args import classic_form
from wts._cli._classic_usage import (
    LOGOFF_USAGE,
    MSG_USAGE,
    QPROCESS_USAGE,
    QUERY_USAGE,
    QUSER_USAGE,
    QWINSTA_USAGE,
    RESET_USAGE,
    RWINSTA_USAGE,
    TSKILL_USAGE,
)

FARM = Path(__file__).resolve().parent / "farms" / "classic.json"
POSIX_ONLY = pytest.mark.skipif(not hasattr(time, "tzset"), reason="TZ is set through time.tzset (POSIX)")


class Run(NamedTuple):
    status: int
    out: str
    err: str


Runner = Callable[..., Run]


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "state.json"
    shutil.copyfile(FARM, path)
    return path


@pytest.fixture
def wts_run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, state: Path) -> Runner:
    """``wts --sim-state STATE ARGS...`` in this process; ``stdin`` replaces sys.stdin."""

    def run(*args: str, stdin: str = "") -> Run:
        capsys.readouterr()
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        status = main(["--sim-state", str(state), *args])
        out, err = capsys.readouterr()
        return Run(status, out, err)

    return run


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This computer's time zone is UTC for the test (quser prints local times)."""
    if not hasattr(time, "tzset"):
        pytest.skip("TZ is set through time.tzset (POSIX)")
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def sessions_of(path: Path, server: str = "RDS01") -> dict[int, Any]:
    wts.sim.load(path)
    with wts.Server(server, provider="sim") as srv:
        return {s.id: s for s in srv.sessions()}


# --- usage texts and Invalid parameter(s) ----------------------------------------------------------

USAGES = [
    (["qwinsta"], QWINSTA_USAGE, "QUERY SESSION [sessionname | username | sessionid]"),
    (
        ["query", "session"],
        QWINSTA_USAGE,
        "  /VM                 Display information about sessions within virtual machines.",
    ),
    (["quser"], QUSER_USAGE, "QUERY USER [username | sessionname | sessionid] [/SERVER:servername]"),
    (["query", "user"], QUSER_USAGE, "  /SERVER:servername  The server to be queried (default is current)."),
    (["query"], QUERY_USAGE, "QUERY { PROCESS | SESSION | TERMSERVER | USER }"),
    (["logoff"], LOGOFF_USAGE, "LOGOFF [sessionname | sessionid] [/SERVER:servername] [/V] [/VM]"),
    (["msg"], MSG_USAGE, "MSG {username | sessionname | sessionid | @filename | *}"),
    (["rwinsta"], RWINSTA_USAGE, "RESET SESSION {sessionname | sessionid} [/SERVER:servername] [/V]"),
    (["reset", "session"], RWINSTA_USAGE, "Reset the session subsytem hardware and software to known initial values."),
    (["reset"], RESET_USAGE, "RESET { SESSION }"),
]


@pytest.mark.parametrize(("argv", "text", "line"), USAGES, ids=[" ".join(a) for a, _, _ in USAGES])
def test_usage_on_stdout(wts_run: Runner, argv: list[str], text: str, line: str) -> None:
    for help_switch in ("/?", "-?"):
        r = wts_run(*argv, help_switch)
        assert (r.status, r.out, r.err) == (0, text, "")
        assert line in r.out.splitlines()  # the constant is Windows' text, not just whatever we print


def test_usage_texts_end_as_windows_prints_them() -> None:
    """Two blank lines after the usage (one for qprocess and query), Windows' words and spacing."""
    for text in (QWINSTA_USAGE, QUSER_USAGE, LOGOFF_USAGE, MSG_USAGE, RWINSTA_USAGE):
        assert text.endswith(".\n\n\n")
    assert QUERY_USAGE == "QUERY { PROCESS | SESSION | TERMSERVER | USER }\n\n"
    assert "  message             Message to send.  If none specified, prompts for it\n" in MSG_USAGE
    assert "              [/SERVER:servername] [/MODE] [/FLOW] [/CONNECT] [/COUNTER] [/VM]\n" in QWINSTA_USAGE


INVALID = [
    (["qwinsta", "/bogus"], QWINSTA_USAGE),
    (["qwinsta", "a", "b"], QWINSTA_USAGE),
    (["qwinsta", "/server:"], QWINSTA_USAGE),
    (["qwinsta", "/mode:x"], QWINSTA_USAGE),
    (["qwinsta", "/server:RDS01", "/server:RDS02"], QWINSTA_USAGE),
    (["query", "session", "/x"], QWINSTA_USAGE),
    (["quser", "/mode"], QUSER_USAGE),  # quser has no /MODE
    (["quser", "carol", "dave"], QUSER_USAGE),
    (["quser", "--format", "yaml"], QUSER_USAGE),
    (["quser", "--format"], QUSER_USAGE),
    (["quser", "--dry-run"], QUSER_USAGE),  # a listing has nothing to plan
    (["query", "user", "/v"], QUSER_USAGE),
    (["query", "termserver"], QUERY_USAGE),
    (["query", "nothing"], QUERY_USAGE),
    (["logoff", "3", "/server:RDS01", "/x"], LOGOFF_USAGE),
    (["logoff", "3", "4", "/v"], LOGOFF_USAGE),
    (["logoff", "RDP-Tcp#1", "/vm"], LOGOFF_USAGE),  # /VM: "The unique ID of the session needs to be specified."
    (["logoff", "3", "/v:yes"], LOGOFF_USAGE),
    (["logoff", "/server:"], LOGOFF_USAGE),
    (["msg"], MSG_USAGE),  # the target is required
    (["msg", "/v"], MSG_USAGE),
    (["msg", "carol", "/time:soon", "hi"], MSG_USAGE),
    (["msg", "carol", "/time:-1", "hi"], MSG_USAGE),
    (["msg", "carol", "/w:1", "hi"], MSG_USAGE),
    (["msg", "carol", "/title:T", "hi"], MSG_USAGE),  # msg.exe has no title
    (["rwinsta"], RWINSTA_USAGE),  # the session is required
    (["rwinsta", "3", "/vm"], RWINSTA_USAGE),  # rwinsta has no /VM
    (["reset", "session"], RWINSTA_USAGE),
    (["reset", "user", "3"], RESET_USAGE),
]


@pytest.mark.parametrize(("argv", "text"), INVALID, ids=[" ".join(a) for a, _ in INVALID])
def test_invalid_parameters(wts_run: Runner, state: Path, argv: list[str], text: str) -> None:
    before = {s: sessions_of(state, s) for s in ("RDS01", "RDS02")}
    r = wts_run(*argv)
    assert (r.status, r.out) == (2, "")
    assert r.err == "Invalid parameter(s)\n" + text
    assert {s: sessions_of(state, s) for s in ("RDS01", "RDS02")} == before
    assert wts.sim.messages() == []


def test_switches_are_case_insensitive_and_take_a_dash(wts_run: Runner, utc: None) -> None:
    a = wts_run("quser", "/SERVER:rds02")
    b = wts_run("query", "USER", "-Server:RDS02")
    assert a.status == b.status == 0
    assert a.out == b.out and "carol" in a.out


def test_unsupported_qwinsta_switches_say_so_in_one_line(wts_run: Runner) -> None:
    for switch in ("/mode", "/FLOW", "/connect", "/counter", "/vm"):
        r = wts_run("qwinsta", switch)
        assert (r.status, r.out) == (2, "")
        assert len(r.err.splitlines()) == 1 and "not supported" in r.err


# --- qwinsta: columns and exit status ------------------------------------------------------------------

QWINSTA_RDS01 = [
    " SESSIONNAME       USERNAME                 ID  STATE   TYPE        DEVICE ",
    " Services                                    0  Disc                        ",
    " Console                                     1  Conn                        ",
    ">RDP-Tcp#0         admin                     2  Active                      ",
    " RDP-Tcp#1         carol                     3  Active                      ",
    "                   dave                      4  Disc                        ",
    " RDP-Tcp#3         gina                      6  Active                      ",
    " RDP-Tcp#9         hank                     17  Shadow                      ",
    " RDP-Tcp                                 65536  Listen                      ",
]


def test_qwinsta_prints_windows_columns(wts_run: Runner) -> None:
    r = wts_run("qwinsta")
    assert (r.status, r.err) == (0, "")
    assert r.out.splitlines() == QWINSTA_RDS01
    # As Windows lays them out: the ID right-aligned under "ID", STATE under "STATE".
    header = QWINSTA_RDS01[0]
    for row in QWINSTA_RDS01[1:]:
        assert row[header.index("ID") + 1] != " "
        assert row[header.index("STATE")] != " "
    assert wts_run("query", "session").out == r.out


@pytest.mark.parametrize(
    ("word", "ids"),
    [("carol", [3]), ("RDP-Tcp#3", [6]), ("rdp-tcp#3", [6]), ("17", [17]), ("65536", [65536]), ("CONSOLE", [1])],
)
def test_qwinsta_takes_a_session_name_user_name_or_id(wts_run: Runner, word: str, ids: list[int]) -> None:
    r = wts_run("qwinsta", word)
    assert r.status == 0
    lines = r.out.splitlines()
    assert lines[0] == QWINSTA_RDS01[0]
    assert [int(line[39:46]) for line in lines[1:]] == ids


def test_qwinsta_with_no_such_session_says_so_and_fails(wts_run: Runner) -> None:
    r = wts_run("qwinsta", "nobody")
    assert (r.status, r.out, r.err) == (1, "", "No session exists for nobody\n")
    r = wts_run("qwinsta", "99")
    assert (r.status, r.err) == (1, "No session exists for 99\n")


def test_qwinsta_of_a_state_word(wts_run: Runner, state: Path) -> None:
    """Every connect state as qwinsta words it."""
    farm = json.loads(state.read_text())
    names = ["Active", "Connected", "ConnectQuery", "Shadow", "Disconnected", "Idle", "Listen", "Reset", "Down", "Init"]
    farm["servers"][1]["sessions"] = [
        {"id": 100 + i, "station": f"S{i}", "state": name} for i, name in enumerate(names)
    ]
    state.write_text(json.dumps(farm))
    r = wts_run("qwinsta", "/server:RDS02")
    assert r.status == 0
    words = [line[48:54].rstrip() for line in r.out.splitlines()[1:]]
    assert words == ["Active", "Conn", "ConnQ", "Shadow", "Disc", "Idle", "Listen", "Reset", "Down", "Init"]


# --- quser ---------------------------------------------------------------------------------------------

QUSER_RDS01 = [
    " USERNAME              SESSIONNAME        ID  STATE   IDLE TIME  LOGON TIME",
    ">admin                 RDP-Tcp#0           2  Active          .  11/21/2026 7:55 AM",
    " carol                 RDP-Tcp#1           3  Active          5  11/21/2026 8:30 AM",
    " dave                                      4  Disc         1:02  11/20/2026 4:00 PM",
    " gina                  RDP-Tcp#3           6  Active    2+03:04  11/19/2026 8:00 AM",
    " hank                  RDP-Tcp#9          17  Shadow       1:00  11/21/2026 12:05 PM",
]


def test_quser_prints_windows_columns(wts_run: Runner, utc: None) -> None:
    r = wts_run("quser")
    assert (r.status, r.err) == (0, "")
    assert r.out.splitlines() == QUSER_RDS01
    header = QUSER_RDS01[0]
    for row in QUSER_RDS01[1:]:
        assert row[header.index("ID") + 1] != " "  # right-aligned under ID
        assert row[header.index("IDLE TIME") + 8] != " "  # idle right-aligned under IDLE TIME
        assert row[header.index("LOGON")] != " "
    assert wts_run("query", "user").out == r.out


def test_quser_logon_time_is_local_time(wts_run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(time, "tzset"):
        pytest.skip("TZ is set through time.tzset (POSIX)")
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        r = wts_run("quser", "carol")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert r.out.splitlines()[1].endswith("  11/21/2026 3:30 AM")  # 08:30 UTC is 03:30 EST


@pytest.mark.parametrize(("word", "users"), [("carol", ["carol"]), ("RDP-Tcp#3", ["gina"]), ("4", ["dave"])])
def test_quser_takes_a_user_session_name_or_id(wts_run: Runner, utc: None, word: str, users: list[str]) -> None:
    r = wts_run("quser", word)
    assert r.status == 0
    assert [line[1:21].rstrip() for line in r.out.splitlines()[1:]] == users


@pytest.mark.parametrize("word", ["nobody", "1", "65536", "99"])
def test_quser_no_user_exists(wts_run: Runner, word: str) -> None:
    """The console and listeners have no user: quser does not list them."""
    r = wts_run("quser", word)
    assert (r.status, r.out, r.err) == (1, "", f"No User exists for {word}\n")


def test_quser_with_no_user_anywhere(wts_run: Runner, state: Path) -> None:
    farm = json.loads(state.read_text())
    farm["servers"][1]["sessions"] = farm["servers"][1]["sessions"][:2]
    state.write_text(json.dumps(farm))
    r = wts_run("quser", "/server:RDS02")
    assert (r.status, r.out, r.err) == (1, "", "No User exists for *\n")


def test_quser_json_keeps_wts_records_with_the_own_marker(wts_run: Runner) -> None:
    r = wts_run("quser", "--format", "json")
    assert r.status == 0
    recs = json.loads(r.out)
    assert [(x["id"], x["user"], x["own"]) for x in recs] == [
        (2, "admin", True),
        (3, "carol", False),
        (4, "dave", False),
        (6, "gina", False),
        (17, "hank", False),
    ]
    assert recs[0]["logon_time"] == "2026-11-21T07:55:00+00:00"
    lines = wts_run("qwinsta", "--format=jsonl").out.splitlines()
    assert len(lines) == 8 and json.loads(lines[2])["own"] is True


def test_the_own_marker_is_only_on_the_local_server(wts_run: Runner, state: Path, utc: None) -> None:
    """RDS02 has a session 2 of admin too: it is not the caller's (another server)."""
    farm = json.loads(state.read_text())
    farm["servers"][1]["sessions"].append(
        {"id": 2, "station": "RDP-Tcp#0", "state": "Active", "user": "admin", "domain": "CONTOSO",
         "logon": "2026-11-21T07:55:00Z", "last_input": "2026-11-21T11:59:40Z"}
    )  # fmt: skip
    state.write_text(json.dumps(farm))
    r = wts_run("quser", "admin", "/server:RDS01,RDS02")
    marked = [line for line in r.out.splitlines() if line.startswith(">")]
    assert marked == [QUSER_RDS01[1]]


# --- the bulk /server: form ------------------------------------------------------------------------------


def test_bulk_quser_blocks_and_failing_servers(wts_run: Runner, utc: None) -> None:
    r = wts_run("quser", "/server:BUSY01,RDS[01-02],DOWN01")
    assert r.status == 1  # two servers failed
    assert r.out.splitlines() == [
        "RDS01:",
        *QUSER_RDS01,
        "",
        "RDS02:",
        QUSER_RDS01[0],
        " carol                 RDP-Tcp#1           3  Active          2  11/21/2026 9:00 AM",
        " erin                                      5  Disc           30  11/21/2026 12:15 AM",
    ]
    assert sorted(r.err.splitlines()) == [
        "BUSY01: Error [1723]:The RPC server is too busy to complete this operation.",
        "DOWN01: Error [1722]:The RPC server is unavailable.",
    ]


def test_bulk_qwinsta_of_one_user_and_json_failures(wts_run: Runner) -> None:
    r = wts_run("query", "session", "carol", "/server:RDS01,RDS02,DOWN01")
    assert r.status == 1
    assert r.out.splitlines() == [
        "RDS01:",
        QWINSTA_RDS01[0],
        QWINSTA_RDS01[4],
        "",
        "RDS02:",
        QWINSTA_RDS01[0],
        " RDP-Tcp#1         carol                     3  Active                      ",
    ]
    assert r.err == "DOWN01: Error [1722]:The RPC server is unavailable.\n"
    recs = json.loads(wts_run("qwinsta", "carol", "/server:RDS01,RDS02,DOWN01", "--format", "json").out)
    assert [(x["server"], x["id"], x.get("status")) for x in recs] == [
        ("RDS01", 3, None),
        ("RDS02", 3, None),
        ("DOWN01", None, "failed"),
    ]
    assert recs[2]["winerror"] == 1722


def test_bulk_listing_sends_every_server_through_one_farm(wts_run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    """All the servers go to one Farm run (its engine has their calls in flight together), never
    one Server after another."""
    farms: list[tuple[str, ...]] = []
    real_init = wts.Farm.__init__

    def spy(self: wts.Farm, servers: Any, **kw: Any) -> None:
        real_init(self, servers, **kw)
        farms.append(self.servers)

    monkeypatch.setattr(wts.Farm, "__init__", spy)
    opened: list[Any] = []
    real_server = wts.Server.sessions
    monkeypatch.setattr(wts.Server, "sessions", lambda self: opened.append(self.name) or real_server(self))
    assert wts_run("qwinsta", "/server:RDS[01-02],DOWN01,BUSY01").status == 1
    assert farms == [("RDS01", "RDS02", "DOWN01", "BUSY01")]
    assert opened == []


def test_a_bad_server_range_is_one_line(wts_run: Runner) -> None:
    r = wts_run("quser", "/server:RDS[01-")
    assert (r.status, r.out) == (2, "")
    assert len(r.err.splitlines()) == 1 and "/SERVER" in r.err and "Traceback" not in r.err


# --- logoff and rwinsta -----------------------------------------------------------------------------------


def test_classic_form_is_recognised_by_a_slash_switch_or_no_title() -> None:
    assert classic_form("logoff", ["4", "/server:RDS01"])
    assert classic_form("logoff", ["/V", "4"]) and classic_form("logoff", ["/?"]) and classic_form("logoff", ["/vm"])
    assert not classic_form("logoff", ["4", "-s", "RDS01"])
    assert not classic_form("logoff", ["--user", "dave", "-v"])
    assert not classic_form("logoff", ["--audit-log", "/tmp/log", "4"])  # a path is no switch
    assert classic_form("logoff", ["3", "/v:yes"]) and classic_form("logoff", ["-?"])
    assert classic_form("msg", ["carol", "hello"]) and classic_form("msg", ["*", "/server:RDS01"])
    assert not classic_form("msg", ["--title", "T", "hi", "--user", "dave"])
    assert not classic_form("msg", ["--title=T", "hi"]) and not classic_form("msg", ["--help"])
    assert not classic_form("message", ["carol", "hello"])  # wts' own name: always wts' own form


def test_logoff_the_windows_way(wts_run: Runner, state: Path) -> None:
    r = wts_run("logoff", "4", "/server:RDS01")
    assert (r.status, r.out, r.err) == (0, "", "")  # logoff.exe says nothing when it worked
    assert 4 not in sessions_of(state)
    r = wts_run("logoff", "rdp-tcp#1", "/V")
    assert (r.status, r.err) == (0, "")
    assert r.out == "RDS01: session 3 (RDP-Tcp#1), carol: logged off\n"
    left = sessions_of(state)
    assert 3 not in left and {0, 1, 2, 6, 17, 65536} <= set(left)


def test_wts_own_logoff_form_still_works(wts_run: Runner, state: Path) -> None:
    r = wts_run("logoff", "4", "-s", "RDS01")
    assert r.status == 0 and "logged off" in r.out and "SERVER" in r.out  # wts' own table
    assert 4 not in sessions_of(state)


@pytest.mark.parametrize(
    ("argv", "sid", "words"),
    [
        (["logoff", "1", "/v"], 1, "the console session is never touched"),
        (["logoff", "0", "/server:RDS01"], 0, "session 0 (services) is never touched"),
        (["logoff", "65536", "/server:RDS01"], 65536, "a listener is never touched"),
        (["logoff", "/V", "2"], 2, "your own session"),
        (["rwinsta", "RDP-Tcp#0"], 2, "your own session"),
        (["logoff", "6", "/server:rds01"], 6, "Access is denied. [ERROR_ACCESS_DENIED 5]"),
    ],
)
def test_logoff_keeps_wts_safety(wts_run: Runner, state: Path, argv: list[str], sid: int, words: str) -> None:
    before = sessions_of(state)
    r = wts_run(*argv)
    assert r.status == 1 and r.out == ""
    assert len(r.err.splitlines()) == 1
    assert r.err.upper().startswith(f"RDS01: SESSION {sid}") and words in r.err  # the server as typed
    assert sessions_of(state) == before


def test_logoff_without_a_session_refuses_to_log_off_its_own(wts_run: Runner, state: Path) -> None:
    before = sessions_of(state)
    r = wts_run("logoff", "/v")
    assert (r.status, r.out) == (2, "")
    assert len(r.err.splitlines()) == 1 and "--allow-own" in r.err
    assert sessions_of(state) == before


@pytest.mark.parametrize("argv", [["logoff", "TERM99", "/v"], ["rwinsta", "99"], ["reset", "session", "nope"]])
def test_no_such_session_is_7022(wts_run: Runner, state: Path, argv: list[str]) -> None:
    before = sessions_of(state)
    r = wts_run(*argv)
    assert (r.status, r.out) == (1, "")
    assert (
        r.err
        == f"RDS01: {argv[-2] if argv[-1] == '/v' else argv[-1]}: Error [7022]:The specified session cannot be found.\n"
    )
    assert sessions_of(state) == before


def test_rwinsta_and_reset_session_end_the_session(wts_run: Runner, state: Path) -> None:
    assert wts_run("rwinsta", "3").status == 0
    assert wts_run("reset", "session", "4", "/server:RDS01").status == 0
    left = sessions_of(state)
    assert 3 not in left and 4 not in left


def test_bulk_logoff_asks_first_and_keeps_going_past_failed_servers(wts_run: Runner, state: Path) -> None:
    """carol has session 3 on RDS01 and RDS02: two sessions need a confirmation (none on a pipe)."""
    argv = ["logoff", "RDP-Tcp#1", "/server:RDS01,RDS02,DOWN01"]
    r = wts_run(*argv)
    assert r.status == 2 and "--yes" in r.err
    assert 3 in sessions_of(state) and 3 in sessions_of(state, "RDS02")
    r = wts_run(*argv, "--dry-run")
    assert r.status == 1  # DOWN01
    assert r.out.splitlines() == [
        "RDS01: session 3 (RDP-Tcp#1), carol: would log off (dry run)",
        "RDS02: session 3 (RDP-Tcp#1), carol: would log off (dry run)",
    ]
    assert r.err.splitlines() == [
        "DOWN01: Error [1722]:The RPC server is unavailable.",
        "logoff (dry run): 2 planned, on 3 servers; nothing was changed",
    ]
    assert 3 in sessions_of(state) and 3 in sessions_of(state, "RDS02")
    r = wts_run(*argv, "--yes", "/v")
    assert r.status == 1
    assert r.out.splitlines() == [
        "RDS01: session 3 (RDP-Tcp#1), carol: logged off",
        "RDS02: session 3 (RDP-Tcp#1), carol: logged off",
    ]
    assert 3 not in sessions_of(state) and 3 not in sessions_of(state, "RDS02")


def test_bulk_reset_session_on_a_farm_with_failing_servers(wts_run: Runner, state: Path) -> None:
    r = wts_run("reset", "session", "RDP-Tcp#1", "/server:RDS[01-02],DOWN01,BUSY01", "/v", "--yes")
    assert r.status == 1
    assert r.out.splitlines() == [
        "RDS01: session 3 (RDP-Tcp#1), carol: logged off",
        "RDS02: session 3 (RDP-Tcp#1), carol: logged off",
    ]
    assert sorted(r.err.splitlines()) == [
        "BUSY01: Error [1723]:The RPC server is too busy to complete this operation.",
        "DOWN01: Error [1722]:The RPC server is unavailable.",
    ]
    assert 3 not in sessions_of(state) and 3 not in sessions_of(state, "RDS02")


def test_a_word_across_servers_means_wherever_it_is(wts_run: Runner, state: Path) -> None:
    """msg erin /server:RDS[01-02]: erin is on RDS02 only; RDS01 not having her is no error.  A user on
    none of the servers is one line naming her, and exit 1; on one server the original's line stays."""
    r = wts_run("msg", "erin", "/server:RDS[01-02]", "hi", "--yes")
    assert (r.status, r.err) == (0, "")
    assert [(m["server"], m["session"]) for m in wts.sim.messages()] == [("RDS02", 5)]
    r = wts_run("msg", "zed", "/server:RDS[01-02]", "hi", "--yes")
    assert (r.status, r.err) == (1, "zed: Error [7022]:The specified session cannot be found.\n")
    r = wts_run("logoff", "TERM99", "/server:RDS01,RDS02", "--yes")
    assert (r.status, r.err) == (1, "TERM99: Error [7022]:The specified session cannot be found.\n")
    r = wts_run("msg", "erin", "/server:RDS01", "hi", "--yes")
    assert (r.status, r.err) == (1, "RDS01: erin: Error [7022]:The specified session cannot be found.\n")


def test_logoff_outcomes_as_json(wts_run: Runner) -> None:
    r = wts_run("logoff", "1", "/server:RDS01", "--format", "json")
    assert r.status == 1
    (rec,) = json.loads(r.out)
    assert (rec["server"], rec["session_id"], rec["status"], rec["action"]) == ("RDS01", 1, "skipped", "logoff")


# --- msg ----------------------------------------------------------------------------------------------------


def test_msg_carol_text_as_msg_exe(wts_run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USERNAME", "admin")
    monkeypatch.setenv("USERDOMAIN", "CONTOSO")
    r = wts_run("msg", "carol", "Server", "restarts", "at", "noon")
    assert (r.status, r.out, r.err) == (0, "", "")
    sent = wts.sim.messages()
    assert [(m["server"], m["session"], m["title"], m["text"], m["timeout"]) for m in sent] == [
        ("RDS01", 3, "Message from CONTOSO\\admin", "Server restarts at noon", 60)
    ]


def test_msg_reads_the_message_from_stdin(wts_run: Runner) -> None:
    r = wts_run("msg", "RDP-Tcp#1", "/time:5", stdin="Please save your work.\nThanks\n")
    assert r.status == 0, r.err
    (m,) = wts.sim.messages()
    assert (m["session"], m["text"], m["timeout"]) == (3, "Please save your work.\nThanks", 5)
    r = wts_run("msg", "carol", stdin="\n")
    assert r.status == 2 and "empty" in r.err


def test_msg_star_skips_the_protected_and_wait_reports_answers(wts_run: Runner) -> None:
    r = wts_run("msg", "*", "/w", "/v", "/time:30", "hello", "--yes")
    assert r.status == 1  # gina's session refuses messages (access denied)
    assert [line for line in r.out.splitlines() if ": sent" in line] == [
        "RDS01: session 3 (RDP-Tcp#1), carol: sent, answered: yes",
        "RDS01: session 4, dave: sent, answered: timeout",  # disconnected: nobody to answer
        "RDS01: session 17 (RDP-Tcp#9), hank: sent, answered: ok",
    ]
    assert "RDS01: session 2 (RDP-Tcp#0), admin: skipped: your own session (--allow-own includes it)" in r.out
    errs = r.err.splitlines()
    assert any(e.startswith("RDS01: session 6 (RDP-Tcp#3), gina: FAILED: Access is denied.") for e in errs)
    assert {m["session"] for m in wts.sim.messages()} == {3, 4, 17}  # never 0, 1, 2 (own), 65536


def test_msg_without_a_message_and_stdin_closed_sends_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, state: Path
) -> None:
    monkeypatch.setattr(sys, "stdin", None)  # the shell closed it: wts msg carol <&-
    status = main(["--sim-state", str(state), "msg", "carol"])
    out, err = capsys.readouterr()
    assert (status, out) == (2, "")
    assert len(err.splitlines()) == 1 and "stdin is closed" in err
    assert wts.sim.messages() == []


def test_msg_star_is_quiet_about_the_sessions_it_never_reaches(wts_run: Runner) -> None:
    """msg * on RDS02: session 0, the console and the listener are skipped without a word (as wts'
    own tables leave them out); /V lists them on stdout.  Exit 0: everyone there was told."""
    r = wts_run("msg", "*", "/server:RDS02", "hi", "--yes")
    assert (r.status, r.out, r.err) == (0, "", "")
    assert sorted(m["session"] for m in wts.sim.messages()) == [3, 5]
    r = wts_run("msg", "*", "/server:RDS02", "/v", "hi", "--yes")
    assert r.status == 0
    assert "RDS02: session 1 (Console): skipped: the console session is never touched" in r.out.splitlines()
    r = wts_run("msg", "1", "/server:RDS02", "hi")  # named: the skip is said, and it is a failure
    assert r.status == 1 and r.err == "RDS02: session 1 (Console): skipped: the console session is never touched\n"


def test_a_name_may_start_with_a_digit(wts_run: Runner) -> None:
    r = wts_run("quser", "1stshift")
    assert (r.status, r.err) == (1, "No User exists for 1stshift\n")
    r = wts_run("qwinsta", "99999999999")
    assert r.status == 2 and "out of range" in r.err


def test_msg_at_file_and_bulk(wts_run: Runner, tmp_path: Path) -> None:
    names = tmp_path / "names.txt"
    names.write_text("# who\ncarol\nerin\n\n")
    r = wts_run("msg", f"@{names}", "/server:RDS[01-02],BUSY01", "hi", "--yes")
    assert r.status == 1
    assert r.err == "BUSY01: Error [1723]:The RPC server is too busy to complete this operation.\n"
    got = sorted((m["server"], m["session"]) for m in wts.sim.messages())
    assert got == [("RDS01", 3), ("RDS02", 3), ("RDS02", 5)]
    r = wts_run("msg", f"@{tmp_path / 'missing.txt'}", "hi")
    assert r.status == 2 and len(r.err.splitlines()) == 1


def test_msg_on_a_farm_whose_sessions_run_processes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo farm's generated sessions run processes: wts.sim.messages() still reads the message
    log (it used to stop at the first process line, "process line before any session line")."""
    state = tmp_path / "demo.json"
    shutil.copyfile(Path(__file__).resolve().parents[1] / "examples" / "demo-farm.json", state)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["--sim-state", str(state), "msg", "RDP-Tcp#0", "/server:RDS02", "hello"]) == 0
    capsys.readouterr()
    assert [(m["server"], m["session"], m["text"]) for m in wts.sim.messages()] == [("RDS02", 2, "hello")]
    with wts.Server("RDS02", provider="sim") as srv:
        assert srv.processes()  # the premise: this farm's sessions do run processes


def test_wts_own_message_form_still_works(wts_run: Runner) -> None:
    r = wts_run("msg", "--title", "T", "hi", "3", "-s", "RDS01")
    assert r.status == 0, r.err
    (m,) = wts.sim.messages()
    assert (m["title"], m["text"], m["session"]) == ("T", "hi", 3)


# --- the three ways to run it -------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["python -m wts"])
def test_classic_commands_as_python_m_wts(state: Path, how: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "wts", "--sim-state", str(state), "qwinsta"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (proc.returncode, proc.stdout.splitlines(), proc.stderr) == (0, QWINSTA_RDS01, "")


# --- qprocess / query process and tskill (Farm.processes, Farm.terminate) ------------------------------------

QPROCESS_ALL_RDS01 = [
    " USERNAME              SESSIONNAME         ID    PID  IMAGE",
    " (unknown)             services             0      0  idle",
    " system                services             0      4  system",
    " system                services             0    300  smss.exe",
    " system                services             0    400  csrss.exe",
    " network service       services             0    800  svchost.exe",
    ">admin                 rdp-tcp#0            2   2000  explorer.exe",
    ">admin                 rdp-tcp#0            2   2100  excel.exe",
    " carol                 rdp-tcp#1            3   3000  explorer.exe",
    " carol                 rdp-tcp#1            3   3100  excel.exe",
    " system                rdp-tcp#1            3   3200  csrss.exe",
    " dave                                       4   4100  winword.exe",
    " gina                  rdp-tcp#3            6   6100  excel.exe",
]


#: The processes the farm's sessions run (added by the ``procs`` fixture): session 0's and the system's
#: own on RDS01, Excel in four sessions (one of them the caller's own), Word, Notepad.
PROCESSES = {
    ("RDS01", 0): [
        {"name": "System", "pid": 4},
        {"name": "smss.exe", "pid": 300},
        {"name": "csrss.exe", "pid": 400},
        {"name": "svchost.exe", "pid": 800, "user": "NETWORK SERVICE"},
        {"name": "Idle", "pid": 0, "user": ""},
    ],
    ("RDS01", 2): [{"name": "explorer.exe", "pid": 2000}, {"name": "EXCEL.EXE", "pid": 2100}],
    ("RDS01", 3): [
        {"name": "csrss.exe", "pid": 3200, "user": "SYSTEM"},
        {"name": "explorer.exe", "pid": 3000},
        {"name": "EXCEL.EXE", "pid": 3100},
    ],
    ("RDS01", 4): [{"name": "WINWORD.EXE", "pid": 4100}],
    ("RDS01", 6): [{"name": "EXCEL.EXE", "pid": 6100}],
    ("RDS02", 3): [{"name": "EXCEL.EXE", "pid": 3300}],
    ("RDS02", 5): [{"name": "notepad.exe", "pid": 5100}],
}


@pytest.fixture
def procs(state: Path) -> Path:
    """The farm, with processes in its sessions."""
    farm = json.loads(state.read_text())
    for server in farm["servers"]:
        for session in server.get("sessions", []):
            found = PROCESSES.get((server["name"], session["id"]))
            if found:
                session["processes"] = found
    state.write_text(json.dumps(farm))
    return state


def processes_of(path: Path, server: str = "RDS01") -> dict[int, str]:
    wts.sim.load(path)
    with wts.Server(server, provider="sim") as srv:
        return {p.pid: p.name for p in srv.processes()}


@pytest.mark.parametrize(
    ("argv", "text", "line"),
    [
        (["qprocess"], QPROCESS_USAGE, "QUERY PROCESS [* | processid | username | sessionname | /ID:nn | programname]"),
        (
            ["query", "process"],
            QPROCESS_USAGE,
            "  /SERVER:servername The Remote Desktop Session Host server to be queried.",
        ),
        (["tskill"], TSKILL_USAGE, "TSKILL processid | processname [/SERVER:servername] [/ID:sessionid | /A] [/V]"),
    ],
)
def test_process_tools_usage(procs: Path, wts_run: Runner, argv: list[str], text: str, line: str) -> None:
    r = wts_run(*argv, "/?")
    assert (r.status, r.out, r.err) == (0, text, "")
    assert line in r.out.splitlines()
    assert QPROCESS_USAGE.endswith(".\n\n") and TSKILL_USAGE.endswith(".\n\n\n")


PROCESS_INVALID = [
    (["qprocess", "a", "b"], QPROCESS_USAGE),
    (["qprocess", "/bogus"], QPROCESS_USAGE),
    (["qprocess", "/id:x"], QPROCESS_USAGE),
    (["qprocess", "/id:"], QPROCESS_USAGE),
    (["qprocess", "carol", "/id:3"], QPROCESS_USAGE),
    (["qprocess", "/system:yes"], QPROCESS_USAGE),
    (["query", "process", "/v"], QPROCESS_USAGE),
    (["tskill"], TSKILL_USAGE),
    (["tskill", "excel", "winword"], TSKILL_USAGE),
    (["tskill", "excel", "/a", "/id:3"], TSKILL_USAGE),
    (["tskill", "excel", "/server:RDS02"], TSKILL_USAGE),  # /ID or /A must be given with a name and /SERVER
    (["tskill", "3100", "/v:1"], TSKILL_USAGE),
    (["tskill", "excel", "/a", "--format", "xml"], TSKILL_USAGE),
]


@pytest.mark.parametrize(("argv", "text"), PROCESS_INVALID, ids=[" ".join(a) for a, _ in PROCESS_INVALID])
def test_process_tools_invalid_parameters(wts_run: Runner, procs: Path, argv: list[str], text: str) -> None:
    before = processes_of(procs)
    r = wts_run(*argv)
    assert (r.status, r.out, r.err) == (2, "", "Invalid parameter(s)\n" + text)
    assert processes_of(procs) == before


def test_qprocess_prints_windows_columns(procs: Path, wts_run: Runner) -> None:
    r = wts_run("qprocess", "*", "/system")
    assert (r.status, r.err) == (0, "")
    assert r.out.splitlines() == QPROCESS_ALL_RDS01
    header = QPROCESS_ALL_RDS01[0]
    for row in QPROCESS_ALL_RDS01[1:]:
        assert row[header.index("ID") + 1] != " " and row[header.index("PID") + 2] != " "
        assert row[header.index("IMAGE")] != " "


def test_qprocess_selections(procs: Path, wts_run: Runner) -> None:
    def rows(*argv: str) -> list[str]:
        r = wts_run("qprocess", *argv)
        assert r.status == 0, r.err
        assert r.out.splitlines()[0] == QPROCESS_ALL_RDS01[0]
        return r.out.splitlines()[1:]

    everyone = [line for line in QPROCESS_ALL_RDS01[1:] if "services" not in line and "csrss" not in line]
    assert rows() == QPROCESS_ALL_RDS01[6:8]  # no word: the current user's processes
    assert rows("*") == everyone  # without /SYSTEM: no session 0, no system images
    assert rows("carol") == QPROCESS_ALL_RDS01[8:10]
    assert rows("RDP-Tcp#1") == QPROCESS_ALL_RDS01[8:10]
    assert rows("rdp-tcp#1", "/system") == QPROCESS_ALL_RDS01[8:11]
    assert rows("/ID:4") == [QPROCESS_ALL_RDS01[11]]
    assert rows("EXCEL.exe") == [QPROCESS_ALL_RDS01[i] for i in (7, 9, 12)]
    assert rows("400") == [QPROCESS_ALL_RDS01[4]]  # a pid is shown whatever it is
    assert wts_run("query", "process", "*").out == wts_run("qprocess", "*").out


@pytest.mark.parametrize("word", ["nobody", "99999", "excel"])  # a program name needs its .exe
def test_qprocess_no_process_exists(procs: Path, wts_run: Runner, word: str) -> None:
    r = wts_run("qprocess", word)
    assert (r.status, r.out, r.err) == (1, "", f"No Process exists for {word}\n")


def test_bulk_qprocess_with_failing_servers(procs: Path, wts_run: Runner) -> None:
    r = wts_run("qprocess", "excel.exe", "/server:RDS[01-02],DOWN01,BUSY01")
    assert r.status == 1
    assert r.out.splitlines() == [
        "RDS01:",
        QPROCESS_ALL_RDS01[0],
        *[QPROCESS_ALL_RDS01[i] for i in (7, 9, 12)],
        "",
        "RDS02:",
        QPROCESS_ALL_RDS01[0],
        " carol                 rdp-tcp#1            3   3300  excel.exe",
    ]
    assert sorted(r.err.splitlines()) == [
        "BUSY01: Error [1723]:The RPC server is too busy to complete this operation.",
        "DOWN01: Error [1722]:The RPC server is unavailable.",
    ]
    recs = json.loads(wts_run("qprocess", "excel.exe", "/server:RDS01,DOWN01", "--format", "json").out)
    assert [(x["server"], x["pid"], x.get("own"), x.get("status")) for x in recs] == [
        ("RDS01", 2100, True, None),
        ("RDS01", 3100, False, None),
        ("RDS01", 6100, False, None),
        ("DOWN01", None, None, "failed"),
    ]


def test_tskill_by_pid_as_tskill_exe(wts_run: Runner, procs: Path) -> None:
    r = wts_run("tskill", "3100")
    assert (r.status, r.out, r.err) == (0, "", "")
    assert 3100 not in processes_of(procs)
    r = wts_run("tskill", "4100", "/v")
    assert (r.status, r.out, r.err) == (0, "RDS01: End Process(4100)\n", "")
    r = wts_run("tskill", "4100")
    assert (r.status, r.out, r.err) == (1, "", "Could not find process: 4100\n")
    left = processes_of(procs)
    assert 4100 not in left and {2100, 6100, 3000} <= set(left)


def test_tskill_by_name_is_the_current_session_which_wts_keeps(wts_run: Runner, procs: Path) -> None:
    """tskill excel (no /ID, no /A) means your own session: wts skips it unless --allow-own."""
    r = wts_run("tskill", "excel")
    assert (r.status, r.out) == (1, "")
    assert r.err.startswith("RDS01: session 2, admin: EXCEL.EXE (2100): skipped: ")
    assert 2100 in processes_of(procs)
    assert wts_run("tskill", "excel", "--allow-own").status == 0
    assert 2100 not in processes_of(procs)


def test_tskill_a_keeps_the_protected_and_asks_first(wts_run: Runner, procs: Path) -> None:
    r = wts_run("tskill", "excel", "/a")
    assert r.status == 2 and "--yes" in r.err  # three processes: a confirmation, none on a pipe
    r = wts_run("tskill", "excel", "/a", "--dry-run")
    # your own session's Excel is skipped quietly under /A: counted in the dry run's summary only
    assert (r.status, r.err) == (0, "tskill (dry run): 2 planned, 1 skipped, on 1 server; nothing was changed\n")
    assert r.out.splitlines() == [
        "RDS01: session 3, carol: EXCEL.EXE (3100): would end (dry run)",
        "RDS01: session 6, gina: EXCEL.EXE (6100): would end (dry run)",
    ]
    assert {2100, 3100, 6100} <= set(processes_of(procs))
    r = wts_run("tskill", "csrss", "/a", "--dry-run")
    assert r.status == 1 and r.out == ""
    assert len(r.err.splitlines()) == 3 and all("skipped" in line for line in r.err.splitlines())
    r = wts_run("tskill", "excel", "/a", "/v", "--yes")
    assert r.status == 0
    assert r.out.splitlines() == [
        "RDS01: session 2, admin: EXCEL.EXE (2100): skipped: runs in your own session (--allow-own includes it)",
        "RDS01: End Process(3100)",
        "RDS01: End Process(6100)",
    ]
    left = processes_of(procs)
    assert 2100 in left and 3100 not in left and 6100 not in left and 400 in left


def test_tskill_farm_wide_with_failing_servers(wts_run: Runner, procs: Path) -> None:
    r = wts_run("tskill", "excel", "/server:RDS[01-02],DOWN01", "/id:3", "--yes", "/v")
    assert r.status == 1
    assert r.out.splitlines() == ["RDS01: End Process(3100)", "RDS02: End Process(3300)"]
    assert r.err == "DOWN01: Error [1722]:The RPC server is unavailable.\n"
    assert 3100 not in processes_of(procs) and 3300 not in processes_of(procs, "RDS02")
    r = wts_run("tskill", "3000", "/server:RDS01,RDS02")
    assert r.status == 2 and len(r.err.splitlines()) == 1  # a pid belongs to one server
    recs = json.loads(wts_run("tskill", "notepad", "/server:RDS02", "/a", "--format", "json").out)
    assert [(x["server"], x["pid"], x["status"]) for x in recs] == [("RDS02", 5100, "done")]


# --- the README's farm-wide examples are what the commands print ------------------------------------------------


@POSIX_ONLY
def test_readme_classic_examples_are_real_output(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, utc: None
) -> None:
    """Each ``$ wts --sim-state /tmp/farm40.json ...`` line of README's "Every classic tool" block,
    run on a copy of examples/farm-40.json: what follows it is what it prints (stdout, then stderr;
    ``| head -n N`` keeps stdout's first N lines, ``2>&1 | tail -n N`` the last N of both; ``echo $?``
    the status)."""
    root = Path(__file__).resolve().parents[1]
    text = (root / "README.md").read_text(encoding="utf-8")
    block = text.split("**Every classic tool, farm-wide.**", 1)[1].split("```console\n", 1)[1].split("\n```", 1)[0]
    state = tmp_path / "farm40.json"
    shutil.copyfile(root / "examples" / "farm-40.json", state)
    commands: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        else:
            commands[-1][1].append(line)
    assert len(commands) >= 3
    status = 0
    for command, expected in commands:
        if command.startswith("cp ") or command == "echo $?":
            if command == "echo $?":
                assert expected == [str(status)]
            continue
        words, _, pipe = command.partition(" | ")
        argv = words.split()
        merged = argv[-1] == "2>&1"  # stderr into the pipe too
        if merged:
            argv.pop()
        assert argv[:3] == ["wts", "--sim-state", "/tmp/farm40.json"], command
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        capsys.readouterr()
        status = main(["--sim-state", str(state), *argv[3:]])
        out, err = capsys.readouterr()
        lines = out.splitlines()
        if pipe.startswith("head -n "):
            lines = lines[: int(pipe.split()[-1])]
        elif pipe.startswith("tail -n "):
            assert merged, command
            lines = (lines + err.splitlines())[-int(pipe.split()[-1]) :]
        else:
            assert not pipe, command
            lines += err.splitlines()
        assert lines == expected, command
