"""Direct TCP, the transport under SMB2 (MS-SMB2 2.1: a 4-byte length, then the message), as the tsts
client reads it: ``Inbox``, what has been read and not yet taken, which both the ``Wire`` and the
``Handoff`` read into; and ``Handoff``, which stands in for smbprotocol's transport during the logon.

Where the system allows it (POSIX, ``_wts.SOCK_EXCHANGE``) a read is one ``_wts.sock_exchange``: one
GIL release until a whole frame is in.  smbprotocol's own transport takes four for each message (a
``select`` and a ``recv`` for the length, again for the body), and with the engine's workers all
wanting the GIL, each release is a thread switch.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
import threading
import time
from typing import Any

from .. import _wts

__all__ = ["Handoff", "Inbox"]

_BUFFER = 1 << 17  #: the read buffer's first size: a 64 KiB fragment's frame and then some
#: Where the read is Python's (Windows): the longest a read waits before it looks whether the
#: connection is being closed (a shutdown from another thread does not wake it there).
WAKE = 0.25
#: Reads through ``_wts.sock_exchange`` (POSIX); the tests run both ways.
NATIVE: bool = _wts.SOCK_EXCHANGE

# What the Handoff looks for in smbprotocol's answers (MS-SMB2 2.2.1.2, 2.2.10; MS-ERREF 2.3).
_SMB2 = b"\xfeSMB"
_TREE_CONNECT, _IOCTL = 3, 11
_STATUS_SUCCESS, _STATUS_PENDING = 0, 0x00000103
_SHAREFLAG_ENCRYPT_DATA = 0x8000
#: A read that fails with these met a connection shut down or reset: its end, as smbprotocol takes it.
_ENDS = frozenset({errno.ESHUTDOWN, errno.ECONNRESET, errno.ECONNABORTED})


class Inbox:
    """What has been read from a connection and not yet taken: ``buf[:have]``, whole frames first."""

    __slots__ = ("buf", "have")

    def __init__(self) -> None:
        self.buf = bytearray(_BUFFER)
        self.have = 0

    def take(self) -> bytes | None:
        """The first frame's message, taken out of the buffer; None until all of it is in (the buffer
        then has room for it).  ValueError: the bytes are not a Direct TCP frame."""
        have = self.have
        if have < 4:
            return None
        buf = self.buf
        if buf[0] != 0:
            raise ValueError("not a Direct TCP frame")
        end = 4 + int.from_bytes(buf[1:4], "big")
        if have < end:
            if end > len(buf):
                buf.extend(bytes(end - len(buf)))
            return None
        message = bytes(buf[4:end])
        if have > end:
            buf[: have - end] = buf[end:have]
        self.have = have - end
        return message

    def exchange(self, fd: int, data: bytes, deadline: float | None, check_gone: bool) -> tuple[int, int, int]:
        """``_wts.sock_exchange`` into the buffer (grown for a frame larger than it) until it holds a
        whole frame: ``(code, errno, bytes of data sent)``; ``deadline`` is ``time.monotonic``'s."""
        total = 0
        while True:
            left = -1.0 if deadline is None else max(deadline - time.monotonic(), 0.0)
            code, self.have, err, sent = _wts.sock_exchange(fd, data, self.buf, self.have, left, check_gone)
            total += sent
            if code != _wts.SX_FULL:
                return code, err, total
            buf = self.buf
            end = 4 + int.from_bytes(buf[1:4], "big") if self.have >= 4 else 0
            buf.extend(bytes(max(end, 2 * len(buf)) - len(buf)))
            data, check_gone = b"", False


class Handoff:
    """Stands in for an smbprotocol connection's transport from its TCP connect on: sends go through;
    the receiving thread's reads go through until smbprotocol's last answer (see below), and after it
    return "closed", so the thread ends and the socket is the caller's (``Wire``).  A tree that must
    be encrypted keeps smbprotocol's thread (``handed_off`` stays False), and so does an answer with
    more bytes behind it (nothing is owed then: such bytes would be a message nobody else could take).
    Below 3.1.1 the last answer is the one to smbprotocol's FSCTL_VALIDATE_NEGOTIATE_INFO, which
    follows the tree connect."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self.armed = False
        #: The dialect is below 3.1.1: smbprotocol validates the negotiate (an IOCTL) after the tree
        #: connect, and that answer is the last one it reads.
        self.validates = False
        self.handed_off = False
        self._done = threading.Event()
        self._inbox = Inbox()
        self._closing = False

    @property
    def connected(self) -> bool:
        return bool(self._transport.connected)

    @property
    def sock(self) -> socket.socket:
        return self._transport._sock  # type: ignore[no-any-return]

    def connect(self) -> None:
        self._transport.connect()

    def send(self, data: bytes) -> None:
        self._transport.send(data)

    def close(self) -> None:
        self._closing = True  # a read waiting on another thread sees it within WAKE
        self._transport.close()

    def recv(self, timeout: float) -> bytes:
        if self.handed_off:
            self._done.set()
            return b""
        # smbprotocol's own read gives None for a connection closed mid-message.
        message = self._read(timeout)
        if self.armed and message and len(message) >= 64 and message[:4] == _SMB2:
            command, status = struct.unpack_from("<H", message, 12)[0], struct.unpack_from("<I", message, 8)[0]
            if self._inbox.have:
                self.armed = False  # more bytes than the answer: smbprotocol reads on, keeps the socket
            elif command == _TREE_CONNECT and len(message) >= 72:
                if status != _STATUS_SUCCESS or struct.unpack_from("<I", message, 68)[0] & _SHAREFLAG_ENCRYPT_DATA:
                    self.armed = False  # a refusal, or a tree smbprotocol must encrypt for: it keeps the socket
                elif not self.validates:
                    self.handed_off = True
            elif command == _IOCTL and self.validates and status != _STATUS_PENDING:
                self.handed_off = True  # 3.0's FSCTL_VALIDATE_NEGOTIATE_INFO: smbprotocol's last message
        return message

    def wait(self, timeout: float) -> bool:
        """True once the receiving thread has let go of the socket."""
        return self._done.wait(timeout)

    def _read(self, timeout: float) -> bytes:
        """One message, as smbprotocol's ``Tcp.recv`` gives it: b"" once the connection is closed
        (by either side), TimeoutError after ``timeout`` (at least 1 s) with no whole message."""
        inbox = self._inbox
        message = inbox.take()
        if message is not None:
            return message
        transport = self._transport
        deadline = time.monotonic() + max(timeout, 1.0)
        while True:
            # smbprotocol's close() shuts the socket down, then takes this lock to close it: the
            # descriptor stays this socket's while a read has it.  On POSIX the shutdown wakes the
            # read; Windows does not promise that, so there a read gives the lock up every WAKE.
            with transport._close_lock:
                if self._closing or not transport.connected:
                    return b""
                if NATIVE:
                    code, err, _ = inbox.exchange(transport._sock.fileno(), b"", deadline, False)
                else:
                    code, err = _read_some(transport._sock, inbox, min(deadline, time.monotonic() + WAKE))
            if code == _wts.SX_OK:
                message = inbox.take()
                if message is not None:
                    return message
                continue
            if code == _wts.SX_TIMEOUT:
                if time.monotonic() < deadline:
                    continue
                raise TimeoutError(f"recv idle for {max(timeout, 1.0):.1f}s ({inbox.have} bytes of a message)")
            if code == _wts.SX_BAD_FRAME:
                raise OSError("not a Direct TCP frame")
            if code == _wts.SX_EOF or (code == _wts.SX_RECV_FAILED and err in _ENDS):
                transport.close()  # as smbprotocol's own read does at the end of the stream
                return b""
            raise OSError(err, os.strerror(err))


def _read_some(sock: socket.socket, inbox: Inbox, until: float) -> tuple[int, int]:
    """One wait of at most ``until - now`` for bytes, and one read of what came: ``(code, errno)``
    with ``_wts.sock_exchange``'s codes (SX_OK: bytes read, maybe not yet a whole frame)."""
    try:
        readable = select.select([sock], [], [], max(until - time.monotonic(), 0.0))[0]
    except (OSError, ValueError) as exc:  # closed under us
        return _wts.SX_RECV_FAILED, getattr(exc, "errno", None) or errno.EBADF
    if not readable:
        return _wts.SX_TIMEOUT, 0
    buf = inbox.buf
    if inbox.have == len(buf):
        buf.extend(bytes(len(buf)))
    try:
        got = sock.recv_into(memoryview(buf)[inbox.have :])
    except BlockingIOError:
        return _wts.SX_OK, 0
    except OSError as exc:
        return _wts.SX_RECV_FAILED, exc.errno or errno.EIO
    if not got:
        return _wts.SX_EOF, 0
    inbox.have += got
    if inbox.have >= 4 and buf[0] != 0:
        return _wts.SX_BAD_FRAME, 0
    return _wts.SX_OK, 0
