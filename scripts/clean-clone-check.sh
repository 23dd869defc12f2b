#!/usr/bin/env bash
# A new user's first steps on a fresh machine: clone the repository (HEAD, committed work only)
# into an empty temp dir, so that nothing lies beside it (no ../shared), and run there
#   1. the README's first command (a debug build; its own state dir), which must exit 0 and
#      write a node;
#   2. the tests that read test data — the acceptance prompts and the contract corpus — which
#      must find it in the clone.
#
#   scripts/clean-clone-check.sh           the above
#   scripts/clean-clone-check.sh --all     the whole workspace test suite in the clone instead of 2.
#   ONEX_CLEAN_CLONE_KEEP=1                keep the temp dir (its path is printed)
#
# Builds reuse $CARGO_TARGET_DIR, else this repository's target/ (dependencies are not rebuilt;
# the clone's own crates are, under their own path).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
log() { printf 'clean-clone-check: %s\n' "$*" >&2; }

all=0
case "${1:-}" in
"") ;;
--all) all=1 ;;
*)
  echo "usage: $0 [--all]" >&2
  exit 2
  ;;
esac

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/onex-clean-clone.XXXXXX")
if [[ "${ONEX_CLEAN_CLONE_KEEP:-0}" == 1 ]]; then
  log "keeping $tmp"
else
  trap 'rm -rf "$tmp"' EXIT
fi

git clone --quiet --no-local "$repo" "$tmp/onex"
clone="$tmp/onex"
if [[ -e "$tmp/shared" ]]; then
  log "$tmp/shared exists; the check needs an empty parent"
  exit 1
fi
log "cloned $(git -C "$clone" rev-parse --short HEAD) into $clone (nothing beside it)"
cd "$clone"

# The clone's own state: the embedded bus log and configuration of this machine stay out.
export XDG_STATE_HOME="$tmp/state" XDG_CONFIG_HOME="$tmp/config"
unset ONEX_BUS ONEX_CLI_MODE ONEX_TOPIC_PREFIX

log "README command 1: onex generate -o generated …"
cargo run --quiet --locked -p onex-cli -- generate -o generated "Create EFFECT node for database writes"
n=$(find generated -type f | wc -l)
if [[ "$n" -lt 12 ]]; then
  log "generate wrote $n file(s) under generated/, expected a node of 12"
  exit 1
fi
log "generate wrote $n files"

if [[ $all == 1 ]]; then
  log "the whole test suite"
  cargo nextest run --workspace --locked --no-fail-fast
else
  log "the tests that read test data"
  cargo nextest run --locked --no-fail-fast -p onex-generation --test acceptance_data \
    --test prompt_acceptance --test codegen_acceptance --test generation_acceptance
  cargo nextest run --locked --no-fail-fast -p onex-engine --test contract_corpus
  cargo nextest run --locked --no-fail-fast -p onex-cli --test validate_cli
fi
log "ok"
