"""Test support: throwaway redis-server processes on free ports.

Every test gets an empty Redis: a server per test module, flushed before
each test. Nothing here skips: without redis-server the tests fail and say
how to install it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis_servers import INSTALL_HINT, RedisServer, free_port

from agent_sessions import SessionRepository

REPO = Path(__file__).resolve().parents[2]

__all__ = ["INSTALL_HINT", "REPO", "RedisServer", "free_port"]


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of an empty Redis."""
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.start()  # a test stopped it
    client = redis_server.client()
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def redis_client(redis_server: RedisServer, redis_url: str) -> Iterator[redis.Redis[str]]:
    client = redis_server.client()
    yield client
    client.close()


@pytest.fixture
def repo(redis_url: str) -> Iterator[SessionRepository]:
    repository = SessionRepository(redis_url)
    yield repository
    repository.close()


@pytest.fixture(scope="session")
def sessions_cli() -> Path:
    """The Rust host's CLI, built by `cargo test`/`cargo build` (make test
    builds it before running pytest)."""
    for profile in ("debug", "release"):
        path = REPO / "target" / profile / "sessions"
        if path.is_file():
            return path
    pytest.fail(
        "the Rust CLI is missing at target/debug/sessions: build it with `cargo build -p agent-sessions-host` "
        "(make test does)",
        pytrace=False,
    )
