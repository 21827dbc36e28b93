# cython: language_level=3
# Declarations of the simulated farm's controls (src/wtsapi/wts_sim.h), compiled into wts._wts.
# src/_sim.pxi drives them, or the same names exported by wtsapi32.dll when that DLL is the sim.
from libc.stdint cimport int64_t


cdef extern from "wtsapi/wts_sim.h" nogil:
    int wtssim_load(const char *text, size_t len, char *err, size_t errlen)
    int wtssim_loaded()
    char *wtssim_dump(size_t *len)
    char *wtssim_rpc_report(size_t *len)
    void wtssim_free_text(char *text)
    int64_t wtssim_outstanding()
    int64_t wtssim_rpc_total()
    void wtssim_reset_counters()
    void wtssim_release_hangs()
    int64_t wtssim_hung_calls()
