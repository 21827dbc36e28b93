/*
 * wts_logon.c - alternate credentials (see wts_logon.h): the logon, its references, the impersonation
 * around each call, and the sim's model of it.
 */
#include <stdlib.h>
#include <string.h>

#include "wts_logon.h"
#include "wts_platform.h"

#ifdef _MSC_VER
#  define WTS_TLS __declspec(thread)
#else
#  define WTS_TLS _Thread_local
#endif

struct wts_logon {
    const wts_logon_ops *ops;
    HANDLE token;
    wts_atomic64 refs;
};

void wts_wipe(void *p, size_t n)
{
    if (!p || !n) return;
#ifdef _WIN32
    SecureZeroMemory(p, n);
#else
    volatile unsigned char *b = (volatile unsigned char *)p; /* volatile: the wipe may not be dropped */
    while (n--) *b++ = 0;
#endif
}

wts_logon *wts_logon_new(const wts_logon_ops *ops, const WCHAR *user, const WCHAR *domain, WCHAR *password,
                         size_t password_units, DWORD *error)
{
    wts_logon *logon = (wts_logon *)calloc(1, sizeof *logon);
    HANDLE token = NULL;
    BOOL ok = FALSE;
    *error = WTS_ERROR_SUCCESS;
    if (!logon) {
        *error = WTS_ERROR_NOT_ENOUGH_MEMORY;
    } else {
        ok = ops->LogonUserW(user, domain, password, &token);
        if (!ok) *error = wts_get_last_error();
        if (!ok && *error == WTS_ERROR_SUCCESS) *error = WTS_ERROR_LOGON_FAILURE; /* a stub that says nothing */
    }
    if (password) wts_wipe(password, (password_units + 1) * sizeof(WCHAR)); /* used once, gone at once */
    if (!ok) {
        free(logon);
        return NULL;
    }
    logon->ops = ops;
    logon->token = token;
    logon->refs = 1;
    return logon;
}

void wts_logon_retain(wts_logon *logon)
{
    if (logon) wts_atomic_add(&logon->refs, 1);
}

void wts_logon_release(wts_logon *logon)
{
    if (logon && wts_atomic_add(&logon->refs, -1) == 0) {
        logon->ops->CloseToken(logon->token);
        free(logon);
    }
}

BOOL wts_logon_enter(wts_logon *logon, DWORD *error)
{
    if (!logon) return TRUE;
    if (logon->ops->ImpersonateLoggedOnUser(logon->token)) return TRUE;
    *error = wts_get_last_error();
    if (*error == WTS_ERROR_SUCCESS) *error = WTS_ERROR_ACCESS_DENIED;
    return FALSE;
}

void wts_logon_leave(wts_logon *logon)
{
    if (logon) logon->ops->RevertToSelf();
}

/* --- the sim's model ----------------------------------------------------------------------------- */

typedef struct sim_token {
    BOOL known; /* the credentials match one of the accounts set when the logon was made */
} sim_token;

static wts_mutex g_accounts_lock = WTS_MUTEX_INIT;
static WCHAR *g_accounts;
static size_t g_accounts_units;
static wts_atomic64 g_tokens, g_enters, g_leaves, g_refused;
static WTS_TLS const sim_token *tls_impersonating;

static size_t wlen(const WCHAR *s)
{
    size_t n = 0;
    while (s && s[n]) n++;
    return n;
}

static WCHAR fold(WCHAR c) { return c >= 'a' && c <= 'z' ? (WCHAR)(c - 'a' + 'A') : c; }

static BOOL same(const WCHAR *a, const WCHAR *b, BOOL ignore_case)
{
    a = a ? a : (const WCHAR *)L"";
    for (;; a++, b++) {
        WCHAR x = ignore_case ? fold(*a) : *a, y = ignore_case ? fold(*b) : *b;
        if (x != y) return FALSE;
        if (!x) return TRUE;
    }
}

int wts_logon_sim_set_accounts(const WCHAR *records, size_t units)
{
    WCHAR *copy = NULL;
    if (units) {
        copy = (WCHAR *)malloc(units * sizeof(WCHAR));
        if (!copy) return -1;
        memcpy(copy, records, units * sizeof(WCHAR));
    }
    wts_mutex_lock(&g_accounts_lock);
    WCHAR *old = g_accounts;
    size_t old_units = g_accounts_units;
    g_accounts = copy;
    g_accounts_units = units;
    wts_mutex_unlock(&g_accounts_lock);
    wts_wipe(old, old_units * sizeof(WCHAR));
    free(old);
    return 0;
}

static BOOL WINAPI sim_logon_user(const WCHAR *user, const WCHAR *domain, const WCHAR *password, HANDLE *token)
{
    static const WCHAR empty[1] = { 0 };
    sim_token *t = (sim_token *)calloc(1, sizeof *t);
    if (!t) {
        wts_set_last_error(WTS_ERROR_NOT_ENOUGH_MEMORY);
        return FALSE;
    }
    domain = domain ? domain : empty;
    password = password ? password : empty;
    wts_mutex_lock(&g_accounts_lock);
    /* Records: domain, user, password, each with its NUL.  Names compare without case, as Windows'. */
    for (size_t at = 0; at < g_accounts_units && !t->known;) {
        const WCHAR *d = g_accounts + at, *u = d + wlen(d) + 1, *p = u + wlen(u) + 1;
        t->known = same(domain, d, TRUE) && same(user, u, TRUE) && same(password, p, FALSE);
        at = (size_t)(p - g_accounts) + wlen(p) + 1;
    }
    wts_mutex_unlock(&g_accounts_lock);
    wts_atomic_add(&g_tokens, 1);
    *token = t;
    return TRUE; /* NEW_CREDENTIALS: nothing is checked until the credentials are used */
}

static BOOL WINAPI sim_impersonate(HANDLE token)
{
    const sim_token *t = (const sim_token *)token;
    if (!t->known) {
        /* What the server answers a wrong password with; the call is not made. */
        wts_atomic_add(&g_refused, 1);
        wts_set_last_error(WTS_ERROR_LOGON_FAILURE);
        return FALSE;
    }
    wts_atomic_add(&g_enters, 1);
    tls_impersonating = t;
    return TRUE;
}

static BOOL WINAPI sim_revert(void)
{
    if (tls_impersonating) wts_atomic_add(&g_leaves, 1);
    tls_impersonating = NULL;
    return TRUE;
}

static BOOL WINAPI sim_close_token(HANDLE token)
{
    if (!token) return FALSE;
    free(token);
    wts_atomic_add(&g_tokens, -1);
    return TRUE;
}

const wts_logon_ops wts_logon_ops_sim = { "sim", sim_logon_user, sim_impersonate, sim_revert, sim_close_token };

void wts_logon_sim_counts(int64_t out[4])
{
    out[0] = wts_atomic_load(&g_tokens);
    out[1] = wts_atomic_load(&g_enters);
    out[2] = wts_atomic_load(&g_leaves);
    out[3] = wts_atomic_load(&g_refused);
}
