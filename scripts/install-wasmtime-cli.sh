#!/usr/bin/env bash
# Installs the pinned wasmtime CLI into target/tools/bin (not on PATH, not
# system-wide) when it is missing, another version or built with other
# features; prints its path.
#
#   scripts/install-wasmtime-cli.sh
#
# 48.0.8 is the last wasmtime-cli whose rust-version is 1.95 (49 needs 1.96).
# Only the features `wasmtime serve` needs: `serve` alone does not build
# (serve.rs uses the `run` feature's wasmtime-wasi, and `futures` and the
# WASIp3 handler of `component-model-async`), serve refuses to start without
# `pooling-allocator` unless told -Opooling-allocator=n, and leaving out the
# rest (wast, winch, gc, wasi-nn, ...) keeps the build to the wasmtime stack.
# About 10-15 minutes on 2 cores.
set -euo pipefail

VERSION=48.0.8
FEATURES=run,serve,cranelift,parallel-compilation,pooling-allocator,component-model,component-model-async
root="$(cd "$(dirname "$0")/.." && pwd)/target/tools"
bin="$root/bin/wasmtime"
# What the installed binary was built with.
stamp="$root/wasmtime-cli.features"

if [[ -x "$bin" ]] && "$bin" --version 2>/dev/null | grep -Eq "^wasmtime $VERSION( |$)" &&
  [[ "$(cat "$stamp" 2>/dev/null)" == "$FEATURES" ]]; then
  echo "$bin"
  exit 0
fi
echo "==> installing wasmtime-cli $VERSION into $root (features $FEATURES)" >&2
cargo install --locked --force --root "$root" --no-default-features --features "$FEATURES" "wasmtime-cli@$VERSION" >&2
echo "$FEATURES" > "$stamp"
echo "$bin"
