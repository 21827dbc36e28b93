/*
 * wts_platform.h - the few OS services the simulated farm needs (locks, sleeping, clocks, atomics),
 * each hiding its own #ifdef _WIN32 so wts_sim.c reads the same on every platform.
 */
#ifndef WTS_PLATFORM_H
#define WTS_PLATFORM_H

#include <stdint.h>

/* Each engine worker's stack (a reservation on Windows): see wts_thread_start. */
#define WTS_WORKER_STACK (256 * 1024)

#ifdef _WIN32
#  ifndef WIN32_LEAN_AND_MEAN
#    define WIN32_LEAN_AND_MEAN
#  endif
#  include <windows.h>

typedef SRWLOCK wts_mutex;
typedef CONDITION_VARIABLE wts_cond;
#  define WTS_MUTEX_INIT SRWLOCK_INIT
static inline void wts_mutex_init(wts_mutex *m) { InitializeSRWLock(m); }
static inline void wts_mutex_destroy(wts_mutex *m) { (void)m; }
static inline void wts_mutex_lock(wts_mutex *m) { AcquireSRWLockExclusive(m); }
static inline void wts_mutex_unlock(wts_mutex *m) { ReleaseSRWLockExclusive(m); }
static inline void wts_cond_init(wts_cond *c) { InitializeConditionVariable(c); }
static inline void wts_cond_destroy(wts_cond *c) { (void)c; }
static inline void wts_cond_wait(wts_cond *c, wts_mutex *m) { SleepConditionVariableSRW(c, m, INFINITE, 0); }
static inline void wts_cond_broadcast(wts_cond *c) { WakeAllConditionVariable(c); }
static inline void wts_cond_signal(wts_cond *c) { WakeConditionVariable(c); }
/* Waits at most ns nanoseconds; spurious and timed-out wakeups both just return. */
static inline void wts_cond_timedwait(wts_cond *c, wts_mutex *m, int64_t ns)
{
    DWORD ms = ns <= 0 ? 0 : ns >= INT64_C(86400000000000) ? 86400000u : (DWORD)((ns + 999999) / 1000000);
    SleepConditionVariableSRW(c, m, ms, 0);
}
/* Monotonic nanoseconds, for deadlines. */
static inline int64_t wts_monotonic_ns(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER now;
    if (!freq.QuadPart) QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    return (int64_t)((double)now.QuadPart * 1e9 / (double)freq.QuadPart);
}
/* Starts a detached thread; 0 on success. */
static inline int wts_thread_start(DWORD (WINAPI *fn)(void *), void *arg)
{
    /* The real wtsapi32 runs the RPC runtime on this thread (NDR, the named-pipe transport, SSPI's
     * client side), so its stack must be one Windows' own RPC clients run on, not a minimal one.
     * WTS_WORKER_STACK (256 KiB) is a *reservation*: address space, with pages committed only as the
     * call touches them.  It is what IIS gives every thread of its worker processes (w3wp.exe,
     * inetinfo.exe: Microsoft KB 932909), which make RPC, DCOM and SSPI calls all day.  The default
     * is the executable's (1 MiB from the linker; python.exe's header asks for 2,000,000 bytes): a
     * 32-bit process ran out of address space near a thousand stuck calls.  See docs/bulk.md, "The
     * engine". */
    HANDLE t = CreateThread(NULL, WTS_WORKER_STACK, (LPTHREAD_START_ROUTINE)fn, arg,
                            STACK_SIZE_PARAM_IS_A_RESERVATION, NULL);
    if (!t) return -1;
    CloseHandle(t);
    return 0;
}
#  define WTS_THREAD_FN(name, arg) DWORD WINAPI name(void *arg)
#  define WTS_THREAD_RETURN return 0

#  ifndef CREATE_WAITABLE_TIMER_HIGH_RESOLUTION
#    define CREATE_WAITABLE_TIMER_HIGH_RESOLUTION 0x00000002
#  endif
/* Sleep() ticks at 15.6 ms by default, far coarser than a 2 ms round trip: use a high-resolution
 * waitable timer (Windows 10 1803+), falling back to a plain one. */
static inline void wts_sleep_ns(int64_t ns)
{
    if (ns <= 0) return;
    HANDLE t = CreateWaitableTimerExW(NULL, NULL, CREATE_WAITABLE_TIMER_HIGH_RESOLUTION, TIMER_ALL_ACCESS);
    if (!t) t = CreateWaitableTimerExW(NULL, NULL, 0, TIMER_ALL_ACCESS);
    if (!t) { Sleep((DWORD)((ns + 999999) / 1000000)); return; }
    LARGE_INTEGER due;
    due.QuadPart = -(LONGLONG)((ns + 99) / 100); /* negative: relative, in 100 ns units */
    if (SetWaitableTimer(t, &due, 0, NULL, NULL, FALSE)) WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
}

/* FILETIME now: 100 ns ticks since 1601-01-01 UTC. */
static inline int64_t wts_filetime_now(void)
{
    FILETIME ft;
    GetSystemTimeAsFileTime(&ft);
    return ((int64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
}

typedef volatile LONG64 wts_atomic64;
static inline int64_t wts_atomic_add(wts_atomic64 *a, int64_t d) { return InterlockedExchangeAdd64(a, d) + d; }
static inline int64_t wts_atomic_load(wts_atomic64 *a) { return InterlockedCompareExchange64(a, 0, 0); }
static inline void wts_atomic_store(wts_atomic64 *a, int64_t v) { InterlockedExchange64(a, v); }

#else /* POSIX */
#  include <pthread.h>
#  include <time.h>
#  include <errno.h>

typedef pthread_mutex_t wts_mutex;
typedef pthread_cond_t wts_cond;
#  define WTS_MUTEX_INIT PTHREAD_MUTEX_INITIALIZER
static inline void wts_mutex_init(wts_mutex *m) { pthread_mutex_init(m, NULL); }
static inline void wts_mutex_destroy(wts_mutex *m) { pthread_mutex_destroy(m); }
static inline void wts_mutex_lock(wts_mutex *m) { pthread_mutex_lock(m); }
static inline void wts_mutex_unlock(wts_mutex *m) { pthread_mutex_unlock(m); }
static inline void wts_cond_init(wts_cond *c) { pthread_cond_init(c, NULL); }
static inline void wts_cond_destroy(wts_cond *c) { pthread_cond_destroy(c); }
static inline void wts_cond_wait(wts_cond *c, wts_mutex *m) { pthread_cond_wait(c, m); }
static inline void wts_cond_broadcast(wts_cond *c) { pthread_cond_broadcast(c); }
static inline void wts_cond_signal(wts_cond *c) { pthread_cond_signal(c); }
static inline void wts_cond_timedwait(wts_cond *c, wts_mutex *m, int64_t ns)
{
    /* Condition variables here use CLOCK_REALTIME; a jump of the wall clock only shortens or
     * lengthens one wait, and every caller re-checks its own monotonic deadline. */
    struct timespec ts;
    if (ns < 0) ns = 0;
    if (ns > INT64_C(86400000000000)) ns = INT64_C(86400000000000);
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t t = (int64_t)ts.tv_nsec + ns % 1000000000;
    ts.tv_sec += (time_t)(ns / 1000000000 + t / 1000000000);
    ts.tv_nsec = (long)(t % 1000000000);
    pthread_cond_timedwait(c, m, &ts);
}
static inline int64_t wts_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
static inline int wts_thread_start(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* The sim's calls need little (and off Windows there is nothing else); hundreds may run or be
     * stuck.  glibc carves static TLS out of this too, hence not the 16 KiB minimum. */
    pthread_attr_setstacksize(&attr, WTS_WORKER_STACK);
    int rc = pthread_create(&t, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return rc ? -1 : 0;
}
#  define WTS_THREAD_FN(name, arg) void *name(void *arg)
#  define WTS_THREAD_RETURN return NULL

static inline void wts_sleep_ns(int64_t ns)
{
    if (ns <= 0) return;
    struct timespec req = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) }, rem;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR) req = rem;
}

static inline int64_t wts_filetime_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* 11644473600 s separate 1601-01-01 from 1970-01-01. */
    return ((int64_t)ts.tv_sec + INT64_C(11644473600)) * 10000000 + ts.tv_nsec / 100;
}

typedef int64_t wts_atomic64;
static inline int64_t wts_atomic_add(wts_atomic64 *a, int64_t d) { return __atomic_add_fetch(a, d, __ATOMIC_SEQ_CST); }
static inline int64_t wts_atomic_load(wts_atomic64 *a) { return __atomic_load_n(a, __ATOMIC_SEQ_CST); }
static inline void wts_atomic_store(wts_atomic64 *a, int64_t v) { __atomic_store_n(a, v, __ATOMIC_SEQ_CST); }
#endif

#endif /* WTS_PLATFORM_H */
