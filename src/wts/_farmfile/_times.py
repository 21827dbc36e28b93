"""FILETIME ticks to and from ISO-8601 text, exactly (all 7 fractional digits survive a round trip).

Farm files give times as ISO-8601 strings; the compiled format and the simulator use FILETIME
(100 ns ticks since 1601-01-01 UTC, 0 meaning "no time").  Both directions are on hot paths (a big
dump carries hundreds of thousands of timestamps), hence the caches and the canonical-form fast path.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re

from ._constants import TICKS_PER_SECOND

__all__ = ["END_TICKS", "iso_to_ticks", "now_ticks", "ticks_to_iso"]

_UTC = _dt.timezone.utc
_FILETIME_EPOCH = _dt.datetime(1601, 1, 1, tzinfo=_UTC)
_EPOCH_ORDINAL = _FILETIME_EPOCH.toordinal()
#: FILETIME ticks of 10000-01-01T00:00:00Z: every time of a farm is below, as datetime's are.
END_TICKS = (_dt.date.max.toordinal() + 1 - _EPOCH_ORDINAL) * 86400 * TICKS_PER_SECOND

_CANONICAL_TIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,7}))?Z")
_FRACTION = re.compile(r"(\d\d:\d\d:\d\d|[T ]\d{6})[.,](\d+)")


@functools.lru_cache(maxsize=4096)
def _day_ticks(date_text: str) -> int:
    """FILETIME ticks at midnight UTC of an ISO date (cached: a farm's
    timestamps fall on few distinct days)."""
    days = _dt.date.fromisoformat(date_text).toordinal() - _EPOCH_ORDINAL
    return days * 86400 * TICKS_PER_SECOND


def iso_to_ticks(text: str) -> int:
    """Parse an ISO-8601 date/time into FILETIME ticks; ValueError if bad.

    Fractional seconds are handled here rather than by fromisoformat so
    all 7 digits of FILETIME precision survive a dump/load round trip.
    The canonical UTC form (what parse_compiled writes) takes a fast path,
    because big dumps carry hundreds of thousands of timestamps."""
    match = _CANONICAL_TIME.fullmatch(text)
    if match is not None:
        date_text, hh, mm, ss, digits = match.groups()
        hours, minutes, seconds = int(hh), int(mm), int(ss)
        if hours < 24 and minutes < 60 and seconds < 60:
            fraction = int(digits.ljust(7, "0")) if digits else 0
            return _day_ticks(date_text) + (hours * 3600 + minutes * 60 + seconds) * TICKS_PER_SECOND + fraction
    fraction = 0
    match = _FRACTION.search(text)
    if match is not None:
        digits = match.group(2)
        fraction = int(digits[:7].ljust(7, "0"))
        text = text[: match.end(1)] + text[match.end(2) :]
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = _dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_UTC)  # naive means UTC
    delta = moment - _FILETIME_EPOCH
    return (delta.days * 86400 + delta.seconds) * TICKS_PER_SECOND + delta.microseconds * 10 + fraction


def now_ticks() -> int:
    """The current time in FILETIME ticks, whole seconds."""
    now = _dt.datetime.now(_UTC).replace(microsecond=0)
    delta = now - _FILETIME_EPOCH
    return (delta.days * 86400 + delta.seconds) * TICKS_PER_SECOND


@functools.lru_cache(maxsize=4096)
def _day_text(days: int) -> str:
    """ISO date of a day number since 1601-01-01 (cached, see _day_ticks)."""
    return _dt.date.fromordinal(_EPOCH_ORDINAL + days).isoformat()


def ticks_to_iso(ticks: int) -> str:
    """FILETIME ticks -> '2026-11-21T05:00:00Z', with as many fractional
    digits (up to 7) as needed to be exact.  Raises OverflowError/ValueError
    past year 9999."""
    seconds, fraction = divmod(ticks, TICKS_PER_SECOND)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    text = f"{_day_text(days)}T{hours:02d}:{minutes:02d}:{seconds:02d}"
    if fraction:
        text += "." + f"{fraction:07d}".rstrip("0")
    return text + "Z"
