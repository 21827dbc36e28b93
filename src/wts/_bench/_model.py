"""What a benchmark run is made of: the operations, the implementations, a scenario, the options."""

from __future__ import annotations

from typing import NamedTuple

from ._report import _fmt_num

NOW = "2026-11-21T12:00:00Z"  # a fixed farm clock: every round and every implementation sees the same ages
OPS = ("who", "details", "disconnect", "logoff")
OP_TITLES = {
    "who": "who is where",
    "details": "list with details",
    "disconnect": "disconnect all",
    "logoff": "log off disconnected > T",
}
IMPLS = ("wts", "a", "b", "pywin32", "pywin32-threads")
IMPL_LABELS = {
    "wts": "wts.Farm",
    "a": "(a) ctypes, sequential",
    "b": "(b) ctypes, thread pool",
    "pywin32": "(c) pywin32, sequential",
    "pywin32-threads": "(c) pywin32, thread pool",
}
BASELINE_CHOICES = ("a", "b", "pywin32")


class BenchError(Exception):
    """A problem worth one line to the user (bad argument, unusable file): never a traceback."""


class Scenario(NamedTuple):
    op: str
    servers: int
    sessions: int  # user sessions per server (the generator adds 3 system sessions to each)
    rtt_ms: float
    concurrency: int

    @property
    def size(self) -> str:
        return f"{self.servers}x{self.sessions}"

    def title(self) -> str:
        return f"{self.op} {self.size} @{_fmt_num(self.rtt_ms)} ms c={self.concurrency}"


# The default run: every target row of the benchmark issue, plus a small farm (finishes in 1-2 minutes).
DEFAULT_SUITE = (
    Scenario("who", 10, 10, 0.0, 64),
    Scenario("who", 200, 25, 2.0, 64),
    Scenario("details", 200, 25, 2.0, 64),
    Scenario("disconnect", 200, 25, 2.0, 64),
    Scenario("logoff", 200, 25, 2.0, 64),
    Scenario("who", 1000, 40, 0.0, 64),
)


class Options(NamedTuple):
    rounds: int
    baselines: tuple[str, ...]
    baseline_cap: float
    threshold_s: float
    seed: int
    sim_lib: str | None
