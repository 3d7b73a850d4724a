"""What the native backend (the Rust host as an extension module) promises
beyond the shared contract: the GIL is released while a call waits, a
cancelled awaitable leaves nothing half-written, and `in_memory()` behaves
like Redis for users' own tests."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Iterator

import pytest
import redis
from conftest import RedisServer

from agent_sessions import AsyncSessionRepository, BackendError, SessionRepository, SessionUpdate


@pytest.fixture
def stoppable() -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may SIGSTOP."""
    server = RedisServer()
    yield server
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGCONT)
    server.stop()


def bytes_waiting_at(port: int) -> int:
    """Bytes clients sent to the server on `port` that it has not read yet
    (the receive queues of its accepted sockets, from /proc/net/tcp)."""
    waiting = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                state = fields[3]
                if local_port == port and state == "01":  # ESTABLISHED, the server's side
                    waiting += int(fields[4].split(":")[1], 16)
    return waiting


def in_call(thread: threading.Thread, function: str) -> bool:
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False


def test_a_waiting_call_lets_other_python_threads_run(stoppable: RedisServer) -> None:
    repo = SessionRepository(stoppable.url, socket_timeout=60)
    session = repo.create_session({"model_id": "m"})
    assert stoppable.process is not None
    os.kill(stoppable.process.pid, signal.SIGSTOP)
    finished = threading.Event()

    def call() -> None:
        try:
            repo.get_session(session.id)
        finally:
            finished.set()

    caller = threading.Thread(target=call)
    caller.start()
    # Wait until the caller is inside the repository call (Redis cannot
    # answer it), then run pure Python here: with the GIL held by the call
    # this thread could not run until the call's 60 s timeout.
    while not in_call(caller, "get_session"):
        pass
    counted = 0
    while counted < 2_000_000:
        counted += 1
    assert not finished.is_set(), "the call ended before Redis could answer it"
    os.kill(stoppable.process.pid, signal.SIGCONT)
    caller.join()
    repo.close()


async def test_a_cancelled_call_applies_whole_or_not_at_all_and_the_next_call_works(stoppable: RedisServer) -> None:
    repo = AsyncSessionRepository(stoppable.url, socket_timeout=60)
    await repo.list_sessions()  # connected, and the kv script loaded, before Redis stops
    assert stoppable.process is not None
    os.kill(stoppable.process.pid, signal.SIGSTOP)
    task = asyncio.create_task(repo.create_session({"model_id": "m", "name": "cancelled"}))
    # Wait until the create batch has reached the stopped server's socket.
    while bytes_waiting_at(stoppable.port) == 0:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    os.kill(stoppable.process.pid, signal.SIGCONT)
    # Redis ran the batch whole when it resumed: one complete session.
    client = stoppable.client()
    ids = client.smembers("active_sessions")
    assert len(ids) == 1
    (session_id,) = ids
    assert client.hget(f"session:{session_id}:data", "name") == "cancelled"
    assert client.hget(f"session:{session_id}:meta", "version") == "1"
    assert client.exists(f"session_expiry:{session_id}") == 1
    assert client.zscore("session_index", session_id) is not None
    # The call's instance was dropped; the repository goes on with a fresh one.
    again = await repo.update_session(session_id, SessionUpdate(name="after", expected_version=1))
    assert again.version == 2 and (await repo.list_sessions()).total == 1
    client.close()
    await repo.close()


async def test_a_call_cancelled_before_it_ran_writes_nothing(redis_url: str, redis_client: redis.Redis[str]) -> None:
    async with AsyncSessionRepository(redis_url) as repo:
        task = asyncio.create_task(repo.create_session({"model_id": "m"}))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert redis_client.keys("*") == []
        assert (await repo.create_session({"model_id": "m"})).version == 1


def test_a_silent_redis_is_a_timeout(stoppable: RedisServer) -> None:
    repo = SessionRepository(stoppable.url, socket_timeout=0.5)
    session = repo.create_session({"model_id": "m"})
    assert stoppable.process is not None
    os.kill(stoppable.process.pid, signal.SIGSTOP)
    with pytest.raises(BackendError) as error:
        repo.get_session(session.id)
    assert error.value.storage_kind == "timeout", error.value
    os.kill(stoppable.process.pid, signal.SIGCONT)
    repo.close()


def test_in_memory_has_redis_ttl_semantics_on_a_manual_clock() -> None:
    repo = SessionRepository.in_memory(ttl=60, grace=30, manual_clock=True)
    session = repo.create_session({"model_id": "m"})
    repo.advance_clock(59)
    assert repo.extend_session_ttl(session.id) is True  # 60 s more from now
    repo.advance_clock(59)
    assert repo.get_session(session.id) is not None
    repo.advance_clock(2)
    assert repo.get_session(session.id) is None
    assert repo.list_sessions().total == 1  # indexed until cleanup
    assert repo.cleanup_expired_sessions() == 1
    assert repo.list_sessions().total == 0
    assert repo.round_trips > 0 and repo.storage == "in-memory store"


def test_each_in_memory_repository_is_its_own_store() -> None:
    first, second = SessionRepository.in_memory(), SessionRepository.in_memory()
    session = first.create_session({"model_id": "m"})
    assert second.get_session(session.id) is None
    with pytest.raises(RuntimeError, match="manual_clock"):
        first.advance_clock(1)


async def test_async_in_memory() -> None:
    async with AsyncSessionRepository.in_memory(ttl=10, manual_clock=True) as repo:
        sessions = await asyncio.gather(*(repo.create_session({"model_id": f"m{i}"}) for i in range(50)))
        assert (await repo.list_sessions(limit=0)).total == 50
        repo.advance_clock(11)
        assert await repo.get_session(sessions[0].id) is None
        assert await repo.cleanup_expired_sessions() == 50


def test_a_closed_repository_says_so() -> None:
    repo = SessionRepository.in_memory()
    repo.close()
    with pytest.raises(RuntimeError, match="closed"):
        repo.list_sessions()


def test_nothing_connects_before_the_first_call() -> None:
    # Port 1 has no server; making the repository must not fail.
    repo = SessionRepository("redis://127.0.0.1:1/0", connect_timeout=0.5)
    assert repo.storage == "not connected yet"
    with pytest.raises(BackendError) as error:
        repo.ping()
    assert error.value.storage_kind == "unavailable"
