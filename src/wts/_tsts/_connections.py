"""Where and as whom the tsts provider connects: ``ConnectionsBase``, what ``_client.Connections``
(one per ``Server``/``Farm`` that asked for credentials, or the default provider's) holds apart from
making clients: the credentials, the connect timeout, the port and addresses from the environment,
the clients by server name, and the last failure's reason per server for the errors raised past the
C seam."""

from __future__ import annotations

import os
import threading
from typing import Any

from .._credentials import Credentials
from ._auth import ntlm_secret
from ._smb import DEFAULT_PORT

__all__ = ["ConnectionsBase", "default_addresses", "default_port"]


def default_port() -> int:
    """445, or ``WTS_TSTS_PORT`` (a test farm on an unprivileged port, a tunnel)."""
    text = os.environ.get("WTS_TSTS_PORT", "").strip()
    if not text:
        return DEFAULT_PORT
    if not text.isdigit() or not 0 < int(text) < 1 << 16:
        raise ValueError(f"WTS_TSTS_PORT={text!r} is not a TCP port (1 to 65535)")
    return int(text)


def default_addresses() -> dict[str, str]:
    """``WTS_TSTS_ADDRESSES``: ``NAME=ADDRESS[,NAME=ADDRESS...]``, the address (or another host name)
    to connect to for a server named ``NAME``, whose name still goes into everything else, Kerberos'
    service names (``host/NAME``, ``cifs/NAME``) first: a server behind a tunnel, or a test farm on
    loopback addresses, without editing /etc/hosts.  Keys are case-insensitive."""
    text = os.environ.get("WTS_TSTS_ADDRESSES", "").strip()
    found: dict[str, str] = {}
    for item in text.replace(";", ",").split(","):
        if not item.strip():
            continue
        name, eq, address = (part.strip() for part in item.partition("="))
        if not eq or not name or not address or any(c.isspace() for c in name + address):
            raise ValueError(f"WTS_TSTS_ADDRESSES: {item.strip()!r} is not NAME=ADDRESS")
        found[name.casefold()] = address
    return found


class ConnectionsBase:
    """The credentials, connect timeout and port of a provider, and its clients by server name
    (``_client.Connections`` makes them)."""

    def __init__(
        self,
        credentials: Credentials | None = None,
        connect_timeout: float = 5.0,
        port: int | None = None,
        encrypt: bool = False,
    ) -> None:
        if not isinstance(connect_timeout, (int, float)) or not 0 < connect_timeout <= 3600:
            raise ValueError(f"connect_timeout must be a number of seconds above 0, not {connect_timeout!r}")
        self.credentials = credentials
        self.connect_timeout = float(connect_timeout)
        self.port = default_port() if port is None else port
        self.encrypt = encrypt
        #: server name (casefolded) -> where to connect (``default_addresses``).
        self.addresses = default_addresses()
        self._secret: str | None = None
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}  # server name (casefolded) -> its _client.Client
        #: server (casefolded) -> (Win32 code, why): the last failure of a call to it, for the error
        #: raised on the other side of the C seam, which carries the code only.
        self._failures: dict[str, tuple[int, str]] = {}

    def __repr__(self) -> str:
        who = self.credentials.principal if self.credentials is not None else "(ticket cache)"
        return f"Connections(user={who!r}, port={self.port}, servers={len(self._clients)})"

    def secret(self) -> str | None:
        """The password's NTLM hashes (``_auth.ntlm_secret``), derived once for every server's two
        logons; None without a password (Kerberos)."""
        creds = self.credentials
        if creds is None or creds.password is None:
            return None
        if self._secret is None:
            self._secret = ntlm_secret(creds.password)
        return self._secret

    def note_failure(self, server: str, code: int, exc: BaseException) -> None:
        """Keep why a call to ``server`` failed with ``code`` (the exception's one line, without the
        server's name in front), until ``failure_reason`` takes it.  A code the server answered a
        call with is not kept: it is about that call (a session), and Windows' text says it; what is
        kept is about the server (its connection, the logon), whichever of its calls meets it."""
        if getattr(exc, "answer", False):
            return
        text = " ".join(str(exc).split())
        prefix = f"{server}: "
        if text.casefold().startswith(prefix.casefold()):
            text = text[len(prefix) :]
        if text:
            self._failures[server.casefold()] = (code, text)

    def failure_reason(self, server: str, code: int) -> str | None:
        """Why the last call to ``server`` failed, if it failed with ``code``; taken once."""
        found = self._failures.pop(server.casefold(), None)
        return found[1] if found is not None and found[0] == code else None

    def close(self) -> None:
        """Close every server's pipes and SMB session (a later call connects again).  Idempotent."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
