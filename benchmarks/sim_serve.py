"""What ``wts sim serve`` costs: its CPU per call, warm and cold, as a client sees it over loopback.

Starts ``wts sim serve`` on a generated farm (SERVERS servers of 25 sessions, no latency), then:

* warm: one SMB session and one bound pipe (NTLM at packet privacy), CALLS RpcGetAllSessions
  (level 2) answers in a row over FSCTL_PIPE_TRANSCEIVE;
* cold: for each server, a new TCP connection, negotiate, session setup, IPC$, the pipe, bind and
  one RpcGetAllSessions.

It prints the wall time per call and the serving process's CPU per call (user + system, from
/proc/PID/stat), so the server's share of a benchmark's time is known.  Linux only; run it as
root for port 445, or it uses a high port:

    python benchmarks/sim_serve.py [SERVERS] [CALLS]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_sim_serve import PASSWORD, TransceivePipe, rpc_bind, rpc_response

from wts._tsts import _calls, _frames


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    servers = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    port = 445 if os.geteuid() == 0 else 14450
    farm = {
        "accounts": [{"domain": "CONTOSO", "user": "admin", "password": PASSWORD}],
        "generate": [{"prefix": "RDS", "count": servers, "sessions": 25}],
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "farm.json"
        path.write_text(json.dumps(farm), encoding="utf-8")
        cmd = [sys.executable, "-m", "wts", "sim", "serve", str(path), "--address", "127.0.9.1", "--port", str(port)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            hosts = [proc.stdout.readline().split()[1] for _ in range(servers)]
            iface = _calls.TERMSRV_ENUMERATION
            stub = _calls.encode_get_all_sessions_request(2)

            pipe = TransceivePipe(hosts[0], port, iface.pipe, 65536)
            auth, frag = rpc_bind(pipe, hosts[0], iface)
            cpu0, wall0 = cpu_seconds(proc.pid), time.perf_counter()
            for _ in range(calls):
                (request,) = _frames.request_fragments(2, 0, 10, stub, max_frag=frag, protector=auth)
                answer = rpc_response(pipe, auth, pipe.transceive(request))
            wall, cpu = time.perf_counter() - wall0, cpu_seconds(proc.pid) - cpu0
            pipe.close()
            entries = len(_calls.decode_get_all_sessions_response(answer).entries)
            print(
                f"warm: {calls} calls of {entries} sessions: {wall / calls * 1e6:,.0f} us wall, "
                f"{cpu / calls * 1e6:,.0f} us of server CPU per call"
            )

            cpu0, wall0 = cpu_seconds(proc.pid), time.perf_counter()
            for host in hosts:
                pipe = TransceivePipe(host, port, iface.pipe, 65536)
                auth, frag = rpc_bind(pipe, host, iface)
                (request,) = _frames.request_fragments(2, 0, 10, stub, max_frag=frag, protector=auth)
                rpc_response(pipe, auth, pipe.transceive(request))
                pipe.close()
            wall, cpu = time.perf_counter() - wall0, cpu_seconds(proc.pid) - cpu0
            print(
                f"cold: {servers} servers one after another: {wall / servers * 1e3:,.1f} ms wall, "
                f"{cpu / servers * 1e3:,.1f} ms of server CPU per server"
            )
        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
