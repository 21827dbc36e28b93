"""Compiling a farm (a JSON file or a mapping) into the text the C simulator loads.

:func:`compile_farm` is the entry point; :class:`_Compiler` walks the farm top-down (top-level
fields, defaults, explicit servers and their sessions, then ``generate`` blocks), checks what no
single value can (unique server names farm-wide, unique session ids and stations per server, that
``local`` and ``current_session`` exist) and collects the compiled lines.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from .._types import MAX_DWORD
from ._client import CLIENT_FIELDS, client_line
from ._compiled import escape, session_line
from ._constants import (
    CLIENTNAME_LENGTH,
    DOMAIN_LENGTH,
    FORMAT_MAGIC,
    FORMAT_VERSION,
    MAX_FARM_PROCESSES,
    MAX_FARM_SERVERS,
    MAX_FARM_SESSIONS,
    MAX_FAULT_RPCS,
    MAX_PASSWORD,
    MAX_SEED,
    TICKS_PER_SECOND,
    USERNAME_LENGTH,
    WINSTATIONNAME_LENGTH,
)
from ._errors import FarmFileError, Invalid
from ._generate import LOGON_WINDOW_S, Block, generate, has_generated_session, read_block
from ._jsonfile import load_json
from ._processes import SESSION_PROCESSES, SYSTEM_PROCESSES, Accounts, read_process
from ._times import now_ticks
from ._values import (
    boolean,
    client_address,
    delay_us,
    deny_mask,
    describe,
    fault,
    integer,
    json_array,
    json_object,
    reply,
    server_delays,
    server_name,
    session_id,
    short,
    state,
    string,
    timestamp,
)

__all__ = ["Account", "CompiledFarm", "compile_farm"]

_TOP_FIELDS = (
    "seed",
    "now",
    "local",
    "current_session",
    "defaults",
    "servers",
    "generate",
    "messages",
    "accounts",
)
_ACCOUNT_FIELDS = ("domain", "user", "password")
#: Characters Windows refuses in user and domain names (and ':' would not survive NTLM's DOMAIN:USER).
_ACCOUNT_FORBIDDEN = frozenset('"/\\[]:;|=,+*?<>@')
MAX_ACCOUNTS = 1000
_DEFAULT_FIELDS = ("latency_ms", "jitter_ms", "fault", "fault_rpcs")
_SERVER_FIELDS = ("name", "latency_ms", "jitter_ms", "fault", "fault_rpcs", "sessions")
_SESSION_FIELDS = (
    "id",
    "station",
    "state",
    "user",
    "domain",
    "client",
    "address",
    "logon",
    "connect",
    "disconnect",
    "last_input",
    "locked",
    "deny",
    "reply",
    "password",
    "processes",
    *CLIENT_FIELDS,
)


class Account(NamedTuple):
    """One of the farm file's ``accounts``: who may log on to ``wts sim serve`` (NTLM)."""

    domain: str
    user: str
    password: str

    def __repr__(self) -> str:
        return f"Account(domain={self.domain!r}, user={self.user!r})"  # never the password


@dataclass(frozen=True, repr=False)
class CompiledFarm:
    """The compiled farm text plus a summary that callers commonly need
    (which servers exist, how big the farm is) without re-parsing it.  ``accounts`` are the farm
    file's, for ``wts sim serve``; the simulator itself does not see them."""

    text: str
    servers: tuple[str, ...]
    sessions: int
    accounts: tuple[Account, ...] = ()

    def __repr__(self) -> str:
        # Short: the text of a generated farm runs to megabytes, and a REPL echoes what load() returns.
        size = len(self.text.encode("utf-8", "surrogatepass"))
        return f"<CompiledFarm: {len(self.servers):,} servers, {self.sessions:,} sessions, {size:,} bytes>"


def compile_farm(source: str | os.PathLike[str] | Mapping[str, Any]) -> CompiledFarm:
    """Validate a farm (JSON file path or mapping) and compile it to text.

    Compilation is all-or-nothing: the first problem raises
    :class:`FarmFileError` and nothing is returned.
    """
    if isinstance(source, Mapping):
        name = "<dict>"
        data: Any = source
    elif isinstance(source, (str, os.PathLike)):
        name = os.fsdecode(source)
        data = load_json(source, name)
    else:
        raise TypeError(f"compile_farm() expects a path or a mapping, not {type(source).__name__}")
    try:
        return _Compiler().compile(data)
    except Invalid as exc:
        raise FarmFileError(name, exc.reason, path=exc.path) from None


def _too_big(count: int, limit: int, what: str) -> str:
    return f"makes a farm of {count:,} {what}; at most {limit:,} are allowed (MAX_FARM_{what.upper()})"


class _Compiler:
    """One compilation: accumulates lines and the farm-wide name table."""

    def __init__(self) -> None:
        self.lines: list[str] = [f"{FORMAT_MAGIC}\t{FORMAT_VERSION}", ""]
        self.server_names: list[str] = []
        # lower-cased name -> (name as written, where it came from)
        self.names: dict[str, tuple[str, str]] = {}
        self.explicit_ids: dict[str, set[int]] = {}
        # lower-cased name -> (user sessions, has system sessions)
        self.generated: dict[str, tuple[int, bool]] = {}
        self.session_count = 0
        self.process_count = 0
        self.defaults: dict[str, Any] = {}
        self.accounts = Accounts()
        # The server being compiled: pids given in the farm file, and the next one to hand out.
        self.pids: set[int] = set()
        self.next_pid = 4
        self.server_name = ""

    # -- top level ---------------------------------------------------------

    def compile(self, data: object) -> CompiledFarm:
        if not isinstance(data, Mapping):
            raise Invalid(None, f"the farm must be a JSON object, not {describe(data)}")
        farm = json_object(data, "", _TOP_FIELDS)

        seed = integer(farm.get("seed", 0), "seed") & MAX_SEED
        now_value = farm.get("now")
        now = 0 if now_value is None else timestamp(now_value, "now")
        local = farm.get("local")
        if local is not None:
            local = string(local, "local")
        current = farm.get("current_session")
        if current is not None:
            current = session_id(current, "current_session")

        accounts = self._accounts(farm.get("accounts", []))

        if "defaults" in farm:
            defaults = json_object(farm["defaults"], "defaults", _DEFAULT_FIELDS)
            for key in ("latency_ms", "jitter_ms"):
                if key in defaults:
                    self.defaults[key] = delay_us(defaults[key], f"defaults.{key}")
            if "fault" in defaults:
                self.defaults["fault"] = fault(defaults["fault"], "defaults.fault")
            if "fault_rpcs" in defaults:
                self.defaults["fault_rpcs"] = integer(defaults["fault_rpcs"], "defaults.fault_rpcs", 1, MAX_FAULT_RPCS)

        servers = json_array(farm.get("servers", []), "servers")
        if len(servers) > MAX_FARM_SERVERS:
            raise Invalid("servers", _too_big(len(servers), MAX_FARM_SERVERS, "servers"))
        for i, server in enumerate(servers):
            self._server(server, f"servers[{i}]")

        blocks = [
            read_block(block, i, self.defaults)
            for i, block in enumerate(json_array(farm.get("generate", []), "generate"))
        ]
        self._check_size(blocks, len(servers))
        if any(b.count and b.sessions for b in blocks):
            gen_now = now or now_ticks()
            if gen_now <= LOGON_WINDOW_S * TICKS_PER_SECOND:
                raise Invalid(
                    "now",
                    f"{short(str(now_value))} is too early for generated sessions, "
                    f"which log on up to {LOGON_WINDOW_S // 86400} days before now",
                )
        else:
            gen_now = now
        self.session_count += generate(blocks, seed, gen_now, self.lines, self._claim_generated, self.accounts)

        if not self.server_names:
            raise Invalid(None, "the farm has no servers (add 'servers' or 'generate')")
        local_name = self._local(local)
        if current is None:
            current_text = "-1"
        else:
            self._check_current(current, local_name)
            current_text = str(current)

        self.lines[1] = f"farm\t{seed}\t{now}\t{escape(local_name)}\t{current_text}"
        self.lines.append("")  # every line, including the last, ends in \n
        return CompiledFarm(
            text="\n".join(self.lines),
            servers=tuple(self.server_names),
            sessions=self.session_count,
            accounts=accounts,
        )

    def _accounts(self, value: object) -> tuple[Account, ...]:
        items = json_array(value, "accounts")
        if len(items) > MAX_ACCOUNTS:
            raise Invalid("accounts", f"has {len(items):,} accounts; at most {MAX_ACCOUNTS:,} are allowed")
        seen: dict[tuple[str, str], str] = {}
        out = []
        for i, item in enumerate(items):
            path = f"accounts[{i}]"
            obj = json_object(item, path, _ACCOUNT_FIELDS, required=("user", "password"))
            domain = string(obj.get("domain", ""), f"{path}.domain", DOMAIN_LENGTH, "DOMAIN_LENGTH")
            user = string(obj["user"], f"{path}.user", USERNAME_LENGTH, "USERNAME_LENGTH")
            password = string(obj["password"], f"{path}.password", MAX_PASSWORD, "passwords")
            if not user:
                raise Invalid(f"{path}.user", "must not be empty")
            for field, text in (("domain", domain), ("user", user)):
                bad = next((ch for ch in text if ch in _ACCOUNT_FORBIDDEN or (ch.isspace() and ch != " ")), None)
                if bad is not None:
                    raise Invalid(
                        f"{path}.{field}", f"{short(text)} contains {bad!r}, which Windows {field} names cannot"
                    )
            key = (domain.casefold(), user.casefold())
            if key in seen:
                name = f"{domain}\\{user}" if domain else user
                raise Invalid(path, f"{name} is already {seen[key]} (names are case-insensitive)")
            seen[key] = path
            out.append(Account(domain, user, password))
        return tuple(out)

    def _check_size(self, blocks: list[Block], explicit_servers: int) -> None:
        """The farm's size, known before anything is generated: a few bytes of JSON must not ask for
        gigabytes ({"count": 100000000}).  The block that crosses a limit is named."""
        servers, sessions, processes = explicit_servers, self.session_count, self.process_count
        for block in blocks:
            servers += block.count
            sessions += block.count * (block.sessions + (3 if block.system_sessions else 0))
            if block.processes:
                # At most: session 0's, the console's logon screen and each user session's.
                system = SYSTEM_PROCESSES + 5 if block.system_sessions else 0
                processes += block.count * (block.sessions * SESSION_PROCESSES + system)
            path = f"generate[{block.index}]"
            if servers > MAX_FARM_SERVERS:
                raise Invalid(f"{path}.count", _too_big(servers, MAX_FARM_SERVERS, "servers"))
            if sessions > MAX_FARM_SESSIONS:
                raise Invalid(f"{path}.sessions", _too_big(sessions, MAX_FARM_SESSIONS, "sessions"))
            if processes > MAX_FARM_PROCESSES:
                raise Invalid(
                    f"{path}.processes",
                    _too_big(processes, MAX_FARM_PROCESSES, "processes") + '; "processes": false generates none',
                )

    def _local(self, local: str | None) -> str:
        if local is None:
            return self.server_names[0]
        entry = self.names.get(local.lower())
        if entry is None:
            close = difflib.get_close_matches(local, self.server_names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise Invalid("local", f"{short(local)} is not a server of this farm{hint}")
        return entry[0]

    def _check_current(self, current: int, local_name: str) -> None:
        key = local_name.lower()
        if key in self.explicit_ids:
            exists = current in self.explicit_ids[key]
        else:
            users, system = self.generated[key]
            exists = has_generated_session(current, users, system)
        if not exists:
            raise Invalid(
                "current_session",
                f"session {current} does not exist on the local server {local_name!r}",
            )

    def _claim(self, name: str, path: str, where: str, label: str = "") -> None:
        """Register a server name; names are unique case-insensitively
        across the whole farm, generated servers included."""
        key = name.lower()
        taken = self.names.get(key)
        if taken is not None:
            other, other_where = taken
            reason = f"{label}{name!r} is already the name of {other_where}"
            if other != name:
                reason += f" ({other!r}; server names are case-insensitive)"
            raise Invalid(path, reason)
        self.names[key] = (name, where)
        self.server_names.append(name)

    def _claim_generated(self, name: str, block: Block) -> None:
        path = f"generate[{block.index}]"
        self._claim(name, path, path, "generated server name ")
        self.generated[name.lower()] = (block.sessions, block.system_sessions)

    # -- explicit servers --------------------------------------------------

    def _server(self, value: object, path: str) -> None:
        obj = json_object(value, path, _SERVER_FIELDS, required=("name",))
        name = server_name(obj["name"], f"{path}.name")
        self._claim(name, f"{path}.name", path)
        self.server_name = name
        latency, jitter, compiled_fault = server_delays(obj, path, self.defaults)
        self.lines.append(f"server\t{escape(name)}\t{latency}\t{jitter}\t{compiled_fault}")
        ids: dict[int, str] = {}
        stations: dict[str, str] = {}
        sessions = json_array(obj.get("sessions", []), f"{path}.sessions")
        self._given_pids(sessions, path)
        for i, session in enumerate(sessions):
            self._session(session, f"{path}.sessions[{i}]", ids, stations)
        self.explicit_ids[name.lower()] = set(ids)
        self.session_count += len(sessions)

    def _session(
        self,
        value: object,
        path: str,
        ids: dict[int, str],
        stations: dict[str, str],
    ) -> None:
        s = json_object(value, path, _SESSION_FIELDS, required=("id", "state"))
        sid = session_id(s["id"], f"{path}.id")
        if sid in ids:
            raise Invalid(f"{path}.id", f"session id {sid} is already used by {ids[sid]}")
        ids[sid] = path

        station = string(s.get("station", ""), f"{path}.station", WINSTATIONNAME_LENGTH, "WINSTATIONNAME_LENGTH")
        if station:
            key = station.lower()
            if key in stations:
                raise Invalid(
                    f"{path}.station",
                    f"{short(station)} is already the station of {stations[key]} "
                    "(station names are unique per server, case-insensitively)",
                )
            stations[key] = path
        compiled_state = state(s["state"], f"{path}.state")
        user = string(s.get("user", ""), f"{path}.user", USERNAME_LENGTH, "USERNAME_LENGTH")
        domain = string(s.get("domain", ""), f"{path}.domain", DOMAIN_LENGTH, "DOMAIN_LENGTH")
        client = string(s.get("client", ""), f"{path}.client", CLIENTNAME_LENGTH, "CLIENTNAME_LENGTH")
        family, address = client_address(s.get("address"), f"{path}.address")
        logon = timestamp(s.get("logon"), f"{path}.logon")
        connect = timestamp(s.get("connect"), f"{path}.connect")
        disconnect = timestamp(s.get("disconnect"), f"{path}.disconnect")
        last_input = timestamp(s.get("last_input"), f"{path}.last_input")
        locked = boolean(s.get("locked", False), f"{path}.locked")
        deny = deny_mask(s.get("deny", []), f"{path}.deny")
        compiled_reply = reply(s.get("reply", "ok"), f"{path}.reply")
        password = string(s.get("password", ""), f"{path}.password", MAX_PASSWORD, "passwords")
        processes = json_array(s.get("processes", []), f"{path}.processes")
        self.lines.append(
            session_line(
                sid,
                escape(station),
                compiled_state,
                escape(user),
                escape(domain),
                escape(client),
                family,
                address,
                logon,
                connect,
                disconnect,
                last_input,
                locked,
                deny,
                compiled_reply,
                escape(password),
            )
        )
        extra = client_line(s, path)
        if extra is not None:
            self.lines.append(extra)
        session_user = (domain or self.server_name, user) if user else None
        for i, process in enumerate(processes):
            line, _ = read_process(process, f"{path}.processes[{i}]", self.accounts, session_user, self._pid())
            self.lines.append(line)
        self.process_count += len(processes)
        if self.process_count > MAX_FARM_PROCESSES:
            raise Invalid(f"{path}.processes", _too_big(self.process_count, MAX_FARM_PROCESSES, "processes"))

    def _given_pids(self, sessions: Sequence[Any], path: str) -> None:
        """The pids a server's processes give (unique per server); the others get free ones."""
        self.pids = set()
        self.next_pid = 4
        where: dict[int, str] = {}
        for i, session in enumerate(sessions):
            processes = session.get("processes", []) if isinstance(session, Mapping) else []
            if not isinstance(processes, (list, tuple)):
                continue  # reported when the session is read
            for k, process in enumerate(processes):
                if isinstance(process, Mapping) and "pid" in process:
                    at = f"{path}.sessions[{i}].processes[{k}].pid"
                    pid = integer(process["pid"], at, 0, MAX_DWORD)
                    if pid in where:
                        raise Invalid(at, f"process id {pid} is already used by {where[pid]}")
                    where[pid] = at
        self.pids = set(where)

    def _pid(self) -> int:
        """The next process id no process of this server has (multiples of 4, as Windows gives them)."""
        while self.next_pid in self.pids:
            self.next_pid += 4
        pid = self.next_pid
        self.pids.add(pid)
        self.next_pid += 4
        return pid
