"""The one table of Win32 error codes wts knows: code, the SDK's symbolic name, Windows' own text.

This is the only place Python spells a Win32 code.  Everything else names a member
(``WinError.RPC_S_CALL_FAILED``) and renders with ``name_of`` / ``text_of``; ``tests/test_winerror.py``
checks that the C side (``src/wtsapi/wts_seam.h``, the engine) defines the same numbers.

The texts are FormatMessage's, en-US, so a message reads the same on every machine and in every
locale: administrators grep for them.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["WinError", "name_of", "text_of"]


class WinError(IntEnum):
    """Win32 error codes of the WTS API and the RPC runtime under it, with the SDK's names."""

    ERROR_FILE_NOT_FOUND = 2  # what TermSrv's RpcOpenSession answers for a session that does not exist
    ERROR_ACCESS_DENIED = 5
    ERROR_INVALID_HANDLE = 6
    ERROR_NOT_ENOUGH_MEMORY = 8
    ERROR_NOT_SUPPORTED = 50
    ERROR_INVALID_PARAMETER = 87
    ERROR_CALL_NOT_IMPLEMENTED = 120
    WAIT_TIMEOUT = 258
    ERROR_CANCELLED = 1223
    ERROR_LOGON_FAILURE = 1326
    ERROR_TIMEOUT = 1460
    RPC_S_SERVER_UNAVAILABLE = 1722
    RPC_S_SERVER_TOO_BUSY = 1723
    RPC_S_CALL_FAILED = 1726
    RPC_S_CALL_FAILED_DNE = 1727
    ERROR_INVALID_USER_BUFFER = 1784
    ERROR_BAD_NETPATH = 53
    ERROR_SESSION_CREDENTIAL_CONFLICT = 1219
    ERROR_NO_LOGON_SERVERS = 1311
    EPT_S_NOT_REGISTERED = 1753
    ERROR_CTX_WINSTATION_NOT_FOUND = 7022
    ERROR_CTX_CONSOLE_DISCONNECT = 7041
    ERROR_CTX_CONSOLE_CONNECT = 7042
    ERROR_CTX_WINSTATION_ACCESS_DENIED = 7045
    # LookupAccountSidW, naming the users of processes (WTSEnumerateProcessesExW)
    ERROR_INSUFFICIENT_BUFFER = 122
    ERROR_NONE_MAPPED = 1332
    # MS-TSTS (the tsts provider): what the calls' NTSTATUS / HRESULT and the RPC faults map to
    ERROR_GEN_FAILURE = 31
    ERROR_INVALID_PASSWORD = 86
    ERROR_MR_MID_NOT_FOUND = 317
    RPC_S_UNKNOWN_IF = 1717
    RPC_S_PROTOCOL_ERROR = 1728
    RPC_S_PROCNUM_OUT_OF_RANGE = 1745

    @property
    def text(self) -> str:
        """Windows' text for the code (FormatMessage, en-US)."""
        return _TEXTS[self]


_TEXTS: dict[WinError, str] = {
    WinError.ERROR_FILE_NOT_FOUND: "The system cannot find the file specified.",
    WinError.ERROR_ACCESS_DENIED: "Access is denied.",
    WinError.ERROR_INVALID_HANDLE: "The handle is invalid.",
    WinError.ERROR_NOT_ENOUGH_MEMORY: "Not enough memory resources are available to process this command.",
    WinError.ERROR_NOT_SUPPORTED: "The request is not supported.",
    WinError.ERROR_INVALID_PARAMETER: "The parameter is incorrect.",
    WinError.ERROR_CALL_NOT_IMPLEMENTED: "This function is not supported on this system.",
    WinError.WAIT_TIMEOUT: "The wait operation timed out.",
    WinError.ERROR_CANCELLED: "The operation was canceled by the user.",
    WinError.ERROR_LOGON_FAILURE: "The user name or password is incorrect.",
    WinError.ERROR_TIMEOUT: "This operation returned because the timeout period expired.",
    WinError.RPC_S_SERVER_UNAVAILABLE: "The RPC server is unavailable.",
    WinError.RPC_S_SERVER_TOO_BUSY: "The RPC server is too busy to complete this operation.",
    WinError.RPC_S_CALL_FAILED: "The remote procedure call failed.",
    WinError.RPC_S_CALL_FAILED_DNE: "The remote procedure call failed and did not execute.",
    WinError.ERROR_INVALID_USER_BUFFER: "The supplied user buffer is not valid for the requested operation.",
    WinError.ERROR_BAD_NETPATH: "The network path was not found.",
    WinError.ERROR_SESSION_CREDENTIAL_CONFLICT: (
        "Multiple connections to a server or shared resource by the same user, using more than one user "
        "name, are not allowed. Disconnect all previous connections to the server or shared resource and "
        "try again."
    ),
    WinError.ERROR_NO_LOGON_SERVERS: (
        "We can't sign you in with this credential because your domain isn't available. Make sure your "
        "device is connected to your organization's network and try again. If you previously signed in on "
        "this device with another credential, you can sign in with that credential."
    ),
    WinError.EPT_S_NOT_REGISTERED: "There are no more endpoints available from the endpoint mapper.",
    WinError.ERROR_CTX_WINSTATION_NOT_FOUND: "The specified session cannot be found.",
    WinError.ERROR_CTX_CONSOLE_DISCONNECT: "Disconnecting the console session is not supported.",
    WinError.ERROR_CTX_CONSOLE_CONNECT: "Reconnecting a disconnected session to the console is not supported.",
    WinError.ERROR_CTX_WINSTATION_ACCESS_DENIED: "The requested session access is denied.",
    WinError.ERROR_INSUFFICIENT_BUFFER: "The data area passed to a system call is too small.",
    WinError.ERROR_NONE_MAPPED: "No mapping between account names and security IDs was done.",
    WinError.ERROR_GEN_FAILURE: "A device attached to the system is not functioning.",
    WinError.ERROR_INVALID_PASSWORD: "The specified network password is not correct.",
    WinError.ERROR_MR_MID_NOT_FOUND: (
        "The system cannot find message text for message number 0x%1 in the message file for %2."
    ),
    WinError.RPC_S_UNKNOWN_IF: "The interface is unknown.",
    WinError.RPC_S_PROTOCOL_ERROR: "A remote procedure call (RPC) protocol error occurred.",
    WinError.RPC_S_PROCNUM_OUT_OF_RANGE: "The procedure number is out of range.",
}

# A WTS call that returns FALSE without setting the last error (Wine's stubs do) is still a failure;
# 0 is ERROR_SUCCESS, so it has no name of its own here.
_NO_CODE_TEXT = "The call failed but reported no error code (GetLastError() was 0)."
_BY_CODE: dict[int, WinError] = {int(member): member for member in WinError}


def name_of(code: int) -> str | None:
    """The SDK's symbolic name of ``code`` (``ERROR_CTX_WINSTATION_NOT_FOUND``), None if not in the table."""
    member = _BY_CODE.get(code)
    return member.name if member is not None else None


def text_of(code: int) -> str:
    """Windows' text for ``code`` ('Windows error N.' for codes not in the table)."""
    member = _BY_CODE.get(code)
    if member is not None:
        return member.text
    return _NO_CODE_TEXT if code == 0 else f"Windows error {code}."
