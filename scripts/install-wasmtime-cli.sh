#!/usr/bin/env bash
# Installs the pinned wasmtime CLI into target/tools/bin (not on PATH, not
# system-wide) when it is missing or another version; prints its path.
#
#   scripts/install-wasmtime-cli.sh
#
# 48.0.8 is the last wasmtime-cli whose rust-version is 1.95 (49 needs 1.96).
# Only the features `wasmtime serve` needs: `serve` alone does not build
# (serve.rs uses the `run` feature's wasmtime-wasi, and `futures` and the
# WASIp3 handler of `component-model-async`), and leaving out the
# rest (wast, winch, gc, wasi-nn, ...) keeps it to the wasmtime stack the
# workspace already builds. About 10-15 minutes on 2 cores.
set -euo pipefail

VERSION=48.0.8
FEATURES=run,serve,cranelift,parallel-compilation,component-model,component-model-async
root="$(cd "$(dirname "$0")/.." && pwd)/target/tools"
bin="$root/bin/wasmtime"

if [[ -x "$bin" ]] && "$bin" --version 2>/dev/null | grep -q "^wasmtime $VERSION "; then
  echo "$bin"
  exit 0
fi
echo "==> installing wasmtime-cli $VERSION into $root (features $FEATURES)" >&2
cargo install --locked --root "$root" --no-default-features --features "$FEATURES" "wasmtime-cli@$VERSION" >&2
echo "$bin"
