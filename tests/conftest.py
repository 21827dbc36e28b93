"""Shared fixtures for the wts behaviour suite.

* ``farm`` loads tests/farms/windows.json (the reference farm) before the test and returns the
  CompiledFarm; function scope, so every test starts from a fresh farm.
* ``sim`` is ``farm`` for tests that change state: they only ever run against the simulated farm.
* ``provider`` runs read-only tests twice: against the sim (with the reference farm) and against the
  real wtsapi32 ("win32"), which is skipped unless this is Windows and the build has it.  Under Wine,
  "win32" runs only when wtsapi32.dll is our simulator (then it gets the reference farm too); Wine's
  own wtsapi32 has no sessions, and tests/test_wine_stubs.py covers it instead.
* After every test, nothing the sim handed out may still be alive: no handle, buffer or string.
"""

from __future__ import annotations

import functools
import gc
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import wts
from wts import _wts

FARMS = Path(__file__).resolve().parent / "farms"

try:  # property-based tests (tests/test_properties*.py): bounded in time, nothing written to disk
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "wts",
        max_examples=int(os.environ.get("WTS_HYPOTHESIS_EXAMPLES", "200")),
        deadline=None,  # CI machines are shared: time per example is not the property under test
        database=None,  # no .hypothesis directory in the tree, nor beside an installed wheel's tests
        suppress_health_check=[HealthCheck.too_slow],
        derandomize=os.environ.get("WTS_HYPOTHESIS_RANDOM") != "1",  # reproducible unless asked
    )
    settings.load_profile("wts")
except ImportError:  # pragma: no cover - hypothesis is in the test extra and CI's pins
    pass
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


@functools.cache
def wine_version() -> str | None:
    """Wine's version when this Windows Python runs under Wine (ntdll exports wine_get_version), else None."""
    if sys.platform != "win32":
        return None
    import ctypes

    get = getattr(ctypes.WinDLL("ntdll"), "wine_get_version", None)
    if get is None:
        return None
    get.restype = ctypes.c_char_p
    return str(get().decode("ascii"))


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Which build is under test: CI runs the suite against installed wheels, never the source tree."""
    lines = [
        f"wts {wts.__version__} from {Path(wts.__file__).parent}",
        f"wts._wts: {_wts.__file__}",
        f"providers: {', '.join(wts.available_providers())}; simulated farm in {_wts.sim_backend()}",
    ]
    if wine_version() is not None:
        lines.append(f"under Wine {wine_version()}")
    return lines


def _win32_skip_reason() -> str | None:
    if sys.platform != "win32" or "win32" not in wts.available_providers():
        return "the win32 provider needs Windows and a build with wtsapi32"
    if wine_version() is not None and _wts.sim_backend() != "wtsapi32.dll":
        # Under Wine with our simulator as wtsapi32.dll the win32 provider reaches the reference farm:
        # those runs keep these tests.
        return "Wine's own wtsapi32 is stubs with no sessions; tests/test_wine_stubs.py pins what it returns"
    return None


@pytest.fixture(params=["sim", "win32"])
def provider(request: pytest.FixtureRequest) -> str:
    """A provider name for read-only tests of the local server.  With "sim" the reference farm is
    loaded (its local server is RDS01, the caller in session 2)."""
    name = request.param
    if name == "win32":
        reason = _win32_skip_reason()
        if reason is not None:
            if os.environ.get("WTS_TEST_REQUIRE_WIN32") == "1":  # CI's Windows job: these must run
                pytest.fail(f"WTS_TEST_REQUIRE_WIN32=1, but {reason}")
            pytest.skip(reason)
        if _wts.sim_backend() == "wtsapi32.dll":
            request.getfixturevalue("farm")  # the win32 provider is our simulator: give it the farm
    else:
        request.getfixturevalue("farm")
    return name


def _retry_wine_process_starts() -> None:
    """Under Wine, CreateProcess now and then fails with ERROR_INTERNAL_ERROR (1359) on a loaded
    machine (seen once in CI's Wine run: `python -m wts` never started).  That is Wine's, not ours: a
    test that starts a process tries again, up to four times.  Popen.__init__ cleans up after a failed
    start, so calling it again on the same object starts from scratch."""
    import subprocess
    import time

    start = subprocess.Popen.__init__

    def start_again_on_wine_flakes(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
        for attempt in range(4):
            try:
                start(self, *args, **kwargs)
                return
            except OSError as exc:
                if getattr(exc, "winerror", None) != 1359 or attempt == 3:
                    raise
                time.sleep(0.25 * (attempt + 1))

    subprocess.Popen.__init__ = start_again_on_wine_flakes  # type: ignore[method-assign]


if wine_version() is not None:
    _retry_wine_process_starts()
