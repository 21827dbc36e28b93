"""The progress bar of bulk work: one line on stderr, redrawn from Farm's progress callback, only
on a terminal (on a pipe or with -q it draws nothing)."""

from __future__ import annotations

import time
from typing import IO

from wts import Progress

from ._terminal import isatty, stream_width

__all__ = ["ProgressBar"]


class ProgressBar:
    """A one-line bar on stderr for bulk work, redrawn from Farm's progress callback (at most every 50
    ms).  Only on a terminal: on a pipe or with -q it draws nothing."""

    def __init__(self, stream: IO[str], label: str, enabled: bool) -> None:
        self.stream = stream
        self.label = label
        self.enabled = enabled and isatty(stream)
        self.drawn = False
        self.started = time.monotonic()

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        width = stream_width(self.stream)
        total = max(p.total, 1)
        tail = f" {p.done:,}/{p.total:,} calls  {p.servers_done:,}/{p.servers_total:,} servers"
        if p.failures:
            tail += f"  {p.failures:,} failed"
        tail += f"  {p.elapsed:.1f}s"
        head = f"{self.label} " if not p.interrupts else f"{self.label}: stopping "
        bar_width = max(width - len(head) - len(tail) - 3, 10)
        filled = int(bar_width * min(p.done / total, 1.0))
        bar = "#" * filled + "-" * (bar_width - filled)
        self.stream.write("\r" + f"{head}[{bar}]{tail}"[: width - 1] + "\033[K")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """Erase the bar, so the summary line and the table start on a clean line."""
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.drawn = False
