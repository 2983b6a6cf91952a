#!/usr/bin/env bash
# The issue-4 goal runs of relay-bench, one after the other, each result's key lines only.
# Run on a quiet machine (nothing else busy): `benches/relay/goals.sh [OUT_FILE]`.
# Raw output goes to OUT_FILE (default target/relay-goals.txt), a summary to stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-target/relay-goals.txt}
cargo build --release --locked -p relay-bench >/dev/null
B=target/release/relay-bench
: >"$out"
run() {
  echo "== $*" | tee -a "$out"
  local from; from=$(wc -l <"$out")
  # nice -n -10 needs root; without it the runs still work, at normal priority.
  local nice=(); [ "$(id -u)" -eq 0 ] && nice=(nice -n -10)
  "${nice[@]}" "$@" >>"$out" 2>&1 || echo "   (exit $?)" | tee -a "$out"
  # A failed run may print none of these lines: grep then exits 1, which must not end the
  # script (set -e with pipefail) before the remaining runs.
  tail -n +"$((from + 1))" "$out" | grep -E '^(packets:|relay cpu:|latency|time the hypervisor|mean over|both directions|empty recvfrom)' | sed 's/^/   /' || true
}
P="run --gen-threads 1 --duration 10 --shared-sockets --slot-us 100"
run $B calibrate
for calls in 100 1000; do
  run $B $P --calls $calls
  run $B $P --calls $calls --plain-tokio
done
run $B $P --calls 3000
run taskset -c 0 $B $P --calls 3000 --gen-rx-per-slot --relay-cpus 1 --worker-priority 10
T="run --mode transcode --gen-threads 1 --duration 10 --gen-rx-per-slot --shared-sockets"
run $B $T --calls 500
run $B $T --calls 500 --room-maxplaybackrate 8000
run $B codec --calls 500 --packets 40000
