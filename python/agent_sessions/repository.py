"""`SessionRepository` and `AsyncSessionRepository`: the design document's
API over the agent-sessions component.

Every session rule (ids, validation, key layout, encodings, TTLs) runs in
the WebAssembly component, in the Rust host built into this package as a
native module (`agent_sessions._native`): wasmtime, the precompiled
component and a reconnecting redis-rs connection, calls made with the GIL
released and awaitables driven by its tokio runtime. This module only turns
the document's inputs into JSON and the component's JSON documents into
dataclasses.

The package has one backend. The wasmtime-py backend it once had (the same
component run by wasmtime-py, Redis by redis-py) is gone: it ran the whole
test suite a second time and kept a second Redis client (a RESP reader, a
cluster redirect loop, patches of wasmtime-py internals) that is not this
project's to own; the native wheel is the Python product. `backend="native"`
is still accepted, `"wasmtime-py"` is refused with a ValueError that says so.

One definition per operation: each is a generator (`_Steps`) that yields
the component calls it needs (`_Call`: the WIT export and its arguments),
receives each call's reply (str, bool or int) at its `yield`, and returns
the method's result; an error a call raises is raised at that `yield`.
`@_operation` makes it a blocking method of `SessionRepository` (driven
through `NativeStore.call`) and a coroutine of `AsyncSessionRepository`
(through `NativeStore.call_async`). An export without a method here is
reached with `repo.call("export-name", *args)`.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
from collections.abc import Callable, Coroutine, Generator, Mapping
from pathlib import Path
from types import FunctionType
from typing import (
    Any,
    ClassVar,
    Concatenate,
    Generic,
    Literal,
    ParamSpec,
    Self,
    TypeAlias,
    TypeVar,
    overload,
)

from . import _native
from .errors import InvalidInputError, SessionNotFoundError
from .models import (
    CleanupReport,
    Conversation,
    ItemsPage,
    ItemsReceipt,
    Owner,
    OwnerPage,
    PoppedItem,
    SessionCreate,
    SessionDetail,
    SessionListResponse,
    SessionStats,
    SessionUpdate,
)

#: Defaults shared with the Rust host (`guest/src/settings.rs`).
DEFAULT_TTL_SECONDS = 3600
DEFAULT_GRACE_SECONDS = 300
DEFAULT_BATCH_SIZE = 250
DEFAULT_MEMORY_LIMIT = 64 * 1024 * 1024
DEFAULT_TIME_LIMIT_SECONDS = 30.0

#: Which host runs the component: the Rust host, built in (the only one).
BackendName = Literal["native"]

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


def _list_arguments(limit: Any, offset: Any, page_token: Any) -> tuple[int, int, str]:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= _U32_MAX:
        raise InvalidInputError(f"limit must be a whole number from 0 to 1000, not {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= _U64_MAX:
        raise InvalidInputError(f"offset must be a whole number from 0, not {offset!r}")
    if page_token is not None and not isinstance(page_token, str):
        raise InvalidInputError(f"page_token must be a string from next_page_token, not {type(page_token).__name__}")
    return limit, offset, page_token or ""


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
    last: int | None,
    start: int | None,
    stop: int | None,
    owner: OwnerLike | None,
    *,
    include_session: bool = False,
    whole: bool = False,
) -> str:
    return _document(
        {
            "last": last,
            "start": start,
            "stop": stop,
            "owner": _owner(owner),
            "include_session": include_session or None,
            "whole": whole or None,
        },
        "items query",
    )


def _item_options(expected_version: int | None, owner: OwnerLike | None) -> str:
    return _document({"expected_version": expected_version, "owner": _owner(owner)}, "options")


# -------------------------------------------------- one definition, two APIs

#: What a component call takes (for its WIT parameter types) and returns.
Value: TypeAlias = str | bool | int


#: One component call: the export's WIT name and its arguments.
_Call: TypeAlias = tuple[str, tuple[Value, ...]]


def _call(export: str, *args: Value) -> _Call:
    return export, args


R = TypeVar("R")
P = ParamSpec("P")
#: An operation's steps: yields calls, receives their replies, returns its result.
_Steps: TypeAlias = Generator[_Call, Any, R]


def _run_blocking(store: _native.NativeStore, steps: _Steps[R]) -> R:
    """Drives `steps` with blocking calls (the GIL released during each)."""
    try:
        export, args = next(steps)
        while True:
            try:
                reply = store.call(export, *args)
            except Exception as error:
                export, args = steps.throw(error)
            else:
                export, args = steps.send(reply)
    except StopIteration as done:
        result: R = done.value
        return result


async def _run_awaiting(store: _native.NativeStore, steps: _Steps[R]) -> R:
    """Drives `steps` with awaited calls; a cancelled call drops the rest."""
    try:
        export, args = next(steps)
        while True:
            try:
                reply = await store.call_async(export, *args)
            except Exception as error:
                export, args = steps.throw(error)
            else:
                export, args = steps.send(reply)
    except StopIteration as done:
        result: R = done.value
        return result


def _as_method(method: Callable[..., Any], steps: Callable[..., Any], owner: str) -> None:
    """Gives `method` the operation's name, docstring and signature, in
    tracebacks too (its code is renamed: `in get_session`, not `in blocking`)."""
    assert isinstance(method, FunctionType)
    name = steps.__name__
    method.__name__, method.__qualname__, method.__doc__ = name, f"{owner}.{name}", steps.__doc__
    method.__module__ = steps.__module__
    method.__code__ = method.__code__.replace(co_name=name, co_qualname=f"{owner}.{name}")
    signature = inspect.signature(steps)
    returns = str(signature.return_annotation).removeprefix("_Steps[").removesuffix("]")
    method.__dict__["__signature__"] = signature.replace(return_annotation=returns)


class _operation(Generic[P, R]):
    """An operation written once as steps: a blocking method on
    `SessionRepository`, a coroutine method on `AsyncSessionRepository`."""

    def __init__(self, steps: Callable[Concatenate[Any, P], _Steps[R]]) -> None:
        def blocking(self: _Repository, /, *args: P.args, **kwargs: P.kwargs) -> R:
            return _run_blocking(self._store, steps(self, *args, **kwargs))

        async def awaiting(self: _Repository, /, *args: P.args, **kwargs: P.kwargs) -> R:
            return await _run_awaiting(self._store, steps(self, *args, **kwargs))

        _as_method(blocking, steps, "SessionRepository")
        _as_method(awaiting, steps, "AsyncSessionRepository")
        self.blocking, self.awaiting = blocking, awaiting
        self.__doc__ = steps.__doc__

    @overload
    def __get__(
        self, repository: None, owner: type[AsyncSessionRepository]
    ) -> Callable[Concatenate[AsyncSessionRepository, P], Coroutine[Any, Any, R]]: ...
    @overload
    def __get__(
        self, repository: None, owner: type[SessionRepository]
    ) -> Callable[Concatenate[SessionRepository, P], R]: ...
    @overload
    def __get__(self, repository: AsyncSessionRepository, owner: Any) -> Callable[P, Coroutine[Any, Any, R]]: ...
    @overload
    def __get__(self, repository: SessionRepository, owner: Any) -> Callable[P, R]: ...
    def __get__(self, repository: _Repository | None, owner: Any) -> Any:
        # Only for typing: each repository class holds the plain functions
        # (`_Repository.__init_subclass__`), which bind as fast as any method.
        method = self.awaiting if owner._awaits else self.blocking
        return method if repository is None else method.__get__(repository, owner)


# ----------------------------------------------------------- the repository


class _Repository:
    """What both repositories share: settings, the native store, and every
    operation (each one written once, see the module's docstring)."""

    _store: _native.NativeStore
    #: Whether operations are coroutines (AsyncSessionRepository).
    _awaits: ClassVar[bool]

    def __init_subclass__(cls) -> None:
        # The two repositories get each operation as a plain function; their
        # subclasses inherit it (and may override it).
        if "_awaits" not in vars(cls):
            return
        for name, operation in vars(_Repository).items():
            if isinstance(operation, _operation):
                setattr(cls, name, operation.awaiting if cls._awaits else operation.blocking)

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
        chosen: str = backend
        if chosen == "wasmtime-py":
            raise ValueError(
                "backend='wasmtime-py' was removed: the Rust host built into this package runs the same "
                "component; leave backend out (or pass 'native')"
            )
        if chosen != "native":
            raise ValueError(f"backend must be 'native', not {backend!r}")
        if redis_client is not None:
            raise ValueError("redis_client was for the removed wasmtime-py backend; the native host has its own client")
        store = _native.NativeStore(
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
        self._attach(store, prefix, ttl, grace, batch_size)

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
        store = _native.NativeStore(
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
        repository = cls.__new__(cls)
        repository._attach(store, prefix, ttl, grace, batch_size)
        return repository

    def _attach(self, store: _native.NativeStore, prefix: str, ttl: int, grace: int, batch_size: int) -> None:
        """The settings a repository reports, and the store its calls go to."""
        self.prefix = prefix
        self.ttl = ttl
        self.grace = grace
        self.batch_size = batch_size
        self.backend: BackendName = "native"
        self._store = store

    def advance_clock(self, seconds: float) -> None:
        """Moves the clock of a repository made with
        `in_memory(manual_clock=True)` forward: TTLs run out without waiting."""
        self._store.advance_clock(seconds)

    @property
    def round_trips(self) -> int:
        """Storage batches sent so far (one round trip each)."""
        return self._store.round_trips

    @property
    def storage(self) -> str:
        """Where sessions are kept (password redacted)."""
        return self._store.storage

    # -- the document's methods

    @_operation
    def create_session(
        self, session_data: SessionCreate | Mapping[str, Any], session_id: str | None = None
    ) -> _Steps[SessionDetail]:
        """Creates a session (one atomic Redis batch) with a fresh UUID v4, or
        with `session_id` when given: a UUID (hyphenated, either case; stored
        lowercase) or 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' and '-'
        (case-sensitive, stored as given). Any other id raises
        InvalidInputError; a live session with that id raises ConflictError,
        and the leftovers of an expired one are replaced, never inherited."""
        return SessionDetail.from_dict(json.loads((yield _call("create", _create_json(session_data, session_id)))))

    @_operation
    def get_session(self, session_id: str) -> _Steps[SessionDetail | None]:
        """The live session, or None when there is none (never created,
        deleted or expired). An id that breaks the id rule (see
        `create_session`) raises InvalidInputError."""
        try:
            return (yield from _get_session(session_id))
        except SessionNotFoundError:
            return None

    @_operation
    def get_session_or_raise(self, session_id: str) -> _Steps[SessionDetail]:
        """Like `get_session`, but raises SessionNotFoundError."""
        return (yield from _get_session(session_id))

    @_operation
    def update_session(self, session_id: str, update_data: SessionUpdate | Mapping[str, Any]) -> _Steps[SessionDetail]:
        """Changes the given fields, bumps `updated_at`, `last_activity` and
        `version`, and resets every TTL. Raises SessionNotFoundError when the
        session is gone, ConflictError when `expected_version` does not match."""
        changes = _json(update_data, SessionUpdate, "update_data")
        return SessionDetail.from_dict(json.loads((yield _call("update", _session_id(session_id), changes))))

    @_operation
    def delete_session(
        self, session_id: str, *, owner: OwnerLike | None = None, expected_version: int | None = None
    ) -> _Steps[bool]:
        """Removes every key of the session; True when a live session was
        deleted. With `owner`, only a session of that owner (else False);
        with `expected_version`, only at that version (else ConflictError)."""
        if owner is None and expected_version is None:
            return bool((yield _call("delete", _session_id(session_id))))
        options = _item_options(expected_version, owner)
        return bool((yield _call("delete-with", _session_id(session_id), options)))

    @_operation
    def list_sessions(
        self, limit: int = 10, offset: int = 0, page_token: str | None = None
    ) -> _Steps[SessionListResponse]:
        """Sessions newest first by `created_at`, with the total (limit 0..1000).

        Page by `offset` (ranks; costs O(offset)), or pass a page's
        `next_page_token` as `page_token` for the page after it: stable while
        sessions are added or removed."""
        text = yield _call("list", *_list_arguments(limit, offset, page_token))
        return SessionListResponse.from_dict(json.loads(text))

    @_operation
    def extend_session_ttl(self, session_id: str) -> _Steps[bool]:
        """Resets every TTL and `last_activity`; False, writing nothing, if
        the session is gone."""
        return bool((yield _call("extend-ttl", _session_id(session_id))))

    @_operation
    def cleanup_expired_sessions(self) -> _Steps[int]:
        """Removes every session whose expiry key is gone; returns how many."""
        return (yield from _cleanup_report()).removed

    # -- beyond the document

    @_operation
    def cleanup_expired_sessions_report(self) -> _Steps[CleanupReport]:
        """Like `cleanup_expired_sessions`, with what it skipped and why."""
        return (yield from _cleanup_report())

    @_operation
    def reindex_sessions(self) -> _Steps[int]:
        """Adds live sessions that another service wrote (in `active_sessions`
        but not in the list index); returns how many."""
        return int((yield _call("reindex")))

    @_operation
    def stats(self, progress: Callable[[SessionStats], None] | None = None) -> _Steps[SessionStats]:
        """Counts sessions (by status, activity, remaining TTL) and
        inconsistencies over the whole keyspace, in bounded SCAN steps of
        `batch_size`; `progress` sees the totals after each step."""
        cursor, so_far = "", ""
        while True:
            page = json.loads((yield _call("stats", cursor, so_far)))
            cursor, so_far = page["cursor"], json.dumps(page["stats"])
            if progress is not None:
                progress(SessionStats.from_dict(page["stats"]))
            if page["done"]:
                return SessionStats.from_dict(page["stats"])

    # -- conversation items, ownership and state

    @_operation
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
    ) -> _Steps[ItemsReceipt]:
        """Appends `items` (1 to 1000 JSON values) to the session's
        conversation in one atomic step, with `state_delta` applied in the
        same step; refreshes its TTLs and bumps its version. Only while the
        session is alive (SessionNotFoundError), with `owner` if given, at
        `expected_version` if given (ConflictError). `keep_last` keeps only
        the newest N items; without it a session holds at most 10,000.
        `create_if_missing` (a session-create document) creates the session
        first if there is none: concurrent first uses make one session."""
        request = _append_request(items, expected_version, keep_last, owner, state_delta, create_if_missing)
        return ItemsReceipt.from_dict(json.loads((yield _call("append-items", _session_id(session_id), request))))

    @_operation
    def get_items(
        self,
        session_id: str,
        *,
        last: int | None = None,
        start: int | None = None,
        stop: int | None = None,
        owner: OwnerLike | None = None,
        whole: bool = False,
    ) -> _Steps[ItemsPage]:
        """One read of items, oldest first: the newest `last` (default all),
        or positions `start`..`stop` (0 is the oldest). One read returns at
        most 1000 items and 4 MiB; `left_out` says how many older ones of
        the range it left out (`get_all_items` reads them too). With
        `whole=True` the component reads them all, at one version of the
        session (`left_out` 0; more than 16 MiB of items: InvalidInputError)."""
        query = _items_query(last, start, stop, owner, whole=whole)
        return ItemsPage.from_dict((yield from _read_items(session_id, query)))

    @_operation
    def get_all_items(
        self, session_id: str, *, last: int | None = None, owner: OwnerLike | None = None
    ) -> _Steps[list[Any]]:
        """The newest `last` items (default all), oldest first, in as many
        reads as they need, consistent: a session written between the reads
        is read again. Past 16 MiB of items: InvalidInputError (read those
        with `get_items` by range)."""
        page = yield from _read_items(session_id, _items_query(last, None, None, owner, whole=True))
        items: list[Any] = page["items"]
        return items

    @_operation
    def count_items(self, session_id: str, *, owner: OwnerLike | None = None) -> _Steps[int]:
        """How many items the session holds."""
        page = yield from _read_items(session_id, _items_query(0, None, None, owner))
        total: int = page["total"]
        return total

    @_operation
    def pop_item(
        self, session_id: str, *, expected_version: int | None = None, owner: OwnerLike | None = None
    ) -> _Steps[PoppedItem]:
        """Removes and returns the newest item (None, writing nothing, when
        there is none)."""
        options = _item_options(expected_version, owner)
        return PoppedItem.from_dict(json.loads((yield _call("pop-item", _session_id(session_id), options))))

    @_operation
    def clear_items(
        self, session_id: str, *, expected_version: int | None = None, owner: OwnerLike | None = None
    ) -> _Steps[ItemsReceipt]:
        """Removes every item; the session, its configuration and state stay."""
        options = _item_options(expected_version, owner)
        return ItemsReceipt.from_dict(json.loads((yield _call("clear-items", _session_id(session_id), options))))

    @_operation
    def get_conversation(
        self, session_id: str, *, last: int | None = None, owner: OwnerLike | None = None
    ) -> _Steps[Conversation]:
        """The session, its state (with its app's and user's under `app:` and
        `user:`) and its newest `last` items (default all), read at one
        version (past 16 MiB of items: InvalidInputError)."""
        query = _items_query(last, None, None, owner, include_session=True, whole=True)
        return Conversation.from_dict((yield from _read_items(session_id, query)))

    @_operation
    def list_sessions_by_owner(
        self, app_name: str, user_id: str | None = None, *, limit: int = 100, page_token: str | None = None
    ) -> _Steps[OwnerPage]:
        """Sessions of `user_id` of `app_name` (every user of the app when
        None), newest-updated first, `limit` (1 to 1000) per page, from the
        owner index: O(log N + page)."""
        limit, _, token = _list_arguments(limit, 0, page_token)
        text = yield _call("list-by-owner", app_name, user_id or "", limit, token)
        return OwnerPage.from_dict(json.loads(text))

    @_operation
    def call(self, export: str, *args: Value) -> _Steps[Value]:
        """Calls the component's export `export` (its WIT name, such as
        `"get-items"`) with `args` (str, bool or int, one per WIT parameter)
        and returns its reply as it comes: the JSON text of a document, a
        bool or an int. For exports this class has no method for; a wrong
        name or argument raises InvalidInputError."""
        reply: Value = yield export, args
        return reply


# Steps more than one operation takes.


def _get_session(session_id: str) -> _Steps[SessionDetail]:
    return SessionDetail.from_dict(json.loads((yield _call("get", _session_id(session_id)))))


def _cleanup_report() -> _Steps[CleanupReport]:
    return CleanupReport.from_dict(json.loads((yield _call("cleanup-expired"))))


def _read_items(session_id: str, query: str) -> _Steps[dict[str, Any]]:
    page: dict[str, Any] = json.loads((yield _call("get-items", _session_id(session_id), query)))
    return page


class SessionRepository(_Repository):
    """The session repository of the design document, backed by Redis.

    Thread-safe: calls from several threads run in parallel, each on its own
    sandboxed component instance; the GIL is released while a call runs.

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
    - `backend`: `"native"`, the only one (the Rust host built in); the
      wasmtime-py backend was removed. `redis_client` and `max_concurrency`
      were that backend's: a client is refused, a concurrency ignored.
    - `cluster`: treat the server as a Redis Cluster without asking it; by
      default the first seed that answers says (`cluster_enabled:1` in
      `INFO cluster`). The repository follows a cluster through redirects
      and failovers, retrying (for up to 10 s) only what failed before the
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

    _awaits = False

    def ping(self) -> float:
        """Seconds one Redis PING takes; raises BackendError when Redis is down."""
        return self._store.ping()

    def close(self) -> None:
        """Closes the Redis connections; later calls raise."""
        self._store.close()

    def __enter__(self) -> SessionRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncSessionRepository(_Repository):
    """`SessionRepository` for asyncio: the same methods as coroutines, the
    same arguments.

    Each call is an awaitable driven by the Rust host's tokio runtime: no
    thread per call, the event loop never blocks. Cancelling a call drops
    it; a write reaches Redis as one atomic script call or not at all, so
    nothing is left half-written.
    """

    _awaits = True

    async def ping(self) -> float:
        """Seconds one Redis PING takes; raises BackendError when Redis is down."""
        return await self._store.ping_async()

    def close_nowait(self) -> None:
        """`close` without awaiting: closes the Redis connections now."""
        self._store.close()

    async def close(self) -> None:
        """Closes the Redis connections; calls in flight finish, later calls raise."""
        await asyncio.to_thread(self._store.close)

    async def __aenter__(self) -> AsyncSessionRepository:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
