"""Who is logged on where: every session of every server in a farm, with user names.

One RPC per server (WTSEnumerateSessionsExW level 1), all servers in flight at once through
wts.Farm's native engine (at most --concurrency calls at a time, none holding the GIL).  With
--details, one more RPC per session adds logon and idle times, as quser shows them.

    python examples/who_is_where.py                 # a generated farm of 200 servers x 25 sessions, 2 ms RTT
    python examples/who_is_where.py --farm farm.json
    python examples/who_is_where.py --provider win32 "RDS[01-40]"  # on Windows, real servers
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

import wts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("servers", nargs="*", help="server names or specs like RDS[01-40] (default: the whole farm)")
    ap.add_argument("--provider", default="sim")
    ap.add_argument("--farm", help="a farm file for the sim provider (default: generate one)")
    ap.add_argument("--generate", default="200x25", help="SERVERSxSESSIONS for a generated farm")
    ap.add_argument("--latency-ms", type=float, default=2.0)
    ap.add_argument("--concurrency", type=int, default=64, help="most WTS calls in flight at once")
    ap.add_argument("--details", action="store_true", help="also logon and idle times (one RPC per session)")
    ap.add_argument("--show", type=int, default=10, help="how many sessions to print")
    args = ap.parse_args(argv)

    names = args.servers
    if args.provider == "sim":
        if args.farm:
            farm = wts.sim.load(args.farm)
        else:
            count, per = (int(x) for x in args.generate.lower().split("x"))
            farm = wts.sim.generate(count, per, latency_ms=args.latency_ms, seed=1)
        names = names or list(farm.servers)
    if not names:
        ap.error("name at least one server")

    started = time.perf_counter()
    result = wts.Farm(names, concurrency=args.concurrency, provider=args.provider).sessions(details=args.details)
    elapsed = time.perf_counter() - started

    sessions, failures = result.sessions, result.failures
    users = sorted((s for s in sessions if s.user), key=lambda s: (s.server, s.id))
    if args.show > 0:
        print(f"{'SERVER':<10} {'ID':>6} {'STATION':<12} {'STATE':<13} {'IDLE':>9} USER")
    for s in users[: args.show]:
        idle = getattr(s, "idle", None)
        idle_text = f"{int(idle.total_seconds() // 60)}m" if idle is not None else "."
        print(f"{s.server:<10} {s.id:>6} {s.station:<12} {s.state.sdk_name:<13} {idle_text:>9} {s.domain}\\{s.user}")
    states = Counter(s.state.sdk_name for s in users)
    print(
        f"{len(names)} servers, {len(sessions)} sessions ({len(users)} with a user: "
        + ", ".join(f"{n} {k}" for k, n in states.most_common())
        + f"), {len(failures)} servers failed, in {elapsed * 1000:.0f} ms",
        file=sys.stderr,
    )
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
