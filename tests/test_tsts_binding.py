"""The RPC association (src/wts/_tsts/_binding.py) over SMB, against impacket's DCE/RPC server behind
impacket's SMB server (peers we did not write): bind, calls, answers in many fragments, faults; and,
with authentication at packet privacy, against a peer made of our own PDU codec and ServerAuth.
Everything on 127.0.0.1, unprivileged ports, stopped by the test, bounded in time."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

pytest.importorskip("smbprotocol")
smbserver = pytest.importorskip("impacket.smbserver")
impacket_ntlm = pytest.importorskip("impacket.ntlm")
rpcrt = pytest.importorskip("impacket.dcerpc.v5.rpcrt")
_pdu = pytest.importorskip("wts._tsts._pdu")
_frames = pytest.importorskip("wts._tsts._frames")

from tsts_peers import SealedPeer, SmbFront, close_listener, serve_in_thread  # noqa: E402

from wts import Credentials  # noqa: E402
from wts._tsts._auth import ClientAuth  # noqa: E402
from wts._tsts._binding import Binding, RpcError  # noqa: E402
from wts._tsts._calls import Interface  # noqa: E402
from wts._tsts._smb import SmbSession  # noqa: E402
from wts._winerror import WinError  # noqa: E402

PASSWORD = "B1nd-me"
CREDS = Credentials("admin", "", PASSWORD)
LOOPBACK = "127.0.0.1"
BOUND = 20.0
IFACE_UUID = "88143fd0-c28d-4b2b-8fef-8d882f6a9390"
IFACE = Interface("TermSrvEnumeration", _pdu.SyntaxId(uuid.UUID(IFACE_UUID), 1), "LSM_API_service")
# impacket's DCERPCServer writes the whole answer's length into every fragment's header when it
# splits one (frag_len is set before splitting), so its multi-fragment answers are malformed: answers
# from it stay under its 4,248-byte fragment; SealedPeer below covers fragments both ways.
BIG = 4_000


def _echo(stub: bytes) -> bytes:
    return b"echo:" + stub


def _big(stub: bytes) -> bytes:
    return bytes(i % 251 for i in range(BIG))


@pytest.fixture
def impacket_rpc() -> Iterator[int]:
    """impacket's DCERPCServer (no authentication: it has none) behind impacket's SMB server."""
    dce = rpcrt.DCERPCServer()
    dce.addCallbacks((IFACE_UUID, "1.0"), "\\PIPE\\LSM_API_service", {0: _echo, 5: _big})
    thread = serve_in_thread(dce.run)
    front = SmbFront((LOOPBACK, dce.getListenPort()), password=PASSWORD)
    try:
        yield front.port
    finally:
        front.stop()
        close_listener(dce._sock)
        if dce._clientSock is not None:
            dce._clientSock.close()
        thread.join(BOUND)


def test_calls_through_impackets_rpc_server(impacket_rpc: int) -> None:
    with SmbSession(LOOPBACK, CREDS, port=impacket_rpc, connect_timeout=BOUND) as session:
        binding = Binding(session.open_pipe("LSM_API_service"), [IFACE], auth=None)
        assert binding.call(IFACE, 0, b"hello") == b"echo:hello"
        assert binding.call(IFACE, 0, b"again") == b"echo:again"  # bound once, reused
        assert binding.call(IFACE, 5, b"") == bytes(i % 251 for i in range(BIG))
        with pytest.raises(RpcError) as info:
            binding.call(IFACE, 7, b"")  # an opnum impacket's server does not serve: a fault
        assert info.value.winerror == 0x6E4  # impacket faults with 1764, a Win32 code: kept as it is
        assert not binding.broken


def test_an_interface_the_server_does_not_serve_is_refused(impacket_rpc: int) -> None:
    other = Interface(
        "RCMPublic", _pdu.SyntaxId(uuid.UUID("bde95fdf-eee0-45de-9e12-e5a61cd0d4fe"), 1), "LSM_API_service"
    )
    with SmbSession(LOOPBACK, CREDS, port=impacket_rpc, connect_timeout=BOUND) as session:
        binding = Binding(session.open_pipe("LSM_API_service"), [other], auth=None)
        with pytest.raises(RpcError) as info:
            binding.call(other, 0, b"")
        assert info.value.winerror == WinError.RPC_S_UNKNOWN_IF
        assert info.value.executed is False


# -- with authentication: a peer made of our codec and ServerAuth --------------------------------


@pytest.fixture
def sealed_peer(request: pytest.FixtureRequest) -> Iterator[tuple[int, SealedPeer]]:
    password = getattr(request, "param", PASSWORD)
    peer = SealedPeer(lambda ctx, opnum, stub: bytes([opnum]) * 3 + stub[::-1] * (1 if opnum else 3), password)
    front = SmbFront(peer.address, password=PASSWORD)
    try:
        yield front.port, peer
    finally:
        front.stop()
        peer.stop()


def test_sealed_calls_at_packet_privacy(sealed_peer: tuple[int, SealedPeer]) -> None:
    port, peer = sealed_peer
    with SmbSession(LOOPBACK, CREDS, port=port, connect_timeout=BOUND) as session:
        binding = Binding(session.open_pipe("LSM_API_service"), [IFACE], ClientAuth(CREDS, LOOPBACK))
        assert binding.call(IFACE, 1, b"abc") == b"\x01\x01\x01cba"
        long_request = bytes(range(256)) * 40  # 10,240 bytes: three request fragments at 4,280
        answer = binding.call(IFACE, 0, long_request)  # and about 30,000 bytes back, in 8 fragments
        assert answer == b"\x00\x00\x00" + long_request[::-1] * 3
        for n in range(3):  # sequence numbers stay in step across calls
            assert binding.call(IFACE, 2, b"%d" % n) == b"\x02\x02\x02" + (b"%d" % n)[::-1]
    assert peer.seen_opnums == [1, 0, 2, 2, 2]


@pytest.mark.parametrize("sealed_peer", ["another password"], indirect=True)
def test_a_refused_rpc_logon_is_access_denied(sealed_peer: tuple[int, SealedPeer]) -> None:
    # SMB accepts the account (impacket's copy of it); the RPC server's has another password.
    port, _ = sealed_peer
    with SmbSession(LOOPBACK, CREDS, port=port, connect_timeout=BOUND) as session:
        binding = Binding(session.open_pipe("LSM_API_service"), [IFACE], ClientAuth(CREDS, LOOPBACK))
        with pytest.raises(RpcError) as info:
            binding.call(IFACE, 1, b"abc")
        assert info.value.winerror == WinError.ERROR_ACCESS_DENIED
        assert PASSWORD not in str(info.value)
