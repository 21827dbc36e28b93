"""The ``wts`` command (and ``python -m wts``): qwinsta, quser, tsdiscon, tscon, logoff and msg for
whole farms, built on the public API only (wts.Farm, wts.Server, wts.connect, wts.sim).

This module is the entry point: ``main`` reads the standard streams once, parses the command line
and hands the command to its module (the table in ``_commands``), so ``wts --help`` imports no
command.  Reference: docs/cli.md.  Exit status (``ExitStatus``): 0 all done, 1 some targets or
servers failed, 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from .. import __version__
from ._args import build_parser
from ._context import Environment, StreamClosedError
from ._status import ExitStatus, UsageError

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "ExitStatus", "UsageError", "main", "main_exit"]

# The statuses by their old names, for callers that imported them.
EXIT_OK = ExitStatus.OK
EXIT_FAILED = ExitStatus.FAILED
EXIT_USAGE = ExitStatus.USAGE
EXIT_INTERRUPTED = ExitStatus.INTERRUPTED


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run one ``wts`` command line; returns the exit status (never raises).

    ``argv`` defaults to ``sys.argv[1:]``, each stream to ``sys``'s; they are read here, once, and
    everything the command prints or reads goes through the ones given."""
    env = Environment(stdin=stdin, stdout=stdout, stderr=stderr)
    env.argv = [str(a) for a in (sys.argv[1:] if argv is None else argv)]
    try:
        return _main(list(env.argv), env)
    except StreamClosedError as exc:  # the help or the version, to a closed stdout
        env.error(f"{exc.stream_name} is closed: the output could not be written")
        return ExitStatus.FAILED
    except BrokenPipeError:  # 'wts --version | true': nobody is reading
        return ExitStatus.FAILED
    except OSError as exc:  # 'wts --version > /dev/full'
        env.error(exc.strerror or str(exc))
        return ExitStatus.USAGE


def _main(argv: list[str], env: Environment) -> int:
    parser = build_parser(env)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error it has printed (2)
        return int(exc.code or 0)
    if args.version:
        env.stdout.write(f"wts {__version__}\n")
        env.stdout.flush()
        return ExitStatus.OK
    if args.command is None:
        parser.print_help(env.stderr)
        return ExitStatus.USAGE

    from ._guard import run_command  # the commands' machinery, only now: wts --help stays lean

    return run_command(args, env)


def main_exit() -> None:
    """The console script: ``sys.exit(main())``."""
    sys.exit(main())
