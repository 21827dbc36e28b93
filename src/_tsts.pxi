# Included by src/_wts.pyx: the tsts provider, MS-TSTS over SMB, as one more wts_provider table.
#
# Its functions are Cython callbacks that take the GIL and call the Python client (wts._tsts._client),
# so Server, Farm, the engine's native workers, deadlines and the CLI use it exactly as they use the
# sim or wtsapi32.  Each callback builds what wtsapi32 hands back (WTS_SESSION_INFO_1W arrays with
# their strings, the query classes' structs) in ONE malloc'd block, which this table's FreeMemory and
# FreeMemoryExW release with free(); failures set the thread's last error to the client's Win32 code.
#
# A HANDLE is a strong reference to the server's Client (one per server name in the provider's
# Connections, which keep its SMB session and pipes for the next call); CloseServer drops it.  Which
# Connections (credentials, connect timeout) an open belongs to is the Provider's: ServerHandle and
# Host name the provider they open through in _tsts_opening() just before calling OpenServerW, in
# the same thread, and the callback takes it from there.

from cpython.ref cimport PyObject, Py_INCREF, Py_DECREF
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset

import threading as _threading

cdef object _tsts_pending = _threading.local()   # .connections: what the next OpenServerW in this thread uses
cdef object _tsts_default = None                 # the bare "tsts" provider's Connections, made when first used
cdef wts_provider _tsts_table
cdef void *_tsts_fns[WTS_TSTS_COUNT]


# The engine's workers are C threads: each callback's "with gil" would make a Python thread state
# for the call and destroy it after (PyGILState_Ensure/Release with no state of the thread's own:
# an allocation, a frame stack mapped and unmapped, a dozen locks).  A worker's first callback pins
# one (one more PyGILState_Ensure), kept for the worker's life; the engine's thread-exit hook lets
# it go.  Python's own threads (a Server without timeout calls in its caller's thread) have theirs.
cdef extern from *:
    """
    #if defined(_MSC_VER)
    #  define WTS_TSTS_TLS __declspec(thread)
    #else
    #  define WTS_TSTS_TLS _Thread_local
    #endif
    static WTS_TSTS_TLS int wts_tsts_pinned;

    /* The GIL held: keep this worker thread's Python thread state past the callback. */
    static void wts_tsts_pin(void)
    {
        if (!wts_tsts_pinned && wts_engine_on_worker()) {
            (void)PyGILState_Ensure();
            wts_tsts_pinned = 1;
        }
    }

    /* The engine's thread-exit hook (no GIL, no engine lock): the pinned thread state goes. */
    static void wts_tsts_unpin(void)
    {
        if (!wts_tsts_pinned) return;
        wts_tsts_pinned = 0;
    #if PY_VERSION_HEX >= 0x030D0000
        if (!Py_IsInitialized() || Py_IsFinalizing()) return;
    #else
        if (!Py_IsInitialized() || _Py_IsFinalizing()) return;
    #endif
        PyGILState_STATE state = PyGILState_Ensure();
        PyGILState_Release(PyGILState_LOCKED); /* the pin's */
        PyGILState_Release(state);             /* the last: the thread state is cleared and freed */
    }
    """
    void wts_tsts_pin() noexcept
    void wts_tsts_unpin() noexcept nogil

wts_engine_set_thread_exit(wts_tsts_unpin)


cdef object _tsts_client_module():
    from wts._tsts import _client  # deferred: smbprotocol and pyspnego load only when tsts is used
    return _client


cdef int _tsts_opening(Provider provider) except -1:
    """Called by ServerHandle and Host right before the provider's OpenServerW, in the same thread."""
    global _tsts_default
    if provider.p != &_tsts_table:
        return 0
    connections = provider.connections
    if connections is None:
        if _tsts_default is None:
            _tsts_default = _tsts_client_module().Connections()
        connections = _tsts_default
    _tsts_pending.connections = connections
    return 0


cdef DWORD _tsts_code(object exc):
    """The Win32 code of a failure in the client (RPC_S_CALL_FAILED for anything unexpected)."""
    code = getattr(exc, "winerror", None)
    if isinstance(code, int) and 0 < code < (1 << 32):
        return <DWORD>code
    if isinstance(exc, MemoryError):
        return WTS_ERROR_NOT_ENOUGH_MEMORY
    return WTS_RPC_S_CALL_FAILED


cdef DWORD _tsts_failed(object exc, object client):
    """_tsts_code, with why kept in the client's Connections for the error raised past the seam."""
    cdef DWORD code = _tsts_code(exc)
    try:
        client.note_failure(code, exc)
    except BaseException:
        pass
    return code


def _tsts_reason(Provider provider, server, DWORD code):
    """Why the last call through ``provider`` to ``server`` failed with ``code``, when the tsts client
    said (taken once); None for other providers."""
    if provider.p != &_tsts_table or not isinstance(server, str):
        return None
    connections = provider.connections if provider.connections is not None else _tsts_default
    return None if connections is None else connections.failure_reason(server, code)


cdef inline object _tsts_client(HANDLE h):
    return <object><PyObject *>h


cdef HANDLE __stdcall _tsts_open(LPWSTR name) noexcept nogil:
    cdef HANDLE h = NULL
    cdef DWORD err = 0
    with gil:
        wts_tsts_pin()
        try:
            connections = getattr(_tsts_pending, "connections", None)
            _tsts_pending.connections = None
            if connections is None:
                raise RuntimeError("tsts: OpenServerW without a provider")  # only wts._wts opens it
            if name == NULL:
                err = WTS_ERROR_NOT_SUPPORTED  # no "local server" over the network: name one
            else:
                client = connections.client(_str16(name))
                Py_INCREF(client)
                h = <HANDLE><PyObject *>client
        except BaseException as exc:
            err = _tsts_code(exc)
    if h == NULL:
        wts_set_last_error(err)
    return h


cdef void __stdcall _tsts_close(HANDLE h) noexcept nogil:
    if h == NULL:
        return
    with gil:
        wts_tsts_pin()
        Py_DECREF(<object><PyObject *>h)


cdef void *_tsts_block(Py_ssize_t head, list strings) except NULL:
    """One malloc'd block: ``head`` zeroed bytes, then each UTF-16 string with its NUL."""
    cdef Py_ssize_t size = head
    cdef bytes s
    for s in strings:
        size += len(s) + 2
    cdef char *block = <char *>malloc(size if size > 0 else 1)
    if block == NULL:
        raise MemoryError()
    memset(block, 0, size if size > 0 else 1)
    return block


cdef LPWSTR _tsts_put(char *block, Py_ssize_t *at, bytes s):
    cdef LPWSTR p = <LPWSTR>(block + at[0])
    memcpy(block + at[0], <const char *>s, len(s))
    at[0] += len(s) + 2  # the NUL is already there (the block is zeroed)
    return p


cdef void *_tsts_rows_ex(list rows, DWORD *count) except NULL:
    """WTS_SESSION_INFO_1W[len(rows)] and their strings, in one block."""
    cdef Py_ssize_t n = len(rows), i, at
    cdef list strings = []
    for row in rows:
        strings.extend(_tsts_wide(row[k]) for k in range(3, 8))
    cdef char *block = <char *>_tsts_block(n * sizeof(WTS_SESSION_INFO_1W), strings)
    cdef WTS_SESSION_INFO_1W *info = <WTS_SESSION_INFO_1W *>block
    at = n * sizeof(WTS_SESSION_INFO_1W)
    for i in range(n):
        row = rows[i]
        info[i].ExecEnvId = <DWORD>row[0]
        info[i].State = <WTS_CONNECTSTATE_CLASS>(<int>row[1])
        info[i].SessionId = <DWORD>row[2]
        info[i].pSessionName = _tsts_put(block, &at, strings[5 * i])
        info[i].pHostName = _tsts_put(block, &at, strings[5 * i + 1])
        info[i].pUserName = _tsts_put(block, &at, strings[5 * i + 2])
        info[i].pDomainName = _tsts_put(block, &at, strings[5 * i + 3])
        info[i].pFarmName = _tsts_put(block, &at, strings[5 * i + 4])
    count[0] = <DWORD>n
    return block


cdef void *_tsts_rows(list rows, DWORD *count) except NULL:
    """WTS_SESSION_INFOW[len(rows)] (id, station, state) and their strings, in one block."""
    cdef Py_ssize_t n = len(rows), i, at
    cdef list strings = [_tsts_wide(row[3]) for row in rows]
    cdef char *block = <char *>_tsts_block(n * sizeof(WTS_SESSION_INFOW), strings)
    cdef WTS_SESSION_INFOW *info = <WTS_SESSION_INFOW *>block
    at = n * sizeof(WTS_SESSION_INFOW)
    for i in range(n):
        info[i].SessionId = <DWORD>rows[i][2]
        info[i].State = <WTS_CONNECTSTATE_CLASS>(<int>rows[i][1])
        info[i].pWinStationName = _tsts_put(block, &at, strings[i])
    count[0] = <DWORD>n
    return block


cdef bytes _tsts_wide(str s):
    return s.encode("utf-16-le", "surrogatepass")


# RpcGetAllSessions' answer at level 2 (MS-TSTS 3.7.4.1.4): pLevel, the array's referent id and
# conformance, the EXECENVDATA entries (Level, union tag, then EXECENVDATA_LEVEL2: 352 bytes each, the
# layout of wts._tsts._calls._EXEC_ENV_2), pcEntries, the status.
DEF _TSTS_ENV2 = 352
DEF _TSTS_WCHARS = 33  # WCHAR[WINSTATIONNAME_LENGTH + 1]
cdef int _TSTS_NAME_AT[5]  # SessionName, HostName, UserName, DomainName, FarmName
_TSTS_NAME_AT[:] = [16, 88, 154, 220, 286]


cdef inline DWORD _tsts_u32(const unsigned char *p) noexcept nogil:
    return <DWORD>p[0] | (<DWORD>p[1] << 8) | (<DWORD>p[2] << 16) | (<DWORD>p[3] << 24)


cdef inline Py_ssize_t _tsts_units(const unsigned char *p) noexcept nogil:
    """Units of a WCHAR[33] before its first NUL; -1 when one is a surrogate (the Python decoder's
    replacement rules then decide, not this path)."""
    cdef Py_ssize_t n = 0
    cdef unsigned int u
    while n < _TSTS_WCHARS:
        u = p[2 * n] | (<unsigned int>p[2 * n + 1] << 8)
        if u == 0:
            break
        if 0xD800 <= u <= 0xDFFF:
            return -1
        n += 1
    return n


cdef void *_tsts_answer_ex(bytes stub, DWORD *count) except? NULL:
    """WTS_SESSION_INFO_1W[n] and their strings, in one block, read straight from a successful
    level-2 answer (the rows ``Client.session_rows`` would give, without building them in Python
    and encoding them again); NULL, no exception, for any other answer: the caller decodes it in
    Python, which says what is wrong with it.  The strings are copied unit for unit (UTF-16LE on
    the wire, WCHAR in memory: both little-endian on every target)."""
    cdef const unsigned char *p = <const unsigned char *>(<const char *>stub)
    cdef Py_ssize_t size = len(stub), n, i, k, at, units, total
    cdef const unsigned char *e
    if size < 20 or _tsts_u32(p) != 2 or _tsts_u32(p + 4) == 0:
        return NULL
    n = _tsts_u32(p + 8)
    if n == 0 or n > (size - 20) // _TSTS_ENV2 or size != 12 + n * _TSTS_ENV2 + 8:
        return NULL
    if _tsts_u32(p + size - 4) != 0:
        return NULL  # a failure status: the Python path raises it with its Win32 code
    total = n * sizeof(WTS_SESSION_INFO_1W)
    for i in range(n):
        e = p + 12 + i * _TSTS_ENV2
        # level and tag 2; ExecEnvId and SessionId (LONGs) not negative, as the Python path needs
        if _tsts_u32(e) != 2 or _tsts_u32(e + 4) != 2 or _tsts_u32(e + 8) >= 0x80000000 or _tsts_u32(e + 84) >= 0x80000000:
            return NULL
        for k in range(5):
            units = _tsts_units(e + _TSTS_NAME_AT[k])
            if units < 0:
                return NULL
            total += 2 * (units + 1)
    cdef char *block = <char *>malloc(total)
    if block == NULL:
        raise MemoryError()
    memset(block, 0, total)
    cdef WTS_SESSION_INFO_1W *info = <WTS_SESSION_INFO_1W *>block
    cdef LPWSTR *names[5]
    at = n * sizeof(WTS_SESSION_INFO_1W)
    for i in range(n):
        e = p + 12 + i * _TSTS_ENV2
        info[i].ExecEnvId = _tsts_u32(e + 8)
        info[i].State = <WTS_CONNECTSTATE_CLASS>(<int>_tsts_u32(e + 12))
        info[i].SessionId = _tsts_u32(e + 84)
        names[0] = &info[i].pSessionName
        names[1] = &info[i].pHostName
        names[2] = &info[i].pUserName
        names[3] = &info[i].pDomainName
        names[4] = &info[i].pFarmName
        for k in range(5):
            units = _tsts_units(e + _TSTS_NAME_AT[k])
            names[k][0] = <LPWSTR>(block + at)
            memcpy(block + at, e + _TSTS_NAME_AT[k], 2 * units)
            at += 2 * (units + 1)  # the NUL is already there (the block is zeroed)
    count[0] = <DWORD>n
    return block


cdef void *_tsts_sessions_ex(object client, DWORD *count) except NULL:
    cdef bytes stub = client.sessions_answer()
    cdef void *block = _tsts_answer_ex(stub, count)
    if block == NULL:
        block = _tsts_rows_ex(client.session_rows(stub), count)
    return block


cdef BOOL __stdcall _tsts_enum_ex(HANDLE h, DWORD *level, DWORD flt, WTS_SESSION_INFO_1W **out,
                                   DWORD *count) noexcept nogil:
    cdef void *block = NULL
    cdef DWORD err = WTS_ERROR_INVALID_HANDLE
    if h != NULL and level != NULL and out != NULL and count != NULL:
        with gil:
            wts_tsts_pin()
            try:
                block = _tsts_sessions_ex(_tsts_client(h), count)
            except BaseException as exc:
                err = _tsts_failed(exc, _tsts_client(h))
    if block == NULL:
        wts_set_last_error(err)
        return 0
    level[0] = 1
    out[0] = <WTS_SESSION_INFO_1W *>block
    return 1


cdef BOOL __stdcall _tsts_enum(HANDLE h, DWORD reserved, DWORD version, WTS_SESSION_INFOW **out,
                                DWORD *count) noexcept nogil:
    cdef void *block = NULL
    cdef DWORD err = WTS_ERROR_INVALID_HANDLE
    if h != NULL and out != NULL and count != NULL:
        with gil:
            wts_tsts_pin()
            try:
                block = _tsts_rows(_tsts_client(h).sessions(), count)
            except BaseException as exc:
                err = _tsts_failed(exc, _tsts_client(h))
    if block == NULL:
        wts_set_last_error(err)
        return 0
    out[0] = <WTS_SESSION_INFOW *>block
    return 1


cdef char *_tsts_query_block(object client, DWORD session_id, int info_class, DWORD *size) except NULL:
    cdef bytes data = client.query(session_id, info_class)
    cdef char *block = <char *>malloc(len(data) if len(data) else 1)
    if block == NULL:
        raise MemoryError()
    memcpy(block, <const char *>data, len(data))
    size[0] = <DWORD>len(data)
    return block


cdef BOOL __stdcall _tsts_query(HANDLE h, DWORD session_id, WTS_INFO_CLASS info_class, LPWSTR *out,
                                 DWORD *size) noexcept nogil:
    cdef char *block = NULL
    cdef DWORD err = WTS_ERROR_INVALID_HANDLE
    if h != NULL and out != NULL and size != NULL:
        with gil:
            wts_tsts_pin()
            try:
                block = _tsts_query_block(_tsts_client(h), session_id, <int>info_class, size)
            except BaseException as exc:
                err = _tsts_failed(exc, _tsts_client(h))
    if block == NULL:
        wts_set_last_error(err)
        return 0
    out[0] = <LPWSTR>block
    return 1


cdef BOOL _tsts_act(HANDLE h, DWORD session_id, bint logoff, bint wait) noexcept nogil:
    cdef DWORD err = WTS_ERROR_INVALID_HANDLE
    if h != NULL:
        with gil:
            wts_tsts_pin()
            try:
                if logoff:
                    _tsts_client(h).logoff(session_id, wait)
                else:
                    _tsts_client(h).disconnect(session_id, wait)
                err = 0
            except BaseException as exc:
                err = _tsts_failed(exc, _tsts_client(h))
    if err:
        wts_set_last_error(err)
        return 0
    return 1


cdef BOOL __stdcall _tsts_disconnect(HANDLE h, DWORD session_id, BOOL wait) noexcept nogil:
    return _tsts_act(h, session_id, False, wait != 0)


cdef BOOL __stdcall _tsts_logoff(HANDLE h, DWORD session_id, BOOL wait) noexcept nogil:
    return _tsts_act(h, session_id, True, wait != 0)


cdef BOOL __stdcall _tsts_message(HANDLE h, DWORD session_id, LPWSTR title, DWORD title_bytes, LPWSTR text,
                                   DWORD text_bytes, DWORD style, DWORD timeout, DWORD *response,
                                   BOOL wait) noexcept nogil:
    cdef DWORD err = WTS_ERROR_INVALID_HANDLE
    if h != NULL and response != NULL:
        with gil:
            wts_tsts_pin()
            try:
                response[0] = <DWORD>_tsts_client(h).message(
                    session_id, _str16(title, title_bytes // 2), _str16(text, text_bytes // 2), style, timeout,
                    bool(wait))
                err = 0
            except BaseException as exc:
                err = _tsts_failed(exc, _tsts_client(h))
    if err:
        wts_set_last_error(err)
        return 0
    return 1


cdef BOOL __stdcall _tsts_connect(ULONG logon_id, ULONG target_id, LPWSTR password, BOOL wait) noexcept nogil:
    # WTSConnectSessionW names no server: it acts on this machine, which MS-TSTS does not reach
    # (a remote connect is ConnectRemoteSessionW, with the server's handle).
    wts_set_last_error(WTS_ERROR_NOT_SUPPORTED)
    return 0


cdef BOOL __stdcall _tsts_connect_remote(HANDLE h, ULONG logon_id, ULONG target_id, LPWSTR password,
                                         BOOL wait) noexcept nogil:
    # RpcOpenSession(logon_id) + RpcConnect(target_id, password) + RpcCloseSession, as tscon over the network
    cdef DWORD err = WTS_ERROR_INVALID_HANDLE
    if h != NULL:
        with gil:
            wts_tsts_pin()
            try:
                _tsts_client(h).connect(logon_id, target_id, _str16(password) if password != NULL else "")
                err = 0
            except BaseException as exc:
                err = _tsts_failed(exc, _tsts_client(h))
    if err:
        wts_set_last_error(err)
        return 0
    return 1


cdef void __stdcall _tsts_free(PVOID p) noexcept nogil:
    free(p)


cdef BOOL __stdcall _tsts_free_ex(WTS_TYPE_CLASS type_class, PVOID p, ULONG count) noexcept nogil:
    free(p)  # one block, strings included
    return 1


cdef void *_tsts_process_block(list rows, DWORD *count) except NULL:
    """WTS_PROCESS_INFO_EXW[len(rows)], then the SIDs (4-aligned: each is 8 + 4n bytes), then the
    image names, in one block (the table's free_ex frees it whole)."""
    cdef Py_ssize_t n = len(rows), i, at
    cdef list names = [_tsts_wide(row[2]) for row in rows]
    cdef Py_ssize_t sid_bytes = 0
    cdef bytes sid
    for row in rows:
        sid_bytes += len(row[3])
    cdef Py_ssize_t head = n * sizeof(WTS_PROCESS_INFO_EXW)
    cdef char *block = <char *>_tsts_block(head + sid_bytes, names)
    cdef WTS_PROCESS_INFO_EXW *info = <WTS_PROCESS_INFO_EXW *>block
    at = head
    for i in range(n):
        row = rows[i]
        info[i].SessionId = <DWORD>row[0]
        info[i].ProcessId = <DWORD>row[1]
        sid = row[3]
        if len(sid):
            memcpy(block + at, <const char *>sid, len(sid))
            info[i].pUserSid = <PVOID>(block + at)
            at += len(sid)
        info[i].NumberOfThreads = <DWORD>row[4]
        info[i].HandleCount = <DWORD>row[5]
        info[i].PagefileUsage = <DWORD>row[6]
        info[i].PeakPagefileUsage = <DWORD>row[7]
        info[i].WorkingSetSize = <DWORD>row[8]
        info[i].PeakWorkingSetSize = <DWORD>row[9]
        info[i].UserTime.QuadPart = row[10]
        info[i].KernelTime.QuadPart = row[11]
    for i in range(n):
        info[i].pProcessName = _tsts_put(block, &at, names[i])
    count[0] = <DWORD>n
    return block


cdef BOOL __stdcall _tsts_processes(HANDLE h, DWORD *level, DWORD session_id, LPWSTR *out,
                                     DWORD *count) noexcept nogil:
    # RpcWinStationGetAllProcesses (level 1 rows: WTS_PROCESS_INFO_EXW), filtered to session_id here
    cdef void *block = NULL
    cdef DWORD err = WTS_ERROR_INVALID_HANDLE
    if h != NULL and level != NULL and out != NULL and count != NULL:
        if level[0] != 1:
            err = WTS_ERROR_INVALID_PARAMETER  # only level 1: what wts asks for (MS-TSTS gives one form)
        else:
            with gil:
                wts_tsts_pin()
                try:
                    block = _tsts_process_block(_tsts_client(h).processes(session_id), count)
                except BaseException as exc:
                    err = _tsts_failed(exc, _tsts_client(h))
    if block == NULL:
        wts_set_last_error(err)
        return 0
    out[0] = <LPWSTR>block
    return 1


cdef BOOL __stdcall _tsts_terminate(HANDLE h, DWORD pid, DWORD exit_code) noexcept nogil:
    cdef DWORD err = WTS_ERROR_INVALID_HANDLE
    if h != NULL:
        with gil:
            wts_tsts_pin()
            try:
                _tsts_client(h).terminate_process(pid, exit_code)
                err = 0
            except BaseException as exc:
                err = _tsts_failed(exc, _tsts_client(h))
    if err:
        wts_set_last_error(err)
        return 0
    return 1


cdef DWORD _tsts_lookup(const WCHAR *system, PVOID sid, LPWSTR name, DWORD *name_len, LPWSTR domain,
                        DWORD *domain_len, DWORD *use) except? 0xFFFFFFFF:
    """LookupAccountSidW's contract: lengths in WCHARs; too small a buffer (or none) sets both to
    what is needed, NUL included, and fails with 122; on success they are the lengths without it."""
    cdef const unsigned char *b = <const unsigned char *>sid
    cdef bytes who = (<const char *>sid)[:8 + 4 * b[1]]
    found = _tsts_client_module().lookup_account(_str16(system), who)
    cdef bytes n = _tsts_wide(found.name)
    cdef bytes d = _tsts_wide(found.domain)
    cdef DWORD need_n = len(n) // 2 + 1, need_d = len(d) // 2 + 1
    if name == NULL or domain == NULL or name_len[0] < need_n or domain_len[0] < need_d:
        name_len[0] = need_n
        domain_len[0] = need_d
        return WTS_ERROR_INSUFFICIENT_BUFFER
    memcpy(name, <const char *>n, len(n))
    name[need_n - 1] = 0
    memcpy(domain, <const char *>d, len(d))
    domain[need_d - 1] = 0
    name_len[0] = need_n - 1
    domain_len[0] = need_d - 1
    if use != NULL:
        use[0] = <DWORD>found.use
    return 0


cdef BOOL __stdcall _tsts_lookup_sid(const WCHAR *system, PVOID sid, LPWSTR name, DWORD *name_len, LPWSTR domain,
                                      DWORD *domain_len, DWORD *use) noexcept nogil:
    # LSA over \pipe\lsarpc (MS-LSAT), on the connection that listed this thread's processes
    cdef DWORD err = WTS_ERROR_INVALID_PARAMETER
    if system == NULL:
        err = WTS_ERROR_NOT_SUPPORTED  # no "local server" over the network
    elif sid != NULL and name_len != NULL and domain_len != NULL:
        with gil:
            wts_tsts_pin()
            try:
                err = _tsts_lookup(system, sid, name, name_len, domain, domain_len, use)
            except BaseException as exc:
                err = _tsts_code(exc)
    if err:
        wts_set_last_error(err)
        return 0
    return 1


cdef char *_tsts_sid_string(PVOID sid) except NULL:
    from wts._tsts._lsat import sid_text  # the pure codec: no extra needed
    cdef const unsigned char *b = <const unsigned char *>sid
    cdef bytes text = _tsts_wide(sid_text((<const char *>sid)[:8 + 4 * b[1]]))
    cdef char *block = <char *>_tsts_block(0, [text])
    memcpy(block, <const char *>text, len(text))  # the block is zeroed: the NUL is there
    return block


cdef BOOL __stdcall _tsts_sid_text(PVOID sid, LPWSTR *out) noexcept nogil:
    # Local formatting: no RPC.  The string is malloc'd; FreeSidString frees it.
    cdef DWORD err = WTS_ERROR_INVALID_PARAMETER
    cdef char *block = NULL
    if sid != NULL and out != NULL:
        with gil:
            wts_tsts_pin()
            try:
                block = _tsts_sid_string(sid)
                err = 0
            except ValueError:
                err = WTS_ERROR_INVALID_PARAMETER  # bytes that are not a SID
            except BaseException as exc:
                err = _tsts_code(exc)
    if err:
        wts_set_last_error(err)
        return 0
    out[0] = <LPWSTR>block
    return 1


cdef void __stdcall _tsts_free_sid(LPWSTR s) noexcept nogil:
    free(s)


_tsts_fns[WTS_TSTS_OPEN] = <void *>_tsts_open
_tsts_fns[WTS_TSTS_OPEN_EX] = <void *>_tsts_open
_tsts_fns[WTS_TSTS_CLOSE] = <void *>_tsts_close
_tsts_fns[WTS_TSTS_ENUM] = <void *>_tsts_enum
_tsts_fns[WTS_TSTS_ENUM_EX] = <void *>_tsts_enum_ex
_tsts_fns[WTS_TSTS_QUERY] = <void *>_tsts_query
_tsts_fns[WTS_TSTS_DISCONNECT] = <void *>_tsts_disconnect
_tsts_fns[WTS_TSTS_LOGOFF] = <void *>_tsts_logoff
_tsts_fns[WTS_TSTS_CONNECT] = <void *>_tsts_connect
_tsts_fns[WTS_TSTS_MESSAGE] = <void *>_tsts_message
_tsts_fns[WTS_TSTS_FREE] = <void *>_tsts_free
_tsts_fns[WTS_TSTS_FREE_EX] = <void *>_tsts_free_ex
_tsts_fns[WTS_TSTS_PROCESSES] = <void *>_tsts_processes
_tsts_fns[WTS_TSTS_TERMINATE] = <void *>_tsts_terminate
_tsts_fns[WTS_TSTS_LOOKUP_SID] = <void *>_tsts_lookup_sid
_tsts_fns[WTS_TSTS_SID_TEXT] = <void *>_tsts_sid_text
_tsts_fns[WTS_TSTS_FREE_SID] = <void *>_tsts_free_sid
_tsts_fns[WTS_TSTS_CONNECT_REMOTE] = <void *>_tsts_connect_remote
wts_tsts_fill(&_tsts_table, _tsts_fns)


def tsts_provider(connections=None):
    """A tsts Provider: its opens use ``connections`` (a wts._tsts._client.Connections: credentials,
    connect timeout, the servers' SMB sessions); None: the process's default (no credentials:
    Kerberos from the ticket cache)."""
    cdef Provider prov = Provider.__new__(Provider)
    prov.p = &_tsts_table
    prov.name = "tsts"
    prov.connections = connections
    return prov
