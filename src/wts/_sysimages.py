"""``wts.SYSTEM_IMAGES``: the image names of the system's own processes, which ``Farm.terminate`` never
ends unless they are named explicitly with ``allow_system=True`` (docs/bulk.md, "Protected processes").
A module of its own so that ``import wts`` can export the set without loading the run loop.
"""

from __future__ import annotations

__all__ = ["SYSTEM_IMAGES"]

#: The system's own images (compared case-insensitively): ending one of them crashes the server
#: (csrss.exe, wininit.exe, smss.exe, services.exe, lsass.exe, lsaiso.exe are critical: Windows stops
#: with a bug check), logs the session off or leaves it without a logon screen, a desktop
#: compositor or fonts (winlogon.exe, LogonUI.exe, userinit.exe, dwm.exe, fontdrvhost.exe,
#: sihost.exe), or stops services that every session shares (svchost.exe, and lsm.exe on Windows 7 /
#: 2008 R2).  The kernel's pseudo-processes (System, Idle, Registry, Memory Compression, Secure
#: System) cannot be ended at all.  The user's own shell and helpers (explorer.exe, rdpclip.exe,
#: ctfmon.exe, taskhostw.exe) are not here: administrators end them on purpose, and the session
#: survives it.
SYSTEM_IMAGES = frozenset(
    name.casefold()
    for name in (
        "System",
        "Idle",
        "System Idle Process",
        "Registry",
        "Memory Compression",
        "Secure System",
        "smss.exe",
        "csrss.exe",
        "wininit.exe",
        "winlogon.exe",
        "services.exe",
        "lsass.exe",
        "lsaiso.exe",
        "lsm.exe",
        "svchost.exe",
        "dwm.exe",
        "fontdrvhost.exe",
        "LogonUI.exe",
        "userinit.exe",
        "sihost.exe",
    )
)
