"""Ctrl-C while a bulk run owns the main thread: counted, never raised in the middle of its bookkeeping."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

__all__ = ["Sigint"]


class Sigint:
    """While a run is active in the main thread: Ctrl-C only sets a flag (``count``), so no
    KeyboardInterrupt can land in the middle of the bookkeeping.  Third press: the default behaviour,
    at once."""

    def __init__(self) -> None:
        self.count = 0
        self._old: Any = None
        self._installed = False

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # Python delivers SIGINT to the main thread only
        try:
            if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
                return  # the application handles Ctrl-C itself; leave it alone
            self._old = signal.signal(signal.SIGINT, self._handler)
            self._installed = True
        except ValueError:  # not the main interpreter
            pass

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count >= 3:
            self.restore()
            raise KeyboardInterrupt

    def restore(self) -> None:
        if self._installed:
            self._installed = False
            signal.signal(signal.SIGINT, self._old)
