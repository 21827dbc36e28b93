"""The pywin32 pattern: what it sends for each operation (the estimate of a baseline's cost, from the
farm as compiled), and the pattern itself over any API that has its calls (``_baselines``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._types import FIRST_LISTENER_ID, ConnectState, InfoClass

if TYPE_CHECKING:
    from collections.abc import Sequence

# As plain ints: the pattern compares and passes them once per session, inside the timed rounds.
_WTS_USER_NAME, _WTS_DOMAIN_NAME = int(InfoClass.USER_NAME), int(InfoClass.DOMAIN_NAME)
_WTS_DISCONNECTED, _WTS_LISTEN = int(ConnectState.DISCONNECTED), int(ConnectState.LISTEN)


def _parse_farm(text: str) -> tuple[int, list[tuple[int, str, int, int]]]:
    """(farm clock as FILETIME, [(id, station, state, disconnect FILETIME)] for every session)."""
    now = 0
    rows: list[tuple[int, str, int, int]] = []
    for line in text.split("\n"):
        if line.startswith("session\t"):
            f = line.split("\t")
            rows.append((int(f[1]), f[2], int(f[3]), int(f[11])))
        elif line.startswith("farm\t"):
            now = int(line.split("\t")[2])
    return now, rows


def _disconnect_wanted(sid: int, station: str, state: int) -> bool:
    # What wts.Farm.disconnect() selects by default, so both sides do the same work: never session 0,
    # the console or a listener, and not a session that is already disconnected.
    return (
        0 < sid < FIRST_LISTENER_ID and station.lower() != "console" and state not in (_WTS_DISCONNECTED, _WTS_LISTEN)
    )


def _logoff_candidate(sid: int, state: int) -> bool:
    return 0 < sid < FIRST_LISTENER_ID and state == _WTS_DISCONNECTED


def pattern_rpcs(op: str, text: str, threshold_s: float) -> int:
    """The RPCs the pywin32 pattern sends for ``op`` on the compiled farm ``text`` (docs/benchmarks.md)."""
    now, rows = _parse_farm(text)
    servers = sum(1 for line in text.split("\n") if line.startswith("server\t"))
    if op == "who":
        return servers + 2 * len(rows)  # WTSUserName + WTSDomainName per session
    if op == "details":
        return servers + 3 * len(rows)  # ... + WTSSessionInfo (class 24) for the times
    if op == "disconnect":
        return servers + sum(_disconnect_wanted(sid, st, state) for sid, st, state, _ in rows)
    if op == "logoff":
        cands = [disc for sid, _, state, disc in rows if _logoff_candidate(sid, state)]
        over = sum(1 for disc in cands if disc and now - disc > threshold_s * 1e7)
        return servers + len(cands) + over
    raise ValueError(op)


class _Pattern:
    """The pywin32 pattern for one operation: list each server, then per session what the operation
    needs, one call per RPC.  The per-session step runs inline (sequential) or as one thread-pool task
    per session, queued as soon as its server's listing returns (threaded)."""

    def __init__(self, api: Any, op: str, threshold_s: float) -> None:
        self.api = api
        self.op = op
        self.threshold = int(threshold_s * 10_000_000)  # FILETIME units

    def wanted(self, row: dict[str, Any]) -> bool:
        sid, state = row["SessionId"], row["State"]
        if self.op == "disconnect":
            return _disconnect_wanted(sid, row["WinStationName"], state)
        if self.op == "logoff":
            return _logoff_candidate(sid, state)
        return True

    def session(self, h: Any, server: str, row: dict[str, Any]) -> Any:
        api, sid = self.api, row["SessionId"]
        if self.op in ("who", "details"):
            rec = dict(row, Server=server)
            rec["UserName"] = api.query_str(h, sid, _WTS_USER_NAME)
            rec["DomainName"] = api.query_str(h, sid, _WTS_DOMAIN_NAME)
            if self.op == "details":
                rec.update(api.session_info(h, sid))
            return rec
        if self.op == "disconnect":
            api.disconnect(h, sid)
            return (server, sid, "done")
        info = api.session_info(h, sid)  # logoff: the times say how long it has been disconnected
        if info["DisconnectTime"] and info["CurrentTime"] - info["DisconnectTime"] > self.threshold:
            api.logoff(h, sid)
            return (server, sid, "done")
        return None

    def sequential(self, servers: Sequence[str]) -> list[Any]:
        api = self.api
        out = []
        for name in servers:
            h = api.open(name)
            try:
                for row in api.enumerate(h):
                    if self.wanted(row):
                        r = self.session(h, name, row)
                        if r is not None:
                            out.append(r)
            finally:
                api.close(h)
        return out

    def threaded(self, servers: Sequence[str], threads: int) -> list[Any]:
        from concurrent.futures import ThreadPoolExecutor, as_completed

        api = self.api
        handles = [api.open(name) for name in servers]  # opening sends nothing
        try:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                listings = {pool.submit(api.enumerate, h): (name, h) for name, h in zip(servers, handles)}
                work: list[Any] = []
                for fut in as_completed(listings):
                    name, h = listings[fut]
                    work.extend(pool.submit(self.session, h, name, row) for row in fut.result() if self.wanted(row))
                results = [f.result() for f in work]
        finally:
            for h in handles:
                api.close(h)
        return [r for r in results if r is not None]
