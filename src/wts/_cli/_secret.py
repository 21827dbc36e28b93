"""Passwords on the command line: found in argv and kept out of everything wts prints or logs.

tscon's ``/PASSWORD:pw`` is one argv word, so the secret is the whole rest of that word, spaces and
all (``"/password:correct horse S3cret"``); ``--password VALUE`` (not an option of wts, but typed by
habit) hides the next word too.  ``/password:*`` (prompt for it) holds no secret and stays visible.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["MASK", "password_values", "redact_argv", "redact_text"]

MASK = "***"

# /password:pw, -password:pw, --password=pw, --password:pw (any case): group 1 keeps the switch.
_INLINE = re.compile(r"(?is)^([/-]{1,2}password[:=])(.+)$")
_SEPARATE = re.compile(r"(?i)^--?password$")


def _inline_secret(word: str) -> tuple[str, str] | None:
    m = _INLINE.match(word)
    if m is None or m.group(2) == "*":
        return None
    return m.group(1), m.group(2)


def password_values(argv: Sequence[str]) -> list[str]:
    """The secrets in ``argv``, longest first (so that replacing them never leaves a tail behind)."""
    found: list[str] = []
    for i, word in enumerate(argv):
        inline = _inline_secret(word)
        if inline is not None:
            found.append(inline[1])
        elif _SEPARATE.match(word) and i + 1 < len(argv):
            found.append(argv[i + 1])
    return sorted({v for v in found if v}, key=len, reverse=True)


def redact_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with every password replaced by ``***`` (the switch itself stays, so the log shows
    that a password was given)."""
    out: list[str] = []
    hide_next = False
    for word in argv:
        if hide_next:
            out.append(MASK)
            hide_next = False
            continue
        inline = _inline_secret(word)
        if inline is not None:
            out.append(inline[0] + MASK)
        else:
            hide_next = bool(_SEPARATE.match(word))
            out.append(word)
    return out


def redact_text(text: str, argv: Sequence[str]) -> str:
    """``text`` with every password of ``argv`` in it replaced by ``***``, and any ``password:WORD``
    left masked to the end of the text (a message that quotes an argument we were not given)."""
    for value in password_values(argv):
        text = text.replace(value, MASK)
    return re.sub(r"(?is)(password[:=])(?!\*\*\*)(?!\*(?:\W|$)).+", r"\1" + MASK, text)
