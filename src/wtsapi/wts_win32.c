/*
 * wts_win32.c - the real wtsapi32, as a provider table.  Windows only; elsewhere the table is NULL
 * and wts._wts reports that the win32 provider is not available.
 */
#include "wts_seam.h"
#include "wts_logon.h"

#ifdef _WIN32
#  include <sddl.h> /* ConvertSidToStringSidW */
#  ifdef _MSC_VER
#    pragma comment(lib, "wtsapi32.lib")
#    pragma comment(lib, "advapi32.lib")
#  endif

/*
 * Each call that can fail clears the thread's last error first.  A wtsapi32 that fails without
 * setting one (Wine's stubs do; tests/test_wine_stubs.py) then reports 0, which wts says plainly,
 * instead of whatever code an unrelated earlier call left behind.  The calls themselves are the
 * wtsapi32 imports, unchanged.
 */
static HANDLE WINAPI open_server(LPWSTR name)
{
    SetLastError(0);
    return WTSOpenServerW(name);
}

static HANDLE WINAPI open_server_ex(LPWSTR name)
{
    SetLastError(0);
    return WTSOpenServerExW(name);
}

static BOOL WINAPI enumerate_sessions(HANDLE server, DWORD reserved, DWORD version, PWTS_SESSION_INFOW *info,
                                      DWORD *count)
{
    SetLastError(0);
    return WTSEnumerateSessionsW(server, reserved, version, info, count);
}

static BOOL WINAPI enumerate_sessions_ex(HANDLE server, DWORD *level, DWORD filter, PWTS_SESSION_INFO_1W *info,
                                         DWORD *count)
{
    SetLastError(0);
    return WTSEnumerateSessionsExW(server, level, filter, info, count);
}

static BOOL WINAPI query_session_information(HANDLE server, DWORD session, WTS_INFO_CLASS info_class,
                                             LPWSTR *buffer, DWORD *bytes)
{
    SetLastError(0);
    return WTSQuerySessionInformationW(server, session, info_class, buffer, bytes);
}

static BOOL WINAPI disconnect_session(HANDLE server, DWORD session, BOOL wait)
{
    SetLastError(0);
    return WTSDisconnectSession(server, session, wait);
}

static BOOL WINAPI logoff_session(HANDLE server, DWORD session, BOOL wait)
{
    SetLastError(0);
    return WTSLogoffSession(server, session, wait);
}

static BOOL WINAPI connect_session(ULONG logon_id, ULONG target_id, PWSTR password, BOOL wait)
{
    SetLastError(0);
    return WTSConnectSessionW(logon_id, target_id, password, wait);
}

static BOOL WINAPI send_message(HANDLE server, DWORD session, LPWSTR title, DWORD title_length, LPWSTR message,
                                DWORD message_length, DWORD style, DWORD timeout, DWORD *response, BOOL wait)
{
    SetLastError(0);
    return WTSSendMessageW(server, session, title, title_length, message, message_length, style, timeout,
                           response, wait);
}

static BOOL WINAPI free_memory_ex(WTS_TYPE_CLASS type_class, PVOID memory, ULONG entries)
{
    SetLastError(0);
    return WTSFreeMemoryExW(type_class, memory, entries);
}

static BOOL WINAPI enumerate_processes_ex(HANDLE server, DWORD *level, DWORD session, LPWSTR *info, DWORD *count)
{
    SetLastError(0);
    return WTSEnumerateProcessesExW(server, level, session, info, count);
}

static BOOL WINAPI terminate_process(HANDLE server, DWORD pid, DWORD exit_code)
{
    SetLastError(0);
    return WTSTerminateProcess(server, pid, exit_code);
}

/* advapi32, against the named server's LSA (an RPC; NULL: this machine).  SID_NAME_USE is an int-sized
 * enum, reported through a DWORD. */
static BOOL WINAPI lookup_account_sid(const WCHAR *system, PVOID sid, LPWSTR name, DWORD *name_len, LPWSTR domain,
                                      DWORD *domain_len, DWORD *use)
{
    SID_NAME_USE u = SidTypeUnknown;
    SetLastError(0);
    BOOL ok = LookupAccountSidW(system, (PSID)sid, name, name_len, domain, domain_len, &u);
    *use = (DWORD)u;
    return ok;
}

static BOOL WINAPI sid_to_string(PVOID sid, LPWSTR *text)
{
    SetLastError(0);
    return ConvertSidToStringSidW((PSID)sid, text);
}

static void WINAPI free_sid_string(LPWSTR text) { LocalFree(text); }

static const wts_provider provider = {
    "win32",
    open_server,
    open_server_ex,
    WTSCloseServer,
    enumerate_sessions,
    enumerate_sessions_ex,
    query_session_information,
    disconnect_session,
    logoff_session,
    connect_session,
    send_message,
    WTSFreeMemory,
    free_memory_ex,
    enumerate_processes_ex,
    terminate_process,
    lookup_account_sid,
    sid_to_string,
    free_sid_string,
};
const wts_provider *const wts_provider_win32 = &provider;

/* Alternate credentials (wts_logon.h): runas /netonly's logon, the thread's impersonation around each call. */
static BOOL WINAPI logon_user(const WCHAR *user, const WCHAR *domain, const WCHAR *password, HANDLE *token)
{
    SetLastError(0);
    return LogonUserW(user, domain, password, LOGON32_LOGON_NEW_CREDENTIALS, LOGON32_PROVIDER_WINNT50, token);
}

static BOOL WINAPI impersonate(HANDLE token)
{
    SetLastError(0);
    return ImpersonateLoggedOnUser(token);
}

static BOOL WINAPI revert(void) { return RevertToSelf(); }

static BOOL WINAPI close_token(HANDLE token) { return CloseHandle(token); }

static const wts_logon_ops logon_ops = { "win32", logon_user, impersonate, revert, close_token };
const wts_logon_ops *const wts_logon_ops_win32 = &logon_ops;

void *wts_win32_sim_export(const char *name)
{
    /* The module our imports are bound to: wts._wts links wtsapi32, so it is loaded by now. */
    HMODULE wtsapi = GetModuleHandleW(L"wtsapi32.dll");
    return wtsapi ? (void *)GetProcAddress(wtsapi, name) : NULL;
}
#else
const wts_provider *const wts_provider_win32 = 0;
const wts_logon_ops *const wts_logon_ops_win32 = 0;

void *wts_win32_sim_export(const char *name)
{
    (void)name;
    return 0;
}
#endif
