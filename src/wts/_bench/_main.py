"""``wts bench``, the command: arguments in, the table and the JSON report out, an exit status."""

from __future__ import annotations

import sys

from ._args import parse_args
from ._measure import run
from ._model import BenchError, parse_or_status, stderr_log
from ._report import format_table


def main(argv: list[str] | None = None, prog: str = "wts bench") -> int:
    """``wts bench``: 0 when every measurement ran, 1 when one failed, 2 for a usage error."""
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["tsts"]:  # the tsts scenario over loopback: its own options (``_remote``)
        from ._remote import remote_main

        return remote_main(argv[1:], f"{prog} tsts")
    parsed = parse_or_status(lambda: parse_args(argv, prog), prog)
    if isinstance(parsed, int):
        return parsed
    scenarios, opts, args = parsed
    log = stderr_log(prog, args.quiet)

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
