/*
 * wts_sim.h - control of the simulated RD Session Host farm (not part of wtsapi32).
 *
 * The farm is loaded from the compiled text that wts._farmfile produces (docs/sim.md), replaced
 * atomically, and read back with wtssim_dump.  Counters let tests prove nothing leaks and let
 * benchmarks count RPCs.
 */
#ifndef WTS_SIM_H
#define WTS_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "wts_seam.h"

#if defined(WTSSIM_AS_WTSAPI) && defined(_WIN32)
#  define WTSSIM_CONTROL __declspec(dllexport)
#elif defined(WTSSIM_AS_WTSAPI)
#  define WTSSIM_CONTROL __attribute__((visibility("default")))
#else
#  define WTSSIM_CONTROL
#endif

/* Parse and install a farm.  0 on success; otherwise nonzero with a one-line reason in err
 * (naming the line), and the previous farm is left as it was. */
WTSSIM_CONTROL int wtssim_load(const char *text, size_t len, char *err, size_t errlen);
/* 1 when a farm is loaded. */
WTSSIM_CONTROL int wtssim_loaded(void);
/* The farm's current state, in the load format plus message lines; free with wtssim_free_text. */
WTSSIM_CONTROL char *wtssim_dump(size_t *len);
/* "name\trpcs\n" per server, then "*\t<rpcs to names not in the farm>\n"; free with wtssim_free_text. */
WTSSIM_CONTROL char *wtssim_rpc_report(size_t *len);
WTSSIM_CONTROL void wtssim_free_text(char *text);
/* Live allocations handed out through the WTS surface: server handles, buffers and strings. */
WTSSIM_CONTROL int64_t wtssim_outstanding(void);
/* Total RPCs since the last reset, over all servers. */
WTSSIM_CONTROL int64_t wtssim_rpc_total(void);
WTSSIM_CONTROL void wtssim_reset_counters(void);
/* Wake every call blocked on a "hang" server; each fails with RPC_S_CALL_FAILED (1726).  Later calls
 * to such a server hang again. */
WTSSIM_CONTROL void wtssim_release_hangs(void);
/* Calls currently blocked on hang servers. */
WTSSIM_CONTROL int64_t wtssim_hung_calls(void);

/* advapi32's LookupAccountSidW and ConvertSidToStringSidW for the farm's SIDs (the seam's provider
 * table shapes; see wts_seam.h).  Lookups are RPCs to the named server of the farm; the string is freed
 * with wtssim_FreeSidString.  Exported by the DLL build too: Wine's advapi32 knows no sim SID. */
WTSSIM_CONTROL BOOL WINAPI wtssim_LookupAccountSidW(const WCHAR *lpSystemName, PVOID Sid, LPWSTR Name, DWORD *cchName,
                                                    LPWSTR ReferencedDomainName, DWORD *cchReferencedDomainName,
                                                    DWORD *peUse);
WTSSIM_CONTROL BOOL WINAPI wtssim_ConvertSidToStringSidW(PVOID Sid, LPWSTR *StringSid);
WTSSIM_CONTROL void WINAPI wtssim_FreeSidString(LPWSTR StringSid);

#endif /* WTS_SIM_H */
