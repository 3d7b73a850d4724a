#!/usr/bin/env bash
# Installs the newest agent-sessions wheel in DIST into a fresh virtual
# environment, with no index and nothing else from the repository, and uses
# it there: the native module loads, sessions are created and read on the
# in-memory store, and TTLs run out on its manual clock.
#
#   scripts/check-wheel.sh PYTHON DIST
set -euo pipefail
python=${1:?usage: $0 PYTHON DIST}
dist=${2:?usage: $0 PYTHON DIST}

wheel=$(ls -t "$dist"/agent_sessions-*.whl 2>/dev/null | head -n 1)
if [ -z "$wheel" ]; then
  echo "no agent_sessions wheel in $dist: run \`make wheel\`" >&2
  exit 1
fi
wheel=$(cd "$(dirname "$wheel")" && pwd)/$(basename "$wheel")

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$python" -m venv "$scratch/venv"
"$scratch/venv/bin/python" -m pip install --quiet --no-index "$wheel"
# Run from the scratch folder so that nothing of the repository is importable.
cd "$scratch"
"$scratch/venv/bin/python" - <<'PY'
import asyncio
import json

import agent_sessions
from agent_sessions import AsyncSessionRepository, SessionCreate, SessionRepository

assert "site-packages" in agent_sessions.__file__, agent_sessions.__file__
repo = SessionRepository.in_memory(ttl=60, manual_clock=True)
created = repo.create_session(SessionCreate(model_id="gpt-4", tools=["search"]))
assert repo.get_session(created.id) == created
assert json.loads(repo.call("get", created.id))["tools"] == ["search"]  # any export, by its WIT name
repo.advance_clock(61)
assert repo.get_session(created.id) is None
assert repo.cleanup_expired_sessions() == 1


async def main() -> None:
    async with AsyncSessionRepository.in_memory() as repo:
        session = await repo.create_session({"model_id": "gpt-4"})
        assert (await repo.get_session(session.id)) == session


asyncio.run(main())
PY
size=$(du -k "$wheel" | cut -f1)
echo "wheel check: $(basename "$wheel") (${size} KiB) installs into a fresh venv without an index; create/get/call/expiry on in_memory() work"
