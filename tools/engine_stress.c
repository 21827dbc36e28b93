/*
 * engine_stress.c - the bulk engine's native half under load, for ThreadSanitizer and
 * AddressSanitizer (tools/engine_stress.sh builds and runs it).
 *
 * First, targeted: the late-return window.  A worker whose call comes back after its deadline drops
 * its reference to the job and unlocks; from then on the owner may free the job, so the worker must
 * not touch it (issue 12, item 1: it read job->host->p and job->op there).  This program compiles the
 * engine itself, with a test-only hook in that window (WTS_ENGINE_TEST_LATE_RETURN, empty in every
 * other build): when armed, the hook holds the worker in the window until the owner has freed the
 * job, so any read of the job there is a use-after-free that ASan and TSan report on every run.
 * (The owner's "go on" reaches the worker through a relaxed atomic, which orders nothing, so TSan
 * sees the free and such a read as the race they are.)  Unarmed, the hook sleeps a little, which
 * widens the same window in the random rounds.
 *
 * Then random rounds: each loads a farm with slow, hanging and unreachable servers, submits a mix of
 * calls with short deadlines, sometimes cancels or closes early with calls still in flight, then
 * releases the hangs and checks that every job came back exactly once and that the simulator has
 * nothing outstanding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wtsapi/wts_platform.h"

static int g_window_armed, g_window_open, g_window_go, g_window_late;

static void late_return_window(void)
{
    if (__atomic_exchange_n(&g_window_armed, 0, __ATOMIC_ACQ_REL)) {
        __atomic_store_n(&g_window_open, 1, __ATOMIC_RELEASE);
        /* Relaxed: the owner's free must not happen-before what the worker does next. */
        for (int i = 0; i < 5000 && !__atomic_load_n(&g_window_go, __ATOMIC_RELAXED); i++) wts_sleep_ns(200000);
    } else {
        __atomic_add_fetch(&g_window_late, 1, __ATOMIC_RELAXED);
        wts_sleep_ns(300000);
    }
}

#define WTS_ENGINE_TEST_LATE_RETURN() late_return_window()
#include "wtsapi/wts_engine.c" /* the engine, with the hook compiled in */
#include "wtsapi/wts_accounts.c" /* what its process jobs call */
#include "wtsapi/wts_logon.c"    /* alternate credentials, impersonated around each call */
#include "wtsapi/wts_sim.h"

static const char FARM[] =
    "WTSSIM\t1\n"
    "farm\t7\t0\tA\t-1\n"
    "server\tA\t200\t300\tnone\n"
    "session\t2\tRDP-Tcp#1\t0\tu1\tD\tc\t0\t\t0\t0\t0\t0\t0\t0\t1\t\n"
    "process\t100\tEXCEL.EXE\tS-1-5-21-1-2-3-1001\tD\tu1\t1\t0\t0\t0\t0\t0\t0\t0\n"
    "process\t104\tcsrss.exe\tS-1-5-18\tNT AUTHORITY\tSYSTEM\t1\t0\t0\t0\t0\t0\t0\t0\n"
    "session\t3\tRDP-Tcp#2\t0\tu2\tD\tc\t0\t\t0\t0\t0\t0\t0\t0\t1\t\n"
    "server\tB\t0\t100\tnone\n"
    "session\t2\tRDP-Tcp#1\t0\tu1\tD\tc\t0\t\t0\t0\t0\t0\t0\t0\t1\t\n"
    "server\tH\t100\t0\thang\n"
    "session\t2\tRDP-Tcp#1\t0\tu1\tD\tc\t0\t\t0\t0\t0\t0\t0\t0\t1\t\n"
    "server\tU\t50\t0\tunreachable\n"
    "server\tF\t50\t0\tbusy:3\n"
    "session\t2\tRDP-Tcp#1\t0\tu1\tD\tc\t0\t\t0\t0\t0\t0\t0\t0\t1\t\n"
    "server\tS\t300000\t0\tnone\n" /* 300 ms a call: late for any deadline below */
    "session\t2\tRDP-Tcp#1\t0\tu1\tD\tc\t0\t\t0\t0\t0\t0\t0\t0\t1\t\n"
    "process\t100\tEXCEL.EXE\tS-1-5-21-1-2-3-1001\tD\tu1\t1\t0\t0\t0\t0\t0\t0\t0\n";

static void wname(const char *s, WCHAR *out)
{
    while ((*out++ = (WCHAR)(unsigned char)*s++) != 0) {}
}

static int wait_threads_gone(void)
{
    for (int spin = 0; spin < 500 && (wts_engine_threads() || wtssim_outstanding()); spin++) {
        wtssim_release_hangs();
        wts_sleep_ns(10000000);
    }
    return wts_engine_threads() || wts_engine_stuck() || wtssim_outstanding();
}

/* One call that comes back after its deadline, with the owner freeing the job while the worker is
 * in the late-return window.  server "H" hangs until released (the call fails: no result to free);
 * "S" answers after 300 ms (a result to free).  Returns 0, or the step that went wrong. */
static int late_return(const char *server, int op)
{
    WCHAR w[4] = { (WCHAR)server[0], 0 };
    DWORD code;
    wts_host *host = wts_host_open(&wts_provider_sim, w, &code);
    wts_engine *e = wts_engine_new(1);
    if (!host || !e) return 10;
    __atomic_store_n(&g_window_open, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&g_window_go, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&g_window_armed, 1, __ATOMIC_RELEASE);
    wts_job *job = wts_job_new(op, host, 2, 5000000 /* 5 ms */, 1), *got = NULL;
    if (op == WTS_OP_QUERY) job->info_class = 25;
    if (wts_engine_submit(e, &job, 1) != 1) return 11;
    for (int spin = 0; spin < 100 && !got; spin++) wts_engine_wait(e, &got, 1, 50000000);
    if (got != job || job->state != WTS_JOB_TIMEDOUT) return 12;
    if (server[0] == 'H') {
        /* The deadline passing says nothing of where the worker is: on a loaded machine it may not
         * have reached the hang yet, and a release before it does would leave it hanging for good. */
        for (int spin = 0; spin < 50000 && wtssim_hung_calls() == 0; spin++) wts_sleep_ns(200000);
        wtssim_release_hangs();
    }
    /* Up to 10 s: a bound no healthy run comes near, even under a sanitizer on a loaded machine (1 s
     * was once not enough for a worker to finish S's 300 ms call and reach the window). */
    for (int spin = 0; spin < 50000 && !__atomic_load_n(&g_window_open, __ATOMIC_ACQUIRE); spin++) wts_sleep_ns(200000);
    if (!__atomic_load_n(&g_window_open, __ATOMIC_ACQUIRE)) return 13; /* the hook never ran */
    wts_job_release(e, job); /* the last reference: the job is freed here, the worker still in its window */
    __atomic_store_n(&g_window_go, 1, __ATOMIC_RELAXED);
    wts_engine_close(e);
    wts_host_release(host);
    return wait_threads_gone() ? 14 : 0;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 40;
    char err[256];
    if (wtssim_load(FARM, sizeof FARM - 1, err, sizeof err)) {
        fprintf(stderr, "load: %s\n", err);
        return 2;
    }
    const struct { const char *server; int op; } windows[] = {
        { "H", WTS_OP_QUERY }, { "S", WTS_OP_QUERY }, { "S", WTS_OP_ENUMERATE }, { "H", WTS_OP_LOGOFF },
        { "S", WTS_OP_PROCESSES },
    };
    for (size_t i = 0; i < sizeof windows / sizeof windows[0]; i++) {
        int rc = late_return(windows[i].server, windows[i].op);
        if (rc) {
            fprintf(stderr, "late return on %s, op %d: step %d failed\n", windows[i].server, windows[i].op, rc);
            return rc;
        }
    }
    printf("late-return window: %d calls freed by the owner while their worker was in it\n",
           (int)(sizeof windows / sizeof windows[0]));
    const char *names[] = { "A", "B", "H", "U", "F" };
    int refused = 0;
    for (int r = 0; r < rounds; r++) {
        /* Every 9th round runs at a tiny abandoned-thread limit: workers are not replaced, and an
         * engine left with none refuses its queue (1727). */
        wts_engine_set_abandoned_limit(r % 9 == 3 ? 1 + r % 2 : WTS_ENGINE_ABANDONED_LIMIT);
        wts_engine *e = wts_engine_new(1 + r % 8);
        wts_host *hosts[5];
        for (int i = 0; i < 5; i++) {
            WCHAR w[8];
            DWORD code;
            wname(names[i], w);
            hosts[i] = wts_host_open(&wts_provider_sim, w, &code);
            if (!hosts[i]) return 3;
        }
        int submitted = 0, collected = 0;
        for (int k = 0; k < 60; k++) {
            static const int ops[] = { WTS_OP_ENUMERATE, WTS_OP_QUERY, WTS_OP_DISCONNECT, WTS_OP_LOGOFF,
                                       WTS_OP_MESSAGE, WTS_OP_PROCESSES, WTS_OP_TERMINATE };
            int op = ops[k % 7];
            wts_job *job = wts_job_new(op, hosts[k % 5], op == WTS_OP_PROCESSES ? WTS_ANY_SESSION : 2 + k % 2,
                                       2000000 /* 2 ms deadline */, k);
            if (op == WTS_OP_TERMINATE) job->process_id = 100 + 4 * (k % 2);
            if (op == WTS_OP_QUERY) job->info_class = 25;
            if (op == WTS_OP_MESSAGE) {
                WCHAR t[4] = { 'h', 'i', 0 }, x[4] = { 'y', 'o', 0 };
                wts_job_set_message(job, t, 4, x, 4);
            }
            if (wts_engine_submit(e, &job, 1) != 1) return 4;
            submitted++;
        }
        if (r % 3 == 1) wts_engine_cancel_queued(e);
        if (r % 5 == 2) wts_atomic_store(&hosts[1]->dead, 1);
        wts_job *out[16];
        /* Round 4 of every 7 closes with calls still running (orphans). */
        int limit = r % 7 == 4 ? submitted / 3 : submitted;
        while (collected < limit) {
            int n = wts_engine_wait(e, out, 16, 50000000);
            for (int i = 0; i < n; i++) {
                wts_job *job = out[i];
                if (job->state == WTS_JOB_DONE && job->ok && !job->buf &&
                    (job->op <= WTS_OP_QUERY || job->op == WTS_OP_PROCESSES))
                    return 5;
                if (job->state == WTS_JOB_DONE && !job->ok && job->error == WTS_RPC_S_CALL_FAILED_DNE) refused++;
                if (r % 4 == 0 && job->state == WTS_JOB_DONE && !job->ok && job->error == 1723) {
                    wts_job_clear(job);
                    if (wts_engine_submit(e, &job, 1) != 1) return 6; /* a retry reuses the job */
                    collected--;
                } else {
                    wts_job_release(e, job);
                }
            }
            collected += n;
            if (r % 6 == 5) wtssim_release_hangs();
        }
        for (int i = 0; i < 5; i++) wts_host_release(hosts[i]);
        wts_engine_close(e);
    }
    /* Let stuck and orphaned workers return and clean up. */
    int left = wait_threads_gone() || wts_engine_abandoned();
    printf("rounds %d, late returns %d, refused at the limit %d, threads %lld, stuck %lld, abandoned %lld, "
           "outstanding %lld\n", rounds, __atomic_load_n(&g_window_late, __ATOMIC_RELAXED), refused,
           (long long)wts_engine_threads(), (long long)wts_engine_stuck(), (long long)wts_engine_abandoned(),
           (long long)wtssim_outstanding());
    return left ? 1 : 0;
}
