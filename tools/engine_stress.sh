#!/usr/bin/env bash
# The bulk engine's C half under ThreadSanitizer and AddressSanitizer, against the C simulator:
# deadlines, cancellation, dead hosts, retries that reuse jobs, and closing with calls in flight.
# Exits non-zero on any sanitizer report, a job lost or returned twice, or a leaked sim allocation.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${TMPDIR:-/tmp}/wts-engine-stress
mkdir -p "$out"
for san in thread address; do
  cc -g -O1 -fsanitize=$san -fno-omit-frame-pointer -Isrc -Isrc/wtsapi \
     tools/engine_stress.c src/wtsapi/wts_engine.c src/wtsapi/wts_sim.c -o "$out/stress_$san" -lpthread
  TSAN_OPTIONS=halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 "$out/stress_$san" "${1:-40}"
done
