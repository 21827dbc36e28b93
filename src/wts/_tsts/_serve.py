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
import json
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from .._winerror import WinError
from ._auth import AUTHN_GSS_NEGOTIATE, Account, AuthError, ServerAuth, import_remote
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
    #: Kerberos accepted too (``--keytab``: KRB5_KTNAME names the keytab).
    kerberos: bool = False
    #: ``--logons FILE``: one JSON line per completed logon (server, layer, mechanism, principal, account).
    logons: str | None = None


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


def check_keytab(path: str) -> str:
    """``KRB5_KTNAME``'s value for the keytab ``path``, once python-gssapi (with pyspnego's Kerberos)
    is there and the keytab holds a key to accept with; else ServeError."""
    try:
        gss = import_remote("spnego._gss")
    except Exception:
        gss = None
    if gss is None or "kerberos" not in gss.GSSAPIProxy.available_protocols() or not getattr(gss, "HAS_GSSAPI", False):
        raise ServeError("--keytab: Kerberos needs python-gssapi and krb5 (pip install gssapi krb5; docs/remote.md)")
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise ServeError(f"--keytab: {path}: no such readable file")
    name = "FILE:" + os.path.abspath(path)
    gssapi = import_remote("gssapi")
    try:
        gssapi.Credentials(usage="accept", store={"keytab": name})
    except gssapi.exceptions.GSSError as exc:
        text = " ".join(str(exc).split())[:200]
        raise ServeError(f"--keytab: {path}: no key to accept with ({text})") from None
    return name


def plan(
    servers: Sequence[str],
    accounts: Sequence[Any],
    address: str,
    port: int,
    *,
    kerberos: bool = False,
    logons: str | None = None,
) -> Plan:
    if not accounts:
        raise ServeError('the farm file has no "accounts": nobody could log on (docs/sim.md, Accounts)')
    if not 1 <= port <= 65535:
        raise ServeError(f"--port: {port} is not a TCP port (1-65535)")
    names = addresses(address, len(servers))
    auth_accounts = tuple(Account(a.domain, a.user, a.password) for a in accounts)
    return Plan(tuple(zip(servers, names)), port, auth_accounts, kerberos, logons)


class _Logon:
    """SMB session setup's acceptor: SPNEGO with NTLM (and Kerberos with a keytab), done once the
    mechanism has verified the client; a client verified but without an account is refused
    (PermissionError: the SMB server answers access denied).  ``on_logon`` as ServerAuth's."""

    def __init__(
        self, accounts: Sequence[Account], kerberos: bool, on_logon: Callable[[ServerAuth], None] | None
    ) -> None:
        self.auth = ServerAuth(accounts, AUTHN_GSS_NEGOTIATE, kerberos=kerberos, on_logon=on_logon)

    def step(self, token: bytes) -> bytes | None:
        try:
            return self.auth.step(token)
        except AuthError as exc:
            if exc.winerror == WinError.ERROR_ACCESS_DENIED:
                raise PermissionError(str(exc)) from None
            raise

    @property
    def user(self) -> str | None:
        return self.auth.mechanism_principal

    @property
    def session_key(self) -> bytes:
        return self.auth.session_key


class _LogonLog:
    """``--logons FILE``: one JSON object a line for each completed logon, SMB and RPC, so that a test
    (or a person) sees who logged on with which mechanism."""

    def __init__(self, path: str) -> None:
        try:
            self._file = open(path, "a", encoding="utf-8")
        except OSError as exc:
            raise ServeError(f"--logons: {path}: {exc.strerror or exc}") from None

    def __call__(self, server: str, layer: str, auth: ServerAuth) -> None:
        account = auth.account
        record = {
            "server": server,
            "layer": layer,
            "mechanism": auth.mechanism,
            "principal": auth.mechanism_principal,
            "account": f"{account.domain}\\{account.user}" if account is not None else None,
        }
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


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
    log = _LogonLog(the_plan.logons) if the_plan.logons else None
    listeners: list[asyncio.base_events.Server] = []
    smb_servers: list[SmbServer] = []
    try:
        for name, host in the_plan.servers:

            def pipes(pipe: str, user: str, _name: str = name) -> Pipe | None:
                if pipe.lower() not in PIPES:
                    return None
                logged = None if log is None else (lambda auth, _n=_name: log(_n, "rpc", auth))
                return RpcPipe(pipe, _name, the_plan.accounts, farm, tally, kerberos=the_plan.kerberos, on_logon=logged)

            def acceptor(_name: str = name) -> _Logon:
                logged = None if log is None else (lambda auth: log(_name, "smb", auth))
                return _Logon(the_plan.accounts, the_plan.kerberos, logged)

            smb = SmbServer(
                pipes=pipes,
                acceptor=acceptor,
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
        if log is not None:
            log.close()
