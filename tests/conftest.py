"""Shared fixtures for the wts behaviour suite.

* ``farm`` loads tests/farms/windows.json (the reference farm) before the test and returns the
  CompiledFarm; function scope, so every test starts from a fresh farm.
* ``sim`` is ``farm`` for tests that change state: they only ever run against the simulated farm.
* ``provider`` runs read-only tests twice: against the sim (with the reference farm) and against the
  real wtsapi32 ("win32"), which is skipped unless this is Windows and the build has it.  Under Wine,
  "win32" runs only when wtsapi32.dll is our simulator (then it gets the reference farm too); Wine's
  own wtsapi32 has no sessions, and tests/test_wine_stubs.py covers it instead.
* After every test, nothing the sim handed out may still be alive: no handle, buffer or string.
"""

from __future__ import annotations

import functools
import gc
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import wts
from wts import _wts

FARMS = Path(__file__).resolve().parent / "farms"

try:  # property-based tests (tests/test_properties*.py): bounded in time, nothing written to disk
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "wts",
        max_examples=int(os.environ.get("WTS_HYPOTHESIS_EXAMPLES", "200")),
        deadline=None,  # CI machines are shared: time per example is not the property under test
        database=None,  # no .hypothesis directory in the tree, nor beside an installed wheel's tests
        suppress_health_check=[HealthCheck.too_slow],
        derandomize=os.environ.get("WTS_HYPOTHESIS_RANDOM") != "1",  # reproducible unless asked
    )
    settings.load_profile("wts")
except ImportError:  # pragma: no cover - hypothesis is in the test extra and CI's pins
    pass
REFERENCE_FARM = FARMS / "windows.json"


@pytest.fixture(autouse=True)
def _no_leaks() -> Iterator[None]:
    """The project's guarantee: every server handle, buffer and string is released."""
    yield
    wts.sim.release_hangs()
    gc.collect()
    assert wts.sim.outstanding() == 0, "the test leaked sim allocations (handles, buffers or strings)"


#: "It finished": a bound no healthy run comes near, however loaded the machine.
ENGINE_SLACK = 5.0


def engine_threads_settle(limit: float = ENGINE_SLACK) -> tuple[int, int]:
    """The engine's (alive, stuck) threads once they are (0, 0), or after ``limit`` seconds: calls
    stuck on hanging servers are released, and abandoned streams collected, while it waits."""
    deadline = time.monotonic() + limit
    while True:
        wts.sim.release_hangs()
        gc.collect()  # an abandoned stream closes its engine when collected
        state = _wts.engine_threads()
        if state == (0, 0) or time.monotonic() > deadline:
            return tuple(state)  # type: ignore[return-value]
        time.sleep(0.005)


@pytest.fixture
def engine_idle(request: pytest.FixtureRequest) -> Iterator[None]:
    """For tests of the bulk engine (``pytestmark = pytest.mark.usefixtures("engine_idle")``): no
    engine thread may outlive a test, since a stuck worker still holds its server's handle when the
    leak check counts them; a run may not leave its SIGINT handler installed; and a run that ignores
    its deadline (waiting on a hanging server for ever) fails its test, not the whole suite, because
    past every bound the tests allow a watchdog keeps releasing the hangs."""
    request.getfixturevalue("_no_leaks")  # set up first, so that its check runs after this teardown
    assert engine_threads_settle() == (0, 0), "engine threads left over from an earlier test"
    stop = threading.Event()

    def watchdog() -> None:
        if not stop.wait(ENGINE_SLACK + 1):
            while not stop.wait(0.2):
                wts.sim.release_hangs()

    dog = threading.Thread(target=watchdog, daemon=True)
    dog.start()
    handler = signal.getsignal(signal.SIGINT)
    yield
    stop.set()
    dog.join()
    assert signal.getsignal(signal.SIGINT) is handler, "a run left its SIGINT handler installed"
    state = engine_threads_settle()
    assert state == (0, 0), f"engine threads (alive, stuck) {ENGINE_SLACK:g} s after the test: {state}"


@pytest.fixture(params=["native", "python"])
def socket_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The tsts client's socket reads (the Wire's exchanges, the Handoff's logon answers) one way:
    "native", one ``_wts.sock_exchange`` each (POSIX only: skipped elsewhere), or "python", the
    socket methods Windows uses."""
    from wts._tsts import _directtcp

    if request.param == "native" and not _wts.SOCK_EXCHANGE:
        pytest.skip("no native socket exchange here (POSIX only)")
    monkeypatch.setattr(_directtcp, "NATIVE", request.param == "native")
    return str(request.param)


@pytest.fixture
def farm() -> wts.sim.CompiledFarm:
    """The reference farm, freshly loaded."""
    return wts.sim.load(REFERENCE_FARM)


@pytest.fixture
def sim(farm: wts.sim.CompiledFarm) -> wts.sim.CompiledFarm:
    """The reference farm, for tests that change state (disconnect, logoff, connect, message):
    those never run against a real server."""
    return farm


@functools.cache
def wine_version() -> str | None:
    """Wine's version when this Windows Python runs under Wine (ntdll exports wine_get_version), else None."""
    if sys.platform != "win32":
        return None
    import ctypes

    get = getattr(ctypes.WinDLL("ntdll"), "wine_get_version", None)
    if get is None:
        return None
    get.restype = ctypes.c_char_p
    return str(get().decode("ascii"))


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Which build is under test: CI runs the suite against installed wheels, never the source tree."""
    lines = [
        f"wts {wts.__version__} from {Path(wts.__file__).parent}",
        f"wts._wts: {_wts.__file__}",
        f"providers: {', '.join(wts.available_providers())}; simulated farm in {_wts.sim_backend()}",
    ]
    if wine_version() is not None:
        lines.append(f"under Wine {wine_version()}")
    return lines


def _win32_skip_reason() -> str | None:
    if sys.platform != "win32" or "win32" not in wts.available_providers():
        return "the win32 provider needs Windows and a build with wtsapi32"
    if wine_version() is not None and _wts.sim_backend() != "wtsapi32.dll":
        # Under Wine with our simulator as wtsapi32.dll the win32 provider reaches the reference farm:
        # those runs keep these tests.
        return "Wine's own wtsapi32 is stubs with no sessions; tests/test_wine_stubs.py pins what it returns"
    return None


@pytest.fixture(params=["sim", "win32"])
def provider(request: pytest.FixtureRequest) -> str:
    """A provider name for read-only tests of the local server.  With "sim" the reference farm is
    loaded (its local server is RDS01, the caller in session 2)."""
    name = request.param
    if name == "win32":
        reason = _win32_skip_reason()
        if reason is not None:
            if os.environ.get("WTS_TEST_REQUIRE_WIN32") == "1":  # CI's Windows job: these must run
                pytest.fail(f"WTS_TEST_REQUIRE_WIN32=1, but {reason}")
            pytest.skip(reason)
        if _wts.sim_backend() == "wtsapi32.dll":
            request.getfixturevalue("farm")  # the win32 provider is our simulator: give it the farm
    else:
        request.getfixturevalue("farm")
    return name


def _retry_wine_process_starts() -> None:
    """Under Wine, CreateProcess now and then fails with ERROR_INTERNAL_ERROR (1359) on a loaded
    machine (seen once in CI's Wine run: `python -m wts` never started).  That is Wine's, not ours: a
    test that starts a process tries again, up to four times.  Popen.__init__ cleans up after a failed
    start, so calling it again on the same object starts from scratch."""
    import subprocess
    import time

    start = subprocess.Popen.__init__

    def start_again_on_wine_flakes(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
        for attempt in range(4):
            try:
                start(self, *args, **kwargs)
                return
            except OSError as exc:
                if getattr(exc, "winerror", None) != 1359 or attempt == 3:
                    raise
                time.sleep(0.25 * (attempt + 1))

    subprocess.Popen.__init__ = start_again_on_wine_flakes  # type: ignore[method-assign]


if wine_version() is not None:
    _retry_wine_process_starts()


class QuietHost:
    """A host on loopback that takes TCP connections and then says nothing, for connect-timeout
    tests; with ``upstream`` (an SMB server's address) it first relays the client's first message
    there and the answer back (the negotiate), then goes quiet.  ``port``; ``close()`` stops it and
    drops every connection (it is a context manager too)."""

    def __init__(self, upstream: tuple[str, int] | None = None, wait: float = 30.0) -> None:
        import socket

        self._upstream = upstream
        self._wait = wait
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._held: list[Any] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        import socket

        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            self._held.append(conn)
            if self._upstream is not None:
                try:
                    upstream = socket.create_connection(self._upstream, timeout=self._wait)
                    self._held.append(upstream)
                    conn.settimeout(self._wait)
                    upstream.sendall(conn.recv(65536))
                    conn.sendall(upstream.recv(65536))
                except OSError:
                    pass  # the client gave up first

    def close(self) -> None:
        self._stop.set()
        self._thread.join(self._wait)
        self._listener.close()
        for sock in self._held:
            sock.close()

    def __enter__(self) -> QuietHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- wts sim serve: a farm over MS-TSTS on loopback ------------------------------------------------
# One way to start and stop `wts sim serve FARM.json` for every suite that needs it (test_sim_serve,
# test_tsts_e2e, test_behaviour): only 127.0.0.0/8, every wait bounded, every process stopped.

#: "It started / it stopped": a bound no healthy run comes near.
SERVE_WAIT = 30.0
#: As root (CI) servers listen on 445, where impacket's tstool.py reaches them (it takes no other port);
#: otherwise on a high port of this process's own, which clients take from ``WTS_TSTS_PORT``.
SERVE_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
SERVE_PORT = 445 if SERVE_ROOT else 14450 + os.getpid() % 1000
_serve_blocks = iter(range(1 << 30))


def serve_address() -> str:
    """The first address of a fresh loopback block (a farm of N servers takes N addresses from it):
    127.B.H.2, with B from this process's id, so that parallel workers (and other suites' servers)
    rarely meet; when they do, ``sim_serve`` moves on to the next block."""
    return f"127.{100 + os.getpid() % 100}.{next(_serve_blocks) % 190 + 2}.2"


class Served:
    """A ``wts sim serve`` process: ``servers`` (name -> address, as it printed them when ready),
    ``port``, ``credentials`` (the farm's first account), and ``stop``."""

    def __init__(
        self, proc: subprocess.Popen[str], servers: dict[str, str], port: int, credentials: wts.Credentials | None
    ) -> None:
        self.proc = proc
        self.servers = servers
        self.port = port
        self.credentials = credentials

    def stop(self, signum: int | None = None) -> tuple[int, str]:
        """Signal the process (SIGTERM by default) and wait for it, bounded: (exit status, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM if signum is None else signum)
        try:
            _, err = self.proc.communicate(timeout=SERVE_WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise
        return self.proc.returncode, err or ""

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def kill(self) -> None:
        """Stop it in any case (teardown): SIGTERM, then SIGKILL past the bound."""
        try:
            self.stop()
        except (subprocess.TimeoutExpired, ValueError, OSError):
            pass


def _farm_file(farm: dict[str, Any] | Path, where: Path) -> Path:
    if isinstance(farm, Path):
        return farm
    import json

    path = where / f"farm-{next(_serve_blocks)}.json"
    path.write_text(json.dumps(farm), encoding="utf-8")
    return path


def _die_with_the_test_run() -> None:
    """In the server's process, before it runs: on Linux, SIGTERM when the test process dies, so that a
    killed run (a crashed xdist worker, a CI timeout) leaves no server holding its loopback port."""
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _start_serve(farm_file: Path, args: tuple[str, ...], address: str, port: int) -> Served | str:
    """One ``wts sim serve``: the Served once it printed every server, or (stopped again) the
    stderr of a run that ended first."""
    import queue

    from wts._farmfile import compile_farm

    compiled = compile_farm(farm_file)
    expected = len(compiled.servers)
    account = compiled.accounts[0] if compiled.accounts else None
    credentials = None if account is None else wts.Credentials(account.user, account.domain, account.password)
    cmd = [
        sys.executable,
        "-m",
        "wts",
        "sim",
        "serve",
        str(farm_file),
        "--address",
        address,
        "--port",
        str(port),
        *args,
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_die_with_the_test_run if os.name == "posix" else None,
    )
    served = Served(proc, {}, port, credentials)
    lines: queue.Queue[str | None] = queue.Queue()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    try:
        deadline = time.monotonic() + SERVE_WAIT
        while len(served.servers) < expected:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"wts sim serve {farm_file} printed no ready line in {SERVE_WAIT:g} s") from None
            if line is None:
                status, err = served.stop()
                return f"wts sim serve ended ({status}): {err.strip()}"
            name, addr = line.split()
            served.servers[name] = addr
    except BaseException:
        served.kill()
        raise
    return served


def start_serve(
    farm: dict[str, Any] | Path, where: Path, *args: str, address: str | None = None, port: int = SERVE_PORT
) -> Served:
    """``wts sim serve FARM`` (a farm file, or a dict written into ``where``) until the caller stops it.
    Without ``address``, a fresh block; taken by someone else, the next one (three tries)."""
    farm_file = _farm_file(farm, where)
    for _ in range(3):
        outcome = _start_serve(farm_file, args, address or serve_address(), port)
        if isinstance(outcome, Served):
            return outcome
        if address is not None or "already in use" not in outcome:
            break
    raise AssertionError(outcome)


@pytest.fixture
def sim_serve(tmp_path: Path) -> Iterator[Any]:
    """``sim_serve(FARM, *args, address=None, port=SERVE_PORT) -> Served``: ``wts sim serve`` for
    this test alone (tests that change the served farm, or stop the server); each stopped at teardown."""
    started: list[Served] = []

    def start(farm: dict[str, Any] | Path, *args: str, **kwargs: Any) -> Served:
        served = start_serve(farm, tmp_path, *args, **kwargs)
        started.append(served)
        return served

    yield start
    for served in started:
        served.kill()


@pytest.fixture(scope="session")
def shared_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``shared_serve(FARM) -> Served``: one ``wts sim serve`` per farm for the whole run, for tests that
    only read (a test that changes the farm takes ``sim_serve``); all stopped when the run ends."""
    import json

    where = tmp_path_factory.mktemp("serve")
    started: dict[str, Served] = {}

    def start(farm: dict[str, Any] | Path) -> Served:
        key = str(farm) if isinstance(farm, Path) else json.dumps(farm, sort_keys=True)
        served = started.get(key)
        if served is None or served.proc.poll() is not None:
            served = started[key] = start_serve(farm, where)
        return served

    yield start
    for served in started.values():
        served.kill()


@contextmanager
def serve_in_process(farm: dict[str, Any] | Path, address: str, port: int, **options: Any) -> Iterator[dict[str, str]]:
    """``wts sim serve``'s code (``_serve.serve``) on a thread of this process, over the sim loaded here,
    so that what clients do is visible through ``wts.sim`` in the test itself: name -> address once
    every server listens.  ``options`` go to ``_serve.serve`` (``latency``, ``tally``,
    ``require_encryption``, ...).  Stopped, and its thread joined, on the way out; bounded in time."""
    import asyncio

    from wts._tsts import _serve

    compiled = wts.sim.load(str(farm) if isinstance(farm, Path) else farm)
    plan = _serve.plan(compiled.servers, compiled.accounts, address, port)
    options.setdefault("latency", 0.0)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    servers: dict[str, str] = {}
    ready = threading.Event()
    failure: list[BaseException] = []

    def announce(name: str, host: str) -> None:
        servers[name] = host
        if len(servers) == len(plan.servers):
            ready.set()

    def run() -> None:
        try:
            loop.run_until_complete(_serve.serve(plan, ready=announce, stop=stop, **options))
        except BaseException as exc:  # handed to the test
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert ready.wait(SERVE_WAIT), "the in-process server did not start"
        if failure:
            raise failure[0]
        yield servers
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(SERVE_WAIT)
        loop.close()
        assert not thread.is_alive(), "the in-process server did not stop"


# -- a Kerberos realm on loopback (tests/krb5_kdc.py) ----------------------------------------------


@pytest.fixture
def kdc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``kdc(*hosts) -> krb5_kdc.Realm``: the realm WTS.TEST on 127.0.0.1 with ``host/`` and ``cifs/``
    keys for ``hosts`` and alice's ticket (kinit); this process's KRB5_* variables point at it (and the
    servers it starts inherit them); the KDC stops at teardown.  Skips when MIT Kerberos or
    python-gssapi is missing, unless WTS_TEST_REQUIRE_KERBEROS=1 (CI), where that is a failure."""
    import krb5_kdc

    lacking = krb5_kdc.missing()
    if lacking:
        if os.environ.get("WTS_TEST_REQUIRE_KERBEROS") == "1":
            pytest.fail(f"WTS_TEST_REQUIRE_KERBEROS=1, but {lacking}")
        pytest.skip(lacking)
    realms: list[Any] = []

    def start(*hosts: str) -> Any:
        realm = krb5_kdc.Realm.start(tmp_path / f"krb5-{len(realms)}", hosts)
        realms.append(realm)
        for key, value in realm.env.items():
            monkeypatch.setenv(key, value)
        realm.kinit()
        return realm

    yield start
    for realm in realms:
        realm.stop()
