"""The bulk engine's performance targets (issue 4), measured on the simulated farm.

    python benchmarks/farm_targets.py [--rounds 7]

Prints, for each target, the median wall time over the rounds, the bound (RPCs x round trip /
concurrency) and their ratio; the target is a ratio of at most 1.25 for the two latency-bound jobs,
and at least 500,000 sessions per second for the zero-latency listing.  benchmarks/test_farm.py runs
the same jobs under pytest-benchmark.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import wts

NOW = "2026-11-21T12:00:00Z"
ROUND_TRIP_MS = 2.0
CONCURRENCY = 64


def farm_200x25() -> wts.Farm:
    """200 servers x 25 user sessions at 2 ms, all active: 200 listings + 5,000 session RPCs."""
    wts.sim.load(
        {
            "now": NOW,
            "seed": 1,
            "generate": [
                {
                    "prefix": "RDS",
                    "count": 200,
                    "sessions": 25,
                    "latency_ms": ROUND_TRIP_MS,
                    "system_sessions": False,
                    "disconnected": 0,
                }
            ],
        }
    )
    return wts.Farm("RDS[001-200]", concurrency=CONCURRENCY, provider="sim")


def farm_1000x100() -> wts.Farm:
    """1,000 servers x 100 sessions at 0 ms: what the engine itself costs per listed session."""
    wts.sim.load(
        {
            "now": NOW,
            "seed": 1,
            "generate": [{"prefix": "RDS", "count": 1000, "sessions": 100, "system_sessions": False}],
        }
    )
    return wts.Farm("RDS[0001-1000]", concurrency=CONCURRENCY, provider="sim")


def list_with_details(farm: wts.Farm) -> Any:
    result = farm.sessions(details=True)
    assert len(result.sessions) == 5000 and not result.failures, result
    return result


def disconnect_all(farm: wts.Farm) -> Any:
    result = farm.disconnect()
    assert result.counts()["done"] == 5000 and not result.failures, result
    return result


def list_plain(farm: wts.Farm) -> Any:
    result = farm.sessions()
    assert len(result.sessions) == 100_000 and not result.failures, result
    return result


def _timed(job: Callable[[], Any], rounds: int, setup: Callable[[], Any] | None = None) -> list[float]:
    times = []
    for _ in range(rounds):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        job()
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="runs of each job; the median is reported")
    args = parser.parse_args()
    rows = []

    farm = farm_200x25()
    bound = (200 + 5000) * ROUND_TRIP_MS / 1000 / CONCURRENCY
    t = statistics.median(_timed(lambda: list_with_details(farm), args.rounds))
    rows.append(("list 200x25 with details, 2 ms, c=64", 5200, t, bound))

    # Each round disconnects every session of a freshly loaded farm.
    state: dict[str, wts.Farm] = {}

    def reload() -> None:
        state["farm"] = farm_200x25()

    t = statistics.median(_timed(lambda: disconnect_all(state["farm"]), args.rounds, reload))
    rows.append(("disconnect all 5,000, 2 ms, c=64", 5200, t, bound))

    farm = farm_1000x100()
    t = statistics.median(_timed(lambda: list_plain(farm), args.rounds))

    print(f"{'job':40} {'RPCs':>6} {'median':>10} {'bound':>10} {'ratio':>6}")
    for name, rpcs, wall, b in rows:
        print(f"{name:40} {rpcs:6} {wall * 1e3:8.1f} ms {b * 1e3:8.1f} ms {wall / b:6.2f}")
    print(f"{'list 1000x100, 0 ms, no details':40} {1000:6} {t * 1e3:8.1f} ms {'':>10} {100_000 / t:,.0f} sessions/s")


if __name__ == "__main__":
    main()
