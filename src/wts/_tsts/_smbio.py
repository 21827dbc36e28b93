"""The SMB2 messages the tsts client sends itself once smbprotocol has logged on (MS-SMB2 2.2, 3.2).

smbprotocol negotiates, sets the session up (NTLM or Kerberos, the signing key) and connects the
tree; its message objects and its receiving thread then cost most of a warm call's CPU (a thread
switch and a dozen structure objects per message).  So, at the tree connect's answer, ``Handoff``
stops smbprotocol's receiving thread (its transport answers "closed" to the thread's next read, and
nothing else), and ``Wire`` carries every later message on the same socket, in the calling thread:
CREATE, IOCTL (FSCTL_PIPE_TRANSCEIVE), READ, WRITE, CLOSE, LOGOFF, built and parsed with ``struct``.

``Wire`` keeps what smbprotocol kept: the message ids (the sequence window: one credit per message,
more asked for when few are left), the signing (HMAC-SHA256 for 2.x, AES-CMAC for 3.0, the
negotiated algorithm for 3.1.1, with ``cryptography`` and ``hmac`` as smbprotocol does), and checks
every answer: its message id, its signature (an unsigned or wrongly signed answer ends the
connection), STATUS_PENDING interim answers (read on), STATUS_BUFFER_OVERFLOW (the caller reads the
rest).  One exchange at a time per connection (a lock): pipes of one server take turns.  Sessions
that encrypt (the server requires it, or ``encrypt``) stay on smbprotocol's path.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import struct
import threading
import time
from typing import NamedTuple

from .. import _wts
from .._winerror import WinError
from . import _directtcp
from ._auth import import_remote
from ._directtcp import Inbox

__all__ = ["Reply", "Wire", "WireError"]

# Commands (MS-SMB2 2.2.1.2).
LOGOFF, TREE_CONNECT, CREATE, CLOSE, READ, WRITE, IOCTL = 2, 3, 5, 6, 8, 9, 11
# Statuses (MS-ERREF 2.3).
STATUS_SUCCESS = 0
STATUS_PENDING = 0x00000103
STATUS_BUFFER_OVERFLOW = 0x80000005
_FLAG_RESPONSE, _FLAG_ASYNC, _FLAG_SIGNED = 0x1, 0x2, 0x8
_HEADER = struct.Struct("<4sHHIHHIIQIIQ16s")  # the sync header, 64 bytes
_ASYNC_HEADER = struct.Struct("<4sHHIHHIIQQQ16s")
_SMB2 = b"\xfeSMB"
_UNSOLICITED = 0xFFFFFFFFFFFFFFFF  # oplock breaks: not ours to answer on a pipe
_ZERO_SIGNATURE = bytes(16)
# Signing algorithms (MS-SMB2 2.2.3.1.7).
_HMAC_SHA256, _AES_CMAC, _AES_GMAC = 0, 1, 2
#: Ask for more credits when fewer than this many are left.
_LOW_CREDITS = 8
_CREDIT_BYTES = 64 * 1024  #: what one credit pays for (MS-SMB2 3.1.5.2)
_DONTWAIT: int = getattr(socket, "MSG_DONTWAIT", 0)  # not on Windows

# NTSTATUS -> the Win32 code wtsapi32's callers see (the rest: the connection's code).
_STATUS_CODES = {
    0xC0000022: WinError.ERROR_ACCESS_DENIED,  # STATUS_ACCESS_DENIED
    0xC0000061: WinError.ERROR_ACCESS_DENIED,  # STATUS_PRIVILEGE_NOT_HELD
    0xC000006A: WinError.ERROR_LOGON_FAILURE,  # STATUS_WRONG_PASSWORD
    0xC000006D: WinError.ERROR_LOGON_FAILURE,  # STATUS_LOGON_FAILURE
    0xC00000CC: WinError.ERROR_BAD_NETPATH,  # STATUS_BAD_NETWORK_NAME
}


class WireError(Exception):
    """A failed exchange.  ``status`` is the server's NTSTATUS (None: the connection failed, and
    ``sent`` says whether the request had gone out); ``winerror`` the Win32 code."""

    def __init__(self, message: str, status: int | None = None, sent: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.sent = sent

    def winerror(self, connecting: bool) -> WinError:
        if self.status is not None and self.status in _STATUS_CODES:
            return _STATUS_CODES[self.status]
        if connecting:
            return WinError.RPC_S_SERVER_UNAVAILABLE
        if not self.sent:
            return WinError.RPC_S_CALL_FAILED_DNE
        return WinError.RPC_S_CALL_FAILED


class Reply(NamedTuple):
    status: int
    message: bytes  #: the whole answer, header included (offsets in bodies count from its start)


class _Signer:
    """Signs and checks messages with the session's key, the algorithm the dialect implies."""

    def __init__(self, key: bytes, dialect: int, algorithm: int | None) -> None:
        if dialect >= 0x0311 and algorithm is not None:
            self.algorithm = int(algorithm)
        elif dialect >= 0x0300:
            self.algorithm = _AES_CMAC
        else:
            self.algorithm = _HMAC_SHA256
        self.key = key
        if self.algorithm == _AES_CMAC:
            aes = import_remote("cryptography.hazmat.primitives.ciphers.algorithms").AES(key)
            #: Copied for each message: a new CMAC checks the key and sets AES up again each time.
            self._cmac = import_remote("cryptography.hazmat.primitives.cmac").CMAC(aes)
        elif self.algorithm == _AES_GMAC:
            self._gcm = import_remote("cryptography.hazmat.primitives.ciphers.aead").AESGCM(key)
        elif self.algorithm != _HMAC_SHA256:
            raise ValueError(f"signing algorithm {self.algorithm} is not one of MS-SMB2's")

    def sign(self, message: bytes | bytearray, message_id: int, response: bool) -> bytes:
        """The signature of ``message``, its signature field (bytes 48 to 64) taken as zero."""
        head, body = memoryview(message)[:48], memoryview(message)[64:]
        if self.algorithm == _AES_CMAC:
            c = self._cmac.copy()
            c.update(head)
            c.update(_ZERO_SIGNATURE)
            c.update(body)
            return bytes(c.finalize())
        if self.algorithm == _AES_GMAC:
            nonce = struct.pack("<QI", message_id, 1 if response else 0)
            return bytes(self._gcm.encrypt(nonce, b"", bytes(head) + _ZERO_SIGNATURE + bytes(body)))
        return hmac.new(self.key, bytes(head) + _ZERO_SIGNATURE + bytes(body), hashlib.sha256).digest()[:16]


class Wire:
    """One connection's messages after the handoff: ``exchange`` sends a request, returns its answer."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        server: str,
        dialect: int,
        signing_key: bytes,
        signing_algorithm: int | None,
        session_id: int,
        tree_id: int,
        window: tuple[int, int],
        multi_credit: bool,
    ) -> None:
        self.server = server
        self._sock = sock
        self._signer = _Signer(signing_key, dialect, signing_algorithm)
        self._session_id = session_id
        self._tree_id = tree_id
        self._low, self._high = window
        self._multi_credit = multi_credit
        self._lock = threading.Lock()
        self._inbox = Inbox()
        #: One GIL release an exchange (``_wts.sock_exchange``) where the system allows it, on the
        #: socket made non-blocking once; else Python's socket methods with their timeouts.
        self._native = _directtcp.NATIVE  # the tests switch it (tests/conftest.py, socket_path)
        if self._native:
            sock.setblocking(False)
        self._sock_timeout = sock.gettimeout()
        self._broken: WireError | None = None
        self.exchanges = 0  #: requests sent (tests and benchmarks count them)

    @property
    def broken(self) -> bool:
        return self._broken is not None

    def exchange(
        self, command: int, body: bytes, timeout: float | None = None, charge_size: int = 0, *, wait: bool = True
    ) -> Reply:
        """Send ``command`` with ``body``; the final answer (never STATUS_PENDING).  An error status
        raises WireError with it; a broken connection raises WireError (and stays broken).  With
        ``wait`` False, a connection busy with another call's exchange raises WireError at once
        (nothing sent)."""
        if not self._lock.acquire(blocking=wait):
            raise WireError(f"{self.server}: the connection is busy with another call", sent=False)
        try:
            if self._broken is not None:
                raise WireError(str(self._broken), sent=False)
            message_id, data = self._request(command, body, charge_size)
            deadline = None if timeout is None else time.monotonic() + timeout
            if self._native:
                self._fill(deadline, data)
            else:
                self._send(data, deadline)
            while True:
                reply = self._answer(message_id, deadline)
                if reply is not None:
                    break
        finally:
            self._lock.release()
        if reply.status not in (STATUS_SUCCESS, STATUS_BUFFER_OVERFLOW):
            raise WireError(f"{self.server}: {_command_name(command)}: status 0x{reply.status:08x}", reply.status)
        return reply

    def _timeout(self, timeout: float | None) -> None:
        """The socket's timeout, changed only when it differs: every ``settimeout`` is a system call
        made without the GIL, and each GIL release is a handoff among the engine's workers."""
        if timeout != self._sock_timeout:
            self._sock.settimeout(timeout)
            self._sock_timeout = timeout

    def _send(self, data: bytes, deadline: float | None) -> None:
        """Python's socket methods: the idle check, then the request (blocking again: the check may
        leave the socket non-blocking, where a request larger than the send buffer would fail)."""
        if not self._inbox.have and self._closed_by_peer():
            raise self._fail(_gone(self.server))
        try:
            self._timeout(None if deadline is None else max(deadline - time.monotonic(), 0.001))
            self._sock.sendall(data)
        except OSError as exc:
            raise self._fail(WireError(f"{self.server}: the connection failed ({exc})", sent=False)) from None
        self.exchanges += 1

    def _closed_by_peer(self) -> bool:
        """Whether the server has closed (or reset) the connection, seen without waiting: between
        exchanges nothing is owed to us, so a readable end of stream means it is gone.  Where the
        system has MSG_DONTWAIT, a blocking socket peeks without waiting and keeps its mode."""
        try:
            if _DONTWAIT and self._sock_timeout is None:
                ahead = self._sock.recv(1, socket.MSG_PEEK | _DONTWAIT)
            else:
                self._timeout(0.0)
                ahead = self._sock.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError, socket.timeout):
            return False  # nothing to read: still there
        except OSError:
            return True  # reset
        return not ahead

    def _request(self, command: int, body: bytes, charge_size: int) -> tuple[int, bytes]:
        charge = (max(0, charge_size - 1) // _CREDIT_BYTES + 1) if self._multi_credit else 0
        available = self._high - self._low
        if max(charge, 1) > available:
            raise WireError(f"{self.server}: no credits left to send ({available})", sent=False)
        message_id = self._low
        self._low += max(charge, 1)
        ask = max(charge, 1) + (_LOW_CREDITS * 4 if available - max(charge, 1) < _LOW_CREDITS else 0)
        header = _HEADER.pack(
            _SMB2, 64, charge, 0, command, ask, _FLAG_SIGNED, 0, message_id, 0, self._tree_id, self._session_id,
            _ZERO_SIGNATURE,
        )  # fmt: skip
        message = bytearray(header)
        message += body
        message[48:64] = self._signer.sign(message, message_id, False)
        return message_id, len(message).to_bytes(4, "big") + message

    def _answer(self, message_id: int, deadline: float | None) -> Reply | None:
        """The next message for us: the answer, or None after an interim (STATUS_PENDING) one."""
        message = self._read_message(deadline)
        if len(message) < 64 or message[:4] != _SMB2:
            raise self._fail(WireError(f"{self.server}: not an SMB2 answer"))
        flags, next_command, answered = struct.unpack_from("<IIQ", message, 16)
        (status,) = struct.unpack_from("<I", message, 8)
        if answered == _UNSOLICITED:
            return None
        if not flags & _FLAG_RESPONSE or next_command:
            raise self._fail(WireError(f"{self.server}: an answer the client cannot take (flags 0x{flags:x})"))
        if answered != message_id:
            raise self._fail(WireError(f"{self.server}: answer to message {answered}, expected {message_id}"))
        credits = struct.unpack_from("<H", message, 14)[0]
        if credits == 0 and not self._multi_credit:
            credits = 1  # as smbprotocol counts them on dialects without credits
        self._high += credits
        interim = status == STATUS_PENDING and flags & _FLAG_ASYNC
        if not interim:
            if not flags & _FLAG_SIGNED:
                # Windows leaves some refusals unsigned (an expired or deleted session): the status
                # is still the reason, and nothing more can go on this connection.
                raise self._fail(
                    WireError(
                        f"{self.server}: an unsigned answer (status 0x{status:08x})",
                        status if status >= 0xC0000000 else None,
                    )
                )
            expected = self._signer.sign(message, answered, True)
            if not hmac.compare_digest(expected, bytes(message[48:64])):
                raise self._fail(WireError(f"{self.server}: an answer whose signature does not verify"))
            return Reply(status, message)
        return None

    def _read_message(self, deadline: float | None) -> bytes:
        while True:
            try:
                message = self._inbox.take()
            except ValueError:
                raise self._fail(WireError(f"{self.server}: not a Direct TCP frame")) from None
            if message is not None:
                return message
            self._fill(deadline)

    def _fill(self, deadline: float | None, data: bytes = b"") -> None:
        """Read more into the buffer; natively, first send ``data`` (the idle check before it) and
        read until a whole frame is in."""
        if deadline is None:
            left = None
        else:
            left = deadline - time.monotonic()
            if left <= 0 and not data:
                raise self._fail(WireError(f"{self.server}: no answer within the timeout"))
        if self._native:
            self._fill_native(data, deadline)
            return
        try:
            self._timeout(left)
            got = self._sock.recv_into(memoryview(self._inbox.buf)[self._inbox.have :])
        except (socket.timeout, TimeoutError):
            raise self._fail(WireError(f"{self.server}: no answer within the timeout")) from None
        except OSError as exc:
            raise self._fail(WireError(f"{self.server}: the connection failed ({exc})")) from None
        if not got:
            raise self._fail(WireError(f"{self.server}: the server closed the connection"))
        self._inbox.have += got

    def _fill_native(self, data: bytes, deadline: float | None) -> None:
        code, err, sent = self._inbox.exchange(self._sock.fileno(), data, deadline, bool(data))
        if data and sent == len(data):
            self.exchanges += 1
        if code == _wts.SX_OK:
            return
        if code == _wts.SX_GONE:
            raise self._fail(_gone(self.server))
        if code == _wts.SX_SEND_FAILED:
            why = os.strerror(err) if err else "the connection failed"
            raise self._fail(WireError(f"{self.server}: the connection failed ({why})", sent=False))
        if code == _wts.SX_TIMEOUT:
            raise self._fail(WireError(f"{self.server}: no answer within the timeout"))
        if code == _wts.SX_EOF:
            raise self._fail(WireError(f"{self.server}: the server closed the connection"))
        if code == _wts.SX_BAD_FRAME:
            raise self._fail(WireError(f"{self.server}: not a Direct TCP frame"))
        raise self._fail(WireError(f"{self.server}: the connection failed ({os.strerror(err)})"))

    def _fail(self, error: WireError) -> WireError:
        # Out of step with the server (a late answer would be taken for the next one): no more use.
        self._broken = error
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return error

    # -- the messages ----------------------------------------------------------------------------

    def create_pipe(self, name: str, timeout: float | None) -> bytes:
        """CREATE ``name`` on IPC$ for read and write; the 16-byte file id."""
        path = name.encode("utf-16-le")
        access = (
            0x00000001 | 0x00000002 | 0x00000004 | 0x00020000 | 0x00100000
        )  # read/write/append data, READ_CONTROL, SYNCHRONIZE
        body = struct.pack(
            "<HBBIQQIIIIIHHII", 57, 0, 0, 2, 0, 0, access, 0, 0x3, 1, 0x40, 120, len(path), 0, 0
        )  # impersonation, FILE_SHARE_READ|WRITE, FILE_OPEN, FILE_NON_DIRECTORY_FILE
        reply = self.exchange(CREATE, body + (path or b"\0"), timeout)
        return _field(reply.message, 64 + 64, 16, "CREATE")

    def transceive(self, file_id: bytes, data: bytes, max_output: int, timeout: float | None) -> tuple[bytes, bool]:
        """FSCTL_PIPE_TRANSCEIVE: (the answer's bytes, True when more are to be read)."""
        body = struct.pack("<HHI16sIIIIIIII", 57, 0, 0x0011C017, file_id, 120, len(data), 0, 120, 0, max_output, 1, 0)
        reply = self.exchange(IOCTL, body + data, timeout, charge_size=max(len(data), max_output))
        if len(reply.message) < 64 + 48:
            raise self._fail(WireError(f"{self.server}: a short IOCTL answer"))
        offset, count = struct.unpack_from("<II", reply.message, 64 + 32)
        return _field(reply.message, offset, count, "IOCTL"), reply.status == STATUS_BUFFER_OVERFLOW

    def read(self, file_id: bytes, size: int, timeout: float | None) -> tuple[bytes, bool]:
        body = struct.pack("<HBBIQ16sIIIHHB", 49, 0x50, 0, size, 0, file_id, 0, 0, 0, 0, 0, 0)
        reply = self.exchange(READ, body, timeout, charge_size=size)
        if len(reply.message) < 64 + 16:
            raise self._fail(WireError(f"{self.server}: a short READ answer"))
        offset, count = struct.unpack_from("<BxI", reply.message, 64 + 2)
        return _field(reply.message, offset, count, "READ"), reply.status == STATUS_BUFFER_OVERFLOW

    def write(self, file_id: bytes, data: bytes, timeout: float | None) -> None:
        body = struct.pack("<HHIQ16sIIHHI", 49, 112, len(data), 0, file_id, 0, 0, 0, 0, 0)
        self.exchange(WRITE, body + data, timeout, charge_size=len(data))

    def close_file(self, file_id: bytes, timeout: float | None) -> None:
        self.exchange(CLOSE, struct.pack("<HHI16s", 24, 0, 0, file_id), timeout)

    def logoff(self, timeout: float | None) -> None:
        """LOGOFF, unless a call is still waiting for its answer (a server that hangs: the run that
        sent it gave up at its deadline); then nothing is sent, and ``close`` cuts that call off."""
        self.exchange(LOGOFF, struct.pack("<HH", 4, 0), timeout, wait=False)

    def close(self) -> None:
        """Close the socket, at once: a call still waiting for its answer (in another thread, holding
        the lock) wakes with the connection closed, rather than keeping close() waiting with it."""
        if self._broken is None:
            self._broken = WireError(f"{self.server}: the connection is closed", sent=False)
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()


def _gone(server: str) -> WireError:
    # A server drops a connection left idle (nothing sends smbprotocol's echo any more): found
    # before sending, so the call did not run and may be sent again (1727).
    return WireError(f"{server}: the server had closed the connection", sent=False)


def _field(message: bytes, offset: int, count: int, what: str) -> bytes:
    if count and (offset < 64 or offset + count > len(message)):
        raise WireError(f"a malformed {what} answer ({count} bytes at {offset} in {len(message)})")
    return message[offset : offset + count]


def _command_name(command: int) -> str:
    names = {LOGOFF: "LOGOFF", CREATE: "CREATE", CLOSE: "CLOSE", READ: "READ", WRITE: "WRITE", IOCTL: "IOCTL"}
    return names.get(command, f"command {command}")
