"""Actions over tsts: one RPC each on the legacy API (RpcWinStationDisconnect, RpcWinStationReset,
RpcWinStationSendMessage after one RpcWinStationOpenServer per connection), one SMB exchange each,
real effects on the served farm, the same Win32 codes as the LSM path; a server that does not serve
the legacy pipe gets the LSM path (three RPCs), found once and remembered.  ``wts sim serve`` runs on
a thread of this process (loopback, stopped by each test), so ``wts.sim`` sees the effects."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

pytest.importorskip("smbprotocol")
pytest.importorskip("spnego")

from test_sim_serve import FARM, PASSWORD, PORT, in_process

import wts
from wts._tsts import _rpcserver
from wts._tsts._client import Client, Connections, TstsError
from wts._winerror import WinError

CREDS = wts.Credentials("admin", "CONTOSO", PASSWORD)
IDASYNC = 32001


@contextmanager
def client_of(address: str) -> Iterator[Client]:
    connections = Connections(CREDS, connect_timeout=10.0, port=PORT)
    try:
        yield connections.client(address)
    finally:
        connections.close()


def cost(client: Client, act: Callable[[], Any]) -> tuple[dict[str, int], int]:
    """The RPCs (by name) and SMB exchanges ``act`` took."""
    rpcs = dict(client.rpcs)
    smb = client._smb
    exchanges = smb.exchanges if smb is not None else 0
    act()
    smb = client._smb
    assert smb is not None and smb.exchanges is not None
    spent = {k: v - rpcs.get(k, 0) for k, v in client.rpcs.items() if v != rpcs.get(k, 0)}
    return spent, smb.exchanges - (exchanges or 0)


def states() -> dict[int, wts.ConnectState]:
    return {s.id: s.state for s in wts.Server("RDS01", provider="sim").sessions()}


def test_each_action_is_one_rpc_and_acts_on_the_served_farm() -> None:
    with in_process(FARM) as servers, client_of(servers["RDS01"]) as client:
        client.sessions()  # connected: the LSM pipe is bound, the legacy pipe not yet
        spent, exchanges = cost(client, lambda: client.disconnect(2))
        assert spent == {"RpcWinStationOpenServer": 1, "RpcWinStationDisconnect": 1}
        assert exchanges == 5  # the legacy pipe's CREATE, bind, auth3, then the two calls
        assert states()[2] is wts.ConnectState.DISCONNECTED
        assert cost(client, lambda: client.disconnect(3)) == ({"RpcWinStationDisconnect": 1}, 1)
        assert cost(client, lambda: client.logoff(4)) == ({"RpcWinStationReset": 1}, 1)
        assert 4 not in states()
        wts.sim.reset_counters()
        spent = cost(client, lambda: client.message(6, "Patch", "Rebooting at 22:00", 0, 0, False))
        assert spent == ({"RpcWinStationSendMessage": 1}, 1)
        assert [(m["session"], m["title"], m["text"]) for m in wts.sim.messages()][-1:] == [
            (6, "Patch", "Rebooting at 22:00")
        ]
        assert client.message(6, "t", "x", 0, 0, False) == IDASYNC  # not waited for
        assert not client.legacy_absent


def test_errors_are_the_lsm_paths() -> None:
    with in_process(FARM) as servers, client_of(servers["RDS01"]) as legacy, client_of(servers["RDS01"]) as lsm:
        lsm.legacy_absent = True
        for name, act in (
            ("disconnect", lambda c: c.disconnect(99)),
            ("logoff", lambda c: c.logoff(99)),
            ("message", lambda c: c.message(99, "t", "x", 0, 0, False)),
            ("logoff denied", lambda c: c.logoff(7)),
        ):
            codes = []
            for client in (legacy, lsm):
                with pytest.raises(TstsError) as info:
                    act(client)
                codes.append(info.value.winerror)
            denied = name == "logoff denied"
            expected = WinError.ERROR_ACCESS_DENIED if denied else WinError.ERROR_CTX_WINSTATION_NOT_FOUND
            assert codes == [expected, expected], name
        assert legacy.rpcs.get("RpcWinStationReset") == 2 and "RpcOpenSession" not in legacy.rpcs
        assert lsm.rpcs.get("RpcOpenSession") == 4 and "RpcWinStationOpenServer" not in lsm.rpcs
        assert legacy.message(6, "t", "x", 0, 0, False) == lsm.message(6, "t", "x", 0, 0, False) == IDASYNC


def test_a_long_message_takes_the_lsm_path() -> None:
    with in_process(FARM) as servers, client_of(servers["RDS01"]) as client:
        spent, _ = cost(client, lambda: client.message(6, "t", "x" * 1500, 0, 0, False))
        assert spent.get("RpcShowMessageBox") == 1 and "RpcWinStationSendMessage" not in spent


def test_without_the_legacy_pipe_the_lsm_path_found_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # RDP disabled: nobody listens on Ctx_WinStation_API_service (docs/remote.md).
    monkeypatch.delitem(_rpcserver.PIPES, "ctx_winstation_api_service")
    with in_process(FARM) as servers, client_of(servers["RDS01"]) as client:
        client.sessions()
        spent, _ = cost(client, lambda: client.disconnect(2))
        assert spent == {"RpcOpenSession": 1, "RpcDisconnect": 1, "RpcCloseSession": 1}
        assert client.legacy_absent
        assert states()[2] is wts.ConnectState.DISCONNECTED
        # Remembered: no second look for the pipe, three RPCs in three exchanges.
        assert cost(client, lambda: client.logoff(4)) == (
            {"RpcOpenSession": 1, "RpcLogoff": 1, "RpcCloseSession": 1},
            3,
        )
        assert 4 not in states()
