"""One thread for every connect's deadline: ``arm`` a function to run at a deadline, ``disarm`` it.

Each SMB connect is bounded by a watchdog that closes its socket at the deadline (smbprotocol bounds
the TCP connect and the negotiate, not the session setup or tree connect).  A ``threading.Timer``
per connect started and ended a thread for every server; this one thread, started when first
needed and ending once nothing has been armed for a while, serves them all.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Callable

__all__ = ["arm", "disarm"]

_IDLE = 30.0  #: seconds with nothing armed before the thread ends (the next arm starts another)

_cond = threading.Condition()
_due: list[tuple[float, int]] = []  # (deadline, key), a heap; disarmed keys are skipped when due
_armed: dict[int, Callable[[], None]] = {}
_keys = itertools.count(1)
_running = False


def arm(delay: float, fn: Callable[[], None]) -> int:
    """Run ``fn`` (in the watchdog's thread) ``delay`` seconds from now unless disarmed first."""
    global _running
    with _cond:
        key = next(_keys)
        heapq.heappush(_due, (time.monotonic() + delay, key))
        _armed[key] = fn
        if not _running:
            threading.Thread(target=_run, name="wts-tsts-watchdog", daemon=True).start()
            _running = True
        elif _due[0][1] == key:
            _cond.notify()  # sooner than what the thread sleeps until
        return key


def disarm(key: int) -> None:
    """``fn`` will not run (if it has not started already)."""
    with _cond:
        _armed.pop(key, None)


def _run() -> None:
    global _running
    while True:
        with _cond:
            while _due and _due[0][1] not in _armed:
                heapq.heappop(_due)
            if not _due:
                _cond.wait(_IDLE)
                if not _due:
                    _running = False
                    return
                continue
            deadline, key = _due[0]
            left = deadline - time.monotonic()
            if left > 0:
                _cond.wait(left)
                continue
            heapq.heappop(_due)
            fn = _armed.pop(key)
        try:
            fn()
        except Exception:  # one deadline's failure must not stop the others'
            pass
