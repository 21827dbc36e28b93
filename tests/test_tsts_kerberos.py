"""Kerberos over ``tsts``, proven on loopback: a realm of our own (tests/krb5_kdc.py: ``krb5kdc`` on
127.0.0.1, started and stopped by conftest's ``kdc``), alice's ticket from ``kinit`` and no password,
``wts sim serve --keytab`` as the acceptor for ``cifs/NAME`` (SMB) and ``host/NAME`` (RPC).  The
served side writes every logon with its mechanism (``--logons``), so each test that should be
Kerberos asserts it was, and an NTLM fallback fails.  Names, not addresses: the servers are named
``rds01``/``rds02`` and ``WTS_TSTS_ADDRESSES`` says where they listen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("smbprotocol")
pytest.importorskip("spnego")

import wts
from wts._winerror import WinError

FARM = {
    "seed": 7,
    "now": "2026-11-21T05:00:00Z",
    "accounts": [{"domain": "WTS", "user": "alice", "password": "not-used-by-kerberos-9"}],
    "servers": [
        {
            "name": "rds01",
            "sessions": [
                {"id": 0, "station": "Services", "state": "Disconnected"},
                {"id": 2, "station": "RDP-Tcp#0", "state": "Active", "user": "alice", "domain": "WTS"},
                {"id": 3, "station": "RDP-Tcp#1", "state": "Active", "user": "bob", "domain": "WTS"},
            ],
        },
        {"name": "rds02", "sessions": [{"id": 5, "station": "RDP-Tcp#4", "state": "Active", "user": "carol"}]},
    ],
}
HOSTS = ("rds01", "rds02")


class Kerberized:
    def __init__(self, served: Any, realm: Any, logons: Path) -> None:
        self.served = served
        self.realm = realm
        self.logons = logons

    def records(self) -> list[dict[str, Any]]:
        if not self.logons.exists():
            return []
        return [json.loads(line) for line in self.logons.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def kerberized(kdc: Any, sim_serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Kerberized:
    """The realm, ``wts sim serve FARM --keytab --logons`` for rds01 and rds02, the client told where
    they are (WTS_TSTS_ADDRESSES) and on which port."""
    realm = kdc(*HOSTS)
    logons = tmp_path / "logons.jsonl"
    served = sim_serve(FARM, "--keytab", str(realm.keytab), "--logons", str(logons))
    monkeypatch.setenv("WTS_TSTS_PORT", str(served.port))
    monkeypatch.setenv("WTS_TSTS_ADDRESSES", ",".join(f"{n}={a}" for n, a in served.servers.items()))
    monkeypatch.delenv("WTS_PASSWORD", raising=False)
    return Kerberized(served, realm, logons)


def test_a_ticket_and_no_password_lists_reads_and_disconnects_over_kerberos(kerberized: Kerberized) -> None:
    with wts.Server("rds01", provider="tsts") as server:
        rows = [(s.id, s.station, s.state, s.user) for s in server.sessions()]
        assert rows == [
            (0, "Services", wts.ConnectState.DISCONNECTED, ""),
            (2, "RDP-Tcp#0", wts.ConnectState.ACTIVE, "alice"),
            (3, "RDP-Tcp#1", wts.ConnectState.ACTIVE, "bob"),
        ]
        info = server.session_info(2)
        assert (info.id, info.user, info.station) == (2, "alice", "RDP-Tcp#0")
        server.disconnect(3)
    # The effect on the served farm, seen by a connection of its own.
    with wts.Server("rds01", provider="tsts") as again:
        assert {s.id: s.state for s in again.sessions()}[3] == wts.ConnectState.DISCONNECTED
    records = kerberized.records()
    layers = {r["layer"] for r in records}
    assert layers == {"smb", "rpc"}, records
    for record in records:
        assert record["server"] == "rds01"
        assert record["mechanism"] == "kerberos", record  # an NTLM fallback fails here
        assert record["principal"] == "alice@WTS.TEST"
        assert record["account"] == "WTS\\alice"
    # The KDC issued the two service tickets the names ask for: cifs/ for SMB, host/ for RPC.
    kdc_log = (kerberized.realm.where / "kdc.log").read_text(encoding="utf-8", errors="replace")
    assert "alice@WTS.TEST for cifs/rds01@WTS.TEST" in kdc_log
    assert "alice@WTS.TEST for host/rds01@WTS.TEST" in kdc_log


def test_the_command_line_with_only_a_ticket(kerberized: Kerberized) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "wts", "--provider", "tsts", "sessions", "-s", "rds01,rds02"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "WTS_PASSWORD": ""},
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "alice" in done.stdout and "carol" in done.stdout
    assert {(r["server"], r["mechanism"]) for r in kerberized.records()} == {
        ("rds01", "kerberos"),
        ("rds02", "kerberos"),
    }


def test_without_a_ticket_one_clear_line_and_1326(kerberized: Kerberized) -> None:
    kerberized.realm.kdestroy()
    with wts.Server("rds01", provider="tsts") as server:
        with pytest.raises(wts.WTSError) as info:
            server.sessions()
    message = str(info.value)
    assert info.value.winerror == WinError.ERROR_LOGON_FAILURE, message
    assert "\n" not in message and "rds01" in message
    # Windows' text, then why (the provider's reason crosses the C seam beside the code).
    assert "The user name or password is incorrect: " in message
    assert "No Kerberos credentials available" in message
    assert "Traceback" not in message
    assert kerberized.records() == []


def test_a_name_the_realm_has_no_key_for_is_a_clear_error(
    kerberized: Kerberized, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rds03 listens (rds01's address) but the KDC knows no cifs/rds03 or host/rds03."""
    monkeypatch.setenv("WTS_TSTS_ADDRESSES", f"rds03={kerberized.served.servers['rds01']}")
    with wts.Server("rds03", provider="tsts") as server:
        with pytest.raises(wts.WTSError) as info:
            server.sessions()
    message = str(info.value)
    assert info.value.winerror == WinError.ERROR_LOGON_FAILURE, message
    assert "\n" not in message and "rds03" in message
    assert "cifs/rds03@WTS.TEST not found in Kerberos database" in message
    assert kerberized.records() == []


def test_a_principal_without_an_account_is_refused(
    kdc: Any, sim_serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """alice holds a good ticket, but the farm's accounts name only bob: access denied (5)."""
    realm = kdc(*HOSTS)
    farm = {**FARM, "accounts": [{"domain": "WTS", "user": "bob", "password": "B0b-pa55w.rd"}]}
    logons = tmp_path / "logons.jsonl"
    served = sim_serve(farm, "--keytab", str(realm.keytab), "--logons", str(logons))
    monkeypatch.setenv("WTS_TSTS_PORT", str(served.port))
    monkeypatch.setenv("WTS_TSTS_ADDRESSES", f"rds01={served.servers['rds01']}")
    with wts.Server("rds01", provider="tsts") as server:
        with pytest.raises(wts.WTSError) as info:
            server.sessions()
    assert info.value.winerror == WinError.ERROR_ACCESS_DENIED, str(info.value)
    assert not logons.exists() or logons.read_text() == ""


def test_ntlm_still_works_beside_kerberos(kerberized: Kerberized) -> None:
    """The same server, a password: NTLM, recorded as such."""
    creds = wts.Credentials("alice", "WTS", "not-used-by-kerberos-9")
    with wts.Server("rds01", provider="tsts", credentials=creds) as server:
        assert [s.id for s in server.sessions()] == [0, 2, 3]
    records = kerberized.records()
    assert {(r["layer"], r["mechanism"], r["account"]) for r in records} == {
        ("smb", "ntlm", "WTS\\alice"),
        ("rpc", "ntlm", "WTS\\alice"),
    }, records


def test_serve_refuses_a_keytab_it_cannot_use(kdc: Any, tmp_path: Path) -> None:
    kdc()
    farm = tmp_path / "farm.json"
    farm.write_text(json.dumps(FARM), encoding="utf-8")
    empty = tmp_path / "empty.keytab"
    empty.write_bytes(b"")
    for keytab, reason in ((tmp_path / "absent.keytab", "no such readable file"), (empty, "no key to accept with")):
        done = subprocess.run(
            [sys.executable, "-m", "wts", "sim", "serve", str(farm), "--port", "14449", "--keytab", str(keytab)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and reason in lines[0] and "--keytab" in lines[0], done.stderr


def test_a_malformed_address_map_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WTS_TSTS_ADDRESSES", "rds01=127.0.0.2,rds02")
    with pytest.raises(wts.ProviderError, match=r"^WTS_TSTS_ADDRESSES: 'rds02' is not NAME=ADDRESS$"):
        wts.Server("rds01", provider="tsts").sessions()


def test_the_acceptor_takes_bare_kerberos_auth_type_16(kdc: Any) -> None:
    """RPC auth type 16 (RPC_C_AUTHN_GSS_KERBEROS, no SPNEGO), DCE style at packet privacy, as
    ``wts sim serve --keytab`` accepts it: three legs, then a stub the acceptor seals and the client opens."""
    import spnego

    from wts._tsts import _auth

    kdc(*HOSTS)
    flags = _auth._context_req(_auth.AUTHN_LEVEL_PKT_PRIVACY)
    client = spnego.client(None, None, hostname="rds01", service="host", protocol="kerberos", context_req=flags)
    server = _auth.ServerAuth(
        [_auth.Account("WTS", "alice", "x")], _auth.AUTHN_GSS_KERBEROS, _auth.AUTHN_LEVEL_PKT_PRIVACY, kerberos=True
    )
    token = client.step()
    while not (client.complete and server.complete):
        token = server.step(token)
        if token is None or client.complete:
            break
        token = client.step(token)
    assert client.complete and server.complete
    assert (server.mechanism, server.principal) == ("kerberos", "alice@WTS.TEST")
    assert server.account is not None and server.account.user == "alice"
    from spnego.iov import BufferType

    header, stub, trailer = b"H" * 16, b"a stub of 24 bytes......", b"T" * 8
    sealed, signature = server.seal(header, stub, trailer)
    assert sealed != stub
    opened = client.unwrap_iov(
        [
            (BufferType.sign_only, header),
            (BufferType.data, sealed),
            (BufferType.sign_only, trailer),
            (BufferType.header, signature),
        ]
    )
    assert opened.buffers[1].data == stub
    with pytest.raises(_auth.AuthError) as info:  # without --keytab, 16 is not offered
        _auth.ServerAuth([], _auth.AUTHN_GSS_KERBEROS)
    assert info.value.winerror == WinError.ERROR_ACCESS_DENIED
