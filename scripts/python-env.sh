#!/usr/bin/env bash
# The Python 3.12 venv the tests import generated nodes into: the omnibase-core release the
# template pack's symbol table was generated from (nodes/generation/templates/omnibase_core_symbols.json)
# and mypy. Idempotent; prints the interpreter's path on stdout.
#
#   scripts/python-env.sh        create /var/tmp/onex-py312 if needed (ONEX_PY312_VENV overrides)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${ONEX_PY312_VENV:-/var/tmp/onex-py312}"
PIN=$(python3 -c 'import json; print(json.load(open("nodes/generation/templates/omnibase_core_symbols.json"))["version"])')
MYPY_PIN='mypy==2.4.1'
log() { printf 'python-env: %s\n' "$*" >&2; }

have() {
  [[ -x "$VENV/bin/python" ]] &&
    "$VENV/bin/python" - "$PIN" <<'PY' 2>/dev/null
import sys, importlib.metadata as m
sys.exit(0 if m.version("omnibase-core") == sys.argv[1] and m.version("mypy") else 1)
PY
}

if ! have; then
  base=$(ls -d /root/.pyenv/versions/3.12.*/bin/python 2>/dev/null | sort -V | tail -1 || true)
  [[ -n "$base" ]] || base=$(command -v python3.12 || true)
  if [[ -z "$base" ]]; then
    log "no Python 3.12 found (pyenv or python3.12); generated-node import tests will say they were skipped"
    exit 1
  fi
  log "creating $VENV with omnibase-core==$PIN ($base)"
  rm -rf "$VENV"
  "$base" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "omnibase-core==$PIN" "$MYPY_PIN" >&2
fi
echo "$VENV/bin/python"
