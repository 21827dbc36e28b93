/*
 * wts_logon.h - alternate credentials for the providers that call as this machine's user (win32, sim):
 * what `runas /netonly` does.  One logon, LogonUserW(user, domain, password,
 * LOGON32_LOGON_NEW_CREDENTIALS, LOGON32_PROVIDER_WINNT50), made when a Server or Farm is created with
 * credentials; its token is impersonated by each thread around each call it makes for that Server or
 * Farm (the engine's workers, the caller's thread for direct calls) and reverted right after.  The
 * password lives in native memory only for the LogonUserW call: wts_logon_new wipes it (success or
 * not).  The token is closed when the last holder (the provider, a host, a call still running) lets go.
 *
 * NEW_CREDENTIALS checks nothing at logon: the account is used only for outbound authentication (the
 * RPC to each server), so a wrong password fails the calls (1326 or 5), not the logon.
 */
#ifndef WTS_LOGON_H
#define WTS_LOGON_H

#include "wts_seam.h"

/* How a provider logs on and impersonates: advapi32 on Windows, the sim's own model elsewhere. */
typedef struct wts_logon_ops {
    const char *name;
    /* LogonUserW(user, domain, password, LOGON32_LOGON_NEW_CREDENTIALS, LOGON32_PROVIDER_WINNT50, token) */
    BOOL (WINAPI *LogonUserW)(const WCHAR *user, const WCHAR *domain, const WCHAR *password, HANDLE *token);
    BOOL (WINAPI *ImpersonateLoggedOnUser)(HANDLE token);
    BOOL (WINAPI *RevertToSelf)(void);
    BOOL (WINAPI *CloseToken)(HANDLE token);
} wts_logon_ops;

/* advapi32's: a table on Windows, NULL elsewhere (wts_win32.c). */
extern const wts_logon_ops *const wts_logon_ops_win32;
/* The sim's (wts_logon.c): a logon always succeeds, as NEW_CREDENTIALS does; a thread impersonating a
 * logon that matches none of the accounts set by wts_logon_sim_set_accounts fails its calls with
 * ERROR_LOGON_FAILURE (1326) before they are made, as a server refuses a wrong password. */
extern const wts_logon_ops wts_logon_ops_sim;

typedef struct wts_logon wts_logon;

/* Logs on; NULL and *error on failure.  `password` (password_units WCHARs and a NUL) is wiped before
 * this returns, whatever happens.  The logon starts with one reference (the caller's). */
wts_logon *wts_logon_new(const wts_logon_ops *ops, const WCHAR *user, const WCHAR *domain, WCHAR *password,
                         size_t password_units, DWORD *error);
void wts_logon_retain(wts_logon *logon);
/* Drops a reference; the last one closes the token. */
void wts_logon_release(wts_logon *logon);
/* Impersonates the logon on this thread (NULL: nothing to do, TRUE); FALSE and *error if it cannot,
 * and then the call must not be made.  Every TRUE is paired with wts_logon_leave on the same thread. */
BOOL wts_logon_enter(wts_logon *logon, DWORD *error);
void wts_logon_leave(wts_logon *logon);

/* Wipes n bytes so that the compiler cannot drop it (SecureZeroMemory on Windows). */
void wts_wipe(void *p, size_t n);

/* The sim's accounts, as "domain\0user\0password\0" records back to back, `units` WCHARs in all (a copy
 * is kept; the previous one is wiped).  units 0: no accounts, every alternate logon fails its calls. */
int wts_logon_sim_set_accounts(const WCHAR *records, size_t units);
/* The sim's counters: tokens open, impersonations begun, reverts, impersonations refused. */
void wts_logon_sim_counts(int64_t out[4]);

#endif /* WTS_LOGON_H */
