"""One bulk operation of a command (``Farm.stream``): the progress bar, what Ctrl-C does next, and
the audit line of each result as it arrives (a run cut short keeps what it did).

An audit line that cannot be written (a full disk, ``--audit-log /dev/full``) stops the run as a
first Ctrl-C does: nothing new is sent, the calls in flight are waited for and their outcomes
printed, and the command ends with one error line and status 1."""

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
    #: the audit log could not be written: the run was stopped (status 1, not 130)
    audit_failed: bool = False
    #: a listing with own=True: the record of the caller's own session among ``items``, or None
    own: Any = None

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
    audit_failed = False
    started = time.perf_counter()
    presses = 0

    def on_progress(p: Progress) -> None:
        # Ctrl-C is reported at once: say what happens next, since waiting for the calls in flight
        # can take up to --timeout when a server hangs.  Only calls sent and not answered count as
        # in flight; queued ones are simply never sent.
        nonlocal presses
        if p.interrupts > presses:
            presses = p.interrupts
            bar.close()
            n = p.in_flight
            if presses == 1 and audit_failed:
                pass  # the stop was ours (the audit log): its line has been said
            elif presses == 1:
                ctx.error(
                    f"interrupted: nothing new is sent; waiting for the {n:,} call{'s' if n != 1 else ''} in "
                    f"flight (at most {farm.timeout:g}s). Ctrl-C again abandons them"
                )
            elif presses == 2:
                ctx.error("interrupted again: the calls in flight were abandoned; their outcome is unknown")
        bar(p)

    items_in = farm.stream(action, progress=on_progress, **kwargs)
    try:
        for item in items_in:
            if isinstance(item, Failure):
                failures.append(item)
            else:
                items.append(item)
            if log is None or audit_failed or not isinstance(item, (Failure, Outcome)):
                continue
            try:
                if isinstance(item, Failure):
                    log.write(item.server, item.session_id, action, "failed", describe_error(item.error))
                else:
                    error = item.reason if item.status != "done" else None
                    # A process is named by its pid and image too: a session id alone would not say which.
                    extra = {} if item.pid is None else {"pid": item.pid, "image": item.image}
                    log.write(item.server, item.session_id, action, item.status, error, **extra)
            except OSError as exc:
                audit_failed = True
                bar.close()
                ctx.error(
                    f"--audit-log: cannot write {log.path}: {exc.strerror or exc}; stopping: nothing new is sent, "
                    "and what was done so far is printed"
                )
                if presses == 0:
                    items_in.stop()  # as a first Ctrl-C: nothing new is sent, what is in flight reports
    except Interrupted:
        interrupted = True
    finally:
        bar.close()
        items_in.close()
    if audit_failed:
        interrupted = False  # the stop was ours: status 1 for the lost audit, not 130
    own = getattr(items_in, "own", None)  # (a listing's; a stand-in for Farm.stream may have none)
    return StreamResult(items, failures, interrupted, time.perf_counter() - started, audit_failed, own)
