"""The exception classes: hierarchy, attributes, str(), pickling and the Win32 code -> class table."""

from __future__ import annotations

import errno
import pickle

import pytest

import wts
from wts import (
    AccessDeniedError,
    NoSuchSessionError,
    NotSupportedError,
    ProviderError,
    ServerUnavailableError,
    WTSError,
    WTSTimeoutError,
)
from wts._errors import error_from_winerror, win32_message

WTS_CLASSES = [
    WTSError,
    AccessDeniedError,
    NoSuchSessionError,
    ServerUnavailableError,
    WTSTimeoutError,
    NotSupportedError,
]

# Win32 code -> (class, SDK name, Windows' en-US text)
TABLE = {
    5: (AccessDeniedError, "ERROR_ACCESS_DENIED", "Access is denied."),
    1326: (AccessDeniedError, "ERROR_LOGON_FAILURE", "The user name or password is incorrect."),
    7045: (AccessDeniedError, "ERROR_CTX_WINSTATION_ACCESS_DENIED", "The requested session access is denied."),
    7022: (NoSuchSessionError, "ERROR_CTX_WINSTATION_NOT_FOUND", "The specified session cannot be found."),
    1722: (ServerUnavailableError, "RPC_S_SERVER_UNAVAILABLE", "The RPC server is unavailable."),
    1723: (ServerUnavailableError, "RPC_S_SERVER_TOO_BUSY", "The RPC server is too busy to complete this operation."),
    1726: (ServerUnavailableError, "RPC_S_CALL_FAILED", "The remote procedure call failed."),
    1460: (WTSTimeoutError, "ERROR_TIMEOUT", "This operation returned because the timeout period expired."),
    258: (WTSTimeoutError, "WAIT_TIMEOUT", "The wait operation timed out."),
    50: (NotSupportedError, "ERROR_NOT_SUPPORTED", "The request is not supported."),
    120: (NotSupportedError, "ERROR_CALL_NOT_IMPLEMENTED", "This function is not supported on this system."),
    7041: (NotSupportedError, "ERROR_CTX_CONSOLE_DISCONNECT", "Disconnecting the console session is not supported."),
    7042: (
        NotSupportedError,
        "ERROR_CTX_CONSOLE_CONNECT",
        "Reconnecting a disconnected session to the console is not supported.",
    ),
    87: (WTSError, "ERROR_INVALID_PARAMETER", "The parameter is incorrect."),
    6: (WTSError, "ERROR_INVALID_HANDLE", "The handle is invalid."),
    8: (WTSError, "ERROR_NOT_ENOUGH_MEMORY", "Not enough memory resources are available to process this command."),
    1784: (WTSError, "ERROR_INVALID_USER_BUFFER", "The supplied user buffer is not valid for the requested operation."),
}


def test_public_classes_are_exported() -> None:
    for cls in [*WTS_CLASSES, ProviderError]:
        assert getattr(wts, cls.__name__) is cls
        assert cls.__name__ in wts.__all__


@pytest.mark.parametrize(
    "cls, builtin, err",
    [
        (AccessDeniedError, PermissionError, errno.EACCES),
        (NoSuchSessionError, LookupError, errno.ESRCH),
        (ServerUnavailableError, ConnectionError, errno.EHOSTUNREACH),
        (WTSTimeoutError, TimeoutError, errno.ETIMEDOUT),
        (NotSupportedError, None, errno.EOPNOTSUPP),
    ],
)
def test_hierarchy(cls: type[WTSError], builtin: type | None, err: int) -> None:
    assert issubclass(cls, WTSError)
    assert issubclass(cls, OSError)
    if builtin is not None:
        assert issubclass(cls, builtin)
    exc = cls(5, "WTSLogoffSession", "RDS01", 3)
    assert exc.errno == err
    with pytest.raises(WTSError):
        raise exc
    with pytest.raises(OSError):
        raise exc


def test_not_supported_is_not_a_lookup_or_permission_error() -> None:
    exc = NotSupportedError(7041, "WTSDisconnectSession", "RDS01", 1)
    assert not isinstance(exc, (PermissionError, LookupError, ConnectionError, TimeoutError))
    assert not isinstance(WTSError(87, "f"), (PermissionError, LookupError, ConnectionError, TimeoutError))


def test_provider_error_is_not_a_wts_error() -> None:
    assert issubclass(ProviderError, RuntimeError)
    assert not issubclass(ProviderError, WTSError)
    assert not issubclass(ProviderError, OSError)


@pytest.mark.parametrize("code", sorted(TABLE))
def test_code_table(code: int) -> None:
    cls, _name, _text = TABLE[code]
    exc = error_from_winerror(code, "WTSQuerySessionInformationW", "RDS01", 2)
    assert type(exc) is cls
    assert exc.winerror == code
    assert exc.function == "WTSQuerySessionInformationW"
    assert exc.server == "RDS01"
    assert exc.session_id == 2
    assert exc.detail is None


@pytest.mark.parametrize("code", sorted(TABLE))
def test_every_known_code_has_windows_text_and_sdk_name(code: int) -> None:
    _, name, text = TABLE[code]
    exc = error_from_winerror(code, "WTSEnumerateSessionsExW")
    assert win32_message(code) == text
    assert exc.strerror == text
    assert exc.code_name == name


def test_unknown_code() -> None:
    exc = error_from_winerror(12345, "WTSLogoffSession", None, 4)
    assert type(exc) is WTSError
    assert exc.winerror == 12345
    assert exc.code_name is None
    assert exc.errno is None
    assert exc.strerror == "Windows error 12345."
    assert str(exc) == (
        "WTS call failed: WTSLogoffSession on the local server, session 4: Windows error 12345. [WinError 12345]"
    )


def test_str_is_one_line_naming_everything() -> None:
    exc = error_from_winerror(7022, "WTSQuerySessionInformationW", "RDS01", 77)
    assert str(exc) == (
        "no such session: WTSQuerySessionInformationW on RDS01, session 77: "
        "The specified session cannot be found. [WinError 7022]"
    )
    assert "\n" not in str(exc)


def test_str_without_session_and_on_local_server() -> None:
    # 1722 adds what usually causes it on a live host (issue 12, item 24), still on one line.
    assert str(error_from_winerror(1722, "WTSEnumerateSessionsExW", "DOWN01")) == (
        "server unavailable: WTSEnumerateSessionsExW on DOWN01: The RPC server is unavailable. [WinError 1722] "
        "(usually: the server is off or unreachable, a firewall blocks TCP 445, or remote RPC is disallowed: "
        "AllowRemoteRPC = 0 under HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server)"
    )
    assert str(error_from_winerror(5, "WTSConnectSessionW", None, 4)) == (
        "access denied: WTSConnectSessionW on the local server, session 4: Access is denied. [WinError 5]"
    )


def test_str_names_session_zero() -> None:
    # Session 0 is a real session id, not "no session".
    assert ", session 0:" in str(error_from_winerror(7045, "WTSLogoffSession", "RDS01", 0))


def test_detail_replaces_the_windows_text() -> None:
    exc = NoSuchSessionError(7022, "WTSEnumerateSessionsExW", "RDS01", None, "no session named 'X'.")
    assert exc.strerror == "no session named 'X'."
    assert exc.detail == "no session named 'X'."
    assert str(exc) == "no such session: WTSEnumerateSessionsExW on RDS01: no session named 'X'. [WinError 7022]"


def _same(a: WTSError, b: WTSError) -> None:
    assert type(a) is type(b)
    for attr in ("winerror", "function", "server", "session_id", "detail", "errno", "strerror", "code_name"):
        assert getattr(a, attr) == getattr(b, attr), attr
    assert str(a) == str(b)


@pytest.mark.parametrize("cls", WTS_CLASSES)
@pytest.mark.parametrize("proto", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_class_pickles(cls: type[WTSError], proto: int) -> None:
    for exc in (
        cls(7022, "WTSQuerySessionInformationW", "RDS01", 77),
        cls(5, "WTSConnectSessionW", None, 0),
        cls(1722, "WTSEnumerateSessionsExW", "DOWN01", None, "custom detail"),
    ):
        _same(pickle.loads(pickle.dumps(exc, proto)), exc)


def test_raised_errors_pickle(farm: object) -> None:
    caught: list[WTSError] = []
    with wts.Server("RDS01", provider="sim") as s:
        for call in (
            lambda: s.session_info(77),
            lambda: s.logoff(4),
            lambda: s.disconnect(1),
            lambda: s.session_by_name("nope"),
        ):
            with pytest.raises(WTSError) as info:
                call()
            caught.append(info.value)
    with wts.Server("DOWN01", provider="sim") as s, pytest.raises(WTSError) as info:
        s.sessions()
    caught.append(info.value)
    assert [type(e) for e in caught] == [
        NoSuchSessionError,
        AccessDeniedError,
        NotSupportedError,
        NoSuchSessionError,
        ServerUnavailableError,
    ]
    for exc in caught:
        _same(pickle.loads(pickle.dumps(exc)), exc)


def test_provider_error_pickles() -> None:
    exc = ProviderError("no WTS provider")
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is ProviderError and str(copy) == "no WTS provider"


def test_farm_file_error_pickles(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  nope\n}\n", encoding="utf-8")
    with pytest.raises(wts.sim.FarmFileError) as info:
        wts.sim.load(bad)
    exc = info.value
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is wts.sim.FarmFileError
    assert (copy.source, copy.reason, copy.path, copy.line, copy.column) == (
        exc.source,
        exc.reason,
        exc.path,
        exc.line,
        exc.column,
    )
    assert str(copy) == str(exc)
    assert exc.source == str(bad) and exc.line == 2


def test_failure_without_an_error_code_says_so() -> None:
    # Wine's wtsapi32 stubs return FALSE and leave the last error at 0: still a failure, said plainly.
    exc = error_from_winerror(0, "WTSEnumerateSessionsExW", "RDS01")
    assert type(exc) is WTSError
    assert "reported no error code" in str(exc) and "[WinError 0]" in str(exc)
