"""What the terminal behind a stream can do: whether it is one, how wide it is, and colour (only
where a person is looking).  Always asked of the stream being written, never of ``sys``: stdout may
be a pipe while stderr is the terminal."""

from __future__ import annotations

import os
from typing import IO, ClassVar

__all__ = ["Style", "isatty", "stream_width", "terminal_width"]


def isatty(stream: IO[str] | None) -> bool:
    """True when ``stream`` is a terminal; False for pipes, files, closed or stand-in streams."""
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # closed, or not a real file
        return False


def stream_width(stream: IO[str]) -> int:
    """The width of the terminal ``stream`` writes to: COLUMNS if set, else the terminal's own (asked
    of this stream), else 80."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return max(int(columns), 20)
    try:
        return max(os.get_terminal_size(stream.fileno()).columns, 20)
    except (AttributeError, ValueError, OSError):
        return 80


def terminal_width(stream: IO[str]) -> int | None:
    """The width to fit a table to: the terminal's when ``stream`` is one (or COLUMNS says), else None:
    a pipe gets every character, so that grep and cut see whole values."""
    if isatty(stream) or os.environ.get("COLUMNS"):
        return stream_width(stream)
    return None


class Style:
    """ANSI colour, on only for a terminal and never when NO_COLOR is set (https://no-color.org)."""

    _CODES: ClassVar[dict[str, str]] = {
        "bold": "1",
        "dim": "2",
        "red": "31",
        "green": "32",
        "yellow": "33",
        "cyan": "36",
    }

    def __init__(self, stream: IO[str] | None = None, force: bool | None = None) -> None:
        if force is not None:
            self.enabled = force
        else:
            self.enabled = isatty(stream) and not os.environ.get("NO_COLOR") and os.environ.get("TERM", "") != "dumb"

    def __call__(self, text: str, *names: str) -> str:
        if not self.enabled or not names or not text:
            return text
        codes = ";".join(self._CODES[n] for n in names)
        return f"\033[{codes}m{text}\033[0m"


#: No colour at all (tables rendered for a caller that gave no style).
PLAIN = Style(force=False)
