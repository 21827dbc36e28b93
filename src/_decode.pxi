# Included by src/_wts.pyx: decoding.  What the WTS calls hand back (UTF-16 strings, the SDK's structs)
# becomes Python values and records here, and Python strings become the UTF-16 the calls take.
# Nothing here calls the API or owns a buffer: the caller frees what it passed in.

# Info classes decoded specially (values from the SDK's WTS_INFO_CLASS).
cdef enum:
    IC_OEM_ID = 3
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

# Which info classes return UTF-16 strings.  Not WTSOEMId (3): its bytes are ANSI (CHAR[4]).
cdef frozenset _STRING_CLASSES = frozenset({0, 1, 2, 5, 6, 7, 10, 11})
# The ANSI code page's codec: Windows' own; elsewhere (the sim, which answers ASCII) Latin-1, which
# decodes any byte.
cdef str _ANSI = "mbcs" if sys.platform == "win32" else "latin-1"


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
    if info_class == IC_OEM_ID:
        # ANSI bytes, up to the first NUL if there is one.
        return bytes((<char *>buf)[:size]).split(b"\x00", 1)[0].decode(_ANSI, "replace")
    if info_class == IC_IS_REMOTE_SESSION and size >= 1:
        # Windows answers one byte, a BOOLEAN (pywin32 #2152); a DWORD (BOOL) is accepted too.
        return (<DWORD *>buf)[0] != 0 if size >= 4 else (<unsigned char *>buf)[0] != 0
    if info_class in (IC_SESSION_ID, IC_CONNECT_STATE, IC_CLIENT_BUILD_NUMBER, IC_CLIENT_HARDWARE_ID) and size >= 4:
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


cdef list _process_rows(wts_process_list *plist):
    """Rows of a process list (wts_accounts.h): (session id, pid, image name, user, domain, sid, threads,
    handles, pagefile, peak pagefile, working set, peak working set, user time, kernel time), times in
    100 ns units; user, domain and sid '' where the process has no SID or it could not be named.
    wts._types.process_from_row makes them Process records."""
    cdef list out = []
    cdef list accounts = []
    cdef WTS_PROCESS_INFO_EXW *r
    cdef size_t a
    cdef DWORD i
    for a in range(plist.naccounts):
        accounts.append((_str16(plist.accounts[a].user), _str16(plist.accounts[a].domain),
                         _str16(plist.accounts[a].sid)))
    cdef tuple none = ("", "", "")
    cdef tuple acc
    for i in range(plist.count):
        r = &plist.rows[i]
        a = plist.account_of[i]
        acc = accounts[a - 1] if a else none
        out.append((r.SessionId, r.ProcessId, _str16(r.pProcessName), acc[0], acc[1], acc[2], r.NumberOfThreads,
                    r.HandleCount, r.PagefileUsage, r.PeakPagefileUsage, r.WorkingSetSize, r.PeakWorkingSetSize,
                    r.UserTime.QuadPart, r.KernelTime.QuadPart))
    return out
