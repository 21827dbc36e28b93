"""The win32 provider against Wine's own wtsapi32, which is mostly stubs (Wine 8).

These run only in a Windows Python under Wine with Wine's wtsapi32 loaded: the second run of the Wine
check (docs/building.md).  They pin what each call really returns there, found by probing Wine 8.0,
so a change in Wine or in our Windows code path shows up; and they prove that path copes with a
wtsapi32 that answers almost nothing: no crash, every failure a WTSError naming the call and carrying
the code Wine set (or 0, said plainly, when it set none), and no leaked heap block.

What Wine 8.0's wtsapi32 does:

* WTSOpenServerW / WTSOpenServerExW fail with ERROR_CALL_NOT_IMPLEMENTED (120): only the local server.
* WTSEnumerateSessionsW succeeds with no sessions; WTSEnumerateSessionsExW fails without an error code.
* WTSQuerySessionInformationW answers WTSUserName (GetUserNameW), WTSDomainName (GetComputerNameW)
  and WTSClientProtocolType (0, the console) for any session id; every other class fails without an
  error code.
* WTSDisconnectSession and WTSConnectSessionW claim success and do nothing; WTSLogoffSession fails
  with 120; WTSSendMessageW fails without an error code.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Iterator
from ctypes import wintypes
from typing import Any

import pytest
from conftest import wine_version  # tests/ is on sys.path (pytest's rootdir-relative conftest import)

import wts
from wts import InfoClass, NotSupportedError, Protocol, WTSError, _wts

if wine_version() is None:
    pytest.skip("needs a Windows Python under Wine (the Wine check: make wine)", allow_module_level=True)
if _wts.sim_backend() == "wtsapi32.dll":
    pytest.skip("wtsapi32.dll is our simulator here, not Wine's stubs", allow_module_level=True)

ERROR_CALL_NOT_IMPLEMENTED = 120
ANSWERED = {InfoClass.USER_NAME, InfoClass.DOMAIN_NAME, InfoClass.CLIENT_PROTOCOL_TYPE}

kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)


def set_stale_last_error(code: int = 1723) -> None:
    """Leave an unrelated error in the thread, as some earlier failed call would."""
    kernel32.SetLastError(code)


def raises(call: Callable[[], Any]) -> WTSError:
    set_stale_last_error()
    with pytest.raises(WTSError) as info:
        call()
    return info.value


@pytest.fixture
def local() -> Iterator[wts.Server]:
    with wts.Server(None, provider="win32") as server:
        yield server


def test_this_is_wine_8() -> None:
    # What this module pins was observed on Wine 8.0 (Debian 12); another Wine needs a fresh look.
    assert (wine_version() or "").startswith("8."), f"these tests pin Wine 8's wtsapi32; this is Wine {wine_version()}"


@pytest.mark.parametrize("name", ["RDS01", "localhost"])
def test_opening_a_named_server_is_not_implemented(name: str) -> None:
    error = raises(lambda: wts.Server(name, provider="win32"))
    assert type(error) is NotSupportedError
    assert (error.winerror, error.function, error.server) == (ERROR_CALL_NOT_IMPLEMENTED, "WTSOpenServerW", name)


def test_opening_with_ex_is_not_implemented() -> None:
    error = raises(lambda: _wts.ServerHandle(_wts.get_provider("win32"), "RDS01", True))
    assert (error.winerror, error.function) == (ERROR_CALL_NOT_IMPLEMENTED, "WTSOpenServerExW")


def test_listing_fails_without_an_error_code(local: wts.Server) -> None:
    error = raises(local.sessions)
    # Not the stale 1723 left in the thread: the win32 provider clears the last error before each call.
    assert type(error) is WTSError
    assert (error.winerror, error.function, error.server, error.session_id) == (
        0,
        "WTSEnumerateSessionsExW",
        None,
        None,
    )
    assert "reported no error code" in str(error)


def test_session_by_name_fails_the_same_way(local: wts.Server) -> None:
    error = raises(lambda: local.session_by_name("Console"))
    assert (error.winerror, error.function) == (0, "WTSEnumerateSessionsExW")


def test_level0_listing_claims_no_sessions() -> None:
    handle = _wts.ServerHandle(_wts.get_provider("win32"))
    assert handle.enumerate_sessions() == []


def _windows_name(function: Any) -> str:
    """GetUserNameW / GetComputerNameW: the independent source Wine answers from."""
    size = wintypes.DWORD(256)
    buffer = ctypes.create_unicode_buffer(size.value)
    assert function(buffer, ctypes.byref(size)), ctypes.get_last_error()
    return buffer.value


@pytest.mark.parametrize("session_id", [0, 1, 7, 65536, wts.CURRENT_SESSION])
def test_user_domain_and_protocol_answer_for_this_process(local: wts.Server, session_id: int) -> None:
    # Whatever session is asked about, Wine answers for the calling process.
    assert local.query(session_id, InfoClass.USER_NAME) == _windows_name(advapi32.GetUserNameW)
    assert local.query(session_id, InfoClass.DOMAIN_NAME) == _windows_name(kernel32.GetComputerNameW)
    assert local.query(session_id, InfoClass.CLIENT_PROTOCOL_TYPE) is Protocol.CONSOLE


@pytest.mark.parametrize("info_class", [c for c in InfoClass if c not in ANSWERED], ids=lambda c: c.name)
def test_every_other_query_fails_without_an_error_code(local: wts.Server, info_class: InfoClass) -> None:
    error = raises(lambda: local.query(1, info_class))
    assert (error.winerror, error.function, error.session_id) == (0, "WTSQuerySessionInformationW", 1)


def test_session_info_fails_without_an_error_code(local: wts.Server) -> None:
    error = raises(lambda: local.session_info(1))
    assert (error.winerror, error.function, error.session_id) == (0, "WTSQuerySessionInformationW", 1)


@pytest.mark.parametrize("session_id", [1, 4294967294])
def test_disconnect_claims_success(local: wts.Server, session_id: int) -> None:
    assert local.disconnect(session_id) is None
    assert local.disconnect(session_id, wait=False) is None


def test_connect_claims_success() -> None:
    assert wts.connect(1, provider="win32") is None
    assert wts.connect(1, target=2, password="x", provider="win32") is None


def test_logoff_is_not_implemented(local: wts.Server) -> None:
    error = raises(lambda: local.logoff(1))
    assert type(error) is NotSupportedError
    assert (error.winerror, error.function, error.session_id) == (ERROR_CALL_NOT_IMPLEMENTED, "WTSLogoffSession", 1)


def test_send_message_fails_without_an_error_code(local: wts.Server) -> None:
    error = raises(lambda: local.send_message(1, "title", "text", wait=True))
    assert (error.winerror, error.function, error.session_id) == (0, "WTSSendMessageW", 1)


def test_threads_each_see_their_own_outcome() -> None:
    """The GIL is released around every call: threads overlap, and each reads its own last error."""
    outcomes: list[tuple[str, int]] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        with wts.Server(None, provider="win32") as server:
            for _ in range(50):
                try:
                    if index % 2:
                        server.logoff(1)
                    else:
                        server.sessions()
                except WTSError as error:
                    with lock:
                        outcomes.append((error.function, error.winerror))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(outcomes)) == [("WTSEnumerateSessionsExW", 0), ("WTSLogoffSession", ERROR_CALL_NOT_IMPLEMENTED)]
    assert len(outcomes) == 8 * 50


# --- nothing leaks ------------------------------------------------------------------------------------


class PROCESS_HEAP_ENTRY(ctypes.Structure):
    _fields_ = [
        ("lpData", ctypes.c_void_p),
        ("cbData", wintypes.DWORD),
        ("cbOverhead", ctypes.c_ubyte),
        ("iRegionIndex", ctypes.c_ubyte),
        ("wFlags", wintypes.WORD),
        ("Block", ctypes.c_byte * 24),  # the Block/Region union, unused here
    ]


PROCESS_HEAP_ENTRY_BUSY = 0x0004
kernel32.GetProcessHeap.restype = wintypes.HANDLE
kernel32.HeapLock.argtypes = kernel32.HeapUnlock.argtypes = [wintypes.HANDLE]
kernel32.HeapWalk.argtypes = [wintypes.HANDLE, ctypes.POINTER(PROCESS_HEAP_ENTRY)]


def busy_heap_blocks() -> int:
    """Allocated blocks in the process heap, where Wine's wtsapi32 allocates what it returns."""
    heap = kernel32.GetProcessHeap()
    entry = PROCESS_HEAP_ENTRY()
    count = 0
    assert kernel32.HeapLock(heap)
    try:
        while kernel32.HeapWalk(heap, ctypes.byref(entry)):
            count += bool(entry.wFlags & PROCESS_HEAP_ENTRY_BUSY)
    finally:
        kernel32.HeapUnlock(heap)
    return count


ROUNDS = 400


def test_the_heap_count_sees_a_leak() -> None:
    """The measure below can fail: buffers taken from wtsapi32 and not freed show one block each."""
    query = ctypes.WinDLL("wtsapi32").WTSQuerySessionInformationW
    query.argtypes = [
        wintypes.HANDLE,
        wintypes.DWORD,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.POINTER(wintypes.DWORD),
    ]
    free = ctypes.WinDLL("wtsapi32").WTSFreeMemory
    free.argtypes = [ctypes.c_void_p]
    kept = []
    before = busy_heap_blocks()
    for _ in range(ROUNDS):
        buffer, size = ctypes.c_void_p(), wintypes.DWORD()
        assert query(None, 1, int(InfoClass.USER_NAME), ctypes.byref(buffer), ctypes.byref(size))
        kept.append(buffer.value)
    leaked = busy_heap_blocks() - before
    for address in kept:
        free(address)
    assert leaked >= ROUNDS


def test_nothing_leaks(local: wts.Server) -> None:
    def every_call() -> None:
        local.query(1, InfoClass.USER_NAME)  # a buffer handed out and freed
        local.query(1, InfoClass.CLIENT_PROTOCOL_TYPE)
        _wts.ServerHandle(_wts.get_provider("win32")).enumerate_sessions()
        local.disconnect(1)
        for failing in (local.sessions, lambda: local.session_info(1), lambda: local.logoff(1)):
            try:
                failing()
            except WTSError:
                pass
        try:
            wts.Server("RDS01", provider="win32")
        except NotSupportedError:
            pass

    every_call()  # first-use allocations (caches, interned strings) happen here, not in the count
    before = busy_heap_blocks()
    for _ in range(ROUNDS):
        every_call()
    # A leak of anything per round would add ROUNDS blocks; allow Python's own churn.
    assert busy_heap_blocks() - before < ROUNDS // 4
