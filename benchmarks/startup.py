"""Start-up time of ``import wts`` and ``wts --help``, for one or more installs side by side.

    python benchmarks/startup.py [--runs 40] PYTHON [PYTHON ...]

Each PYTHON is a venv's interpreter with wts installed (its ``wts`` console script beside it).  The
commands run in turn, round after round, so the machine's load falls on all alike; the table gives
the median and the minimum wall time.  Bytecode is written on a warm-up run first (an environment
with PYTHONDONTWRITEBYTECODE would time compiling instead).  Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("pythons", nargs="+")
    args = parser.parse_args()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cases: dict[str, list[str]] = {}
    for py in args.pythons:
        script = Path(py).with_name("wts")
        cases[f"{py}: python -c pass"] = [py, "-c", "pass"]
        cases[f"{py}: import wts"] = [py, "-c", "import wts"]
        cases[f"{py}: wts --help"] = [str(script), "--help"] if script.exists() else [py, "-m", "wts", "--help"]
    times: dict[str, list[float]] = {k: [] for k in cases}
    for cmd in cases.values():
        subprocess.run(cmd, stdout=subprocess.DEVNULL, env=env, check=True)
    for _ in range(args.runs):
        for name, cmd in cases.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, env=env, check=True)
            times[name].append(time.perf_counter() - t0)
    width = max(map(len, cases))
    for name, xs in times.items():
        print(f"{name:{width}}  median {statistics.median(xs) * 1e3:6.1f} ms  min {min(xs) * 1e3:6.1f} ms")


if __name__ == "__main__":
    main()
