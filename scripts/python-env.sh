#!/usr/bin/env bash
# The Python 3.12 that G13 (mypy) and G14 (import test) and the generated-node import tests use:
# a venv with the omnibase-core release the template pack's symbol table was generated from
# (nodes/generation/templates/omnibase_core_symbols.json) and mypy. Idempotent; prints the
# interpreter's path on stdout, so that
#
#   export ONEX_PYTHON="$(scripts/python-env.sh)"
#
# sets onex up for a fully green run.
#
#   scripts/python-env.sh          the interpreter, creating the venv if needed
#   scripts/python-env.sh --find   only the Python 3.12 a venv would be made from (no changes)
#
# An interpreter that already has the pinned omnibase-core and mypy is used as it is: $ONEX_PYTHON,
# else the venv ($ONEX_PY312_VENV, default /var/tmp/onex-py312). Otherwise the venv is (re)made
# from the first Python 3.12 of: $ONEX_PYTHON, python3.12 on PATH, pyenv's versions
# ($PYENV_ROOT, `pyenv root` or ~/.pyenv), `uv python find 3.12`.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${ONEX_PY312_VENV:-/var/tmp/onex-py312}"
SYMBOLS=nodes/generation/templates/omnibase_core_symbols.json
# The pin, read without needing a Python (the first "version" of the table).
PIN=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$SYMBOLS" | head -1)
MYPY_PIN='mypy==2.4.1'
log() { printf 'python-env: %s\n' "$*" >&2; }
[[ -n "$PIN" ]] || { log "no \"version\" in $SYMBOLS"; exit 2; }

# Whether $1 runs and has omnibase-core == $PIN and mypy.
ready() {
  [[ -n "$1" ]] && "$1" - "$PIN" <<'PY' 2>/dev/null
import sys, importlib.metadata as m
sys.exit(0 if m.version("omnibase-core") == sys.argv[1] and m.version("mypy") else 1)
PY
}

# Whether $1 runs and is a Python 3.12.
is_312() {
  [[ -n "$1" ]] && "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else 1)' 2>/dev/null
}

# The candidates for the venv's base, in order, one per line.
candidates() {
  if [[ -n "${ONEX_PYTHON:-}" ]]; then printf '%s\n' "$ONEX_PYTHON"; fi
  command -v python3.12 || true
  local root="${PYENV_ROOT:-}"
  if [[ -z "$root" ]] && command -v pyenv >/dev/null; then root=$(pyenv root 2>/dev/null || true); fi
  root="${root:-$HOME/.pyenv}"
  # Newest 3.12 first.
  ls -d "$root"/versions/3.12.*/bin/python 2>/dev/null | sort -rV || true
  if command -v uv >/dev/null; then uv python find 3.12 2>/dev/null || true; fi
}

find_base() {
  local c
  while IFS= read -r c; do
    if is_312 "$c"; then
      printf '%s\n' "$c"
      return 0
    fi
  done < <(candidates)
  log "no Python 3.12 found (tried \$ONEX_PYTHON, python3.12 on PATH, pyenv versions, uv python find 3.12)."
  log "install one (e.g. \`uv python install 3.12\` or \`pyenv install 3.12\`), then run $0 again;"
  log "without it G13/G14 and the generated-node import tests report that they were skipped"
  return 1
}

if [[ "${1:-}" == --find ]]; then
  find_base
  exit
fi

if ready "${ONEX_PYTHON:-}"; then
  printf '%s\n' "$ONEX_PYTHON"
  exit 0
fi
if ! ready "$VENV/bin/python"; then
  base=$(find_base) || exit 1
  log "creating $VENV with omnibase-core==$PIN ($base)"
  rm -rf "$VENV"
  "$base" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "omnibase-core==$PIN" "$MYPY_PIN" >&2
fi
echo "$VENV/bin/python"
