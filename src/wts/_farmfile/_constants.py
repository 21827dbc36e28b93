"""The numbers and spellings the farm file, the compiled format and the C simulator share.

Header and version of the compiled format, the SDK's buffer limits, the enum spellings a farm file
may use (connect states, deniable operations, message-box replies, faults) and the layout of
``WTS_CLIENT_ADDRESS``.  Win32 values the rest of wts also needs come from :mod:`wts._types`, so
each is spelled once: connect-state names and message-box answers are derived here, the session-id
limits (``CURRENT_SESSION``, ``MAX_SESSION_ID``, ``FIRST_LISTENER_ID``) are imported from there
by the modules that use them.  The format is documented in ``docs/sim.md``; ``src/wtsapi/wts_sim.c``
reads it.
"""

from __future__ import annotations

from .._types import ConnectState, MessageResponse

__all__ = [
    "ADDRESS_BYTES",
    "ADDRESS_OFFSET",
    "AF_INET",
    "AF_INET6",
    "ALL_DENY_BITS",
    "CLIENTNAME_LENGTH",
    "CONNECT_STATES",
    "DENY_BITS",
    "DOMAIN_LENGTH",
    "FAULTS",
    "FORMAT_MAGIC",
    "FORMAT_VERSION",
    "MAX_DELAY_MS",
    "MAX_FARM_FILE_BYTES",
    "MAX_FARM_PROCESSES",
    "MAX_FARM_SERVERS",
    "MAX_FARM_SESSIONS",
    "MAX_FAULT_RPCS",
    "MAX_PASSWORD",
    "MAX_SEED",
    "MAX_SERVER_NAME",
    "REPLIES",
    "REPLY_NAMES",
    "STATE_BY_KEY",
    "TICKS_PER_SECOND",
    "USERNAME_LENGTH",
    "WINSTATIONNAME_LENGTH",
]

FORMAT_MAGIC = "WTSSIM"
FORMAT_VERSION = 1

#: The farm's random seed is an unsigned 64-bit integer in the simulator.
MAX_SEED = 0xFFFFFFFFFFFFFFFF

#: Buffer limits from the Windows SDK, in WCHARs (UTF-16 code units).
MAX_SERVER_NAME = 255
WINSTATIONNAME_LENGTH = 32
USERNAME_LENGTH = 20
DOMAIN_LENGTH = 17
CLIENTNAME_LENGTH = 20
#: Not an SDK constant: the simulator stores passwords in a fixed buffer of
#: this many WCHARs (plus the terminator).  Generous for any real password.
MAX_PASSWORD = 256

#: Upper bound for latency_ms / jitter_ms.  Chosen so the compiled
#: microsecond values always fit a signed 32-bit integer in the C parser.
MAX_DELAY_MS = 1_000_000

#: WTS_CONNECTSTATE_CLASS names in enum order (the index is the value): 'Active', 'Connected', ...
CONNECT_STATES: tuple[str, ...] = tuple(state.sdk_name for state in ConnectState)
#: Lower-cased state name, with or without the SDK's 'WTS' prefix -> value.
STATE_BY_KEY: dict[str, int] = {}
for _value, _name in enumerate(CONNECT_STATES):
    STATE_BY_KEY[_name.lower()] = _value
    STATE_BY_KEY["wts" + _name.lower()] = _value
del _value, _name

#: Operations a session can refuse with ERROR_ACCESS_DENIED, as mask bits.
DENY_BITS: dict[str, int] = {
    "query": 1,
    "disconnect": 2,
    "logoff": 4,
    "message": 8,
    "connect": 16,
    "terminate": 32,  # WTSTerminateProcess of the session's processes
}
ALL_DENY_BITS = sum(DENY_BITS.values())

#: Message-box answers (IDOK, IDCANCEL, ..., IDTIMEOUT) by their farm-file names, in this order
#: (error messages list them so).
REPLIES: dict[str, int] = {
    "ok": MessageResponse.OK.value,
    "cancel": MessageResponse.CANCEL.value,
    "abort": MessageResponse.ABORT.value,
    "retry": MessageResponse.RETRY.value,
    "ignore": MessageResponse.IGNORE.value,
    "yes": MessageResponse.YES.value,
    "no": MessageResponse.NO.value,
    "tryagain": MessageResponse.TRY_AGAIN.value,
    "continue": MessageResponse.CONTINUE.value,
    "timeout": MessageResponse.TIMEOUT.value,
}
REPLY_NAMES: dict[int, str] = {v: k for k, v in REPLIES.items()}

FAULTS: tuple[str, ...] = ("unreachable", "hang", "busy")
#: Most RPCs a limited fault (``fault_rpcs``) may hit.
MAX_FAULT_RPCS = 1_000_000_000

#: Farm size limits, so a few bytes of farm file cannot ask for gigabytes ("count": 100000000): at most
#: this many servers and sessions (system sessions included) in a farm, and bytes in a farm file.
#: Sessions per server are bounded by the session ids (0..65536, the listener's id).
MAX_FARM_SERVERS = 100_000
MAX_FARM_SESSIONS = 1_000_000
MAX_FARM_FILE_BYTES = 512 * 1024 * 1024
#: ... and processes (generated servers and sessions count at the most the generator may give them).
MAX_FARM_PROCESSES = 2_000_000  # a saved farm of MAX_FARM_SESSIONS is about 420 MB

AF_INET = 2
AF_INET6 = 23  # the Windows value, not Linux's 10
ADDRESS_BYTES = 20  # WTS_CLIENT_ADDRESS.Address
ADDRESS_OFFSET = 2  # where Windows puts the IP bytes inside Address

TICKS_PER_SECOND = 10_000_000  # FILETIME resolution is 100 ns
