"""A FastAPI service keeping its agent sessions with agent-sessions.

    REDIS_URL=redis://127.0.0.1:6379/0 uvicorn fastapi_service:app

The README's "Use from Python" shows this file; python/tests/test_examples.py
runs it against a real Redis.
"""

import os

from fastapi import FastAPI, HTTPException

from agent_sessions import (
    AsyncSessionRepository,
    ConflictError,
    InvalidInputError,
    SessionDetail,
    SessionListResponse,
    SessionNotFoundError,
)

app = FastAPI()
repo = AsyncSessionRepository(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), ttl=3600)


@app.post("/sessions", status_code=201)
async def create_session(body: dict) -> SessionDetail:
    try:
        return await repo.create_session(body)
    except InvalidInputError as e:
        raise HTTPException(422, str(e)) from None


@app.get("/sessions/{session_id}")
async def get_session(session_id: str) -> SessionDetail:
    session = await repo.get_session(session_id)
    if session is None:
        raise HTTPException(404, "session not found")
    return session


@app.patch("/sessions/{session_id}")
async def update_session(session_id: str, body: dict) -> SessionDetail:
    try:
        return await repo.update_session(session_id, body)
    except InvalidInputError as e:
        raise HTTPException(422, str(e)) from None
    except SessionNotFoundError:
        raise HTTPException(404, "session not found") from None
    except ConflictError as e:
        raise HTTPException(409, str(e)) from None


@app.delete("/sessions/{session_id}", status_code=204)
async def delete_session(session_id: str) -> None:
    if not await repo.delete_session(session_id):
        raise HTTPException(404, "session not found")


@app.get("/sessions")
async def list_sessions(limit: int = 10, offset: int = 0) -> SessionListResponse:
    return await repo.list_sessions(limit, offset)
