"""Alternate credentials for the providers that call as this machine's user (issue 13, item 8):
``credentials=`` on Server/Farm and ``-U`` with win32 run each call impersonating one
LogonUserW(LOGON32_LOGON_NEW_CREDENTIALS) token, as ``runas /netonly`` does.

The sim models it (src/wtsapi/wts_logon.c): the logon always succeeds, as NEW_CREDENTIALS does; a call
made impersonating credentials that match none of the farm's "accounts" fails with 1326 unsent, as a
server refuses a wrong password.  Its counters show that each call (engine workers and direct calls
alike) impersonated and reverted, and that the token is closed after use.  The win32 path runs where
there is a win32 provider: under Wine, whose LogonUserW is a stub (see test_win32_logon_under_wine)."""

from __future__ import annotations

import io
import pickle
import sys
from pathlib import Path

import pytest

import wts
from wts import _wts
from wts._winerror import WinError

PASSWORD = "Logon-Pa55"
GOOD = wts.Credentials("admin", "CONTOSO", PASSWORD)
FARM = {
    "seed": 5,
    "now": "2026-11-21T05:00:00Z",
    "accounts": [{"domain": "CONTOSO", "user": "admin", "password": PASSWORD}],
    "servers": [
        {
            "name": "RDS01",
            "sessions": [
                {"id": 2, "station": "RDP-Tcp#0", "state": "Active", "user": "alice", "domain": "CONTOSO"},
                {"id": 3, "station": "RDP-Tcp#1", "state": "Active", "user": "bob", "domain": "CONTOSO"},
            ],
        },
    ],
    "generate": [{"prefix": "APP", "count": 12, "sessions": 3}],
}


def counts() -> dict[str, int]:
    tokens, enters, leaves, refused = _wts.sim_logon_counts()
    return {"tokens": tokens, "enters": enters, "leaves": leaves, "refused": refused}


def delta(before: dict[str, int]) -> dict[str, int]:
    now = counts()
    return {k: now[k] - before[k] for k in now}


@pytest.fixture
def farm() -> None:
    wts.sim.load(FARM)


def test_every_call_impersonates_and_reverts(farm: None) -> None:
    before, rpcs = counts(), wts.sim.rpc_total()
    with wts.Farm("RDS01,APP[01-12]", provider="sim", credentials=GOOD, concurrency=8) as f:
        result = f.sessions(details=True)
        assert not result.failures and len(result.sessions) >= 2 + 12 * 3
        assert f.provider.principal == "CONTOSO\\admin"
        assert delta(before)["tokens"] == 1  # one logon for the whole farm, held while it is open
    made = wts.sim.rpc_total() - rpcs
    d = delta(before)
    # Every call the engine's workers made went impersonating, and reverted: as many as the sim served.
    assert d["enters"] == d["leaves"] == made > 13
    assert d["tokens"] == 0 and d["refused"] == 0  # closed with the farm
    before, rpcs = counts(), wts.sim.rpc_total()
    with wts.Server("RDS01", provider="sim", credentials=GOOD, timeout=None) as server:  # direct calls
        assert [s.user for s in server.sessions()] == ["alice", "bob"]
        server.disconnect(3)
        assert server.session_info(3).state == wts.ConnectState.DISCONNECTED
    d = delta(before)
    assert d["enters"] == d["leaves"] == wts.sim.rpc_total() - rpcs == 3
    assert d["tokens"] == 0


def test_without_credentials_nothing_is_impersonated(farm: None) -> None:
    before = counts()
    with wts.Farm("RDS01,APP01", provider="sim") as f:
        assert not f.sessions().failures
    assert delta(before) == {"tokens": 0, "enters": 0, "leaves": 0, "refused": 0}


@pytest.mark.parametrize(
    "creds",
    [
        wts.Credentials("admin", "CONTOSO", "x" + PASSWORD),
        wts.Credentials("nobody", "CONTOSO", PASSWORD),
        wts.Credentials("admin", "FABRIKAM", PASSWORD),
    ],
)
def test_a_wrong_logon_fails_every_call_with_1326_unsent(farm: None, creds: wts.Credentials) -> None:
    before, rpcs = counts(), wts.sim.rpc_total()
    with wts.Farm("RDS01,APP[01-03]", provider="sim", credentials=creds) as f:  # the logon itself succeeds
        result = f.sessions()
    assert sorted(x.server for x in result.failures) == ["APP01", "APP02", "APP03", "RDS01"]
    assert {x.error.winerror for x in result.failures} == {WinError.ERROR_LOGON_FAILURE}
    with wts.Server("RDS01", provider="sim", credentials=creds, timeout=None) as server:
        with pytest.raises(wts.AccessDeniedError) as info:
            server.disconnect(2)
    assert info.value.winerror == WinError.ERROR_LOGON_FAILURE
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(info.value)
    assert wts.sim.rpc_total() == rpcs  # nothing reached a server
    assert wts.Server("RDS01", provider="sim").session_info(2).state == wts.ConnectState.ACTIVE
    d = delta(before)
    assert d["refused"] == 5 and d["enters"] == 0 and d["tokens"] == 0


def test_a_farm_without_accounts_takes_no_alternate_logon() -> None:
    wts.sim.load({k: v for k, v in FARM.items() if k != "accounts"})
    with wts.Server("RDS01", provider="sim", credentials=GOOD) as server:
        with pytest.raises(wts.AccessDeniedError, match="1326"):
            server.sessions()


def test_closed_means_closed(farm: None) -> None:
    before = counts()
    f = wts.Farm("RDS01", provider="sim", credentials=GOOD)
    f.close()
    assert delta(before)["tokens"] == 0
    with pytest.raises(ValueError, match="logon as CONTOSO\\\\admin is closed"):
        f.sessions()  # never a call as this process's user instead
    server = wts.Server("RDS01", provider="sim", credentials=GOOD, timeout=None)
    provider = server.provider
    server.close()
    with pytest.raises(ValueError, match="is closed"):
        wts.Server("RDS01", provider=provider)


def test_the_password_shows_nowhere(farm: None) -> None:
    with wts.Farm("RDS01", provider="sim", credentials=GOOD) as f:
        for text in (repr(f), repr(f.provider), str(f.provider)):
            assert PASSWORD not in text
        assert "CONTOSO\\\\admin" in repr(f.provider)
        with pytest.raises(TypeError, match="does not pickle"):
            pickle.dumps(f.provider)


def test_arguments_are_checked(farm: None) -> None:
    with pytest.raises(wts.ProviderError, match="needs one"):
        wts.Server("RDS01", provider="sim", credentials=wts.Credentials("admin", "CONTOSO"))
    with pytest.raises(TypeError):
        wts.Farm("RDS01", provider="sim", credentials=("admin", PASSWORD))  # type: ignore[arg-type]
    with wts.Farm("RDS01", provider="sim", credentials=GOOD) as f:
        with pytest.raises(wts.ProviderError, match="already logs on"):
            wts.Farm("RDS01", provider=f.provider, credentials=GOOD)
    # A password with characters beyond the BMP reaches the logon whole (UTF-16 surrogates).
    wts.sim.load({**FARM, "accounts": [{"domain": "CONTOSO", "user": "admin", "password": "p\U0001f511w"}]})
    with wts.Server("RDS01", provider="sim", credentials=wts.Credentials("admin", "CONTOSO", "p\U0001f511w")) as s:
        assert len(s.sessions()) == 2
    with wts.Server("RDS01", provider="sim", credentials=wts.Credentials("admin", "CONTOSO", "p\U0001f512w")) as s:
        with pytest.raises(wts.AccessDeniedError):
            s.sessions()


def _cli(args: list[str]) -> tuple[int, str, str]:
    from wts._cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(args, stdin=io.StringIO(""), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_the_command_line_takes_U_for_the_sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    farm_file = tmp_path / "farm.json"
    farm_file.write_text(json.dumps(FARM), encoding="utf-8")
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    monkeypatch.delenv("WTS_PASSWORD", raising=False)
    base = ["--sim-farm", str(farm_file), "-U", "CONTOSO\\admin", "--password-file", str(secret)]
    before = counts()
    code, out, err = _cli([*base, "sessions", "-s", "RDS01", "--format", "json"])
    assert code == 0, err
    assert '"alice"' in out and PASSWORD not in out + err
    assert delta(before)["enters"] >= 1 and delta(before)["tokens"] == 0
    secret.write_text("wrong\n", encoding="utf-8")
    code, out, err = _cli([*base, "sessions", "-s", "RDS01"])
    assert code == 1
    assert "1326" in err and "wrong" not in out + err
    monkeypatch.setenv("WTS_PASSWORD", PASSWORD)
    code, out, err = _cli(
        ["--sim-farm", str(farm_file), "-U", "CONTOSO\\admin", "disconnect", "-s", "RDS01", "3", "--yes"]
    )
    assert code == 0, err


def _under_wine() -> bool:
    if sys.platform != "win32":
        return False
    import ctypes

    return hasattr(ctypes.WinDLL("ntdll"), "wine_get_version")


@pytest.mark.skipif("win32" not in wts.available_providers(), reason="the win32 provider needs Windows")
def test_win32_logon_under_wine_or_windows() -> None:
    """Through advapi32: LogonUserW(NEW_CREDENTIALS, WINNT50) and ImpersonateLoggedOnUser per call.

    Wine 8's LogonUserW is a stub that succeeds with the handle 0xdeadbeef and checks nothing;
    impersonating that handle fails, so each call fails with that error before it is made.  On Windows
    the logon of a local account with any password succeeds (NEW_CREDENTIALS checks nothing) and calls
    to this machine go as the process's own user."""
    provider = _wts.logon_provider(_wts.get_provider("win32"), "nobody", "WTSTEST", "not-checked")
    try:
        assert provider.principal == "WTSTEST\\nobody" and provider.name == "win32"
        # The local server: direct calls on this thread, and calls with a deadline on the engine's workers.
        direct = wts.Server(None, provider=provider, timeout=None)
        engine = wts.Server(None, provider=provider, timeout=30)
        for server in (direct, engine):
            if _under_wine():
                with pytest.raises(wts.WTSError) as info:
                    server.sessions()
                assert info.value.winerror == WinError.ERROR_INVALID_HANDLE
            else:
                assert isinstance(server.sessions(), list)
            server.close()
    finally:
        provider.close_logon()
