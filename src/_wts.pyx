# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""wts._wts: the only compiled module.  It calls the WTS API through the C seam and nothing else.

This file is the core: provider selection and the call wrappers.  Decoding (src/_decode.pxi), the
sim's controls (src/_sim.pxi) and the bulk engine (src/_engine.pxi) are included below; every C
declaration is in src/include/*.pxd.

Every WTS function here is an RPC to the RD Session Host (or can block on one), so each call runs with
the GIL released and reads the last error before anything else can overwrite it.  Every buffer is
freed with its matching free function.  Results come back as plain tuples or as records built here in
C (for bulk listing); wts._server turns them into the public API, and wts._errors turns Win32 error
codes into exceptions.
"""
import sys

from cpython.unicode cimport PyUnicode_DecodeUTF16
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, free

from wtsdecl cimport *  # src/include/wtsdecl.pxd: the seam
from wtssim cimport *  # src/include/wtssim.pxd: the compiled-in sim's controls
from wtsengine cimport *  # src/include/wtsengine.pxd: the bulk engine
from wtslogon cimport *  # src/include/wtslogon.pxd: alternate credentials for win32 and sim

from wts._errors import error_from_winerror as _error_from_winerror, explained as _explained

include "_decode.pxi"  # UTF-16 and the SDK's structs <-> Python values and records

__all__ = [
    "Provider", "ServerHandle", "get_provider", "available_providers", "connect_session", "tsts_provider",
    "sim_load", "sim_loaded", "sim_dump", "sim_rpc_counts", "sim_outstanding", "sim_rpc_total",
    "sim_reset_counters", "sim_release_hangs", "sim_hung_calls", "CURRENT_SESSION", "ANY_SESSION",
    "logon_provider", "sim_set_logon_accounts", "sim_logon_counts",
]

CURRENT_SESSION = WTS_CURRENT_SESSION
ANY_SESSION = WTS_ANY_SESSION

cdef object _raise(DWORD err, str function, object server, object session_id, Provider provider=None):
    """The error of a failed call; with the provider (tsts), why it failed where the client said."""
    if provider is not None:
        raise provider.error(err, function, server, session_id)
    raise _error_from_winerror(err, function, server, session_id)


cdef class Provider:
    """One implementation of the WTS surface: ``win32`` (the real wtsapi32) or ``sim``."""
    cdef const wts_provider *p
    cdef readonly str name
    # tsts only: the wts._tsts._client.Connections its opens use (credentials, timeouts, sessions).
    cdef readonly object connections
    # win32 and sim with alternate credentials (logon_provider): the logon each call impersonates, and
    # who it is (DOMAIN\user; never the password).  NULL once close_logon() has let go of it.
    cdef wts_logon *logon
    cdef readonly object principal

    def __dealloc__(self):
        if self.logon != NULL:
            wts_logon_release(self.logon)
            self.logon = NULL

    def error(self, code, function, server, session_id=None):
        """The exception for a call through this provider to ``server`` that failed with ``code``:
        Windows' text, and after it why, where the provider knows more than the code (tsts: the
        client's reason, taken once)."""
        detail = _explained(code, _tsts_reason(self, server, code))
        return _error_from_winerror(code, function, server, session_id, detail)

    def close_logon(self):
        """Let go of the logon (the token closes when no call still uses it); idempotent.  Opening a
        server through this provider afterwards is a ValueError, never a call as this process's user."""
        cdef wts_logon *logon = self.logon
        self.logon = NULL
        if logon != NULL:
            wts_logon_release(logon)

    cdef wts_logon *_logon(self) except? NULL:
        if self.principal is not None and self.logon == NULL:
            raise ValueError(f"the {self.name} provider's logon as {self.principal} is closed")
        return self.logon

    def __repr__(self):
        if self.principal is not None:
            return f"<wts provider {self.name!r} as {self.principal!r}>"
        return f"<wts provider {self.name!r}>"

    def __reduce__(self):
        if self.principal is not None:
            raise TypeError("a provider with credentials does not pickle: the pickle would hold the password")
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


cdef WCHAR *_wide_secret(str text, size_t *units) except NULL:
    """``text`` as UTF-16 in malloc'd memory with a NUL, written straight from the str (no bytes object
    left behind holding it); the caller wipes and frees it."""
    cdef Py_ssize_t n = 0, i = 0
    cdef Py_UCS4 c
    for c in text:
        n += 2 if c > 0xFFFF else 1
    cdef WCHAR *w = <WCHAR *>malloc((n + 1) * sizeof(WCHAR))
    if w == NULL:
        raise MemoryError()
    cdef unsigned int u
    for c in text:
        u = <unsigned int>c
        if u > 0xFFFF:
            u -= 0x10000
            w[i] = <WCHAR>(0xD800 + (u >> 10))
            w[i + 1] = <WCHAR>(0xDC00 + (u & 0x3FF))
            i += 2
        else:
            w[i] = <WCHAR>u
            i += 1
    w[n] = 0
    units[0] = <size_t>n
    return w


def logon_provider(Provider base not None, str user not None, str domain not None, str password not None):
    """``base`` (win32 or sim) making every call under alternate credentials, as ``runas /netonly``:
    LogonUserW(LOGON32_LOGON_NEW_CREDENTIALS, LOGON32_PROVIDER_WINNT50) now, and each calling thread
    impersonating the token around each call.  The password is copied into native memory only for the
    LogonUserW call and wiped right after.  A failed logon raises its Win32 error (LogonUserW)."""
    cdef const wts_logon_ops *ops
    if base.name == "sim":  # compiled in, or in a wtsapi32.dll that is the sim (reached through its exports)
        ops = &wts_logon_ops_sim
    elif base.p == wts_provider_win32 and wts_provider_win32 != NULL:
        ops = wts_logon_ops_win32
    else:
        raise ValueError(f"the {base.name} provider takes no alternate logon of this kind")
    cdef bytes wu = _wide(user), wd = _wide(domain)
    cdef const WCHAR *pu = <const WCHAR *><char *>wu
    cdef const WCHAR *pd = <const WCHAR *><char *>wd
    cdef size_t units = 0
    cdef WCHAR *pw = _wide_secret(password, &units)
    cdef DWORD err = 0
    cdef wts_logon *logon
    try:
        with nogil:
            logon = wts_logon_new(ops, pu, pd, pw, units, &err)  # wipes pw
    finally:
        wts_wipe(pw, (units + 1) * sizeof(WCHAR))
        free(pw)
    if logon == NULL:
        who = f"{domain}\\{user}" if domain else user
        raise _error_from_winerror(err, f"LogonUserW as {who}", None, None)
    cdef Provider prov = _make_provider(base.p)
    prov.logon = logon
    prov.principal = f"{domain}\\{user}" if domain else user
    return prov


def sim_set_logon_accounts(accounts):
    """The accounts the sim's alternate logons are checked against: (domain, user, password) triples."""
    cdef list parts = []
    for domain, user, password in accounts:
        parts += [domain, user, password]
    cdef str text = "".join(f"{part}\0" for part in parts)
    cdef size_t units = 0
    cdef WCHAR *w = _wide_secret(text, &units)
    cdef int rc
    try:
        rc = wts_logon_sim_set_accounts(w, units)
    finally:
        wts_wipe(w, (units + 1) * sizeof(WCHAR))
        free(w)
    if rc != 0:
        raise MemoryError()


def sim_logon_counts():
    """The sim's alternate logons: (tokens open, impersonations, reverts, impersonations refused)."""
    cdef int64_t out[4]
    wts_logon_sim_counts(out)
    return (out[0], out[1], out[2], out[3])


def get_provider(str name):
    """The provider called ``name``; LookupError when this build has none by that name."""
    if name == "sim":
        return _SIM
    if name == "win32" and _WIN32 is not None:
        return _WIN32
    if name == "tsts":
        return _TSTS
    if name == "win32":
        raise LookupError("the win32 provider exists only on Windows (wtsapi32.dll); "
                          "use provider='sim' or WTS_PROVIDER=sim with WTS_SIM_FARM=<farm.json>")
    raise LookupError(f"unknown WTS provider {name!r}: expected one of {', '.join(available_providers())}, tsts")


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
    # The provider's alternate logon (a reference of our own), impersonated around each call; or NULL.
    cdef wts_logon *logon

    def __cinit__(self, Provider provider not None, name=None, bint ex=False):
        self.provider = provider
        self.p = provider.p
        self.name = name
        self.h = NULL
        self.opened = False
        self.logon = provider._logon()
        wts_logon_retain(self.logon)
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
        _tsts_opening(provider)
        with nogil:
            self.h = self.p.OpenServerExW(pw) if ex else self.p.OpenServerW(pw)
            if self.h == NULL:
                err = wts_get_last_error()
        if self.h == NULL:
            _raise(err, "WTSOpenServerExW" if ex else "WTSOpenServerW", name, None, provider)
        self.opened = True

    def __dealloc__(self):
        if self.h != NULL:
            self.p.CloseServer(self.h)
            self.h = NULL
        wts_logon_release(self.logon)
        self.logon = NULL

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
        cdef wts_logon *logon = self.logon
        self.h = NULL
        self.logon = NULL
        if h != NULL:
            with nogil:
                self.p.CloseServer(h)
        wts_logon_release(logon)  # the last holder closes the token

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
        cdef HANDLE h = NULL  # set by _enter (gcc cannot see it)
        self._enter(&h)
        cdef WTS_SESSION_INFOW *info = NULL
        cdef DWORD count = 0, err = 0, i
        cdef BOOL ok
        try:
            with nogil:
                if wts_logon_enter(self.logon, &err):  # alternate credentials: this call only
                    ok = self.p.EnumerateSessionsW(h, 0, 1, &info, &count)
                    if not ok:
                        err = wts_get_last_error()
                    wts_logon_leave(self.logon)
                else:
                    ok = False
        finally:
            self._leave()
        if not ok:
            _raise(err, "WTSEnumerateSessionsW", self.name, None, self.provider)
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
        cdef HANDLE h = NULL  # set by _enter (gcc cannot see it)
        self._enter(&h)
        cdef WTS_SESSION_INFO_1W *info = NULL
        cdef DWORD count = 0, err = 0, level = 1, i
        cdef BOOL ok
        try:
            with nogil:
                if wts_logon_enter(self.logon, &err):  # alternate credentials: this call only
                    ok = self.p.EnumerateSessionsExW(h, &level, 0, &info, &count)
                    if not ok:
                        err = wts_get_last_error()
                    wts_logon_leave(self.logon)
                else:
                    ok = False
        finally:
            self._leave()
        if not ok:
            _raise(err, "WTSEnumerateSessionsExW", self.name, None, self.provider)
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
        cdef HANDLE h = NULL  # set by _enter (gcc cannot see it)
        self._enter(&h)
        cdef LPWSTR buf = NULL
        cdef DWORD size = 0, err = 0
        cdef BOOL ok
        try:
            with nogil:
                if wts_logon_enter(self.logon, &err):  # alternate credentials: this call only
                    ok = self.p.QuerySessionInformationW(h, session_id, <WTS_INFO_CLASS>info_class, &buf, &size)
                    if not ok:
                        err = wts_get_last_error()
                    wts_logon_leave(self.logon)
                else:
                    ok = False
        finally:
            self._leave()
        if not ok:
            _raise(err, "WTSQuerySessionInformationW", self.name, session_id, self.provider)
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
        cdef HANDLE h = NULL  # set by _enter (gcc cannot see it)
        cdef DWORD err = 0
        cdef BOOL ok
        self._enter(&h)
        try:
            with nogil:
                if wts_logon_enter(self.logon, &err):
                    if logoff:
                        ok = self.p.LogoffSession(h, session_id, wait)
                    else:
                        ok = self.p.DisconnectSession(h, session_id, wait)
                    if not ok:
                        err = wts_get_last_error()
                    wts_logon_leave(self.logon)
                else:
                    ok = False
        finally:
            self._leave()
        if not ok:
            _raise(err, "WTSLogoffSession" if logoff else "WTSDisconnectSession", self.name, session_id,
                   self.provider)
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
        cdef HANDLE h = NULL  # set by _enter (gcc cannot see it)
        self._enter(&h)
        try:
            with nogil:
                if wts_logon_enter(self.logon, &err):  # alternate credentials: this call only
                    ok = self.p.SendMessageW(h, session_id, pt, lt, pm, lm, style, timeout, &response, wait)
                    if not ok:
                        err = wts_get_last_error()
                    wts_logon_leave(self.logon)
                else:
                    ok = False
        finally:
            self._leave()
        if not ok:
            _raise(err, "WTSSendMessageW", self.name, session_id, self.provider)
        return response

    def processes(self, DWORD session_id=WTS_ANY_SESSION):
        """WTSEnumerateProcessesExW level 1 (one RPC; ANY_SESSION: every session's) and a LookupAccountSidW
        on this server per distinct SID, except the well-known service accounts (src/wtsapi/wts_accounts.h):
        rows as _process_rows makes them.  The array is freed with WTSFreeMemoryExW(WTSTypeProcessInfoLevel1)."""
        cdef HANDLE h = NULL  # set by _enter (gcc cannot see it)
        cdef bytes w = _wide(self.name) if self.name is not None else None
        cdef const WCHAR *server = <const WCHAR *><char *>w if w is not None else NULL
        cdef wts_process_list *plist = NULL
        cdef DWORD err = 0
        self._enter(&h)
        try:
            with nogil:
                if wts_logon_enter(self.logon, &err):
                    plist = wts_process_list_get(self.p, h, server, session_id, &err)
                    wts_logon_leave(self.logon)
        finally:
            self._leave()
        if plist == NULL:
            _raise(err, "WTSEnumerateProcessesExW", self.name,
                   None if session_id == WTS_ANY_SESSION else session_id, self.provider)
        try:
            return _process_rows(plist)
        finally:
            wts_process_list_free(self.p, plist)

    def terminate_process(self, DWORD process_id, DWORD exit_code=0):
        """WTSTerminateProcess (one RPC)."""
        cdef HANDLE h = NULL  # set by _enter (gcc cannot see it)
        cdef DWORD err = 0
        cdef BOOL ok
        self._enter(&h)
        try:
            with nogil:
                if wts_logon_enter(self.logon, &err):  # alternate credentials: this call only
                    ok = self.p.TerminateProcess(h, process_id, exit_code)
                    if not ok:
                        err = wts_get_last_error()
                    wts_logon_leave(self.logon)
                else:
                    ok = False
        finally:
            self._leave()
        if not ok:
            _raise(err, "WTSTerminateProcess", self.name, None, self.provider)

    def __repr__(self):
        state = "closed" if not self.opened else "open"
        return f"<wts ServerHandle {self.name or 'local'!s} via {self.provider.name} ({state})>"


def decode_query(int info_class, bytes raw not None):
    """Decodes what WTSQuerySessionInformationW handed back for info_class (its bytes, as many as it
    reported) exactly as ServerHandle.query does; for tests, and for bytes captured on a real server."""
    return _decode(info_class, <LPWSTR><char *>raw, <DWORD>len(raw))


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


# --- the simulated farm's controls, and the bulk engine -----------------------------------------

include "_sim.pxi"     # the farm compiled in, or in wtsapi32.dll when that DLL is our simulator
include "_engine.pxi"  # the bulk engine's Python face
include "_tsts.pxi"    # the tsts provider: MS-TSTS over SMB, a table of callbacks into wts._tsts
include "_sockio.pxi"  # one SMB exchange on a socket with the GIL released once (the tsts Wire)

cdef Provider _TSTS = tsts_provider()  # "tsts" with the process's default connections
