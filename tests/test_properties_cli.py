"""Property-based tests of the classic arguments (issue 12): whatever argv ``wts tsdiscon`` and
``wts tscon`` are given, they end in exit status 0, 1 or 2 with at most one error line (or
``Invalid parameter(s)`` and the usage, as the originals print), never in an internal error or a
traceback.  Bounded: the conftest profile (200 examples, derandomised), against the demo farm
loaded afresh for each example, so no example sees another's changes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import example, given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from wts._cli import main  # noqa: E402

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo-farm.json"

_SWITCH_NAMES = ["server", "SERVER", "v", "V", "vm", "VM", "dest", "DEST", "password", "PassWord", "?", "x", ""]
_VALUES = st.one_of(
    st.sampled_from(["RDS01", "RDS02", "RDS[01-03]", "RDS01,RDS02", " ", "", "*", "TERM04", "12", "-1", "\\\\RDS01"]),
    st.text(max_size=12),
)


@st.composite
def _switch(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["/", "-"]))
    name = draw(st.sampled_from(_SWITCH_NAMES))
    if draw(st.booleans()):
        return f"{prefix}{name}:{draw(_VALUES)}"
    return f"{prefix}{name}"


_WORD = st.one_of(
    _switch(),
    st.sampled_from(
        ["0", "1", "2", "4", "10", "23", "65536", "4294967295", "99999999999", "TERM04", "RDP-Tcp#0", "+5"]
    ),
    st.text(max_size=10),
)


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["--sim-farm", str(DEMO), "--timeout", "5", *argv], stdin=io.StringIO(""), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def _check(status: int, err: str) -> None:
    assert status in (0, 1, 2), err
    assert "Traceback" not in err and "internal error" not in err, err
    if not err.startswith("Invalid parameter(s)\n"):
        assert len(err.splitlines()) <= 1, err


@given(st.lists(_WORD, max_size=4))
@example(["4", "/SERVER: "])  # found by review: an internal error ("list index out of range") before the fix
@example(["/server:\\\\RDS01", "4"])
def test_tsdiscon_any_argv_ends_cleanly(argv: list[str]) -> None:
    status, _, err = _run(["tsdiscon", *argv])
    _check(status, err)


@given(st.lists(_WORD, max_size=4))
@example(["23", "/password:*"])  # a password prompt with nothing on stdin
def test_tscon_any_argv_ends_cleanly(argv: list[str]) -> None:
    status, _, err = _run(["tscon", *argv])
    _check(status, err)


@given(
    st.one_of(st.text(alphabet=" \t,[]-0123RDS", max_size=8), st.text(max_size=6)).filter(
        lambda v: not v.strip() or any(c in v for c in ",[]") or any(c.isspace() for c in v.strip())
    ),
    st.sampled_from(["/server:", "/SERVER:", "-Server:"]),
)
def test_tsdiscon_server_is_one_name_or_invalid(value: str, switch: str) -> None:
    # tsdiscon.exe takes one server: a blank, a list or a range is rejected as the original rejects
    # anything (before the fix: "list index out of range", or RDS[01-03] acting on RDS01 alone).
    status, out, err = _run(["tsdiscon", "4", switch + value])
    if not value:
        assert status == 2 and err.startswith("Invalid parameter(s)\n")  # "/server:" alone
        return
    assert (status, out) == (2, ""), err
    assert err.startswith("Invalid parameter(s)\n"), err


# -- durations and moments on the command line (--idle-over, --logon-before, ...) ---------------------

_DURATION_TEXT = st.one_of(
    st.text(max_size=16),
    st.from_regex(r"\A\s*(\d{1,12}(\.\d{0,6})?\s*[smhdSMHD]\s*){1,3}\Z"),
    st.sampled_from(["1000000000d", "800000d", "36525d", "36526d", "1e9s", "nan", "inf", "1.5h", "90"]),
)
_MOMENT_TEXT = st.one_of(
    _DURATION_TEXT,
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-11-20", "2026-11-20 08:00Z"]),
)


@given(_DURATION_TEXT)
def test_a_duration_is_a_bounded_timedelta_or_a_usage_error(text: str) -> None:
    from datetime import timedelta

    from wts._cli._args import parse_duration
    from wts._cli._status import UsageError

    try:
        value = parse_duration(text, "--idle-over")
    except UsageError as exc:
        assert str(exc).startswith("--idle-over: ") and "\n" not in str(exc)
    else:
        assert timedelta(0) <= value <= timedelta(days=36525)


@given(_MOMENT_TEXT)
def test_a_moment_is_utc_or_a_duration_or_a_usage_error(text: str) -> None:
    from datetime import datetime, timedelta, timezone

    from wts._cli._args import parse_moment
    from wts._cli._status import UsageError

    try:
        value = parse_moment(text, "--logon-before")
    except UsageError as exc:
        assert str(exc).startswith("--logon-before: ") and "\n" not in str(exc)
    else:
        if isinstance(value, datetime):
            assert value.tzinfo is timezone.utc  # nothing left to overflow when compared later
        else:
            assert timedelta(0) <= value <= timedelta(days=36525)


@given(st.sampled_from(["--idle-over", "--idle-under", "--disconnected-over", "--logon-before"]), _MOMENT_TEXT)
def test_any_time_filter_on_the_command_line_ends_cleanly(option: str, text: str) -> None:
    status, _out, err = _run(["ls", "-s", "RDS01", "-q", f"{option}={text}"])
    _check(status, err)
