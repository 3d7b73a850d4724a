#!/usr/bin/env bash
# Starts a throwaway redis-server on a free port (no persistence), runs
# `sessions demo` against it, and stops it, whatever happens.
set -euo pipefail

sessions="${1:-target/debug/sessions}"
if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server not found: run 'make setup' (or apt-get install redis-server)" >&2
  exit 1
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning >/dev/null &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  if redis-cli -p "$port" ping >/dev/null 2>&1; then break; fi
  sleep 0.05
done

echo "throwaway redis-server on port $port"
"$sessions" --redis "redis://127.0.0.1:$port" demo
