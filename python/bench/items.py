"""Conversation items and framework listing: issue 16's two speed targets.

Starts its own redis-server (free port, no persistence) and measures, in one
run against it:

1. The Rust host (`host-latency --items`, concurrency 1): p50 of `get`,
   appending one item (an assistant message as the OpenAI Agents SDK
   stores it, ~190 bytes) and reading the last 20 items of a 40-item
   conversation; each one round trip. Target: append and read p50 at most
   1.5x get's. The same three through the Python package's native backend
   (`AsyncSessionRepository`), for reference.
2. Google ADK's `list_sessions(app_name, user_id)` through
   `AgentSessionsService` on the native backend, for one user with 10,000
   sessions (with state, without events): median of 5 calls. Target: under
   1 s (ADK's own stores took 40-74 s for 5-10k, per adk-python #4621/#4871).

Writes the figures to target/bench/items.json.

    make bench-items      # or: .venv/bin/python python/bench/items.py --rust-bin target/release/host-latency [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "python" / "tests"))

from redis_servers import RedisServer  # noqa: E402

from agent_sessions import AsyncSessionRepository  # noqa: E402
from agent_sessions.integrations.adk import AgentSessionsService  # noqa: E402

ITEM = {
    "id": "msg_0123456789abcdef",
    "content": [{"annotations": [], "text": "The Eiffel Tower is in Paris, France.", "type": "output_text"}],
    "role": "assistant",
    "status": "completed",
    "type": "message",
}


def rust_rows(binary: str, url: str, iterations: int) -> dict[str, float]:
    output = subprocess.run(
        [binary, "--redis-url", url, "--items", "--json", "--iterations", str(iterations)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    report = json.loads(output)
    # `items_get` is the get measured in the same loop as the item calls.
    rows = {m["op"]: m["p50_us"] for m in report["ops"]}
    return {"get": rows["items_get"], "append_item": rows["append_item"], "items_last_20": rows["items_last_20"]}


async def python_rows(url: str, iterations: int) -> dict[str, float]:
    repo = AsyncSessionRepository(url)
    ids = [(await repo.create_session({"model_id": "gpt-4"})).id for _ in range(100)]
    history = (await repo.create_session({"model_id": "gpt-4"})).id
    await repo.append_items(history, [ITEM] * 40)
    timings: dict[str, list[float]] = {"get": [], "append_item": [], "items_last_20": []}
    for n in range(iterations):
        sid = ids[n % len(ids)]
        started = time.perf_counter_ns()
        await repo.get_session_or_raise(sid)
        timings["get"].append((time.perf_counter_ns() - started) / 1000)
        started = time.perf_counter_ns()
        await repo.append_items(sid, [ITEM])
        timings["append_item"].append((time.perf_counter_ns() - started) / 1000)
        started = time.perf_counter_ns()
        await repo.get_items(history, last=20)
        timings["items_last_20"].append((time.perf_counter_ns() - started) / 1000)
    await repo.close()
    return {op: statistics.median(values) for op, values in timings.items()}


async def adk_listing(url: str, sessions: int, calls: int) -> dict[str, Any]:
    repo = AsyncSessionRepository(url, prefix="adk-bench:")
    service = AgentSessionsService(repo)
    semaphore = asyncio.Semaphore(64)

    async def create(n: int) -> None:
        async with semaphore:
            await repo.create_session(
                {"model_id": "google-adk", "id": f"s{n}", "app_name": "bench", "user_id": "heavy", "state": {"n": n}}
            )

    started = time.perf_counter()
    await asyncio.gather(*(create(n) for n in range(sessions)))
    created_s = time.perf_counter() - started
    seconds = []
    for _ in range(calls):
        started = time.perf_counter()
        response = await service.list_sessions(app_name="bench", user_id="heavy")
        seconds.append(time.perf_counter() - started)
        assert len(response.sessions) == sessions, len(response.sessions)
    await repo.close()
    return {"sessions": sessions, "create_s": created_s, "list_s": seconds, "list_median_s": statistics.median(seconds)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rust-bin", required=True, help="target/release/host-latency")
    parser.add_argument("--quick", action="store_true", help="fewer calls (about 15 s)")
    options = parser.parse_args()
    iterations = 300 if options.quick else 2000
    server = RedisServer()
    try:
        rust = rust_rows(options.rust_bin, server.url, iterations)
        python = asyncio.run(python_rows(server.url, iterations))
        adk = asyncio.run(adk_listing(server.url, 10_000, 3 if options.quick else 5))
    finally:
        server.stop()

    header = ("host", "get p50 us", "append_item", "items_last_20", "append/get", "last20/get")
    print(f"{header[0]:<14} {header[1]:>11} {header[2]:>12} {header[3]:>14} {header[4]:>11} {header[5]:>11}")
    ratios: dict[str, dict[str, float]] = {}
    for host, rows in (("rust", rust), ("python-native", python)):
        ratio = {op: rows[op] / rows["get"] for op in ("append_item", "items_last_20")}
        ratios[host] = ratio
        print(
            f"{host:<14} {rows['get']:>11.1f} {rows['append_item']:>12.1f} {rows['items_last_20']:>14.1f}"
            f" {ratio['append_item']:>11.2f} {ratio['items_last_20']:>11.2f}"
        )
    met = all(r <= 1.5 for r in ratios["rust"].values())
    print(f"target (Rust host): append and last-20 p50 at most 1.5x get: {'met' if met else 'MISSED'}")
    print(
        f"ADK list_sessions, one user with {adk['sessions']:,} sessions (native backend): "
        f"median {adk['list_median_s'] * 1000:.0f} ms of {len(adk['list_s'])} calls "
        f"(target under 1 s: {'met' if adk['list_median_s'] < 1 else 'MISSED'}); "
        f"creating them took {adk['create_s']:.1f} s"
    )
    out = REPO / "target" / "bench" / "items.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"p50_us": {"rust": rust, "python-native": python}, "ratios": ratios, "adk": adk}, indent=2)
    )
    print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
