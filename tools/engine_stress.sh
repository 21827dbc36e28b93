#!/usr/bin/env bash
# The bulk engine's C half under ThreadSanitizer and AddressSanitizer, against the C simulator:
# first the late-return window forced open (a test-only hook; engine_stress.c compiles the engine
# itself, with the hook), then random rounds of deadlines, cancellation, dead hosts, retries that
# reuse jobs, and closing with calls in flight.
# Exits non-zero on any sanitizer report, a job lost or returned twice, or a leaked sim allocation.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${TMPDIR:-/tmp}/wts-engine-stress
mkdir -p "$out"
rounds=${1:-40}
for san in thread address; do
  cc -g -O1 -fsanitize=$san -fno-omit-frame-pointer -Isrc -Isrc/wtsapi \
     tools/engine_stress.c src/wtsapi/wts_sim.c -o "$out/stress_$san" -lpthread
done

TSAN_OPTIONS=halt_on_error=1 "$out/stress_thread" "$rounds" >"$out/tsan.log" 2>&1 && tsan=0 || tsan=$?
if ((tsan != 0)) && grep -q "unexpected memory mapping" "$out/tsan.log"; then
  # GCC 12's TSan cannot start on kernels with 32 bits of mmap randomness (vm.mmap_rnd_bits); without
  # address randomization it can, where the container allows turning it off.
  echo "engine stress: TSan needs ASLR off on this kernel (vm.mmap_rnd_bits=$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null))"
  if setarch "$(uname -m)" -R true 2>/dev/null; then
    TSAN_OPTIONS=halt_on_error=1 setarch "$(uname -m)" -R "$out/stress_thread" "$rounds" >"$out/tsan.log" 2>&1 \
      && tsan=0 || tsan=$?
  else
    echo "engine stress: SKIPPED ThreadSanitizer: this kernel's address randomization stops it, and" \
         "this container may not turn randomization off (setarch -R)"
    tsan=skipped
  fi
fi
cat "$out/tsan.log"
[[ $tsan == 0 || $tsan == skipped ]] || { echo "engine stress: ThreadSanitizer run failed ($tsan)" >&2; exit 1; }

ASAN_OPTIONS=detect_leaks=1 "$out/stress_address" "$rounds" >"$out/asan.log" 2>&1 && asan=0 || asan=$?
if ((asan != 0)) && grep -q "LeakSanitizer has encountered a fatal error" "$out/asan.log"; then
  # LeakSanitizer stops the world with ptrace, which some containers forbid; the simulator's own
  # count of outstanding allocations (checked by the program) still proves nothing leaks.
  echo "engine stress: LeakSanitizer cannot run here; AddressSanitizer again without it"
  ASAN_OPTIONS=detect_leaks=0 "$out/stress_address" "$rounds" >"$out/asan.log" 2>&1 && asan=0 || asan=$?
fi
cat "$out/asan.log"
((asan == 0)) || { echo "engine stress: AddressSanitizer run failed ($asan)" >&2; exit 1; }
