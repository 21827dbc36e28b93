"""One bulk operation of a command (``Farm.stream``): the progress bar, what Ctrl-C does next, and
the audit line of each result as it arrives (a run cut short keeps what it did)."""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import wts
from wts import Failure, Interrupted, Outcome, Progress

from ._context import Context
from ._progress import ProgressBar
from ._text import describe_error

__all__ = ["StreamResult", "stream"]


class StreamResult(NamedTuple):
    """What one operation returned: its records or outcomes, the failures, whether Ctrl-C cut it
    short, and how long it took (seconds)."""

    items: list[Any]
    failures: list[Failure]
    interrupted: bool
    elapsed: float

    def outcomes(self) -> list[Outcome]:
        return [o for o in self.items if isinstance(o, Outcome)]


def stream(ctx: Context, farm: wts.Farm, action: str, label: str, audit: bool, **kwargs: Any) -> StreamResult:
    """Run ``farm.stream(action, **kwargs)`` with the progress bar labelled ``label``; with ``audit``,
    each outcome and failure goes to the audit log (when there is one) as it arrives."""
    bar = ProgressBar(ctx.stderr, label, enabled=not ctx.quiet)
    log = ctx.audit if audit else None
    items: list[Any] = []
    failures: list[Failure] = []
    interrupted = False
    started = time.perf_counter()
    presses = 0

    def on_progress(p: Progress) -> None:
        # Ctrl-C is reported at once: say what happens next, since waiting for the calls in flight
        # can take up to --timeout when a server hangs.
        nonlocal presses
        if p.interrupts > presses:
            presses = p.interrupts
            bar.close()
            if presses == 1:
                n = max(p.total - p.done, 0)
                ctx.error(
                    f"interrupted: nothing new is sent; waiting for the {n:,} call{'s' if n != 1 else ''} in "
                    f"flight (at most {farm.timeout:g}s). Ctrl-C again abandons them"
                )
            elif presses == 2:
                ctx.error("interrupted again: the calls in flight were abandoned; their outcome is unknown")
        bar(p)

    try:
        for item in farm.stream(action, progress=on_progress, **kwargs):
            if isinstance(item, Failure):
                failures.append(item)
                if log is not None:
                    log.write(item.server, item.session_id, action, "failed", describe_error(item.error))
            else:
                items.append(item)
                if log is not None and isinstance(item, Outcome):
                    error = item.reason if item.status != "done" else None
                    log.write(item.server, item.session_id, action, item.status, error)
    except Interrupted:
        interrupted = True
    finally:
        bar.close()
    return StreamResult(items, failures, interrupted, time.perf_counter() - started)
