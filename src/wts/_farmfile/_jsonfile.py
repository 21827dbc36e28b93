"""Reading a farm file from disk into JSON data, with the failures located (file:line:column).

``json`` silently keeps the last of duplicated keys; objects are read as ``_JsonObject``, which
remembers the first duplicate so the validator can report it with its path.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ._constants import MAX_FARM_FILE_BYTES
from ._errors import FarmFileError

__all__ = ["load_json"]


class _JsonObject(dict[str, Any]):
    """A JSON object that remembers its first duplicated key.

    ``json`` silently keeps the last of duplicated keys; for a hand-edited
    farm that hides mistakes, so the validator reports it (with a path)."""

    __slots__ = ("duplicate",)
    duplicate: str | None


def _object_pairs(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject(pairs)
    obj.duplicate = None
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                obj.duplicate = key
                break
            seen.add(key)
    return obj


def _os_error_text(exc: OSError) -> str:
    # str(OSError) appends the file name, which the message already starts
    # with; keep just "[Errno N] reason".
    if exc.errno is not None and exc.strerror:
        return f"[Errno {exc.errno}] {exc.strerror}"
    return str(exc)


def load_json(path: str | os.PathLike[str], name: str) -> Any:
    """The JSON data of the file at path; FarmFileError (naming it name) if it cannot be read."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FARM_FILE_BYTES + 1)  # a bound, so /dev/zero or a FIFO cannot read for ever
    except OSError as exc:
        raise FarmFileError(name, f"cannot read: {_os_error_text(exc)}") from None
    if len(raw) > MAX_FARM_FILE_BYTES:
        raise FarmFileError(name, f"larger than {MAX_FARM_FILE_BYTES // 2**20:,} MiB, the most a farm file may hold")
    try:
        # Tolerate a UTF-8 BOM: Windows editors like to add one.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise FarmFileError(
            name,
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            line=line,
            column=column,
        ) from None
    try:
        return json.loads(text, object_pairs_hook=_object_pairs)
    except json.JSONDecodeError as exc:
        raise FarmFileError(name, exc.msg, line=exc.lineno, column=exc.colno) from None
    except RecursionError:
        raise FarmFileError(name, "JSON is nested too deeply") from None
