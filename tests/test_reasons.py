"""Outcome.why: the machine-readable reason of every Outcome, driven through real wts.Farm runs on the sim.

Each test reaches one path of the bulk layer (a protected session, a stale target, a failed call, an
unreachable server, an interrupt...) and checks that ``why`` names it, that ``reason`` (the text for
people) is what it always was, and that the two never disagree.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import wts
from wts import ActionResult, Outcome, Progress, Reason

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
LOCAL = "RDS01"
OWN_ID = 2
TIMEOUT = 0.3  # the farm timeout where a server hangs
SLACK = 5.0  # "it finished": a bound no healthy run comes near

# The Reasons each status may carry: a why never contradicts its status.
WHY_BY_STATUS = {
    "done": {Reason.DONE, Reason.EARLIER_ATTEMPT},
    "planned": {Reason.DRY_RUN},
    "skipped": {
        Reason.SYSTEM_SESSION,
        Reason.LISTENER,
        Reason.CONSOLE,
        Reason.OWN_SESSION,
        Reason.ALREADY,
        Reason.FILTERED,
        Reason.GONE,
        Reason.CHANGED,
        Reason.CANCELLED,
        Reason.SYSTEM_PROCESS,
    },
    "failed": {Reason.NOT_REACHED, Reason.NO_DETAILS, Reason.CALL_FAILED},
    # Sent, never answered (issue 12, item 2): neither done nor failed.
    "unknown": {Reason.ABANDONED, Reason.NO_ANSWER, Reason.IN_TRANSIT},
}


# Calls abandoned by a run (a hung server, a second Ctrl-C) still hold their server's handle until they
# return: every engine worker must have exited before the leak check (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("engine_idle")


def ago(delta: timedelta) -> str:
    return (NOW - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def user(sid: int, name: str, state: str = "Active", *, station: str | None = None, **extra: Any) -> dict[str, Any]:
    """A user's session, logged on 3 hours ago, idle for 2 (by the farm's clock)."""
    out: dict[str, Any] = {
        "id": sid,
        "state": state,
        "station": f"RDP-Tcp#{sid}" if station is None else station,
        "user": name,
        "domain": "CONTOSO",
        "logon": ago(timedelta(hours=3)),
        "connect": ago(timedelta(hours=3)),
        "last_input": ago(timedelta(hours=2)),
    }
    if state == "Disconnected":
        out["disconnect"] = ago(timedelta(hours=2))
    out.update(extra)
    return out


def load(*servers: dict[str, Any], **top: Any) -> list[str]:
    wts.sim.load({"seed": 5, "now": NOW.isoformat(), "local": servers[0]["name"], **top, "servers": list(servers)})
    wts.sim.reset_counters()
    return [s["name"] for s in servers]


def by_id(result: ActionResult) -> dict[int, Outcome]:
    out = {o.session_id: o for o in result}
    assert len(out) == len(result.outcomes), "a session got two outcomes"
    return out


def assert_consistent(result: ActionResult) -> None:
    """Every Outcome's why is a Reason that fits its status, and says what its text says."""
    for o in result:
        assert isinstance(o.why, Reason), o
        assert o.why in WHY_BY_STATUS[o.status], o
        assert (o.why is Reason.NO_DETAILS) == o.reason.startswith("could not read its details: "), o
        assert (o.why is Reason.DONE) == (o.status == "done" and not o.reason.startswith("logged off")), o


@pytest.fixture
def home() -> wts.Farm:
    """RDS01, the local server, where the caller is session 2: every kind of session a run leaves alone."""
    names = load(
        {
            "name": LOCAL,
            "sessions": [
                {"id": 0, "station": "Services", "state": "Disconnected"},
                user(1, "admin", station="Console"),
                user(OWN_ID, "me"),
                user(3, "bob", "Disconnected", station=""),
                user(4, "carol"),
                {"id": 7, "station": "ICA-tcp", "state": "Listen"},
                {"id": 65536, "station": "RDP-Tcp", "state": "Listen"},
            ],
        },
        current_session=OWN_ID,
    )
    return wts.Farm(names, provider="sim")


# --- the safety rules, the dry run and done --------------------------------------------------------


def test_each_session_left_alone_says_why(home: wts.Farm) -> None:
    result = home.disconnect()

    got = {sid: (o.status, o.why, o.reason) for sid, o in by_id(result).items()}
    assert got == {
        0: ("skipped", Reason.SYSTEM_SESSION, "session 0 (services) is never touched"),
        1: ("skipped", Reason.CONSOLE, "the console session is never touched"),
        OWN_ID: ("skipped", Reason.OWN_SESSION, "your own session (pass allow_own=True to include it)"),
        3: ("skipped", Reason.ALREADY, "already disconnected"),
        4: ("done", Reason.DONE, ""),
        7: ("skipped", Reason.LISTENER, "a listener is never touched"),
        65536: ("skipped", Reason.LISTENER, "a listener is never touched"),
    }
    assert_consistent(result)
    assert {o.why for o in result if o.why.protected} == {
        Reason.SYSTEM_SESSION,
        Reason.CONSOLE,
        Reason.OWN_SESSION,
        Reason.LISTENER,
    }
    assert {o.session_id for o in result if o.why.system} == {0, 1, 7, 65536}


def test_own_session_allowed_is_done(home: wts.Farm) -> None:
    [o] = home.logoff([(LOCAL, OWN_ID)], allow_own=True).outcomes
    assert (o.status, o.why) == ("done", Reason.DONE)


def test_a_dry_run_plans_and_says_so(home: wts.Farm) -> None:
    dry = home.logoff(dry_run=True)

    whys = {sid: o.why for sid, o in by_id(dry).items()}
    assert whys[3] == whys[4] == Reason.DRY_RUN
    assert by_id(dry)[4].reason == "dry run: would log off"
    assert whys[OWN_ID] == Reason.OWN_SESSION
    assert_consistent(dry)
    # The real run decides the skips the same way, and does what was planned.
    real = home.logoff()
    assert {sid: o.why for sid, o in by_id(real).items() if o.status == "skipped"} == {
        sid: why for sid, why in whys.items() if why is not Reason.DRY_RUN
    }
    assert {o.why for o in real if o.session_id in (3, 4)} == {Reason.DONE}


def test_a_message_answered_is_done() -> None:
    names = load({"name": "M1", "sessions": [user(2, "ann", reply="yes")]})
    [o] = wts.Farm(names, provider="sim").send_message("t", "x", wait=True, timeout=5, allow_own=True).outcomes
    assert (o.status, o.why, o.reason) == ("done", Reason.DONE, "answered YES")


# --- explicit targets: filtered, gone, changed ---------------------------------------------------


def test_named_targets_that_are_filtered_gone_or_changed(home: wts.Farm) -> None:
    listed = {s.id: s for s in home.sessions()}
    wts.sim.reset_counters()
    targets = [
        listed[4],  # carol's, but the filter wants someone else's
        (LOCAL, 99),  # no such session
        listed[3]._replace(user="mallory"),  # another user's session has that id now
    ]

    result = home.logoff(targets, user="bob")

    got = by_id(result)
    assert (got[4].status, got[4].why, got[4].reason) == ("skipped", Reason.FILTERED, "does not match the filters")
    assert (got[99].status, got[99].why, got[99].winerror) == ("skipped", Reason.GONE, 7022)
    assert got[99].reason == "no longer exists"
    assert (got[3].status, got[3].why) == ("skipped", Reason.CHANGED)
    assert got[3].reason == "changed since it was listed: now CONTOSO\\bob's, was CONTOSO\\mallory's"
    assert_consistent(result)
    assert wts.sim.rpc_counts()[LOCAL] == 2  # the own-session lookup and the listing: nothing was sent


def test_a_target_from_a_dry_run_that_changed_hands() -> None:
    names = load({"name": "S1", "sessions": [user(2, "ann"), user(3, "ben")]})
    farm = wts.Farm(names, provider="sim")
    plan = farm.logoff(dry_run=True, allow_own=True)
    assert {o.why for o in plan} == {Reason.DRY_RUN}
    # Session 3 ends, and another user logs on with its id.
    load({"name": "S1", "sessions": [user(2, "ann"), user(3, "eve")]})

    result = farm.logoff(plan, allow_own=True)

    assert {sid: o.why for sid, o in by_id(result).items()} == {2: Reason.DONE, 3: Reason.CHANGED}


# --- failures: the call, the details, the server ----------------------------------------------------


def test_a_refused_call_is_call_failed() -> None:
    names = load({"name": "D1", "sessions": [user(2, "ann", deny=["logoff"]), user(3, "ben")]})
    result = wts.Farm(names, provider="sim", retries=0).logoff(allow_own=True)

    got = by_id(result)
    assert (got[2].status, got[2].why, got[2].winerror) == ("failed", Reason.CALL_FAILED, 5)
    assert got[2].reason == "Access is denied. [ERROR_ACCESS_DENIED]"
    assert got[3].why == Reason.DONE
    assert_consistent(result)


def test_details_that_cannot_be_read_are_no_details() -> None:
    names = load({"name": "D1", "sessions": [user(2, "ann", deny=["query"]), user(3, "ben")]})
    result = wts.Farm(names, provider="sim", retries=0).logoff(idle_over=60, allow_own=True)

    got = by_id(result)
    assert (got[2].status, got[2].why, got[2].winerror) == ("failed", Reason.NO_DETAILS, 5)
    assert got[2].reason.startswith("could not read its details: ")
    assert got[3].why == Reason.DONE
    assert_consistent(result)


def test_targets_on_an_unreachable_server_are_not_reached() -> None:
    names = load(
        {"name": "OK1", "sessions": [user(2, "ann")]},
        {"name": "DOWN1", "fault": "unreachable", "sessions": [user(2, "ann"), user(3, "ben")]},
    )
    result = wts.Farm(names, provider="sim").disconnect([("DOWN1", 2), ("DOWN1", 3), ("OK1", 2)], allow_own=True)

    got = {(o.server, o.session_id): o for o in result}
    for sid in (2, 3):
        o = got[("DOWN1", sid)]
        assert (o.status, o.why, o.winerror) == ("failed", Reason.NOT_REACHED, 1722)
        assert o.reason.endswith("[RPC_S_SERVER_UNAVAILABLE]")
    assert got[("OK1", 2)].why == Reason.DONE
    assert [(f.server, f.error.winerror) for f in result.failures] == [("DOWN1", 1722)]
    assert_consistent(result)


def test_targets_on_a_hung_server_are_not_reached() -> None:
    names = load({"name": "OK1", "sessions": [user(2, "ann")]}, {"name": "HANG1", "fault": "hang"})
    result = wts.Farm(names, provider="sim", timeout=TIMEOUT).logoff([("HANG1", 2), ("HANG1", 3)], allow_own=True)

    assert {(o.status, o.why, o.winerror) for o in result} == {("failed", Reason.NOT_REACHED, 1460)}
    assert_consistent(result)


def test_sessions_of_a_server_lost_after_its_listing_are_not_reached() -> None:
    """RPC_S_SERVER_UNAVAILABLE on a detail query fails the server: no session there got its call.
    (The farm is reloaded from the progress callback, between the listing and the answers after it.)"""
    server = {"name": "S1", "latency_ms": 100, "sessions": [user(i, f"u{i}") for i in range(2, 6)]}
    names = load(server)
    gone = {"seed": 5, "now": NOW.isoformat(), "servers": [{**server, "fault": "unreachable"}]}
    fired: list[Progress] = []

    def go_away(p: Progress) -> None:
        if not fired and p.servers_done == 1:
            fired.append(p)
            wts.sim.load(gone)

    farm = wts.Farm(names, provider="sim", concurrency=1)
    result = farm.logoff(idle_over=60, allow_own=True, progress=go_away)

    assert fired
    assert {(o.status, o.winerror) for o in result} == {("failed", 1722)}
    # The answer that failed the server, and every session whose call was then never sent, are not
    # reached; a query a worker had already started when the server failed reports its own answer.
    whys = [o.why for o in result]
    assert whys.count(Reason.NOT_REACHED) >= len(whys) - 1
    assert set(whys) <= {Reason.NOT_REACHED, Reason.NO_DETAILS}
    assert_consistent(result)


def test_a_retried_logoff_that_finds_the_session_gone_is_not_claimed_done() -> None:
    """The logoff's first try comes back busy (1723) and is retried; meanwhile the session ends; the
    retry finds it gone (7022).  1723 means the first try never ran, so nothing says an earlier try
    took effect: the outcome is the retry's own, a 7022 failure (issue 12, item 4: an action is
    retried only after an error that says it did not run).  Before, it was "done" (EARLIER_ATTEMPT),
    a claim the run could not know to be true.  The farm is reloaded, with the server
    busy for one RPC, while the listing is in flight (so the listing still succeeds); the session is
    logged off from the progress callback once the busy answer is in (during the backoff)."""
    server = {"name": "B1", "latency_ms": 150, "sessions": [user(2, "ann")]}
    names = load(server)
    busy = {"seed": 5, "now": NOW.isoformat(), "servers": [{**server, "fault": "busy", "fault_rpcs": 1}]}
    steps: list[str] = []

    def meddle(p: Progress) -> None:
        if not steps and p.servers_done == 0 and wts.sim.rpc_total() >= 1:
            steps.append("busy")  # the listing is on its way (its call saw the farm before this load)
            wts.sim.load(busy)
        elif steps == ["busy"] and p.done >= 2:
            steps.append("ended")  # the listing and the busy logoff are in; the retry is waiting
            with wts.Server("B1", provider="sim") as server:
                server.logoff(2)

    farm = wts.Farm(names, provider="sim", retries=2, backoff=0.6)
    result = farm.logoff(allow_own=True, progress=meddle)

    assert steps == ["busy", "ended"]
    [o] = result.outcomes
    assert (o.status, o.why, o.winerror) == ("failed", Reason.CALL_FAILED, 7022)
    assert wts.sim.rpc_counts()["B1"] >= 2  # the busy try and the retry


# --- interrupts -------------------------------------------------------------------------------------


@pytest.fixture
def ctrl_c() -> Iterator[None]:
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("something else handles SIGINT in this process")
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("Ctrl-C reaches the main thread only")
    yield


def test_sessions_not_reached_after_ctrl_c_are_cancelled(ctrl_c: None) -> None:
    # One worker, 100 ms a call: when the listing is in, one logoff is in flight and four wait.
    names = load({"name": "S1", "latency_ms": 100, "sessions": [user(i, f"u{i}") for i in range(2, 7)]})
    fired: list[Progress] = []

    def press_ctrl_c(p: Progress) -> None:
        if not fired and p.servers_done == 1:
            fired.append(p)
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(wts.Interrupted) as info:
        wts.Farm(names, provider="sim", concurrency=1).logoff(allow_own=True, progress=press_ctrl_c)

    result = info.value.result
    assert isinstance(result, ActionResult)
    cancelled = [o for o in result if o.why == Reason.CANCELLED]
    assert cancelled, "every logoff went out: the interrupt came too late to prove anything"
    for o in cancelled:
        assert (o.status, o.winerror, o.reason) == ("skipped", 1223, "cancelled: interrupted before it was sent")
    assert {o.why for o in result} <= {Reason.CANCELLED, Reason.DONE}
    assert_consistent(result)


def test_calls_in_flight_at_a_second_ctrl_c_are_abandoned(ctrl_c: None) -> None:
    # A second a call and a worker each: every logoff is in flight when the two presses come (the
    # first waits a moment after the listing, so that the workers have picked the logoffs up).
    names = load({"name": "SLOW", "latency_ms": 1000, "sessions": [user(i, f"u{i}") for i in range(2, 5)]})
    presses: list[Progress] = []

    def press_ctrl_c(p: Progress) -> None:
        if p.servers_done == 1 and len(presses) < 2:
            if not presses:
                time.sleep(0.3)
            presses.append(p)
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(wts.Interrupted) as info:
        wts.Farm(names, provider="sim").logoff(allow_own=True, progress=press_ctrl_c)

    assert len(presses) == 2
    result = info.value.result
    assert isinstance(result, ActionResult)
    assert sorted(o.session_id for o in result) == [2, 3, 4]
    for o in result:
        # Sent and never answered: "unknown", not "failed" (issue 12, item 2).
        assert (o.status, o.why, o.winerror) == ("unknown", Reason.ABANDONED, 1223)
        assert o.reason == "interrupted again while the call was in flight: outcome unknown"
    assert result.unknown == result.outcomes
    assert not result.ok


# --- the record itself ------------------------------------------------------------------------------


def test_outcome_keeps_its_positional_shape() -> None:
    o = Outcome("S1", 2, "RDP-Tcp#2", "ann", "logoff", "done", None, "")
    assert o.why is Reason.DONE
    assert o.response is None
    # why comes after the ten fields Outcome first had; a process's pid and image (issue 14) after it,
    # with defaults, so every positional construction of a session's Outcome still works.
    assert Outcome._fields[9] == "why"
    assert Outcome._fields[10:] == ("pid", "image")
    assert (o.pid, o.image) == (None, None)
    assert Outcome("S1", 2, "", "", "logoff", "skipped", 7022, "no longer exists", None, Reason.GONE).why is Reason.GONE


def test_reason_is_public_and_its_values_are_stable_strings() -> None:
    assert wts.Reason is Reason
    assert "Reason" in wts.__all__
    assert Reason("not-reached") is Reason.NOT_REACHED
    assert Reason.CALL_FAILED == "call-failed"
    assert {r.value for r in Reason} == {
        "done",
        "earlier-attempt",
        "dry-run",
        "system-session",
        "listener",
        "console",
        "own-session",
        "already",
        "filtered",
        "gone",
        "changed",
        "cancelled",
        "not-reached",
        "no-details",
        "call-failed",
        "abandoned",
        "no-answer",
        "in-transit",
        "system-process",
    }
