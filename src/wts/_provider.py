"""Choosing the WTS provider: ``win32`` (the real wtsapi32), ``sim`` (the simulated farm) or ``tsts``
(MS-TSTS over SMB to any RD Session Host, needing the ``remote`` extra).

Order: the ``provider=`` argument, else ``WTS_PROVIDER`` (with ``WTS_SIM_FARM`` naming the farm file
for ``sim``), else ``win32`` on Windows.  Anywhere else there is no wtsapi32: a farm this process
loaded (``wts.sim.load``, ``wts.sim.generate``) is the only thing to reach, so ``sim`` is used; with
none, we say how to use the simulated farm instead of guessing.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from . import _wts
from ._errors import ProviderError

if TYPE_CHECKING:
    from ._credentials import Credentials

__all__ = ["available_providers", "resolve_provider"]


def available_providers() -> tuple[str, ...]:
    """Providers compiled into this build, best first: ('win32', 'sim') on Windows, ('sim',) elsewhere."""
    return tuple(_wts.available_providers())


def resolve_provider(
    provider: str | _wts.Provider | None = None,
    credentials: Credentials | None = None,
    connect_timeout: float | None = None,
    encrypt: bool = False,
) -> _wts.Provider:
    """The provider to use, loading the sim's farm from ``WTS_SIM_FARM`` when it has none yet.

    For ``tsts`` given ``credentials``, ``connect_timeout`` or ``encrypt`` (or by name), a provider of
    its own: its connections belong to the caller (``owns_connections``), who closes them."""
    if not isinstance(encrypt, bool):
        raise TypeError(f"encrypt must be True or False, not {type(encrypt).__name__}")
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
    if chosen.name == "tsts":
        return _tsts(chosen, provider, credentials, connect_timeout, encrypt)
    if encrypt:
        raise ProviderError(
            f"encrypt is for the tsts provider (SMB 3 encryption of MS-TSTS), not {chosen.name}: "
            "pass provider='tsts' or set WTS_PROVIDER=tsts"
        )
    if connect_timeout is not None:
        raise ProviderError(
            f"connect_timeout is for the tsts provider (MS-TSTS over the network), "
            f"not {chosen.name}: pass provider='tsts' or set WTS_PROVIDER=tsts"
        )
    if chosen.name == "sim" and not _wts.sim_loaded():
        farm = os.environ.get("WTS_SIM_FARM")
        if not farm:
            raise ProviderError(
                "the sim provider has no farm loaded: set WTS_SIM_FARM=<farm.json>, "
                "or call wts.sim.load(path) or wts.sim.generate(servers, sessions) first"
            )
        from . import sim  # deferred: only the sim path needs the farm compiler

        sim.load(farm)
    if credentials is not None:
        return _logon(chosen, credentials)
    return chosen


def _logon(chosen: _wts.Provider, credentials: Credentials) -> _wts.Provider:
    """win32 (or sim) under alternate credentials, as ``runas /netonly``: a provider of its own whose
    every call impersonates one LogonUserW(LOGON32_LOGON_NEW_CREDENTIALS) token."""
    from ._credentials import Credentials

    if not isinstance(credentials, Credentials):
        raise TypeError(f"credentials must be a wts.Credentials, not {type(credentials).__name__}")
    if chosen.principal is not None:
        raise ProviderError(
            f"the provider already logs on as {chosen.principal}: pass its name, not it, with credentials"
        )
    if credentials.password is None:
        raise ProviderError(
            f"credentials for {credentials.principal} without a password: the {chosen.name} provider's "
            "alternate logon (as runas /netonly) needs one; without credentials the calls go as this process's user"
        )
    return _wts.logon_provider(chosen, credentials.user, credentials.domain, credentials.password)


def _default() -> str | None:
    if sys.platform == "win32":
        return "win32"
    return "sim" if _wts.sim_loaded() else None  # the farm this process loaded is all there is


def _tsts(
    chosen: _wts.Provider,
    given: str | _wts.Provider | None,
    credentials: Credentials | None,
    connect_timeout: float | None,
    encrypt: bool,
) -> _wts.Provider:
    from ._credentials import Credentials
    from ._tsts._auth import import_remote

    import_remote("smbprotocol")  # a missing extra is one line now, not a failure at the first call
    import_remote("spnego")
    if isinstance(given, _wts.Provider) and credentials is None and connect_timeout is None and not encrypt:
        return chosen  # a provider the caller made: its connections are the caller's
    if credentials is not None and not isinstance(credentials, Credentials):
        raise TypeError(f"credentials must be a wts.Credentials, not {type(credentials).__name__}")
    from ._tsts._client import Connections

    try:
        connections = Connections(credentials, 5.0 if connect_timeout is None else connect_timeout, encrypt=encrypt)
    except ValueError as exc:
        raise ProviderError(str(exc)) from None
    return _wts.tsts_provider(connections)


def owns_connections(provider: _wts.Provider, given: str | _wts.Provider | None) -> bool:
    """True when ``provider`` was made for its caller (a tsts provider with connections of its own, or
    win32 / sim with a logon of its own)."""
    return (provider.connections is not None or provider.principal is not None) and provider is not given


def close_connections(provider: _wts.Provider) -> None:
    """Close a tsts provider's SMB sessions and pipes, or let go of a win32 / sim provider's logon (its
    token closes when the last call using it is done)."""
    connections = provider.connections
    if connections is not None:
        connections.close()
    provider.close_logon()
