"""``wts bench``, the command: arguments in, the table and the JSON report out, an exit status."""

from __future__ import annotations

import sys

from ._args import parse_args
from ._measure import run
from ._model import BenchError
from ._report import format_table


def main(argv: list[str] | None = None, prog: str = "wts bench") -> int:
    """``wts bench``: 0 when every measurement ran, 1 when one failed, 2 for a usage error."""
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["tsts"]:  # the tsts scenario over loopback: its own options (``_remote``)
        from ._remote import remote_main

        return remote_main(argv[1:], f"{prog} tsts")
    try:
        scenarios, opts, args = parse_args(argv, prog)
    except BenchError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # --help
        return int(e.code or 0)

    def log(line: str) -> None:
        if not args.quiet:
            print(f"{prog}: {line}", file=sys.stderr, flush=True)

    try:
        report = run(scenarios, opts, log)
        report["command"] = [prog, *argv]
        table = format_table(report, markdown=args.markdown)
        out = sys.stderr if args.json == "-" else sys.stdout
        print(table, file=out)
        if report["sim_library"]:
            print(f"\nctypes baselines: {report['sim_library']}", file=out)
        elif {"a", "b"} & set(opts.baselines):
            print(f"\nctypes baselines n/a: {report['sim_library_reason']}", file=out)
        if args.json:
            import json

            text = json.dumps(report, indent=1) + "\n"
            if args.json == "-":
                sys.stdout.write(text)
            else:
                with open(args.json, "w", encoding="utf-8") as f:
                    f.write(text)
                print(f"report: {args.json}", file=out)
    except (BenchError, OSError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    return 1 if any(r["status"] == "error" for r in report["rows"]) else 0
