#!/usr/bin/env bash
# Starts a throwaway redis-server on a free port (no persistence), runs
# `sessions demo` against it, and stops it, whatever happens. Without
# redis-server (scripts/setup.sh could not install it) the demo runs on the
# in-memory store instead, so `make run` shows something on any machine.
set -euo pipefail

sessions="${1:-target/debug/sessions}"
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "redis-server not found (scripts/setup.sh installs it on Debian/Ubuntu): running the demo on the in-memory store" >&2
  exec "$sessions" --memory demo
fi

if command -v python3 >/dev/null 2>&1; then
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
else
  port=$((20000 + RANDOM % 40000))
fi
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning >/dev/null &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null || true' EXIT

# Wait until it answers; generous, for a loaded machine, but give up at
# once if it exited (port taken, bad option).
deadline=$((SECONDS + 60))
until redis-cli -p "$port" ping >/dev/null 2>&1; do
  if ! kill -0 "$redis_pid" 2>/dev/null; then
    echo "redis-server on port $port exited before answering" >&2
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "redis-server on port $port did not answer within 60 s" >&2
    exit 1
  fi
  sleep 0.05
done

echo "throwaway redis-server on port $port"
"$sessions" --redis "redis://127.0.0.1:$port" demo
