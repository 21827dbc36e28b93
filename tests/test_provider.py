"""Choosing the provider: the provider= argument, WTS_PROVIDER / WTS_SIM_FARM, and the errors when none
(or an unknown one) is chosen.

The sim's farm, once loaded, stays loaded for the life of the process, so what happens when no farm
is loaded yet (WTS_SIM_FARM) is checked in fresh interpreters.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import wts
from wts import ProviderError

REFERENCE_FARM = Path(__file__).resolve().parent / "farms" / "windows.json"

off_windows = pytest.mark.skipif(sys.platform == "win32", reason="on Windows win32 is the default provider")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WTS_PROVIDER", raising=False)
    monkeypatch.delenv("WTS_SIM_FARM", raising=False)


def test_available_providers() -> None:
    names = wts.available_providers()
    assert isinstance(names, tuple)
    assert names[-1] == "sim"
    if sys.platform == "win32":
        assert names == ("win32", "sim")
    else:
        assert names == ("sim",)


@pytest.mark.parametrize("spelling", ["sim", "SIM", "  Sim  "])
def test_provider_argument(farm: object, spelling: str) -> None:
    with wts.Server("RDS01", provider=spelling) as s:
        assert s.provider.name == "sim"
        assert [x.id for x in s.sessions()][:3] == [0, 1, 2]


def test_provider_object(farm: object) -> None:
    with wts.Server("RDS01", provider="sim") as a:
        p = a.provider
    with wts.Server("RDS02", provider=p) as b:
        assert b.provider is p
        assert len(b.sessions()) == 5
    assert repr(p) == "<wts provider 'sim'>"
    assert pickle.loads(pickle.dumps(p)) is p


def test_wts_provider_env(farm: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WTS_PROVIDER", " Sim ")
    with wts.Server("RDS01") as s:
        assert s.provider.name == "sim"
        assert s.session_info(2).user == "alice"
    with wts.Server() as s:
        assert s.name is None
        assert s.session_info(wts.CURRENT_SESSION).id == 2
    wts.connect(3, password="bobpw")  # connect resolves the provider the same way
    with wts.Server("RDS01") as s:
        assert s.session_by_name("RDP-Tcp#0").id == 3


def test_argument_beats_env(farm: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WTS_PROVIDER", "nope")
    with wts.Server("RDS01", provider="sim") as s:
        assert s.provider.name == "sim"
    with pytest.raises(ProviderError, match="nope"):
        wts.Server("RDS01")


def test_sim_farm_env_ignored_when_a_farm_is_loaded(
    farm: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WTS_PROVIDER", "sim")
    monkeypatch.setenv("WTS_SIM_FARM", str(tmp_path / "does-not-exist.json"))
    with wts.Server("RDS01") as s:
        assert s.session_info(2).user == "alice"


@off_windows
@pytest.mark.parametrize("env", [None, ""], ids=["unset", "empty"])
def test_nothing_chosen_off_windows_says_how_to_use_sim(monkeypatch: pytest.MonkeyPatch, env: str | None) -> None:
    if env is not None:
        monkeypatch.setenv("WTS_PROVIDER", env)
    else:
        monkeypatch.delenv("WTS_PROVIDER", raising=False)
    # No farm loaded in this process: nothing to reach (with one, the sim is used: test_trust_input).
    monkeypatch.setattr(wts._provider._wts, "sim_loaded", lambda: False)
    with pytest.raises(ProviderError) as info:
        wts.Server("RDS01")
    text = str(info.value)
    assert sys.platform in text
    assert "wtsapi32" in text
    assert "provider='sim'" in text
    assert "WTS_PROVIDER=sim" in text
    assert "WTS_SIM_FARM" in text
    with pytest.raises(ProviderError, match="WTS_PROVIDER=sim"):
        wts.connect(3, password="bobpw")
    with pytest.raises(ProviderError):
        wts.Server()


@pytest.mark.parametrize("name", ["nope", "wtsapi32", "simulated"])
def test_unknown_provider_name(farm: object, name: str) -> None:
    with pytest.raises(ProviderError) as info:
        wts.Server("RDS01", provider=name)
    text = str(info.value)
    assert repr(name) in text
    assert "sim" in text
    with pytest.raises(ProviderError):
        wts.connect(3, password="bobpw", provider=name)


def test_unknown_provider_from_env(farm: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WTS_PROVIDER", "carrier-pigeon")
    with pytest.raises(ProviderError, match="carrier-pigeon"):
        wts.Server("RDS01")


@off_windows
def test_win32_off_windows(farm: object, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ProviderError) as info:
        wts.Server("RDS01", provider="win32")
    assert "only on Windows" in str(info.value)
    assert "provider='sim'" in str(info.value)
    monkeypatch.setenv("WTS_PROVIDER", "win32")
    with pytest.raises(ProviderError, match="only on Windows"):
        wts.Server("RDS01")


def test_provider_errors_leak_nothing(farm: object) -> None:
    before = wts.sim.outstanding()
    names = ["nope"] if sys.platform == "win32" else ["nope", "win32"]
    for name in names:
        with pytest.raises(ProviderError):
            wts.Server("RDS01", provider=name)
    assert wts.sim.outstanding() == before


# ------------------------------------------------------------------------------------------------
# A fresh process: no farm loaded yet
# ------------------------------------------------------------------------------------------------


def run(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WTS_")}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


LIST_RDS01 = """
    import wts
    with wts.Server("RDS01") as s:
        print(";".join(f"{x.id}:{x.user}" for x in s.sessions()))
    print("outstanding", wts.sim.outstanding())
"""


def test_sim_farm_env_loads_the_farm(tmp_path: Path) -> None:
    done = run(LIST_RDS01, tmp_path, WTS_PROVIDER="sim", WTS_SIM_FARM=str(REFERENCE_FARM))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["0:;1:admin;2:alice;3:bob;4:carol;5:dave;6:;65536:", "outstanding 0"]


def test_sim_farm_env_with_provider_argument(tmp_path: Path) -> None:
    code = """
        import wts
        assert not wts.sim.loaded()
        wts.connect(3, password="bobpw", provider="sim")
        assert wts.sim.loaded()
        with wts.Server(None, provider="sim") as s:
            print(s.session_by_name("RDP-Tcp#0").user)
    """
    done = run(code, tmp_path, WTS_SIM_FARM=str(REFERENCE_FARM))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "bob"


def test_sim_without_farm_says_how_to_load_one(tmp_path: Path) -> None:
    code = """
        import wts
        try:
            wts.Server("RDS01", provider="sim")
        except wts.ProviderError as exc:
            print("ProviderError:", exc)
        print("loaded", wts.sim.loaded(), "outstanding", wts.sim.outstanding())
    """
    done = run(code, tmp_path)
    assert done.returncode == 0, done.stderr
    first, last = done.stdout.splitlines()
    assert first.startswith("ProviderError:")
    assert "WTS_SIM_FARM" in first
    assert "wts.sim.load" in first
    assert last == "loaded False outstanding 0"


def test_sim_farm_env_with_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"servers": [\n', encoding="utf-8")
    code = """
        import wts
        try:
            wts.Server("RDS01")
        except wts.sim.FarmFileError as exc:
            print("FarmFileError:", exc)
        print("loaded", wts.sim.loaded())
    """
    done = run(code, tmp_path, WTS_PROVIDER="sim", WTS_SIM_FARM=str(bad))
    assert done.returncode == 0, done.stderr
    first, last = done.stdout.splitlines()
    assert first.startswith(f"FarmFileError: {bad}:")
    assert last == "loaded False"
