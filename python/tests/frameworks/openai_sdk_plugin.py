"""A pytest plugin that runs the OpenAI Agents SDK's own session tests
(`tests/memory/test_session.py`, `tests/memory/test_session_limit.py` from
its sdist) against `AgentSessionsSession` on a throwaway redis-server.

The SDK's tests build `SQLiteSession(session_id, db_path, ...)` inline and
look the name up when they run, so the plugin swaps that name in those
modules for a class of the same constructor shape over agent-sessions:
sessions with one `db_path` share one key prefix (as sessions sharing a
SQLite file share its tables) and `":memory:"` gets a prefix of its own per
instance. Tests of SQLite's internals (its connections, locks and corrupt
rows written with SQL) cannot apply to another store: they are marked
xfail(strict=True) with the reason, so one that starts passing is noticed.

Run by tests/frameworks/openai_sdk_suite.py, which downloads the pinned
sdist; the summary line counts what passed.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import pytest
from agents.memory.session_settings import SessionSettings
from redis_servers import RedisServer

from agent_sessions import AsyncSessionRepository
from agent_sessions.integrations.openai_agents import AgentSessionsSession

_MODULES = ("test_session", "test_session_limit")

#: Tests that read or patch SQLiteSession's internals, with why.
SQLITE_INTERNALS: dict[str, str] = {
    "test_sqlite_session_close_closes_worker_thread_connections": "reads SQLiteSession._connections",
    "test_sqlite_session_reaps_connections_from_exited_worker_threads": "reads SQLiteSession._connections",
    "test_sqlite_session_closes_retired_connections_before_the_next_allocation": "patches SQLite connection handling",
    "test_sqlite_session_keeps_connections_of_live_worker_threads": "reads SQLiteSession._connections",
    "test_sqlite_session_pop_item_skips_corrupt_most_recent": "writes a corrupt row with SQL (_locked_connection)",
    "test_sqlite_session_pop_item_returns_none_after_dropping_only_corrupt_rows": "writes a corrupt row with SQL",
    "test_sqlite_session_get_items_limit_skips_corrupt_newest_rows": "writes a corrupt row with SQL",
    "test_sqlite_session_get_items_session_settings_limit_skips_corrupt_rows": "writes a corrupt row with SQL",
    "test_sqlite_session_file_lock_is_shared_across_instances": "reads SQLiteSession._lock and _file_lock_counts",
    "test_sqlite_session_failed_add_items_releases_write_lock": "probes the SQLite file's write lock",
    "test_sqlite_session_failed_clear_session_rolls_back": "patches a sqlite3 connection",
    "test_sqlite_session_failed_pop_item_releases_write_lock": "patches a sqlite3 connection",
    "test_sqlite_session_rollback_failure_evicts_connection": "patches SQLiteSession._get_connection",
    "test_sqlite_session_close_retries_quarantined_connection": "patches SQLiteSession._get_connection",
    "test_sqlite_session_post_commit_cancellation_propagates_after_known_outcome": (
        "patches SQLiteSession._get_connection"
    ),
}

_server: RedisServer | None = None
_repositories: dict[str, AsyncSessionRepository] = {}


def _repository(prefix: str) -> AsyncSessionRepository:
    assert _server is not None, "the plugin's redis-server is not running"
    repository = _repositories.get(prefix)
    if repository is None:
        repository = AsyncSessionRepository(_server.url, prefix=prefix)
        _repositories[prefix] = repository
    return repository


class SQLiteSession(AgentSessionsSession):
    """SQLiteSession's constructor over agent-sessions: `db_path` chooses the
    key prefix; the table names only tell prefixes of one file apart."""

    def __init__(
        self,
        session_id: str,
        db_path: str | Path = ":memory:",
        sessions_table: str = "agent_sessions",
        messages_table: str = "agent_messages",
        session_settings: SessionSettings | dict[str, Any] | None = None,
    ) -> None:
        if str(db_path) == ":memory:":
            place = uuid.uuid4().hex
        else:
            place = f"{Path(db_path).resolve()}|{sessions_table}|{messages_table}"
        prefix = "sdk-" + hashlib.sha1(place.encode()).hexdigest()[:16] + ":"
        super().__init__(session_id, _repository(prefix), session_settings=session_settings)
        self.db_path = db_path
        self.sessions_table = sessions_table
        self.messages_table = messages_table


def pytest_configure(config: pytest.Config) -> None:
    global _server
    _server = RedisServer()


def pytest_unconfigure(config: pytest.Config) -> None:
    global _server
    for repository in _repositories.values():
        repository.close_nowait()
    _repositories.clear()
    if _server is not None:
        _server.stop()
        _server = None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = getattr(item, "module", None)
        if module is None or module.__name__.rsplit(".", 1)[-1] not in _MODULES:
            continue
        if hasattr(module, "SQLiteSession"):
            module.SQLiteSession = SQLiteSession
        name = item.name.split("[", 1)[0]
        if name in SQLITE_INTERNALS:
            item.add_marker(pytest.mark.xfail(reason=SQLITE_INTERNALS[name], strict=True))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    stats = terminalreporter.stats
    counts = {key: len(stats.get(key, [])) for key in ("passed", "failed", "xfailed", "xpassed", "error", "skipped")}
    terminalreporter.write_line(
        "agent-sessions vs the OpenAI Agents SDK's session tests: "
        + ", ".join(f"{count} {key}" for key, count in counts.items() if count)
    )
    for report in stats.get("xfailed", []):
        name = report.nodeid.rsplit("::", 1)[-1].split("[", 1)[0]
        terminalreporter.write_line(
            f"  not applicable: {report.nodeid.rsplit('::', 1)[-1]}: {SQLITE_INTERNALS.get(name)}"
        )
