"""``wts qprocess`` / ``wts query process`` and ``wts tskill``: the classic process tools, with
Windows' syntax, usage texts, fixed-width columns and exit status, through ``Farm.processes`` and
``Farm.terminate`` (so ``/SERVER:`` also takes a range or a list, every server in flight together).

qprocess lists as qprocess.exe does (user names, session names and image names lower-case, ``>``
on the caller's own session; ``(unknown)`` for a process whose account has no name); beyond it,
``/SYSTEM`` adds the processes of session 0 and the system's own images (``wts.SYSTEM_IMAGES``),
which ``*`` and the other selections leave out: on a farm they are hundreds of lines nobody asked
for.  tskill ends processes by pid or by image name (in the current session, ``/ID:`` one, or ``/A``
all), with Farm's safety: the system's processes and your own session's are never touched unless
``--system`` / ``--allow-own`` say so, more than one process is confirmed first unless ``--yes``,
``--dry-run`` only plans.

RPCs: qprocess, one WTSEnumerateSessionsExW (the session names) and one WTSEnumerateProcessesExW per
server (plus LookupAccountSidW once per distinct SID); tskill, the process listing twice per server
(the plan, then Farm's own before acting) and one WTSTerminateProcess per selected process.
"""

from __future__ import annotations

from typing import Any

import wts
from wts import CURRENT_SESSION, Outcome, Process, Reason, WTSError

from ._classic_actions import count_outcomes
from ._classic_usage import QPROCESS_USAGE, TSKILL_USAGE
from ._context import Context
from ._order import by_server_and_id, natural_key, server_blocks
from ._processes import KILL_FIELDS, PROCESS_FIELDS, kill_record, process_record
from ._prompt import confirm
from ._status import ExitStatus, UsageError
from ._stream import StreamResult, stream
from ._switches import Invalid, dry_run_summary, invalid, parse, say, servers_of, session_word, usage
from ._text import describe_error, error_name, outcome_detail, outcome_result, printable

__all__ = ["QPROCESS_HEADER", "qprocess_line", "run_qprocess", "run_qprocess_args", "run_tskill"]

QPROCESS_HEADER = " USERNAME              SESSIONNAME         ID    PID  IMAGE"


def qprocess_line(p: Process, station: str, own: bool) -> str:
    """One qprocess row, as qprocess.exe lays it out and lower-cases it."""
    mark = ">" if own else " "
    user = printable(p.user).lower()[:20] or "(unknown)"
    station = printable(station).lower()[:18]
    return f"{mark}{user:<20}  {station:<18}{p.session_id:>4}{p.pid:>7}  {printable(p.name).lower()}"


def run_qprocess(ctx: Context) -> ExitStatus:
    return run_qprocess_args(ctx, list(ctx.args.classic_args))


def run_qprocess_args(ctx: Context, args: list[str]) -> ExitStatus:
    """qprocess [* | processid | username | sessionname | /ID:nn | programname] [/SERVER:] [/SYSTEM]."""
    try:
        words, sw = parse(args, ("system",), ("server", "id"), ("--format",))
        if len(words) > 1 or (words and "id" in sw):
            raise Invalid
        session = _session_id(sw.get("id"))
        servers = servers_of(sw)
    except Invalid:
        return invalid(ctx, QPROCESS_USAGE)
    if sw.get("?"):
        return usage(ctx, QPROCESS_USAGE)
    ctx.setup()
    names = servers if servers is not None else [ctx.local_name()]
    own = _own(ctx)
    word = words[0] if words else None
    filters: dict[str, Any] = {}
    if session is not None:
        filters["session"] = [session]
    value = session_word(word, "qprocess") if word not in (None, "*") else None
    if isinstance(value, int):
        filters["pid"] = [value]
    elif isinstance(value, str) and value.casefold().endswith(".exe"):
        filters["name"] = [value]
    elif word is None and session is None:
        if own is None or not own.user:
            raise UsageError("qprocess: there is no current user here to list the processes of: give * or a name")
        filters["user"] = [f"{own.domain}\\{own.user}" if own.domain else own.user]
    farm = ctx.farm(names)
    listing = stream(ctx, farm, "sessions", "qprocess", False)
    stations: dict[str, dict[int, str]] = {}  # server (case-folded) -> session id -> WinStation name
    for s in listing.items:
        stations.setdefault((s.server or "").casefold(), {})[s.id] = s.station
    result = stream(ctx, farm, "processes", "qprocess", False, **filters)
    procs: list[Process] = [p for p in result.items if isinstance(p, Process)]
    if isinstance(value, str) and not value.casefold().endswith(".exe"):
        procs = [p for p in procs if _user_or_station(p, value, stations)]
    if not sw.get("system") and "pid" not in filters:
        procs = [p for p in procs if not _system(p)]
    procs.sort(key=lambda p: (natural_key(p.server), p.session_id, p.pid))
    failures = [f for f in listing.failures if not any(g.server == f.server for g in result.failures)]
    failures += result.failures
    fmt = str(sw.get("--format", "table"))
    if fmt != "table":
        from ._output import FAILURE_FIELDS, write_records

        recs = [dict(process_record(p), own=_is_own(p, own, ctx)) for p in procs]
        recs += [_failure_record(f) for f in failures]
        write_records(ctx.stdout, fmt, recs, (*PROCESS_FIELDS, *FAILURE_FIELDS, "own"))
    else:
        _blocks(ctx, names, procs, stations, own)
    ctx.stdout.flush()
    for f in failures:
        ctx.env.note(f"{f.server}: Error [{f.error.winerror}]:{f.error.strerror}")
    if not procs and not failures:
        ctx.env.note(f"No Process exists for {word or '*'}")
    if listing.interrupted or result.interrupted:
        return ExitStatus.INTERRUPTED
    return ExitStatus.FAILED if failures or not procs else ExitStatus.OK


def _failure_record(f: Any) -> dict[str, Any]:
    """A server that could not be listed, as a record of the listing (its process fields null)."""
    rec: dict[str, Any] = dict.fromkeys(PROCESS_FIELDS)
    rec.update(server=f.server, status="failed", winerror=f.error.winerror, error_name=error_name(f.error.winerror))
    rec["reason"] = describe_error(f.error, with_function=True)
    return rec


def _session_id(value: str | bool | None) -> int | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise Invalid
    sid = session_word(value, "/ID")
    assert isinstance(sid, int)
    return sid


def _system(p: Process) -> bool:
    return p.session_id == 0 or p.name.casefold() in wts.SYSTEM_IMAGES


def _user_or_station(p: Process, name: str, stations: dict[str, dict[int, str]]) -> bool:
    key = name.casefold()
    station = stations.get((p.server or "").casefold(), {}).get(p.session_id, "")
    return p.user.casefold() == key or (bool(station) and station.casefold() == key)


def _blocks(
    ctx: Context, names: list[str], procs: list[Process], stations: dict[str, dict[int, str]], own: Any
) -> None:
    for name, heading, block in server_blocks(names, procs, len(names) > 1):
        ctx.stdout.write(heading)
        ctx.stdout.write(QPROCESS_HEADER + "\n")
        for p in block:
            station = stations.get(name.casefold(), {}).get(p.session_id, "")
            ctx.stdout.write(qprocess_line(p, station, _is_own(p, own, ctx)) + "\n")


def _own(ctx: Context) -> Any:
    """The caller's own session on the local server (one RPC); None when there is none."""
    try:
        with ctx.server(None) as srv:
            return srv.session_info(CURRENT_SESSION)
    except (WTSError, wts.ProviderError, ValueError, OSError):
        return None


def _is_own(p: Process, own: Any, ctx: Context) -> bool:
    return own is not None and p.session_id == own.id and (p.server or "").casefold() == ctx.local_name().casefold()


# --- tskill ----------------------------------------------------------------------------------------------


def run_tskill(ctx: Context) -> ExitStatus:
    """tskill processid | processname [/SERVER:] [/ID:sessionid | /A] [/V]."""
    try:
        words, sw = parse(
            list(ctx.args.classic_args),
            ("a", "v"),
            ("server", "id"),
            ("--format", "--dry-run", "--yes", "--system", "--allow-own"),
        )
        if len(words) != 1 and not sw.get("?"):
            raise Invalid
        if sw.get("a") and "id" in sw:
            raise Invalid
        session = _session_id(sw.get("id"))
        servers = servers_of(sw)
        word = words[0] if words else ""
        by_pid = word.isascii() and word.isdigit()
        if servers is not None and not by_pid and not sw.get("a") and session is None:
            raise Invalid  # "/ID or /A must be specified when using processname and /SERVER"
    except Invalid:
        return invalid(ctx, TSKILL_USAGE)
    if sw.get("?"):
        return usage(ctx, TSKILL_USAGE)
    ctx.setup()
    names = servers if servers is not None else [ctx.local_name()]
    filters: dict[str, Any] = {}
    if by_pid:
        if len(names) > 1:
            raise UsageError("tskill: a process id belongs to one server: give one /SERVER, or a process name with /A")
        filters["pid"] = [session_word(word, "tskill")]
    else:
        if any(c in word for c in "*?["):
            raise UsageError(f"tskill: {word!r}: a process name, without wildcards (as tskill.exe takes it)")
        filters["name"] = [word]
    if session is not None:
        filters["session"] = [session]
    elif not by_pid and not sw.get("a"):
        own = _own(ctx)  # no /ID, no /A: the current session, as tskill.exe
        if own is None:
            raise UsageError("tskill: there is no current session here: give /ID:sessionid or /A")
        filters["session"] = [own.id]
    kwargs = {"allow_system": bool(sw.get("--system")), "allow_own": bool(sw.get("--allow-own"))}
    # /A reaches your own session too, which wts skips: quietly (only /V says so), as msg * does.
    quiet_own = bool(sw.get("a"))
    farm = ctx.farm(names)
    result = _terminate(ctx, farm, bool(sw.get("--dry-run")), bool(sw.get("--yes")), filters, kwargs)
    outcomes = sorted(result.outcomes(), key=by_server_and_id)
    fmt = str(sw.get("--format", "table"))
    if fmt != "table":
        from ._output import write_records

        recs = [kill_record(o) for o in outcomes] + [kill_record(f) for f in result.failures]
        write_records(ctx.stdout, fmt, recs, KILL_FIELDS)
        ctx.stdout.flush()
    else:
        _tskill_report(ctx, outcomes, bool(sw.get("v")), quiet_own)
    for f in result.failures:
        ctx.env.note(f"{f.server}: Error [{f.error.winerror}]:{f.error.strerror}")
    if not outcomes and not result.failures:
        ctx.env.note(f"Could not find process: {word}")
    elif sw.get("--dry-run"):
        ctx.info(dry_run_summary("tskill", count_outcomes(outcomes), "processes", len(names)))
    if result.interrupted:
        return ExitStatus.INTERRUPTED
    bad = result.failures or result.audit_failed or not outcomes
    bad = bad or any(o.status not in ("done", "planned") and not _quiet(o, quiet_own) for o in outcomes)
    return ExitStatus.FAILED if bad else ExitStatus.OK


def _terminate(
    ctx: Context, farm: wts.Farm, dry_run: bool, yes: bool, filters: dict[str, Any], kwargs: dict[str, Any]
) -> StreamResult:
    """Plan (one listing per server), then, unless --dry-run, confirm more than one process (unless
    --yes) and end exactly the planned ones (Farm lists them again: a pid reused since is skipped)."""
    plan = stream(ctx, farm, "terminate", "tskill (plan)", False, dry_run=True, **filters, **kwargs)
    if dry_run or plan.interrupted:
        return plan
    planned = [o for o in plan.outcomes() if o.status == "planned"]
    settled = [o for o in plan.outcomes() if o.status != "planned"]
    if len(planned) > 1 and not yes:
        confirm(ctx, "terminate", planned)
    if not planned:
        return plan
    done = stream(ctx, farm, "terminate", "tskill", True, targets=planned, **kwargs)
    return StreamResult(
        settled + done.outcomes(),
        plan.failures + done.failures,
        done.interrupted,
        plan.elapsed + done.elapsed,
        done.audit_failed,
    )


def _quiet(o: Outcome, quiet_own: bool) -> bool:
    return quiet_own and o.status == "skipped" and o.why is Reason.OWN_SESSION


def _tskill_report(ctx: Context, outcomes: list[Outcome], verbose: bool, quiet_own: bool) -> None:
    """tskill.exe's /V line for each process ended ('End Process(1234)'), after the server's name;
    a dry run's plan always; what was not done, one line each on stderr (your own session's under
    /A, only with /V, on stdout)."""
    line = say(ctx, verbose)
    plan = say(ctx, True)
    for o in outcomes:
        where = f"{o.server}: session {o.session_id}, {printable(o.user) or '(unknown)'}: {printable(o.image or '')}"
        if o.status == "done":
            line(f"{o.server}: End Process({o.pid})")
        elif o.status == "planned":
            plan(f"{where} ({o.pid}): would end (dry run)")
        elif _quiet(o, quiet_own):
            line(f"{where} ({o.pid}): {outcome_result(o)[0]}: {outcome_detail(o)}")
        else:
            ctx.env.note(f"{where} ({o.pid}): {outcome_result(o)[0]}: {outcome_detail(o)}")
