"""``wts bench tsts``: the tsts provider against its peers, on ``wts sim serve`` over loopback (issue 13).

    wts bench tsts [--servers 200] [--sessions 25] [--latency-ms 2] [--concurrency 64] [--rounds 3]
                   [--tstool-sample 10] [--address 127.88.0.1] [--markdown] [--json FILE]

The farm (SERVERS generated servers of SESSIONS user sessions, plus the generator's 3 system sessions
each) is served by a process of its own (``_tstsserved``: ``wts sim serve``'s code with a
``_tally.Tally``), every answer delayed by the latency.  Then, in this order, each round:

* ``wts-cold``: ``wts.Farm(..., provider="tsts")`` made and ``sessions()`` called: TCP, SMB negotiate,
  session setup, IPC$, the pipe, bind, one RpcGetAllSessions per server;
* ``wts-warm``: ``sessions()`` again on the same Farm (its connections and binding kept);
* ``impacket-cold`` / ``impacket-warm``: tstool's qwinsta pattern through impacket's own classes
  (``_remotepeers``), one task per server on a thread pool of the same concurrency, then the same
  calls again on the open connections;

and once, after the rounds, ``tstool``: ``tstool.py qwinsta`` as a subprocess, one server after
another, for a sample of the servers, scaled to the farm (the row says so).

Counted at the served side for each phase: TCP connections, SMB answers (each one exchange the
client waited for, each delayed by the latency) and RPC calls.  Timed: wall (``perf_counter``), this
process's CPU (``time.process_time``: every thread; the tstool row: its children's, from
``getrusage``) and the serving process's CPU (/proc).  The bound of a row is SMB exchanges x latency
/ min(concurrency, servers) plus the client CPU it measured.  docs/benchmarks.md says what each
figure means on a 2-core machine shared by client and server.  Before the rounds, each client lists
the first server once, untimed: the process's imports are start-up, not a server's cost.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import queue
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ._model import NOW, BenchError, one_line_parser, parse_or_status, stderr_log
from ._remotepeers import ImpacketServer, find_impacket, find_tstool, tstool_qwinsta
from ._remotereport import format_remote, targets

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["RemoteOptions", "parse_remote_args", "remote_main", "run_remote"]

DOMAIN, USER, PASSWORD = "CONTOSO", "admin", "Bench:pw-1"  # a loopback farm's own account
WAIT = 120.0  # seconds: the served process's start-up and each answer of its, at most
ROWS = ("wts-cold", "wts-warm", "impacket-cold", "impacket-warm", "tstool")


class RemoteOptions(NamedTuple):
    servers: int
    sessions: int
    latency_ms: float
    concurrency: int
    rounds: int
    tstool_sample: int
    address: str
    peers: bool


def _parser(prog: str) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = one_line_parser(
        prog,
        (
            "The tsts provider (MS-TSTS over SMB) on wts sim serve over loopback, beside impacket's qwinsta "
            "pattern on a thread pool and tstool.py qwinsta once per server: wall, round trips and RPCs "
            "counted at the served side, client and server CPU, against the bound. Port 445 (root), or "
            "WTS_TSTS_PORT."
        ),
    )
    p.add_argument("--servers", type=int, default=200, help="servers in the farm (default: 200)")
    p.add_argument("--sessions", type=int, default=25, help="user sessions per server (default: 25)")
    p.add_argument("--latency-ms", type=float, default=2.0, help="the served round trip, ms (default: 2)")
    p.add_argument("--concurrency", type=int, default=64, help="wts' concurrency and the pool's threads (64)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of each row but tstool; median shown (3)")
    p.add_argument(
        "--tstool-sample", type=int, help="servers tstool.py runs against, scaled to all (10 or all; 0: none)"
    )
    p.add_argument("--address", default="127.88.0.1", help="the first server's loopback address (127.88.0.1)")
    p.add_argument("--no-peers", action="store_true", help="measure wts alone (no impacket, no tstool)")
    p.add_argument("--json", default="", metavar="FILE", help="also write the report as JSON ('-': stdout)")
    p.add_argument("--markdown", action="store_true", help="print the tables in Markdown")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    return p


def parse_remote_args(argv: Sequence[str], prog: str) -> tuple[RemoteOptions, Any]:
    args = _parser(prog).parse_args(list(argv))
    if args.tstool_sample is None:
        args.tstool_sample = min(10, args.servers)
    checks = (
        (1 <= args.servers <= 10_000, "--servers must be 1 to 10000"),
        (0 <= args.sessions <= 10_000, "--sessions must be 0 to 10000"),
        (0 <= args.latency_ms <= 10_000, "--latency-ms must be 0 to 10000"),
        (1 <= args.concurrency <= 4096, "--concurrency must be 1 to 4096"),
        (1 <= args.rounds <= 100, "--rounds must be 1 to 100"),
        (0 <= args.tstool_sample <= args.servers, "--tstool-sample must be 0 to --servers"),
    )
    for ok, why in checks:
        if not ok:
            raise BenchError(why)
    opts = RemoteOptions(
        args.servers,
        args.sessions,
        args.latency_ms,
        args.concurrency,
        args.rounds,
        args.tstool_sample,
        args.address,
        not args.no_peers,
    )
    return opts, args


class Skip(Exception):
    """The scenario cannot run here (an extra missing, port 445 refused): one line, exit 0."""


# -- the served process ------------------------------------------------------------------------------


def _cpu_of(pid: int) -> float:
    """CPU seconds of process ``pid``, every thread (schedstat's nanoseconds; stat's ticks elsewhere)."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat", encoding="ascii") as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Served:
    """The farm served by ``_tstsserved`` in its own process: its hosts, its tally, its CPU."""

    def __init__(self, opts: RemoteOptions, port: int, tmp: str) -> None:
        farm = {
            "seed": 1,
            "now": NOW,
            "accounts": [{"domain": DOMAIN, "user": USER, "password": PASSWORD}],
            "generate": [{"prefix": "RDS", "count": opts.servers, "sessions": opts.sessions}],
        }
        path = Path(tmp) / "farm.json"
        path.write_text(json.dumps(farm), encoding="utf-8")
        cmd = [sys.executable, "-m", "wts._bench._tstsserved", str(path), opts.address, str(port), str(opts.latency_ms)]
        # Its stderr goes to a file: a pipe nobody reads until the end could fill and stall the server.
        self._errors = Path(tmp) / "served.err"
        with open(self._errors, "w", encoding="utf-8") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.hosts: list[str] = []
        try:
            for _ in range(opts.servers):
                line = self._line()
                self.hosts.append(line.split()[1])
        except BenchError:
            self.close()
            raise

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _line(self) -> str:
        try:
            line = self._lines.get(timeout=WAIT)
        except queue.Empty:
            raise BenchError(f"the served farm said nothing for {WAIT:g} s") from None
        if line is None:
            self.proc.wait(WAIT)
            said = self._errors.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            why = (said or [f"exit status {self.proc.returncode}"])[-1]
            raise BenchError(f"the served farm stopped: {why}")
        return line

    def take(self) -> dict[str, int]:
        """The served side's counts since the last ``take``."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("take\n")
        self.proc.stdin.flush()
        counts: dict[str, int] = json.loads(self._line())
        return counts

    def cpu(self) -> float:
        return _cpu_of(self.proc.pid)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write("stop\n")
                self.proc.stdin.flush()
                self.proc.wait(WAIT)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(WAIT)


# -- the rows ----------------------------------------------------------------------------------------


class Row:
    """One row's rounds: wall, client and server CPU, the served counts, the sessions each round saw."""

    def __init__(self, key: str, threads: int) -> None:
        self.key = key
        self.threads = threads
        self.status = "ok"  # ok, skipped, error
        self.note = ""
        self.walls: list[float] = []
        self.client_cpu: list[float] = []
        self.server_cpu: list[float] = []
        self.counts: list[dict[str, int]] = []
        self.sessions: list[int] = []
        self.scale = 1.0  # the tstool row: servers / sample

    def stop(self, status: str, note: str) -> None:
        self.status, self.note = status, note

    def report(self, opts: RemoteOptions) -> dict[str, Any]:
        def med(xs: list[float]) -> float | None:
            return float(statistics.median(xs)) * self.scale if xs else None

        counts = {k: v * self.scale for k, v in (self.counts[-1] if self.counts else {}).items()}
        varied = any(c != self.counts[0] for c in self.counts)
        wall, ccpu, scpu = med(self.walls), med(self.client_cpu), med(self.server_cpu)
        smb, tcp, rpc = counts.get("smb", 0.0), counts.get("tcp", 0.0), counts.get("rpc", 0.0)
        conc = 1 if self.key == "tstool" else min(self.threads, opts.servers)
        bound = smb * opts.latency_ms / 1000.0 / conc + (ccpu or 0.0) if wall is not None else None
        return {
            "row": self.key,
            "status": self.status,
            "note": self.note + ("; counts varied between rounds (last shown)" if varied else ""),
            "threads": conc,
            "rounds": len(self.walls),
            "walls_s": self.walls,
            "wall_s": wall,
            "sessions": int(self.sessions[-1] * self.scale) if self.sessions else None,
            "rpcs": rpc,
            "smb_exchanges": smb,
            "tcp_connections": tcp,
            "round_trips_per_server": (smb + tcp) / opts.servers,
            "rpcs_per_server": rpc / opts.servers,
            "counts": counts,
            "bound_s": bound,
            "ratio_to_bound": wall / bound if wall and bound else None,
            "client_cpu_s": ccpu,
            "client_cpu_per_rpc_s": ccpu / rpc if ccpu is not None and rpc else None,
            "client_cpu_per_server_s": ccpu / opts.servers if ccpu is not None else None,
            "server_cpu_s": scpu,
            "scale": self.scale,
        }


def _timed(row: Row, served: Served, work: Callable[[], int], children: bool = False) -> None:
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF

    def cpu() -> float:
        if children:
            r = resource.getrusage(who)
            return r.ru_utime + r.ru_stime
        return time.process_time()

    s0, c0, t0 = served.cpu(), cpu(), time.perf_counter()
    listed = work()
    wall = time.perf_counter() - t0
    row.client_cpu.append(cpu() - c0)
    row.server_cpu.append(served.cpu() - s0)
    row.walls.append(wall)
    row.sessions.append(listed)
    row.counts.append(served.take())


def _wts_round(rows: dict[str, Row], served: Served, opts: RemoteOptions) -> None:
    import wts

    creds = wts.Credentials(USER, DOMAIN, PASSWORD)
    holder: list[Any] = []

    def cold() -> int:
        farm = wts.Farm(served.hosts, provider="tsts", credentials=creds, concurrency=opts.concurrency)
        holder.append(farm)
        return _listed(farm.sessions())

    try:
        _timed(rows["wts-cold"], served, cold)
        _timed(rows["wts-warm"], served, lambda: _listed(holder[0].sessions()))
    finally:
        for farm in holder:
            farm.close()
        served.take()  # the log-offs: no row's


def _listed(result: Any) -> int:
    if result.failures:
        raise BenchError(f"{len(result.failures)} servers failed, first: {result.failures[0]}")
    return len(result.sessions)


def _impacket_round(rows: dict[str, Row], served: Served, opts: RemoteOptions, port: int) -> None:
    peers = [ImpacketServer(h, port, DOMAIN, USER, PASSWORD) for h in served.hosts]
    pool: list[ThreadPoolExecutor] = []

    def cold() -> int:
        pool.append(ThreadPoolExecutor(max_workers=opts.concurrency))  # its start-up is the pattern's
        return sum(pool[0].map(ImpacketServer.connect_and_list, peers))

    try:
        _timed(rows["impacket-cold"], served, cold)
        _timed(rows["impacket-warm"], served, lambda: sum(pool[0].map(ImpacketServer.list, peers)))
    finally:
        for p in pool:
            p.shutdown()
        for peer in peers:
            peer.close()
        served.take()


def _tstool_rows(row: Row, served: Served, opts: RemoteOptions, port: int, log: Callable[[str], None]) -> None:
    tstool = find_tstool()
    if tstool is None:
        row.stop("skipped", "impacket's tstool.py is not installed")
        return
    if port != 445:
        row.stop("skipped", f"tstool.py connects to port 445 only (the farm is on {port})")
        return
    sample = served.hosts[: opts.tstool_sample]
    log(f"tstool.py qwinsta on {len(sample)} of {opts.servers} servers, one process each")
    for host in sample:
        _timed(row, served, functools.partial(tstool_qwinsta, tstool, host, DOMAIN, USER, PASSWORD, WAIT), True)
    # Per server, then scaled to the farm: what running it once per server, one after another, costs.
    row.scale = opts.servers
    row.note = f"{len(sample)} of {opts.servers} servers run, one process each, one after another; x {opts.servers}"


def _warm_up(served: Served, opts: RemoteOptions, port: int, impacket: bool) -> None:
    """One untimed listing of the first server by each client: the process's imports and first
    allocations are start-up, not what a server costs."""
    import wts

    with wts.Farm(served.hosts[:1], provider="tsts", credentials=wts.Credentials(USER, DOMAIN, PASSWORD)) as farm:
        _listed(farm.sessions())
    if impacket:
        peer = ImpacketServer(served.hosts[0], port, DOMAIN, USER, PASSWORD)
        try:
            peer.connect_and_list()
        finally:
            peer.close()
    served.take()


def _port() -> int:
    from .._tsts._client import default_port

    try:
        return default_port()
    except ValueError as exc:
        raise BenchError(str(exc)) from None


def run_remote(opts: RemoteOptions, log: Callable[[str], None]) -> dict[str, Any]:
    """Every row of the scenario; the report (``Skip`` when it cannot run here)."""
    try:
        from .._tsts._auth import import_remote

        import_remote("spnego")
        import_remote("smbprotocol.connection")
    except Exception as exc:  # ProviderError: the extra is missing
        raise Skip(f"skipped: the remote extra is missing ({str(exc).splitlines()[0]})") from None
    if not sys.platform.startswith("linux"):
        raise Skip("skipped: the served process's CPU is read from /proc (Linux only)")
    port = _port()
    rows = {key: Row(key, 1 if key == "tstool" else opts.concurrency) for key in ROWS}
    missing = find_impacket() if opts.peers else "--no-peers"
    if missing:
        for key in ("impacket-cold", "impacket-warm", "tstool"):
            rows[key].stop("skipped", missing)
    elif opts.tstool_sample == 0:
        rows["tstool"].stop("skipped", "--tstool-sample 0")
    with tempfile.TemporaryDirectory(prefix="wts-bench-tsts-") as tmp:
        log(f"serving {opts.servers} servers x {opts.sessions} sessions at {opts.latency_ms:g} ms on port {port}")
        try:
            served = Served(opts, port, tmp)
        except BenchError as exc:
            hint = "" if port != 445 else "; set WTS_TSTS_PORT to a high port (e.g. 14450) to use one"
            raise Skip(f"skipped: {exc}{hint}") from None
        try:
            _warm_up(served, opts, port, rows["impacket-cold"].status == "ok")
            for n in range(opts.rounds):
                log(f"round {n + 1} of {opts.rounds}: wts cold and warm")
                _wts_round(rows, served, opts)
                if rows["impacket-cold"].status == "ok":
                    log(f"round {n + 1} of {opts.rounds}: impacket's qwinsta pattern, cold and warm")
                    try:
                        _impacket_round(rows, served, opts, port)
                    except Exception as exc:
                        for key in ("impacket-cold", "impacket-warm"):
                            rows[key].stop("error", f"{type(exc).__name__}: {str(exc)[:200]}")
            if rows["tstool"].status == "ok":
                try:
                    _tstool_rows(rows["tstool"], served, opts, port, log)
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    rows["tstool"].stop("error", str(exc).splitlines()[0])
        finally:
            served.close()
    out = [rows[key].report(opts) for key in ROWS]
    report: dict[str, Any] = {
        "scenario": opts._asdict(),
        "port": port,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
        "rows": out,
    }
    report["targets"] = targets(report)
    return report


def remote_main(argv: Sequence[str], prog: str) -> int:
    """``wts bench tsts``: 0 (also when skipped, with one line), 1 when a row failed, 2 for a usage error."""
    parsed = parse_or_status(lambda: parse_remote_args(argv, prog), prog)
    if isinstance(parsed, int):
        return parsed
    opts, args = parsed
    log = stderr_log(prog, args.quiet)

    load = os.getloadavg()
    try:
        report = run_remote(opts, log)
    except Skip as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 0
    except BenchError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    report["command"] = [prog, *argv]
    report["load_before"], report["load_after"] = load, os.getloadavg()
    out = sys.stderr if args.json == "-" else sys.stdout
    print(format_remote(report, markdown=args.markdown), file=out)
    if args.json:
        text = json.dumps(report, indent=1) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            try:
                Path(args.json).write_text(text, encoding="utf-8")
            except OSError as e:
                print(f"{prog}: error: {args.json}: {e.strerror or e}", file=sys.stderr)
                return 1
    return 1 if any(r["status"] == "error" for r in report["rows"]) else 0
