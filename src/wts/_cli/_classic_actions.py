"""``wts logoff``, ``wts msg`` (their Windows form), ``wts rwinsta`` / ``wts reset session``: the
classic session actions, with Windows' syntax, usage texts and exit status, and wts' safety.

Each names its sessions the original's way (an id, a WinStation name; msg also a user name, ``*``
and ``@file``) on the local server or ``/SERVER:`` (one name, or beyond the originals a range or a
list).  The steps: one ``Farm`` listing of every server (all in flight together) finds the named
sessions; then ``Farm`` acts on exactly those, with its rules: session 0, listeners, the console and
the caller's own session are never touched (skipped, and said), more than one session is confirmed
first unless ``--yes``, ``--dry-run`` only plans.  The originals print nothing when all went well;
``/V`` says what was done, one line a session, on stdout; whatever was not done is one line on
stderr and exit status 1.  ``--format json|jsonl|csv``: the outcome records instead.

RPCs per server: two WTSEnumerateSessionsExW (this listing, and Farm's own before acting, so that a
session that changed hands in between is not touched); one more on the local server for the own
session; then one call per selected session (WTSLogoffSession, WTSSendMessageW).  rwinsta ends the
session with WTSLogoffSession: wtsapi32 has no reset (rwinsta.exe calls the undocumented
WinStationReset), and both end the session and its programs.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from typing import Any

from wts import Outcome, Session

from .._types import MAX_DWORD
from .._winerror import WinError
from ._classic_usage import LOGOFF_USAGE, MSG_USAGE, RESET_USAGE, RWINSTA_USAGE
from ._context import Context, is_closed
from ._order import by_server_and_id, natural_key
from ._output import OUTCOME_FIELDS, outcome_record, write_records
from ._prompt import confirm
from ._status import ExitStatus, UsageError
from ._stream import StreamResult, stream
from ._switches import Invalid, dry_run_summary, invalid, parse, say, servers_of, session_word, usage
from ._terminal import isatty
from ._text import outcome_detail, outcome_result, printable

__all__ = ["MSG_DEFAULT_TIME", "count_outcomes", "message_title", "run_classic", "run_reset", "run_rwinsta"]

_EXTENSIONS = ("--format", "--dry-run", "--yes")
#: msg.exe's display time when /TIME is not given (what its /V prints: "display time 60").
MSG_DEFAULT_TIME = 60
#: The most a message read from stdin may hold (characters): far more than a message box shows.
_MESSAGE_MAX = 8192


class _Plan:
    """What the command line asks: the action, the servers (None: local), how each word picks
    sessions, and the options."""

    def __init__(self, tool: str, action: str, servers: list[str] | None, sw: dict[str, str | bool]) -> None:
        self.tool = tool
        self.action = action
        self.servers = servers
        self.verbose = bool(sw.get("v"))
        self.fmt = str(sw.get("--format", "table"))
        self.dry_run = bool(sw.get("--dry-run"))
        self.yes = bool(sw.get("--yes"))
        self.words: list[str] = []  # what selects the sessions, as typed
        self.kwargs: dict[str, Any] = {}


def run_classic(ctx: Context) -> ExitStatus:
    """``wts logoff`` or ``wts msg`` in Windows' form (see ``_args.classic_form``)."""
    if ctx.args.command == "logoff":
        return _logoff(ctx, "logoff", list(ctx.args.classic_args), LOGOFF_USAGE)
    return _msg(ctx, list(ctx.args.classic_args))


def run_rwinsta(ctx: Context) -> ExitStatus:
    return _logoff(ctx, "rwinsta", list(ctx.args.classic_args), RWINSTA_USAGE)


def run_reset(ctx: Context) -> ExitStatus:
    """``reset session ...``, as reset.exe hands it to rwinsta."""
    args = list(ctx.args.classic_args)
    if args and args[0].lower() == "session":
        return _logoff(ctx, "rwinsta", args[1:], RWINSTA_USAGE)
    if args and args[0] in ("/?", "-?"):
        return usage(ctx, RESET_USAGE)
    return invalid(ctx, RESET_USAGE)


# --- the command lines ----------------------------------------------------------------------------


def _logoff(ctx: Context, tool: str, args: list[str], text: str) -> ExitStatus:
    """logoff [sessionname | sessionid] [/SERVER:] [/V] [/VM]; rwinsta {sessionname | sessionid}
    [/SERVER:] [/V]."""
    flags = ("v", "vm") if tool == "logoff" else ("v",)
    try:
        words, sw = parse(args, flags, ("server",), _EXTENSIONS)
        if len(words) > 1 or (tool == "rwinsta" and not words and not sw.get("?")):
            raise Invalid
        if sw.get("vm") and words and not words[0].isdigit():
            raise Invalid  # /VM: "The unique ID of the session needs to be specified."
        servers = servers_of(sw)
    except Invalid:
        return invalid(ctx, text)
    if sw.get("?"):
        return usage(ctx, text)
    if not words:
        # logoff.exe logs off the session it runs in; wts never touches the caller's own session
        # from a classic command (wts logoff --allow-own does, named by id).
        raise UsageError(
            f"{tool}: name the session to log off: wts never logs off its own session from logoff's "
            "classic form (wts logoff ID --allow-own does)"
        )
    ctx.setup()
    plan = _Plan(tool, "logoff", servers, sw)
    plan.words = words
    return _run(ctx, plan, [_word_pick(words[0], tool, users=False)])


def _msg(ctx: Context, args: list[str]) -> ExitStatus:
    """msg {username | sessionname | sessionid | @filename | *} [/SERVER:] [/TIME:] [/V] [/W] [message]."""
    try:
        words, sw = parse(args, ("v", "w"), ("server", "time"), _EXTENSIONS)
        if not words and not sw.get("?"):
            raise Invalid
        seconds = _seconds(sw.get("time"))
        servers = servers_of(sw)
    except Invalid:
        return invalid(ctx, MSG_USAGE)
    if sw.get("?"):
        return usage(ctx, MSG_USAGE)
    target, message_words = words[0], words[1:]
    ctx.setup()
    wanted = _read_targets(target[1:]) if target.startswith("@") else [target]
    text = " ".join(message_words) if message_words else _read_message(ctx)
    if not text.strip():
        raise UsageError("msg: the message is empty: nothing was sent")
    plan = _Plan("msg", "message", servers, sw)
    plan.words = wanted
    plan.kwargs = {
        "title": message_title(),
        "text": text,
        "message_timeout": seconds,
        "wait": bool(sw.get("w")),
    }
    return _run(ctx, plan, [_word_pick(w, "msg", users=True) for w in wanted])


def _seconds(value: str | bool | None) -> int:
    """/TIME:seconds (msg.exe's default: 60)."""
    if value is None:
        return MSG_DEFAULT_TIME
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or int(value) > MAX_DWORD:
        raise Invalid
    return int(value)


def message_title() -> str:
    """The message box's title: msg.exe has none to give, and Windows titles its box with the
    sender; wts gives WTSSendMessageW 'Message from DOMAIN\\user' (USERDOMAIN and USERNAME as
    Windows sets them; elsewhere the login name)."""
    user = os.environ.get("USERNAME") or _login_name()
    domain = os.environ.get("USERDOMAIN", "")
    return f"Message from {domain}\\{user}" if domain else f"Message from {user}"


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):  # no user name to be found (a uid with no entry)
        return "an administrator"


def _read_targets(path: str) -> list[str]:
    """@filename: user names, session names and ids, one a line (blank lines and # comments skipped)."""
    if not path:
        raise UsageError("msg: @filename: name the file after @")
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = f.read(1 << 20).splitlines()
    except OSError as exc:
        raise UsageError(f"msg: @{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"msg: @{path}: not UTF-8 text") from None
    names = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not names:
        raise UsageError(f"msg: @{path}: no user names, session names or ids in it")
    return names


def _read_message(ctx: Context) -> str:
    """No message on the command line: msg.exe reads it from stdin (prompting on a terminal)."""
    if is_closed(ctx.stdin):
        raise UsageError("msg: no message given, and stdin is closed")
    if isatty(ctx.stdin):
        ctx.stderr.write("Enter message to send; end message by pressing CTRL+D on a new line.\n")
        ctx.stderr.flush()
    text = ctx.stdin.read(_MESSAGE_MAX + 1)
    if len(text) > _MESSAGE_MAX:
        raise UsageError(f"msg: the message from stdin is longer than {_MESSAGE_MAX:,} characters")
    return text.rstrip("\n")


#: How a word picked a session: by its id or WinStation name (named: whatever is not done is said),
#: or as one of many (msg *, a user's sessions: the system sessions and your own are skipped quietly).
_NAMED, _AMONG = 2, 1
Pick = Callable[[Session], int]


def _word_pick(word: str, tool: str, users: bool) -> Pick:
    """What one word selects: * every session; an id that session; a name the session of that
    WinStation name or (``users``: msg) every session of that user."""
    if word == "*" and users:
        return lambda row: _AMONG
    value = session_word(word, tool)
    if isinstance(value, int):
        return lambda row: _NAMED if row.id == value else 0
    key = value.casefold()

    def pick(row: Session) -> int:
        if row.station and row.station.casefold() == key:
            return _NAMED
        return _AMONG if users and row.user and row.user.casefold() == key else 0

    return pick


# --- acting ----------------------------------------------------------------------------------------


def _run(ctx: Context, plan: _Plan, picks: list[Pick]) -> ExitStatus:
    """List every server, pick the sessions, act on them through Farm, report the original's way."""
    names = plan.servers if plan.servers is not None else [ctx.local_name()]
    farm = ctx.farm(names)
    listing = stream(ctx, farm, "sessions", plan.tool, False)
    how = {_key(r.server or "", r.id): max(p(r) for p in picks) for r in listing.items}
    rows: list[Session] = [r for r in listing.items if how[_key(r.server or "", r.id)]]
    named = {k for k, v in how.items() if v == _NAMED}
    failures = list(listing.failures)
    found = {(r.server or "").casefold() for r in rows}
    missing = [n for n in names if n.casefold() not in found and n.casefold() not in _failed(failures)]
    if plan.words == ["*"]:
        missing = []  # msg *: a server with no session has nobody to tell
    elif len(names) > 1:
        # Across several servers a word means wherever it is (a user is logged on to one or two of
        # forty): a server without it is no error.  Found on none of them is one line, without a server.
        missing = [] if rows else [""]
    result = _execute(ctx, farm, plan, rows) if rows else StreamResult([], [], False, 0.0)
    failures += result.failures
    outcomes = sorted(result.outcomes(), key=by_server_and_id)
    if plan.fmt != "table":
        recs = [outcome_record(o, plan.action) for o in outcomes] + [outcome_record(f, plan.action) for f in failures]
        write_records(ctx.stdout, plan.fmt, recs, OUTCOME_FIELDS)
        ctx.stdout.flush()
    else:
        _report(ctx, plan, outcomes, named)
    for f in failures:
        where = f.server if f.session_id is None else f"{f.server}: session {f.session_id}"
        ctx.env.note(f"{where}: Error [{f.error.winerror}]:{f.error.strerror}")
    for name in sorted(missing, key=natural_key):
        where = f"{printable(name)}: " if name else ""
        ctx.env.note(f"{where}{', '.join(printable(w) for w in plan.words)}: {_not_found_text()}")
    if plan.dry_run:
        ctx.info(dry_run_summary(plan.tool, count_outcomes(outcomes), "sessions", len(names)))
    if result.interrupted:
        return ExitStatus.INTERRUPTED
    bad = failures or missing or result.audit_failed or any(_not_done(o, named) for o in outcomes)
    return ExitStatus.FAILED if bad or not rows else ExitStatus.OK


def count_outcomes(outcomes: list[Outcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    return counts


def _key(server: str, sid: int) -> tuple[str, int]:
    return (server.casefold(), sid)


def _not_done(o: Outcome, named: set[tuple[str, int]]) -> bool:
    """An outcome that makes the exit status 1: not done (nor planned), unless it is a protected
    session skipped that no word named (msg * does not reach the console: that is no failure)."""
    if o.status in ("done", "planned"):
        return False
    return not (o.status == "skipped" and o.why.protected and _key(o.server, o.session_id) not in named)


def _failed(failures: list[Any]) -> set[str]:
    return {f.server.casefold() for f in failures if f.session_id is None}


def _not_found_text() -> str:
    code = WinError.ERROR_CTX_WINSTATION_NOT_FOUND
    return f"Error [{int(code)}]:{code.text}"


def _execute(ctx: Context, farm: Any, plan: _Plan, rows: list[Session]) -> StreamResult:
    """Act on ``rows`` (re-listed by Farm first): plan only for --dry-run; plan and confirm first
    when there is more than one, unless --yes."""
    label = plan.tool
    if not plan.dry_run and (plan.yes or len(rows) <= 1):
        return stream(ctx, farm, plan.action, label, True, targets=rows, **plan.kwargs)
    planned_run = stream(ctx, farm, plan.action, f"{label} (plan)", False, targets=rows, dry_run=True, **plan.kwargs)
    if plan.dry_run or planned_run.interrupted:
        return planned_run
    planned = [o for o in planned_run.outcomes() if o.status == "planned"]
    settled = [o for o in planned_run.outcomes() if o.status != "planned"]
    if len(planned) > 1:
        confirm(ctx, plan.action, planned)
    if not planned:
        return planned_run
    done = stream(ctx, farm, plan.action, label, True, targets=planned, **plan.kwargs)
    return StreamResult(
        settled + done.outcomes(),
        planned_run.failures + done.failures,
        done.interrupted,
        planned_run.elapsed + done.elapsed,
        done.audit_failed,
    )


def _report(ctx: Context, plan: _Plan, outcomes: list[Outcome], named: set[tuple[str, int]]) -> None:
    """The originals' silence: done sessions are said only with /V (stdout), a dry run's plan always
    (stdout); what was not done is one line each on stderr (protected sessions no word named, only
    with /V, on stdout)."""
    line = say(ctx, plan.verbose or plan.dry_run)
    for o in outcomes:
        what = _label(o)
        if o.status == "done":
            line(f"{what}: {outcome_result(o)[0]}{_answer(o)}")
        elif o.status == "planned":
            line(f"{what}: {outcome_result(o)[0]} (dry run)")
        elif not _not_done(o, named):
            say(ctx, plan.verbose)(f"{what}: {outcome_result(o)[0]}: {outcome_detail(o)}")
        else:
            result = outcome_result(o)[0]
            ctx.env.note(f"{what}: {result}: {outcome_detail(o)}")


def _label(o: Outcome) -> str:
    station = f" ({printable(o.station)})" if o.station else ""
    user = f", {printable(o.user)}" if o.user else ""
    return f"{o.server}: session {o.session_id}{station}{user}"


def _answer(o: Outcome) -> str:
    """With /W, the button the user pressed (msg.exe: 'responded to by user')."""
    if o.action != "message" or o.response is None or not hasattr(o.response, "name"):
        return ""
    name = str(getattr(o.response, "name", "")).lower().replace("_", " ")
    return "" if name == "async" else f", answered: {name}"
