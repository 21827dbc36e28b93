/*
 * wts_accounts.h - a server's processes with their accounts: one WTSEnumerateProcessesExW (level 1)
 * and one LookupAccountSidW per distinct SID, made together so that the bulk engine's worker and
 * wts._wts's direct call do the same thing, with no Python and no GIL.
 */
#ifndef WTS_ACCOUNTS_H
#define WTS_ACCOUNTS_H

#include "wts_seam.h"

/* One distinct SID of a process list: its text ("S-1-5-21-...") and the account it names, "" where the
 * server could not say.  Strings are malloc'd. */
typedef struct wts_account {
    WCHAR *sid, *user, *domain;
} wts_account;

typedef struct wts_process_list {
    WTS_PROCESS_INFO_EXW *rows; /* the provider's array: freed with FreeMemoryExW(WTSTypeProcessInfoLevel1) */
    DWORD count;
    wts_account *accounts;
    size_t naccounts;
    size_t *account_of; /* per row: index + 1 into accounts, 0 when the process has no SID */
} wts_process_list;

/*
 * WTSEnumerateProcessesExW(h, level 1, session) -- WTS_ANY_SESSION for every session -- then, for each
 * distinct SID, ConvertSidToStringSidW and LookupAccountSidW(server, ...): an RPC to that server's LSA
 * (server NULL: this machine).  SYSTEM, LOCAL SERVICE and NETWORK SERVICE (S-1-5-18/19/20) and the
 * sessions' DWM-<n> and UMFD-<n> (S-1-5-90-0-<n>, S-1-5-96-0-<n>) are named without one.  A SID no account has (ERROR_NONE_MAPPED) stays unnamed; after any other lookup failure
 * (the server gone, access denied) the rest stay unnamed too, so a failing server costs one lookup, not
 * one per SID.  Returns the list, or NULL with *error set when the enumeration fails or memory runs out.
 */
wts_process_list *wts_process_list_get(const wts_provider *p, HANDLE h, const WCHAR *server, DWORD session,
                                       DWORD *error);
/* Frees the rows with the provider's FreeMemoryExW and everything else; NULL is allowed. */
void wts_process_list_free(const wts_provider *p, wts_process_list *list);

#endif /* WTS_ACCOUNTS_H */
