"""``wts ps`` and ``wts kill``: processes across servers.  ``ps`` lists them (one
WTSEnumerateProcessesExW per server); ``kill`` ends the selected ones (one WTSTerminateProcess each)
with the session actions' steps: check the command line, plan, confirm, act on exactly the plan
(Farm lists each server again and ends only a process still running the same program under the same
pid), and print one line per outcome.  Farm does the selecting and the protecting (session 0, the
system's own images, your own session); this module decides what to ask and how to show it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import wts
from wts import Failure, Outcome, Process

from .._types import MAX_DWORD
from . import _selection
from ._actions import summary_line
from ._args import parse_session
from ._context import Context, StreamClosedError
from ._guard import stdout_to_devnull
from ._order import by_server_and_id, natural_key
from ._output import FAILURE_FIELDS, failure_record, outcome_record, render_table, write_records
from ._prompt import confirm
from ._status import ExitStatus, UsageError
from ._stream import StreamResult, stream
from ._terminal import terminal_width
from ._text import failure_lines, outcome_detail, outcome_result, unknown_hint

__all__ = ["KILL_FIELDS", "PROCESS_FIELDS", "run_kill", "run_ps"]

#: The fields of a process record (JSON, CSV): the listing's, then its numbers; times in seconds.
PROCESS_FIELDS = (
    "server",
    "session_id",
    "pid",
    "name",
    "user",
    "domain",
    "sid",
    "threads",
    "handles",
    "working_set_bytes",
    "peak_working_set_bytes",
    "pagefile_bytes",
    "peak_pagefile_bytes",
    "user_seconds",
    "kernel_seconds",
)
#: The fields of a kill outcome record: the process (server, session, pid, image, user), then what
#: happened, as an action's outcome records say it.
KILL_FIELDS = (
    "server",
    "session_id",
    "pid",
    "image",
    "user",
    "action",
    "status",
    "winerror",
    "error_name",
    "reason",
)


# --- the selection ---------------------------------------------------------------------------------


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or () for v in item.split(",") if v.strip()]


def _numbers(values: list[str], option: str, what: str, top: int) -> list[int]:
    out = []
    for token in values:
        if not (token.isascii() and token.isdigit()) or int(token) > top:
            raise UsageError(f"{option}: {token!r} is not {what} (a whole number from 0 to {top})")
        out.append(int(token))
    return out


def _filters(ctx: Context, positional: list[str], pids_allowed: bool) -> dict[str, Any]:
    """Farm's process filters from --name, --user, --session, --pid and the positional words (a
    number is a pid, anything else an image glob), every value checked first."""
    a = ctx.args
    f: dict[str, Any] = {}
    names = _split(a.name)
    pids = _numbers(_split(a.pid), "--pid", "a process id", MAX_DWORD)
    for word in positional:
        w = word.strip()
        if not w:
            raise UsageError("an empty process id or image name")
        if w.isascii() and w.isdigit() and pids_allowed:
            pids += _numbers([w], "PROCESS", "a process id", MAX_DWORD)
        else:
            names.append(w)
    if a.name is not None and not _split(a.name):
        raise UsageError("--name: no image name given")
    if names:
        f["name"] = names
    if pids:
        f["pid"] = pids
    users = _split(a.user)
    if a.user is not None and not users:
        raise UsageError("--user: no name given")
    if users:
        f["user"] = users
    sessions = []
    for token in _split(a.session):
        sid = parse_session(token, "--session")
        if not isinstance(sid, int):
            raise UsageError(f"--session: {token!r} is not a session id (a whole number)")
        sessions.append(sid)
    if a.session is not None and not sessions:
        raise UsageError("--session: no session id given")
    if sessions:
        f["session"] = sessions
    return f


# --- wts ps ------------------------------------------------------------------------------------------


def run_ps(ctx: Context) -> ExitStatus:
    ctx.setup()
    a = ctx.args
    filters = _filters(ctx, a.images, pids_allowed=True)
    servers = _selection.servers(ctx)
    farm = ctx.farm(servers)
    result = stream(ctx, farm, "processes", "processes", False, **filters)
    procs: list[Process] = result.items
    procs.sort(key=lambda p: (natural_key(p.server), p.session_id, p.pid))
    if a.format == "table":
        _ps_table(ctx, procs)
    else:
        rows = [process_record(p) for p in procs] + [
            failure_record(f, PROCESS_FIELDS, "session_id") for f in result.failures
        ]
        fields = PROCESS_FIELDS + FAILURE_FIELDS if a.format == "csv" else PROCESS_FIELDS
        write_records(ctx.stdout, a.format, rows, fields)
    ctx.stdout.flush()
    for line in failure_lines(result.failures, hints=ctx.verbose > 0):
        ctx.error(line)
    ctx.info(_ps_summary(ctx, procs, result, servers))
    if result.interrupted:
        return ExitStatus.INTERRUPTED
    return ExitStatus.FAILED if result.failures else ExitStatus.OK


def process_record(p: Process) -> dict[str, Any]:
    """A process as a flat record (JSON and CSV): CPU times in seconds."""
    rec = {k: getattr(p, k) for k in PROCESS_FIELDS[:13]}
    rec["user_seconds"] = p.user_time.total_seconds()
    rec["kernel_seconds"] = p.kernel_time.total_seconds()
    return rec


def format_memory(n: int) -> str:
    """A working set as Task Manager's details tab shows it: KiB with thousands separators."""
    return f"{n // 1024:,} K"


def format_cpu(t: timedelta) -> str:
    """User plus kernel time as Task Manager's CPU time column: h:mm:ss."""
    total = int(t.total_seconds())
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def _ps_table(ctx: Context, procs: list[Process]) -> None:
    """SERVER ID PID IMAGE USER MEMORY CPU; CPU, then MEMORY left out when the terminal is narrow."""
    if not procs:
        return
    rows = [
        [
            p.server or "",
            str(p.session_id),
            str(p.pid),
            p.name,
            p.user,
            format_memory(p.working_set_bytes),
            format_cpu(p.user_time + p.kernel_time),
        ]
        for p in procs
    ]
    ctx.stdout.write(
        render_table(
            ["SERVER", "ID", "PID", "IMAGE", "USER", "MEMORY", "CPU"],
            rows,
            width=terminal_width(ctx.stdout),
            right=(1, 2, 5, 6),
            flexible=(0, 3, 4),
            droppable=(6, 5),
            middle=(0, 3, 4),
            style=ctx.colour_out,
        )
    )


def _ps_summary(ctx: Context, procs: list[Process], result: StreamResult, servers: list[str]) -> str:
    """'87 processes in 14 sessions on 6 of 6 servers in 0.01s; 1 server failed'."""
    failed = {f.server.casefold() for f in result.failures}
    sessions = len({((p.server or "").casefold(), p.session_id) for p in procs})
    where = ctx.where(servers) if ctx.local_only else f"on {len(servers) - len(failed):,} of {len(servers):,} servers"
    summary = (
        f"{len(procs):,} process{'es' if len(procs) != 1 else ''} in {sessions:,} session{'s' if sessions != 1 else ''}"
        f" {where} in {result.elapsed:.2f}s"
    )
    if failed:
        summary += f"; {len(failed):,} server{'s' if len(failed) != 1 else ''} failed"
    if result.interrupted:
        summary += "; interrupted"
    return summary


# --- wts kill ----------------------------------------------------------------------------------------


def run_kill(ctx: Context) -> ExitStatus:
    ctx.setup()
    a = ctx.args
    filters = _filters(ctx, a.targets, pids_allowed=True)
    servers = _selection.servers(ctx)
    _check_kill(ctx, servers, filters)
    kwargs: dict[str, Any] = {
        "allow_own": a.allow_own,
        "allow_system": a.system,
        "exit_code": a.exit_code,
        **filters,
    }
    farm = ctx.farm(servers)
    result = _execute(ctx, farm, kwargs)

    outcomes = sorted(result.outcomes(), key=by_server_and_id)
    try:
        hidden = _write_outcomes(ctx, outcomes, result.failures)
    except (BrokenPipeError, StreamClosedError):
        raise  # a reader that went away (quiet), or stdout closed from the start: the guard's line
    except OSError as exc:
        # The run ended processes: that is no usage error.  Say what was done, where it can be read.
        summary = summary_line(
            ctx, outcomes, result, 0, servers, noun="processes", hidden_what="protected system processes"
        )
        ctx.error(f"stdout: the outcomes could not be written ({exc.strerror or exc}); {summary}")
        stdout_to_devnull(ctx.stdout)
        return ExitStatus.FAILED
    for line in failure_lines(result.failures, hints=ctx.verbose > 0):
        ctx.error(line)
    for line in unknown_hint(outcomes):
        ctx.error(line)
    ctx.info(
        summary_line(ctx, outcomes, result, hidden, servers, noun="processes", hidden_what="protected system processes")
    )
    if result.interrupted:
        return ExitStatus.INTERRUPTED
    failed = result.failures or result.audit_failed or any(o.status in ("failed", "unknown") for o in outcomes)
    return ExitStatus.FAILED if failed else ExitStatus.OK


def _check_kill(ctx: Context, servers: list[str], filters: dict[str, Any]) -> None:
    """Refuse what cannot be meant: pids across servers, nothing selected without --all, both, and
    --system with nothing named explicitly."""
    a = ctx.args
    if "pid" in filters and len(servers) != 1:
        raise UsageError(
            f"a process id belongs to one server, but {len(servers):,} are selected: name one with -s, or "
            "select across servers by image name, --user or --session"
        )
    if not filters and not a.all:
        n = len(servers)
        raise UsageError(
            "wts kill: name processes (ids or image names), select them with --name, --user or --session, "
            f"or add --all to end every process the safety rules allow on {'the' if n == 1 else 'all'} {n:,} "
            f"server{'s' if n != 1 else ''}"
        )
    if a.all and a.targets:
        raise UsageError("--all selects every process: drop it, or drop the process ids and names")
    literal = [n for n in filters.get("name", ()) if not any(c in n for c in "*?[")]
    if a.system and "pid" not in filters and not literal:
        raise UsageError(
            "--system ends a protected process only when it is named explicitly: give its pid (with one -s "
            "server) or its exact image name (svchost.exe, not svc*)"
        )


def _execute(ctx: Context, farm: wts.Farm, kwargs: dict[str, Any]) -> StreamResult:
    """Act, or plan first: for --dry-run, and before acting on more than one process without --yes.
    The confirmed run ends exactly the planned processes (each server is listed again first, and a
    pid that now runs another program is skipped as changed)."""
    a = ctx.args
    if not a.dry_run and a.yes:
        return stream(ctx, farm, "terminate", "end", True, **kwargs)
    plan = stream(ctx, farm, "terminate", "end (plan)", False, dry_run=True, **kwargs)
    if a.dry_run or plan.interrupted:
        return plan._replace(items=plan.outcomes())
    planned = [o for o in plan.outcomes() if o.status == "planned"]
    if len(planned) > 1:
        confirm(ctx, "terminate", planned)
    settled = [o for o in plan.outcomes() if o.status != "planned"]  # skips: nothing to do
    if not planned:
        return StreamResult(settled, plan.failures, False, plan.elapsed)
    # The plan's outcomes are the targets; the filters chose them and are not asked again, but the
    # overrides are: a planned system process is one --system allowed.
    act = {k: v for k, v in kwargs.items() if k in ("allow_own", "allow_system", "exit_code")}
    done = stream(ctx, farm, "terminate", "end", True, targets=planned, **act)
    return StreamResult(
        settled + done.outcomes(),
        plan.failures + done.failures,
        done.interrupted,
        plan.elapsed + done.elapsed,
        done.audit_failed,
    )


def kill_record(item: Outcome | Failure) -> dict[str, Any]:
    """An outcome (or a server that failed as a whole) as a flat record: the process, then what happened."""
    rec = outcome_record(item, "terminate")
    out = {k: rec.get(k) for k in KILL_FIELDS}
    if isinstance(item, Outcome):
        out.update(pid=item.pid, image=item.image)
    return out


def _write_outcomes(ctx: Context, outcomes: list[Outcome], failures: list[Failure]) -> int:
    """The outcomes as a table (one line each; the protected processes' skips left out unless -v) or
    as records (every outcome, and each failed server); returns how many were left out."""
    a = ctx.args
    hidden = 0
    if a.format == "table":
        shown = outcomes if ctx.verbose else [o for o in outcomes if not (o.status == "skipped" and o.why.system)]
        hidden = len(outcomes) - len(shown)
        if shown:
            rows, colours = [], []
            for o in shown:
                result, colour = outcome_result(o)
                rows.append([o.server, str(o.session_id), str(o.pid), o.image or "", o.user, result, outcome_detail(o)])
                colours.append([None, None, None, None, None, colour, None])
            ctx.stdout.write(
                render_table(
                    ["SERVER", "ID", "PID", "IMAGE", "USER", "RESULT", "DETAIL"],
                    rows,
                    width=terminal_width(ctx.stdout),
                    right=(1, 2),
                    flexible=(0, 3, 4, 6),
                    middle=(0, 3, 4),
                    colours=colours,
                    style=ctx.colour_out,
                )
            )
    else:
        records = [kill_record(o) for o in outcomes] + [kill_record(f) for f in failures]
        write_records(ctx.stdout, a.format, records, KILL_FIELDS)
    ctx.stdout.flush()
    return hidden
