"""`SessionRepository` and `AsyncSessionRepository`: the design document's
API over the agent-sessions component.

Every session rule (ids, validation, key layout, encodings, TTLs) runs in
the WebAssembly component, reached through a backend:

- `native` (default): the Rust host as an extension module
  (`agent_sessions._native`): wasmtime, the precompiled component and a
  reconnecting redis-rs connection, calls made with the GIL released and
  awaitables driven by its tokio runtime.
- `wasmtime-py`: the same component run by wasmtime-py, Redis by redis-py
  (`pip install 'agent-sessions[wasmtime-py]'`), all in Python.

This module only turns the document's inputs into JSON and the component's
JSON documents into dataclasses; both backends raise the same exceptions.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

from . import _native
from .errors import ConflictError, InvalidInputError, SessionNotFoundError
from .models import (
    CleanupReport,
    Conversation,
    Corruption,
    ItemsPage,
    ItemsReceipt,
    OwnedSession,
    Owner,
    OwnerPage,
    PoppedItem,
    SessionCreate,
    SessionDetail,
    SessionListResponse,
    SessionStats,
    SessionUpdate,
    TtlBucket,
)

if TYPE_CHECKING:
    from ._wasmtime_backend import WasmtimeBackend

#: Defaults shared with the Rust host (`guest/src/settings.rs`).
DEFAULT_TTL_SECONDS = 3600
DEFAULT_GRACE_SECONDS = 300
DEFAULT_BATCH_SIZE = 250
DEFAULT_MEMORY_LIMIT = 64 * 1024 * 1024
DEFAULT_TIME_LIMIT_SECONDS = 30.0

#: Which host runs the component: the Rust host as a native module, or wasmtime-py.
BackendName = Literal["native", "wasmtime-py"]

_U64_MAX = 2**64 - 1
_U32_MAX = 2**32 - 1
#: Fields the component reads as whole numbers: 10.0 is sent as 10.
_WHOLE_NUMBER_FIELDS = ("reasoning_effort", "max_tokens", "expected_version")


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


def _create_json(session_data: Any, session_id: Any) -> str:
    """The session-create document, with `session_id` as its `id` when given."""
    if session_id is None:
        return _json(session_data, SessionCreate, "session_data")
    chosen = _session_id(session_id)
    document = _fields(session_data, SessionCreate, "session_data")
    if document.get("id", chosen) != chosen:
        raise InvalidInputError("session_id and session_data's id differ; give the id once")
    document["id"] = chosen
    return _json(document, SessionCreate, "session_data")


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


def _list_arguments(limit: Any, offset: Any, page_token: Any) -> tuple[int, int, str]:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= _U32_MAX:
        raise InvalidInputError(f"limit must be a whole number from 0 to 1000, not {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= _U64_MAX:
        raise InvalidInputError(f"offset must be a whole number from 0, not {offset!r}")
    if page_token is not None and not isinstance(page_token, str):
        raise InvalidInputError(f"page_token must be a string from next_page_token, not {type(page_token).__name__}")
    return limit, offset, page_token or ""


def _page(text: str) -> SessionListResponse:
    page = json.loads(text)
    return SessionListResponse(
        sessions=[SessionDetail(**s) for s in page["sessions"]],
        total=page["total"],
        limit=page["limit"],
        offset=page["offset"],
        corrupt=_corruptions(page["corrupt"]),
        next_page_token=page.get("next_page_token"),
    )


def _cleanup_report(text: str) -> CleanupReport:
    report = json.loads(text)
    return CleanupReport(
        removed=report["removed"], skipped=report["skipped"], problems=_corruptions(report["problems"])
    )


def _check_settings(prefix: object, ttl: object, grace: object, batch_size: object) -> None:
    for name, value in (("ttl", ttl), ("grace", grace), ("batch_size", batch_size)):
        least = 0 if name == "grace" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be a whole number of at least {least}")
    if not isinstance(prefix, str):
        raise ValueError("prefix must be a string")


# ------------------------------------------------------- conversation items
# Items and state values are any JSON; the component checks them and keeps
# each item as the text sent, so what `json.dumps` writes is what is stored.

#: Items one read returns at most; longer histories are read in pages.
_ITEMS_PER_READ = 1000
#: Times a paged read starts over when the session changed between pages.
_READ_ATTEMPTS = 3

OwnerLike = Owner | tuple[str, str] | Mapping[str, str]


def _owner(owner: OwnerLike | None) -> dict[str, str] | None:
    if owner is None:
        return None
    if isinstance(owner, Mapping):
        return {"app_name": owner["app_name"], "user_id": owner["user_id"]}
    if isinstance(owner, tuple) and len(owner) == 2:
        return {"app_name": owner[0], "user_id": owner[1]}
    raise InvalidInputError(f"owner must be an Owner(app_name, user_id), not {type(owner).__name__}")


def _document(fields: dict[str, Any], what: str) -> str:
    document = {name: value for name, value in fields.items() if value is not None}
    try:
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidInputError(f"{what}: {error}") from None


def _append_request(
    items: Any,
    expected_version: int | None,
    keep_last: int | None,
    owner: OwnerLike | None,
    state_delta: Mapping[str, Any] | None,
    create_if_missing: SessionCreate | Mapping[str, Any] | None,
) -> str:
    if isinstance(items, str | bytes | Mapping) or not hasattr(items, "__iter__"):
        raise InvalidInputError("items must be a list of JSON values")
    create = None if create_if_missing is None else _fields(create_if_missing, SessionCreate, "create_if_missing")
    return _document(
        {
            "items": list(items),
            "expected_version": expected_version,
            "keep_last": keep_last,
            "owner": _owner(owner),
            "state_delta": None if state_delta is None else dict(state_delta),
            "create_if_missing": create,
        },
        "items",
    )


def _items_query(
    last: int | None, start: int | None, stop: int | None, owner: OwnerLike | None, include_session: bool = False
) -> str:
    return _document(
        {
            "last": last,
            "start": start,
            "stop": stop,
            "owner": _owner(owner),
            "include_session": include_session or None,
        },
        "items query",
    )


def _item_options(expected_version: int | None, owner: OwnerLike | None) -> str:
    return _document({"expected_version": expected_version, "owner": _owner(owner)}, "options")


def _receipt(text: str) -> ItemsReceipt:
    return ItemsReceipt(**json.loads(text))


def _items_page(text: str) -> ItemsPage:
    page = json.loads(text)
    page.pop("session", None)
    page.pop("state", None)
    return ItemsPage(**page)


def _conversation(text: str) -> Conversation:
    page = json.loads(text)
    return Conversation(
        session=SessionDetail(**page["session"]),
        state=page["state"],
        items=page["items"],
        total=page["total"],
        first_index=page["first_index"],
        version=page["version"],
        updated_at_ms=page["updated_at_ms"],
    )


def _popped(text: str) -> PoppedItem:
    return PoppedItem(**json.loads(text))


def _owner_page(text: str) -> OwnerPage:
    page = json.loads(text)
    return OwnerPage(
        sessions=[OwnedSession(**s) for s in page["sessions"]],
        app_state=page["app_state"],
        user_states=page["user_states"],
        corrupt=_corruptions(page["corrupt"]),
        next_page_token=page.get("next_page_token"),
    )


class _StaleRead(Exception):
    """The session changed between the pages of one read."""


class _OlderItems:
    """The items one read left out, gathered page by page (no I/O here: the
    sync and async repositories drive it). `items` holds what is read so far."""

    def __init__(self, items: list[Any], first_index: int, left_out: int, version: int) -> None:
        self.items, self._first, self._wanted_start, self._version = items, first_index, first_index - left_out, version

    def next_range(self) -> tuple[int, int] | None:
        """Positions to read next (up to 1000 before those read), or None."""
        if self._first <= self._wanted_start:
            return None
        return max(self._wanted_start, self._first - _ITEMS_PER_READ), self._first - 1

    def add(self, older: ItemsPage) -> None:
        """Puts an older page in front; raises _StaleRead if the session changed."""
        if older.version != self._version:
            raise _StaleRead
        self.items, self._first = older.items + self.items, older.first_index


def _stale(session_id: str) -> ConflictError:
    return ConflictError(f"session {session_id} kept changing while its items were read")


class _Repository:
    """What both repositories share: settings, the backend, and its choice."""

    _backend: _native.NativeStore | WasmtimeBackend

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
        backend: BackendName = "native",
        redis_client: Any = None,
        max_concurrency: int = 8,
        shards: int | None = None,
        cluster: bool = False,
        wait_replicas: int | None = None,
        wait_timeout: float = 0.25,
    ) -> None:
        _check_settings(prefix, ttl, grace, batch_size)
        if shards is not None and (isinstance(shards, bool) or not isinstance(shards, int) or not 0 <= shards <= 16384):
            raise ValueError("shards must be a whole number from 0 (the document's layout) to 16384")
        if wait_replicas is not None and (
            isinstance(wait_replicas, bool) or not isinstance(wait_replicas, int) or not 0 <= wait_replicas <= _U32_MAX
        ):
            raise ValueError("wait_replicas must be a whole number of replicas")
        if isinstance(wait_timeout, bool) or not isinstance(wait_timeout, int | float) or not 0 < wait_timeout < 1e9:
            raise ValueError("wait_timeout must be a positive number of seconds")
        if not isinstance(redis_url, str):
            raise ValueError("redis_url must be a string such as redis://127.0.0.1:6379/0")
        self.prefix = prefix
        self.ttl = ttl
        self.grace = grace
        self.batch_size = batch_size
        self.backend: BackendName = backend
        if backend == "native":
            if redis_client is not None:
                raise ValueError("redis_client is for backend='wasmtime-py'; the native backend has its own client")
            self._backend = _native.NativeStore(
                redis_url,
                prefix=prefix,
                ttl=ttl,
                grace=grace,
                batch_size=batch_size,
                memory_limit=memory_limit,
                time_limit=time_limit,
                socket_timeout=socket_timeout,
                connect_timeout=connect_timeout,
                component=component,
                shards=shards,
                cluster=cluster,
                wait_replicas=wait_replicas,
                wait_timeout=wait_timeout,
            )
        elif backend == "wasmtime-py":
            if max_concurrency < 1:
                raise ValueError("max_concurrency must be at least 1")
            try:
                from ._wasmtime_backend import WasmtimeBackend
            except ImportError as error:
                raise ImportError(
                    f"backend='wasmtime-py' needs wasmtime and redis ({error.name} is missing): "
                    "pip install 'agent-sessions[wasmtime-py]'"
                ) from error
            self._backend = WasmtimeBackend(
                redis_url,
                prefix=prefix,
                ttl=ttl,
                grace=grace,
                batch_size=batch_size,
                memory_limit=memory_limit,
                time_limit=time_limit,
                socket_timeout=socket_timeout,
                connect_timeout=connect_timeout,
                component=component,
                redis_client=redis_client,
                max_concurrency=max_concurrency,
                shards=shards,
                cluster=cluster,
                wait_replicas=wait_replicas,
                wait_timeout=wait_timeout,
            )
        else:
            raise ValueError(f"backend must be 'native' or 'wasmtime-py', not {backend!r}")

    @classmethod
    def in_memory(
        cls,
        *,
        ttl: int = DEFAULT_TTL_SECONDS,
        grace: int = DEFAULT_GRACE_SECONDS,
        prefix: str = "",
        batch_size: int = DEFAULT_BATCH_SIZE,
        manual_clock: bool = False,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        time_limit: float = DEFAULT_TIME_LIMIT_SECONDS,
    ) -> Self:
        """A repository over an in-memory store private to it, with Redis's
        TTL semantics: for tests of code that uses sessions. With
        `manual_clock=True` time only moves by `advance_clock(seconds)`."""
        _check_settings(prefix, ttl, grace, batch_size)
        repository = cls.__new__(cls)
        repository.prefix = prefix
        repository.ttl = ttl
        repository.grace = grace
        repository.batch_size = batch_size
        repository.backend = "native"
        repository._backend = _native.NativeStore(
            None,
            prefix=prefix,
            ttl=ttl,
            grace=grace,
            batch_size=batch_size,
            memory_limit=memory_limit,
            time_limit=time_limit,
            socket_timeout=5.0,
            connect_timeout=2.0,
            manual_clock=manual_clock,
        )
        return repository

    def advance_clock(self, seconds: float) -> None:
        """Moves the clock of a repository made with
        `in_memory(manual_clock=True)` forward: TTLs run out without waiting."""
        if not isinstance(self._backend, _native.NativeStore):
            raise RuntimeError("advance_clock needs a repository made with in_memory(manual_clock=True)")
        self._backend.advance_clock(seconds)

    @property
    def round_trips(self) -> int:
        """Storage batches sent so far (one round trip each)."""
        return self._backend.round_trips

    @property
    def storage(self) -> str:
        """Where sessions are kept (password redacted)."""
        return self._backend.storage


class SessionRepository(_Repository):
    """The session repository of the design document, backed by Redis.

    Thread-safe: calls from several threads run in parallel, each on its own
    sandboxed component instance; with the native backend the GIL is
    released while a call runs.

    - `redis_url`: `redis://[user:password@]host:port/db` or `rediss://` (TLS),
      or several comma-separated seed URLs of one Redis Cluster.
      Nothing connects until the first call.
    - `prefix`: prepended to every key (default: none, the document's layout).
    - `ttl`: seconds a session lives without activity (default 3600).
    - `component`: path of a `.wasm` to load instead of the built-in one.
    - `grace`: seconds the hashes outlive the expiry key, for cleanup (300).
    - `batch_size`: sessions per Redis batch in cleanup and reindex (250).
    - `memory_limit`, `time_limit`: per call sandbox limits (64 MiB, 30 s).
    - `socket_timeout`, `connect_timeout`: Redis timeouts in seconds (5, 2).
    - `backend`: `"native"` (default, the Rust host) or `"wasmtime-py"`.
    - `redis_client` (wasmtime-py only): a `redis.Redis` (or, for a cluster,
      a `redis.cluster.RedisCluster`) to use instead of one built from the
      URL (give it `retry=Retry(NoBackoff(), 0)` so writes are never
      replayed); the server is then not asked whether it is a cluster.
    - `cluster`: treat the server as a Redis Cluster without asking it; by
      default the first seed that answers says (`cluster_enabled:1` in
      `INFO cluster`). Both backends follow a cluster through redirects and
      failovers, retrying (for up to 10 s) only what failed before the
      batch ran: a batch whose outcome is unknown is never sent twice.
    - `shards`: the key layout. 0 is the document's layout; N > 0 the
      sharded layout, where every key of a session carries its shard's hash
      tag so each batch touches one cluster slot. Default: 0 on one server,
      64 on a cluster, where only the sharded layout works (0 there raises
      InvalidInputError at the first call). The layout is recorded in Redis
      (`session_layout`); a repository with another one is refused.
    - `wait_replicas`, `wait_timeout`: after each write, `WAIT` until that
      many replicas have it (up to `wait_timeout` seconds, default 0.25);
      when fewer confirm, the call raises NotReplicatedError (the write
      stands on the primary). Redis holds a connection's later commands
      while its WAIT waits: keep the timeout short.

    `SessionRepository.in_memory()` keeps sessions in process memory instead.
    """

    # -- the document's methods

    def create_session(
        self, session_data: SessionCreate | Mapping[str, Any], session_id: str | None = None
    ) -> SessionDetail:
        """Creates a session (one atomic Redis batch) with a fresh UUID v4, or
        with `session_id` when given: a UUID (hyphenated, either case; stored
        lowercase) or 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' and '-'
        (case-sensitive, stored as given). Any other id raises
        InvalidInputError; a live session with that id raises ConflictError,
        and the leftovers of an expired one are replaced, never inherited."""
        return _session(self._backend.create(_create_json(session_data, session_id)))

    def get_session(self, session_id: str) -> SessionDetail | None:
        """The live session, or None when there is none (never created,
        deleted or expired). An id that breaks the id rule (see
        `create_session`) raises InvalidInputError."""
        try:
            return self.get_session_or_raise(session_id)
        except SessionNotFoundError:
            return None

    def get_session_or_raise(self, session_id: str) -> SessionDetail:
        """Like `get_session`, but raises SessionNotFoundError."""
        return _session(self._backend.get(_session_id(session_id)))

    def update_session(self, session_id: str, update_data: SessionUpdate | Mapping[str, Any]) -> SessionDetail:
        """Changes the given fields, bumps `updated_at`, `last_activity` and
        `version`, and resets every TTL. Raises SessionNotFoundError when the
        session is gone, ConflictError when `expected_version` does not match."""
        changes = _json(update_data, SessionUpdate, "update_data")
        return _session(self._backend.update(_session_id(session_id), changes))

    def delete_session(
        self, session_id: str, *, owner: OwnerLike | None = None, expected_version: int | None = None
    ) -> bool:
        """Removes every key of the session; True when a live session was
        deleted. With `owner`, only a session of that owner (else False);
        with `expected_version`, only at that version (else ConflictError)."""
        if owner is None and expected_version is None:
            return self._backend.delete(_session_id(session_id))
        options = _item_options(expected_version, owner)
        return self._backend.delete_with(_session_id(session_id), options)

    def list_sessions(self, limit: int = 10, offset: int = 0, page_token: str | None = None) -> SessionListResponse:
        """Sessions newest first by `created_at`, with the total (limit 0..1000).

        Page by `offset` (ranks; costs O(offset)), or pass a page's
        `next_page_token` as `page_token` for the page after it: stable while
        sessions are added or removed."""
        return _page(self._backend.list(*_list_arguments(limit, offset, page_token)))

    def extend_session_ttl(self, session_id: str) -> bool:
        """Resets every TTL and `last_activity`; False, writing nothing, if
        the session is gone."""
        return self._backend.extend_ttl(_session_id(session_id))

    def cleanup_expired_sessions(self) -> int:
        """Removes every session whose expiry key is gone; returns how many."""
        return self.cleanup_expired_sessions_report().removed

    # -- beyond the document

    def cleanup_expired_sessions_report(self) -> CleanupReport:
        """Like `cleanup_expired_sessions`, with what it skipped and why."""
        return _cleanup_report(self._backend.cleanup_expired())

    def reindex_sessions(self) -> int:
        """Adds live sessions that another service wrote (in `active_sessions`
        but not in the list index); returns how many."""
        return self._backend.reindex()

    def stats(self, progress: Callable[[SessionStats], None] | None = None) -> SessionStats:
        """Counts sessions (by status, activity, remaining TTL) and
        inconsistencies over the whole keyspace, in bounded SCAN steps of
        `batch_size`; `progress` sees the totals after each step."""
        cursor, so_far = "", ""
        while True:
            page = json.loads(self._backend.stats(cursor, so_far))
            cursor, so_far = page["cursor"], json.dumps(page["stats"])
            if progress is not None:
                progress(_stats(page["stats"]))
            if page["done"]:
                return _stats(page["stats"])

    def ping(self) -> float:
        """Seconds one Redis PING takes; raises BackendError when Redis is down."""
        return self._backend.ping()

    # -- conversation items, ownership and state

    def append_items(
        self,
        session_id: str,
        items: list[Any],
        *,
        expected_version: int | None = None,
        keep_last: int | None = None,
        owner: OwnerLike | None = None,
        state_delta: Mapping[str, Any] | None = None,
        create_if_missing: SessionCreate | Mapping[str, Any] | None = None,
    ) -> ItemsReceipt:
        """Appends `items` (1 to 1000 JSON values) to the session's
        conversation in one atomic step, with `state_delta` applied in the
        same step; refreshes its TTLs and bumps its version. Only while the
        session is alive (SessionNotFoundError), with `owner` if given, at
        `expected_version` if given (ConflictError). `keep_last` keeps only
        the newest N items; without it a session holds at most 10,000.
        `create_if_missing` (a session-create document) creates the session
        first if there is none: concurrent first uses make one session."""
        request = _append_request(items, expected_version, keep_last, owner, state_delta, create_if_missing)
        return _receipt(self._backend.append_items(_session_id(session_id), request))

    def get_items(
        self,
        session_id: str,
        *,
        last: int | None = None,
        start: int | None = None,
        stop: int | None = None,
        owner: OwnerLike | None = None,
    ) -> ItemsPage:
        """One read of items, oldest first: the newest `last` (default all),
        or positions `start`..`stop` (0 is the oldest). One read returns at
        most 1000 items and 4 MiB; `left_out` says how many older ones of
        the range it left out (`get_all_items` reads them too)."""
        query = _items_query(last, start, stop, owner)
        return _items_page(self._backend.get_items(_session_id(session_id), query))

    def get_all_items(self, session_id: str, *, last: int | None = None, owner: OwnerLike | None = None) -> list[Any]:
        """The newest `last` items (default all), oldest first, in as many
        reads as they need, consistent: a session written between the reads
        is read again."""
        for _ in range(_READ_ATTEMPTS):
            page = self.get_items(session_id, last=last, owner=owner)
            items = self._read_older(session_id, owner, page.items, page.first_index, page.left_out, page.version)
            if items is not None:
                return items
        raise _stale(session_id)

    def _read_older(
        self, session_id: str, owner: OwnerLike | None, items: list[Any], first: int, left_out: int, version: int
    ) -> list[Any] | None:
        """`items` with the older ones a read left out; None if the session changed meanwhile."""
        older = _OlderItems(items, first, left_out, version)
        try:
            while (positions := older.next_range()) is not None:
                older.add(self.get_items(session_id, start=positions[0], stop=positions[1], owner=owner))
        except _StaleRead:
            return None
        return older.items

    def count_items(self, session_id: str, *, owner: OwnerLike | None = None) -> int:
        """How many items the session holds."""
        return self.get_items(session_id, last=0, owner=owner).total

    def pop_item(
        self, session_id: str, *, expected_version: int | None = None, owner: OwnerLike | None = None
    ) -> PoppedItem:
        """Removes and returns the newest item (None, writing nothing, when
        there is none)."""
        options = _item_options(expected_version, owner)
        return _popped(self._backend.pop_item(_session_id(session_id), options))

    def clear_items(
        self, session_id: str, *, expected_version: int | None = None, owner: OwnerLike | None = None
    ) -> ItemsReceipt:
        """Removes every item; the session, its configuration and state stay."""
        options = _item_options(expected_version, owner)
        return _receipt(self._backend.clear_items(_session_id(session_id), options))

    def get_conversation(
        self, session_id: str, *, last: int | None = None, owner: OwnerLike | None = None
    ) -> Conversation:
        """The session, its state (with its app's and user's under `app:` and
        `user:`) and its newest `last` items (default all)."""
        for _ in range(_READ_ATTEMPTS):
            query = _items_query(last, None, None, owner, include_session=True)
            text = self._backend.get_items(_session_id(session_id), query)
            conversation, left_out = _conversation(text), json.loads(text)["left_out"]
            c = conversation
            items = self._read_older(session_id, owner, c.items, c.first_index, left_out, c.version)
            if items is not None:
                c.items, c.first_index = items, c.first_index - left_out
                return conversation
        raise _stale(session_id)

    def list_sessions_by_owner(
        self, app_name: str, user_id: str | None = None, *, limit: int = 100, page_token: str | None = None
    ) -> OwnerPage:
        """Sessions of `user_id` of `app_name` (every user of the app when
        None), newest-updated first, `limit` (1 to 1000) per page, from the
        owner index: O(log N + page)."""
        limit, _, token = _list_arguments(limit, 0, page_token)
        return _owner_page(self._backend.list_by_owner(app_name, user_id or "", limit, token))

    def close(self) -> None:
        """Closes the Redis connections; later calls raise."""
        self._backend.close()

    def __enter__(self) -> SessionRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncSessionRepository(_Repository):
    """`SessionRepository` for asyncio: the same methods as coroutines, the
    same arguments.

    With the native backend each call is an awaitable driven by the Rust
    host's tokio runtime: no thread per call, the event loop never blocks.
    Cancelling a call drops it; a write reaches Redis as one atomic script
    call or not at all, so nothing is left half-written. With
    `backend="wasmtime-py"` calls run on a private pool of `max_concurrency`
    threads.
    """

    async def create_session(
        self, session_data: SessionCreate | Mapping[str, Any], session_id: str | None = None
    ) -> SessionDetail:
        return _session(await self._backend.create_async(_create_json(session_data, session_id)))

    async def get_session(self, session_id: str) -> SessionDetail | None:
        try:
            return await self.get_session_or_raise(session_id)
        except SessionNotFoundError:
            return None

    async def get_session_or_raise(self, session_id: str) -> SessionDetail:
        return _session(await self._backend.get_async(_session_id(session_id)))

    async def update_session(self, session_id: str, update_data: SessionUpdate | Mapping[str, Any]) -> SessionDetail:
        changes = _json(update_data, SessionUpdate, "update_data")
        return _session(await self._backend.update_async(_session_id(session_id), changes))

    async def delete_session(
        self, session_id: str, *, owner: OwnerLike | None = None, expected_version: int | None = None
    ) -> bool:
        if owner is None and expected_version is None:
            return await self._backend.delete_async(_session_id(session_id))
        options = _item_options(expected_version, owner)
        return await self._backend.delete_with_async(_session_id(session_id), options)

    async def list_sessions(
        self, limit: int = 10, offset: int = 0, page_token: str | None = None
    ) -> SessionListResponse:
        return _page(await self._backend.list_async(*_list_arguments(limit, offset, page_token)))

    async def extend_session_ttl(self, session_id: str) -> bool:
        return await self._backend.extend_ttl_async(_session_id(session_id))

    async def cleanup_expired_sessions(self) -> int:
        return (await self.cleanup_expired_sessions_report()).removed

    async def cleanup_expired_sessions_report(self) -> CleanupReport:
        return _cleanup_report(await self._backend.cleanup_expired_async())

    async def reindex_sessions(self) -> int:
        return await self._backend.reindex_async()

    async def stats(self, progress: Callable[[SessionStats], None] | None = None) -> SessionStats:
        cursor, so_far = "", ""
        while True:
            page = json.loads(await self._backend.stats_async(cursor, so_far))
            cursor, so_far = page["cursor"], json.dumps(page["stats"])
            if progress is not None:
                progress(_stats(page["stats"]))
            if page["done"]:
                return _stats(page["stats"])

    async def ping(self) -> float:
        return await self._backend.ping_async()

    # -- conversation items, ownership and state (see SessionRepository)

    async def append_items(
        self,
        session_id: str,
        items: list[Any],
        *,
        expected_version: int | None = None,
        keep_last: int | None = None,
        owner: OwnerLike | None = None,
        state_delta: Mapping[str, Any] | None = None,
        create_if_missing: SessionCreate | Mapping[str, Any] | None = None,
    ) -> ItemsReceipt:
        request = _append_request(items, expected_version, keep_last, owner, state_delta, create_if_missing)
        return _receipt(await self._backend.append_items_async(_session_id(session_id), request))

    async def get_items(
        self,
        session_id: str,
        *,
        last: int | None = None,
        start: int | None = None,
        stop: int | None = None,
        owner: OwnerLike | None = None,
    ) -> ItemsPage:
        query = _items_query(last, start, stop, owner)
        return _items_page(await self._backend.get_items_async(_session_id(session_id), query))

    async def get_all_items(
        self, session_id: str, *, last: int | None = None, owner: OwnerLike | None = None
    ) -> list[Any]:
        for _ in range(_READ_ATTEMPTS):
            page = await self.get_items(session_id, last=last, owner=owner)
            items = await self._read_older(session_id, owner, page.items, page.first_index, page.left_out, page.version)
            if items is not None:
                return items
        raise _stale(session_id)

    async def _read_older(
        self, session_id: str, owner: OwnerLike | None, items: list[Any], first: int, left_out: int, version: int
    ) -> list[Any] | None:
        older = _OlderItems(items, first, left_out, version)
        try:
            while (positions := older.next_range()) is not None:
                older.add(await self.get_items(session_id, start=positions[0], stop=positions[1], owner=owner))
        except _StaleRead:
            return None
        return older.items

    async def count_items(self, session_id: str, *, owner: OwnerLike | None = None) -> int:
        return (await self.get_items(session_id, last=0, owner=owner)).total

    async def pop_item(
        self, session_id: str, *, expected_version: int | None = None, owner: OwnerLike | None = None
    ) -> PoppedItem:
        options = _item_options(expected_version, owner)
        return _popped(await self._backend.pop_item_async(_session_id(session_id), options))

    async def clear_items(
        self, session_id: str, *, expected_version: int | None = None, owner: OwnerLike | None = None
    ) -> ItemsReceipt:
        options = _item_options(expected_version, owner)
        return _receipt(await self._backend.clear_items_async(_session_id(session_id), options))

    async def get_conversation(
        self, session_id: str, *, last: int | None = None, owner: OwnerLike | None = None
    ) -> Conversation:
        for _ in range(_READ_ATTEMPTS):
            query = _items_query(last, None, None, owner, include_session=True)
            text = await self._backend.get_items_async(_session_id(session_id), query)
            conversation, left_out = _conversation(text), json.loads(text)["left_out"]
            c = conversation
            items = await self._read_older(session_id, owner, c.items, c.first_index, left_out, c.version)
            if items is not None:
                c.items, c.first_index = items, c.first_index - left_out
                return conversation
        raise _stale(session_id)

    async def list_sessions_by_owner(
        self, app_name: str, user_id: str | None = None, *, limit: int = 100, page_token: str | None = None
    ) -> OwnerPage:
        limit, _, token = _list_arguments(limit, 0, page_token)
        return _owner_page(await self._backend.list_by_owner_async(app_name, user_id or "", limit, token))

    def close_nowait(self) -> None:
        """`close` without awaiting: closes the Redis connections now."""
        self._backend.close()

    async def close(self) -> None:
        """Waits for running calls (wasmtime-py backend), then closes the
        Redis connections."""
        await asyncio.to_thread(self._backend.close)

    async def __aenter__(self) -> AsyncSessionRepository:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
