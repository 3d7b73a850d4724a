"""The OpenAI Agents SDK keeping its conversation in agent-sessions.

    REDIS_URL=redis://127.0.0.1:6379/0 python openai_agents_session.py

Runs offline: the SDK's scripted model stands in for a real one (swap in
`Agent(name=..., model="gpt-4.1")` and an OPENAI_API_KEY for the real thing).
The README's "Use with the OpenAI Agents SDK" shows this file;
python/tests/test_examples.py runs it against a real Redis.
"""

import asyncio
import os

from agents import Agent, Runner, set_tracing_disabled
from agents.testing import ScriptedModel, assistant_message

from agent_sessions import AsyncSessionRepository
from agent_sessions.integrations.openai_agents import AgentSessionsSession


async def main() -> list[str]:
    set_tracing_disabled(True)  # offline: no trace upload
    repository = AsyncSessionRepository(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    model = ScriptedModel([[assistant_message("Paris.")], [assistant_message("France.")]])
    agent = Agent(name="Guide", instructions="Answer in one word.", model=model)

    # Any number of services can open the same conversation by its id.
    session = AgentSessionsSession("conversation-42", repository)
    first = await Runner.run(agent, "Where is the Eiffel Tower?", session=session)
    second = await Runner.run(agent, "In which country?", session=session)  # sees the first run
    history = await session.get_items()
    print(first.final_output, second.final_output, f"{len(history)} items stored")
    await repository.close()
    return [str(first.final_output), str(second.final_output)]


if __name__ == "__main__":
    asyncio.run(main())
