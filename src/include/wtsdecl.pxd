# cython: language_level=3
# Declarations of the C seam (src/wtsapi/wts_seam.h): the WTS surface and its two providers.
# Only what wts._wts uses is declared; the C compiler checks it against the real header.
# The sim's controls are in wtssim.pxd, the bulk engine's in wtsengine.pxd.
from libc.stdint cimport int64_t, uint16_t, uint32_t, int32_t


cdef extern from "wtsapi/wts_seam.h" nogil:
    ctypedef void *HANDLE
    ctypedef void *PVOID
    ctypedef uint32_t DWORD
    ctypedef int32_t BOOL
    ctypedef uint32_t ULONG
    ctypedef int32_t LONG
    ctypedef uint16_t USHORT
    ctypedef unsigned char BYTE
    ctypedef uint16_t WCHAR
    ctypedef WCHAR *LPWSTR
    ctypedef int WTS_CONNECTSTATE_CLASS
    ctypedef int WTS_INFO_CLASS
    ctypedef int WTS_TYPE_CLASS

    ctypedef struct LARGE_INTEGER:
        long long QuadPart

    ctypedef struct WTS_SESSION_INFOW:
        DWORD SessionId
        LPWSTR pWinStationName
        WTS_CONNECTSTATE_CLASS State

    ctypedef struct WTS_SESSION_INFO_1W:
        DWORD ExecEnvId
        WTS_CONNECTSTATE_CLASS State
        DWORD SessionId
        LPWSTR pSessionName
        LPWSTR pHostName
        LPWSTR pUserName
        LPWSTR pDomainName
        LPWSTR pFarmName

    ctypedef struct WTS_CLIENT_ADDRESS:
        DWORD AddressFamily
        BYTE Address[20]

    ctypedef struct WTS_CLIENT_DISPLAY:
        DWORD HorizontalResolution
        DWORD VerticalResolution
        DWORD ColorDepth

    ctypedef struct WTSINFOW:
        WTS_CONNECTSTATE_CLASS State
        DWORD SessionId
        WCHAR WinStationName[32]
        WCHAR Domain[17]
        WCHAR UserName[21]
        LARGE_INTEGER ConnectTime
        LARGE_INTEGER DisconnectTime
        LARGE_INTEGER LastInputTime
        LARGE_INTEGER LogonTime
        LARGE_INTEGER CurrentTime

    ctypedef struct WTSINFOEX_LEVEL1_W:
        ULONG SessionId
        WTS_CONNECTSTATE_CLASS SessionState
        LONG SessionFlags
        WCHAR WinStationName[33]
        WCHAR UserName[21]
        WCHAR DomainName[18]
        LARGE_INTEGER LogonTime
        LARGE_INTEGER ConnectTime
        LARGE_INTEGER DisconnectTime
        LARGE_INTEGER LastInputTime
        LARGE_INTEGER CurrentTime

    ctypedef union WTSINFOEX_LEVEL_W:
        WTSINFOEX_LEVEL1_W WTSInfoExLevel1

    ctypedef struct WTSINFOEXW:
        DWORD Level
        WTSINFOEX_LEVEL_W Data

    ctypedef struct WTS_PROCESS_INFO_EXW:
        DWORD SessionId
        DWORD ProcessId
        LPWSTR pProcessName
        PVOID pUserSid
        DWORD NumberOfThreads
        DWORD HandleCount
        DWORD PagefileUsage
        DWORD PeakPagefileUsage
        DWORD WorkingSetSize
        DWORD PeakWorkingSetSize
        LARGE_INTEGER UserTime
        LARGE_INTEGER KernelTime

    WTS_TYPE_CLASS WTSTypeSessionInfoLevel1
    WTS_TYPE_CLASS WTSTypeProcessInfoLevel1
    DWORD WTS_CURRENT_SESSION
    DWORD WTS_ANY_SESSION

    ctypedef struct wts_provider:
        const char *name
        HANDLE (*OpenServerW)(LPWSTR) noexcept nogil
        HANDLE (*OpenServerExW)(LPWSTR) noexcept nogil
        void (*CloseServer)(HANDLE) noexcept nogil
        BOOL (*EnumerateSessionsW)(HANDLE, DWORD, DWORD, WTS_SESSION_INFOW **, DWORD *) noexcept nogil
        BOOL (*EnumerateSessionsExW)(HANDLE, DWORD *, DWORD, WTS_SESSION_INFO_1W **, DWORD *) noexcept nogil
        BOOL (*QuerySessionInformationW)(HANDLE, DWORD, WTS_INFO_CLASS, LPWSTR *, DWORD *) noexcept nogil
        BOOL (*DisconnectSession)(HANDLE, DWORD, BOOL) noexcept nogil
        BOOL (*LogoffSession)(HANDLE, DWORD, BOOL) noexcept nogil
        BOOL (*ConnectSessionW)(ULONG, ULONG, LPWSTR, BOOL) noexcept nogil
        BOOL (*ConnectRemoteSessionW)(HANDLE, ULONG, ULONG, LPWSTR, BOOL) noexcept nogil
        BOOL (*SendMessageW)(HANDLE, DWORD, LPWSTR, DWORD, LPWSTR, DWORD, DWORD, DWORD, DWORD *, BOOL) noexcept nogil
        void (*FreeMemory)(PVOID) noexcept nogil
        BOOL (*FreeMemoryExW)(WTS_TYPE_CLASS, PVOID, ULONG) noexcept nogil
        BOOL (*EnumerateProcessesExW)(HANDLE, DWORD *, DWORD, LPWSTR *, DWORD *) noexcept nogil
        BOOL (*TerminateProcess)(HANDLE, DWORD, DWORD) noexcept nogil
        BOOL (*LookupAccountSidW)(const WCHAR *, PVOID, LPWSTR, DWORD *, LPWSTR, DWORD *, DWORD *) noexcept nogil
        BOOL (*ConvertSidToStringSidW)(PVOID, LPWSTR *) noexcept nogil
        void (*FreeSidString)(LPWSTR) noexcept nogil

    const wts_provider wts_provider_sim
    const wts_provider *const wts_provider_win32
    DWORD wts_get_last_error()
    void wts_set_last_error(DWORD e)


cdef extern from "wtsapi/wts_seam.h" nogil:
    # wtsapi32.dll's export of that name when the DLL is our simulator (-DWTSSIM_AS_WTSAPI), else NULL.
    void *wts_win32_sim_export(const char *name)


cdef extern from "wtsapi/wts_accounts.h" nogil:
    # A server's processes with their accounts: one WTSEnumerateProcessesExW and a LookupAccountSidW
    # per distinct SID (src/wtsapi/wts_accounts.h).
    ctypedef struct wts_account:
        WCHAR *sid
        WCHAR *user
        WCHAR *domain
    ctypedef struct wts_process_list:
        WTS_PROCESS_INFO_EXW *rows
        DWORD count
        wts_account *accounts
        size_t naccounts
        size_t *account_of
    wts_process_list *wts_process_list_get(const wts_provider *p, HANDLE h, const WCHAR *server, DWORD session,
                                           DWORD *error)
    void wts_process_list_free(const wts_provider *p, wts_process_list *list)


cdef extern from "wtsapi/wts_tsts.h" nogil:
    # The tsts provider's table, filled from Cython callbacks (src/_tsts.pxi).
    enum:
        WTS_TSTS_OPEN
        WTS_TSTS_OPEN_EX
        WTS_TSTS_CLOSE
        WTS_TSTS_ENUM
        WTS_TSTS_ENUM_EX
        WTS_TSTS_QUERY
        WTS_TSTS_DISCONNECT
        WTS_TSTS_LOGOFF
        WTS_TSTS_CONNECT
        WTS_TSTS_MESSAGE
        WTS_TSTS_FREE
        WTS_TSTS_FREE_EX
        WTS_TSTS_PROCESSES
        WTS_TSTS_TERMINATE
        WTS_TSTS_LOOKUP_SID
        WTS_TSTS_SID_TEXT
        WTS_TSTS_FREE_SID
        WTS_TSTS_CONNECT_REMOTE
        WTS_TSTS_COUNT
    void wts_tsts_fill(wts_provider *table, void **functions)
    # Codes its callbacks report themselves (wts_seam.h).
    DWORD WTS_ERROR_NOT_SUPPORTED
    DWORD WTS_ERROR_NOT_ENOUGH_MEMORY
    DWORD WTS_ERROR_INVALID_HANDLE
    DWORD WTS_RPC_S_CALL_FAILED
    DWORD WTS_ERROR_INVALID_PARAMETER
    DWORD WTS_ERROR_INSUFFICIENT_BUFFER
