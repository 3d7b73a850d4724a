"""Loading the component with wasmtime-py and calling its `repository` export.

One engine per process (epoch interruption, ticked by a daemon thread),
each component file compiled once per process, and per repository a pool
of idle instances: a call takes one, runs with a memory limit and a time
limit, and gives it back. An instance that trapped or ran out of its limits
is dropped, so the next call gets a fresh one.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime import Config, Engine, Store, WasiConfig
from wasmtime.component import Component, Linker, Record

from . import _assets, _wasmtime_speedups
from ._wasmtime_kv import StorageFailure
from .errors import ComponentError

_wasmtime_speedups.install()

PACKAGE = "agent:sessions"
VERSION = "0.5.0"
REPOSITORY = f"{PACKAGE}/repository@{VERSION}"
EXPORTS = (
    "create",
    "get",
    "update",
    "delete",
    "list",
    "extend-ttl",
    "cleanup-expired",
    "reindex",
    "stats",
    "check-layout",
    "append-items",
    "get-items",
    "pop-item",
    "clear-items",
    "list-by-owner",
    "delete-with",
)
# Exports the Python host does not call (yet): acquire-cleanup-lease,
# release-cleanup-lease (for a scheduled-cleanup service), export-sessions,
# import-sessions and migrate (the Rust CLI's `sessions export/import/migrate`).

#: How often the engine's epoch advances; the time limit is counted in these.
EPOCH_TICK_SECONDS = 0.01
#: Calls an instance serves before it is replaced, which bounds how far a
#: long-lived instance's memory can drift.
CALLS_PER_INSTANCE = 10_000


class _Shared:
    """The process-wide engine and compiled components."""

    _lock = threading.Lock()
    _engine: Engine | None = None
    _components: dict[Path | None, Component] = {}

    @classmethod
    def engine(cls) -> Engine:
        with cls._lock:
            if cls._engine is None:
                config = Config()
                config.epoch_interruption = True
                engine = Engine(config)
                ticker = threading.Thread(target=cls._tick, args=(engine,), name="agent-sessions-epoch", daemon=True)
                ticker.start()
                cls._engine = engine
            return cls._engine

    @staticmethod
    def _tick(engine: Engine) -> None:
        while True:
            time.sleep(EPOCH_TICK_SECONDS)
            engine.increment_epoch()

    @classmethod
    def component(cls, path: Path | None) -> Component:
        """The component at `path`, or the package's own when None."""
        engine = cls.engine()
        with cls._lock:
            component = cls._components.get(path)
            if component is None:
                component = Component(engine, _assets.component_bytes(path))
                cls._components[path] = component
            return component


class _Instance:
    def __init__(
        self, linker: Linker, component: Component, engine: Engine, memory_limit: int, deadline_ticks: int
    ) -> None:
        self.store = Store(engine)
        self.store.set_wasi(WasiConfig())  # no files, no environment, no arguments
        self.store.set_limits(memory_size=memory_limit)
        # Instantiation runs the component's start code under the time limit too.
        self.store.set_epoch_deadline(deadline_ticks)
        instance = linker.instantiate(self.store, component)
        interface = instance.get_export_index(self.store, REPOSITORY)
        if interface is None:
            raise ComponentError(f"the component does not export {REPOSITORY}")
        self.funcs: dict[str, Any] = {}
        for name in EXPORTS:
            index = instance.get_export_index(self.store, name, interface)
            func = instance.get_func(self.store, index) if index is not None else None
            if func is None:
                raise ComponentError(f"the component's {REPOSITORY} lacks `{name}`")
            self.funcs[name] = func
        self.calls = 0


class ComponentRuntime:
    """Calls into one component, with `kv` and `config` bound to Python callables."""

    def __init__(
        self,
        component_path: Path | None,
        kv_execute: Callable[[str, str], str],
        settings: tuple[int, int, int, int],
        *,
        memory_limit: int,
        time_limit: float,
        max_idle: int = 16,
    ) -> None:
        self.engine = _Shared.engine()
        try:
            self.component = _Shared.component(component_path)
        except wasmtime.WasmtimeError as error:
            where = f" {component_path}" if component_path is not None else ""
            raise ComponentError(f"cannot load the component{where}: {error}") from error
        self.linker = Linker(self.engine)
        self.linker.add_wasip2()
        ttl, grace, batch_size, shards = settings
        self._settings = wit_settings = _record(
            **{"session-ttl-seconds": ttl, "grace-seconds": grace, "batch-size": batch_size, "shards": shards}
        )
        with _wasmtime_speedups.registering_host_functions(), self.linker.root() as root:
            with root.add_instance(f"{PACKAGE}/config@{VERSION}") as config:
                config.add_func("get-settings", _constant(wit_settings))
            with root.add_instance(f"{PACKAGE}/kv@{VERSION}") as kv:
                kv.add_func("execute", _kv_binding(kv_execute))
                kv.add_func("execute-each", _kv_binding(_each(kv_execute)))
        self.memory_limit = memory_limit
        self.time_limit = time_limit
        self._deadline_ticks = max(1, round(time_limit / EPOCH_TICK_SECONDS))
        self._max_idle = max_idle
        self._idle: list[_Instance] = []
        self._lock = threading.Lock()

    def set_shards(self, shards: int) -> None:
        """The shard count the component's settings give, for a layout
        settled after the runtime was made (a Redis Cluster is only known
        once it answered). Only before the first call: the speedups lower
        the settings once, at the first `get-settings`."""
        setattr(self._settings, "shards", shards)  # noqa: B010 (a WIT field name)

    def _acquire(self) -> _Instance:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        try:
            return _Instance(self.linker, self.component, self.engine, self.memory_limit, self._deadline_ticks)
        except wasmtime.WasmtimeError as error:
            raise ComponentError(f"cannot instantiate the component: {error}") from error

    def _release(self, instance: _Instance) -> None:
        if instance.calls >= CALLS_PER_INSTANCE:
            return
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append(instance)

    def call(self, name: str, *args: Any) -> Any:
        """Calls `repository.<name>`; returns what wasmtime-py lifts."""
        instance = self._acquire()
        instance.store.set_epoch_deadline(self._deadline_ticks)
        instance.calls += 1
        try:
            result = _wasmtime_speedups.call(instance.funcs[name], instance.store, *args)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as error:
            # Dropped, not returned to the pool: its state is undefined.
            raise ComponentError(_describe_failure(error, self.time_limit, self.memory_limit)) from None
        self._release(instance)
        return result


def _record(**fields: Any) -> Record:
    value = Record()
    for name, item in fields.items():
        setattr(value, name, item)
    return value


def _constant(value: Record) -> Callable[[Any], Record]:
    """A host function that always returns `value`; marked so that the
    speedups lower it once and copy it per call."""

    def constant(_store: Any) -> Record:
        return value

    constant.constant_record = value  # type: ignore[attr-defined]
    return constant


#: Joins the batches of `kv.execute-each`, their keys and their replies.
BATCH_SEPARATOR = "\x1e"


def _each(execute: Callable[[str, str], str]) -> Callable[[str, str], str]:
    """`kv.execute-each` over `execute`: the batches one after another (the
    Rust host sends them at once; this host's client is synchronous)."""

    def each(keys: str, batches: str) -> str:
        key_groups, texts = keys.split(BATCH_SEPARATOR), batches.split(BATCH_SEPARATOR)
        if len(key_groups) != len(texts):
            raise StorageFailure("other", f"keys for {len(key_groups)} batches and {len(texts)} batches")
        return BATCH_SEPARATOR.join(execute(k, b) for k, b in zip(key_groups, texts, strict=True))

    return each


def _kv_binding(execute: Callable[[str, str], str]) -> Callable[[Any, str, str], str | Record]:
    """`kv.execute` for wasmtime-py: the reply text, or a `storage-failure`
    record. Never raises: an exception inside an import would leave the
    instance unusable."""

    def bound(_store: Any, keys: str, batch: str) -> str | Record:
        try:
            return execute(keys, batch)
        except StorageFailure as failure:
            return _record(kind=failure.kind, message=failure.message)
        except Exception as error:  # a bug here must not poison the instance
            return _record(kind="other", message=f"the Python kv host failed: {type(error).__name__}: {error}")

    return bound


def _describe_failure(error: Exception, time_limit: float, memory_limit: int) -> str:
    """One line for a trap: what went wrong, not wasm's backtrace."""
    text = str(error)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    cause = re.sub(r"^\d+:\s*", "", lines[-1]) if lines else "trap"
    if "interrupt" in cause:
        return f"the session component ran longer than its time limit of {time_limit:g} s and was stopped"
    if "unreachable" in cause or "out of memory" in text or "memory allocation" in text:
        return (
            f"the session component failed ({cause}); it may have exceeded its memory limit of "
            f"{memory_limit // (1024 * 1024)} MiB"
        )
    return f"the session component failed: {cause}"
