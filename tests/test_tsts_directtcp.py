"""The Direct TCP reads under the tsts client's SMB (src/wts/_tsts/_directtcp.py): the Handoff standing in
for smbprotocol's own transport (a real ``smbprotocol.transport.Tcp`` on a socket pair) gives its
receiving thread whole messages however the bytes arrive, ends it at the right answer, and reads an
end of stream, a close and an idle connection as smbprotocol's transport does.  Each test runs on
both paths: one C call a message, and Python's select and recv (which Windows uses)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

pytest.importorskip("smbprotocol")

from smbprotocol.transport import Tcp

from wts._tsts._directtcp import Handoff, Inbox

HEADER = struct.Struct("<4sHHIHHIIQIIQ16s")
TREE_CONNECT, IOCTL, NEGOTIATE = 3, 11, 0


pytestmark = pytest.mark.usefixtures("socket_path")  # tests/conftest.py: each test on both read paths


def message(command: int, status: int = 0, body: bytes = b"", message_id: int = 1) -> bytes:
    return HEADER.pack(b"\xfeSMB", 64, 0, status, command, 1, 0x9, 0, message_id, 0, 1, 7, bytes(16)) + body


def tree_answer(share_flags: int = 0, status: int = 0) -> bytes:
    return message(TREE_CONNECT, status, struct.pack("<HBBIII", 16, 2, 0, share_flags, 0, 0x1F01FF))


def frame(msg: bytes) -> bytes:
    return len(msg).to_bytes(4, "big") + msg


@pytest.fixture
def link() -> Iterator[tuple[Handoff, socket.socket]]:
    ours, peer = socket.socketpair()
    transport = Tcp("peer", 445)
    transport._sock = ours
    transport.connected = True
    try:
        yield Handoff(transport), peer
    finally:
        transport.close()
        peer.close()


def test_whole_messages_however_the_bytes_arrive(link: tuple[Handoff, socket.socket]) -> None:
    handoff, peer = link
    first, second, big = (
        message(NEGOTIATE, message_id=1),
        message(NEGOTIATE, message_id=2),
        message(IOCTL, body=bytes(300_000)),
    )

    def send() -> None:
        data = frame(first) + frame(second)
        for i in range(len(data)):  # a byte at a time, then two frames in one piece
            peer.sendall(data[i : i + 1])
            if i % 20 == 0:
                time.sleep(0.001)
        peer.sendall(frame(big) + frame(first))

    sender = threading.Thread(target=send)
    sender.start()
    try:
        assert handoff.recv(10) == first
        assert handoff.recv(10) == second
        assert handoff.recv(10) == big  # larger than the read buffer's first size
        assert handoff.recv(10) == first
    finally:
        sender.join()


def test_the_tree_connects_answer_hands_the_socket_over(link: tuple[Handoff, socket.socket]) -> None:
    handoff, peer = link
    handoff.armed = True
    peer.sendall(frame(tree_answer()))
    assert handoff.recv(10) == tree_answer()
    assert handoff.handed_off
    assert not handoff.wait(0)
    assert handoff.recv(10) == b""  # the receiving thread's next read: "closed", and the socket is ours
    assert handoff.wait(0)


@pytest.mark.parametrize("answer", [tree_answer(share_flags=0x8000), tree_answer(status=0xC0000022)])
def test_an_encrypted_or_refused_tree_stays_with_smbprotocol(
    link: tuple[Handoff, socket.socket], answer: bytes
) -> None:
    handoff, peer = link
    handoff.armed = True
    peer.sendall(frame(answer) + frame(message(IOCTL)))
    assert handoff.recv(10) == answer
    assert not handoff.handed_off
    assert handoff.recv(10) == message(IOCTL)


def test_below_311_the_validate_negotiate_answer_is_the_last(link: tuple[Handoff, socket.socket]) -> None:
    handoff, peer = link
    handoff.armed = handoff.validates = True
    peer.sendall(frame(tree_answer()))
    handoff.recv(10)
    assert not handoff.handed_off
    peer.sendall(frame(message(IOCTL, 0x103)))  # STATUS_PENDING first: not the answer yet
    handoff.recv(10)
    assert not handoff.handed_off
    peer.sendall(frame(message(IOCTL)))
    handoff.recv(10)
    assert handoff.handed_off


def test_an_answer_with_bytes_behind_it_is_not_handed_over(
    link: tuple[Handoff, socket.socket],
) -> None:
    handoff, peer = link
    handoff.armed = True
    peer.sendall(frame(tree_answer()) + frame(message(IOCTL, message_id=9)))
    time.sleep(0.05)  # both frames in the socket: one read takes them
    assert handoff.recv(10) == tree_answer()
    assert not handoff.handed_off  # the bytes behind it would be lost to anyone else
    assert handoff.recv(10) == message(IOCTL, message_id=9)


def test_the_end_of_the_stream_is_an_empty_read(link: tuple[Handoff, socket.socket]) -> None:
    handoff, peer = link
    peer.sendall(frame(message(NEGOTIATE))[:30])  # half a message, then the peer goes
    peer.close()
    assert handoff.recv(10) == b""
    assert not handoff.connected


def test_an_idle_connection_times_out_as_smbprotocols_does(link: tuple[Handoff, socket.socket]) -> None:
    handoff, _peer = link
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        handoff.recv(0)  # smbprotocol waits at least a second
    assert 0.9 < time.monotonic() - started < 5


@pytest.mark.parametrize("shutdown", ["wakes", "wakes nothing"])
def test_close_wakes_a_waiting_read(
    link: tuple[Handoff, socket.socket], socket_path: str, shutdown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also where shutting a socket down does not wake a read of it on another thread (Windows, and
    Wine): Python's reads look every WAKE whether the Handoff is closing."""
    if shutdown == "wakes nothing":
        if socket_path == "native":
            pytest.skip("the C read is POSIX's, where the shutdown wakes it")
        monkeypatch.setattr(socket.socket, "shutdown", lambda self, how: None)
    handoff, _peer = link
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(handoff.recv(30)))
    reader.start()
    time.sleep(0.1)
    started = time.monotonic()
    handoff.close()
    reader.join(5)
    assert not reader.is_alive()
    assert got == [b""]
    assert time.monotonic() - started < 2


def test_the_inbox_refuses_what_is_not_a_frame() -> None:
    inbox = Inbox()
    inbox.buf[:8] = b"\x01\x00\x00\x04abcd"
    inbox.have = 8
    with pytest.raises(ValueError, match="not a Direct TCP frame"):
        inbox.take()
