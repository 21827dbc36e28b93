"""A provider that takes one call at a time per server (tsts: one SMB connection, one call on it at
once) gets at most one call in flight to each server from ``wts.Farm``; the others wait their turn in
the run (``wts._bulk.PER_SERVER``), so the engine's workers go to other servers' calls instead of
waiting on a busy one.  Here on the sim, with the limit set for it: the same records and outcomes as
without it, one session's calls after another's, and every session accounted for when a server fails
or the run stops.  (tests/test_trust_bulk.py runs its Ctrl-C tests both ways.)"""

from __future__ import annotations

import time
from typing import Any

import pytest

import wts
from wts import Reason, _bulk

LATENCY_MS = 20


def user(sid: int, name: str) -> dict[str, Any]:
    return {"id": sid, "station": f"RDP-Tcp#{sid}", "state": "Active", "user": name, "domain": "CONTOSO"}


def load(*servers: dict[str, Any]) -> list[str]:
    farm = wts.sim.load({"seed": 5, "now": "2026-11-21T05:00:00Z", "servers": list(servers)})
    return list(farm.servers)


@pytest.fixture
def one_per_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_bulk, "PER_SERVER", {"sim": 1})


def farm_of(count: int, sessions: int, **server: Any) -> list[str]:
    return load(
        *(
            {"name": f"P{i:02d}", **server, "sessions": [user(s, f"u{i}x{s}") for s in range(2, 2 + sessions)]}
            for i in range(count)
        )
    )


def test_only_tsts_takes_one_call_at_a_time_per_server() -> None:
    assert _bulk.PER_SERVER == {"tsts": 1}


def test_details_and_actions_give_what_they_give_without_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    def run() -> tuple[list[Any], list[Any]]:
        names = farm_of(6, 9, latency_ms=1)
        farm = wts.Farm(names, provider="sim", concurrency=16)
        details = sorted((s.server, s.id, s.user, s.logon_time) for s in farm.sessions(details=True))
        outcomes = sorted((o.server, o.session_id, o.status) for o in farm.logoff(allow_own=True, user="u*x[2-5]"))
        return details, outcomes

    free = run()
    monkeypatch.setattr(_bulk, "PER_SERVER", {"sim": 1})
    limited = run()
    assert limited == free
    assert len(free[0]) == 6 * 9 and len(free[1]) == 6 * 4


@pytest.mark.usefixtures("one_per_server")
def test_a_servers_calls_go_one_after_another() -> None:
    """Ten sessions' details on one server whose every call takes LATENCY_MS: one at a time, however
    many workers are free, so never sooner than ten latencies after the listing."""
    [name] = farm_of(1, 10, latency_ms=LATENCY_MS)
    with wts.Farm([name], provider="sim", concurrency=16) as farm:
        farm.sessions()  # connected, listed once
        started = time.perf_counter()
        result = farm.sessions(details=True)
        elapsed = time.perf_counter() - started
    assert len(result.sessions) == 10 and not result.failures
    assert elapsed >= 11 * LATENCY_MS / 1000 * 0.95  # the listing and ten queries, in turn


@pytest.mark.usefixtures("one_per_server")
@pytest.mark.parametrize("action", ["sessions", "logoff"])
def test_calls_waiting_on_a_server_that_fails_are_reported_unsent(monkeypatch: pytest.MonkeyPatch, action: str) -> None:
    """STALL's first call after its listing answers 1722 (the server went away: the run stops sending
    it calls) while its other sessions' calls wait their turn.  A listing reports the server's failure
    once, as for calls the engine had queued; a logoff gives each waiting session its own Outcome
    (failed, not reached), none lost and none twice; GOOD is done in full either way."""
    from wts import _wts

    names = load(
        {"name": "GOOD", "sessions": [user(s, f"g{s}") for s in range(2, 6)]},
        {"name": "STALL", "sessions": [user(s, f"s{s}") for s in range(2, 8)]},
    )
    real = _bulk.Run._on_target
    failed: list[int] = []

    def gone_after_listing(self: Any, t: Any, kind: str, status: int, winerror: int, payload: Any) -> None:
        if t.srv.name == "STALL" and not failed:
            failed.append(t.session_id)
            assert len(t.srv.parked) == 5  # the other five sessions wait their turn
            status, winerror, payload = _wts.CALL_FAILED, 1722, None
        real(self, t, kind, status, winerror, payload)

    monkeypatch.setattr(_bulk.Run, "_on_target", gone_after_listing)
    farm = wts.Farm(names, provider="sim", concurrency=8, retries=0)
    if action == "sessions":
        result = farm.sessions(details=True)
        assert sorted((s.server, s.id) for s in result) == [("GOOD", s) for s in range(2, 6)]
        assert [(f.server, f.session_id, f.error.winerror) for f in result.failures] == [("STALL", None, 1722)]
        return
    outcomes = sorted((o.server, o.session_id, o.status, o.why) for o in farm.logoff(allow_own=True))
    [first] = failed
    assert outcomes == sorted(
        [("GOOD", s, "done", Reason.DONE) for s in range(2, 6)]
        + [("STALL", s, "failed", Reason.CALL_FAILED if s == first else Reason.NOT_REACHED) for s in range(2, 8)]
    )
