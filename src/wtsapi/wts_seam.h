/*
 * wts_seam.h - the one C seam between wts._wts and the WTS API.
 *
 * On Windows this includes the SDK headers and uses the SDK's own types, declaring only what older
 * mingw-w64 headers lack.  Everywhere else it defines the same types with the same x64 layout, so
 * the simulated provider speaks the exact wtsapi32 ABI on every platform: the same functions, struct
 * layouts, UTF-16 strings, BOOL + last-error contract and Win32 error codes.
 *
 * Cython never includes <windows.h>; it includes this header.
 */
#ifndef WTS_SEAM_H
#define WTS_SEAM_H

#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
#  ifndef WIN32_LEAN_AND_MEAN
#    define WIN32_LEAN_AND_MEAN
#  endif
#  include <windows.h>
#  include <wtsapi32.h>
#  define wts_get_last_error() GetLastError()
#  define wts_set_last_error(e) SetLastError(e)
/* mingw-w64 10 (Debian 12) lacks the Vista-era Ex declarations, although its libwtsapi32.a exports
 * the functions.  The SDK defines WTS_SESSIONSTATE_LOCK beside WTSINFOEX, so its absence tells us
 * the header predates them. */
#  if !defined(_MSC_VER) && !defined(WTS_SESSIONSTATE_LOCK)
#    define WTS_SEAM_DECLARE_EX 1
#  endif
#else /* not Windows: the same ABI, spelled out */
#  define WINAPI
typedef void *HANDLE;
typedef void *PVOID;
typedef uint32_t DWORD;
typedef int32_t BOOL;
typedef uint32_t ULONG;
typedef int32_t LONG;
typedef int32_t INT;
typedef uint16_t USHORT;
typedef uint8_t BYTE;
typedef int64_t LONGLONG;
typedef uint16_t WCHAR; /* UTF-16 code unit, as on Windows; wchar_t is 32-bit here */
typedef WCHAR *LPWSTR;
typedef WCHAR *PWSTR;
typedef union _LARGE_INTEGER {
    struct { DWORD LowPart; LONG HighPart; } u;
    LONGLONG QuadPart;
} LARGE_INTEGER;
#  define TRUE 1
#  define FALSE 0
/* Windows keeps the last error per thread; so do we. */
DWORD wts_get_last_error(void);
void wts_set_last_error(DWORD e);

typedef enum _WTS_CONNECTSTATE_CLASS {
    WTSActive, WTSConnected, WTSConnectQuery, WTSShadow, WTSDisconnected,
    WTSIdle, WTSListen, WTSReset, WTSDown, WTSInit
} WTS_CONNECTSTATE_CLASS;

typedef enum _WTS_INFO_CLASS {
    WTSInitialProgram, WTSApplicationName, WTSWorkingDirectory, WTSOEMId, WTSSessionId,
    WTSUserName, WTSWinStationName, WTSDomainName, WTSConnectState, WTSClientBuildNumber,
    WTSClientName, WTSClientDirectory, WTSClientProductId, WTSClientHardwareId, WTSClientAddress,
    WTSClientDisplay, WTSClientProtocolType, WTSIdleTime, WTSLogonTime, WTSIncomingBytes,
    WTSOutgoingBytes, WTSIncomingFrames, WTSOutgoingFrames, WTSClientInfo, WTSSessionInfo,
    WTSSessionInfoEx, WTSConfigInfo, WTSValidationInfo, WTSSessionAddressV4, WTSIsRemoteSession
} WTS_INFO_CLASS;

#  define WTS_CURRENT_SERVER_HANDLE ((HANDLE)NULL)
#  define WTS_CURRENT_SESSION ((DWORD)-1)
#  define WTS_ANY_SESSION ((DWORD)-2)
#  define WINSTATIONNAME_LENGTH 32
#  define DOMAIN_LENGTH 17
#  define USERNAME_LENGTH 20
#  define CLIENTNAME_LENGTH 20

typedef struct _WTS_SESSION_INFOW {
    DWORD SessionId;
    LPWSTR pWinStationName;
    WTS_CONNECTSTATE_CLASS State;
} WTS_SESSION_INFOW, *PWTS_SESSION_INFOW;

typedef struct _WTS_CLIENT_ADDRESS {
    DWORD AddressFamily;
    BYTE Address[20];
} WTS_CLIENT_ADDRESS, *PWTS_CLIENT_ADDRESS;

typedef struct _WTS_CLIENT_DISPLAY {
    DWORD HorizontalResolution;
    DWORD VerticalResolution;
    DWORD ColorDepth;
} WTS_CLIENT_DISPLAY, *PWTS_CLIENT_DISPLAY;

/* Field order differs from WTSINFOEX_LEVEL1_W below: counters first, times last. */
typedef struct _WTSINFOW {
    WTS_CONNECTSTATE_CLASS State;
    DWORD SessionId;
    DWORD IncomingBytes;
    DWORD OutgoingBytes;
    DWORD IncomingFrames;
    DWORD OutgoingFrames;
    DWORD IncomingCompressedBytes;
    DWORD OutgoingCompressedBytes;
    WCHAR WinStationName[WINSTATIONNAME_LENGTH];
    WCHAR Domain[DOMAIN_LENGTH];
    WCHAR UserName[USERNAME_LENGTH + 1];
    LARGE_INTEGER ConnectTime;
    LARGE_INTEGER DisconnectTime;
    LARGE_INTEGER LastInputTime;
    LARGE_INTEGER LogonTime;
    LARGE_INTEGER CurrentTime;
} WTSINFOW, *PWTSINFOW;

typedef struct _WTS_PROCESS_INFOW {
    DWORD SessionId;
    DWORD ProcessId;
    LPWSTR pProcessName;
    PVOID pUserSid; /* PSID */
} WTS_PROCESS_INFOW, *PWTS_PROCESS_INFOW;

/* advapi32's SID_NAME_USE, as LookupAccountSidW reports it. */
typedef enum _SID_NAME_USE {
    SidTypeUser = 1, SidTypeGroup, SidTypeDomain, SidTypeAlias, SidTypeWellKnownGroup, SidTypeDeletedAccount,
    SidTypeInvalid, SidTypeUnknown, SidTypeComputer, SidTypeLabel, SidTypeLogonSession
} SID_NAME_USE;

#  define WTS_SEAM_DECLARE_EX 1
#endif /* _WIN32 */

#ifdef WTS_SEAM_DECLARE_EX
#  define WTS_SESSIONSTATE_UNKNOWN 0xFFFFFFFF
#  define WTS_SESSIONSTATE_LOCK 0x00000000
#  define WTS_SESSIONSTATE_UNLOCK 0x00000001

typedef enum _WTS_TYPE_CLASS {
    WTSTypeProcessInfoLevel0, WTSTypeProcessInfoLevel1, WTSTypeSessionInfoLevel1
} WTS_TYPE_CLASS;

typedef struct _WTS_SESSION_INFO_1W {
    DWORD ExecEnvId;
    WTS_CONNECTSTATE_CLASS State;
    DWORD SessionId;
    LPWSTR pSessionName;
    LPWSTR pHostName;
    LPWSTR pUserName;
    LPWSTR pDomainName;
    LPWSTR pFarmName;
} WTS_SESSION_INFO_1W, *PWTS_SESSION_INFO_1W;

/* Field order differs from WTSINFOW above: times first, counters last; arrays one longer. */
typedef struct _WTSINFOEX_LEVEL1_W {
    ULONG SessionId;
    WTS_CONNECTSTATE_CLASS SessionState;
    LONG SessionFlags;
    WCHAR WinStationName[WINSTATIONNAME_LENGTH + 1];
    WCHAR UserName[USERNAME_LENGTH + 1];
    WCHAR DomainName[DOMAIN_LENGTH + 1];
    LARGE_INTEGER LogonTime;
    LARGE_INTEGER ConnectTime;
    LARGE_INTEGER DisconnectTime;
    LARGE_INTEGER LastInputTime;
    LARGE_INTEGER CurrentTime;
    DWORD IncomingBytes;
    DWORD OutgoingBytes;
    DWORD IncomingFrames;
    DWORD OutgoingFrames;
    DWORD IncomingCompressedBytes;
    DWORD OutgoingCompressedBytes;
} WTSINFOEX_LEVEL1_W, *PWTSINFOEX_LEVEL1_W;

typedef union _WTSINFOEX_LEVEL_W {
    WTSINFOEX_LEVEL1_W WTSInfoExLevel1;
} WTSINFOEX_LEVEL_W, *PWTSINFOEX_LEVEL_W;

typedef struct _WTSINFOEXW {
    DWORD Level;
    WTSINFOEX_LEVEL_W Data;
} WTSINFOEXW, *PWTSINFOEXW;

/* WTSEnumerateProcessesExW level 1 (Windows 7 / 2008 R2 and later).  Microsoft's page gives UserTime and
 * KernelTime in milliseconds; they are the kernel's SYSTEM_PROCESS_INFORMATION times, in 100 ns units
 * (docs/sim.md, "Processes"). */
typedef struct _WTS_PROCESS_INFO_EXW {
    DWORD SessionId;
    DWORD ProcessId;
    LPWSTR pProcessName;
    PVOID pUserSid; /* PSID */
    DWORD NumberOfThreads;
    DWORD HandleCount;
    DWORD PagefileUsage;
    DWORD PeakPagefileUsage;
    DWORD WorkingSetSize;
    DWORD PeakWorkingSetSize;
    LARGE_INTEGER UserTime;
    LARGE_INTEGER KernelTime;
} WTS_PROCESS_INFO_EXW, *PWTS_PROCESS_INFO_EXW;

#  ifndef WTS_ANY_SESSION
#    define WTS_ANY_SESSION ((DWORD)-2)
#  endif

#  ifdef _WIN32
/* Info classes newer than mingw-w64 10's WTS_INFO_CLASS (values from the SDK's wtsapi32.h). */
#    define WTSSessionInfoEx ((WTS_INFO_CLASS)25)
#    define WTSConfigInfo ((WTS_INFO_CLASS)26)
#    define WTSValidationInfo ((WTS_INFO_CLASS)27)
#    define WTSSessionAddressV4 ((WTS_INFO_CLASS)28)
#    define WTSIsRemoteSession ((WTS_INFO_CLASS)29)
/* Declarations missing from old mingw-w64 headers; libwtsapi32.a exports them. */
BOOL WINAPI WTSEnumerateSessionsExW(HANDLE, DWORD *, DWORD, PWTS_SESSION_INFO_1W *, DWORD *);
BOOL WINAPI WTSFreeMemoryExW(WTS_TYPE_CLASS, PVOID, ULONG);
HANDLE WINAPI WTSOpenServerExW(LPWSTR);
BOOL WINAPI WTSEnumerateProcessesExW(HANDLE, DWORD *, DWORD, LPWSTR *, DWORD *);
#  endif
#endif /* WTS_SEAM_DECLARE_EX */

/* What WTSQuerySessionInformationW returns for WTSClientInfo (the SDK's WTSCLIENTW) and WTSConfigInfo
 * (WTSCONFIGINFOW), under seam names: mingw-w64 10 lacks WTSCONFIGINFOW, and off Windows neither
 * exists.  The layouts are the SDK's (no pointers: the same on every architecture), checked against
 * the SDK's own types below wherever the build has them. */
#define WTS_SEAM_MAX_PATH 260
#define WTS_SEAM_CLIENTADDRESS_LENGTH 30
typedef struct wts_client_w {
    WCHAR ClientName[CLIENTNAME_LENGTH + 1];
    WCHAR Domain[DOMAIN_LENGTH + 1];
    WCHAR UserName[USERNAME_LENGTH + 1];
    WCHAR WorkDirectory[WTS_SEAM_MAX_PATH + 1];
    WCHAR InitialProgram[WTS_SEAM_MAX_PATH + 1];
    BYTE EncryptionLevel;
    ULONG ClientAddressFamily;
    USHORT ClientAddress[WTS_SEAM_CLIENTADDRESS_LENGTH + 1]; /* AF_INET: the address as text; AF_INET6: binary */
    USHORT HRes;
    USHORT VRes;
    USHORT ColorDepth;
    WCHAR ClientDirectory[WTS_SEAM_MAX_PATH + 1];
    ULONG ClientBuildNumber;
    ULONG ClientHardwareId;
    USHORT ClientProductId;
    USHORT OutBufCountHost;
    USHORT OutBufCountClient;
    USHORT OutBufLength;
    WCHAR DeviceId[WTS_SEAM_MAX_PATH + 1];
} wts_client_w;

typedef struct wts_config_info_w {
    ULONG version;
    ULONG fConnectClientDrivesAtLogon;
    ULONG fConnectPrinterAtLogon;
    ULONG fDisablePrinterRedirection;
    ULONG fDisableDefaultMainClientPrinter;
    ULONG ShadowSettings;
    WCHAR LogonUserName[USERNAME_LENGTH + 1];
    WCHAR LogonDomain[DOMAIN_LENGTH + 1];
    WCHAR WorkDirectory[WTS_SEAM_MAX_PATH + 1];
    WCHAR InitialProgram[WTS_SEAM_MAX_PATH + 1];
    WCHAR ApplicationName[WTS_SEAM_MAX_PATH + 1];
} wts_config_info_w;

/* Win32 error codes the seam produces or maps (winerror.h values).  src/wts/_winerror.py is the same table
 * for Python; tests/test_winerror.py checks that every WTS_<SDK name> here equals its member there. */
#define WTS_ERROR_SUCCESS 0u
#define WTS_ERROR_ACCESS_DENIED 5u
#define WTS_ERROR_INVALID_HANDLE 6u
#define WTS_ERROR_NOT_ENOUGH_MEMORY 8u
#define WTS_ERROR_NOT_SUPPORTED 50u
#define WTS_ERROR_INVALID_PARAMETER 87u
#define WTS_ERROR_INSUFFICIENT_BUFFER 122u
#define WTS_ERROR_NONE_MAPPED 1332u /* LookupAccountSidW: no account has this SID */
#define WTS_ERROR_LOGON_FAILURE 1326u
#define WTS_ERROR_TIMEOUT 1460u /* the engine's: a call abandoned at its deadline */
#define WTS_RPC_S_SERVER_UNAVAILABLE 1722u
#define WTS_RPC_S_SERVER_TOO_BUSY 1723u
#define WTS_RPC_S_CALL_FAILED 1726u
#define WTS_RPC_S_CALL_FAILED_DNE 1727u /* the engine's too: a call refused at the stuck-thread limit, never sent */
#define WTS_ERROR_INVALID_USER_BUFFER 1784u
#define WTS_ERROR_CTX_WINSTATION_NOT_FOUND 7022u
#define WTS_ERROR_CTX_CONSOLE_DISCONNECT 7041u
#define WTS_ERROR_CTX_CONSOLE_CONNECT 7042u
#define WTS_ERROR_CTX_WINSTATION_ACCESS_DENIED 7045u

/* MessageBox answers WTSSendMessageW reports (winuser.h values). */
#define WTS_IDOK 1u
#define WTS_IDTIMEOUT 32000u
#define WTS_IDASYNC 32001u

/* WTSConnectSessionW's "the caller's session" (LOGONID_CURRENT in the SDK). */
#define WTS_LOGONID_CURRENT ((ULONG)-1)

/* x64 layouts, pinned.  On Windows these check the SDK's (or our mingw) declarations; elsewhere ours. */
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#  define WTS_SEAM_STATIC_ASSERT(c, m) _Static_assert(c, m)
#else /* MSVC without /std:c11: a negative array size fails the build just the same */
#  define WTS_SEAM_CAT2(a, b) a##b
#  define WTS_SEAM_CAT(a, b) WTS_SEAM_CAT2(a, b)
#  define WTS_SEAM_STATIC_ASSERT(c, m) typedef char WTS_SEAM_CAT(wts_seam_assert_, __LINE__)[(c) ? 1 : -1]
#endif
#if UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu
#  define WTS_SEAM_ASSERT(c, m) WTS_SEAM_STATIC_ASSERT(c, m)
WTS_SEAM_ASSERT(sizeof(WTS_SESSION_INFOW) == 24, "WTS_SESSION_INFOW is 24 bytes on x64");
WTS_SEAM_ASSERT(sizeof(WTS_SESSION_INFO_1W) == 56, "WTS_SESSION_INFO_1W is 56 bytes on x64");
WTS_SEAM_ASSERT(offsetof(WTS_SESSION_INFO_1W, pSessionName) == 16, "WTS_SESSION_INFO_1W.pSessionName");
WTS_SEAM_ASSERT(offsetof(WTS_SESSION_INFO_1W, pFarmName) == 48, "WTS_SESSION_INFO_1W.pFarmName");
WTS_SEAM_ASSERT(sizeof(WTSINFOW) == 216, "WTSINFOW is 216 bytes on x64");
WTS_SEAM_ASSERT(offsetof(WTSINFOW, WinStationName) == 32, "WTSINFOW.WinStationName");
WTS_SEAM_ASSERT(offsetof(WTSINFOW, ConnectTime) == 176, "WTSINFOW.ConnectTime");
WTS_SEAM_ASSERT(offsetof(WTSINFOW, CurrentTime) == 208, "WTSINFOW.CurrentTime");
WTS_SEAM_ASSERT(sizeof(WTSINFOEXW) == 232, "WTSINFOEXW is 232 bytes on x64");
WTS_SEAM_ASSERT(offsetof(WTSINFOEXW, Data) == 8, "WTSINFOEXW.Data");
WTS_SEAM_ASSERT(offsetof(WTSINFOEX_LEVEL1_W, WinStationName) == 12, "WTSINFOEX_LEVEL1_W.WinStationName");
WTS_SEAM_ASSERT(offsetof(WTSINFOEX_LEVEL1_W, LogonTime) == 160, "WTSINFOEX_LEVEL1_W.LogonTime");
WTS_SEAM_ASSERT(offsetof(WTSINFOEX_LEVEL1_W, CurrentTime) == 192, "WTSINFOEX_LEVEL1_W.CurrentTime");
WTS_SEAM_ASSERT(sizeof(WTS_CLIENT_ADDRESS) == 24, "WTS_CLIENT_ADDRESS is 24 bytes");
WTS_SEAM_ASSERT(sizeof(WTS_PROCESS_INFOW) == 24, "WTS_PROCESS_INFOW is 24 bytes on x64");
WTS_SEAM_ASSERT(offsetof(WTS_PROCESS_INFOW, pUserSid) == 16, "WTS_PROCESS_INFOW.pUserSid");
WTS_SEAM_ASSERT(sizeof(WTS_PROCESS_INFO_EXW) == 64, "WTS_PROCESS_INFO_EXW is 64 bytes on x64");
WTS_SEAM_ASSERT(offsetof(WTS_PROCESS_INFO_EXW, pProcessName) == 8, "WTS_PROCESS_INFO_EXW.pProcessName");
WTS_SEAM_ASSERT(offsetof(WTS_PROCESS_INFO_EXW, pUserSid) == 16, "WTS_PROCESS_INFO_EXW.pUserSid");
WTS_SEAM_ASSERT(offsetof(WTS_PROCESS_INFO_EXW, NumberOfThreads) == 24, "WTS_PROCESS_INFO_EXW.NumberOfThreads");
WTS_SEAM_ASSERT(offsetof(WTS_PROCESS_INFO_EXW, PeakWorkingSetSize) == 44, "WTS_PROCESS_INFO_EXW.PeakWorkingSetSize");
WTS_SEAM_ASSERT(offsetof(WTS_PROCESS_INFO_EXW, UserTime) == 48, "WTS_PROCESS_INFO_EXW.UserTime");
WTS_SEAM_ASSERT(offsetof(WTS_PROCESS_INFO_EXW, KernelTime) == 56, "WTS_PROCESS_INFO_EXW.KernelTime");
#endif
#define WTS_SEAM_ASSERT_ALWAYS(c, m) WTS_SEAM_STATIC_ASSERT(c, m)
/* No pointers in these two: the SDK's sizes on every architecture. */
WTS_SEAM_ASSERT_ALWAYS(sizeof(wts_client_w) == 2304, "WTSCLIENTW is 2304 bytes");
WTS_SEAM_ASSERT_ALWAYS(offsetof(wts_client_w, ClientAddressFamily) == 1168, "WTSCLIENTW.ClientAddressFamily");
WTS_SEAM_ASSERT_ALWAYS(offsetof(wts_client_w, ClientDirectory) == 1240, "WTSCLIENTW.ClientDirectory");
WTS_SEAM_ASSERT_ALWAYS(offsetof(wts_client_w, DeviceId) == 1780, "WTSCLIENTW.DeviceId");
WTS_SEAM_ASSERT_ALWAYS(sizeof(wts_config_info_w) == 1668, "WTSCONFIGINFOW is 1668 bytes");
WTS_SEAM_ASSERT_ALWAYS(sizeof(DWORD) == 4 && sizeof(ULONG) == 4 && sizeof(WCHAR) == 2, "Win32 widths");
WTS_SEAM_ASSERT_ALWAYS(WTSInit == 9 && WTSListen == 6 && WTSDisconnected == 4, "connect states");
WTS_SEAM_ASSERT_ALWAYS(WTSSessionInfoEx == 25 && WTSClientProtocolType == 16 && WTSIsRemoteSession == 29,
                       "info classes");
WTS_SEAM_ASSERT_ALWAYS(WTSTypeSessionInfoLevel1 == 2 && WTSTypeProcessInfoLevel1 == 1, "WTS_TYPE_CLASS");
WTS_SEAM_ASSERT_ALWAYS(WTS_ANY_SESSION == 0xFFFFFFFEu, "WTS_ANY_SESSION");
WTS_SEAM_ASSERT_ALWAYS(SidTypeUser == 1 && SidTypeWellKnownGroup == 5, "SID_NAME_USE");
#ifdef _WIN32
WTS_SEAM_ASSERT_ALWAYS(WTS_CURRENT_SESSION == 0xFFFFFFFFu, "WTS_CURRENT_SESSION");
WTS_SEAM_ASSERT_ALWAYS(ERROR_CTX_WINSTATION_NOT_FOUND == WTS_ERROR_CTX_WINSTATION_NOT_FOUND, "7022");
WTS_SEAM_ASSERT_ALWAYS(ERROR_CTX_CONSOLE_DISCONNECT == WTS_ERROR_CTX_CONSOLE_DISCONNECT, "7041");
WTS_SEAM_ASSERT_ALWAYS(ERROR_CTX_CONSOLE_CONNECT == WTS_ERROR_CTX_CONSOLE_CONNECT, "7042");
WTS_SEAM_ASSERT_ALWAYS(ERROR_CTX_WINSTATION_ACCESS_DENIED == WTS_ERROR_CTX_WINSTATION_ACCESS_DENIED, "7045");
WTS_SEAM_ASSERT_ALWAYS(RPC_S_SERVER_UNAVAILABLE == WTS_RPC_S_SERVER_UNAVAILABLE, "1722");
WTS_SEAM_ASSERT_ALWAYS(RPC_S_CALL_FAILED_DNE == WTS_RPC_S_CALL_FAILED_DNE, "1727");
WTS_SEAM_ASSERT_ALWAYS(ERROR_INVALID_USER_BUFFER == WTS_ERROR_INVALID_USER_BUFFER, "1784");
WTS_SEAM_ASSERT_ALWAYS(ERROR_TIMEOUT == WTS_ERROR_TIMEOUT, "1460");
WTS_SEAM_ASSERT_ALWAYS(ERROR_INSUFFICIENT_BUFFER == WTS_ERROR_INSUFFICIENT_BUFFER, "122");
WTS_SEAM_ASSERT_ALWAYS(ERROR_NONE_MAPPED == WTS_ERROR_NONE_MAPPED, "1332");
WTS_SEAM_ASSERT_ALWAYS(IDTIMEOUT == WTS_IDTIMEOUT && IDASYNC == WTS_IDASYNC, "message answers");
WTS_SEAM_ASSERT_ALWAYS(sizeof(WTSCLIENTW) == sizeof(wts_client_w), "WTSCLIENTW as the SDK has it");
WTS_SEAM_ASSERT_ALWAYS(offsetof(WTSCLIENTW, ClientAddress) == offsetof(wts_client_w, ClientAddress), "WTSCLIENTW");
WTS_SEAM_ASSERT_ALWAYS(offsetof(WTSCLIENTW, ClientBuildNumber) == offsetof(wts_client_w, ClientBuildNumber), "WTSCLIENTW");
#  ifdef _MSC_VER
WTS_SEAM_ASSERT_ALWAYS(sizeof(WTSCONFIGINFOW) == sizeof(wts_config_info_w), "WTSCONFIGINFOW as the SDK has it");
#  endif
#endif

/*
 * A provider is a table of the WTS functions.  wts._wts calls only through it, so the real wtsapi32
 * and the simulated farm are interchangeable at run time.
 */
typedef struct wts_provider {
    const char *name;
    HANDLE (WINAPI *OpenServerW)(LPWSTR pServerName);
    HANDLE (WINAPI *OpenServerExW)(LPWSTR pServerName);
    void (WINAPI *CloseServer)(HANDLE hServer);
    BOOL (WINAPI *EnumerateSessionsW)(HANDLE hServer, DWORD Reserved, DWORD Version,
                                      PWTS_SESSION_INFOW *ppSessionInfo, DWORD *pCount);
    BOOL (WINAPI *EnumerateSessionsExW)(HANDLE hServer, DWORD *pLevel, DWORD Filter,
                                        PWTS_SESSION_INFO_1W *ppSessionInfo, DWORD *pCount);
    BOOL (WINAPI *QuerySessionInformationW)(HANDLE hServer, DWORD SessionId, WTS_INFO_CLASS WTSInfoClass,
                                            LPWSTR *ppBuffer, DWORD *pBytesReturned);
    BOOL (WINAPI *DisconnectSession)(HANDLE hServer, DWORD SessionId, BOOL bWait);
    BOOL (WINAPI *LogoffSession)(HANDLE hServer, DWORD SessionId, BOOL bWait);
    BOOL (WINAPI *ConnectSessionW)(ULONG LogonId, ULONG TargetLogonId, PWSTR pPassword, BOOL bWait);
    BOOL (WINAPI *SendMessageW)(HANDLE hServer, DWORD SessionId, LPWSTR pTitle, DWORD TitleLength,
                                LPWSTR pMessage, DWORD MessageLength, DWORD Style, DWORD Timeout,
                                DWORD *pResponse, BOOL bWait);
    void (WINAPI *FreeMemory)(PVOID pMemory);
    BOOL (WINAPI *FreeMemoryExW)(WTS_TYPE_CLASS WTSTypeClass, PVOID pMemory, ULONG NumberOfEntries);
    /* WTSEnumerateProcessesExW: *pLevel 0 or 1 in, the level returned out; SessionId or WTS_ANY_SESSION.
     * Free with FreeMemoryExW(WTSTypeProcessInfoLevel<level>, ...), which frees the names and SIDs too. */
    BOOL (WINAPI *EnumerateProcessesExW)(HANDLE hServer, DWORD *pLevel, DWORD SessionId, LPWSTR *ppProcessInfo,
                                         DWORD *pCount);
    BOOL (WINAPI *TerminateProcess)(HANDLE hServer, DWORD ProcessId, DWORD ExitCode);
    /* advapi32's LookupAccountSidW (an RPC to lpSystemName's LSA; NULL: this machine), peUse a SID_NAME_USE;
     * the sim answers for the SIDs of its own farm. */
    BOOL (WINAPI *LookupAccountSidW)(const WCHAR *lpSystemName, PVOID Sid, LPWSTR Name, DWORD *cchName,
                                     LPWSTR ReferencedDomainName, DWORD *cchReferencedDomainName, DWORD *peUse);
    /* advapi32's ConvertSidToStringSidW ("S-1-5-..."), no RPC; the string is freed with FreeSidString
     * (LocalFree on Windows). */
    BOOL (WINAPI *ConvertSidToStringSidW)(PVOID Sid, LPWSTR *StringSid);
    void (WINAPI *FreeSidString)(LPWSTR StringSid);
    /* Connect session LogonId of hServer to its session TargetLogonId, as tscon does over the network
     * (MS-TSTS RpcOpenSession + RpcConnect): the tsts provider only.  NULL in a provider whose
     * ConnectSessionW is all there is (wtsapi32's has no server handle: the local server only). */
    BOOL (WINAPI *ConnectRemoteSessionW)(HANDLE hServer, ULONG LogonId, ULONG TargetLogonId, PWSTR pPassword,
                                         BOOL bWait);
} wts_provider;

/* The simulated farm: always compiled. */
extern const wts_provider wts_provider_sim;
/* The real wtsapi32: a table on Windows, NULL elsewhere. */
extern const wts_provider *const wts_provider_win32;

/* The export `name` of the process's wtsapi32.dll when that DLL is our simulator (wts_sim.c built
 * with -DWTSSIM_AS_WTSAPI, which exports the wtssim_* controls beside the WTS functions), else NULL:
 * always NULL for Microsoft's wtsapi32 and off Windows.  wts._wts then drives the farm in the DLL
 * and reaches it through the win32 provider, the real import path (docs/building.md, the Wine check). */
void *wts_win32_sim_export(const char *name);

#endif /* WTS_SEAM_H */
