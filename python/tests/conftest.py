"""Test support: throwaway redis-server processes on free ports, and the
two backends every repository test runs on.

Every test gets an empty Redis: a server per test module, flushed before
each test. Nothing here skips: without redis-server the tests fail and say
how to install it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from agent_sessions import SessionRepository
from agent_sessions.repository import BackendName

REPO = Path(__file__).resolve().parents[2]

INSTALL_HINT = (
    "redis-server is not installed: run `make setup` in the repository, or "
    "`sudo apt-get install -y redis-server` (Debian/Ubuntu) / `brew install redis` (macOS)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server on a free port, without persistence, stopped on `stop()`."""

    def __init__(self, *extra_args: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(INSTALL_HINT, pytrace=False)
        self.port = free_port()
        self.extra_args = extra_args
        self.binary = binary
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except (redis.exceptions.AuthenticationError, redis.exceptions.ResponseError):
                break  # it answers (and wants a password)
            except redis.exceptions.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.process.kill()
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.02)
        client.close()

    def client(self) -> redis.Redis[str]:
        return redis.Redis(port=self.port, decode_responses=True)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


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


BACKENDS: list[BackendName] = ["native", "wasmtime-py"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> BackendName:
    """Each test that takes it runs once per backend."""
    name: BackendName = request.param
    return name


@pytest.fixture
def repo(redis_url: str, backend: BackendName) -> Iterator[SessionRepository]:
    repository = SessionRepository(redis_url, backend=backend)
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
