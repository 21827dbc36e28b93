"""The run loop of ``Farm.processes`` and ``Farm.terminate``: ``_bulk.Run`` with another listing
(one WTSEnumerateProcessesExW per server) and another action (one WTSTerminateProcess per selected
process).  Everything else (deadlines, retries of what cannot have run, interrupts, exactly one
Outcome per selected process) is ``Run``'s, unchanged.

The decision for each process, in order: the filters (``_procselect.ProcessFilter``); the safety
rules (session 0 and the system's own images, unless named explicitly with ``allow_system``); the
caller's own session (a process whose session has the caller's session id is checked with one
WTSQuerySessionInformationW(WTSSessionInfoEx) of that session, as a session action checks a
look-alike); then the dry run, or the call.
"""

from __future__ import annotations

from typing import Any

from ._bulk import Run, Settings
from ._filters import Filter
from ._ledger import ServerState, Target
from ._procselect import ProcessFilter, match_processes, protected_process, protected_text
from ._results import ProgressCallback, Reason
from ._selection import is_own_session
from ._types import process_from_row

__all__ = ["ProcessRun"]


class ProcessRun(Run):
    """``Run`` for "processes" (a listing) and "terminate" (an action)."""

    list_fn = "WTSEnumerateProcessesExW"

    def __init__(
        self,
        farm: Settings,
        action: str,
        pfilt: ProcessFilter,
        *,
        targets: dict[str, dict[int, Any]] | None = None,
        dry_run: bool = False,
        allow_own: bool = False,
        allow_system: bool = False,
        exit_code: int = 0,
        progress: ProgressCallback | None = None,
    ) -> None:
        # The session filters are none: what selects a process is ``pfilt``.
        super().__init__(
            farm, action, Filter({}), targets=targets, dry_run=dry_run, allow_own=allow_own, progress=progress
        )
        self.pfilt = pfilt
        self.allow_system = allow_system
        self.exit_code = exit_code

    def _send_list(self, srv: ServerState, tag: int) -> None:
        self.engine.processes(srv.host, tag, self.farm.timeout)

    def _send_action(self, t: Target, tag: int) -> None:
        self.engine.terminate(t.srv.host, t.row.pid, self.exit_code, tag, self.farm.timeout)

    def _on_rows(self, srv: ServerState, rows: Any) -> None:
        procs = [process_from_row(srv.name, row) for row in rows]
        if self.action == "processes":
            for p in procs:
                if self.pfilt.match(p):
                    self.ledger.record(p)
            return
        if srv.selection is not None:
            procs = match_processes(srv, procs, self.ledger)
        for p in procs:
            t = Target(srv, p)
            if self.pfilt.match(p):
                self._decide(t)
            else:
                self._filtered_out(t)

    def _decide(self, t: Target) -> None:
        """The safety rules, the caller's own session, then the dry run, then the call."""
        if self.own_pending:
            self.undecided.append(t)
            return
        p = t.row
        why = protected_process(p, explicit=t.named or self.pfilt.explicit(p), allow_system=self.allow_system)
        if why is None and self.own is not None and p.session_id == self.own.id:
            # Its session has our session's id: on this machine it is ours, elsewhere not.  The
            # listing cannot tell (it names no station, no logon time): its session's details can.
            if t.info is None:
                self._call(t, "times")
                return
            if is_own_session(t.info, self.own):
                why = Reason.OWN_SESSION
        if why is not None:
            self.ledger.outcome(t, "skipped", why, None, protected_text(why, p, self.allow_system))
        elif self.dry_run:
            self.ledger.outcome(t, "planned", Reason.DRY_RUN, None, "dry run: would end the process")
        else:
            self._call(t, "act")
