"""A session backend for the OpenAI Agents SDK (`pip install 'agent-sessions[openai-agents]'`).

    from agents import Agent, Runner
    from agent_sessions import AsyncSessionRepository
    from agent_sessions.integrations.openai_agents import AgentSessionsSession

    repository = AsyncSessionRepository("redis://127.0.0.1:6379/0")
    session = AgentSessionsSession("conversation-42", repository)
    await Runner.run(agent, "Hello", session=session)

`AgentSessionsSession` implements the SDK's `Session` protocol over a
session's conversation items (`session:<id>:items`, one JSON text per item):

- the session is created on the first `add_items`, in the same call, with
  `model_id` (default "openai-agents"): two runs starting one conversation
  at once get one session, never two;
- every `add_items` is one atomic append, so the items of two concurrent
  runs never interleave and none is lost;
- `get_items(limit)` is one round trip for up to 1000 items (latest N in
  chronological order; `limit <= 0` gives `[]`); `pop_item` and
  `clear_session` are one each;
- every write refreshes the session's TTL: an idle conversation expires
  with the session, and then reads as empty.
"""

from __future__ import annotations

from typing import Any

from agents.items import TResponseInputItem
from agents.memory.session import SessionABC
from agents.memory.session_settings import SessionSettings, coerce_session_settings, resolve_session_limit

from ..errors import SessionNotFoundError
from ..repository import AsyncSessionRepository

__all__ = ["AgentSessionsSession"]

#: What `model_id` holds for sessions this adapter creates.
DEFAULT_MODEL_ID = "openai-agents"


class AgentSessionsSession(SessionABC):
    """The SDK's `Session` over an agent-sessions conversation.

    - `session_id`: the conversation's id: a UUID, or 1-128 characters of
      `[A-Za-z0-9._-]`.
    - `repository`: an `AsyncSessionRepository` (shared by any number of
      sessions); or `redis_url` to make one that `close()` closes.
    - `session_settings`: the SDK's settings (or a dict of them); `limit`
      bounds `get_items()` when it is called without one.
    - `model_id`: stored as the session's `model_id` when this adapter
      creates it (its other configuration fields stay empty).
    - `keep_last`: keep only the newest N items, trimmed in the same
      atomic append (a context window); None keeps up to 10,000.
    """

    def __init__(
        self,
        session_id: str,
        repository: AsyncSessionRepository | None = None,
        *,
        redis_url: str | None = None,
        session_settings: SessionSettings | dict[str, Any] | None = None,
        model_id: str = DEFAULT_MODEL_ID,
        keep_last: int | None = None,
    ) -> None:
        if repository is None:
            repository = AsyncSessionRepository(redis_url) if redis_url else AsyncSessionRepository()
            self._owns_repository = True
        else:
            self._owns_repository = False
        self.session_id = session_id
        self.session_settings = (
            coerce_session_settings(session_settings) if session_settings is not None else SessionSettings()
        )
        self._repository = repository
        self._model_id = model_id
        self._keep_last = keep_last
        self._closed = False

    @property
    def repository(self) -> AsyncSessionRepository:
        return self._repository

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed")

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The latest `limit` items (all with None and no settings limit),
        oldest first; `[]` for `limit <= 0` or a session that is gone."""
        self._check_open()
        limit = resolve_session_limit(limit, self.session_settings)
        if limit is not None and limit <= 0:
            return []
        try:
            items = await self._repository.get_all_items(self.session_id, last=limit)
        except SessionNotFoundError:
            return []
        return items

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Appends `items` in one atomic step, creating the session if needed."""
        self._check_open()
        if not items:
            return
        await self._repository.append_items(
            self.session_id,
            list(items),
            keep_last=self._keep_last,
            create_if_missing={"model_id": self._model_id},
        )

    async def pop_item(self) -> TResponseInputItem | None:
        """Removes and returns the newest item; None when there is none."""
        self._check_open()
        try:
            popped = await self._repository.pop_item(self.session_id)
        except SessionNotFoundError:
            return None
        item: TResponseInputItem | None = popped.item
        return item

    async def clear_session(self) -> None:
        """Removes every item; the session (and its configuration) stays."""
        self._check_open()
        try:
            await self._repository.clear_items(self.session_id)
        except SessionNotFoundError:
            return

    def close(self) -> None:
        """Marks the session closed; closes the repository only if this
        session made it (from `redis_url`)."""
        if self._closed:
            return
        self._closed = True
        if self._owns_repository:
            self._repository.close_nowait()
