"""``wts bench``: wts side by side with what users would otherwise use, on the simulated farm, against the bound.

Each scenario (an operation on a generated farm at a round trip and a concurrency) runs every
implementation on the same farm, in the same run, round by round in turn:

* ``wts``: ``wts.Farm`` (the bulk engine), at the scenario's concurrency;
* ``(a)``: the pywin32 pattern made with ctypes: ``WTSEnumerateSessionsW``, then
  ``WTSQuerySessionInformationW`` once per session per field, one Python call per RPC, sequential;
* ``(b)``: the same pattern on a ``ThreadPoolExecutor`` with as many threads as our concurrency;
* ``pywin32``: real pywin32 (``win32ts``), sequential and threaded, where it can reach the simulator
  (Windows, or Wine, with the simulator as the process's ``wtsapi32.dll``: ``make bench-wine``).

Every row has the wall time (median of the rounds), the RPCs the simulator counted, the bound
(RPCs x round trip / concurrency) and the ratio to it, wts' speed-up over that row, the peak Python
heap during the operation and the result's retained size per session.  docs/benchmarks.md defines
each figure and says what limits it.  ``main()`` is the ``wts bench`` command.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["BenchError", "Scenario", "main", "pattern_rpcs", "run"]

NOW = "2026-11-21T12:00:00Z"  # a fixed farm clock: every round and every implementation sees the same ages
OPS = ("who", "details", "disconnect", "logoff")
OP_TITLES = {
    "who": "who is where",
    "details": "list with details",
    "disconnect": "disconnect all",
    "logoff": "log off disconnected > T",
}
IMPLS = ("wts", "a", "b", "pywin32", "pywin32-threads")
IMPL_LABELS = {
    "wts": "wts.Farm",
    "a": "(a) ctypes, sequential",
    "b": "(b) ctypes, thread pool",
    "pywin32": "(c) pywin32, sequential",
    "pywin32-threads": "(c) pywin32, thread pool",
}
BASELINE_CHOICES = ("a", "b", "pywin32")

# WTS_INFO_CLASS, WTS_CONNECTSTATE_CLASS (SDK values)
_WTS_USER_NAME, _WTS_DOMAIN_NAME, _WTS_SESSION_INFO = 5, 7, 24
_WTS_ACTIVE, _WTS_DISCONNECTED, _WTS_LISTEN = 0, 4, 6
_LISTENER_FIRST_ID = 65536
_SYSTEM_SESSIONS = 3  # the generator's session 0, console and RDP listener on each server


class BenchError(Exception):
    """A problem worth one line to the user (bad argument, unusable file): never a traceback."""


class Scenario(NamedTuple):
    op: str
    servers: int
    sessions: int  # user sessions per server (the generator adds 3 system sessions to each)
    rtt_ms: float
    concurrency: int

    @property
    def size(self) -> str:
        return f"{self.servers}x{self.sessions}"

    def title(self) -> str:
        return f"{self.op} {self.size} @{_fmt_num(self.rtt_ms)} ms c={self.concurrency}"


# The default run: every target row of the benchmark issue, plus a small farm (finishes in 1-2 minutes).
DEFAULT_SUITE = (
    Scenario("who", 10, 10, 0.0, 64),
    Scenario("who", 200, 25, 2.0, 64),
    Scenario("details", 200, 25, 2.0, 64),
    Scenario("disconnect", 200, 25, 2.0, 64),
    Scenario("logoff", 200, 25, 2.0, 64),
    Scenario("who", 1000, 40, 0.0, 64),
)

# --------------------------------------------------------------------------------------------------
# Formatting


def _fmt_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms" if s < 0.1 else f"{s * 1e3:.0f} ms"
    return f"{s * 1e6:.0f} us"


def _fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def _fmt_rate(n: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}" if n < 10 * size else f"{n / size:.0f} {unit}"
    return f"{n:.0f} "


# --------------------------------------------------------------------------------------------------
# What the pywin32 pattern sends: the estimate of a baseline's cost, from the farm as compiled


def _parse_farm(text: str) -> tuple[int, list[tuple[int, str, int, int]]]:
    """(farm clock as FILETIME, [(id, station, state, disconnect FILETIME)] for every session)."""
    now = 0
    rows: list[tuple[int, str, int, int]] = []
    for line in text.split("\n"):
        if line.startswith("session\t"):
            f = line.split("\t")
            rows.append((int(f[1]), f[2], int(f[3]), int(f[11])))
        elif line.startswith("farm\t"):
            now = int(line.split("\t")[2])
    return now, rows


def _disconnect_wanted(sid: int, station: str, state: int) -> bool:
    # What wts.Farm.disconnect() selects by default, so both sides do the same work: never session 0,
    # the console or a listener, and not a session that is already disconnected.
    return (
        0 < sid < _LISTENER_FIRST_ID and station.lower() != "console" and state not in (_WTS_DISCONNECTED, _WTS_LISTEN)
    )


def _logoff_candidate(sid: int, state: int) -> bool:
    return 0 < sid < _LISTENER_FIRST_ID and state == _WTS_DISCONNECTED


def pattern_rpcs(op: str, text: str, threshold_s: float) -> int:
    """The RPCs the pywin32 pattern sends for ``op`` on the compiled farm ``text`` (docs/benchmarks.md)."""
    now, rows = _parse_farm(text)
    servers = sum(1 for line in text.split("\n") if line.startswith("server\t"))
    if op == "who":
        return servers + 2 * len(rows)  # WTSUserName + WTSDomainName per session
    if op == "details":
        return servers + 3 * len(rows)  # ... + WTSSessionInfo (class 24) for the times
    if op == "disconnect":
        return servers + sum(_disconnect_wanted(sid, st, state) for sid, st, state, _ in rows)
    if op == "logoff":
        cands = [disc for sid, _, state, disc in rows if _logoff_candidate(sid, state)]
        over = sum(1 for disc in cands if disc and now - disc > threshold_s * 1e7)
        return servers + len(cands) + over
    raise ValueError(op)


# --------------------------------------------------------------------------------------------------
# The pywin32 pattern, over two APIs: ctypes on the simulator's library, and real pywin32


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
        from . import _wts

        _wts.sim_load(text)

    def reset_counters(self) -> None:
        from . import sim

        sim.reset_counters()

    def rpc_total(self) -> int:
        from . import sim

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


class _Pattern:
    """The pywin32 pattern for one operation: list each server, then per session what the operation
    needs, one call per RPC.  The per-session step runs inline (sequential) or as one thread-pool task
    per session, queued as soon as its server's listing returns (threaded)."""

    def __init__(self, api: Any, op: str, threshold_s: float) -> None:
        self.api = api
        self.op = op
        self.threshold = int(threshold_s * 10_000_000)  # FILETIME units

    def wanted(self, row: dict[str, Any]) -> bool:
        sid, state = row["SessionId"], row["State"]
        if self.op == "disconnect":
            return _disconnect_wanted(sid, row["WinStationName"], state)
        if self.op == "logoff":
            return _logoff_candidate(sid, state)
        return True

    def session(self, h: Any, server: str, row: dict[str, Any]) -> Any:
        api, sid = self.api, row["SessionId"]
        if self.op in ("who", "details"):
            rec = dict(row, Server=server)
            rec["UserName"] = api.query_str(h, sid, _WTS_USER_NAME)
            rec["DomainName"] = api.query_str(h, sid, _WTS_DOMAIN_NAME)
            if self.op == "details":
                rec.update(api.session_info(h, sid))
            return rec
        if self.op == "disconnect":
            api.disconnect(h, sid)
            return (server, sid, "done")
        info = api.session_info(h, sid)  # logoff: the times say how long it has been disconnected
        if info["DisconnectTime"] and info["CurrentTime"] - info["DisconnectTime"] > self.threshold:
            api.logoff(h, sid)
            return (server, sid, "done")
        return None

    def sequential(self, servers: Sequence[str]) -> list[Any]:
        api = self.api
        out = []
        for name in servers:
            h = api.open(name)
            try:
                for row in api.enumerate(h):
                    if self.wanted(row):
                        r = self.session(h, name, row)
                        if r is not None:
                            out.append(r)
            finally:
                api.close(h)
        return out

    def threaded(self, servers: Sequence[str], threads: int) -> list[Any]:
        from concurrent.futures import ThreadPoolExecutor, as_completed

        api = self.api
        handles = [api.open(name) for name in servers]  # opening sends nothing
        try:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                listings = {pool.submit(api.enumerate, h): (name, h) for name, h in zip(servers, handles)}
                work: list[Any] = []
                for fut in as_completed(listings):
                    name, h = listings[fut]
                    work.extend(pool.submit(self.session, h, name, row) for row in fut.result() if self.wanted(row))
                results = [f.result() for f in work]
        finally:
            for h in handles:
                api.close(h)
        return [r for r in results if r is not None]


# --------------------------------------------------------------------------------------------------
# Finding the simulator as a shared library, for the ctypes baselines


def _source_root() -> Any:
    """The source checkout wts runs from or beside (it has src/wtsapi/wts_sim.c), or None."""
    from pathlib import Path

    here = Path(__file__).resolve()
    for root in (Path.cwd(), here.parents[2]):
        if (root / "src" / "wtsapi" / "wts_sim.c").is_file():
            return root
    return None


def _build_sim_lib(root: Any) -> Any:
    import shlex
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    src = root / "src" / "wtsapi" / "wts_sim.c"
    outdir = root / "build" / "bench"
    out = outdir / ("libwtsapi32_sim.dylib" if sys.platform == "darwin" else "libwtsapi32_sim.so")
    inputs = [src, *sorted((root / "src" / "wtsapi").glob("*.h"))]
    if out.is_file() and out.stat().st_mtime >= max(p.stat().st_mtime for p in inputs):
        return out
    cc = shlex.split(os.environ.get("CC", "").strip()) or ["cc"]
    if not shutil.which(cc[0]):
        raise BenchError(f"no C compiler ({cc[0]!r}) to build the simulator library; set CC, or pass --sim-lib")
    outdir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=outdir, suffix=out.suffix)
    os.close(fd)
    cmd = [*cc, "-O2", "-shared", "-fPIC", "-pthread", "-DWTSSIM_AS_WTSAPI", f"-I{root / 'src'}", "-o", tmp, str(src)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            first = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[:1]
            raise BenchError(f"building the simulator library failed: {' '.join(first) or proc.returncode}")
        os.replace(tmp, out)  # never leave a half-written library for a concurrent run to load
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return Path(out)


def find_sim_lib(explicit: str | None) -> tuple[_CtypesApi | None, str]:
    """The simulator as a shared library exporting the wtsapi32 names, and where it came from; or None
    and the reason there is none.  Order: --sim-lib / $WTS_SIM_LIB; on Windows the process's
    wtsapi32.dll when it is the simulator; from a source checkout, built into build/bench."""
    import ctypes

    from . import _wts

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
    from . import _wts

    if sys.platform != "win32":
        return None, "pywin32 runs on Windows only (make bench-wine runs it under Wine)"
    if _wts.sim_backend() != "wtsapi32.dll":
        return None, "pywin32 calls this process's wtsapi32.dll, which is not the simulator (make bench-wine)"
    import importlib

    try:
        return _Pywin32Api(importlib.import_module("win32ts")), ""
    except ImportError as e:
        return None, f"pywin32 is not installed ({e})"


# --------------------------------------------------------------------------------------------------
# Measuring


class Measure:
    """One implementation in one scenario: the timed rounds, the RPCs counted, the memory round."""

    def __init__(self, impl: str, threads: int) -> None:
        self.impl = impl
        self.threads = threads
        self.status = "ok"  # ok, skipped, n/a, error
        self.notes: list[str] = []
        self.walls: list[float] = []
        self.rpcs: int | None = None
        self.rpcs_varied = False
        self.items: int | None = None
        self.peak: int | None = None
        self.held: int | None = None
        self.spent = 0.0
        self.active = True

    @property
    def wall(self) -> float | None:
        if not self.walls:
            return None
        import statistics

        return float(statistics.median(self.walls))

    def stop(self, status: str, note: str) -> None:
        self.status, self.active = status, False
        self.notes.append(note)


class _Impl:
    def __init__(self, impl: str, threads: int, run: Callable[[], list[Any] | Any], api: Any, est: float | None):
        self.m = Measure(impl, threads)
        self.run = run
        self.api = api  # load / reset_counters / rpc_total on the farm this implementation reaches
        self.est = est  # seconds one round should take at least (RPCs x round trip / threads), or None


def _ours(op: str, servers: Sequence[str], concurrency: int, threshold_s: float) -> Any:
    from . import Farm

    farm = Farm(servers, concurrency=concurrency, provider="sim")
    if op == "who":
        return farm.sessions()
    if op == "details":
        return farm.sessions(details=True)
    if op == "disconnect":
        return farm.disconnect()
    return farm.logoff(disconnected_over=threshold_s)


def _count(impl: str, op: str, result: Any) -> int:
    """Sessions listed, or sessions acted on: what both sides must agree on."""
    if impl == "wts":
        if result.failures:
            raise BenchError(f"{len(result.failures)} failures, first: {result.failures[0]}")
        if op in ("who", "details"):
            return len(result.sessions)
        counts = result.counts()
        if counts["failed"]:
            raise BenchError(f"{counts['failed']} sessions failed")
        return int(counts["done"])
    return len(result)


def _run_round(item: _Impl, op: str, text: str, destructive: bool) -> None:
    import gc
    import time

    m = item.m
    if destructive:
        item.api.load(text)  # every round does the same work
    gc.collect()
    item.api.reset_counters()
    t0 = time.perf_counter()
    result = item.run()
    wall = time.perf_counter() - t0
    rpcs = item.api.rpc_total()
    m.items = _count(m.impl, op, result)
    del result
    if m.rpcs is not None and rpcs != m.rpcs:
        m.rpcs_varied = True
    m.rpcs = rpcs
    m.walls.append(wall)
    m.spent += wall


def _memory_round(item: _Impl, text: str, destructive: bool) -> None:
    """Peak Python heap during the operation and bytes the result holds, by tracemalloc, in a round of
    its own (tracing slows every allocation, so it is never a timed round)."""
    import gc
    import tracemalloc

    if destructive:
        item.api.load(text)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        result = item.run()
        peak = tracemalloc.get_traced_memory()[1]
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        del result
    finally:
        tracemalloc.stop()
    item.m.peak = peak - base
    item.m.held = held - base


def _scenario_farm(sc: Scenario, seed: int) -> Any:
    from ._farmfile import compile_farm

    return compile_farm(
        {
            "seed": seed,
            "now": NOW,
            "generate": [{"prefix": "RDS", "count": sc.servers, "sessions": sc.sessions, "latency_ms": sc.rtt_ms}],
        }
    )


class Options(NamedTuple):
    rounds: int
    baselines: tuple[str, ...]
    baseline_cap: float
    threshold_s: float
    seed: int
    sim_lib: str | None


def _measure_scenario(
    sc: Scenario,
    opts: Options,
    ctypes_api: _CtypesApi | None,
    ctypes_reason: str,
    pywin32: _Pywin32Api | None,
    pywin32_reason: str,
    seq_cache: dict[tuple[Any, ...], Measure],
    log: Callable[[str], None],
) -> list[dict[str, Any]]:
    farm = _scenario_farm(sc, opts.seed)
    text, servers = farm.text, list(farm.servers)
    destructive = sc.op in ("disconnect", "logoff")
    rtt = sc.rtt_ms / 1000
    pattern_n = pattern_rpcs(sc.op, text, opts.threshold_s)

    items: list[_Impl] = [
        _Impl("wts", sc.concurrency, lambda: _ours(sc.op, servers, sc.concurrency, opts.threshold_s), _SimFarm(), None)
    ]
    done: list[Measure] = []  # rows settled before the rounds (n/a, skipped, cached)

    def add(impl: str, threads: int, api: Any, reason: str, make: Callable[[_Pattern], Callable[[], Any]]) -> None:
        if api is None:
            m = Measure(impl, threads)
            m.stop("n/a", reason)
            done.append(m)
            return
        if sc.op in ("details", "logoff") and not api.has_session_info:
            m = Measure(impl, threads)
            m.stop("n/a", "pywin32 cannot read session times (no WTSSessionInfo class in win32ts)")
            done.append(m)
            return
        est = pattern_n * rtt / threads
        if est > opts.baseline_cap:
            m = Measure(impl, threads)
            m.stop(
                "skipped",
                f"not run: {pattern_n:,} RPCs x {_fmt_num(sc.rtt_ms)} ms / {threads} = {_fmt_time(est)} a round,"
                f" over the baseline cap of {_fmt_num(opts.baseline_cap)} s (--baseline-cap)",
            )
            done.append(m)
            return
        pattern = _Pattern(api, sc.op, opts.threshold_s)
        items.append(_Impl(impl, threads, make(pattern), api, est))

    base = set(opts.baselines)
    key = (sc.op, sc.servers, sc.sessions, sc.rtt_ms)
    reused_a = "a" in base and key in seq_cache
    if "a" in base:
        if reused_a:
            done.append(seq_cache[key])
        else:
            add("a", 1, ctypes_api, ctypes_reason, lambda p: lambda: p.sequential(servers))
    if "b" in base:
        add("b", sc.concurrency, ctypes_api, ctypes_reason, lambda p: lambda: p.threaded(servers, sc.concurrency))
    if "pywin32" in base:
        add("pywin32", 1, pywin32, pywin32_reason, lambda p: lambda: p.sequential(servers))
        add(
            "pywin32-threads",
            sc.concurrency,
            pywin32,
            pywin32_reason,
            lambda p: lambda: p.threaded(servers, sc.concurrency),
        )

    for item in items:
        item.api.load(text)
    # Round by round, each implementation in turn: a change of machine load hits all of them alike.
    for rnd in range(opts.rounds):
        for item in items:
            m = item.m
            if not m.active:
                continue
            if item.est is not None and rnd > 0 and m.spent + m.walls[-1] > opts.baseline_cap:
                m.active = False
                m.notes.append(
                    f"{len(m.walls)} of {opts.rounds} rounds (--baseline-cap {_fmt_num(opts.baseline_cap)} s)"
                )
                continue
            try:
                _run_round(item, sc.op, text, destructive)
            except Exception as e:  # one line in the row; the other implementations carry on
                m.stop("error", f"{type(e).__name__}: {e}".splitlines()[0])
    for item in items:
        if item.m.status == "ok":
            try:
                _memory_round(item, text, destructive)
            except Exception as e:
                item.m.notes.append(f"memory round failed: {type(e).__name__}: {e}".splitlines()[0])
    measures = [item.m for item in items] + done
    for m in measures:
        if m.impl == "a" and m.status == "ok" and not reused_a:
            seq_cache[key] = m  # sequential: the same for every concurrency of this farm
    order = {impl: i for i, impl in enumerate(IMPLS)}
    measures.sort(key=lambda m: order[m.impl])
    return [_row(sc, m, measures[0], farm.sessions, pattern_n, reused_a and m.impl == "a") for m in measures]


def _row(sc: Scenario, m: Measure, ours: Measure, sessions: int, pattern_n: int, reused: bool) -> dict[str, Any]:
    wall = m.wall
    rtt = sc.rtt_ms / 1000
    bound = m.rpcs * rtt / m.threads if (m.rpcs is not None and rtt > 0) else None
    notes = list(m.notes)
    if m.rpcs_varied:
        notes.append("RPC count varied between rounds")
    if m.impl != "wts" and m.status == "ok" and m.rpcs is not None and m.rpcs != pattern_n:
        notes.append(f"expected {pattern_n:,} RPCs from the pattern")
    if m.impl != "wts" and m.status == "ok" and ours.items is not None and m.items != ours.items:
        notes.append(f"did different work: {m.items} against wts' {ours.items}")
    if reused:
        notes.append("sequential: measured once for this farm and reused")
    speedup = wall / ours.wall if (m.impl != "wts" and wall and ours.wall) else None
    return {
        "op": sc.op,
        "operation": OP_TITLES[sc.op],
        "servers": sc.servers,
        "sessions_per_server": sc.sessions,
        "sessions": sessions,
        "rtt_ms": sc.rtt_ms,
        "concurrency": sc.concurrency,
        "impl": m.impl,
        "label": IMPL_LABELS[m.impl],
        "threads": m.threads,
        "status": m.status,
        "rounds": len(m.walls),
        "walls_s": list(m.walls),
        "wall_s": wall,
        "rpcs": m.rpcs,
        "bound_s": bound,
        "ratio_to_bound": wall / bound if (wall and bound) else None,
        "sessions_per_s": sessions / wall if wall else None,
        "rpcs_per_s": m.rpcs / wall if (wall and m.rpcs is not None) else None,
        "wts_speedup": speedup,
        "items": m.items,
        "peak_bytes": m.peak,
        "held_bytes": m.held,
        "held_bytes_per_session": m.held / sessions if (m.held is not None and sessions) else None,
        "note": "; ".join(notes),
    }


def run(
    scenarios: Sequence[Scenario],
    opts: Options,
    log: Callable[[str], None] = lambda s: None,
) -> dict[str, Any]:
    """Measure every scenario; the report as JSON-able data (``rows``: one per scenario and implementation)."""
    import platform
    import time
    from datetime import datetime, timezone

    from . import __version__, _wts

    started = time.perf_counter()
    ctypes_api: _CtypesApi | None = None
    ctypes_reason = "not asked for"
    if {"a", "b"} & set(opts.baselines):
        ctypes_api, ctypes_reason = find_sim_lib(opts.sim_lib)
    pywin32: _Pywin32Api | None = None
    pywin32_reason = "not asked for"
    if "pywin32" in opts.baselines:
        pywin32, pywin32_reason = find_pywin32()
    seq_cache: dict[tuple[Any, ...], Measure] = {}
    rows: list[dict[str, Any]] = []
    for i, sc in enumerate(scenarios, 1):
        t0 = time.perf_counter()
        log(f"[{i}/{len(scenarios)}] {sc.title()} ...")
        rows.extend(_measure_scenario(sc, opts, ctypes_api, ctypes_reason, pywin32, pywin32_reason, seq_cache, log))
        log(f"[{i}/{len(scenarios)}] {sc.title()}: {time.perf_counter() - t0:.1f} s")
    try:
        load: list[float] | None = list(os.getloadavg())
    except (AttributeError, OSError):
        load = None
    return {
        "tool": "wts bench",
        "wts_version": __version__,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_after": load,
        "sim_backend": _wts.sim_backend(),
        "sim_library": ctypes_api.where if ctypes_api else None,
        "sim_library_reason": ctypes_reason if ctypes_api is None else "",
        "pywin32_reason": pywin32_reason if pywin32 is None else "",
        "settings": {
            "rounds": opts.rounds,
            "baselines": list(opts.baselines),
            "baseline_cap_s": opts.baseline_cap,
            "logoff_over_s": opts.threshold_s,
            "seed": opts.seed,
            "farm_now": NOW,
        },
        "elapsed_s": time.perf_counter() - started,
        "rows": rows,
    }


# --------------------------------------------------------------------------------------------------
# The table

COLUMNS = (
    ("scenario", "scenario"),
    ("impl", "implementation"),
    ("c", "conc."),
    ("rounds", "rounds"),
    ("wall", "wall (median)"),
    ("rpcs", "RPCs"),
    ("bound", "bound"),
    ("vs_bound", "vs bound"),
    ("speedup", "wts faster by"),
    ("peak", "peak heap"),
    ("held", "held/session"),
    ("note", "note"),
)


def _cells(row: dict[str, Any]) -> dict[str, str]:
    ok = row["status"] == "ok"
    sc = f"{row['operation']} {row['servers']}x{row['sessions_per_server']} @{_fmt_num(row['rtt_ms'])} ms"
    if row["rtt_ms"] > 0:
        bound = _fmt_time(row["bound_s"]) if ok else "-"
        vs = f"{row['ratio_to_bound']:.2f}x" if row["ratio_to_bound"] else "-"
    else:
        bound = "none at 0 ms"
        vs = f"{_fmt_rate(row['sessions_per_s'])}sessions/s" if row["sessions_per_s"] else "-"
    note = row["note"] if ok or not row["note"] else f"{row['status']}: {row['note']}"
    return {
        "scenario": sc,
        "impl": row["label"],
        "c": str(row["threads"]),
        "rounds": str(row["rounds"]) if ok else "-",
        "wall": _fmt_time(row["wall_s"]) if ok else row["status"],
        "rpcs": f"{row['rpcs']:,}" if (ok and row["rpcs"] is not None) else "-",
        "bound": bound,
        "vs_bound": vs if ok else "-",
        "speedup": f"{row['wts_speedup']:.1f}x" if row["wts_speedup"] else "-",
        "peak": _fmt_bytes(row["peak_bytes"]),
        "held": _fmt_bytes(row["held_bytes_per_session"]),
        "note": note,
    }


def format_table(report: dict[str, Any], markdown: bool = False) -> str:
    cells = [_cells(r) for r in report["rows"]]
    keys = [k for k, _ in COLUMNS]
    heads = dict(COLUMNS)
    if markdown:
        lines = ["| " + " | ".join(heads[k] for k in keys) + " |", "|" + "|".join(" --- " for _ in keys) + "|"]
        lines += ["| " + " | ".join(c[k].replace("|", "\\|") for k in keys) + " |" for c in cells]
        return "\n".join(lines)
    width = {k: max([len(heads[k])] + [len(c[k]) for c in cells]) for k in keys if k != "note"}
    right = {"c", "rounds", "wall", "rpcs", "bound", "vs_bound", "speedup", "peak", "held"}

    def line(c: dict[str, str]) -> str:
        parts = [c[k].rjust(width[k]) if k in right else c[k].ljust(width[k]) for k in keys if k != "note"]
        return ("  ".join(parts) + "  " + c["note"]).rstrip()

    out = [line(heads), "  ".join("-" * width[k] for k in keys if k != "note") + "  ----"]
    last = None
    for c in cells:
        if last is not None and c["scenario"] != last:
            out.append("")
        if c["scenario"] == last:
            c = dict(c, scenario="")
        else:
            last = c["scenario"]
        out.append(line(c))
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------
# The command


def _parser(prog: str) -> Any:
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> Any:  # one line, never usage plus a traceback
            raise BenchError(message)

    p = Parser(
        prog=prog,
        description=(
            "Benchmark wts against the peers (the pywin32 pattern through ctypes, sequential and on a thread "
            "pool; real pywin32 under Wine) on the simulated farm, against the bound RPCs x round trip / "
            "concurrency. Prints a table and writes JSON. With no scenario option, runs the default suite "
            "(every target row of docs/benchmarks.md); with any, runs every combination of --ops, --sizes, "
            "--rtt and --concurrency."
        ),
    )
    p.add_argument("--ops", help=f"operations, comma-separated: {', '.join(OPS)} (default: all)")
    p.add_argument(
        "--sizes", help="farms as SERVERSxSESSIONS, comma-separated, e.g. 10x10,200x25,1000x40 (default: 200x25)"
    )
    p.add_argument("--rtt", help="round trips in ms, comma-separated, e.g. 0,2 (default: 2)")
    p.add_argument(
        "--concurrency", help="wts' concurrency and (b)'s threads, comma-separated, e.g. 1,16,64,256 (default: 64)"
    )
    p.add_argument(
        "--rounds", type=int, default=5, help="timed rounds per implementation; the median is shown (default: 5)"
    )
    p.add_argument(
        "--baselines",
        help="which baselines: a, b, pywin32, comma-separated, or 'none' (default: a,b, plus pywin32 where it can run)",
    )
    p.add_argument("--no-baselines", action="store_true", help="measure wts alone")
    p.add_argument(
        "--baseline-cap",
        type=float,
        default=10.0,
        help="seconds a baseline may spend in one scenario; one whose round would take longer is not run,"
        " and its row says so (default: 10)",
    )
    p.add_argument(
        "--logoff-over",
        type=float,
        default=7200.0,
        help="the logoff scenario's threshold: sessions disconnected longer than this many seconds (default: 7200)",
    )
    p.add_argument("--seed", type=int, default=1, help="the generated farm's seed (default: 1)")
    p.add_argument("--sim-lib", help="the simulator built as a shared library with the wtsapi32 names (or WTS_SIM_LIB)")
    p.add_argument(
        "--json",
        default="wts-bench.json",
        metavar="FILE",
        help="write the report here; '-' for stdout, '' for none (default: wts-bench.json)",
    )
    p.add_argument("--markdown", action="store_true", help="print the table in Markdown")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    return p


def _split(text: str | None, what: str, conv: Callable[[str], Any]) -> list[Any] | None:
    if text is None:
        return None
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(conv(part))
        except ValueError as e:
            raise BenchError(f"{what}: {e}") from None
    if not out:
        raise BenchError(f"{what}: empty list")
    return out


def _op(s: str) -> str:
    if s not in OPS:
        raise ValueError(f"unknown operation {s!r} (choose from {', '.join(OPS)})")
    return s


def _size(s: str) -> tuple[int, int]:
    a, sep, b = s.lower().partition("x")
    if not sep or not a.isdigit() or not b.isdigit():
        raise ValueError(f"{s!r} is not SERVERSxSESSIONS, e.g. 200x25")
    servers, sessions = int(a), int(b)
    if not 1 <= servers <= 100_000 or not 0 <= sessions <= 65_534:
        raise ValueError(f"{s!r}: servers must be 1 to 100000 and sessions 0 to 65534")
    return servers, sessions


def _rtt(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise ValueError(f"{s!r} is not a number of milliseconds") from None
    if not 0 <= v <= 10_000:
        raise ValueError(f"{s!r}: a round trip must be 0 to 10000 ms")
    return v


def _conc(s: str) -> int:
    if not s.isdigit() or not 1 <= int(s) <= 4096:
        raise ValueError(f"{s!r}: concurrency must be an integer from 1 to 4096")
    return int(s)


def _baseline(s: str) -> str:
    if s not in (*BASELINE_CHOICES, "none"):
        raise ValueError(f"unknown baseline {s!r} (choose from {', '.join(BASELINE_CHOICES)}, or none)")
    return s


def parse_args(argv: Sequence[str], prog: str) -> tuple[list[Scenario], Options, Any]:
    args = _parser(prog).parse_args(list(argv))
    ops = _split(args.ops, "--ops", _op)
    sizes = _split(args.sizes, "--sizes", _size)
    rtts = _split(args.rtt, "--rtt", _rtt)
    concs = _split(args.concurrency, "--concurrency", _conc)
    if any(x is not None for x in (ops, sizes, rtts, concs)):
        scenarios = [
            Scenario(op, sv, se, rtt, c)
            for (sv, se) in (sizes or [(200, 25)])
            for rtt in (rtts or [2.0])
            for op in (ops or list(OPS))
            for c in (concs or [64])
        ]
    else:
        scenarios = list(DEFAULT_SUITE)
    if not 1 <= args.rounds <= 1000:
        raise BenchError("--rounds must be 1 to 1000")
    if not args.baseline_cap > 0:
        raise BenchError("--baseline-cap must be more than 0 seconds")
    if not args.logoff_over >= 0:
        raise BenchError("--logoff-over must be 0 or more seconds")
    if args.no_baselines:
        baselines: tuple[str, ...] = ()
    elif args.baselines is not None:
        chosen = _split(args.baselines, "--baselines", _baseline) or []
        baselines = () if chosen == ["none"] else tuple(b for b in BASELINE_CHOICES if b in chosen)
    else:
        baselines = ("a", "b", "pywin32") if find_pywin32()[0] is not None else ("a", "b")
    opts = Options(args.rounds, baselines, args.baseline_cap, args.logoff_over, args.seed, args.sim_lib)
    return scenarios, opts, args


def main(argv: list[str] | None = None, prog: str = "wts bench") -> int:
    """``wts bench``: 0 when every measurement ran, 1 when one failed, 2 for a usage error."""
    if argv is None:
        argv = sys.argv[1:]
    try:
        scenarios, opts, args = parse_args(argv, prog)
    except BenchError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # --help
        return int(e.code or 0)

    def log(line: str) -> None:
        if not args.quiet:
            print(f"{prog}: {line}", file=sys.stderr, flush=True)

    try:
        report = run(scenarios, opts, log)
        report["command"] = [prog, *argv]
        table = format_table(report, markdown=args.markdown)
        out = sys.stderr if args.json == "-" else sys.stdout
        print(table, file=out)
        if report["sim_library"]:
            print(f"\nctypes baselines: {report['sim_library']}", file=out)
        elif {"a", "b"} & set(opts.baselines):
            print(f"\nctypes baselines n/a: {report['sim_library_reason']}", file=out)
        if args.json:
            import json

            text = json.dumps(report, indent=1) + "\n"
            if args.json == "-":
                sys.stdout.write(text)
            else:
                with open(args.json, "w", encoding="utf-8") as f:
                    f.write(text)
                print(f"report: {args.json}", file=out)
    except (BenchError, OSError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    return 1 if any(r["status"] == "error" for r in report["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())
