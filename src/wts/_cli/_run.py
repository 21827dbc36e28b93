"""The ``wts`` commands: what each one does with the parsed arguments.

Errors people make (a bad duration, an unknown session, an unreachable server, a missing farm file)
end as one line on stderr naming the thing and the reason, with Windows' code and text where there
is one; tracebacks only with -vv.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from typing import IO, Any

import wts
from wts import ConnectState, Failure, Interrupted, Outcome, Progress, Session, SessionInfo, WTSError

from ._args import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    parse_duration,
    parse_moment,
    parse_session,
)
from ._output import (
    OUTCOME_FIELDS,
    SESSION_FIELDS,
    ProgressBar,
    Style,
    cli_reason,
    code_name,
    describe_error,
    format_idle,
    format_time,
    outcome_record,
    render_table,
    session_record,
    state_colour,
    state_name,
    terminal_width,
    write_records,
)

__all__ = ["Context", "run_command"]

_DONE_WORDS = {"disconnect": "disconnected", "logoff": "logged off", "message": "sent", "connect": "connected"}
_VERBS = {"disconnect": "disconnect", "logoff": "log off", "message": "message"}
_PLAN_SHOWN = 20  # rows of the plan shown before asking for confirmation
# Skips every server repeats (Farm never touches these): in a table they would bury the outcomes that
# matter, so they are counted in the summary and listed with -v.  JSON and CSV always carry them.
_SYSTEM_SKIPS = frozenset(
    {"session 0 (services) is never touched", "a listener is never touched", "the console session is never touched"}
)


def _is_system_skip(o: Outcome) -> bool:
    return o.status == "skipped" and o.reason in _SYSTEM_SKIPS


class Refused(Exception):
    """The command will not go on (no confirmation possible, or the answer was no)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class AuditLog:
    """JSON Lines, one per thing done: time, operator, server, session, action, outcome, error.
    Opened before any RPC, so a bad path stops the command before it changes anything.  It never
    holds a password: no field takes one."""

    def __init__(self, path: str) -> None:
        try:
            self.file: IO[str] | None = open(path, "a", encoding="utf-8", buffering=1)
        except OSError as exc:
            raise UsageError(f"--audit-log: cannot open {path}: {exc.strerror}") from None
        self.operator = _operator()

    def write(self, server: str | None, session: int | None, action: str, outcome: str, error: str | None) -> None:
        if self.file is None:
            return
        entry = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "operator": self.operator,
            "server": server,
            "session": session,
            "action": action,
            "outcome": outcome,
            "error": error,
        }
        self.file.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _operator() -> str:
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except Exception:  # no USER/LOGNAME and no passwd entry: still log the action
        user = "unknown"
    domain = os.environ.get("USERDOMAIN")
    who = f"{domain}\\{user}" if domain and sys.platform == "win32" else user
    return f"{who}@{socket.gethostname()}"


class Context:
    """One command's settings, streams and resources."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out = sys.stdout
        self.err = sys.stderr
        self.verbose: int = args.verbose
        self.quiet: bool = args.quiet
        self.colour_out = Style(self.out)
        self.colour_err = Style(self.err)
        self.audit: AuditLog | None = None
        self.provider: str | None = None
        self.sim_state: str | None = None
        self.sim_loaded = False
        self._local: str | None = None
        self._stdin_used = False
        self.status_after_close = EXIT_OK

    # -- messages --------------------------------------------------------------------------------

    def error(self, text: str) -> None:
        self.err.write(f"{self.colour_err('wts:', 'red', 'bold')} {text}\n")
        self.err.flush()

    def info(self, text: str, level: int = 0) -> None:
        """A note on stderr: level 0 unless -q, level 1 with -v."""
        if (level == 0 and not self.quiet) or (level > 0 and self.verbose >= level):
            self.err.write(f"{text}\n")
            self.err.flush()

    # -- set-up ----------------------------------------------------------------------------------

    def setup(self) -> None:
        a = self.args
        provider = a.provider
        self.sim_state = a.sim_state or os.environ.get("WTS_SIM_STATE") or None
        sim_farm = a.sim_farm
        if sim_farm or self.sim_state:
            if provider == "win32":
                raise UsageError("--sim-farm and --sim-state drive the simulated farm: they need --provider sim")
            provider = "sim"
        self.provider = provider or os.environ.get("WTS_PROVIDER") or None
        if self.provider == "sim":
            source = None
            if self.sim_state and os.path.exists(self.sim_state):
                source = self.sim_state
            elif sim_farm:
                source = sim_farm
            elif self.sim_state:
                raise UsageError(
                    f"--sim-state: {self.sim_state} does not exist; "
                    "start it from a farm file with --sim-farm FARM (the state is written back after the command)"
                )
            if source is not None:
                option = "--sim-state" if source == self.sim_state else "--sim-farm"
                try:
                    wts.sim.load(source)
                except ValueError as exc:  # FarmFileError: it names the file, the place and the reason
                    raise UsageError(f"{option}: {exc}") from None
                self.sim_loaded = True
                self.info(f"wts: sim farm from {source}", 1)
            elif wts.sim.loaded() or os.environ.get("WTS_SIM_FARM"):
                self.sim_loaded = True  # WTS_SIM_FARM: loaded when the provider is first resolved
        if a.audit_log:
            self.audit = AuditLog(a.audit_log)

    def close(self) -> None:
        if self.audit is not None:
            self.audit.close()
        if self.sim_state and self.sim_loaded and wts.sim.loaded():
            try:
                wts.sim.save(self.sim_state)
            except OSError as exc:
                self.error(f"--sim-state: cannot write {self.sim_state}: {exc.strerror}")
                self.status_after_close = EXIT_FAILED

    # -- servers ---------------------------------------------------------------------------------

    def local_name(self) -> str:
        """The local server's name: the sim farm's ``local``, else this computer's name."""
        if self._local is None:
            if self.provider == "sim" or (self.provider is None and sys.platform != "win32"):
                self._local = wts.sim.local_server() if wts.sim.loaded() or self._load_env_farm() else "localhost"
            else:
                import socket

                self._local = os.environ.get("COMPUTERNAME") or socket.gethostname()
        return self._local

    def _load_env_farm(self) -> bool:
        farm = os.environ.get("WTS_SIM_FARM")
        if farm and self.provider == "sim":
            wts.sim.load(farm)
            self.sim_loaded = True
            return True
        return False

    def servers(self) -> list[str]:
        """-s specs (names, ranges, @FILE, - for stdin) and --servers-file files; else the local server."""
        names: list[str] = []
        for spec in list(self.args.server) + [f"@{f}" for f in self.args.servers_file]:
            spec = spec.strip()
            if spec == "-":
                if self._stdin_used:
                    raise UsageError("-s -: stdin can be read only once")
                self._stdin_used = True
                names += wts.read_servers(sys.stdin)
            elif spec.startswith("@"):
                if not spec[1:]:
                    raise UsageError("-s @FILE: name the file after @")
                names += wts.read_servers(spec[1:])
            else:
                names += wts.parse_servers(spec, where=f"-s {spec}")
        if not names:
            return [self.local_name()]
        return wts.parse_servers(names)

    def farm(self, servers: list[str]) -> wts.Farm:
        farm = wts.Farm(servers, concurrency=self.args.concurrency, timeout=self.args.timeout, provider=self.provider)
        self.info(
            f"wts: {len(servers):,} server{'s' if len(servers) != 1 else ''} via {farm.provider.name}, "
            f"concurrency {farm.concurrency}, timeout {farm.timeout:g}s",
            1,
        )
        return farm

    def filters(self) -> dict[str, Any]:
        a = self.args
        f: dict[str, Any] = {}
        if a.state:
            states = [s for item in a.state for s in item.split(",") if s.strip()]
            for s in states:
                try:
                    ConnectState.parse(s)
                except ValueError as exc:
                    raise UsageError(f"--state: {exc}") from None
            f["state"] = states
        for name in ("user", "domain", "station", "client"):
            value = getattr(a, name)
            if value:
                # Comma lists, as for --state: no user, domain, WinStation or computer name holds a comma.
                globs = [g.strip() for item in value for g in item.split(",") if g.strip()]
                if not globs:
                    raise UsageError(f"--{name}: no name given")
                f[name] = globs
        for name in ("idle_over", "idle_under", "disconnected_over"):
            value = getattr(a, name)
            if value is not None:
                f[name] = parse_duration(value, "--" + name.replace("_", "-"))
        for name in ("logon_before", "logon_after"):
            value = getattr(a, name)
            if value is not None:
                f[name] = parse_moment(value, "--" + name.replace("_", "-"))
        return f

    def progress(self, label: str) -> ProgressBar:
        return ProgressBar(self.err, label, enabled=not self.quiet)


# --- helpers -----------------------------------------------------------------------------------------


def _natural(name: str | None) -> tuple[Any, ...]:
    """RDS2 before RDS10."""
    return tuple(int(p) if p.isdigit() else p.casefold() for p in re.split(r"(\d+)", name or ""))


def _server_error(f: Failure) -> str:
    where = f.server if f.session_id is None else f"{f.server} session {f.session_id}"
    return f"{where}: {f.error.summary}: {describe_error(f.error, with_function=True)}"


def _wts_error_line(err: WTSError) -> str:
    where = err.server or "the local server"
    if err.session_id is not None:
        where += f" session {err.session_id}"
    return f"{where}: {err.summary}: {describe_error(err, with_function=True)}"


_SORT_KEYS = ("server", "id", "station", "user", "domain", "state", "idle", "logon", "client")


def _sort_sessions(records: list[Session | SessionInfo], spec: str) -> None:
    keys = [k.strip() for k in spec.split(",") if k.strip()]
    named = {k.lstrip("-+") for k in keys}
    keys += [k for k in ("server", "id") if k not in named]  # ties: in server, then id order
    for key in reversed(keys):
        desc = key.startswith("-")
        name = key.lstrip("-+")
        if name not in _SORT_KEYS:
            raise UsageError(f"--sort: unknown key {name!r} (keys: {', '.join(_SORT_KEYS)}; prefix - for descending)")

        def value(r: Session | SessionInfo, name: str = name) -> Any:
            if name == "server":
                return _natural(r.server)
            if name in ("station", "user", "domain"):
                return getattr(r, name).casefold()
            if name == "state":
                return int(r.state)
            if name == "id":
                return r.id
            v = None
            if isinstance(r, SessionInfo):
                v = {"idle": r.idle, "logon": r.logon_time, "client": r.client}[name]
            return v

        present = [r for r in records if value(r) is not None]
        missing = [r for r in records if value(r) is None]
        present.sort(key=value, reverse=desc)
        records[:] = present + missing  # unknown values last, whichever the direction


def _stream(
    ctx: Context, farm: wts.Farm, action: str, label: str, audit: bool, **kwargs: Any
) -> tuple[list[Any], list[Failure], bool, float]:
    """Run one Farm operation with the progress bar, auditing each outcome as it arrives."""
    bar = ctx.progress(label)
    items: list[Any] = []
    failures: list[Failure] = []
    interrupted = False
    started = time.perf_counter()
    presses = 0

    def on_progress(p: Progress) -> None:
        # Ctrl-C is reported at once: say what happens next, since waiting for the calls in flight
        # can take up to --timeout when a server hangs.
        nonlocal presses
        if p.interrupts > presses:
            presses = p.interrupts
            bar.close()
            if presses == 1:
                n = max(p.total - p.done, 0)
                ctx.error(
                    f"interrupted: nothing new is sent; waiting for the {n:,} call{'s' if n != 1 else ''} in "
                    f"flight (at most {farm.timeout:g}s). Ctrl-C again abandons them"
                )
            elif presses == 2:
                ctx.error("interrupted again: the calls in flight were abandoned; their outcome is unknown")
        bar(p)

    try:
        for item in farm.stream(action, progress=on_progress, **kwargs):
            if isinstance(item, Failure):
                failures.append(item)
                if audit and ctx.audit is not None:
                    ctx.audit.write(item.server, item.session_id, action, "failed", describe_error(item.error))
            else:
                items.append(item)
                if audit and ctx.audit is not None and isinstance(item, Outcome):
                    ctx.audit.write(
                        item.server,
                        item.session_id,
                        action,
                        item.status,
                        item.reason if item.status != "done" else None,
                    )
    except Interrupted:
        interrupted = True
    finally:
        bar.close()
    return items, failures, interrupted, time.perf_counter() - started


# --- sessions ----------------------------------------------------------------------------------------


def cmd_sessions(ctx: Context) -> int:
    a = ctx.args
    filters = ctx.filters()
    if a.ids:
        ids = []
        for item in a.ids:
            for token in item.split(","):
                sid = parse_session(token, "--id")
                if not isinstance(sid, int):
                    raise UsageError(f"--id: {token!r} is not a session id (names go to --station)")
                ids.append(sid)
        filters["ids"] = ids
    if a.users and "user" not in filters:
        filters["user"] = ["?*"]  # somebody is logged on: sorted out from the listing, no RPC
    needs_times = any(
        k in filters for k in ("idle_over", "idle_under", "disconnected_over", "logon_before", "logon_after")
    )
    details: bool | str = False
    if a.clients or "client" in filters:
        details = "client"
    elif a.details or needs_times:
        details = True  # the times are fetched for the filter anyway: show them
    if a.clients and not a.details:
        details = "client"
    servers = ctx.servers()
    farm = ctx.farm(servers)
    records, failures, interrupted, elapsed = _stream(
        ctx, farm, "sessions", "sessions", False, details=details, **filters
    )
    _sort_sessions(records, a.sort)
    if a.reverse:
        records.reverse()

    if a.format == "table":
        show_times = bool(details)
        headers = ["SERVER", "ID", "STATION", "USER", "STATE"]
        if show_times:
            headers += ["IDLE", "LOGON"]
        if details == "client":
            headers.append("CLIENT")
        rows, colours = [], []
        for r in records:
            row = [r.server or "", str(r.id), r.station, r.user, state_name(r.state)]
            paint: list[str | None] = [None, None, None, None, state_colour(r.state)]
            if show_times:
                info = r if isinstance(r, SessionInfo) else None
                row += [format_idle(info.idle) if info else "", format_time(info.logon_time) if info else ""]
                paint += [None, None]
            if details == "client":
                row.append((r.client or "") if isinstance(r, SessionInfo) else "")
                paint.append(None)
            rows.append(row)
            colours.append(paint)
        if records:
            ctx.out.write(
                render_table(
                    headers,
                    rows,
                    width=terminal_width(ctx.out),
                    right=(1, 5) if show_times else (1,),
                    flexible=(0, 2, 3, 7) if details == "client" else (0, 2, 3),
                    droppable=(7, 6, 5) if details == "client" else (6, 5) if show_times else (),
                    colours=colours,
                    style=ctx.colour_out,
                )
            )
    else:
        write_records(ctx.out, a.format, (session_record(r) for r in records), SESSION_FIELDS)
    ctx.out.flush()
    for f in failures:
        ctx.error(_server_error(f))

    failed_servers = {f.server.casefold() for f in failures if f.session_id is None}
    states: dict[str, int] = {"active": 0, "disconnected": 0, "other": 0}
    for r in records:
        key = (
            "active"
            if r.state == ConnectState.ACTIVE
            else "disconnected"
            if r.state == ConnectState.DISCONNECTED
            else "other"
        )
        states[key] = states.get(key, 0) + 1
    parts = ", ".join(f"{n:,} {k}" for k, n in states.items() if n)
    summary = (
        f"{len(records):,} session{'s' if len(records) != 1 else ''}"
        + (f" ({parts})" if parts else "")
        + f" on {len(servers) - len(failed_servers):,} of {len(servers):,} servers in {elapsed:.2f}s"
    )
    if failures:
        n = len(failed_servers)
        summary += f"; {n:,} server{'s' if n != 1 else ''} failed" if n else ""
        detail_failures = len(failures) - len(failed_servers)
        if detail_failures:
            summary += f"; details of {detail_failures:,} sessions failed"
    if interrupted:
        summary += "; interrupted"
    ctx.info(summary)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if failures else EXIT_OK


# --- disconnect, logoff, message -------------------------------------------------------------------


def resolve_sessions(
    ctx: Context, server: str | None, wanted: list[tuple[str, str]], suffix: str = ""
) -> list[Session]:
    """Sessions by id or WinStation name (``wanted``: (token, the option it came from) pairs), all
    parsed first, then found in one listing of ``server`` (None: the local one).  An unknown one
    raises LookupError naming every missing session, before anything is done."""
    values = [parse_session(token, what) for token, what in wanted]
    with wts.Server(server, provider=ctx.provider) as srv:
        listing = srv.sessions()
    by_id = {s.id: s for s in listing}
    by_name: dict[str, Session] = {}
    for s in listing:
        if s.station:
            by_name.setdefault(s.station.casefold(), s)
    found: list[Session] = []
    missing: list[str] = []
    for v in values:
        hit = by_id.get(v) if isinstance(v, int) else by_name.get(v.casefold())
        if hit is None:
            missing.append(f"session {v}" if isinstance(v, int) else f"no session named {v!r}")
        else:
            found.append(hit)
    if missing:
        raise LookupError(
            f"{server or ctx.local_name()}: {'; '.join(missing)}: The specified session cannot be found. "
            f"[ERROR_CTX_WINSTATION_NOT_FOUND 7022]{suffix}"
        )
    return found


def _outcome_rows(ctx: Context, outcomes: list[Outcome], dry_run: bool) -> None:
    headers = ["SERVER", "ID", "STATION", "USER", "RESULT", "DETAIL"]
    rows, colours = [], []
    for o in outcomes:
        if o.status == "done":
            result, colour = _DONE_WORDS.get(o.action, "done"), "green"
        elif o.status == "planned":
            result, colour = f"would {_VERBS.get(o.action, o.action)}", "cyan"
        elif o.status == "failed":
            result, colour = "FAILED", "red"
        else:
            result, colour = "skipped", "yellow"
        detail = "" if o.status == "planned" else cli_reason(o.reason)
        if o.status == "failed" and o.winerror:
            name = code_name(o.winerror)
            code = f"{name} {o.winerror}" if name else f"WinError {o.winerror}"
            if f"[{code}]" not in detail and code not in detail:
                # The reason already ends in "[NAME]": give it the number there, not a second tag.
                tagged = name is not None and f"[{name}]" in detail
                detail = detail.replace(f"[{name}]", f"[{code}]") if tagged else f"{detail} [{code}]"
        if o.status == "done" and o.response == wts.MessageResponse.ASYNC:
            detail = ""  # sent without waiting: there is no answer to show
        rows.append([o.server, str(o.session_id), o.station, o.user, result, detail])
        colours.append([None, None, None, None, colour, None])
    if rows:
        ctx.out.write(
            render_table(
                headers,
                rows,
                width=terminal_width(ctx.out),
                right=(1,),
                flexible=(0, 2, 3, 5),
                colours=colours,
                style=ctx.colour_out,
            )
        )


def _confirm(ctx: Context, action: str, planned: list[Outcome], servers: int) -> None:
    verb = _VERBS[action]
    count = len(planned)
    on = len({o.server.casefold() for o in planned})
    what = f"{verb} {count:,} sessions on {on:,} server{'s' if on != 1 else ''}"
    if not _isatty(sys.stdin):
        raise Refused(
            f"refusing to {what} without confirmation: stdin is not a terminal. "
            "Add --yes to go ahead, or --dry-run to see the plan",
            EXIT_USAGE,
        )
    shown = sorted(planned, key=lambda o: (_natural(o.server), o.session_id))[:_PLAN_SHOWN]
    ctx.err.write(
        render_table(
            ["SERVER", "ID", "STATION", "USER"],
            [[o.server, str(o.session_id), o.station, o.user] for o in shown],
            width=terminal_width(ctx.err),
            right=(1,),
            flexible=(0, 2, 3),
            style=ctx.colour_err,
        )
    )
    if count > len(shown):
        ctx.err.write(f"  ... and {count - len(shown):,} more (--dry-run lists them all)\n")
    ctx.err.write(f"{what[0].upper()}{what[1:]}? [y/N] ")
    ctx.err.flush()
    answer = sys.stdin.readline()
    if answer.strip().lower() not in ("y", "yes"):
        raise Refused("nothing was done", EXIT_FAILED)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def cmd_action(ctx: Context) -> int:
    a = ctx.args
    action = {"msg": "message"}.get(a.command, a.command)
    filters = ctx.filters()
    servers = ctx.servers()
    if a.targets and len(servers) != 1:
        raise UsageError(
            f"session ids and names belong to one server, but {len(servers):,} are selected: "
            "name one with -s, or select across servers with filters (--state, --user, ...)"
        )
    if not a.targets and not filters and not a.all:
        n = len(servers)
        raise UsageError(
            f"wts {a.command}: name sessions, select them with filters (--state, --user, --idle-over, ...), "
            f"or add --all to {_VERBS[action]} every session of {'the' if n == 1 else 'all'} {n:,} server"
            f"{'s' if n != 1 else ''}"
        )
    if a.targets and a.all:
        raise UsageError("--all selects every session: drop it, or drop the session ids and names")
    extra: dict[str, Any] = {"allow_own": a.allow_own}
    if action == "message":
        if a.wait and not a.time:
            raise UsageError("--wait needs --time SECONDS, so that a session where nobody answers cannot hold the run")
        extra.update(title=a.title, text=a.text, message_timeout=a.time, wait=a.wait)
    farm = ctx.farm(servers)
    targets = None
    if a.targets:
        wanted = [(t, "session") for t in a.targets]
        # The same session named twice (by id and by name) is one target.
        targets = list(dict.fromkeys(resolve_sessions(ctx, servers[0], wanted, "; nothing was done")))
    count = len(targets) if targets is not None else None

    label = _VERBS[action]
    outcomes: list[Outcome] = []
    failures: list[Failure] = []
    elapsed = 0.0
    interrupted = False
    planned_only = a.dry_run
    if a.dry_run or (not a.yes and (count is None or count > 1)):
        items, failures, interrupted, elapsed = _stream(
            ctx, farm, action, f"{label} (plan)", False, targets=targets, dry_run=True, **extra, **filters
        )
        plan = [o for o in items if isinstance(o, Outcome)]
        if not a.dry_run and not interrupted:
            planned = [o for o in plan if o.status == "planned"]
            if len(planned) > 1 and not a.yes:
                _confirm(ctx, action, planned, len(servers))
            outcomes = [o for o in plan if o.status != "planned"]
            if planned:
                items, more_failures, interrupted, more = _stream(
                    ctx, farm, action, label, True, targets=planned, **extra, **filters
                )
                outcomes += [o for o in items if isinstance(o, Outcome)]
                failures += more_failures
                elapsed += more
        else:
            outcomes = plan
    else:
        items, failures, interrupted, elapsed = _stream(
            ctx, farm, action, label, True, targets=targets, **extra, **filters
        )
        outcomes = [o for o in items if isinstance(o, Outcome)]

    outcomes.sort(key=lambda o: (_natural(o.server), o.session_id))
    hidden = 0
    if a.format == "table":
        shown = outcomes if ctx.verbose else [o for o in outcomes if not _is_system_skip(o)]
        hidden = len(outcomes) - len(shown)
        _outcome_rows(ctx, shown, planned_only)
    else:
        records = [outcome_record(o, action) for o in outcomes] + [outcome_record(f, action) for f in failures]
        write_records(ctx.out, a.format, records, OUTCOME_FIELDS)
    ctx.out.flush()
    for f in failures:
        ctx.error(_server_error(f))

    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    order = ("planned", "done", "skipped", "failed")
    parts = ", ".join(f"{counts[s]:,} {s}" for s in order if counts.get(s))
    summary = f"{a.command}{' (dry run)' if planned_only else ''}: {parts or 'no sessions selected'}"
    if hidden:
        summary += f" (not shown: {hidden:,} system sessions, never touched; -v lists them)"
    failed_servers = len({f.server.casefold() for f in failures})
    if failed_servers:
        summary += f"; {failed_servers:,} server{'s' if failed_servers != 1 else ''} failed"
    summary += f"; {elapsed:.2f}s"
    if planned_only:
        summary += "; nothing was changed"
    if interrupted:
        summary += "; interrupted: sessions not reached were left alone"
    ctx.info(summary)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if failures or counts.get("failed") else EXIT_OK


# --- connect (and the classics' single-session calls) ---------------------------------------------


def read_password(ctx: Context, prompt: bool, path: str | None) -> str:
    """Without echo on a terminal; from the first line of a file; or (a script's pipe) one stdin line."""
    if path is not None:
        try:
            with open(path, encoding="utf-8-sig") as f:
                return f.readline().rstrip("\r\n")
        except OSError as exc:
            raise UsageError(f"--password-file: cannot read {path}: {exc.strerror}") from None
    if prompt:
        if _isatty(sys.stdin):
            import getpass

            return getpass.getpass("Password: ")
        return sys.stdin.readline().rstrip("\r\n")
    return ""


def do_connect(
    ctx: Context, session: Session, target: Session | None, password: str, say: Callable[[str], None]
) -> int:
    dest = f"session {target.id} ({target.station or 'no name'})" if target else "this session"
    say(f"Connecting session {session.id} ({session.station or 'no name'}) to {dest} on {ctx.local_name()}")
    try:
        wts.connect(session.id, target=target.id if target else None, password=password, provider=ctx.provider)
    except WTSError as exc:
        if ctx.audit is not None:
            ctx.audit.write(ctx.local_name(), session.id, "connect", "failed", describe_error(exc))
        ctx.error(f"could not connect session {session.id}: {_wts_error_line(exc)}")
        return EXIT_FAILED
    if ctx.audit is not None:
        ctx.audit.write(ctx.local_name(), session.id, "connect", "done", None)
    say(f"Session {session.id} connected to {dest}")
    return EXIT_OK


def cmd_connect(ctx: Context) -> int:
    a = ctx.args
    if a.server:
        local = ctx.local_name().casefold()
        for spec in a.server:
            for name in wts.parse_servers(spec, where="-s"):
                if name.casefold() not in (local, ".", "localhost"):
                    raise UsageError(
                        f"wts connect acts on the local server only (WTSConnectSessionW has no server handle): "
                        f"{name} is not this server ({ctx.local_name()}); run wts connect on {name} itself"
                    )
    wanted = [(a.session, "SESSION")] + ([(a.target, "--target")] if a.target else [])
    found = resolve_sessions(ctx, None, wanted)  # one listing for both
    session, target = found[0], (found[1] if a.target else None)
    password = read_password(ctx, a.password_prompt, a.password_file)
    return do_connect(ctx, session, target, password, lambda text: ctx.info(text, 1))


# --- dispatch ----------------------------------------------------------------------------------------


def run_command(ctx: Context) -> int:
    from ._classic import cmd_tscon, cmd_tsdiscon

    commands: dict[str, Callable[[Context], int]] = {
        "sessions": cmd_sessions,
        "ls": cmd_sessions,
        "disconnect": cmd_action,
        "logoff": cmd_action,
        "message": cmd_action,
        "msg": cmd_action,
        "connect": cmd_connect,
        "tsdiscon": cmd_tsdiscon,
        "tscon": cmd_tscon,
    }
    command = commands[ctx.args.command]
    status = EXIT_OK
    try:
        if ctx.args.command not in ("tsdiscon", "tscon"):
            ctx.setup()
        status = command(ctx)
    except UsageError as exc:
        _maybe_trace(ctx)
        ctx.error(str(exc))
        status = EXIT_USAGE
    except Refused as exc:
        ctx.error(str(exc))
        status = exc.status
    except WTSError as exc:
        _maybe_trace(ctx)
        ctx.error(_wts_error_line(exc))
        status = EXIT_FAILED
    except LookupError as exc:  # an unknown session, named by the user
        _maybe_trace(ctx)
        ctx.error(str(exc))
        status = EXIT_FAILED
    except wts.ProviderError as exc:
        _maybe_trace(ctx)
        ctx.error(str(exc))
        status = EXIT_USAGE
    except BrokenPipeError:  # the reader went away ('wts sessions | head'): no one to tell, no noise
        _stdout_to_devnull()
        status = EXIT_FAILED
    except (ValueError, TypeError, OSError) as exc:  # bad input the library refused: it says why
        _maybe_trace(ctx)
        text = str(exc) if not isinstance(exc, OSError) or not exc.strerror else exc.strerror
        ctx.error(text)
        status = EXIT_USAGE
    except KeyboardInterrupt:
        ctx.error("interrupted")
        status = EXIT_INTERRUPTED
    except Exception as exc:  # a bug in wts: say so plainly
        _maybe_trace(ctx)
        ctx.error(f"internal error: {type(exc).__name__}: {exc} (run with -vv for the traceback; please report it)")
        status = EXIT_FAILED
    finally:
        ctx.out.flush()
    return status


def _stdout_to_devnull() -> None:
    """After a broken pipe, what is still buffered for stdout goes nowhere instead of failing again at
    the final flush (https://docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (in-process callers): nothing to do
        pass


def _maybe_trace(ctx: Context) -> None:
    if ctx.verbose >= 2:
        traceback.print_exc(file=ctx.err)
