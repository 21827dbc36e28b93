"""Client CPU of the tsts provider against ``wts sim serve`` on loopback, warm and cold.

    python benchmarks/tsts_client.py [--rounds 5] [--calls 500] [--servers 21] [--compare SRC]

Starts ``wts sim serve`` on a generated farm (SERVERS servers of 25 sessions, 28 rows with the
services, console and listener), then in child processes (one per round and per source tree):

* warm: one ``Connections`` client (NTLM, SMB signing, RPC at packet privacy), CALLS calls of
  ``Client.sessions_answer()`` after 50 to warm up: RpcGetAllSessions level 2, its answer checked
  and unsealed, as the provider makes it (which then copies it into the WTS structs in C);
* cold: one more ``Connections`` (as a Farm has one) and each of the other servers through it: TCP,
  negotiate, session setup, IPC$, the pipe, bind, one RpcGetAllSessions; then close (logoff).

Each child reports ``time.process_time()`` per warm call and per cold server (all of its threads).
With ``--compare SRC`` (another checkout's ``src``) the two trees alternate within each round, so
both see the same load; the table gives the median and minimum over the rounds.  Linux, as root
for port 445 (else a high port).  Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PASSWORD = "Bench-Pa55"
HERE = Path(__file__).resolve().parent


def child(hosts: list[str], port: int, calls: int) -> None:
    import wts
    from wts._tsts._client import Connections

    creds = wts.Credentials("admin", "CONTOSO", PASSWORD)
    connections = Connections(creds, port=port)
    client = connections.client(hosts[0])
    for _ in range(50):
        client.sessions_answer()
    t0 = time.process_time()
    for _ in range(calls):
        client.sessions_answer()
    warm = (time.process_time() - t0) / calls
    connections.close()
    # One Connections for the cold servers, as a Farm has: the password's hashes are derived once
    # (a new Connections per server derived them per server, about 1.5 ms no Farm pays).
    t0 = time.process_time()
    cold = Connections(creds, port=port)
    for host in hosts[1:]:
        cold.client(host).sessions_answer()
    cold.close()
    per_server = (time.process_time() - t0) / max(1, len(hosts) - 1)
    print(json.dumps({"warm": warm, "cold": per_server}))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--servers", type=int, default=21)
    parser.add_argument("--compare", help="another checkout's src directory, measured alternately")
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    port = 445 if os.geteuid() == 0 else 14450
    if args.child is not None:
        child(args.child, port, args.calls)
        return
    farm = {
        "accounts": [{"domain": "CONTOSO", "user": "admin", "password": PASSWORD}],
        "generate": [{"prefix": "RDS", "count": args.servers, "sessions": 25}],
    }
    trees = {"this": str(HERE.parent / "src")}
    if args.compare:
        trees["compare"] = str(Path(args.compare).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "farm.json"
        path.write_text(json.dumps(farm), encoding="utf-8")
        serve = [sys.executable, "-m", "wts", "sim", "serve", str(path), "--address", "127.0.9.1", "--port", str(port)]
        proc = subprocess.Popen(serve, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert proc.stdout is not None
            hosts = [proc.stdout.readline().split()[1] for _ in range(args.servers)]
            results: dict[str, dict[str, list[float]]] = {name: {"warm": [], "cold": []} for name in trees}
            for _ in range(args.rounds):
                for name, src in trees.items():
                    env = dict(os.environ, PYTHONPATH=src)
                    cmd = [sys.executable, __file__, "--calls", str(args.calls), "--child", *hosts]
                    out = json.loads(subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout)
                    for key in ("warm", "cold"):
                        results[name][key].append(out[key])
        finally:
            proc.terminate()
            proc.wait(30)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {args.rounds} rounds, {args.calls} warm calls")
    print(f"{'tree':<8} {'warm µs/call (median, min)':>28} {'cold ms/server (median, min)':>30}")
    for name, r in results.items():
        warm = f"{statistics.median(r['warm']) * 1e6:.0f}, {min(r['warm']) * 1e6:.0f}"
        cold = f"{statistics.median(r['cold']) * 1e3:.2f}, {min(r['cold']) * 1e3:.2f}"
        print(f"{name:<8} {warm:>28} {cold:>30}")


if __name__ == "__main__":
    main()
