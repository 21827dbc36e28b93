"""The SMB transport of the tsts provider, over smbprotocol: one connection, session and ``IPC$``
tree per server, and the named pipes opened on it (MS-RPCE 2.1.1.2, ncacn_np).

``SmbSession(server, credentials, ...)`` connects on first use: TCP to port 445, negotiate (SMB 2 to
3.1.1, signing always; encryption when the server requires it or ``encrypt`` asks), session setup
(NTLM with a password, else Kerberos from the ticket cache), tree connect to ``IPC$``.  The whole
connect is bounded by ``connect_timeout``: a host that does not answer fails then, not after the
operating system's TCP timeout, and one that answers TCP but stalls is cut off the same way.

``Pipe.transceive`` is one exchange (FSCTL_PIPE_TRANSCEIVE: write a message, read the answer); when
the answer is longer than asked for (STATUS_BUFFER_OVERFLOW) the rest is read.  Failures are
``SmbError`` with the Win32 code wtsapi32 gives for them.

smbprotocol negotiates, logs on and connects the tree; every later message (the pipes' CREATE,
IOCTL, READ, WRITE, CLOSE, the LOGOFF) goes through ``_smbio.Wire`` on the same socket, in the
caller's thread, unless the session is encrypted (then smbprotocol carries them all).
"""

from __future__ import annotations

import functools
import importlib.metadata
import socket
import threading
import uuid
from typing import Any

from .._credentials import Credentials
from .._winerror import WinError
from . import _watchdog
from ._auth import import_remote
from ._directtcp import Handoff
from ._smbio import Wire, WireError

__all__ = ["PIPES", "Pipe", "SmbError", "SmbSession"]

#: MS-TSTS 2.1: the pipes of its interfaces.
PIPES = ("LSM_API_service", "TermSrv_API_service", "Ctx_WinStation_API_service")

DEFAULT_PORT = 445
#: What one read or transceive asks for: a little over the largest fragment we offer at bind.
READ_SIZE = 16 * 1024
#: MS-FSCC 2.3.49: FSCTL_PIPE_TRANSCEIVE.
_FSCTL_PIPE_TRANSCEIVE = 0x0011C017


class SmbError(Exception):
    """An SMB failure, with the Win32 code (``winerror``) wtsapi32 reports for it."""

    def __init__(self, winerror: WinError, message: str) -> None:
        super().__init__(message)
        self.winerror = winerror


def _code_of(exc: BaseException, connecting: bool) -> WinError:
    """The Win32 code for an smbprotocol failure (``connecting``: before any call was sent)."""
    exc_mod = import_remote("smbprotocol.exceptions")
    if isinstance(exc, (exc_mod.LogonFailure, exc_mod.WrongPassword, exc_mod.SMBAuthenticationError)):
        return WinError.ERROR_LOGON_FAILURE
    if isinstance(exc, (exc_mod.AccessDenied, exc_mod.PrivilegeNotHeld)):
        return WinError.ERROR_ACCESS_DENIED
    if isinstance(exc, exc_mod.BadNetworkName):
        return WinError.ERROR_BAD_NETPATH
    if connecting:
        # No answer, refused, a name that does not resolve, a pipe nobody listens on: the RPC
        # runtime reports all of them as "the RPC server is unavailable".
        return WinError.RPC_S_SERVER_UNAVAILABLE
    return WinError.RPC_S_CALL_FAILED  # sent, and then the connection failed: it may have run


def _text(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]


class SmbSession:
    """One server's SMB connection, session and ``IPC$`` tree, shared by every pipe opened on it.

    Thread-safe: ``open_pipe`` connects once, under a lock; each ``Pipe`` is used by one caller at a
    time (the binding above it holds its own lock)."""

    def __init__(
        self,
        server: str,
        credentials: Credentials | None,
        *,
        port: int = DEFAULT_PORT,
        connect_timeout: float = 5.0,
        encrypt: bool = False,
        secret: str | None = None,
        address: str | None = None,
    ) -> None:
        """``secret``: ``_auth.ntlm_secret`` of the password, to log on without deriving it again;
        ``address``: where to connect, when not ``server`` itself (Kerberos still asks for a ticket
        to ``cifs/<server>``)."""
        self.server = server
        self.address = address or server
        self._secret = secret
        self.port = port
        self.connect_timeout = connect_timeout
        self.encrypt = encrypt
        self._credentials = credentials
        self._lock = threading.Lock()
        self._connection: Any = None
        self._session: Any = None
        self._tree: Any = None
        self._pipes: list[Pipe] = []
        self._closed = False
        self._wire: Wire | None = None

    def __repr__(self) -> str:
        state = "connected" if self._tree is not None else "closed" if self._closed else "not connected"
        who = self._credentials.principal if self._credentials is not None else "(ticket cache)"
        return f"SmbSession({self.server!r}, port={self.port}, user={who!r}, {state})"

    @property
    def connected(self) -> bool:
        """Connected, and the connection still usable (a failed exchange ends it)."""
        wire = self._wire
        return self._tree is not None and (wire is None or not wire.broken)

    @property
    def exchanges(self) -> int | None:
        """SMB requests sent since the logon (None: smbprotocol carries them, uncounted)."""
        return self._wire.exchanges if self._wire is not None else None

    @property
    def dialect(self) -> int | None:
        """The SMB dialect negotiated (0x0311 for 3.1.1), None before connecting."""
        return int(self._connection.dialect) if self._connection is not None else None

    def connect(self) -> None:
        """Connect now (``open_pipe`` does when needed); SmbError with the Win32 code on failure."""
        with self._lock:
            self._connect_locked()

    def _connect_locked(self) -> None:
        if self._closed:
            raise SmbError(WinError.ERROR_INVALID_HANDLE, f"the connection to {self.server} is closed")
        if self._tree is not None:
            return
        conn_mod = import_remote("smbprotocol.connection")
        session_mod = import_remote("smbprotocol.session")
        tree_mod = import_remote("smbprotocol.tree")
        # With the smbprotocol release the Handoff was checked with, its transport is a Handoff from the
        # moment it is made: the receiving thread reads through it from the negotiate on.
        tested = _smbprotocol_version().startswith(WIRE_TESTED)
        factory = _handing_connection() if tested else conn_mod.Connection
        connection = factory(uuid.uuid4(), self.address, self.port, require_signing=True)
        # smbprotocol bounds the TCP connect and the negotiate, not the session setup or tree connect:
        # a watchdog closes the socket at the deadline, so a server that stalls later fails too.
        timed_out = threading.Event()

        def cut_off() -> None:
            timed_out.set()
            _close_quietly(connection)

        watchdog = _watchdog.arm(self.connect_timeout, cut_off)
        handoff: Handoff | None = None
        try:
            connection.connect(timeout=self.connect_timeout)
            if isinstance(connection.transport, Handoff) and _wire_capable(connection):
                handoff = connection.transport  # it hands the socket over at the last answer (see _smbio)
            creds = self._credentials
            if creds is not None and creds.password is not None:
                session = session_mod.Session(
                    connection,
                    creds.principal,
                    self._secret or creds.password,
                    require_encryption=self.encrypt,
                    auth_protocol="ntlm",
                )
            else:
                session = session_mod.Session(
                    connection,
                    creds.principal if creds is not None else None,
                    None,
                    require_encryption=self.encrypt,
                    auth_protocol="kerberos",
                    hostname_override=self.server,
                )
            session.connect()
            if handoff is not None:
                handoff.validates = int(connection.dialect) < 0x0311
                handoff.armed = not session.encrypt_data
            tree = tree_mod.TreeConnect(session, f"\\\\{self.server}\\IPC$")
            tree.connect()
            wire = self._take_over(connection, session, tree, handoff) if handoff is not None else None
        except Exception as exc:
            _close_quietly(connection)
            if timed_out.is_set():
                raise SmbError(
                    WinError.RPC_S_SERVER_UNAVAILABLE,
                    f"{self.server}: no answer within the connect timeout ({self.connect_timeout:g} s)",
                ) from None
            if isinstance(exc, ImportError):
                raise
            raise SmbError(_code_of(exc, connecting=True), f"{self.server}: {_text(exc)}") from None
        finally:
            _watchdog.disarm(watchdog)
        if timed_out.is_set():
            _close_quietly(connection)
            raise SmbError(
                WinError.RPC_S_SERVER_UNAVAILABLE,
                f"{self.server}: no answer within the connect timeout ({self.connect_timeout:g} s)",
            )
        self._connection, self._session, self._tree, self._wire = connection, session, tree, wire

    def _take_over(self, connection: Any, session: Any, tree: Any, handoff: Handoff) -> Wire | None:
        """The Wire on the socket once smbprotocol's receiving thread has let it go (None: the
        session encrypts, smbprotocol keeps it)."""
        if not handoff.handed_off:
            return None
        if not handoff.wait(self.connect_timeout):
            raise OSError("the SMB receiving thread did not stop")
        worker = getattr(connection, "_t_worker", None)
        if worker is not None:
            worker.join(self.connect_timeout)
        with connection.sequence_lock:
            window = (connection.sequence_window["low"], connection.sequence_window["high"])
        return Wire(
            handoff.sock,
            server=self.server,
            dialect=int(connection.dialect),
            signing_key=bytes(session.signing_key),
            signing_algorithm=connection.signing_algorithm_id,
            session_id=int(session.session_id),
            tree_id=int(tree.tree_connect_id),
            window=window,
            multi_credit=bool(connection.supports_multi_credit),
        )

    def open_pipe(self, name: str) -> Pipe:
        """Open ``\\\\pipe\\\\<name>`` on ``IPC$`` (connecting first if needed)."""
        open_mod = import_remote("smbprotocol.open")
        with self._lock:
            self._connect_locked()
            wire = self._wire
            if wire is not None:
                try:
                    file_id = wire.create_pipe(name, self.connect_timeout)
                except WireError as exc:
                    raise SmbError(exc.winerror(connecting=True), f"{self.server}: pipe {name}: {exc}") from None
                pipe = Pipe(self, None, name, (wire, file_id))
                self._pipes.append(pipe)
                return pipe
            handle = open_mod.Open(self._tree, name)
            try:
                handle.create(
                    open_mod.ImpersonationLevel.Impersonation,
                    open_mod.FilePipePrinterAccessMask.FILE_READ_DATA
                    | open_mod.FilePipePrinterAccessMask.FILE_WRITE_DATA
                    | open_mod.FilePipePrinterAccessMask.FILE_APPEND_DATA
                    | open_mod.FilePipePrinterAccessMask.READ_CONTROL
                    | open_mod.FilePipePrinterAccessMask.SYNCHRONIZE,
                    0,
                    open_mod.ShareAccess.FILE_SHARE_READ | open_mod.ShareAccess.FILE_SHARE_WRITE,
                    open_mod.CreateDisposition.FILE_OPEN,
                    open_mod.CreateOptions.FILE_NON_DIRECTORY_FILE,
                )
            except Exception as exc:
                if isinstance(exc, ImportError):
                    raise
                raise SmbError(_code_of(exc, connecting=True), f"{self.server}: pipe {name}: {_text(exc)}") from None
            pipe = Pipe(self, handle, name)
            self._pipes.append(pipe)
            return pipe

    def close(self) -> None:
        """Close every pipe, log off and disconnect; safe to call twice."""
        with self._lock:
            self._closed = True
            pipes, self._pipes = self._pipes, []
            connection, self._connection, self._session, self._tree = self._connection, None, None, None
            wire, self._wire = self._wire, None
        for pipe in pipes:
            pipe._forget()
        if wire is not None:
            try:
                wire.logoff(self.connect_timeout)  # the pipes close with the session
            except WireError:
                pass
            wire.close()
            _close_quietly(connection)
            return
        if connection is not None:
            try:
                connection.disconnect(close=True, timeout=self.connect_timeout)
            except Exception:
                _close_quietly(connection)

    def __enter__(self) -> SmbSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _close_quietly(connection: Any) -> None:
    try:
        connection.disconnect(close=False)
    except Exception:
        transport = getattr(connection, "transport", None)
        sock = getattr(transport, "_sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


#: The smbprotocol releases whose internals the client's own pipe messages (``_smbio``) were checked
#: with: its transport's socket, its receiving thread's reads, the sequence window, the signing key.
#: With any other release smbprotocol keeps the connection and sends every message itself (correct,
#: slower: see docs/remote.md).
WIRE_TESTED = ("1.17.",)


@functools.lru_cache(maxsize=1)
def _smbprotocol_version() -> str:
    try:
        return importlib.metadata.version("smbprotocol")
    except importlib.metadata.PackageNotFoundError:
        return ""


def _wire_capable(connection: Any) -> bool:
    """Whether the pipes' messages may leave smbprotocol for ``_smbio.Wire`` on this connection (one
    made by ``_handing_connection``: the smbprotocol release they were checked with)."""
    needed = ("sequence_lock", "sequence_window", "signing_algorithm_id", "supports_multi_credit", "dialect")
    return all(hasattr(connection, name) for name in needed)


@functools.lru_cache(maxsize=1)
def _handing_connection() -> type:
    """smbprotocol's ``Connection`` whose transport, once it makes one (in ``connect``), is wrapped in
    a ``Handoff``: its receiving thread reads through the Handoff from the negotiate's answer on, so
    a close ends that read within ``_directtcp.WAKE`` on every system.  (Windows does not wake a
    read when another thread shuts the socket down; smbprotocol's own read would hold the close,
    and the connect timeout's watchdog with it, for as long as its ten-minute receive timeout.)"""
    conn_mod = import_remote("smbprotocol.connection")

    class HandingConnection(conn_mod.Connection):  # type: ignore[misc, name-defined]
        @property
        def transport(self) -> Any:
            return self.__dict__.get("_wts_transport")

        @transport.setter
        def transport(self, value: Any) -> None:
            if value is not None and not isinstance(value, Handoff):
                value = Handoff(value)
            self.__dict__["_wts_transport"] = value

    return HandingConnection


class Pipe:
    """An open named pipe: ``transceive`` (one message out, its answer back), ``write`` and ``read``."""

    def __init__(self, session: SmbSession, handle: Any, name: str, wired: tuple[Wire, bytes] | None = None) -> None:
        self.session = session
        self.name = name
        self._handle: Any = handle if wired is None else wired

    def _failed(self, exc: WireError) -> SmbError:
        return SmbError(exc.winerror(connecting=False), f"{self.session.server}: pipe {self.name}: {exc}")

    def __repr__(self) -> str:
        return f"Pipe({self.session.server!r}, {self.name!r}, {'open' if self._handle is not None else 'closed'})"

    def _open_handle(self) -> Any:
        if self._handle is None:
            raise SmbError(WinError.ERROR_INVALID_HANDLE, f"{self.session.server}: pipe {self.name} is closed")
        return self._handle

    def transceive(self, data: bytes, timeout: float | None = None) -> bytes:
        """Write ``data`` as one message and return the answer (all of it, reading on after
        STATUS_BUFFER_OVERFLOW)."""
        handle = self._open_handle()
        if isinstance(handle, tuple):
            wire: Wire = handle[0]
            file_id: bytes = handle[1]
            try:
                out, more = wire.transceive(file_id, data, READ_SIZE, timeout)
                while more:
                    chunk, more = wire.read(file_id, READ_SIZE, timeout)
                    out += chunk
            except WireError as exc:
                raise self._failed(exc) from None
            return out
        ioctl = import_remote("smbprotocol.ioctl")
        exc_mod = import_remote("smbprotocol.exceptions")
        request = ioctl.SMB2IOCTLRequest()
        request["ctl_code"] = _FSCTL_PIPE_TRANSCEIVE
        request["file_id"] = handle.file_id
        request["max_output_response"] = READ_SIZE
        request["flags"] = ioctl.IOCTLFlags.SMB2_0_IOCTL_IS_FSCTL
        request["buffer"] = data
        connection = handle.connection
        try:
            sent = connection.send(request, handle.tree_connect.session.session_id, handle.tree_connect.tree_connect_id)
        except Exception as exc:
            raise SmbError(
                WinError.RPC_S_CALL_FAILED_DNE, f"{self.session.server}: pipe {self.name}: {_text(exc)}"
            ) from None
        more = False
        try:
            response = connection.receive(sent, timeout=timeout)
        except exc_mod.BufferOverflow as overflow:
            response, more = overflow.header, True
        except Exception as exc:
            raise SmbError(
                _code_of(exc, connecting=False), f"{self.session.server}: pipe {self.name}: {_text(exc)}"
            ) from None
        answer = ioctl.SMB2IOCTLResponse()
        try:
            answer.unpack(response["data"].get_value())
        except Exception as exc:  # smbprotocol raises struct.error on a short answer
            raise SmbError(
                WinError.RPC_S_CALL_FAILED, f"{self.session.server}: pipe {self.name}: a malformed answer ({exc})"
            ) from None
        out = bytes(answer["buffer"].get_value())
        while more:
            chunk, more = self._read_message_part(timeout)
            out += chunk
        return out

    def _read_message_part(self, timeout: float | None) -> tuple[bytes, bool]:
        handle = self._open_handle()
        if isinstance(handle, tuple):
            try:
                return handle[0].read(handle[1], READ_SIZE, timeout)  # type: ignore[no-any-return]
            except WireError as exc:
                raise self._failed(exc) from None
        exc_mod = import_remote("smbprotocol.exceptions")
        open_mod = import_remote("smbprotocol.open")
        request, _ = handle.read(0, READ_SIZE, send=False)
        connection = handle.connection
        try:
            sent = connection.send(request, handle.tree_connect.session.session_id, handle.tree_connect.tree_connect_id)
            response = connection.receive(sent, timeout=timeout)
            more = False
        except exc_mod.BufferOverflow as overflow:
            response, more = overflow.header, True
        except Exception as exc:
            raise SmbError(
                _code_of(exc, connecting=False), f"{self.session.server}: pipe {self.name}: {_text(exc)}"
            ) from None
        read = open_mod.SMB2ReadResponse()
        try:
            read.unpack(response["data"].get_value())
        except Exception as exc:  # as in transceive
            raise SmbError(
                WinError.RPC_S_CALL_FAILED, f"{self.session.server}: pipe {self.name}: a malformed answer ({exc})"
            ) from None
        return bytes(read["buffer"].get_value()), more

    def read(self, timeout: float | None = None) -> bytes:
        """The next message from the pipe (all of it)."""
        out, more = self._read_message_part(timeout)
        while more:
            chunk, more = self._read_message_part(timeout)
            out += chunk
        return out

    def write(self, data: bytes) -> None:
        """Write ``data`` as one message, no answer expected (the first fragments of a long request)."""
        handle = self._open_handle()
        if isinstance(handle, tuple):
            try:
                handle[0].write(handle[1], data, None)
            except WireError as exc:
                raise self._failed(exc) from None
            return
        try:
            handle.write(data, 0)
        except Exception as exc:
            raise SmbError(
                _code_of(exc, connecting=False), f"{self.session.server}: pipe {self.name}: {_text(exc)}"
            ) from None

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if isinstance(handle, tuple):
            try:
                handle[0].close_file(handle[1], self.session.connect_timeout)
            except WireError:
                pass
        elif handle is not None:
            try:
                handle.close()
            except Exception:
                pass

    def _forget(self) -> None:
        self._handle = None  # the session's disconnect closes it with the tree
