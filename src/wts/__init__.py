"""wts: Windows Terminal Services (RD Session Host) sessions, fast, from Python.

See docs/ for the guide.  ``wts.Server`` talks to one server, ``wts.Farm`` to many at once;
``wts.sim`` drives the simulated farm used on machines without wtsapi32.
"""

from __future__ import annotations

from . import sim
from ._credentials import Credentials
from ._errors import (
    AccessDeniedError,
    NoSuchSessionError,
    NotSupportedError,
    ProviderError,
    ServerUnavailableError,
    WTSError,
    WTSTimeoutError,
)
from ._farm import Farm
from ._provider import available_providers
from ._results import ActionResult, Failure, Interrupted, Outcome, ProcessesResult, Progress, Reason, SessionsResult
from ._server import Server, connect
from ._serverspec import parse_servers, read_servers
from ._sysimages import SYSTEM_IMAGES
from ._types import (
    CURRENT_SESSION,
    ClientAddress,
    ClientInfo,
    ConnectState,
    InfoClass,
    MessageResponse,
    Process,
    Protocol,
    Session,
    SessionInfo,
)

__version__ = "0.1.0"

__all__ = [
    "CURRENT_SESSION",
    "SYSTEM_IMAGES",
    "AccessDeniedError",
    "ActionResult",
    "ClientAddress",
    "ClientInfo",
    "ConnectState",
    "Credentials",
    "Failure",
    "Farm",
    "InfoClass",
    "Interrupted",
    "MessageResponse",
    "NoSuchSessionError",
    "NotSupportedError",
    "Outcome",
    "Process",
    "ProcessesResult",
    "Progress",
    "Protocol",
    "ProviderError",
    "Reason",
    "Server",
    "ServerUnavailableError",
    "Session",
    "SessionInfo",
    "SessionsResult",
    "WTSError",
    "WTSTimeoutError",
    "available_providers",
    "connect",
    "parse_servers",
    "read_servers",
    "sim",
]
