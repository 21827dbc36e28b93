"""Win32 errors from the WTS API, as exceptions.

One table maps each Win32 error code to its exception class; every class is a ``WTSError`` (an
``OSError``) and also inherits the built-in a caller would naturally catch: ``PermissionError`` for
access denied, ``LookupError`` for a missing session, ``ConnectionError`` for a server that does not
answer, ``TimeoutError`` for a deadline.  CPython sets ``winerror`` only on Windows; we set it
everywhere, so code written against the simulated farm runs unchanged on Windows.
"""

from __future__ import annotations

import errno as _errno

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

# Windows' own English texts (FormatMessage, en-US), so messages read the same on every machine and
# in every locale: administrators grep for them.
_MESSAGES: dict[int, str] = {
    # A WTS call that returns FALSE without setting the last error (Wine's stubs do) is still a failure.
    0: "The call failed but reported no error code (GetLastError() was 0).",
    5: "Access is denied.",
    6: "The handle is invalid.",
    8: "Not enough memory resources are available to process this command.",
    50: "The request is not supported.",
    87: "The parameter is incorrect.",
    120: "This function is not supported on this system.",
    258: "The wait operation timed out.",
    1223: "The operation was canceled by the user.",
    1326: "The user name or password is incorrect.",
    1460: "This operation returned because the timeout period expired.",
    1722: "The RPC server is unavailable.",
    1723: "The RPC server is too busy to complete this operation.",
    1726: "The remote procedure call failed.",
    1784: "The supplied user buffer is not valid for the requested operation.",
    7022: "The specified session cannot be found.",
    7041: "Disconnecting the console session is not supported.",
    7042: "Reconnecting a disconnected session to the console is not supported.",
    7045: "The requested session access is denied.",
}

_NAMES: dict[int, str] = {
    5: "ERROR_ACCESS_DENIED",
    6: "ERROR_INVALID_HANDLE",
    8: "ERROR_NOT_ENOUGH_MEMORY",
    50: "ERROR_NOT_SUPPORTED",
    87: "ERROR_INVALID_PARAMETER",
    120: "ERROR_CALL_NOT_IMPLEMENTED",
    258: "WAIT_TIMEOUT",
    1223: "ERROR_CANCELLED",
    1326: "ERROR_LOGON_FAILURE",
    1460: "ERROR_TIMEOUT",
    1722: "RPC_S_SERVER_UNAVAILABLE",
    1723: "RPC_S_SERVER_TOO_BUSY",
    1726: "RPC_S_CALL_FAILED",
    1784: "ERROR_INVALID_USER_BUFFER",
    7022: "ERROR_CTX_WINSTATION_NOT_FOUND",
    7041: "ERROR_CTX_CONSOLE_DISCONNECT",
    7042: "ERROR_CTX_CONSOLE_CONNECT",
    7045: "ERROR_CTX_WINSTATION_ACCESS_DENIED",
}


def win32_message(winerror: int) -> str:
    """Windows' text for an error code ('Windows error N' for codes wts does not know)."""
    return _MESSAGES.get(winerror, f"Windows error {winerror}.")


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
        self.winerror = winerror
        self.function = function
        self.server = server
        self.session_id = session_id
        self.detail = detail

    def __reduce__(self) -> tuple[type[WTSError], tuple[int, str, str | None, int | None, str | None]]:
        return (type(self), (self.winerror, self.function, self.server, self.session_id, self.detail))

    @property
    def code_name(self) -> str | None:
        """The SDK's symbolic name of the code, e.g. ``ERROR_CTX_WINSTATION_NOT_FOUND``."""
        return _NAMES.get(self.winerror)

    def __str__(self) -> str:
        where = f"{self.function} on {self.server or 'the local server'}"
        if self.session_id is not None:
            where += f", session {self.session_id}"
        return f"{self.summary}: {where}: {self.strerror} [WinError {self.winerror}]"


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
    5: AccessDeniedError,  # ERROR_ACCESS_DENIED
    1326: AccessDeniedError,  # ERROR_LOGON_FAILURE: wrong password for tscon
    7045: AccessDeniedError,  # ERROR_CTX_WINSTATION_ACCESS_DENIED
    7022: NoSuchSessionError,  # ERROR_CTX_WINSTATION_NOT_FOUND
    1722: ServerUnavailableError,  # RPC_S_SERVER_UNAVAILABLE
    1723: ServerUnavailableError,  # RPC_S_SERVER_TOO_BUSY (transient)
    1726: ServerUnavailableError,  # RPC_S_CALL_FAILED (transient)
    1460: WTSTimeoutError,  # ERROR_TIMEOUT
    258: WTSTimeoutError,  # WAIT_TIMEOUT
    50: NotSupportedError,  # ERROR_NOT_SUPPORTED
    120: NotSupportedError,  # ERROR_CALL_NOT_IMPLEMENTED
    7041: NotSupportedError,  # ERROR_CTX_CONSOLE_DISCONNECT
    7042: NotSupportedError,  # ERROR_CTX_CONSOLE_CONNECT
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


class ProviderError(RuntimeError):
    """No usable WTS provider: not on Windows and no simulated farm chosen, or an unknown name."""
