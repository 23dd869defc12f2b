#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this):
#   1. start the test brokers (redis-server, Tansu on free loopback ports) — scripts/brokers.sh
#   2. make the Python 3.12 venv with the pinned omnibase-core — scripts/python-env.sh
#   3. formatting and clippy (warnings are errors)
#   4. every test of the workspace (cargo nextest), then the doc tests
# Extra arguments go to nextest (`scripts/test.sh -E 'test(executor)'`).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/onex-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n== %s\n' "$*" >&2; }

step "brokers"
if [[ "${ONEX_STOP_BROKERS:-0}" == 1 ]]; then trap 'scripts/brokers.sh stop || true' EXIT; fi
scripts/brokers.sh start
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
