"""Win32 errors from the WTS API, as exceptions.

One table maps each Win32 error code to its exception class; every class is a ``WTSError`` (an
``OSError``) and also inherits the built-in a caller would naturally catch: ``PermissionError`` for
access denied, ``LookupError`` for a missing session, ``ConnectionError`` for a server that does not
answer, ``TimeoutError`` for a deadline.  CPython sets ``winerror`` only on Windows; we set it
everywhere, so code written against the simulated farm runs unchanged on Windows.
"""

from __future__ import annotations

import errno as _errno

from ._winerror import WinError, name_of, text_of

__all__ = [
    "AccessDeniedError",
    "NoSuchSessionError",
    "NotSupportedError",
    "ProviderError",
    "ServerUnavailableError",
    "WTSError",
    "WTSTimeoutError",
    "error_from_winerror",
    "win32_message",
]


def win32_message(winerror: int) -> str:
    """Windows' text for an error code ('Windows error N' for codes wts does not know)."""
    return text_of(winerror)


class WTSError(OSError):
    """A WTS call failed.

    Attributes: ``winerror`` (the Win32 code), ``function`` (the WTS function, e.g.
    ``"WTSDisconnectSession"``), ``server`` (its name, None for the local server) and ``session_id``
    (None when the call names no session).  ``str()`` is one line naming all of them.
    """

    summary = "WTS call failed"
    _errno: int | None = None

    def __init__(
        self,
        winerror: int,
        function: str,
        server: str | None = None,
        session_id: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(self._errno, detail or win32_message(winerror))
        self.winerror = int(winerror)  # a plain int, also when given a WinError member
        self.function = function
        self.server = server
        self.session_id = session_id
        self.detail = detail

    def __reduce__(self) -> tuple[type[WTSError], tuple[int, str, str | None, int | None, str | None]]:
        return (type(self), (self.winerror, self.function, self.server, self.session_id, self.detail))

    @property
    def code_name(self) -> str | None:
        """The SDK's symbolic name of the code, e.g. ``ERROR_CTX_WINSTATION_NOT_FOUND``."""
        return name_of(self.winerror)

    @property
    def hint(self) -> str | None:
        """What usually causes this code on a live host, when that is known (``str()`` ends with it)."""
        return _HINTS.get(self.winerror)

    def __str__(self) -> str:
        where = f"{self.function} on {self.server or 'the local server'}"
        if self.session_id is not None:
            where += f", session {self.session_id}"
        hint = self.hint
        tail = f" ({hint})" if hint else ""
        return f"{self.summary}: {where}: {self.strerror} [WinError {self.winerror}]{tail}"


class AccessDeniedError(WTSError, PermissionError):
    summary = "access denied"
    _errno = _errno.EACCES


class NoSuchSessionError(WTSError, LookupError):
    summary = "no such session"
    _errno = _errno.ESRCH


class ServerUnavailableError(WTSError, ConnectionError):
    summary = "server unavailable"
    _errno = _errno.EHOSTUNREACH


class WTSTimeoutError(WTSError, TimeoutError):
    summary = "timed out"
    _errno = _errno.ETIMEDOUT


class NotSupportedError(WTSError):
    summary = "not supported"
    _errno = _errno.EOPNOTSUPP


# The one table from Win32 code to exception class.
_CLASSES: dict[int, type[WTSError]] = {
    WinError.ERROR_ACCESS_DENIED: AccessDeniedError,
    # A wrong password for tscon, or the caller's own logon refused by the server (any call).
    WinError.ERROR_LOGON_FAILURE: AccessDeniedError,
    # The caller already holds a connection to the server under another user name (net use).
    WinError.ERROR_SESSION_CREDENTIAL_CONFLICT: AccessDeniedError,
    WinError.ERROR_CTX_WINSTATION_ACCESS_DENIED: AccessDeniedError,
    WinError.ERROR_CTX_WINSTATION_NOT_FOUND: NoSuchSessionError,
    WinError.RPC_S_SERVER_UNAVAILABLE: ServerUnavailableError,
    WinError.RPC_S_SERVER_TOO_BUSY: ServerUnavailableError,  # transient
    WinError.RPC_S_CALL_FAILED: ServerUnavailableError,  # transient; the call may have run
    WinError.RPC_S_CALL_FAILED_DNE: ServerUnavailableError,  # transient; the call did not run
    # No RPC endpoint for the service: Remote Desktop Services not running, or not listening.
    WinError.EPT_S_NOT_REGISTERED: ServerUnavailableError,
    # The name does not resolve to a host that answers SMB (WTSOpenServer goes over named pipes).
    WinError.ERROR_BAD_NETPATH: ServerUnavailableError,
    # No domain controller to check the caller's credentials: the server cannot be reached as this user.
    WinError.ERROR_NO_LOGON_SERVERS: ServerUnavailableError,
    WinError.ERROR_TIMEOUT: WTSTimeoutError,
    WinError.WAIT_TIMEOUT: WTSTimeoutError,
    WinError.ERROR_NOT_SUPPORTED: NotSupportedError,
    WinError.ERROR_CALL_NOT_IMPLEMENTED: NotSupportedError,
    WinError.ERROR_CTX_CONSOLE_DISCONNECT: NotSupportedError,
    WinError.ERROR_CTX_CONSOLE_CONNECT: NotSupportedError,
}


# What usually causes a code on a live host: the first things an administrator checks.  One line each.
_HINTS: dict[int, str] = {
    WinError.RPC_S_SERVER_UNAVAILABLE: (
        "usually: the server is off or unreachable, a firewall blocks TCP 445, or remote RPC is "
        "disallowed: AllowRemoteRPC = 0 under HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server"
    ),
    # The engine answers 1727 itself, unsent, when the process holds its limit of threads stuck on
    # hung servers (docs/bulk.md, "Stuck threads, bounded").
    WinError.RPC_S_CALL_FAILED_DNE: (
        "the call did not run; if many servers hang, this process may be at its limit of calls stuck "
        "on them: see wts._wts.engine_abandoned() and engine_abandoned_limit()"
    ),
}


def error_from_winerror(
    winerror: int,
    function: str,
    server: str | None = None,
    session_id: int | None = None,
    detail: str | None = None,
) -> WTSError:
    """The exception for a failed WTS call (the caller raises it); ``detail`` replaces Windows' text."""
    return _CLASSES.get(winerror, WTSError)(winerror, function, server, session_id, detail)


def explained(winerror: int, reason: str | None) -> str | None:
    """Windows' text for ``winerror`` with the provider's ``reason`` after it (a ``detail``), or None
    (Windows' text alone) without one."""
    if not reason:
        return None
    return f"{win32_message(winerror).rstrip('. ')}: {reason}"


class ProviderError(RuntimeError):
    """No usable WTS provider: not on Windows and no simulated farm chosen, or an unknown name."""
