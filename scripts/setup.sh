#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test agent-sessions:
# the wasm32-wasip2 Rust target and redis-server. Safe to run again.
set -euo pipefail

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

if command -v redis-server >/dev/null 2>&1; then
  say "redis-server: $(redis-server --version | cut -d' ' -f3)"
else
  say "installing redis-server (Debian/Ubuntu apt-get)"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "redis-server is missing and apt-get is not available: install Redis 6.2+ yourself (e.g. brew install redis)" >&2
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
  # The package starts a system service; the tests start their own servers.
  say "redis-server: $(redis-server --version | cut -d' ' -f3)"
fi
