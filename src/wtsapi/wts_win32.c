/*
 * wts_win32.c - the real wtsapi32, as a provider table.  Windows only; elsewhere the table is NULL
 * and wts._wts reports that the win32 provider is not available.
 */
#include "wts_seam.h"

#ifdef _WIN32
#  ifdef _MSC_VER
#    pragma comment(lib, "wtsapi32.lib")
#  endif

static const wts_provider provider = {
    "win32",
    WTSOpenServerW,
    WTSOpenServerExW,
    WTSCloseServer,
    WTSEnumerateSessionsW,
    WTSEnumerateSessionsExW,
    WTSQuerySessionInformationW,
    WTSDisconnectSession,
    WTSLogoffSession,
    WTSConnectSessionW,
    WTSSendMessageW,
    WTSFreeMemory,
    WTSFreeMemoryExW,
};
const wts_provider *const wts_provider_win32 = &provider;
#else
const wts_provider *const wts_provider_win32 = 0;
#endif
