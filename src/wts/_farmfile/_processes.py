"""Processes of the simulated farm: the accounts they run as, one process of a farm file, the
generator's processes, and the compiled ``process`` line.

Every process with an account carries its SID and the account's name in its line, so the C simulator
answers LookupAccountSidW from the farm itself.  SIDs are deterministic: NT AUTHORITY's service
accounts have their well-known SIDs (S-1-5-18/19/20), the per-session virtual accounts of the desktop
window manager and the font driver host theirs (``Window Manager\\DWM-<n>`` S-1-5-90-0-<n>,
``Font Driver Host\\UMFD-<n>`` S-1-5-96-0-<n>), and a domain's users ``S-1-5-21-<a>-<b>-<c>-<rid>``,
where a, b, c come from a hash of the domain's name and RIDs count from 1000 per domain in the order
users first appear in the farm.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from typing import Any

from .._types import MAX_DWORD
from ._compiled import escape
from ._constants import TICKS_PER_SECOND
from ._errors import Invalid
from ._values import integer, json_object, number, short, string

__all__ = [
    "ACCOUNT_LENGTH",
    "MAX_CPU_SECONDS",
    "MAX_IMAGE_NAME",
    "PROCESS_FIELDS",
    "SESSION_PROCESSES",
    "SYSTEM_PROCESSES",
    "Accounts",
    "GeneratedProcesses",
    "process_line",
    "read_process",
]

#: An image name is at most MAX_PATH (260) WCHARs; account and domain names at most 256.
MAX_IMAGE_NAME = 260
ACCOUNT_LENGTH = 256
#: CPU times in a farm file are seconds, at most about 31 years.
MAX_CPU_SECONDS = 1e9

PROCESS_FIELDS = (
    "name",
    "pid",
    "user",
    "sid",
    "threads",
    "handles",
    "working_set",
    "peak_working_set",
    "pagefile",
    "peak_pagefile",
    "user_time",
    "kernel_time",
)

_NT_AUTHORITY = "NT AUTHORITY"
_WELL_KNOWN = {"SYSTEM": "S-1-5-18", "LOCAL SERVICE": "S-1-5-19", "NETWORK SERVICE": "S-1-5-20"}
# Virtual accounts of a session's dwm.exe and fontdrvhost.exe: prefix -> (domain, SID prefix).
_VIRTUAL = {"DWM-": ("Window Manager", "S-1-5-90-0-"), "UMFD-": ("Font Driver Host", "S-1-5-96-0-")}
_FIRST_RID = 1000


def _sid_ok(text: str) -> bool:
    parts = text.split("-")
    if len(parts) < 4 or len(parts) > 18 or parts[0] != "S" or parts[1] != "1":
        return False
    if not all(p.isascii() and p.isdecimal() for p in parts[2:]):
        return False
    return int(parts[2]) <= 0xFFFFFFFFFFFF and all(int(p) <= MAX_DWORD for p in parts[3:])


class Accounts:
    """The farm's accounts: (domain, user) <-> SID, consistent farm-wide (names compare without case)."""

    def __init__(self) -> None:
        self._by_name: dict[tuple[str, str], str] = {}
        self._by_sid: dict[str, tuple[str, str]] = {}
        self._next_rid: dict[str, int] = {}

    def sid_of(self, domain: str, user: str) -> str:
        """The SID of domain\\user, assigned on first use."""
        key = (domain.casefold(), user.casefold())
        sid = self._by_name.get(key)
        if sid is not None:
            return sid
        sid = self._well_known(domain, user)
        if sid is None:
            prefix = _domain_sid(domain)
            rid = self._next_rid.get(key[0], _FIRST_RID)
            while f"{prefix}-{rid}" in self._by_sid:
                rid += 1
            self._next_rid[key[0]] = rid + 1
            sid = f"{prefix}-{rid}"
        self._by_name[key] = sid
        self._by_sid[sid] = (domain, user)
        return sid

    @staticmethod
    def _well_known(domain: str, user: str) -> str | None:
        upper = user.upper()
        if domain.upper() == _NT_AUTHORITY and upper in _WELL_KNOWN:
            return _WELL_KNOWN[upper]
        for prefix, (vdomain, sid_prefix) in _VIRTUAL.items():
            number_text = upper[len(prefix) :]
            if domain.casefold() == vdomain.casefold() and upper.startswith(prefix) and number_text.isdecimal():
                return sid_prefix + str(int(number_text))
        return None

    def claim(self, sid: str, domain: str, user: str, path: str) -> None:
        """A SID the farm file gives: it must name the same account wherever it appears."""
        key = (domain.casefold(), user.casefold())
        named = self._by_sid.get(sid)
        if named is not None and (named[0].casefold(), named[1].casefold()) != key:
            raise Invalid(path, f"{sid} is already the SID of {named[0]}\\{named[1]}")
        other = self._by_name.get(key)
        if other is not None and other != sid:
            raise Invalid(path, f"{domain}\\{user} already has the SID {other}")
        self._by_name[key] = sid
        self._by_sid[sid] = (domain, user)


def _domain_sid(domain: str) -> str:
    digest = hashlib.sha256(b"wts-sim-domain/" + domain.upper().encode("utf-8", "surrogatepass")).digest()
    a, b, c = (int.from_bytes(digest[i : i + 4], "little") for i in (0, 4, 8))
    return f"S-1-5-21-{a}-{b}-{c}"


def _account(text: str, default_domain: str, path: str) -> tuple[str, str]:
    """A farm file's account: 'SYSTEM', 'DWM-3', 'CONTOSO\\alice' or 'alice' (the session's domain)."""
    domain, sep, user = text.rpartition("\\")
    if not sep:
        upper = text.upper()
        if upper in _WELL_KNOWN:
            domain = _NT_AUTHORITY
        else:
            domain = next(
                (d for p, (d, _) in _VIRTUAL.items() if upper.startswith(p) and upper[len(p) :].isdecimal()),
                default_domain,
            )
        user = text
    if not user:
        raise Invalid(path, f"{short(text)} names no user")
    if not domain:
        raise Invalid(path, f"{short(text)} needs a domain (DOMAIN\\user): its session has none")
    for part in (domain, user):
        if len(part) > ACCOUNT_LENGTH:
            raise Invalid(path, f"{short(part)} is {len(part)} characters long; at most {ACCOUNT_LENGTH} are allowed")
    return domain, user


def _dword(obj: Mapping[str, Any], key: str, path: str, default: int) -> int:
    return integer(obj[key], f"{path}.{key}", 0, MAX_DWORD) if key in obj else default


def _peak(obj: Mapping[str, Any], key: str, value: int, path: str) -> int:
    peak = _dword(obj, "peak_" + key, path, value)
    if peak < value:
        raise Invalid(f"{path}.peak_{key}", f"must be at least {key} ({value}), not {peak}")
    return peak


def _ticks(obj: Mapping[str, Any], key: str, path: str) -> int:
    if key not in obj:
        return 0
    return round(number(obj[key], f"{path}.{key}", 0, MAX_CPU_SECONDS) * TICKS_PER_SECOND)


def read_process(
    value: object, path: str, accounts: Accounts, session_user: tuple[str, str] | None, pid: int
) -> tuple[str, int]:
    """One process of a farm file, validated: its compiled line and its pid (``pid`` when the file gives
    none: the caller has checked given pids and chosen this one).  ``session_user`` is the session's
    (domain, user), None when nobody is logged on; a process runs as that user unless it says otherwise,
    and as SYSTEM in a session without one."""
    p = json_object(value, path, PROCESS_FIELDS, required=("name",))
    name = string(p["name"], f"{path}.name", MAX_IMAGE_NAME, "MAX_PATH")
    if not name:
        raise Invalid(f"{path}.name", "must not be empty")
    if "pid" in p:
        pid = integer(p["pid"], f"{path}.pid", 0, MAX_DWORD)
    default_domain = session_user[0] if session_user else ""
    if "user" in p:
        text = string(p["user"], f"{path}.user")
        account = _account(text, default_domain, f"{path}.user") if text else None
    else:
        account = session_user or (_NT_AUTHORITY, "SYSTEM")
    if "sid" in p:
        sid = string(p["sid"], f"{path}.sid")
        if not _sid_ok(sid):
            raise Invalid(f"{path}.sid", f"{short(sid)} is not a SID (S-1-<authority>-<subauthority>...)")
        if account is None:
            raise Invalid(f"{path}.sid", 'a SID needs an account: give "user" too, or leave both out')
        accounts.claim(sid, account[0], account[1], f"{path}.sid")
    elif account is not None:
        sid = accounts.sid_of(*account)
    else:
        sid = ""
    working_set = _dword(p, "working_set", path, 0)
    pagefile = _dword(p, "pagefile", path, 0)
    line = process_line(
        pid,
        escape(name),
        sid,
        escape(account[0]) if account else "",
        escape(account[1]) if account else "",
        _dword(p, "threads", path, 1),
        _dword(p, "handles", path, 0),
        pagefile,
        _peak(p, "pagefile", pagefile, path),
        working_set,
        _peak(p, "working_set", working_set, path),
        _ticks(p, "user_time", path),
        _ticks(p, "kernel_time", path),
    )
    return line, pid


def process_line(
    pid: int,
    name: str,
    sid: str,
    domain: str,
    user: str,
    threads: int,
    handles: int,
    pagefile: int,
    peak_pagefile: int,
    working_set: int,
    peak_working_set: int,
    user_ticks: int,
    kernel_ticks: int,
) -> str:
    """One process line (docs/sim.md); strings already escaped.  It belongs to the session line before it."""
    return (
        f"process\t{pid}\t{name}\t{sid}\t{domain}\t{user}\t{threads}\t{handles}\t{pagefile}\t{peak_pagefile}\t"
        f"{working_set}\t{peak_working_set}\t{user_ticks}\t{kernel_ticks}"
    )


# -- the generator's processes ------------------------------------------------------------------

# (image, threads, handles, working set in MiB) of the programs a generated user session may run, each
# with a chance of 3 in 8.
_APPS = (
    ("EXCEL.EXE", 24, 1400, 180),
    ("WINWORD.EXE", 22, 1300, 160),
    ("chrome.exe", 18, 420, 140),
    ("OUTLOOK.EXE", 45, 3200, 260),
    ("ms-teams.exe", 40, 900, 320),
)
_SERVICES = (
    ("System", 150, 3000, 1),
    ("smss.exe", 2, 60, 1),
    ("csrss.exe", 12, 600, 5),
    ("wininit.exe", 1, 170, 6),
    ("services.exe", 8, 700, 10),
    ("lsass.exe", 10, 1500, 20),
)
_SVCHOST = ("svchost.exe", 15, 500, 25)
_SVCHOST_ACCOUNTS = ("SYSTEM",) * 6 + ("LOCAL SERVICE",) * 2 + ("NETWORK SERVICE",) * 2
_SESSION = (
    ("csrss.exe", 12, 500, 5),
    ("winlogon.exe", 4, 250, 9),
    ("fontdrvhost.exe", 5, 40, 3),
    ("dwm.exe", 14, 900, 60),
    ("LogonUI.exe", 10, 500, 40),
    ("explorer.exe", 60, 2500, 120),
    ("rdpclip.exe", 9, 300, 8),
)
_MIB = 1024 * 1024
_VARIANTS = 8  # memory and CPU figures per program, picked at random for each process
#: Processes a generated server or session has at most (for the farm's size limit, known before generating).
SYSTEM_PROCESSES = len(_SERVICES) + len(_SVCHOST_ACCOUNTS) + 1
SESSION_PROCESSES = 6 + len(_APPS)


def _well_known_part(user: str) -> str:
    return f"{_WELL_KNOWN[user]}\t{_NT_AUTHORITY}\t{user}\t"


class GeneratedProcesses:
    """Processes of one generate block's servers: session 0's, the logon screen's and each user session's.

    Deterministic, from a random stream of their own (the farm's seed and the block), so the sessions
    come out as before.  The hot path: each line is a pid and precomputed parts (the image and its
    account, one of _VARIANTS sets of figures)."""

    def __init__(self, seed: int, block: int, accounts: Accounts) -> None:
        rng = random.Random(f"wts-farm/{seed}/{block}/processes")
        self._bits = rng.getrandbits
        self._accounts = accounts
        self._pid = 4
        self._tails: dict[str, tuple[str, ...]] = {}
        for image, threads, handles, mib in (*_SERVICES, _SVCHOST, *_SESSION, *_APPS):
            self._tails[image] = tuple(_figures(rng, threads, handles, mib) for _ in range(_VARIANTS))

    def _add(self, lines: list[str], image: str, account: str) -> None:
        lines.append(f"process\t{self._pid}\t{image}\t{account}{self._tails[image][self._bits(3)]}")
        self._pid += 4 + 4 * self._bits(3)

    def new_server(self) -> None:
        """The next processes are another server's: pids start again."""
        self._pid = 4

    def services(self, lines: list[str]) -> None:
        """Session 0's processes (append after session 0's line)."""
        system = _well_known_part("SYSTEM")
        for image, *_ in _SERVICES:
            self._add(lines, image, system)
        for user in _SVCHOST_ACCOUNTS:
            self._add(lines, "svchost.exe", _well_known_part(user))
        self._add(lines, "fontdrvhost.exe", "S-1-5-96-0-0\tFont Driver Host\tUMFD-0\t")

    def session(self, lines: list[str], session_id: int, domain: str, user: str, connected: bool) -> None:
        """A session's processes (append after its line): Windows' own for every session; then the logon
        screen's without a user, else the user's explorer.exe, rdpclip.exe while connected and some of
        _APPS."""
        add = self._add
        system = _well_known_part("SYSTEM")
        add(lines, "csrss.exe", system)
        add(lines, "winlogon.exe", system)
        add(lines, "fontdrvhost.exe", f"S-1-5-96-0-{session_id}\tFont Driver Host\tUMFD-{session_id}\t")
        add(lines, "dwm.exe", f"S-1-5-90-0-{session_id}\tWindow Manager\tDWM-{session_id}\t")
        if not user:
            add(lines, "LogonUI.exe", system)
            return
        account = f"{self._accounts.sid_of(domain, user)}\t{escape(domain)}\t{escape(user)}\t"
        add(lines, "explorer.exe", account)
        if connected:
            add(lines, "rdpclip.exe", account)
        chosen = self._bits(3 * len(_APPS))
        for k, (image, *_) in enumerate(_APPS):
            if (chosen >> (3 * k)) & 7 < 3:
                add(lines, image, account)


def _figures(rng: random.Random, threads: int, handles: int, mib: int) -> str:
    """The compiled fields after the account: counts, memory (a working set of half to one and a half times
    ``mib``) and CPU times."""
    working_set = mib * _MIB * (50 + rng.randrange(100)) // 100
    private = working_set * 3 // 4
    cpu = rng.randrange(600 * TICKS_PER_SECOND) * mib // 100
    return (
        f"{threads}\t{handles}\t{private}\t{private + private // 4}\t{working_set}\t"
        f"{working_set + working_set // 3}\t{cpu}\t{cpu // 4}"
    )
