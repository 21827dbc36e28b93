"""One table of Win32 codes: the C side (``src/wtsapi``) and ``wts._winerror.WinError`` agree.

C spells a code as ``#define WTS_<SDK name> <N>u`` (``wts_seam.h``; any header may add one); Python spells
it once, in ``WinError``.  Every C define must be the member of the same SDK name with the same value,
every C source must use those names instead of bare numbers, and the exceptions must take their texts
from the table.  The C sources are found the way tests/test_abi.py finds them: ``src/wtsapi`` beside
``tests/`` (a checkout, or the copy CI puts beside an installed wheel's test run).
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from wts import _errors
from wts._winerror import WinError, name_of, text_of

WTSAPI = Path(__file__).resolve().parent.parent / "src" / "wtsapi"

# A code define: WTS_ERROR_..., WTS_RPC_S_... or WTS_WAIT_..., an unsigned decimal.
CODE_DEFINE = re.compile(r"^\s*#\s*define\s+WTS_((?:ERROR|RPC_S|WAIT)_\w+)\s+(\d+)u?\b", re.MULTILINE)
# A Win32 code handed to the last-error machinery, or stored as one, as a bare number.
BARE_CODE = re.compile(
    r"\b(?:fail|wts_set_last_error|SetLastError)\s*\(\s*(\d+)u?\s*\)|\berror\s*=\s*(?:\*ok\s*\?\s*)?(\d+)u?\s*[;:]"
)
# 0 is ERROR_SUCCESS: the absence of an error, deliberately not a member (WinError lists failures).
NOT_FAILURES = {"ERROR_SUCCESS": 0}


def _sources(pattern: str) -> list[Path]:
    if not WTSAPI.is_dir():
        pytest.skip(f"the C sources are not beside this suite ({WTSAPI})")
    found = sorted(WTSAPI.glob(pattern))
    assert found, f"no {pattern} in {WTSAPI}"
    return found


def c_codes() -> dict[str, tuple[int, str]]:
    """{SDK name: (value, header)} for every code define in src/wtsapi/*.h."""
    codes: dict[str, tuple[int, str]] = {}
    for header in _sources("*.h"):
        for name, value in CODE_DEFINE.findall(header.read_text(encoding="utf-8")):
            assert name not in codes, f"WTS_{name} is defined twice ({codes[name][1]} and {header.name})"
            codes[name] = (int(value), header.name)
    return codes


def test_the_seam_defines_the_codes_it_produces() -> None:
    codes = c_codes()
    # The ones the sim and the engine hand out; if the regex stopped matching, this says so.
    for name in ("ERROR_ACCESS_DENIED", "ERROR_TIMEOUT", "RPC_S_CALL_FAILED", "ERROR_CTX_WINSTATION_NOT_FOUND"):
        assert name in codes, f"wts_seam.h defines no WTS_{name}"


@pytest.mark.parametrize("name", sorted(c_codes()) if WTSAPI.is_dir() else [])
def test_each_c_code_is_the_table_member_of_the_same_name(name: str) -> None:
    value, header = c_codes()[name]
    if name in NOT_FAILURES:
        assert value == NOT_FAILURES[name]
        assert name_of(value) is None  # not an error, so not in the table
        return
    assert name in WinError.__members__, f"{header} defines WTS_{name} = {value}, which WinError does not list"
    assert WinError[name] == value, f"{header}: WTS_{name} is {value}, WinError.{name} is {int(WinError[name])}"


def test_every_c_code_is_in_the_table() -> None:
    values = {value for name, (value, _) in c_codes().items() if name not in NOT_FAILURES}
    assert values <= {int(member) for member in WinError}, values - {int(member) for member in WinError}


def test_the_c_sources_name_their_codes() -> None:
    """No Win32 code as a bare number where the C sources set or store a last error (0 aside in
    wts_win32.c, which clears Windows' own last error with SetLastError(0))."""
    offenders = []
    for source in _sources("*.[ch]"):
        for lineno, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
            for match in BARE_CODE.finditer(line):
                number = int(match.group(1) or match.group(2))
                if number == 0 and source.name == "wts_win32.c":
                    continue
                offenders.append(f"{source.name}:{lineno}: {line.strip()}")
    assert not offenders, "bare Win32 codes; use the seam's WTS_ERROR_* names:\n" + "\n".join(offenders)


def test_names_codes_and_texts_are_unique() -> None:
    members = list(WinError)
    assert len({int(m) for m in members}) == len(members)  # IntEnum would alias a repeated value
    assert len(WinError.__members__) == len(members), "a name aliases another member's code"
    texts = [m.text for m in members]
    assert len(set(texts)) == len(texts), "two codes share one text"
    for member in members:
        assert member.name.startswith(("ERROR_", "RPC_S_", "EPT_S_", "WAIT_")), member.name
        assert member.text and member.text.endswith("."), member.name
        assert name_of(int(member)) == member.name
        assert text_of(int(member)) == member.text


def test_the_exceptions_take_their_texts_from_the_table() -> None:
    for member in WinError:
        error = _errors.error_from_winerror(int(member), "WTSOpenServerW", "RDS01", None)
        assert isinstance(error, _errors.WTSError)
        assert error.winerror == member
        assert error.strerror == member.text
        assert _errors.win32_message(int(member)) == member.text
    assert _errors.win32_message(99999) == text_of(99999) == "Windows error 99999."
    # _errors.py itself spells none of the texts: it asks the table.
    texts = {m.text for m in WinError}
    for node in ast.walk(ast.parse(inspect.getsource(_errors))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert node.value not in texts, f"wts._errors spells Windows' text {node.value!r} (line {node.lineno})"
