#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/, docs/RELIABILITY.md "Fuzzing") for a bounded time each
# and fails on any crash, timeout or out-of-memory, printing the reproducer's path.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (default: 60 s each, every target)
#
# Needs a nightly toolchain (`cargo +nightly`) and cargo-fuzz (installed when absent).
# New corpus entries go to ONEX_FUZZ_WORK (default /var/tmp/onex-fuzz-corpus), never into the
# committed seeds under fuzz/corpus/; reproducers go to fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(contract_yaml envelope_decode prompt_parse)

# Longest input per target: room for the largest seed and for the limit each parser enforces
# (10,000-character prompts), small enough that executions stay fast.
max_len() {
  case $1 in
    contract_yaml) echo 65536 ;;
    envelope_decode) echo 16384 ;;
    prompt_parse) echo 12288 ;;
    *) echo "fuzz.sh: unknown target $1" >&2; return 1 ;;
  esac
}

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz.sh: no nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo +nightly install cargo-fuzz --locked
fi

# No sanitizer: the targets are safe Rust, and ASan would slow the build and every execution;
# overflow checks and debug assertions stay on (-a). Stack overflows, panics, timeouts and the
# RSS limit are caught by libFuzzer itself.
build=(--sanitizer none --debug-assertions)
# Built first so that a build error is not mistaken for a finding.
for t in "${targets[@]}"; do
  max_len "$t" >/dev/null
  cargo +nightly fuzz build --fuzz-dir fuzz "${build[@]}" "$t"
done

work=${ONEX_FUZZ_WORK:-/var/tmp/onex-fuzz-corpus}
failed=0
for t in "${targets[@]}"; do
  len=$(max_len "$t")
  mkdir -p "$work/$t" "fuzz/artifacts/$t"
  log=$(mktemp "${TMPDIR:-/tmp}/fuzz-$t.XXXXXX.log")
  echo "fuzz.sh: $t for ${secs}s (max_len $len, log $log)"
  if cargo +nightly fuzz run --fuzz-dir fuzz "${build[@]}" "$t" "$work/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len="$len" \
      -print_final_stats=1 >"$log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$log" | sed "s/^/fuzz.sh: $t: /" || true
  else
    failed=1
    echo "fuzz.sh: $t FAILED:" >&2
    grep -E '^==[0-9]+== ERROR|deadly signal|panicked at|ERROR: libFuzzer|SUMMARY' "$log" | head -5 >&2 || true
    grep -E 'Test unit written to|artifact_prefix' "$log" | sed 's/^/  reproducer: /' >&2 || true
    echo "  replay: cargo +nightly fuzz run --fuzz-dir fuzz ${build[*]} $t <reproducer>" >&2
  fi
done
exit "$failed"
