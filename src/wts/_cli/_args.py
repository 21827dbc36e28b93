"""The ``wts`` command line: the parser, and the values it takes (durations, moments, session ids
and names, server lists).  Every bad value becomes a ``UsageError``: one line naming the option, the
value and what was expected, and exit status 2."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from gettext import gettext as _
from typing import TYPE_CHECKING, Any, NoReturn

from .._types import MAX_DWORD, MAX_SESSION_ID
from ._context import Environment, StreamClosedError
from ._logon import add_logon_options
from ._status import UsageError

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = [
    "build_parser",
    "classic_form",
    "parse_duration",
    "parse_moment",
    "parse_session",
]


# --- values -------------------------------------------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


#: The longest duration a filter takes: a century (longer ones could only be typing mistakes, and
#: "that long ago" must still be a date).
MAX_DURATION = timedelta(days=36525)


class _TooLong(UsageError):
    """A well-formed duration beyond ``MAX_DURATION``."""


def parse_duration(text: str, option: str) -> timedelta:
    """'90s', '15m', '2h', '1d', '1h30m', '1.5h' -> timedelta.  A bare number is refused: 90 what?
    So is one longer than ``MAX_DURATION`` (100 years)."""
    t = text.strip().lower()
    pos, seconds = 0, 0.0
    for m in _DURATION_PART.finditer(t):
        if t[pos : m.start()].strip():
            break
        seconds += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not t or pos == 0 or t[pos:].strip():
        hint = f" (90 what? write {t}s, {t}m or {t}h)" if re.fullmatch(r"\d+(\.\d+)?", t) else ""
        raise UsageError(f"{option}: {text!r} is not a duration: write it like 90s, 15m, 2h, 1d or 1h30m{hint}")
    if not seconds <= MAX_DURATION.total_seconds():  # also inf and nan
        raise _TooLong(f"{option}: {text!r} is too long: at most 100 years ({MAX_DURATION.days}d)")
    return timedelta(seconds=seconds)


def parse_moment(text: str, option: str) -> datetime | timedelta:
    """A date and time ('2026-11-20', '2026-11-20 08:00', ISO 8601 with an offset; without one it is
    local time) or a duration meaning that long ago ('8h')."""
    t = text.strip()
    if _DURATION_PART.match(t.lower()):
        try:
            return parse_duration(t, option)
        except _TooLong:
            raise
        except UsageError:
            pass
    try:
        when = datetime.fromisoformat(t.replace("Z", "+00:00") if t.endswith("Z") else t)
    except ValueError:
        raise UsageError(
            f"{option}: {text!r} is neither a date and time (like 2026-11-20 or '2026-11-20 08:00') "
            "nor a duration ago (like 8h or 2d)"
        ) from None
    try:
        # As UTC now, so that comparing it with the sessions' times cannot overflow later, mid-run
        # (0001-01-01T00:00+01:00 is a moment of year 0, which datetime cannot hold).
        return when.astimezone(timezone.utc)
    except (OverflowError, ValueError, OSError):
        raise UsageError(f"{option}: {text!r} is out of range: write a date from year 1 to 9999") from None


def parse_session(text: str, what: str = "session") -> int | str:
    """A session id (0 to 4294967294) or a session name (WinStation name, such as RDP-Tcp#3 or
    TERM04).  Something that starts like a number but is not one is a malformed id, not a name."""
    t = text.strip()
    if not t:
        raise UsageError(f"{what}: an empty session id or name")
    if t[0].isdigit() or t[0] in "+-":
        if not (t.isascii() and t.isdigit()):
            raise UsageError(f"{what}: {text!r} is not a session id (a whole number from 0 to {MAX_SESSION_ID})")
        value = int(t)
        if value > MAX_SESSION_ID:
            raise UsageError(f"{what}: session id {t} is out of range (0 to {MAX_SESSION_ID})")
        return value
    return t


def positive_int(lo: int, hi: int) -> Any:
    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is not from {lo} to {hi}")
        return value

    return check


def milliseconds(text: str) -> float:
    """A delay in milliseconds: a finite number from 0 to 1,000,000."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of milliseconds") from None
    if not 0 <= value <= 1_000_000:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{text} is not from 0 to 1000000 milliseconds")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text[:-1] if text.endswith("s") else text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"{text} is not more than 0 and at most 86400 seconds")
    return value


# --- the parser ---------------------------------------------------------------------------------

DESCRIPTION = """\
Remote Desktop sessions across whole farms: list, disconnect, log off, message and reconnect, with
every RPC in flight together.  The classic tools' syntax (qwinsta, quser, logoff, msg, rwinsta,
tsdiscon, tscon) works as it does on Windows, and their /server: also takes ranges."""

EPILOG = """\
servers: -s takes names, comma lists and ranges (RDS[01-40]); -s @FILE or --servers-file FILE read
  one per line (# comments); -s - reads them from stdin.  Without -s: the local server.
exit status: 0 all done, 1 some targets or servers failed, 2 usage error, 130 interrupted.
docs/cli.md has the whole reference and recipes."""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30)


def _add_globals(p: argparse.ArgumentParser, sub: bool, password_file: bool = True) -> None:
    """The options every command takes.  On the subcommands they default to SUPPRESS, so that
    'wts --provider sim sessions' and 'wts sessions --provider sim' mean the same.  ``password_file``
    False: the command has a --password-file of its own (connect: the session owner's)."""

    def d(value: Any) -> Any:
        return argparse.SUPPRESS if sub else value

    g = p.add_argument_group("global options")
    g.add_argument(
        "--provider",
        choices=("win32", "sim", "tsts"),
        default=d(None),
        help="WTS provider (default: WTS_PROVIDER, else win32 on Windows); tsts: MS-TSTS over SMB, from anywhere",
    )
    add_logon_options(g, d, password_file, seconds)
    g.add_argument("--sim-farm", metavar="FILE", default=d(None), help="the sim's farm file (implies --provider sim)")
    g.add_argument(
        "--sim-state",
        metavar="FILE",
        default=d(None),
        help="load the sim's farm from FILE and write its state back after the command (implies --provider sim)",
    )
    g.add_argument(
        "--concurrency", type=positive_int(1, 4096), default=d(64), help="most WTS calls in flight (default 64)"
    )
    g.add_argument("--timeout", type=seconds, default=d(30.0), metavar="SECONDS", help="per-call deadline (default 30)")
    g.add_argument("--audit-log", metavar="FILE", default=d(None), help="append what was done to FILE as JSON Lines")
    g.add_argument("-q", "--quiet", action="store_true", default=d(False), help="no summary, no progress bar")
    g.add_argument("-v", "--verbose", action="count", default=d(0), help="say more; -vv: tracebacks on errors")


def _add_servers(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("servers")
    g.add_argument(
        "-s",
        "--server",
        action="append",
        default=[],
        metavar="SPEC",
        help="servers: RDS01, RDS[01-40], @FILE, - (stdin); repeatable",
    )
    g.add_argument(
        "--servers-file", action="append", default=[], metavar="FILE", help="one server per line, # comments"
    )


def _add_filters(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("selection (all must match; globs such as 'adm*' for names)")
    g.add_argument("--state", action="append", metavar="STATE", help="Active, Disconnected, ... (comma list or repeat)")
    g.add_argument("--user", action="append", metavar="GLOB", help="user name")
    g.add_argument("--domain", action="append", metavar="GLOB", help="domain name")
    g.add_argument("--station", action="append", metavar="GLOB", help="session (WinStation) name, e.g. RDP-Tcp#*")
    g.add_argument("--client", action="append", metavar="GLOB", help="client computer name (one more RPC a session)")
    g.add_argument("--idle-over", metavar="DURATION", help="idle longer than this: 90s, 15m, 2h, 1d")
    g.add_argument("--idle-under", metavar="DURATION", help="idle for less than this")
    g.add_argument("--disconnected-over", metavar="DURATION", help="disconnected for longer than this")
    g.add_argument(
        "--logon-before", metavar="WHEN", help="logged on before: '2026-11-20 08:00', or a duration ago (8h)"
    )
    g.add_argument("--logon-after", metavar="WHEN", help="logged on after")


def _add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format", choices=("table", "json", "jsonl", "csv"), default="table", help="output format (default table)"
    )


def _add_action(p: argparse.ArgumentParser, verb: str) -> None:
    p.add_argument(
        "targets",
        nargs="*",
        metavar="SESSION",
        help=f"session ids or names to {verb} on one server (else: the selection across servers)",
    )
    _add_servers(p)
    _add_filters(p)
    g = p.add_argument_group("safety")
    g.add_argument("--all", action="store_true", help="no targets or filters: act on every session of the servers")
    g.add_argument("-n", "--dry-run", action="store_true", help="print the plan; change nothing")
    g.add_argument("-y", "--yes", action="store_true", help="no confirmation for more than one session")
    g.add_argument("--allow-own", action="store_true", help="may act on the session running this command")
    _add_format(p)


class _Parser(argparse.ArgumentParser):
    """argparse with two changes, both inherited by the subparsers:

    - it writes help and errors to the run's streams (``streams``, set by ``build_parser`` on every
      parser), not to ``sys.stdout`` and ``sys.stderr``;
    - it echoes the words it rejects ("unrecognized arguments: ...") with no password in them, such
      as tscon's /password:pw typed after 'wts connect'.
    """

    streams: Environment  # set on every parser by build_parser

    def print_usage(self, file: SupportsWrite[str] | None = None) -> None:
        super().print_usage(file or self.streams.stdout)

    def print_help(self, file: SupportsWrite[str] | None = None) -> None:
        super().print_help(file or self.streams.stdout)

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if not message:
            return
        file = file or self.streams.stderr
        try:
            file.write(message)
        except StreamClosedError:
            if file is not self.streams.stderr:
                raise  # the help to a closed stdout: main says so, on stderr
            # stderr closed: nobody to tell
        except (AttributeError, OSError):  # as argparse: a reader that went away ('wts --help | head')
            pass

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self._print_message(message, self.streams.stderr)
        raise SystemExit(status)

    def error(self, message: str) -> NoReturn:
        from ._secret import redact_text

        message = redact_text(message, self.streams.argv)
        self.print_usage(self.streams.stderr)
        self.exit(2, _("%(prog)s: error: %(message)s\n") % {"prog": self.prog, "message": message})


#: A Windows switch (/server:RDS01, /v, /?, and any /word, which logoff.exe then rejects), or -?:
#: one among the words makes ``wts logoff`` the classic command.  A path (/tmp/audit.log, the value
#: of an option given after the command) has a second slash and is not one.
_LOGOFF_SWITCH = re.compile(r"-\?|/[?a-z][^/]*", re.IGNORECASE | re.DOTALL)


def classic_form(command: str, words: list[str]) -> bool:
    """Whether ``wts logoff`` / ``wts msg`` is given Windows' syntax rather than wts' own.

    - ``logoff``: when one of the words is a switch written with a slash (``/server:RDS01``,
      ``/v``, ``/vm``, ``/?``; an unknown one then gets logoff.exe's ``Invalid parameter(s)``), or
      ``-?``; wts' own options start with -.  Without one,
      ``wts logoff 4`` is wts' own form (which refuses to act without a session or --all).
    - ``msg``: unless --title (or -h/--help) is among the words: wts' own form needs a title, and
      msg.exe has none.  ``wts message`` is always wts' own form.
    """
    if command == "logoff":
        return any(_LOGOFF_SWITCH.fullmatch(w) for w in words)
    if command == "msg":
        return not any(w in ("-h", "--help") or w == "--title" or w.startswith("--title=") for w in words)
    return False


class _LazySubParsers(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Subcommands whose options are added only when that subcommand is parsed (``fill``): ``wts
    --help`` lists the commands without building any of their options, and a command builds only
    its own (argparse spends most of a start-up building options nobody uses)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fillers: dict[int, Callable[[argparse.ArgumentParser], None]] = {}

    def fill(self, parser: argparse.ArgumentParser, add_options: Callable[[argparse.ArgumentParser], None]) -> None:
        self._fillers[id(parser)] = add_options

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if classic_form(values[0], values[1:]):
            # logoff.exe's or msg.exe's syntax: the words go to _classic_actions as they are.
            setattr(namespace, self.dest, values[0])
            namespace.classic_args = list(values[1:])
            return
        chosen = self._name_parser_map.get(values[0])
        add_options = self._fillers.pop(id(chosen), None)
        if chosen is not None and add_options is not None:
            add_options(chosen)
        super().__call__(parser, namespace, values, option_string)


def _sessions_options(p: argparse.ArgumentParser) -> None:
    _add_servers(p)
    _add_filters(p)
    p.add_argument("--id", dest="ids", action="append", metavar="ID", help="session ids (comma list or repeat)")
    p.add_argument("--users", action="store_true", help="only sessions with a user logged on (as quser)")
    p.add_argument("-d", "--details", action="store_true", help="idle and logon times (one more RPC per session)")
    p.add_argument(
        "--clients",
        action="store_true",
        help="the client: name, address, display, protocol (two more RPCs a session; implies --details)",
    )
    p.add_argument(
        "--sort",
        metavar="KEYS",
        default="server,id",
        help="e.g. --sort user or --sort=-idle (keys: server id station user domain state idle logon client; "
        "- before a key: descending)",
    )
    p.add_argument("-r", "--reverse", action="store_true", help="reverse the order")
    _add_format(p)


def _message_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--title", required=True, help="the message box title")
    p.add_argument("text", help="the message")
    _add_action(p, "message")
    p.add_argument(
        "--time",
        type=positive_int(0, MAX_DWORD),
        default=0,
        metavar="SECONDS",
        help="close the box after this long (0: never)",
    )
    p.add_argument("--wait", action="store_true", help="wait for each answer (needs --time)")


def _connect_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("session", metavar="SESSION", help="the session (id or name) to connect")
    p.add_argument("--target", metavar="SESSION", help="the session to connect it to (default: this one)")
    pw = p.add_mutually_exclusive_group()
    pw.add_argument("--password-prompt", action="store_true", help="ask for the session owner's password (no echo)")
    pw.add_argument("--password-file", metavar="FILE", help="read the password from the first line of FILE")
    p.add_argument("-s", "--server", action="append", default=[], metavar="NAME", help=argparse.SUPPRESS)


def _add_process_filters(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("selection (all must match; image and user names take globs, case-insensitive)")
    g.add_argument("--name", action="append", metavar="GLOB", help="image name: excel, EXCEL.EXE, 'chrom*'")
    g.add_argument("--user", action="append", metavar="GLOB", help="the process's user: carol, CONTOSO\\carol")
    g.add_argument("--session", action="append", metavar="ID", help="session ids (comma list or repeat)")
    g.add_argument("--pid", action="append", metavar="PID", help="process ids, on one server (comma list or repeat)")


def _ps_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="*", metavar="PROCESS", help="process ids, or image-name globs (as --name)")
    _add_servers(p)
    _add_process_filters(p)
    _add_format(p)


def _kill_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "targets", nargs="*", metavar="PROCESS", help="process ids (on one server) or image-name globs to end"
    )
    _add_servers(p)
    _add_process_filters(p)
    g = p.add_argument_group("safety")
    g.add_argument("--all", action="store_true", help="no targets or filters: end every process the rules allow")
    g.add_argument("-n", "--dry-run", action="store_true", help="print the plan; change nothing")
    g.add_argument("-y", "--yes", action="store_true", help="no confirmation for more than one process")
    g.add_argument("--allow-own", action="store_true", help="may end processes of the session running this command")
    g.add_argument(
        "--system",
        action="store_true",
        help="may end session 0's and the system's own processes (csrss.exe, svchost.exe, ...) named by pid "
        "or exact image name",
    )
    p.add_argument(
        "--exit-code", type=positive_int(0, MAX_DWORD), default=0, metavar="N", help="the exit code (default 0)"
    )
    _add_format(p)


def _sim_options(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="sim_action", metavar="ACTION", required=True)
    serve = actions.add_parser(
        "serve",
        help="serve the farm over SMB and MS-TSTS, each server on its own loopback address",
        description="Serve a simulated farm over SMB2 and MS-TSTS, each server on its own\n"
        "loopback address: one line 'NAME ADDRESS' per server once all listen.\n"
        "SIGTERM stops it (exit 0), Ctrl-C too (exit 130).  The farm file's\n"
        '"accounts" may log on (NTLM): docs/sim.md, "Serving the farm".',
        formatter_class=_Formatter,
    )
    serve.add_argument("farm", metavar="FARM.json", help="the farm file (with its accounts)")
    serve.add_argument(
        "--address", default="127.0.0.2", metavar="IP", help="the first server's address; the next get .3, .4, ..."
    )
    serve.add_argument(
        "--port", type=positive_int(1, 65535), default=445, metavar="PORT", help="the SMB port (445 needs root)"
    )
    serve.add_argument(
        "--latency-ms", type=milliseconds, default=0.0, metavar="MS", help="delay every answer by MS ms (a round trip)"
    )
    serve.add_argument("--keytab", metavar="FILE", help="accept Kerberos too, with the host/ and cifs/ keys in FILE")
    serve.add_argument("--logons", metavar="FILE", help="append a JSON line per logon: who, with which mechanism")
    for parser in actions.choices.values():
        if isinstance(parser, _Parser) and isinstance(p, _Parser):
            parser.streams = p.streams  # help and errors to the run's streams, as every parser's


def build_parser(streams: Environment | None = None) -> argparse.ArgumentParser:
    """The whole ``wts`` parser; its help and usage errors go to ``streams`` (None: sys's)."""
    streams = streams or Environment()
    ap = _Parser(prog="wts", description=DESCRIPTION, epilog=EPILOG, formatter_class=_Formatter)
    ap.add_argument("--version", action="store_true", help="print the version and exit")
    _add_globals(ap, sub=False)
    subs = ap.add_subparsers(dest="command", metavar="COMMAND", action=_LazySubParsers)
    assert isinstance(subs, _LazySubParsers)

    def sub(name: str, help_text: str, options: Callable[[argparse.ArgumentParser], None], **kw: Any) -> None:
        p = subs.add_parser(name, help=help_text, description=help_text, formatter_class=_Formatter, **kw)

        def add_options(p: argparse.ArgumentParser) -> None:
            _add_globals(p, sub=True, password_file=options is not _connect_options)
            options(p)

        subs.fill(p, add_options)

    sub(
        "sessions",
        "list sessions across servers, like qwinsta and quser (one RPC per server)",
        _sessions_options,
        aliases=["ls"],
    )
    sub(
        "disconnect",
        "disconnect sessions (they stay logged on): WTSDisconnectSession",
        lambda p: _add_action(p, "disconnect"),
    )
    sub("logoff", "log sessions off: WTSLogoffSession", lambda p: _add_action(p, "log off"))
    sub("message", "show a message box in sessions: WTSSendMessageW", _message_options, aliases=["msg"])
    sub("connect", "connect a session to another on this server, as tscon does: WTSConnectSessionW", _connect_options)
    sub("ps", "list processes across servers (one WTSEnumerateProcessesExW per server)", _ps_options)
    sub("kill", "end processes across servers: WTSTerminateProcess", _kill_options)

    # The classics keep their own syntax (/switches, case-insensitive): parsed in _classic,
    # _classic_query and _classic_actions.  (logoff and msg are above: their classic form is
    # recognised by _LazySubParsers, see classic_form.)
    for name, what in (
        ("tsdiscon", "disconnect a session, as tsdiscon.exe"),
        ("tscon", "attach a session to another, as tscon.exe"),
        ("qwinsta", "list sessions, as qwinsta.exe (query session)"),
        ("quser", "list users' sessions, as quser.exe (query user)"),
        ("query", "query session | user | process, as query.exe"),
        ("rwinsta", "reset a session, as rwinsta.exe (reset session)"),
        ("reset", "reset session, as reset.exe"),
        ("qprocess", "list processes, as qprocess.exe (query process)"),
        ("tskill", "end processes, as tskill.exe"),
    ):
        p = subs.add_parser(name, help=what, add_help=False, prefix_chars="\0")
        p.add_argument("classic_args", nargs="*")

    sub("sim", "the simulated farm as a network service: wts sim serve FARM.json", _sim_options)

    p = subs.add_parser(
        "bench",
        help="benchmark on a simulated farm, beside the peers (wts bench --help)",
        add_help=False,
        prefix_chars="\0",
    )
    p.add_argument("bench_args", nargs="*")
    for parser in (ap, *subs.choices.values()):
        if isinstance(parser, _Parser):
            parser.streams = streams
    return ap
