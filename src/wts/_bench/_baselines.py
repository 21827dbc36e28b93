"""The APIs the pywin32 pattern runs over (ctypes on the simulator's library, real pywin32, and wts.sim
for loading and counting their farm), and finding them: the library from --sim-lib, the process's
wtsapi32.dll, or built from the source checkout with tools/simlib.py's recipe."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from .._types import InfoClass
from ._model import BenchError

if TYPE_CHECKING:
    from collections.abc import Callable

_WTS_SESSION_INFO = int(InfoClass.SESSION_INFO)


class _Unsupported(Exception):
    pass


class _CtypesApi:
    """wtsapi32 through ctypes, one foreign call per RPC (plus the WTSFreeMemory after it), as a ctypes
    port of a pywin32 script makes them.  ``lib`` is the simulator built with -DWTSSIM_AS_WTSAPI."""

    has_session_info = True

    def __init__(self, lib: Any, where: str, shared: bool) -> None:
        import ctypes
        from ctypes import POINTER, c_int, c_int64, c_size_t, c_uint32, c_void_p

        self.where = where
        self.shared = shared  # the same farm as wts' own (the DLL wts._wts calls): loads affect both
        self.lib = lib
        self._ctypes = ctypes

        class SessionInfo(ctypes.Structure):  # WTS_SESSION_INFOW, x64: 24 bytes
            _fields_ = [("SessionId", c_uint32), ("pWinStationName", c_void_p), ("State", c_int)]

        class WtsInfo(ctypes.Structure):  # WTSINFOW, x64: 216 bytes; the times are what we read
            _fields_ = [
                ("State", c_int),
                ("SessionId", c_uint32),
                ("Counters", c_uint32 * 6),
                ("WinStationName", ctypes.c_uint16 * 32),
                ("Domain", ctypes.c_uint16 * 17),
                ("UserName", ctypes.c_uint16 * 21),
                ("ConnectTime", c_int64),
                ("DisconnectTime", c_int64),
                ("LastInputTime", c_int64),
                ("LogonTime", c_int64),
                ("CurrentTime", c_int64),
            ]

        self._SessionInfo = SessionInfo
        self._WtsInfo = WtsInfo
        protos: dict[str, tuple[Any, list[Any]]] = {
            "WTSOpenServerW": (c_void_p, [ctypes.c_char_p]),
            "WTSCloseServer": (None, [c_void_p]),
            "WTSEnumerateSessionsW": (
                c_int,
                [c_void_p, c_uint32, c_uint32, POINTER(POINTER(SessionInfo)), POINTER(c_uint32)],
            ),
            "WTSQuerySessionInformationW": (c_int, [c_void_p, c_uint32, c_int, POINTER(c_void_p), POINTER(c_uint32)]),
            "WTSDisconnectSession": (c_int, [c_void_p, c_uint32, c_int]),
            "WTSLogoffSession": (c_int, [c_void_p, c_uint32, c_int]),
            "WTSFreeMemory": (None, [c_void_p]),
            "wtssim_load": (c_int, [ctypes.c_char_p, c_size_t, ctypes.c_char_p, c_size_t]),
            "wtssim_rpc_total": (c_int64, []),
            "wtssim_reset_counters": (None, []),
        }
        for name, (restype, argtypes) in protos.items():
            fn = getattr(lib, name)  # AttributeError: not the simulator's library
            fn.restype = restype
            fn.argtypes = argtypes
        if sys.platform == "win32":
            self._last_error: Callable[[], int] = ctypes.get_last_error
        else:
            get = lib.GetLastError
            get.restype = c_uint32
            get.argtypes = []
            self._last_error = get
        self._POINTER_SI = POINTER(SessionInfo)
        self._c_uint32 = c_uint32
        self._c_void_p = c_void_p
        if ctypes.sizeof(ctypes.c_wchar) == 2:
            self._wstr: Callable[[int], str] = ctypes.wstring_at
        else:
            self._wstr = self._wstr_utf16

    def _wstr_utf16(self, address: int) -> str:
        # ctypes' c_wchar is 32 bits off Windows: decode UTF-16 by hand, never reading past the page
        # the string is known to reach (a string may end just before unmapped memory).
        string_at = self._ctypes.string_at
        parts = []
        pos = address
        while True:
            n = min(128, 4096 - pos % 4096) & ~1 or 2
            data = string_at(pos, n)
            i = data.find(b"\0\0")
            while i >= 0 and i % 2:
                i = data.find(b"\0\0", i + 1)
            if i >= 0:
                parts.append(data[:i])
                return b"".join(parts).decode("utf-16-le", "replace")
            parts.append(data)
            pos += n

    def _fail(self, fn: str) -> OSError:
        code = int(self._last_error())
        return OSError(code, f"{fn} failed with {code}")

    # -- farm control (not timed)
    def load(self, text: str) -> None:
        data = text.encode("utf-8")
        err = self._ctypes.create_string_buffer(512)
        if self.lib.wtssim_load(data, len(data), err, len(err)) != 0:
            raise BenchError(f"the simulator library rejected the farm: {err.value.decode('utf-8', 'replace')}")

    def reset_counters(self) -> None:
        self.lib.wtssim_reset_counters()

    def rpc_total(self) -> int:
        return int(self.lib.wtssim_rpc_total())

    # -- the calls of the pattern
    def open(self, name: str) -> Any:
        h = self.lib.WTSOpenServerW((name + "\0").encode("utf-16-le"))
        if not h:
            raise self._fail("WTSOpenServerW")
        return h

    def close(self, h: Any) -> None:
        self.lib.WTSCloseServer(h)

    def enumerate(self, h: Any) -> list[dict[str, Any]]:
        p = self._POINTER_SI()
        n = self._c_uint32()
        ctypes = self._ctypes
        if not self.lib.WTSEnumerateSessionsW(h, 0, 1, ctypes.byref(p), ctypes.byref(n)):
            raise self._fail("WTSEnumerateSessionsW")
        try:
            wstr = self._wstr
            # What pywin32 returns: one dict per session.
            return [
                {
                    "SessionId": s.SessionId,
                    "WinStationName": wstr(s.pWinStationName) if s.pWinStationName else "",
                    "State": s.State,
                }
                for s in p[: n.value]
            ]
        finally:
            self.lib.WTSFreeMemory(p)

    def query_str(self, h: Any, sid: int, info_class: int) -> str:
        ctypes = self._ctypes
        buf = self._c_void_p()
        size = self._c_uint32()
        if not self.lib.WTSQuerySessionInformationW(h, sid, info_class, ctypes.byref(buf), ctypes.byref(size)):
            raise self._fail("WTSQuerySessionInformationW")
        try:
            # The byte count includes the terminator.
            n = size.value - 2
            return ctypes.string_at(buf.value, n).decode("utf-16-le", "replace") if n > 0 and buf.value else ""
        finally:
            self.lib.WTSFreeMemory(buf)

    def session_info(self, h: Any, sid: int) -> dict[str, int]:
        ctypes = self._ctypes
        buf = self._c_void_p()
        size = self._c_uint32()
        if not self.lib.WTSQuerySessionInformationW(h, sid, _WTS_SESSION_INFO, ctypes.byref(buf), ctypes.byref(size)):
            raise self._fail("WTSQuerySessionInformationW")
        try:
            info = self._WtsInfo.from_address(buf.value or 0)
            return {
                "LogonTime": info.LogonTime,
                "ConnectTime": info.ConnectTime,
                "DisconnectTime": info.DisconnectTime,
                "LastInputTime": info.LastInputTime,
                "CurrentTime": info.CurrentTime,
            }
        finally:
            self.lib.WTSFreeMemory(buf)

    def disconnect(self, h: Any, sid: int) -> None:
        if not self.lib.WTSDisconnectSession(h, sid, 1):
            raise self._fail("WTSDisconnectSession")

    def logoff(self, h: Any, sid: int) -> None:
        if not self.lib.WTSLogoffSession(h, sid, 1):
            raise self._fail("WTSLogoffSession")


class _SimFarm:
    """The farm of wts.sim (inside wts._wts, or the wtsapi32.dll it drives under Wine): loaded and counted
    through wts."""

    def load(self, text: str) -> None:
        from .. import _wts

        _wts.sim_load(text)

    def reset_counters(self) -> None:
        from .. import sim

        sim.reset_counters()

    def rpc_total(self) -> int:
        from .. import sim

        return sim.rpc_total()


class _Pywin32Api(_SimFarm):
    """Real pywin32 (win32ts).  Its farm is the process's wtsapi32.dll, which is the simulator only when
    wts._wts.sim_backend() says so; then wts.sim loads and counts that same farm."""

    has_session_info = False  # win32ts.WTSQuerySessionInformation has no WTSSessionInfo: no times

    def __init__(self, win32ts: Any) -> None:
        self.ts = win32ts

    def open(self, name: str) -> Any:
        return self.ts.WTSOpenServer(name)

    def close(self, h: Any) -> None:
        # h.Close(), not win32ts.WTSCloseServer(h): the latter leaves the PyHANDLE owning the handle, which
        # closes it again when collected (a double close: use after free in the simulator).
        h.Close()

    def enumerate(self, h: Any) -> list[dict[str, Any]]:
        return list(self.ts.WTSEnumerateSessions(h))

    def query_str(self, h: Any, sid: int, info_class: int) -> str:
        return str(self.ts.WTSQuerySessionInformation(h, sid, info_class))

    def session_info(self, h: Any, sid: int) -> dict[str, int]:
        raise _Unsupported("pywin32's WTSQuerySessionInformation has no WTSSessionInfo class (no session times)")

    def disconnect(self, h: Any, sid: int) -> None:
        self.ts.WTSDisconnectSession(h, sid, True)

    def logoff(self, h: Any, sid: int) -> None:
        self.ts.WTSLogoffSession(h, sid, True)


# --------------------------------------------------------------------------------------------------
# Finding them


def _source_root() -> Any:
    """The source checkout wts runs from or beside (it has src/wtsapi/wts_sim.c and the recipe that
    builds it, tools/simlib.py), or None: an installed wheel has neither."""
    from pathlib import Path

    here = Path(__file__).resolve()  # src/wts/_bench/_baselines.py in a checkout
    for root in (Path.cwd(), here.parents[3]):
        if (root / "src" / "wtsapi" / "wts_sim.c").is_file() and (root / "tools" / "simlib.py").is_file():
            return root
    return None


def _simlib(root: Any) -> Any:
    """tools/simlib.py of the checkout at ``root``: the one recipe for the simulator as a library."""
    import importlib.util

    path = root / "tools" / "simlib.py"
    name = f"wts._bench.simlib@{path}"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise BenchError(f"cannot load the simulator library's recipe {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


def _build_sim_lib(root: Any) -> Any:
    """The simulator library of the checkout at ``root``, in build/bench: built with tools/simlib.py when
    missing or older than its sources (atomically, so a concurrent run never loads half of one)."""
    simlib = _simlib(root)
    out = root / "build" / "bench" / simlib.library_name()
    if out.is_file() and out.stat().st_mtime >= max(p.stat().st_mtime for p in simlib.inputs(root)):
        return out
    cc = simlib.find_compiler()
    if cc is None:
        name = simlib.compiler()[0]
        raise BenchError(f"no C compiler ({name!r}) to build the simulator library; set CC, or pass --sim-lib")
    try:
        return simlib.build(out.parent, root=root, cc=cc)
    except simlib.BuildError as e:
        first = e.output.splitlines()[:1]
        raise BenchError(f"building the simulator library failed: {' '.join(first) or e.returncode or e}") from None


def find_sim_lib(explicit: str | None) -> tuple[_CtypesApi | None, str]:
    """The simulator as a shared library exporting the wtsapi32 names, and where it came from; or None
    and the reason there is none.  Order: --sim-lib / $WTS_SIM_LIB; on Windows the process's
    wtsapi32.dll when it is the simulator; from a source checkout, built into build/bench."""
    import ctypes

    from .. import _wts

    path = explicit or os.environ.get("WTS_SIM_LIB") or None
    how = "--sim-lib" if explicit else "WTS_SIM_LIB"
    if path is None:
        if sys.platform == "win32":
            if _wts.sim_backend() == "wtsapi32.dll":
                lib = ctypes.WinDLL("wtsapi32.dll", use_last_error=True)  # type: ignore[attr-defined]
                return _CtypesApi(lib, "wtsapi32.dll (the simulator, the same farm wts uses)", shared=True), ""
            return None, (
                "this wtsapi32.dll is not the simulator; the ctypes baselines need it (--sim-lib or WTS_SIM_LIB)"
            )
        root = _source_root()
        if root is None:
            return None, (
                "no simulator library: not in a source checkout (src/wtsapi/wts_sim.c);"
                " pass --sim-lib or set WTS_SIM_LIB"
            )
        try:
            path = str(_build_sim_lib(root))
        except (BenchError, OSError) as e:
            return None, str(e)
        how = "built from the source checkout"
    try:
        if sys.platform == "win32":
            lib = ctypes.WinDLL(path, use_last_error=True)  # type: ignore[attr-defined]
        else:
            lib = ctypes.CDLL(path)
        return _CtypesApi(lib, f"{path} ({how})", shared=False), ""
    except (OSError, AttributeError) as e:
        return None, f"cannot use {path} ({how}) as the simulator library: {e}"


def find_pywin32() -> tuple[_Pywin32Api | None, str]:
    from .. import _wts

    if sys.platform != "win32":
        return None, "pywin32 runs on Windows only (make bench-wine runs it under Wine)"
    if _wts.sim_backend() != "wtsapi32.dll":
        return None, "pywin32 calls this process's wtsapi32.dll, which is not the simulator (make bench-wine)"
    import importlib

    try:
        return _Pywin32Api(importlib.import_module("win32ts")), ""
    except ImportError as e:
        return None, f"pywin32 is not installed ({e})"
