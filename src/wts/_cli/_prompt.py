"""Questions to the person at the terminal: the confirmation before acting on several sessions
(the plan as a table, then ``[y/N]``), and the password of a session's owner (never echoed).

Both read the stdin and write the stderr the context holds, and ask only when stdin is a terminal."""

from __future__ import annotations

from wts import Outcome

from ._context import Context, is_closed
from ._order import by_server_and_id
from ._output import render_table
from ._password import PASSWORD_MAX, password_file
from ._status import ExitStatus, Refused, UsageError
from ._terminal import isatty, terminal_width
from ._text import VERBS

__all__ = ["confirm", "read_password"]

PLAN_SHOWN = 20  # rows of the plan shown before asking for confirmation


def confirm(ctx: Context, action: str, planned: list[Outcome]) -> None:
    """Show the plan and ask; raises Refused unless the answer is y or yes (or stdin is no terminal)."""
    count = len(planned)
    on = len({o.server.casefold() for o in planned})
    processes = any(o.pid is not None for o in planned)
    noun = "processes" if processes else "sessions"
    what = f"{VERBS[action]} {count:,} {noun} on {on:,} server{'s' if on != 1 else ''}"
    if not isatty(ctx.stdin):
        raise Refused(
            f"refusing to {what} without confirmation: stdin is not a terminal. "
            "Add --yes to go ahead, or --dry-run to see the plan",
            ExitStatus.USAGE,
        )
    shown = sorted(planned, key=by_server_and_id)[:PLAN_SHOWN]
    right: tuple[int, ...]
    if processes:
        headers = ["SERVER", "ID", "PID", "IMAGE", "USER"]
        rows = [[o.server, str(o.session_id), str(o.pid), o.image or "", o.user] for o in shown]
        right, flexible = (1, 2), (0, 3, 4)
    else:
        headers = ["SERVER", "ID", "STATION", "USER"]
        rows = [[o.server, str(o.session_id), o.station, o.user] for o in shown]
        right, flexible = (1,), (0, 2, 3)
    ctx.stderr.write(
        render_table(
            headers,
            rows,
            width=terminal_width(ctx.stderr),
            right=right,
            flexible=flexible,
            middle=flexible,
            style=ctx.colour_err,
        )
    )
    if count > len(shown):
        ctx.stderr.write(f"  ... and {count - len(shown):,} more (--dry-run lists them all)\n")
    ctx.stderr.write(f"{what[0].upper()}{what[1:]}? [y/N] ")
    ctx.stderr.flush()
    answer = ctx.stdin.readline(64)
    if answer.strip().lower() not in ("y", "yes"):
        raise Refused("nothing was done", ExitStatus.FAILED)


def read_password(ctx: Context, prompt: bool, path: str | None, option: str = "--password-prompt") -> str:
    """Without echo on a terminal; from the first line of a file; or (a script's pipe) one stdin line.
    At most ``PASSWORD_MAX`` (1 KiB) is read, wherever from."""
    if path is not None:
        return password_file(path)
    if prompt:
        if is_closed(ctx.stdin):
            raise UsageError(f"{option}: stdin is closed: there is no password to read")
        if isatty(ctx.stdin):
            import getpass

            # getpass talks to the terminal itself (/dev/tty, the console), prompt included: given a
            # stream, it would write the prompt there instead, so it gets none.
            return getpass.getpass("Password: ")
        line = ctx.stdin.readline(PASSWORD_MAX + 1)
        if len(line.rstrip("\r\n")) > PASSWORD_MAX:
            raise UsageError(f"{option}: the password line from stdin is longer than {PASSWORD_MAX} characters (1 KiB)")
        return line.rstrip("\r\n")
    return ""
