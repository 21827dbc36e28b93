"""Questions to the person at the terminal: the confirmation before acting on several sessions
(the plan as a table, then ``[y/N]``), and the password of a session's owner (never echoed).

Both read the stdin and write the stderr the context holds, and ask only when stdin is a terminal."""

from __future__ import annotations

from wts import Outcome

from ._context import Context
from ._order import by_server_and_id
from ._output import render_table
from ._status import ExitStatus, Refused, UsageError
from ._terminal import isatty, terminal_width
from ._text import VERBS

__all__ = ["confirm", "read_password"]

PLAN_SHOWN = 20  # rows of the plan shown before asking for confirmation


def confirm(ctx: Context, action: str, planned: list[Outcome]) -> None:
    """Show the plan and ask; raises Refused unless the answer is y or yes (or stdin is no terminal)."""
    count = len(planned)
    on = len({o.server.casefold() for o in planned})
    what = f"{VERBS[action]} {count:,} sessions on {on:,} server{'s' if on != 1 else ''}"
    if not isatty(ctx.stdin):
        raise Refused(
            f"refusing to {what} without confirmation: stdin is not a terminal. "
            "Add --yes to go ahead, or --dry-run to see the plan",
            ExitStatus.USAGE,
        )
    shown = sorted(planned, key=by_server_and_id)[:PLAN_SHOWN]
    ctx.stderr.write(
        render_table(
            ["SERVER", "ID", "STATION", "USER"],
            [[o.server, str(o.session_id), o.station, o.user] for o in shown],
            width=terminal_width(ctx.stderr),
            right=(1,),
            flexible=(0, 2, 3),
            style=ctx.colour_err,
        )
    )
    if count > len(shown):
        ctx.stderr.write(f"  ... and {count - len(shown):,} more (--dry-run lists them all)\n")
    ctx.stderr.write(f"{what[0].upper()}{what[1:]}? [y/N] ")
    ctx.stderr.flush()
    answer = ctx.stdin.readline()
    if answer.strip().lower() not in ("y", "yes"):
        raise Refused("nothing was done", ExitStatus.FAILED)


def read_password(ctx: Context, prompt: bool, path: str | None) -> str:
    """Without echo on a terminal; from the first line of a file; or (a script's pipe) one stdin line."""
    if path is not None:
        try:
            with open(path, encoding="utf-8-sig") as f:
                return f.readline().rstrip("\r\n")
        except OSError as exc:
            raise UsageError(f"--password-file: cannot read {path}: {exc.strerror}") from None
    if prompt:
        if isatty(ctx.stdin):
            import getpass

            # getpass talks to the terminal itself (/dev/tty, the console), prompt included: given a
            # stream, it would write the prompt there instead, so it gets none.
            return getpass.getpass("Password: ")
        return ctx.stdin.readline().rstrip("\r\n")
    return ""
