"""The ``wts`` command (and ``python -m wts``): qwinsta, quser, tsdiscon, tscon, logoff and msg for
whole farms, built on the public API only (wts.Farm, wts.Server, wts.connect, wts.sim).

Reference: docs/cli.md.  Exit status: 0 all done, 1 some targets or servers failed, 2 usage error,
130 interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ._args import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError, build_parser

__all__ = ["main", "main_exit"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``wts`` command line; returns the exit status (never raises, bar SystemExit from --help)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse: --help (0) or a usage error it has printed (2)
        return int(exc.code or 0)
    if args.version:
        from .. import __version__

        print(f"wts {__version__}")
        return EXIT_OK
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if args.command == "bench":
        import importlib

        try:
            bench = importlib.import_module("wts._bench")
        except ImportError as exc:  # pragma: no cover - shipped together
            print(f"wts bench: not available in this build ({exc})", file=sys.stderr)
            return EXIT_USAGE
        return int(bench.main(args.bench_args, prog="wts bench"))

    from ._run import Context, run_command

    ctx = Context(args)
    status = run_command(ctx)
    ctx.close()  # writes --sim-state back; a failure to write it makes the status 1
    return max(status, ctx.status_after_close) if status != EXIT_INTERRUPTED else status


__all__ += ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "UsageError"]


def main_exit() -> None:
    """The console script: ``sys.exit(main())``."""
    sys.exit(main())
