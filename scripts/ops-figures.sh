#!/usr/bin/env bash
# Measures the operations figures README's "Operations" section reports, on
# a throwaway redis-server: import and export rates, a scheduled cleanup
# sweep over expired sessions, a stats walk, and /metrics scrape time.
#   scripts/ops-figures.sh [SESSIONS]   (default 100000; needs a release build)
set -euo pipefail

n="${1:-100000}"
sessions="${SESSIONS_BIN:-target/release/sessions}"
[ -x "$sessions" ] || { echo "build it first: cargo build --release -p agent-sessions-host" >&2; exit 1; }
work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning >/dev/null &
redis_pid=$!
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null || true
  kill "$redis_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
url="redis://127.0.0.1:$port"

python3 - "$n" > "$work/typed.jsonl" <<'PY'
import json, sys
n = int(sys.argv[1])
for i in range(n):
    print(json.dumps({
        "id": f"{i:08x}-0000-4000-8000-{i:012x}", "model_id": "gpt-4", "name": f"Session {i}",
        "temperature": 0.7, "max_tokens": 2000, "tools": ["search", "code_analysis"],
        "created_at": "2025-04-01T14:30:00Z", "status": "running", "expires_in_seconds": 3600,
    }))
PY

# Prints one figure line from a command's --json summary.
figure() { # label count-field
  python3 -c 'import json, sys
d = json.load(sys.stdin)
count, seconds, rate = d[sys.argv[2]], d["seconds"], d["sessions_per_second"]
print(f"{sys.argv[1]:<22} {count} in {seconds:.2f} s = {rate:.0f}/s")' "$1" "$2"
}

echo "== $n sessions"
"$sessions" --redis "$url" --json import "$work/typed.jsonl" | figure "import (typed lines):" imported
"$sessions" --redis "$url" --json export --output "$work/export.jsonl" | figure "export:" exported
"$sessions" --redis "$url" --json stats > "$work/stats.json" &
start=$(date +%s.%N); wait $!; end=$(date +%s.%N)
python3 -c "print(f'stats walk:            {float($end) - float($start):.2f} s (whole process)')"

port2=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port2" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning >/dev/null &
redis2_pid=$!
trap 'kill $redis2_pid 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 100); do redis-cli -p "$port2" ping >/dev/null 2>&1 && break; sleep 0.05; done
"$sessions" --redis "redis://127.0.0.1:$port2" --json import "$work/export.jsonl" | figure "import (export lines):" imported

# Expire every session (what Redis does when TTLs run out), then let a
# serve process sweep on its schedule.
redis-cli -p "$port" --scan --pattern 'session_expiry:*' | xargs -n 1000 redis-cli -p "$port" del >/dev/null
listen_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$sessions" --redis "$url" serve --listen "127.0.0.1:$listen_port" --cleanup-interval 1 --stats-interval 3600 --log-format json 2> "$work/serve.log" &
serve_pid=$!
for _ in $(seq 1 600); do grep -q '"cleanup swept"' "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
python3 - "$work/serve.log" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    entry = json.loads(line)
    if entry.get("fields", {}).get("message") == "cleanup swept":
        f = entry["fields"]
        print(f"scheduled sweep:       removed {f['removed']} in {f['took_ms'] / 1000:.2f} s = {f['removed'] / max(f['took_ms'], 1) * 1000:.0f}/s")
        break
PY
for _ in 1 2 3; do curl -s -o /dev/null "127.0.0.1:$listen_port/metrics"; done
curl -s -o /dev/null -w 'metrics scrape:        %{time_total} s (%{size_download} bytes)\n' "127.0.0.1:$listen_port/metrics"
