"""The tsts provider end to end in this process: wts.Server and wts.Farm (the C table of callbacks, the
engine's native workers, deadlines) -> the MS-TSTS client -> impacket's SMB server -> a minimal LSM
server of our codec at packet privacy.  Credentials, connection reuse, the Win32 codes of failures,
passwords kept out of every message, and the command line's -U.  Loopback, unprivileged ports,
every server stopped by its test, bounded in time."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("smbprotocol")
pytest.importorskip("spnego")
pytest.importorskip("impacket.smbserver")

from conftest import engine_threads_settle  # tests/ is on sys.path (pytest's rootdir conftest)
from tsts_peers import BOUND, LOOPBACK, SealedPeer, SmbFront, close_listener

import wts
from wts._errors import error_from_winerror
from wts._tsts import _calls, _client
from wts._winerror import WinError

PASSWORD = "Pr0vider-pw"
CREDS = wts.Credentials("admin", "", PASSWORD)
ENTRIES = [
    _calls.ExecEnvEntry(0, 4, "Services", 0),
    _calls.ExecEnvEntry(1, 0, "RDP-Tcp#3", 2, "RDS01", "alice", "CONTOSO"),
    _calls.ExecEnvEntry(2, 4, "", 5, "RDS01", "bob", "CONTOSO"),
]
INFO = _calls.SessionInfoEx(
    0, 1, "RDP-Tcp#3", "CONTOSO", "alice", 133_000_000_000_000_000, 0, 132_900_000_000_000_000, 133_000_000_010_000_000
)
ENUMERATION, SESSION = 0, 1  # the presentation contexts our client binds on LSM_API_service, in order


def _lsm(context: int, opnum: int, stub: bytes) -> bytes:
    """What the peer answers: RpcGetAllSessions and RpcGetSessionInformationEx (session 2 only)."""
    if (context, opnum) == (ENUMERATION, _calls.RPC_GET_ALL_SESSIONS.opnum):
        assert _calls.decode_get_all_sessions_request(stub) == 2
        return _calls.encode_get_all_sessions_response(ENTRIES, level=2)
    if (context, opnum) == (SESSION, _calls.RPC_GET_SESSION_INFORMATION_EX.opnum):
        session_id, _ = _calls.decode_get_session_information_ex_request(stub)
        if session_id != 2:
            return _calls.encode_get_session_information_ex_response(None, int(WinError.ERROR_CTX_WINSTATION_NOT_FOUND))
        return _calls.encode_get_session_information_ex_response(INFO)
    raise AssertionError(f"unexpected call {context}/{opnum}")


@pytest.fixture
def lsm(monkeypatch: pytest.MonkeyPatch) -> Iterator[SealedPeer]:
    peer = SealedPeer(_lsm, PASSWORD)
    front = SmbFront(peer.address, password=PASSWORD)
    monkeypatch.setenv("WTS_TSTS_PORT", str(front.port))
    try:
        yield peer
    finally:
        front.stop()
        peer.stop()


def _rows(sessions: list[wts.Session]) -> list[tuple[int, str, int, str, str]]:
    return [(s.id, s.station, int(s.state), s.user, s.domain) for s in sessions]


EXPECTED = [(0, "Services", 4, "", ""), (2, "RDP-Tcp#3", 0, "alice", "CONTOSO"), (5, "", 4, "bob", "CONTOSO")]


@pytest.mark.parametrize("timeout", [30.0, None], ids=["engine", "direct"])
def test_a_server_lists_and_reads_over_one_connection(lsm: SealedPeer, timeout: float | None) -> None:
    with wts.Server(LOOPBACK, provider="tsts", credentials=CREDS, timeout=timeout) as server:
        assert server.provider.name == "tsts"
        assert _rows(server.sessions()) == EXPECTED
        assert _rows(server.sessions()) == EXPECTED
        info = server.session_info(2)
        assert (info.id, info.station, info.user, info.domain, info.locked) == (
            2,
            "RDP-Tcp#3",
            "alice",
            "CONTOSO",
            False,
        )
        assert info.logon_time is not None and info.disconnect_time is None
        with pytest.raises(wts.NoSuchSessionError) as missing:
            server.session_info(9)
        assert missing.value.winerror == WinError.ERROR_CTX_WINSTATION_NOT_FOUND
        # four calls, one TCP connection and one bind: the SMB session and the pipe were reused
        assert (lsm.connections, lsm.binds) == (1, 1)
        if timeout is not None:  # and one engine worker, kept from call to call (a failed call's too)
            assert len(server._engines or []) == 1 and wts._wts.engine_threads()[0] == 1
    assert lsm.seen_opnums == [10, 10, 17, 17]
    assert engine_threads_settle() == (0, 0)  # closing the server let it go


def test_a_farm_reuses_its_connections_across_operations_until_closed(lsm: SealedPeer) -> None:
    farm = wts.Farm([LOOPBACK], provider="tsts", credentials=CREDS, timeout=BOUND)
    for _ in range(3):
        result = farm.sessions()
        assert not result.failures
        assert _rows(sorted(result.sessions, key=lambda s: s.id)) == EXPECTED
    assert (lsm.connections, lsm.binds) == (1, 1)
    kept = dict(farm._hosts)  # the engine's handle of a run that ended well serves the next one
    assert list(kept) == [LOOPBACK]
    engine = farm._engine  # and so does the engine, its worker with it
    assert engine is not None and wts._wts.engine_threads()[0] >= 1
    farm.sessions()
    assert farm._hosts[LOOPBACK] is kept[LOOPBACK] and farm._engine is engine
    farm.close()
    assert farm._hosts == {} and farm._engine is None
    assert engine_threads_settle() == (0, 0)  # closing the farm let its worker go
    assert _rows(sorted(farm.sessions().sessions, key=lambda s: s.id)) == EXPECTED  # a new connection
    assert (lsm.connections, lsm.binds) == (2, 2)
    assert farm._hosts[LOOPBACK] is not kept[LOOPBACK]
    with farm:
        pass  # __exit__ closes


def test_a_connection_dropped_while_idle_is_made_again_for_a_listing(lsm: SealedPeer) -> None:
    """The server dropped the idle connection (here: its end of the stream seen closed): a listing or
    a details query, which names no handle of that connection, goes once more on a new one rather
    than failing with 1727; one RPC counted per try."""
    with wts.Server(LOOPBACK, provider="tsts", credentials=CREDS, timeout=BOUND) as server:
        assert _rows(server.sessions()) == EXPECTED
        client = server.provider.connections.client(LOOPBACK)
        wire = client._smb._wire
        assert wire is not None
        wire._sock.shutdown(socket.SHUT_RD)  # the next exchange finds the stream ended: nothing sent
        assert _rows(server.sessions()) == EXPECTED
        assert lsm.connections == 2 and client.rpcs["RpcGetAllSessions"] == 3
        client._smb._wire._sock.shutdown(socket.SHUT_RD)
        assert server.session_info(2).user == "alice"
        assert lsm.connections == 3


def test_a_failed_or_interrupted_run_keeps_no_handle(lsm: SealedPeer) -> None:
    """A server that failed had its handle killed (its unsent calls cancelled): the next operation
    opens another.  A run the caller left early keeps none either."""
    nobody = "127.0.0.3"  # the peer listens on 127.0.0.1 only: refused here, 1722
    farm = wts.Farm([LOOPBACK, nobody], provider="tsts", credentials=CREDS, timeout=BOUND, retries=0)
    result = farm.sessions()
    assert [(f.server, f.error.winerror) for f in result.failures] == [(nobody, WinError.RPC_S_SERVER_UNAVAILABLE)]
    assert list(farm._hosts) == [LOOPBACK]
    stream = farm.stream()
    next(iter(stream))
    stream.close()  # left early: the handles and the engine it took are not given back
    assert farm._hosts == {} and farm._engine is None
    assert len(farm.sessions().sessions) == len(EXPECTED)
    farm.close()


def test_a_wrong_password_is_1326_and_never_shown(lsm: SealedPeer) -> None:
    wrong = wts.Credentials("admin", "", "not-" + PASSWORD)
    server = wts.Server(LOOPBACK, provider="tsts", credentials=wrong)
    with pytest.raises(wts.AccessDeniedError) as info:
        server.sessions()
    assert info.value.winerror == WinError.ERROR_LOGON_FAILURE
    farm = wts.Farm([LOOPBACK], provider="tsts", credentials=wrong)
    failure = farm.sessions().failures[0]
    assert failure.error.winerror == WinError.ERROR_LOGON_FAILURE
    for text in (str(info.value), repr(info.value), repr(server), repr(farm), repr(wrong), str(failure), repr(failure)):
        assert PASSWORD not in text
    # Windows' text and then the client's reason, through the direct call and through the engine.
    for text in (str(info.value), str(failure.error)):
        assert "The user name or password is incorrect: " in text and "[WinError 1326]" in text, text
        assert "\n" not in text
    server.close()
    farm.close()


def test_a_failure_reason_is_for_its_server_and_code_and_taken_once() -> None:
    connections = _client.Connections(CREDS)
    connections.note_failure("RDS01", 1326, OSError("rds01: authentication failed: no ticket"))
    assert connections.failure_reason("rds02", 1326) is None
    assert connections.failure_reason("rds01", 5) is None  # another code: not its reason (and gone)
    connections.note_failure("RDS01", 1326, OSError("RDS01: authentication\nfailed: no ticket"))
    assert connections.failure_reason("Rds01", 1326) == "authentication failed: no ticket"
    assert connections.failure_reason("rds01", 1326) is None
    connections.note_failure(
        "RDS01", 7022, _client.TstsError(7022, "RDS01: RpcWinStationReset, session 4 failed", True)
    )
    assert connections.failure_reason("RDS01", 7022) is None  # the server's answer: its code says it
    sim = wts._wts.get_provider("sim")
    assert str(sim.error(1326, "WTSOpenServerExW", "RDS01")) == str(
        error_from_winerror(1326, "WTSOpenServerExW", "RDS01")
    )


def test_an_address_nobody_answers_on_is_1722(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.create_server((LOOPBACK, 0)) as probe:
        port = probe.getsockname()[1]
    monkeypatch.setenv("WTS_TSTS_PORT", str(port))  # closed again: connection refused
    with wts.Server(LOOPBACK, provider="tsts", credentials=CREDS) as server:
        with pytest.raises(wts.ServerUnavailableError) as info:
            server.sessions()
    assert info.value.winerror == WinError.RPC_S_SERVER_UNAVAILABLE


def test_a_silent_host_fails_within_the_connect_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    listener = socket.create_server((LOOPBACK, 0))  # accepts TCP (the backlog), never answers
    monkeypatch.setenv("WTS_TSTS_PORT", str(listener.getsockname()[1]))
    try:
        started = time.monotonic()
        result = wts.Farm([LOOPBACK], provider="tsts", credentials=CREDS, connect_timeout=1.0, timeout=BOUND).sessions()
        elapsed = time.monotonic() - started
        assert result.failures[0].error.winerror == WinError.RPC_S_SERVER_UNAVAILABLE
        assert elapsed < BOUND / 2, f"took {elapsed:.1f} s"
    finally:
        close_listener(listener)


def test_provider_arguments_are_checked() -> None:
    with pytest.raises(wts.ProviderError, match="tsts"):
        wts.Server("RDS01", provider="sim", connect_timeout=3)  # credentials alone are win32's and sim's too
    with pytest.raises(wts.ProviderError, match="connect_timeout"):
        wts.Server("RDS01", provider="tsts", credentials=CREDS, connect_timeout=0)
    with pytest.raises(TypeError):
        wts.Server("RDS01", provider="tsts", credentials=("admin", PASSWORD))  # type: ignore[arg-type]


def test_tsts_needs_a_server_name() -> None:
    with pytest.raises(ValueError, match="name one"):
        wts.Server(None, provider="tsts", credentials=CREDS, timeout=None)


# -- the command line -------------------------------------------------------------------------------


def _wts(args: list[str], stdin: str = "") -> tuple[int, str, str]:
    import io

    from wts._cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(args, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_lists_with_U_and_a_password_file(lsm: SealedPeer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    monkeypatch.delenv("WTS_PASSWORD", raising=False)
    code, out, err = _wts(
        [
            "--provider",
            "tsts",
            "-U",
            "admin",
            "--password-file",
            str(secret),
            "sessions",
            "-s",
            LOOPBACK,
            "--format",
            "json",
        ]
    )
    assert code == 0, err
    assert "alice" in out and "bob" in out
    assert PASSWORD not in out + err


def test_cli_takes_the_password_from_the_environment(lsm: SealedPeer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WTS_PASSWORD", PASSWORD)
    code, out, err = _wts(["--provider", "tsts", "-U", "admin", "sessions", "-s", LOOPBACK])
    assert code == 0, err
    assert "alice" in out and PASSWORD not in out + err
    monkeypatch.setenv("WTS_PASSWORD", "wrong-" + PASSWORD)
    code, out, err = _wts(["--provider", "tsts", "-U", "admin", "sessions", "-s", LOOPBACK])
    assert code == 1
    assert "1326" in err and PASSWORD not in out + err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-U", "admin", "sessions"], "WTS_PASSWORD"),  # any provider takes -U; none without a password
        (["--provider", "tsts", "-U", "admin", "sessions", "-s", "RDS01"], "WTS_PASSWORD"),
        (["--provider", "tsts", "--password-file", "x", "sessions", "-s", "RDS01"], "-U is missing"),
    ],
)
def test_cli_refuses_a_logon_it_cannot_make(args: list[str], says: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WTS_PASSWORD", raising=False)
    code, out, err = _wts(args)
    assert out == ""
    assert code == 2
    assert says in err and len(err.strip().splitlines()) == 1


def test_concurrent_servers_share_nothing_they_should_not(lsm: SealedPeer) -> None:
    # Two threads, two Servers with their own connections: both answer, each over its own session.
    results: list[object] = []

    def list_once() -> None:
        with wts.Server(LOOPBACK, provider="tsts", credentials=CREDS) as server:
            results.append(_rows(server.sessions()))

    threads = [threading.Thread(target=list_once) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(BOUND)
    assert results == [EXPECTED, EXPECTED]
    assert lsm.connections == 2


def _with_name(stub: bytes, entry: int, field_at: int, units: bytes) -> bytes:
    """``stub`` (a level-2 RpcGetAllSessions answer) with one WCHAR[33] replaced by ``units``."""
    at = 12 + 352 * entry + field_at
    return stub[:at] + units.ljust(66, b"\0") + stub[at + 66 :]


_PLAIN = _calls.encode_get_all_sessions_response(ENTRIES, level=2)
_USER_AT = 154  # EXECENVDATA_LEVEL2's UserName, from the entry's Level field


# The provider reads a successful level-2 answer in C and hands any other to the Python decoder; both
# must give what the answer says.  (answer, the row of RDP-Tcp#3 or the Win32 code of the failure)
@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (_PLAIN, (2, "RDP-Tcp#3", 0, "alice", "CONTOSO")),
        (  # 33 units, no NUL: every unit is the name's (read in C)
            _with_name(_PLAIN, 1, _USER_AT, "u".encode("utf-16-le") * 32 + "v".encode("utf-16-le")),
            (2, "RDP-Tcp#3", 0, "u" * 32 + "v", "CONTOSO"),
        ),
        (  # a surrogate pair: Python's decoder joins it
            _with_name(_PLAIN, 1, _USER_AT, "al\U0001f600ce".encode("utf-16-le", "surrogatepass")),
            (2, "RDP-Tcp#3", 0, "al\U0001f600ce", "CONTOSO"),
        ),
        (  # a lone surrogate: Python's decoder replaces it, as it did before the C path
            _with_name(_PLAIN, 1, _USER_AT, "al".encode("utf-16-le") + b"\x00\xd8" + "ce".encode("utf-16-le")),
            (2, "RDP-Tcp#3", 0, "al\ufffdce", "CONTOSO"),
        ),
        (  # level 1: the Python decoder (no user names at that level)
            _calls.encode_get_all_sessions_response(ENTRIES, level=1),
            (0, "RDP-Tcp#3", 0, "", ""),  # nor session ids: the level-1 row says 0
        ),
        (
            _calls.encode_get_all_sessions_response([], error=int(WinError.ERROR_ACCESS_DENIED)),
            WinError.ERROR_ACCESS_DENIED,
        ),
        (_PLAIN[:-5] + _PLAIN[-4:], WinError.RPC_S_CALL_FAILED),  # one byte short: malformed
    ],
    ids=["plain", "33-units", "surrogate-pair", "lone-surrogate", "level-1", "refused", "malformed"],
)
def test_every_answer_reads_as_it_says(answer: bytes, expected: object, monkeypatch: pytest.MonkeyPatch) -> None:
    def lsm(context: int, opnum: int, stub: bytes) -> bytes:
        assert (context, opnum) == (ENUMERATION, _calls.RPC_GET_ALL_SESSIONS.opnum)
        return answer

    decoded: list[bytes] = []  # the answers the Python decoder read
    python_rows = _client.Client.session_rows

    def session_rows(self: _client.Client, stub: bytes) -> list[tuple[int, int, int, str, str, str, str, str]]:
        decoded.append(stub)
        return python_rows(self, stub)

    monkeypatch.setattr(_client.Client, "session_rows", session_rows)
    peer = SealedPeer(lsm, PASSWORD)
    front = SmbFront(peer.address, password=PASSWORD)
    monkeypatch.setenv("WTS_TSTS_PORT", str(front.port))
    try:
        with wts.Server(LOOPBACK, provider="tsts", credentials=CREDS, timeout=BOUND) as server:
            if isinstance(expected, tuple):
                assert [r for r in _rows(server.sessions()) if r[1] == "RDP-Tcp#3"] == [expected]
                read_in_c = answer is _PLAIN or len(expected[3]) == 33
                assert decoded == ([] if read_in_c else [answer])
            else:
                with pytest.raises(wts.WTSError) as failed:
                    server.sessions()
                assert failed.value.winerror == expected
    finally:
        front.stop()
        peer.stop()
