"""`SessionRepository`: the design document's API over the component.

Every session rule (ids, validation, key layout, encodings, TTLs) runs in
the WebAssembly component; this module only turns the document's inputs
into JSON, the component's JSON documents into dataclasses, and the WIT
error variant into exceptions.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from wasmtime.component import Variant

from . import _assets
from ._runtime import ComponentRuntime
from .errors import (
    BackendError,
    ConflictError,
    DataCorruptError,
    InvalidInputError,
    SessionError,
    SessionNotFoundError,
)
from .kv_redis import RedisKv
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

#: Defaults shared with the Rust host (`guest/src/settings.rs`).
DEFAULT_TTL_SECONDS = 3600
DEFAULT_GRACE_SECONDS = 300
DEFAULT_BATCH_SIZE = 250
DEFAULT_MEMORY_LIMIT = 64 * 1024 * 1024
DEFAULT_TIME_LIMIT_SECONDS = 30.0

_U64_MAX = 2**64 - 1
_U32_MAX = 2**32 - 1
#: Fields the component reads as whole numbers: 10.0 is sent as 10.
_WHOLE_NUMBER_FIELDS = ("reasoning_effort", "max_tokens", "expected_version")

T = TypeVar("T")


# ----------------------------------------------------------------- lowering
# Which values are allowed, and of which type, is the component's business:
# it reads the JSON (numbers may also come as strings) and says what is wrong.


def _fields(value: Any, cls: type, what: str) -> dict[str, Any]:
    """The fields of a dataclass, mapping or Pydantic model, without Nones."""
    fields: Mapping[str, Any]
    if type(value) is cls:
        fields = value.__dict__
    elif isinstance(value, Mapping):
        fields = value
    elif hasattr(value, "model_dump"):  # Pydantic models
        fields = value.model_dump(exclude_unset=True)
    elif isinstance(value, cls):
        fields = value.__dict__
    else:
        raise InvalidInputError(f"{what} must be a {cls.__name__} or a mapping, not {type(value).__name__}")
    document = {name: item for name, item in fields.items() if item is not None}
    for name in _WHOLE_NUMBER_FIELDS:
        item = document.get(name)
        if type(item) is float and item.is_integer():
            document[name] = int(item)
    return document


def _json(value: Any, cls: type, what: str) -> str:
    document = _fields(value, cls, what)
    try:
        return json.dumps(document, allow_nan=False)
    except ValueError:
        bad = sorted(name for name, item in document.items() if isinstance(item, float) and not math.isfinite(item))
        raise InvalidInputError(f"{what}: {', '.join(bad) or 'a number'} must be a finite number") from None
    except TypeError as error:
        raise InvalidInputError(f"{what}: {error}") from None


def _session_id(value: Any) -> str:
    if type(value) is not str:
        if isinstance(value, str):
            return str(value)
        raise InvalidInputError(f"a session id must be a string, not {type(value).__name__}")
    return value


# ------------------------------------------------------------------ lifting


def _session(text: str) -> SessionDetail:
    return SessionDetail(**json.loads(text))


def _corruptions(documents: list[dict[str, Any]]) -> list[Corruption]:
    return [Corruption(**c) for c in documents]


def _stats(document: dict[str, Any]) -> SessionStats:
    document = dict(document)
    document["ttl_buckets"] = [TtlBucket(**b) for b in document["ttl_buckets"]]
    document["problems"] = _corruptions(document["problems"])
    return SessionStats(**document)


def _error(error: Variant) -> SessionError:
    tag, payload = error.tag, error.payload
    if tag == "invalid-input":
        return InvalidInputError(str(payload))
    if tag == "not-found":
        return SessionNotFoundError(str(payload))
    if tag == "conflict":
        return ConflictError(str(payload))
    if tag == "data-corrupt":
        try:
            corruption = Corruption(**json.loads(str(payload)))
        except (ValueError, TypeError):
            return DataCorruptError(f"corrupt data: {payload}", session_id="", key="", field="", detail=str(payload))
        where = f"{corruption.key} field {corruption.field}" if corruption.field else corruption.key
        return DataCorruptError(
            f"session {corruption.session_id}: corrupt data in {where}: {corruption.message}",
            session_id=corruption.session_id,
            key=corruption.key,
            field=corruption.field,
            detail=corruption.message,
        )
    if tag == "backend":
        kind = str(getattr(payload, "kind", "other")).replace("-", "_")
        return BackendError(str(getattr(payload, "message", payload)), storage_kind=kind)
    return SessionError(f"{tag}: {payload}")


def _unwrap(result: Any) -> Any:
    # result<T, session-error> is lifted untagged: a Variant is the error.
    if type(result) is Variant:
        raise _error(result)
    return result


class SessionRepository:
    """The session repository of the design document, backed by Redis.

    Thread-safe: calls from several threads run on separate component
    instances and Redis connections.

    - `redis_url`: `redis://[user:password@]host:port/db` or `rediss://` (TLS).
    - `prefix`: prepended to every key (default: none, the document's layout).
    - `ttl`: seconds a session lives without activity (default 3600).
    - `component`: path of a `.wasm` to load instead of the shipped one.
    - `grace`: seconds the hashes outlive the expiry key, for cleanup (300).
    - `batch_size`: sessions per Redis batch in cleanup and reindex (250).
    - `memory_limit`, `time_limit`: per call sandbox limits (64 MiB, 30 s).
    - `socket_timeout`, `connect_timeout`: Redis timeouts in seconds (5, 2).
    - `redis_client`: a `redis.Redis` to use instead of one built from the URL
      (give it `retry=Retry(NoBackoff(), 0)` so writes are never replayed).
    """

    def __init__(
        self,
        redis_url: str = "redis://127.0.0.1:6379/0",
        prefix: str = "",
        ttl: int = DEFAULT_TTL_SECONDS,
        component: str | Path | None = None,
        *,
        grace: int = DEFAULT_GRACE_SECONDS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        time_limit: float = DEFAULT_TIME_LIMIT_SECONDS,
        socket_timeout: float = 5.0,
        connect_timeout: float = 2.0,
        redis_client: Any = None,
    ) -> None:
        for name, value in (("ttl", ttl), ("grace", grace), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "grace" else 1):
                raise ValueError(f"{name} must be a whole number of at least {0 if name == 'grace' else 1}")
        if not isinstance(prefix, str):
            raise ValueError("prefix must be a string")
        self.prefix = prefix
        self.ttl = ttl
        self.grace = grace
        self.batch_size = batch_size
        self.kv = RedisKv(
            redis_url,
            prefix,
            socket_timeout=socket_timeout,
            connect_timeout=connect_timeout,
            client=redis_client,
        )
        path = Path(component) if component is not None else _assets.component_path()
        self._runtime = ComponentRuntime(
            path,
            self.kv.execute,
            (ttl, grace, batch_size),
            memory_limit=memory_limit,
            time_limit=time_limit,
        )

    # -- the document's methods

    def create_session(self, session_data: SessionCreate | Mapping[str, Any]) -> SessionDetail:
        """Creates a session with a fresh UUID v4 (one atomic Redis batch)."""
        document = _json(session_data, SessionCreate, "session_data")
        return _session(_unwrap(self._runtime.call("create", document)))

    def get_session(self, session_id: str) -> SessionDetail | None:
        """The live session, or None when there is none (never created,
        deleted or expired). An id that is not a UUID raises InvalidInputError."""
        try:
            return self.get_session_or_raise(session_id)
        except SessionNotFoundError:
            return None

    def get_session_or_raise(self, session_id: str) -> SessionDetail:
        """Like `get_session`, but raises SessionNotFoundError."""
        return _session(_unwrap(self._runtime.call("get", _session_id(session_id))))

    def update_session(self, session_id: str, update_data: SessionUpdate | Mapping[str, Any]) -> SessionDetail:
        """Changes the given fields, bumps `updated_at`, `last_activity` and
        `version`, and resets every TTL. Raises SessionNotFoundError when the
        session is gone, ConflictError when `expected_version` does not match."""
        changes = _json(update_data, SessionUpdate, "update_data")
        return _session(_unwrap(self._runtime.call("update", _session_id(session_id), changes)))

    def delete_session(self, session_id: str) -> bool:
        """Removes every key of the session; True when a live session was deleted."""
        return bool(_unwrap(self._runtime.call("delete", _session_id(session_id))))

    def list_sessions(self, limit: int = 10, offset: int = 0) -> SessionListResponse:
        """Sessions newest first by `created_at`, with the total (limit 0..1000)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= _U32_MAX:
            raise InvalidInputError(f"limit must be a whole number from 0 to 1000, not {limit!r}")
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= _U64_MAX:
            raise InvalidInputError(f"offset must be a whole number from 0, not {offset!r}")
        page = json.loads(_unwrap(self._runtime.call("list", limit, offset)))
        return SessionListResponse(
            sessions=[SessionDetail(**s) for s in page["sessions"]],
            total=page["total"],
            limit=page["limit"],
            offset=page["offset"],
            corrupt=_corruptions(page["corrupt"]),
        )

    def extend_session_ttl(self, session_id: str) -> bool:
        """Resets every TTL and `last_activity`; False, writing nothing, if
        the session is gone."""
        return bool(_unwrap(self._runtime.call("extend-ttl", _session_id(session_id))))

    def cleanup_expired_sessions(self) -> int:
        """Removes every session whose expiry key is gone; returns how many."""
        return self.cleanup_expired_sessions_report().removed

    # -- beyond the document

    def cleanup_expired_sessions_report(self) -> CleanupReport:
        """Like `cleanup_expired_sessions`, with what it skipped and why."""
        report = json.loads(_unwrap(self._runtime.call("cleanup-expired")))
        return CleanupReport(
            removed=report["removed"], skipped=report["skipped"], problems=_corruptions(report["problems"])
        )

    def reindex_sessions(self) -> int:
        """Adds live sessions that another service wrote (in `active_sessions`
        but not in the list index); returns how many."""
        return int(_unwrap(self._runtime.call("reindex")))

    def stats(self, progress: Callable[[SessionStats], None] | None = None) -> SessionStats:
        """Counts sessions (by status, activity, remaining TTL) and
        inconsistencies over the whole keyspace, in bounded SCAN steps of
        `batch_size`; `progress` sees the totals after each step."""
        cursor, so_far = "", ""
        while True:
            page = json.loads(_unwrap(self._runtime.call("stats", cursor, so_far)))
            cursor, done = page["cursor"], page["done"]
            if progress is not None or done:
                stats = _stats(page["stats"])
                if progress is not None:
                    progress(stats)
                if done:
                    return stats
            so_far = json.dumps(page["stats"])

    def ping(self) -> float:
        """Seconds one Redis PING takes; raises BackendError when Redis is down."""
        try:
            return self.kv.ping()
        except Exception as error:
            raise BackendError(
                f"Redis is unavailable at {self.kv.redacted_url}: {error}", storage_kind="unavailable"
            ) from None

    @property
    def round_trips(self) -> int:
        """Redis batches sent so far (one round trip each)."""
        return self.kv.round_trips

    def close(self) -> None:
        """Closes the Redis connections."""
        self.kv.close()

    def __enter__(self) -> SessionRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncSessionRepository:
    """`SessionRepository` for asyncio: the same methods as coroutines.

    Component calls are synchronous (wasmtime-py and redis-py), so each runs
    on a thread of a private pool of `max_concurrency` threads and never
    blocks the event loop. Takes the same arguments as `SessionRepository`.
    """

    def __init__(self, *args: Any, max_concurrency: int = 8, **kwargs: Any) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.sync = SessionRepository(*args, **kwargs)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_concurrency, thread_name_prefix="agent-sessions"
        )

    async def _run(self, method: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(method, *args))

    async def create_session(self, session_data: SessionCreate | Mapping[str, Any]) -> SessionDetail:
        return await self._run(self.sync.create_session, session_data)

    async def get_session(self, session_id: str) -> SessionDetail | None:
        return await self._run(self.sync.get_session, session_id)

    async def get_session_or_raise(self, session_id: str) -> SessionDetail:
        return await self._run(self.sync.get_session_or_raise, session_id)

    async def update_session(self, session_id: str, update_data: SessionUpdate | Mapping[str, Any]) -> SessionDetail:
        return await self._run(self.sync.update_session, session_id, update_data)

    async def delete_session(self, session_id: str) -> bool:
        return await self._run(self.sync.delete_session, session_id)

    async def list_sessions(self, limit: int = 10, offset: int = 0) -> SessionListResponse:
        return await self._run(self.sync.list_sessions, limit, offset)

    async def extend_session_ttl(self, session_id: str) -> bool:
        return await self._run(self.sync.extend_session_ttl, session_id)

    async def cleanup_expired_sessions(self) -> int:
        return await self._run(self.sync.cleanup_expired_sessions)

    async def cleanup_expired_sessions_report(self) -> CleanupReport:
        return await self._run(self.sync.cleanup_expired_sessions_report)

    async def reindex_sessions(self) -> int:
        return await self._run(self.sync.reindex_sessions)

    async def stats(self, progress: Callable[[SessionStats], None] | None = None) -> SessionStats:
        return await self._run(self.sync.stats, progress)

    async def ping(self) -> float:
        return await self._run(self.sync.ping)

    async def close(self) -> None:
        """Waits for running calls, then closes the Redis connections."""
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown)
        self.sync.close()

    async def __aenter__(self) -> AsyncSessionRepository:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
