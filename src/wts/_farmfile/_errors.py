"""The one public exception, and the two internal failures that become it.

Validation code raises :class:`Invalid` (a JSON path and a reason) and the compiled-text parser
:class:`BadLine` (a line number and a reason); the entry points add the source name and turn them
into :class:`FarmFileError`, so the deep code never needs to know which file it is reading.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BadLine", "FarmFileError", "Invalid"]


class FarmFileError(ValueError):
    """A farm file or dict that cannot be loaded.

    ``str()`` is a single line, ``'<where>: <what is wrong>'``, where
    ``<where>`` is the file name (``'<dict>'`` for a mapping, ``'<compiled>'``
    for :func:`parse_compiled`), followed by ``:line:column`` for JSON
    syntax errors or by the JSON path of the offending value.  The parts
    are also available separately so tools can point at the problem.
    """

    def __init__(
        self,
        source: str,
        reason: str,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.source = source
        self.reason = reason
        self.path = path
        self.line = line
        self.column = column
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        if self.path:
            where += f": {self.path}"
        return f"{where}: {self.reason}"

    def __reduce__(self) -> tuple[Any, ...]:
        # The default exception pickling would call cls(message) and lose
        # the structured attributes (and fail: reason is required).
        return (
            type(self),
            (self.source, self.reason, self.path, self.line, self.column),
        )


class Invalid(Exception):
    """Internal: a validation failure at a JSON path.  compile_farm adds
    the source name and converts it to FarmFileError."""

    def __init__(self, path: str | None, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


class BadLine(Exception):
    """Internal: a line of compiled text that cannot be read.  parse_compiled
    converts it to FarmFileError."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason
