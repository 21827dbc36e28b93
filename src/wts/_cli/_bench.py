"""``wts bench``: hands its arguments to the benchmark harness (``wts._bench``, imported only when
the command runs; docs/benchmarks.md)."""

from __future__ import annotations

import contextlib
import importlib

from ._context import Context
from ._status import ExitStatus

__all__ = ["run"]


def run(ctx: Context) -> int:
    try:
        bench = importlib.import_module("wts._bench")
    except ImportError as exc:  # pragma: no cover - shipped together
        ctx.env.note(f"wts bench: not available in this build ({exc})")
        return ExitStatus.USAGE
    # The harness prints with print(): while it runs, sys's streams are the ones this run was given
    # (the same objects unless a caller passed its own).
    with contextlib.redirect_stdout(ctx.stdout), contextlib.redirect_stderr(ctx.stderr):
        return int(bench.main(ctx.args.bench_args, prog="wts bench"))
