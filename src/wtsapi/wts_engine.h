/*
 * wts_engine.h - the bulk engine's native half: a pool of worker threads that make WTS calls with no
 * Python (and so no GIL) anywhere near them.
 *
 * The Python side (wts._wts's Engine, driven by wts._bulk, the run loop of wts.Farm) decides what to
 * call; it submits jobs and collects finished ones.  Workers only ever make the one WTS call a job names and record its result.
 * Each call has a deadline: when it passes, wts_engine_wait hands the job back as TIMEDOUT and the
 * worker stuck in the call stops counting against the concurrency limit (a replacement starts); when
 * the call finally returns, that worker frees its result itself.  Jobs queued for a host that has
 * been marked dead come back CANCELLED without being sent.
 */
#ifndef WTS_ENGINE_H
#define WTS_ENGINE_H

#include "wts_seam.h"
#include "wts_platform.h"
#include "wts_accounts.h"
#include "wts_logon.h"

/* One open server handle, shared by every job aimed at it and closed when the last one lets go. */
typedef struct wts_host {
    const wts_provider *p;
    HANDLE h;
    WCHAR *name; /* the server's name (NULL: this machine), for the account lookups of WTS_OP_PROCESSES */
    wts_atomic64 refs;
    wts_atomic64 dead; /* set by the owner, or by a deadline passing: jobs not yet started come back CANCELLED */
    wts_logon *logon;  /* alternate credentials (a reference), or NULL: each call is made impersonating them */
} wts_host;

enum wts_op {
    WTS_OP_ENUMERATE = 1, /* WTSEnumerateSessionsExW level 1 -> buf, count */
    WTS_OP_QUERY,         /* WTSQuerySessionInformationW(info_class) -> buf, count (bytes) */
    WTS_OP_DISCONNECT,    /* WTSDisconnectSession */
    WTS_OP_LOGOFF,        /* WTSLogoffSession */
    WTS_OP_MESSAGE,       /* WTSSendMessageW -> response */
    WTS_OP_CONNECT,       /* WTSConnectSessionW(session_id, target_id, password): local only, the host's provider */
    WTS_OP_PROCESSES,     /* WTSEnumerateProcessesExW level 1 (session_id: WTS_ANY_SESSION or one) and the
                             LookupAccountSidW of each distinct SID -> buf (a wts_process_list), count (rows) */
    WTS_OP_TERMINATE      /* WTSTerminateProcess(process_id, exit_code) */
};

enum wts_job_state { WTS_JOB_QUEUED, WTS_JOB_RUNNING, WTS_JOB_DONE, WTS_JOB_TIMEDOUT, WTS_JOB_CANCELLED };

typedef struct wts_job {
    struct wts_job *next, *prev; /* queue links; prev only on the running list */
    /* what to call */
    int op;
    wts_host *host;      /* the job holds a reference */
    DWORD session_id;
    DWORD info_class;
    BOOL wait;
    DWORD style, msg_timeout;
    WCHAR *title, *text; /* one allocation owned by the job (title first) */
    DWORD title_bytes, text_bytes;
    DWORD target_id;     /* WTS_OP_CONNECT: the session to take over (WTS_LOGONID_CURRENT: the caller's) */
    DWORD process_id, exit_code; /* WTS_OP_TERMINATE */
    WCHAR *password;     /* WTS_OP_CONNECT: owned by the job, wiped when freed; NULL passes "" */
    DWORD password_bytes;
    int64_t timeout_ns;  /* the call's deadline, counted from when a worker starts it; <= 0: none */
    int64_t tag;         /* the owner's cookie */
    /* what happened */
    int state;
    BOOL ok;
    DWORD error;
    void *buf;
    DWORD count;
    DWORD response;
    int64_t started_ns, elapsed_ns;
    int refs;            /* owner + running worker; guarded by the engine lock */
} wts_job;

typedef struct wts_engine wts_engine;

wts_host *wts_host_open(const wts_provider *p, const WCHAR *name, DWORD *error);
/* The same, every call on the host made impersonating `logon` (a reference is taken). */
wts_host *wts_host_open_as(const wts_provider *p, wts_logon *logon, const WCHAR *name, DWORD *error);
void wts_host_release(wts_host *host);
/* Marks host dead: its jobs not yet started come back CANCELLED, unsent. */
void wts_host_kill(wts_host *host);

/* A job for op on host (a new reference is taken); NULL when out of memory. */
wts_job *wts_job_new(int op, wts_host *host, DWORD session_id, int64_t timeout_ns, int64_t tag);
/* Copies title and text (byte lengths without terminators) into the job; -1 when out of memory. */
int wts_job_set_message(wts_job *job, const WCHAR *title, DWORD title_bytes, const WCHAR *text, DWORD text_bytes);
/* Copies a password (byte length without terminator) into the job; -1 when out of memory. */
int wts_job_set_password(wts_job *job, const WCHAR *password, DWORD password_bytes);
/* Frees the result buffer with the free function that matches the call; the job can be resubmitted. */
void wts_job_clear(wts_job *job);
/* The owner is done with the job (its result is freed too). */
void wts_job_release(wts_engine *e, wts_job *job);

/* At most concurrency calls run at once (not counting calls abandoned at their deadline, whose
 * workers are replaced while the process is under its abandoned-thread limit). */
wts_engine *wts_engine_new(int concurrency);
/* Queue jobs (FIFO).  Returns the number queued (n), or -1 if a worker thread could not be started
 * and none is running (the jobs stay with the caller).  At the abandoned-thread limit with no worker,
 * the jobs are queued and come back at once, failed with 1727 (see wts_engine_set_abandoned_limit). */
int wts_engine_submit(wts_engine *e, wts_job **jobs, int n);
/* Collects up to max finished jobs (DONE, TIMEDOUT or CANCELLED), waiting at most wait_ns for the
 * first.  Returns how many were stored in out. */
int wts_engine_wait(wts_engine *e, wts_job **out, int max, int64_t wait_ns);
/* Every job not yet started comes back CANCELLED through wts_engine_wait. */
void wts_engine_cancel_queued(wts_engine *e);
/* Jobs submitted and not yet collected. */
int64_t wts_engine_pending(wts_engine *e);
/* Releases the owner's hold: queued jobs are dropped, idle workers leave, and the engine is freed
 * when its last worker (perhaps one still stuck in a call) has gone.  Uncollected jobs are freed. */
void wts_engine_close(wts_engine *e);

/* Worker threads alive in all engines, and those of them stuck in calls past their deadline. */
int64_t wts_engine_threads(void);
int64_t wts_engine_stuck(void);

/*
 * Abandoned threads: those stuck in calls past their deadline, plus those still in a call when its
 * engine was closed.  Each keeps its thread (and stack) until its server answers, perhaps never, so
 * the process bounds them: with `limit` of them, no engine starts another worker.  Calls then wait
 * for the workers an engine still has; an engine with none fails its queued and new calls at once
 * with RPC_S_CALL_FAILED_DNE (1727: not sent).  As stuck calls return, their threads go back to work
 * and the limit frees up.  WTS_ENGINE_ABANDONED_LIMIT is the default.
 */
#define WTS_ENGINE_ABANDONED_LIMIT 1024
int64_t wts_engine_abandoned(void);
/* Sets the limit when limit > 0; returns the limit that was in force. */
int64_t wts_engine_set_abandoned_limit(int64_t limit);

/*
 * Worker threads and the providers they run: wts_engine_on_worker() is nonzero in a worker thread;
 * a hook set with wts_engine_set_thread_exit runs in each worker thread as it ends, with no engine
 * lock held (the tsts provider keeps one Python thread state per worker for the worker's life, and
 * lets it go there).  Set it once, before any engine starts.
 */
int wts_engine_on_worker(void);
void wts_engine_set_thread_exit(void (*hook)(void));

#endif /* WTS_ENGINE_H */
