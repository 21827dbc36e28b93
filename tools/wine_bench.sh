#!/usr/bin/env bash
# The peer benchmark under Wine (docs/benchmarks.md, `make bench-wine`): real pywin32 (win32ts, the
# cp311 win_amd64 wheel from PyPI pinned in .ci/requirements/pywin32.txt) against our simulator built
# as wtsapi32.dll, sequential and on a thread pool, beside our Windows wheel and the ctypes pattern, all
# on one farm (the DLL's, which wts.sim loads and counts in this setup), in one run of `wts bench`.
#
# Usage: bash tools/wine_bench.sh [wts bench options]
#   Without options: who is where and disconnect all, 200x25 at 2 ms, concurrency 64, 3 rounds, each
#   baseline capped at 60 s a scenario.  The report goes to build/wine-bench/bench.json (and .txt).
#
# It reuses the Windows build of `make wine` (build/wine: the cp311 Python with our wheel installed and
# the simulator DLL), and runs .ci/wine first (its test runs cut to the Wine and bench tests) when
# that build is missing or older than src/.  It works on a copy, in build/wine-bench, with a prefix of
# its own, so it never clashes with a later `make wine`.  Needs what .ci/wine needs (wine64, mingw-w64).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source .ci/steps.sh

built=$root/build/wine
work=$root/build/wine-bench
cache=${WTS_WINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wts-wine}
wine=${WTS_WINE:-/usr/lib/wine/wine64}
export WINESERVER=${WINESERVER:-/usr/lib/wine/wineserver64}
for tool in "$wine" "$WINESERVER"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "wine bench: $tool not found; install wine64 (and gcc-mingw-w64-x86-64-win32 for the build)" >&2
    exit 2
  fi
done

win_wheel() { compgen -G "$built/dist-win/wts-*-win_amd64.whl" | head -1 || true; }
wheel=$(win_wheel)
if [[ -z $wheel || ! -f $built/cp311/python.exe || ! -f $built/obj/wtsapi32.dll ]] ||
  [[ -n $(find src setup.py pyproject.toml -newer "$wheel" -type f -print -quit) ]]; then
  step "wine bench: the Windows build (bash .ci/wine, with only its Wine and bench tests)"
  WTS_WINE_PYTEST_ARGS="-k (wine)or(bench)" bash .ci/wine # one word: .ci/wine splits it
  wheel=$(win_wheel)
fi

step "wine bench: pywin32 (pinned by sha256)"
tools_venv
mkdir -p "$cache/pywin32"
"$TOOLS/bin/python" -m pip download -q --disable-pip-version-check --no-deps --only-binary :all: --require-hashes \
  --platform win_amd64 --python-version 3.11 --implementation cp --abi cp311 \
  -r .ci/requirements/pywin32.txt -d "$cache/pywin32"

step "wine bench: a copy of the Windows Python, and a prefix of its own"
"$WINESERVER" -k >/dev/null 2>&1 || true
rm -rf "$work"
mkdir -p "$work"
cp -a "$built/cp311" "$work/cp311"
winpy=$work/cp311
export WINEPREFIX=$work/prefix WINEARCH=win64 WINEDEBUG=-all
unset DISPLAY WAYLAND_DISPLAY
for var in $(compgen -e); do # nothing from this shell's Python set-up may reach the Windows processes
  case $var in PIP_* | PYTHON* | VIRTUAL_ENV | WTS_*) unset "$var" ;; esac
done
export PIP_CONFIG_FILE=nul PIP_DISABLE_PIP_VERSION_CHECK=1
base_overrides="mscoree,mshtml="
mkdir -p "$WINEPREFIX"
"$WINESERVER" -p </dev/null >/dev/null 2>&1 # stdio to /dev/null: see .ci/wine
trap '"$WINESERVER" -k >/dev/null 2>&1 || true' EXIT
WINEDLLOVERRIDES=$base_overrides timeout 300 "$wine" wineboot -i </dev/null >/dev/null 2>&1
cp "$built/obj/wtsapi32.dll" "$WINEPREFIX/drive_c/windows/system32/wtsapi32.dll"
export WINEDLLOVERRIDES="$base_overrides;wtsapi32=n" # our simulator, not Wine's wtsapi32
win() { timeout 1800 "$wine" "$@" </dev/null 2>&1 | cat; }
winpath() { local p=${1//\//\\}; echo "Z:$p"; }
win "$winpy/python.exe" -m pip install -q --no-warn-script-location --no-index --no-deps --force-reinstall "$(winpath "$wheel")"
win "$winpy/python.exe" -m pip install -q --no-warn-script-location --no-index --no-deps \
  --find-links "$(winpath "$cache/pywin32")" --require-hashes -r "$(winpath "$root/.ci/requirements/pywin32.txt")"

step "wine bench: check that wts, the ctypes pattern and pywin32 all reach the simulator DLL"
check='
import win32ts, wts, wts._wts as w
assert w.sim_backend() == "wtsapi32.dll", "simulated farm in " + w.sim_backend()
wts.sim.generate(2, 3, seed=1)
wts.sim.reset_counters()
h = win32ts.WTSOpenServer("RDS01")
n = len(win32ts.WTSEnumerateSessions(h))
win32ts.WTSCloseServer(h)
assert n == 6 and wts.sim.rpc_total() == 1, (n, wts.sim.rpc_total())
print("wts", wts.__version__, "from", wts.__file__, "| pywin32 win32ts from", win32ts.__file__)
'
cd "$work"
# A fresh prefix's first python.exe has been seen to exit silently (see .ci/wine): retry that case only.
for attempt in 1 2 3; do
  rc=0
  out=$(win "$winpy/python.exe" -c "$check") || rc=$?
  [[ $rc -eq 0 && -n $out ]] && break
  if [[ -n $out || $attempt -eq 3 ]]; then
    echo "$out" >&2
    echo "wine bench: the check failed (exit $rc)" >&2
    exit 1
  fi
  sleep 2
done
echo "$out"

step "wine bench: wts bench"
if (($# == 0)); then
  set -- --ops who,disconnect --sizes 200x25 --rtt 2 --concurrency 64 --rounds 3 --baseline-cap 60
fi
echo "$("$wine" --version) | $(nproc) CPUs | load average: $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
timeout --kill-after=30 3600 "$wine" "$winpy/python.exe" -m wts._bench --json "$(winpath "$work/bench.json")" "$@" \
  </dev/null 2>&1 | tee "$work/bench.txt" || rc=$?
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ ! -s $work/bench.json ]]; then # the report is written last: without it the run did not finish
  echo "wine bench: no report in $work/bench.json: the run failed" >&2
  rc=1
fi
steps_summary "peer benchmark under Wine"
exit "$rc"
