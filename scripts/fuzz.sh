#!/usr/bin/env bash
# Fuzzes the decoding and validation code (fuzz/fuzz_targets/) for a bounded
# time, starting from the committed seed corpus. Exits non-zero on a crash;
# the crashing input is saved under fuzz/artifacts/.
#
#   FUZZ_SECONDS   how long to run (default 60)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-60}"
target=decode_and_validate

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# cargo-fuzz passes -Z flags (sanitizers, coverage); stable rustc accepts
# them only with RUSTC_BOOTSTRAP, and stable is the toolchain we build with.
export RUSTC_BOOTSTRAP=1
mkdir -p work-corpus
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "==> fuzzing $target for ${seconds}s"
# Show libFuzzer's start, periodic pulses and end, and any crash report.
set +e
cargo fuzz run "$target" work-corpus "corpus/$target" -- -max_total_time="$seconds" 2>&1 \
  | tee "$log" \
  | grep --line-buffered -E '^(#[0-9]+\s+(INITED|pulse|DONE)|Done|==[0-9]+==|SUMMARY|thread|panicked|Failing input)'
status=${PIPESTATUS[0]}
set -e
runs=$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 || true)
if [ "$status" -ne 0 ]; then
  echo "fuzz: crash found (exit $status); see fuzz/artifacts/$target/" >&2
  exit "$status"
fi
echo "fuzz: ${runs:-finished}, no crash"
