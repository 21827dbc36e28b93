"""Who is logged on where: every session of every server in a farm, with user names.

One RPC per server (WTSEnumerateSessionsExW level 1), all servers in flight at once: each WTS call
releases the GIL, so plain threads overlap the round trips.

    python examples/who_is_where.py                 # a generated farm of 200 servers x 25 sessions, 2 ms RTT
    python examples/who_is_where.py --farm farm.json
    python examples/who_is_where.py --provider win32 RDS01 RDS02   # on Windows, real servers
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import wts


def list_server(name: str, provider: str) -> list[wts.Session] | wts.WTSError:
    try:
        with wts.Server(name, provider=provider) as server:
            return server.sessions()
    except wts.WTSError as exc:
        return exc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("servers", nargs="*", help="server names (default: every server of the farm)")
    ap.add_argument("--provider", default="sim")
    ap.add_argument("--farm", help="a farm file for the sim provider (default: generate one)")
    ap.add_argument("--generate", default="200x25", help="SERVERSxSESSIONS for a generated farm")
    ap.add_argument("--latency-ms", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=64)
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
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        results = list(pool.map(lambda n: list_server(n, args.provider), names))
    elapsed = time.perf_counter() - started

    sessions = [s for r in results if not isinstance(r, wts.WTSError) for s in r]
    failures = [r for r in results if isinstance(r, wts.WTSError)]
    users = [s for s in sessions if s.user]
    print(f"{'SERVER':<10} {'ID':>6} {'STATION':<12} {'STATE':<13} USER")
    for s in users[: args.show]:
        print(f"{s.server:<10} {s.id:>6} {s.station:<12} {s.state.sdk_name:<13} {s.domain}\\{s.user}")
    states = Counter(s.state.sdk_name for s in users)
    print(
        f"{len(names)} servers, {len(sessions)} sessions ({len(users)} with a user: "
        + ", ".join(f"{n} {k}" for k, n in states.most_common())
        + f"), {len(failures)} servers failed, in {elapsed * 1000:.0f} ms",
        file=sys.stderr,
    )
    for exc in failures:
        print(f"error: {exc}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
