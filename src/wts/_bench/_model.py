"""What a benchmark run is made of: the operations, the implementations, a scenario, the options."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NamedTuple

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


def one_line_parser(prog: str, description: str) -> Any:
    """An argparse parser for a bench command whose errors raise BenchError: one line, never usage
    plus a traceback (argparse is imported here, not at ``wts`` start-up)."""
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> Any:
            raise BenchError(message)

    return Parser(prog=prog, description=description)


def parse_or_status(parse: Callable[[], Any], prog: str) -> Any:
    """``parse()``'s result; for a usage error the exit status 2 (its line printed), for --help 0."""
    try:
        return parse()
    except BenchError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # --help
        return int(e.code or 0)


def stderr_log(prog: str, quiet: bool) -> Callable[[str], None]:
    """A bench's progress lines on stderr, prefixed with ``prog`` (none with --quiet)."""

    def log(line: str) -> None:
        if not quiet:
            print(f"{prog}: {line}", file=sys.stderr, flush=True)

    return log


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
