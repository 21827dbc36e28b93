"""Peers for the tsts tests: impacket's SMB server in front of a pipe (``SmbFront``), and a minimal RPC
server of our codec and ServerAuth behind it (``SealedPeer``).  Loopback only; each is stopped by the
test that started it."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable

from impacket import ntlm as impacket_ntlm
from impacket import smbserver

from wts._tsts import _frames, _pdu
from wts._tsts._auth import Account, ServerAuth
from wts._winerror import WinError

LOOPBACK = "127.0.0.1"
BOUND = 20.0  # seconds: nothing here comes near it on a healthy machine


class SmbFront:
    """impacket's SMB server with one account, relaying LSM_API_service to ``address``."""

    def __init__(self, address: tuple[str, int], user: str = "admin", password: str = "") -> None:
        self.server = smbserver.SimpleSMBServer(LOOPBACK, 0)
        self.server.setSMB2Support(True)
        self.server.addCredential(
            user, 0, impacket_ntlm.compute_lmhash(password).hex(), impacket_ntlm.compute_nthash(password).hex()
        )
        self.server.registerNamedPipe("LSM_API_service", address)
        self.inner = self.server.getServer()
        # Stopping must not wait for a client that keeps its connection (a test's failure, or a
        # client under test that leaks one): the handler threads are not joined.
        self.inner.daemon_threads = True
        self.inner.block_on_close = False
        self.port = self.inner.server_address[1]
        self.thread = threading.Thread(target=self.inner.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.inner.shutdown()
        self.inner.server_close()
        self.thread.join(BOUND)


def serve_in_thread(target: Callable[[], None]) -> threading.Thread:
    def run() -> None:
        try:
            target()
        except OSError:
            pass  # the test closed the listening socket: the server's end

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def close_listener(sock: socket.socket) -> None:
    """Wake a thread blocked in accept() (closing alone does not, on Linux), then close."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class SealedPeer:
    """A minimal RPC server on a socket: NTLM bind/auth3 through ServerAuth, requests unsealed and
    answered sealed, in fragments of ``max_frag``; ``answer(opnum, stub)`` makes the stub."""

    def __init__(
        self, answer: Callable[[int, int, bytes], bytes], password: str, user: str = "admin", max_frag: int = 4280
    ) -> None:
        self.answer = answer
        self.max_frag = max_frag
        self.accounts = [Account("", user, password)]
        self.binds = 0
        self.connections = 0
        self.listener = socket.create_server((LOOPBACK, 0))
        self.seen_opnums: list[int] = []
        self.accepted: list[_pdu.SyntaxId] = []
        self.thread = serve_in_thread(self._accept)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.listener.getsockname()[:2]
        return host, port

    def _accept(self) -> None:
        while True:
            conn, _ = self.listener.accept()
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _read_pdu(conn: socket.socket, buffer: bytearray) -> bytes | None:
        """The next PDU from ``conn``; ``buffer`` keeps what arrived beyond it (writes may coalesce)."""
        while len(buffer) < 10 or len(buffer) < struct.unpack_from("<H", buffer, 8)[0]:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            buffer += chunk
        length = struct.unpack_from("<H", buffer, 8)[0]
        pdu = bytes(buffer[:length])
        del buffer[:length]
        return pdu

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(BOUND)
        auth: ServerAuth | None = None
        reassembly = _pdu.Reassembly(_pdu.REQUEST)
        buffer = bytearray()
        refused = False
        with conn:
            while True:
                try:
                    raw = self._read_pdu(conn, buffer)
                except OSError:
                    return
                if raw is None:
                    return
                if refused and raw[2] == _pdu.REQUEST:  # Windows faults a call on a refused logon
                    conn.sendall(
                        _frames.encode_fault(struct.unpack_from("<I", raw, 12)[0], int(WinError.ERROR_ACCESS_DENIED))
                    )
                    continue
                pdu = _pdu.parse(raw, auth if auth is not None and auth.complete else None)
                if isinstance(pdu, _pdu.Bind):
                    self.binds += 1
                    assert pdu.auth is not None
                    auth = ServerAuth(self.accounts, auth_type=pdu.auth.auth_type, level=pdu.auth.auth_level)
                    auth.context_id = pdu.auth.context_id
                    token = auth.step(pdu.auth_value)
                    results = [_pdu.ContextResult(0, 0, _pdu.NDR_SYNTAX) for _ in pdu.contexts]
                    self.accepted = [c.abstract for c in pdu.contexts]
                    conn.sendall(
                        _frames.encode_bind_ack(
                            pdu.header.call_id,
                            results,
                            max_xmit_frag=self.max_frag,
                            max_recv_frag=self.max_frag,
                            assoc_group=0x5151,
                            secondary_address="\\PIPE\\LSM_API_service",
                            auth=pdu.auth,
                            auth_value=token or b"",
                        )
                    )
                elif isinstance(pdu, _pdu.Auth3):
                    assert auth is not None
                    try:
                        auth.step(pdu.auth_value)
                    except Exception:  # a refused logon
                        refused = True
                elif isinstance(pdu, _pdu.Request):
                    stub = reassembly.add(pdu)
                    if stub is None:
                        continue
                    reassembly = _pdu.Reassembly(_pdu.REQUEST)  # the next call's
                    self.seen_opnums.append(pdu.opnum)
                    if pdu.context_id >= len(self.accepted):
                        conn.sendall(_frames.encode_fault(pdu.header.call_id, 0x1C010003))  # nca_s_unk_if
                        continue
                    for fragment in _frames.response_fragments(
                        pdu.header.call_id,
                        pdu.context_id,
                        self.answer(pdu.context_id, pdu.opnum, stub),
                        max_frag=self.max_frag,
                        protector=auth,
                    ):
                        conn.sendall(fragment)

    def stop(self) -> None:
        close_listener(self.listener)
        self.thread.join(BOUND)
