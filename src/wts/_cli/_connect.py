"""``wts connect``: connect a session to another on this server, as tscon does
(WTSConnectSessionW; ``connect_session`` is shared with ``wts tscon``); with ``--provider tsts``, on
the one server ``-s`` names, over the network (RpcOpenSession + RpcConnect)."""

from __future__ import annotations

from collections.abc import Callable

import wts
from wts import CURRENT_SESSION, InfoClass, Session, WTSError, WTSTimeoutError

from ._context import Context
from ._prompt import read_password
from ._selection import resolve_sessions
from ._status import ExitStatus, UsageError
from ._text import describe_error, error_line, printable, win_tag

__all__ = ["connect_session", "run"]


def run(ctx: Context) -> ExitStatus:
    ctx.setup()
    a = ctx.args
    remote = _remote_server(ctx)
    if remote is None:
        _refuse_other_servers(ctx)
    elif not a.target:
        raise UsageError(f"over tsts, name the session to connect to with --target: {remote} has no 'this session'")
    wanted = [(a.session, "SESSION")] + ([(a.target, "--target")] if a.target else [])
    found = resolve_sessions(ctx, remote, wanted)  # one listing for both
    session, target = found[0], (found[1] if a.target else None)
    password = read_password(ctx, a.password_prompt, a.password_file, "--password-prompt")
    return connect_session(ctx, session, target, password, lambda text: ctx.info(text, 1), server=remote)


def _remote_server(ctx: Context) -> str | None:
    """The server -s names when the provider is tsts (exactly one: a connect acts on one server);
    None for the other providers, which connect on the local server only."""
    if (ctx.provider or "").strip().lower() != "tsts":
        return None
    names = [name for spec in ctx.args.server or () for name in wts.parse_servers(spec, where="-s")]
    if len(names) != 1:
        raise UsageError(f"wts connect over tsts acts on one server: name it with -s (got {len(names)})")
    return names[0]


def _refuse_other_servers(ctx: Context) -> None:
    """-s may only name this server: WTSConnectSessionW has no server handle."""
    if not ctx.args.server:
        return
    local = ctx.local_name().casefold()
    for spec in ctx.args.server:
        if not spec.strip():
            raise UsageError(f"-s {spec!r}: an empty server name (is a variable unset?); leave -s out")
        for name in wts.parse_servers(spec, where="-s"):
            if name.casefold() not in (local, ".", "localhost"):
                raise UsageError(
                    f"wts connect acts on the local server only (WTSConnectSessionW has no server handle): "
                    f"{name} is not this server ({ctx.local_name()}); run wts connect on {name} itself"
                )


def connect_session(
    ctx: Context,
    session: Session,
    target: Session | None,
    password: str,
    say: Callable[[str], None],
    server: str | None = None,
) -> ExitStatus:
    """Connect ``session`` to ``target`` (None: the session running the command), on ``server`` (None:
    the local one; another only over tsts), saying what it does through ``say``, and audit it.  The
    password is never printed, logged or put in an error."""
    dest = f"session {target.id} ({printable(target.station) or 'no name'})" if target else "this session"
    local = server or ctx.local_name()
    say(f"Connecting session {session.id} ({printable(session.station) or 'no name'}) to {dest} on {local}")
    target_id = target.id if target else _current_id(ctx)

    def audit(outcome: str, error: str | None) -> None:
        if ctx.audit is not None:
            ctx.audit.write(local, session.id, "connect", outcome, error, target=target_id)

    check = f"check with: wts sessions -s {local} --id {session.id}"
    try:
        if server is not None and target is not None:
            with ctx.server(server) as srv:
                srv.connect(session.id, target=target.id, password=password)
        else:
            wts.connect(
                session.id,
                target=target.id if target else None,
                password=password,
                provider=ctx.provider,
                timeout=ctx.args.timeout,
            )
    except KeyboardInterrupt:
        audit("unknown", "interrupted while the call was in flight")
        ctx.error(f"interrupted: the connect of session {session.id} was abandoned; its outcome is unknown; {check}")
        return ExitStatus.INTERRUPTED
    except WTSTimeoutError as exc:
        audit("unknown", describe_error(exc))
        ctx.error(
            f"no answer to the connect of session {session.id} within {ctx.args.timeout:g}s: its outcome is "
            f"unknown [{win_tag(exc.winerror)}]; {check}"
        )
        return ExitStatus.FAILED
    except WTSError as exc:
        audit("failed", describe_error(exc))
        ctx.error(f"could not connect session {session.id}: {error_line(exc)}")
        return ExitStatus.FAILED
    audit("done", None)
    say(f"Session {session.id} connected to {dest}")
    return ExitStatus.OK


def _current_id(ctx: Context) -> int | None:
    """The id of the session running the command (the default target), for the audit log: one RPC,
    only when there is a log."""
    if ctx.audit is None:
        return None
    try:
        with ctx.server(None) as srv:
            return int(srv.query(CURRENT_SESSION, InfoClass.SESSION_ID))
    except WTSError:
        return None
