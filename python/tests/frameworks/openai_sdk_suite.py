"""Runs the OpenAI Agents SDK's own session tests against agent-sessions.

Downloads the pinned openai-agents sdist from PyPI with pip (its tests are
not in the wheel) into target/frameworks/, checks its sha256, unpacks it, and runs
`tests/memory/test_session.py` and `tests/memory/test_session_limit.py`
from its root with `openai_sdk_plugin` (which swaps `SQLiteSession` for
agent-sessions) and the installed openai-agents of the same version. The
exit status is pytest's.

    python tests/frameworks/openai_sdk_suite.py [pytest args...]
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from agents.version import __version__ as INSTALLED

VERSION = "0.24.0"
SHA256 = "4b4b285f4fed81fdf1b4ac426a9101658d9cd29b4fb1aaeee18f639b77e704e3"

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
CACHE = REPO / "target" / "frameworks"


def sdist_root() -> Path:
    root = CACHE / f"openai_agents-{VERSION}"
    if (root / "tests" / "memory" / "test_session.py").is_file():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / f"openai_agents-{VERSION}.tar.gz"
    if not archive.is_file():
        # pip, so that the machine's index and proxy settings apply.
        print(f"downloading the openai-agents {VERSION} sdist with pip", flush=True)
        download = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
        subprocess.run([*download, "-d", str(CACHE), f"openai-agents=={VERSION}"], check=True)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != SHA256:
        archive.unlink()
        sys.exit(f"{archive.name}: sha256 {digest}, expected {SHA256}")
    with tarfile.open(archive) as tar:
        tar.extractall(CACHE, filter="data")
    return root


def main() -> int:
    if INSTALLED != VERSION:
        sys.exit(
            f"openai-agents {INSTALLED} is installed, the suite is pinned to {VERSION}: "
            "run `make setup` (it installs the test extras)"
        )
    root = sdist_root()
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join([str(HERE), str(HERE.parent), environment.get("PYTHONPATH", "")])
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "openai_sdk_plugin",
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_mode=auto",
        "-q",
        "tests/memory/test_session.py",
        "tests/memory/test_session_limit.py",
        *sys.argv[1:],
    ]
    return subprocess.run(command, cwd=root, env=environment).returncode


if __name__ == "__main__":
    raise SystemExit(main())
