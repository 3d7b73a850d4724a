"""The files shipped inside the package: the component and the kv script.

Both are copies of the repository's build output (`make python-assets`, run
by `make setup` and `make test`, or by `pip install` from the repository);
the package never carries its own version of either.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
COMPONENT_FILE = PACKAGE_DIR / "agent_sessions.wasm"
KV_BATCH_SCRIPT_FILE = PACKAGE_DIR / "kv_batch.lua"


def component_path() -> Path:
    """The component to load: `AGENT_SESSIONS_COMPONENT` if set, else the one
    shipped in the package."""
    override = os.environ.get("AGENT_SESSIONS_COMPONENT")
    path = Path(override) if override else COMPONENT_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"the agent-sessions component is missing at {path}; build it with `make python-assets` "
            "in the repository (or pip install the package from the repository, which builds it)"
        )
    return path


@functools.cache
def kv_batch_script() -> str:
    if not KV_BATCH_SCRIPT_FILE.is_file():
        raise FileNotFoundError(
            f"the kv batch script is missing at {KV_BATCH_SCRIPT_FILE}; run `make python-assets` in the repository"
        )
    return KV_BATCH_SCRIPT_FILE.read_text()
