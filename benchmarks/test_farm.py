"""Bulk engine benchmarks (wts.Farm) on the simulated farm: the targets of issue 4.

    python -m pytest benchmarks/test_farm.py --benchmark-columns=min,median,max,rounds

``extra_info`` records the bound (RPCs x round trip / concurrency) and the ratio to it; the summary
table with the same jobs is ``python benchmarks/farm_targets.py``.  Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import farm_targets as jobs

BOUND_5200 = (200 + 5000) * jobs.ROUND_TRIP_MS / 1000 / jobs.CONCURRENCY


def test_list_200x25_with_details_2ms(benchmark: Any) -> None:
    farm = jobs.farm_200x25()
    benchmark.pedantic(jobs.list_with_details, args=(farm,), rounds=7, iterations=1)
    benchmark.extra_info["bound_ms"] = BOUND_5200 * 1e3
    benchmark.extra_info["ratio"] = benchmark.stats.stats.median / BOUND_5200


def test_disconnect_all_200x25_2ms(benchmark: Any) -> None:
    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (jobs.farm_200x25(),), {}

    benchmark.pedantic(jobs.disconnect_all, setup=setup, rounds=7, iterations=1)
    benchmark.extra_info["bound_ms"] = BOUND_5200 * 1e3
    benchmark.extra_info["ratio"] = benchmark.stats.stats.median / BOUND_5200


def test_list_1000x100_0ms(benchmark: Any) -> None:
    farm = jobs.farm_1000x100()
    benchmark.pedantic(jobs.list_plain, args=(farm,), rounds=7, iterations=1)
    benchmark.extra_info["sessions_per_second"] = 100_000 / benchmark.stats.stats.median
