"""Which servers and sessions a command works on: the server list (-s names and ranges, @FILE,
--servers-file, - for stdin), the filters (--state, --user, --idle-over, ...), and the sessions
named on the command line, found by id or name in one listing."""

from __future__ import annotations

from typing import Any

import wts
from wts import ConnectState, Session

from ._args import parse_duration, parse_moment, parse_session
from ._context import Context, is_closed
from ._secret import redact_text
from ._status import UsageError
from ._text import not_found

__all__ = ["filters", "resolve_sessions", "servers"]


def servers(ctx: Context) -> list[str]:
    """-s specs (names, ranges, @FILE, - for stdin) and --servers-file files; else the local server.

    Only leaving -s out means the local server: an empty -s (``-s "$SRV"`` with SRV unset) or a
    list with no names in it is refused, never taken as "here"."""
    names: list[str] = []
    specs = list(ctx.args.server) + [f"@{f}" for f in ctx.args.servers_file]
    for raw in specs:
        spec = raw.strip()
        if not spec:
            raise UsageError(
                f"-s {raw!r}: an empty server name (is a variable unset?); leave -s out to mean the local server"
            )
        if spec == "-":
            if ctx.stdin_taken:
                raise UsageError("-s -: stdin can be read only once")
            if is_closed(ctx.stdin):
                raise UsageError("-s -: stdin is closed: there is no server list to read")
            ctx.stdin_taken = True
            found = wts.read_servers(ctx.stdin)
            where = "stdin"
        elif spec.startswith("@"):
            if not spec[1:]:
                raise UsageError("-s @FILE: name the file after @")
            found = wts.read_servers(spec[1:])
            where = spec[1:]
        else:
            found = wts.parse_servers(spec, where=f"-s {spec}")
            where = ""
        if not found:
            raise UsageError(f"-s {spec}: no server names in {where or 'it'}; leave -s out to mean the local server")
        names += found
    if not specs:
        ctx.local_only = True
        return [ctx.local_name()]
    return wts.parse_servers(names)


def filters(ctx: Context) -> dict[str, Any]:
    """The filter options as Farm's keyword arguments, every value checked first."""
    a = ctx.args
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


def resolve_sessions(
    ctx: Context, server: str | None, wanted: list[tuple[str, str]], suffix: str = ""
) -> list[Session]:
    """Sessions by id or WinStation name (``wanted``: (token, the option it came from) pairs), all
    parsed first, then found in one listing of ``server`` (None: the local one).  An unknown one
    raises LookupError naming every missing session, before anything is done."""
    values = [parse_session(token, what) for token, what in wanted]
    with ctx.server(server) as srv:
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
            # A password typed where a session goes (wts connect /password:S3cret) is not echoed.
            shown = v if isinstance(v, int) else redact_text(v, ctx.env.argv)
            missing.append(f"session {v}" if isinstance(v, int) else f"no session named {shown!r}")
        else:
            found.append(hit)
    if missing:
        raise LookupError(not_found(server or ctx.local_name(), missing, suffix))
    return found
