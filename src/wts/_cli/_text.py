"""The words of the ``wts`` command that come from another layer's enum or code: Win32 error tags
(``[RPC_S_SERVER_UNAVAILABLE 1722]``), error lines, outcome reasons and verbs.

Rendered from ``wts._winerror.WinError``, ``wts.Reason`` and the action names, never by matching or
rewriting the library's text (docs/design.md: layers never match each other's strings).
"""

from __future__ import annotations

import re
from typing import Any

from wts import Failure, MessageResponse, Outcome, Reason, WTSError

from .._winerror import WinError, name_of

__all__ = [
    "DONE_WORDS",
    "VERBS",
    "describe_error",
    "error_line",
    "error_name",
    "failure_line",
    "failure_lines",
    "not_found",
    "outcome_detail",
    "outcome_result",
    "printable",
    "reason_text",
    "unknown_hint",
    "win_tag",
]

#: What a done outcome says, by action.
DONE_WORDS = {
    "disconnect": "disconnected",
    "logoff": "logged off",
    "message": "sent",
    "connect": "connected",
    "terminate": "ended",
}
#: The verb of each bulk action, as a sentence uses it ("would log off", "Log off 3 sessions?").
VERBS = {"disconnect": "disconnect", "logoff": "log off", "message": "message", "terminate": "end"}

# Names come from whatever RDP client connected and whoever named the account: a newline in a user
# name must not forge a table row, nor an escape sequence repaint the terminal.  Control characters
# (C0, DEL, C1) and the Unicode line and paragraph separators are shown as Python escapes.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    c = m.group(0)
    return _ESCAPES.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def printable(text: str | None) -> str:
    """``text`` safe for one cell or one line of a terminal: control characters as ``\\n``, ``\\x1b``."""
    if not text:
        return ""
    return _CONTROL.sub(_escape, text)


# Farm speaks Python ("pass allow_own=True"); on the command line the option is --allow-own.
_OWN_SESSION = "your own session (--allow-own includes it)"
# ... and for processes (wts kill), the options are --system and --allow-own.
_PROCESS_SKIPS = {
    Reason.SYSTEM_SESSION: "a process of session 0: only --system, with its pid or exact image name, ends it",
    Reason.SYSTEM_PROCESS: "a system process: only --system, with its pid or exact image name, ends it",
    Reason.OWN_SESSION: "runs in your own session (--allow-own includes it)",
}


def error_name(code: int) -> str | None:
    """The SDK's name of a Win32 code (ERROR_ACCESS_DENIED); None if it is not in the table."""
    return name_of(code)


def win_tag(code: int) -> str:
    """A code as the CLI tags it: 'ERROR_ACCESS_DENIED 5', or 'WinError N' for one not in the table."""
    name = name_of(code)
    return f"{name} {int(code)}" if name else f"WinError {int(code)}"


def describe_error(err: Any, with_function: bool = False) -> str:
    """Windows' text, the code's name and number: 'The RPC server is unavailable. [RPC_S_SERVER_UNAVAILABLE 1722]'."""
    text = f"{err.strerror} [{win_tag(err.winerror)}]"
    if with_function and err.function:
        text += f" ({err.function})"
    return text


def error_line(err: WTSError) -> str:
    """A WTSError as one line: where, what, Windows' words (``wts: RDS07: server unavailable: ...``)."""
    where = err.server or "the local server"
    if err.session_id is not None:
        where += f" session {err.session_id}"
    hint = f"; {err.hint}" if err.hint else ""
    return f"{where}: {err.summary}: {describe_error(err, with_function=True)}{hint}"


def failure_line(f: Failure) -> str:
    """A server (or a session's details) that failed in a bulk run, as one line."""
    where = f.server if f.session_id is None else f"{f.server} session {f.session_id}"
    return f"{where}: {f.error.summary}: {describe_error(f.error, with_function=True)}"


def failure_lines(failures: list[Failure], hints: bool) -> list[str]:
    """One line per failure; with ``hints`` (-v), then once per code that has one, what usually causes
    it (WTSError.hint): forty dead servers are forty lines and one hint, not forty hints."""
    lines = [failure_line(f) for f in failures]
    if not hints:
        return lines
    seen: set[int] = set()
    for f in failures:
        code, hint = f.error.winerror, f.error.hint
        if hint and code not in seen:
            seen.add(code)
            lines.append(f"{win_tag(code)}: {hint}")
    return lines


def not_found(server: str, missing: list[str], suffix: str = "") -> str:
    """Sessions named on the command line that the server's listing does not have, as Windows says it."""
    code = WinError.ERROR_CTX_WINSTATION_NOT_FOUND
    return f"{server}: {'; '.join(missing)}: {code.text} [{win_tag(code)}]{suffix}"


def reason_text(o: Outcome) -> str:
    """Why an outcome is so, in the CLI's words: the library's text, except where the CLI has its own
    (the option that includes your own session is --allow-own here)."""
    if o.pid is not None and o.why in _PROCESS_SKIPS:
        return _PROCESS_SKIPS[o.why]
    if o.why is Reason.OWN_SESSION:
        return _OWN_SESSION
    return o.reason


def outcome_result(o: Outcome) -> tuple[str, str]:
    """The RESULT cell of an outcome and its colour: 'disconnected', 'would log off', 'FAILED', ..."""
    if o.status == "done":
        return DONE_WORDS.get(o.action, "done"), "green"
    if o.status == "planned":
        return f"would {VERBS.get(o.action, o.action)}", "cyan"
    if o.status == "failed":
        return "FAILED", "red"
    if o.status == "unknown":
        return "UNKNOWN", "red"  # sent, but no answer came: it may have taken effect
    return "skipped", "yellow"


def outcome_detail(o: Outcome) -> str:
    """The DETAIL cell: the skip reason, or Windows' text with the error's name and code."""
    if o.status == "planned":
        return ""
    if o.status == "done" and o.response == MessageResponse.ASYNC:
        return ""  # sent without waiting: there is no answer to show
    detail = reason_text(o)
    if o.status in ("failed", "unknown") and o.winerror:
        name = name_of(o.winerror)
        tag = win_tag(o.winerror)
        if f"[{tag}]" not in detail and tag not in detail:
            # The reason already ends in "[NAME]": give it the number there, not a second tag.
            tagged = name is not None and f"[{name}]" in detail
            detail = detail.replace(f"[{name}]", f"[{tag}]") if tagged else f"{detail} [{tag}]"
    return detail


def unknown_hint(outcomes: list[Outcome]) -> list[str]:
    """For outcomes whose answer never came: one line per server saying how to see what happened."""
    by_server: dict[str, list[int]] = {}
    for o in outcomes:
        if o.status == "unknown":
            by_server.setdefault(o.server, []).append(o.session_id)
    lines = []
    for server, ids in by_server.items():
        n = len(ids)
        lines.append(
            f"{server}: {n:,} session{'s' if n != 1 else ''} sent the action but no answer came, so whether "
            f"{'they' if n != 1 else 'it'} changed is unknown; check with: wts sessions -s {server} "
            f"--id {','.join(str(i) for i in sorted(ids))}"
        )
    return lines
