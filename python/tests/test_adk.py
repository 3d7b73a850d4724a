"""`AgentSessionsService` against Google ADK's session contract.

Sequential calls: every scenario runs on our service and on ADK's
`InMemorySessionService` with the same calls, and what they return must
match (state merging, event filtering and order, errors). Concurrency: our
service follows ADK's persistent services, where a writer holding a stale
session gets `StaleSessionError` (ADK's own session tests live in its
repository, not in its package, so these are ours).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from google.adk.errors import StaleSessionError
from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.errors.session_not_found_error import SessionNotFoundError
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.adk.sessions import InMemorySessionService
from google.adk.sessions.base_session_service import BaseSessionService, GetSessionConfig
from google.adk.sessions.session import Session
from google.genai import types

from agent_sessions import AsyncSessionRepository
from agent_sessions.integrations.adk import AgentSessionsService

APP = "weather_app"


@pytest.fixture
async def service(redis_url: str) -> AsyncIterator[AgentSessionsService]:
    repository = AsyncSessionRepository(redis_url)
    yield AgentSessionsService(repository)
    await repository.close()


def event(author: str = "user", *, text: str = "hi", delta: dict[str, Any] | None = None, **fields: Any) -> Event:
    return Event(
        invocation_id="inv-1",
        author=author,
        content=types.Content(role="user" if author == "user" else "model", parts=[types.Part(text=text)]),
        actions=EventActions(state_delta=delta or {}),
        **fields,
    )


def seen(session: Session | None) -> Any:
    """What a caller observes of a session, without timestamps."""
    if session is None:
        return None
    return {
        "id": session.id,
        "app_name": session.app_name,
        "user_id": session.user_id,
        "state": session.state,
        # Event ids are fresh per Event(), so each run of a scenario has its own.
        "events": [
            (e.author, e.content.parts[0].text if e.content and e.content.parts else None) for e in session.events
        ],
    }


Scenario = Callable[[BaseSessionService], Awaitable[Any]]


async def same_on_both(service: AgentSessionsService, scenario: Scenario) -> Any:
    ours = await scenario(service)
    theirs = await scenario(InMemorySessionService())
    assert ours == theirs
    return ours


async def test_create_routes_prefixed_state_and_drops_temp(service: AgentSessionsService) -> None:
    async def scenario(s: BaseSessionService) -> Any:
        state = {"topic": "rain", "user:lang": "en", "app:version": 3, "temp:x": 1}
        created = await s.create_session(app_name=APP, user_id="ana", state=state, session_id="s1")
        loaded = await s.get_session(app_name=APP, user_id="ana", session_id="s1")
        return seen(created), seen(loaded)

    created, loaded = await same_on_both(service, scenario)
    assert created["state"] == {"topic": "rain", "user:lang": "en", "app:version": 3}
    assert loaded == created


async def test_deltas_are_shared_by_scope(service: AgentSessionsService) -> None:
    async def scenario(s: BaseSessionService) -> Any:
        mine = await s.create_session(app_name=APP, user_id="ana", state={"user:lang": "en", "app:version": 1})
        await s.append_event(
            mine, event(delta={"topic": "snow", "user:lang": "fr", "app:version": 2, "temp:scratch": "x"})
        )
        in_memory = dict(mine.state)
        other_user = await s.create_session(app_name=APP, user_id="ben", session_id="b1")
        same_user = await s.create_session(app_name=APP, user_id="ana", session_id="a2")
        reloaded = await s.get_session(app_name=APP, user_id="ana", session_id=mine.id)
        assert reloaded is not None
        return in_memory, other_user.state, same_user.state, reloaded.state, len(reloaded.events)

    in_memory, other_user, same_user, reloaded, events = await same_on_both(service, scenario)
    assert in_memory["temp:scratch"] == "x"  # temp: stays on the caller's session
    assert other_user == {"app:version": 2}
    assert same_user == {"user:lang": "fr", "app:version": 2}
    assert reloaded == {"topic": "snow", "user:lang": "fr", "app:version": 2}
    assert events == 1


async def test_missing_sessions_and_errors(service: AgentSessionsService) -> None:
    async def scenario(s: BaseSessionService) -> Any:
        outcomes: list[Any] = [await s.get_session(app_name=APP, user_id="ana", session_id="nope")]
        session = await s.create_session(app_name=APP, user_id="ana", session_id="dup")
        try:
            await s.create_session(app_name=APP, user_id="ana", session_id="dup")
        except AlreadyExistsError:
            outcomes.append("already exists")
        # Another user's id is not theirs to read or delete.
        outcomes.append(seen(await s.get_session(app_name=APP, user_id="ben", session_id="dup")))
        await s.delete_session(app_name=APP, user_id="ben", session_id="dup")
        outcomes.append(seen(await s.get_session(app_name=APP, user_id="ana", session_id="dup")) is not None)
        await s.delete_session(app_name=APP, user_id="ana", session_id="dup")
        await s.delete_session(app_name=APP, user_id="ana", session_id="dup")  # twice: no error
        outcomes.append(await s.get_session(app_name=APP, user_id="ana", session_id="dup"))
        try:
            await s.append_event(session, event())
        except SessionNotFoundError:
            outcomes.append("not found")
        return outcomes

    assert await same_on_both(service, scenario) == [None, "already exists", None, True, None, "not found"]


async def test_partial_events_are_not_stored(service: AgentSessionsService) -> None:
    async def scenario(s: BaseSessionService) -> Any:
        session = await s.create_session(app_name=APP, user_id="ana", session_id="p")
        await s.append_event(session, event(text="streaming", partial=True))
        await s.append_event(session, event(text="whole"))
        loaded = await s.get_session(app_name=APP, user_id="ana", session_id="p")
        return seen(session)["events"], seen(loaded)["events"]

    in_memory, stored = await same_on_both(service, scenario)
    assert [text for _, text in stored] == ["whole"]
    assert in_memory == stored


async def test_event_filters_and_order(service: AgentSessionsService) -> None:
    async def scenario(s: BaseSessionService) -> Any:
        session = await s.create_session(app_name=APP, user_id="ana", session_id="f")
        for n in range(6):
            await s.append_event(session, event("user" if n % 2 == 0 else "agent", text=f"e{n}", timestamp=1000.0 + n))
        results = []
        for config in [
            None,
            GetSessionConfig(num_recent_events=2),
            GetSessionConfig(num_recent_events=0),
            GetSessionConfig(num_recent_events=10),
            GetSessionConfig(after_timestamp=1003.0),
            GetSessionConfig(after_timestamp=2000.0),
            GetSessionConfig(num_recent_events=4, after_timestamp=1003.5),
        ]:
            loaded = await s.get_session(app_name=APP, user_id="ana", session_id="f", config=config)
            results.append([text for _, text in seen(loaded)["events"]])
        return results

    results = await same_on_both(service, scenario)
    assert results[0] == [f"e{n}" for n in range(6)]
    assert results[1] == ["e4", "e5"]
    assert results[2] == []
    assert results[4] == ["e3", "e4", "e5"]


async def test_events_round_trip_whole(service: AgentSessionsService) -> None:
    session = await service.create_session(app_name=APP, user_id="ana")
    sent = event("agent", text="the forecast", delta={"k": {"nested": [1, 2]}})
    await service.append_event(session, sent)
    loaded = await service.get_session(app_name=APP, user_id="ana", session_id=session.id)
    assert loaded is not None
    assert loaded.events == [sent]
    assert loaded.last_update_time > 0


async def test_listing(service: AgentSessionsService) -> None:
    async def scenario(s: BaseSessionService) -> Any:
        for user, sid in [("ana", "a1"), ("ana", "a2"), ("ben", "b1")]:
            created = await s.create_session(app_name=APP, user_id=user, session_id=sid, state={"n": sid})
            await s.append_event(created, event(delta={"user:seen": sid, "app:last": sid}))
        await s.create_session(app_name="other_app", user_id="ana", session_id="x1")
        listed = []
        for user in ["ana", "ben", "nobody", None]:
            response = await s.list_sessions(app_name=APP, user_id=user)
            listed.append(
                sorted((x.id, x.user_id, tuple(sorted(x.state.items())), len(x.events)) for x in response.sessions)
            )
        return listed

    listed = await same_on_both(service, scenario)
    assert [len(page) for page in listed] == [2, 1, 0, 3]


async def test_listing_is_oldest_update_first(service: AgentSessionsService) -> None:
    for sid in ["first", "second", "third"]:
        await service.create_session(app_name=APP, user_id="ana", session_id=sid)
    first = await service.get_session(app_name=APP, user_id="ana", session_id="first")
    assert first is not None
    await service.append_event(first, event())  # now the most recently updated
    response = await service.list_sessions(app_name=APP, user_id="ana")
    assert [s.id for s in response.sessions][-1] == "first"
    times = [s.last_update_time for s in response.sessions]
    assert times == sorted(times)


async def test_concurrent_appends_one_wins_the_other_is_stale(service: AgentSessionsService) -> None:
    """Two runs loaded the same session; both append at once. Exactly one
    is stored; the other gets StaleSessionError and, after reloading,
    appends on top of the winner (ADK issue #4751: never a silent merge)."""
    await service.create_session(app_name=APP, user_id="ana", session_id="race")
    runs = []
    for _ in range(2):
        loaded = await service.get_session(app_name=APP, user_id="ana", session_id="race")
        assert loaded is not None
        runs.append(loaded)
    outcomes = await asyncio.gather(
        *(service.append_event(run, event(text=f"run {n}")) for n, run in enumerate(runs)), return_exceptions=True
    )
    winners = [o for o in outcomes if isinstance(o, Event)]
    losers = [o for o in outcomes if isinstance(o, StaleSessionError)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    stored = await service.get_session(app_name=APP, user_id="ana", session_id="race")
    assert stored is not None
    assert [e.id for e in stored.events] == [winners[0].id]

    loser = runs[outcomes.index(losers[0])]
    # The stale session object was left as it was loaded.
    assert loser.events == []
    reloaded = await service.get_session(app_name=APP, user_id="ana", session_id="race")
    assert reloaded is not None
    await service.append_event(reloaded, event(text="retried"))
    final = await service.get_session(app_name=APP, user_id="ana", session_id="race")
    assert final is not None and len(final.events) == 2


async def test_many_concurrent_writers_lose_nothing(service: AgentSessionsService) -> None:
    """16 writers each append 10 events, reloading on every stale error:
    all 160 are stored, each once."""
    await service.create_session(app_name=APP, user_id="ana", session_id="crowd")

    async def writer(n: int) -> int:
        stale = 0
        for k in range(10):
            while True:
                session = await service.get_session(
                    app_name=APP, user_id="ana", session_id="crowd", config=GetSessionConfig(num_recent_events=0)
                )
                assert session is not None
                try:
                    await service.append_event(session, event(text=f"{n}/{k}", delta={f"w{n}": k}))
                    break
                except StaleSessionError:
                    stale += 1
        return stale

    await asyncio.gather(*(writer(n) for n in range(16)))
    stored = await service.get_session(app_name=APP, user_id="ana", session_id="crowd")
    assert stored is not None
    texts = [e.content.parts[0].text for e in stored.events if e.content and e.content.parts]
    assert sorted(texts) == sorted(f"{n}/{k}" for n in range(16) for k in range(10))
    assert stored.state == {f"w{n}": 9 for n in range(16)}


async def test_ten_thousand_sessions_of_one_user(redis_url: str) -> None:
    """ADK 2.13 lists every session of a user; 10,000."""
    repository = AsyncSessionRepository(redis_url)
    service = AgentSessionsService(repository)
    semaphore = asyncio.Semaphore(64)

    async def create(n: int) -> None:
        async with semaphore:
            await repository.create_session(
                {"model_id": "google-adk", "id": f"s{n:05}", "app_name": APP, "user_id": "heavy", "state": {"n": n}}
            )

    await asyncio.gather(*(create(n) for n in range(10_000)))
    await service.create_session(app_name=APP, user_id="light", session_id="other")
    response = await service.list_sessions(app_name=APP, user_id="heavy")
    assert len(response.sessions) == 10_000
    assert {s.id for s in response.sessions} == {f"s{n:05}" for n in range(10_000)}
    assert all(s.events == [] and s.state == {"n": int(s.id[1:])} for s in response.sessions)
    everyone = await service.list_sessions(app_name=APP)
    assert len(everyone.sessions) == 10_001
    await repository.close()
