"""Issue 12 ("Trust"), the engine's part: the engine's WTSConnectSessionW op, the late-return path,
small and bounded worker threads, and the info classes answered with Windows' sizes and types.

Sim-only: these drive wts._wts's Engine and the simulated farm directly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import wts
from wts import _wts

REFERENCE_FARM = Path(__file__).resolve().parent / "farms" / "windows.json"
SIM = _wts.get_provider("sim")
LOGONID_CURRENT = 0xFFFFFFFF


@pytest.fixture(autouse=True)
def _no_engine_threads_left() -> Iterator[None]:
    """Every worker this module starts has gone by the end of its test (hangs released)."""
    yield
    deadline = time.monotonic() + 10
    while _wts.engine_threads() != (0, 0) and time.monotonic() < deadline:
        wts.sim.release_hangs()
        time.sleep(0.01)
    assert _wts.engine_threads() == (0, 0)


def collect(engine: _wts.Engine, n: int, within: float = 10) -> list[tuple[int, int, int, int, object, float]]:
    """The next n finished calls, in the order they finished."""
    out: list[tuple[int, int, int, int, object, float]] = []
    deadline = time.monotonic() + within
    while len(out) < n:
        assert time.monotonic() < deadline, f"only {len(out)} of {n} calls came back"
        out += engine.wait(0.2)
    return out


# ------------------------------------------------------------------------------------------------
# Engine.connect: WTSConnectSessionW with a deadline (what wts.connect and tscon build on)
# ------------------------------------------------------------------------------------------------


def test_engine_connect_moves_the_session_as_connect_session_does(sim: object) -> None:
    engine = _wts.Engine(1)
    host = _wts.Host(SIM, None)
    try:
        wts.sim.reset_counters()
        engine.connect(host, 3, LOGONID_CURRENT, "bobpw", True, 7, 5.0)
        [(tag, op, status, winerror, payload, elapsed)] = collect(engine, 1)
        assert (tag, op, status, winerror, payload) == (7, _wts.OP_CONNECT, _wts.CALL_OK, 0, None)
        assert elapsed >= 0
        assert wts.sim.rpc_counts()["RDS01"] == wts.sim.rpc_total() == 1  # one RPC, to the local server
    finally:
        engine.close()
    with wts.Server(provider="sim") as s:
        states = {x.id: (x.station, x.state) for x in s.sessions()}
    assert states[3] == ("RDP-Tcp#0", wts.ConnectState.ACTIVE)  # bob took alice's connection
    assert states[2] == ("", wts.ConnectState.DISCONNECTED)


@pytest.mark.parametrize(
    "sid, target, password, winerror",
    [
        (3, LOGONID_CURRENT, "wrong", 1326),
        (3, LOGONID_CURRENT, "", 1326),
        (99, LOGONID_CURRENT, "x", 7022),
        (1, LOGONID_CURRENT, "", 7042),
    ],
    ids=["wrong-password", "no-password", "no-such-session", "console"],
)
def test_engine_connect_failures_carry_the_error(
    sim: object, sid: int, target: int, password: str, winerror: int
) -> None:
    engine = _wts.Engine(2)
    try:
        engine.connect(_wts.Host(SIM, None), sid, target, password, True, 1, 5.0)
        [(_, op, status, err, payload, _)] = collect(engine, 1)
        assert (op, status, err, payload) == (_wts.OP_CONNECT, _wts.CALL_FAILED, winerror, None)
    finally:
        engine.close()


def test_engine_connect_has_a_deadline() -> None:
    wts.sim.load(
        {
            "local": "L",
            "current_session": 2,
            "servers": [
                {
                    "name": "L",
                    "fault": "hang",
                    "sessions": [
                        {"id": 2, "station": "RDP-Tcp#0", "state": "Active", "user": "a"},
                        {"id": 3, "station": "", "state": "Disconnected", "user": "b", "password": "pw"},
                    ],
                }
            ],
        }
    )
    engine = _wts.Engine(1)
    try:
        started = time.monotonic()
        engine.connect(_wts.Host(SIM, None), 3, LOGONID_CURRENT, "pw", True, 1, 0.05)
        [(_, op, status, err, _, elapsed)] = collect(engine, 1)
        assert (op, status, err) == (_wts.OP_CONNECT, _wts.CALL_TIMEDOUT, 1460)
        assert 0.04 <= elapsed and time.monotonic() - started < 5
        assert wts.sim.hung_calls() == 1
    finally:
        engine.close()
        wts.sim.release_hangs()


def test_engine_connect_is_local_only(sim: object) -> None:
    engine = _wts.Engine(1)
    try:
        with pytest.raises(ValueError, match="local server only"):
            engine.connect(_wts.Host(SIM, "RDS01"), 3, LOGONID_CURRENT, "bobpw", True, 1, 5.0)
        assert engine.pending == 0
    finally:
        engine.close()


# ------------------------------------------------------------------------------------------------
# The late-return window (issue 12, item 1): a worker must not touch a job after dropping its
# reference.  tools/engine_stress.c forces the window open with a test-only hook; CI runs it under
# TSan and ASan with 1500 random rounds (tools/engine_stress.sh).  Here: the forced part under ASan.
# ------------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(sys.platform == "win32", reason="the stress program is POSIX (pthreads, -fsanitize)")
def test_late_return_window_under_asan(tmp_path: Path) -> None:
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    sources = [ROOT / "tools" / "engine_stress.c", ROOT / "src" / "wtsapi" / "wts_sim.c"]
    if cc is None or not all(p.exists() for p in sources):
        pytest.skip("needs a C compiler and the engine's sources (tools/, src/wtsapi/)")
    exe = tmp_path / "stress_address"
    build = subprocess.run(
        [
            cc,
            "-g",
            "-O1",
            "-fsanitize=address",
            "-fno-omit-frame-pointer",
            f"-I{ROOT / 'src'}",
            f"-I{ROOT / 'src' / 'wtsapi'}",
            *map(str, sources),
            "-o",
            str(exe),
            "-lpthread",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if build.returncode != 0:
        if "sanitize" in build.stderr or "asan" in build.stderr:
            pytest.skip(f"this compiler cannot build with AddressSanitizer: {build.stderr.strip()[-200:]}")
        raise AssertionError(build.stderr)
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=0"}
    run = subprocess.run([str(exe), "0"], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert run.returncode == 0 and "AddressSanitizer" not in run.stderr, run.stdout + run.stderr
    assert "late-return window: 5 calls freed by the owner while their worker was in it" in run.stdout


# ------------------------------------------------------------------------------------------------
# Info classes as Windows answers them (issue 12, items 22 and 23)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, remote",
    [(b"\x00", False), (b"\x01", True), (b"\x00\x00\x00\x00", False), (b"\x01\x00\x00\x00", True)],
    ids=["BOOLEAN-false", "BOOLEAN-true", "BOOL-false", "BOOL-true"],
)
def test_is_remote_session_decodes_the_one_byte_windows_answers(raw: bytes, remote: bool) -> None:
    # Windows answers WTSIsRemoteSession with one byte (a BOOLEAN); bool(b"\x00") is True, so reading
    # the raw byte made every session look remote.  A 4-byte BOOL is accepted too.
    assert _wts.decode_query(int(wts.InfoClass.IS_REMOTE_SESSION), raw) is remote


@pytest.mark.parametrize(
    "raw, text", [(b"ABCD", "ABCD"), (b"AB\x00\x00", "AB"), (b"\x00\x00\x00\x00", ""), (b"XY", "XY")]
)
def test_oem_id_is_ansi(raw: bytes, text: str) -> None:
    # As UTF-16, b"ABCD" would read as two CJK characters.
    assert _wts.decode_query(int(wts.InfoClass.OEM_ID), raw) == text


def test_the_sim_answers_is_remote_session_in_one_byte_and_it_reads_right(farm: object) -> None:
    with wts.Server(provider="sim") as s:
        assert [s.query(sid, wts.InfoClass.IS_REMOTE_SESSION) for sid in (0, 1, 2)] == [False, False, True]
        assert s.query(2, wts.InfoClass.OEM_ID) == ""
    # The bulk engine decodes the same way.
    engine = _wts.Engine(2)
    host = _wts.Host(SIM, None)
    try:
        for sid in (1, 2):
            engine.query(host, sid, int(wts.InfoClass.IS_REMOTE_SESSION), sid, 5.0)
        got = {tag: payload for tag, _, status, _, payload, _ in collect(engine, 2) if status == _wts.CALL_OK}
        assert got == {1: False, 2: True}
    finally:
        engine.close()


def test_client_and_config_info_have_the_sdk_sizes(farm: object) -> None:
    # WTSCLIENTW and WTSCONFIGINFOW come back as their bytes (wts does not decode them).
    with wts.Server(provider="sim") as s:
        client = s.query(2, wts.InfoClass.CLIENT_INFO)
        config = s.query(2, wts.InfoClass.CONFIG_INFO)
    assert isinstance(client, bytes) and len(client) == 2304
    assert client[:16].decode("utf-16-le") == "ALICE-PC"
    assert isinstance(config, bytes) and len(config) == 1668
    assert int.from_bytes(config[:4], "little") == 1


# ------------------------------------------------------------------------------------------------
# Abandoned threads (issue 12, item 5): small stacks, and a bound
# ------------------------------------------------------------------------------------------------


def hung_farm(hung: int, healthy: int = 0) -> list[str]:
    names = [f"H{i:04d}" for i in range(hung)] + [f"OK{i:02d}" for i in range(healthy)]
    servers: list[dict[str, object]] = [{"name": n, "fault": "hang"} for n in names[:hung]]
    servers += [
        {"name": n, "sessions": [{"id": 2, "station": "RDP-Tcp#0", "state": "Active", "user": "u"}]}
        for n in names[hung:]
    ]
    wts.sim.load({"now": "2026-11-21T12:00:00Z", "servers": servers})
    return names


@pytest.fixture
def limit() -> Iterator[None]:
    before = _wts.engine_abandoned_limit()
    yield
    _wts.engine_abandoned_limit(before)


def test_the_default_limit() -> None:
    assert _wts.engine_abandoned_limit() == 1024
    with pytest.raises(ValueError):
        _wts.engine_abandoned_limit(0)
    with pytest.raises(ValueError):
        _wts.engine_abandoned_limit(True)


def test_at_the_limit_no_worker_starts_and_an_engine_without_one_refuses_at_once(limit: None) -> None:
    hung_farm(3, healthy=1)
    _wts.engine_abandoned_limit(2)
    engine = _wts.Engine(1)
    hosts = [_wts.Host(SIM, name) for name in ("H0000", "H0001", "H0002", "OK00")]
    try:
        for tag, host in enumerate(hosts):
            engine.enumerate(host, tag, 0.05)
        got = {tag: (status, err) for tag, _, status, err, _, _ in collect(engine, 4)}
        # H0000 and H0001 hang past their deadline (two stuck threads: the limit); the engine may
        # not replace them, so it has no worker left, and the rest come back at once, unsent.
        assert got == {
            0: (_wts.CALL_TIMEDOUT, 1460),
            1: (_wts.CALL_TIMEDOUT, 1460),
            2: (_wts.CALL_FAILED, 1727),
            3: (_wts.CALL_FAILED, 1727),
        }
        assert _wts.engine_threads() == (2, 2) and _wts.engine_abandoned() == 2
        assert wts.sim.hung_calls() == 2
        # A new engine (a wts.Server call makes one) starts no thread either: refused at once.
        other = _wts.Engine(4)
        try:
            other.enumerate(hosts[3], 9, 5.0)
            assert collect(other, 1)[0][2:4] == (_wts.CALL_FAILED, 1727)
            assert _wts.engine_threads()[0] == 2
        finally:
            other.close()
        # When the stuck calls return, their threads go back to work (or leave) and the limit frees up.
        wts.sim.release_hangs()
        deadline = time.monotonic() + 10
        while _wts.engine_abandoned() and time.monotonic() < deadline:
            time.sleep(0.01)
        engine.enumerate(hosts[3], 5, 5.0)
        [(tag, _, status, _, rows, _)] = collect(engine, 1)
        assert (tag, status) == (5, _wts.CALL_OK) and isinstance(rows, list) and len(rows) == 1
    finally:
        engine.close()


def test_threads_of_a_closed_engine_count_as_abandoned(limit: None) -> None:
    hung_farm(1)
    engine = _wts.Engine(1)
    engine.enumerate(_wts.Host(SIM, "H0000"), 1, 0)  # no deadline: it hangs until released
    deadline = time.monotonic() + 10
    while wts.sim.hung_calls() < 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    engine.close()  # the owner lets go while the call runs (Ctrl-C twice, an error)
    assert _wts.engine_threads() == (1, 0)  # not stuck past a deadline ...
    assert _wts.engine_abandoned() == 1  # ... but abandoned all the same
    wts.sim.release_hangs()
    while _wts.engine_threads()[0] and time.monotonic() < deadline:
        time.sleep(0.005)
    assert _wts.engine_abandoned() == 0


def test_many_hung_servers_hold_no_more_threads_than_the_limit(limit: None) -> None:
    """N dead hosts used to mean N stuck threads, without end; now at most the limit plus the
    concurrency, and every server still gets its answer: a timeout, or 1727 (not sent)."""
    names = hung_farm(40, healthy=2)
    _wts.engine_abandoned_limit(10)
    peak = 0

    def watch(_: object) -> None:
        nonlocal peak
        peak = max(peak, _wts.engine_threads()[0])

    result = wts.Farm(names, provider="sim", concurrency=4, timeout=0.05, retries=0).sessions(progress=watch)
    peak = max(peak, _wts.engine_threads()[0])
    assert peak <= 10 + 4
    codes = {f.server: f.error.winerror for f in result.failures}
    assert set(codes) | {s.server for s in result} == set(names)
    assert set(codes.values()) <= {1460, 1727}
    assert sum(1 for c in codes.values() if c == 1460) <= 10 + 4
    assert _wts.engine_abandoned() <= 10 + 4
    refused = [f.error for f in result.failures if f.error.winerror == 1727]
    assert refused, "some servers were refused at the limit"
    assert all("engine_abandoned_limit()" in str(err) for err in refused)  # says why, and where to look


@pytest.mark.skipif(sys.platform != "linux", reason="reads VmSize from /proc (under Wine that is not the process)")
def test_worker_stacks_are_small() -> None:
    """Each stuck worker costs its 256 KiB stack in address space, not the platform default (8 MiB
    on Linux, 1 MiB or more on Windows)."""

    def vm_kib() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1])
        raise AssertionError("no VmSize")

    names = hung_farm(64)
    before = vm_kib()
    engine = _wts.Engine(64)
    try:
        for tag, name in enumerate(names):
            engine.enumerate(_wts.Host(SIM, name), tag, 0)
        deadline = time.monotonic() + 10
        while wts.sim.hung_calls() < 64 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert _wts.engine_threads()[0] == 64
        grown = vm_kib() - before
    finally:
        engine.close()
        wts.sim.release_hangs()
    assert grown < 64 * 1024, f"64 workers took {grown} KiB of address space: more than 1 MiB each"
