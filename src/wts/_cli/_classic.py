"""``wts tsdiscon`` and ``wts tscon``: the classic tools' syntax, exactly as Windows documents it.

Switches start with / (or -) and are case-insensitive; ``/?`` prints the usage on stdout; anything
the original would reject prints ``Invalid parameter(s)`` and the usage on stderr (exit status 2).
No session argument means the current session, as in the originals.  Usage texts: tsdiscon.exe and
tscon.exe of Windows Server 2019 (../shared/seeds).
"""

from __future__ import annotations

from collections.abc import Callable

import wts
from wts import CURRENT_SESSION, InfoClass, Session, WTSError, WTSTimeoutError

from ._args import parse_session
from ._connect import connect_session
from ._context import Context
from ._prompt import read_password
from ._selection import resolve_sessions
from ._status import ExitStatus
from ._switches import Invalid, invalid, parse, say
from ._text import describe_error, error_line, printable, win_tag

__all__ = ["TSCON_USAGE", "TSDISCON_USAGE", "run_tscon", "run_tsdiscon"]

TSDISCON_USAGE = """\
Disconnects a Remote Desktop Services session.

TSDISCON [sessionid | sessionname] [/SERVER:servername] [/V] [/VM]

  sessionid           The ID of the session.
  sessionname         The name of the session.
  /SERVER:servername  Specifies the Remote Desktop Session Host server (default is current).
  /V                  Displays information about the actions performed.
  /VM                 Disconnects session on server or within virtual machine. The unique ID of the session needs to be specified.


"""

TSCON_USAGE = """\
Attaches a user session to a remote desktop session.

TSCON {sessionid | sessionname} [/DEST:sessionname]
        [/PASSWORD:pw | /PASSWORD:*] [/V]

  sessionid          The ID of the session.
  sessionname        The name of the session.
  /DEST:sessionname  Connect the session to destination sessionname.
  /PASSWORD:pw       Password of user owning identified session.
  /V                 Displays information about the actions performed.


"""


def _one_server(value: str) -> str | None:
    """/SERVER:'s value: one plain server name, as tsdiscon.exe takes (None: not one).  A list or a
    range (RDS01,RDS02; RDS[01-03]) would act on the first only, and a blank names nothing."""
    name = value.strip()
    if not name or any(c in name for c in ",[]") or any(c.isspace() for c in name):
        return None
    return name


def run_tsdiscon(ctx: Context) -> ExitStatus:
    try:
        words, sw = parse(ctx.args.classic_args, {"v", "vm"}, {"server"})
        if len(words) > 1:
            raise Invalid
        server = sw.get("server")
        assert server is None or isinstance(server, str)
        if server is not None:
            server = _one_server(server)
            if server is None:
                raise Invalid
    except Invalid:
        return invalid(ctx, TSDISCON_USAGE)
    if sw.get("?"):
        ctx.stdout.write(TSDISCON_USAGE)
        return ExitStatus.OK
    ctx.setup()
    verbose = bool(sw.get("v") or sw.get("vm")) or ctx.verbose > 0
    if server is not None:
        server = wts.parse_servers(server, where="/SERVER")[0]
    line = say(ctx, verbose)
    where = server or "the local server"
    with ctx.server(server) as srv:
        if not words:
            if server is not None and server.casefold() != ctx.local_name().casefold():
                ctx.error(
                    f"tsdiscon: name the session to disconnect on {server}: the current session exists only "
                    "on this server, and WTS_CURRENT_SESSION is never sent to another"
                )
                return ExitStatus.USAGE
            sid, label = CURRENT_SESSION, "the current session"
            srv_for_call: wts.Server = srv if server is None else ctx.server(None)
        else:
            value = parse_session(words[0], "tsdiscon")
            if sw.get("vm") and not isinstance(value, int):
                return invalid(ctx, TSDISCON_USAGE)  # /VM: "The unique ID of the session needs to be specified."
            if isinstance(value, int):
                sid, label = value, f"session {value}"
            else:
                try:
                    found = srv.session_by_name(value)
                except WTSError as exc:
                    ctx.error(f"tsdiscon: {where}: {describe_error(exc)}")
                    return ExitStatus.FAILED
                sid, label = found.id, f"session {found.id} ({printable(found.station)})"
            srv_for_call = srv
        try:
            logged = _current_id(ctx, srv_for_call) if sid == CURRENT_SESSION else sid
            line(f"Disconnecting {label} on {where}.")
            return _disconnect(ctx, srv_for_call, server, sid, logged, label, line)
        finally:
            if srv_for_call is not srv:
                srv_for_call.close()


def _current_id(ctx: Context, srv: wts.Server) -> int | None:
    """The id the current session has, for the audit log (one RPC, only when there is a log)."""
    if ctx.audit is None:
        return None
    try:
        return int(srv.query(CURRENT_SESSION, InfoClass.SESSION_ID))
    except WTSError:
        return None  # the disconnect itself will say what is wrong


def _disconnect(
    ctx: Context,
    srv: wts.Server,
    server: str | None,
    sid: int,
    logged: int | None,
    label: str,
    say: Callable[[str], None],
) -> ExitStatus:
    """One WTSDisconnectSession with --timeout's deadline; a call whose answer never came (its
    deadline, Ctrl-C) has an unknown outcome, and is reported and logged so."""
    name = server or ctx.local_name()
    check = f"check with: wts sessions -s {name} --id {logged if logged is not None else sid}"
    if sid == CURRENT_SESSION and logged is None:
        check = f"check with: wts sessions -s {name}"
    try:
        srv.disconnect(sid, wait=True)
    except KeyboardInterrupt:
        _audit(ctx, server, logged, "disconnect", "unknown", "interrupted while the call was in flight")
        ctx.error(f"tsdiscon: interrupted: the disconnect of {label} was abandoned; its outcome is unknown; {check}")
        return ExitStatus.INTERRUPTED
    except WTSTimeoutError as exc:
        _audit(ctx, server, logged, "disconnect", "unknown", describe_error(exc))
        ctx.error(
            f"tsdiscon: no answer to the disconnect of {label} within {ctx.args.timeout:g}s: "
            f"its outcome is unknown [{win_tag(exc.winerror)}]; {check}"
        )
        return ExitStatus.FAILED
    except WTSError as exc:
        _audit(ctx, server, logged, "disconnect", "failed", describe_error(exc))
        ctx.error(f"tsdiscon: could not disconnect {label}: {error_line(exc)}")
        return ExitStatus.FAILED
    _audit(ctx, server, logged, "disconnect", "done", None)
    say(f"{label[0].upper()}{label[1:]} disconnected.")
    return ExitStatus.OK


def run_tscon(ctx: Context) -> ExitStatus:
    try:
        words, sw = parse(ctx.args.classic_args, {"v"}, {"dest", "password"})
        if len(words) > 1 or (not words and not sw.get("?")):
            raise Invalid  # TSCON {sessionid | sessionname}: the session is required
    except Invalid:
        return invalid(ctx, TSCON_USAGE)
    if sw.get("?"):
        ctx.stdout.write(TSCON_USAGE)
        return ExitStatus.OK
    ctx.setup()
    verbose = bool(sw.get("v")) or ctx.verbose > 0
    dest = sw.get("dest")
    wanted = [(words[0], "tscon")] + ([(dest, "/DEST")] if isinstance(dest, str) else [])
    found = resolve_sessions(ctx, None, wanted)  # one listing for both
    session: Session = found[0]
    target = found[1] if len(found) > 1 else None
    pw = sw.get("password")
    # /PASSWORD:pw is readable by every user of this computer while it runs (/proc/PID/cmdline, as
    # tscon.exe's is): docs/cli.md says so and points to /PASSWORD:* and wts connect --password-file.
    password = read_password(ctx, True, None, "/PASSWORD:*") if pw == "*" else (pw if isinstance(pw, str) else "")
    return connect_session(ctx, session, target, password, say(ctx, verbose))


def _audit(ctx: Context, server: str | None, session: int | None, action: str, outcome: str, error: str | None) -> None:
    if ctx.audit is not None:
        ctx.audit.write(server or ctx.local_name(), session, action, outcome, error)
