"""The whole client record (issue 14, item 1) and the caller's own session (item 4).

* ``wts.ClientInfo`` through ``Server.client_info`` and ``Farm.sessions(details="clients")``, checked
  against the single-value info classes (WTSClientDisplay, WTSClientBuildNumber, ...), which the sim
  answers through separate code: IPv4 and IPv6 addresses, display, build, product id, protocol.
* The RPCs each option costs, counted by the sim.
* ``own=True``: the caller's session, a look-alike on another server, a farm where nobody is "us".
* Garbage WTSCLIENTW bytes (short, no NUL, not UTF-16, addresses that are not addresses) decode
  without raising.
* The farm file's client fields: validation, the compiled ``client`` line, dump and load.
* ``wts sessions``: the ``>`` marker, ``--clients`` columns, ``own`` and ``client_*`` in JSON and CSV.
"""

from __future__ import annotations

import copy
import csv
import io
import ipaddress
import json
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import wts
from wts import ClientInfo, Protocol, SessionInfo, _wts
from wts._cli import main
from wts._client import CLIENT_INFO_SIZE, client_info_from_raw
from wts._farmfile import FarmFileError, compile_farm, parse_compiled

LOGON = "2026-12-01T08:00:00Z"

FARM: dict[str, Any] = {
    "now": "2026-12-01T12:00:00Z",
    "local": "RDS01",
    "current_session": 2,
    "servers": [
        {
            "name": "RDS01",
            "sessions": [
                {"id": 0, "state": "Disconnected", "station": "Services"},
                {"id": 1, "state": "Active", "station": "Console", "user": "admin", "domain": "CONTOSO"},
                {
                    "id": 2,
                    "state": "Active",
                    "station": "RDP-Tcp#1",
                    "user": "alice",
                    "domain": "CONTOSO",
                    "client": "ALICE-PC",
                    "address": "10.1.2.3",
                    "display": "1920x1080x32",
                    "client_build": 22621,
                    "client_product_id": 1,
                    "logon": LOGON,
                },
                {
                    "id": 3,
                    "state": "Active",
                    "station": "RDP-Tcp#2",
                    "user": "bob",
                    "domain": "CONTOSO",
                    "client": "BOB-LAPTOP",
                    "address": "2001:db8::1:42",
                    "display": "2560x1440x15",
                    "client_build": 19045,
                    "protocol": "ica",
                    "logon": "2026-12-01T09:00:00Z",
                },
                {
                    "id": 4,
                    "state": "Disconnected",
                    "user": "alice",
                    "domain": "CONTOSO",
                    "client": "ALICE-OLD",
                    "address": "192.168.0.9",
                    "display": "1024x768x16",
                    "logon": "2026-11-30T08:00:00Z",
                },
            ],
        },
        {
            "name": "RDS02",
            "sessions": [
                # A look-alike of the caller's session: same id, user, domain and station, another logon.
                {
                    "id": 2,
                    "state": "Active",
                    "station": "RDP-Tcp#1",
                    "user": "alice",
                    "domain": "CONTOSO",
                    "client": "ALICE-PC",
                    "address": "fe80::1",
                    "logon": "2026-12-01T10:00:00Z",
                },
                {"id": 5, "state": "Active", "station": "RDP-Tcp#3", "user": "carol", "domain": "CONTOSO"},
            ],
        },
    ],
}


@pytest.fixture
def clients() -> dict[str, Any]:
    """FARM, loaded into the sim; returned for tests that change it."""
    wts.sim.load(FARM)
    wts.sim.reset_counters()
    return copy.deepcopy(FARM)


def info(server: str | None, sid: int) -> ClientInfo:
    with wts.Server(server, provider="sim") as srv:
        return srv.client_info(sid, protocol=True)


# --- Server.client_info ------------------------------------------------------------------------------


def test_client_info_ipv4_display_build_and_product(clients: object) -> None:
    c = info("RDS01", 2)
    assert c == ClientInfo(
        "RDS01", 2, "ALICE-PC", ipaddress.IPv4Address("10.1.2.3"), 2, 1920, 1080, 32, 22621, 1, Protocol.RDP
    )
    assert c.bits_per_pixel == 32


def test_client_info_ipv6_and_a_protocol_from_the_farm_file(clients: object) -> None:
    c = info("RDS01", 3)
    assert (c.name, c.address, c.family) == ("BOB-LAPTOP", ipaddress.IPv6Address("2001:db8::1:42"), 23)
    assert (c.width, c.height, c.colour_depth, c.bits_per_pixel) == (2560, 1440, 16, 15)  # code 16 is 15 bpp
    assert (c.build, c.product_id, c.protocol) == (19045, 0, Protocol.ICA)


def test_sessions_without_a_client_answer_empty_and_zero(clients: object) -> None:
    for sid, protocol in ((0, Protocol.CONSOLE), (1, Protocol.CONSOLE)):
        c = info("RDS01", sid)
        assert c == ClientInfo("RDS01", sid, "", None, 0, 0, 0, 0, 0, 0, protocol)
        assert c.bits_per_pixel is None


@pytest.mark.parametrize(("server", "sid"), [("RDS01", 2), ("RDS01", 3), ("RDS01", 4), ("RDS02", 2), ("RDS01", 0)])
def test_client_info_agrees_with_the_single_value_classes(clients: object, server: str, sid: int) -> None:
    # WTSClientInfo is one buffer; the sim answers each single-value class through separate code.
    c = info(server, sid)
    with wts.Server(server, provider="sim") as srv:
        q = srv.query
        address = q(sid, wts.InfoClass.CLIENT_ADDRESS)
        assert (c.family, c.address) == (address.family, address.address)
        assert (c.width, c.height, c.colour_depth) == q(sid, wts.InfoClass.CLIENT_DISPLAY)
        assert c.build == q(sid, wts.InfoClass.CLIENT_BUILD_NUMBER)
        assert c.product_id == q(sid, wts.InfoClass.CLIENT_PRODUCT_ID)
        assert c.protocol == q(sid, wts.InfoClass.CLIENT_PROTOCOL_TYPE)
        assert c.name == q(sid, wts.InfoClass.CLIENT_NAME)


def test_client_info_costs_one_rpc_and_the_protocol_one_more(clients: object) -> None:
    with wts.Server("RDS01", provider="sim") as srv:
        assert srv.client_info(2).protocol is None
        assert wts.sim.rpc_counts()["RDS01"] == 1
        assert srv.client_info(2, protocol=True).protocol is Protocol.RDP
        assert wts.sim.rpc_counts()["RDS01"] == 1 + 2


def test_client_info_errors_and_bad_ids(clients: object) -> None:
    with wts.Server("RDS01", provider="sim") as srv:
        with pytest.raises(wts.NoSuchSessionError) as no_such:
            srv.client_info(77)
        assert no_such.value.winerror == 7022 and no_such.value.session_id == 77
        with pytest.raises(ValueError, match="out of range"):
            srv.client_info(-1)
        with pytest.raises(TypeError):
            srv.client_info("2")  # type: ignore[arg-type]
    assert wts.sim.rpc_counts()["RDS01"] == 1  # the bad ids cost nothing


def test_the_client_moves_with_the_connection(clients: object) -> None:
    # tscon: session 4 (alice's, disconnected) takes over the caller's connection (session 2): its
    # client is now the one session 2 had, display and all.
    before = info("RDS01", 2)
    wts.connect(4, provider="sim")
    after = info("RDS01", 4)
    assert after._replace(session_id=2) == before


# --- Farm.sessions(details="clients") -----------------------------------------------------------------


def test_farm_clients_are_the_servers_client_info(clients: object) -> None:
    result = wts.Farm("RDS01,RDS02", provider="sim").sessions(details="clients")
    assert not result.failures and len(result) == 7
    for r in result:
        assert isinstance(r, SessionInfo) and r.client_info is not None
        assert r.client_info == info(r.server, r.id)
        assert r.client == r.client_info.name  # the name, as details="client" gives it
    by_key = {(r.server, r.id): r for r in result}
    assert by_key["RDS02", 2].client_info.address == ipaddress.IPv6Address("fe80::1")  # type: ignore[union-attr]


def test_details_client_keeps_the_name_only(clients: object) -> None:
    result = wts.Farm("RDS01", provider="sim").sessions(details="client")
    assert {r.id: (r.client, r.client_info) for r in result}[2] == ("ALICE-PC", None)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kwargs", "per_session"),
    [
        ({}, 0),
        ({"details": True}, 1),  # WTSSessionInfoEx
        ({"details": "client"}, 2),  # ... and WTSClientName
        ({"details": "clients"}, 3),  # ... and WTSClientInfo and WTSClientProtocolType
    ],
)
def test_rpcs_per_option(clients: object, kwargs: dict[str, Any], per_session: int) -> None:
    wts.Farm("RDS01,RDS02", provider="sim").sessions(**kwargs)
    assert wts.sim.rpc_counts() == {"RDS01": 1 + 5 * per_session, "RDS02": 1 + 2 * per_session, "*": 0}


def test_a_client_filter_reads_the_name_from_client_info(clients: object) -> None:
    result = wts.Farm("RDS01,RDS02", provider="sim").sessions(details="clients", client="ALICE-*")
    assert sorted((r.server, r.id) for r in result) == [("RDS01", 2), ("RDS01", 4), ("RDS02", 2)]
    # Every session: times and WTSClientInfo (no WTSClientName); the protocol only for those kept.
    assert wts.sim.rpc_counts() == {"RDS01": 1 + 5 * 2 + 2, "RDS02": 1 + 2 * 2 + 1, "*": 0}


def test_a_failed_client_query_is_that_sessions_failure(clients: dict[str, Any]) -> None:
    clients["servers"][0]["sessions"][3]["deny"] = ["query"]
    wts.sim.load(clients)
    result = wts.Farm("RDS01", provider="sim").sessions(details="clients")
    assert [(f.session_id, f.error.winerror) for f in result.failures] == [(3, 5)]
    assert sorted(r.id for r in result) == [0, 1, 2, 4]


def test_bad_details_and_own_arguments_are_refused(clients: object) -> None:
    farm = wts.Farm("RDS01", provider="sim")
    with pytest.raises(ValueError, match="'client' or 'clients'"):
        farm.sessions(details="everything")
    with pytest.raises(ValueError, match="own="):
        farm.stream("logoff", own=True)
    assert wts.sim.rpc_total() == 0


# --- own=True ---------------------------------------------------------------------------------------


def test_own_is_the_callers_session_not_its_look_alike(clients: object) -> None:
    result = wts.Farm("RDS01,RDS02", provider="sim").sessions(own=True)
    assert result.own is not None and (result.own.server, result.own.id) == ("RDS01", 2)
    assert any(r is result.own for r in result)
    # The listings, the local server's answer (which session is ours), and one WTSSessionInfoEx for
    # each session that looks like ours (same id, user, station) to tell them apart by logon time.
    assert wts.sim.rpc_counts() == {"RDS01": 1 + 1 + 1, "RDS02": 1 + 1, "*": 0}


def test_own_with_details_needs_no_logon_check(clients: object) -> None:
    result = wts.Farm("RDS01,RDS02", provider="sim").sessions(details=True, own=True)
    assert result.own is not None and (result.own.server, result.own.id) == ("RDS01", 2)
    assert wts.sim.rpc_counts() == {"RDS01": 1 + 1 + 5, "RDS02": 1 + 2, "*": 0}


def test_only_the_look_alike_listed_is_not_ours(clients: object) -> None:
    result = wts.Farm("RDS02", provider="sim").sessions(own=True)
    assert result.own is None
    assert wts.sim.rpc_counts() == {"RDS01": 1, "RDS02": 1 + 1, "*": 0}  # our session's query, one check


def test_no_own_session_when_the_caller_has_none(clients: dict[str, Any]) -> None:
    clients["current_session"] = None
    wts.sim.load(clients)
    result = wts.Farm("RDS01,RDS02", provider="sim").sessions(own=True)
    assert result.own is None and len(result) == 7 and not result.failures


def test_own_costs_nothing_unless_asked(clients: object) -> None:
    result = wts.Farm("RDS01,RDS02", provider="sim").sessions()
    assert result.own is None
    assert wts.sim.rpc_counts() == {"RDS01": 1, "RDS02": 1, "*": 0}


def test_stream_own_is_known_when_the_iteration_ends(clients: object) -> None:
    stream = wts.Farm("RDS01,RDS02", provider="sim").stream("sessions", own=True)
    assert stream.own is None
    records = list(stream)
    assert stream.own is not None and any(r is stream.own for r in records)


def test_other_streams_have_no_own_session(clients: object) -> None:
    for action in ("disconnect", "processes"):
        stream = wts.Farm("RDS01", provider="sim").stream(action, dry_run=action != "processes")
        list(stream)
        assert stream.own is None, action


# --- garbage WTSCLIENTW --------------------------------------------------------------------------------


def client_bytes(
    name: bytes = b"", family: int = 0, address: bytes = b"", display: tuple[int, int, int] = (0, 0, 0)
) -> bytes:
    buf = bytearray(CLIENT_INFO_SIZE)
    buf[0 : len(name)] = name
    struct.pack_into("<I", buf, 1168, family)
    buf[1172 : 1172 + len(address)] = address
    struct.pack_into("<3H", buf, 1234, *display)
    return bytes(buf)


@pytest.mark.parametrize(
    ("raw", "name", "address"),
    [
        # A name that fills its array with no NUL stops at the array's end (21 units).
        (client_bytes(name="X".encode("utf-16-le") * 40), "X" * 21, None),
        # A lone surrogate is replaced, not raised.
        (client_bytes(name=b"\x00\xd8A\x00"), "\ufffdA", None),
        # AF_INET with text that is no address, or no text at all.
        (client_bytes(family=2, address="10.0.0.300".encode("utf-16-le")), "", None),
        (client_bytes(family=2, address=bytes([10, 0, 0, 5])), "", None),
        (client_bytes(family=2, address=b"\xff\xfe" * 31), "", None),
        # AF_INET6 as text is read as text; as 16 bytes, as bytes.
        (client_bytes(family=23, address="fd00::7".encode("utf-16-le")), "", ipaddress.IPv6Address("fd00::7")),
        (client_bytes(family=23, address="fd00::zz".encode("utf-16-le")), "", None),
        (client_bytes(family=23, address=bytes(range(16))), "", ipaddress.IPv6Address(bytes(range(16)))),
        # A family Windows does not give.
        (client_bytes(family=0xFFFFFFFF, address=b"junk"), "", None),
        # Short buffers read as if padded with zeros.
        (b"", "", None),
        (b"A\x00B", "AB", None),  # the missing byte reads as zero: "B\0"
        (client_bytes(family=2, address="10.0.0.5".encode("utf-16-le"))[:1180], "", None),
    ],
)
def test_garbage_client_bytes_decode_without_raising(raw: bytes, name: str, address: object) -> None:
    c = client_info_from_raw("S", 7, raw)
    assert (c.server, c.session_id, c.name, c.address) == ("S", 7, name, address)


def test_an_ipv4_address_as_windows_gives_it() -> None:
    c = client_info_from_raw(None, 1, client_bytes(family=2, address="172.16.5.20".encode("utf-16-le")))
    assert (c.family, c.address) == (2, ipaddress.IPv4Address("172.16.5.20"))


def test_random_client_bytes_never_raise() -> None:
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies

    @hypothesis.given(st.binary(max_size=CLIENT_INFO_SIZE + 16), st.sampled_from([0, 2, 23, 6]))
    def check(raw: bytes, family: int) -> None:
        for blob in (raw, client_bytes(family=family, address=raw[:62])):
            c = client_info_from_raw(None, 1, blob)
            assert len(c.name) <= 21 and 0 <= c.width <= 0xFFFF and 0 <= c.colour_depth <= 0xFFFF

    check()


# --- the farm file -------------------------------------------------------------------------------


def test_client_fields_compile_to_a_client_line_and_back() -> None:
    compiled = compile_farm(FARM)
    lines = compiled.text.splitlines()
    at = lines.index(next(line for line in lines if line.startswith("session\t2\t")))
    assert lines[at + 1] == "client\t1920\t1080\t32\t22621\t1\t-1"
    assert "client\t2560\t1440\t16\t19045\t0\t1" in lines
    assert sum(line.startswith("client\t") for line in lines) == 3  # only sessions that set a field
    again = parse_compiled(compiled.text)
    assert again["servers"][0]["sessions"][2]["display"] == "1920x1080x32"
    assert again["servers"][0]["sessions"][3]["protocol"] == "ica"
    assert "display" not in again["servers"][1]["sessions"][0]
    assert compile_farm(again).text == compiled.text


def test_the_sims_dump_keeps_the_client(clients: object) -> None:
    text = compile_farm(FARM).text
    dumped = wts.sim.dump()
    assert dumped["servers"][0]["sessions"][3]["display"] == "2560x1440x15"
    dumped.pop("messages")
    assert compile_farm(dumped).text == text


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("display", "1920x1080", "is not 'WIDTHxHEIGHTxBITS'"),
        ("display", "1920x1080x12", "colour depth must be one of 4, 8, 15, 16, 24, 32 bits, not 12"),
        ("display", "0x1080x32", "width and height must be 1 to 65535 pixels"),
        ("display", "70000x1080x32", "width and height must be 1 to 65535 pixels"),
        ("display", 1920, "must be null or 'WIDTHxHEIGHTxBITS'"),
        ("client_build", -1, "-1"),
        ("client_build", 2**32, "4294967296"),
        ("client_build", "22621", "must be an integer"),
        ("client_product_id", 65536, "65536"),
        ("protocol", "vnc", "must be null, 'console', 'ica' or 'rdp'"),
    ],
)
def test_bad_client_fields_are_one_line_errors(field: str, value: object, reason: str) -> None:
    farm = copy.deepcopy(FARM)
    farm["servers"][0]["sessions"][2][field] = value
    with pytest.raises(FarmFileError) as err:
        compile_farm(farm)
    assert err.value.path == f"servers[0].sessions[2].{field}"
    assert reason in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("client\t1920\t1080\t12\t0\t0\t-1", "colour depth code 12"),
        ("client\t1920\t0\t32\t0\t0\t-1", "is not valid"),
        ("client\t1\t1\t32\t0\t0\t3", "from -1 to 2"),
        ("client\t1\t1\t32\tx\t0\t-1", "'x' is not an integer"),
        ("client\t1\t1\t32\t0\t0", "expected 7"),
    ],
)
def test_bad_compiled_client_lines(line: str, reason: str) -> None:
    text = compile_farm(FARM).text.splitlines()
    at = text.index("client\t1920\t1080\t32\t22621\t1\t-1")
    text[at] = line
    with pytest.raises(FarmFileError, match=reason):
        parse_compiled("\n".join(text))


def test_a_client_line_must_follow_a_session_line() -> None:
    text = compile_farm(FARM).text.splitlines()
    server = next(i for i, line in enumerate(text) if line.startswith("server\tRDS02"))
    text.insert(server + 1, "client\t1\t1\t32\t0\t0\t-1")
    with pytest.raises(FarmFileError, match="client line not right after a session line"):
        parse_compiled("\n".join(text))
    # The simulator refuses it too, and keeps the farm it had.
    wts.sim.load(FARM)
    with pytest.raises(ValueError, match="client before any session"):
        _wts.sim_load("\n".join(text) + "\n")
    assert wts.sim.dump()["servers"][0]["sessions"][2]["display"] == "1920x1080x32"


# --- wts sessions ---------------------------------------------------------------------------------


Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def farm_file(tmp_path: Path) -> Path:
    path = tmp_path / "clients.json"
    path.write_text(json.dumps(FARM), encoding="utf-8")
    return path


@pytest.fixture
def cli(farm_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """``wts --sim-farm FARM ARGS`` in this process: (status, stdout, stderr)."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        status = main(["--sim-farm", str(farm_file), *args])
        out, err = capsys.readouterr()
        return int(status), out, err

    return run


def test_the_table_marks_the_callers_session_as_quser_does(cli: Cli) -> None:
    status, out, _ = cli("sessions", "-s", "RDS01,RDS02")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith(" SERVER  ID")
    marked = [line for line in lines if line.startswith(">")]
    assert len(marked) == 1 and marked[0].split()[:4] == [">RDS01", "2", "RDP-Tcp#1", "alice"]
    assert all(line.startswith(" ") for line in lines if line not in marked)
    # The look-alike on RDS02 alone is not ours: no mark, and no mark column.
    status, out, _ = cli("sessions", "-s", "RDS02")
    assert status == 0 and out.startswith("SERVER") and ">" not in out


def test_clients_table_columns(cli: Cli) -> None:
    status, out, _ = cli("sessions", "-s", "RDS01,RDS02", "--clients")
    assert status == 0
    lines = out.splitlines()
    head = lines[0].split()
    assert head[-4:] == ["CLIENT", "ADDRESS", "DISPLAY", "PROTOCOL"]
    rows = {(line.split()[0].lstrip(">"), line.split()[1]): line for line in lines[1:]}
    assert rows["RDS01", "2"].split()[-4:] == ["ALICE-PC", "10.1.2.3", "1920x1080x32", "RDP"]
    assert rows["RDS01", "3"].split()[-4:] == ["BOB-LAPTOP", "2001:db8::1:42", "2560x1440x15", "ICA"]
    assert rows["RDS02", "2"].split()[-3:] == ["ALICE-PC", "fe80::1", "RDP"]  # no display reported
    assert rows["RDS01", "0"].split()[-1] == "Console"


def test_a_narrow_terminal_drops_display_and_protocol_first(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    status, out, _ = cli("sessions", "-s", "RDS01,RDS02", "--clients")
    assert status == 0
    head = out.splitlines()[0].split()
    assert "ADDRESS" in head and "CLIENT" in head and "DISPLAY" not in head
    assert all(len(line) <= 100 for line in out.splitlines())
    assert "2001:db8::1:42" in out  # an address is never cut


def test_json_jsonl_and_csv_carry_own_and_the_client(cli: Cli) -> None:
    status, out, _ = cli("sessions", "-s", "RDS01,RDS02", "--clients", "--format", "json")
    assert status == 0
    records = {(r["server"], r["id"]): r for r in json.loads(out)}
    assert [k for k, r in records.items() if r["own"]] == [("RDS01", 2)]
    assert all(r["own"] is False for k, r in records.items() if k != ("RDS01", 2))
    bob = records["RDS01", 3]
    assert (bob["client"], bob["client_address"], bob["client_protocol"]) == ("BOB-LAPTOP", "2001:db8::1:42", "ICA")
    assert (bob["client_width"], bob["client_height"], bob["client_bits_per_pixel"]) == (2560, 1440, 15)
    assert (bob["client_build"], bob["client_product_id"]) == (19045, 0)
    assert records["RDS01", 2]["client_product_id"] == 1
    assert records["RDS01", 0]["client_address"] is None

    status, jsonl, _ = cli("sessions", "-s", "RDS01,RDS02", "--clients", "--format", "jsonl")
    assert status == 0
    assert [json.loads(line) for line in jsonl.splitlines()] == json.loads(out)

    status, text, _ = cli("sessions", "-s", "RDS01,RDS02", "--clients", "--format", "csv")
    assert status == 0
    rows = {(r["server"], r["id"]): r for r in csv.DictReader(io.StringIO(text))}
    assert rows["RDS01", "2"]["own"] == "True" and rows["RDS02", "2"]["own"] == "False"
    assert rows["RDS01", "3"]["client_address"] == "2001:db8::1:42"


def test_plain_json_has_own_but_no_client_fields(cli: Cli) -> None:
    status, out, _ = cli("sessions", "-s", "RDS01", "--format", "json")
    assert status == 0
    records = json.loads(out)
    assert [r["own"] for r in records] == [False, False, True, False, False]
    assert "client_address" not in records[0]


def test_a_failed_server_record_has_own_null(cli: Cli, farm_file: Path) -> None:
    farm = copy.deepcopy(FARM)
    farm["servers"][1]["fault"] = "unreachable"
    farm_file.write_text(json.dumps(farm), encoding="utf-8")
    status, out, _ = cli("sessions", "-s", "RDS01,RDS02", "--format", "json")
    assert status == 1
    failed = [r for r in json.loads(out) if r.get("status") == "failed"]
    assert [(r["server"], r["own"]) for r in failed] == [("RDS02", None)]
