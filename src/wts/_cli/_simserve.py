"""``wts sim serve FARM.json``: the simulated farm served over SMB and MS-TSTS on loopback addresses
(``wts._tsts._serve``), until SIGTERM (exit 0) or Ctrl-C (exit 130)."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from ._context import Context
from ._status import ExitStatus, UsageError

__all__ = ["run"]


def run(ctx: Context) -> int:
    a = ctx.args
    import wts
    from wts._tsts import _serve
    from wts._tsts._auth import import_remote

    try:
        import_remote("spnego")  # before anything listens
    except wts.ProviderError as exc:  # its own words name the extra to install (the guard's are for -p)
        raise UsageError(str(exc)) from None

    farm = wts.sim.load(a.farm)  # a bad farm file: FarmFileError (a ValueError), one line from the guard
    if not farm.accounts:
        raise UsageError(f'{a.farm}: no "accounts": nobody could log on (docs/sim.md, "Accounts")')
    try:
        if a.keytab is not None:
            # This process serves and nothing else: libkrb5 finds the keytab through its environment.
            os.environ["KRB5_KTNAME"] = _serve.check_keytab(a.keytab)
        plan = _serve.plan(
            farm.servers, farm.accounts, a.address, a.port, kerberos=a.keytab is not None, logons=a.logons
        )
    except _serve.ServeError as exc:
        raise UsageError(str(exc)) from None

    def ready(name: str, address: str) -> None:
        ctx.stdout.write(f"{name} {address}\n")
        ctx.stdout.flush()  # scripts wait for these lines

    async def main() -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        outcome: dict[str, Any] = {"status": ExitStatus.OK}

        def stopping(status: ExitStatus) -> None:
            outcome["status"] = status
            stop.set()

        handled = []
        for signum, status in ((signal.SIGTERM, ExitStatus.OK), (signal.SIGINT, ExitStatus.INTERRUPTED)):
            try:
                loop.add_signal_handler(signum, stopping, status)
                handled.append(signum)
            except (NotImplementedError, RuntimeError, ValueError):  # Windows' loop; not the main thread
                pass

        try:
            await _serve.serve(plan, latency=a.latency_ms / 1000.0, ready=ready, stop=stop)
        finally:
            for signum in handled:
                loop.remove_signal_handler(signum)
        return int(outcome["status"])

    try:
        status = asyncio.run(main())
    except _serve.ServeError as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:
        return ExitStatus.INTERRUPTED
    if status == ExitStatus.INTERRUPTED:
        ctx.error("interrupted")
    return status
