"""The client's own SMB2 messages after the logon (src/wts/_tsts/_smbio.py), against a scripted peer
on a socket pair: requests signed and numbered as MS-SMB2 says, answers checked (signature, message
id, STATUS_PENDING, STATUS_BUFFER_OVERFLOW, credits), and any answer out of step ends the connection
instead of being taken for another.  Each test runs on both of the Wire's socket paths: one C call an
exchange, and Python's socket methods (which Windows uses).  The peers we did not write (impacket's
SMB server, wts sim serve's) are in test_tsts_smb.py, test_tsts_actions.py and test_tsts_e2e.py."""

from __future__ import annotations

import hashlib
import hmac
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

pytest.importorskip("cryptography")

from wts._tsts import _smbio
from wts._tsts._smbio import IOCTL, STATUS_BUFFER_OVERFLOW, STATUS_PENDING, Wire, WireError
from wts._winerror import WinError

KEY = bytes(range(16))
FILE_ID = b"\x11" * 16
HEADER = struct.Struct("<4sHHIHHIIQIIQ16s")


def sign(message: bytes) -> bytes:
    return hmac.new(KEY, message[:48] + bytes(16) + message[64:], hashlib.sha256).digest()[:16]


def answer(request: bytes, status: int = 0, body: bytes = b"", *, flags: int = 0x9, credits: int = 1,
           message_id: int | None = None, signature: bytes | None = None) -> bytes:  # fmt: skip
    _, _, _, _, command, _, _, _, mid, _, tree, session, _ = HEADER.unpack_from(request)
    head = HEADER.pack(b"\xfeSMB", 64, 0, status, command, credits, flags, 0,
                       mid if message_id is None else message_id, 0, tree, session, bytes(16))  # fmt: skip
    message = head + body
    sig = sign(message) if signature is None else signature
    return message[:48] + sig + message[64:]


def ioctl_body(data: bytes) -> bytes:
    return struct.pack("<HHI16sIIIIII", 49, 0, 0x0011C017, FILE_ID, 112, 0, 112, len(data), 0, 0) + data


class Peer:
    """Reads the client's requests from one end of a socket pair and answers with ``script``."""

    def __init__(self, sock: socket.socket, script: Callable[[bytes], list[bytes]]) -> None:
        self.sock = sock
        self.script = script
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def run(self) -> None:
        try:
            while True:
                size = int.from_bytes(self._exactly(4), "big")
                request = self._exactly(size)
                self.requests.append(request)
                for reply in self.script(request):
                    self.sock.sendall(len(reply).to_bytes(4, "big") + reply)
        except (EOFError, OSError):
            pass


pytestmark = pytest.mark.usefixtures("socket_path")  # tests/conftest.py: each test on both socket paths


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def wire(sock: socket.socket, window: tuple[int, int] = (5, 6)) -> Wire:
    return Wire(sock, server="peer", dialect=0x0202, signing_key=KEY, signing_algorithm=None, session_id=77,
                tree_id=3, window=window, multi_credit=False)  # fmt: skip


def test_a_transceive_is_signed_numbered_and_checked(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    peer = Peer(server, lambda req: [answer(req, body=ioctl_body(b"ANSWER:" + req[120:]))])
    w = wire(client)
    assert w.transceive(FILE_ID, b"one", 1024, 5.0) == (b"ANSWER:one", False)
    assert w.transceive(FILE_ID, b"two", 1024, 5.0) == (b"ANSWER:two", False)
    first, second = peer.requests
    for n, request in enumerate((first, second)):
        _, _, _, _, command, _, flags, _, mid, _, tree, session, signature = HEADER.unpack_from(request)
        assert (command, flags & 0x8, mid, tree, session) == (IOCTL, 0x8, 5 + n, 3, 77)
        assert signature == sign(request)
    assert w.exchanges == 2 and not w.broken


def test_pending_then_overflow(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair

    def script(req: bytes) -> list[bytes]:
        interim = answer(req, STATUS_PENDING, struct.pack("<HBBI", 9, 0, 0, 0) + b"\0", flags=0x3, signature=bytes(16))
        return [interim, answer(req, STATUS_BUFFER_OVERFLOW, ioctl_body(b"part"))]

    Peer(server, script)
    assert wire(client).transceive(FILE_ID, b"x", 4, 5.0) == (b"part", True)


@pytest.mark.parametrize(
    "tamper",
    [
        {"signature": b"\x00" * 16},  # does not verify
        {"flags": 0x1, "signature": bytes(16)},  # unsigned
        {"message_id": 99},  # an answer to another request
    ],
)
def test_an_answer_out_of_step_ends_the_connection(pair: tuple[socket.socket, socket.socket], tamper: dict) -> None:
    client, server = pair
    Peer(server, lambda req: [answer(req, body=ioctl_body(b"x"), **tamper)])
    w = wire(client)
    with pytest.raises(WireError) as info:
        w.transceive(FILE_ID, b"x", 16, 5.0)
    assert info.value.winerror(connecting=False) == WinError.RPC_S_CALL_FAILED
    assert w.broken
    with pytest.raises(WireError) as again:
        w.transceive(FILE_ID, b"x", 16, 5.0)
    assert again.value.winerror(connecting=False) == WinError.RPC_S_CALL_FAILED_DNE  # not sent


def test_errors_keep_their_status_and_the_connection(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    Peer(server, lambda req: [answer(req, 0xC0000022, struct.pack("<HBBI", 9, 0, 0, 0) + b"\0")])
    w = wire(client)
    with pytest.raises(WireError) as info:
        w.create_pipe("Ctx_WinStation_API_service", 5.0)
    assert info.value.winerror(connecting=True) == WinError.ERROR_ACCESS_DENIED
    assert not w.broken


def test_no_answer_is_a_timeout_and_the_end(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    Peer(server, lambda req: [])
    w = wire(client)
    with pytest.raises(WireError):
        w.transceive(FILE_ID, b"x", 16, 0.3)
    assert w.broken


def test_credits_run_out_and_come_back(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    grants = iter([0, 1])  # 2.0.2 counts a 0 grant as 1, as smbprotocol does
    Peer(server, lambda req: [answer(req, body=ioctl_body(b"x"), credits=next(grants))])
    w = wire(client, window=(5, 6))
    w.transceive(FILE_ID, b"x", 16, 5.0)
    w.transceive(FILE_ID, b"x", 16, 5.0)
    assert not w.broken
    empty = wire(client, window=(5, 5))
    with pytest.raises(WireError) as info:
        empty.transceive(FILE_ID, b"x", 16, 5.0)
    assert info.value.winerror(connecting=False) == WinError.RPC_S_CALL_FAILED_DNE


def test_a_connection_the_server_closed_while_idle_fails_unsent() -> None:
    """A server drops an idle connection (TCP, as a real one: its FIN arrives, a send would still
    go out); the next call finds it gone before sending anything, so it fails as a call that did not
    run (1727: a bulk run sends it again on a new connection), not as one that may have run (1726)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=5)
        server, _ = listener.accept()
    try:
        w = wire(client)
        server.close()
        time.sleep(0.05)  # the FIN reaches the client
        with pytest.raises(WireError) as raised:
            w.transceive(FILE_ID, b"x", 16, 5.0)
        assert raised.value.sent is False
        assert raised.value.winerror(connecting=False) == WinError.RPC_S_CALL_FAILED_DNE
        assert w.broken and w.exchanges == 0
    finally:
        client.close()


def test_an_idle_connection_still_open_is_used(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    Peer(server, lambda req: [answer(req, body=ioctl_body(b"ok"))])
    w = wire(client)
    assert w.transceive(FILE_ID, b"x", 16, 5.0) == (b"ok", False)
    assert w.transceive(FILE_ID, b"y", 16, 5.0) == (b"ok", False)
    assert w.exchanges == 2 and not w.broken


def test_closing_while_a_call_waits_on_a_hung_server_is_prompt(pair: tuple[socket.socket, socket.socket]) -> None:
    """A server that never answers, and a call (another thread, no timeout: the run gave up on it at
    its deadline) waiting on it: closing the connection (Farm.close) neither waits for that call nor
    sends a LOGOFF behind it; the waiting call wakes with the connection closed."""
    client, server = pair
    Peer(server, lambda req: [])
    w = wire(client)
    failed: list[BaseException] = []

    def call() -> None:
        try:
            w.transceive(FILE_ID, b"x", 16, None)
        except WireError as exc:
            failed.append(exc)

    waiting = threading.Thread(target=call, daemon=True)
    waiting.start()
    time.sleep(0.1)  # the call is sent and waits for its answer
    started = time.monotonic()
    with pytest.raises(WireError, match="busy"):
        w.logoff(5.0)
    w.close()
    waiting.join(5.0)
    assert time.monotonic() - started < 2.0
    assert not waiting.is_alive() and len(failed) == 1
    assert w.exchanges == 1  # the call's request, and no LOGOFF


def test_an_answer_larger_than_the_buffer_is_read_whole(pair: tuple[socket.socket, socket.socket]) -> None:
    """A frame beyond the read buffer's first 128 KiB: the buffer grows and the whole answer comes."""
    client, server = pair
    big = bytes(range(256)) * 1200  # 300 KiB
    Peer(server, lambda req: [answer(req, body=ioctl_body(big))])
    w = wire(client)
    assert w.transceive(FILE_ID, b"x", len(big), 5.0) == (big, False)
    assert w.transceive(FILE_ID, b"y", len(big), 5.0) == (big, False)
    assert not w.broken and w.exchanges == 2


def test_answers_that_arrive_together_are_taken_one_by_one(pair: tuple[socket.socket, socket.socket]) -> None:
    """An interim answer and the final one in one segment: the rest of the buffer after the first
    frame is the next frame, not lost and not taken twice."""
    client, server = pair

    def run() -> None:
        size = int.from_bytes(server.recv(4), "big")
        req = b""
        while len(req) < size:
            req += server.recv(size - len(req))
        interim = answer(req, STATUS_PENDING, struct.pack("<HBBI", 9, 0, 0, 0) + b"\0", flags=0x3, signature=bytes(16))
        final = answer(req, body=ioctl_body(b"final"))
        server.sendall(b"".join(len(m).to_bytes(4, "big") + m for m in (interim, final)))

    threading.Thread(target=run, daemon=True).start()
    assert wire(client).transceive(FILE_ID, b"x", 16, 5.0) == (b"final", False)


@pytest.mark.parametrize("junk", [b"\x85\x00\x00\x00", b"\x00\x00\x00\x10short"])
def test_a_stream_that_is_not_direct_tcp_or_ends_midway_ends_the_connection(
    pair: tuple[socket.socket, socket.socket], junk: bytes
) -> None:
    """A first byte that is not a Direct TCP frame's 0, or a frame cut off by the peer closing: the
    request went out, so the call may have run (1726), and the connection is done."""
    client, server = pair

    def run() -> None:
        server.recv(65536)
        server.sendall(junk)
        server.shutdown(socket.SHUT_WR)

    threading.Thread(target=run, daemon=True).start()
    w = wire(client)
    with pytest.raises(WireError) as info:
        w.transceive(FILE_ID, b"x", 16, 5.0)
    assert info.value.sent is True
    assert info.value.winerror(connecting=False) == WinError.RPC_S_CALL_FAILED
    assert w.broken and w.exchanges == 1


def test_a_request_larger_than_the_socket_buffers_goes_out_whole(
    pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A WRITE of 1 MiB (more than the socket pair's buffers hold) while the peer reads slowly: the
    idle check before it (non-blocking, as on Windows, which has no MSG_DONTWAIT) must not leave
    the send unable to wait."""
    monkeypatch.setattr(_smbio, "_DONTWAIT", 0)
    client, server = pair
    big = bytes(range(256)) * 4096

    def run() -> None:
        size = int.from_bytes(server.recv(4, socket.MSG_WAITALL), "big")
        req = b""
        while len(req) < size:
            time.sleep(0.001)
            req += server.recv(65536)
        reply = answer(req, body=struct.pack("<HHI", 17, 0, len(big)))
        server.sendall(len(reply).to_bytes(4, "big") + reply)

    threading.Thread(target=run, daemon=True).start()
    w = wire(client, window=(5, 100))
    w.write(FILE_ID, big, 5.0)
    assert w.exchanges == 1 and not w.broken
