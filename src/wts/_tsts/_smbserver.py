"""A minimal SMB2 server for named pipes on IPC$: what ``wts sim serve`` needs to carry MS-TSTS.

API: ``SmbServer(pipes=, acceptor=, latency=, require_encryption=)``; ``await server.serve(reader,
writer)`` runs one TCP connection (pass it to ``asyncio.start_server``).  ``pipes(name, user)`` opens the pipe ``name``
(``LSM_API_service``, case as the client sent it, without ``\\pipe\\``) for the authenticated
``DOMAIN\\user`` and returns a :class:`Pipe`, or None: no such pipe.  ``acceptor()``: a new server
context (SPNEGO) per session setup; its PermissionError refuses a verified client (access denied).

What it speaks (MS-SMB2), and nothing more: the SMB1 multi-protocol NEGOTIATE that older clients (impacket) open
with, answered with the SMB2 wildcard dialect; NEGOTIATE of dialect 3.1.1 (with its preauth integrity, and a
cipher when the client offers one), else 2.1, else 2.0.2; SESSION_SETUP through the acceptor; TREE_CONNECT to
IPC$ only; CREATE of the pipes; WRITE, READ, IOCTL FSCTL_PIPE_TRANSCEIVE; CLOSE, TREE_DISCONNECT, LOGOFF, ECHO,
CANCEL.  Writes, transceives and waiting reads run beside the connection's next requests (one at a time per
pipe), so calls on different pipes of one connection overlap as they do on Windows.  Signing is required, as
Windows servers require it for IPC$ (``_smbsecurity``: HMAC-SHA256 for 2.x, AES-CMAC for 3.1.1): requests after
the session setup must be signed, and every answer on an established session is, or encrypted (3.1.1: a request
that came encrypted is answered encrypted; demanded only with ``require_encryption``: ``_session_setup``).  No
3.0/3.0.2, compounding, multi-credit.

A pipe is in message mode, as the RPC pipes on Windows are: each write is one message to the pipe's
owner; a read returns one answer message, and a read shorter than the message returns its start with
STATUS_BUFFER_OVERFLOW (the rest comes with the next read), as a transceive whose answer does not fit
does.  A read with nothing to return waits, without holding up the connection's other requests.

``latency`` (seconds) delays every answer, to model a network round trip; ``tally`` (``_tally``) counts
connections and answers for benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import struct
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from . import _smbsecurity as sec
from . import _smbwire as w
from ._smbwire import HEADER, NEG_TOKEN_INIT, ProtocolViolation, Request, error_body, filetime_now
from ._tally import Tally

__all__ = ["Pipe", "SmbServer"]


class Pipe(Protocol):
    """One open of a named pipe, seen from the server side."""

    async def write(self, data: bytes) -> None:
        """One message from the client."""

    async def read(self) -> bytes:
        """The next message for the client (waits until there is one)."""

    def close(self) -> None:
        """The client closed its handle (or went away)."""


PipeFactory = Callable[[str, str], "Pipe | None"]


class _Session:
    __slots__ = ("auth", "keys", "preauth", "trees", "user", "valid")

    def __init__(self, auth: Any, preauth: bytes) -> None:
        self.auth = auth
        self.keys: sec.Keys | None = None
        self.preauth = preauth  # 3.1.1: the session's preauth integrity hash
        self.user = ""
        self.valid = False
        self.trees: dict[int, dict[bytes, _Open]] = {}


class _Open:
    __slots__ = ("leftover", "lock", "pipe")

    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe
        self.leftover = b""
        self.lock = asyncio.Lock()  # one write or transceive at a time on a pipe, as its owner reads them

    async def next_message(self) -> bytes:
        if self.leftover:
            data, self.leftover = self.leftover, b""
            return data
        return await self.pipe.read()


class SmbServer:
    """The SMB2 side of one simulated server (one per listening address; any number of connections)."""

    def __init__(
        self,
        *,
        pipes: PipeFactory,
        acceptor: Callable[[], Any],
        latency: float = 0.0,
        tally: Tally | None = None,
        require_encryption: bool = False,
    ) -> None:
        self.pipes = pipes
        self.acceptor = acceptor
        self.latency = latency
        self.tally = tally  # benchmarks: connections and answers counted (``_tally``)
        self.require_encryption = require_encryption
        self.guid = os.urandom(16)
        self.started = filetime_now()
        self.connections: set[asyncio.Task[None]] = set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.connections.add(task)
        if self.tally is not None:
            self.tally.connection()
        conn = _Connection(self, writer)
        try:
            await conn.run(reader)
        except (ProtocolViolation, ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away or spoke something else: drop the connection, as Windows does
        finally:
            conn.close()
            if task is not None:
                self.connections.discard(task)


class _Connection:
    def __init__(self, server: SmbServer, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.writer = writer
        self.dialect = 0
        self.preauth = bytes(64)  # 3.1.1: the connection's preauth integrity hash
        self.choice: sec.Choice | None = None  # 3.1.1: the cipher and signing algorithm
        self.sessions: dict[int, _Session] = {}
        self.next_tree = 1
        self.waiting: dict[int, asyncio.Task[None]] = {}  # reads waiting for a message, by message id
        self.tasks: set[asyncio.Task[None]] = set()  # writes and transceives in flight
        self.send_lock = asyncio.Lock()
        self.broken: BaseException | None = None

    def close(self) -> None:
        for task in (*self.waiting.values(), *self.tasks):
            task.cancel()
        for session in self.sessions.values():
            for opens in session.trees.values():
                for entry in opens.values():
                    entry.pipe.close()
        self.sessions.clear()
        self.writer.close()

    async def run(self, reader: asyncio.StreamReader) -> None:
        while True:
            frame = await reader.readexactly(4)
            length = int.from_bytes(frame[1:], "big")
            if frame[0] != 0 or length > w.MAX_FRAME:
                raise ProtocolViolation("bad Direct TCP frame")
            raw = await reader.readexactly(length)
            if self.broken is not None:
                raise self.broken
            if raw[:4] == b"\xffSMB":
                await self._smb1_negotiate(raw)
                continue
            if raw[:4] == sec.TRANSFORM_MAGIC:
                await self._dispatch(self._decrypt(raw))
                continue
            await self._dispatch(Request(raw))

    def _decrypt(self, raw: bytes) -> Request:
        try:
            session = self.sessions.get(sec.transform_session(raw))
            if session is None or session.keys is None:
                raise ProtocolViolation("an encrypted message for no session")
            return Request(sec.unseal(session.keys, raw), encrypted=True)
        except sec.SecurityError as exc:
            raise ProtocolViolation(str(exc)) from None

    def _spawn(self, work: Awaitable[None]) -> None:
        """Run ``work`` beside the connection's next requests (a call on one pipe does not hold up the
        others, as on Windows); a violation in it drops the connection."""

        async def run() -> None:
            try:
                await work
            except (ProtocolViolation, ConnectionError) as exc:
                self.broken = exc
                self.writer.close()

        task = asyncio.ensure_future(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _locked(self, entry: _Open, work: Awaitable[None]) -> None:
        async with entry.lock:
            await work

    # -- sending -----------------------------------------------------------------------------------

    async def _send(self, req: Request, status: int, body: bytes, session_id: int | None = None) -> bytes:
        """Answer ``req``; returns the SMB2 message as sent (before any encryption)."""
        sid = req.session_id if session_id is None else session_id
        session = self.sessions.get(sid)
        keys = session.keys if session is not None and session.valid else None
        credits = min(max(req.credits, 1), w.MAX_CREDITS)
        flags = w.FLAG_RESPONSE
        sign = keys is not None and req.command != w.NEGOTIATE and not req.encrypted
        if sign:
            flags |= w.FLAG_SIGNED
        header = HEADER.pack(
            b"\xfeSMB", 64, 0, status, req.command, credits, flags, 0, req.message_id, 0, req.tree_id, sid, b"\0" * 16
        )
        message = header + body
        if sign and keys is not None:
            message = message[:48] + sec.sign(keys, message) + message[64:]
        wire = sec.seal(keys, sid, message) if req.encrypted and keys is not None else message
        if self.server.tally is not None:
            self.server.tally.smb_answer(req.command)
        if self.server.latency:
            await asyncio.sleep(self.server.latency)
        async with self.send_lock:
            self.writer.write(len(wire).to_bytes(4, "big") + wire)
            await self.writer.drain()
        return message

    async def _fail(self, req: Request, status: int) -> None:
        await self._send(req, status, error_body())

    # -- negotiate ---------------------------------------------------------------------------------

    async def _smb1_negotiate(self, raw: bytes) -> None:
        # An SMB1 w.NEGOTIATE (MS-SMB2 3.3.5.3.1): the dialect strings follow the 32-byte header, the
        # word count (0) and the byte count.  "SMB 2.???" gets the wildcard; "SMB 2.002" alone, 2.0.2.
        if self.dialect or len(raw) < 35 or raw[4] != 0x72:
            raise ProtocolViolation("SMB1 is not spoken here")
        names = {n.lstrip(b"\x02") for n in raw[35:].split(b"\0") if n}
        if b"SMB 2.???" in names:
            dialect = w.DIALECT_WILDCARD
        elif b"SMB 2.002" in names:
            dialect = self.dialect = w.DIALECT_202
        else:
            raise ProtocolViolation("no SMB2 dialect offered")
        fake = HEADER.pack(b"\xfeSMB", 64, 0, 0, w.NEGOTIATE, 1, 0, 0, 0, 0, 0, 0, b"\0" * 16)
        await self._send(Request(fake), w.STATUS_SUCCESS, self._negotiate_body(dialect))

    def _negotiate_body(self, dialect: int, contexts: list[bytes] | None = None) -> bytes:
        token = NEG_TOKEN_INIT
        context_at = 0
        tail = b""
        if contexts:
            context_at = HEADER.size + 64 + len(token)
            context_at += -context_at % 8
            tail = bytes(context_at - HEADER.size - 64 - len(token))
            for i, context in enumerate(contexts):
                tail += context + (bytes(-len(context) % 8) if i < len(contexts) - 1 else b"")
        fixed = struct.pack(
            "<HHHH16sIIIIQQHHI",
            65,
            w.SIGNING_ENABLED | w.SIGNING_REQUIRED,
            dialect,
            len(contexts or ()),
            self.server.guid,
            0,  # no DFS, leasing, large MTU, multichannel or encryption
            w.MAX_IO,
            w.MAX_IO,
            w.MAX_IO,
            filetime_now(),
            self.server.started,
            HEADER.size + 64,
            len(token),
            context_at,
        )
        return fixed + token + tail

    async def _negotiate(self, req: Request) -> None:
        if self.dialect and self.dialect != w.DIALECT_202:
            raise ProtocolViolation("second w.NEGOTIATE on a connection")
        (count,) = req.field("<H", 2)
        dialects = set(req.field(f"<{count}H", 36)) if count else set()
        if w.DIALECT_311 in dialects:
            context_offset, context_count = req.field("<IH", 28)
            try:
                offered = sec.parse_contexts(req.raw[context_offset:], context_count)
                contexts, self.choice = sec.answer_contexts(offered)
            except sec.SecurityError as exc:
                await self._fail(req, w.STATUS_INVALID_PARAMETER)
                raise ProtocolViolation(str(exc)) from None
            self.dialect = w.DIALECT_311
            self.preauth = sec.preauth(self.preauth, req.raw)
            sent = await self._send(req, w.STATUS_SUCCESS, self._negotiate_body(w.DIALECT_311, contexts))
            self.preauth = sec.preauth(self.preauth, sent)
            return
        if w.DIALECT_210 in dialects:
            self.dialect = w.DIALECT_210
        elif w.DIALECT_202 in dialects:
            self.dialect = w.DIALECT_202
        else:
            await self._fail(req, w.STATUS_NOT_SUPPORTED)
            raise ProtocolViolation("no dialect in common")
        await self._send(req, w.STATUS_SUCCESS, self._negotiate_body(self.dialect))

    # -- dispatch ----------------------------------------------------------------------------------

    async def _dispatch(self, req: Request) -> None:
        if req.command == w.NEGOTIATE:
            await self._negotiate(req)
            return
        if not self.dialect:
            raise ProtocolViolation("request before w.NEGOTIATE")
        if req.command == w.CANCEL:
            task = self.waiting.pop(req.message_id, None)
            if task is not None:
                task.cancel()
                await self._fail(req, w.STATUS_CANCELLED)
            return  # w.CANCEL itself has no answer
        if req.command == w.SESSION_SETUP:
            await self._session_setup(req)
            return
        session = self.sessions.get(req.session_id)
        if session is None or not session.valid:
            await self._fail(req, w.STATUS_USER_SESSION_DELETED)
            return
        if not req.encrypted and (self.server.require_encryption or not self._signed_by(session, req)):
            await self._fail(req, w.STATUS_ACCESS_DENIED)  # signing is required; sealing too with EncryptData
            return
        if req.command == w.ECHO:
            await self._send(req, w.STATUS_SUCCESS, struct.pack("<HH", 4, 0))
        elif req.command == w.LOGOFF:
            await self._send(req, w.STATUS_SUCCESS, struct.pack("<HH", 4, 0))
            self._end_session(req.session_id)
        elif req.command == w.TREE_CONNECT:
            await self._tree_connect(req, session)
        else:
            opens = session.trees.get(req.tree_id)
            if opens is None:
                await self._fail(req, w.STATUS_NETWORK_NAME_DELETED)
            elif req.command == w.TREE_DISCONNECT:
                for entry in session.trees.pop(req.tree_id).values():
                    entry.pipe.close()
                await self._send(req, w.STATUS_SUCCESS, struct.pack("<HH", 4, 0))
            elif req.command == w.CREATE:
                await self._create(req, session, opens)
            elif req.command in (w.CLOSE, w.READ, w.WRITE, w.IOCTL):
                await self._file_command(req, opens)
            else:
                await self._fail(req, w.STATUS_NOT_SUPPORTED)

    @staticmethod
    def _signed_by(session: _Session, req: Request) -> bool:
        keys = session.keys
        return (
            keys is not None
            and bool(req.flags & w.FLAG_SIGNED)
            and hmac.compare_digest(req.raw[48:64], sec.sign(keys, req.raw))
        )

    def _end_session(self, session_id: int) -> None:
        session = self.sessions.pop(session_id, None)
        if session is not None:
            for opens in session.trees.values():
                for entry in opens.values():
                    entry.pipe.close()

    # -- session setup -----------------------------------------------------------------------------

    async def _session_setup(self, req: Request) -> None:
        offset, length = req.field("<HH", 12)
        token = req.blob(offset, length)
        sid = req.session_id
        session = self.sessions.get(sid) if sid else None
        if session is None or session.valid:
            if sid and session is None:
                await self._fail(req, w.STATUS_USER_SESSION_DELETED)
                return
            # A new session (a re-authentication of a valid one starts afresh too).
            sid = int.from_bytes(os.urandom(8), "little") | 1
            session = _Session(self.server.acceptor(), self.preauth)
            self.sessions[sid] = session
        if self.dialect == w.DIALECT_311:
            session.preauth = sec.preauth(session.preauth, req.raw)
        try:
            answer = session.auth.step(token)
        except Exception as exc:  # pyspnego's own hierarchy: a failed logon (PermissionError: no account, refused)
            self.sessions.pop(sid, None)
            status = w.STATUS_ACCESS_DENIED if isinstance(exc, PermissionError) else w.STATUS_LOGON_FAILURE
            await self._send(req, status, error_body(), sid)
            return
        out = answer or b""
        user = session.auth.user
        flags = 0x0004 if self.server.require_encryption else 0  # SMB2_SESSION_FLAG_ENCRYPT_DATA (MS-SMB2 2.2.6)
        if user is not None and flags and not (self.dialect == w.DIALECT_311 and self.choice and self.choice.cipher):
            self.sessions.pop(sid, None)
            return await self._fail(req, w.STATUS_ACCESS_DENIED)  # it cannot encrypt: refused, as Windows does
        body = struct.pack("<HHHH", 9, flags, HEADER.size + 8, len(out)) + out
        if user is None:
            sent = await self._send(req, w.STATUS_MORE_PROCESSING_REQUIRED, body, sid)
            if self.dialect == w.DIALECT_311:
                session.preauth = sec.preauth(session.preauth, sent)
            return
        session.keys = sec.Keys.derive(bytes(session.auth.session_key), self.dialect, session.preauth, self.choice)
        session.user = str(user)
        session.valid = True
        await self._send(req, w.STATUS_SUCCESS, body, sid)

    # -- tree and files ----------------------------------------------------------------------------

    async def _tree_connect(self, req: Request, session: _Session) -> None:
        offset, length = req.field("<HH", 4)
        try:
            path = req.blob(offset, length).decode("utf-16-le")
        except UnicodeDecodeError:
            path = ""
        share = path.rsplit("\\", 1)[-1]
        if share.upper() != "IPC$":
            await self._fail(req, w.STATUS_BAD_NETWORK_NAME)
            return
        tree_id = self.next_tree
        self.next_tree += 1
        session.trees[tree_id] = {}
        body = struct.pack("<HBBIII", 16, w.SHARE_TYPE_PIPE, 0, w.SHARE_FLAG_NO_CACHING, 0, w.FULL_ACCESS)
        req.tree_id = tree_id
        await self._send(req, w.STATUS_SUCCESS, body)

    async def _create(self, req: Request, session: _Session, opens: dict[bytes, _Open]) -> None:
        offset, length = req.field("<HH", 44)
        try:
            name = req.blob(offset, length).decode("utf-16-le")
        except UnicodeDecodeError:
            await self._fail(req, w.STATUS_OBJECT_NAME_NOT_FOUND)
            return
        name = name.lstrip("\\")
        if name.lower().startswith("pipe\\"):
            name = name[5:]
        pipe = self.server.pipes(name, session.user) if name and "\\" not in name else None
        if pipe is None:
            await self._fail(req, w.STATUS_OBJECT_NAME_NOT_FOUND)
            return
        file_id = os.urandom(16)
        opens[file_id] = _Open(pipe)
        now = filetime_now()
        body = struct.pack(
            "<HBBIQQQQQQII16sII", 89, 0, 0, 1, now, now, now, now, 0, 0, w.FILE_ATTRIBUTE_NORMAL, 0, file_id, 0, 0
        )
        await self._send(req, w.STATUS_SUCCESS, body)

    async def _file_command(self, req: Request, opens: dict[bytes, _Open]) -> None:
        where = {w.CLOSE: 8, w.READ: 16, w.WRITE: 16, w.IOCTL: 8}[req.command]
        (file_id,) = req.field("<16s", where)
        entry = opens.get(file_id)
        if entry is None:
            await self._fail(req, w.STATUS_FILE_CLOSED)
            return
        if req.command == w.CLOSE:
            del opens[file_id]
            entry.pipe.close()
            await self._send(req, w.STATUS_SUCCESS, struct.pack("<HHIQQQQQQI", 60, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        elif req.command == w.WRITE:
            self._spawn(self._locked(entry, self._write(req, entry)))
        elif req.command == w.READ:
            (length,) = req.field("<I", 4)
            if entry.leftover:
                await self._answer_read(req, entry, await entry.next_message(), length)
            else:
                # Nothing to hand back yet: wait for the pipe's owner without blocking this connection.
                task = asyncio.ensure_future(self._read_later(req, entry, length))
                self.waiting[req.message_id] = task
        else:
            self._spawn(self._locked(entry, self._ioctl(req, entry, file_id)))

    async def _write(self, req: Request, entry: _Open) -> None:
        offset, length = req.field("<HI", 2)
        await entry.pipe.write(req.blob(offset, length))
        await self._send(req, w.STATUS_SUCCESS, struct.pack("<HHIIHH", 17, 0, length, 0, 0, 0))

    async def _read_later(self, req: Request, entry: _Open, length: int) -> None:
        try:
            data = await entry.next_message()
        except (EOFError, ConnectionError):
            await self._fail(req, w.STATUS_PIPE_BROKEN)
            return
        finally:
            self.waiting.pop(req.message_id, None)
        with contextlib.suppress(ConnectionError):
            await self._answer_read(req, entry, data, length)

    async def _answer_read(self, req: Request, entry: _Open, data: bytes, length: int) -> None:
        status = w.STATUS_SUCCESS
        if len(data) > length:
            data, entry.leftover = data[:length], data[length:]
            status = w.STATUS_BUFFER_OVERFLOW
        body = struct.pack("<HBBIII", 17, HEADER.size + 16, 0, len(data), 0, 0) + data
        await self._send(req, status, body)

    async def _ioctl(self, req: Request, entry: _Open, file_id: bytes) -> None:
        (ctl_code,) = req.field("<I", 4)
        in_offset, in_count, _max_in, _out_offset, _out_count, max_out, flags = req.field("<IIIIIII", 24)
        if ctl_code == w.FSCTL_PIPE_WAIT:
            await self._send(req, w.STATUS_SUCCESS, self._ioctl_body(ctl_code, file_id, b""))
            return
        if ctl_code != w.FSCTL_PIPE_TRANSCEIVE or not flags & 1:
            await self._fail(req, w.STATUS_NOT_SUPPORTED)
            return
        if entry.leftover:
            await self._fail(req, w.STATUS_PIPE_BROKEN)  # a transceive with an unread answer pending
            return
        await entry.pipe.write(req.blob(in_offset, in_count))
        try:
            data = await entry.next_message()
        except (EOFError, ConnectionError):
            await self._fail(req, w.STATUS_PIPE_BROKEN)
            return
        status = w.STATUS_SUCCESS
        if len(data) > max_out:
            data, entry.leftover = data[:max_out], data[max_out:]
            status = w.STATUS_BUFFER_OVERFLOW
        await self._send(req, status, self._ioctl_body(ctl_code, file_id, data))

    @staticmethod
    def _ioctl_body(ctl_code: int, file_id: bytes, data: bytes) -> bytes:
        at = HEADER.size + 48
        return struct.pack("<HHI16sIIIIII", 49, 0, ctl_code, file_id, at, 0, at, len(data), 0, 0) + data
