"""backend="wasmtime-py": the component run by wasmtime-py in this process,
its `kv` import bound to Redis through redis-py (`_wasmtime_kv`).

It offers the native module's methods (`agent_sessions._native.NativeStore`):
JSON documents in and out, the package's exceptions, and `_async` twins,
which here run the blocking call on a private thread pool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from wasmtime.component import Variant

from ._wasmtime_kv import RedisKv, StorageFailure
from ._wasmtime_runtime import ComponentRuntime
from .errors import (
    BackendError,
    ConflictError,
    DataCorruptError,
    InvalidInputError,
    NotReplicatedError,
    SessionError,
    SessionNotFoundError,
)
from .models import Corruption

T = TypeVar("T")


#: The shard count of the sharded layout unless chosen (the guest's DEFAULT_SHARDS).
DEFAULT_SHARDS = 64


class WasmtimeBackend:
    def __init__(
        self,
        redis_url: str,
        *,
        prefix: str,
        ttl: int,
        grace: int,
        batch_size: int,
        memory_limit: int,
        time_limit: float,
        socket_timeout: float,
        connect_timeout: float,
        component: str | Path | None,
        redis_client: Any,
        max_concurrency: int,
        shards: int | None = None,
        cluster: bool = False,
        wait_replicas: int | None = None,
        wait_timeout: float = 0.25,
    ) -> None:
        self.kv = RedisKv(
            redis_url,
            prefix,
            socket_timeout=socket_timeout,
            connect_timeout=connect_timeout,
            client=redis_client,
            cluster=cluster,
            wait_replicas=wait_replicas,
            wait_timeout=wait_timeout,
        )
        #: As asked: None for the default (the document's layout on one
        #: server, DEFAULT_SHARDS on a cluster), settled at the first call.
        self._shards = shards
        self._runtime = ComponentRuntime(
            Path(component) if component is not None else None,
            self.kv.execute,
            (ttl, grace, batch_size, shards or 0),
            memory_limit=memory_limit,
            time_limit=time_limit,
        )
        self._max_concurrency = max_concurrency
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        # Before the first operation (as the Rust host does when it builds):
        # connect (a cluster or not: that settles the layout), then check the
        # key layout against the one recorded in Redis.
        self._ready = False
        self._setup_lock = threading.Lock()

    def _setup(self) -> None:
        with self._setup_lock:
            if self._ready:
                return
            try:
                cluster = self.kv.connect()
            except StorageFailure as failure:
                raise BackendError(failure.message, storage_kind=failure.kind.replace("-", "_")) from None
            shards = self._shards
            if cluster and shards == 0:
                raise InvalidInputError(
                    f"{self.kv.redacted_url} is a Redis Cluster, where only the sharded layout works (a batch's keys "
                    f"must share a slot); choose a shard count (default {DEFAULT_SHARDS})"
                )
            self._runtime.set_shards(shards if shards is not None else DEFAULT_SHARDS if cluster else 0)
            layout = self._call_component("check-layout")
            if type(layout) is Variant:
                raise _error(layout)
            self._ready = True

    def _call(self, name: str, *args: Any) -> Any:
        if not self._ready:
            self._setup()
        result = self._call_component(name, *args)
        # result<T, session-error> is lifted untagged: a Variant is the error.
        if type(result) is Variant:
            raise _error(result)
        return result

    def _call_component(self, name: str, *args: Any) -> Any:
        """The export's result; NotReplicatedError when a write of the call
        reached fewer replicas than `wait_replicas` (a kv failure inside the
        component would become its backend error, so the shortfall is kept
        on the side and raised once the call returned, as the Rust host does)."""
        self.kv.take_not_replicated()
        result = self._runtime.call(name, *args)
        shortfall = self.kv.take_not_replicated()
        if shortfall is not None:
            raise NotReplicatedError(shortfall, storage_kind="not_replicated")
        return result

    def create(self, input: str, /) -> str:
        return str(self._call("create", input))

    def get(self, id: str, /) -> str:
        return str(self._call("get", id))

    def update(self, id: str, changes: str, /) -> str:
        return str(self._call("update", id, changes))

    def delete(self, id: str, /) -> bool:
        return bool(self._call("delete", id))

    def list(self, limit: int, offset: int, page_token: str, /) -> str:
        return str(self._call("list", limit, offset, page_token))

    def extend_ttl(self, id: str, /) -> bool:
        return bool(self._call("extend-ttl", id))

    def cleanup_expired(self) -> str:
        return str(self._call("cleanup-expired"))

    def reindex(self) -> int:
        return int(self._call("reindex"))

    def stats(self, cursor: str, so_far: str, /) -> str:
        return str(self._call("stats", cursor, so_far))

    def append_items(self, id: str, request: str, /) -> str:
        return str(self._call("append-items", id, request))

    def get_items(self, id: str, query: str, /) -> str:
        return str(self._call("get-items", id, query))

    def pop_item(self, id: str, options: str, /) -> str:
        return str(self._call("pop-item", id, options))

    def clear_items(self, id: str, options: str, /) -> str:
        return str(self._call("clear-items", id, options))

    def delete_with(self, id: str, options: str, /) -> bool:
        return bool(self._call("delete-with", id, options))

    def list_by_owner(self, app_name: str, user_id: str, limit: int, page_token: str, /) -> str:
        return str(self._call("list-by-owner", app_name, user_id, limit, page_token))

    def ping(self) -> float:
        try:
            return self.kv.ping()
        except SessionError:
            raise
        except StorageFailure as failure:
            raise BackendError(failure.message, storage_kind=failure.kind) from None
        except Exception as error:
            raise BackendError(
                f"Redis is unavailable at {self.kv.redacted_url}: {error}", storage_kind="unavailable"
            ) from None

    # -- awaitables: the blocking call on a thread of a private pool

    def _submit(self, method: Callable[..., T], *args: Any) -> Awaitable[T]:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=self._max_concurrency, thread_name_prefix="agent-sessions"
            )
        return asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(method, *args))

    def create_async(self, input: str, /) -> Awaitable[str]:
        return self._submit(self.create, input)

    def get_async(self, id: str, /) -> Awaitable[str]:
        return self._submit(self.get, id)

    def update_async(self, id: str, changes: str, /) -> Awaitable[str]:
        return self._submit(self.update, id, changes)

    def delete_async(self, id: str, /) -> Awaitable[bool]:
        return self._submit(self.delete, id)

    def list_async(self, limit: int, offset: int, page_token: str, /) -> Awaitable[str]:
        return self._submit(self.list, limit, offset, page_token)

    def extend_ttl_async(self, id: str, /) -> Awaitable[bool]:
        return self._submit(self.extend_ttl, id)

    def cleanup_expired_async(self) -> Awaitable[str]:
        return self._submit(self.cleanup_expired)

    def reindex_async(self) -> Awaitable[int]:
        return self._submit(self.reindex)

    def stats_async(self, cursor: str, so_far: str, /) -> Awaitable[str]:
        return self._submit(self.stats, cursor, so_far)

    def append_items_async(self, id: str, request: str, /) -> Awaitable[str]:
        return self._submit(self.append_items, id, request)

    def get_items_async(self, id: str, query: str, /) -> Awaitable[str]:
        return self._submit(self.get_items, id, query)

    def pop_item_async(self, id: str, options: str, /) -> Awaitable[str]:
        return self._submit(self.pop_item, id, options)

    def clear_items_async(self, id: str, options: str, /) -> Awaitable[str]:
        return self._submit(self.clear_items, id, options)

    def delete_with_async(self, id: str, options: str, /) -> Awaitable[bool]:
        return self._submit(self.delete_with, id, options)

    def list_by_owner_async(self, app_name: str, user_id: str, limit: int, page_token: str, /) -> Awaitable[str]:
        return self._submit(self.list_by_owner, app_name, user_id, limit, page_token)

    def ping_async(self) -> Awaitable[float]:
        return self._submit(self.ping)

    @property
    def round_trips(self) -> int:
        return self.kv.round_trips

    @property
    def storage(self) -> str:
        return self.kv.redacted_url

    def close(self) -> None:
        """Waits for running calls, then closes the Redis connections."""
        if self._executor is not None:
            self._executor.shutdown()
        self.kv.close()


def _error(error: Variant) -> SessionError:
    """The exception for a WIT `session-error`, worded as the native module words it."""
    tag, payload = error.tag, error.payload
    if tag == "invalid-input":
        return InvalidInputError(str(payload))
    if tag == "not-found":
        return SessionNotFoundError(f"session {payload} not found")
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
