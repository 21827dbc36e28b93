"""``generate`` blocks: validating one, and expanding blocks into servers full of realistic sessions.

The expansion is the hot path of the package (10^5 sessions must compile well under a second), and
its output is a promise: the same JSON and seed give the same bytes, across versions.  Generated
servers get the system sessions a real RD Session Host has (0 Services, 1 Console, the RDP-Tcp
listener at :data:`FIRST_LISTENER_ID`) unless ``system_sessions`` is false; user sessions get ids
from :data:`FIRST_USER_ID` up.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._types import FIRST_LISTENER_ID, MAX_SESSION_ID
from ._compiled import escape, session_line
from ._constants import AF_INET, DOMAIN_LENGTH, MAX_SERVER_NAME, REPLIES, STATE_BY_KEY, TICKS_PER_SECOND
from ._errors import Invalid
from ._processes import Accounts, GeneratedProcesses
from ._values import boolean, check_name_chars, integer, json_object, number, server_delays, string, utf16_len

__all__ = ["FIRST_USER_ID", "LOGON_WINDOW_S", "Block", "generate", "has_generated_session", "read_block"]

_GENERATE_FIELDS = (
    "prefix",
    "count",
    "sessions",
    "start",
    "digits",
    "latency_ms",
    "jitter_ms",
    "fault",
    "fault_rpcs",
    "domain",
    "disconnected",
    "locked",
    "system_sessions",
    "processes",
)

# Generator tuning.  Changing any of these changes generated farms, which
# breaks the "same JSON -> same bytes" promise across versions; don't.
# Ages are log-uniform: most sessions logged on hours ago and were used minutes ago, as on a real
# RD Session Host, with a long tail of sessions logged on for days and idle or disconnected for days.
#: Generated sessions log on at most this long before the farm's "now" (and at least _MIN_LOGON_AGE_S).
LOGON_WINDOW_S = 7 * 86400
_MIN_LOGON_AGE_S = 900
#: An Active session's last input is log-uniform from _MIN_INPUT_AGE_S to this share of its logon age
#: (about a fifth under a minute: quser's "."); a Disconnected one's disconnect from a minute to the same share.
_INPUT_SHARE = 0.9
_MIN_INPUT_AGE_S = 10
_MIN_DISCONNECT_AGE_S = 60
_IDLE_BEFORE_DISCONNECT_S = 300
#: Session ids of a generated server: Services, Console, then users (and the listener, above them).
_SERVICES_ID = 0
_CONSOLE_ID = 1
FIRST_USER_ID = 2


@dataclass(frozen=True)
class Block:
    """A validated generate block."""

    index: int
    prefix: str
    count: int
    sessions: int
    start: int
    digits: int
    latency_us: int
    jitter_us: int
    fault: str
    domain: str
    disconnected: float
    locked: float
    system_sessions: bool
    processes: bool


def read_block(value: object, index: int, defaults: Mapping[str, Any]) -> Block:
    """Validate ``generate[index]``; defaults are the farm's server defaults (see server_delays)."""
    path = f"generate[{index}]"
    b = json_object(value, path, _GENERATE_FIELDS, required=("prefix", "count", "sessions"))
    prefix = string(b["prefix"], f"{path}.prefix")
    check_name_chars(prefix, f"{path}.prefix")
    count = integer(b["count"], f"{path}.count", 1)
    system = boolean(b.get("system_sessions", True), f"{path}.system_sessions")
    processes = boolean(b.get("processes", True), f"{path}.processes")
    # Generated user sessions get ids 2, 3, ...; with system sessions
    # they must stay below the listener's 65536.
    max_users = FIRST_LISTENER_ID - FIRST_USER_ID if system else MAX_SESSION_ID - FIRST_USER_ID + 1
    sessions = integer(b["sessions"], f"{path}.sessions", 0, max_users)
    start = integer(b.get("start", 1), f"{path}.start", 0)
    last = start + count - 1
    if "digits" in b:
        digits = integer(b["digits"], f"{path}.digits", 1, MAX_SERVER_NAME)
    else:
        digits = max(2, len(str(last)))
    longest = utf16_len(prefix) + max(digits, len(str(last)))
    if longest > MAX_SERVER_NAME:
        raise Invalid(
            path,
            f"generated server names would be {longest} characters long; at most {MAX_SERVER_NAME} are allowed",
        )
    latency, jitter, fault = server_delays(b, path, defaults)
    domain = string(b.get("domain", "CONTOSO"), f"{path}.domain", DOMAIN_LENGTH, "DOMAIN_LENGTH")
    disconnected = number(b.get("disconnected", 0.2), f"{path}.disconnected", 0, 1)
    locked = number(b.get("locked", 0.1), f"{path}.locked", 0, 1)
    return Block(
        index=index,
        prefix=prefix,
        count=count,
        sessions=sessions,
        start=start,
        digits=digits,
        latency_us=latency,
        jitter_us=jitter,
        fault=fault,
        domain=domain,
        disconnected=float(disconnected),
        locked=float(locked),
        system_sessions=system,
        processes=processes,
    )


def has_generated_session(sid: int, users: int, system_sessions: bool) -> bool:
    """Whether a generated server with this many user sessions has session sid."""
    return FIRST_USER_ID <= sid < FIRST_USER_ID + users or (
        system_sessions and sid in (_SERVICES_ID, _CONSOLE_ID, FIRST_LISTENER_ID)
    )


def generate(
    blocks: Sequence[Block],
    seed: int,
    now: int,
    lines: list[str],
    claim: Callable[[str, Block], None],
    accounts: Accounts,
) -> int:
    """Expand generate blocks into server and session lines, appended to lines; returns the number
    of sessions.  claim(name, block) registers each server name first (it raises Invalid on a clash).

    Hot path (10^5 sessions must compile well under a second): times
    are integer FILETIME arithmetic, random numbers come from the fast
    random()/getrandbits() primitives, lines are plain f-strings."""
    session_count = 0
    total_users = sum(b.count * b.sessions for b in blocks)
    # A farm-wide pool about two thirds the size of the number of user
    # sessions, so many users have sessions on several servers; never
    # smaller than one server's sessions, so a user appears at most
    # once per server (as with "restrict to a single session").
    pool = max(1, (2 * total_users + 2) // 3, max((b.sessions for b in blocks), default=0))
    width = max(4, len(str(pool - 1)))
    tick = TICKS_PER_SECOND
    system_head = (
        session_line(_SERVICES_ID, "Services", STATE_BY_KEY["disconnected"]),
        session_line(_CONSOLE_ID, "Console", STATE_BY_KEY["connected"]),
    )
    system_tail = session_line(FIRST_LISTENER_ID, "RDP-Tcp", STATE_BY_KEY["listen"])
    active = STATE_BY_KEY["active"]
    disconnected_state = STATE_BY_KEY["disconnected"]
    # The end of every user session line: deny nothing, answer messages with IDOK, no password.
    session_tail = f"\t0\t{REPLIES['ok']}\t"
    exp, log = math.exp, math.log
    log_logon_span = log(LOGON_WINDOW_S / _MIN_LOGON_AGE_S)
    for block in blocks:
        rng = random.Random(f"wts-farm/{seed}/{block.index}")
        rand = rng.random
        bits = rng.getrandbits
        sample = rng.sample
        domain = escape(block.domain)
        n = block.sessions
        n_disc = int(n * block.disconnected + 0.5)
        n_lock = int((n - n_disc) * block.locked + 0.5)
        server_tail = f"\t{block.latency_us}\t{block.jitter_us}\t{block.fault}"
        procs = GeneratedProcesses(seed, block.index, accounts) if block.processes else None
        for k in range(block.count):
            name = f"{block.prefix}{block.start + k:0{block.digits}d}"
            claim(name, block)
            lines.append(f"server\t{escape(name)}{server_tail}")
            if procs:
                procs.new_server()
            if block.system_sessions:
                lines.append(system_head[0])
                if procs:
                    procs.services(lines)
                lines.append(system_head[1])
                if procs:
                    procs.session(lines, _CONSOLE_ID, "", "", False)
            disc = set(sample(range(n), n_disc)) if n_disc else set()
            locked = set(sample(range(n - n_disc), n_lock)) if n_lock else set()
            users = sample(range(pool), n)
            rank = 0  # index among active sessions, for `locked`
            for i in range(n):
                logon_age = int(_MIN_LOGON_AGE_S * exp(rand() * log_logon_span))
                longest = _INPUT_SHARE * logon_age
                if i in disc:
                    disc_age = int(_MIN_DISCONNECT_AGE_S * exp(rand() * log(longest / _MIN_DISCONNECT_AGE_S)))
                    input_age = disc_age + int(rand() * _IDLE_BEFORE_DISCONNECT_S)
                    disconnect = now - disc_age * tick
                    state = disconnected_state
                    station = ""
                    is_locked = False
                else:
                    input_age = int(_MIN_INPUT_AGE_S * exp(rand() * log(longest / _MIN_INPUT_AGE_S)))
                    disconnect = 0
                    state = active
                    station = f"RDP-Tcp#{i}"
                    is_locked = rank in locked
                    rank += 1
                input_age = min(input_age, logon_age - 2)  # connect comes after logon, input after connect
                connect_age = input_age + 1 + int(rand() * (logon_age - input_age - 1))
                net = bits(16)
                lines.append(
                    f"session\t{i + FIRST_USER_ID}\t{station}\t{state}\t"
                    f"user{users[i]:0{width}d}\t{domain}\tPC-{bits(16):04X}\t"
                    f"{AF_INET}\t00000a{net:04x}{1 + int(rand() * 254):02x}"
                    "0000000000000000000000000000\t"
                    f"{now - logon_age * tick}\t{now - connect_age * tick}\t"
                    f"{disconnect}\t{now - input_age * tick}\t"
                    f"{1 if is_locked else 0}{session_tail}"
                )
                if procs:
                    procs.session(lines, i + FIRST_USER_ID, block.domain, f"user{users[i]:0{width}d}", state == active)
            if block.system_sessions:
                lines.append(system_tail)
                session_count += 3
            session_count += n
    return session_count
