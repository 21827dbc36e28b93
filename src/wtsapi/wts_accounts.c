/*
 * wts_accounts.c - a server's processes with their accounts (see wts_accounts.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wts_accounts.h"

static WCHAR *wdup(const WCHAR *s)
{
    size_t n = 0;
    if (s) while (s[n]) n++;
    WCHAR *p = (WCHAR *)malloc((n + 1) * sizeof(WCHAR));
    if (p) {
        if (n) memcpy(p, s, n * sizeof(WCHAR));
        p[n] = 0;
    }
    return p;
}

static WCHAR *wdup_ascii(const char *s)
{
    size_t n = strlen(s);
    WCHAR *p = (WCHAR *)malloc((n + 1) * sizeof(WCHAR));
    if (p) {
        for (size_t i = 0; i <= n; i++) p[i] = (WCHAR)(unsigned char)s[i];
    }
    return p;
}

static size_t sid_bytes(const void *sid)
{
    const BYTE *b = (const BYTE *)sid;
    return 8 + 4 * (size_t)b[1];
}

/* Accounts every Windows names alike, named here without an RPC: NT AUTHORITY's service accounts, and the
 * virtual accounts of each session's dwm.exe (Window Manager\\DWM-<session>, S-1-5-90-0-<session>) and
 * fontdrvhost.exe (Font Driver Host\\UMFD-<session>, S-1-5-96-0-<session>), two per session, which would
 * otherwise cost a server of 60 sessions 120 lookups.  The names are Windows' English ones; a Windows in
 * another language may spell NT AUTHORITY otherwise (only an RPC would tell). */
static int well_known(const void *sid, wts_account *a)
{
    const BYTE *b = (const BYTE *)sid;
    static const BYTE nt_authority[6] = { 0, 0, 0, 0, 0, 5 };
    if (b[0] != 1 || memcmp(b + 2, nt_authority, 6) != 0) return 0;
    DWORD sub[3] = { 0, 0, 0 };
    for (int k = 0; k < b[1] && k < 3; k++) memcpy(&sub[k], b + 8 + 4 * k, 4);
    const char *user = NULL, *domain = "NT AUTHORITY";
    char virt[32];
    if (b[1] == 1 && sub[0] == 18) user = "SYSTEM";
    else if (b[1] == 1 && sub[0] == 19) user = "LOCAL SERVICE";
    else if (b[1] == 1 && sub[0] == 20) user = "NETWORK SERVICE";
    else if (b[1] == 3 && (sub[0] == 90 || sub[0] == 96) && sub[1] == 0) {
        snprintf(virt, sizeof virt, "%s-%lu", sub[0] == 90 ? "DWM" : "UMFD", (unsigned long)sub[2]);
        user = virt;
        domain = sub[0] == 90 ? "Window Manager" : "Font Driver Host";
    }
    if (!user) return 0;
    a->user = wdup_ascii(user);
    a->domain = wdup_ascii(domain);
    return 1;
}

/* Names one account: 0 when named (or not, but the next lookup may go on), -1 when lookups should stop. */
static int lookup(const wts_provider *p, const WCHAR *server, void *sid, wts_account *a)
{
    if (well_known(sid, a)) return 0;
    WCHAR name[257], domain[257];
    DWORD nlen = 257, dlen = 257, use = 0;
    WCHAR *bn = name, *bd = domain;
    BOOL ok = p->LookupAccountSidW(server, sid, bn, &nlen, bd, &dlen, &use);
    DWORD err = ok ? 0 : wts_get_last_error();
    if (!ok && err == WTS_ERROR_INSUFFICIENT_BUFFER && nlen && dlen) {
        bn = (WCHAR *)malloc(nlen * sizeof(WCHAR));
        bd = (WCHAR *)malloc(dlen * sizeof(WCHAR));
        ok = bn && bd && p->LookupAccountSidW(server, sid, bn, &nlen, bd, &dlen, &use);
        err = ok ? 0 : bn && bd ? wts_get_last_error() : WTS_ERROR_NOT_ENOUGH_MEMORY;
    }
    if (ok) {
        a->user = wdup(bn);
        a->domain = wdup(bd);
    }
    if (bn != name) free(bn);
    if (bd != domain) free(bd);
    return ok || err == WTS_ERROR_NONE_MAPPED ? 0 : -1;
}

void wts_process_list_free(const wts_provider *p, wts_process_list *list)
{
    if (!list) return;
    if (list->rows) p->FreeMemoryExW(WTSTypeProcessInfoLevel1, list->rows, list->count);
    for (size_t i = 0; i < list->naccounts; i++) {
        free(list->accounts[i].sid);
        free(list->accounts[i].user);
        free(list->accounts[i].domain);
    }
    free(list->accounts);
    free(list->account_of);
    free(list);
}

wts_process_list *wts_process_list_get(const wts_provider *p, HANDLE h, const WCHAR *server, DWORD session,
                                       DWORD *error)
{
    wts_process_list *list = (wts_process_list *)calloc(1, sizeof *list);
    if (!list) {
        *error = WTS_ERROR_NOT_ENOUGH_MEMORY;
        return NULL;
    }
    DWORD level = 1;
    LPWSTR info = NULL;
    if (!p->EnumerateProcessesExW(h, &level, session, &info, &list->count)) {
        *error = wts_get_last_error();
        free(list);
        return NULL;
    }
    if (level != 1) { /* asked for level 1: anything else is not the array we know how to read */
        p->FreeMemoryExW(level == 0 ? WTSTypeProcessInfoLevel0 : (WTS_TYPE_CLASS)level, info, list->count);
        free(list);
        *error = WTS_ERROR_INVALID_PARAMETER;
        return NULL;
    }
    list->rows = (WTS_PROCESS_INFO_EXW *)info;
    DWORD n = list->count;
    list->account_of = (size_t *)calloc(n ? n : 1, sizeof(size_t));
    list->accounts = (wts_account *)calloc(n ? n : 1, sizeof(wts_account));
    if (!list->account_of || !list->accounts) goto oom;
    int lookups = 1;
    /* Distinct SIDs are few (the users, the service accounts): each row is compared with the first row
     * of every SID seen so far. */
    {
        size_t *first_row = (size_t *)calloc(n ? n : 1, sizeof(size_t));
        if (!first_row) goto oom;
        for (DWORD i = 0; i < n; i++) {
            void *sid = list->rows[i].pUserSid;
            if (!sid) continue;
            size_t len = sid_bytes(sid), a;
            for (a = 0; a < list->naccounts; a++) {
                const void *seen = list->rows[first_row[a]].pUserSid;
                if (sid_bytes(seen) == len && !memcmp(seen, sid, len)) break;
            }
            if (a == list->naccounts) {
                wts_account *acc = &list->accounts[a];
                first_row[a] = i;
                list->naccounts++;
                LPWSTR text = NULL;
                if (p->ConvertSidToStringSidW(sid, &text)) {
                    acc->sid = wdup(text);
                    p->FreeSidString(text);
                } else {
                    acc->sid = wdup(NULL);
                }
                if (lookups && lookup(p, server, sid, acc)) lookups = 0;
                if (!acc->user) acc->user = wdup(NULL);
                if (!acc->domain) acc->domain = wdup(NULL);
                if (!acc->sid || !acc->user || !acc->domain) {
                    free(first_row);
                    goto oom;
                }
            }
            list->account_of[i] = a + 1;
        }
        free(first_row);
    }
    *error = WTS_ERROR_SUCCESS;
    return list;
oom:
    wts_process_list_free(p, list);
    *error = WTS_ERROR_NOT_ENOUGH_MEMORY;
    return NULL;
}
