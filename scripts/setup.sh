#!/usr/bin/env bash
# Installs what a fresh machine lacks to build, run and test agent-sessions:
# the wasm32-wasip2 Rust target, redis-server, Python 3 with venv, and npm. Safe
# to run again: when nothing is missing it only looks (well under a second),
# which is why `make run` and `make test` run it first every time.
#
#   scripts/setup.sh                 everything `make test` needs; exit 1 if
#                                    something cannot be installed
#   scripts/setup.sh --best-effort   what `make run` needs: the Rust target is
#                                    required, a missing redis-server or Python
#                                    is only a warning (the demo then runs on
#                                    the in-memory store)
set -euo pipefail

best_effort=0
case "${1:-}" in
  --best-effort) best_effort=1 ;;
  "") ;;
  *) echo "usage: $0 [--best-effort]" >&2; exit 2 ;;
esac

say() { printf '==> %s\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust from https://rustup.rs first" >&2
  exit 1
fi

if rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  say "wasm32-wasip2 target: present"
else
  say "installing the wasm32-wasip2 target"
  rustup target add wasm32-wasip2
fi

# Debian/Ubuntu packages for what is missing, installed in one apt-get run.
# npm (any Node) is only the installer: `make js` gets the pinned Node 24
# that the JavaScript host runs on from the npm registry (js/package.json).
missing=()
if command -v npm >/dev/null 2>&1; then
  say "npm: $(npm --version) (the JavaScript host's Node comes from js/package.json)"
else
  missing+=(nodejs npm)
fi
if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
  say "redis-server: $(redis-server --version | cut -d' ' -f3)"
else
  missing+=(redis-server)
fi
if python_version=$(python3 -c 'import ensurepip, platform, venv; print(platform.python_version())' 2>/dev/null); then
  say "python3 with venv: $python_version"
else
  missing+=(python3 python3-venv)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

# Reports what could not be installed; fatal unless --best-effort.
give_up() {
  if [ "$best_effort" -eq 1 ]; then
    echo "warning: $1; carrying on without ${missing[*]}" >&2
    exit 0
  fi
  echo "$1" >&2
  exit 1
}

if ! command -v apt-get >/dev/null 2>&1; then
  give_up "${missing[*]} missing and apt-get is not available: install Redis 6.2+ and Python 3.11+ with venv yourself (e.g. brew install redis python)"
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    give_up "${missing[*]} missing, not root and no sudo: install them as root (apt-get install ${missing[*]})"
  fi
  SUDO="sudo"
fi
say "installing ${missing[*]} with apt-get"
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
  give_up "apt-get could not install ${missing[*]}"
fi
# The redis package starts a system service; the tests and the demo start their own servers.
if command -v redis-server >/dev/null 2>&1; then say "redis-server: $(redis-server --version | cut -d' ' -f3)"; fi
if command -v python3 >/dev/null 2>&1; then say "python3: $(python3 -c 'import platform; print(platform.python_version())')"; fi
