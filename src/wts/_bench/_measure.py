"""Measuring: each scenario's farm, the rounds of every implementation in turn, the memory round, and
the rows of the report (``run``)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from ._baselines import _CtypesApi, _Pywin32Api, _SimFarm, find_pywin32, find_sim_lib
from ._model import IMPL_LABELS, IMPLS, NOW, OP_TITLES, BenchError, Options, Scenario
from ._pattern import _Pattern, pattern_rpcs
from ._report import _fmt_num, _fmt_time

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


class Measure:
    """One implementation in one scenario: the timed rounds, the RPCs counted, the memory round."""

    def __init__(self, impl: str, threads: int) -> None:
        self.impl = impl
        self.threads = threads
        self.status = "ok"  # ok, skipped, n/a, error
        self.notes: list[str] = []
        self.walls: list[float] = []
        self.rpcs: int | None = None
        self.rpcs_varied = False
        self.items: int | None = None
        self.peak: int | None = None
        self.held: int | None = None
        self.spent = 0.0
        self.active = True

    @property
    def wall(self) -> float | None:
        if not self.walls:
            return None
        import statistics

        return float(statistics.median(self.walls))

    def stop(self, status: str, note: str) -> None:
        self.status, self.active = status, False
        self.notes.append(note)


class _Impl:
    def __init__(self, impl: str, threads: int, run: Callable[[], list[Any] | Any], api: Any, est: float | None):
        self.m = Measure(impl, threads)
        self.run = run
        self.api = api  # load / reset_counters / rpc_total on the farm this implementation reaches
        self.est = est  # seconds one round should take at least (RPCs x round trip / threads), or None


def _ours(op: str, servers: Sequence[str], concurrency: int, threshold_s: float) -> Any:
    from .. import Farm

    farm = Farm(servers, concurrency=concurrency, provider="sim")
    if op == "who":
        return farm.sessions()
    if op == "details":
        return farm.sessions(details=True)
    if op == "disconnect":
        return farm.disconnect()
    return farm.logoff(disconnected_over=threshold_s)


def _count(impl: str, op: str, result: Any) -> int:
    """Sessions listed, or sessions acted on: what both sides must agree on."""
    if impl == "wts":
        if result.failures:
            raise BenchError(f"{len(result.failures)} failures, first: {result.failures[0]}")
        if op in ("who", "details"):
            return len(result.sessions)
        counts = result.counts()
        if counts["failed"]:
            raise BenchError(f"{counts['failed']} sessions failed")
        return int(counts["done"])
    return len(result)


def _run_round(item: _Impl, op: str, text: str, destructive: bool) -> None:
    import gc
    import time

    m = item.m
    if destructive:
        item.api.load(text)  # every round does the same work
    gc.collect()
    item.api.reset_counters()
    t0 = time.perf_counter()
    result = item.run()
    wall = time.perf_counter() - t0
    rpcs = item.api.rpc_total()
    m.items = _count(m.impl, op, result)
    del result
    if m.rpcs is not None and rpcs != m.rpcs:
        m.rpcs_varied = True
    m.rpcs = rpcs
    m.walls.append(wall)
    m.spent += wall


def _memory_round(item: _Impl, text: str, destructive: bool) -> None:
    """Peak Python heap during the operation and bytes the result holds, by tracemalloc, in a round of
    its own (tracing slows every allocation, so it is never a timed round)."""
    import gc
    import tracemalloc

    if destructive:
        item.api.load(text)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        result = item.run()
        peak = tracemalloc.get_traced_memory()[1]
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        del result
    finally:
        tracemalloc.stop()
    item.m.peak = peak - base
    item.m.held = held - base


def _scenario_farm(sc: Scenario, seed: int) -> Any:
    from .._farmfile import compile_farm

    return compile_farm(
        {
            "seed": seed,
            "now": NOW,
            "generate": [{"prefix": "RDS", "count": sc.servers, "sessions": sc.sessions, "latency_ms": sc.rtt_ms}],
        }
    )


def _measure_scenario(
    sc: Scenario,
    opts: Options,
    ctypes_api: _CtypesApi | None,
    ctypes_reason: str,
    pywin32: _Pywin32Api | None,
    pywin32_reason: str,
    seq_cache: dict[tuple[Any, ...], Measure],
    log: Callable[[str], None],
) -> list[dict[str, Any]]:
    farm = _scenario_farm(sc, opts.seed)
    text, servers = farm.text, list(farm.servers)
    destructive = sc.op in ("disconnect", "logoff")
    rtt = sc.rtt_ms / 1000
    pattern_n = pattern_rpcs(sc.op, text, opts.threshold_s)

    items: list[_Impl] = [
        _Impl("wts", sc.concurrency, lambda: _ours(sc.op, servers, sc.concurrency, opts.threshold_s), _SimFarm(), None)
    ]
    done: list[Measure] = []  # rows settled before the rounds (n/a, skipped, cached)

    def add(impl: str, threads: int, api: Any, reason: str, make: Callable[[_Pattern], Callable[[], Any]]) -> None:
        if api is None:
            m = Measure(impl, threads)
            m.stop("n/a", reason)
            done.append(m)
            return
        if sc.op in ("details", "logoff") and not api.has_session_info:
            m = Measure(impl, threads)
            m.stop("n/a", "pywin32 cannot read session times (no WTSSessionInfo class in win32ts)")
            done.append(m)
            return
        est = pattern_n * rtt / threads
        if est > opts.baseline_cap:
            m = Measure(impl, threads)
            m.stop(
                "skipped",
                f"not run: {pattern_n:,} RPCs x {_fmt_num(sc.rtt_ms)} ms / {threads} = {_fmt_time(est)} a round,"
                f" over the baseline cap of {_fmt_num(opts.baseline_cap)} s (--baseline-cap)",
            )
            done.append(m)
            return
        pattern = _Pattern(api, sc.op, opts.threshold_s)
        items.append(_Impl(impl, threads, make(pattern), api, est))

    base = set(opts.baselines)
    key = (sc.op, sc.servers, sc.sessions, sc.rtt_ms)
    reused_a = "a" in base and key in seq_cache
    if "a" in base:
        if reused_a:
            done.append(seq_cache[key])
        else:
            add("a", 1, ctypes_api, ctypes_reason, lambda p: lambda: p.sequential(servers))
    if "b" in base:
        add("b", sc.concurrency, ctypes_api, ctypes_reason, lambda p: lambda: p.threaded(servers, sc.concurrency))
    if "pywin32" in base:
        add("pywin32", 1, pywin32, pywin32_reason, lambda p: lambda: p.sequential(servers))
        add(
            "pywin32-threads",
            sc.concurrency,
            pywin32,
            pywin32_reason,
            lambda p: lambda: p.threaded(servers, sc.concurrency),
        )

    for item in items:
        item.api.load(text)
    # Round by round, each implementation in turn: a change of machine load hits all of them alike.
    for rnd in range(opts.rounds):
        for item in items:
            m = item.m
            if not m.active:
                continue
            if item.est is not None and rnd > 0 and m.spent + m.walls[-1] > opts.baseline_cap:
                m.active = False
                m.notes.append(
                    f"{len(m.walls)} of {opts.rounds} rounds (--baseline-cap {_fmt_num(opts.baseline_cap)} s)"
                )
                continue
            try:
                _run_round(item, sc.op, text, destructive)
            except Exception as e:  # one line in the row; the other implementations carry on
                m.stop("error", f"{type(e).__name__}: {e}".splitlines()[0])
    for item in items:
        if item.m.status == "ok":
            try:
                _memory_round(item, text, destructive)
            except Exception as e:
                item.m.notes.append(f"memory round failed: {type(e).__name__}: {e}".splitlines()[0])
    measures = [item.m for item in items] + done
    for m in measures:
        if m.impl == "a" and m.status == "ok" and not reused_a:
            seq_cache[key] = m  # sequential: the same for every concurrency of this farm
    order = {impl: i for i, impl in enumerate(IMPLS)}
    measures.sort(key=lambda m: order[m.impl])
    return [_row(sc, m, measures[0], farm.sessions, pattern_n, reused_a and m.impl == "a") for m in measures]


def _row(sc: Scenario, m: Measure, ours: Measure, sessions: int, pattern_n: int, reused: bool) -> dict[str, Any]:
    wall = m.wall
    rtt = sc.rtt_ms / 1000
    bound = m.rpcs * rtt / m.threads if (m.rpcs is not None and rtt > 0) else None
    notes = list(m.notes)
    if m.rpcs_varied:
        notes.append("RPC count varied between rounds")
    if m.impl != "wts" and m.status == "ok" and m.rpcs is not None and m.rpcs != pattern_n:
        notes.append(f"expected {pattern_n:,} RPCs from the pattern")
    if m.impl != "wts" and m.status == "ok" and ours.items is not None and m.items != ours.items:
        notes.append(f"did different work: {m.items} against wts' {ours.items}")
    if reused:
        notes.append("sequential: measured once for this farm and reused")
    speedup = wall / ours.wall if (m.impl != "wts" and wall and ours.wall) else None
    return {
        "op": sc.op,
        "operation": OP_TITLES[sc.op],
        "servers": sc.servers,
        "sessions_per_server": sc.sessions,
        "sessions": sessions,
        "rtt_ms": sc.rtt_ms,
        "concurrency": sc.concurrency,
        "impl": m.impl,
        "label": IMPL_LABELS[m.impl],
        "threads": m.threads,
        "status": m.status,
        "rounds": len(m.walls),
        "walls_s": list(m.walls),
        "wall_s": wall,
        "rpcs": m.rpcs,
        "bound_s": bound,
        "ratio_to_bound": wall / bound if (wall and bound) else None,
        "sessions_per_s": sessions / wall if wall else None,
        "rpcs_per_s": m.rpcs / wall if (wall and m.rpcs is not None) else None,
        "wts_speedup": speedup,
        "items": m.items,
        "peak_bytes": m.peak,
        "held_bytes": m.held,
        "held_bytes_per_session": m.held / sessions if (m.held is not None and sessions) else None,
        "note": "; ".join(notes),
    }


def run(
    scenarios: Sequence[Scenario],
    opts: Options,
    log: Callable[[str], None] = lambda s: None,
) -> dict[str, Any]:
    """Measure every scenario; the report as JSON-able data (``rows``: one per scenario and implementation)."""
    import platform
    import time
    from datetime import datetime, timezone

    from .. import __version__, _wts

    started = time.perf_counter()
    ctypes_api: _CtypesApi | None = None
    ctypes_reason = "not asked for"
    if {"a", "b"} & set(opts.baselines):
        ctypes_api, ctypes_reason = find_sim_lib(opts.sim_lib)
    pywin32: _Pywin32Api | None = None
    pywin32_reason = "not asked for"
    if "pywin32" in opts.baselines:
        pywin32, pywin32_reason = find_pywin32()
    seq_cache: dict[tuple[Any, ...], Measure] = {}
    rows: list[dict[str, Any]] = []
    for i, sc in enumerate(scenarios, 1):
        t0 = time.perf_counter()
        log(f"[{i}/{len(scenarios)}] {sc.title()} ...")
        rows.extend(_measure_scenario(sc, opts, ctypes_api, ctypes_reason, pywin32, pywin32_reason, seq_cache, log))
        log(f"[{i}/{len(scenarios)}] {sc.title()}: {time.perf_counter() - t0:.1f} s")
    try:
        load: list[float] | None = list(os.getloadavg())
    except (AttributeError, OSError):
        load = None
    return {
        "tool": "wts bench",
        "wts_version": __version__,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_after": load,
        "sim_backend": _wts.sim_backend(),
        "sim_library": ctypes_api.where if ctypes_api else None,
        "sim_library_reason": ctypes_reason if ctypes_api is None else "",
        "pywin32_reason": pywin32_reason if pywin32 is None else "",
        "settings": {
            "rounds": opts.rounds,
            "baselines": list(opts.baselines),
            "baseline_cap_s": opts.baseline_cap,
            "logoff_over_s": opts.threshold_s,
            "seed": opts.seed,
            "farm_now": NOW,
        },
        "elapsed_s": time.perf_counter() - started,
        "rows": rows,
    }
