"""Which failed calls a bulk run tries again, and when: only a call that cannot take effect twice.

The rule, per call (documented in docs/bulk.md, "Retries"):

* RPC_S_SERVER_TOO_BUSY (1723): the server refused the call before running it.  Retried, every call.
* RPC_S_CALL_FAILED_DNE (1727): the call failed and did not execute.  Retried, every call.
* RPC_S_CALL_FAILED (1726): the call failed in transit, *after* it may have run.  A listing or a query
  changes nothing, so it is retried; an action (disconnect, logoff, message) is not: a second try could
  send a message twice, or act on a session that the first try already changed.

Nothing else is retried: access denied, no such session, a console that cannot be disconnected and an
unreachable server are answers, not accidents.
"""

from __future__ import annotations

import random

from ._winerror import WinError

__all__ = ["ACTION_RETRIES", "READ_RETRIES", "TRANSIENT_ERRORS", "backoff_delay", "retryable"]

#: Errors after which a read-only call (listing, query) is tried again.
READ_RETRIES = frozenset({WinError.RPC_S_SERVER_TOO_BUSY, WinError.RPC_S_CALL_FAILED, WinError.RPC_S_CALL_FAILED_DNE})
#: Errors after which an action is tried again: those that say it did not run.
ACTION_RETRIES = frozenset({WinError.RPC_S_SERVER_TOO_BUSY, WinError.RPC_S_CALL_FAILED_DNE})
#: Every error that is ever retried (for a read-only call).
TRANSIENT_ERRORS = READ_RETRIES

#: The kinds of call a run makes that change nothing on the server.
_READ_ONLY = frozenset({"list", "times", "client", "clientinfo", "protocol", "own"})
_MAX_DELAY = 2.0


def retryable(kind: str, winerror: int) -> bool:
    """Whether a call of ``kind`` ("list", "times", "client" or "act") that failed with ``winerror``
    may be sent again without risk of taking effect twice."""
    return winerror in (READ_RETRIES if kind in _READ_ONLY else ACTION_RETRIES)


def backoff_delay(backoff: float, tries: int, rng: random.Random) -> float:
    """Seconds before try ``tries + 1``: ``backoff`` doubling per try, capped at 2 s, with ±25 % jitter
    so that the retries of many sessions do not arrive together."""
    delay: float = min(backoff * 2.0 ** (tries - 1), _MAX_DELAY)
    return delay * rng.uniform(0.75, 1.25)
