"""Tests for the farm-file compiler (wts._farmfile).

The compiled text is the contract with the C simulator, so several tests
pin exact bytes; the validation tests pin exact JSON paths because those
are what users see when a farm file is wrong.
"""

from __future__ import annotations

import calendar
import copy
import datetime as dt
import json
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from wts._farmfile import CompiledFarm, FarmFileError, compile_farm, parse_compiled
from wts._farmfile._generate import LOGON_WINDOW_S

REPO = Path(__file__).resolve().parent.parent
UNIX_EPOCH_TICKS = 116444736000000000
NOW = "2026-11-21T05:00:00Z"


def ticks(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """FILETIME of a UTC instant, computed independently of the module
    (calendar.timegm plus the well-known 1970 offset)."""
    unix = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    return UNIX_EPOCH_TICKS + unix * 10_000_000


NOW_TICKS = ticks(2026, 11, 21, 5)


def one_session(**fields: Any) -> dict[str, Any]:
    """A farm with one server holding one session with the given fields."""
    session = {"id": 2, "state": "Active"}
    session.update(fields)
    return {"servers": [{"name": "RDS01", "sessions": [session]}]}


def session_fields(text: str, server: int = 0, index: int = 0) -> list[str]:
    """The tab-separated fields of one session line of compiled text."""
    current = -1
    seen = -1
    for line in text.split("\n"):
        if line.startswith("server\t"):
            current += 1
            seen = -1
        elif line.startswith("session\t") and current == server:
            seen += 1
            if seen == index:
                return line.split("\t")
    raise AssertionError("no such session line")


def records(text: str, kind: str) -> list[list[str]]:
    return [line.split("\t") for line in text.split("\n") if line.startswith(kind + "\t")]


def full_farm() -> dict[str, Any]:
    """An explicit farm that uses every field at least once."""
    return {
        "seed": 42,
        "now": NOW,
        "local": "rds02",
        "current_session": 3,
        "defaults": {"latency_ms": 2, "jitter_ms": 0.5},
        "servers": [
            {
                "name": "RDS01",
                "fault": "busy",
                "sessions": [
                    {"id": 0, "station": "Services", "state": "Disconnected"},
                    {
                        "id": 2,
                        "station": "RDP-Tcp#0",
                        "state": "WTSActive",
                        "user": "alice",
                        "domain": "CONTOSO",
                        "client": "PC-ALICE",
                        "address": "10.1.2.3",
                        "logon": "2026-11-21T01:00:00Z",
                        "connect": "2026-11-21T01:00:05.25Z",
                        "last_input": "2026-11-21T04:59:00+00:00",
                        "locked": True,
                        "deny": ["logoff", "message"],
                        "reply": "Yes",
                        "password": "s3cret\twith tab",
                    },
                ],
            },
            {
                "name": "RDS02",
                "latency_ms": 12.345,
                "fault": None,
                "sessions": [
                    {
                        "id": 3,
                        "station": "",
                        "state": "disconnected",
                        "user": "bob",
                        "domain": "FABRIKAM",
                        "client": "line1\nline2",
                        "address": "2001:db8::1",
                        "logon": "2026-11-20T08:00:00",
                        "connect": "2026-11-20T08:00:01Z",
                        "disconnect": "2026-11-20T17:30:00Z",
                        "last_input": "2026-11-20T17:29:00Z",
                        "deny": ["connect"],
                        "reply": "timeout",
                        "password": "back\\slash\r",
                    }
                ],
            },
        ],
    }


def gen_farm(**block: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"prefix": "RDS", "count": 3, "sessions": 10}
    spec.update(block)
    return {"seed": 1, "now": NOW, "generate": [spec]}


# ---------------------------------------------------------------------------
# The compiled format
# ---------------------------------------------------------------------------


def test_minimal_farm_compiles_to_exact_text() -> None:
    farm = {
        "now": NOW,
        "servers": [
            {
                "name": "RDS01",
                "latency_ms": 1.5,
                "sessions": [
                    {
                        "id": 2,
                        "station": "RDP-Tcp#0",
                        "state": "Active",
                        "user": "alice",
                        "domain": "CONTOSO",
                        "client": "PC-1",
                        "address": "10.0.0.7",
                        "logon": "2026-11-21T04:00:00Z",
                        "locked": True,
                        "deny": ["logoff"],
                        "reply": "yes",
                        "password": "pw",
                    }
                ],
            }
        ],
    }
    address = "0000" + "0a000007" + "00" * 14
    expected = (
        "WTSSIM\t1\n"
        f"farm\t0\t{NOW_TICKS}\tRDS01\t-1\n"
        "server\tRDS01\t1500\t0\tnone\n"
        f"session\t2\tRDP-Tcp#0\t0\talice\tCONTOSO\tPC-1\t2\t{address}\t"
        f"{ticks(2026, 11, 21, 4)}\t0\t0\t0\t1\t4\t6\tpw\n"
    )
    compiled = compile_farm(farm)
    assert compiled.text == expected
    assert compiled.servers == ("RDS01",)
    assert compiled.sessions == 1


def test_session_defaults() -> None:
    fields = session_fields(compile_farm(one_session()).text)
    assert fields == ["session", "2", "", "0", "", "", "", "0", "", "0", "0", "0", "0", "0", "0", "1", ""]


def test_farm_line_defaults_and_seed_masking() -> None:
    text = compile_farm({"seed": -1, "servers": [{"name": "A"}, {"name": "B"}]}).text
    assert records(text, "farm") == [["farm", str(2**64 - 1), "0", "A", "-1"]]
    text = compile_farm({"seed": 2**64 + 5, "servers": [{"name": "A"}]}).text
    assert records(text, "farm")[0][1] == "5"


def test_local_uses_canonical_name_and_current_session() -> None:
    text = compile_farm(full_farm()).text
    assert records(text, "farm") == [["farm", "42", str(NOW_TICKS), "RDS02", "3"]]


def test_null_top_level_options_mean_default() -> None:
    farm = {"now": None, "local": None, "current_session": None, "servers": [{"name": "A"}]}
    assert records(compile_farm(farm).text, "farm") == [["farm", "0", "0", "A", "-1"]]


def test_text_ends_with_newline_and_has_no_blank_lines() -> None:
    text = compile_farm(full_farm()).text
    assert text.endswith("\n")
    assert "" not in text[:-1].split("\n")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1970-01-01T00:00:00Z", UNIX_EPOCH_TICKS),
        ("1970-01-01T00:00:00", UNIX_EPOCH_TICKS),  # naive means UTC
        ("1970-01-01T01:00:00+01:00", UNIX_EPOCH_TICKS),
        ("1970-01-01", UNIX_EPOCH_TICKS),
        ("1970-01-01T00:00:00.0000001Z", UNIX_EPOCH_TICKS + 1),
        ("1970-01-01T00:00:00.5Z", UNIX_EPOCH_TICKS + 5_000_000),
        ("1970-01-01T00:00:00.123456+00:00", UNIX_EPOCH_TICKS + 1_234_560),
        ("1970-01-01T01:00:00.1234567+01:00", UNIX_EPOCH_TICKS + 1_234_567),
        ("1970-01-01T00:00:00.123456789Z", UNIX_EPOCH_TICKS + 1_234_567),  # beyond 100 ns: truncated
        ("1601-01-01T00:00:00.0000001Z", 1),
        ("2026-11-21T05:00:00Z", NOW_TICKS),
        ("2000-02-29T12:34:56Z", ticks(2000, 2, 29, 12, 34, 56)),
    ],
)
def test_filetime_conversion(value: str, expected: int) -> None:
    assert session_fields(compile_farm(one_session(logon=value)).text)[9] == str(expected)


def test_naive_time_is_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(time, "tzset"):
        pytest.skip("needs time.tzset")
    monkeypatch.setenv("TZ", "EST+05")
    time.tzset()
    try:
        fields = session_fields(compile_farm(one_session(logon="1970-01-01T00:00:00")).text)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert fields[9] == str(UNIX_EPOCH_TICKS)


def test_now_is_compiled_as_filetime() -> None:
    farm = {"now": "1970-01-01T00:00:00Z", "servers": [{"name": "A"}]}
    assert records(compile_farm(farm).text, "farm")[0][2] == str(UNIX_EPOCH_TICKS)


def test_time_fields_go_to_their_columns() -> None:
    farm = one_session(
        logon="2026-01-01T00:00:01Z",
        connect="2026-01-01T00:00:02Z",
        disconnect="2026-01-01T00:00:03Z",
        last_input="2026-01-01T00:00:04Z",
    )
    fields = session_fields(compile_farm(farm).text)
    assert fields[9:13] == [str(ticks(2026, 1, 1, 0, 0, s)) for s in (1, 2, 3, 4)]


@pytest.mark.parametrize(
    ("address", "family", "hexbytes"),
    [
        (None, "0", ""),
        ("192.168.1.2", "2", "0000c0a80102" + "00" * 14),
        ("10.0.0.1", "2", "00000a000001" + "00" * 14),
        ("2001:db8::1", "23", "0000" + "20010db8000000000000000000000001" + "0000"),
        ("::ffff:1.2.3.4", "23", "0000" + "00000000000000000000ffff01020304" + "0000"),
    ],
)
def test_address_encoding(address: str | None, family: str, hexbytes: str) -> None:
    fields = session_fields(compile_farm(one_session(address=address)).text)
    assert fields[7] == family
    assert fields[8] == hexbytes
    assert len(hexbytes) in (0, 40)


def test_string_escaping() -> None:
    farm = one_session(user="a\tb", client="x\ny", password="p\\q\rr\t")
    fields = session_fields(compile_farm(farm).text)
    assert fields[4] == "a\\tb"
    assert fields[6] == "x\\ny"
    assert fields[16] == "p\\\\q\\rr\\t"
    assert len(fields) == 17


@pytest.mark.parametrize("bad", ["A\\B", "RDS*", "*", "a/b", "x:1", "a?", 'q"', "<a>", "a|b"])
def test_server_name_rejects_characters_windows_forbids(bad: str) -> None:
    # '*' also keys rpc_counts()' tally of unknown names, so no server may be called that.
    with pytest.raises(FarmFileError, match=r"servers\[0\]\.name: .* contains"):
        compile_farm({"servers": [{"name": bad}]})


def test_generate_prefix_rejects_characters_windows_forbids() -> None:
    with pytest.raises(FarmFileError, match=r"generate\[0\]\.prefix: .* contains '\*'"):
        compile_farm({"generate": [{"prefix": "RDS*", "count": 1, "sessions": 0}]})


def test_backslash_in_a_string_is_escaped() -> None:
    farm = {"servers": [{"name": "A", "sessions": [{"id": 2, "state": "Active", "user": "a\\b"}]}]}
    text = compile_farm(farm).text
    assert records(text, "session")[0][4] == "a\\\\b"


@pytest.mark.parametrize(
    ("deny", "mask"),
    [
        ([], 0),
        (["query"], 1),
        (["disconnect"], 2),
        (["logoff"], 4),
        (["message"], 8),
        (["connect"], 16),
        (["query", "logoff", "connect", "query"], 21),
        (["Message", "DISCONNECT"], 10),
        (["query", "disconnect", "logoff", "message", "connect"], 31),
    ],
)
def test_deny_bitmask(deny: list[str], mask: int) -> None:
    assert session_fields(compile_farm(one_session(deny=deny)).text)[14] == str(mask)


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        ("ok", 1),
        ("cancel", 2),
        ("abort", 3),
        ("retry", 4),
        ("ignore", 5),
        ("yes", 6),
        ("no", 7),
        ("tryagain", 10),
        ("continue", 11),
        ("timeout", 32000),
        ("TryAgain", 10),
    ],
)
def test_reply_codes(reply: str, code: int) -> None:
    assert session_fields(compile_farm(one_session(reply=reply)).text)[15] == str(code)


@pytest.mark.parametrize(
    ("state", "value"),
    [
        ("Active", 0),
        ("Connected", 1),
        ("ConnectQuery", 2),
        ("Shadow", 3),
        ("Disconnected", 4),
        ("Idle", 5),
        ("Listen", 6),
        ("Reset", 7),
        ("Down", 8),
        ("Init", 9),
        ("WTSDisconnected", 4),
        ("wtsconnectquery", 2),
        ("IDLE", 5),
    ],
)
def test_connect_states(state: str, value: int) -> None:
    assert session_fields(compile_farm(one_session(state=state)).text)[3] == str(value)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, ["0", "0", "none"]),
        ({"latency_ms": 12.345, "jitter_ms": 3}, ["12345", "3000", "none"]),
        ({"latency_ms": 0.0004}, ["0", "0", "none"]),
        ({"latency_ms": 0.0006}, ["1", "0", "none"]),
        ({"fault": "unreachable"}, ["0", "0", "unreachable"]),
        ({"fault": "hang"}, ["0", "0", "hang"]),
        ({"fault": "Busy"}, ["0", "0", "busy"]),
        ({"fault": None}, ["0", "0", "none"]),
    ],
)
def test_server_line(fields: dict[str, Any], expected: list[str]) -> None:
    server = {"name": "S1", **fields}
    assert records(compile_farm({"servers": [server]}).text, "server") == [["server", "S1", *expected]]


def test_defaults_apply_unless_the_server_sets_the_field() -> None:
    farm = {
        "defaults": {"latency_ms": 5, "jitter_ms": 1, "fault": "hang"},
        "servers": [
            {"name": "A"},
            {"name": "B", "latency_ms": 7, "fault": None},
        ],
        "generate": [
            {"prefix": "G", "count": 1, "sessions": 0},
            {"prefix": "H", "count": 1, "sessions": 0, "jitter_ms": 9, "fault": "busy"},
        ],
    }
    assert records(compile_farm(farm).text, "server") == [
        ["server", "A", "5000", "1000", "hang"],
        ["server", "B", "7000", "1000", "none"],
        ["server", "G01", "5000", "1000", "hang"],
        ["server", "H01", "5000", "9000", "busy"],
    ]


def test_limits_at_the_boundary_are_accepted() -> None:
    farm = {
        "servers": [
            {
                "name": "N" * 255,
                "latency_ms": 1_000_000,
                "sessions": [
                    {
                        "id": 4294967294,
                        "state": "Active",
                        "station": "S" * 32,
                        "user": "U" * 20,
                        "domain": "D" * 17,
                        "client": "C" * 20,
                        "password": "P" * 256,
                    },
                    {"id": 0, "state": "Active", "user": "\U0001f600" * 10},  # 20 UTF-16 units
                ],
            }
        ]
    }
    compiled = compile_farm(farm)
    assert compiled.sessions == 2
    assert session_fields(compiled.text)[1] == "4294967294"


def test_messages_key_is_accepted_and_ignored() -> None:
    base = {"servers": [{"name": "A"}]}
    with_messages = dict(base, messages=[{"server": "A", "session": 1, "title": "t"}])
    assert compile_farm(with_messages).text == compile_farm(base).text


# ---------------------------------------------------------------------------
# Validation errors
# ---------------------------------------------------------------------------


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(farm: dict[str, Any]) -> None:
        target: Any = farm
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def mutate(farm: dict[str, Any]) -> None:
        target: Any = farm
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _gen(**block: Any) -> Callable[[dict[str, Any]], None]:
    """Replace the farm's generate list with one block (prefix G, 1 server,
    1 session) changed by the given fields; None deletes a field."""
    spec: dict[str, Any] = {"prefix": "G", "count": 1, "sessions": 1}
    spec.update(block)
    return _set(("generate",), [{k: v for k, v in spec.items() if v is not None}])


S1 = ("servers", 0, "sessions", 1)  # alice's session in full_farm()
S1P = "servers[0].sessions[1]"

INVALID: list[tuple[str, Callable[[dict[str, Any]], None], str | None, str]] = [
    # top level
    ("seed-float", _set(("seed",), 1.0), "seed", "must be an integer, not the number 1.0"),
    ("seed-bool", _set(("seed",), True), "seed", "must be an integer, not true"),
    ("now-bad", _set(("now",), "tomorrow"), "now", "'tomorrow' is not an ISO-8601 date and time"),
    ("now-number", _set(("now",), 0), "now", "must be null or an ISO-8601 date and time, not the number 0"),
    ("local-type", _set(("local",), 1), "local", "must be a string, not the number 1"),
    ("local-missing", _set(("local",), "RDSO1"), "local", "'RDSO1' is not a server of this farm (did you mean RDS01?)"),
    ("local-far", _set(("local",), "zzzzzz"), "local", "'zzzzzz' is not a server of this farm"),
    (
        "current-missing",
        _set(("current_session",), 2),
        "current_session",
        "session 2 does not exist on the local server 'RDS02'",
    ),
    ("current-pseudo", _set(("current_session",), 0xFFFFFFFF), "current_session", "is WTS_CURRENT_SESSION"),
    ("current-negative", _set(("current_session",), -1), "current_session", "must be between 0 and 4294967294"),
    ("defaults-type", _set(("defaults",), []), "defaults", "must be an object, not an array"),
    (
        "defaults-unknown",
        _set(("defaults", "latency"), 1),
        "defaults.latency",
        "unknown field (did you mean latency_ms?)",
    ),
    (
        "defaults-name",
        _set(("defaults", "name"), "x"),
        "defaults.name",
        "unknown field (expected one of latency_ms, jitter_ms, fault, fault_rpcs)",
    ),
    ("defaults-fault", _set(("defaults", "fault"), "down"), "defaults.fault", "'down' is not a fault"),
    ("servers-type", _set(("servers",), {}), "servers", "must be an array, not an object"),
    ("generate-type", _set(("generate",), "x"), "generate", "must be an array, not the string 'x'"),
    ("top-unknown", _set(("sedd",), 1), "sedd", "unknown field (did you mean seed?)"),
    ("top-unknown-odd-key", _set(("my key",), 1), '["my key"]', "unknown field"),
    # servers
    ("server-type", _set(("servers", 0), "RDS01"), "servers[0]", "must be an object, not the string 'RDS01'"),
    (
        "server-unknown",
        _set(("servers", 0, "latncy_ms"), 1),
        "servers[0].latncy_ms",
        "unknown field (did you mean latency_ms?)",
    ),
    ("server-no-name", _delete(("servers", 0, "name")), "servers[0]", "missing required field 'name'"),
    ("name-type", _set(("servers", 0, "name"), 5), "servers[0].name", "must be a string, not the number 5"),
    ("name-empty", _set(("servers", 0, "name"), ""), "servers[0].name", "must not be empty"),
    ("name-space", _set(("servers", 0, "name"), "RDS 1"), "servers[0].name", "contains whitespace"),
    ("name-tab", _set(("servers", 0, "name"), "RDS\t1"), "servers[0].name", "contains whitespace"),
    ("name-long", _set(("servers", 0, "name"), "N" * 256), "servers[0].name", "is 256 characters long; at most 255"),
    ("name-control", _set(("servers", 0, "name"), "A\x00"), "servers[0].name", "control character U+0000"),
    (
        "name-duplicate",
        _set(("servers", 1, "name"), "rds01"),
        "servers[1].name",
        "'rds01' is already the name of servers[0] ('RDS01'; server names are case-insensitive)",
    ),
    (
        "latency-negative",
        _set(("servers", 0, "latency_ms"), -1),
        "servers[0].latency_ms",
        "must be between 0 and 1000000, not -1",
    ),
    ("latency-huge", _set(("servers", 0, "latency_ms"), 1e7), "servers[0].latency_ms", "must be between 0 and 1000000"),
    (
        "latency-nan",
        _set(("servers", 0, "latency_ms"), float("nan")),
        "servers[0].latency_ms",
        "must be a finite number",
    ),
    (
        "latency-string",
        _set(("servers", 0, "latency_ms"), "5"),
        "servers[0].latency_ms",
        "must be a number, not the string '5'",
    ),
    ("jitter-bool", _set(("servers", 0, "jitter_ms"), False), "servers[0].jitter_ms", "must be a number, not false"),
    (
        "fault-bad",
        _set(("servers", 0, "fault"), "hung"),
        "servers[0].fault",
        "'hung' is not a fault (expected null or one of unreachable, hang, busy)",
    ),
    ("fault-type", _set(("servers", 0, "fault"), True), "servers[0].fault", "must be null or a fault name, not true"),
    ("sessions-type", _set(("servers", 0, "sessions"), {}), "servers[0].sessions", "must be an array, not an object"),
    # sessions
    ("session-type", _set(S1, 7), S1P, "must be an object, not the number 7"),
    ("session-unknown", _set((*S1, "usr"), "x"), f"{S1P}.usr", "unknown field (did you mean user?)"),
    ("session-no-id", _delete((*S1, "id")), S1P, "missing required field 'id'"),
    ("session-no-state", _delete((*S1, "state")), S1P, "missing required field 'state'"),
    ("id-float", _set((*S1, "id"), 2.0), f"{S1P}.id", "must be an integer, not the number 2.0"),
    ("id-bool", _set((*S1, "id"), True), f"{S1P}.id", "must be an integer, not true"),
    ("id-negative", _set((*S1, "id"), -1), f"{S1P}.id", "must be between 0 and 4294967294, not -1"),
    (
        "id-current",
        _set((*S1, "id"), 4294967295),
        f"{S1P}.id",
        "4294967295 is WTS_CURRENT_SESSION, not a real session id",
    ),
    ("id-huge", _set((*S1, "id"), 2**32), f"{S1P}.id", "must be between 0 and 4294967294"),
    ("id-duplicate", _set((*S1, "id"), 0), f"{S1P}.id", "session id 0 is already used by servers[0].sessions[0]"),
    (
        "station-long",
        _set((*S1, "station"), "S" * 33),
        f"{S1P}.station",
        "is 33 characters long; at most 32 are allowed (WINSTATIONNAME_LENGTH)",
    ),
    (
        "station-duplicate",
        _set((*S1, "station"), "SERVICES"),
        f"{S1P}.station",
        "'SERVICES' is already the station of servers[0].sessions[0] "
        "(station names are unique per server, case-insensitively)",
    ),
    ("station-type", _set((*S1, "station"), None), f"{S1P}.station", "must be a string, not null"),
    (
        "state-typo",
        _set((*S1, "state"), "Actve"),
        f"{S1P}.state",
        "'Actve' is not a connect state (expected one of Active, Connected, ConnectQuery, Shadow, "
        "Disconnected, Idle, Listen, Reset, Down, Init)",
    ),
    ("state-int", _set((*S1, "state"), 0), f"{S1P}.state", "must be a connect state name (a string), not the number 0"),
    (
        "user-long",
        _set((*S1, "user"), "u" * 21),
        f"{S1P}.user",
        "is 21 characters long; at most 20 are allowed (USERNAME_LENGTH)",
    ),
    ("user-wide", _set((*S1, "user"), "\U0001f600" * 11), f"{S1P}.user", "is 22 characters long; at most 20"),
    ("user-surrogate", _set((*S1, "user"), "a\ud800"), f"{S1P}.user", "lone surrogate U+D800"),
    ("user-control", _set((*S1, "user"), "a\x1fb"), f"{S1P}.user", "control character U+001F"),
    ("domain-long", _set((*S1, "domain"), "d" * 18), f"{S1P}.domain", "at most 17 are allowed (DOMAIN_LENGTH)"),
    ("client-long", _set((*S1, "client"), "c" * 21), f"{S1P}.client", "at most 20 are allowed (CLIENTNAME_LENGTH)"),
    (
        "address-bad",
        _set((*S1, "address"), "10.0.0.256"),
        f"{S1P}.address",
        "'10.0.0.256' is not an IPv4 or IPv6 address",
    ),
    ("address-int", _set((*S1, "address"), 167772161), f"{S1P}.address", "must be null or an IP address string"),
    ("address-scope", _set((*S1, "address"), "fe80::1%eth0"), f"{S1P}.address", "has a scope id"),
    ("logon-bad", _set((*S1, "logon"), "yesterday"), f"{S1P}.logon", "'yesterday' is not an ISO-8601 date and time"),
    (
        "connect-bad-day",
        _set((*S1, "connect"), "2026-02-30T00:00:00Z"),
        f"{S1P}.connect",
        "is not an ISO-8601 date and time",
    ),
    ("disconnect-int", _set((*S1, "disconnect"), 5), f"{S1P}.disconnect", "must be null or an ISO-8601 date and time"),
    (
        "last-input-old",
        _set((*S1, "last_input"), "1500-01-01T00:00:00Z"),
        f"{S1P}.last_input",
        "is not after 1601-01-01T00:00:00Z",
    ),
    ("logon-epoch", _set((*S1, "logon"), "1601-01-01T00:00:00Z"), f"{S1P}.logon", "the FILETIME epoch"),
    ("locked-int", _set((*S1, "locked"), 1), f"{S1P}.locked", "must be true or false, not the number 1"),
    ("deny-type", _set((*S1, "deny"), "query"), f"{S1P}.deny", "must be an array, not the string 'query'"),
    (
        "deny-unknown",
        _set((*S1, "deny"), ["query", "kill"]),
        f"{S1P}.deny[1]",
        "'kill' is not an operation that can be denied",
    ),
    ("deny-item-type", _set((*S1, "deny"), [1]), f"{S1P}.deny[0]", "must be an operation name, not the number 1"),
    ("reply-bad", _set((*S1, "reply"), "maybe"), f"{S1P}.reply", "'maybe' is not a message-box reply"),
    ("reply-int", _set((*S1, "reply"), 1), f"{S1P}.reply", "must be a reply name (a string), not the number 1"),
    ("password-type", _set((*S1, "password"), 123), f"{S1P}.password", "must be a string, not the number 123"),
    ("password-long", _set((*S1, "password"), "p" * 257), f"{S1P}.password", "at most 256 are allowed (passwords)"),
    ("password-control", _set((*S1, "password"), "a\x07"), f"{S1P}.password", "control character U+0007"),
    # generate
    ("gen-type", _set(("generate",), [3]), "generate[0]", "must be an object, not the number 3"),
    ("gen-unknown", _gen(sesions=2), "generate[0].sesions", "unknown field (did you mean sessions?)"),
    ("gen-no-prefix", _gen(prefix=None), "generate[0]", "missing required field 'prefix'"),
    ("gen-no-count", _gen(count=None), "generate[0]", "missing required field 'count'"),
    ("gen-no-sessions", _gen(sessions=None), "generate[0]", "missing required field 'sessions'"),
    ("gen-prefix-space", _gen(prefix="G "), "generate[0].prefix", "contains whitespace"),
    ("gen-count-zero", _gen(count=0), "generate[0].count", "must be >= 1, not 0"),
    ("gen-sessions-negative", _gen(sessions=-1), "generate[0].sessions", "must be between 0 and 65534, not -1"),
    ("gen-sessions-listener", _gen(sessions=65535), "generate[0].sessions", "must be between 0 and 65534"),
    ("gen-start-negative", _gen(start=-1), "generate[0].start", "must be >= 0, not -1"),
    ("gen-digits-zero", _gen(digits=0), "generate[0].digits", "must be between 1 and 255, not 0"),
    (
        "gen-name-long",
        _gen(prefix="G" * 250, digits=6),
        "generate[0]",
        "generated server names would be 256 characters long",
    ),
    ("gen-fraction", _gen(disconnected=1.5), "generate[0].disconnected", "must be between 0 and 1, not 1.5"),
    ("gen-locked", _gen(locked=-0.1), "generate[0].locked", "must be between 0 and 1, not -0.1"),
    (
        "gen-system",
        _gen(system_sessions="yes"),
        "generate[0].system_sessions",
        "must be true or false, not the string 'yes'",
    ),
    ("gen-domain", _gen(domain="D" * 18), "generate[0].domain", "DOMAIN_LENGTH"),
    ("gen-fault", _gen(fault="x"), "generate[0].fault", "'x' is not a fault"),
    (
        "gen-clash-explicit",
        _gen(prefix="rds", count=2, sessions=0),
        "generate[0]",
        "generated server name 'rds01' is already the name of servers[0] ('RDS01'; server names are case-insensitive)",
    ),
    (
        "gen-clash-block",
        _set(
            ("generate",),
            [{"prefix": "G", "count": 3, "sessions": 0}, {"prefix": "G", "count": 1, "sessions": 0, "start": 3}],
        ),
        "generate[1]",
        "generated server name 'G03' is already the name of generate[0]",
    ),
    (
        "gen-too-early",
        lambda farm: farm.update(now="1601-01-02T00:00:00Z", generate=[{"prefix": "G", "count": 1, "sessions": 1}]),
        "now",
        "'1601-01-02T00:00:00Z' is too early for generated sessions",
    ),
    # farm as a whole
    (
        "no-servers",
        lambda farm: farm.update(servers=[], local=None, current_session=None),
        None,
        "the farm has no servers (add 'servers' or 'generate')",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path", "reason"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID]
)
def test_validation_errors(mutate: Callable[[dict[str, Any]], None], path: str | None, reason: str) -> None:
    farm = full_farm()
    mutate(farm)
    with pytest.raises(FarmFileError) as info:
        compile_farm(farm)
    err = info.value
    assert err.source == "<dict>"
    assert err.path == path
    assert reason in err.reason
    assert err.line is None and err.column is None
    where = "<dict>" if path is None else f"<dict>: {path}"
    assert str(err) == f"{where}: {err.reason}"
    assert "\n" not in str(err)


def test_full_farm_is_valid() -> None:
    # The base of the validation table must itself compile, otherwise the
    # table would pass for the wrong reason.
    compiled = compile_farm(full_farm())
    assert compiled.servers == ("RDS01", "RDS02")
    assert compiled.sessions == 3


def test_exact_message_for_state_typo() -> None:
    farm = one_session(state="Actve")
    with pytest.raises(FarmFileError) as info:
        compile_farm(farm)
    assert str(info.value) == (
        "<dict>: servers[0].sessions[0].state: 'Actve' is not a connect state (expected one of "
        "Active, Connected, ConnectQuery, Shadow, Disconnected, Idle, Listen, Reset, Down, Init)"
    )


def test_first_error_wins() -> None:
    farm = {"servers": [{"name": "A", "sessions": [{"id": -1, "state": "bogus"}]}, {"name": ""}]}
    with pytest.raises(FarmFileError) as info:
        compile_farm(farm)
    assert info.value.path == "servers[0].sessions[0].id"


def test_top_level_must_be_an_object(tmp_path: Path) -> None:
    path = tmp_path / "farm.json"
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(FarmFileError) as info:
        compile_farm(path)
    assert str(info.value) == f"{path}: the farm must be a JSON object, not an array"
    assert info.value.path is None


def test_non_mapping_non_path_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        compile_farm([{"name": "A"}])  # type: ignore[arg-type]


def test_does_not_modify_the_input() -> None:
    farm = full_farm()
    before = copy.deepcopy(farm)
    compile_farm(farm)
    assert farm == before


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def test_file_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "farm.json"
    path.write_text('{\n  "servers": [\n    {"name": "A"}\n    {"name": "B"}\n  ]\n}\n', encoding="utf-8")
    with pytest.raises(FarmFileError) as info:
        compile_farm(path)
    err = info.value
    assert (err.source, err.line, err.column, err.path) == (str(path), 4, 5, None)
    assert err.reason == "Expecting ',' delimiter"
    assert str(err) == f"{path}:4:5: Expecting ',' delimiter"


def test_file_validation_error_names_file_and_path(tmp_path: Path) -> None:
    path = tmp_path / "farm.json"
    path.write_text(json.dumps(one_session(state="Actve")), encoding="utf-8")
    with pytest.raises(FarmFileError) as info:
        compile_farm(str(path))
    assert str(info.value).startswith(f"{path}: servers[0].sessions[0].state: 'Actve' is not a connect state")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "farm.json"
    with pytest.raises(FarmFileError) as info:
        compile_farm(path)
    assert str(info.value) == f"{path}: cannot read: [Errno 2] No such file or directory"
    assert info.value.source == str(path)


def test_relative_path_is_reported_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FarmFileError) as info:
        compile_farm("farm.json")
    assert str(info.value) == "farm.json: cannot read: [Errno 2] No such file or directory"


def test_file_duplicate_key(tmp_path: Path) -> None:
    path = tmp_path / "farm.json"
    path.write_text('{"servers": [{"name": "A", "latency_ms": 1, "latency_ms": 2}]}', encoding="utf-8")
    with pytest.raises(FarmFileError) as info:
        compile_farm(path)
    assert info.value.path == "servers[0].latency_ms"
    assert info.value.reason == "field is given more than once"


def test_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "farm.json"
    path.write_bytes(b'{"servers": [\n {"name": "\xff"}]}')
    with pytest.raises(FarmFileError) as info:
        compile_farm(path)
    assert (info.value.line, info.value.column) == (2, 12)
    assert "not valid UTF-8" in info.value.reason


def test_file_with_bom_and_non_ascii(tmp_path: Path) -> None:
    path = tmp_path / "farm.json"
    farm = one_session(user="Jürgen")
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(farm, ensure_ascii=False).encode("utf-8"))
    assert compile_farm(path).text == compile_farm(farm).text
    assert "\tJürgen\t" in compile_farm(path).text


def test_file_nan_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "farm.json"
    path.write_text('{"servers": [{"name": "A", "jitter_ms": NaN}]}', encoding="utf-8")
    with pytest.raises(FarmFileError) as info:
        compile_farm(path)
    assert info.value.path == "servers[0].jitter_ms"


def test_error_pickles() -> None:
    err = FarmFileError("farm.json", "bad", path="servers[0]", line=None, column=None)
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.source, clone.path, clone.reason, str(clone)) == ("farm.json", "servers[0]", "bad", str(err))
    assert isinstance(clone, ValueError)


def test_public_names_keep_their_public_module() -> None:
    # Pickles and tracebacks name wts._farmfile, not the private module inside the package.
    assert (FarmFileError.__module__, CompiledFarm.__module__) == ("wts._farmfile", "wts._farmfile")
    assert b"wts._farmfile\x94\x8c\rFarmFileError" in pickle.dumps(FarmFileError("f", "bad"), protocol=4)


def test_import_wts_leaves_the_compiler_unloaded() -> None:
    # wts.sim loads the compiler (json, ipaddress, dataclasses) on first use only, for import time.
    code = "import sys, wts; print(sorted(m for m in sys.modules if m.startswith('wts._farmfile')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


def servers_of(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """(server fields, [session fields...]) per server line."""
    result: list[tuple[list[str], list[list[str]]]] = []
    for line in text.split("\n"):
        fields = line.split("\t")
        if fields[0] == "server":
            result.append((fields, []))
        elif fields[0] == "session":
            result[-1][1].append(fields)
    return result


def test_generation_is_deterministic() -> None:
    farm = gen_farm(count=5, sessions=20)
    assert compile_farm(farm).text == compile_farm(copy.deepcopy(farm)).text


def test_generation_depends_on_seed() -> None:
    a = gen_farm(count=5, sessions=20)
    b = dict(a, seed=2)
    assert compile_farm(a).text.split("\n", 2)[2] != compile_farm(b).text.split("\n", 2)[2]


def test_blocks_get_independent_random_streams() -> None:
    farm = {
        "now": NOW,
        "generate": [
            {"prefix": "A", "count": 1, "sessions": 10},
            {"prefix": "B", "count": 1, "sessions": 10},
        ],
    }
    (_, a), (_, b) = servers_of(compile_farm(farm).text)
    assert [s[9:] for s in a] != [s[9:] for s in b]


def test_generated_structure() -> None:
    compiled = compile_farm(gen_farm(count=3, sessions=10))
    servers = servers_of(compiled.text)
    assert [s[0] for s in servers] == [["server", f"RDS0{i}", "0", "0", "none"] for i in (1, 2, 3)]
    assert compiled.servers == ("RDS01", "RDS02", "RDS03")
    assert compiled.sessions == 3 * 13
    for _, sessions in servers:
        ids = [int(s[1]) for s in sessions]
        assert ids == [0, 1, *range(2, 12), 65536]
        system = {int(s[1]): s for s in sessions if int(s[1]) in (0, 1, 65536)}
        assert system[0][2:5] == ["Services", "4", ""]
        assert system[1][2:5] == ["Console", "1", ""]
        assert system[65536][2:5] == ["RDP-Tcp", "6", ""]
        users = [s for s in sessions if 2 <= int(s[1]) < 65536]
        states = [s[3] for s in users]
        assert states.count("4") == 2  # round(0.2 * 10)
        assert states.count("0") == 8
        assert sum(1 for s in users if s[13] == "1") == 1  # round(0.1 * 8) locked
        stations = [s[2] for s in sessions if s[2]]
        assert len({st.lower() for st in stations}) == len(stations)
        for s in users:
            if s[3] == "4":
                assert s[2] == ""
                assert s[11] != "0"
                assert s[13] == "0"
            else:
                assert re.fullmatch(r"RDP-Tcp#\d+", s[2])
                assert s[11] == "0"
        assert len({s[4] for s in users}) == len(users)  # no user twice on a server


def test_generated_session_fields() -> None:
    (_, sessions), *_ = servers_of(compile_farm(gen_farm(count=1, sessions=50)).text)
    window = LOGON_WINDOW_S * 10_000_000  # a week (item 28 of issue 12 widened it from 3 days)
    for s in sessions:
        assert len(s) == 17
        if not 2 <= int(s[1]) < 65536:
            assert s[4:13] == ["", "", "", "0", "", "0", "0", "0", "0"]
            continue
        assert re.fullmatch(r"user\d{4}", s[4])
        assert s[5] == "CONTOSO"
        assert re.fullmatch(r"PC-[0-9A-F]{4}", s[6])
        assert s[7] == "2"
        raw = bytes.fromhex(s[8])
        assert len(raw) == 20 and raw[:3] == b"\0\0\x0a" and raw[6:] == bytes(14)
        assert 1 <= raw[5] <= 254
        logon, connect, disconnect, last_input = (int(x) for x in s[9:13])
        assert NOW_TICKS - window <= logon < connect < last_input < NOW_TICKS
        # Active: used at least 10 s ago (some under a minute, quser's "."); disconnected at least a minute ago.
        assert NOW_TICKS - last_input >= 10 * 10_000_000
        if disconnect:
            assert connect < disconnect <= NOW_TICKS - 60 * 10_000_000
            assert last_input <= disconnect
        assert s[14:] == ["0", "1", ""]


def test_users_are_shared_across_servers() -> None:
    servers = servers_of(compile_farm(gen_farm(count=10, sessions=20)).text)
    seen: dict[str, set[str]] = {}
    for server, sessions in servers:
        for s in sessions:
            if s[4]:
                seen.setdefault(s[4], set()).add(server[1])
    assert any(len(hosts) > 1 for hosts in seen.values())
    # The pool is about two thirds of the 200 user sessions.
    assert len(seen) <= (2 * 200 + 2) // 3


def test_user_pool_spans_blocks() -> None:
    farm = {
        "now": NOW,
        "generate": [
            {"prefix": "A", "count": 5, "sessions": 20},
            {"prefix": "B", "count": 5, "sessions": 20},
        ],
    }
    users: dict[str, set[str]] = {}
    for server, sessions in servers_of(compile_farm(farm).text):
        for s in sessions:
            if s[4]:
                users.setdefault(s[4], set()).add(server[1][0])
    assert any(blocks == {"A", "B"} for blocks in users.values())


def test_generate_without_system_sessions() -> None:
    servers = servers_of(compile_farm(gen_farm(count=1, sessions=3, system_sessions=False)).text)
    assert [int(s[1]) for s in servers[0][1]] == [2, 3, 4]


@pytest.mark.parametrize(
    ("sessions", "disconnected", "locked", "n_disconnected", "n_locked"),
    [
        (5, 0.5, 0.5, 3, 1),  # 2.5 -> 3 disconnected; 2 active * 0.5 = 1 locked
        (10, 0.25, 0.25, 3, 2),  # 2.5 -> 3; 7 * 0.25 = 1.75 -> 2
        (10, 0.24, 0.0, 2, 0),
        (7, 0.0, 0.5, 0, 4),  # 3.5 -> 4
    ],
)
def test_generate_fraction_rounding(
    sessions: int, disconnected: float, locked: float, n_disconnected: int, n_locked: int
) -> None:
    farm = gen_farm(count=2, sessions=sessions, disconnected=disconnected, locked=locked)
    for _, rows in servers_of(compile_farm(farm).text):
        users = [s for s in rows if s[4]]
        assert sum(s[3] == "4" for s in users) == n_disconnected
        assert sum(s[13] == "1" for s in users) == n_locked


def test_generate_fractions() -> None:
    farm = gen_farm(count=1, sessions=10, disconnected=0, locked=1)
    ((_, sessions),) = servers_of(compile_farm(farm).text)
    users = [s for s in sessions if s[4]]
    assert all(s[3] == "0" and s[13] == "1" for s in users)
    farm = gen_farm(count=1, sessions=10, disconnected=1)
    ((_, sessions),) = servers_of(compile_farm(farm).text)
    assert all(s[3] == "4" for s in sessions if s[4])


@pytest.mark.parametrize(
    ("block", "names"),
    [
        ({"count": 3}, ["RDS01", "RDS02", "RDS03"]),
        ({"count": 3, "start": 9}, ["RDS09", "RDS10", "RDS11"]),
        ({"count": 3, "start": 98}, ["RDS098", "RDS099", "RDS100"]),
        ({"count": 2, "start": 0, "digits": 4}, ["RDS0000", "RDS0001"]),
        ({"count": 2, "start": 99, "digits": 1}, ["RDS99", "RDS100"]),
        ({"count": 1, "prefix": ""}, ["01"]),
    ],
)
def test_generated_names(block: dict[str, Any], names: list[str]) -> None:
    assert list(compile_farm(gen_farm(sessions=0, **block)).servers) == names


def test_generated_domain_and_delays() -> None:
    farm = gen_farm(count=1, sessions=2, domain="FAB\tRIKAM", latency_ms=3, jitter_ms=1.25, fault="unreachable")
    ((server, sessions),) = servers_of(compile_farm(farm).text)
    assert server == ["server", "RDS01", "3000", "1250", "unreachable"]
    assert {s[5] for s in sessions if s[4]} == {"FAB\\tRIKAM"}


def test_explicit_servers_come_first_and_local_can_be_generated() -> None:
    farm = {
        "now": NOW,
        "local": "rds02",
        "current_session": 65536,
        "servers": [{"name": "DC01"}],
        "generate": [{"prefix": "RDS", "count": 2, "sessions": 1}],
    }
    compiled = compile_farm(farm)
    assert compiled.servers == ("DC01", "RDS01", "RDS02")
    assert records(compiled.text, "farm")[0][3:] == ["RDS02", "65536"]
    with pytest.raises(FarmFileError) as info:
        compile_farm(dict(farm, current_session=3))
    assert info.value.path == "current_session"


def test_generation_without_now_uses_the_real_clock() -> None:
    farm = {"generate": [{"prefix": "RDS", "count": 1, "sessions": 5}]}
    before = dt.datetime.now(dt.timezone.utc)
    text = compile_farm(farm).text
    after = dt.datetime.now(dt.timezone.utc)
    assert records(text, "farm")[0][2] == "0"
    low = UNIX_EPOCH_TICKS + int((before.timestamp() - LOGON_WINDOW_S - 1) * 10_000_000)
    high = UNIX_EPOCH_TICKS + int((after.timestamp() + 1) * 10_000_000)
    logons = [int(s[9]) for s in records(text, "session") if s[4]]
    assert logons and all(low <= t <= high for t in logons)


def test_generation_at_scale() -> None:
    # Its speed is measured by the benchmarks, never asserted here.
    farm = {"seed": 3, "now": NOW, "generate": [{"prefix": "RDS", "count": 1000, "sessions": 100}]}
    compiled = compile_farm(farm)
    assert compiled.sessions == 1000 * 103
    assert len(compiled.servers) == 1000 and compiled.servers[-1] == "RDS1000"


# ---------------------------------------------------------------------------
# parse_compiled and round trips
# ---------------------------------------------------------------------------


def test_parse_compiled_values() -> None:
    farm = parse_compiled(compile_farm(full_farm()).text)
    assert set(farm) == {"seed", "now", "local", "current_session", "servers", "messages"}
    assert (farm["seed"], farm["now"], farm["local"], farm["current_session"]) == (42, NOW, "RDS02", 3)
    assert farm["messages"] == []
    rds01, rds02 = farm["servers"]
    assert (rds01["name"], rds01["latency_ms"], rds01["jitter_ms"], rds01["fault"]) == ("RDS01", 2, 0.5, "busy")
    assert isinstance(rds01["latency_ms"], int)
    assert (rds02["latency_ms"], rds02["fault"]) == (12.345, None)
    alice = rds01["sessions"][1]
    assert alice == {
        "id": 2,
        "station": "RDP-Tcp#0",
        "state": "Active",
        "user": "alice",
        "domain": "CONTOSO",
        "client": "PC-ALICE",
        "address": "10.1.2.3",
        "logon": "2026-11-21T01:00:00Z",
        "connect": "2026-11-21T01:00:05.25Z",
        "disconnect": None,
        "last_input": "2026-11-21T04:59:00Z",
        "locked": True,
        "deny": ["logoff", "message"],
        "reply": "yes",
        "password": "s3cret\twith tab",
    }
    bob = rds02["sessions"][0]
    assert bob["state"] == "Disconnected"
    assert bob["client"] == "line1\nline2"
    assert bob["address"] == "2001:db8::1"
    assert bob["logon"] == "2026-11-20T08:00:00Z"
    assert bob["deny"] == ["connect"]
    assert bob["reply"] == "timeout"
    assert bob["password"] == "back\\slash\r"
    json.dumps(farm)  # JSON-able


def test_round_trip_explicit() -> None:
    text = compile_farm(full_farm()).text
    parsed = parse_compiled(text)
    assert compile_farm(parsed).text == text
    assert parse_compiled(compile_farm(parsed).text) == parsed


def test_round_trip_generated_through_json() -> None:
    text = compile_farm(gen_farm(count=4, sessions=25)).text
    assert compile_farm(json.loads(json.dumps(parse_compiled(text)))).text == text


def test_round_trip_seven_digit_fractions() -> None:
    text = compile_farm(one_session(logon="2026-11-21T05:00:00.1234567Z", connect="2026-11-21T05:00:00.1Z")).text
    parsed = parse_compiled(text)
    assert parsed["servers"][0]["sessions"][0]["logon"] == "2026-11-21T05:00:00.1234567Z"
    assert parsed["servers"][0]["sessions"][0]["connect"] == "2026-11-21T05:00:00.1Z"
    assert compile_farm(parsed).text == text


def test_parse_messages_and_crlf() -> None:
    text = compile_farm(one_session()).text
    dump = text + "message\tRDS01\t2\tHi\\tthere\tline1\\nline2\t4\t30\t1\t6\n"
    parsed = parse_compiled(dump.replace("\n", "\r\n"))
    assert parsed["messages"] == [
        {
            "server": "RDS01",
            "session": 2,
            "title": "Hi\tthere",
            "text": "line1\nline2",
            "style": 4,
            "timeout": 30,
            "wait": True,
            "response": 6,
        }
    ]
    assert compile_farm(parsed).text == text


def test_parse_accepts_missing_trailing_newline() -> None:
    text = compile_farm(one_session()).text
    assert parse_compiled(text.rstrip("\n")) == parse_compiled(text)


HEAD = "WTSSIM\t1\nfarm\t0\t0\tA\t-1\n"
SERVER = "server\tA\t0\t0\tnone\n"
GOOD_SESSION = ["session", "2", "", "0", "", "", "", "0", "", "0", "0", "0", "0", "0", "0", "1", ""]


def session_line(**changes: str) -> str:
    """GOOD_SESSION with some fields replaced, by index name f<N>."""
    fields = list(GOOD_SESSION)
    for key, value in changes.items():
        fields[int(key[1:])] = value
    return "\t".join(fields) + "\n"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("", 1, "not a compiled farm"),
        ("hello\n", 1, "not a compiled farm"),
        ("WTSSIM\t2\n", 1, "unsupported format version"),
        ("WTSSIM\t1\n" + SERVER, 2, "server line before the farm line"),
        ("WTSSIM\t1\n", 2, "no farm line"),
        (HEAD + "farm\t0\t0\tA\t-1\n", 3, "second farm line"),
        (HEAD + session_line(), 3, "session line before any server line"),
        (HEAD + "server\tA\t0\t0\n", 3, "server line has 4 fields, expected 5"),
        (HEAD + "server\tA\t0\t0\tdown\n", 3, "unknown fault 'down'"),
        (HEAD + "server\tA\t+5\t0\tnone\n", 3, "latency '+5' is not an integer"),
        (HEAD + "server\tA\t-5\t0\tnone\n", 3, "latency -5 is out of range"),
        (HEAD + "server\tA\\x\t0\t0\tnone\n", 3, "server name contains an unknown escape \\x"),
        (HEAD + "server\tA\\\t0\t0\tnone\n", 3, "server name ends with a lone backslash"),
        (HEAD + "bogus\t1\n", 3, "unknown record type 'bogus'"),
        (HEAD + SERVER + session_line(f1="4294967295"), 4, "session id 4294967295 is out of range"),
        (HEAD + SERVER + session_line(f3="10"), 4, "state 10 is out of range"),
        (HEAD + SERVER + session_line(f15="9"), 4, "reply 9 is not a known message-box answer"),
        (HEAD + SERVER + session_line(f14="64"), 4, "deny mask 64 has unknown bits"),
        (HEAD + SERVER + session_line(f13="2"), 4, "locked flag 2 is out of range"),
        (HEAD + SERVER + session_line(f9="x"), 4, "logon time 'x' is not an integer"),
        (HEAD + SERVER + session_line(f7="2", f8="zz"), 4, "address is not 40 hex digits"),
        (HEAD + SERVER + session_line(f7="2", f8="ff" * 20), 4, "non-zero bytes outside Address[2..5]"),
        (HEAD + SERVER + session_line(f7="0", f8="0a" * 20), 4, "address bytes given for address family 0"),
        (HEAD + SERVER + session_line(f7="7", f8="00" * 20), 4, "address family 7"),
        (HEAD + SERVER + session_line()[:-2] + "\n", 4, "session line has 16 fields, expected 17"),
    ],
)
def test_parse_errors(text: str, line: int, reason: str) -> None:
    with pytest.raises(FarmFileError) as info:
        parse_compiled(text)
    assert info.value.source == "<compiled>"
    assert info.value.line == line
    assert reason in info.value.reason
    assert str(info.value) == f"<compiled>:{line}: {info.value.reason}"


def test_parse_good_session_line_is_valid() -> None:
    # Guards test_parse_errors: the unmodified line must parse.
    farm = parse_compiled(HEAD + SERVER + session_line())
    assert farm["servers"][0]["sessions"][0]["id"] == 2


def test_compiled_farm_is_frozen() -> None:
    compiled = compile_farm(one_session())
    assert isinstance(compiled, CompiledFarm)
    with pytest.raises(AttributeError):
        compiled.text = ""  # type: ignore[misc]


# ---------------------------------------------------------------------------
# Shipped examples
# ---------------------------------------------------------------------------


def test_example_farm_file_compiles() -> None:
    compiled = compile_farm(REPO / "examples" / "farm.json")
    assert compiled.servers
    assert compiled.text == compile_farm(REPO / "examples" / "farm.json").text


def test_doc_farm_examples_compile() -> None:
    doc = (REPO / "docs" / "sim.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", doc, re.DOTALL)
    farms = [json.loads(block) for block in blocks]
    farms = [farm for farm in farms if "servers" in farm or "generate" in farm]
    assert farms, "docs/sim.md has no complete farm example"
    for farm in farms:
        compile_farm(farm)


def test_doc_example_is_the_example_file() -> None:
    doc = (REPO / "docs" / "sim.md").read_text(encoding="utf-8")
    first = re.findall(r"```json\n(.*?)```", doc, re.DOTALL)[0]
    example = (REPO / "examples" / "farm.json").read_text(encoding="utf-8")
    assert json.loads(first) == json.loads(example)


# --- fault_rpcs: a fault that hits only the first N RPCs (a transient fault) -------------------------


def test_fault_rpcs_compiles_into_the_fault_field_and_reads_back() -> None:
    farm = compile_farm(
        {
            "defaults": {"fault": "busy", "fault_rpcs": 3},
            "servers": [
                {"name": "A", "fault_rpcs": 2},
                {"name": "B"},
                {"name": "C", "fault": None},
                {"name": "D", "fault": "unreachable"},
            ],
        }
    )
    servers = [line.split("\t") for line in farm.text.splitlines() if line.startswith("server\t")]
    assert [(f[1], f[4]) for f in servers] == [("A", "busy:2"), ("B", "busy:3"), ("C", "none"), ("D", "unreachable:3")]
    back = {s["name"]: s for s in parse_compiled(farm.text)["servers"]}
    assert (back["A"]["fault"], back["A"]["fault_rpcs"]) == ("busy", 2)
    assert back["C"]["fault"] is None and "fault_rpcs" not in back["C"]


@pytest.mark.parametrize(
    ("farm", "path", "reason"),
    [
        (
            {"servers": [{"name": "A", "fault_rpcs": 2}]},
            "servers[0].fault_rpcs",
            "limits a fault, but this server has none",
        ),
        ({"servers": [{"name": "A", "fault": "busy", "fault_rpcs": 0}]}, "servers[0].fault_rpcs", "between 1 and"),
        (
            {"servers": [{"name": "A", "fault": "busy", "fault_rpcs": 1.5}]},
            "servers[0].fault_rpcs",
            "must be an integer",
        ),
        ({"defaults": {"fault_rpcs": True}}, "defaults.fault_rpcs", "must be an integer"),
    ],
)
def test_fault_rpcs_validation(farm: dict[str, Any], path: str, reason: str) -> None:
    with pytest.raises(FarmFileError) as info:
        compile_farm(farm)
    assert info.value.path == path
    assert reason in info.value.reason


def test_fault_rpcs_in_the_simulator_then_the_server_recovers() -> None:
    import wts

    wts.sim.load(
        {"servers": [{"name": "A", "fault": "busy", "fault_rpcs": 2, "sessions": [{"id": 2, "state": "active"}]}]}
    )
    with wts.Server("A", provider="sim") as server:
        for left in (1, 0):
            with pytest.raises(wts.ServerUnavailableError) as info:
                server.sessions()
            assert info.value.winerror == 1723
            dumped = wts.sim.dump()["servers"][0]
            assert dumped["fault"] == ("busy" if left else None)
            assert dumped.get("fault_rpcs") == (left or None)
        assert [s.id for s in server.sessions()] == [2]
        assert [s.id for s in server.sessions()] == [2]
