"""wts: Windows Terminal Services (RD Session Host) sessions, fast, from Python.

See docs/ for the guide.  ``wts.Server`` talks to one server; ``wts.sim`` drives the simulated farm
used on machines without wtsapi32.
"""

from __future__ import annotations

from . import sim
from ._errors import (
    AccessDeniedError,
    NoSuchSessionError,
    NotSupportedError,
    ProviderError,
    ServerUnavailableError,
    WTSError,
    WTSTimeoutError,
)
from ._provider import available_providers
from ._server import Server, connect
from ._types import (
    CURRENT_SESSION,
    ClientAddress,
    ConnectState,
    InfoClass,
    MessageResponse,
    Protocol,
    Session,
    SessionInfo,
)

__version__ = "0.1.0"

__all__ = [
    "CURRENT_SESSION",
    "AccessDeniedError",
    "ClientAddress",
    "ConnectState",
    "InfoClass",
    "MessageResponse",
    "NoSuchSessionError",
    "NotSupportedError",
    "Protocol",
    "ProviderError",
    "Server",
    "ServerUnavailableError",
    "Session",
    "SessionInfo",
    "WTSError",
    "WTSTimeoutError",
    "available_providers",
    "connect",
    "sim",
]
