"""Per-operation latency of the Python host, the Rust host and plain redis-py, side by side.

Starts its own redis-server (free port, no persistence) and measures, at
concurrency 1, create, get, update, extend (extend_ttl), delete and list (a
page of 10 over 100 sessions) through three implementations against that one
server:

- the Python host (`agent_sessions.SessionRepository`) in this process, timed
  with `time.perf_counter_ns`;
- the Rust host (`SessionStore`) through the bench crate's `host-latency`
  binary, which measures the same round in the same order with the same inputs;
- plain redis-py (`PlainRepository` below): the design document written
  directly on redis.asyncio, as a service team would without the component,
  in this process with its own event loop.

They take turns in rounds, in the order python, rust, plain, plain, rust,
python, ... (as `make bench` alternates its paths), so that the noise of a
shared machine falls on all; every round warms up first and starts on an
empty database. Latencies of all rounds are pooled per implementation before
the percentiles are taken. A `ping` row is the floor: one PING through
redis-py (Python), the Rust host's own Redis connection (redis-rs) and
redis.asyncio (plain). `--pin` fixes where redis-server and the hosts run
(default: the scheduler decides, as in `make bench`).

Prints a table and writes the same as JSON to target/bench/python-vs-rust.json.

    make bench-python                  # or, from the repository root:
    cargo build --release -p agent-sessions-bench --bin host-latency
    .venv/bin/python python/bench/compare_hosts.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
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
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python"))

import redis  # noqa: E402
import redis.asyncio  # noqa: E402

from agent_sessions import (  # noqa: E402
    SessionCreate,
    SessionDetail,
    SessionListResponse,
    SessionRepository,
    SessionUpdate,
    _assets,
)

#: Operations in the order a round runs them (the Rust binary's order too).
OPS = ["create", "get", "update", "extend", "delete", "list"]
#: Who is measured: the Python host, the Rust host, plain redis-py.
HOSTS = ["python", "rust", "plain"]
#: The floor: one PING on a plain client.
PING = "ping"
#: Sessions the list operation pages through, 10 at a time.
LIST_SESSIONS = 100
PAGE = 10

#: One round of one host: op -> (latencies in ns, seconds of the whole loop, round trips).
RoundResult = dict[str, tuple[list[int], float, int]]

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


# ----------------------------------------------------------------- samples


@dataclass
class Samples:
    """Latencies of one operation on one host, pooled over rounds."""

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


# ------------------------------------------------------------ python host


def python_round(repo: SessionRepository, client: redis.Redis, iterations: int) -> RoundResult:
    """One round, as `host-latency` runs it."""
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
        session = repo.get_session(session_id)
        if session is None or session.id != session_id:
            raise RuntimeError(f"get {session_id}: no such session")

    def update(n: int) -> None:
        repo.update_session(ids[n % len(ids)], SessionUpdate(name=f"renamed {n}"))

    def extend(n: int) -> None:
        if not repo.extend_session_ttl(ids[n % len(ids)]):
            raise RuntimeError("extend_session_ttl found no session")

    def delete(n: int) -> None:
        if not repo.delete_session(ids[n % len(ids)]):
            raise RuntimeError("delete_session found no session")

    def list_page(n: int) -> None:
        offset = (n % (LIST_SESSIONS // PAGE)) * PAGE
        page = repo.list_sessions(PAGE, offset)
        if len(page.sessions) != PAGE:
            raise RuntimeError(f"a page of {len(page.sessions)} at offset {offset}")

    def ping(_n: int) -> None:
        client.ping()

    timed("create", create)
    timed("get", get)
    timed("update", update)
    timed("extend", extend)
    timed("delete", delete)
    fixture = [repo.create_session(example()).id for _ in range(LIST_SESSIONS)]
    timed("list", list_page)
    for session_id in fixture:
        repo.delete_session(session_id)
    timed(PING, ping)
    # A PING is one round trip, though not a kv batch.
    latencies, elapsed, _ = out[PING]
    out[PING] = (latencies, elapsed, iterations)
    return out


# ------------------------------------------------------- plain redis-py


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _optional(value: str | None, convert: Callable[[str], Any]) -> Any:
    return convert(value) if value else None


class PlainRepository:
    """The design document's SessionRepository written directly on
    redis.asyncio, the way a service team would from the document alone:
    the two hashes, `active_sessions` and the expiry key; a MULTI pipeline
    for create, update and delete; EXISTS, then HGETALL of both hashes for
    get; EXPIRE for extend. No versions, no list index, no validation
    beyond types: a baseline for the cost of the component, not a rival."""

    def __init__(self, client: redis.asyncio.Redis, ttl: int = 3600) -> None:
        self.redis = client
        self.ttl = ttl

    async def create_session(self, session_data: SessionCreate) -> SessionDetail:
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
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(f"session:{session_id}:data", mapping=data)
            pipe.hset(f"session:{session_id}:meta", mapping=meta)
            pipe.sadd("active_sessions", session_id)
            pipe.set(f"session_expiry:{session_id}", "", ex=self.ttl)
            await pipe.execute()
        return self._detail(session_id, data, meta)

    async def get_session(self, session_id: str) -> SessionDetail | None:
        if not await self.redis.exists(f"session_expiry:{session_id}"):
            return None
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(f"session:{session_id}:data")
            pipe.hgetall(f"session:{session_id}:meta")
            data, meta = await pipe.execute()
        if not data or not meta:
            return None
        return self._detail(session_id, data, meta)

    async def update_session(self, session_id: str, update_data: SessionUpdate) -> SessionDetail:
        if not await self.redis.exists(f"session_expiry:{session_id}"):
            raise LookupError(session_id)
        changes: dict[Any, str] = {
            name: json.dumps(value) if name == "tools" else str(value)
            for name, value in dataclasses.asdict(update_data).items()
            if value is not None and name not in ("status", "clear", "expected_version")
        }
        now = _utc_now()
        meta: dict[Any, str] = {"updated_at": now, "last_activity": now}
        if update_data.status is not None:
            meta["status"] = update_data.status
        async with self.redis.pipeline(transaction=True) as pipe:
            if changes:
                pipe.hset(f"session:{session_id}:data", mapping=changes)
            pipe.hset(f"session:{session_id}:meta", mapping=meta)
            pipe.expire(f"session_expiry:{session_id}", self.ttl)
            await pipe.execute()
        session = await self.get_session(session_id)
        if session is None:
            raise LookupError(session_id)
        return session

    async def delete_session(self, session_id: str) -> bool:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.srem("active_sessions", session_id)
            pipe.delete(f"session:{session_id}:data", f"session:{session_id}:meta", f"session_expiry:{session_id}")
            _, deleted = await pipe.execute()
        return bool(deleted)

    async def list_sessions(self, limit: int = 10, offset: int = 0) -> SessionListResponse:
        ids = sorted(m.decode() if isinstance(m, bytes) else m for m in await self.redis.smembers("active_sessions"))
        page = ids[offset : offset + limit]
        async with self.redis.pipeline(transaction=False) as pipe:
            for session_id in page:
                pipe.hgetall(f"session:{session_id}:data")
                pipe.hgetall(f"session:{session_id}:meta")
            hashes = await pipe.execute()
        sessions = [
            self._detail(session_id, hashes[2 * i], hashes[2 * i + 1])
            for i, session_id in enumerate(page)
            if hashes[2 * i] and hashes[2 * i + 1]
        ]
        return SessionListResponse(sessions=sessions, total=len(ids), limit=limit, offset=offset, corrupt=[])

    async def extend_session_ttl(self, session_id: str) -> bool:
        return bool(await self.redis.expire(f"session_expiry:{session_id}", self.ttl))

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


async def _plain_round(url: str, iterations: int) -> RoundResult:
    client = redis.asyncio.Redis.from_url(url)
    repo = PlainRepository(client)
    out: RoundResult = {}
    clock = time.perf_counter_ns

    async def timed(op: str, call: Callable[[int], Awaitable[None]], round_trips: int) -> None:
        latencies = [0] * iterations
        loop_started = clock()
        for n in range(iterations):
            started = clock()
            await call(n)
            latencies[n] = clock() - started
        out[op] = (latencies, (clock() - loop_started) / 1e9, round_trips * iterations)

    ids: list[str] = []

    async def create(_n: int) -> None:
        ids.append((await repo.create_session(example())).id)

    async def get(n: int) -> None:
        session_id = ids[n % len(ids)]
        session = await repo.get_session(session_id)
        if session is None or session.id != session_id:
            raise RuntimeError(f"get {session_id}: no such session")

    async def update(n: int) -> None:
        await repo.update_session(ids[n % len(ids)], SessionUpdate(name=f"renamed {n}"))

    async def extend(n: int) -> None:
        if not await repo.extend_session_ttl(ids[n % len(ids)]):
            raise RuntimeError("extend_session_ttl found no session")

    async def delete(n: int) -> None:
        if not await repo.delete_session(ids[n % len(ids)]):
            raise RuntimeError("delete_session found no session")

    async def list_page(n: int) -> None:
        offset = (n % (LIST_SESSIONS // PAGE)) * PAGE
        page = await repo.list_sessions(PAGE, offset)
        if len(page.sessions) != PAGE:
            raise RuntimeError(f"a page of {len(page.sessions)} at offset {offset}")

    async def ping(_n: int) -> None:
        await client.ping()

    # Round trips per call: create 1, get 2, update 3 (EXISTS, MULTI, get's 2), extend 1, delete 1, list 2.
    await timed("create", create, 1)
    await timed("get", get, 2)
    await timed("update", update, 4)
    await timed("extend", extend, 1)
    await timed("delete", delete, 1)
    fixture = [(await repo.create_session(example())).id for _ in range(LIST_SESSIONS)]
    await timed("list", list_page, 2)
    for session_id in fixture:
        await repo.delete_session(session_id)
    await timed(PING, ping, 1)
    await client.aclose()
    return out


def plain_round(url: str, iterations: int, warmup: int) -> RoundResult:
    """One round of the plain implementation, in an event loop of its own."""

    async def run() -> RoundResult:
        if warmup:
            await _plain_round(url, warmup)
        return await _plain_round(url, iterations)

    return asyncio.run(run())


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


# ---------------------------------------------------------------- report


def ratio(a: float, b: float) -> float:
    return a / b if b > 0 else 0.0


def table(rows: list[dict[str, Any]]) -> str:
    header = (
        f"{'op':<8} | {'python p50 us':>13} {'rust p50 us':>11} {'plain p50 us':>12} | "
        f"{'py/rust':>7} {'py/plain':>8} | {'python p99':>10} {'rust p99':>9} {'plain p99':>9}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        p, r, q = row["python"], row["rust"], row["plain"]
        if row["op"] == PING:
            lines.append("-" * len(header))
        lines.append(
            f"{row['op']:<8} | {p['p50_us']:>13.1f} {r['p50_us']:>11.1f} {q['p50_us']:>12.1f} | "
            f"{row['ratio_p50']:>6.2f}x {row['ratio_p50_plain']:>7.2f}x | "
            f"{p['p99_us']:>10.1f} {r['p99_us']:>9.1f} {q['p99_us']:>9.1f}"
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
    return {"cores": os.cpu_count(), "cpu": cpu, "os": platform.system(), "arch": platform.machine()}


def sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rust-bin",
        type=Path,
        default=Path("target/release/host-latency"),
        help="the bench crate's host-latency binary (relative paths: from the repository root)",
    )
    parser.add_argument(
        "--iterations", type=int, help="measured calls per operation, host and round (default 2000; 800 with --quick)"
    )
    parser.add_argument("--rounds", type=int, help="rounds per host (default 3; 2 with --quick)")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured calls per operation before each round")
    parser.add_argument("--quick", action="store_true", help="about 20 s instead of about a minute")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("target/bench/python-vs-rust.json"),
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
    iterations = args.iterations or (800 if args.quick else 2000)
    rounds = args.rounds or (2 if args.quick else 3)
    if iterations < 1 or rounds < 1 or args.warmup < 0:
        parser.error("--iterations and --rounds must be at least 1, --warmup at least 0")
    rust_bin = args.rust_bin if args.rust_bin.is_absolute() else REPO / args.rust_bin
    output = args.output if args.output.is_absolute() else REPO / args.output
    if not rust_bin.is_file():
        sys.exit(f"{rust_bin} not found: `cargo build --release -p agent-sessions-bench --bin host-latency`")
    component = _assets.component_path()  # raises with instructions when missing
    if sha256(COMPONENT_BUILD) not in (None, sha256(component)):
        print(
            f"warning: {component} differs from {COMPONENT_BUILD} (the Rust host embeds the latter); "
            "copy it again for a like-for-like comparison",
            file=sys.stderr,
        )

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
    server = RedisServer(args.redis_server, redis_cpus)
    try:
        client = redis.Redis.from_url(server.url)
        repo = SessionRepository(server.url)
        redis_version = client.info("server")["redis_version"]
        print(
            f"compare_hosts: redis-server {redis_version} on port {server.port}, {os.cpu_count()} cores, "
            f"{rounds} rounds x {iterations} calls per op and host, warm-up {args.warmup}, pin {args.pin}",
            file=sys.stderr,
        )

        pooled = {host: {op: Samples() for op in [*OPS, PING]} for host in HOSTS}
        per_round: list[dict[str, Any]] = []
        order: list[str] = []
        for round_index in range(rounds):
            order += HOSTS if round_index % 2 == 0 else HOSTS[::-1]
        for chunk, host in enumerate(order):
            client.flushall()
            chunk_started = time.monotonic()
            if host == "python":
                if args.warmup:
                    python_round(repo, client, args.warmup)
                result = python_round(repo, client, iterations)
            elif host == "plain":
                result = plain_round(server.url, iterations, args.warmup)
            else:
                result = rust_round(rust_bin, server.url, iterations, args.warmup)
            summaries: dict[str, dict[str, float]] = {}
            for op, (latencies, elapsed, round_trips) in result.items():
                pooled[host][op].add(latencies, elapsed, round_trips)
                one = Samples()
                one.add(latencies, elapsed, round_trips)
                summaries[op] = {k: v for k, v in one.summary().items() if k != "round_trips"}
            per_round.append({"chunk": chunk, "host": host, "ops": summaries})
            print(
                f"  chunk {chunk + 1}/{len(order)}: {host:<6} {time.monotonic() - chunk_started:5.1f} s"
                f"  (get p50 {summaries['get']['p50_us']:.0f} us)",
                file=sys.stderr,
            )
        leftover = client.dbsize()
        repo.close()
        client.close()
    finally:
        server.stop()
    elapsed = time.monotonic() - started

    rows: list[dict[str, Any]] = []
    for op in [*OPS, PING]:
        p, r, q = (pooled[host][op].summary() for host in HOSTS)
        rows.append(
            {
                "op": op,
                "python": p,
                "rust": r,
                "plain": q,
                "ratio_p50": ratio(p["p50_us"], r["p50_us"]),
                "ratio_p99": ratio(p["p99_us"], r["p99_us"]),
                "ratio_ops_per_s": ratio(p["ops_per_s"], r["ops_per_s"]),
                "ratio_p50_plain": ratio(p["p50_us"], q["p50_us"]),
                "ratio_p99_plain": ratio(p["p99_us"], q["p99_us"]),
            }
        )

    print(
        f"\nPython host vs Rust host vs plain redis-py, concurrency 1, one redis-server "
        f"({'quick' if args.quick else 'default'} scale, {rounds} rounds x {iterations} calls per op and host, "
        f"pin {args.pin}, {elapsed:.0f} s)\n"
    )
    print(table(rows))
    print(
        "\npy/rust = python host / rust host; py/plain = python host / plain redis-py (the design document on "
        "redis.asyncio, no component). list: a page of 10 over 100 sessions. ping: redis-py PING (python), the "
        "Rust host's redis-rs connection (rust), redis.asyncio PING (plain): the floor under every operation."
    )
    if leftover:
        print(f"warning: {leftover} keys left in Redis after the last round", file=sys.stderr)

    report = {
        "scale": "quick" if args.quick else "default",
        "concurrency": 1,
        "iterations_per_round": iterations,
        "rounds_per_host": rounds,
        "warmup_per_round": args.warmup,
        "pin": args.pin,
        "order": order,
        "elapsed_s": elapsed,
        "machine": machine(),
        "versions": {
            "python": platform.python_version(),
            "wasmtime-py": importlib.metadata.version("wasmtime"),
            "redis-py": importlib.metadata.version("redis"),
            "redis-server": redis_version,
        },
        "component_sha256": sha256(component),
        "rust_bin": str(rust_bin),
        "notes": {
            "ratio": "python / rust; ratio_*_plain: python / plain",
            "plain": "the design document on redis.asyncio without the component (PlainRepository)",
            "list": f"a page of {PAGE} over {LIST_SESSIONS} sessions",
            "ping": "one PING: redis-py for python, the Rust host's redis-rs connection for rust",
            "round_trips": "Redis round trips per call (kv batches; 1 for ping)",
        },
        "ops": rows,
        "rounds": per_round,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\nresults written to {output.relative_to(REPO) if output.is_relative_to(REPO) else output} ({elapsed:.0f} s)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
