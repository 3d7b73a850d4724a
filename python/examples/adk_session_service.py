"""Google ADK keeping its sessions, events and state in agent-sessions.

    REDIS_URL=redis://127.0.0.1:6379/0 python adk_session_service.py

Uses the session service directly, as ADK's `Runner` does
(`Runner(agent=..., app_name=..., session_service=service)`), so it runs
without a model. The README's "Use with Google ADK" shows this file;
python/tests/test_examples.py runs it against a real Redis.
"""

import asyncio
import os

from google.adk.errors import StaleSessionError
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.genai import types

from agent_sessions import AsyncSessionRepository
from agent_sessions.integrations.adk import AgentSessionsService


def user_says(text: str, **state: object) -> Event:
    return Event(
        invocation_id="inv-1",
        author="user",
        content=types.Content(role="user", parts=[types.Part(text=text)]),
        actions=EventActions(state_delta=dict(state)),
    )


async def main() -> dict[str, object]:
    service = AgentSessionsService(AsyncSessionRepository(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")))
    session = await service.create_session(
        app_name="weather", user_id="ana", state={"city": "Lyon", "user:units": "metric", "app:model": "v2"}
    )
    await service.append_event(session, user_says("Will it rain?", **{"temp:draft": "x", "city": "Paris"}))

    # Two runs holding the same session: the second one to write is stale.
    run_a = await service.get_session(app_name="weather", user_id="ana", session_id=session.id)
    run_b = await service.get_session(app_name="weather", user_id="ana", session_id=session.id)
    assert run_a is not None and run_b is not None
    await service.append_event(run_a, user_says("And tomorrow?"))
    try:
        await service.append_event(run_b, user_says("Wind?"))
    except StaleSessionError:
        print("run b was stale: reload and append again")

    loaded = await service.get_session(app_name="weather", user_id="ana", session_id=session.id)
    assert loaded is not None
    listed = await service.list_sessions(app_name="weather", user_id="ana")
    print(loaded.state, f"{len(loaded.events)} events", f"{len(listed.sessions)} session(s) for ana")
    await service.repository.close()
    return {"state": loaded.state, "events": len(loaded.events), "listed": len(listed.sessions)}


if __name__ == "__main__":
    asyncio.run(main())
