"""SMB encryption over tsts: ``encrypt=True`` (``--encrypt``) against the code of ``wts sim serve``,
seen on the wire by a relay between client and server; a server that requires encryption
(``require_encryption``) gets it without being asked, and refuses a client that cannot encrypt.

Everything on 127.0.0.0/8, every server and relay started and stopped here, bounded in time."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

pytest.importorskip("smbprotocol")
pytest.importorskip("spnego")
pytest.importorskip("cryptography")

from conftest import serve_in_process  # tests/ is on sys.path

import wts

WAIT = 30.0
PASSWORD = "Crypt-Pa55"
CREDS = wts.Credentials("admin", "CONTOSO", PASSWORD)
FARM = {
    "seed": 3,
    "now": "2026-11-21T05:00:00Z",
    "accounts": [{"domain": "CONTOSO", "user": "admin", "password": PASSWORD}],
    "servers": [
        {
            "name": "RDS01",
            "sessions": [
                {"id": 2, "station": "RDP-Tcp#0", "state": "Active", "user": "alice", "domain": "CONTOSO"},
                {"id": 3, "station": "RDP-Tcp#1", "state": "Active", "user": "bob", "domain": "CONTOSO"},
            ],
        }
    ],
}
TRANSFORM = b"\xfdSMB"  # an encrypted SMB2 message (MS-SMB2 2.2.41)
CLEAR = b"\xfeSMB"
NEGOTIATE, SESSION_SETUP = 0, 1

_blocks = iter(range(2, 250))


def _address() -> str:
    return f"127.{200 + os.getpid() % 50}.{next(_blocks)}.9"


def _free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(require_encryption: bool = False) -> Iterator[tuple[str, int]]:
    """``_serve.serve`` (what ``wts sim serve`` runs) on a thread: (address, port) of RDS01."""
    address = _address()
    port = _free_port(address)
    with serve_in_process(FARM, address, port, require_encryption=require_encryption) as servers:
        yield servers["RDS01"], port


class Relay:
    """A TCP relay on its own loopback address (the same port): what each side sent, frame by frame."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.address = _address()
        self.listener = socket.create_server((self.address, upstream[1]))
        self.listener.settimeout(0.1)  # accept() wakes to see close()
        self.frames: dict[str, list[bytes]] = {"client": [], "server": []}
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.sockets: list[socket.socket] = []
        self.closed = False
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self.threads.append(accept)

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            server = socket.create_connection(self.upstream, timeout=WAIT)
            self.sockets += [client, server]
            for src, dst, who in ((client, server, "client"), (server, client, "server")):
                t = threading.Thread(target=self._pump, args=(src, dst, who), daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket, who: str) -> None:
        buffer = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                buffer += data
                while len(buffer) >= 4 and len(buffer) >= 4 + int.from_bytes(buffer[1:4], "big"):
                    size = 4 + int.from_bytes(buffer[1:4], "big")
                    with self.lock:
                        self.frames[who].append(buffer[4:size])
                    buffer = buffer[size:]
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.closed = True
        self.listener.close()
        for s in self.sockets:
            s.close()
        for t in self.threads:
            t.join(WAIT)

    def clear_commands(self, who: str) -> list[int]:
        """The SMB2 commands each side sent in clear (SMB1's negotiate counts as NEGOTIATE)."""
        with self.lock:
            frames = list(self.frames[who])
        return [
            struct.unpack_from("<H", f, 12)[0] if f[:4] == CLEAR else NEGOTIATE for f in frames if f[:4] != TRANSFORM
        ]

    def encrypted(self, who: str) -> int:
        with self.lock:
            return sum(f[:4] == TRANSFORM for f in self.frames[who])


@contextmanager
def relayed(upstream: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> Iterator[Relay]:
    relay = Relay(upstream)
    monkeypatch.setenv("WTS_TSTS_PORT", str(upstream[1]))
    try:
        yield relay
    finally:
        relay.close()


def _list(address: str, **kwargs: Any) -> list[tuple[int, str]]:
    with wts.Server(address, provider="tsts", credentials=CREDS, **kwargs) as server:
        rows = [(s.id, s.user) for s in server.sessions()]
        server.disconnect(3)
        return rows


@pytest.mark.parametrize("encrypt", [True, False])
def test_encrypt_seals_every_message_after_the_logon(encrypt: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    with served() as upstream, relayed(upstream, monkeypatch) as relay:
        assert _list(relay.address, encrypt=encrypt) == [(2, "alice"), (3, "bob")]
        assert wts.Server("RDS01", provider="sim").session_info(3).state == wts.ConnectState.DISCONNECTED
    for who in ("client", "server"):
        clear = relay.clear_commands(who)
        if encrypt:
            # Only the negotiate and the session setup go in clear, as SMB 3 has it; the rest is sealed.
            assert set(clear) <= {NEGOTIATE, SESSION_SETUP}, (who, clear)
            assert relay.encrypted(who) >= 4  # tree connect, create, bind, the calls
        else:
            assert relay.encrypted(who) == 0  # the test can fail: without encrypt, SMB is signed, not sealed
            assert len(set(clear)) > 2


def test_a_server_that_requires_encryption_gets_it_unasked(monkeypatch: pytest.MonkeyPatch) -> None:
    with served(require_encryption=True) as upstream, relayed(upstream, monkeypatch) as relay:
        assert _list(relay.address) == [(2, "alice"), (3, "bob")]
        with wts.Farm([relay.address], provider="tsts", credentials=CREDS, encrypt=True, timeout=WAIT) as farm:
            result = farm.sessions()
        assert not result.failures and len(result.sessions) == 2
    for who in ("client", "server"):
        assert set(relay.clear_commands(who)) <= {NEGOTIATE, SESSION_SETUP}
        assert relay.encrypted(who) >= 4


def test_a_client_that_cannot_encrypt_is_refused() -> None:
    from smbprotocol.connection import Connection, Dialects
    from smbprotocol.exceptions import SMBException
    from smbprotocol.session import Session

    from wts._tsts._auth import ntlm_secret

    with served(require_encryption=True) as (address, port):
        connection = Connection(__import__("uuid").uuid4(), address, port, require_signing=True)
        connection.connect(Dialects.SMB_2_1_0, timeout=WAIT)  # SMB 2.1 has no encryption
        try:
            with pytest.raises(SMBException) as info:
                # The password's hashes, as the tsts client hands them: pyspnego's own NTLM on every
                # system (on Windows a password would go to SSPI, which Wine cannot do).
                secret = ntlm_secret(PASSWORD)
                Session(connection, "CONTOSO\\admin", secret, require_encryption=False, auth_protocol="ntlm").connect()
            assert "ACCESS_DENIED" in str(info.value).upper() or "0xc0000022" in str(info.value).lower()
        finally:
            connection.disconnect(close=True)


def test_encrypt_is_for_tsts_only() -> None:
    wts.sim.load(FARM)
    with pytest.raises(wts.ProviderError, match="encrypt is for the tsts provider"):
        wts.Server("RDS01", provider="sim", encrypt=True)
    with pytest.raises(wts.ProviderError, match="encrypt is for the tsts provider"):
        wts.Farm("RDS01", provider="sim", encrypt=True)
    with pytest.raises(TypeError):
        wts.Farm("RDS01", provider="sim", encrypt="yes")  # type: ignore[arg-type]


def test_the_encrypt_option_needs_tsts(tmp_path: Any) -> None:
    farm = tmp_path / "farm.json"
    farm.write_text(__import__("json").dumps(FARM), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "wts", "--sim-farm", str(farm), "--encrypt", "sessions", "-s", "RDS01"],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith("--encrypt: SMB encryption is for the tsts provider: add --provider tsts")
    )
    assert "Traceback" not in done.stderr


def test_encrypt_on_the_command_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    with served() as upstream, relayed(upstream, monkeypatch) as relay:
        env = dict(os.environ, WTS_PASSWORD=PASSWORD, WTS_TSTS_PORT=str(upstream[1]))
        started = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "wts",
                "--provider",
                "tsts",
                "-U",
                "CONTOSO\\admin",
                "--encrypt",
                "sessions",
                "-s",
                relay.address,
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=WAIT,
            env=env,
        )
        assert time.monotonic() - started < WAIT
    assert done.returncode == 0, done.stderr
    assert '"alice"' in done.stdout and PASSWORD not in done.stdout + done.stderr
    assert set(relay.clear_commands("client")) <= {NEGOTIATE, SESSION_SETUP}
    assert relay.encrypted("client") >= 4
