"""The SMB transport (src/wts/_tsts/_smb.py) against impacket's SMB server, a peer we did not write:
NTLM session setup, IPC$, a named pipe relayed by impacket to a socket this test serves, transceive,
and the Win32 codes of each failure.  Everything on 127.0.0.1, unprivileged ports, stopped after."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

pytest.importorskip("smbprotocol")
smbserver = pytest.importorskip("impacket.smbserver")
impacket_ntlm = pytest.importorskip("impacket.ntlm")

from conftest import QuietHost  # noqa: E402  (tests/ is on sys.path: pytest's rootdir conftest)

from wts import Credentials  # noqa: E402
from wts._tsts._smb import SmbError, SmbSession  # noqa: E402
from wts._winerror import WinError  # noqa: E402

PASSWORD = "S3cret-pipe"
GOOD = Credentials("admin", "", PASSWORD)
LOOPBACK = "127.0.0.1"
BOUND = 20.0  # seconds: nothing here comes near it on a healthy machine


class PipePeer:
    """What impacket relays the pipe to: answers each message with it upper-cased, ``count`` times."""

    def __init__(self) -> None:
        self.listener = socket.create_server((LOOPBACK, 0))
        self.listener.settimeout(0.2)
        self.stopping = threading.Event()
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.listener.getsockname()[:2]
        return host, port

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(BOUND)
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                self.received.append(data)
                count = int(data.split(b":")[0]) if data[:1].isdigit() else 1
                conn.sendall(data.upper() * count)

    def stop(self) -> None:
        self.stopping.set()
        self.listener.close()
        self.thread.join(BOUND)


@pytest.fixture(scope="module")
def smb_server() -> Iterator[int]:
    """impacket's SimpleSMBServer on 127.0.0.1 (a free port), one account, LSM_API_service relayed."""
    peer = PipePeer()
    server = smbserver.SimpleSMBServer(LOOPBACK, 0)
    server.setSMB2Support(True)
    server.addCredential(
        "admin", 0, impacket_ntlm.compute_lmhash(PASSWORD).hex(), impacket_ntlm.compute_nthash(PASSWORD).hex()
    )
    server.registerNamedPipe("LSM_API_service", peer.address)
    inner = server.getServer()
    port = inner.server_address[1]
    thread = threading.Thread(target=inner.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        inner.shutdown()
        inner.server_close()
        thread.join(BOUND)
        peer.stop()


def test_a_pipe_on_impackets_server_answers(smb_server: int) -> None:
    with SmbSession(LOOPBACK, GOOD, port=smb_server, connect_timeout=BOUND) as session:
        assert not session.connected
        pipe = session.open_pipe("LSM_API_service")
        assert session.connected and session.dialect is not None
        assert pipe.transceive(b"hello") == b"HELLO"
        assert pipe.transceive(b"again") == b"AGAIN"  # the same pipe, reused
        big = pipe.transceive(b"1000:" + b"x" * 10)  # 15,000 bytes: one answer under the read size
        assert big == (b"1000:" + b"X" * 10) * 1000
        second = session.open_pipe("LSM_API_service")  # a second pipe on the same SMB session
        assert second.transceive(b"two") == b"TWO"
    assert not session.connected
    with pytest.raises(SmbError) as info:
        pipe.transceive(b"after close")
    assert info.value.winerror == WinError.ERROR_INVALID_HANDLE


def test_a_wrong_password_is_1326_and_not_shown(smb_server: int) -> None:
    bad = Credentials("admin", "", "not-" + PASSWORD)
    session = SmbSession(LOOPBACK, bad, port=smb_server, connect_timeout=BOUND)
    with pytest.raises(SmbError) as info:
        session.open_pipe("LSM_API_service")
    assert info.value.winerror == WinError.ERROR_LOGON_FAILURE
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(session)
    session.close()


def test_a_pipe_nobody_serves_is_1722(smb_server: int) -> None:
    # As the RPC runtime reports TermSrv_API_service when RDP is disabled: the server is unavailable.
    with SmbSession(LOOPBACK, GOOD, port=smb_server, connect_timeout=BOUND) as session:
        with pytest.raises(SmbError) as info:
            session.open_pipe("TermSrv_API_service")
        assert info.value.winerror == WinError.RPC_S_SERVER_UNAVAILABLE
        assert "TermSrv_API_service" in str(info.value)
        assert session.open_pipe("LSM_API_service").transceive(b"still") == b"STILL"


def test_a_refused_connection_is_1722() -> None:
    with socket.create_server((LOOPBACK, 0)) as probe:
        port = probe.getsockname()[1]
    # closed now: nothing listens on that port
    with pytest.raises(SmbError) as info:
        SmbSession(LOOPBACK, GOOD, port=port, connect_timeout=BOUND).connect()
    assert info.value.winerror == WinError.RPC_S_SERVER_UNAVAILABLE


@pytest.mark.parametrize("shutdown", ["wakes", "wakes nothing"])
@pytest.mark.parametrize("stage", ["negotiate", "session setup"])
def test_a_silent_server_fails_within_the_connect_timeout(
    stage: str, shutdown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host that accepts TCP and then says nothing (or stops after negotiating) fails at the connect
    timeout with 1722, not after the operating system's TCP timeout.  Also where shutting a socket
    down does not wake a read of it on another thread (Windows, and Wine), with Python's reads there."""
    if shutdown == "wakes nothing":
        from wts._tsts import _directtcp

        monkeypatch.setattr(_directtcp, "NATIVE", False)
        monkeypatch.setattr(socket.socket, "shutdown", lambda self, how: None)
    real = smbserver.SimpleSMBServer(LOOPBACK, 0) if stage == "session setup" else None
    upstream = None
    if real is not None:
        real.setSMB2Support(True)
        inner = real.getServer()
        threading.Thread(target=inner.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        upstream = inner.server_address[:2]
    try:
        with QuietHost(upstream, BOUND) as quiet:
            started = time.monotonic()
            with pytest.raises(SmbError) as info:
                SmbSession(LOOPBACK, GOOD, port=quiet.port, connect_timeout=1.0).connect()
            elapsed = time.monotonic() - started
        assert info.value.winerror == WinError.RPC_S_SERVER_UNAVAILABLE
        assert elapsed < BOUND / 2, f"took {elapsed:.1f} s"
    finally:
        if real is not None:
            inner.shutdown()
            inner.server_close()


def test_the_negotiates_answer_is_read_through_the_handoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """smbprotocol's receiving thread reads through the Handoff from the first answer on, so a close
    ends even the negotiate's read on every system (Windows does not wake a read on shutdown)."""
    from wts._tsts import _directtcp

    reads: list[float] = []
    real = _directtcp.Handoff.recv

    def counted(self: _directtcp.Handoff, timeout: float) -> bytes:
        reads.append(timeout)
        return real(self, timeout)

    monkeypatch.setattr(_directtcp.Handoff, "recv", counted)
    with QuietHost() as quiet, pytest.raises(SmbError) as info:  # never answers the negotiate
        SmbSession(LOOPBACK, GOOD, port=quiet.port, connect_timeout=0.5).connect()
    assert info.value.winerror == WinError.RPC_S_SERVER_UNAVAILABLE
    assert reads, "the negotiate's answer was read past the Handoff"


def test_many_silent_servers_fail_together_where_shutdown_wakes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Twenty connects at once to hosts that never answer, where a shutdown wakes no read (Windows):
    each fails with 1722 about its connect timeout after it began.  A read that held the socket's lock
    in one-second waits made closes queue behind it, seconds apiece, the watchdog's among them."""
    from wts._tsts import _directtcp

    monkeypatch.setattr(_directtcp, "NATIVE", False)
    monkeypatch.setattr(socket.socket, "shutdown", lambda self, how: None)
    quiet = QuietHost()
    took: list[float] = []
    codes: list[int] = []

    def one() -> None:
        started = time.monotonic()
        try:
            SmbSession(LOOPBACK, GOOD, port=quiet.port, connect_timeout=1.0).connect()
        except SmbError as exc:
            codes.append(exc.winerror)
        took.append(time.monotonic() - started)

    threads = [threading.Thread(target=one) for _ in range(20)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(BOUND)
    finally:
        quiet.close()
    assert codes == [WinError.RPC_S_SERVER_UNAVAILABLE] * 20
    assert max(took) < 4.0, f"slowest {max(took):.1f} s"  # 1 s, a WAKE to close, and a loaded machine
