"""Property-based tests (hypothesis) of the inputs wts takes from users: farm files, server specs and the
durations and moments of filters.  None may end in anything but the error the API documents.

Bounded by the "wts" profile of tests/conftest.py (200 examples a property, reproducible, nothing written
to disk; WTS_HYPOTHESIS_EXAMPLES=5000 for a longer run).
"""

from __future__ import annotations

import json
import string
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import wts  # noqa: E402
from wts._farmfile import CompiledFarm, FarmFileError, compile_farm, parse_compiled  # noqa: E402
from wts._filters import Filter  # noqa: E402
from wts._serverspec import MAX_NAME_LENGTH, MAX_SERVERS, check_server_name  # noqa: E402
from wts._types import ConnectState, SessionInfo  # noqa: E402

# --- farm files ---------------------------------------------------------------------------------

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["Active", "disconnected", "hang", "ok", "2026-11-21T05:00:00Z", "9999-12-31T23:59:59-01:00"])
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_FIELDS = [
    "seed", "now", "local", "current_session", "defaults", "servers", "generate", "messages", "name", "sessions",
    "latency_ms", "jitter_ms", "fault", "fault_rpcs", "id", "station", "state", "user", "domain", "client",
    "address", "logon", "connect", "disconnect", "last_input", "locked", "deny", "reply", "password", "prefix",
    "count", "start", "digits", "disconnected", "system_sessions",
]  # fmt: skip
#: Farm-shaped values: objects keyed by the farm file's own field names, so the checks deep inside run.
_FARMISH = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_FIELDS), inner, max_size=5),
    max_leaves=25,
)


@given(st.dictionaries(st.sampled_from(_FIELDS) | st.text(max_size=6), _JSON | _FARMISH, max_size=5))
def test_any_json_farm_compiles_or_is_a_farm_file_error(farm: dict[str, Any]) -> None:
    try:
        compiled = compile_farm(farm)
    except FarmFileError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(compiled, CompiledFarm)


@given(
    st.fixed_dictionaries(
        {"servers": st.lists(st.fixed_dictionaries({"name": st.just("RDS01"), "sessions": _FARMISH}), max_size=1)}
    )
    | st.fixed_dictionaries(
        {
            "now": st.just("2026-11-21T05:00:00Z"),
            "generate": st.lists(
                st.dictionaries(st.sampled_from(_FIELDS), _SCALARS, max_size=6).map(
                    lambda b: {"prefix": "G", "count": 1, "sessions": 1, **b}
                ),
                max_size=2,
            ),
        }
    )
)
def test_farm_shaped_values_compile_or_are_a_farm_file_error(farm: dict[str, Any]) -> None:
    try:
        compile_farm(farm)
    except FarmFileError as exc:
        assert "\n" not in str(exc)


_NAME = st.text(alphabet=string.ascii_letters + string.digits + "-._", min_size=1, max_size=15)
_MOMENT = st.datetimes(min_value=datetime(1601, 1, 2), max_value=datetime(9999, 12, 30)).map(
    lambda d: d.replace(tzinfo=timezone.utc).isoformat()
)
_STRING = st.text(max_size=10).filter(lambda t: not any(ord(c) < 32 and c not in "\t\n\r" for c in t))


def _session(sid: int) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"id": st.just(sid), "state": st.sampled_from(["Active", "Disconnected", "Listen", "Down"])},
        optional={
            "user": _STRING.map(lambda t: t[:20]),
            "domain": _STRING.map(lambda t: t[:17]),
            "client": _STRING.map(lambda t: t[:20]),
            "address": st.sampled_from(["10.1.2.3", "2001:db8::1", None]),
            "logon": _MOMENT | st.none(),
            "connect": _MOMENT,
            "disconnect": _MOMENT,
            "last_input": _MOMENT,
            "locked": st.booleans(),
            "deny": st.lists(st.sampled_from(["query", "logoff", "message", "connect"]), max_size=2),
            "reply": st.sampled_from(["ok", "cancel", "timeout"]),
            "password": _STRING,
        },
    )


@st.composite
def _valid_farm(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(_NAME, min_size=1, max_size=4, unique_by=str.lower))
    servers = []
    for name in names:
        ids = draw(st.lists(st.integers(0, 70000), max_size=4, unique=True))
        sessions = [draw(_session(sid)) for sid in ids]
        servers.append(
            {"name": name, "sessions": sessions, "latency_ms": draw(st.integers(0, 50)), "fault": draw(st.none())}
        )
    return {"seed": draw(st.integers(0, 2**64 - 1)), "now": draw(_MOMENT | st.none()), "servers": servers}


@given(_valid_farm())
def test_valid_farms_round_trip_through_parse_compiled(farm: dict[str, Any]) -> None:
    text = compile_farm(farm).text
    parsed = parse_compiled(text)
    assert compile_farm(parsed).text == text
    assert compile_farm(json.loads(json.dumps(parsed))).text == text


# --- server specs -------------------------------------------------------------------------------

_SPEC = st.text(alphabet="AB01[]-, \\\t.x", max_size=40) | st.text(max_size=30)


@given(_SPEC | st.lists(_SPEC, max_size=4))
def test_parse_servers_gives_names_or_a_value_error(spec: str | list[str]) -> None:
    try:
        names = wts.parse_servers(spec)
    except ValueError as exc:
        assert "\n" not in str(exc)
        return
    assert len(names) <= MAX_SERVERS
    assert len({n.casefold() for n in names}) == len(names)
    for name in names:
        assert len(name) <= MAX_NAME_LENGTH
        assert check_server_name(name) == name  # every name parse_servers gives is a server name


@given(
    st.text(alphabet="R", min_size=0, max_size=300),
    st.integers(0, 10**12),
    st.integers(0, 10**12),
    st.integers(0, 3),
)
def test_parse_servers_ranges_never_exceed_the_limits(prefix: str, lo: int, hi: int, repeat: int) -> None:
    spec = ",".join([f"{prefix}[{lo}-{hi}]"] * (repeat + 1))
    try:
        names = wts.parse_servers(spec)
    except ValueError:
        return
    assert len(names) == hi - lo + 1 <= MAX_SERVERS
    assert all(len(n) <= MAX_NAME_LENGTH for n in names)


# --- filter durations and moments ---------------------------------------------------------------

_OFFSETS = st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)).map(
    timezone
)
_DURATION_VALUES = (
    st.timedeltas()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.none()
    | st.text(max_size=5)
)
_MOMENT_VALUES = _DURATION_VALUES | st.datetimes(timezones=st.none() | _OFFSETS)

_NOW = datetime(2026, 11, 21, 5, 0, tzinfo=timezone.utc)


def _info(current: datetime | None) -> SessionInfo:
    return SessionInfo(
        "RDS01",
        2,
        "",
        ConnectState.DISCONNECTED,
        "carol",
        "CONTOSO",
        datetime(1601, 1, 2, tzinfo=timezone.utc),
        datetime(1601, 1, 2, tzinfo=timezone.utc),
        datetime(1601, 1, 3, tzinfo=timezone.utc),
        datetime(1601, 1, 3, tzinfo=timezone.utc),
        current,
        False,
        timedelta(days=99_999),
    )


@given(
    st.sampled_from(["idle_over", "idle_under", "disconnected_over"]),
    _DURATION_VALUES,
    st.sampled_from([_NOW, datetime(9999, 12, 31, tzinfo=timezone.utc), datetime(1601, 1, 4, tzinfo=timezone.utc)]),
)
def test_filter_durations_are_accepted_or_refused_never_overflow(name: str, value: Any, now: datetime) -> None:
    try:
        filt = Filter({name: value})
    except (ValueError, TypeError) as exc:
        assert "\n" not in str(exc)
        return
    filt.times(_info(now))  # deciding a session with any accepted value never overflows


@given(
    st.sampled_from(["logon_before", "logon_after"]),
    _MOMENT_VALUES,
    st.sampled_from([_NOW, datetime(9999, 12, 31, tzinfo=timezone.utc), datetime(1601, 1, 4, tzinfo=timezone.utc)]),
)
def test_filter_moments_are_accepted_or_refused_never_overflow(name: str, value: Any, now: datetime) -> None:
    try:
        filt = Filter({name: value})
    except (ValueError, TypeError) as exc:
        assert "\n" not in str(exc)
        return
    filt.times(_info(now))
