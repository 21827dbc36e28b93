"""Shared fixtures for the wts behaviour suite.

* ``farm`` loads tests/farms/windows.json (the reference farm) before the test and returns the
  CompiledFarm; function scope, so every test starts from a fresh farm.
* ``sim`` is ``farm`` for tests that change state: they only ever run against the simulated farm.
* ``provider`` runs read-only tests twice: against the sim (with the reference farm) and against the
  real wtsapi32 ("win32"), which is skipped unless this is Windows and the build has it.
* After every test, nothing the sim handed out may still be alive: no handle, buffer or string.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import wts

FARMS = Path(__file__).resolve().parent / "farms"
REFERENCE_FARM = FARMS / "windows.json"


@pytest.fixture(autouse=True)
def _no_leaks() -> Iterator[None]:
    """The project's guarantee: every server handle, buffer and string is released."""
    yield
    wts.sim.release_hangs()
    gc.collect()
    assert wts.sim.outstanding() == 0, "the test leaked sim allocations (handles, buffers or strings)"


@pytest.fixture
def farm() -> wts.sim.CompiledFarm:
    """The reference farm, freshly loaded."""
    return wts.sim.load(REFERENCE_FARM)


@pytest.fixture
def sim(farm: wts.sim.CompiledFarm) -> wts.sim.CompiledFarm:
    """The reference farm, for tests that change state (disconnect, logoff, connect, message):
    those never run against a real server."""
    return farm


def _win32_usable() -> bool:
    return sys.platform == "win32" and "win32" in wts.available_providers()


@pytest.fixture(params=["sim", "win32"])
def provider(request: pytest.FixtureRequest) -> str:
    """A provider name for read-only tests of the local server.  With "sim" the reference farm is
    loaded (its local server is RDS01, the caller in session 2)."""
    name = request.param
    if name == "win32":
        if not _win32_usable():
            pytest.skip("the win32 provider needs Windows and a build with wtsapi32")
    else:
        request.getfixturevalue("farm")
    return name
