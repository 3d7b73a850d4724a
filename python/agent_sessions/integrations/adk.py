"""A session service for Google ADK (`pip install 'agent-sessions[adk]'`).

    from google.adk.runners import Runner
    from agent_sessions import AsyncSessionRepository
    from agent_sessions.integrations.adk import AgentSessionsService

    service = AgentSessionsService(AsyncSessionRepository("redis://127.0.0.1:6379/0"))
    runner = Runner(agent=agent, app_name="my_app", session_service=service)

`AgentSessionsService` is a `BaseSessionService` over agent-sessions:

- a session is an agent-sessions session owned by (`app_name`, `user_id`),
  its events are its conversation items (one JSON event each), its state
  the session's state hash, and `app:`/`user:` state the app's and user's
  shared hashes; `temp:` keys stay on the in-memory session, as in ADK;
- `append_event` is one atomic compare-and-set on the session's version:
  of two runs appending to one loaded session, one wins and the other gets
  ADK's `StaleSessionError` (reload the session and try again), never a
  history where both interleave;
- `get_session` is one round trip (plus one per 1000 events beyond the
  first 1000); `list_sessions` reads 1000 sessions per round trip from the
  per-owner index, without events;
- sessions it creates hold `model_id` (default "google-adk") as their
  model configuration, and live for the repository's `ttl` after their
  last write.
"""

from __future__ import annotations

from typing import Any

from google.adk.errors import StaleSessionError
from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.errors.session_not_found_error import SessionNotFoundError as AdkSessionNotFoundError
from google.adk.events.event import Event
from google.adk.sessions.base_session_service import BaseSessionService, GetSessionConfig, ListSessionsResponse
from google.adk.sessions.session import Session
from pydantic_core import to_jsonable_python

from ..errors import ConflictError, SessionNotFoundError
from ..models import Owner
from ..repository import AsyncSessionRepository

__all__ = ["AgentSessionsService"]

#: What `model_id` holds for sessions this service creates.
DEFAULT_MODEL_ID = "google-adk"

_STALE_MESSAGE = (
    "The session was changed in storage after it was loaded (its version moved on): "
    "reload it with get_session and append again."
)


class AgentSessionsService(BaseSessionService):
    """ADK's session service over agent-sessions.

    - `repository`: an `AsyncSessionRepository`; or `redis_url` to make one.
    - `model_id`: stored as the model configuration of the sessions it creates.
    """

    def __init__(
        self,
        repository: AsyncSessionRepository | None = None,
        *,
        redis_url: str | None = None,
        model_id: str = DEFAULT_MODEL_ID,
    ) -> None:
        if repository is None:
            repository = AsyncSessionRepository(redis_url) if redis_url else AsyncSessionRepository()
        self._repository = repository
        self._model_id = model_id

    @property
    def repository(self) -> AsyncSessionRepository:
        return self._repository

    async def create_session(
        self,
        *,
        app_name: str,
        user_id: str,
        state: dict[str, Any] | None = None,
        session_id: str | None = None,
    ) -> Session:
        session_id = session_id.strip() if session_id else None
        document: dict[str, Any] = {"model_id": self._model_id, "app_name": app_name, "user_id": user_id}
        if session_id:
            document["id"] = session_id
        if state:
            document["state"] = to_jsonable_python(state)
        try:
            created = await self._repository.create_session(document)
        except ConflictError:
            raise AlreadyExistsError(f"Session with id {session_id} already exists.") from None
        return await self._load(app_name, user_id, created.id, last=0)

    async def get_session(
        self,
        *,
        app_name: str,
        user_id: str,
        session_id: str,
        config: GetSessionConfig | None = None,
    ) -> Session | None:
        session_id = session_id.strip() if session_id else session_id
        last = config.num_recent_events if config is not None else None
        try:
            session = await self._load(app_name, user_id, session_id, last=last)
        except SessionNotFoundError:
            return None
        if config is not None and config.after_timestamp is not None:
            # As InMemorySessionService: the events after the newest one
            # older than the bound.
            events = session.events
            i = len(events) - 1
            while i >= 0 and events[i].timestamp >= config.after_timestamp:
                i -= 1
            session.events = events[i + 1 :]
        return session

    async def _load(self, app_name: str, user_id: str, session_id: str, *, last: int | None) -> Session:
        conversation = await self._repository.get_conversation(session_id, owner=Owner(app_name, user_id), last=last)
        session = Session(
            id=session_id,
            app_name=app_name,
            user_id=user_id,
            state=conversation.state,
            events=[Event.model_validate(item) for item in conversation.items],
            last_update_time=conversation.updated_at_ms / 1000,
        )
        session._storage_update_marker = str(conversation.version)
        return session

    async def list_sessions(self, *, app_name: str, user_id: str | None = None) -> ListSessionsResponse:
        sessions: list[Session] = []
        token: str | None = None
        while True:
            page = await self._repository.list_sessions_by_owner(app_name, user_id, limit=1000, page_token=token)
            app_state = {f"app:{key}": value for key, value in page.app_state.items()}
            for owned in page.sessions:
                user_state = page.user_states.get(owned.user_id, {})
                state = {**owned.state, **app_state, **{f"user:{key}": value for key, value in user_state.items()}}
                session = Session(
                    id=owned.id,
                    app_name=owned.app_name,
                    user_id=owned.user_id,
                    state=state,
                    events=[],
                    last_update_time=owned.updated_at_ms / 1000,
                )
                session._storage_update_marker = str(owned.version)
                sessions.append(session)
            token = page.next_page_token
            if token is None:
                break
        # ADK's order: oldest update first, so the last is the most recent.
        sessions.sort(key=lambda s: (s.last_update_time, s.user_id, s.id))
        return ListSessionsResponse(sessions=sessions)

    async def delete_session(self, *, app_name: str, user_id: str, session_id: str) -> None:
        session_id = session_id.strip() if session_id else session_id
        await self._repository.delete_session(session_id, owner=Owner(app_name, user_id))

    async def append_event(self, session: Session, event: Event) -> Event:
        if event.partial:
            return event
        self._apply_temp_state(session, event)
        event = self._trim_temp_delta_state(event)
        marker = session._storage_update_marker
        delta = event.actions.state_delta if event.actions and event.actions.state_delta else None
        try:
            receipt = await self._repository.append_items(
                session.id,
                [event.model_dump(mode="json", exclude_none=True)],
                owner=Owner(session.app_name, session.user_id),
                expected_version=int(marker) if marker is not None else None,
                state_delta=to_jsonable_python(delta) if delta else None,
            )
        except ConflictError:
            raise StaleSessionError(_STALE_MESSAGE) from None
        except SessionNotFoundError:
            raise AdkSessionNotFoundError(f"Session {session.id} not found.") from None
        self._commit_event_to_session(session, event)
        session.last_update_time = event.timestamp
        session._storage_update_marker = str(receipt.version)
        return event
