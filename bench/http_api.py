#!/usr/bin/env python3
"""`make bench-http`: the HTTP API's latency and throughput, side by side.

One redis-server (a throwaway one on a free port) serves every deployment in
turn, and one load generator (wrk) drives each:

- the in-process Rust host (`host-latency`: SessionStore calls, no HTTP),
- one loopback HTTP exchange (`loopback-http`: a server that answers at once),
- `sessions serve --api` (the front component hosted natively),
- `dist/sessions-http.wasm` under `wasmtime serve` (when target/tools/bin/wasmtime
  exists: scripts/install-wasmtime-cli.sh) and under `jco serve`.

Printed: p50 at concurrency 1 and requests/s at 32 for `get` and `create`, the
issue's ratios, and per-request costs of the wasm deployments (instance,
connection, check-layout) from /healthz, /readyz and get. Figures go to
target/bench/http.json too. BENCH_QUICK=1 for a short run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUICK = bool(os.environ.get("BENCH_QUICK"))
DURATION = "3s" if QUICK else "10s"
RELEASE = ROOT / "target" / "release"
WASMTIME = ROOT / "target" / "tools" / "bin" / "wasmtime"
JCO = ROOT / "js" / "node_modules" / ".bin" / "jco"
NODE_BIN = ROOT / "js" / "node_modules" / ".bin"
HTTP_WASM = ROOT / "dist" / "sessions-http.wasm"
CREATE_BODY = json.dumps({"model_id": "gpt-4o", "name": "bench", "temperature": 0.7})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str, process: subprocess.Popen[bytes], log: Path, deadline_s: float = 120.0
) -> None:
    """Polls until the server answers (any status), or fails with its output."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if process.poll() is not None:
            raise SystemExit(
                f"server for {url} exited with {process.returncode}:\n{log.read_text()}"
            )
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer within {deadline_s:.0f} s")


@contextmanager
def started(
    command: list[str], url: str, env: dict[str, str] | None = None
) -> Iterator[None]:
    log = Path(tempfile.mkstemp(suffix=".log")[1])
    with log.open("wb") as output:
        # A session of its own, so that stopping it stops its children too
        # (jco serve runs the component in a child node process).
        process = subprocess.Popen(
            command,
            env={**os.environ, **(env or {})},
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
    try:
        wait_http(url, process, log)
        yield
    finally:
        log.unlink()
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def redis_server() -> Iterator[str]:
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                directory,
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait()


UNITS = {"us": 1.0, "ms": 1000.0, "s": 1_000_000.0}


def wrk(
    url: str, connections: int, method: str = "GET", body: str | None = None
) -> dict[str, float]:
    """p50 (µs) and requests/s of one wrk run."""
    threads = 1 if connections == 1 else 2
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{DURATION}", "--latency"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if method != "GET":
            script.write(
                f'wrk.method = "{method}"\nwrk.body = {json.dumps(body or "")}\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
            )
            script.flush()
            command += ["-s", script.name]
        output = subprocess.run(
            [*command, url], check=True, capture_output=True, text=True
        ).stdout
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if not p50 or not rps:
        raise SystemExit(f"could not read wrk's output:\n{output}")
    if errors:
        raise SystemExit(f"{errors.group(1)} requests to {url} failed:\n{output}")
    return {
        "p50_us": float(p50.group(1)) * UNITS[p50.group(2)],
        "rps": float(rps.group(1)),
    }


def create_session(base: str) -> str:
    request = urllib.request.Request(
        f"{base}/sessions",
        data=CREATE_BODY.encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.load(response)["id"])


def flush(redis_url: str) -> None:
    """Each deployment starts on an empty Redis: `serve` walks the keyspace
    for its gauges when it starts, which would overlap the first cell."""
    subprocess.run(
        ["redis-cli", "-u", redis_url, "flushall"], check=True, capture_output=True
    )


def measure_api(base: str) -> dict[str, object]:
    session = create_session(base)
    figures: dict[str, object] = {}
    for name, method, path, body in [
        ("get", "GET", f"/sessions/{session}", None),
        ("create", "POST", "/sessions", CREATE_BODY),
        ("healthz", "GET", "/healthz", None),
        ("readyz", "GET", "/readyz", None),
    ]:
        one = wrk(base + path, 1, method, body)
        row = {"p50_us": one["p50_us"]}
        if name in ("get", "create"):
            row["rps_32"] = wrk(base + path, 32, method, body)["rps"]
        figures[name] = row
    return figures


def in_process(redis_url: str) -> dict[str, object]:
    binary = str(RELEASE / "host-latency")
    iterations = "300" if QUICK else "2000"
    latency = json.loads(
        subprocess.run(
            [binary, "--redis-url", redis_url, "--iterations", iterations, "--json"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    rows = (
        {row["op"]: row for row in latency["ops"]}
        if isinstance(latency, dict)
        else {r["op"]: r for r in latency}
    )
    throughput = json.loads(
        subprocess.run(
            [
                binary,
                "--redis-url",
                redis_url,
                "--iterations",
                "100" if QUICK else "500",
                "--concurrency",
                "32",
                "--json",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    return {
        "get": {"p50_us": rows["get"]["p50_us"], "rps_32": throughput["get_ops_per_s"]},
        "create": {
            "p50_us": rows["create"]["p50_us"],
            "rps_32": throughput["create_ops_per_s"],
        },
    }


def main() -> None:
    if not shutil.which("wrk"):
        raise SystemExit(
            "wrk is missing: apt-get install -y wrk (make bench-http installs it)"
        )
    results: dict[str, dict[str, object]] = {}
    with redis_server() as redis_url:
        env = {
            "REDIS_URL": redis_url,
            "SESSIONS_API_AUTH": "none",
            "SESSIONS_TTL": "3600",
        }
        print("in-process Rust host ...", file=sys.stderr)
        results["in-process"] = in_process(redis_url)

        port = free_port()
        print("loopback HTTP exchange ...", file=sys.stderr)
        with started(
            [str(RELEASE / "loopback-http"), "--listen", f"127.0.0.1:{port}"],
            f"http://127.0.0.1:{port}/",
        ):
            results["loopback"] = {
                "exchange": {"p50_us": wrk(f"http://127.0.0.1:{port}/", 1)["p50_us"]}
            }

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        print("sessions serve --api ...", file=sys.stderr)
        flush(redis_url)
        native = [
            str(RELEASE / "sessions"),
            "serve",
            "--api",
            "--listen",
            f"127.0.0.1:{port}",
        ]
        with started(native, base + "/healthz", env):
            results["serve --api"] = measure_api(base)

        if WASMTIME.exists() and HTTP_WASM.exists():
            # As `make serve-wasm` runs it (instances reused, so the adapter
            # keeps its Redis connection), then wasmtime serve's default of a
            # fresh instance (new connection, check-layout) per request.
            for name, reuse in [
                ("wasmtime serve", ["--max-instance-reuse-count", "1000"]),
                ("wasmtime fresh", []),
            ]:
                port = free_port()
                base = f"http://127.0.0.1:{port}"
                print(f"{name} ...", file=sys.stderr)
                flush(redis_url)
                command = [
                    str(WASMTIME),
                    "serve",
                    "-Scli",
                    "-Sinherit-network",
                    "--addr",
                    f"127.0.0.1:{port}",
                    *reuse,
                ]
                for variable in env:
                    command += ["--env", variable]
                with started(command + [str(HTTP_WASM)], base + "/healthz", env):
                    results[name] = measure_api(base)
        else:
            print(
                "wasmtime serve: left out (needs make dist and scripts/install-wasmtime-cli.sh)",
                file=sys.stderr,
            )

        if JCO.exists() and HTTP_WASM.exists():
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            print("jco serve ...", file=sys.stderr)
            flush(redis_url)
            jco_env = {**env, "PATH": f"{NODE_BIN}:{os.environ['PATH']}"}
            with started(
                [str(JCO), "serve", "--port", str(port), str(HTTP_WASM)],
                base + "/healthz",
                jco_env,
            ):
                results["jco serve"] = measure_api(base)

    report(results)


def report(results: dict[str, dict[str, object]]) -> None:
    def cell(deployment: str, op: str, key: str) -> float | None:
        row = results.get(deployment, {}).get(op)
        return float(row[key]) if isinstance(row, dict) and key in row else None

    print(
        f"\nHTTP API, one redis-server, wrk {DURATION} per cell (p50 µs at c=1, requests/s at c=32)"
    )
    print(
        f"{'deployment':<16}{'get p50':>10}{'get /s':>10}{'create p50':>12}{'create /s':>11}{'healthz p50':>13}{'readyz p50':>12}"
    )
    for deployment in results:
        if deployment == "loopback":
            continue
        values = [
            cell(deployment, "get", "p50_us"),
            cell(deployment, "get", "rps_32"),
            cell(deployment, "create", "p50_us"),
            cell(deployment, "create", "rps_32"),
            cell(deployment, "healthz", "p50_us"),
            cell(deployment, "readyz", "p50_us"),
        ]
        widths = [10, 10, 12, 11, 13, 12]
        print(
            f"{deployment:<16}"
            + "".join(
                f"{'-' if v is None else f'{v:.0f}':>{w}}"
                for v, w in zip(values, widths)
            )
        )
    loopback = cell("loopback", "exchange", "p50_us") or 0.0
    print(f"one loopback HTTP exchange (wrk, c=1): p50 {loopback:.0f} µs")
    print("\nper-request costs (p50 differences, µs)")
    for deployment in ("serve --api", "wasmtime serve", "jco serve"):
        healthz, readyz = (
            cell(deployment, "healthz", "p50_us"),
            cell(deployment, "readyz", "p50_us"),
        )
        if healthz and readyz:
            print(
                f"  {deployment:<16} front request without storage (healthz) {healthz:.0f}; check-layout round trip (readyz - healthz) {readyz - healthz:.0f}"
            )
    fresh_h, reuse_h = (
        cell("wasmtime fresh", "healthz", "p50_us"),
        cell("wasmtime serve", "healthz", "p50_us"),
    )
    fresh_g, reuse_g = (
        cell("wasmtime fresh", "get", "p50_us"),
        cell("wasmtime serve", "get", "p50_us"),
    )
    if fresh_h and reuse_h and fresh_g and reuse_g:
        instance = fresh_h - reuse_h
        print(
            f"  wasmtime serve: a fresh instance per request {instance:.0f}; plus its Redis connection and check-layout {fresh_g - reuse_g - instance:.0f}"
        )
    ratios = {}
    for op in ("get", "create"):
        inproc = cell("in-process", op, "p50_us")
        native = cell("serve --api", op, "p50_us")
        if inproc and native:
            ratios[f"{op}: serve --api p50 / (in-process p50 + loopback)"] = (
                native / (inproc + loopback),
                1.5,
                "<=",
            )
        inproc_rps = cell("in-process", op, "rps_32")
        native_rps = cell("serve --api", op, "rps_32")
        if inproc_rps and native_rps:
            ratios[f"{op}: serve --api /s at 32 / in-process /s at 32"] = (
                native_rps / inproc_rps,
                0.5,
                ">=",
            )
        wasm = cell("wasmtime serve", op, "p50_us")
        if wasm and native:
            ratios[f"{op}: wasmtime serve p50 / serve --api p50"] = (
                wasm / native,
                2.0,
                "<=",
            )
    print("\nratios (target)")
    for name, (value, target, sense) in ratios.items():
        met = value <= target if sense == "<=" else value >= target
        print(
            f"  {name:<58} {value:5.2f}  ({sense} {target}: {'met' if met else 'MISSED'})"
        )
    out = ROOT / "target" / "bench" / "http.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"results": results, "ratios": {k: v[0] for k, v in ratios.items()}},
            indent=2,
        )
    )
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
