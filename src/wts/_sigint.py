"""Ctrl-C while a bulk run owns the main thread: counted, never raised in the middle of its bookkeeping."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["Sigint"]


class Sigint:
    """While a run is active in the main thread: Ctrl-C only sets a flag (``count``), so no
    KeyboardInterrupt can land in the middle of the bookkeeping.  Third press: the default behaviour,
    at once.

    An application's own SIGINT handler (any Python callable) is kept and still called on every press,
    but inside this one: what it raises is caught, kept in ``raised`` and counted as a press, and the
    run raises it when it has stopped and accounted for every session (a KeyboardInterrupt as
    ``wts.Interrupted``).  A handler that returns normally has taken care of Ctrl-C itself: the run goes
    on.  SIG_IGN, SIG_DFL and handlers installed outside Python are left alone.
    """

    def __init__(self) -> None:
        self.count = 0
        self.raised: BaseException | None = None  # what the application's handler raised, if anything
        self._old: Any = None
        self._chain: Callable[[int, FrameType | None], Any] | None = None
        self._installed = False

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # Python delivers SIGINT to the main thread only
        try:
            old = signal.getsignal(signal.SIGINT)
            if old is not signal.default_int_handler:
                if not callable(old):
                    return  # ignored, the process default, or a handler set outside Python: not ours
                self._chain = old
            self._old = signal.signal(signal.SIGINT, self._handler)
            self._installed = True
        except ValueError:  # not the main interpreter
            pass

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self._chain is not None:
            try:
                self._chain(signum, frame)
            except BaseException as exc:  # the application's way of saying "stop"
                self.raised = exc
            else:
                return  # the application took care of it and did not ask the run to stop
        self.count += 1
        if self.count >= 3:
            self.restore()
            if self.raised is not None:
                raise self.raised
            raise KeyboardInterrupt

    def restore(self) -> None:
        if self._installed:
            self._installed = False
            signal.signal(signal.SIGINT, self._old)
