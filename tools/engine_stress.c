/*
 * engine_stress.c - the bulk engine's native half under load, for ThreadSanitizer and
 * AddressSanitizer (tools/engine_stress.sh builds and runs it).  Each round loads a farm with slow,
 * hanging and unreachable servers, submits a mix of calls with short deadlines, sometimes cancels or
 * closes early with calls still in flight, then releases the hangs and checks that every job came
 * back exactly once and that the simulator has nothing outstanding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wtsapi/wts_engine.h"
#include "wtsapi/wts_sim.h"

static const char FARM[] =
    "WTSSIM\t1\n"
    "farm\t7\t0\tA\t-1\n"
    "server\tA\t200\t300\tnone\n"
    "session\t2\tRDP-Tcp#1\t0\tu1\tD\tc\t0\t\t0\t0\t0\t0\t0\t0\t1\t\n"
    "session\t3\tRDP-Tcp#2\t0\tu2\tD\tc\t0\t\t0\t0\t0\t0\t0\t0\t1\t\n"
    "server\tB\t0\t100\tnone\n"
    "session\t2\tRDP-Tcp#1\t0\tu1\tD\tc\t0\t\t0\t0\t0\t0\t0\t0\t1\t\n"
    "server\tH\t100\t0\thang\n"
    "session\t2\tRDP-Tcp#1\t0\tu1\tD\tc\t0\t\t0\t0\t0\t0\t0\t0\t1\t\n"
    "server\tU\t50\t0\tunreachable\n"
    "server\tF\t50\t0\tbusy:3\n"
    "session\t2\tRDP-Tcp#1\t0\tu1\tD\tc\t0\t\t0\t0\t0\t0\t0\t0\t1\t\n";

static void wname(const char *s, WCHAR *out)
{
    while ((*out++ = (WCHAR)(unsigned char)*s++) != 0) {}
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 40;
    char err[256];
    if (wtssim_load(FARM, sizeof FARM - 1, err, sizeof err)) {
        fprintf(stderr, "load: %s\n", err);
        return 2;
    }
    const char *names[] = { "A", "B", "H", "U", "F" };
    for (int r = 0; r < rounds; r++) {
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
            int op = 1 + k % 5;
            wts_job *job = wts_job_new(op, hosts[k % 5], 2 + k % 2, 2000000 /* 2 ms deadline */, k);
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
                if (job->state == WTS_JOB_DONE && job->ok && job->op <= WTS_OP_QUERY && !job->buf) return 5;
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
    for (int spin = 0; spin < 500 && (wts_engine_threads() || wtssim_outstanding()); spin++) {
        wtssim_release_hangs();
        wts_sleep_ns(10000000);
    }
    printf("rounds %d, threads %lld, stuck %lld, outstanding %lld\n", rounds, (long long)wts_engine_threads(),
           (long long)wts_engine_stuck(), (long long)wtssim_outstanding());
    return wts_engine_threads() || wts_engine_stuck() || wtssim_outstanding() ? 1 : 0;
}
