"""`AgentSessionsSession` with the OpenAI Agents SDK: the runner offline
(the SDK's scripted model), the protocol's semantics, and what concurrent
runs do to one conversation. The SDK's own session tests run against it in
test_openai_agents_sdk_suite.py."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis
from agents import Agent, Runner
from agents.memory.session import Session, SessionABC
from agents.testing import ScriptedModel, assistant_message

from agent_sessions import AsyncSessionRepository
from agent_sessions.integrations.openai_agents import AgentSessionsSession


@pytest.fixture
async def repository(redis_url: str) -> AsyncIterator[AsyncSessionRepository]:
    repo = AsyncSessionRepository(redis_url)
    yield repo
    await repo.close()


async def test_it_is_an_sdk_session(repository: AsyncSessionRepository) -> None:
    session = AgentSessionsSession("conversation-1", repository)
    assert isinstance(session, Session)
    assert isinstance(session, SessionABC)
    assert session.session_id == "conversation-1"
    assert session.session_settings is not None and session.session_settings.limit is None


async def test_a_second_run_sees_the_first(repository: AsyncSessionRepository) -> None:
    model = ScriptedModel([[assistant_message("Paris")], [assistant_message("France")]])
    agent = Agent(name="geo", model=model)
    session = AgentSessionsSession("runs-twice", repository)

    first = await Runner.run(agent, "Which city has the Eiffel Tower?", session=session)
    assert first.final_output == "Paris"
    stored_after_first = await session.get_items()
    assert [item.get("role") for item in stored_after_first] == ["user", "assistant"]

    second = await Runner.run(agent, "Which country is it in?", session=session)
    assert second.final_output == "France"
    seen = model.calls[1].input
    assert isinstance(seen, list)
    # The second call's input starts with the first run's items, as stored.
    assert seen[: len(stored_after_first)] == stored_after_first
    assert seen[len(stored_after_first)]["content"] == "Which country is it in?"
    assert await repository.count_items("runs-twice") == 4
    # The session was created by the first add_items, with the adapter's model_id.
    detail = await repository.get_session_or_raise("runs-twice")
    assert detail.model_id == "openai-agents"


async def test_limit_semantics(repository: AsyncSessionRepository) -> None:
    session = AgentSessionsSession("limits", repository)
    assert await session.get_items() == []
    items = [{"role": "user", "content": f"m{n}"} for n in range(5)]
    await session.add_items(items)
    assert await session.get_items() == items
    assert await session.get_items(limit=2) == items[-2:]
    assert await session.get_items(limit=0) == []
    assert await session.get_items(limit=-3) == []
    assert await session.get_items(limit=50) == items
    limited = AgentSessionsSession("limits", repository, session_settings={"limit": 3})
    assert await limited.get_items() == items[-3:]
    assert await limited.get_items(limit=1) == items[-1:]


async def test_pop_and_clear(repository: AsyncSessionRepository) -> None:
    session = AgentSessionsSession("pop-clear", repository)
    assert await session.pop_item() is None
    await session.clear_session()  # no session yet: nothing to do
    await session.add_items([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    assert await session.pop_item() == {"role": "assistant", "content": "b"}
    assert await session.get_items() == [{"role": "user", "content": "a"}]
    await session.clear_session()
    assert await session.get_items() == []
    assert await session.pop_item() is None
    # The session itself stays: clearing keeps its configuration.
    assert await repository.get_session("pop-clear") is not None


async def test_items_are_stored_as_sent(repository: AsyncSessionRepository, redis_client: redis.Redis[str]) -> None:
    item = {"role": "user", "content": "naïve café ☕ 中文", "n": 2**70, "nested": {"z": 1, "a": [1.5, None, True]}}
    session = AgentSessionsSession("exact", repository)
    await session.add_items([item])
    assert await session.get_items() == [item]
    stored = redis_client.lrange("session:exact:items", 0, -1)
    assert stored == [json.dumps(item, separators=(",", ":"), ensure_ascii=False)]


async def test_keep_last_trims_in_the_same_append(repository: AsyncSessionRepository) -> None:
    session = AgentSessionsSession("window", repository, keep_last=3)
    for n in range(5):
        await session.add_items([{"n": n}])
    assert await session.get_items() == [{"n": 2}, {"n": 3}, {"n": 4}]


async def test_concurrent_runs_never_interleave_or_lose_a_batch(repository: AsyncSessionRepository) -> None:
    """Two runs (tasks) and a thread with its own event loop append 3-item
    batches to one new conversation at once: one session, every batch whole."""
    sessions = [AgentSessionsSession("busy", repository) for _ in range(2)]

    async def run(writer: int, session: AgentSessionsSession) -> None:
        for batch in range(25):
            await session.add_items([{"w": writer, "b": batch, "i": i} for i in range(3)])

    def in_a_thread() -> None:
        asyncio.run(run(2, AgentSessionsSession("busy", repository)))

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    await asyncio.gather(*(run(w, s) for w, s in enumerate(sessions)))
    await asyncio.to_thread(thread.join)

    items = await sessions[0].get_items()
    assert len(items) == 3 * 25 * 3
    for start in range(0, len(items), 3):
        batch = items[start : start + 3]
        assert [item["i"] for item in batch] == [0, 1, 2]
        assert len({(item["w"], item["b"]) for item in batch}) == 1
    for writer in range(3):
        assert [item["b"] for item in items if item["w"] == writer and item["i"] == 0] == list(range(25))


async def test_closed_sessions_refuse_calls(redis_url: str) -> None:
    session = AgentSessionsSession("closing", redis_url=redis_url)
    await session.add_items([{"role": "user", "content": "hi"}])
    session.close()
    with pytest.raises(RuntimeError, match="AgentSessionsSession is closed"):
        await session.add_items([])


def test_the_sdks_own_session_tests_pass() -> None:
    """The SDK's tests/memory suite (from its pinned sdist) against this
    adapter: every protocol-level test passes; the SQLite-internal ones are
    expected failures with reasons (tests/frameworks/openai_sdk_plugin.py)."""
    script = Path(__file__).parent / "frameworks" / "openai_sdk_suite.py"
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600)
    print(result.stdout[-4000:], result.stderr[-2000:])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = [line for line in result.stdout.splitlines() if "OpenAI Agents SDK's session tests" in line]
    assert summary and not re.search(r"\b\d+ (failed|xpassed|error)\b", summary[0]), summary


async def test_long_histories_are_read_whole(repository: AsyncSessionRepository) -> None:
    """Past one read's 1000 items, get_items pages back through the rest."""
    session = AgentSessionsSession("long", repository)
    for start in range(0, 2500, 1000):
        await session.add_items([{"n": n} for n in range(start, min(start + 1000, 2500))])
    assert [item["n"] for item in await session.get_items()] == list(range(2500))
    assert [item["n"] for item in await session.get_items(limit=1500)] == list(range(1000, 2500))
    conversation = await repository.get_conversation("long")
    assert (len(conversation.items), conversation.first_index, conversation.total) == (2500, 0, 2500)
