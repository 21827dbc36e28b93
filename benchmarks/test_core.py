"""Core costs on the simulated farm: what wts itself adds around each WTS call.

    python -m pytest benchmarks --benchmark-columns=min,median,max,rounds

At 0 ms round trips these measure the binding (GIL release, UTF-16 decoding, records built in C);
with a latency, they show calls on many threads overlapping. Figures go to docs/benchmarks.md.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import wts

NOW = "2026-11-21T12:00:00Z"


@pytest.fixture(scope="module")
def big_server() -> Any:
    """One server with 10,000 sessions and no latency: the cost per listed session."""
    wts.sim.generate(servers=1, sessions=10_000, seed=1, now=NOW, system_sessions=False)
    with wts.Server("RDS01", provider="sim") as server:
        yield server


def test_list_10000_sessions_one_rpc(benchmark: Any, big_server: wts.Server) -> None:
    sessions = benchmark(big_server.sessions)
    assert len(sessions) == 10_000
    benchmark.extra_info["sessions_per_second"] = 10_000 / benchmark.stats.stats.median


def test_session_info_one_rpc(benchmark: Any, big_server: wts.Server) -> None:
    info = benchmark(big_server.session_info, 2)
    assert info.id == 2


def test_overlap_64_servers_2ms(benchmark: Any) -> None:
    """64 servers at 2 ms each, listed from 64 threads: the bound is one round trip (2 ms)."""
    farm = wts.sim.generate(servers=64, sessions=25, latency_ms=2, seed=1, now=NOW)
    servers = [wts.Server(name, provider="sim") for name in farm.servers]
    with ThreadPoolExecutor(64) as pool:
        try:
            results = benchmark(lambda: list(pool.map(wts.Server.sessions, servers)))
        finally:
            for server in servers:
                server.close()
    assert sum(map(len, results)) == 64 * 28
    benchmark.extra_info["bound_ms"] = 2.0
