"""The served side of ``wts bench tsts``: ``wts sim serve``'s servers in a process of their own, with
a ``_tally.Tally`` the bench reads between phases.

    python -m wts._bench._tstsserved FARM.json ADDRESS PORT LATENCY_MS

Loads the farm, listens as ``wts sim serve`` does (``_serve.serve``, every server on its own loopback
address), prints ``NAME ADDRESS`` per server when all listen, then reads commands on stdin, one a line:
``take`` prints the tally since the last ``take`` as one JSON line; ``stop`` (or the end of stdin)
stops it.  A failure to start is one line on stderr and exit status 2.  The bench reads this process's
CPU from /proc, apart from its own.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading


def main(argv: list[str]) -> int:
    import wts
    from wts._tsts import _serve
    from wts._tsts._tally import Tally

    farm_file, address, port, latency_ms = argv
    try:
        compiled = wts.sim.load(farm_file)
        plan = _serve.plan(compiled.servers, compiled.accounts, address, int(port))
    except (ValueError, _serve.ServeError) as exc:
        print(str(exc).splitlines()[0], file=sys.stderr, flush=True)
        return 2
    tally = Tally()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def ready(name: str, host: str) -> None:
        print(name, host, flush=True)

    def commands() -> None:
        for line in sys.stdin:
            if line.strip() == "take":
                print(json.dumps(tally.take()), flush=True)
            elif line.strip() == "stop":
                break
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=commands, daemon=True).start()
    try:
        latency = float(latency_ms) / 1000.0
        loop.run_until_complete(_serve.serve(plan, latency=latency, ready=ready, stop=stop, tally=tally))
    except _serve.ServeError as exc:
        print(str(exc), file=sys.stderr, flush=True)
        return 2
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
