"""RPC authentication (src/wts/_tsts/_auth.py): our client and server contexts against each other, and
each against impacket's NTLM, an implementation we did not write: the same keys, the same DCE-style
seal (signature over header + stub + trailer, only the stub encrypted), byte for byte."""

from __future__ import annotations

import pickle
import struct

import pytest

pytest.importorskip("spnego")
impacket_ntlm = pytest.importorskip("impacket.ntlm")
ARC4 = pytest.importorskip("Cryptodome.Cipher.ARC4")

from wts import Credentials  # noqa: E402
from wts._tsts._auth import (  # noqa: E402
    AUTHN_GSS_NEGOTIATE,
    AUTHN_LEVEL_PKT_INTEGRITY,
    AUTHN_WINNT,
    Account,
    AuthError,
    ClientAuth,
    ServerAuth,
)
from wts._winerror import WinError  # noqa: E402

PASSWORD = "Pa55-w0rd!"
CREDS = Credentials("admin", "CONTOSO", PASSWORD)
ACCOUNTS = [Account("CONTOSO", "admin", PASSWORD), Account("CONTOSO", "other", "x")]
# A request PDU's first 24 bytes (version 5.0, type 0, flags first|last, NDR data rep) and a sec_trailer:
# their content does not matter to the seal, only that both sides sign the same bytes.
HEADER = bytes([5, 0, 0, 3, 0x10, 0, 0, 0]) + struct.pack("<HHI", 120, 16, 2) + struct.pack("<IHH", 64, 0, 10)
TRAILER = struct.pack("<BBBBI", AUTHN_WINNT, 6, 0, 0, 79231)


def _logon(client: ClientAuth, server: ServerAuth) -> None:
    token = client.step(None)
    token = server.step(token)
    token = client.step(token)
    assert client.complete
    assert server.step(token) is None
    assert server.complete


def test_client_and_server_seal_for_each_other() -> None:
    client, server = ClientAuth(CREDS, "127.0.0.2"), ServerAuth(ACCOUNTS)
    _logon(client, server)
    assert server.principal == "CONTOSO\\admin"
    assert client.auth_type == server.auth_type == AUTHN_WINNT
    assert client.signature_size == 16
    for n in range(3):  # sequence numbers advance on both sides, per direction
        stub = b"request %d " % n * 5
        sealed, signature = client.seal(HEADER, stub, TRAILER)
        assert sealed != stub and len(sealed) == len(stub) and len(signature) == 16
        assert server.unseal(HEADER, sealed, TRAILER, signature) == stub
        answer = b"answer %d" % n
        sealed, signature = server.seal(HEADER, answer, TRAILER)
        assert client.unseal(HEADER, sealed, TRAILER, signature) == answer


def test_signature_covers_header_and_trailer() -> None:
    for tamper in ("header", "trailer", "stub"):
        client, server = ClientAuth(CREDS, "srv"), ServerAuth(ACCOUNTS)
        _logon(client, server)
        sealed, signature = client.seal(HEADER, b"x" * 32, TRAILER)
        header, trailer = HEADER, TRAILER
        if tamper == "header":
            header = HEADER[:-2] + bytes([HEADER[-2] ^ 1, HEADER[-1]])  # another opnum
        elif tamper == "trailer":
            trailer = TRAILER[:-1] + bytes([TRAILER[-1] ^ 1])  # another context id
        else:
            sealed = bytes([sealed[0] ^ 1]) + sealed[1:]
        with pytest.raises(AuthError) as info:
            server.unseal(header, sealed, trailer, signature)
        assert info.value.winerror == WinError.ERROR_ACCESS_DENIED


def test_integrity_level_signs_without_encrypting() -> None:
    client = ClientAuth(CREDS, "srv", level=AUTHN_LEVEL_PKT_INTEGRITY)
    server = ServerAuth(ACCOUNTS, level=AUTHN_LEVEL_PKT_INTEGRITY)
    _logon(client, server)
    stub, signature = client.seal(HEADER, b"plain", TRAILER)
    assert stub == b"plain"
    assert server.unseal(HEADER, stub, TRAILER, signature) == b"plain"


@pytest.mark.parametrize(
    "creds",
    [
        Credentials("admin", "CONTOSO", "wrong"),
        Credentials("nobody", "CONTOSO", PASSWORD),
        Credentials("admin", "FABRIKAM", PASSWORD),
    ],
    ids=["wrong password", "unknown user", "other domain"],
)
def test_a_refused_logon_is_1326_and_never_shows_the_password(creds: Credentials) -> None:
    client, server = ClientAuth(creds, "srv"), ServerAuth(ACCOUNTS)
    token = client.step(server.step(client.step(None)))
    with pytest.raises(AuthError) as info:
        server.step(token)
    assert info.value.winerror == WinError.ERROR_LOGON_FAILURE
    assert not server.complete
    for secret in (PASSWORD, "wrong"):
        assert secret not in str(info.value)
        assert secret not in repr(client) + repr(server) + repr(creds) + repr(ACCOUNTS)


def test_accounts_are_per_server_and_do_not_leak_to_other_acceptors() -> None:
    # Two acceptors with different accounts, stepped interleaved: each answers from its own.
    a, b = ServerAuth([Account("A", "u", "pa")]), ServerAuth([Account("B", "u", "pb")])
    ca, cb = ClientAuth(Credentials("u", "A", "pa"), "a"), ClientAuth(Credentials("u", "B", "pa"), "b")
    ta, tb = ca.step(None), cb.step(None)
    ta, tb = a.step(ta), b.step(tb)
    ta, tb = ca.step(ta), cb.step(tb)
    assert a.step(ta) is None and a.complete
    with pytest.raises(AuthError):
        b.step(tb)  # B's u has another password


def test_credentials_hide_the_password() -> None:
    creds = Credentials.parse("CONTOSO\\admin", PASSWORD)
    assert (creds.user, creds.domain, creds.password) == ("admin", "CONTOSO", PASSWORD)
    assert PASSWORD not in repr(creds) and PASSWORD not in str(creds) and PASSWORD not in f"{creds}"
    assert "***" in repr(creds)
    with pytest.raises(TypeError):
        pickle.dumps(creds)
    assert Credentials.parse("admin@contoso.com").domain == ""
    assert Credentials.parse("admin@contoso.com").password is None
    for bad in ("", "CONTOSO\\", "a\nb"):
        with pytest.raises(ValueError):
            Credentials.parse(bad, "x")


# -- against impacket's NTLM ----------------------------------------------------------------------


def _impacket_keys(flags: int, session_key: bytes, mode: str) -> tuple[bytes, bytes, object]:
    sign_key = impacket_ntlm.SIGNKEY(flags, session_key, mode)
    seal_key = impacket_ntlm.SEALKEY(flags, session_key, mode)
    return sign_key, seal_key, ARC4.new(seal_key).encrypt


def test_impacket_client_logs_on_to_our_server_and_seals_for_it() -> None:
    server = ServerAuth(ACCOUNTS)
    type1 = impacket_ntlm.getNTLMSSPType1("", "", signingRequired=True)
    type2 = server.step(type1.getData())
    type3, session_key = impacket_ntlm.getNTLMSSPType3(type1, type2, "admin", PASSWORD, "CONTOSO")
    assert server.step(type3.getData()) is None and server.complete
    assert server.session_key == session_key
    flags = type3["flags"]
    c_sign, c_seal, c_handle = _impacket_keys(flags, session_key, "Client")
    s_sign, _, s_handle = _impacket_keys(flags, session_key, "Server")
    # Sizes on both sides of the pieces the sealer feeds RC4 and HMAC (1 KiB), up to a listing's.
    for seq, size in enumerate((16, 0, 1023, 1024, 1025, 5000, 12000)):
        stub = (b"impacket says %d " % seq * 800)[:size]
        sealed, sig = impacket_ntlm.SEAL(flags, c_sign, c_seal, HEADER + stub + TRAILER, stub, seq, c_handle)
        assert server.unseal(HEADER, sealed, TRAILER, sig.getData()) == stub
        answer = (b"we answer %d " % seq * 1200)[:size]
        ours, our_sig = server.seal(HEADER, answer, TRAILER)
        plain = s_handle(ours)  # RC4: decrypting is encrypting, in the same key stream as the server's
        assert plain == answer
        expected = impacket_ntlm.MAC(flags, s_handle, s_sign, seq, HEADER + plain + TRAILER)
        assert expected.getData() == our_sig
    assert server._ntlm_fast() is not None  # the sealer of _ntlmseal, not pyspnego's wrap_iov


def test_our_client_verifies_under_impacket_ntlm() -> None:
    # Our ClientAuth's AUTHENTICATE message and seals checked with impacket's NTLMv2 primitives.
    client, server = ClientAuth(CREDS, "srv"), ServerAuth(ACCOUNTS)
    type2 = server.step(client.step(None))
    type3_bytes = client.step(type2)
    assert type3_bytes is not None
    challenge = impacket_ntlm.NTLMAuthChallenge(type2)["challenge"]
    type3 = impacket_ntlm.NTLMAuthChallengeResponse()
    type3.fromString(type3_bytes)
    nt_response = type3["ntlm"]
    key_nt = impacket_ntlm.NTOWFv2("admin", PASSWORD, "CONTOSO")
    nt_proof = impacket_ntlm.hmac_md5(key_nt, challenge + nt_response[16:])
    assert nt_proof == nt_response[:16], "impacket does not accept our NTLMv2 response"
    base_key = impacket_ntlm.hmac_md5(key_nt, nt_proof)
    session_key = impacket_ntlm.generateEncryptedSessionKey(base_key, type3["session_key"])  # RC4: symmetric
    assert session_key == client.session_key
    flags = type3["flags"]
    c_sign, _, c_handle = _impacket_keys(flags, session_key, "Client")
    for seq, size in enumerate((7, 1024, 1025, 12000)):
        stub = (b"ours %d " % seq * 2000)[:size]
        sealed, signature = client.seal(HEADER, stub, TRAILER)
        plain = c_handle(sealed)
        assert plain == stub
        assert impacket_ntlm.MAC(flags, c_handle, c_sign, seq, HEADER + plain + TRAILER).getData() == signature
    assert client._ntlm_fast() is not None


def test_server_accepts_ntlm_inside_spnego() -> None:
    # What a Windows client sends with RPC_C_AUTHN_GSS_NEGOTIATE and no Kerberos: NTLM wrapped in SPNEGO.
    import spnego

    server = ServerAuth(ACCOUNTS, auth_type=AUTHN_GSS_NEGOTIATE)
    client = spnego.client(
        "CONTOSO\\admin", PASSWORD, protocol="negotiate", options=spnego.NegotiateOptions.use_negotiate
    )
    token = client.step()
    while not (client.complete and server.complete):
        token = server.step(token)
        if token is None:
            break
        token = client.step(token)
    assert server.complete and server.principal == "CONTOSO\\admin"


def test_impacket_client_with_a_wrong_password_is_refused() -> None:
    server = ServerAuth(ACCOUNTS)
    type1 = impacket_ntlm.getNTLMSSPType1("", "", signingRequired=True)
    type3, _ = impacket_ntlm.getNTLMSSPType3(type1, server.step(type1.getData()), "admin", "nope", "CONTOSO")
    with pytest.raises(AuthError) as info:
        server.step(type3.getData())
    assert info.value.winerror == WinError.ERROR_LOGON_FAILURE
