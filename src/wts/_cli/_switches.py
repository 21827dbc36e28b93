"""The classic tools' command line, shared by every one of them (tsdiscon, tscon, qwinsta, quser,
qprocess, logoff, msg, rwinsta, tskill): positional words and ``/switches`` (or ``-switches``),
case-insensitive, as Windows' own parser takes them; ``Invalid parameter(s)`` and the usage on stderr
(exit status 2) for anything the original rejects; ``/SERVER:`` as one name or, beyond the originals,
a range or a list (``RDS[01-40]``, ``A,B``).

Beyond the originals, some commands also take a few of wts' own options among their words
(``--format json``, ``--dry-run``, ``--yes``): ``EXTENSIONS`` lists them, and each command says which
it accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import wts

from ._args import parse_session
from ._context import Context
from ._status import ExitStatus

__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "Invalid",
    "dry_run_summary",
    "invalid",
    "parse",
    "say",
    "servers_of",
    "session_word",
    "usage",
]

#: wts' own options a classic command may take among its words: --format takes a value.
EXTENSIONS = ("--format", "--dry-run", "--yes")
#: --format's values (wts' own; "table" is the original's fixed-width text).
FORMATS = ("table", "json", "jsonl", "csv")


class Invalid(Exception):
    """The command line is one the original rejects with ``Invalid parameter(s)``."""


def parse(
    args: list[str],
    flags: Collection[str],
    valued: Collection[str],
    extensions: Collection[str] = (),
) -> tuple[list[str], dict[str, str | bool]]:
    """Positional words and /switches (keys lower-case, without the slash; a valued switch maps to
    its value, a flag to True; ``?`` for /?); raises ``Invalid`` for anything the original rejects:
    an unknown switch, a flag given a value, a valued switch without one or given twice.  A word
    that starts with - and a digit (``-5``) is a word.  ``extensions``: which of ``EXTENSIONS`` this
    command accepts (keys "--format", "--dry-run", "--yes")."""
    words: list[str] = []
    switches: dict[str, str | bool] = {}
    pending: str | None = None
    for arg in args:
        if pending is not None:
            switches[pending] = _format_value(arg)
            pending = None
        elif arg.startswith("--") and len(arg) > 2:
            name, sep, value = arg.partition("=")
            if name not in extensions or name in switches:
                raise Invalid
            if name == "--format":
                if sep:
                    switches[name] = _format_value(value)
                else:
                    pending = name
            elif sep:
                raise Invalid
            else:
                switches[name] = True
        elif arg[:1] in ("/", "-") and len(arg) > 1 and not arg[1:].isdigit():
            name, sep, value = arg[1:].partition(":")
            key = name.lower()
            if key == "?" and not sep:
                switches["?"] = True
            elif key in flags and not sep:
                switches[key] = True
            elif key in valued and sep and value:
                if key in switches:
                    raise Invalid
                switches[key] = value
            else:
                raise Invalid
        else:
            words.append(arg)
    if pending is not None:
        raise Invalid  # --format with nothing after it
    return words, switches


def _format_value(value: str) -> str:
    if value.lower() not in FORMATS:
        raise Invalid
    return value.lower()


def invalid(ctx: Context, usage_text: str) -> ExitStatus:
    """What the originals print for a command line they reject: exit status 2."""
    ctx.stderr.write("Invalid parameter(s)\n" + usage_text)
    ctx.stderr.flush()
    return ExitStatus.USAGE


def usage(ctx: Context, usage_text: str) -> ExitStatus:
    """/?: the usage on stdout, exit status 0."""
    ctx.stdout.write(usage_text)
    ctx.stdout.flush()
    return ExitStatus.OK


def servers_of(switches: dict[str, str | bool]) -> list[str] | None:
    """/SERVER:'s servers (None: the local server): one name as the originals take, or a range or a
    list (``RDS[01-40]``, ``RDS01,RDS02``); a blank value names nothing and is ``Invalid``.  A
    malformed range raises ValueError naming it (one line, exit status 2)."""
    value = switches.get("server")
    if not isinstance(value, str):
        return None
    if not value.strip():
        raise Invalid
    names = wts.parse_servers(value, where="/SERVER")
    if not names:
        raise Invalid
    return names


def session_word(word: str, tool: str) -> int | str:
    """A word that names a session: all digits, its id (out of range: one line, exit 2); anything
    else a name (a WinStation or a user name, which may well start with a digit)."""
    text = word.strip()
    if text.isascii() and text.isdigit():
        return parse_session(text, tool)
    return text


def dry_run_summary(tool: str, counts: dict[str, int], what: str, servers: int) -> str:
    """--dry-run's one line on stderr (wts' own, as the dry run is), e.g. 'tskill (dry run): 376
    planned, 2 skipped, on 40 servers; nothing was changed'.  ``counts``: outcomes by status."""
    order = ("planned", "done", "skipped", "failed", "unknown")
    parts = ", ".join(f"{counts[s]:,} {s}" for s in order if counts.get(s)) or f"no {what}"
    return f"{tool} (dry run): {parts}, on {servers:,} server{'' if servers == 1 else 's'}; nothing was changed"


def say(ctx: Context, verbose: bool) -> Callable[[str], None]:
    """/V's lines (on stdout, as the originals print them); nothing without /V."""

    def line(text: str) -> None:
        if verbose:
            ctx.stdout.write(text + "\n")
            ctx.stdout.flush()

    return line
