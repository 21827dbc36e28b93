"""``wts disconnect``, ``wts logoff`` and ``wts message``: select sessions (named ones, or filters
across servers), plan, confirm, act on exactly the plan, and print one line per outcome.

The steps: ``_check`` the command line, ``_resolve`` the named sessions, ``_execute`` (plan, confirm,
run), ``_write_outcomes``, ``_summary``.  Farm does the acting and the protecting (session 0, the
console, listeners, your own session); this module decides what to ask and how to show it.
"""

from __future__ import annotations

from typing import Any

import wts
from wts import Failure, Outcome, Session

from . import _selection
from ._context import Context, StreamClosedError
from ._guard import stdout_to_devnull
from ._order import by_server_and_id
from ._output import OUTCOME_FIELDS, outcome_record, render_table, write_records
from ._prompt import confirm
from ._status import ExitStatus, UsageError
from ._stream import StreamResult, stream
from ._terminal import terminal_width
from ._text import VERBS, failure_lines, outcome_detail, outcome_result, unknown_hint

__all__ = ["run"]


def run(ctx: Context) -> ExitStatus:
    if getattr(ctx.args, "classic_args", None) is not None:  # logoff.exe's or msg.exe's syntax
        from ._classic_actions import run_classic

        return run_classic(ctx)
    ctx.setup()
    a = ctx.args
    action = {"msg": "message"}.get(a.command, a.command)
    filters = _selection.filters(ctx)
    servers = _selection.servers(ctx)
    _check(ctx, action, servers, filters)
    kwargs: dict[str, Any] = {"allow_own": a.allow_own, **_message_options(ctx, action), **filters}
    farm = ctx.farm(servers)
    targets = _resolve(ctx, servers[0]) if a.targets else None
    result = _execute(ctx, farm, action, targets, kwargs)

    outcomes = sorted(result.outcomes(), key=by_server_and_id)
    summary = summary_line(ctx, outcomes, result, 0, servers)
    try:
        hidden = _write_outcomes(ctx, action, outcomes, result.failures, named=targets is not None)
    except (BrokenPipeError, StreamClosedError):
        raise  # a reader that went away (quiet), or stdout closed from the start: the guard's line
    except OSError as exc:
        # The run changed things: that is no usage error.  Say what was done, where it can be read.
        ctx.error(f"stdout: the outcomes could not be written ({exc.strerror or exc}); {summary}")
        stdout_to_devnull(ctx.stdout)
        return ExitStatus.FAILED
    for line in failure_lines(result.failures, hints=ctx.verbose > 0):
        ctx.error(line)
    for line in unknown_hint(outcomes):
        ctx.error(line)
    ctx.info(summary_line(ctx, outcomes, result, hidden, servers))
    if result.interrupted:
        return ExitStatus.INTERRUPTED
    failed = result.failures or result.audit_failed or any(o.status in ("failed", "unknown") for o in outcomes)
    return ExitStatus.FAILED if failed else ExitStatus.OK


def _check(ctx: Context, action: str, servers: list[str], filters: dict[str, Any]) -> None:
    """Refuse what cannot be meant: ids across servers, nothing selected without --all, both."""
    a = ctx.args
    if a.targets and len(servers) != 1:
        raise UsageError(
            f"session ids and names belong to one server, but {len(servers):,} are selected: "
            "name one with -s, or select across servers with filters (--state, --user, ...)"
        )
    if not a.targets and not filters and not a.all:
        n = len(servers)
        raise UsageError(
            f"wts {a.command}: name sessions, select them with filters (--state, --user, --idle-over, ...), "
            f"or add --all to {VERBS[action]} every session of {'the' if n == 1 else 'all'} {n:,} server"
            f"{'s' if n != 1 else ''}"
        )
    if a.targets and a.all:
        raise UsageError("--all selects every session: drop it, or drop the session ids and names")


def _message_options(ctx: Context, action: str) -> dict[str, Any]:
    """Farm's keyword arguments for a message (title, text, --time, --wait); none for the others."""
    a = ctx.args
    if action != "message":
        return {}
    if a.wait and not a.time:
        raise UsageError("--wait needs --time SECONDS, so that a session where nobody answers cannot hold the run")
    return {"title": a.title, "text": a.text, "message_timeout": a.time, "wait": a.wait}


def _resolve(ctx: Context, server: str) -> list[Session]:
    """The sessions named on the command line, found in one listing; the same session named twice
    (by id and by name) is one target."""
    wanted = [(t, "session") for t in ctx.args.targets]
    return list(dict.fromkeys(_selection.resolve_sessions(ctx, server, wanted, "; nothing was done")))


def _execute(
    ctx: Context, farm: wts.Farm, action: str, targets: list[Session] | None, kwargs: dict[str, Any]
) -> StreamResult:
    """Act, or plan first: for --dry-run, and before acting on more than one session without --yes.
    The confirmed run acts on exactly the planned sessions (each is re-listed first by Farm)."""
    a = ctx.args
    label = VERBS[action]
    if not a.dry_run and (a.yes or (targets is not None and len(targets) <= 1)):
        return stream(ctx, farm, action, label, True, targets=targets, **kwargs)

    plan = stream(ctx, farm, action, f"{label} (plan)", False, targets=targets, dry_run=True, **kwargs)
    if a.dry_run or plan.interrupted:
        return plan._replace(items=plan.outcomes())
    planned = [o for o in plan.outcomes() if o.status == "planned"]
    if len(planned) > 1:
        confirm(ctx, action, planned)
    settled = [o for o in plan.outcomes() if o.status != "planned"]  # skips: nothing to do
    if not planned:
        return StreamResult(settled, plan.failures, False, plan.elapsed)
    done = stream(ctx, farm, action, label, True, targets=planned, **kwargs)
    return StreamResult(
        settled + done.outcomes(),
        plan.failures + done.failures,
        done.interrupted,
        plan.elapsed + done.elapsed,
        done.audit_failed,
    )


def _is_system_skip(o: Outcome) -> bool:
    """Skips every server repeats (Farm never touches session 0, the console, listeners): in a table
    they would bury the outcomes that matter, so they are counted in the summary and listed with -v.
    JSON and CSV always carry them."""
    return o.status == "skipped" and o.why.system


def _write_outcomes(
    ctx: Context, action: str, outcomes: list[Outcome], failures: list[Failure], named: bool = False
) -> int:
    """The outcomes as a table (one line each, system skips left out unless -v or the sessions were
    named on the command line) or as records (every outcome, and each failed server); returns how
    many were left out."""
    a = ctx.args
    hidden = 0
    if a.format == "table":
        shown = outcomes if ctx.verbose or named else [o for o in outcomes if not _is_system_skip(o)]
        hidden = len(outcomes) - len(shown)
        _outcome_table(ctx, shown)
    else:
        records = [outcome_record(o, action) for o in outcomes] + [outcome_record(f, action) for f in failures]
        write_records(ctx.stdout, a.format, records, OUTCOME_FIELDS)
    ctx.stdout.flush()
    return hidden


def _outcome_table(ctx: Context, outcomes: list[Outcome]) -> None:
    if not outcomes:
        return
    rows, colours = [], []
    for o in outcomes:
        result, colour = outcome_result(o)
        rows.append([o.server, str(o.session_id), o.station, o.user, result, outcome_detail(o)])
        colours.append([None, None, None, None, colour, None])
    ctx.stdout.write(
        render_table(
            ["SERVER", "ID", "STATION", "USER", "RESULT", "DETAIL"],
            rows,
            width=terminal_width(ctx.stdout),
            right=(1,),
            flexible=(0, 2, 3, 5),
            middle=(0, 2, 3),
            colours=colours,
            style=ctx.colour_out,
        )
    )


def summary_line(
    ctx: Context,
    outcomes: list[Outcome],
    result: StreamResult,
    hidden: int,
    servers: list[str],
    *,
    noun: str = "sessions",
    hidden_what: str = "system sessions",
) -> str:
    """'logoff: 3 done, 1 skipped (not shown: ...); 1 server failed; 0.02s', for the session actions
    and (with ``noun="processes"``) wts kill.  Unknown outcomes (sent, no answer) are counted apart:
    they are neither done nor failed."""
    a = ctx.args
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    order = ("planned", "done", "skipped", "failed", "unknown")
    parts = ", ".join(f"{counts[s]:,} {s}" for s in order if counts.get(s))
    summary = f"{a.command}{' (dry run)' if a.dry_run else ''}: {parts or f'no {noun} selected'}"
    if ctx.local_only:
        summary += f" {ctx.where(servers)}"
    if hidden:
        summary += f" (not shown: {hidden:,} {hidden_what}, never touched; -v lists them)"
    failed_servers = len({f.server.casefold() for f in result.failures})
    if failed_servers:
        summary += f"; {failed_servers:,} server{'s' if failed_servers != 1 else ''} failed"
    summary += f"; {result.elapsed:.2f}s"
    if a.dry_run:
        summary += "; nothing was changed"
    if result.interrupted:
        summary += f"; interrupted: {noun} not reached were left alone"
    if result.audit_failed:
        summary += f"; stopped: the audit log could not be written ({noun} not reached were left alone)"
    return summary
