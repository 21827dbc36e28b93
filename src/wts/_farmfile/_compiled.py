"""The compiled farm format, both ways: writing its lines and parsing them back into a farm dict.

The C simulator loads a farm from this line-based text (``docs/sim.md``): a ``WTSSIM`` header,
then ``farm``, ``server``, ``session`` and (in dumps) ``message`` lines of tab-separated fields,
strings escaped.  :func:`escape` and :func:`session_line` are the writer's helpers (the compiler
and the generator build the other lines inline, for speed); :func:`parse_compiled` reads compiled
text, or a state dump of the running simulator, back into a JSON-able farm dict.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, NoReturn

from .._types import CURRENT_SESSION, MAX_DWORD, MAX_SESSION_ID
from ._client import CLIENT_LINE_FIELDS, parse_client_line
from ._constants import (
    ADDRESS_OFFSET,
    AF_INET,
    AF_INET6,
    ALL_DENY_BITS,
    CONNECT_STATES,
    DENY_BITS,
    FAULTS,
    FORMAT_MAGIC,
    FORMAT_VERSION,
    MAX_FAULT_RPCS,
    MAX_SEED,
    REPLIES,
    REPLY_NAMES,
    TICKS_PER_SECOND,
)
from ._errors import BadLine, FarmFileError
from ._times import ticks_to_iso

__all__ = ["escape", "parse_compiled", "prompt_servers", "session_line"]

_HEX40 = re.compile(r"[0-9a-fA-F]{40}")
_ESCAPE_SEQ = re.compile(r"\\(.?)", re.DOTALL)
_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
_FIELD_COUNTS = {"farm": 5, "server": 5, "session": 17, "process": 14, "message": 9, "client": CLIENT_LINE_FIELDS}


# -- writing -----------------------------------------------------------------


def escape(text: str) -> str:
    """Escape a string field for the tab/newline separated format."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def session_line(
    sid: int,
    station: str,
    state: int,
    user: str = "",
    domain: str = "",
    client: str = "",
    family: int = 0,
    address: str = "",
    logon: int = 0,
    connect: int = 0,
    disconnect: int = 0,
    last_input: int = 0,
    locked: bool = False,
    deny: int = 0,
    reply: int = REPLIES["ok"],
    password: str = "",
) -> str:
    """Build one session line; string arguments must already be escaped."""
    return (
        f"session\t{sid}\t{station}\t{state}\t{user}\t{domain}\t{client}\t"
        f"{family}\t{address}\t{logon}\t{connect}\t{disconnect}\t{last_input}\t"
        f"{1 if locked else 0}\t{deny}\t{reply}\t{password}"
    )


# -- parsing -----------------------------------------------------------------


def prompt_servers(text: str) -> tuple[frozenset[str], str]:
    """From the simulator's text (a dump): the names, casefolded, of the servers whose calls never
    wait (no latency, no jitter, no "hang" fault), and the local server's name.  Only the farm and
    server lines are read, so a farm of thousands of sessions takes milliseconds, not dump()'s
    whole parse."""
    prompt: set[str] = set()
    local = ""
    for line in text.split("\n"):
        if line.startswith("server\t"):
            _, name, latency, jitter, fault = line.split("\t")
            if latency == "0" and jitter == "0" and fault.partition(":")[0] != "hang":  # "hang:N": fault_rpcs
                prompt.add(_unescaped(name).casefold())
        elif line.startswith("farm\t"):
            local = _unescaped(line.split("\t")[3])
    return frozenset(prompt), local


def _unescaped(text: str) -> str:
    return _ESCAPE_SEQ.sub(lambda m: _UNESCAPES.get(m.group(1), m.group(0)), text) if "\\" in text else text


def parse_compiled(text: str) -> dict[str, Any]:
    """Turn compiled farm text (or a simulator dump) back into a farm dict.

    The result has explicit servers only (no ``defaults``/``generate``), so
    ``compile_farm(parse_compiled(t)).text == t`` for text made by
    :func:`compile_farm`.  ``message`` lines become a top-level
    ``"messages"`` list, which :func:`compile_farm` ignores.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_compiled() expects str, not {type(text).__name__}")
    try:
        return _parse(text)
    except BadLine as exc:
        raise FarmFileError("<compiled>", exc.reason, line=exc.line) from None


class _LineReader:
    """Field accessors for one compiled line, raising BadLine with the
    line number so a corrupt dump is easy to locate."""

    def __init__(self, lineno: int, fields: list[str]) -> None:
        self.lineno = lineno
        self.fields = fields

    def fail(self, reason: str) -> NoReturn:
        raise BadLine(self.lineno, reason)

    def integer(self, index: int, what: str, low: int, high: int | None = None) -> int:
        text = self.fields[index]
        digits = text[1:] if text.startswith("-") else text
        # isdecimal() alone would let through non-ASCII digits; int() alone
        # would accept " 5", "+5" and "1_0".
        if not (digits.isascii() and digits.isdecimal()):
            self.fail(f"{what} {text!r} is not an integer")
        value = int(text)
        if value < low or (high is not None and value > high):
            self.fail(f"{what} {value} is out of range")
        return value

    def string(self, index: int, what: str) -> str:
        text = self.fields[index]
        if "\\" not in text:
            return text

        def unescape(match: re.Match[str]) -> str:
            char = match.group(1)
            if char not in _UNESCAPES:
                if char:
                    self.fail(f"{what} contains an unknown escape \\{char}")
                self.fail(f"{what} ends with a lone backslash")
            return _UNESCAPES[char]

        return _ESCAPE_SEQ.sub(unescape, text)

    def time(self, index: int, what: str) -> str | None:
        ticks = self.integer(index, what, 0)
        if ticks == 0:
            return None
        try:
            return ticks_to_iso(ticks)
        except (OverflowError, ValueError):
            self.fail(f"{what} {ticks} is beyond year 9999")

    def address(self, family_index: int) -> str | None:
        family = self.integer(family_index, "address family", 0)
        text = self.fields[family_index + 1]
        if family == 0:
            if text and text.strip("0"):
                self.fail("address bytes given for address family 0")
            return None
        if family not in (AF_INET, AF_INET6):
            self.fail(f"address family {family} is not 0, {AF_INET} or {AF_INET6}")
        if not _HEX40.fullmatch(text):
            self.fail("address is not 40 hex digits")
        raw = bytes.fromhex(text)
        size = 4 if family == AF_INET else 16
        ip_bytes = raw[ADDRESS_OFFSET : ADDRESS_OFFSET + size]
        if any(raw[:ADDRESS_OFFSET]) or any(raw[ADDRESS_OFFSET + size :]):
            self.fail(f"address has non-zero bytes outside Address[2..{ADDRESS_OFFSET + size - 1}]")
        return str(ipaddress.ip_address(ip_bytes))


def _process(r: _LineReader) -> dict[str, Any]:
    sid, domain, user = r.string(3, "process SID"), r.string(4, "process domain"), r.string(5, "process user")
    process: dict[str, Any] = {"name": r.string(2, "image name"), "pid": r.integer(1, "process id", 0, MAX_DWORD)}
    process["user"] = f"{domain}\\{user}" if sid else ""
    if sid:
        process["sid"] = sid
    for index, key in enumerate(("threads", "handles", "pagefile", "peak_pagefile", "working_set", "peak_working_set")):
        process[key] = r.integer(6 + index, key.replace("_", " "), 0, MAX_DWORD)
    for index, key in ((12, "user_time"), (13, "kernel_time")):
        ticks = r.integer(index, key.replace("_", " "), 0)
        process[key] = ticks // TICKS_PER_SECOND if ticks % TICKS_PER_SECOND == 0 else ticks / TICKS_PER_SECOND
    return process


def _parse(text: str) -> dict[str, Any]:
    farm: dict[str, Any] | None = None
    servers: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    seen_header = False
    after_session = False  # a client line may follow only a session line
    lines = text.split("\n")
    for lineno, line in enumerate(lines, 1):
        if line.endswith("\r"):
            line = line[:-1]  # a dump written in text mode on Windows
        if not line:
            continue
        fields = line.split("\t")
        kind = fields[0]
        if not seen_header:
            if kind != FORMAT_MAGIC:
                raise BadLine(lineno, f"not a compiled farm (expected a {FORMAT_MAGIC} header line)")
            if len(fields) != 2 or fields[1] != str(FORMAT_VERSION):
                raise BadLine(lineno, f"unsupported format version (expected {FORMAT_MAGIC}\\t{FORMAT_VERSION})")
            seen_header = True
            continue
        expected = _FIELD_COUNTS.get(kind)
        if expected is None:
            raise BadLine(lineno, f"unknown record type {kind!r}")
        if len(fields) != expected:
            raise BadLine(lineno, f"{kind} line has {len(fields)} fields, expected {expected}")
        r = _LineReader(lineno, fields)
        client_may_follow, after_session = after_session, kind == "session"
        if kind == "farm":
            if farm is not None:
                r.fail("second farm line")
            current = r.integer(4, "current session", -1, MAX_SESSION_ID)
            farm = {
                "seed": r.integer(1, "seed", 0, MAX_SEED),
                "now": r.time(2, "now"),
                "local": r.string(3, "local server"),
                "current_session": None if current == -1 else current,
            }
            continue
        if farm is None:
            r.fail(f"{kind} line before the farm line")
        if kind == "server":
            fault, _, rpcs_text = fields[4].partition(":")
            if fault != "none" and fault not in FAULTS:
                r.fail(f"unknown fault {fault!r}")
            if rpcs_text and not (rpcs_text.isdigit() and 1 <= int(rpcs_text) <= MAX_FAULT_RPCS):
                r.fail(f"bad fault RPC count {rpcs_text!r}")
            latency = r.integer(2, "latency", 0)
            jitter = r.integer(3, "jitter", 0)
            servers.append(
                {
                    "name": r.string(1, "server name"),
                    "latency_ms": latency // 1000 if latency % 1000 == 0 else latency / 1000,
                    "jitter_ms": jitter // 1000 if jitter % 1000 == 0 else jitter / 1000,
                    "fault": None if fault == "none" else fault,
                    **({"fault_rpcs": int(rpcs_text)} if rpcs_text else {}),
                    "sessions": [],
                }
            )
        elif kind == "session":
            if not servers:
                r.fail("session line before any server line")
            deny = r.integer(14, "deny mask", 0)
            if deny & ~ALL_DENY_BITS:
                r.fail(f"deny mask {deny} has unknown bits")
            reply = r.integer(15, "reply", 0)
            if reply not in REPLY_NAMES:
                r.fail(f"reply {reply} is not a known message-box answer")
            servers[-1]["sessions"].append(
                {
                    "id": r.integer(1, "session id", 0, MAX_SESSION_ID),
                    "station": r.string(2, "station"),
                    "state": CONNECT_STATES[r.integer(3, "state", 0, len(CONNECT_STATES) - 1)],
                    "user": r.string(4, "user"),
                    "domain": r.string(5, "domain"),
                    "client": r.string(6, "client"),
                    "address": r.address(7),
                    "logon": r.time(9, "logon time"),
                    "connect": r.time(10, "connect time"),
                    "disconnect": r.time(11, "disconnect time"),
                    "last_input": r.time(12, "last input time"),
                    "locked": bool(r.integer(13, "locked flag", 0, 1)),
                    "deny": [name for name, bit in DENY_BITS.items() if deny & bit],
                    "reply": REPLY_NAMES[reply],
                    "password": r.string(16, "password"),
                }
            )
        elif kind == "process":
            sessions = servers[-1]["sessions"] if servers else []
            if not sessions:
                r.fail("process line before any session line of its server")
            sessions[-1].setdefault("processes", []).append(_process(r))
        elif kind == "client":
            if not client_may_follow:
                r.fail("client line not right after a session line")
            servers[-1]["sessions"][-1].update(parse_client_line(lineno, fields))
        else:  # message
            messages.append(
                {
                    "server": r.string(1, "message server"),
                    "session": r.integer(2, "message session id", 0, CURRENT_SESSION),
                    "title": r.string(3, "message title"),
                    "text": r.string(4, "message text"),
                    "style": r.integer(5, "message style", 0),
                    "timeout": r.integer(6, "message timeout", 0),
                    "wait": bool(r.integer(7, "message wait flag", 0, 1)),
                    "response": r.integer(8, "message response", 0),
                }
            )
    if not seen_header:
        raise BadLine(1, f"not a compiled farm (expected a {FORMAT_MAGIC} header line)")
    if farm is None:
        raise BadLine(len(lines), "no farm line")
    farm["servers"] = servers
    farm["messages"] = messages
    return farm
