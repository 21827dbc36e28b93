# cython: language_level=3
# Declarations of the bulk engine's native half (src/wtsapi/wts_engine.h), which src/_engine.pxi drives.
# Only the fields and functions the Python face uses are declared; the C compiler checks them.
from libc.stdint cimport int64_t

from wtsdecl cimport BOOL, DWORD, WCHAR, wts_provider
from wtslogon cimport wts_logon


cdef extern from "wtsapi/wts_engine.h" nogil:
    ctypedef struct wts_host:
        pass
    ctypedef struct wts_job:
        int op
        DWORD info_class
        BOOL wait
        DWORD style
        DWORD msg_timeout
        DWORD target_id
        DWORD process_id
        DWORD exit_code
        int64_t tag
        int state
        BOOL ok
        DWORD error
        void *buf
        DWORD count
        DWORD response
        int64_t elapsed_ns
    ctypedef struct wts_engine:
        pass
    enum:
        WTS_OP_ENUMERATE
        WTS_OP_QUERY
        WTS_OP_DISCONNECT
        WTS_OP_LOGOFF
        WTS_OP_MESSAGE
        WTS_OP_CONNECT
        WTS_OP_PROCESSES
        WTS_OP_TERMINATE
    enum:
        WTS_JOB_QUEUED
        WTS_JOB_RUNNING
        WTS_JOB_DONE
        WTS_JOB_TIMEDOUT
        WTS_JOB_CANCELLED
    wts_host *wts_host_open(const wts_provider *p, const WCHAR *name, DWORD *error)
    wts_host *wts_host_open_as(const wts_provider *p, wts_logon *logon, const WCHAR *name, DWORD *error)
    void wts_host_release(wts_host *host)
    void wts_host_kill(wts_host *host)
    wts_job *wts_job_new(int op, wts_host *host, DWORD session_id, int64_t timeout_ns, int64_t tag)
    int wts_job_set_message(wts_job *job, const WCHAR *title, DWORD title_bytes, const WCHAR *text,
                            DWORD text_bytes)
    int wts_job_set_password(wts_job *job, const WCHAR *password, DWORD password_bytes)
    void wts_job_release(wts_engine *e, wts_job *job)
    wts_engine *wts_engine_new(int concurrency)
    int wts_engine_submit(wts_engine *e, wts_job **jobs, int n)
    int wts_engine_wait(wts_engine *e, wts_job **out, int max, int64_t wait_ns)
    void wts_engine_cancel_queued(wts_engine *e)
    int64_t wts_engine_pending(wts_engine *e)
    void wts_engine_close(wts_engine *e)
    int64_t wts_engine_threads()
    int64_t wts_engine_stuck()
    int64_t wts_engine_abandoned()
    int64_t wts_engine_set_abandoned_limit(int64_t limit)
    int wts_engine_on_worker()
    void wts_engine_set_thread_exit(void (*hook)() noexcept nogil)
