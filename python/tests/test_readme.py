"""The examples of python/README.md (the package's page) run.

Every ```python block is a script of its own: it is run in a fresh
interpreter, with the README's Redis URL replaced by a throwaway
redis-server's, and must exit 0. Blocks that are not meant to run (install
commands, signatures) use another fence language (`sh`, `text`).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

README = REPO / "python" / "README.md"
#: The one Redis URL the examples may name; the test swaps in its own server's.
README_REDIS_URL = "redis://127.0.0.1:6379/0"
PYTHON_FENCE = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def python_blocks() -> list[tuple[int, str]]:
    """(line of the opening fence, code) of every ```python block."""
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, match.start()) + 1, match.group(1)) for match in PYTHON_FENCE.finditer(text)]


BLOCKS = python_blocks()


def test_the_readme_shows_each_part_of_the_package() -> None:
    code = "\n".join(block for _, block in BLOCKS)
    for shown in (
        "SessionRepository(",
        "AsyncSessionRepository(",
        "in_memory(",
        "append_items(",
        "AgentSessionsSession(",
        "AgentSessionsService(",
        "InvalidInputError",
    ):
        assert shown in code, f"no ```python block of python/README.md uses {shown}"


def test_examples_name_only_the_redis_url_this_test_replaces() -> None:
    for line, code in BLOCKS:
        others = re.findall(r"rediss?://[^\s\"']+", code.replace(README_REDIS_URL, ""))
        assert others == [], f"python/README.md:{line}: use {README_REDIS_URL}, not {others}"


@pytest.mark.parametrize("code", [code for _, code in BLOCKS], ids=[f"line-{line}" for line, _ in BLOCKS])
def test_readme_example_runs(code: str, redis_url: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(code.replace(README_REDIS_URL, redis_url), encoding="utf-8")
    # A guard against a hung example, not a measurement: a cold import of a
    # framework takes seconds, a run well under a minute.
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"the example failed:\n{code}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
