"""``wts sim serve``: the simulated farm over SMB2 and MS-TSTS, each server on its own loopback address.

API: ``plan(farm, address, port)`` checks what can be checked before listening (the farm loaded,
its accounts, one loopback address per server) and returns a ``Plan``; ``serve(plan, latency, ready,
stop)`` listens on every address (one asyncio loop, any number of servers), calls ``ready(name,
address)`` for each once all listen, and runs until ``stop`` (an ``asyncio.Event`` factory's event,
set by a signal) is set; ``tally=`` (a ``_tally.Tally``, for benchmarks) counts what every server
answered.  Failures are ``ServeError`` with a one-line message.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from ._auth import AUTHN_GSS_NEGOTIATE, Account, ServerAuth
from ._rpcserver import PIPES, RpcPipe
from ._smbserver import Pipe, SmbServer
from ._tally import Tally
from ._tsserver import Farm

__all__ = ["Plan", "ServeError", "plan", "serve"]

_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


class ServeError(Exception):
    """Why ``wts sim serve`` cannot start: one line."""


class Plan(NamedTuple):
    servers: tuple[tuple[str, str], ...]  #: (server name, address) in farm order
    port: int
    accounts: tuple[Account, ...]


def addresses(first: str, count: int) -> list[str]:
    """``count`` consecutive loopback addresses from ``first``, or ServeError."""
    try:
        start = ipaddress.IPv4Address(first)
    except ValueError:
        raise ServeError(f"--address: {first!r} is not an IPv4 address") from None
    if start not in _LOOPBACK:
        raise ServeError(f"--address: {start} is not a loopback address (127.0.0.0/8)")
    if int(start) + count - 1 >= int(_LOOPBACK.broadcast_address):
        raise ServeError(f"--address: {count:,} servers from {start} run past 127.255.255.254")
    return [str(start + i) for i in range(count)]


def plan(servers: Sequence[str], accounts: Sequence[Any], address: str, port: int) -> Plan:
    if not accounts:
        raise ServeError('the farm file has no "accounts": nobody could log on (docs/sim.md, Accounts)')
    if not 1 <= port <= 65535:
        raise ServeError(f"--port: {port} is not a TCP port (1-65535)")
    names = addresses(address, len(servers))
    auth_accounts = tuple(Account(a.domain, a.user, a.password) for a in accounts)
    return Plan(tuple(zip(servers, names)), port, auth_accounts)


class _Logon:
    """SMB session setup's acceptor: SPNEGO with NTLM, done once NTLM has verified the client."""

    def __init__(self, accounts: Sequence[Account]) -> None:
        self._auth = ServerAuth(accounts, AUTHN_GSS_NEGOTIATE)

    def step(self, token: bytes) -> bytes | None:
        return self._auth.step(token)

    @property
    def user(self) -> str | None:
        return self._auth.mechanism_principal

    @property
    def session_key(self) -> bytes:
        return self._auth.session_key


def _bind_error(exc: OSError, host: str, port: int) -> ServeError:
    where = f"cannot listen on {host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return ServeError(f"{where}: the address is already in use (another wts sim serve, or Samba?)")
    if exc.errno == errno.EACCES:
        hint = "ports below 1024 need root or CAP_NET_BIND_SERVICE; try --port 4450"
        return ServeError(f"{where}: permission denied ({hint})")
    if exc.errno == errno.EADDRNOTAVAIL:
        return ServeError(f"{where}: no such local address")
    return ServeError(f"{where}: {exc.strerror or exc}")


async def serve(
    the_plan: Plan,
    *,
    latency: float,
    ready: Callable[[str, str], None],
    stop: asyncio.Event,
    tally: Tally | None = None,
    require_encryption: bool = False,
) -> None:
    farm = Farm()
    listeners: list[asyncio.base_events.Server] = []
    smb_servers: list[SmbServer] = []
    try:
        for name, host in the_plan.servers:

            def pipes(pipe: str, user: str, _name: str = name) -> Pipe | None:
                if pipe.lower() not in PIPES:
                    return None
                return RpcPipe(pipe, _name, the_plan.accounts, farm, tally)

            smb = SmbServer(
                pipes=pipes,
                acceptor=lambda: _Logon(the_plan.accounts),
                latency=latency,
                tally=tally,
                require_encryption=require_encryption,
            )
            try:
                listener = await asyncio.start_server(smb.serve, host, the_plan.port, reuse_address=True)
            except OSError as exc:
                raise _bind_error(exc, host, the_plan.port) from None
            listeners.append(listener)
            smb_servers.append(smb)
        for name, host in the_plan.servers:
            ready(name, host)
        await stop.wait()
    finally:
        for listener in listeners:
            listener.close()
        for smb in smb_servers:
            for task in list(smb.connections):
                task.cancel()
        for listener in listeners:
            await listener.wait_closed()
        farm.close()
