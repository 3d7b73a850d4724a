#!/usr/bin/env bash
# Serves dist/sessions-http.wasm (HTTP front + session component + kv
# adapter) under `wasmtime serve`, the pinned wasmtime-cli (installed into
# target/tools/bin when missing). `make serve-wasm` runs it after `make dist`.
#
#   LISTEN        address to listen on (default 127.0.0.1:8080)
#   REDIS_URL     redis://host:port[/db] of one Redis server; unset: a
#                 throwaway redis-server on a free port, stopped on exit
#   SESSIONS_API_TOKEN  bearer token; unset: SESSIONS_API_AUTH=none (no
#                 auth, for local use) unless SESSIONS_API_AUTH is set
#   SESSIONS_PREFIX, SESSIONS_TTL, SESSIONS_GRACE, SESSIONS_REDIS_TIMEOUT,
#   SESSIONS_API_MAX_BODY   passed through when set
#   WASMTIME_INSTANCE_REUSE requests per instance (default 1000; 1: a fresh
#                 instance, and Redis connection, per request)
#
# Variables reach the component by name (`--env NAME`), so the token is
# not on wasmtime's command line.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
wasm="$repo/dist/sessions-http.wasm"
listen="${LISTEN:-127.0.0.1:8080}"

[[ -f "$wasm" ]] || { echo "$wasm is missing: run \`make dist\`" >&2; exit 1; }
wasmtime="$("$repo/scripts/install-wasmtime-cli.sh")"

redis_pid=
cleanup() {
  if [[ -n "$redis_pid" ]]; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "${REDIS_URL:-}" ]]; then
  command -v redis-server >/dev/null || { echo "REDIS_URL is unset and redis-server is missing (make deps)" >&2; exit 1; }
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
  redis_pid=$!
  # Ready when it answers PING (a few ms; give up after 5 s).
  for _ in $(seq 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.05
  done
  redis-cli -p "$port" ping >/dev/null || { echo "redis-server on port $port did not start" >&2; exit 1; }
  export REDIS_URL="redis://127.0.0.1:$port"
  echo "==> throwaway redis-server at $REDIS_URL (stopped on exit)"
fi

if [[ -z "${SESSIONS_API_TOKEN:-}" && -z "${SESSIONS_API_AUTH:-}" ]]; then
  export SESSIONS_API_AUTH=none
  echo "==> SESSIONS_API_TOKEN is unset: serving WITHOUT auth (SESSIONS_API_AUTH=none), for local use only"
fi

envs=()
for name in REDIS_URL SESSIONS_API_TOKEN SESSIONS_API_AUTH SESSIONS_PREFIX SESSIONS_TTL SESSIONS_GRACE \
  SESSIONS_REDIS_TIMEOUT SESSIONS_API_MAX_BODY; do
  if [[ -n "${!name:-}" ]]; then envs+=(--env "$name"); fi
done

# The example names the variable, never the token itself.
auth=
if [[ -n "${SESSIONS_API_TOKEN:-}" ]]; then auth="-H \"Authorization: Bearer \$SESSIONS_API_TOKEN\" "; fi
cat <<INFO
==> http://$listen/ (sessions-http.wasm under wasmtime serve; Ctrl-C stops it). Try:
    curl -s -X POST http://$listen/sessions ${auth}-H 'Content-Type: application/json' -d '{"model_id": "gpt-4"}'
    curl -s ${auth}http://$listen/sessions
INFO

# -Scli: the components import wasi:cli (environment, exit, ...), which serve
# links only with it. -Sinherit-network: the kv adapter's TCP to Redis.
# -Sallow-ip-name-lookup: REDIS_URL may name a host.
# --max-instance-reuse-count: serve makes a fresh instance per request by
# default (a new Redis connection and check-layout each time); reused
# instances keep the adapter's connection (one per instance at a time).
# Not exec: the trap stops the throwaway redis-server when serve exits.
"$wasmtime" serve -Scli -Sinherit-network -Sallow-ip-name-lookup --addr "$listen" \
  --max-instance-reuse-count "${WASMTIME_INSTANCE_REUSE:-1000}" "${envs[@]}" "$wasm" &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null; exit 130' INT TERM
wait "$serve_pid"
