"""``wts bench``: wts side by side with what users would otherwise use, on the simulated farm, against the bound.

Each scenario (an operation on a generated farm at a round trip and a concurrency) runs every
implementation on the same farm, in the same run, round by round in turn:

* ``wts``: ``wts.Farm`` (the bulk engine), at the scenario's concurrency;
* ``(a)``: the pywin32 pattern made with ctypes: ``WTSEnumerateSessionsW``, then
  ``WTSQuerySessionInformationW`` once per session per field, one Python call per RPC, sequential;
* ``(b)``: the same pattern on a ``ThreadPoolExecutor`` with as many threads as our concurrency;
* ``pywin32``: real pywin32 (``win32ts``), sequential and threaded, where it can reach the simulator
  (Windows, or Wine, with the simulator as the process's ``wtsapi32.dll``: ``make bench-wine``).

Every row has the wall time (median of the rounds), the RPCs the simulator counted, the bound
(RPCs x round trip / concurrency) and the ratio to it, wts' speed-up over that row, the peak Python
heap during the operation and the result's retained size per session.  docs/benchmarks.md defines
each figure and says what limits it.  ``main()`` is the ``wts bench`` command.

The package, one job a module: ``_model`` (operations, implementations, Scenario, Options),
``_pattern`` (the pywin32 pattern and the RPCs it sends), ``_baselines`` (the APIs it runs over and
finding them), ``_measure`` (rounds, memory, rows: ``run``), ``_report`` (units and the table),
``_args`` (the command line), ``_main`` (the command).  This module only re-exports; the private
names it re-exports (``from ... import _x as _x``) are the ones tests/test_bench.py and
benchmarks/test_peers.py reach.
"""

from __future__ import annotations

from ._args import parse_args
from ._baselines import _build_sim_lib as _build_sim_lib
from ._baselines import _SimFarm as _SimFarm
from ._baselines import find_pywin32, find_sim_lib
from ._main import main
from ._measure import Measure, run
from ._measure import _count as _count
from ._measure import _ours as _ours
from ._measure import _scenario_farm as _scenario_farm
from ._model import DEFAULT_SUITE, IMPLS, NOW, OPS, BenchError, Options, Scenario
from ._pattern import _Pattern as _Pattern
from ._pattern import pattern_rpcs
from ._report import format_table

__all__ = [
    "DEFAULT_SUITE",
    "IMPLS",
    "NOW",
    "OPS",
    "BenchError",
    "Measure",
    "Options",
    "Scenario",
    "find_pywin32",
    "find_sim_lib",
    "format_table",
    "main",
    "parse_args",
    "pattern_rpcs",
    "run",
]
