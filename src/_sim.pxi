# Included by src/_wts.pyx: the simulated farm's controls (wts.sim drives them).  Their C declarations
# are in src/include/wtssim.pxd.
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
ctypedef BOOL (*_sim_lookup_fn)(const WCHAR *, PVOID, LPWSTR, DWORD *, LPWSTR, DWORD *, DWORD *) noexcept nogil
ctypedef BOOL (*_sim_sid_text_fn)(PVOID, LPWSTR *) noexcept nogil
ctypedef void (*_sim_free_sid_fn)(LPWSTR) noexcept nogil

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


# The sim in wtsapi32.dll: the win32 table, but with the DLL's account lookups.  The farm's SIDs are its
# own, and the process's advapi32 (Wine's) knows none of them.
_SIM_LOOKUPS = ("wtssim_LookupAccountSidW", "wtssim_ConvertSidToStringSidW", "wtssim_FreeSidString")
cdef wts_provider _sim_dll_table


cdef int _sim_dll_lookups() except -1:
    # global: without it Cython fills a local copy, and the "sim" provider's table stays all NULL
    # (the first OpenServerW through it jumped to address 0 under Wine).
    global _sim_dll_table
    cdef void *f[3]
    cdef Py_ssize_t i
    missing = []
    for i, name in enumerate(_SIM_LOOKUPS):
        f[i] = wts_win32_sim_export(name.encode("ascii"))
        if f[i] == NULL:
            missing.append(name)
    if missing:
        raise ImportError(f"wtsapi32.dll is the simulator but does not export {', '.join(missing)}: "
                          "rebuild it from src/wtsapi/wts_sim.c with -DWTSSIM_AS_WTSAPI")
    _sim_dll_table = wts_provider_win32[0]
    _sim_dll_table.LookupAccountSidW = <_sim_lookup_fn>f[0]
    _sim_dll_table.ConvertSidToStringSidW = <_sim_sid_text_fn>f[1]
    _sim_dll_table.FreeSidString = <_sim_free_sid_fn>f[2]
    return 0


if wts_provider_win32 != NULL and _sim_from_wtsapi32():
    _sim_dll_lookups()
    _SIM = _named(&_sim_dll_table, "sim")
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
    """Wake calls blocked on 'hang' servers; each fails with RPC_S_CALL_FAILED."""
    _sim.release_hangs()


def sim_hung_calls():
    return _sim.hung_calls()
