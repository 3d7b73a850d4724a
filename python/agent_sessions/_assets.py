"""The component and the kv script for the wasmtime-py backend.

Both are the bytes the native module embeds (the same build of `guest/` and
`redis/kv_batch.lua` the Rust host carries), so the two backends can never
run different rules. `AGENT_SESSIONS_COMPONENT` or the repository's
`component=` argument load another component file instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import _native


def component_bytes(path: str | Path | None = None) -> bytes:
    """The component to load: `path`, else `AGENT_SESSIONS_COMPONENT`, else
    the one built into the package."""
    chosen = path if path is not None else os.environ.get("AGENT_SESSIONS_COMPONENT")
    if chosen is None:
        return _native.COMPONENT_WASM
    file = Path(chosen)
    if not file.is_file():
        raise FileNotFoundError(f"no component file at {file}")
    return file.read_bytes()


def kv_batch_script() -> str:
    return _native.KV_BATCH_SCRIPT
