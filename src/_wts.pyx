# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""wts._wts: the only compiled module.  It calls the WTS API through the C seam and nothing else.

Every WTS function here is an RPC to the RD Session Host (or can block on one), so each call runs with
the GIL released and reads the last error before anything else can overwrite it.  Every buffer is
freed with its matching free function.  Results come back as plain tuples or as records built here in
C (for bulk listing); wts._server turns them into the public API, and wts._errors turns Win32 error
codes into exceptions.
"""
from cpython.unicode cimport PyUnicode_DecodeUTF16
from libc.stdint cimport int64_t
from libc.string cimport memcpy

from wtsdecl cimport *  # src/include/wtsdecl.pxd

from wts._errors import error_from_winerror as _error_from_winerror

__all__ = [
    "Provider", "ServerHandle", "get_provider", "available_providers", "connect_session",
    "sim_load", "sim_loaded", "sim_dump", "sim_rpc_counts", "sim_outstanding", "sim_rpc_total",
    "sim_reset_counters", "sim_release_hangs", "sim_hung_calls", "CURRENT_SESSION",
]

CURRENT_SESSION = WTS_CURRENT_SESSION

# Info classes decoded specially (values from the SDK's WTS_INFO_CLASS).
cdef enum:
    IC_SESSION_ID = 4
    IC_CONNECT_STATE = 8
    IC_CLIENT_BUILD_NUMBER = 9
    IC_CLIENT_PRODUCT_ID = 12
    IC_CLIENT_HARDWARE_ID = 13
    IC_CLIENT_ADDRESS = 14
    IC_CLIENT_DISPLAY = 15
    IC_CLIENT_PROTOCOL_TYPE = 16
    IC_SESSION_INFO = 24
    IC_SESSION_INFO_EX = 25
    IC_IS_REMOTE_SESSION = 29

# Which info classes return UTF-16 strings.
cdef frozenset _STRING_CLASSES = frozenset({0, 1, 2, 3, 5, 6, 7, 10, 11})


cdef str _str16(const WCHAR *p, Py_ssize_t cap=-1):
    """UTF-16LE (NUL-terminated, or bounded by cap units) to str; NULL gives ''."""
    if p == NULL:
        return ""
    cdef Py_ssize_t n = 0
    if cap < 0:
        while p[n]:
            n += 1
    else:
        while n < cap and p[n]:
            n += 1
    if n == 0:
        return ""
    cdef int byteorder = -1  # little-endian, as Windows strings are
    return PyUnicode_DecodeUTF16(<const char *>p, n * 2, "replace", &byteorder)


cdef bytes _wide(str s):
    """str to NUL-terminated UTF-16LE bytes, kept alive by the caller for the call's duration."""
    return s.encode("utf-16-le", "surrogatepass") + b"\x00\x00"


cdef object _raise(DWORD err, str function, object server, object session_id):
    raise _error_from_winerror(err, function, server, session_id)


cdef class Provider:
    """One implementation of the WTS surface: ``win32`` (the real wtsapi32) or ``sim``."""
    cdef const wts_provider *p
    cdef readonly str name

    def __repr__(self):
        return f"<wts provider {self.name!r}>"

    def __reduce__(self):
        return (get_provider, (self.name,))


cdef Provider _make_provider(const wts_provider *p):
    cdef Provider prov = Provider.__new__(Provider)
    prov.p = p
    prov.name = p.name.decode("ascii")
    return prov


cdef Provider _SIM = _make_provider(&wts_provider_sim)
cdef Provider _WIN32 = _make_provider(wts_provider_win32) if wts_provider_win32 != NULL else None


def available_providers():
    """Names of the providers compiled into this build, best first."""
    return ("win32", "sim") if _WIN32 is not None else ("sim",)


def get_provider(str name):
    """The provider called ``name``; LookupError when this build has none by that name."""
    if name == "sim":
        return _SIM
    if name == "win32" and _WIN32 is not None:
        return _WIN32
    if name == "win32":
        raise LookupError("the win32 provider exists only on Windows (wtsapi32.dll); "
                          "use provider='sim' or WTS_PROVIDER=sim with WTS_SIM_FARM=<farm.json>")
    raise LookupError(f"unknown WTS provider {name!r}: expected one of {', '.join(available_providers())}")


cdef class ServerHandle:
    """An open RD Session Host: WTSOpenServerW's handle, or WTS_CURRENT_SERVER_HANDLE when name is None.

    Opening sends nothing over the network (as on Windows), so an unreachable server fails on its
    first RPC, not here.
    """
    cdef HANDLE h
    cdef const wts_provider *p
    cdef readonly Provider provider
    cdef readonly object name
    cdef bint opened
    # Calls running without the GIL.  close() from another thread must not free the handle under
    # them: the last call to finish closes it instead.
    cdef int inflight

    def __cinit__(self, Provider provider not None, name=None, bint ex=False):
        self.provider = provider
        self.p = provider.p
        self.name = name
        self.h = NULL
        self.opened = False
        cdef bytes w
        cdef LPWSTR pw
        cdef DWORD err = 0
        if name is None:
            self.opened = True  # WTS_CURRENT_SERVER_HANDLE: nothing to open or close
            return
        if not isinstance(name, str) or not name:
            raise ValueError(f"server name must be a non-empty string, not {name!r}")
        w = _wide(name)
        pw = <LPWSTR><char *>w
        with nogil:
            self.h = self.p.OpenServerExW(pw) if ex else self.p.OpenServerW(pw)
            if self.h == NULL:
                err = wts_get_last_error()
        if self.h == NULL:
            _raise(err, "WTSOpenServerExW" if ex else "WTSOpenServerW", name, None)
        self.opened = True

    def __dealloc__(self):
        if self.h != NULL:
            self.p.CloseServer(self.h)
            self.h = NULL

    @property
    def closed(self):
        return not self.opened

    def close(self):
        """WTSCloseServer; idempotent.  With calls still running, the last of them closes it."""
        self.opened = False
        if self.inflight == 0:
            self._release()

    cdef void _release(self) noexcept:
        cdef HANDLE h = self.h
        self.h = NULL
        if h != NULL:
            with nogil:
                self.p.CloseServer(h)

    cdef inline int _enter(self, HANDLE *h) except -1:
        if not self.opened:
            raise ValueError(f"server {self.name or 'local'} is closed")
        self.inflight += 1
        h[0] = self.h
        return 0

    cdef inline void _leave(self) noexcept:
        self.inflight -= 1
        if not self.opened and self.inflight == 0:
            self._release()

    def enumerate_sessions(self):
        """WTSEnumerateSessionsW (one RPC): [(id, station, state)]."""
        cdef HANDLE h
        self._enter(&h)
        cdef WTS_SESSION_INFOW *info = NULL
        cdef DWORD count = 0, err = 0, i
        cdef BOOL ok
        try:
            with nogil:
                ok = self.p.EnumerateSessionsW(h, 0, 1, &info, &count)
                if not ok:
                    err = wts_get_last_error()
        finally:
            self._leave()
        if not ok:
            _raise(err, "WTSEnumerateSessionsW", self.name, None)
        try:
            return [(info[i].SessionId, _str16(info[i].pWinStationName), <int>info[i].State)
                    for i in range(count)]
        finally:
            self.p.FreeMemory(info)

    def enumerate_sessions_ex(self, record=None, label=None, states=None):
        """WTSEnumerateSessionsExW level 1 (one RPC): sessions with user and domain.

        Without ``record``: [(id, station, state, user, domain)].  With it: ``record`` instances built
        as tuple.__new__(record, (label, id, station, states[state], user, domain)), the cheapest
        way to make a NamedTuple, because bulk listing makes millions of them.
        """
        cdef HANDLE h
        self._enter(&h)
        cdef WTS_SESSION_INFO_1W *info = NULL
        cdef DWORD count = 0, err = 0, level = 1, i
        cdef BOOL ok
        try:
            with nogil:
                ok = self.p.EnumerateSessionsExW(h, &level, 0, &info, &count)
                if not ok:
                    err = wts_get_last_error()
        finally:
            self._leave()
        if not ok:
            _raise(err, "WTSEnumerateSessionsExW", self.name, None)
        try:
            return _session_rows(info, count, record, label, states)
        finally:
            # Plain WTSFreeMemory would leak every string of a level-1 array.
            self.p.FreeMemoryExW(WTSTypeSessionInfoLevel1, info, count)

    def query(self, DWORD session_id, int info_class):
        """WTSQuerySessionInformationW (one RPC), decoded by class.

        Strings -> str; DWORD/USHORT classes -> int; WTSClientAddress -> (family, 20 address bytes);
        WTSClientDisplay -> (width, height, colour depth); WTSSessionInfo and WTSSessionInfoEx ->
        tuples (see session_info / session_info_ex); anything else -> the raw bytes.
        """
        cdef HANDLE h
        self._enter(&h)
        cdef LPWSTR buf = NULL
        cdef DWORD size = 0, err = 0
        cdef BOOL ok
        try:
            with nogil:
                ok = self.p.QuerySessionInformationW(h, session_id, <WTS_INFO_CLASS>info_class, &buf, &size)
                if not ok:
                    err = wts_get_last_error()
        finally:
            self._leave()
        if not ok:
            _raise(err, "WTSQuerySessionInformationW", self.name, session_id)
        try:
            return _decode(info_class, buf, size)
        finally:
            self.p.FreeMemory(buf)

    def session_info_ex(self, DWORD session_id):
        """WTSQuerySessionInformationW(WTSSessionInfoEx) (one RPC):
        (id, state, flags, station, user, domain, logon, connect, disconnect, last_input, current),
        times as FILETIME ticks (0 = none)."""
        return self.query(session_id, IC_SESSION_INFO_EX)

    def disconnect(self, DWORD session_id, bint wait=True):
        """WTSDisconnectSession (one RPC)."""
        self._end_session(session_id, wait, False)

    def logoff(self, DWORD session_id, bint wait=True):
        """WTSLogoffSession (one RPC)."""
        self._end_session(session_id, wait, True)

    cdef int _end_session(self, DWORD session_id, bint wait, bint logoff) except -1:
        # Disconnect and logoff share a signature and a contract; only the function differs.
        cdef HANDLE h
        cdef DWORD err = 0
        cdef BOOL ok
        self._enter(&h)
        try:
            with nogil:
                if logoff:
                    ok = self.p.LogoffSession(h, session_id, wait)
                else:
                    ok = self.p.DisconnectSession(h, session_id, wait)
                if not ok:
                    err = wts_get_last_error()
        finally:
            self._leave()
        if not ok:
            _raise(err, "WTSLogoffSession" if logoff else "WTSDisconnectSession", self.name, session_id)
        return 0

    def send_message(self, DWORD session_id, str title, str text, DWORD style=0, DWORD timeout=0,
                     bint wait=False):
        """WTSSendMessageW (one RPC); returns the response code (IDOK, ..., IDTIMEOUT, IDASYNC)."""
        cdef bytes wt = _wide(title), wm = _wide(text)
        cdef LPWSTR pt = <LPWSTR><char *>wt, pm = <LPWSTR><char *>wm
        # Lengths are in bytes, without the terminator.
        cdef DWORD lt = <DWORD>(len(wt) - 2), lm = <DWORD>(len(wm) - 2)
        cdef DWORD response = 0, err = 0
        cdef BOOL ok
        cdef HANDLE h
        self._enter(&h)
        try:
            with nogil:
                ok = self.p.SendMessageW(h, session_id, pt, lt, pm, lm, style, timeout, &response, wait)
                if not ok:
                    err = wts_get_last_error()
        finally:
            self._leave()
        if not ok:
            _raise(err, "WTSSendMessageW", self.name, session_id)
        return response

    def __repr__(self):
        state = "closed" if not self.opened else "open"
        return f"<wts ServerHandle {self.name or 'local'!s} via {self.provider.name} ({state})>"


cdef list _session_rows(WTS_SESSION_INFO_1W *info, DWORD count, object record, object label, object states):
    """Rows of a WTSEnumerateSessionsExW level-1 array: (id, station, state, user, domain) tuples, or
    ``record`` instances made with tuple.__new__ (the cheapest way to build a NamedTuple)."""
    cdef list out = []
    cdef object state
    cdef Py_ssize_t nstates = len(states) if states is not None else 0
    cdef int s
    cdef DWORD i
    for i in range(count):
        s = <int>info[i].State
        if record is None:
            out.append((info[i].SessionId, _str16(info[i].pSessionName), s,
                        _str16(info[i].pUserName), _str16(info[i].pDomainName)))
        else:
            state = states[s] if 0 <= s < nstates else s
            out.append(tuple.__new__(record, (label, info[i].SessionId, _str16(info[i].pSessionName),
                                              state, _str16(info[i].pUserName),
                                              _str16(info[i].pDomainName))))
    return out


cdef object _decode(int info_class, LPWSTR buf, DWORD size):
    cdef WTSINFOW *wi
    cdef WTSINFOEX_LEVEL1_W *l1
    cdef WTS_CLIENT_ADDRESS *addr
    cdef WTS_CLIENT_DISPLAY *disp
    if info_class in _STRING_CLASSES:
        return _str16(buf, size // 2)
    if info_class in (IC_SESSION_ID, IC_CONNECT_STATE, IC_CLIENT_BUILD_NUMBER, IC_CLIENT_HARDWARE_ID,
                      IC_IS_REMOTE_SESSION) and size >= 4:
        return (<DWORD *>buf)[0]
    if info_class in (IC_CLIENT_PRODUCT_ID, IC_CLIENT_PROTOCOL_TYPE) and size >= 2:
        return (<USHORT *>buf)[0]
    if info_class == IC_CLIENT_ADDRESS and size >= sizeof(WTS_CLIENT_ADDRESS):
        addr = <WTS_CLIENT_ADDRESS *>buf
        return (addr.AddressFamily, bytes((<char *>addr.Address)[:20]))
    if info_class == IC_CLIENT_DISPLAY and size >= sizeof(WTS_CLIENT_DISPLAY):
        disp = <WTS_CLIENT_DISPLAY *>buf
        return (disp.HorizontalResolution, disp.VerticalResolution, disp.ColorDepth)
    if info_class == IC_SESSION_INFO and size >= sizeof(WTSINFOW):
        wi = <WTSINFOW *>buf
        return (wi.SessionId, <int>wi.State, _str16(wi.WinStationName, 32), _str16(wi.UserName, 21),
                _str16(wi.Domain, 17), wi.LogonTime.QuadPart, wi.ConnectTime.QuadPart,
                wi.DisconnectTime.QuadPart, wi.LastInputTime.QuadPart, wi.CurrentTime.QuadPart)
    if info_class == IC_SESSION_INFO_EX and size >= sizeof(WTSINFOEXW):
        if (<WTSINFOEXW *>buf).Level != 1:
            raise ValueError(f"WTSSessionInfoEx returned level {(<WTSINFOEXW *>buf).Level}, expected 1")
        l1 = &(<WTSINFOEXW *>buf).Data.WTSInfoExLevel1
        return (l1.SessionId, <int>l1.SessionState, l1.SessionFlags, _str16(l1.WinStationName, 33),
                _str16(l1.UserName, 21), _str16(l1.DomainName, 18), l1.LogonTime.QuadPart,
                l1.ConnectTime.QuadPart, l1.DisconnectTime.QuadPart, l1.LastInputTime.QuadPart,
                l1.CurrentTime.QuadPart)
    return bytes((<char *>buf)[:size])


def connect_session(Provider provider not None, ULONG logon_id, ULONG target_id, str password="",
                    bint wait=True):
    """WTSConnectSessionW (one local RPC): attach session logon_id to target_id (0xFFFFFFFF: mine)."""
    cdef bytes wp = _wide(password)
    cdef LPWSTR pp = <LPWSTR><char *>wp
    cdef const wts_provider *p = provider.p
    cdef DWORD err = 0
    cdef BOOL ok
    with nogil:
        ok = p.ConnectSessionW(logon_id, target_id, pp, wait)
        if not ok:
            err = wts_get_last_error()
    if not ok:
        _raise(err, "WTSConnectSessionW", None, logon_id)


# --- the simulated farm's controls ---------------------------------------------------------------
#
# One farm per process, driven through these controls.  It is the sim compiled into this module
# (wts_sim.c), unless the process's wtsapi32.dll is itself our simulator: wts_sim.c built with
# -DWTSSIM_AS_WTSAPI exports the wtssim_* controls beside the WTS functions, and the Wine check
# (docs/building.md) loads it in place of Wine's wtsapi32.  Then the farm lives in that DLL: these
# controls drive its exports, and the name "sim" means the win32 provider's table, so every "sim"
# call takes the real Windows path (wts_win32.c, the wtsapi32 import thunks) into the DLL.
# Microsoft's wtsapi32 exports no wtssim_* names, so on a real Windows machine nothing changes.

ctypedef int (*_sim_load_fn)(const char *, size_t, char *, size_t) noexcept nogil
ctypedef int (*_sim_flag_fn)() noexcept nogil
ctypedef char *(*_sim_text_fn)(size_t *) noexcept nogil
ctypedef void (*_sim_free_text_fn)(char *) noexcept nogil
ctypedef int64_t (*_sim_count_fn)() noexcept nogil
ctypedef void (*_sim_action_fn)() noexcept nogil

cdef struct _SimControls:
    _sim_load_fn load
    _sim_flag_fn loaded
    _sim_text_fn dump
    _sim_text_fn rpc_report
    _sim_free_text_fn free_text
    _sim_count_fn outstanding
    _sim_count_fn rpc_total
    _sim_action_fn reset_counters
    _sim_action_fn release_hangs
    _sim_count_fn hung_calls

cdef _SimControls _sim
_sim.load = wtssim_load
_sim.loaded = wtssim_loaded
_sim.dump = wtssim_dump
_sim.rpc_report = wtssim_rpc_report
_sim.free_text = wtssim_free_text
_sim.outstanding = wtssim_outstanding
_sim.rpc_total = wtssim_rpc_total
_sim.reset_counters = wtssim_reset_counters
_sim.release_hangs = wtssim_release_hangs
_sim.hung_calls = wtssim_hung_calls
cdef str _sim_home = "wts._wts"

# Order matches _SimControls.
_SIM_CONTROLS = ("wtssim_load", "wtssim_loaded", "wtssim_dump", "wtssim_rpc_report", "wtssim_free_text",
                 "wtssim_outstanding", "wtssim_rpc_total", "wtssim_reset_counters", "wtssim_release_hangs",
                 "wtssim_hung_calls")


cdef bint _sim_from_wtsapi32() except -1:
    """Point the controls at wtsapi32.dll's wtssim_* exports when it has them; False when it has none."""
    cdef void *f[10]
    cdef Py_ssize_t i
    missing = []
    for i, name in enumerate(_SIM_CONTROLS):
        f[i] = wts_win32_sim_export(name.encode("ascii"))
        if f[i] == NULL:
            missing.append(name)
    if len(missing) == len(_SIM_CONTROLS):
        return False
    if missing:
        raise ImportError(f"wtsapi32.dll exports some of the simulator's controls but not {', '.join(missing)}: "
                          "rebuild it from src/wtsapi/wts_sim.c with -DWTSSIM_AS_WTSAPI")
    _sim.load = <_sim_load_fn>f[0]
    _sim.loaded = <_sim_flag_fn>f[1]
    _sim.dump = <_sim_text_fn>f[2]
    _sim.rpc_report = <_sim_text_fn>f[3]
    _sim.free_text = <_sim_free_text_fn>f[4]
    _sim.outstanding = <_sim_count_fn>f[5]
    _sim.rpc_total = <_sim_count_fn>f[6]
    _sim.reset_counters = <_sim_action_fn>f[7]
    _sim.release_hangs = <_sim_action_fn>f[8]
    _sim.hung_calls = <_sim_count_fn>f[9]
    return True


cdef Provider _named(const wts_provider *p, str name):
    cdef Provider prov = Provider.__new__(Provider)
    prov.p = p
    prov.name = name
    return prov


if wts_provider_win32 != NULL and _sim_from_wtsapi32():
    _SIM = _named(wts_provider_win32, "sim")
    _sim_home = "wtsapi32.dll"


def sim_backend():
    """Where the simulated farm lives: 'wts._wts' (compiled in, reached through the sim provider's own
    table), or 'wtsapi32.dll' when the process's wtsapi32 is our simulator and 'sim' calls go through
    the win32 provider (the Wine check, docs/building.md)."""
    return _sim_home


def sim_load(str text):
    """Install a farm from compiled text (wts._farmfile); atomic: on error the old farm stays."""
    cdef bytes b = text.encode("utf-8")
    cdef char err[512]
    cdef const char *p = b
    cdef size_t n = len(b)
    cdef int rc
    with nogil:
        rc = _sim.load(p, n, err, sizeof(err))
    if rc != 0:
        raise ValueError(f"simulated farm rejected: {err.decode('utf-8', 'replace')}")


def sim_loaded():
    return bool(_sim.loaded())


cdef str _take_text(char *p, size_t n):
    if p == NULL:
        raise MemoryError("the simulated farm could not produce its text")
    try:
        # surrogatepass: message texts may carry lone UTF-16 surrogates, which the sim passes through.
        return p[:n].decode("utf-8", "surrogatepass")
    finally:
        _sim.free_text(p)  # the sim's own free: the text never crosses to another C runtime's heap


def sim_dump():
    """The farm's current state in the load format, plus its message log; None when none is loaded."""
    cdef size_t n = 0
    cdef char *p
    if not _sim.loaded():
        return None
    with nogil:
        p = _sim.dump(&n)
    return _take_text(p, n)


def sim_rpc_counts():
    """{server name: RPCs since the last reset}; key '*' counts RPCs to names not in the farm."""
    cdef size_t n = 0
    cdef char *p = _sim.rpc_report(&n)
    cdef dict out = {}
    for line in _take_text(p, n).splitlines():
        name, _, count = line.rpartition("\t")
        out[name] = int(count)
    return out


def sim_outstanding():
    """Live sim allocations: open server handles plus buffers and strings not yet freed."""
    return _sim.outstanding()


def sim_rpc_total():
    return _sim.rpc_total()


def sim_reset_counters():
    _sim.reset_counters()


def sim_release_hangs():
    """Wake calls blocked on 'hang' servers; each fails with RPC_S_CALL_FAILED (1726)."""
    _sim.release_hangs()


def sim_hung_calls():
    return _sim.hung_calls()


# --- the bulk engine (src/_engine.pxi) ---------------------------------------------------------

include "_engine.pxi"
