"""Cross-host interop: sessions written through the Python host are read,
updated and deleted by the Rust CLI (`sessions`), and the reverse, on one
Redis. Both load the same component, so both see the same sessions."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from test_repository import example

from agent_sessions import SessionCreate, SessionDetail, SessionRepository, SessionUpdate


def as_document(detail: SessionDetail) -> dict[str, Any]:
    """A session as the schema's document: no owner fields when it has none
    (the dataclass holds None for them)."""
    document = dict(detail.__dict__)
    if document.get("app_name") is None and document.get("user_id") is None:
        document.pop("app_name", None)
        document.pop("user_id", None)
    return document


def cli(binary: Path, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), "--redis", redis_url, "--json", *args], capture_output=True, text=True, timeout=60
    )


def cli_json(binary: Path, redis_url: str, *args: str) -> Any:
    done = cli(binary, redis_url, *args)
    assert done.returncode == 0, f"sessions {' '.join(args)} exited {done.returncode}: {done.stderr}"
    return json.loads(done.stdout)


def test_python_writes_rust_reads_updates_deletes(repo: SessionRepository, redis_url: str, sessions_cli: Path) -> None:
    created = repo.create_session(example())
    seen = cli_json(sessions_cli, redis_url, "get", created.id)
    assert seen == {**as_document(created), "expires_in_seconds": seen["expires_in_seconds"]}
    updated = cli_json(sessions_cli, redis_url, "update", created.id, "--name", "From Rust", "--expect-version", "1")
    assert updated["version"] == 2
    again = repo.get_session(created.id)
    assert again is not None and again.name == "From Rust" and again.version == 2
    assert again.tools == ["search", "code_analysis"] and again.temperature == 0.7
    listed = cli_json(sessions_cli, redis_url, "list")
    assert [s["id"] for s in listed["sessions"]] == [created.id]
    assert cli(sessions_cli, redis_url, "delete", created.id).returncode == 0
    assert repo.get_session(created.id) is None
    assert cli(sessions_cli, redis_url, "get", created.id).returncode == 3


def test_rust_writes_python_reads_updates_deletes(repo: SessionRepository, redis_url: str, sessions_cli: Path) -> None:
    created = cli_json(
        sessions_cli,
        redis_url,
        "create",
        "--model-id",
        "gpt-4",
        "--temperature",
        "0.7",
        "--tool",
        "search",
        "--tool",
        "code_analysis",
        "--status",
        "idle",
    )
    seen = repo.get_session(created["id"])
    assert seen is not None
    assert {**as_document(seen), "expires_in_seconds": None} == {**created, "expires_in_seconds": None}
    updated = repo.update_session(created["id"], SessionUpdate(max_tokens=500, clear=["tools"], expected_version=1))
    assert updated.version == 2
    from_rust = cli_json(sessions_cli, redis_url, "get", created["id"])
    assert from_rust["max_tokens"] == 500 and from_rust["tools"] == [] and from_rust["status"] == "idle"
    stale = cli(sessions_cli, redis_url, "update", created["id"], "--name", "x", "--expect-version", "1")
    assert stale.returncode == 4, stale.stderr
    assert repo.delete_session(created["id"]) is True
    assert cli(sessions_cli, redis_url, "get", created["id"]).returncode == 3


def test_both_hosts_share_list_and_cleanup(
    repo: SessionRepository, redis_url: str, sessions_cli: Path, redis_client: Any
) -> None:
    from_python = repo.create_session(SessionCreate(model_id="py"))
    from_rust = cli_json(sessions_cli, redis_url, "create", "--model-id", "rs")
    page = repo.list_sessions()
    assert {s.id for s in page.sessions} == {from_python.id, from_rust["id"]}
    redis_client.delete(f"session_expiry:{from_python.id}", f"session_expiry:{from_rust['id']}")
    assert cli_json(sessions_cli, redis_url, "cleanup")["removed"] == 2
    assert repo.cleanup_expired_sessions() == 0
    assert redis_client.keys("*") == []
