"""Choosing the WTS provider: ``win32`` (the real wtsapi32) or ``sim`` (the simulated farm).

Order: the ``provider=`` argument, else ``WTS_PROVIDER`` (with ``WTS_SIM_FARM`` naming the farm file
for ``sim``), else ``win32`` on Windows.  Anywhere else there is no wtsapi32: a farm this process
loaded (``wts.sim.load``, ``wts.sim.generate``) is the only thing to reach, so ``sim`` is used; with
none, we say how to use the simulated farm instead of guessing.
"""

from __future__ import annotations

import os
import sys

from . import _wts
from ._errors import ProviderError

__all__ = ["available_providers", "resolve_provider"]


def available_providers() -> tuple[str, ...]:
    """Providers compiled into this build, best first: ('win32', 'sim') on Windows, ('sim',) elsewhere."""
    return tuple(_wts.available_providers())


def resolve_provider(provider: str | _wts.Provider | None = None) -> _wts.Provider:
    """The provider to use, loading the sim's farm from ``WTS_SIM_FARM`` when it has none yet."""
    if isinstance(provider, _wts.Provider):
        chosen = provider
    else:
        name = provider or os.environ.get("WTS_PROVIDER") or _default()
        if name is None:
            raise ProviderError(
                f"no WTS provider on {sys.platform}: wtsapi32 exists only on Windows. "
                "To use the simulated farm, pass provider='sim' or set WTS_PROVIDER=sim, "
                "and name a farm file with WTS_SIM_FARM=<farm.json>, or load a farm first with "
                "wts.sim.load(path) or wts.sim.generate()"
            )
        try:
            chosen = _wts.get_provider(name.strip().lower())
        except LookupError as exc:
            raise ProviderError(str(exc)) from None
    if chosen.name == "sim" and not _wts.sim_loaded():
        farm = os.environ.get("WTS_SIM_FARM")
        if not farm:
            raise ProviderError(
                "the sim provider has no farm loaded: set WTS_SIM_FARM=<farm.json>, "
                "or call wts.sim.load(path) or wts.sim.generate(servers, sessions) first"
            )
        from . import sim  # deferred: only the sim path needs the farm compiler

        sim.load(farm)
    return chosen


def _default() -> str | None:
    if sys.platform == "win32":
        return "win32"
    return "sim" if _wts.sim_loaded() else None  # the farm this process loaded is all there is
