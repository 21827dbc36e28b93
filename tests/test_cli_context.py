"""The ``wts`` command's seams: the streams it is handed (``main(argv, stdin=, stdout=, stderr=)``),
closed streams, ``ExitStatus``, the lazy command table, and text rendered from enums (``Reason``,
``WinError``) rather than from the library's words.

Farm: examples/demo-farm.json (RDS01 is local; the caller is admin in session 2; dave is disconnected
in session 10, carol in TERM04 = session 4), copied to tmp_path and driven through ``--sim-state``.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import wts
from wts import ConnectState, Outcome, Reason
from wts._cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, ExitStatus, main
from wts._cli._args import build_parser
from wts._cli._commands import COMMANDS, load
from wts._cli._context import ClosedStream, Environment
from wts._cli._text import not_found, outcome_detail, reason_text, win_tag
from wts._winerror import WinError

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo-farm.json"
CLOSED_STDOUT = "wts: stdout is closed: the output could not be written"


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    path = tmp_path / "state.json"
    shutil.copyfile(DEMO, path)
    return path


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COLUMNS", "NO_COLOR", "WTS_SIM_FARM", "WTS_SIM_STATE", "TERM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WTS_PROVIDER", "sim")


def state_of(state: Path, sid: int) -> ConnectState:
    wts.sim.load(state)
    with wts.Server("RDS01", provider="sim") as srv:
        return {s.id: s for s in srv.sessions()}[sid].state


def closed() -> io.StringIO:
    stream = io.StringIO()
    stream.close()
    return stream


# --- streams passed in ----------------------------------------------------------------------------


def test_everything_goes_to_the_streams_passed_in(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, err = io.StringIO(), io.StringIO()
    status = main(["--sim-state", str(demo), "sessions", "-s", "RDS[01-02]"], stdout=out, stderr=err)
    assert status == ExitStatus.OK
    assert out.getvalue().startswith(" SERVER")  # a column for quser's ">": the caller's session is listed
    assert "RDS02" in out.getvalue()
    assert err.getvalue().startswith("2") and " sessions (" in err.getvalue()  # the summary line
    assert capsys.readouterr() == ("", "")  # nothing reached the real sys.stdout or sys.stderr


def test_help_usage_errors_and_version_go_to_the_streams_passed_in(capsys: pytest.CaptureFixture[str]) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["--help"], stdout=out, stderr=err) == ExitStatus.OK
    assert out.getvalue().startswith("usage: wts ") and err.getvalue() == ""
    out, err = io.StringIO(), io.StringIO()
    assert main(["sessions", "--help"], stdout=out, stderr=err) == ExitStatus.OK
    assert "--details" in out.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert main(["sessions", "--bogus"], stdout=out, stderr=err) == ExitStatus.USAGE
    assert out.getvalue() == "" and err.getvalue().splitlines()[-1] == "wts: error: unrecognized arguments: --bogus"
    out, err = io.StringIO(), io.StringIO()
    assert main([], stdout=out, stderr=err) == ExitStatus.USAGE
    assert err.getvalue().startswith("usage: wts ")
    out = io.StringIO()
    assert main(["--version"], stdout=out, stderr=err) == ExitStatus.OK
    assert out.getvalue() == f"wts {wts.__version__}\n"
    assert capsys.readouterr() == ("", "")


def test_the_classics_write_to_the_streams_passed_in(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["--sim-state", str(demo), "tsdiscon", "10", "/v"], stdout=out, stderr=err) == ExitStatus.OK
    assert out.getvalue() == "Disconnecting session 10 on the local server.\nSession 10 disconnected.\n"
    out, err = io.StringIO(), io.StringIO()
    assert main(["tscon", "/bogus"], stdout=out, stderr=err) == ExitStatus.USAGE
    assert err.getvalue().startswith("Invalid parameter(s)\n")
    assert capsys.readouterr() == ("", "")


def test_stdin_is_the_one_passed_in(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("RDS05\n"))  # must not be read
    out, err = io.StringIO(), io.StringIO()
    status = main(
        ["--sim-state", str(demo), "sessions", "-s", "-", "--format", "jsonl"],
        stdin=io.StringIO("RDS02\n# a comment\nRDS03\n"),
        stdout=out,
        stderr=err,
    )
    assert status == ExitStatus.OK, err.getvalue()
    assert {line.split('"server": "')[1].split('"')[0] for line in out.getvalue().splitlines()} == {"RDS02", "RDS03"}


def test_confirmation_asks_the_stdin_passed_in(demo: Path) -> None:
    # A StringIO is no terminal: the command refuses without --yes (exit 2) and changes nothing.
    err = io.StringIO()
    status = main(["--sim-state", str(demo), "disconnect", "10", "4"], stdin=io.StringIO("y\n"), stderr=err)
    assert status == ExitStatus.USAGE
    assert "stdin is not a terminal" in err.getvalue()
    assert state_of(demo, 4) == ConnectState.ACTIVE


def test_the_password_comes_from_the_stdin_passed_in(demo: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    status = main(
        ["--sim-state", str(demo), "-v", "connect", "23", "--password-prompt"],
        stdin=io.StringIO("mypass\n"),
        stdout=out,
        stderr=err,
    )
    assert status == ExitStatus.OK, err.getvalue()
    assert "mypass" not in out.getvalue() + err.getvalue()
    assert state_of(demo, 23) == ConnectState.ACTIVE


# --- closed streams -------------------------------------------------------------------------------


def test_a_closed_stdout_is_one_line_and_status_1(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = io.StringIO()
    assert main(["--sim-state", str(demo), "sessions"], stdout=closed(), stderr=err) == ExitStatus.FAILED
    assert err.getvalue().splitlines()[-1] == CLOSED_STDOUT
    assert "Traceback" not in err.getvalue()
    assert capsys.readouterr() == ("", "")


def test_a_closed_stdout_does_not_stop_the_action(demo: Path) -> None:
    # What was done stands (as for a broken pipe); only its report is lost.
    err = io.StringIO()
    assert main(["--sim-state", str(demo), "disconnect", "4"], stdout=closed(), stderr=err) == ExitStatus.FAILED
    assert err.getvalue().splitlines() == [CLOSED_STDOUT]
    assert state_of(demo, 4) == ConnectState.DISCONNECTED


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["tsdiscon", "/?"], ["sessions", "--help"]])
def test_help_and_version_to_a_closed_stdout(argv: list[str]) -> None:
    err = io.StringIO()
    assert main(argv, stdout=closed(), stderr=err) == ExitStatus.FAILED
    assert err.getvalue() == CLOSED_STDOUT + "\n"


def test_a_closed_stderr_is_silent(demo: Path) -> None:
    out = io.StringIO()
    assert main(["--sim-state", str(demo), "sessions", "--sort", "bogus"], stdout=out, stderr=closed()) == EXIT_USAGE
    assert main(["sessions", "--bogus"], stdout=out, stderr=closed()) == EXIT_USAGE
    assert main(["--sim-state", str(demo), "-vv", "sessions"], stdout=closed(), stderr=closed()) == EXIT_FAILED
    assert out.getvalue() == ""


def test_a_closed_stdin_reads_as_empty() -> None:
    env = Environment(stdin=closed(), stdout=io.StringIO(), stderr=io.StringIO())
    assert isinstance(env.stdin, ClosedStream)
    assert env.stdin.readline() == ""
    assert not env.stdin.isatty()


@pytest.mark.skipif(sys.platform == "win32", reason="closes fd 1 with a POSIX shell")
@pytest.mark.parametrize("argv", [["sessions"], ["--version"], ["tsdiscon", "/?"]])
def test_closed_fd_1_from_the_shell(demo: Path, argv: list[str]) -> None:
    # 'wts sessions >&-': Python starts with sys.stdout None.
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "WTS_SIM_FARM", "WTS_SIM_STATE")}
    env.update(WTS_PROVIDER="sim", PYTHONIOENCODING="utf-8")
    proc = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m", "wts", "--sim-state", str(demo), *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == ExitStatus.FAILED
    assert proc.stderr.splitlines()[-1] == CLOSED_STDOUT
    assert "Traceback" not in proc.stderr


# --- ExitStatus and the command table -------------------------------------------------------------


def test_exit_status_values() -> None:
    assert [(s.name, int(s)) for s in ExitStatus] == [
        ("OK", 0),
        ("FAILED", 1),
        ("USAGE", 2),
        ("INTERRUPTED", 130),
        ("TERMINATED", 143),  # SIGTERM (issue 12, item 20)
    ]
    assert (EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED) == (0, 1, 2, 130)
    assert EXIT_USAGE is ExitStatus.USAGE


def test_every_command_of_the_parser_is_in_the_table() -> None:
    parser = build_parser(Environment(stdout=io.StringIO(), stderr=io.StringIO()))
    subs = next(a for a in parser._actions if a.dest == "command")
    assert set(subs.choices or ()) == set(COMMANDS)
    for name in COMMANDS:
        assert callable(load(name))


def test_help_imports_no_command_module() -> None:
    code = (
        "import io, sys\n"
        "from wts._cli import main\n"
        "main(['--help'], stdout=io.StringIO())\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('wts._cli.'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    loaded = set(proc.stdout.split())
    commands = {f"wts._cli.{c.module}" for c in COMMANDS.values()}
    assert loaded and not loaded & commands, loaded
    assert "wts._cli._guard" not in loaded


# --- text rendered from enums ---------------------------------------------------------------------


def _outcome(status: str, why: Reason, reason: str, winerror: int | None = None) -> Outcome:
    return Outcome("RDS01", 7, "RDP-Tcp#1", "gina", "logoff", status, winerror, reason, None, why)


def test_own_session_text_comes_from_the_reason_not_the_library_words() -> None:
    o = _outcome("skipped", Reason.OWN_SESSION, "whatever the library says")
    assert reason_text(o) == "your own session (--allow-own includes it)"
    other = _outcome("skipped", Reason.ALREADY, "already disconnected")
    assert reason_text(other) == "already disconnected"


def test_system_skips_are_hidden_by_reason(demo: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    argv = ["--sim-state", str(demo), "logoff", "--all", "-s", "RDS01", "-n"]
    assert main(argv, stdout=out, stderr=err) == ExitStatus.OK
    assert "Services" not in out.getvalue() and "never touched" not in out.getvalue()
    assert "(not shown: 3 system sessions" in err.getvalue()
    verbose = io.StringIO()
    assert main([*argv, "-v"], stdout=verbose, stderr=io.StringIO()) == ExitStatus.OK
    assert "session 0 (services) is never touched" in verbose.getvalue()


def test_win32_codes_are_rendered_from_the_table() -> None:
    code = WinError.ERROR_CTX_WINSTATION_NOT_FOUND
    assert win_tag(code) == f"ERROR_CTX_WINSTATION_NOT_FOUND {int(code)}"
    assert win_tag(99999) == "WinError 99999"
    assert not_found("RDS01", ["session 99"], "; nothing was done") == (
        f"RDS01: session 99: {code.text} [ERROR_CTX_WINSTATION_NOT_FOUND {int(code)}]; nothing was done"
    )
    denied = WinError.ERROR_ACCESS_DENIED
    failed = _outcome("failed", Reason.CALL_FAILED, f"{denied.text} [ERROR_ACCESS_DENIED]", int(denied))
    assert outcome_detail(failed) == f"{denied.text} [ERROR_ACCESS_DENIED {int(denied)}]"
