"""Throwaway redis-server processes on free ports, without persistence:
shared by conftest.py and the framework test plugins (tests/frameworks/),
which run outside this test directory."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest
import redis

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
