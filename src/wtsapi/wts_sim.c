/*
 * wts_sim.c - a simulated RD Session Host farm behind the exact wtsapi32 surface.
 *
 * Compiled into wts._wts on every platform (functions named wtssim_WTS*, reached through
 * wts_provider_sim), or on its own with -DWTSSIM_AS_WTSAPI, where the functions carry the real
 * wtsapi32 names so the sim can stand in for wtsapi32.dll (under Wine) or be loaded with ctypes.
 *
 * Behaviour follows Windows where Microsoft documents it; docs/sim.md lists each choice made where
 * the documentation is silent.  Every call that is an RPC on Windows waits the server's round trip
 * (latency + seeded jitter) while holding no lock, so concurrent callers overlap as on a network.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#  define _POSIX_C_SOURCE 200809L /* nanosleep, clock_gettime */
#endif
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "wts_seam.h"
#include "wts_platform.h"
#include "wts_sim.h"

#ifdef WTSSIM_AS_WTSAPI
#  define SIMFN(name) name
#  ifdef _WIN32
#    define SIMAPI __declspec(dllexport)
#  else
#    define SIMAPI __attribute__((visibility("default")))
#  endif
#else
#  define SIMFN(name) wtssim_##name
#  define SIMAPI static
#endif

/* ------------------------------------------------------------------------------------------------ */
/* Last error: Windows keeps it in the thread's TEB; off Windows we keep it per thread ourselves.     */

#ifndef _WIN32
static _Thread_local DWORD tls_last_error;
DWORD wts_get_last_error(void) { return tls_last_error; }
void wts_set_last_error(DWORD e) { tls_last_error = e; }
#  ifdef WTSSIM_AS_WTSAPI
/* ctypes callers on Linux have no GetLastError of their own. */
SIMAPI DWORD GetLastError(void) { return tls_last_error; }
#  endif
#endif

static BOOL fail(DWORD err) { wts_set_last_error(err); return FALSE; }

/* ------------------------------------------------------------------------------------------------ */
/* Allocations handed to callers.  Each carries a header so WTSFreeMemory/WTSFreeMemoryExW can check */
/* what they are given, and a global count so tests can prove nothing leaks.                          */

#define BLOCK_MAGIC 0x57545342u /* "WTSB" */
#define BLOCK_DEAD 0x44454144u
#define HANDLE_MAGIC 0x57545348u /* "WTSH" */
enum {
    BLOCK_PLAIN = 1, BLOCK_SESSION_INFO_1 = 2, BLOCK_STRING = 3,
    BLOCK_PROCESS_INFO_0 = 4, BLOCK_PROCESS_INFO_1 = 5, /* WTSEnumerateProcessesExW arrays, by level */
    BLOCK_SID = 6                                      /* a SID inside a process array */
};

typedef struct block_header {
    uint32_t magic;
    uint32_t kind;
    uint64_t count; /* entries, for the Ex arrays (BLOCK_SESSION_INFO_1, BLOCK_PROCESS_INFO_*) */
} block_header;     /* 16 bytes: keeps the payload 16-aligned on x64 */

static wts_atomic64 g_outstanding;
static wts_atomic64 g_rpc_total;
static wts_atomic64 g_unknown_rpcs;
static wts_atomic64 g_hung;

static void *block_alloc(uint32_t kind, size_t size, uint64_t count)
{
    block_header *h = (block_header *)calloc(1, sizeof(block_header) + size);
    if (!h) return NULL;
    h->magic = BLOCK_MAGIC;
    h->kind = kind;
    h->count = count;
    wts_atomic_add(&g_outstanding, 1);
    return h + 1;
}

static block_header *block_of(void *p) { return p ? ((block_header *)p) - 1 : NULL; }

static void block_free(void *p)
{
    block_header *h = block_of(p);
    if (!h || h->magic != BLOCK_MAGIC) return;
    h->magic = BLOCK_DEAD;
    free(h);
    wts_atomic_add(&g_outstanding, -1);
}

/* ------------------------------------------------------------------------------------------------ */
/* UTF-16 helpers.                                                                                    */

static size_t wlen(const WCHAR *s)
{
    size_t n = 0;
    if (s) while (s[n]) n++;
    return n;
}

static WCHAR fold(WCHAR c) { return (c >= 'a' && c <= 'z') ? (WCHAR)(c - 32) : c; }

/* Windows compares session and server names without regard to case. */
static int wequal_nocase(const WCHAR *a, const WCHAR *b)
{
    for (;; a++, b++) {
        if (fold(*a) != fold(*b)) return 0;
        if (!*a) return 1;
    }
}

/* Passwords compare exactly. */
static int wcmp_exact(const WCHAR *a, const WCHAR *b)
{
    for (;; a++, b++) {
        if (*a != *b) return 1;
        if (!*a) return 0;
    }
}

static void wcopy(WCHAR *dst, size_t cap, const WCHAR *src)
{
    size_t n = wlen(src);
    if (n >= cap) n = cap - 1; /* truncate to fit, always terminate */
    memcpy(dst, src, n * sizeof(WCHAR));
    dst[n] = 0;
}

/* UTF-8 -> UTF-16; returns units written (without terminator) or -1 if it does not fit or is invalid. */
static long utf8_to_utf16(const char *s, size_t n, WCHAR *out, size_t cap)
{
    size_t i = 0, o = 0;
    while (i < n) {
        uint32_t c = (unsigned char)s[i];
        int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
        if (extra < 0 || i + (size_t)extra >= n) return -1;
        if (extra) c &= (0x3Fu >> extra);
        for (int k = 1; k <= extra; k++) {
            unsigned char cc = (unsigned char)s[i + k];
            if ((cc & 0xC0) != 0x80) return -1;
            c = (c << 6) | (cc & 0x3F);
        }
        i += (size_t)extra + 1;
        if (c >= 0x10000) {
            if (o + 2 >= cap) return -1;
            c -= 0x10000;
            out[o++] = (WCHAR)(0xD800 + (c >> 10));
            out[o++] = (WCHAR)(0xDC00 + (c & 0x3FF));
        } else {
            if (o + 1 >= cap) return -1;
            out[o++] = (WCHAR)c;
        }
    }
    out[o] = 0;
    return (long)o;
}

/* A growable text buffer for dumps and reports. */
typedef struct textbuf { char *p; size_t len, cap; int oom; } textbuf;

static void tb_reserve(textbuf *b, size_t more)
{
    if (b->oom || b->len + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1) cap *= 2;
    char *p = (char *)realloc(b->p, cap);
    if (!p) { b->oom = 1; return; }
    b->p = p;
    b->cap = cap;
}

static void tb_put(textbuf *b, const char *s, size_t n)
{
    tb_reserve(b, n);
    if (b->oom) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void tb_str(textbuf *b, const char *s) { tb_put(b, s, strlen(s)); }

static void tb_fmt_i64(textbuf *b, long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", v);
    tb_put(b, tmp, (size_t)n);
}

static void tb_fmt_u64(textbuf *b, unsigned long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", v);
    tb_put(b, tmp, (size_t)n);
}

/* Appends a UTF-16 string as escaped UTF-8 (the load format's escapes: \\ \t \n \r). */
static void tb_wstr(textbuf *b, const WCHAR *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s[i];
        if (c >= 0xD800 && c < 0xDC00 && i + 1 < n && s[i + 1] >= 0xDC00 && s[i + 1] < 0xE000) {
            c = 0x10000 + ((c - 0xD800) << 10) + (s[i + 1] - 0xDC00);
            i++;
        }
        char u[4];
        if (c == '\\') tb_put(b, "\\\\", 2);
        else if (c == '\t') tb_put(b, "\\t", 2);
        else if (c == '\n') tb_put(b, "\\n", 2);
        else if (c == '\r') tb_put(b, "\\r", 2);
        else if (c < 0x80) { u[0] = (char)c; tb_put(b, u, 1); }
        else if (c < 0x800) { u[0] = (char)(0xC0 | (c >> 6)); u[1] = (char)(0x80 | (c & 0x3F)); tb_put(b, u, 2); }
        else if (c < 0x10000) {
            u[0] = (char)(0xE0 | (c >> 12)); u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
            u[2] = (char)(0x80 | (c & 0x3F)); tb_put(b, u, 3);
        } else {
            u[0] = (char)(0xF0 | (c >> 18)); u[1] = (char)(0x80 | ((c >> 12) & 0x3F));
            u[2] = (char)(0x80 | ((c >> 6) & 0x3F)); u[3] = (char)(0x80 | (c & 0x3F)); tb_put(b, u, 4);
        }
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* The farm.                                                                                          */

enum { FAULT_NONE, FAULT_UNREACHABLE, FAULT_HANG, FAULT_BUSY };
static const char *const fault_names[] = { "none", "unreachable", "hang", "busy" };

enum { DENY_QUERY = 1, DENY_DISCONNECT = 2, DENY_LOGOFF = 4, DENY_MESSAGE = 8, DENY_CONNECT = 16, DENY_TERMINATE = 32 };
#define DENY_ALL 63

#define STATION_CAP (WINSTATIONNAME_LENGTH + 1)
#define USER_CAP (USERNAME_LENGTH + 1)
#define DOMAIN_CAP (DOMAIN_LENGTH + 1)
#define CLIENT_CAP (CLIENTNAME_LENGTH + 1)
#define PASSWORD_CAP 257
#define SERVER_CAP 256

/* A process: its image name and account (an index into the farm's accounts, or -1: no SID). */
typedef struct sim_process {
    DWORD pid;
    WCHAR *name; /* malloc'd */
    long account;
    DWORD threads, handles, pagefile, peak_pagefile, working_set, peak_working_set;
    int64_t user_time, kernel_time; /* 100 ns units */
} sim_process;

#define SID_MAX_SUB 15
#define SID_MAX_BYTES (8 + 4 * SID_MAX_SUB)

/* An account the farm's processes run as: what LookupAccountSidW answers for its SID. */
typedef struct sim_account {
    BYTE sid[SID_MAX_BYTES];
    size_t sid_len;
    WCHAR *user, *domain; /* malloc'd */
} sim_account;

/* What a client reports beyond its name and address (WTSClientDisplay, WTSClientBuildNumber,
 * WTSClientProductId, WTSClientProtocolType, and the same fields of WTSCLIENTW); all zero, and the
 * protocol derived (-1: console 0, RDP 2), unless the farm file has a "client" line for the session. */
typedef struct sim_client_extra {
    DWORD hres, vres, depth; /* depth: the SDK's code (WTS_CLIENT_DISPLAY.ColorDepth) */
    DWORD build;
    USHORT product;
    int protocol;
} sim_client_extra;

typedef struct sim_session {
    DWORD id;
    WTS_CONNECTSTATE_CLASS state;
    WCHAR station[STATION_CAP];
    WCHAR user[USER_CAP];
    WCHAR domain[DOMAIN_CAP];
    WCHAR client[CLIENT_CAP];
    DWORD family;
    BYTE address[20];
    sim_client_extra cx; /* the farm file's "client" line: display, build, product id, protocol */
    int64_t logon, connect, disconnect, last_input;
    int locked;
    unsigned deny;
    DWORD reply;
    WCHAR *password; /* NULL when none */
    sim_process *procs; /* the session's processes, in load order */
    size_t nprocs, capprocs;
} sim_session;

typedef struct sim_server {
    WCHAR name[SERVER_CAP];
    int64_t latency_ns, jitter_ns;
    int fault;
    int limited;              /* the fault hits only the first RPCs (farm file: fault_rpcs) */
    wts_atomic64 fault_left;  /* how many more, when limited; at or below 0 the server has recovered */
    wts_mutex lock; /* guards sessions, count and rng */
    sim_session *sessions;
    size_t count, cap;
    uint64_t rng;
    wts_atomic64 rpcs;
} sim_server;

typedef struct sim_message {
    struct sim_message *next;
    size_t server;
    DWORD session;
    WCHAR *title, *text;
    DWORD style, timeout, response;
    BOOL wait;
} sim_message;

typedef struct sim_farm {
    wts_atomic64 refs;
    uint64_t seed;
    int64_t now; /* fixed clock, or 0 for the real one */
    size_t local;
    DWORD current_session; /* WTS_CURRENT_SESSION when the caller has none */
    sim_server *servers;
    size_t nservers;
    size_t *index; /* open-addressing hash of server names -> index + 1 */
    size_t index_mask;
    wts_mutex msg_lock;
    sim_message *messages, **messages_tail;
    wts_mutex hang_lock;
    wts_cond hang_cond;
    uint64_t hang_generation;
    int closing;
    sim_account *accounts; /* read-only once loaded */
    size_t naccounts, capaccounts;
    size_t *account_index; /* open-addressing hash of SIDs -> index + 1 */
    size_t account_mask;
} sim_farm;

static wts_mutex g_farm_lock = WTS_MUTEX_INIT;
static sim_farm *g_farm;

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static size_t name_hash(const WCHAR *s)
{
    uint64_t h = UINT64_C(1469598103934665603);
    for (; *s; s++) h = (h ^ fold(*s)) * UINT64_C(1099511628211);
    return (size_t)h;
}

static void session_free(sim_session *x)
{
    free(x->password);
    for (size_t k = 0; k < x->nprocs; k++) free(x->procs[k].name);
    free(x->procs);
}

static void farm_free(sim_farm *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->nservers; i++) {
        sim_server *s = &f->servers[i];
        for (size_t j = 0; j < s->count; j++) session_free(&s->sessions[j]);
        free(s->sessions);
        wts_mutex_destroy(&s->lock);
    }
    for (sim_message *m = f->messages, *next; m; m = next) {
        next = m->next;
        free(m->title);
        free(m->text);
        free(m);
    }
    free(f->servers);
    free(f->index);
    for (size_t i = 0; i < f->naccounts; i++) {
        free(f->accounts[i].user);
        free(f->accounts[i].domain);
    }
    free(f->accounts);
    free(f->account_index);
    wts_mutex_destroy(&f->msg_lock);
    wts_mutex_destroy(&f->hang_lock);
    wts_cond_destroy(&f->hang_cond);
    free(f);
}

static sim_farm *farm_acquire(void)
{
    wts_mutex_lock(&g_farm_lock);
    sim_farm *f = g_farm;
    if (f) wts_atomic_add(&f->refs, 1);
    wts_mutex_unlock(&g_farm_lock);
    return f;
}

static void farm_release(sim_farm *f)
{
    if (f && wts_atomic_add(&f->refs, -1) == 0) farm_free(f);
}

/* Index of the named server, or -1 when the farm has no such server. */
static long farm_find(const sim_farm *f, const WCHAR *name)
{
    if (!f || !name) return -1;
    for (size_t i = name_hash(name) & f->index_mask;; i = (i + 1) & f->index_mask) {
        size_t v = f->index[i];
        if (!v) return -1;
        if (wequal_nocase(f->servers[v - 1].name, name)) return (long)(v - 1);
    }
}

static int64_t farm_now(const sim_farm *f) { return f->now ? f->now : wts_filetime_now(); }

/* ------------------------------------------------------------------------------------------------ */
/* Loading.                                                                                           */

#define MAX_FIELDS 20

typedef struct parse_ctx { char *err; size_t errlen; size_t line; } parse_ctx;

static int perr(parse_ctx *c, const char *what)
{
    snprintf(c->err, c->errlen, "line %zu: %s", c->line, what);
    return -1;
}

/* Unescapes a field in place (\\ \t \n \r); returns its new length or -1 on a bad escape. */
static long unescape(char *s)
{
    char *r = s, *w = s;
    while (*r) {
        if (*r != '\\') { *w++ = *r++; continue; }
        r++;
        switch (*r) {
        case '\\': *w++ = '\\'; break;
        case 't': *w++ = '\t'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        default: return -1;
        }
        r++;
    }
    *w = 0;
    return (long)(w - s);
}

static int field_wstr(parse_ctx *c, char *field, WCHAR *out, size_t cap, const char *what)
{
    long n = unescape(field);
    if (n < 0) return perr(c, "bad escape in a string field");
    if (utf8_to_utf16(field, (size_t)n, out, cap) < 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s is too long or not UTF-8", what);
        return perr(c, msg);
    }
    return 0;
}

static int field_i64(parse_ctx *c, const char *field, long long lo, long long hi, long long *out, const char *what)
{
    char *end;
    long long v = strtoll(field, &end, 10);
    if (!*field || *end || v < lo || v > hi) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s is not an integer in range", what);
        return perr(c, msg);
    }
    *out = v;
    return 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static size_t split_fields(char *line, char **fields)
{
    size_t n = 0;
    fields[n++] = line;
    for (char *p = line; *p; p++) {
        if (*p == '\t') {
            *p = 0;
            if (n == MAX_FIELDS) return MAX_FIELDS + 1;
            fields[n++] = p + 1;
        }
    }
    return n;
}

static int parse_server(parse_ctx *c, sim_farm *f, char **fl, size_t nf)
{
    long long lat, jit;
    if (nf != 5) return perr(c, "a server line has 5 fields");
    sim_server *s = &f->servers[f->nservers];
    memset(s, 0, sizeof *s);
    if (field_wstr(c, fl[1], s->name, SERVER_CAP, "server name")) return -1;
    if (!s->name[0]) return perr(c, "empty server name");
    if (field_i64(c, fl[2], 0, INT64_C(3600000000), &lat, "latency") ||
        field_i64(c, fl[3], 0, INT64_C(3600000000), &jit, "jitter"))
        return -1;
    s->latency_ns = lat * 1000;
    s->jitter_ns = jit * 1000;
    s->fault = -1;
    /* "busy" or "busy:N": the fault, and optionally how many RPCs it hits before the server recovers. */
    char *colon = strchr(fl[4], ':');
    if (colon) {
        long long n;
        *colon = 0;
        if (field_i64(c, colon + 1, 1, INT64_C(1000000000), &n, "fault RPC count")) return -1;
        s->limited = 1;
        s->fault_left = n;
    }
    for (int k = 0; k < 4; k++)
        if (!strcmp(fl[4], fault_names[k])) s->fault = k;
    if (s->fault < 0) return perr(c, "unknown fault");
    if (colon && s->fault == FAULT_NONE) return perr(c, "a fault RPC count without a fault");
    if (farm_find(f, s->name) >= 0) return perr(c, "duplicate server name");
    s->rng = f->seed ^ (UINT64_C(0x9E3779B97F4A7C15) * (f->nservers + 1));
    wts_mutex_init(&s->lock);
    /* index it */
    size_t i = name_hash(s->name) & f->index_mask;
    while (f->index[i]) i = (i + 1) & f->index_mask;
    f->index[i] = ++f->nservers;
    return 0;
}

static int parse_session(parse_ctx *c, sim_server *s, char **fl, size_t nf)
{
    long long v;
    if (nf != 17) return perr(c, "a session line has 17 fields");
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        sim_session *p = (sim_session *)realloc(s->sessions, cap * sizeof *p);
        if (!p) return perr(c, "out of memory");
        s->sessions = p;
        s->cap = cap;
    }
    sim_session *x = &s->sessions[s->count];
    memset(x, 0, sizeof *x);
    x->cx.protocol = -1;
    if (field_i64(c, fl[1], 0, 0xFFFFFFFELL, &v, "session id")) return -1;
    x->id = (DWORD)v;
    for (size_t j = 0; j < s->count; j++)
        if (s->sessions[j].id == x->id) return perr(c, "duplicate session id on this server");
    if (field_wstr(c, fl[2], x->station, STATION_CAP, "station")) return -1;
    if (field_i64(c, fl[3], 0, 9, &v, "state")) return -1;
    x->state = (WTS_CONNECTSTATE_CLASS)v;
    if (field_wstr(c, fl[4], x->user, USER_CAP, "user") || field_wstr(c, fl[5], x->domain, DOMAIN_CAP, "domain") ||
        field_wstr(c, fl[6], x->client, CLIENT_CAP, "client"))
        return -1;
    if (field_i64(c, fl[7], 0, 65535, &v, "address family")) return -1;
    x->family = (DWORD)v;
    size_t hl = strlen(fl[8]);
    if (hl != 0 && hl != 40) return perr(c, "address is 40 hex digits or empty");
    for (size_t k = 0; k < hl / 2; k++) {
        int hi = hexval(fl[8][2 * k]), lo = hexval(fl[8][2 * k + 1]);
        if (hi < 0 || lo < 0) return perr(c, "address is not hex");
        x->address[k] = (BYTE)(hi * 16 + lo);
    }
    int64_t *times[4] = { &x->logon, &x->connect, &x->disconnect, &x->last_input };
    for (int k = 0; k < 4; k++) {
        if (field_i64(c, fl[9 + k], 0, INT64_MAX, &v, "time")) return -1;
        *times[k] = v;
    }
    if (field_i64(c, fl[13], 0, 1, &v, "locked")) return -1;
    x->locked = (int)v;
    if (field_i64(c, fl[14], 0, DENY_ALL, &v, "deny")) return -1;
    x->deny = (unsigned)v;
    if (field_i64(c, fl[15], 0, 0xFFFFFFFFLL, &v, "reply")) return -1;
    x->reply = v ? (DWORD)v : WTS_IDOK;
    if (fl[16][0]) {
        x->password = (WCHAR *)malloc(PASSWORD_CAP * sizeof(WCHAR));
        if (!x->password) return perr(c, "out of memory");
        if (field_wstr(c, fl[16], x->password, PASSWORD_CAP, "password")) {
            free(x->password);
            x->password = NULL;
            return -1;
        }
    }
    s->count++;
    return 0;
}

/* ---- processes and their accounts ---- */

static size_t sid_hash(const BYTE *sid, size_t n)
{
    uint64_t h = UINT64_C(1469598103934665603);
    for (size_t i = 0; i < n; i++) h = (h ^ sid[i]) * UINT64_C(1099511628211);
    return (size_t)h;
}

static size_t sid_length(const BYTE *sid) { return 8 + 4 * (size_t)sid[1]; }

/* "S-1-<authority>-<sub>..." (1 to 15 subauthorities) -> the binary SID; its length, or 0 when malformed. */
static size_t sid_parse(const char *text, BYTE *out)
{
    const char *p = text;
    if (p[0] != 'S' || p[1] != '-' || p[2] != '1' || p[3] != '-') return 0;
    p += 4;
    unsigned long long parts[SID_MAX_SUB + 1];
    size_t n = 0;
    for (;;) {
        if (*p < '0' || *p > '9' || n > SID_MAX_SUB) return 0;
        unsigned long long v = 0;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (unsigned)(*p++ - '0');
            if (v > UINT64_C(0xFFFFFFFFFFFF)) return 0;
        }
        parts[n++] = v;
        if (!*p) break;
        if (*p++ != '-') return 0;
    }
    if (n < 2) return 0; /* the authority and at least one subauthority */
    for (size_t k = 1; k < n; k++)
        if (parts[k] > 0xFFFFFFFFu) return 0;
    out[0] = 1;
    out[1] = (BYTE)(n - 1);
    for (int k = 0; k < 6; k++) out[2 + k] = (BYTE)(parts[0] >> (8 * (5 - k))); /* big-endian */
    for (size_t k = 1; k < n; k++) {
        DWORD sub = (DWORD)parts[k];
        memcpy(out + 8 + 4 * (k - 1), &sub, 4); /* little-endian, as on x86 and x64 */
    }
    return 8 + 4 * (n - 1);
}

/* The binary SID as "S-1-..." into out (at least 192 chars: 15 subauthorities of 10 digits). */
static size_t sid_format(const BYTE *sid, char *out, size_t cap)
{
    unsigned long long authority = 0;
    for (int k = 0; k < 6; k++) authority = (authority << 8) | sid[2 + k];
    size_t n = (size_t)snprintf(out, cap, "S-%u-%llu", sid[0], authority);
    for (size_t k = 0; k < sid[1] && n < cap; k++) {
        DWORD sub;
        memcpy(&sub, sid + 8 + 4 * k, 4);
        n += (size_t)snprintf(out + n, cap - n, "-%lu", (unsigned long)sub);
    }
    return n < cap ? n : cap - 1;
}

static long account_find(const sim_farm *f, const BYTE *sid, size_t n)
{
    if (!f->account_index) return -1;
    for (size_t i = sid_hash(sid, n) & f->account_mask;; i = (i + 1) & f->account_mask) {
        size_t v = f->account_index[i];
        if (!v) return -1;
        const sim_account *a = &f->accounts[v - 1];
        if (a->sid_len == n && !memcmp(a->sid, sid, n)) return (long)(v - 1);
    }
}

static int account_reindex(sim_farm *f, size_t slots)
{
    size_t *idx = (size_t *)calloc(slots, sizeof(size_t));
    if (!idx) return -1;
    free(f->account_index);
    f->account_index = idx;
    f->account_mask = slots - 1;
    for (size_t a = 0; a < f->naccounts; a++) {
        size_t i = sid_hash(f->accounts[a].sid, f->accounts[a].sid_len) & f->account_mask;
        while (idx[i]) i = (i + 1) & f->account_mask;
        idx[i] = a + 1;
    }
    return 0;
}

static WCHAR *field_wdup(parse_ctx *c, char *field, size_t cap, const char *what)
{
    WCHAR *w = (WCHAR *)malloc(cap * sizeof(WCHAR));
    if (!w) { perr(c, "out of memory"); return NULL; }
    if (field_wstr(c, field, w, cap, what)) { free(w); return NULL; }
    return w;
}

#define IMAGE_CAP 261   /* MAX_PATH + 1 */
#define ACCOUNT_CAP 257 /* UNLEN + 1; domains (DNLEN 15, or names such as "Font Driver Host") fit too */

/* The account of a process line (SID, domain, user): found or added; -1 on error (reported). */
static int process_account(parse_ctx *c, sim_farm *f, char *sid_text, char *domain, char *user, long *out)
{
    BYTE sid[SID_MAX_BYTES];
    *out = -1;
    if (!sid_text[0]) {
        if (domain[0] || user[0]) return perr(c, "an account name without a SID");
        return 0;
    }
    size_t n = sid_parse(sid_text, sid);
    if (!n) return perr(c, "SID is not S-1-<authority>-<subauthority>... with 1 to 15 subauthorities");
    WCHAR wu[ACCOUNT_CAP], wd[ACCOUNT_CAP];
    if (field_wstr(c, user, wu, ACCOUNT_CAP, "account user") || field_wstr(c, domain, wd, ACCOUNT_CAP, "account domain"))
        return -1;
    if (!wu[0]) return perr(c, "a SID without an account name");
    long a = account_find(f, sid, n);
    if (a >= 0) {
        if (!wequal_nocase(f->accounts[a].user, wu) || !wequal_nocase(f->accounts[a].domain, wd))
            return perr(c, "this SID already names another account");
        *out = a;
        return 0;
    }
    if (f->naccounts == f->capaccounts) {
        size_t cap = f->capaccounts ? f->capaccounts * 2 : 16;
        sim_account *p = (sim_account *)realloc(f->accounts, cap * sizeof *p);
        if (!p) return perr(c, "out of memory");
        f->accounts = p;
        f->capaccounts = cap;
    }
    sim_account *acc = &f->accounts[f->naccounts];
    memset(acc, 0, sizeof *acc);
    memcpy(acc->sid, sid, n);
    acc->sid_len = n;
    size_t lu = wlen(wu), ld = wlen(wd);
    acc->user = (WCHAR *)malloc((lu + 1) * sizeof(WCHAR));
    acc->domain = (WCHAR *)malloc((ld + 1) * sizeof(WCHAR));
    if (!acc->user || !acc->domain) {
        free(acc->user);
        free(acc->domain);
        return perr(c, "out of memory");
    }
    memcpy(acc->user, wu, (lu + 1) * sizeof(WCHAR));
    memcpy(acc->domain, wd, (ld + 1) * sizeof(WCHAR));
    f->naccounts++;
    /* Keep the hash at most half full. */
    if (f->naccounts * 2 > f->account_mask + 1 || !f->account_index) {
        size_t slots = f->account_index ? (f->account_mask + 1) * 2 : 64;
        if (account_reindex(f, slots)) return perr(c, "out of memory");
    } else {
        size_t i = sid_hash(sid, n) & f->account_mask;
        while (f->account_index[i]) i = (i + 1) & f->account_mask;
        f->account_index[i] = f->naccounts;
    }
    *out = (long)(f->naccounts - 1);
    return 0;
}

/* process <pid> <image> <sid> <domain> <user> <threads> <handles> <pagefile> <peak pagefile> <working set>
 * <peak working set> <user time> <kernel time>: a process of the session on the line before it. */
static int parse_process(parse_ctx *c, sim_farm *f, sim_session *x, char **fl, size_t nf)
{
    long long v;
    if (nf != 14) return perr(c, "a process line has 14 fields");
    if (x->nprocs == x->capprocs) {
        size_t cap = x->capprocs ? x->capprocs * 2 : 4;
        sim_process *p = (sim_process *)realloc(x->procs, cap * sizeof *p);
        if (!p) return perr(c, "out of memory");
        x->procs = p;
        x->capprocs = cap;
    }
    sim_process *pr = &x->procs[x->nprocs];
    memset(pr, 0, sizeof *pr);
    if (field_i64(c, fl[1], 0, 0xFFFFFFFFLL, &v, "process id")) return -1;
    pr->pid = (DWORD)v;
    if (process_account(c, f, fl[3], fl[4], fl[5], &pr->account)) return -1;
    DWORD *counts[6] = { &pr->threads, &pr->handles, &pr->pagefile, &pr->peak_pagefile, &pr->working_set,
                         &pr->peak_working_set };
    static const char *const count_names[6] = { "thread count", "handle count", "pagefile usage",
                                                "peak pagefile usage", "working set", "peak working set" };
    for (int k = 0; k < 6; k++) {
        if (field_i64(c, fl[6 + k], 0, 0xFFFFFFFFLL, &v, count_names[k])) return -1;
        *counts[k] = (DWORD)v;
    }
    if (field_i64(c, fl[12], 0, INT64_MAX, &v, "user time")) return -1;
    pr->user_time = v;
    if (field_i64(c, fl[13], 0, INT64_MAX, &v, "kernel time")) return -1;
    pr->kernel_time = v;
    pr->name = field_wdup(c, fl[2], IMAGE_CAP, "image name");
    if (!pr->name) return -1;
    if (!pr->name[0]) {
        free(pr->name);
        return perr(c, "empty image name");
    }
    x->nprocs++;
    return 0;
}

static int cmp_dword(const void *a, const void *b)
{
    DWORD x = *(const DWORD *)a, y = *(const DWORD *)b;
    return x < y ? -1 : x > y;
}

/* Process ids are unique per server, as on Windows. */
static int check_pids(parse_ctx *c, const sim_server *s)
{
    size_t n = 0;
    for (size_t j = 0; j < s->count; j++) n += s->sessions[j].nprocs;
    if (n < 2) return 0;
    DWORD *pids = (DWORD *)malloc(n * sizeof(DWORD));
    if (!pids) return perr(c, "out of memory");
    size_t k = 0;
    for (size_t j = 0; j < s->count; j++)
        for (size_t i = 0; i < s->sessions[j].nprocs; i++) pids[k++] = s->sessions[j].procs[i].pid;
    qsort(pids, n, sizeof(DWORD), cmp_dword);
    long dup = -1;
    for (k = 1; k < n && dup < 0; k++)
        if (pids[k] == pids[k - 1]) dup = (long)pids[k];
    free(pids);
    if (dup >= 0) {
        char name[SERVER_CAP * 3 + 1];
        size_t w = 0;
        for (const WCHAR *q = s->name; *q && w + 1 < sizeof name; q++) name[w++] = *q < 0x80 ? (char)*q : '?';
        name[w] = 0;
        snprintf(c->err, c->errlen, "server %s: process id %ld is used twice", name, dup);
        return -1;
    }
    return 0;
}

/* "client\tHRES\tVRES\tDEPTH\tBUILD\tPRODUCT\tPROTOCOL": the client data of the session just above. */
static int parse_client(parse_ctx *c, sim_session *x, char **fl, size_t nf)
{
    long long v[6];
    static const char *const what[6] = { "horizontal resolution", "vertical resolution", "colour depth",
                                         "client build", "client product id", "protocol" };
    static const long long low[6] = { 0, 0, 0, 0, 0, -1 }, high[6] = { 65535, 65535, 32, 0xFFFFFFFFLL, 65535, 2 };
    if (nf != 7) return perr(c, "a client line has 7 fields");
    for (int k = 0; k < 6; k++)
        if (field_i64(c, fl[1 + k], low[k], high[k], &v[k], what[k])) return -1;
    x->cx.hres = (DWORD)v[0];
    x->cx.vres = (DWORD)v[1];
    x->cx.depth = (DWORD)v[2];
    x->cx.build = (DWORD)v[3];
    x->cx.product = (USHORT)v[4];
    x->cx.protocol = (int)v[5];
    return 0;
}

static int parse_farm(parse_ctx *c, char *text, size_t len, sim_farm *f)
{
    size_t nservers = 0;
    for (size_t i = 0; i + 7 <= len; i++)
        if ((i == 0 || text[i - 1] == '\n') && !memcmp(text + i, "server\t", 7)) nservers++;
    /* Allocate at least one slot; an empty farm is reported after the header has been checked. */
    f->servers = (sim_server *)calloc(nservers ? nservers : 1, sizeof(sim_server));
    size_t slots = 16;
    while (slots < nservers * 2) slots *= 2;
    f->index = (size_t *)calloc(slots, sizeof(size_t));
    f->index_mask = slots - 1;
    if (!f->servers || !f->index) return perr(c, "out of memory");

    char *fl[MAX_FIELDS + 1];
    char *local_name = NULL;
    long long current = -1;
    int have_farm = 0;
    char *p = text, *end = text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line = p;
        if (nl) *nl = 0;
        p = nl ? nl + 1 : end;
        c->line++;
        if (!*line && c->line > 1) continue; /* the header must be the very first line */
        size_t nf = split_fields(line, fl);
        if (nf > MAX_FIELDS) return perr(c, "too many fields");
        if (c->line == 1) {
            if (nf != 2 || strcmp(fl[0], "WTSSIM") || strcmp(fl[1], "1")) return perr(c, "not a WTSSIM 1 farm");
        } else if (!strcmp(fl[0], "farm")) {
            long long now;
            if (nf != 5) return perr(c, "a farm line has 5 fields");
            char *e;
            unsigned long long useed = strtoull(fl[1], &e, 10);
            if (!*fl[1] || *e) return perr(c, "seed is not an integer");
            f->seed = useed;
            if (field_i64(c, fl[2], 0, INT64_MAX, &now, "now")) return -1;
            f->now = now;
            if (unescape(fl[3]) < 0) return perr(c, "bad escape in a string field");
            local_name = fl[3];
            if (field_i64(c, fl[4], -1, 0xFFFFFFFELL, &current, "current session")) return -1;
            have_farm = 1;
        } else if (!strcmp(fl[0], "server")) {
            if (!have_farm) return perr(c, "server before the farm line");
            if (parse_server(c, f, fl, nf)) return -1;
        } else if (!strcmp(fl[0], "session")) {
            if (!f->nservers) return perr(c, "session before any server");
            if (parse_session(c, &f->servers[f->nservers - 1], fl, nf)) return -1;
        } else if (!strcmp(fl[0], "process")) {
            sim_server *ps = f->nservers ? &f->servers[f->nservers - 1] : NULL;
            if (!ps || !ps->count) return perr(c, "process before any session of its server");
            if (parse_process(c, f, &ps->sessions[ps->count - 1], fl, nf)) return -1;
        } else if (!strcmp(fl[0], "client")) {
            sim_server *cs = f->nservers ? &f->servers[f->nservers - 1] : NULL;
            if (!cs || !cs->count) return perr(c, "client before any session");
            if (parse_client(c, &cs->sessions[cs->count - 1], fl, nf)) return -1;
        } else if (!strcmp(fl[0], "message")) {
            /* Dumps carry the message log; it is output only and not loaded back. */
        } else {
            return perr(c, "unknown line kind");
        }
    }
    if (!have_farm) return perr(c, "no farm line");
    if (!f->nservers) return perr(c, "a farm needs at least one server");
    for (size_t i = 0; i < f->nservers; i++)
        if (check_pids(c, &f->servers[i])) return -1;
    f->local = 0;
    if (local_name && *local_name) {
        WCHAR w[SERVER_CAP];
        if (utf8_to_utf16(local_name, strlen(local_name), w, SERVER_CAP) < 0) return perr(c, "bad local server");
        long li = farm_find(f, w);
        if (li < 0) return perr(c, "the local server is not in the farm");
        f->local = (size_t)li;
    }
    f->current_session = WTS_CURRENT_SESSION;
    if (current >= 0) {
        sim_server *ls = &f->servers[f->local];
        int found = 0;
        for (size_t j = 0; j < ls->count; j++) found |= ls->sessions[j].id == (DWORD)current;
        if (!found) return perr(c, "the current session is not on the local server");
        f->current_session = (DWORD)current;
    }
    return 0;
}

int wtssim_load(const char *text, size_t len, char *err, size_t errlen)
{
    char dummy[1];
    if (!err || !errlen) { err = dummy; errlen = sizeof dummy; }
    err[0] = 0;
    sim_farm *f = (sim_farm *)calloc(1, sizeof *f);
    char *copy = (char *)malloc(len + 1);
    if (!f || !copy) {
        free(f);
        free(copy);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(copy, text, len);
    copy[len] = 0;
    f->refs = 1;
    wts_mutex_init(&f->msg_lock);
    wts_mutex_init(&f->hang_lock);
    wts_cond_init(&f->hang_cond);
    f->messages_tail = &f->messages;
    parse_ctx c = { err, errlen, 0 };
    int rc = parse_farm(&c, copy, len, f);
    free(copy);
    if (rc) {
        farm_free(f);
        return -1;
    }
    wts_mutex_lock(&g_farm_lock);
    sim_farm *old = g_farm;
    g_farm = f;
    wts_mutex_unlock(&g_farm_lock);
    if (old) {
        /* Calls still blocked on the old farm's hang servers give up now. */
        wts_mutex_lock(&old->hang_lock);
        old->closing = 1;
        wts_cond_broadcast(&old->hang_cond);
        wts_mutex_unlock(&old->hang_lock);
        farm_release(old);
    }
    return 0;
}

int wtssim_loaded(void)
{
    sim_farm *f = farm_acquire();
    farm_release(f);
    return f != NULL;
}

static void dump_session(textbuf *b, const sim_session *x)
{
    static const char hex[] = "0123456789abcdef";
    tb_str(b, "session\t");
    tb_fmt_u64(b, x->id);
    tb_str(b, "\t");
    tb_wstr(b, x->station, wlen(x->station));
    tb_str(b, "\t");
    tb_fmt_i64(b, x->state);
    tb_str(b, "\t");
    tb_wstr(b, x->user, wlen(x->user));
    tb_str(b, "\t");
    tb_wstr(b, x->domain, wlen(x->domain));
    tb_str(b, "\t");
    tb_wstr(b, x->client, wlen(x->client));
    tb_str(b, "\t");
    tb_fmt_u64(b, x->family);
    tb_str(b, "\t");
    int has_address = x->family != 0;
    for (int k = 0; k < 20; k++) has_address |= x->address[k] != 0;
    if (has_address) {
        char h[40];
        for (int k = 0; k < 20; k++) { h[2 * k] = hex[x->address[k] >> 4]; h[2 * k + 1] = hex[x->address[k] & 15]; }
        tb_put(b, h, 40);
    }
    const int64_t times[4] = { x->logon, x->connect, x->disconnect, x->last_input };
    for (int k = 0; k < 4; k++) { tb_str(b, "\t"); tb_fmt_i64(b, times[k]); }
    tb_str(b, "\t");
    tb_fmt_i64(b, x->locked);
    tb_str(b, "\t");
    tb_fmt_u64(b, x->deny);
    tb_str(b, "\t");
    tb_fmt_u64(b, x->reply);
    tb_str(b, "\t");
    if (x->password) tb_wstr(b, x->password, wlen(x->password));
    tb_str(b, "\n");
    const sim_client_extra *cx = &x->cx;
    if (cx->hres || cx->vres || cx->depth || cx->build || cx->product || cx->protocol != -1) {
        const long long v[6] = { cx->hres, cx->vres, cx->depth, cx->build, cx->product, cx->protocol };
        tb_str(b, "client");
        for (int k = 0; k < 6; k++) { tb_str(b, "\t"); tb_fmt_i64(b, v[k]); }
        tb_str(b, "\n");
    }
}

static void dump_process(textbuf *b, const sim_farm *f, const sim_process *p)
{
    tb_str(b, "process\t");
    tb_fmt_u64(b, p->pid);
    tb_str(b, "\t");
    tb_wstr(b, p->name, wlen(p->name));
    tb_str(b, "\t");
    if (p->account >= 0) {
        const sim_account *a = &f->accounts[p->account];
        char text[200];
        size_t n = sid_format(a->sid, text, sizeof text);
        tb_put(b, text, n);
        tb_str(b, "\t");
        tb_wstr(b, a->domain, wlen(a->domain));
        tb_str(b, "\t");
        tb_wstr(b, a->user, wlen(a->user));
    } else {
        tb_str(b, "\t\t");
    }
    const DWORD counts[6] = { p->threads, p->handles, p->pagefile, p->peak_pagefile, p->working_set,
                              p->peak_working_set };
    for (int k = 0; k < 6; k++) { tb_str(b, "\t"); tb_fmt_u64(b, counts[k]); }
    tb_str(b, "\t");
    tb_fmt_i64(b, p->user_time);
    tb_str(b, "\t");
    tb_fmt_i64(b, p->kernel_time);
    tb_str(b, "\n");
}

char *wtssim_dump(size_t *len)
{
    sim_farm *f = farm_acquire();
    if (!f) return NULL;
    textbuf b = { 0 };
    tb_str(&b, "WTSSIM\t1\nfarm\t");
    tb_fmt_u64(&b, f->seed);
    tb_str(&b, "\t");
    tb_fmt_i64(&b, f->now);
    tb_str(&b, "\t");
    tb_wstr(&b, f->servers[f->local].name, wlen(f->servers[f->local].name));
    tb_str(&b, "\t");
    tb_fmt_i64(&b, f->current_session == WTS_CURRENT_SESSION ? -1 : (long long)f->current_session);
    tb_str(&b, "\n");
    for (size_t i = 0; i < f->nservers; i++) {
        sim_server *s = &f->servers[i];
        tb_str(&b, "server\t");
        tb_wstr(&b, s->name, wlen(s->name));
        tb_str(&b, "\t");
        tb_fmt_i64(&b, s->latency_ns / 1000);
        tb_str(&b, "\t");
        tb_fmt_i64(&b, s->jitter_ns / 1000);
        tb_str(&b, "\t");
        int64_t left = s->limited ? wts_atomic_load(&s->fault_left) : 0;
        tb_str(&b, fault_names[s->limited && left <= 0 ? FAULT_NONE : s->fault]);
        if (s->limited && left > 0) {
            tb_str(&b, ":");
            tb_fmt_i64(&b, left);
        }
        tb_str(&b, "\n");
        wts_mutex_lock(&s->lock);
        for (size_t j = 0; j < s->count; j++) {
            dump_session(&b, &s->sessions[j]);
            for (size_t k = 0; k < s->sessions[j].nprocs; k++) dump_process(&b, f, &s->sessions[j].procs[k]);
        }
        wts_mutex_unlock(&s->lock);
    }
    wts_mutex_lock(&f->msg_lock);
    for (sim_message *m = f->messages; m; m = m->next) {
        tb_str(&b, "message\t");
        tb_wstr(&b, f->servers[m->server].name, wlen(f->servers[m->server].name));
        tb_str(&b, "\t");
        tb_fmt_u64(&b, m->session);
        tb_str(&b, "\t");
        tb_wstr(&b, m->title, wlen(m->title));
        tb_str(&b, "\t");
        tb_wstr(&b, m->text, wlen(m->text));
        tb_str(&b, "\t");
        tb_fmt_u64(&b, m->style);
        tb_str(&b, "\t");
        tb_fmt_u64(&b, m->timeout);
        tb_str(&b, "\t");
        tb_fmt_i64(&b, m->wait ? 1 : 0);
        tb_str(&b, "\t");
        tb_fmt_u64(&b, m->response);
        tb_str(&b, "\n");
    }
    wts_mutex_unlock(&f->msg_lock);
    farm_release(f);
    if (b.oom) { free(b.p); return NULL; }
    if (len) *len = b.len;
    return b.p;
}

char *wtssim_rpc_report(size_t *len)
{
    sim_farm *f = farm_acquire();
    textbuf b = { 0 };
    tb_reserve(&b, 64);
    for (size_t i = 0; f && i < f->nservers; i++) {
        tb_wstr(&b, f->servers[i].name, wlen(f->servers[i].name));
        tb_str(&b, "\t");
        tb_fmt_i64(&b, wts_atomic_load(&f->servers[i].rpcs));
        tb_str(&b, "\n");
    }
    tb_str(&b, "*\t");
    tb_fmt_i64(&b, wts_atomic_load(&g_unknown_rpcs));
    tb_str(&b, "\n");
    farm_release(f);
    if (b.oom) { free(b.p); return NULL; }
    if (len) *len = b.len;
    return b.p;
}

void wtssim_free_text(char *text) { free(text); }
int64_t wtssim_outstanding(void) { return wts_atomic_load(&g_outstanding); }
int64_t wtssim_rpc_total(void) { return wts_atomic_load(&g_rpc_total); }
int64_t wtssim_hung_calls(void) { return wts_atomic_load(&g_hung); }

void wtssim_reset_counters(void)
{
    sim_farm *f = farm_acquire();
    for (size_t i = 0; f && i < f->nservers; i++) wts_atomic_store(&f->servers[i].rpcs, 0);
    wts_atomic_store(&g_rpc_total, 0);
    wts_atomic_store(&g_unknown_rpcs, 0);
    farm_release(f);
}

void wtssim_release_hangs(void)
{
    sim_farm *f = farm_acquire();
    if (!f) return;
    wts_mutex_lock(&f->hang_lock);
    f->hang_generation++;
    wts_cond_broadcast(&f->hang_cond);
    wts_mutex_unlock(&f->hang_lock);
    farm_release(f);
}

/* ------------------------------------------------------------------------------------------------ */
/* Server handles.  A handle names a server; each RPC resolves the name against the farm loaded at  */
/* that moment, so a reloaded farm never leaves handles pointing at freed servers.                   */

typedef struct sim_handle {
    uint32_t magic;
    WCHAR name[SERVER_CAP];
} sim_handle;

SIMAPI HANDLE WINAPI SIMFN(WTSOpenServerW)(LPWSTR pServerName)
{
    /* Windows opens without any network traffic: an unreachable server fails on its first RPC. */
    if (!pServerName) return fail(WTS_ERROR_INVALID_PARAMETER), (HANDLE)NULL;
    if (wlen(pServerName) >= SERVER_CAP) return fail(WTS_ERROR_INVALID_PARAMETER), (HANDLE)NULL;
    sim_handle *h = (sim_handle *)calloc(1, sizeof *h);
    if (!h) return fail(WTS_ERROR_NOT_ENOUGH_MEMORY), (HANDLE)NULL;
    h->magic = HANDLE_MAGIC;
    wcopy(h->name, SERVER_CAP, pServerName);
    wts_atomic_add(&g_outstanding, 1);
    return (HANDLE)h;
}

SIMAPI HANDLE WINAPI SIMFN(WTSOpenServerExW)(LPWSTR pServerName)
{
    /* On an RD Session Host, Ex differs only for RD Virtualization hosts, which the sim has none of. */
    return SIMFN(WTSOpenServerW)(pServerName);
}

SIMAPI void WINAPI SIMFN(WTSCloseServer)(HANDLE hServer)
{
    sim_handle *h = (sim_handle *)hServer;
    if (!h || h->magic != HANDLE_MAGIC) return;
    h->magic = 0;
    free(h);
    wts_atomic_add(&g_outstanding, -1);
}

/* The call's view of its server: the farm (referenced) and the server, or none when unknown. */
typedef struct target {
    sim_farm *farm;
    sim_server *server; /* NULL: no such server in the farm (or no farm) */
    int local;          /* WTS_CURRENT_SERVER_HANDLE */
} target;

/* Resolves a handle; FALSE when the handle itself is bad. */
static BOOL resolve(HANDLE hServer, target *t)
{
    memset(t, 0, sizeof *t);
    const sim_handle *h = (const sim_handle *)hServer;
    if (h && h->magic != HANDLE_MAGIC) return FALSE;
    t->farm = farm_acquire();
    if (!t->farm) return TRUE;
    if (!h) {
        t->local = 1;
        t->server = &t->farm->servers[t->farm->local];
    } else {
        long i = farm_find(t->farm, h->name);
        if (i >= 0) t->server = &t->farm->servers[i];
    }
    return TRUE;
}

static void target_done(target *t) { farm_release(t->farm); }

/*
 * The network part of an RPC: counts it, waits the round trip without holding any lock, and applies
 * the server's fault.  Returns 0 when the call may go on, else the Win32 error it fails with.
 */
static DWORD rpc(target *t)
{
    wts_atomic_add(&g_rpc_total, 1);
    sim_server *s = t->server;
    if (!s) {
        /* A name the farm does not know behaves like a machine that does not answer RPC. */
        wts_atomic_add(&g_unknown_rpcs, 1);
        return WTS_RPC_S_SERVER_UNAVAILABLE;
    }
    wts_atomic_add(&s->rpcs, 1);
    int64_t delay = s->latency_ns;
    if (s->jitter_ns > 0) {
        wts_mutex_lock(&s->lock);
        uint64_t r = splitmix64(&s->rng);
        wts_mutex_unlock(&s->lock);
        delay += (int64_t)(r % (uint64_t)(s->jitter_ns + 1));
    }
    wts_sleep_ns(delay);
    int fault = s->fault;
    if (fault != FAULT_NONE && s->limited && wts_atomic_add(&s->fault_left, -1) < 0) fault = FAULT_NONE;
    switch (fault) {
    case FAULT_UNREACHABLE: return WTS_RPC_S_SERVER_UNAVAILABLE;
    case FAULT_BUSY: return WTS_RPC_S_SERVER_TOO_BUSY;
    case FAULT_HANG: {
        /* Blocks until released or until the farm is replaced, as a call to a wedged server blocks
         * until its caller gives up; then fails the way a broken RPC connection does. */
        sim_farm *f = t->farm;
        wts_mutex_lock(&f->hang_lock);
        uint64_t gen = f->hang_generation;
        /* Counted only once the generation is recorded, so a release seen after hung_calls() > 0
         * always wakes this call. */
        wts_atomic_add(&g_hung, 1);
        while (gen == f->hang_generation && !f->closing) wts_cond_wait(&f->hang_cond, &f->hang_lock);
        wts_mutex_unlock(&f->hang_lock);
        wts_atomic_add(&g_hung, -1);
        return WTS_RPC_S_CALL_FAILED;
    }
    default: return 0;
    }
}

/* Resolves the handle and makes the round trip.  0: the call goes on, holding t; otherwise the Win32
 * error it fails with, t already released. */
static DWORD begin_rpc(HANDLE hServer, target *t)
{
    if (!resolve(hServer, t)) return WTS_ERROR_INVALID_HANDLE;
    DWORD err = rpc(t);
    if (err) target_done(t);
    return err;
}

/* begin_rpc for a call naming a session: WTS_CURRENT_SESSION is refused on an opened (remote) handle
 * before any RPC (docs/sim.md: there is no "current session" on a remote server). */
static DWORD begin_session_rpc(HANDLE hServer, DWORD SessionId, target *t)
{
    if (SessionId == WTS_CURRENT_SESSION && hServer != WTS_CURRENT_SERVER_HANDLE) return WTS_ERROR_INVALID_PARAMETER;
    return begin_rpc(hServer, t);
}

/* Finds a session under the server lock; resolves WTS_CURRENT_SESSION on the local server only. */
static sim_session *find_session(target *t, DWORD id)
{
    sim_server *s = t->server;
    if (id == WTS_CURRENT_SESSION) {
        if (!t->local) return NULL;
        id = t->farm->current_session;
    }
    for (size_t j = 0; j < s->count; j++)
        if (s->sessions[j].id == id) return &s->sessions[j];
    return NULL;
}

static int is_console(const sim_session *x)
{
    static const WCHAR console[] = { 'C', 'o', 'n', 's', 'o', 'l', 'e', 0 };
    return wequal_nocase(x->station, console);
}

/* Session 0 (services) and listeners are WinStations no user operation may touch. */
static int is_system(const sim_session *x) { return x->id == 0 || x->state == WTSListen; }

/* ------------------------------------------------------------------------------------------------ */
/* Enumeration.                                                                                       */

SIMAPI BOOL WINAPI SIMFN(WTSEnumerateSessionsW)(HANDLE hServer, DWORD Reserved, DWORD Version,
                                                PWTS_SESSION_INFOW *ppSessionInfo, DWORD *pCount)
{
    /* Reserved must be 0 and Version 1 (Microsoft's page); outputs are left untouched on failure. */
    if (Reserved != 0 || Version != 1 || !ppSessionInfo || !pCount) return fail(WTS_ERROR_INVALID_PARAMETER);
    target t;
    DWORD err = begin_rpc(hServer, &t);
    if (err) return fail(err);
    sim_server *s = t.server;
    wts_mutex_lock(&s->lock);
    size_t strings = 0;
    for (size_t j = 0; j < s->count; j++) strings += wlen(s->sessions[j].station) + 1;
    /* One block: the array, then the strings it points into, as Windows returns it (one WTSFreeMemory). */
    size_t bytes = s->count * sizeof(WTS_SESSION_INFOW) + strings * sizeof(WCHAR);
    WTS_SESSION_INFOW *info = (WTS_SESSION_INFOW *)block_alloc(BLOCK_PLAIN, bytes ? bytes : 1, s->count);
    if (!info) { wts_mutex_unlock(&s->lock); target_done(&t); return fail(WTS_ERROR_NOT_ENOUGH_MEMORY); }
    WCHAR *w = (WCHAR *)(info + s->count);
    for (size_t j = 0; j < s->count; j++) {
        const sim_session *x = &s->sessions[j];
        size_t n = wlen(x->station);
        info[j].SessionId = x->id;
        info[j].State = x->state;
        info[j].pWinStationName = w;
        memcpy(w, x->station, (n + 1) * sizeof(WCHAR));
        w += n + 1;
    }
    *pCount = (DWORD)s->count;
    wts_mutex_unlock(&s->lock);
    *ppSessionInfo = info;
    target_done(&t);
    wts_set_last_error(WTS_ERROR_SUCCESS);
    return TRUE;
}

static WCHAR *string_alloc(const WCHAR *s)
{
    size_t n = wlen(s);
    WCHAR *p = (WCHAR *)block_alloc(BLOCK_STRING, (n + 1) * sizeof(WCHAR), 0);
    if (p) memcpy(p, s, (n + 1) * sizeof(WCHAR));
    return p;
}

static void free_session_info_1(WTS_SESSION_INFO_1W *info, size_t count)
{
    for (size_t j = 0; j < count; j++) {
        block_free(info[j].pSessionName);
        block_free(info[j].pHostName);
        block_free(info[j].pUserName);
        block_free(info[j].pDomainName);
        block_free(info[j].pFarmName);
    }
    block_free(info);
}

SIMAPI BOOL WINAPI SIMFN(WTSEnumerateSessionsExW)(HANDLE hServer, DWORD *pLevel, DWORD Filter,
                                                  PWTS_SESSION_INFO_1W *ppSessionInfo, DWORD *pCount)
{
    /* Level must be 1 and Filter 0 (Microsoft's page); outputs are left untouched on failure. */
    if (!pLevel || *pLevel != 1 || Filter != 0 || !ppSessionInfo || !pCount) return fail(WTS_ERROR_INVALID_PARAMETER);
    target t;
    DWORD err = begin_rpc(hServer, &t);
    if (err) return fail(err);
    sim_server *s = t.server;
    wts_mutex_lock(&s->lock);
    size_t count = s->count;
    /* Unlike WTSEnumerateSessionsW, each string is its own allocation: only WTSFreeMemoryExW frees
     * them, and plain WTSFreeMemory leaks them, as it does on Windows. */
    WTS_SESSION_INFO_1W *info = (WTS_SESSION_INFO_1W *)block_alloc(
        BLOCK_SESSION_INFO_1, count ? count * sizeof(WTS_SESSION_INFO_1W) : 1, count);
    int oom = !info;
    for (size_t j = 0; !oom && j < count; j++) {
        const sim_session *x = &s->sessions[j];
        info[j].ExecEnvId = x->id;
        info[j].State = x->state;
        info[j].SessionId = x->id;
        info[j].pSessionName = string_alloc(x->station);
        info[j].pHostName = string_alloc(s->name);
        /* Sessions without a user report NULL user and domain; the sim has no RD farm name. */
        info[j].pUserName = x->user[0] ? string_alloc(x->user) : NULL;
        info[j].pDomainName = x->domain[0] ? string_alloc(x->domain) : NULL;
        info[j].pFarmName = NULL;
        oom = !info[j].pSessionName || !info[j].pHostName || (x->user[0] && !info[j].pUserName) ||
              (x->domain[0] && !info[j].pDomainName);
    }
    wts_mutex_unlock(&s->lock);
    target_done(&t);
    if (oom) {
        if (info) free_session_info_1(info, count);
        return fail(WTS_ERROR_NOT_ENOUGH_MEMORY);
    }
    *ppSessionInfo = info;
    *pCount = (DWORD)count;
    wts_set_last_error(WTS_ERROR_SUCCESS);
    return TRUE;
}

/* ------------------------------------------------------------------------------------------------ */
/* Queries.                                                                                           */

static void fill_info(const sim_server *s, const sim_session *x, int64_t now, WTSINFOW *w)
{
    (void)s;
    w->State = x->state;
    w->SessionId = x->id;
    wcopy(w->WinStationName, WINSTATIONNAME_LENGTH, x->station);
    wcopy(w->Domain, DOMAIN_LENGTH, x->domain);
    wcopy(w->UserName, USERNAME_LENGTH + 1, x->user);
    w->ConnectTime.QuadPart = x->connect;
    w->DisconnectTime.QuadPart = x->disconnect;
    w->LastInputTime.QuadPart = x->last_input;
    w->LogonTime.QuadPart = x->logon;
    w->CurrentTime.QuadPart = now;
}

static void fill_info_ex(const sim_session *x, int64_t now, WTSINFOEXW *w)
{
    WTSINFOEX_LEVEL1_W *l = &w->Data.WTSInfoExLevel1;
    w->Level = 1;
    l->SessionId = x->id;
    l->SessionState = x->state;
    /* Lock state is known only for a session with a user.  (Windows 7 / 2008 R2 report LOCK and
     * UNLOCK reversed, a documented defect; the sim behaves as Windows 8 and later.) */
    l->SessionFlags = !x->user[0] ? (LONG)WTS_SESSIONSTATE_UNKNOWN
                                  : (LONG)(x->locked ? WTS_SESSIONSTATE_LOCK : WTS_SESSIONSTATE_UNLOCK);
    wcopy(l->WinStationName, WINSTATIONNAME_LENGTH + 1, x->station);
    wcopy(l->UserName, USERNAME_LENGTH + 1, x->user);
    wcopy(l->DomainName, DOMAIN_LENGTH + 1, x->domain);
    l->LogonTime.QuadPart = x->logon;
    l->ConnectTime.QuadPart = x->connect;
    l->DisconnectTime.QuadPart = x->disconnect;
    l->LastInputTime.QuadPart = x->last_input;
    l->CurrentTime.QuadPart = now;
}

/* WTSCLIENTW: what the sim models of the client (name, the session's user and domain, address,
 * display, build and product id), as the single-value classes report them; the hardware id is 0. */
static void fill_client(const sim_session *x, wts_client_w *c)
{
    wcopy(c->ClientName, CLIENTNAME_LENGTH + 1, x->client);
    wcopy(c->Domain, DOMAIN_LENGTH + 1, x->domain);
    wcopy(c->UserName, USERNAME_LENGTH + 1, x->user);
    c->ClientAddressFamily = x->family;
    if (x->family == 2) {
        /* AF_INET comes as text ("10.0.0.5"), in the USHORT array (Microsoft's WTSCLIENT remarks). */
        char text[16];
        int n = snprintf(text, sizeof text, "%u.%u.%u.%u", x->address[2], x->address[3], x->address[4], x->address[5]);
        for (int i = 0; i < n && i < WTS_SEAM_CLIENTADDRESS_LENGTH; i++) c->ClientAddress[i] = (USHORT)text[i];
    } else if (x->family == 23) {
        memcpy(c->ClientAddress, x->address + 2, 16); /* AF_INET6 comes in binary: the 16 bytes, first */
    }
    c->HRes = (USHORT)x->cx.hres;
    c->VRes = (USHORT)x->cx.vres;
    c->ColorDepth = (USHORT)x->cx.depth;
    c->ClientBuildNumber = x->cx.build;
    c->ClientProductId = x->cx.product;
}

/* WTSClientProtocolType: the farm file's, else console 0 (the console and session 0), RDP 2. */
static USHORT client_protocol(const sim_session *x)
{
    if (x->cx.protocol >= 0) return (USHORT)x->cx.protocol;
    return (USHORT)(is_console(x) || x->id == 0 ? 0 : 2);
}

/* WTSCONFIGINFOW: version 1, no redirection flags or shadowing set, the session's user and domain as
 * the logon user, no initial program. */
static void fill_config(const sim_session *x, wts_config_info_w *c)
{
    c->version = 1;
    wcopy(c->LogonUserName, USERNAME_LENGTH + 1, x->user);
    wcopy(c->LogonDomain, DOMAIN_LENGTH + 1, x->domain);
}

SIMAPI BOOL WINAPI SIMFN(WTSQuerySessionInformationW)(HANDLE hServer, DWORD SessionId, WTS_INFO_CLASS WTSInfoClass,
                                                      LPWSTR *ppBuffer, DWORD *pBytesReturned)
{
    /* Windows checks the output pointers first and answers ERROR_INVALID_USER_BUFFER, leaving
     * *pBytesReturned as it was (Wine's conformance tests record this). */
    if (!ppBuffer || !pBytesReturned) return fail(WTS_ERROR_INVALID_USER_BUFFER);
    if ((unsigned)WTSInfoClass > (unsigned)WTSIsRemoteSession) return fail(WTS_ERROR_INVALID_PARAMETER);
    target t;
    DWORD err = begin_session_rpc(hServer, SessionId, &t);
    if (err) return fail(err);
    sim_server *s = t.server;
    int64_t now = farm_now(t.farm);
    wts_mutex_lock(&s->lock);
    const sim_session *x = find_session(&t, SessionId);
    void *out = NULL;
    size_t size = 0;
    if (!x) err = WTS_ERROR_CTX_WINSTATION_NOT_FOUND;
    else if (x->deny & DENY_QUERY) err = WTS_ERROR_ACCESS_DENIED;
    else {
        static const WCHAR empty[1] = { 0 };
        const WCHAR *str = NULL;
        /* Each class answers with the size and type Windows gives it (docs/sim.md, "Info classes"). */
        switch ((unsigned)WTSInfoClass) {
        case WTSInitialProgram: case WTSApplicationName: case WTSWorkingDirectory: case WTSClientDirectory:
            str = empty; /* RD sessions report these empty */
            break;
        case WTSOEMId:
            /* Not UTF-16: the WinStation's OEM id is CHAR[4] (ANSI), and an RDP listener has none. */
            size = 4;
            out = block_alloc(BLOCK_PLAIN, size, 0);
            break;
        case WTSUserName: str = x->user; break;
        case WTSWinStationName: str = x->station; break;
        case WTSDomainName: str = x->domain; break;
        case WTSClientName: str = x->client; break;
        case WTSSessionId: case WTSConnectState: case WTSClientBuildNumber: case WTSClientHardwareId: {
            DWORD v = WTSInfoClass == WTSSessionId ? x->id
                    : WTSInfoClass == WTSConnectState ? (DWORD)x->state
                    : WTSInfoClass == WTSClientBuildNumber ? x->cx.build : 0;
            size = sizeof(DWORD);
            out = block_alloc(BLOCK_PLAIN, size, 0);
            if (out) *(DWORD *)out = v;
            break;
        }
        case WTSIsRemoteSession:
            /* One byte, a BOOLEAN, although Microsoft's page reads as if it were a BOOL (pywin32 #2152). */
            size = 1;
            out = block_alloc(BLOCK_PLAIN, size, 0);
            if (out) *(BYTE *)out = (BYTE)(!is_console(x) && x->id != 0);
            break;
        case WTSClientInfo:
            size = sizeof(wts_client_w);
            out = block_alloc(BLOCK_PLAIN, size, 0);
            if (out) fill_client(x, (wts_client_w *)out);
            break;
        case WTSConfigInfo:
            size = sizeof(wts_config_info_w);
            out = block_alloc(BLOCK_PLAIN, size, 0);
            if (out) fill_config(x, (wts_config_info_w *)out);
            break;
        case WTSClientProductId: case WTSClientProtocolType: {
            /* WTS_PROTOCOL_TYPE_*: console 0, RDP 2 unless the farm file says otherwise. */
            USHORT v = WTSInfoClass == WTSClientProductId ? x->cx.product : client_protocol(x);
            size = sizeof(USHORT);
            out = block_alloc(BLOCK_PLAIN, size, 0);
            if (out) *(USHORT *)out = v;
            break;
        }
        case WTSClientAddress: {
            size = sizeof(WTS_CLIENT_ADDRESS);
            WTS_CLIENT_ADDRESS *a = (WTS_CLIENT_ADDRESS *)block_alloc(BLOCK_PLAIN, size, 0);
            if (a) { a->AddressFamily = x->family; memcpy(a->Address, x->address, sizeof a->Address); }
            out = a;
            break;
        }
        case WTSClientDisplay:
            size = sizeof(WTS_CLIENT_DISPLAY);
            out = block_alloc(BLOCK_PLAIN, size, 0);
            if (out) {
                WTS_CLIENT_DISPLAY *d = (WTS_CLIENT_DISPLAY *)out;
                d->HorizontalResolution = x->cx.hres;
                d->VerticalResolution = x->cx.vres;
                d->ColorDepth = x->cx.depth;
            }
            break;
        case WTSSessionInfo:
            size = sizeof(WTSINFOW);
            out = block_alloc(BLOCK_PLAIN, size, 0);
            if (out) fill_info(s, x, now, (WTSINFOW *)out);
            break;
        case WTSSessionInfoEx:
            size = sizeof(WTSINFOEXW);
            out = block_alloc(BLOCK_PLAIN, size, 0);
            if (out) fill_info_ex(x, now, (WTSINFOEXW *)out);
            break;
        default:
            /* 17-22: Windows answers ERROR_NOT_SUPPORTED (Microsoft's page); 27 WTSValidationInfo is not
             * supported; 28 WTSSessionAddressV4 fails so for a session without a virtual IP, as all are. */
            err = WTS_ERROR_NOT_SUPPORTED;
            break;
        }
        if (str) {
            /* String byte counts include the terminator. */
            size = (wlen(str) + 1) * sizeof(WCHAR);
            out = block_alloc(BLOCK_PLAIN, size, 0);
            if (out) memcpy(out, str, size);
        }
        if (!err && !out) err = WTS_ERROR_NOT_ENOUGH_MEMORY;
    }
    wts_mutex_unlock(&s->lock);
    target_done(&t);
    if (err) return fail(err);
    *ppBuffer = (LPWSTR)out;
    *pBytesReturned = (DWORD)size;
    wts_set_last_error(WTS_ERROR_SUCCESS);
    return TRUE;
}

/* ------------------------------------------------------------------------------------------------ */
/* Actions.                                                                                           */

static void disconnect_locked(sim_session *x, int64_t now)
{
    x->state = WTSDisconnected;
    x->disconnect = now;
    x->locked = 0;
    /* A disconnected RDP session gives up its WinStation name, as qwinsta shows. */
    x->station[0] = 0;
}

SIMAPI BOOL WINAPI SIMFN(WTSDisconnectSession)(HANDLE hServer, DWORD SessionId, BOOL bWait)
{
    (void)bWait; /* the sim completes every action before returning */
    target t;
    DWORD err = begin_session_rpc(hServer, SessionId, &t);
    if (err) return fail(err);
    sim_server *s = t.server;
    int64_t now = farm_now(t.farm);
    wts_mutex_lock(&s->lock);
    sim_session *x = find_session(&t, SessionId);
    if (!x) err = WTS_ERROR_CTX_WINSTATION_NOT_FOUND;
    else if (x->deny & DENY_DISCONNECT) err = WTS_ERROR_ACCESS_DENIED;
    else if (is_console(x)) err = WTS_ERROR_CTX_CONSOLE_DISCONNECT; /* tsdiscon: "The console session can't be disconnected" */
    else if (is_system(x)) err = WTS_ERROR_CTX_WINSTATION_ACCESS_DENIED;
    else if (x->state != WTSDisconnected) disconnect_locked(x, now);
    /* Disconnecting a disconnected session succeeds and changes nothing (docs/sim.md). */
    wts_mutex_unlock(&s->lock);
    target_done(&t);
    if (err) return fail(err);
    wts_set_last_error(WTS_ERROR_SUCCESS);
    return TRUE;
}

SIMAPI BOOL WINAPI SIMFN(WTSLogoffSession)(HANDLE hServer, DWORD SessionId, BOOL bWait)
{
    (void)bWait;
    target t;
    DWORD err = begin_session_rpc(hServer, SessionId, &t);
    if (err) return fail(err);
    sim_server *s = t.server;
    wts_mutex_lock(&s->lock);
    sim_session *x = find_session(&t, SessionId);
    if (!x) err = WTS_ERROR_CTX_WINSTATION_NOT_FOUND;
    else if (x->deny & DENY_LOGOFF) err = WTS_ERROR_ACCESS_DENIED;
    else if (is_system(x)) err = WTS_ERROR_CTX_WINSTATION_ACCESS_DENIED;
    else if (is_console(x)) {
        /* The console WinStation stays, back at the logon screen with nobody logged on. */
        x->state = WTSConnected;
        x->user[0] = x->domain[0] = 0;
        x->logon = x->disconnect = x->last_input = 0;
        x->locked = 0;
    } else {
        /* The session ends and leaves the list.  If it was the caller's own, the caller has none now. */
        if (s == &t.farm->servers[t.farm->local] && x->id == t.farm->current_session)
            t.farm->current_session = WTS_CURRENT_SESSION;
        session_free(x); /* its processes end with it */
        size_t j = (size_t)(x - s->sessions);
        memmove(x, x + 1, (s->count - j - 1) * sizeof *x);
        s->count--;
    }
    wts_mutex_unlock(&s->lock);
    target_done(&t);
    if (err) return fail(err);
    wts_set_last_error(WTS_ERROR_SUCCESS);
    return TRUE;
}

static WCHAR *wdup_n(const WCHAR *s, size_t n)
{
    WCHAR *p = (WCHAR *)malloc((n + 1) * sizeof(WCHAR));
    if (p) { memcpy(p, s, n * sizeof(WCHAR)); p[n] = 0; }
    return p;
}

SIMAPI BOOL WINAPI SIMFN(WTSSendMessageW)(HANDLE hServer, DWORD SessionId, LPWSTR pTitle, DWORD TitleLength,
                                          LPWSTR pMessage, DWORD MessageLength, DWORD Style, DWORD Timeout,
                                          DWORD *pResponse, BOOL bWait)
{
    /* Lengths are in bytes (Microsoft's page). */
    if (!pTitle || !pMessage || !pResponse || (TitleLength & 1) || (MessageLength & 1))
        return fail(WTS_ERROR_INVALID_PARAMETER);
    target t;
    DWORD err = begin_session_rpc(hServer, SessionId, &t);
    if (err) return fail(err);
    sim_server *s = t.server;
    DWORD response = 0, session_id = 0;
    wts_mutex_lock(&s->lock);
    sim_session *x = find_session(&t, SessionId);
    if (!x) err = WTS_ERROR_CTX_WINSTATION_NOT_FOUND;
    else if (x->deny & DENY_MESSAGE) err = WTS_ERROR_ACCESS_DENIED;
    else if (is_system(x)) err = WTS_ERROR_CTX_WINSTATION_ACCESS_DENIED;
    else {
        session_id = x->id;
        /* Without bWait the call returns at once with IDASYNC.  A disconnected session has no desktop to
         * show the box on, so nobody answers: IDTIMEOUT.  Otherwise the farm file's reply. */
        response = !bWait ? WTS_IDASYNC : x->state == WTSDisconnected ? WTS_IDTIMEOUT : x->reply;
    }
    wts_mutex_unlock(&s->lock);
    if (!err) {
        sim_message *m = (sim_message *)calloc(1, sizeof *m);
        if (m) {
            m->server = (size_t)(s - t.farm->servers);
            m->session = session_id;
            m->title = wdup_n(pTitle, TitleLength / sizeof(WCHAR));
            m->text = wdup_n(pMessage, MessageLength / sizeof(WCHAR));
            m->style = Style;
            m->timeout = Timeout;
            m->wait = bWait;
            m->response = response;
        }
        if (!m || !m->title || !m->text) {
            if (m) { free(m->title); free(m->text); free(m); }
            err = WTS_ERROR_NOT_ENOUGH_MEMORY;
        } else {
            wts_mutex_lock(&t.farm->msg_lock);
            *t.farm->messages_tail = m;
            t.farm->messages_tail = &m->next;
            wts_mutex_unlock(&t.farm->msg_lock);
        }
    }
    target_done(&t);
    if (err) return fail(err);
    *pResponse = response;
    wts_set_last_error(WTS_ERROR_SUCCESS);
    return TRUE;
}

SIMAPI BOOL WINAPI SIMFN(WTSConnectSessionW)(ULONG LogonId, ULONG TargetLogonId, PWSTR pPassword, BOOL bWait)
{
    (void)bWait;
    /* WTSConnectSessionW acts on the local server only; the target defaults to the caller's session. */
    target t;
    DWORD err = begin_rpc(WTS_CURRENT_SERVER_HANDLE, &t);
    if (err) return fail(err);
    sim_server *s = t.server;
    int64_t now = farm_now(t.farm);
    DWORD caller = t.farm->current_session;
    if (TargetLogonId == WTS_LOGONID_CURRENT) TargetLogonId = caller;
    wts_mutex_lock(&s->lock);
    sim_session *x = LogonId == WTS_LOGONID_CURRENT ? NULL : find_session(&t, LogonId);
    sim_session *dest = TargetLogonId == WTS_LOGONID_CURRENT ? NULL : find_session(&t, TargetLogonId);
    sim_session *me = caller == WTS_CURRENT_SESSION ? NULL : find_session(&t, caller);
    if (!x || !dest) err = WTS_ERROR_CTX_WINSTATION_NOT_FOUND;
    else if (x == dest) err = WTS_ERROR_INVALID_PARAMETER;
    else if (x->deny & DENY_CONNECT) err = WTS_ERROR_ACCESS_DENIED;
    else if (is_console(x) || is_console(dest)) err = WTS_ERROR_CTX_CONSOLE_CONNECT; /* tscon: not the console */
    else if (is_system(x) || is_system(dest)) err = WTS_ERROR_CTX_WINSTATION_ACCESS_DENIED;
    else if (dest->state == WTSDisconnected) err = WTS_ERROR_INVALID_PARAMETER; /* no connection to take over */
    else {
        /* Another user's session needs that user's password (tscon /password). */
        int own = me && me->user[0] && wequal_nocase(me->user, x->user) && wequal_nocase(me->domain, x->domain);
        static const WCHAR none[1] = { 0 };
        const WCHAR *given = pPassword ? pPassword : none;
        if (!own && !(x->password && x->password[0] && !wcmp_exact(given, x->password))) err = WTS_ERROR_LOGON_FAILURE;
    }
    if (!err) {
        /* The session takes over the destination's connection; the destination is disconnected. */
        WCHAR station[STATION_CAP];
        wcopy(station, STATION_CAP, dest->station);
        wcopy(x->client, CLIENT_CAP, dest->client);
        x->family = dest->family;
        memcpy(x->address, dest->address, sizeof x->address);
        x->cx = dest->cx;
        if (dest->state != WTSDisconnected) disconnect_locked(dest, now);
        wcopy(x->station, STATION_CAP, station);
        x->state = WTSActive;
        x->connect = now;
        x->last_input = now;
        x->locked = 0;
    }
    wts_mutex_unlock(&s->lock);
    target_done(&t);
    if (err) return fail(err);
    wts_set_last_error(WTS_ERROR_SUCCESS);
    return TRUE;
}

/* ------------------------------------------------------------------------------------------------ */
/* Processes.                                                                                         */

static void free_process_info(void *info, int level, size_t count)
{
    for (size_t j = 0; j < count; j++) {
        LPWSTR name;
        PVOID sid;
        if (level == 0) {
            name = ((WTS_PROCESS_INFOW *)info)[j].pProcessName;
            sid = ((WTS_PROCESS_INFOW *)info)[j].pUserSid;
        } else {
            name = ((WTS_PROCESS_INFO_EXW *)info)[j].pProcessName;
            sid = ((WTS_PROCESS_INFO_EXW *)info)[j].pUserSid;
        }
        block_free(name);
        block_free(sid);
    }
    block_free(info);
}

SIMAPI BOOL WINAPI SIMFN(WTSEnumerateProcessesExW)(HANDLE hServer, DWORD *pLevel, DWORD SessionId, LPWSTR *ppProcessInfo,
                                                   DWORD *pCount)
{
    /* Level 0 (WTS_PROCESS_INFOW) or 1 (WTS_PROCESS_INFO_EXW), else ERROR_INVALID_PARAMETER before any RPC;
     * outputs untouched on failure.  SessionId filters; WTS_ANY_SESSION lists every session's. */
    if (!pLevel || *pLevel > 1 || !ppProcessInfo || !pCount) return fail(WTS_ERROR_INVALID_PARAMETER);
    int level = (int)*pLevel;
    target t;
    DWORD err = SessionId == WTS_ANY_SESSION ? begin_rpc(hServer, &t) : begin_session_rpc(hServer, SessionId, &t);
    if (err) return fail(err);
    sim_server *s = t.server;
    wts_mutex_lock(&s->lock);
    DWORD only = SessionId;
    if (only == WTS_CURRENT_SESSION) only = t.farm->current_session; /* local only: remote was refused above */
    size_t count = 0;
    for (size_t j = 0; j < s->count; j++)
        if (SessionId == WTS_ANY_SESSION || s->sessions[j].id == only) count += s->sessions[j].nprocs;
    size_t entry = level ? sizeof(WTS_PROCESS_INFO_EXW) : sizeof(WTS_PROCESS_INFOW);
    /* Each name and SID is its own allocation, as in the session arrays: WTSFreeMemoryExW with the
     * level's type frees them all, and plain WTSFreeMemory leaks them (Microsoft's WTSFreeMemoryExW page). */
    void *info = block_alloc(level ? BLOCK_PROCESS_INFO_1 : BLOCK_PROCESS_INFO_0, count ? count * entry : 1, count);
    int oom = !info;
    size_t k = 0;
    for (size_t j = 0; !oom && j < s->count; j++) {
        const sim_session *x = &s->sessions[j];
        if (SessionId != WTS_ANY_SESSION && x->id != only) continue;
        for (size_t i = 0; !oom && i < x->nprocs; i++, k++) {
            const sim_process *pr = &x->procs[i];
            LPWSTR name = string_alloc(pr->name);
            PVOID sid = NULL;
            if (pr->account >= 0) {
                const sim_account *a = &t.farm->accounts[pr->account];
                sid = block_alloc(BLOCK_SID, a->sid_len, 0);
                if (sid) memcpy(sid, a->sid, a->sid_len);
            }
            oom = !name || (pr->account >= 0 && !sid);
            if (level) {
                WTS_PROCESS_INFO_EXW *e = &((WTS_PROCESS_INFO_EXW *)info)[k];
                e->SessionId = x->id;
                e->ProcessId = pr->pid;
                e->pProcessName = name;
                e->pUserSid = sid;
                e->NumberOfThreads = pr->threads;
                e->HandleCount = pr->handles;
                e->PagefileUsage = pr->pagefile;
                e->PeakPagefileUsage = pr->peak_pagefile;
                e->WorkingSetSize = pr->working_set;
                e->PeakWorkingSetSize = pr->peak_working_set;
                e->UserTime.QuadPart = pr->user_time;
                e->KernelTime.QuadPart = pr->kernel_time;
            } else {
                WTS_PROCESS_INFOW *e = &((WTS_PROCESS_INFOW *)info)[k];
                e->SessionId = x->id;
                e->ProcessId = pr->pid;
                e->pProcessName = name;
                e->pUserSid = sid;
            }
        }
    }
    wts_mutex_unlock(&s->lock);
    target_done(&t);
    if (oom) {
        if (info) free_process_info(info, level, k);
        return fail(WTS_ERROR_NOT_ENOUGH_MEMORY);
    }
    *ppProcessInfo = (LPWSTR)info;
    *pCount = (DWORD)count;
    *pLevel = (DWORD)level;
    wts_set_last_error(WTS_ERROR_SUCCESS);
    return TRUE;
}

SIMAPI BOOL WINAPI SIMFN(WTSTerminateProcess)(HANDLE hServer, DWORD ProcessId, DWORD ExitCode)
{
    (void)ExitCode; /* nobody waits on a simulated process's exit code */
    target t;
    DWORD err = begin_rpc(hServer, &t);
    if (err) return fail(err);
    sim_server *s = t.server;
    wts_mutex_lock(&s->lock);
    sim_session *x = NULL;
    size_t at = 0;
    for (size_t j = 0; !x && j < s->count; j++)
        for (size_t i = 0; i < s->sessions[j].nprocs; i++)
            if (s->sessions[j].procs[i].pid == ProcessId) {
                x = &s->sessions[j];
                at = i;
                break;
            }
    /* No such process: the server cannot open it, and OpenProcess on an unknown id fails with
     * ERROR_INVALID_PARAMETER (docs/sim.md, "Processes"). */
    if (!x) err = WTS_ERROR_INVALID_PARAMETER;
    else if (x->deny & DENY_TERMINATE) err = WTS_ERROR_ACCESS_DENIED;
    else {
        free(x->procs[at].name);
        memmove(&x->procs[at], &x->procs[at + 1], (x->nprocs - at - 1) * sizeof(sim_process));
        x->nprocs--;
    }
    wts_mutex_unlock(&s->lock);
    target_done(&t);
    if (err) return fail(err);
    wts_set_last_error(WTS_ERROR_SUCCESS);
    return TRUE;
}

/* A SID as a block of its own bytes, checked: its length, or 0 when it is not a SID. */
static size_t sid_check(PVOID sid)
{
    const BYTE *b = (const BYTE *)sid;
    if (!b || b[0] != 1 || b[1] > SID_MAX_SUB) return 0;
    return sid_length(b);
}

/*
 * LookupAccountSidW for the farm's SIDs: an RPC to lpSystemName (NULL or "": the local server;
 * a leading "\\" is allowed), with its latency, faults and counters.  The answer comes from the farm's
 * accounts (every SID its processes run as); another SID is ERROR_NONE_MAPPED.  Buffers too small get
 * ERROR_INSUFFICIENT_BUFFER with the sizes needed (terminator included), as advapi32 does.
 */
WTSSIM_CONTROL BOOL WINAPI wtssim_LookupAccountSidW(const WCHAR *lpSystemName, PVOID Sid, LPWSTR Name, DWORD *cchName,
                                                    LPWSTR ReferencedDomainName, DWORD *cchReferencedDomainName,
                                                    DWORD *peUse)
{
    size_t n = sid_check(Sid);
    if (!n || !cchName || !cchReferencedDomainName || !peUse) return fail(WTS_ERROR_INVALID_PARAMETER);
    target t;
    DWORD err;
    if (!lpSystemName || !lpSystemName[0]) {
        err = begin_rpc(WTS_CURRENT_SERVER_HANDLE, &t);
    } else {
        while (*lpSystemName == '\\') lpSystemName++;
        if (wlen(lpSystemName) >= SERVER_CAP) return fail(WTS_ERROR_INVALID_PARAMETER);
        memset(&t, 0, sizeof t);
        t.farm = farm_acquire();
        long i = t.farm ? farm_find(t.farm, lpSystemName) : -1;
        if (i >= 0) t.server = &t.farm->servers[i];
        err = rpc(&t);
        if (err) target_done(&t);
    }
    if (err) return fail(err);
    long a = account_find(t.farm, (const BYTE *)Sid, n);
    if (a < 0) err = WTS_ERROR_NONE_MAPPED;
    else {
        const sim_account *acc = &t.farm->accounts[a];
        DWORD lu = (DWORD)wlen(acc->user), ld = (DWORD)wlen(acc->domain);
        if (!Name || *cchName <= lu || !ReferencedDomainName || *cchReferencedDomainName <= ld) {
            *cchName = lu + 1;
            *cchReferencedDomainName = ld + 1;
            err = WTS_ERROR_INSUFFICIENT_BUFFER;
        } else {
            memcpy(Name, acc->user, (lu + 1) * sizeof(WCHAR));
            memcpy(ReferencedDomainName, acc->domain, (ld + 1) * sizeof(WCHAR));
            *cchName = lu;
            *cchReferencedDomainName = ld;
            /* Accounts of a domain of the farm are users; NT AUTHORITY's and the virtual ones are well known. */
            const BYTE *b = acc->sid;
            DWORD first;
            memcpy(&first, b + 8, 4);
            *peUse = (b[7] == 5 && first == 21) ? SidTypeUser : SidTypeWellKnownGroup;
        }
    }
    target_done(&t);
    if (err) return fail(err);
    wts_set_last_error(WTS_ERROR_SUCCESS);
    return TRUE;
}

/* ConvertSidToStringSidW: no RPC.  The string is a sim allocation (counted), freed by wtssim_FreeSidString. */
WTSSIM_CONTROL BOOL WINAPI wtssim_ConvertSidToStringSidW(PVOID Sid, LPWSTR *StringSid)
{
    if (!sid_check(Sid) || !StringSid) return fail(WTS_ERROR_INVALID_PARAMETER);
    char text[200];
    size_t n = sid_format((const BYTE *)Sid, text, sizeof text);
    WCHAR *w = (WCHAR *)block_alloc(BLOCK_STRING, (n + 1) * sizeof(WCHAR), 0);
    if (!w) return fail(WTS_ERROR_NOT_ENOUGH_MEMORY);
    for (size_t i = 0; i < n; i++) w[i] = (WCHAR)text[i];
    w[n] = 0;
    *StringSid = w;
    wts_set_last_error(WTS_ERROR_SUCCESS);
    return TRUE;
}

WTSSIM_CONTROL void WINAPI wtssim_FreeSidString(LPWSTR StringSid) { block_free(StringSid); }

/* ------------------------------------------------------------------------------------------------ */
/* Freeing.                                                                                           */

SIMAPI void WINAPI SIMFN(WTSFreeMemory)(PVOID pMemory)
{
    /* Frees one block.  On an Ex level-1 array it frees the array alone, leaking its strings, which is
     * exactly what happens on Windows: those need WTSFreeMemoryExW. */
    block_free(pMemory);
}

SIMAPI BOOL WINAPI SIMFN(WTSFreeMemoryExW)(WTS_TYPE_CLASS WTSTypeClass, PVOID pMemory, ULONG NumberOfEntries)
{
    block_header *h = block_of(pMemory);
    if (!h || h->magic != BLOCK_MAGIC) return fail(WTS_ERROR_INVALID_PARAMETER);
    /* The type and the count must be those of the array: anything else is refused and frees nothing. */
    uint32_t kind = WTSTypeClass == WTSTypeSessionInfoLevel1   ? BLOCK_SESSION_INFO_1
                    : WTSTypeClass == WTSTypeProcessInfoLevel1 ? BLOCK_PROCESS_INFO_1
                    : WTSTypeClass == WTSTypeProcessInfoLevel0 ? BLOCK_PROCESS_INFO_0
                                                                : 0;
    if (!kind || h->kind != kind || h->count != NumberOfEntries) return fail(WTS_ERROR_INVALID_PARAMETER);
    if (kind == BLOCK_SESSION_INFO_1) free_session_info_1((WTS_SESSION_INFO_1W *)pMemory, NumberOfEntries);
    else free_process_info(pMemory, kind == BLOCK_PROCESS_INFO_1 ? 1 : 0, NumberOfEntries);
    wts_set_last_error(WTS_ERROR_SUCCESS);
    return TRUE;
}

#ifndef WTSSIM_AS_WTSAPI
const wts_provider wts_provider_sim = {
    "sim",
    SIMFN(WTSOpenServerW),
    SIMFN(WTSOpenServerExW),
    SIMFN(WTSCloseServer),
    SIMFN(WTSEnumerateSessionsW),
    SIMFN(WTSEnumerateSessionsExW),
    SIMFN(WTSQuerySessionInformationW),
    SIMFN(WTSDisconnectSession),
    SIMFN(WTSLogoffSession),
    SIMFN(WTSConnectSessionW),
    SIMFN(WTSSendMessageW),
    SIMFN(WTSFreeMemory),
    SIMFN(WTSFreeMemoryExW),
    SIMFN(WTSEnumerateProcessesExW),
    SIMFN(WTSTerminateProcess),
    wtssim_LookupAccountSidW,
    wtssim_ConvertSidToStringSidW,
    wtssim_FreeSidString,
};
#endif
