"""Control of the simulated RD Session Host farm (the ``sim`` provider).

The farm lives in C inside wts._wts and speaks the exact wtsapi32 ABI; this module loads it from a
farm file (docs/sim.md), generates farms of any size, reads it back, and exposes the counters that
tests and benchmarks rely on: RPCs per server and outstanding allocations.  (When the process's
wtsapi32.dll is the same simulator built as a DLL, as in the Wine check of docs/building.md, the farm
is the DLL's and these functions drive it.)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import _wts

if TYPE_CHECKING:
    from ._farmfile import CompiledFarm, FarmFileError


def __getattr__(name: str) -> Any:
    # The farm-file compiler (json, dataclasses, ipaddress...) is most of wts' import time, and only
    # the sim needs it: load it on first use, so `import wts` stays cheap for the win32 path and the CLI.
    if name in ("CompiledFarm", "FarmFileError"):
        from . import _farmfile

        return getattr(_farmfile, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CompiledFarm",
    "FarmFileError",
    "dump",
    "generate",
    "hung_calls",
    "load",
    "loaded",
    "local_server",
    "messages",
    "outstanding",
    "release_hangs",
    "reset_counters",
    "rpc_counts",
    "rpc_total",
    "save",
]


def load(source: str | os.PathLike[str] | Mapping[str, Any]) -> CompiledFarm:
    """Replace the simulated farm with one from a farm file (path) or dict.

    All or nothing: a malformed farm raises FarmFileError (naming the file, the place and the reason)
    and the farm loaded before stays as it was.
    """
    from ._farmfile import compile_farm

    farm = compile_farm(source)
    _wts.sim_load(farm.text)
    # Who an alternate logon may be (Server/Farm credentials= with the sim): the farm's "accounts".
    _wts.sim_set_logon_accounts([(a.domain, a.user, a.password) for a in farm.accounts])
    return farm


def generate(
    servers: int = 10,
    sessions: int = 10,
    *,
    prefix: str = "RDS",
    latency_ms: float = 0.0,
    jitter_ms: float = 0.0,
    seed: int = 0,
    now: str | None = None,
    **block: Any,
) -> CompiledFarm:
    """Load a generated farm of ``servers`` servers with ``sessions`` user sessions each (plus, unless
    system_sessions=False, session 0, the console and an RDP listener on each).  Deterministic for a
    given seed and ``now``.  Further generator fields (docs/sim.md) pass through ``block``."""
    farm: dict[str, Any] = {
        "seed": seed,
        "generate": [
            {
                "prefix": prefix,
                "count": servers,
                "sessions": sessions,
                "latency_ms": latency_ms,
                "jitter_ms": jitter_ms,
                **block,
            }
        ],
    }
    if now is not None:
        farm["now"] = now
    return load(farm)


def loaded() -> bool:
    return bool(_wts.sim_loaded())


def local_server() -> str:
    """The name of the farm's local server: the one ``WTS_CURRENT_SERVER_HANDLE`` (``wts.Server()``)
    reaches, as the farm file's ``local`` names it."""
    # The dump's second line (after "WTSSIM<TAB>1") is "farm<TAB>seed<TAB>now<TAB>local<TAB>current
    # session" (docs/sim.md, Compiled format).
    return _dump_text().split("\n", 2)[1].split("\t")[3]


def _dump_text() -> str:
    text = _wts.sim_dump()
    if text is None:
        raise RuntimeError("no simulated farm is loaded")
    return str(text)


def dump() -> dict[str, Any]:
    """The farm as it is now (after disconnects, logoffs, ...) as a farm dict that ``load`` accepts,
    with the message log under "messages"."""
    from ._farmfile import parse_compiled

    return parse_compiled(_dump_text())


def save(path: str | os.PathLike[str]) -> None:
    """Write the farm's current state as a farm file, so a later process can carry on from it."""
    import json
    import tempfile

    data = dump()
    target = os.path.abspath(os.fspath(path))
    # A unique temporary name beside the target, then one rename: two processes saving at once never
    # write into each other's file, and a reader sees the old farm or the new one, never half of one.
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(target) + ".", suffix=".tmp", dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
        os.chmod(tmp, _mode_for(target))  # mkstemp makes 0600: keep the file's own mode
        _replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _replace(tmp: str, target: str) -> None:
    """os.replace, which on Windows fails (access denied) while another process or thread holds the
    target open or is renaming onto it: tried again for up to about two seconds there."""
    import time

    for attempt in range(100):
        try:
            os.replace(tmp, target)
            return
        except PermissionError:
            if os.name != "nt" or attempt == 99:
                raise
            time.sleep(0.02)


def _mode_for(target: str) -> int:
    """The permission bits a saved farm gets: the existing file's, else what open() would give."""
    import stat

    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def messages() -> list[dict[str, Any]]:
    """Every message box sent so far: server, session, title, text, style, timeout, wait, response."""
    from ._farmfile import parse_compiled

    # Only the log is wanted: the header (its format and farm lines) and the message lines.  Servers,
    # sessions and what hangs off a session (its processes) are skipped: a farm may have them by the
    # 100,000, and a session's processes cannot be parsed without the session line they follow.
    lines = _dump_text().split("\n")
    lines = lines[:2] + [line for line in lines[2:] if line.startswith("message\t")]
    return list(parse_compiled("\n".join(lines))["messages"])


def outstanding() -> int:
    """Live allocations handed out by the sim: open handles plus buffers and strings not yet freed."""
    return int(_wts.sim_outstanding())


def rpc_counts() -> dict[str, int]:
    """RPCs per server since the last reset; key '*' counts RPCs to names not in the farm."""
    return dict(_wts.sim_rpc_counts())


def rpc_total() -> int:
    return int(_wts.sim_rpc_total())


def reset_counters() -> None:
    _wts.sim_reset_counters()


def release_hangs() -> None:
    """Wake every call blocked on a 'hang' server; each fails with RPC_S_CALL_FAILED (1726)."""
    _wts.sim_release_hangs()


def hung_calls() -> int:
    """Calls blocked on 'hang' servers right now."""
    return int(_wts.sim_hung_calls())
