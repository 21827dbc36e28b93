"""The command line of ``wts bench``: its parser, and the scenarios and options it asks for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._baselines import find_pywin32
from ._model import BASELINE_CHOICES, DEFAULT_SUITE, OPS, BenchError, Options, Scenario, one_line_parser

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


def _parser(prog: str) -> Any:
    p = one_line_parser(
        prog,
        (
            "Benchmark wts against the peers (the pywin32 pattern through ctypes, sequential and on a thread "
            "pool; real pywin32 under Wine) on the simulated farm, against the bound RPCs x round trip / "
            "concurrency. Prints a table and writes JSON. With no scenario option, runs the default suite "
            "(every target row of docs/benchmarks.md); with any, runs every combination of --ops, --sizes, "
            "--rtt and --concurrency. 'wts bench tsts --help': the tsts provider over loopback against impacket."
        ),
    )
    p.add_argument("--ops", help=f"operations, comma-separated: {', '.join(OPS)} (default: all)")
    p.add_argument(
        "--sizes", help="farms as SERVERSxSESSIONS, comma-separated, e.g. 10x10,200x25,1000x40 (default: 200x25)"
    )
    p.add_argument("--rtt", help="round trips in ms, comma-separated, e.g. 0,2 (default: 2)")
    p.add_argument(
        "--concurrency", help="wts' concurrency and (b)'s threads, comma-separated, e.g. 1,16,64,256 (default: 64)"
    )
    p.add_argument(
        "--rounds", type=int, default=5, help="timed rounds per implementation; the median is shown (default: 5)"
    )
    p.add_argument(
        "--baselines",
        help="which baselines: a, b, pywin32, comma-separated, or 'none' (default: a,b, plus pywin32 where it can run)",
    )
    p.add_argument("--no-baselines", action="store_true", help="measure wts alone")
    p.add_argument(
        "--baseline-cap",
        type=float,
        default=10.0,
        help="seconds a baseline may spend in one scenario; one whose round would take longer is not run,"
        " and its row says so (default: 10)",
    )
    p.add_argument(
        "--logoff-over",
        type=float,
        default=7200.0,
        help="the logoff scenario's threshold: sessions disconnected longer than this many seconds (default: 7200)",
    )
    p.add_argument("--seed", type=int, default=1, help="the generated farm's seed (default: 1)")
    p.add_argument("--sim-lib", help="the simulator built as a shared library with the wtsapi32 names (or WTS_SIM_LIB)")
    p.add_argument(
        "--json",
        default="wts-bench.json",
        metavar="FILE",
        help="write the report here; '-' for stdout, '' for none (default: wts-bench.json)",
    )
    p.add_argument("--markdown", action="store_true", help="print the table in Markdown")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    return p


def _split(text: str | None, what: str, conv: Callable[[str], Any]) -> list[Any] | None:
    if text is None:
        return None
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(conv(part))
        except ValueError as e:
            raise BenchError(f"{what}: {e}") from None
    if not out:
        raise BenchError(f"{what}: empty list")
    return out


def _op(s: str) -> str:
    if s not in OPS:
        raise ValueError(f"unknown operation {s!r} (choose from {', '.join(OPS)})")
    return s


def _size(s: str) -> tuple[int, int]:
    a, sep, b = s.lower().partition("x")
    if not sep or not a.isdigit() or not b.isdigit():
        raise ValueError(f"{s!r} is not SERVERSxSESSIONS, e.g. 200x25")
    servers, sessions = int(a), int(b)
    if not 1 <= servers <= 100_000 or not 0 <= sessions <= 65_534:
        raise ValueError(f"{s!r}: servers must be 1 to 100000 and sessions 0 to 65534")
    return servers, sessions


def _rtt(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise ValueError(f"{s!r} is not a number of milliseconds") from None
    if not 0 <= v <= 10_000:
        raise ValueError(f"{s!r}: a round trip must be 0 to 10000 ms")
    return v


def _conc(s: str) -> int:
    if not s.isdigit() or not 1 <= int(s) <= 4096:
        raise ValueError(f"{s!r}: concurrency must be an integer from 1 to 4096")
    return int(s)


def _baseline(s: str) -> str:
    if s not in (*BASELINE_CHOICES, "none"):
        raise ValueError(f"unknown baseline {s!r} (choose from {', '.join(BASELINE_CHOICES)}, or none)")
    return s


def parse_args(argv: Sequence[str], prog: str) -> tuple[list[Scenario], Options, Any]:
    args = _parser(prog).parse_args(list(argv))
    ops = _split(args.ops, "--ops", _op)
    sizes = _split(args.sizes, "--sizes", _size)
    rtts = _split(args.rtt, "--rtt", _rtt)
    concs = _split(args.concurrency, "--concurrency", _conc)
    if any(x is not None for x in (ops, sizes, rtts, concs)):
        scenarios = [
            Scenario(op, sv, se, rtt, c)
            for (sv, se) in (sizes or [(200, 25)])
            for rtt in (rtts or [2.0])
            for op in (ops or list(OPS))
            for c in (concs or [64])
        ]
    else:
        scenarios = list(DEFAULT_SUITE)
    if not 1 <= args.rounds <= 1000:
        raise BenchError("--rounds must be 1 to 1000")
    if not args.baseline_cap > 0:
        raise BenchError("--baseline-cap must be more than 0 seconds")
    if not args.logoff_over >= 0:
        raise BenchError("--logoff-over must be 0 or more seconds")
    if args.no_baselines:
        baselines: tuple[str, ...] = ()
    elif args.baselines is not None:
        chosen = _split(args.baselines, "--baselines", _baseline) or []
        baselines = () if chosen == ["none"] else tuple(b for b in BASELINE_CHOICES if b in chosen)
    else:
        baselines = ("a", "b", "pywin32") if find_pywin32()[0] is not None else ("a", "b")
    opts = Options(args.rounds, baselines, args.baseline_cap, args.logoff_over, args.seed, args.sim_lib)
    return scenarios, opts, args
