"""The context a ``wts`` command runs in: the three standard streams (``Environment``, read from
``sys`` once, at the top, httpie's habit) and one command's settings and resources (``Context``: the
parsed arguments, the provider, the sim's farm and state file, the audit log).

Nothing below ``main`` reads ``sys.stdin``, ``sys.stdout`` or ``sys.stderr``: every command, prompt,
table and progress bar writes to the streams it is handed, so tests can pass their own and a
closed stream ends in one line on stderr and an exit status, not a traceback.
"""

from __future__ import annotations

import argparse
import errno
import io
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

import wts

from ._status import ExitStatus, UsageError
from ._terminal import Style, isatty

if TYPE_CHECKING:
    from ._audit import AuditLog
    from ._simstate import StateLock

__all__ = ["ClosedStream", "Context", "Environment", "StreamClosedError", "is_closed"]


class StreamClosedError(OSError):
    """A write to a standard stream that was closed before the command started."""

    def __init__(self, name: str) -> None:
        super().__init__(errno.EBADF, f"{name} is closed")
        self.stream_name = name


class ClosedStream(io.StringIO):
    """Stands in for a closed standard stream (``sys.stdout`` is None when the shell closed fd 1,
    as in ``wts sessions >&-``): reading sees the end of the input; writing raises
    ``StreamClosedError``, which the command reports as one line."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.stream_name = name

    def write(self, s: str, /) -> int:
        raise StreamClosedError(self.stream_name)

    def flush(self) -> None:  # nothing was written, so nothing to flush
        pass


def is_closed(stream: object) -> bool:
    """True for the stand-in of a standard stream that was closed before the command started."""
    return isinstance(stream, ClosedStream)


def _usable(stream: TextIO | None, name: str) -> TextIO:
    if stream is None or getattr(stream, "closed", False):
        return ClosedStream(name)
    return stream


class Environment:
    """The standard streams of one ``wts`` run, and whether each is a terminal that takes colour.

    Built once by ``main`` from the streams it is given, else from ``sys``; everything else is
    handed this object (or a ``Context`` holding it)."""

    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.stdin = _usable(sys.stdin if stdin is None else stdin, "stdin")
        self.stdout = _usable(sys.stdout if stdout is None else stdout, "stdout")
        self.stderr = _usable(sys.stderr if stderr is None else stderr, "stderr")
        self.colour_out = Style(self.stdout)
        self.colour_err = Style(self.stderr)
        #: the command line (without the program name), for the audit log and for redacting errors
        self.argv: list[str] = []

    def error(self, text: str) -> None:
        """One error line on stderr, starting ``wts:`` (red on a terminal)."""
        self.note(f"{self.colour_err('wts:', 'red', 'bold')} {text}")

    def note(self, text: str) -> None:
        """A line on stderr.  With stderr closed there is nobody to tell: it is dropped."""
        try:
            self.stderr.write(f"{text}\n")
            self.stderr.flush()
        except StreamClosedError:
            pass


class Context:
    """One command's settings, streams and resources."""

    def __init__(self, args: argparse.Namespace, env: Environment) -> None:
        self.args = args
        self.env = env
        self.stdin = env.stdin
        self.stdout = env.stdout
        self.stderr = env.stderr
        self.colour_out = env.colour_out
        self.colour_err = env.colour_err
        self.verbose: int = args.verbose
        self.quiet: bool = args.quiet
        self.audit: AuditLog | None = None
        self.provider: str | None = None
        self.sim_state: str | None = None
        self.sim_loaded = False
        self.stdin_taken = False  # -s - reads the server list from stdin, once
        self.local_only = False  # no -s: the command works on the local server
        self.status_after_close = ExitStatus.OK
        self.terminated = False  # SIGTERM arrived (run_command's handler)
        self._local: str | None = None
        self._state_lock: StateLock | None = None
        self._state_at_load: dict[str, object] | None = None
        self._farms: list[wts.Farm] = []  # closed with the context (the tsts provider's connections)

    # -- messages --------------------------------------------------------------------------------

    def error(self, text: str) -> None:
        self.env.error(text)

    def info(self, text: str, level: int = 0) -> None:
        """A note on stderr: level 0 unless -q, level 1 with -v."""
        if (level == 0 and not self.quiet) or (level > 0 and self.verbose >= level):
            self.env.note(text)

    # -- set-up ----------------------------------------------------------------------------------

    def setup(self) -> None:
        """Choose the provider, load the sim's farm (--sim-farm, --sim-state) and open the audit log:
        all before any RPC, so a bad file stops the command before it changes anything."""
        a = self.args
        provider = a.provider
        self.sim_state = a.sim_state or os.environ.get("WTS_SIM_STATE") or None
        sim_farm = a.sim_farm
        if sim_farm or self.sim_state:
            if provider == "win32":
                raise UsageError("--sim-farm and --sim-state drive the simulated farm: they need --provider sim")
            provider = "sim"
        self.provider = provider or os.environ.get("WTS_PROVIDER") or None
        if self.provider == "sim":
            self._load_sim(sim_farm)
        self._logon()
        if a.audit_log:
            from ._audit import AuditLog  # json and the rest only for a command that logs (wts --help stays lean)

            self.audit = AuditLog(a.audit_log, self.env.argv)

    def _logon(self) -> None:
        """-U and its password (--password-file, WTS_PASSWORD, a no-echo prompt): the credentials (tsts:
        its logon; win32 and sim: runas /netonly's), read once before any RPC.  The password goes nowhere
        but the logon."""
        a = self.args
        self.connect_timeout: float = getattr(a, "connect_timeout", 5.0)
        self.credentials: wts.Credentials | None = None
        self.encrypt: bool = bool(getattr(a, "encrypt", False))
        if self.encrypt and (self.provider or "").strip().lower() != "tsts":
            raise UsageError("--encrypt: SMB encryption is for the tsts provider: add --provider tsts")
        account = getattr(a, "logon", None)
        path = getattr(a, "logon_password_file", None)
        if account is None:
            if path is not None:
                raise UsageError("--password-file: it is the -U account's password, and -U is missing")
            return
        # tsts logs on to each server with them; win32 (and sim) run every call under them, as runas /netonly.
        from ._password import password_file

        if path is not None:
            password = password_file(path)
        elif "WTS_PASSWORD" in os.environ:
            password = os.environ["WTS_PASSWORD"]
        elif isatty(self.stdin):
            import getpass

            # getpass talks to the terminal itself (/dev/tty), prompt included, and does not echo.
            password = getpass.getpass(f"Password for {account}: ")
        else:
            raise UsageError(
                "-U: no password: give --password-file FILE or set WTS_PASSWORD (stdin is not a terminal to ask on)"
            )
        try:
            self.credentials = wts.Credentials.parse(account, password)
        except ValueError as exc:
            raise UsageError(f"-U: {exc}") from None

    def _remote(self) -> dict[str, Any]:
        """What Server and Farm take for the tsts provider: credentials and the connect timeout."""
        if (self.provider or "").strip().lower() != "tsts":
            return {} if self.credentials is None else {"credentials": self.credentials}
        return {"credentials": self.credentials, "connect_timeout": self.connect_timeout, "encrypt": self.encrypt}

    def _load_sim(self, sim_farm: str | None) -> None:
        source = None
        if self.sim_state and os.path.exists(self.sim_state):
            source = self.sim_state
        elif sim_farm:
            source = sim_farm
        elif self.sim_state:
            raise UsageError(
                f"--sim-state: {self.sim_state} does not exist; "
                "start it from a farm file with --sim-farm FARM (the state is written back after the command)"
            )
        if self.sim_state:
            # Held until the state is written back: two runs on one state file take turns, so
            # neither loses the other's changes (nor reads a half-written file).
            from ._simstate import StateLock

            self._state_lock = StateLock(self.sim_state, lambda: self.info(f"wts: waiting for {self.sim_state} ..."))
            if os.path.exists(self.sim_state):
                source = self.sim_state
        if source is not None:
            option = "--sim-state" if source == self.sim_state else "--sim-farm"
            try:
                wts.sim.load(source)
            except ValueError as exc:  # FarmFileError: it names the file, the place and the reason
                raise UsageError(f"{option}: {exc}") from None
            self.sim_loaded = True
            if source == self.sim_state:
                self._state_at_load = wts.sim.dump()  # a run that changes nothing writes nothing
            self.info(f"wts: sim farm from {source}", 1)
        elif wts.sim.loaded() or os.environ.get("WTS_SIM_FARM"):
            self.sim_loaded = True  # WTS_SIM_FARM: loaded when the provider is first resolved

    def close(self) -> None:
        """Close the audit log (fsync) and write --sim-state back if the farm changed; a failure of
        either is one line and makes the status 1.  Never raises."""
        for farm in self._farms:  # tsts: their SMB sessions, logged off
            farm.close()
        self._farms.clear()
        if self.audit is not None:
            problem = self.audit.close()
            if problem is not None:
                self.error(problem)
                self.status_after_close = ExitStatus.FAILED
        try:
            if self.sim_state and self.sim_loaded and wts.sim.loaded():
                from ._simstate import save_state

                problem = save_state(self.sim_state, self._state_at_load)
                if problem is not None:
                    self.error(f"--sim-state: {problem}")
                    self.status_after_close = ExitStatus.FAILED
        finally:
            if self._state_lock is not None:
                self._state_lock.release()
                self._state_lock = None

    # -- servers ---------------------------------------------------------------------------------

    def local_name(self) -> str:
        """The local server's name: the sim farm's ``local``, else this computer's name."""
        if self._local is None:
            if self.provider == "sim" or (self.provider is None and sys.platform != "win32"):
                self._local = wts.sim.local_server() if wts.sim.loaded() or self._load_env_farm() else "localhost"
            else:
                import socket

                self._local = os.environ.get("COMPUTERNAME") or socket.gethostname()
        return self._local

    def _load_env_farm(self) -> bool:
        farm = os.environ.get("WTS_SIM_FARM")
        if farm and self.provider == "sim":
            wts.sim.load(farm)
            self.sim_loaded = True
            return True
        return False

    def where(self, servers: list[str]) -> str:
        """How a summary names the servers: 'on the local server (RDS01)' when -s was left out."""
        if self.local_only:
            return f"on the local server ({servers[0]})"
        return f"on {len(servers):,} server{'s' if len(servers) != 1 else ''}"

    def server(self, name: str | None) -> wts.Server:
        """One server (None: the local one), with --timeout as the deadline of each call."""
        return wts.Server(name, provider=self.provider, timeout=self.args.timeout, **self._remote())

    def farm(self, servers: list[str]) -> wts.Farm:
        farm = wts.Farm(
            servers,
            concurrency=self.args.concurrency,
            timeout=self.args.timeout,
            provider=self.provider,
            **self._remote(),
        )
        self._farms.append(farm)
        self.info(
            f"wts: {len(servers):,} server{'s' if len(servers) != 1 else ''} via {farm.provider.name}, "
            f"concurrency {farm.concurrency}, timeout {farm.timeout:g}s",
            1,
        )
        return farm
