"""The connect watchdog (wts._tsts._watchdog): one thread runs every armed deadline, in order, skips
the disarmed ones, and ends when idle (the next arm starts another).  Bounded in time."""

from __future__ import annotations

import threading
import time

import pytest

from wts._tsts import _watchdog


def _threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "wts-tsts-watchdog"]


def test_deadlines_run_in_order_and_disarmed_ones_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_watchdog, "_IDLE", 0.2)
    ran: list[str] = []
    done = threading.Event()
    late = _watchdog.arm(0.4, lambda: (ran.append("late"), done.set()))
    gone = _watchdog.arm(0.1, lambda: ran.append("disarmed"))
    _watchdog.arm(0.05, lambda: ran.append("soon"))  # sooner than what the thread sleeps until
    _watchdog.disarm(gone)
    assert done.wait(5.0)
    assert ran == ["soon", "late"]
    assert len(_threads()) == 1
    _watchdog.disarm(late)  # already run: nothing to do


def test_a_failing_deadline_does_not_stop_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> None:
        raise OSError("closed already")

    done = threading.Event()
    _watchdog.arm(0.01, boom)
    _watchdog.arm(0.05, done.set)
    assert done.wait(5.0)


def test_the_thread_ends_when_idle_and_the_next_arm_starts_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_watchdog, "_IDLE", 0.05)
    first = threading.Event()
    _watchdog.arm(0.01, first.set)
    assert first.wait(5.0)
    deadline = time.monotonic() + 5.0
    while _threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _threads() == []
    second = threading.Event()
    _watchdog.arm(0.01, second.set)
    assert second.wait(5.0)
