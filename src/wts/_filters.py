"""Filters of bulk operations (``Farm.sessions(user="a*", idle_over=3600)``): their names, the checks
of their values (before any RPC), and ``Filter``, which tells whether a session matches.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from ._types import MAX_SESSION_ID, ConnectState, Session, SessionInfo

__all__ = ["FILTER_NAMES", "MAX_DURATION", "Filter", "UserMatch"]

#: The keyword arguments ``Farm`` takes as filters.
FILTER_NAMES = (
    "state",
    "user",
    "domain",
    "station",
    "client",
    "idle_over",
    "idle_under",
    "disconnected_over",
    "logon_before",
    "logon_after",
    "ids",
)


def _patterns(value: object, name: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable) or isinstance(items, (bytes, Mapping)):
        raise TypeError(f"filter {name}= takes a glob or a list of globs, not {type(value).__name__}")
    pats = list(items)
    if not pats or not all(isinstance(p, str) for p in pats):
        raise TypeError(f"filter {name}= takes a glob or a list of globs (strings), not {value!r}")
    return [p.strip() for p in pats]


def _glob(pattern: str) -> str:
    return f"(?:{fnmatch.translate(pattern)})"


def _glob_part(pattern: str) -> str:
    """A glob as a regex that may be followed by more (fnmatch anchors its translation at the end)."""
    regex = fnmatch.translate(pattern)
    return regex[:-2] if regex.endswith(("\\Z", "\\z")) else regex


def _globs(value: object, name: str) -> re.Pattern[str]:
    # Windows compares user, domain, station and computer names case-insensitively.
    return re.compile("|".join(_glob(p) for p in _patterns(value, name)), re.IGNORECASE)


class UserMatch:
    """The ``user=`` filter: globs of user names, in the three forms admins type.

    - ``carol``, ``j*``: the user name (any domain).
    - ``CONTOSO\\carol``: the user name and the domain, each a glob (``CONTOSO\\*``, ``*\\carol``).
    - ``carol@contoso.com`` (a UPN): the user name ``carol``, in the domain whose NetBIOS name is the UPN's
      first label (``CONTOSO``).  WTS lists the NetBIOS domain only; where it differs from the first label of
      the DNS domain (NetBIOS ``CORP`` for ``contoso.com``), use ``CORP\\carol``.  A pattern with ``@`` also
      matches a user name written exactly so (``@`` is allowed in a user name).

    All comparisons are case-insensitive, as Windows compares names.
    """

    __slots__ = ("_domain_forms", "_plain")

    def __init__(self, value: object) -> None:
        plain: list[str] = []
        forms: list[str] = []  # a regex over "DOMAIN\\user": no user name or domain holds a backslash
        for pattern in _patterns(value, "user"):
            if "\\" in pattern:
                domain, _, user = pattern.partition("\\")
                forms.append(f"(?:{_glob_part(domain)}\\\\{_glob_part(user)})\\Z")
            elif "@" in pattern:
                plain.append(pattern)
                user, _, dns = pattern.rpartition("@")
                forms.append(f"(?:{_glob_part(dns.split('.', 1)[0])}\\\\{_glob_part(user)})\\Z")
            else:
                plain.append(pattern)
        self._plain = re.compile("|".join(_glob(p) for p in plain), re.IGNORECASE) if plain else None
        self._domain_forms = re.compile("|".join(forms), re.IGNORECASE | re.DOTALL) if forms else None

    def match(self, user: str, domain: str) -> bool:
        if self._plain is not None and self._plain.match(user) is not None:
            return True
        return self._domain_forms is not None and self._domain_forms.match(f"{domain}\\{user}") is not None


#: The longest duration a filter takes (idle_over=, disconnected_over=, logon_before=timedelta(...)): about
#: 273 years, far beyond any session, and small enough that "now - duration" is always a date.
MAX_DURATION = timedelta(days=100_000)


def _duration(value: object, name: str) -> timedelta:
    if isinstance(value, timedelta):
        d = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if value != value:  # NaN
            raise ValueError(f"filter {name}= must be a number of seconds, not {value!r}")
        if value < 0:
            raise ValueError(f"filter {name}= must not be negative, not {value!r}")
        if value > MAX_DURATION.total_seconds():  # before timedelta() overflows
            raise ValueError(f"filter {name}= must be at most {MAX_DURATION.days:,} days, not {value!r} seconds")
        d = timedelta(seconds=value)
    else:
        raise TypeError(f"filter {name}= takes a timedelta or seconds, not {type(value).__name__} {value!r}")
    if d < timedelta(0):
        raise ValueError(f"filter {name}= must not be negative, not {value!r}")
    if d > MAX_DURATION:
        raise ValueError(f"filter {name}= must be at most {MAX_DURATION.days:,} days, not {value!r}")
    return d


def _moment(value: object, name: str) -> datetime | timedelta:
    """A datetime (naive means local time, as Python's datetime.now() gives) or a timedelta ("ago")."""
    if isinstance(value, datetime):
        try:
            # Near year 1 or 9999, the offset can carry the time out of datetime's range; on Windows a naive
            # time before 1970 has no local time either (OSError).  Refuse it here, before any RPC.
            return value.astimezone(timezone.utc)
        except (OverflowError, ValueError, OSError):
            raise ValueError(f"filter {name}= {value!r} has no UTC time within years 1 to 9999") from None
    if isinstance(value, timedelta):
        return _duration(value, name)
    raise TypeError(f"filter {name}= takes a datetime, or a timedelta meaning 'this long ago', not {value!r}")


def _states(value: object) -> frozenset[int]:
    items = [value] if isinstance(value, (str, int)) else value
    if not isinstance(items, Iterable):
        raise TypeError(f"filter state= takes a state or a list of states, not {value!r}")
    out = set()
    for item in items:
        if isinstance(item, str):
            out.add(int(ConnectState.parse(item)))
        elif isinstance(item, int) and not isinstance(item, bool):
            out.add(int(ConnectState(item)))
        else:
            raise TypeError(f"filter state= takes ConnectState values or names, not {item!r}")
    if not out:
        raise ValueError("filter state= names no state")
    return frozenset(out)


def _ids(value: object) -> frozenset[int]:
    items = [value] if isinstance(value, int) else value
    if not isinstance(items, Iterable):
        raise TypeError(f"filter ids= takes a session id or a list of them, not {value!r}")
    out = set()
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= MAX_SESSION_ID:
            raise ValueError(f"filter ids=: {item!r} is not a session id (0 to {MAX_SESSION_ID})")
        out.add(item)
    return frozenset(out)


class Filter:
    """Filters, checked in cost order: listing fields first (free), then times (one RPC per
    session), then the client name (one more)."""

    def __init__(self, filters: Mapping[str, Any]) -> None:
        unknown = [k for k in filters if k not in FILTER_NAMES]
        if unknown:
            import difflib  # only on this error path

            close = difflib.get_close_matches(unknown[0], FILTER_NAMES, 1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise TypeError(f"unknown filter {unknown[0]!r}{hint}; filters are: {', '.join(FILTER_NAMES)}")
        f = {k: v for k, v in filters.items() if v is not None}
        self.states = _states(f["state"]) if "state" in f else None
        self.user = UserMatch(f["user"]) if "user" in f else None
        self.domain = _globs(f["domain"], "domain") if "domain" in f else None
        self.station = _globs(f["station"], "station") if "station" in f else None
        self.client = _globs(f["client"], "client") if "client" in f else None
        self.ids = _ids(f["ids"]) if "ids" in f else None
        self.idle_over = _duration(f["idle_over"], "idle_over") if "idle_over" in f else None
        self.idle_under = _duration(f["idle_under"], "idle_under") if "idle_under" in f else None
        self.disc_over = _duration(f["disconnected_over"], "disconnected_over") if "disconnected_over" in f else None
        self.logon_before = _moment(f["logon_before"], "logon_before") if "logon_before" in f else None
        self.logon_after = _moment(f["logon_after"], "logon_after") if "logon_after" in f else None
        self.needs_times = any(
            v is not None
            for v in (self.idle_over, self.idle_under, self.disc_over, self.logon_before, self.logon_after)
        )
        self.needs_client = self.client is not None
        #: Every listed session passes ``listing`` (no filter on what a listing shows).
        self.lists_all = all(
            v is None for v in (self.states, self.ids, self.user, self.domain, self.station, self.disc_over)
        )

    def listing(self, s: Session) -> bool:
        return (
            (self.states is None or int(s.state) in self.states)
            and (self.ids is None or s.id in self.ids)
            and (self.user is None or self.user.match(s.user, s.domain))
            and (self.domain is None or self.domain.match(s.domain) is not None)
            and (self.station is None or self.station.match(s.station) is not None)
            # disconnected_over can only match a disconnected session: decide it from the listing, so
            # no other session costs a WTSSessionInfoEx RPC for times that cannot select it.
            and (self.disc_over is None or s.state == ConnectState.DISCONNECTED)
        )

    def times(self, info: SessionInfo) -> bool:
        if self.idle_over is not None and not (info.idle is not None and info.idle > self.idle_over):
            return False
        if self.idle_under is not None and not (info.idle is not None and info.idle < self.idle_under):
            return False
        if self.disc_over is not None:
            if info.state != ConnectState.DISCONNECTED or info.disconnect_time is None:
                return False
            now = info.current_time or datetime.now(timezone.utc)
            if not now - info.disconnect_time > self.disc_over:
                return False
        for bound, before in ((self.logon_before, True), (self.logon_after, False)):
            if bound is None:
                continue
            if info.logon_time is None:
                return False
            moment = (
                (info.current_time or datetime.now(timezone.utc)) - bound if isinstance(bound, timedelta) else bound
            )
            if (info.logon_time >= moment) if before else (info.logon_time <= moment):
                return False
        return True

    def client_ok(self, client: str) -> bool:
        return self.client is None or self.client.match(client) is not None
