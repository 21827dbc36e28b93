/*
 * wts_tsts.h - the tsts provider's C side: a wts_provider table whose functions are Cython callbacks
 * (src/_tsts.pxi) into the Python MS-TSTS client (src/wts/_tsts/).
 *
 * The callbacks are declared __stdcall in Cython so that on 32-bit Windows they match WINAPI, the
 * convention every caller of the table (the engine, wts._wts) uses; elsewhere the word means nothing
 * (x64 and ARM64 Windows have one convention) and is defined away here.  The table is filled in C so
 * that each pointer gets its exact WINAPI type.
 */
#ifndef WTS_TSTS_H
#define WTS_TSTS_H

#include "wts_seam.h"

#if !defined(_WIN32) && !defined(__stdcall)
#  define __stdcall
#endif

/* The order of fns[]: the table's fields after `name`, as wts_seam.h lists them. */
enum {
    WTS_TSTS_OPEN, WTS_TSTS_OPEN_EX, WTS_TSTS_CLOSE, WTS_TSTS_ENUM, WTS_TSTS_ENUM_EX, WTS_TSTS_QUERY,
    WTS_TSTS_DISCONNECT, WTS_TSTS_LOGOFF, WTS_TSTS_CONNECT, WTS_TSTS_MESSAGE, WTS_TSTS_FREE,
    WTS_TSTS_FREE_EX, WTS_TSTS_PROCESSES, WTS_TSTS_TERMINATE, WTS_TSTS_LOOKUP_SID, WTS_TSTS_SID_TEXT,
    WTS_TSTS_FREE_SID, WTS_TSTS_CONNECT_REMOTE, WTS_TSTS_COUNT
};

static void wts_tsts_fill(wts_provider *t, void *const *f)
{
    t->name = "tsts";
    t->OpenServerW = (HANDLE (WINAPI *)(LPWSTR))f[WTS_TSTS_OPEN];
    t->OpenServerExW = (HANDLE (WINAPI *)(LPWSTR))f[WTS_TSTS_OPEN_EX];
    t->CloseServer = (void (WINAPI *)(HANDLE))f[WTS_TSTS_CLOSE];
    t->EnumerateSessionsW = (BOOL (WINAPI *)(HANDLE, DWORD, DWORD, PWTS_SESSION_INFOW *, DWORD *))f[WTS_TSTS_ENUM];
    t->EnumerateSessionsExW =
        (BOOL (WINAPI *)(HANDLE, DWORD *, DWORD, PWTS_SESSION_INFO_1W *, DWORD *))f[WTS_TSTS_ENUM_EX];
    t->QuerySessionInformationW =
        (BOOL (WINAPI *)(HANDLE, DWORD, WTS_INFO_CLASS, LPWSTR *, DWORD *))f[WTS_TSTS_QUERY];
    t->DisconnectSession = (BOOL (WINAPI *)(HANDLE, DWORD, BOOL))f[WTS_TSTS_DISCONNECT];
    t->LogoffSession = (BOOL (WINAPI *)(HANDLE, DWORD, BOOL))f[WTS_TSTS_LOGOFF];
    t->ConnectSessionW = (BOOL (WINAPI *)(ULONG, ULONG, PWSTR, BOOL))f[WTS_TSTS_CONNECT];
    t->SendMessageW = (BOOL (WINAPI *)(HANDLE, DWORD, LPWSTR, DWORD, LPWSTR, DWORD, DWORD, DWORD, DWORD *, BOOL))
        f[WTS_TSTS_MESSAGE];
    t->FreeMemory = (void (WINAPI *)(PVOID))f[WTS_TSTS_FREE];
    t->FreeMemoryExW = (BOOL (WINAPI *)(WTS_TYPE_CLASS, PVOID, ULONG))f[WTS_TSTS_FREE_EX];
    t->EnumerateProcessesExW = (BOOL (WINAPI *)(HANDLE, DWORD *, DWORD, LPWSTR *, DWORD *))f[WTS_TSTS_PROCESSES];
    t->TerminateProcess = (BOOL (WINAPI *)(HANDLE, DWORD, DWORD))f[WTS_TSTS_TERMINATE];
    t->LookupAccountSidW = (BOOL (WINAPI *)(const WCHAR *, PVOID, LPWSTR, DWORD *, LPWSTR, DWORD *, DWORD *))
        f[WTS_TSTS_LOOKUP_SID];
    t->ConvertSidToStringSidW = (BOOL (WINAPI *)(PVOID, LPWSTR *))f[WTS_TSTS_SID_TEXT];
    t->FreeSidString = (void (WINAPI *)(LPWSTR))f[WTS_TSTS_FREE_SID];
    t->ConnectRemoteSessionW = (BOOL (WINAPI *)(HANDLE, ULONG, ULONG, PWSTR, BOOL))f[WTS_TSTS_CONNECT_REMOTE];
}

#endif /* WTS_TSTS_H */
