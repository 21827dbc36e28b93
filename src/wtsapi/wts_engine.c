/*
 * wts_engine.c - worker threads for bulk WTS calls (see wts_engine.h for the contract).
 *
 * One lock per engine guards three lists: queued jobs (FIFO), running jobs (in start order, so the
 * oldest deadline is near the head) and finished jobs waiting to be collected.  Workers start lazily,
 * at most `concurrency` of them counted at a time; a worker stuck in a call past its deadline stops
 * counting, and one more starts if there is work for it.
 */
#include <stdlib.h>
#include <string.h>

#include "wts_engine.h"

struct wts_engine {
    wts_mutex lock;
    wts_cond work; /* workers wait here for jobs */
    wts_cond done; /* the owner waits here for finished jobs */
    wts_job *q_head, *q_tail;
    wts_job *r_head, *r_tail;
    wts_job *d_head, *d_tail;
    int64_t queued;
    int64_t pending; /* submitted and not yet collected */
    int concurrency;
    int workers; /* threads that count against concurrency */
    int idle;    /* counted threads waiting for work */
    int threads; /* every thread still using the engine, stuck ones included */
    int closing;
    int owner_waiting;
};

/* Test-only: tools/engine_stress.c's build defines this to widen the window on the late-return path
 * (between a worker dropping its reference to an abandoned job and freeing that call's result), so
 * that a worker touching the job there is a use-after-free ASan and TSan see on every run, not once
 * in hundreds.  Empty in every other build. */
#ifndef WTS_ENGINE_TEST_LATE_RETURN
#  define WTS_ENGINE_TEST_LATE_RETURN() ((void)0)
#endif

/* Jobs a worker finished after the owner stopped waiting for them. */
enum { WTS_JOB_ORPHANED = 100 };

/* Threads alive; those stuck in calls past their deadline; those in calls of a closed engine (an
 * owner that let go before the deadline: Ctrl-C twice, or an error).  The last two are abandoned:
 * nobody waits for them, yet each keeps its thread until the server answers, perhaps never. */
static wts_atomic64 g_threads, g_stuck, g_orphaned;
/* At most this many abandoned threads per process (wts_engine_set_abandoned_limit). */
static wts_atomic64 g_abandoned_limit = WTS_ENGINE_ABANDONED_LIMIT;

#ifdef _MSC_VER
#  define WTS_ENGINE_TLS __declspec(thread)
#else
#  define WTS_ENGINE_TLS _Thread_local
#endif
static WTS_ENGINE_TLS int tls_worker;
static void (*g_thread_exit)(void);

int wts_engine_on_worker(void) { return tls_worker; }
void wts_engine_set_thread_exit(void (*hook)(void)) { g_thread_exit = hook; }

int64_t wts_engine_threads(void) { return wts_atomic_load(&g_threads); }
int64_t wts_engine_stuck(void) { return wts_atomic_load(&g_stuck); }
int64_t wts_engine_abandoned(void) { return wts_atomic_load(&g_stuck) + wts_atomic_load(&g_orphaned); }

int64_t wts_engine_set_abandoned_limit(int64_t limit)
{
    int64_t old = wts_atomic_load(&g_abandoned_limit);
    if (limit > 0) wts_atomic_store(&g_abandoned_limit, limit);
    return old;
}

/* --- hosts ------------------------------------------------------------------------------------ */

wts_host *wts_host_open(const wts_provider *p, const WCHAR *name, DWORD *error)
{
    return wts_host_open_as(p, NULL, name, error);
}

wts_host *wts_host_open_as(const wts_provider *p, wts_logon *logon, const WCHAR *name, DWORD *error)
{
    wts_host *host = (wts_host *)calloc(1, sizeof *host);
    *error = WTS_ERROR_SUCCESS;
    if (!host) {
        *error = WTS_ERROR_NOT_ENOUGH_MEMORY;
        return NULL;
    }
    host->p = p;
    host->refs = 1;
    if (name) {
        size_t n = 0;
        while (name[n]) n++;
        host->name = (WCHAR *)malloc((n + 1) * sizeof(WCHAR));
        if (!host->name) {
            *error = WTS_ERROR_NOT_ENOUGH_MEMORY;
            free(host);
            return NULL;
        }
        memcpy(host->name, name, (n + 1) * sizeof(WCHAR));
        host->h = p->OpenServerW((LPWSTR)name); /* no RPC (wtsapi32 opens nothing): no impersonation */
        if (!host->h) {
            *error = wts_get_last_error();
            free(host->name);
            free(host);
            return NULL;
        }
    } /* else WTS_CURRENT_SERVER_HANDLE (NULL): nothing to open or close */
    wts_logon_retain(logon);
    host->logon = logon;
    return host;
}

void wts_host_release(wts_host *host)
{
    if (host && wts_atomic_add(&host->refs, -1) == 0) {
        if (host->h) host->p->CloseServer(host->h);
        wts_logon_release(host->logon); /* the last holder closes the token */
        free(host->name);
        free(host);
    }
}

void wts_host_kill(wts_host *host) { wts_atomic_store(&host->dead, 1); }

/* --- jobs ------------------------------------------------------------------------------------- */

wts_job *wts_job_new(int op, wts_host *host, DWORD session_id, int64_t timeout_ns, int64_t tag)
{
    wts_job *job = (wts_job *)calloc(1, sizeof *job);
    if (!job) return NULL;
    job->op = op;
    job->host = host;
    wts_atomic_add(&host->refs, 1);
    job->session_id = session_id;
    job->timeout_ns = timeout_ns;
    job->tag = tag;
    job->refs = 1;
    return job;
}

int wts_job_set_message(wts_job *job, const WCHAR *title, DWORD title_bytes, const WCHAR *text, DWORD text_bytes)
{
    size_t tu = title_bytes / sizeof(WCHAR), xu = text_bytes / sizeof(WCHAR);
    WCHAR *both = (WCHAR *)malloc((tu + xu + 2) * sizeof(WCHAR));
    if (!both) return -1;
    if (tu) memcpy(both, title, tu * sizeof(WCHAR));
    both[tu] = 0;
    if (xu) memcpy(both + tu + 1, text, xu * sizeof(WCHAR));
    both[tu + 1 + xu] = 0;
    free(job->title);
    job->title = both;
    job->text = both + tu + 1;
    job->title_bytes = (DWORD)(tu * sizeof(WCHAR));
    job->text_bytes = (DWORD)(xu * sizeof(WCHAR));
    return 0;
}

static void wipe_password(wts_job *job)
{
    if (!job->password) return;
    volatile WCHAR *w = job->password; /* volatile: the compiler may not drop the wipe before free */
    for (DWORD i = 0; i <= job->password_bytes / sizeof(WCHAR); i++) w[i] = 0;
    free(job->password);
    job->password = NULL;
}

int wts_job_set_password(wts_job *job, const WCHAR *password, DWORD password_bytes)
{
    size_t n = password_bytes / sizeof(WCHAR);
    WCHAR *copy = (WCHAR *)malloc((n + 1) * sizeof(WCHAR));
    if (!copy) return -1;
    if (n) memcpy(copy, password, n * sizeof(WCHAR));
    copy[n] = 0;
    wipe_password(job);
    job->password = copy;
    job->password_bytes = (DWORD)(n * sizeof(WCHAR));
    return 0;
}

static void free_result(const wts_provider *p, int op, void *buf, DWORD count)
{
    if (!buf) return;
    if (op == WTS_OP_ENUMERATE)
        p->FreeMemoryExW(WTSTypeSessionInfoLevel1, buf, count); /* plain WTSFreeMemory leaks the strings */
    else if (op == WTS_OP_PROCESSES)
        wts_process_list_free(p, (wts_process_list *)buf); /* FreeMemoryExW(WTSTypeProcessInfoLevel1) inside */
    else
        p->FreeMemory(buf);
}

void wts_job_clear(wts_job *job)
{
    free_result(job->host->p, job->op, job->buf, job->count);
    job->buf = NULL;
    job->count = 0;
}

static void job_free(wts_job *job)
{
    wts_job_clear(job);
    wts_host_release(job->host);
    free(job->title);
    wipe_password(job);
    free(job);
}

/* --- lists (engine lock held) ----------------------------------------------------------------- */

static void push(wts_job **head, wts_job **tail, wts_job *job)
{
    job->next = NULL;
    job->prev = *tail;
    if (*tail) (*tail)->next = job;
    else *head = job;
    *tail = job;
}

static wts_job *pop(wts_job **head, wts_job **tail)
{
    wts_job *job = *head;
    if (job) {
        *head = job->next;
        if (*head) (*head)->prev = NULL;
        else *tail = NULL;
        job->next = job->prev = NULL;
    }
    return job;
}

static void unlink_running(wts_engine *e, wts_job *job)
{
    if (job->prev) job->prev->next = job->next;
    else e->r_head = job->next;
    if (job->next) job->next->prev = job->prev;
    else e->r_tail = job->prev;
    job->next = job->prev = NULL;
}

static void finish(wts_engine *e, wts_job *job, int state)
{
    job->state = state;
    push(&e->d_head, &e->d_tail, job);
    if (e->owner_waiting) wts_cond_signal(&e->done);
}

/* --- workers ---------------------------------------------------------------------------------- */

static void engine_free(wts_engine *e)
{
    wts_cond_destroy(&e->work);
    wts_cond_destroy(&e->done);
    wts_mutex_destroy(&e->lock);
    free(e);
}

/* The one WTS call a job names, with its results in locals (the job may be abandoned meanwhile). */
static void perform(const wts_job *job, BOOL *ok, DWORD *error, void **buf, DWORD *count, DWORD *response)
{
    const wts_provider *p = job->host->p;
    HANDLE h = job->host->h;
    *buf = NULL;
    *count = 0;
    *response = 0;
    /* With alternate credentials this thread impersonates them for the call only (runas /netonly).
     * If it cannot, the call is not made: it fails with that error. */
    if (!wts_logon_enter(job->host->logon, error)) {
        *ok = FALSE;
        return;
    }
    switch (job->op) {
    case WTS_OP_ENUMERATE: {
        DWORD level = 1;
        WTS_SESSION_INFO_1W *info = NULL;
        *ok = p->EnumerateSessionsExW(h, &level, 0, &info, count);
        *buf = info;
        break;
    }
    case WTS_OP_QUERY: {
        LPWSTR b = NULL;
        *ok = p->QuerySessionInformationW(h, job->session_id, (WTS_INFO_CLASS)job->info_class, &b, count);
        *buf = b;
        break;
    }
    case WTS_OP_DISCONNECT: *ok = p->DisconnectSession(h, job->session_id, job->wait); break;
    case WTS_OP_LOGOFF: *ok = p->LogoffSession(h, job->session_id, job->wait); break;
    case WTS_OP_MESSAGE:
        *ok = p->SendMessageW(h, job->session_id, job->title, job->title_bytes, job->text, job->text_bytes,
                              job->style, job->msg_timeout, response, job->wait);
        break;
    case WTS_OP_CONNECT: {
        static WCHAR none[1] = { 0 };
        PWSTR password = job->password ? job->password : none;
        if (job->host->name && p->ConnectRemoteSessionW) /* a named server: only tsts can (Engine.connect checks) */
            *ok = p->ConnectRemoteSessionW(h, job->session_id, job->target_id, password, job->wait);
        else
            *ok = p->ConnectSessionW(job->session_id, job->target_id, password, job->wait);
        break;
    }
    case WTS_OP_PROCESSES: {
        DWORD err = 0;
        wts_process_list *list = wts_process_list_get(p, h, job->host->name, job->session_id, &err);
        *ok = list != NULL;
        *buf = list;
        *count = list ? list->count : 0;
        if (!list) wts_set_last_error(err);
        break;
    }
    case WTS_OP_TERMINATE: *ok = p->TerminateProcess(h, job->process_id, job->exit_code); break;
    default: *ok = FALSE; wts_set_last_error(WTS_ERROR_INVALID_PARAMETER);
    }
    *error = *ok ? WTS_ERROR_SUCCESS : wts_get_last_error();
    wts_logon_leave(job->host->logon);
    if (!*ok && *buf) { /* a failed call hands nothing back */
        free_result(p, job->op, *buf, 0);
        *buf = NULL;
    }
}

static int spawn(wts_engine *e);

static WTS_THREAD_FN(worker_main, arg)
{
    wts_engine *e = (wts_engine *)arg;
    int counted = 1;
    tls_worker = 1;
    wts_mutex_lock(&e->lock);
    for (;;) {
        while (!e->q_head && !e->closing) {
            e->idle++;
            wts_cond_wait(&e->work, &e->lock);
            e->idle--;
        }
        wts_job *job = pop(&e->q_head, &e->q_tail);
        if (!job) break; /* closing, and nothing left to do */
        e->queued--;
        if (wts_atomic_load(&job->host->dead)) {
            finish(e, job, WTS_JOB_CANCELLED);
            continue;
        }
        job->state = WTS_JOB_RUNNING;
        job->refs++;
        job->started_ns = wts_monotonic_ns();
        push(&e->r_head, &e->r_tail, job);
        /* An owner already asleep in wts_engine_wait computed its wake-up without this call's deadline:
         * wake it to count it, or the deadline would pass unnoticed until that wait ended. */
        if (job->timeout_ns > 0 && e->owner_waiting) wts_cond_signal(&e->done);
        wts_mutex_unlock(&e->lock);

        BOOL ok;
        DWORD error, count, response;
        void *buf;
        perform(job, &ok, &error, &buf, &count, &response);
        int64_t elapsed = wts_monotonic_ns() - job->started_ns;

        wts_mutex_lock(&e->lock);
        if (job->state == WTS_JOB_RUNNING) {
            unlink_running(e, job);
            job->ok = ok;
            job->error = error;
            job->buf = buf;
            job->count = count;
            job->response = response;
            job->elapsed_ns = elapsed;
            job->refs--;
            finish(e, job, WTS_JOB_DONE);
            continue;
        }
        /* Abandoned at its deadline (or orphaned by close): nobody wants the result.  Once this
         * worker drops its reference and unlocks, the owner may free the job (and with it the last
         * reference to its host) at any moment: take what freeing the result needs first, and touch
         * the job after the unlock only if this worker held the last reference. */
        const wts_provider *p = job->host->p; /* a static table: outlives every host */
        int op = job->op;
        int was_stuck = job->state == WTS_JOB_TIMEDOUT;
        int last = --job->refs == 0;
        if (job->state == WTS_JOB_ORPHANED) wts_atomic_add(&g_orphaned, -1);
        if (was_stuck) {
            wts_atomic_add(&g_stuck, -1);
            /* Back to work if the engine has room: it may have been short of workers at the limit. */
            counted = !e->closing && e->workers < e->concurrency;
            if (counted) e->workers++;
        }
        wts_mutex_unlock(&e->lock);
        WTS_ENGINE_TEST_LATE_RETURN();
        free_result(p, op, buf, count);
        if (last) job_free(job);
        wts_mutex_lock(&e->lock);
        if (!counted) break;
    }
    if (counted) e->workers--;
    e->threads--;
    wts_atomic_add(&g_threads, -1);
    int gone = e->closing && e->threads == 0;
    wts_mutex_unlock(&e->lock);
    if (gone) engine_free(e);
    if (g_thread_exit) g_thread_exit();
    WTS_THREAD_RETURN;
}

/* Starts one counted worker (engine lock held); -1 when the OS refuses a thread, -2 when the process
 * is at its limit of abandoned threads. */
static int spawn(wts_engine *e)
{
    if (wts_engine_abandoned() >= wts_atomic_load(&g_abandoned_limit)) return -2;
    e->workers++;
    e->threads++;
    wts_atomic_add(&g_threads, 1);
    if (wts_thread_start(worker_main, e) != 0) {
        e->workers--;
        e->threads--;
        wts_atomic_add(&g_threads, -1);
        return -1;
    }
    return 0;
}

/* Every queued job comes back failed, unsent: RPC_S_CALL_FAILED_DNE ("did not execute"), which is
 * true, and which callers may retry (engine lock held). */
static void refuse_queued(wts_engine *e)
{
    wts_job *job;
    while ((job = pop(&e->q_head, &e->q_tail)) != NULL) {
        job->ok = FALSE;
        job->error = WTS_RPC_S_CALL_FAILED_DNE;
        finish(e, job, WTS_JOB_DONE);
    }
    e->queued = 0;
}

/* Enough workers for the queue, within the limit (engine lock held).  The number started, or -1 when
 * the OS refused a thread and none runs.  At the process's limit of abandoned threads no worker
 * starts; an engine left without any then refuses its queue at once rather than hold it for ever. */
static int staff(wts_engine *e)
{
    if (e->queued <= 0) return 0;
    if (e->idle > 0) {
        if (e->queued >= e->idle) wts_cond_broadcast(&e->work);
        else for (int64_t k = 0; k < e->queued; k++) wts_cond_signal(&e->work);
    }
    int started = 0;
    for (int64_t want = e->queued - e->idle; want > 0 && e->workers < e->concurrency; want--) {
        int rc = spawn(e);
        if (rc == -2 && e->workers == 0) refuse_queued(e);
        if (rc != 0) return rc == -1 && e->workers == 0 ? -1 : started;
        started++;
    }
    return started;
}

/* --- the owner's side ------------------------------------------------------------------------- */

wts_engine *wts_engine_new(int concurrency)
{
    wts_engine *e = (wts_engine *)calloc(1, sizeof *e);
    if (!e) return NULL;
    wts_mutex_init(&e->lock);
    wts_cond_init(&e->work);
    wts_cond_init(&e->done);
    e->concurrency = concurrency < 1 ? 1 : concurrency;
    return e;
}

int wts_engine_submit(wts_engine *e, wts_job **jobs, int n)
{
    wts_mutex_lock(&e->lock);
    for (int i = 0; i < n; i++) {
        wts_job *job = jobs[i];
        job->state = WTS_JOB_QUEUED;
        job->ok = FALSE;
        job->error = WTS_ERROR_SUCCESS;
        job->response = 0;
        job->elapsed_ns = 0;
        push(&e->q_head, &e->q_tail, job);
    }
    e->queued += n;
    e->pending += n;
    if (staff(e) < 0) {
        /* No thread could start and none runs: hand the jobs back rather than strand them. */
        for (int i = 0; i < n; i++) {
            wts_job *job = jobs[i];
            if (job->prev) job->prev->next = job->next;
            else e->q_head = job->next;
            if (job->next) job->next->prev = job->prev;
            else e->q_tail = job->prev;
            job->next = job->prev = NULL;
        }
        e->queued -= n;
        e->pending -= n;
        wts_mutex_unlock(&e->lock);
        return -1;
    }
    wts_mutex_unlock(&e->lock);
    return n;
}

int wts_engine_wait(wts_engine *e, wts_job **out, int max, int64_t wait_ns)
{
    int n = 0;
    int64_t now = wts_monotonic_ns();
    int64_t until = now + (wait_ns > 0 ? wait_ns : 0);
    wts_mutex_lock(&e->lock);
    for (;;) {
        /* Calls past their deadline come back now; their workers stop counting. */
        int64_t next = INT64_MAX;
        int expired = 0;
        for (wts_job *job = e->r_head, *after; job; job = after) {
            after = job->next;
            if (job->timeout_ns <= 0) continue;
            int64_t due = job->started_ns + job->timeout_ns;
            if (now >= due) {
                unlink_running(e, job);
                job->error = WTS_ERROR_TIMEOUT;
                job->elapsed_ns = now - job->started_ns;
                /* A server past a deadline is abandoned (the owner fails it): mark its host dead now,
                 * before staff() below starts a replacement worker that could otherwise pick up the
                 * same server's next queued call and hang in it too. */
                wts_atomic_store(&job->host->dead, 1);
                e->workers--;
                wts_atomic_add(&g_stuck, 1);
                finish(e, job, WTS_JOB_TIMEDOUT);
                expired++;
            } else if (due < next) {
                next = due;
            }
        }
        if (expired) staff(e);
        while (n < max && e->d_head) {
            out[n++] = pop(&e->d_head, &e->d_tail);
            e->pending--;
        }
        if (n > 0 || now >= until) break;
        int64_t wake = until < next ? until : next;
        e->owner_waiting = 1;
        wts_cond_timedwait(&e->done, &e->lock, wake - now);
        e->owner_waiting = 0;
        now = wts_monotonic_ns();
    }
    wts_mutex_unlock(&e->lock);
    return n;
}

void wts_engine_cancel_queued(wts_engine *e)
{
    wts_mutex_lock(&e->lock);
    wts_job *job;
    while ((job = pop(&e->q_head, &e->q_tail)) != NULL) finish(e, job, WTS_JOB_CANCELLED);
    e->queued = 0;
    wts_mutex_unlock(&e->lock);
}

int64_t wts_engine_pending(wts_engine *e)
{
    wts_mutex_lock(&e->lock);
    int64_t n = e->pending;
    wts_mutex_unlock(&e->lock);
    return n;
}

void wts_job_release(wts_engine *e, wts_job *job)
{
    if (!job) return;
    wts_mutex_lock(&e->lock);
    int last = --job->refs == 0;
    wts_mutex_unlock(&e->lock);
    if (last) job_free(job);
}

void wts_engine_close(wts_engine *e)
{
    if (!e) return;
    wts_job *drop = NULL, *job;
    wts_mutex_lock(&e->lock);
    e->closing = 1;
    /* The owner lets go of every job; those a worker still holds (stuck past their deadline) are
     * freed by that worker when its call returns. */
    while ((job = pop(&e->q_head, &e->q_tail)) != NULL || (job = pop(&e->d_head, &e->d_tail)) != NULL) {
        if (--job->refs == 0) { job->next = drop; drop = job; }
    }
    for (job = e->r_head; job; job = job->next) {
        job->state = WTS_JOB_ORPHANED; /* its worker frees the result, and the job when last */
        job->refs--;
        wts_atomic_add(&g_orphaned, 1); /* abandoned, as a call past its deadline is */
    }
    e->r_head = e->r_tail = NULL; /* workers do not unlink orphans: their state says so */
    e->queued = 0;
    e->pending = 0;
    wts_cond_broadcast(&e->work);
    int gone = e->threads == 0;
    wts_mutex_unlock(&e->lock);
    while (drop) {
        job = drop;
        drop = drop->next;
        job_free(job);
    }
    if (gone) engine_free(e);
}
