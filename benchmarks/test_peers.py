"""wts against the peers on the simulated farm: the target rows of the benchmark issue, under pytest-benchmark.

    python -m pytest benchmarks/test_peers.py --benchmark-columns=min,median,max,rounds

Each target scenario runs wts, (a) the pywin32 pattern through ctypes, sequential, and (b) the same
pattern on a thread pool, on the same generated farm; ``extra_info`` records the RPCs the simulator
counted, the bound (RPCs x round trip / concurrency), the ratio to it and wts' speed-up over each
baseline.  Nothing here passes or fails on a timing; the assertions check that every side did the same
work.  ``wts bench`` (src/wts/_bench/) prints the same rows as one table; figures: docs/benchmarks.md.
"""

from __future__ import annotations

from typing import Any

import pytest

import wts
from wts import _bench

# The target rows: (scenario, baselines measured beside it)
TARGETS = [
    (_bench.Scenario("who", 200, 25, 2.0, 64), ("a", "b")),
    (_bench.Scenario("details", 200, 25, 2.0, 64), ("b",)),
    (_bench.Scenario("disconnect", 200, 25, 2.0, 64), ("a", "b")),
    (_bench.Scenario("logoff", 200, 25, 2.0, 64), ("a", "b")),
    (_bench.Scenario("who", 1000, 40, 0.0, 64), ("a", "b")),
]
BASELINE_CAP_S = 30.0  # (a) at 2 ms on who/details would take 23 s and 34 s a round: skipped, and says so
THRESHOLD_S = 7200.0
ROUNDS = 5
_ours_median: dict[_bench.Scenario, float] = {}


@pytest.fixture(scope="module")
def api() -> Any:
    found, reason = _bench.find_sim_lib(None)
    if found is None:
        pytest.skip(f"baselines n/a: {reason}")
    return found


def _params() -> list[Any]:
    out = []
    for sc, baselines in TARGETS:
        for impl in ("wts", *baselines):
            out.append(pytest.param(sc, impl, id=f"{sc.op}-{sc.size}-{int(sc.rtt_ms)}ms-c{sc.concurrency}-{impl}"))
    return out


@pytest.mark.parametrize(("sc", "impl"), _params())
def test_peer(benchmark: Any, api: Any, sc: _bench.Scenario, impl: str) -> None:
    farm = _bench._scenario_farm(sc, seed=1)
    servers = list(farm.servers)
    expected_pattern = _bench.pattern_rpcs(sc.op, farm.text, THRESHOLD_S)
    if impl == "wts":
        target: Any = _bench._SimFarm()
        threads = sc.concurrency

        def job() -> Any:
            return _bench._ours(sc.op, servers, sc.concurrency, THRESHOLD_S)

    else:
        target = api
        threads = 1 if impl == "a" else sc.concurrency
        estimate = expected_pattern * sc.rtt_ms / 1000 / threads
        if estimate > BASELINE_CAP_S:
            pytest.skip(f"({impl}) would take {estimate:.1f} s a round, over {BASELINE_CAP_S:.0f} s")
        pattern = _bench._Pattern(api, sc.op, THRESHOLD_S)

        def job() -> Any:
            return pattern.sequential(servers) if impl == "a" else pattern.threaded(servers, threads)

    destructive = sc.op in ("disconnect", "logoff")
    target.load(farm.text)

    def setup() -> None:
        if destructive:
            target.load(farm.text)  # every round does the same work
        target.reset_counters()

    rounds = ROUNDS if impl != "a" or sc.rtt_ms == 0 else 1
    result = benchmark.pedantic(job, setup=setup, rounds=rounds, iterations=1)
    rpcs = target.rpc_total()
    items = _bench._count(impl, sc.op, result)
    median = benchmark.stats.stats.median
    info = benchmark.extra_info
    info.update(rpcs=rpcs, items=items, sessions=farm.sessions, threads=threads)
    if sc.rtt_ms > 0:
        bound = rpcs * sc.rtt_ms / 1000 / threads
        info.update(bound_ms=bound * 1e3, ratio_to_bound=median / bound)
    else:
        info.update(sessions_per_second=farm.sessions / median)
    if impl == "wts":
        _ours_median[sc] = median
    else:
        assert rpcs == expected_pattern
        if sc in _ours_median:
            info["wts_speedup"] = median / _ours_median[sc]
    if sc.op in ("who", "details"):
        assert items == farm.sessions
    wts.sim.reset_counters()
