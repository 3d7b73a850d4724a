"""agent-sessions for Python: the design document's `SessionRepository`,
backed by the agent-sessions WebAssembly component and Redis.

    from agent_sessions import SessionRepository, SessionCreate

    repo = SessionRepository("redis://127.0.0.1:6379/0")
    session = repo.create_session(SessionCreate(model_id="gpt-4", tools=["search"]))
    repo.get_session(session.id)

`AsyncSessionRepository` has the same methods as coroutines. The component
runs in the Rust host, built into this package (`_native`); the wasmtime-py
backend the package once had was removed (the native wheel is the Python
product). `SessionRepository.in_memory()` needs no Redis, for tests.
"""

from .errors import (
    BackendError,
    ComponentError,
    ConflictError,
    DataCorruptError,
    InvalidInputError,
    NotReplicatedError,
    SessionError,
    SessionNotFoundError,
)
from .models import (
    CleanupReport,
    Corruption,
    SessionCreate,
    SessionDetail,
    SessionListResponse,
    SessionStats,
    SessionUpdate,
    TtlBucket,
)
from .repository import AsyncSessionRepository, BackendName, SessionRepository

__all__ = [
    "AsyncSessionRepository",
    "BackendError",
    "BackendName",
    "CleanupReport",
    "ComponentError",
    "NotReplicatedError",
    "ConflictError",
    "Corruption",
    "DataCorruptError",
    "InvalidInputError",
    "SessionCreate",
    "SessionDetail",
    "SessionError",
    "SessionListResponse",
    "SessionNotFoundError",
    "SessionRepository",
    "SessionStats",
    "SessionUpdate",
    "TtlBucket",
]

__version__ = "0.1.0"
