# cython: language_level=3
# Declarations of alternate credentials for win32 and sim (src/wtsapi/wts_logon.h): runas /netonly's
# logon, impersonated around each call.
from libc.stdint cimport int64_t

from wtsdecl cimport BOOL, DWORD, WCHAR


cdef extern from "wtsapi/wts_logon.h" nogil:
    ctypedef struct wts_logon_ops:
        const char *name
    ctypedef struct wts_logon:
        pass
    const wts_logon_ops *const wts_logon_ops_win32
    const wts_logon_ops wts_logon_ops_sim
    wts_logon *wts_logon_new(const wts_logon_ops *ops, const WCHAR *user, const WCHAR *domain, WCHAR *password,
                             size_t password_units, DWORD *error)
    void wts_logon_retain(wts_logon *logon)
    void wts_logon_release(wts_logon *logon)
    BOOL wts_logon_enter(wts_logon *logon, DWORD *error)
    void wts_logon_leave(wts_logon *logon)
    void wts_wipe(void *p, size_t n)
    int wts_logon_sim_set_accounts(const WCHAR *records, size_t units)
    void wts_logon_sim_counts(int64_t out[4])
