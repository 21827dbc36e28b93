"""``wts bench tsts`` (src/wts/_bench/_remote.py) and the served side's tally it counts with
(src/wts/_tsts/_tally.py): that it runs, counts what the clients sent and reports every row; never
its timings.  Every server here is on 127.0.0.0/8, started and stopped by the test."""

from __future__ import annotations

import itertools
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import serve_in_process  # tests/ is on sys.path

import wts
from wts import _bench
from wts._bench import _remotereport
from wts._tsts._tally import Tally

pytest.importorskip("spnego")
pytest.importorskip("smbprotocol")

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
PORT = 445 if ROOT else 15450 + os.getpid() % 1000
_blocks = itertools.count(2)


def next_address() -> str:
    """A loopback block of this test process's own: parallel workers never collide, nor do the other
    suites' servers (tests/conftest.py's and test_sim_serve's third octet stays below 192)."""
    return f"127.{160 + os.getpid() % 40}.{192 + next(_blocks) % 60}.1"


def test_tally_counts_by_kind_and_take_starts_again() -> None:
    t = Tally()
    t.connection()
    t.smb_answer(0)
    t.smb_answer(11)
    t.smb_answer(11)
    t.smb_answer(99)
    t.rpc_call("TermSrvEnumeration", 10)
    assert t.take() == {
        "tcp": 1,
        "smb": 4,
        "smb:NEGOTIATE": 1,
        "smb:IOCTL": 2,
        "smb:99": 1,
        "rpc": 1,
        "rpc:TermSrvEnumeration:10": 1,
    }
    assert t.take() == {}


@contextmanager
def served_with_tally(tally: Tally) -> Iterator[list[str]]:
    farm = {
        "seed": 3,
        "accounts": [{"domain": "CONTOSO", "user": "admin", "password": "pw"}],
        "generate": [{"prefix": "RDS", "count": 2, "sessions": 4}],
    }
    with serve_in_process(farm, next_address(), PORT, tally=tally) as servers:
        yield list(servers.values())


def test_the_served_side_counts_a_cold_and_a_warm_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WTS_TSTS_PORT", str(PORT))
    tally = Tally()
    with served_with_tally(tally) as hosts:
        tally.take()
        creds = wts.Credentials("admin", "CONTOSO", "pw")
        with wts.Farm(hosts, provider="tsts", credentials=creds) as farm:
            assert len(farm.sessions().sessions) == 2 * (4 + 3)
            cold = tally.take()
            assert len(farm.sessions().sessions) == 2 * (4 + 3)
            warm = tally.take()
    # Cold: a connection, negotiate, session setup (2 legs), IPC$, the pipe, bind, auth3, the call.
    assert cold["tcp"] == 2
    assert cold["rpc"] == cold["rpc:TermSrvEnumeration:10"] == 2
    assert cold["smb:NEGOTIATE"] == 2 and cold["smb:SESSION_SETUP"] == 4 and cold["smb:CREATE"] == 2
    # Warm: one RPC per server, one exchange each, no new connection.
    assert warm == {"smb": 2, "smb:IOCTL": 2, "rpc": 2, "rpc:TermSrvEnumeration:10": 2}


def _bench_tsts(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = _bench.main(["tsts", *argv], prog="wts bench")
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--servers", "0"], "--servers must be 1 to 10000"),
        (["--tstool-sample", "5", "--servers", "2"], "--tstool-sample must be 0 to --servers"),
        (["--latency-ms", "x"], "invalid float value"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], says: str) -> None:
    rc, out, err = _bench_tsts(capsys, *argv)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("wts bench tsts: error: ") and says in err, err


def test_runs_and_reports_every_row(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WTS_TSTS_PORT", str(PORT))
    report_file = tmp_path / "tsts.json"
    argv = ["--servers", "3", "--sessions", "2", "--latency-ms", "1", "--concurrency", "2", "--rounds", "2"]
    argv += ["--tstool-sample", "1", "--address", next_address(), "--json", str(report_file), "--markdown", "-q"]
    rc, out, err = _bench_tsts(capsys, *argv)
    assert rc == 0, err
    report = json.loads(report_file.read_text(encoding="utf-8"))
    rows = {r["row"]: r for r in report["rows"]}
    assert list(rows) == ["wts-cold", "wts-warm", "impacket-cold", "impacket-warm", "tstool"]
    cold, warm = rows["wts-cold"], rows["wts-warm"]
    assert cold["status"] == warm["status"] == "ok"
    assert cold["rounds"] == warm["rounds"] == 2
    assert cold["sessions"] == warm["sessions"] == 3 * (2 + 3)
    assert warm["rpcs"] == 3 and warm["smb_exchanges"] == 3 and warm["tcp_connections"] == 0
    assert cold["tcp_connections"] == 3 and cold["rpcs"] == 3
    assert cold["round_trips_per_server"] == (cold["smb_exchanges"] + 3) / 3
    assert cold["bound_s"] == pytest.approx(cold["smb_exchanges"] * 0.001 / 2 + cold["client_cpu_s"])
    for key in ("wall_s", "client_cpu_s", "server_cpu_s", "client_cpu_per_rpc_s"):
        assert warm[key] is not None and warm[key] >= 0
    impacket = rows["impacket-cold"]
    if impacket["status"] == "ok":  # impacket is in the test extra
        # tstool's qwinsta pattern: open / result / close, then one RpcGetSessionInformationEx per session.
        assert impacket["rpcs"] == 3 * (3 + 2 + 3) and impacket["sessions"] == 15
        assert rows["impacket-warm"]["tcp_connections"] == 0
    tstool = rows["tstool"]
    if ROOT and tstool["status"] == "ok":
        assert tstool["scale"] == 3 and tstool["sessions"] == 15 and "1 of 3 servers" in tstool["note"]
    elif not ROOT:
        assert tstool["status"] == "skipped" and "port 445 only" in tstool["note"]
    assert {t["target"] for t in report["targets"]} >= {"warm: one RPC per server"}
    assert out.startswith("tsts: 3 servers x 2 sessions, 1 ms served round trip, concurrency 2")
    assert "| wts tsts, cold (connect + list) | 2 | 2 |" in out
    assert "| warm: one RPC per server | 1.00 RPCs / server | met |" in out
    # What one server cost, by SMB command and by RPC, as the served side counted it.
    assert "- wts tsts, warm (2nd listing, same Farm), per server: IOCTL 1; RPCs: TermSrvEnumeration:10 1\n" in out


def test_a_port_it_cannot_listen_on_is_one_line_and_a_skip(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WTS_TSTS_PORT", str(PORT))
    address = next_address()
    with socket.socket() as busy:
        busy.bind((address, PORT))
        busy.listen()
        rc, out, err = _bench_tsts(capsys, "--servers", "1", "--address", address, "--no-peers", "-q")
    assert rc == 0 and out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("wts bench tsts: skipped: the served farm stopped: cannot listen on ")
    assert "already in use" in err


def test_targets_say_met_or_not() -> None:
    def row(key: str, wall: float, **kw: float) -> dict[str, object]:
        base = {"row": key, "status": "ok", "wall_s": wall, "ratio_to_bound": 1.2, "rpcs_per_server": 1.0}
        base.update(round_trips_per_server=9.0, client_cpu_per_rpc_s=250e-6, client_cpu_per_server_s=9e-3)
        base.update(kw)
        return base

    report = {"rows": [row("wts-cold", 1.0), row("wts-warm", 0.1), row("impacket-cold", 4.0), row("tstool", 150.0)]}
    got = {t["target"]: (t["measured"], t["met"]) for t in _remotereport.targets(report)}
    assert got["cold: at most 9 round trips a server (SMB exchanges + TCP)"] == ("9.0", True)
    assert got["at least 5x faster than impacket qwinsta pattern, cold (thread pool)"] == ("4.0x", False)
    assert got["at least 100x faster than tstool.py qwinsta, a process per server"] == ("150.0x", True)
    assert got["client CPU at most 300 us per warm call"] == ("250 us", True)
    assert got["client CPU at most 8 ms per cold server"] == ("9.0 ms", False)
    assert not any("impacket qwinsta pattern, warm" in t for t in got)  # no row, no verdict


def test_without_the_remote_extra_one_line_and_a_skip(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from wts._tsts import _auth

    def missing(name: str) -> object:
        raise wts.ProviderError(f"the tsts provider needs {name}: pip install 'wts[remote]'")

    monkeypatch.setattr(_auth, "import_remote", missing)
    rc, out, err = _bench_tsts(capsys, "--servers", "1", "-q")
    assert rc == 0 and out == ""
    why = "the tsts provider needs spnego: pip install 'wts[remote]'"
    assert err == f"wts bench tsts: skipped: the remote extra is missing ({why})\n"


def test_without_impacket_the_peer_rows_say_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wts._bench import _remote

    monkeypatch.setenv("WTS_TSTS_PORT", str(PORT))
    monkeypatch.setattr(_remote, "find_impacket", lambda: "impacket is not installed (test)")
    report_file = tmp_path / "tsts.json"
    argv = ["--servers", "1", "--sessions", "1", "--latency-ms", "0", "--rounds", "1", "--address", next_address()]
    rc, out, err = _bench_tsts(capsys, *argv, "--json", str(report_file), "-q")
    assert rc == 0, err
    rows = {r["row"]: r for r in json.loads(report_file.read_text(encoding="utf-8"))["rows"]}
    assert rows["wts-cold"]["status"] == rows["wts-warm"]["status"] == "ok"
    for key in ("impacket-cold", "impacket-warm", "tstool"):
        assert (rows[key]["status"], rows[key]["note"]) == ("skipped", "impacket is not installed (test)")
    assert "impacket is not installed (test)" in out
