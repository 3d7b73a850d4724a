"""The Python API around the component: the design document's method
contract, inputs in several shapes, exceptions, threads, asyncio, Redis
faults and the sandbox limits. What the session rules are is checked once
for every host by test_conformance.py."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import threading
import time
from pathlib import Path

import pytest
import redis
from conftest import REPO, RedisServer

from agent_sessions import (
    AsyncSessionRepository,
    BackendError,
    ComponentError,
    ConflictError,
    DataCorruptError,
    InvalidInputError,
    SessionCreate,
    SessionDetail,
    SessionError,
    SessionNotFoundError,
    SessionRepository,
    SessionUpdate,
)

MISSING = "00000000-0000-4000-8000-000000000000"
HOSTILE_COMPONENT = REPO / "target" / "component" / "wasm32-wasip2" / "release" / "hostile_guest.wasm"


def example() -> SessionCreate:
    return SessionCreate(
        model_id="gpt-4",
        persona_id="programmer",
        name="Code Review Session",
        temperature=0.7,
        reasoning_effort=5,
        max_tokens=2000,
        tools=["search", "code_analysis"],
        custom_prompt="...",
        agent_internal_id="agent-54321",
    )


def test_the_document_methods_round_trip(repo: SessionRepository) -> None:
    created = repo.create_session(example())
    assert isinstance(created, SessionDetail)
    assert created.tools == ["search", "code_analysis"] and created.version == 1
    assert repo.get_session(created.id) == created
    updated = repo.update_session(created.id, SessionUpdate(name="Renamed", expected_version=1))
    assert updated.name == "Renamed" and updated.version == 2
    page = repo.list_sessions()
    assert page.total == 1 and [s.id for s in page.sessions] == [created.id]
    assert repo.extend_session_ttl(created.id) is True
    assert repo.delete_session(created.id) is True
    assert repo.delete_session(created.id) is False
    assert repo.get_session(created.id) is None
    assert repo.extend_session_ttl(created.id) is False
    assert repo.cleanup_expired_sessions() == 0


def test_inputs_may_be_mappings_or_model_like_objects(repo: SessionRepository) -> None:
    from_dict = repo.create_session({"model_id": "m", "tools": ("a", "b")})
    assert from_dict.tools == ["a", "b"]

    class PydanticLike:
        def model_dump(self, exclude_unset: bool = False) -> dict[str, object]:
            return {"model_id": "m", "name": "from a model"}

    assert repo.create_session(PydanticLike()).name == "from a model"  # type: ignore[arg-type]
    assert repo.update_session(from_dict.id, {"max_tokens": 10.0}).max_tokens == 10


def test_create_session_takes_a_caller_chosen_id(repo: SessionRepository, redis_client: redis.Redis[str]) -> None:
    created = repo.create_session(SessionCreate(model_id="m"), session_id="chat-42")
    assert created.id == "chat-42" and redis_client.sismember("active_sessions", "chat-42")
    got = repo.get_session("chat-42")
    assert got is not None and got.model_id == "m"
    with pytest.raises(ConflictError, match="session chat-42 already exists"):
        repo.create_session({"model_id": "other"}, session_id="chat-42")
    upper = repo.create_session({"model_id": "m"}, "0B6F2A52-3C1E-4D7A-9A55-6F1F3E2B9C10")
    assert upper.id == "0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10"
    assert repo.create_session({"model_id": "m", "id": "in-the-mapping"}).id == "in-the-mapping"
    for bad in ["a:b", "{x}", "", "x" * 129, "a b"]:
        with pytest.raises(InvalidInputError, match="session id"):
            repo.create_session({"model_id": "m"}, session_id=bad)
    with pytest.raises(InvalidInputError, match="must be a string"):
        repo.create_session({"model_id": "m"}, session_id=42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="give the id once"):
        repo.create_session({"model_id": "m", "id": "one"}, session_id="two")
    assert repo.list_sessions().total == 3


async def test_async_create_session_takes_a_caller_chosen_id(redis_url: str) -> None:
    async with AsyncSessionRepository(redis_url) as repo:
        assert (await repo.create_session({"model_id": "m"}, session_id="async-1")).id == "async-1"
        with pytest.raises(ConflictError):
            await repo.create_session({"model_id": "m"}, session_id="async-1")


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"model_id": "m", "temperature": "hot"}, 'expected a number, got "hot"'),
        ({"model_id": "m", "max_tokens": 1.5}, "expected a whole number, got 1.5"),
        ({"model_id": "m", "max_tokens": 2**70}, "expected a whole number"),
        ({"model_id": "m", "tools": "search"}, "expected a list of strings"),
        ({"model_id": "m", "tools": [1]}, "expected a list of strings"),
        ({"model_id": 7}, "expected a string"),
        ({"model_id": "m", "colour": "red"}, "unknown field `colour`"),
        ({"name": "no model"}, "model_id"),
        ({"model_id": "m", "temperature": float("nan")}, "temperature"),
    ],
)
def test_wrong_types_are_invalid_input_not_crashes(repo: SessionRepository, bad: dict, words: str) -> None:
    with pytest.raises(InvalidInputError, match=words):
        repo.create_session(bad)
    assert repo.list_sessions().total == 0


def test_errors_are_typed_exceptions(repo: SessionRepository, redis_client: redis.Redis[str]) -> None:
    with pytest.raises(InvalidInputError) as invalid:
        repo.get_session("*")
    assert isinstance(invalid.value, ValueError) and isinstance(invalid.value, SessionError)
    with pytest.raises(SessionNotFoundError):
        repo.update_session(MISSING, SessionUpdate(name="x"))
    with pytest.raises(SessionNotFoundError):
        repo.get_session_or_raise(MISSING)
    with pytest.raises(InvalidInputError, match="unknown variant `model_id`"):
        repo.update_session(MISSING, {"clear": ["model_id"]})
    session = repo.create_session(example())
    with pytest.raises(ConflictError, match="version"):
        repo.update_session(session.id, SessionUpdate(name="x", expected_version=7))
    redis_client.hset(f"session:{session.id}:data", "max_tokens", "lots")
    with pytest.raises(DataCorruptError) as corrupt:
        repo.get_session(session.id)
    assert (corrupt.value.key, corrupt.value.field) == (f"session:{session.id}:data", "max_tokens")
    assert corrupt.value.session_id == session.id and "lots" in str(corrupt.value)
    page = repo.list_sessions()
    assert page.sessions == [] and [c.field for c in page.corrupt] == ["max_tokens"]


def test_the_layout_is_the_documents(repo: SessionRepository, redis_client: redis.Redis[str]) -> None:
    session = repo.create_session(example())
    data = redis_client.hgetall(f"session:{session.id}:data")
    assert data["temperature"] == "0.7" and data["tools"] == '["search", "code_analysis"]'
    assert redis_client.sismember("active_sessions", session.id)
    assert redis_client.get(f"session_expiry:{session.id}") == ""
    assert 3590 <= redis_client.ttl(f"session_expiry:{session.id}") <= 3600


def test_prefixes_do_not_see_each_other(redis_url: str, redis_client: redis.Redis[str]) -> None:
    with (
        SessionRepository(redis_url, prefix="a:") as a,
        SessionRepository(redis_url, prefix="b:") as b,
    ):
        session = a.create_session({"model_id": "m"})
        assert b.get_session(session.id) is None
        assert b.list_sessions().total == 0
        redis_client.delete(f"a:session_expiry:{session.id}")
        assert b.cleanup_expired_sessions() == 0
        assert a.cleanup_expired_sessions() == 1
    assert all(key.startswith("a:") for key in redis_client.keys("*"))


def test_one_round_trip_per_operation(repo: SessionRepository) -> None:
    # The first call of a repository also checks the key layout recorded in Redis.
    repo.get_session("0b6f2a52-3c1e-4d7a-9a55-6f1f3e2b9c10")
    before = repo.round_trips
    session = repo.create_session(example())
    repo.get_session(session.id)
    repo.update_session(session.id, {"name": "x"})
    repo.extend_session_ttl(session.id)
    repo.delete_session(session.id)
    assert repo.round_trips - before == 5


def test_threads_lose_no_updates(redis_url: str) -> None:
    """8 threads apply compare-and-set increments; every conflict is retried."""
    repo = SessionRepository(redis_url)
    session = repo.create_session({"model_id": "m", "max_tokens": 1})
    threads, per_thread = 8, 25
    conflicts = [0] * threads

    def work(index: int) -> None:
        applied = 0
        while applied < per_thread:
            current = repo.get_session_or_raise(session.id)
            try:
                repo.update_session(
                    session.id,
                    SessionUpdate(max_tokens=(current.max_tokens or 0) + 1, expected_version=current.version),
                )
                applied += 1
            except ConflictError:
                conflicts[index] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    final = repo.get_session_or_raise(session.id)
    assert final.max_tokens == 1 + threads * per_thread
    assert final.version == 1 + threads * per_thread
    print(f"threads: {threads * per_thread} updates applied, {sum(conflicts)} conflicts retried")
    repo.close()


async def test_async_repository_runs_off_the_event_loop(redis_url: str) -> None:
    async with AsyncSessionRepository(redis_url, max_concurrency=4) as repo:
        created = await asyncio.gather(*(repo.create_session({"model_id": f"m{i}"}) for i in range(20)))
        assert len({s.id for s in created}) == 20
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        got = await asyncio.gather(*(repo.get_session(s.id) for s in created))
        task.cancel()
        assert [g.id for g in got if g] == [s.id for s in created]
        assert ticks > 0, "the event loop was blocked"
        page = await repo.list_sessions(limit=5, offset=0)
        assert page.total == 20 and len(page.sessions) == 5
        walked = [s.id for s in page.sessions]
        while page.next_page_token is not None:
            page = await repo.list_sessions(limit=6, page_token=page.next_page_token)
            walked.extend(s.id for s in page.sessions)
        assert sorted(walked) == sorted(s.id for s in created), "page tokens visit every session once"
        assert await repo.get_session(MISSING) is None
        with pytest.raises(InvalidInputError):
            await repo.get_session("no pe")
        assert await repo.delete_session(created[0].id) is True
        assert await repo.cleanup_expired_sessions() == 0


def test_redis_down_is_a_backend_error_and_the_repository_recovers() -> None:
    server = RedisServer()
    repo = SessionRepository(server.url, socket_timeout=1.0, connect_timeout=0.5)
    session = repo.create_session({"model_id": "m"})
    server.stop()
    for _ in range(3):
        started = time.monotonic()
        with pytest.raises(BackendError, match="unavailable") as error:
            repo.get_session(session.id)
        assert error.value.storage_kind == "unavailable"
        assert time.monotonic() - started < 10, "a call hung instead of failing"
    with pytest.raises(BackendError):
        repo.ping()
    server.start()  # same port, empty: the session is gone, not an error
    assert repo.get_session(session.id) is None
    assert repo.create_session({"model_id": "m"}).version == 1
    repo.close()
    server.stop()


def test_passwords_never_appear_in_errors() -> None:
    server = RedisServer("--requirepass", "s3cret-pw")
    good = SessionRepository(f"redis://:s3cret-pw@127.0.0.1:{server.port}/2")
    assert good.create_session({"model_id": "m"}).version == 1
    good.close()
    bad = SessionRepository(f"redis://:wrong-pw@127.0.0.1:{server.port}/0")
    with pytest.raises(BackendError) as error:
        bad.create_session({"model_id": "m"})
    assert "wrong-pw" not in str(error.value)
    bad.close()
    server.stop()
    down = SessionRepository(f"redis://user:s3cret-pw@127.0.0.1:{server.port}/0", connect_timeout=0.5)
    with pytest.raises(BackendError) as error:
        down.get_session(MISSING)
    assert "s3cret-pw" not in str(error.value) and "user:***@" in str(error.value)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="ttl"):
        SessionRepository("redis://127.0.0.1:1/0", ttl=0)
    with pytest.raises(ValueError, match="batch_size"):
        SessionRepository("redis://127.0.0.1:1/0", batch_size=0)


def test_the_wasmtime_py_backend_is_gone_and_native_is_still_accepted() -> None:
    with pytest.raises(ValueError, match="wasmtime-py' was removed"):
        SessionRepository("redis://127.0.0.1:1/0", backend="wasmtime-py")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="removed wasmtime-py backend"):
        SessionRepository("redis://127.0.0.1:1/0", redis_client=object())
    SessionRepository("redis://127.0.0.1:1/0", backend="native").close()


def test_any_export_is_called_by_its_wit_name(repo: SessionRepository) -> None:
    session = repo.create_session({"model_id": "m"})
    assert json.loads(repo.call("get", session.id))["id"] == session.id
    assert repo.call("extend-ttl", session.id) is True
    assert repo.call("reindex") == 0
    assert json.loads(repo.call("list", 10, 0, ""))["total"] == 1
    with pytest.raises(InvalidInputError, match="no-such-export"):
        repo.call("no-such-export")
    with pytest.raises(InvalidInputError, match="argument"):
        repo.call("get")
    with pytest.raises(InvalidInputError):
        repo.call("get", 7)
    with pytest.raises(InvalidInputError, match="argument 1"):
        repo.call("list", -1, 0, "")
    with pytest.raises(InvalidInputError, match="argument 3"):
        repo.call("list", 10, 0, 1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        repo.call("list", 2**32, 0, "")  # a u32 parameter


async def test_any_export_is_awaited_by_its_wit_name(redis_url: str) -> None:
    async with AsyncSessionRepository(redis_url) as repo:
        session = await repo.create_session({"model_id": "m"})
        assert json.loads(await repo.call("get", session.id))["id"] == session.id
        assert await repo.call("delete", session.id) is True
        with pytest.raises(SessionNotFoundError):
            await repo.call("get", session.id)


def test_errors_in_an_operation_name_the_method(repo: SessionRepository) -> None:
    """Each method is written once for both repositories; its frames still
    carry its name."""
    with pytest.raises(SessionNotFoundError) as error:
        repo.get_session_or_raise(MISSING)
    assert "get_session_or_raise" in [entry.name for entry in error.traceback]
    assert SessionRepository.get_session.__doc__ == AsyncSessionRepository.get_session.__doc__
    assert list(inspect.signature(SessionRepository.get_session).parameters) == ["self", "session_id"]
    assert inspect.iscoroutinefunction(AsyncSessionRepository.get_session)


def test_ttl_setting_reaches_redis(redis_url: str, redis_client: redis.Redis[str]) -> None:
    with SessionRepository(redis_url, ttl=120, grace=30) as repo:
        session = repo.create_session({"model_id": "m"})
        assert 110 <= redis_client.ttl(f"session_expiry:{session.id}") <= 120
        assert 140 <= redis_client.ttl(f"session:{session.id}:meta") <= 150
        assert session.expires_in_seconds == 120


@pytest.fixture
def hostile(redis_url: str) -> SessionRepository:
    if not HOSTILE_COMPONENT.is_file():
        pytest.fail(f"the hostile test component is missing at {HOSTILE_COMPONENT}: run `cargo test` (make test does)")
    return SessionRepository(redis_url, component=HOSTILE_COMPONENT, time_limit=1.0, memory_limit=32 * 1024 * 1024)


@pytest.mark.parametrize("misbehaviour", ["loop", "grow", "trap", "recurse"])
def test_a_misbehaving_component_fails_the_call_not_the_host(hostile: SessionRepository, misbehaviour: str) -> None:
    started = time.monotonic()
    with pytest.raises(ComponentError) as error:
        hostile.get_session(misbehaviour)
    assert time.monotonic() - started < 20
    if misbehaviour == "loop":
        assert "time limit" in str(error.value) or "CPU budget" in str(error.value)
    assert hostile.get_session("anything") is None  # the next call gets a fresh instance


def test_dataclasses_use_the_documents_field_names() -> None:
    names = [f.name for f in dataclasses.fields(SessionDetail)]
    assert names[:10] == [
        "id",
        "model_id",
        "persona_id",
        "name",
        "temperature",
        "reasoning_effort",
        "max_tokens",
        "tools",
        "custom_prompt",
        "agent_internal_id",
    ]
    assert {"created_at", "updated_at", "last_activity", "is_active", "status"} <= set(names)
    assert Path(__file__).resolve().parents[1].joinpath("agent_sessions", "py.typed").is_file()
