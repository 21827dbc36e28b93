"""Our simulator built as wtsapi32.dll, loaded in place of Wine's: the Wine check's third run.

Here the process's wtsapi32.dll is src/wtsapi/wts_sim.c built with -DWTSSIM_AS_WTSAPI, so wts._wts
drives the farm in that DLL (docs/building.md) and provider "sim" means the win32 provider: every call
of the whole suite takes the real Windows path, wts_win32.c's table of wtsapi32 imports.  These tests
prove that is what happens, rather than a quiet fall-back to the sim compiled into wts._wts.
"""

from __future__ import annotations

import ctypes
import threading
from ctypes import wintypes

import pytest
from conftest import wine_version  # tests/ is on sys.path (pytest's rootdir-relative conftest import)

import wts
from wts import ConnectState, ServerUnavailableError, WTSError, _wts

if wine_version() is None or _wts.sim_backend() != "wtsapi32.dll":
    pytest.skip("needs Wine with our simulator as wtsapi32.dll (the Wine check: make wine)", allow_module_level=True)

kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
kernel32.GetModuleHandleW.restype = wintypes.HMODULE
kernel32.GetModuleHandleW.argtypes = [wintypes.LPCWSTR]
kernel32.GetModuleFileNameW.argtypes = [wintypes.HMODULE, wintypes.LPWSTR, wintypes.DWORD]


def test_the_loaded_wtsapi32_is_our_simulator() -> None:
    module = kernel32.GetModuleHandleW("wtsapi32.dll")
    assert module, "wtsapi32.dll is not loaded"
    path = ctypes.create_unicode_buffer(1024)
    assert kernel32.GetModuleFileNameW(module, path, 1024)
    assert path.value.lower().endswith("\\system32\\wtsapi32.dll")
    dll = ctypes.WinDLL(path.value)
    assert hasattr(dll, "wtssim_load") and hasattr(dll, "WTSEnumerateSessionsExW")
    assert _wts.get_provider("sim").name == "sim"


def test_sim_and_win32_reach_one_farm(sim: object) -> None:
    wts.sim.reset_counters()
    with wts.Server("RDS01", provider="win32") as real, wts.Server("RDS01", provider="sim") as simulated:
        assert real.sessions() == simulated.sessions()
        assert wts.sim.rpc_counts()["RDS01"] == 2  # both calls counted by the DLL's farm
        simulated.disconnect(2)
        assert real.session_info(2).state is ConnectState.DISCONNECTED
    assert wts.sim.rpc_total() == 4


def test_the_farm_is_the_dlls(sim: object) -> None:
    """wts.sim's controls drive the DLL: the DLL's own count of live allocations moves with ours."""
    outstanding = ctypes.WinDLL("wtsapi32").wtssim_outstanding
    outstanding.restype = ctypes.c_int64
    assert outstanding() == wts.sim.outstanding() == 0
    with wts.Server("RDS02", provider="win32"):
        assert outstanding() == wts.sim.outstanding() == 1  # the open handle
    assert outstanding() == 0


def test_each_thread_reads_its_own_last_error(sim: object) -> None:
    """SetLastError in the DLL, GetLastError in wts._wts: one per-thread slot, the thread's TEB."""
    seen: dict[str, set[int]] = {"DOWN01": set(), "NOWHERE": set(), "RDS01": set()}
    lock = threading.Lock()

    def work(name: str) -> None:
        with wts.Server(name, provider="win32") as server:
            for _ in range(40):
                try:
                    server.session_info(77)
                except WTSError as error:
                    with lock:
                        seen[name].add(error.winerror)

    threads = [threading.Thread(target=work, args=(name,)) for name in seen for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # unreachable and unknown servers: RPC_S_SERVER_UNAVAILABLE; no session 77: ERROR_CTX_WINSTATION_NOT_FOUND
    assert seen == {"DOWN01": {1722}, "NOWHERE": {1722}, "RDS01": {7022}}


def test_an_unreachable_server_raises_the_mapped_error(sim: object) -> None:
    with wts.Server("DOWN01", provider="win32") as server, pytest.raises(ServerUnavailableError) as info:
        server.sessions()
    assert (info.value.winerror, info.value.function) == (1722, "WTSEnumerateSessionsExW")


def test_processes_through_the_dll_are_named_by_its_farm() -> None:
    """Wine's advapi32 knows no sim SID: the sim as wtsapi32.dll names them (wtssim_LookupAccountSidW)."""
    wts.sim.load(
        {
            "servers": [
                {
                    "name": "RDS01",
                    "sessions": [
                        {
                            "id": 2,
                            "state": "Active",
                            "user": "alice",
                            "domain": "CONTOSO",
                            "processes": [{"name": "EXCEL.EXE", "pid": 4242}],
                        }
                    ],
                }
            ]
        }
    )
    with wts.Server("RDS01", provider="sim") as server:
        [excel] = server.processes()
        assert (excel.name, excel.user, excel.domain) == ("EXCEL.EXE", "alice", "CONTOSO")
        server.terminate_process(4242)
        assert server.processes() == []
