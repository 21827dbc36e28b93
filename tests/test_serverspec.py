"""wts.parse_servers and wts.read_servers: server specs ("RDS[01-40],APP1") and files of names.

Pure Python, no provider: every case states the exact list of names it must give, or the error and the
words it must contain.  Errors are one line and name what was wrong.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

import wts
from wts._serverspec import MAX_SERVERS

# --- parse_servers: what a spec expands to ------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ("RDS01", ["RDS01"]),
        ("RDS[1-3]", ["RDS1", "RDS2", "RDS3"]),
        # The padding is the width written, when the low end starts with a zero.
        ("RDS[01-03]", ["RDS01", "RDS02", "RDS03"]),
        ("RDS[001-003]", ["RDS001", "RDS002", "RDS003"]),
        ("RDS[08-11]", ["RDS08", "RDS09", "RDS10", "RDS11"]),
        ("RDS[98-100]", ["RDS98", "RDS99", "RDS100"]),  # no leading zero: no padding
        ("RDS[099-101]", ["RDS099", "RDS100", "RDS101"]),
        ("RDS[0-2]", ["RDS0", "RDS1", "RDS2"]),  # a lone 0 is a number, not padding
        ("RDS[7-7]", ["RDS7"]),
        ("[1-2]", ["1", "2"]),
        ("RDS[1-2].contoso.com", ["RDS1.contoso.com", "RDS2.contoso.com"]),
        # Several ranges in one name: every combination, the first range outermost.
        ("R[1-2]S[01-02]", ["R1S01", "R1S02", "R2S01", "R2S02"]),
        # Comma lists, with whitespace around names.
        ("RDS01,APP1", ["RDS01", "APP1"]),
        ("  RDS01 ,\tAPP1  , RDS[03-04] ", ["RDS01", "APP1", "RDS03", "RDS04"]),
        # Repeats are dropped, compared case-insensitively; the first spelling and place win.
        ("RDS02,rds01,RDS[01-03],Rds02", ["RDS02", "rds01", "RDS03"]),
        ("rds01,RDS01", ["rds01"]),
    ],
)
def test_parse_servers_expands_specs(spec: str, names: list[str]) -> None:
    assert wts.parse_servers(spec) == names


def test_parse_servers_takes_a_list_of_specs() -> None:
    assert wts.parse_servers(["RDS[01-02]", " APP1 ", "app1", "RDS02,WEB[1-2]"]) == [
        "RDS01",
        "RDS02",
        "APP1",
        "WEB1",
        "WEB2",
    ]
    assert wts.parse_servers(iter(["A", "B"])) == ["A", "B"]
    assert wts.parse_servers(("A",)) == ["A"]
    assert wts.parse_servers([]) == []


def test_parse_servers_allows_exactly_the_maximum() -> None:
    names = wts.parse_servers(f"RDS[1-{MAX_SERVERS}]")
    assert len(names) == MAX_SERVERS
    assert names[0] == "RDS1"
    assert names[-1] == f"RDS{MAX_SERVERS}"
    # Repeats do not count against the limit.
    assert len(wts.parse_servers([f"RDS[1-{MAX_SERVERS}]", "rds1", "RDS[1-10]"])) == MAX_SERVERS


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("RDS[3-1]", ["'RDS[3-1]'", "backwards"]),
        ("RDS[10-09]", ["runs backwards"]),
        ("RDS[01-03", ["unbalanced bracket", "'RDS[01-03'"]),
        ("RDS01]", ["unbalanced bracket", "'RDS01]'"]),
        ("RDS[[1-2]]", ["unbalanced bracket"]),
        ("RDS]1-2[", ["unbalanced bracket"]),
        ("RDS[a-b]", ["[a-b]", "not a range"]),
        ("RDS[]", ["[]", "not a range"]),
        ("RDS[1]", ["[1]", "not a range"]),
        ("RDS[1-2-3]", ["not a range"]),
        ("RDS[-1-2]", ["not a range"]),
        ("RDS 01", ["'RDS 01'", "not a server name", "' '"]),
        ("RDS\t01", ["not a server name"]),
        ("RDS/01", ["'/'"]),
        ("RDS\\01", ["not a server name"]),
        ("RDS*", ["'*'"]),
        ("RDS?1", ["'?'"]),
        ('RDS"1', ["not a server name"]),
        ("RDS<1>", ["'<>'"]),
        ("RDS|1", ["'|'"]),
        ("RDS01,,RDS02", ["empty name", "'RDS01,,RDS02'"]),
        ("RDS01,", ["empty name"]),
        (",RDS01", ["empty name"]),
        (",", ["empty name"]),
        (f"RDS[1-{MAX_SERVERS + 1}]", ["more than 100,000 servers", f"'RDS[1-{MAX_SERVERS + 1}]'"]),
        ("R[1-1000]S[1-1000]", ["more than 100,000 servers"]),
        (f"A[1-{MAX_SERVERS // 2 + 1}],B[1-{MAX_SERVERS // 2}]", ["more than 100,000 servers"]),
        # Far too many is refused before anything is expanded (this would not fit in memory).
        ("RDS[1-99999999999999]", ["more than 100,000 servers"]),
    ],
)
def test_parse_servers_refuses_bad_specs(spec: str, words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        wts.parse_servers(spec)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("servers: ")
    for word in words:
        assert word in message


def test_parse_servers_errors_say_where() -> None:
    with pytest.raises(ValueError, match=r"^hosts\.txt:3: unbalanced bracket"):
        wts.parse_servers("RDS[1-2", where="hosts.txt:3")


def test_parse_servers_refuses_what_is_not_text() -> None:
    with pytest.raises(TypeError, match="expected a string or a list of names, not int"):
        wts.parse_servers(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be strings, not int 7"):
        wts.parse_servers(["RDS01", 7])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="must be strings, not bytes"):
        wts.parse_servers([b"RDS01"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="must be strings, not NoneType"):
        wts.parse_servers([None])  # type: ignore[list-item]


@pytest.mark.parametrize("name", ["RDS\n01", "RDS\x0001", "RDS\x0c01", "RDS\u00a001"])
def test_parse_servers_refuses_control_characters_and_other_whitespace(name: str) -> None:
    with pytest.raises(ValueError, match="not a server name"):
        wts.parse_servers([name])


# --- read_servers: files ------------------------------------------------------------------------


def write(tmp_path: Path, text: str | bytes, name: str = "servers.txt") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_read_servers_reads_names_specs_comments_and_blank_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# the farm\n"
        "\n"
        "RDS[01-03]\n"
        "   APP1   # the app server\n"
        "\t\n"
        "rds02\n"  # a repeat, across lines, in another case
        "WEB1, WEB2 ,web1\n"
        "  # indented comment\n"
        "LAST",  # no final newline
    )
    assert wts.read_servers(path) == ["RDS01", "RDS02", "RDS03", "APP1", "WEB1", "WEB2", "LAST"]
    assert wts.read_servers(str(path)) == wts.read_servers(path)


def test_read_servers_accepts_crlf_and_a_byte_order_mark(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffRDS01\r\nRDS02\r\n# x\r\n".encode())
    assert wts.read_servers(path) == ["RDS01", "RDS02"]


def test_read_servers_feeds_a_farm(tmp_path: Path, farm: object) -> None:
    path = write(tmp_path, "RDS[01-40]\nAPP1\n")
    names = wts.read_servers(path)
    assert len(names) == 41
    assert wts.Farm(names, provider="sim").servers == tuple(names)


def test_read_servers_missing_file_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.txt"
    with pytest.raises(OSError) as info:
        wts.read_servers(path)
    assert info.value.errno == errno.ENOENT
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert "cannot read server list" in message


def test_read_servers_directory_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError) as info:
        wts.read_servers(tmp_path)
    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n   # and another\n", "  \t \n"])
def test_read_servers_refuses_a_file_that_lists_nothing(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as info:
        wts.read_servers(path)
    assert str(info.value) == f"{path}: lists no servers"


def test_read_servers_errors_name_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "RDS01\n# fine\nRDS[5-1]\n")
    with pytest.raises(ValueError) as info:
        wts.read_servers(path)
    message = str(info.value)
    assert message.startswith(f"{path}:3: ")
    assert "backwards" in message
    assert "\n" not in message


def test_read_servers_refuses_text_that_is_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, b"RDS01\n\xff\xfeRDS02\n")
    with pytest.raises(ValueError) as info:
        wts.read_servers(path)
    assert str(info.value).startswith(f"{path}: not UTF-8 text")
