"""The simulated wtsapi32 as a shared library, driven through ctypes.

``src/wtsapi/wts_sim.c`` compiled with ``-DWTSSIM_AS_WTSAPI`` exports the real
wtsapi32 entry points (``WTSOpenServerW``, ``WTSEnumerateSessionsExW``, ...),
``GetLastError`` (off Windows) and the simulator's ``wtssim_*`` controls.  This
module holds the one recipe that builds that library (:func:`build`: a native
shared library, or with ``--target windows`` the ``wtsapi32.dll`` of the Wine
check), and loads it with every prototype declared, so tests and benchmarks can
call it exactly as a ctypes program calls wtsapi32.dll.  The ABI tests, ``wts
bench`` (from a source checkout) and ``.ci/wine`` (through :func:`main`:
``python tools/simlib.py build --target windows -o wtsapi32.dll``) all build
with it.

Standard library only.  Typical use::

    from tools import simlib

    lib = simlib.load(simlib.build(Path("build/sim")))
    simlib.load_farm(lib, compiled_text)
    count = ctypes.c_uint32()
    info = ctypes.POINTER(simlib.WTS_SESSION_INFO_1W)()
    level = ctypes.c_uint32(1)
    if not lib.WTSEnumerateSessionsExW(None, ctypes.byref(level), 0, ctypes.byref(info), ctypes.byref(count)):
        raise OSError(lib.GetLastError())
    names = [simlib.wstring_at(info[i].pSessionName) for i in range(count.value)]
    lib.WTSFreeMemoryExW(simlib.WTSTypeSessionInfoLevel1, info, count.value)

Strings: ``WCHAR`` is a 16-bit UTF-16 code unit on every platform, but
``ctypes.c_wchar`` is 32 bits on Linux.  So ``LPWSTR`` is declared as
``c_void_p``, fixed ``WCHAR`` arrays as ``c_uint16`` arrays, and strings are
converted with :func:`wbuf`, :func:`wstring_at` and :func:`warray_str`.

The structures use the Windows SDK's x64 layouts (``wts_seam.h`` pins the same
sizes and offsets with static asserts on the C side).
"""

from __future__ import annotations

import ctypes
import mmap
import os
import secrets
import shlex
import shutil
import subprocess
import sys
from ctypes import POINTER, c_char, c_int, c_int32, c_int64, c_size_t, c_ubyte, c_uint16, c_uint32, c_void_p
from pathlib import Path

__all__ = [
    "LIBRARY_NAME",
    "ROOT",
    "SOURCE",
    "TARGETS",
    "WTSINFOEXW",
    "WTSINFOEX_LEVEL1_W",
    "WTSINFOEX_LEVEL_W",
    "WTSINFOW",
    "WTS_CLIENT_ADDRESS",
    "WTS_CLIENT_DISPLAY",
    "WTS_PROCESS_INFOW",
    "WTS_PROCESS_INFO_EXW",
    "WTS_SESSION_INFOW",
    "WTS_SESSION_INFO_1W",
    "BuildError",
    "build",
    "command",
    "compiler",
    "declare",
    "dump",
    "find_compiler",
    "inputs",
    "library_name",
    "load",
    "load_farm",
    "rpc_report",
    "warray_str",
    "wbuf",
    "windows_flags",
    "wstring_at",
]

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "wtsapi" / "wts_sim.c"
LIBRARY_NAME = "libwtsapi32_sim.so"

# --------------------------------------------------------------------------------------------------
# Win32 types and constants (values from the SDK headers; see src/wtsapi/wts_seam.h)

DWORD = c_uint32
ULONG = c_uint32
LONG = c_int32
BOOL = c_int32
USHORT = c_uint16
WCHAR = c_uint16
LONGLONG = c_int64
LARGE_INTEGER = c_int64  # the union's QuadPart: same size and alignment
LPWSTR = c_void_p
HANDLE = c_void_p
ENUM = c_int  # C enums (WTS_CONNECTSTATE_CLASS, WTS_INFO_CLASS, WTS_TYPE_CLASS) are 32-bit ints

WTS_CURRENT_SERVER_HANDLE = None
WTS_CURRENT_SESSION = 0xFFFFFFFF
WTS_ANY_SESSION = 0xFFFFFFFE
LOGONID_CURRENT = 0xFFFFFFFF

WINSTATIONNAME_LENGTH = 32
DOMAIN_LENGTH = 17
USERNAME_LENGTH = 20
CLIENTNAME_LENGTH = 20
CLIENTADDRESS_LENGTH = 30
MAX_PATH = 260

# WTS_CONNECTSTATE_CLASS
(
    WTSActive,
    WTSConnected,
    WTSConnectQuery,
    WTSShadow,
    WTSDisconnected,
    WTSIdle,
    WTSListen,
    WTSReset,
    WTSDown,
    WTSInit,
) = range(10)

# WTS_INFO_CLASS
(
    WTSInitialProgram,
    WTSApplicationName,
    WTSWorkingDirectory,
    WTSOEMId,
    WTSSessionId,
    WTSUserName,
    WTSWinStationName,
    WTSDomainName,
    WTSConnectState,
    WTSClientBuildNumber,
    WTSClientName,
    WTSClientDirectory,
    WTSClientProductId,
    WTSClientHardwareId,
    WTSClientAddress,
    WTSClientDisplay,
    WTSClientProtocolType,
    WTSIdleTime,
    WTSLogonTime,
    WTSIncomingBytes,
    WTSOutgoingBytes,
    WTSIncomingFrames,
    WTSOutgoingFrames,
    WTSClientInfo,
    WTSSessionInfo,
    WTSSessionInfoEx,
    WTSConfigInfo,
    WTSValidationInfo,
    WTSSessionAddressV4,
    WTSIsRemoteSession,
) = range(30)

# WTS_TYPE_CLASS
WTSTypeProcessInfoLevel0, WTSTypeProcessInfoLevel1, WTSTypeSessionInfoLevel1 = range(3)

# WTSINFOEX_LEVEL1_W.SessionFlags
WTS_SESSIONSTATE_LOCK = 0
WTS_SESSIONSTATE_UNLOCK = 1
WTS_SESSIONSTATE_UNKNOWN = -1  # 0xFFFFFFFF in a LONG

AF_INET = 2
AF_INET6 = 23  # Windows' value

# Win32 error codes
ERROR_SUCCESS = 0
ERROR_ACCESS_DENIED = 5
ERROR_INVALID_HANDLE = 6
ERROR_NOT_ENOUGH_MEMORY = 8
ERROR_NOT_SUPPORTED = 50
ERROR_INVALID_PARAMETER = 87
ERROR_INSUFFICIENT_BUFFER = 122
ERROR_LOGON_FAILURE = 1326
ERROR_NONE_MAPPED = 1332
RPC_S_SERVER_UNAVAILABLE = 1722
RPC_S_SERVER_TOO_BUSY = 1723
RPC_S_CALL_FAILED = 1726
ERROR_INVALID_USER_BUFFER = 1784
ERROR_CTX_WINSTATION_NOT_FOUND = 7022
ERROR_CTX_CONSOLE_DISCONNECT = 7041
ERROR_CTX_CONSOLE_CONNECT = 7042
ERROR_CTX_WINSTATION_ACCESS_DENIED = 7045

# MessageBox answers
IDOK, IDCANCEL, IDABORT, IDRETRY, IDIGNORE, IDYES, IDNO = range(1, 8)
IDTIMEOUT = 32000
IDASYNC = 32001

# --------------------------------------------------------------------------------------------------
# Structures (x64 SDK layouts)


class WTS_SESSION_INFOW(ctypes.Structure):
    """24 bytes: SessionId @0, pWinStationName @8, State @16."""

    _fields_ = [
        ("SessionId", DWORD),
        ("pWinStationName", LPWSTR),
        ("State", ENUM),
    ]


class WTS_PROCESS_INFOW(ctypes.Structure):
    """24 bytes: SessionId @0, ProcessId @4, pProcessName @8, pUserSid @16 (WTSEnumerateProcessesExW level 0)."""

    _fields_ = [
        ("SessionId", DWORD),
        ("ProcessId", DWORD),
        ("pProcessName", LPWSTR),
        ("pUserSid", c_void_p),
    ]


class WTS_PROCESS_INFO_EXW(ctypes.Structure):
    """64 bytes: two DWORDs, the name and SID pointers, six DWORD counters from 24, two LARGE_INTEGER
    times from 48 (WTSEnumerateProcessesExW level 1)."""

    _fields_ = [
        ("SessionId", DWORD),
        ("ProcessId", DWORD),
        ("pProcessName", LPWSTR),
        ("pUserSid", c_void_p),
        ("NumberOfThreads", DWORD),
        ("HandleCount", DWORD),
        ("PagefileUsage", DWORD),
        ("PeakPagefileUsage", DWORD),
        ("WorkingSetSize", DWORD),
        ("PeakWorkingSetSize", DWORD),
        ("UserTime", LARGE_INTEGER),
        ("KernelTime", LARGE_INTEGER),
    ]


class WTS_SESSION_INFO_1W(ctypes.Structure):
    """56 bytes: three DWORDs, then five LPWSTRs from offset 16."""

    _fields_ = [
        ("ExecEnvId", DWORD),
        ("State", ENUM),
        ("SessionId", DWORD),
        ("pSessionName", LPWSTR),
        ("pHostName", LPWSTR),
        ("pUserName", LPWSTR),
        ("pDomainName", LPWSTR),
        ("pFarmName", LPWSTR),
    ]


class WTS_CLIENT_ADDRESS(ctypes.Structure):
    """24 bytes.  An IPv4 address sits at Address[2..5], IPv6 at Address[2..17]."""

    _fields_ = [
        ("AddressFamily", DWORD),
        ("Address", c_ubyte * 20),
    ]


class WTS_CLIENT_DISPLAY(ctypes.Structure):
    _fields_ = [
        ("HorizontalResolution", DWORD),
        ("VerticalResolution", DWORD),
        ("ColorDepth", DWORD),
    ]


class WTSINFOW(ctypes.Structure):
    """216 bytes.  Counters first, times last (unlike WTSINFOEX_LEVEL1_W)."""

    _fields_ = [
        ("State", ENUM),
        ("SessionId", DWORD),
        ("IncomingBytes", DWORD),
        ("OutgoingBytes", DWORD),
        ("IncomingFrames", DWORD),
        ("OutgoingFrames", DWORD),
        ("IncomingCompressedBytes", DWORD),
        ("OutgoingCompressedBytes", DWORD),
        ("WinStationName", WCHAR * WINSTATIONNAME_LENGTH),
        ("Domain", WCHAR * DOMAIN_LENGTH),
        ("UserName", WCHAR * (USERNAME_LENGTH + 1)),
        ("ConnectTime", LARGE_INTEGER),
        ("DisconnectTime", LARGE_INTEGER),
        ("LastInputTime", LARGE_INTEGER),
        ("LogonTime", LARGE_INTEGER),
        ("CurrentTime", LARGE_INTEGER),
    ]


class WTSINFOEX_LEVEL1_W(ctypes.Structure):
    """224 bytes.  Times first, counters last (unlike WTSINFOW); string arrays one unit longer."""

    _fields_ = [
        ("SessionId", ULONG),
        ("SessionState", ENUM),
        ("SessionFlags", LONG),
        ("WinStationName", WCHAR * (WINSTATIONNAME_LENGTH + 1)),
        ("UserName", WCHAR * (USERNAME_LENGTH + 1)),
        ("DomainName", WCHAR * (DOMAIN_LENGTH + 1)),
        ("LogonTime", LARGE_INTEGER),
        ("ConnectTime", LARGE_INTEGER),
        ("DisconnectTime", LARGE_INTEGER),
        ("LastInputTime", LARGE_INTEGER),
        ("CurrentTime", LARGE_INTEGER),
        ("IncomingBytes", DWORD),
        ("OutgoingBytes", DWORD),
        ("IncomingFrames", DWORD),
        ("OutgoingFrames", DWORD),
        ("IncomingCompressedBytes", DWORD),
        ("OutgoingCompressedBytes", DWORD),
    ]


class WTSINFOEX_LEVEL_W(ctypes.Union):
    _fields_ = [("WTSInfoExLevel1", WTSINFOEX_LEVEL1_W)]


class WTSINFOEXW(ctypes.Structure):
    """232 bytes: Level, then the level-1 data at offset 8."""

    _fields_ = [
        ("Level", DWORD),
        ("Data", WTSINFOEX_LEVEL_W),
    ]


class WTSCLIENTW(ctypes.Structure):
    """2304 bytes, no pointers (the same on every architecture): what WTSClientInfo answers."""

    _fields_ = [
        ("ClientName", WCHAR * (CLIENTNAME_LENGTH + 1)),
        ("Domain", WCHAR * (DOMAIN_LENGTH + 1)),
        ("UserName", WCHAR * (USERNAME_LENGTH + 1)),
        ("WorkDirectory", WCHAR * (MAX_PATH + 1)),
        ("InitialProgram", WCHAR * (MAX_PATH + 1)),
        ("EncryptionLevel", c_ubyte),
        ("ClientAddressFamily", ULONG),
        ("ClientAddress", USHORT * (CLIENTADDRESS_LENGTH + 1)),  # AF_INET as text, AF_INET6 binary
        ("HRes", USHORT),
        ("VRes", USHORT),
        ("ColorDepth", USHORT),
        ("ClientDirectory", WCHAR * (MAX_PATH + 1)),
        ("ClientBuildNumber", ULONG),
        ("ClientHardwareId", ULONG),
        ("ClientProductId", USHORT),
        ("OutBufCountHost", USHORT),
        ("OutBufCountClient", USHORT),
        ("OutBufLength", USHORT),
        ("DeviceId", WCHAR * (MAX_PATH + 1)),
    ]


class WTSCONFIGINFOW(ctypes.Structure):
    """1668 bytes, no pointers: what WTSConfigInfo answers."""

    _fields_ = [
        ("version", ULONG),
        ("fConnectClientDrivesAtLogon", ULONG),
        ("fConnectPrinterAtLogon", ULONG),
        ("fDisablePrinterRedirection", ULONG),
        ("fDisableDefaultMainClientPrinter", ULONG),
        ("ShadowSettings", ULONG),
        ("LogonUserName", WCHAR * (USERNAME_LENGTH + 1)),
        ("LogonDomain", WCHAR * (DOMAIN_LENGTH + 1)),
        ("WorkDirectory", WCHAR * (MAX_PATH + 1)),
        ("InitialProgram", WCHAR * (MAX_PATH + 1)),
        ("ApplicationName", WCHAR * (MAX_PATH + 1)),
    ]


# --------------------------------------------------------------------------------------------------
# UTF-16 strings

_PAGE = mmap.PAGESIZE
_CHUNK = 256  # bytes read at a time while looking for a terminator


def wbuf(text: str | None) -> ctypes.Array | None:
    """A NUL-terminated UTF-16LE buffer for an LPWSTR argument (None stays None, i.e. NULL).

    Keep a reference to the result for as long as the callee may use it."""
    if text is None:
        return None
    units = text.encode("utf-16-le", "surrogatepass")
    buf = (WCHAR * (len(units) // 2 + 1))()
    ctypes.memmove(buf, units, len(units))
    return buf


def wstring_at(address: int | c_void_p | None, length: int = -1) -> str | None:
    """Decode the UTF-16 string at ``address`` (an int or c_void_p; NULL gives None).

    With ``length`` (in code units) exactly that many units are read; otherwise up to the
    terminating NUL.  The scan never reads past the page the string is known to reach, so it
    cannot fault on a string that ends just before unmapped memory."""
    if isinstance(address, c_void_p):
        address = address.value
    if not address:
        return None
    if length >= 0:
        return ctypes.string_at(address, 2 * length).decode("utf-16-le", "surrogatepass")
    parts = []
    pos = address
    while True:
        n = min(_CHUNK, _PAGE - pos % _PAGE)
        if n % 2:  # an odd address: keep whole code units; one may straddle into the next page
            n = n - 1 if n > 1 else 2
        data = ctypes.string_at(pos, n)
        i = data.find(b"\0\0")
        while i >= 0 and i % 2:
            i = data.find(b"\0\0", i + 1)
        if i >= 0:
            parts.append(data[:i])
            break
        parts.append(data)
        pos += n
    return b"".join(parts).decode("utf-16-le", "surrogatepass")


def warray_str(array: ctypes.Array) -> str:
    """Decode a fixed WCHAR array (a structure field) up to its first NUL."""
    raw = bytes(array)
    i = raw.find(b"\0\0")
    while i >= 0 and i % 2:
        i = raw.find(b"\0\0", i + 1)
    return (raw if i < 0 else raw[:i]).decode("utf-16-le", "surrogatepass")


# --------------------------------------------------------------------------------------------------
# Building: the one recipe for the sim as a library.  The ABI tests (build), wts bench (its
# _baselines module, from a source checkout) and .ci/wine (the CLI below, --target windows) all use it.

TARGETS = ("native", "windows")
# What goes in, relative to a source root (a checkout, or the Wine check's unpacked sdist).
SIM_SOURCES = ("src/wtsapi/wts_sim.c",)
SIM_DEFINES = ("WTSSIM_AS_WTSAPI",)  # the real wtsapi32 names, GetLastError off Windows, wtssim_* exported
INCLUDE_DIRS = ("src",)
# Flags per target, and why:
# native: a shared library this machine's ctypes loads; -fPIC for a shared object, -pthread for the
#   farm's locks (wts_platform.h), -O2 because the bench times the baselines through it.
NATIVE_FLAGS = ("-O2", "-shared", "-fPIC", "-pthread")
# windows: a wtsapi32.dll for the Wine check, cross-compiled with mingw-w64 (win32 threads, so nothing
#   links libwinpthread-1.dll), linked to the UCRT like python311.dll (docs/building.md: one heap, one
#   errno, one stdio); -static-libgcc so it needs no libgcc_s DLL; -Wno-format because GCC checks printf
#   against msvcrt's rules, which lack C99's %zu, and the UCRT has it.  The UCRT specs file comes from
#   ucrt_specs(); windows_flags() gives the whole list, which .ci/wine also builds wts._wts's .pyd with.
WINDOWS_FLAGS = ("-O2", "-D_UCRT", "-D__MSVCRT_VERSION__=0xE00", "-Wno-format", "-static-libgcc", "-shared")
WINDOWS_CC = "x86_64-w64-mingw32-gcc-win32"
# The DLL's exports under wtsapi32's names (beside this file, so it is found from any source root).
DEF_FILE = Path(__file__).resolve().parent / "wine" / "wtsapi32.def"


class BuildError(RuntimeError):
    """The compiler failed; ``output`` is what it said, ``returncode`` its exit status."""

    def __init__(self, message: str, output: str = "", returncode: int | None = None) -> None:
        super().__init__(message)
        self.output = output
        self.returncode = returncode


def library_name(target: str = "native") -> str:
    """The file the recipe writes for ``target``."""
    if target == "windows":
        return "wtsapi32.dll"
    return "libwtsapi32_sim.dylib" if sys.platform == "darwin" else LIBRARY_NAME


def inputs(root: Path = ROOT) -> list[Path]:
    """Every file the library is made from (its sources and the seam's headers): newer than the
    library means it must be built again."""
    root = Path(root)
    return [*(root / s for s in SIM_SOURCES), *sorted((root / "src" / "wtsapi").glob("*.h"))]


def compiler() -> list[str]:
    """The C compiler command as an argument list: $CC if set (it may carry arguments, e.g.
    "ccache gcc"), else ``cc``."""
    return shlex.split(os.environ.get("CC", "").strip()) or ["cc"]


def find_compiler() -> list | None:
    """:func:`compiler`, or None when its program cannot be found."""
    cmd = compiler()
    return cmd if shutil.which(cmd[0]) else None


def ucrt_specs(cc: list[str], path: Path) -> Path:
    """Write ``cc``'s own specs with msvcrt swapped for the UCRT to ``path``.  The gcc 12 of Debian 12
    rejects -mcrtdll=ucrt, the option newer gccs have for this (docs/building.md)."""
    specs = subprocess.run([*cc, "-dumpspecs"], capture_output=True, text=True, check=True).stdout
    if "-lmsvcrt" not in specs:
        raise BuildError(f"{cc[0]} -dumpspecs names no -lmsvcrt to swap for -lucrt")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(specs.replace("-lmsvcrt", "-lucrt"), encoding="utf-8")
    return path


def windows_flags(cc: list[str], workdir: Path) -> list[str]:
    """The flags of a mingw-w64 DLL linked to the UCRT (its specs file written into ``workdir``)."""
    return [WINDOWS_FLAGS[0], f"-specs={ucrt_specs(cc, Path(workdir) / 'ucrt.specs')}", *WINDOWS_FLAGS[1:]]


def command(target: str, out: Path, cc: list[str], root: Path = ROOT, workdir: Path | None = None) -> list[str]:
    """The compiler command that builds the sim for ``target`` into ``out``."""
    root = Path(root)
    if target == "native":
        flags = list(NATIVE_FLAGS)
    elif target == "windows":
        flags = windows_flags(cc, workdir if workdir is not None else Path(out).parent)
    else:
        raise ValueError(f"unknown target {target!r} (choose from {', '.join(TARGETS)})")
    cmd = [*cc, *flags, *(f"-D{d}" for d in SIM_DEFINES), *(f"-I{root / d}" for d in INCLUDE_DIRS)]
    cmd += [str(root / s) for s in SIM_SOURCES]
    if target == "windows":
        cmd.append(str(DEF_FILE))
    return [*cmd, "-o", str(out)]


def build(
    outdir: Path,
    target: str = "native",
    root: Path = ROOT,
    cc: list[str] | None = None,
    out: Path | None = None,
) -> Path:
    """Compile the sim with the wtsapi32 names into ``out`` (default ``outdir/library_name(target)``)
    and return its path.  The file appears whole or not at all (a concurrent run never loads half a
    library).  Raises BuildError, with the compiler's output, if there is no compiler or it fails."""
    if cc is None:
        cc = [WINDOWS_CC] if target == "windows" else find_compiler()
        if cc is None:
            raise BuildError(f"no C compiler found (tried {os.environ.get('CC') or 'cc'!r}; set $CC)")
    out = Path(out) if out is not None else Path(outdir) / library_name(target)
    out.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own (not mkstemp's: the linker would keep its 0600 mode) beside the final one.
    tmp = str(out.with_name(f".{out.stem}-{os.getpid()}-{secrets.token_hex(4)}{out.suffix}"))
    try:
        cmd = command(target, Path(tmp), cc, root=root, workdir=out.parent)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        except OSError as e:
            raise BuildError(f"cannot run the C compiler {cc[0]!r}: {e}") from e
        if proc.returncode != 0:
            output = proc.stderr.strip() or proc.stdout.strip()
            raise BuildError(
                f"compiling {', '.join(SIM_SOURCES)} failed (exit {proc.returncode}): {shlex.join(cmd)}\n{output}",
                output,
                proc.returncode,
            )
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


# --------------------------------------------------------------------------------------------------
# Loading

# name -> (restype, argtypes).  wtsapi32 first, then the simulator's controls.
WTSAPI_PROTOTYPES = {
    "WTSOpenServerW": (HANDLE, [LPWSTR]),
    "WTSOpenServerExW": (HANDLE, [LPWSTR]),
    "WTSCloseServer": (None, [HANDLE]),
    "WTSEnumerateSessionsW": (BOOL, [HANDLE, DWORD, DWORD, POINTER(POINTER(WTS_SESSION_INFOW)), POINTER(DWORD)]),
    "WTSEnumerateSessionsExW": (
        BOOL,
        [HANDLE, POINTER(DWORD), DWORD, POINTER(POINTER(WTS_SESSION_INFO_1W)), POINTER(DWORD)],
    ),
    # ppBuffer is LPWSTR* in the SDK, but points at whatever the info class returns.
    "WTSQuerySessionInformationW": (BOOL, [HANDLE, DWORD, ENUM, POINTER(c_void_p), POINTER(DWORD)]),
    "WTSDisconnectSession": (BOOL, [HANDLE, DWORD, BOOL]),
    "WTSLogoffSession": (BOOL, [HANDLE, DWORD, BOOL]),
    "WTSConnectSessionW": (BOOL, [ULONG, ULONG, LPWSTR, BOOL]),
    "WTSSendMessageW": (BOOL, [HANDLE, DWORD, LPWSTR, DWORD, LPWSTR, DWORD, DWORD, DWORD, POINTER(DWORD), BOOL]),
    "WTSFreeMemory": (None, [c_void_p]),
    "WTSFreeMemoryExW": (BOOL, [ENUM, c_void_p, ULONG]),
    # ppProcessInfo is LPWSTR* in the SDK, but points at the level's array.
    "WTSEnumerateProcessesExW": (BOOL, [HANDLE, POINTER(DWORD), DWORD, POINTER(c_void_p), POINTER(DWORD)]),
    "WTSTerminateProcess": (BOOL, [HANDLE, DWORD, DWORD]),
}

CONTROL_PROTOTYPES = {
    "wtssim_load": (c_int, [ctypes.c_char_p, c_size_t, POINTER(c_char), c_size_t]),
    "wtssim_loaded": (c_int, []),
    "wtssim_dump": (c_void_p, [POINTER(c_size_t)]),  # c_void_p, not c_char_p: it must be freed
    "wtssim_rpc_report": (c_void_p, [POINTER(c_size_t)]),
    "wtssim_free_text": (None, [c_void_p]),
    "wtssim_outstanding": (c_int64, []),
    "wtssim_rpc_total": (c_int64, []),
    "wtssim_reset_counters": (None, []),
    "wtssim_release_hangs": (None, []),
    "wtssim_hung_calls": (c_int64, []),
    # advapi32's shapes, for the farm's SIDs
    "wtssim_LookupAccountSidW": (
        BOOL,
        [LPWSTR, c_void_p, LPWSTR, POINTER(DWORD), LPWSTR, POINTER(DWORD), POINTER(DWORD)],
    ),
    "wtssim_ConvertSidToStringSidW": (BOOL, [c_void_p, POINTER(c_void_p)]),
    "wtssim_FreeSidString": (None, [c_void_p]),
}


def declare(lib: ctypes.CDLL, prototypes: dict) -> ctypes.CDLL:
    """Set restype/argtypes on ``lib`` for each name in ``prototypes`` (AttributeError if one is
    not exported).  Usable on any library with these exports, e.g. the real wtsapi32.dll with
    WTSAPI_PROTOTYPES."""
    for name, (restype, argtypes) in prototypes.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


def load(path: str | Path) -> ctypes.CDLL:
    """Load a library built by :func:`build` with every export's prototype declared.

    ``lib.GetLastError()`` returns the calling thread's last error.  Off Windows it is the
    library's own export; on Windows (where the sim DLL does not export it) it is bound to ctypes'
    saved copy of the thread's last error."""
    if sys.platform == "win32":
        lib = ctypes.CDLL(str(path), use_last_error=True)
        lib.GetLastError = ctypes.get_last_error
    else:
        lib = ctypes.CDLL(str(path))
        declare(lib, {"GetLastError": (DWORD, [])})
    declare(lib, WTSAPI_PROTOTYPES)
    declare(lib, CONTROL_PROTOTYPES)
    return lib


# --------------------------------------------------------------------------------------------------
# Controls


def load_farm(lib: ctypes.CDLL, text: str | bytes) -> None:
    """Install a farm from compiled text; ValueError with the simulator's message if it is rejected
    (the previous farm then stays loaded)."""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    err = ctypes.create_string_buffer(512)
    if lib.wtssim_load(data, len(data), err, len(err)) != 0:
        raise ValueError(err.value.decode("utf-8", "replace"))


def _take_text(lib: ctypes.CDLL, fn) -> str | None:
    n = c_size_t()
    p = fn(ctypes.byref(n))
    if not p:
        return None
    try:
        return ctypes.string_at(p, n.value).decode("utf-8")
    finally:
        lib.wtssim_free_text(p)


def dump(lib: ctypes.CDLL) -> str | None:
    """The loaded farm's current state in the compiled format, plus message lines; None when no
    farm is loaded."""
    return _take_text(lib, lib.wtssim_dump)


def rpc_report(lib: ctypes.CDLL) -> dict:
    """RPCs per server since the last reset, ``{name: count}``; key ``"*"`` counts RPCs to names
    not in the farm."""
    text = _take_text(lib, lib.wtssim_rpc_report) or ""
    report = {}
    for line in text.splitlines():
        name, _, count = line.rpartition("\t")
        report[name] = int(count)
    return report


# --------------------------------------------------------------------------------------------------
# Command line (.ci/wine): python tools/simlib.py build --target windows --root DIR -o wtsapi32.dll


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(
        prog="python tools/simlib.py",
        description="Build the simulated wtsapi32 (src/wtsapi/wts_sim.c, -DWTSSIM_AS_WTSAPI): a shared library"
        " for this machine (native), or wtsapi32.dll with mingw-w64 and the UCRT (windows).",
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the library; prints its path")
    b.add_argument("--target", choices=TARGETS, default="native")
    b.add_argument("--root", type=Path, default=ROOT, help="the source tree to compile (default: this checkout)")
    b.add_argument("--cc", help=f"the compiler command (default: $CC or cc; for windows {WINDOWS_CC})")
    b.add_argument("-o", "--output", type=Path, required=True)
    f = sub.add_parser(
        "windows-flags",
        help="print the flags of a mingw-w64 DLL linked to the UCRT, one a line (writes ucrt.specs into --workdir)",
    )
    f.add_argument("--cc", default=WINDOWS_CC)
    f.add_argument("--workdir", type=Path, required=True)
    args = p.parse_args(argv)
    cc = shlex.split(args.cc) if args.cc else None
    try:
        if args.cmd == "build":
            print(build(args.output.parent, target=args.target, root=args.root, cc=cc, out=args.output))
        else:
            print("\n".join(windows_flags(cc or [WINDOWS_CC], args.workdir)))
    except (BuildError, subprocess.CalledProcessError, OSError) as e:
        print(f"simlib: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
