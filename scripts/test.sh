#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this):
#   1. start the test brokers (redis-server, Tansu, moto S3 on free loopback ports) —
#      scripts/brokers.sh; at the end it stops the ones it started (ONEX_KEEP_BROKERS=1 keeps
#      them; brokers that were already running are never stopped)
#   2. make the Python 3.12 venv with the pinned omnibase-core — scripts/python-env.sh
#   3. formatting and clippy (warnings are errors)
#   4. every test of the workspace (cargo nextest), then the doc tests
# Extra arguments go to nextest (`scripts/test.sh -E 'test(executor)'`). It builds where the
# README's `cargo run` does: target/, or $CARGO_TARGET_DIR when set.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n== %s\n' "$*" >&2; }

step "brokers"
before=$(scripts/brokers.sh running)
started=()
stop_started() {
  if [[ ${#started[@]} -gt 0 ]]; then scripts/brokers.sh stop "${started[@]}" || true; fi
}
if [[ "${ONEX_KEEP_BROKERS:-0}" != 1 ]]; then trap stop_started EXIT; fi
# Also after a failed start: what it got going is stopped too.
note_started() {
  local name
  for name in $(scripts/brokers.sh running); do
    grep -qx "$name" <<<"$before" || started+=("$name")
  done
}
scripts/brokers.sh start || { note_started; exit 1; }
note_started
while IFS='=' read -r k v; do
  [[ -n "$k" && "$k" != \#* ]] && export "$k=$v"
done < <(scripts/brokers.sh env)

step "python"
if py=$(scripts/python-env.sh); then
  export ONEX_TEST_PY312="$py"
fi

step "fmt and clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
cargo nextest run --workspace --locked --no-fail-fast "$@"
cargo test --workspace --locked --doc
