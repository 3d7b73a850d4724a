"""Per-operation latency of the Python host against the Rust host, side by side.

Starts its own redis-server (free port, no persistence) and measures, at
concurrency 1, create, get, update, extend (extend_ttl), delete and list (a
page of 10 over 100 sessions) through both hosts against that one server:

- the Python host (`agent_sessions.SessionRepository`) in this process, timed
  with `time.perf_counter_ns`;
- the Rust host (`SessionStore`) through the bench crate's `host-latency`
  binary, which measures the same round in the same order with the same inputs.

The hosts take turns in rounds, in the order python, rust, rust, python,
python, rust, ... (as `make bench` alternates its paths), so that the noise
of a shared machine falls on both; every round warms up first and starts on
an empty database. Latencies of all rounds are pooled per host before the
percentiles are taken. A `ping` row is the floor: one PING through redis-py
(Python) and through the Rust host's own Redis connection (redis-rs).
`--pin` fixes where redis-server and the hosts run (default: the scheduler
decides, as in `make bench`).

Prints a table and writes the same as JSON to target/bench/python-vs-rust.json.

    make bench-python                  # or, from the repository root:
    cargo build --release -p agent-sessions-bench --bin host-latency
    .venv/bin/python python/bench/compare_hosts.py [--quick]
"""

from __future__ import annotations

import argparse
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python"))

import redis  # noqa: E402

from agent_sessions import SessionCreate, SessionRepository, SessionUpdate, _assets  # noqa: E402

#: Operations in the order a round runs them (the Rust binary's order too).
OPS = ["create", "get", "update", "extend", "delete", "list"]
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
        f"{'op':<8} | {'python p50 us':>13} {'rust p50 us':>11} {'ratio p50':>9} | "
        f"{'python p99':>10} {'rust p99':>9} | {'python ops/s':>12} {'rust ops/s':>10}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        p, r = row["python"], row["rust"]
        if row["op"] == PING:
            lines.append("-" * len(header))
        lines.append(
            f"{row['op']:<8} | {p['p50_us']:>13.1f} {r['p50_us']:>11.1f} {row['ratio_p50']:>8.2f}x | "
            f"{p['p99_us']:>10.1f} {r['p99_us']:>9.1f} | {p['ops_per_s']:>12.0f} {r['ops_per_s']:>10.0f}"
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

        pooled = {host: {op: Samples() for op in [*OPS, PING]} for host in ("python", "rust")}
        per_round: list[dict[str, Any]] = []
        order = []
        for round_index in range(rounds):
            order += ["python", "rust"] if round_index % 2 == 0 else ["rust", "python"]
        for chunk, host in enumerate(order):
            client.flushall()
            chunk_started = time.monotonic()
            if host == "python":
                if args.warmup:
                    python_round(repo, client, args.warmup)
                result = python_round(repo, client, iterations)
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
        p, r = pooled["python"][op].summary(), pooled["rust"][op].summary()
        rows.append(
            {
                "op": op,
                "python": p,
                "rust": r,
                "ratio_p50": ratio(p["p50_us"], r["p50_us"]),
                "ratio_p99": ratio(p["p99_us"], r["p99_us"]),
                "ratio_ops_per_s": ratio(p["ops_per_s"], r["ops_per_s"]),
            }
        )

    print(
        f"\nPython host vs Rust host, concurrency 1, one redis-server ({'quick' if args.quick else 'default'} scale, "
        f"{rounds} rounds x {iterations} calls per op and host, pin {args.pin}, {elapsed:.0f} s)\n"
    )
    print(table(rows))
    print(
        "\nratio = python / rust. list: a page of 10 over 100 sessions. ping: redis-py PING (python) and the "
        "Rust host's redis-rs connection (rust), the floor under every operation."
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
            "ratio": "python / rust",
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
