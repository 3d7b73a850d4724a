"""`SessionRepository`: the design document's API over the component.

Every session rule (ids, validation, key layout, encodings, TTLs) runs in
the WebAssembly component; this module only converts between the
document's dataclasses and the WIT values, and maps the WIT error variant
to exceptions.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

from wasmtime.component import Variant

from . import _assets
from ._runtime import ComponentRuntime
from ._wit import field, record
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

_I64 = (-(2**63), 2**63 - 1)
_U64_MAX = 2**64 - 1
_U32_MAX = 2**32 - 1

_CREATE_FIELDS = [f.name for f in dataclasses.fields(SessionCreate)]
_UPDATE_FIELDS = [f.name for f in dataclasses.fields(SessionUpdate)]

T = TypeVar("T")


# ----------------------------------------------------------------- lowering
# Type checks only: which values are *allowed* is the component's business.


def _string(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidInputError(f"{name} must be a string, not {type(value).__name__}")


def _float(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"{name} must be a number, not {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _integer(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{name} must be a whole number, not {value!r}")
    if not _I64[0] <= value <= _I64[1]:
        raise InvalidInputError(f"{name} is out of range: {value}")
    return value


def _strings(name: str, value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise InvalidInputError(f"{name} must be a list of strings")
    for item in value:
        if not isinstance(item, str):
            raise InvalidInputError(f"{name} must be a list of strings, not contain {type(item).__name__}")
    return list(value)


def _session_id(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"a session id must be a string, not {type(value).__name__}")
    return value


def _as(cls: type[T], value: T | Mapping[str, Any], what: str) -> T:
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        allowed = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise InvalidInputError(f"{what} has unknown fields: {', '.join(unknown)}")
        try:
            return cls(**value)
        except TypeError as error:
            raise InvalidInputError(f"{what}: {error}") from None
    # Pydantic models and other objects with the document's attribute names.
    if hasattr(value, "model_dump"):
        return _as(cls, cast(Mapping[str, Any], value.model_dump(exclude_unset=True)), what)
    raise InvalidInputError(f"{what} must be a {cls.__name__} or a mapping, not {type(value).__name__}")


def _lower_create(data: SessionCreate) -> Any:
    return record(
        model_id=_string("model_id", data.model_id) if data.model_id is not None else _missing("model_id"),
        persona_id=_string("persona_id", data.persona_id),
        name=_string("name", data.name),
        temperature=_float("temperature", data.temperature),
        reasoning_effort=_integer("reasoning_effort", data.reasoning_effort),
        max_tokens=_integer("max_tokens", data.max_tokens),
        tools=_strings("tools", data.tools) or [],
        custom_prompt=_string("custom_prompt", data.custom_prompt),
        agent_internal_id=_string("agent_internal_id", data.agent_internal_id),
        status=_string("status", data.status),
    )


def _missing(name: str) -> str:
    raise InvalidInputError(f"{name} is required")


_CLEARABLE = {
    "persona_id": "persona-id",
    "name": "name",
    "temperature": "temperature",
    "reasoning_effort": "reasoning-effort",
    "max_tokens": "max-tokens",
    "tools": "tools",
    "custom_prompt": "custom-prompt",
    "agent_internal_id": "agent-internal-id",
}


def _lower_update(changes: SessionUpdate) -> Any:
    clear = []
    for name in changes.clear or []:
        wit_name = _CLEARABLE.get(name) if isinstance(name, str) else None
        if wit_name is None:
            raise InvalidInputError(
                f"clear: {name!r} is not a field that can be cleared (one of {', '.join(_CLEARABLE)})"
            )
        clear.append(wit_name)
    expected = changes.expected_version
    if expected is not None:
        if isinstance(expected, bool) or not isinstance(expected, int) or not 0 <= expected <= _U64_MAX:
            raise InvalidInputError(f"expected_version must be a whole number from 0, not {expected!r}")
    return record(
        model_id=_string("model_id", changes.model_id),
        persona_id=_string("persona_id", changes.persona_id),
        name=_string("name", changes.name),
        temperature=_float("temperature", changes.temperature),
        reasoning_effort=_integer("reasoning_effort", changes.reasoning_effort),
        max_tokens=_integer("max_tokens", changes.max_tokens),
        tools=_strings("tools", changes.tools),
        custom_prompt=_string("custom_prompt", changes.custom_prompt),
        agent_internal_id=_string("agent_internal_id", changes.agent_internal_id),
        status=_string("status", changes.status),
        clear=clear,
        expected_version=expected,
    )


# ------------------------------------------------------------------ lifting


def _lift_session(value: Any) -> SessionDetail:
    return SessionDetail(
        id=field(value, "id"),
        model_id=field(value, "model-id"),
        persona_id=field(value, "persona-id"),
        name=field(value, "name"),
        temperature=field(value, "temperature"),
        reasoning_effort=field(value, "reasoning-effort"),
        max_tokens=field(value, "max-tokens"),
        tools=list(field(value, "tools")),
        custom_prompt=field(value, "custom-prompt"),
        agent_internal_id=field(value, "agent-internal-id"),
        created_at=field(value, "created-at"),
        updated_at=field(value, "updated-at"),
        last_activity=field(value, "last-activity"),
        is_active=field(value, "is-active"),
        status=field(value, "status"),
        version=field(value, "version"),
        expires_in_seconds=field(value, "expires-in-seconds"),
    )


def _lift_corruption(value: Any) -> Corruption:
    return Corruption(
        session_id=field(value, "session-id"),
        key=field(value, "key"),
        field=field(value, "field"),
        message=field(value, "message"),
    )


_EMPTY_STATS = record(
    sessions=0,
    active=0,
    inactive=0,
    by_status=[],
    ttl_buckets=[],
    oldest_session_id=None,
    oldest_created_at=None,
    newest_session_id=None,
    newest_created_at=None,
    expired_awaiting_cleanup=0,
    members_without_keys=0,
    keys_without_members=0,
    keys_without_ttl=0,
    set_size=0,
    index_size=0,
    problems=[],
)


def _lift_stats(value: Any) -> SessionStats:
    return SessionStats(
        sessions=field(value, "sessions"),
        active=field(value, "active"),
        inactive=field(value, "inactive"),
        by_status={field(s, "status"): field(s, "count") for s in field(value, "by-status")},
        ttl_buckets=[TtlBucket(field(b, "up-to-seconds"), field(b, "count")) for b in field(value, "ttl-buckets")],
        oldest_session_id=field(value, "oldest-session-id"),
        oldest_created_at=field(value, "oldest-created-at"),
        newest_session_id=field(value, "newest-session-id"),
        newest_created_at=field(value, "newest-created-at"),
        expired_awaiting_cleanup=field(value, "expired-awaiting-cleanup"),
        members_without_keys=field(value, "members-without-keys"),
        keys_without_members=field(value, "keys-without-members"),
        keys_without_ttl=field(value, "keys-without-ttl"),
        set_size=field(value, "set-size"),
        index_size=field(value, "index-size"),
        problems=[_lift_corruption(c) for c in field(value, "problems")],
    )


def _lift_error(error: Variant) -> SessionError:
    tag, payload = error.tag, error.payload
    if tag == "invalid-input":
        return InvalidInputError(str(payload))
    if tag == "not-found":
        return SessionNotFoundError(str(payload))
    if tag == "conflict":
        return ConflictError(str(payload))
    if tag == "data-corrupt":
        corruption = _lift_corruption(payload)
        where = f"{corruption.key} field {corruption.field}" if corruption.field else corruption.key
        return DataCorruptError(
            f"session {corruption.session_id}: corrupt data in {where}: {corruption.message}",
            session_id=corruption.session_id,
            key=corruption.key,
            field=corruption.field,
            detail=corruption.message,
        )
    if tag == "backend":
        return BackendError(str(payload))
    return SessionError(f"{tag}: {payload}")


def _unwrap(result: Any) -> Any:
    # result<T, session-error> is lifted untagged: a Variant is the error.
    if isinstance(result, Variant):
        raise _lift_error(result)
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
        settings = record(session_ttl_seconds=ttl, grace_seconds=grace, batch_size=batch_size)
        path = Path(component) if component is not None else _assets.component_path()
        self._runtime = ComponentRuntime(
            path,
            self.kv.execute,
            lambda: settings,
            memory_limit=memory_limit,
            time_limit=time_limit,
        )

    # -- the document's methods

    def create_session(self, session_data: SessionCreate | Mapping[str, Any]) -> SessionDetail:
        """Creates a session with a fresh UUID v4 (one atomic Redis batch)."""
        data = _as(SessionCreate, session_data, "session_data")
        return _lift_session(_unwrap(self._runtime.call("create", _lower_create(data))))

    def get_session(self, session_id: str) -> SessionDetail | None:
        """The live session, or None when there is none (never created,
        deleted or expired). An id that is not a UUID raises InvalidInputError."""
        try:
            return self.get_session_or_raise(session_id)
        except SessionNotFoundError:
            return None

    def get_session_or_raise(self, session_id: str) -> SessionDetail:
        """Like `get_session`, but raises SessionNotFoundError."""
        return _lift_session(_unwrap(self._runtime.call("get", _session_id(session_id))))

    def update_session(self, session_id: str, update_data: SessionUpdate | Mapping[str, Any]) -> SessionDetail:
        """Changes the given fields, bumps `updated_at`, `last_activity` and
        `version`, and resets every TTL. Raises SessionNotFoundError when the
        session is gone, ConflictError when `expected_version` does not match."""
        changes = _as(SessionUpdate, update_data, "update_data")
        result = self._runtime.call("update", _session_id(session_id), _lower_update(changes))
        return _lift_session(_unwrap(result))

    def delete_session(self, session_id: str) -> bool:
        """Removes every key of the session; True when a live session was deleted."""
        return bool(_unwrap(self._runtime.call("delete", _session_id(session_id))))

    def list_sessions(self, limit: int = 10, offset: int = 0) -> SessionListResponse:
        """Sessions newest first by `created_at`, with the total (limit 0..1000)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= _U32_MAX:
            raise InvalidInputError(f"limit must be a whole number from 0 to 1000, not {limit!r}")
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= _U64_MAX:
            raise InvalidInputError(f"offset must be a whole number from 0, not {offset!r}")
        page = _unwrap(self._runtime.call("list", limit, offset))
        return SessionListResponse(
            sessions=[_lift_session(s) for s in field(page, "sessions")],
            total=field(page, "total"),
            limit=field(page, "limit"),
            offset=field(page, "offset"),
            corrupt=[_lift_corruption(c) for c in field(page, "corrupt")],
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
        report = _unwrap(self._runtime.call("cleanup-expired"))
        return CleanupReport(
            removed=field(report, "removed"),
            skipped=field(report, "skipped"),
            problems=[_lift_corruption(c) for c in field(report, "problems")],
        )

    def reindex_sessions(self) -> int:
        """Adds live sessions that another service wrote (in `active_sessions`
        but not in the list index); returns how many."""
        return int(_unwrap(self._runtime.call("reindex")))

    def stats(self, progress: Callable[[SessionStats], None] | None = None) -> SessionStats:
        """Counts sessions (by status, activity, remaining TTL) and
        inconsistencies over the whole keyspace, in bounded SCAN steps of
        `batch_size`; `progress` sees the totals after each step."""
        cursor, so_far = "", _EMPTY_STATS
        while True:
            page = _unwrap(self._runtime.call("stats", cursor, so_far))
            cursor, so_far = field(page, "cursor"), field(page, "stats")
            if progress is not None or field(page, "done"):
                stats = _lift_stats(so_far)
                if progress is not None:
                    progress(stats)
                if field(page, "done"):
                    return stats

    def ping(self) -> float:
        """Seconds one Redis PING takes; raises BackendError when Redis is down."""
        try:
            return self.kv.ping()
        except Exception as error:
            raise BackendError(f"Redis is unavailable at {self.kv.redacted_url}: {error}") from None

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
