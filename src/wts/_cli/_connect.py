"""``wts connect``: connect a session to another on this server, as tscon does
(WTSConnectSessionW; ``connect_session`` is shared with ``wts tscon``)."""

from __future__ import annotations

from collections.abc import Callable

import wts
from wts import Session, WTSError

from ._context import Context
from ._prompt import read_password
from ._selection import resolve_sessions
from ._status import ExitStatus, UsageError
from ._text import describe_error, error_line

__all__ = ["connect_session", "run"]


def run(ctx: Context) -> ExitStatus:
    ctx.setup()
    a = ctx.args
    _refuse_other_servers(ctx)
    wanted = [(a.session, "SESSION")] + ([(a.target, "--target")] if a.target else [])
    found = resolve_sessions(ctx, None, wanted)  # one listing for both
    session, target = found[0], (found[1] if a.target else None)
    password = read_password(ctx, a.password_prompt, a.password_file)
    return connect_session(ctx, session, target, password, lambda text: ctx.info(text, 1))


def _refuse_other_servers(ctx: Context) -> None:
    """-s may only name this server: WTSConnectSessionW has no server handle."""
    if not ctx.args.server:
        return
    local = ctx.local_name().casefold()
    for spec in ctx.args.server:
        for name in wts.parse_servers(spec, where="-s"):
            if name.casefold() not in (local, ".", "localhost"):
                raise UsageError(
                    f"wts connect acts on the local server only (WTSConnectSessionW has no server handle): "
                    f"{name} is not this server ({ctx.local_name()}); run wts connect on {name} itself"
                )


def connect_session(
    ctx: Context, session: Session, target: Session | None, password: str, say: Callable[[str], None]
) -> ExitStatus:
    """Connect ``session`` to ``target`` (None: the session running the command), saying what it does
    through ``say``, and audit it.  The password is never printed, logged or put in an error."""
    dest = f"session {target.id} ({target.station or 'no name'})" if target else "this session"
    say(f"Connecting session {session.id} ({session.station or 'no name'}) to {dest} on {ctx.local_name()}")
    try:
        wts.connect(session.id, target=target.id if target else None, password=password, provider=ctx.provider)
    except WTSError as exc:
        if ctx.audit is not None:
            ctx.audit.write(ctx.local_name(), session.id, "connect", "failed", describe_error(exc))
        ctx.error(f"could not connect session {session.id}: {error_line(exc)}")
        return ExitStatus.FAILED
    if ctx.audit is not None:
        ctx.audit.write(ctx.local_name(), session.id, "connect", "done", None)
    say(f"Session {session.id} connected to {dest}")
    return ExitStatus.OK
