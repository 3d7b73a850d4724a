"""The Python package, the Rust host and plain redis-py, side by side.

Starts its own redis-server (free port, no persistence) and measures, in one
run against that one server, five implementations of the design document's
`SessionRepository`:

- `native-sync`: `SessionRepository(backend="native")`, the Rust host as the
  package's extension module (blocking calls, the GIL released);
- `native-async`: `AsyncSessionRepository(backend="native")`, its awaitables
  driven by the module's tokio runtime;
- `plain-sync`: `PlainSyncRepository` below, the design document written
  directly on the synchronous redis-py client (`redis.Redis`), as a service
  team would without the component;
- `plain-async`: `PlainRepository` below, the same commands on redis.asyncio
  (both share the code that builds the hashes, queues the commands and reads
  the sessions back: only the I/O differs);
- `rust`: the Rust host (`SessionStore`) through the bench crate's
  `host-latency` binary, which runs the same round with the same inputs.

1. Latency at concurrency 1: create, get, update, extend (extend_ttl), delete
   and list (a page of 10 over 100 sessions), one call at a time (the async
   implementations awaited one at a time on one asyncio event loop), timed
   with `time.perf_counter_ns`; p50, p99, mean and ops/s per operation. A
   `ping` row is the floor under every operation: one PING through each
   implementation's own client (`repo.ping()` for the package: its redis-rs
   connection; `redis.Redis.ping` for plain-sync; redis.asyncio's for
   plain-async; the host's redis-rs connection for rust).
2. Ratios of p50 per operation, each marked met or missed: native-sync /
   plain-sync and native-async / plain-async (target: at most 0.5),
   native-sync / rust and native-async / rust (target: at most 1.3).
3. Throughput at concurrency 32 of the async implementations: one event
   loop, 32 tasks (asyncio.gather), each creating `--concurrent-calls`
   sessions one after the other, then getting them; ops/s (all calls over
   the wall time) of create and get, and the ratio native-async /
   plain-async (target: at least 3).

The implementations take turns in rounds, in the order above, then reversed,
and so on (as `make bench` alternates its paths), so that the noise of a
shared machine falls on all of them; every turn starts on an empty database
and warms up first (a round of `--warmup` calls per operation, and a short
concurrent pass). Repositories and clients live for the whole run (the Rust
binary is a new process each turn and warms up itself); latencies of all
rounds are pooled per implementation and operation before the percentiles
are taken. `--pin` fixes where redis-server and the hosts run (default: the
scheduler decides, as in `make bench`).

Prints the tables and writes everything (per implementation and operation
p50/p99/mean/ops_per_s, the ratios with their targets, the concurrent
throughput, the machine, Redis and package versions, the time) as JSON to
target/bench/python.json. `--quick` takes about 40 s, the default about
2-3 minutes on two cores.

    make bench-python                  # or, from the repository root:
    cargo build --release -p agent-sessions-bench --bin host-latency
    .venv/bin/python python/bench/compare_hosts.py --rust-bin target/release/host-latency [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python"))

import redis  # noqa: E402
import redis.asyncio  # noqa: E402
import redis.utils  # noqa: E402

from agent_sessions import (  # noqa: E402
    AsyncSessionRepository,
    SessionCreate,
    SessionDetail,
    SessionListResponse,
    SessionRepository,
    SessionUpdate,
)

#: Operations in the order a round runs them (the Rust binary's order too).
OPS = ["create", "get", "update", "extend", "delete", "list"]
#: The floor: one PING on each implementation's own client.
PING = "ping"
#: Who is measured, in the order of the first round.
IMPLS = ["native-sync", "native-async", "plain-sync", "plain-async", "rust"]
#: Who is also measured at concurrency 32 (one event loop), and on what.
ASYNC_IMPLS = ["native-async", "plain-async"]
CONCURRENT_OPS = ["create", "get"]
#: Sessions the list operation pages through, 10 at a time.
LIST_SESSIONS = 100
PAGE = 10

DESCRIPTIONS = {
    "native-sync": 'SessionRepository(backend="native"): the Rust host as an extension module',
    "native-async": 'AsyncSessionRepository(backend="native"): awaitables driven by its tokio runtime',
    "plain-sync": "PlainSyncRepository: the design document on redis.Redis, no component",
    "plain-async": "PlainRepository: the design document on redis.asyncio, no component",
    "rust": "the Rust host (SessionStore) through the host-latency binary",
}
PING_CLIENTS = {
    "native-sync": "repo.ping(): the native module's redis-rs connection",
    "native-async": "await repo.ping(): the native module's redis-rs connection",
    "plain-sync": "redis.Redis.ping()",
    "plain-async": "await redis.asyncio.Redis.ping()",
    "rust": "the Rust host's redis-rs connection",
}

#: One measured loop: latencies in ns, seconds of the whole loop, round trips.
Measured = tuple[list[int], float, int]
#: One round of one implementation: op -> its measured loop.
RoundResult = dict[str, Measured]

COMPONENT_BUILD = REPO / "target/component/wasm32-wasip2/release/agent_sessions_guest.wasm"


def example() -> SessionCreate:
    """`agent_sessions_bench::paths::example()`, field for field."""
    return SessionCreate(
        model_id="gpt-4",
        persona_id="programmer",
        name="Code Review Session",
        temperature=0.7,
        reasoning_effort=5,
        max_tokens=2000,
        tools=["search", "code_analysis"],
        custom_prompt="Review the diff for bugs.",
        agent_internal_id="agent-54321",
    )


@dataclass(frozen=True)
class Target:
    """A ratio of two implementations' figures and the bound it should meet."""

    numerator: str
    denominator: str
    bound: float
    #: True: met when the ratio is at least `bound`; False: at most.
    at_least: bool

    @property
    def name(self) -> str:
        return f"{self.numerator}/{self.denominator}"

    @property
    def condition(self) -> str:
        return f"{'>=' if self.at_least else '<='} {self.bound:g}"

    def met(self, value: float | None) -> bool:
        if value is None:
            return False
        return value >= self.bound if self.at_least else value <= self.bound


#: p50 at concurrency 1: the native backend against plain redis-py and the Rust host.
LATENCY_TARGETS = [
    Target("native-sync", "plain-sync", 0.5, at_least=False),
    Target("native-async", "plain-async", 0.5, at_least=False),
    Target("native-sync", "rust", 1.3, at_least=False),
    Target("native-async", "rust", 1.3, at_least=False),
]
#: ops/s at concurrency 32 on one event loop.
THROUGHPUT_TARGETS = [Target("native-async", "plain-async", 3.0, at_least=True)]


# ----------------------------------------------------------------- samples


@dataclass
class Samples:
    """Latencies of one operation of one implementation, pooled over rounds."""

    latencies_ns: list[int] = field(default_factory=list)
    elapsed_s: float = 0.0
    round_trips: int = 0

    def add(self, latencies_ns: list[int], elapsed_s: float, round_trips: int) -> None:
        self.latencies_ns.extend(latencies_ns)
        self.elapsed_s += elapsed_s
        self.round_trips += round_trips

    def summary(self) -> dict[str, float]:
        """ops, p50_us, p99_us, mean_us, ops_per_s, round_trips (per call)."""
        ops = len(self.latencies_ns)
        ordered = sorted(self.latencies_ns)
        return {
            "ops": ops,
            "p50_us": percentile_us(ordered, 0.50),
            "p99_us": percentile_us(ordered, 0.99),
            "mean_us": sum(ordered) / max(ops, 1) / 1e3,
            "ops_per_s": ops / self.elapsed_s if self.elapsed_s > 0 else 0.0,
            "round_trips": self.round_trips / max(ops, 1),
        }


def percentile_us(ordered_ns: list[int], fraction: float) -> float:
    """As `agent_sessions_bench::percentile_us`: the sample at
    round((n - 1) * fraction), rounding halves up."""
    if not ordered_ns:
        return 0.0
    return ordered_ns[int(math.floor((len(ordered_ns) - 1) * fraction + 0.5))] / 1e3


def summarize(result: RoundResult) -> dict[str, dict[str, float]]:
    """Per operation summaries of one round (without round trips)."""
    out: dict[str, dict[str, float]] = {}
    for op, (latencies, elapsed, round_trips) in result.items():
        one = Samples()
        one.add(latencies, elapsed, round_trips)
        out[op] = {k: v for k, v in one.summary().items() if k != "round_trips"}
    return out


# --------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server on a free port, without persistence."""

    def __init__(self, binary: str, cpus: set[int] | None = None) -> None:
        path = shutil.which(binary)
        if path is None:
            sys.exit(f"{binary} not found: install redis-server (`make setup` or `apt-get install redis-server`)")
        self.dir = tempfile.mkdtemp(prefix="compare-hosts-")
        last_error = ""
        for _ in range(5):
            self.port = free_port()
            self.process = subprocess.Popen(
                [
                    path,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--loglevel",
                    "warning",
                    "--dir",
                    self.dir,
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
            )
            client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
            deadline = time.monotonic() + 10
            while self.process.poll() is None and time.monotonic() < deadline:
                try:
                    client.ping()
                    client.close()
                    return
                except redis.exceptions.ConnectionError:
                    time.sleep(0.02)
            client.close()
            last_error = f"exit status {self.process.poll()}" if self.process.poll() is not None else "no PING reply"
            self.stop()
        sys.exit(f"redis-server did not start: {last_error}")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------- what the rounds drive


class SyncRepo(Protocol):
    """What a round needs of a blocking repository."""

    @property
    def round_trips(self) -> int: ...
    def create_session(self, session_data: SessionCreate) -> SessionDetail: ...
    def get_session(self, session_id: str) -> SessionDetail | None: ...
    def update_session(self, session_id: str, update_data: SessionUpdate) -> SessionDetail: ...
    def delete_session(self, session_id: str) -> bool: ...
    def list_sessions(self, limit: int, offset: int) -> SessionListResponse: ...
    def extend_session_ttl(self, session_id: str) -> bool: ...


class AsyncRepo(Protocol):
    """What a round needs of an asyncio repository."""

    @property
    def round_trips(self) -> int: ...
    async def create_session(self, session_data: SessionCreate) -> SessionDetail: ...
    async def get_session(self, session_id: str) -> SessionDetail | None: ...
    async def update_session(self, session_id: str, update_data: SessionUpdate) -> SessionDetail: ...
    async def delete_session(self, session_id: str) -> bool: ...
    async def list_sessions(self, limit: int, offset: int) -> SessionListResponse: ...
    async def extend_session_ttl(self, session_id: str) -> bool: ...


def _check_get(session_id: str, session: SessionDetail | None) -> None:
    if session is None or session.id != session_id:
        raise RuntimeError(f"get {session_id}: no such session")


def _check_page(page: SessionListResponse, offset: int) -> None:
    if len(page.sessions) != PAGE:
        raise RuntimeError(f"a page of {len(page.sessions)} at offset {offset}")


def _page_offset(n: int) -> int:
    return (n % (LIST_SESSIONS // PAGE)) * PAGE


# ------------------------------------------------------- concurrency 1


def sync_round(repo: SyncRepo, ping: Callable[[], object], iterations: int) -> RoundResult:
    """One round of a blocking repository, as `host-latency` runs it."""
    out: RoundResult = {}
    clock = time.perf_counter_ns

    def timed(op: str, call: Callable[[int], None]) -> None:
        latencies = [0] * iterations
        round_trips = repo.round_trips
        loop_started = clock()
        for n in range(iterations):
            started = clock()
            call(n)
            latencies[n] = clock() - started
        elapsed = (clock() - loop_started) / 1e9
        out[op] = (latencies, elapsed, repo.round_trips - round_trips)

    ids: list[str] = []

    def create(_n: int) -> None:
        ids.append(repo.create_session(example()).id)

    def get(n: int) -> None:
        session_id = ids[n % len(ids)]
        _check_get(session_id, repo.get_session(session_id))

    def update(n: int) -> None:
        repo.update_session(ids[n % len(ids)], SessionUpdate(name=f"renamed {n}"))

    def extend(n: int) -> None:
        if not repo.extend_session_ttl(ids[n % len(ids)]):
            raise RuntimeError("extend_session_ttl found no session")

    def delete(n: int) -> None:
        if not repo.delete_session(ids[n % len(ids)]):
            raise RuntimeError("delete_session found no session")

    def list_page(n: int) -> None:
        offset = _page_offset(n)
        _check_page(repo.list_sessions(PAGE, offset), offset)

    def ping_once(_n: int) -> None:
        ping()

    timed("create", create)
    timed("get", get)
    timed("update", update)
    timed("extend", extend)
    timed("delete", delete)
    fixture = [repo.create_session(example()).id for _ in range(LIST_SESSIONS)]
    timed("list", list_page)
    for session_id in fixture:
        repo.delete_session(session_id)
    timed(PING, ping_once)
    # A PING is one round trip, though not a kv batch.
    latencies, elapsed, _ = out[PING]
    out[PING] = (latencies, elapsed, iterations)
    return out


async def async_round(repo: AsyncRepo, ping: Callable[[], Awaitable[object]], iterations: int) -> RoundResult:
    """One round of an asyncio repository, awaited one call at a time."""
    out: RoundResult = {}
    clock = time.perf_counter_ns

    async def timed(op: str, call: Callable[[int], Awaitable[None]]) -> None:
        latencies = [0] * iterations
        round_trips = repo.round_trips
        loop_started = clock()
        for n in range(iterations):
            started = clock()
            await call(n)
            latencies[n] = clock() - started
        elapsed = (clock() - loop_started) / 1e9
        out[op] = (latencies, elapsed, repo.round_trips - round_trips)

    ids: list[str] = []

    async def create(_n: int) -> None:
        ids.append((await repo.create_session(example())).id)

    async def get(n: int) -> None:
        session_id = ids[n % len(ids)]
        _check_get(session_id, await repo.get_session(session_id))

    async def update(n: int) -> None:
        await repo.update_session(ids[n % len(ids)], SessionUpdate(name=f"renamed {n}"))

    async def extend(n: int) -> None:
        if not await repo.extend_session_ttl(ids[n % len(ids)]):
            raise RuntimeError("extend_session_ttl found no session")

    async def delete(n: int) -> None:
        if not await repo.delete_session(ids[n % len(ids)]):
            raise RuntimeError("delete_session found no session")

    async def list_page(n: int) -> None:
        offset = _page_offset(n)
        _check_page(await repo.list_sessions(PAGE, offset), offset)

    async def ping_once(_n: int) -> None:
        await ping()

    await timed("create", create)
    await timed("get", get)
    await timed("update", update)
    await timed("extend", extend)
    await timed("delete", delete)
    fixture = [(await repo.create_session(example())).id for _ in range(LIST_SESSIONS)]
    await timed("list", list_page)
    for session_id in fixture:
        await repo.delete_session(session_id)
    await timed(PING, ping_once)
    latencies, elapsed, _ = out[PING]
    out[PING] = (latencies, elapsed, iterations)
    return out


# ------------------------------------------------------ concurrency 32


async def concurrent_round(repo: AsyncRepo, tasks: int, calls: int) -> RoundResult:
    """`tasks` tasks on this event loop, each creating `calls` sessions one
    after the other, then (once all are done) getting them, then deleting
    them (not measured). Elapsed is the wall time of all tasks, so
    ops / elapsed is the throughput."""
    out: RoundResult = {}
    clock = time.perf_counter_ns
    owned: list[list[str]] = [[] for _ in range(tasks)]

    async def creator(task: int) -> list[int]:
        latencies = [0] * calls
        for n in range(calls):
            started = clock()
            owned[task].append((await repo.create_session(example())).id)
            latencies[n] = clock() - started
        return latencies

    async def getter(task: int) -> list[int]:
        latencies = [0] * calls
        for n, session_id in enumerate(owned[task]):
            started = clock()
            session = await repo.get_session(session_id)
            latencies[n] = clock() - started
            _check_get(session_id, session)
        return latencies

    async def deleter(task: int) -> None:
        for session_id in owned[task]:
            await repo.delete_session(session_id)

    for op, worker in (("create", creator), ("get", getter)):
        round_trips = repo.round_trips
        started = clock()
        per_task = await asyncio.gather(*(worker(task) for task in range(tasks)))
        elapsed = (clock() - started) / 1e9
        out[op] = ([ns for latencies in per_task for ns in latencies], elapsed, repo.round_trips - round_trips)
    await asyncio.gather(*(deleter(task) for task in range(tasks)))
    return out


# ------------------------------------------------------- plain redis-py


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _optional(value: str | None, convert: Callable[[str], Any]) -> Any:
    return convert(value) if value else None


def _data_key(session_id: str) -> str:
    return f"session:{session_id}:data"


def _meta_key(session_id: str) -> str:
    return f"session:{session_id}:meta"


def _expiry_key(session_id: str) -> str:
    return f"session_expiry:{session_id}"


#: A redis-py pipeline, blocking or asyncio: both queue commands the same way.
Pipeline = redis.client.Pipeline | redis.asyncio.client.Pipeline


class _PlainCommands:
    """The design document's session store written directly on redis-py, the
    way a service team would from the document alone: the two hashes,
    `active_sessions` and the expiry key; a MULTI pipeline for create,
    update and delete; EXISTS, then HGETALL of both hashes for get; EXPIRE
    for extend; SMEMBERS, then the hashes of a page, for list. No versions,
    no list index, no validation beyond types: a baseline for the cost of
    the component, not a rival.

    The one source of the commands and of the field encoding for
    `PlainSyncRepository` (redis.Redis) and `PlainRepository`
    (redis.asyncio): they only send what is queued here and read it back
    with `_detail`. `round_trips` counts what they send."""

    def __init__(self, ttl: int) -> None:
        self.ttl = ttl
        self.round_trips = 0

    def _queue_create(self, pipe: Pipeline, session_data: SessionCreate) -> SessionDetail:
        """Queues a new session's writes (in a MULTI pipeline); what create returns."""
        session_id = str(uuid.uuid4())
        now = _utc_now()
        data: dict[Any, str] = {
            "model_id": session_data.model_id,
            "persona_id": session_data.persona_id or "",
            "name": session_data.name or "",
            "temperature": "" if session_data.temperature is None else str(session_data.temperature),
            "reasoning_effort": "" if session_data.reasoning_effort is None else str(session_data.reasoning_effort),
            "max_tokens": "" if session_data.max_tokens is None else str(session_data.max_tokens),
            "tools": json.dumps(session_data.tools),
            "custom_prompt": session_data.custom_prompt or "",
            "agent_internal_id": session_data.agent_internal_id or "",
        }
        meta: dict[Any, str] = {
            "created_at": now,
            "updated_at": now,
            "last_activity": now,
            "is_active": "true",
            "status": session_data.status or "running",
        }
        pipe.hset(_data_key(session_id), mapping=data)
        pipe.hset(_meta_key(session_id), mapping=meta)
        pipe.sadd("active_sessions", session_id)
        pipe.set(_expiry_key(session_id), "", ex=self.ttl)
        return self._detail(session_id, data, meta)

    def _queue_update(self, pipe: Pipeline, session_id: str, update_data: SessionUpdate) -> None:
        """Queues an update's writes (in a MULTI pipeline)."""
        changes: dict[Any, str] = {
            name: json.dumps(value) if name == "tools" else str(value)
            for name, value in dataclasses.asdict(update_data).items()
            if value is not None and name not in ("status", "clear", "expected_version")
        }
        now = _utc_now()
        meta: dict[Any, str] = {"updated_at": now, "last_activity": now}
        if update_data.status is not None:
            meta["status"] = update_data.status
        if changes:
            pipe.hset(_data_key(session_id), mapping=changes)
        pipe.hset(_meta_key(session_id), mapping=meta)
        pipe.expire(_expiry_key(session_id), self.ttl)

    @staticmethod
    def _queue_delete(pipe: Pipeline, session_id: str) -> None:
        """Queues a delete (in a MULTI pipeline); the second reply says whether it deleted."""
        pipe.srem("active_sessions", session_id)
        pipe.delete(_data_key(session_id), _meta_key(session_id), _expiry_key(session_id))

    @staticmethod
    def _queue_hashes(pipe: Pipeline, session_ids: list[str]) -> None:
        """Queues HGETALL of both hashes of each session."""
        for session_id in session_ids:
            pipe.hgetall(_data_key(session_id))
            pipe.hgetall(_meta_key(session_id))

    @staticmethod
    def _page_ids(members: set[Any], limit: int, offset: int) -> tuple[list[str], list[str]]:
        """All ids (sorted) and those of the page."""
        ids = sorted(m.decode() if isinstance(m, bytes) else m for m in members)
        return ids, ids[offset : offset + limit]

    def _page(self, ids: list[str], page: list[str], hashes: list[Any], limit: int, offset: int) -> SessionListResponse:
        sessions = [
            self._detail(session_id, hashes[2 * i], hashes[2 * i + 1])
            for i, session_id in enumerate(page)
            if hashes[2 * i] and hashes[2 * i + 1]
        ]
        return SessionListResponse(sessions=sessions, total=len(ids), limit=limit, offset=offset, corrupt=[])

    def _detail(self, session_id: str, data: dict[Any, Any], meta: dict[Any, Any]) -> SessionDetail:
        def text(values: dict[Any, Any], name: str) -> str | None:
            value = values.get(name, values.get(name.encode()))
            if isinstance(value, bytes):
                value = value.decode()
            return value or None

        return SessionDetail(
            id=session_id,
            model_id=text(data, "model_id") or "",
            persona_id=text(data, "persona_id"),
            name=text(data, "name"),
            temperature=_optional(text(data, "temperature"), float),
            reasoning_effort=_optional(text(data, "reasoning_effort"), int),
            max_tokens=_optional(text(data, "max_tokens"), int),
            tools=json.loads(text(data, "tools") or "[]"),
            custom_prompt=text(data, "custom_prompt"),
            agent_internal_id=text(data, "agent_internal_id"),
            created_at=text(meta, "created_at") or "",
            updated_at=text(meta, "updated_at") or "",
            last_activity=text(meta, "last_activity") or "",
            is_active=text(meta, "is_active") == "true",
            status=text(meta, "status") or "",
            version=0,
            expires_in_seconds=self.ttl,
        )


class PlainSyncRepository(_PlainCommands):
    """`_PlainCommands` on the blocking redis-py client (`redis.Redis`)."""

    def __init__(self, client: redis.Redis, ttl: int = 3600) -> None:
        super().__init__(ttl)
        self.redis = client

    def _exists(self, session_id: str) -> bool:
        self.round_trips += 1
        return bool(self.redis.exists(_expiry_key(session_id)))

    def _execute(self, pipe: redis.client.Pipeline) -> list[Any]:
        self.round_trips += 1
        return pipe.execute()

    def create_session(self, session_data: SessionCreate) -> SessionDetail:
        with self.redis.pipeline(transaction=True) as pipe:
            session = self._queue_create(pipe, session_data)
            self._execute(pipe)
        return session

    def get_session(self, session_id: str) -> SessionDetail | None:
        if not self._exists(session_id):
            return None
        with self.redis.pipeline(transaction=False) as pipe:
            self._queue_hashes(pipe, [session_id])
            data, meta = self._execute(pipe)
        if not data or not meta:
            return None
        return self._detail(session_id, data, meta)

    def update_session(self, session_id: str, update_data: SessionUpdate) -> SessionDetail:
        if not self._exists(session_id):
            raise LookupError(session_id)
        with self.redis.pipeline(transaction=True) as pipe:
            self._queue_update(pipe, session_id, update_data)
            self._execute(pipe)
        session = self.get_session(session_id)
        if session is None:
            raise LookupError(session_id)
        return session

    def delete_session(self, session_id: str) -> bool:
        with self.redis.pipeline(transaction=True) as pipe:
            self._queue_delete(pipe, session_id)
            _, deleted = self._execute(pipe)
        return bool(deleted)

    def list_sessions(self, limit: int = 10, offset: int = 0) -> SessionListResponse:
        self.round_trips += 1
        ids, page = self._page_ids(self.redis.smembers("active_sessions"), limit, offset)
        with self.redis.pipeline(transaction=False) as pipe:
            self._queue_hashes(pipe, page)
            hashes = self._execute(pipe)
        return self._page(ids, page, hashes, limit, offset)

    def extend_session_ttl(self, session_id: str) -> bool:
        self.round_trips += 1
        return bool(self.redis.expire(_expiry_key(session_id), self.ttl))


class PlainRepository(_PlainCommands):
    """`_PlainCommands` on redis.asyncio: the same commands, awaited."""

    def __init__(self, client: redis.asyncio.Redis, ttl: int = 3600) -> None:
        super().__init__(ttl)
        self.redis = client

    async def _exists(self, session_id: str) -> bool:
        self.round_trips += 1
        return bool(await self.redis.exists(_expiry_key(session_id)))

    async def _execute(self, pipe: redis.asyncio.client.Pipeline) -> list[Any]:
        self.round_trips += 1
        return await pipe.execute()

    async def create_session(self, session_data: SessionCreate) -> SessionDetail:
        async with self.redis.pipeline(transaction=True) as pipe:
            session = self._queue_create(pipe, session_data)
            await self._execute(pipe)
        return session

    async def get_session(self, session_id: str) -> SessionDetail | None:
        if not await self._exists(session_id):
            return None
        async with self.redis.pipeline(transaction=False) as pipe:
            self._queue_hashes(pipe, [session_id])
            data, meta = await self._execute(pipe)
        if not data or not meta:
            return None
        return self._detail(session_id, data, meta)

    async def update_session(self, session_id: str, update_data: SessionUpdate) -> SessionDetail:
        if not await self._exists(session_id):
            raise LookupError(session_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            self._queue_update(pipe, session_id, update_data)
            await self._execute(pipe)
        session = await self.get_session(session_id)
        if session is None:
            raise LookupError(session_id)
        return session

    async def delete_session(self, session_id: str) -> bool:
        async with self.redis.pipeline(transaction=True) as pipe:
            self._queue_delete(pipe, session_id)
            _, deleted = await self._execute(pipe)
        return bool(deleted)

    async def list_sessions(self, limit: int = 10, offset: int = 0) -> SessionListResponse:
        self.round_trips += 1
        ids, page = self._page_ids(await self.redis.smembers("active_sessions"), limit, offset)
        async with self.redis.pipeline(transaction=False) as pipe:
            self._queue_hashes(pipe, page)
            hashes = await self._execute(pipe)
        return self._page(ids, page, hashes, limit, offset)

    async def extend_session_ttl(self, session_id: str) -> bool:
        self.round_trips += 1
        return bool(await self.redis.expire(_expiry_key(session_id), self.ttl))


# -------------------------------------------------------------- rust host


def rust_round(binary: Path, url: str, iterations: int, warmup: int) -> RoundResult:
    command = [
        str(binary),
        "--redis-url",
        url,
        "--iterations",
        str(iterations),
        "--warmup",
        str(warmup),
        "--json",
        "--samples",
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    report = json.loads(result.stdout)
    out: RoundResult = {}
    for m in report["ops"]:
        out[m["op"]] = (m["samples_ns"], m["elapsed_s"], round(m["round_trips"] * m["ops"]))
    return out


# ------------------------------------------------------------ the contenders


class Contenders:
    """Every implementation's repository and client, for the whole run, and
    one event loop for the asyncio ones."""

    def __init__(self, url: str, rust_bin: Path, runner: asyncio.Runner) -> None:
        self.url = url
        self.rust_bin = rust_bin
        self.runner = runner
        self.native_sync = SessionRepository(url, backend="native")
        self.native_async = AsyncSessionRepository(url, backend="native")
        self.plain_client = redis.Redis.from_url(url)
        self.plain_sync = PlainSyncRepository(self.plain_client)
        self.plain_async_client = redis.asyncio.Redis.from_url(url)
        self.plain_async = PlainRepository(self.plain_async_client)

    def _sync(self, impl: str) -> tuple[SyncRepo, Callable[[], object]]:
        if impl == "native-sync":
            return self.native_sync, self.native_sync.ping
        return self.plain_sync, self.plain_client.ping

    def _async(self, impl: str) -> tuple[AsyncRepo, Callable[[], Awaitable[object]]]:
        if impl == "native-async":
            return self.native_async, self.native_async.ping
        return self.plain_async, self.plain_async_client.ping

    def turn(
        self, impl: str, iterations: int, warmup: int, tasks: int, concurrent_calls: int
    ) -> tuple[RoundResult, RoundResult]:
        """One implementation's turn: a warm-up, then a measured round at
        concurrency 1 and (asyncio implementations) at concurrency `tasks`."""
        if impl == "rust":
            return rust_round(self.rust_bin, self.url, iterations, warmup), {}
        if impl in ASYNC_IMPLS:
            repo, ping = self._async(impl)

            async def run() -> tuple[RoundResult, RoundResult]:
                if warmup:
                    await async_round(repo, ping, warmup)
                    await concurrent_round(repo, tasks, min(warmup, 10))
                return await async_round(repo, ping, iterations), await concurrent_round(repo, tasks, concurrent_calls)

            return self.runner.run(run())
        sync_repo, sync_ping = self._sync(impl)
        if warmup:
            sync_round(sync_repo, sync_ping, warmup)
        return sync_round(sync_repo, sync_ping, iterations), {}

    def close(self) -> None:
        self.native_sync.close()
        self.plain_client.close()

        async def close_async() -> None:
            await self.native_async.close()
            await self.plain_async_client.aclose()

        self.runner.run(close_async())


# ---------------------------------------------------------------- report


def ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def ratio_rows(
    stats: dict[str, dict[str, dict[str, float]]], ops: list[str], targets: list[Target], metric: str, judged: bool
) -> list[dict[str, Any]]:
    """Per operation and target: the ratio of `metric`, and (when `judged`) whether it meets the target."""
    rows = []
    for op in ops:
        for target in targets:
            value = ratio(stats[target.numerator][op][metric], stats[target.denominator][op][metric])
            rows.append(
                {
                    "op": op,
                    "name": target.name,
                    "numerator": target.numerator,
                    "denominator": target.denominator,
                    "metric": metric,
                    "value": value,
                    "target": target.condition if judged else None,
                    "met": target.met(value) if judged else None,
                }
            )
    return rows


def _heading(names: list[str], width: int, first: str, first_width: int = 8) -> list[str]:
    """Two header lines: each name split at its last hyphen."""
    top, bottom = [], []
    for name in names:
        head, _, tail = name.rpartition("-")
        top.append(f"{head:>{width}}")
        bottom.append(f"{tail:>{width}}")
    return [f"{'':<{first_width}} |" + " ".join(top), f"{first:<{first_width}} |" + " ".join(bottom)]


def latency_table(stats: dict[str, dict[str, dict[str, float]]], metric: str) -> str:
    width = 11
    lines = _heading(IMPLS, width, "op")
    lines.append("-" * len(lines[0]))
    for op in [*OPS, PING]:
        if op == PING:
            lines.append("-" * len(lines[0]))
        lines.append(f"{op:<8} |" + " ".join(f"{stats[impl][op][metric]:>{width}.1f}" for impl in IMPLS))
    return "\n".join(lines)


def _mark(value: float | None, met: bool | None) -> str:
    shown = "n/a" if value is None else f"{value:.2f}x"
    if met is None:
        return shown
    return f"{shown} {'met' if met else 'MISSED'}"


def ratio_table(rows: list[dict[str, Any]], targets: list[Target], ops: list[str]) -> str:
    width = max(len(t.name) for t in targets) + 1
    lines = [
        f"{'op':<8} |" + " ".join(f"{t.name:>{width}}" for t in targets),
        f"{'target':<8} |" + " ".join(f"{t.condition:>{width}}" for t in targets),
    ]
    lines.append("-" * len(lines[0]))
    by_key = {(row["op"], row["name"]): row for row in rows}
    for op in ops:
        if op == PING:
            lines.append("-" * len(lines[0]))
        cells = [by_key[(op, t.name)] for t in targets]
        lines.append(f"{op:<8} |" + " ".join(f"{_mark(c['value'], c['met']):>{width}}" for c in cells))
    return "\n".join(lines)


def throughput_table(stats: dict[str, dict[str, dict[str, float]]], rows: list[dict[str, Any]]) -> str:
    width = 21
    lines = _heading(ASYNC_IMPLS, width, "op")
    target = THROUGHPUT_TARGETS[0]
    lines[0] += f" | {target.name:>28}"
    lines[1] += f" | {'target ' + target.condition:>28}"
    lines.append("-" * len(lines[0]))
    by_op = {row["op"]: row for row in rows if row["name"] == target.name}
    for op in CONCURRENT_OPS:
        cells = []
        for impl in ASYNC_IMPLS:
            one = stats[impl][op]
            cells.append(f"{one['ops_per_s']:>7.0f} ({one['p50_us']:>5.0f}/{one['p99_us']:>5.0f})")
        row = by_op[op]
        lines.append(
            f"{op:<8} |" + " ".join(f"{c:>{width}}" for c in cells) + f" | {_mark(row['value'], row['met']):>28}"
        )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpus_allowed": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "os": platform.system(),
        "kernel": platform.release(),
        "arch": platform.machine(),
    }


def versions(redis_version: str) -> dict[str, str | None]:
    def version(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "agent-sessions": version("agent-sessions"),
        "redis-py": version("redis"),
        "hiredis": version("hiredis") if redis.utils.HIREDIS_AVAILABLE else None,
        "redis-server": redis_version,
    }


def sha256(data: bytes | None) -> str | None:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rust-bin",
        type=Path,
        default=Path("target/release/host-latency"),
        help="the bench crate's host-latency binary (relative paths: from the repository root)",
    )
    parser.add_argument(
        "--iterations",
        type=int,
        help="measured calls per operation, implementation and round at concurrency 1 (default 2000; 1000 quick)",
    )
    parser.add_argument("--rounds", type=int, help="rounds per implementation (default 4; 2 with --quick)")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured calls per operation before each turn")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="asyncio tasks for the throughput measurement (default 32)"
    )
    parser.add_argument(
        "--concurrent-calls",
        type=int,
        help="calls per task and operation in the throughput measurement (default 100; 50 with --quick)",
    )
    parser.add_argument("--quick", action="store_true", help="about 40 s instead of 2-3 minutes")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("target/bench/python.json"),
        help="where to write the JSON (relative paths: from the repository root)",
    )
    parser.add_argument("--redis-server", default="redis-server", help="the redis-server binary")
    parser.add_argument(
        "--pin",
        choices=["none", "same", "split"],
        default="none",
        help="CPU placement: none (the scheduler's, as `make bench`), same (redis-server and the "
        "hosts on one CPU), split (redis-server on one CPU, the hosts on another). On a VM, a "
        "round trip between two CPUs can cost tens of us more than one within a CPU",
    )
    args = parser.parse_args()
    iterations = args.iterations or (1000 if args.quick else 2000)
    rounds = args.rounds or (2 if args.quick else 4)
    concurrent_calls = args.concurrent_calls or (50 if args.quick else 100)
    tasks = args.concurrency
    if iterations < 1 or rounds < 1 or args.warmup < 0 or tasks < 1 or concurrent_calls < 1:
        parser.error(
            "--iterations, --rounds, --concurrency and --concurrent-calls must be at least 1, --warmup at least 0"
        )
    rust_bin = args.rust_bin if args.rust_bin.is_absolute() else REPO / args.rust_bin
    output = args.output if args.output.is_absolute() else REPO / args.output
    if not rust_bin.is_file():
        sys.exit(f"{rust_bin} not found: `cargo build --release -p agent-sessions-bench --bin host-latency`")
    # What the Rust host and (once `make python-native` ran) the package embed.
    component = COMPONENT_BUILD.read_bytes() if COMPONENT_BUILD.is_file() else None

    allowed = sorted(os.sched_getaffinity(0))
    redis_cpus: set[int] | None = None
    if args.pin == "same":
        redis_cpus = {allowed[0]}
        os.sched_setaffinity(0, redis_cpus)  # this process, its threads and the Rust binary
    elif args.pin == "split":
        if len(allowed) < 2:
            parser.error("--pin split needs two CPUs")
        redis_cpus = {allowed[0]}
        os.sched_setaffinity(0, {allowed[1]})

    started = time.monotonic()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    server = RedisServer(args.redis_server, redis_cpus)
    try:
        admin = redis.Redis.from_url(server.url)
        redis_version = str(admin.info("server")["redis_version"])
        with asyncio.Runner() as runner:
            contenders = Contenders(server.url, rust_bin, runner)
            print(
                f"compare_hosts: redis-server {redis_version} on port {server.port}, {os.cpu_count()} cores, "
                f"{rounds} rounds x {iterations} calls per op and implementation, {tasks} tasks x "
                f"{concurrent_calls} calls concurrently, warm-up {args.warmup}, pin {args.pin}",
                file=sys.stderr,
            )

            pooled = {impl: {op: Samples() for op in [*OPS, PING]} for impl in IMPLS}
            concurrent = {impl: {op: Samples() for op in CONCURRENT_OPS} for impl in ASYNC_IMPLS}
            per_turn: list[dict[str, Any]] = []
            order: list[str] = []
            for round_index in range(rounds):
                order += IMPLS if round_index % 2 == 0 else IMPLS[::-1]
            for turn, impl in enumerate(order):
                admin.flushall()
                gc.collect()
                turn_started = time.monotonic()
                latency, throughput = contenders.turn(impl, iterations, args.warmup, tasks, concurrent_calls)
                for op, (latencies, elapsed, round_trips) in latency.items():
                    pooled[impl][op].add(latencies, elapsed, round_trips)
                for op, (latencies, elapsed, round_trips) in throughput.items():
                    concurrent[impl][op].add(latencies, elapsed, round_trips)
                summaries = summarize(latency)
                per_turn.append(
                    {
                        "turn": turn,
                        "round": turn // len(IMPLS),
                        "impl": impl,
                        "ops": summaries,
                        "concurrent": summarize(throughput),
                        "elapsed_s": time.monotonic() - turn_started,
                    }
                )
                extra = ""
                if throughput:
                    got, elapsed, _ = throughput["get"]
                    extra = f", c{tasks} get {len(got) / elapsed:.0f} op/s"
                print(
                    f"  turn {turn + 1:>2}/{len(order)}: {impl:<17} {time.monotonic() - turn_started:5.1f} s"
                    f"  (get p50 {summaries['get']['p50_us']:.0f} us{extra})",
                    file=sys.stderr,
                )
            leftover = admin.dbsize()
            contenders.close()
        admin.close()
    finally:
        server.stop()
    elapsed = time.monotonic() - started

    latency_stats = {impl: {op: pooled[impl][op].summary() for op in [*OPS, PING]} for impl in IMPLS}
    throughput_stats = {impl: {op: concurrent[impl][op].summary() for op in CONCURRENT_OPS} for impl in ASYNC_IMPLS}
    latency_ratios = ratio_rows(latency_stats, OPS, LATENCY_TARGETS, "p50_us", judged=True)
    latency_ratios += ratio_rows(latency_stats, [PING], LATENCY_TARGETS, "p50_us", judged=False)
    throughput_ratios = ratio_rows(throughput_stats, CONCURRENT_OPS, THROUGHPUT_TARGETS, "ops_per_s", judged=True)
    judged = [row for row in latency_ratios + throughput_ratios if row["met"] is not None]
    met = sum(1 for row in judged if row["met"])

    scale = "quick" if args.quick else "default"
    print(
        f"\nagent-sessions for Python: native module vs plain redis-py vs the Rust host, "
        f"one redis-server {redis_version} ({scale} scale, {rounds} rounds x {iterations} calls per op and "
        f"implementation, pin {args.pin}, {elapsed:.0f} s)"
    )
    print("\nconcurrency 1, p50 us\n")
    print(latency_table(latency_stats, "p50_us"))
    print("\nconcurrency 1, p99 us\n")
    print(latency_table(latency_stats, "p99_us"))
    print("\nconcurrency 1, mean us\n")
    print(latency_table(latency_stats, "mean_us"))
    print("\nratios of p50 (ping: for information, no target)\n")
    print(ratio_table(latency_ratios, LATENCY_TARGETS, [*OPS, PING]))
    print(
        f"\nasyncio, one event loop, {tasks} tasks x {concurrent_calls} calls per round: ops/s (p50/p99 us per call)\n"
    )
    print(throughput_table(throughput_stats, throughput_ratios))
    print(
        f"\n{met} of {len(judged)} targets met. list: a page of {PAGE} over {LIST_SESSIONS} sessions. ping: one "
        "PING through each implementation's own client (native: redis-rs; plain: redis-py / redis.asyncio; "
        "rust: redis-rs), the floor under every operation."
    )
    if leftover:
        print(f"warning: {leftover} keys left in Redis after the last turn", file=sys.stderr)

    report = {
        "time": started_at,
        "scale": scale,
        "iterations_per_round": iterations,
        "rounds": rounds,
        "warmup_per_round": args.warmup,
        "concurrency": {"latency": 1, "throughput": tasks, "calls_per_task": concurrent_calls},
        "pin": args.pin,
        "order": order,
        "elapsed_s": elapsed,
        "machine": machine(),
        "versions": versions(redis_version),
        "component_sha256": sha256(component),
        "rust_bin": str(rust_bin),
        "implementations": DESCRIPTIONS,
        "ping_clients": PING_CLIENTS,
        "notes": {
            "latency": "concurrency 1, latencies of all rounds pooled; ops_per_s: calls over the time of their loops",
            "list": f"a page of {PAGE} over {LIST_SESSIONS} sessions",
            "round_trips": "Redis round trips per call (kv batches or commands; 1 for ping)",
            "ratios": "numerator p50 / denominator p50 per operation; ping ratios are not judged",
            "throughput": f"{tasks} asyncio tasks on one event loop, each making {concurrent_calls} calls one "
            "after the other per round; ops_per_s: all calls over the wall time of all tasks",
            "throughput_ratios": "numerator ops/s / denominator ops/s",
        },
        "latency": latency_stats,
        "ratios": latency_ratios,
        "throughput": throughput_stats,
        "throughput_ratios": throughput_ratios,
        "targets": {"met": met, "judged": len(judged), "all_met": met == len(judged)},
        "turns": per_turn,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\nresults written to {output.relative_to(REPO) if output.is_relative_to(REPO) else output} ({elapsed:.0f} s)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
