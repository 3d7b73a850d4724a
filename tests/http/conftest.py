"""The HTTP suite's deployments: the one HTTP front served by `jco serve`
(dist/sessions-http.wasm), by `sessions serve --api` (the native host) and
by `wasmtime serve`, each against its own throwaway redis-server.

`SESSIONS_HTTP_DEPLOYMENTS` picks the deployments (comma-separated; default
`jco,native`; `make test-wasmtime-serve` runs `wasmtime-serve`). A missing
redis-server, component or binary fails the run and says how to get it:
nothing here skips.

A deployment is started the first time a test asks for it (one per kind and
configuration, for the whole run) and stopped at the end; its readiness is
GET /healthz answering 200, polled up to a generous deadline.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

import redis

REPO = Path(__file__).resolve().parents[2]
# The throwaway redis-servers are the Python package's tests' (one owner).
sys.path.insert(0, str(REPO / "python" / "tests"))
from redis_servers import RedisServer, free_port  # noqa: E402

# SESSIONS_HTTP_WASM: another composed component (e.g. one built elsewhere).
HTTP_WASM = Path(os.environ.get("SESSIONS_HTTP_WASM", REPO / "dist" / "sessions-http.wasm"))
JS_NODE = REPO / "js" / "node_modules" / ".bin" / "node"
JCO = REPO / "js" / "node_modules" / ".bin" / "jco"
SESSIONS = REPO / "target" / "debug" / "sessions"
WASMTIME = Path(os.environ.get("WASMTIME", REPO / "target" / "tools" / "bin" / "wasmtime"))

KINDS = ("jco", "native", "wasmtime-serve")
SELECTED = [k.strip() for k in os.environ.get("SESSIONS_HTTP_DEPLOYMENTS", "jco,native").split(",") if k.strip()]
for _kind in SELECTED:
    if _kind not in KINDS:
        raise pytest.UsageError(f"SESSIONS_HTTP_DEPLOYMENTS names {_kind!r}; known: {', '.join(KINDS)}")

# One token per run: the tests also check that it never shows in a body.
TOKEN = "tok-" + secrets.token_hex(16)
# A request that hangs fails the test at this bound instead of hanging it.
CLIENT_TIMEOUT = 30.0
# jco transpiles the component at every start and wasmtime compiles it: on a
# loaded 2-core machine that can take a while, so the deadline is generous.
START_DEADLINE = 240.0

# The configurations a test can ask for, by name: the environment variables
# each deployment gets besides REDIS_URL. `default` is what the `api`
# fixture serves; the others exist for the conformance scenarios whose
# settings or prefix differ (009: TTL 600 s and grace 60 s; 010: a prefix)
# and for the auth and body-limit cases.
CONFIGS: dict[str, dict[str, str]] = {
    "default": {"SESSIONS_API_TOKEN": TOKEN},
    # The TTL in the CLI's duration syntax, to show it is parsed as such.
    "ttl600": {
        "SESSIONS_API_AUTH": "none",
        "SESSIONS_TTL": "10m",
        "SESSIONS_GRACE": "60",
        "SESSIONS_API_MAX_BODY": "4096",
    },
    "tenant": {"SESSIONS_API_TOKEN": TOKEN, "SESSIONS_PREFIX": "tenant-a:"},
    # Neither a token nor the opt-out: every request but /healthz is refused.
    "no-token": {},
}
# Bounded Redis timeouts so that a stopped Redis is noticed in seconds.
COMMON_ENV = {"SESSIONS_REDIS_TIMEOUT": "2s"}


def hint(kind: str) -> str:
    return {
        "jco": "run `make js` (installs js/node_modules with jco and the pinned Node) and `make dist`",
        "native": "build the CLI: `cargo build -p agent-sessions-host --bin sessions`",
        "wasmtime-serve": "run `scripts/install-wasmtime-cli.sh` (installs wasmtime-cli 48.0.8 into target/tools/bin)"
        " and `make dist`",
    }[kind]


def require(path: Path, what: str, how: str) -> None:
    if not path.exists():
        pytest.fail(f"{what} is missing at {path}: {how}", pytrace=False)


@dataclass
class Deployment:
    """One running server: its kind, configuration, Redis and process."""

    kind: str
    config: str
    env: dict[str, str]
    redis: RedisServer
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = field(default=0)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def prefix(self) -> str:
        return self.env.get("SESSIONS_PREFIX", "")

    @property
    def token(self) -> str | None:
        return self.env.get("SESSIONS_API_TOKEN")

    def command(self) -> list[str]:
        if self.kind == "jco":
            require(JS_NODE, "the pinned Node (js/node_modules/.bin/node)", hint("jco"))
            require(JCO, "jco (js/node_modules/.bin/jco)", hint("jco"))
            require(HTTP_WASM, "dist/sessions-http.wasm", "run `make dist`")
            # jco serve re-runs the Node that runs it for the server: the pinned one.
            return [
                str(JS_NODE),
                str(JCO.resolve()),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                str(HTTP_WASM),
            ]
        if self.kind == "native":
            require(SESSIONS, "the Rust CLI (target/debug/sessions)", hint("native"))
            # No scheduled cleanup or stats walk during the tests: both would
            # touch Redis behind the scenarios' backs (the first walk runs at
            # start, before the first test's requests).
            return [
                str(SESSIONS), "serve", "--api", "--listen", f"127.0.0.1:{self.port}",
                "--cleanup-interval", "1d", "--stats-interval", "1d",
            ]  # fmt: skip
        require(WASMTIME, "wasmtime (target/tools/bin/wasmtime)", hint("wasmtime-serve"))
        require(HTTP_WASM, "dist/sessions-http.wasm", "run `make dist`")
        # `--env NAME`: the value comes from serve's own environment, so no
        # token shows in the command line.
        envs = [f"--env={name}" for name in sorted(self.process_env(inherit=False))]
        return [
            str(WASMTIME), "serve", "-Scli", "-Sinherit-network", "--addr", f"127.0.0.1:{self.port}",
            *envs, str(HTTP_WASM),
        ]  # fmt: skip

    def process_env(self, inherit: bool = True) -> dict[str, str]:
        ours = {"REDIS_URL": self.redis.url, **COMMON_ENV, **self.env}
        if not inherit:
            return ours
        # The deployment sees only our settings, not the caller's leftovers.
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SESSIONS_", "REDIS_"))}
        return {**base, **ours}

    def start(self) -> None:
        command = self.command()
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"--- start {self.starts}: {' '.join(command)}\n".encode())
            self.process = subprocess.Popen(
                command,
                cwd=REPO,
                env=self.process_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: jco serve runs the server in a child.
                start_new_session=True,
            )
        deadline = time.monotonic() + START_DEADLINE
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self.process.poll() is not None:
                    code = self.process.returncode
                    pytest.fail(f"{self.kind} exited with {code} before /healthz:\n{self.log_tail()}", pytrace=False)
                try:
                    if client.get(f"{self.base_url}/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(
                        f"{self.kind} did not answer /healthz within {START_DEADLINE:.0f} s:\n{self.log_tail()}",
                        pytrace=False,
                    )
                time.sleep(0.05)  # polling interval of a readiness probe

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        # The group is ours (start_new_session): the server and any child.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def flush(self) -> None:
        """An empty Redis for the next test (restarted if a test stopped it)."""
        if self.redis.process is None or self.redis.process.poll() is not None:
            self.redis.start()
        client = self.redis.client()
        client.flushall()
        client.close()
        if not self.alive():
            pytest.fail(f"the {self.kind} server died:\n{self.log_tail()}", pytrace=False)


class Deployments:
    """Deployments by (kind, configuration), started on first use."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[tuple[str, str], Deployment] = {}

    def get(self, kind: str, config: str = "default") -> Deployment:
        key = (kind, config)
        if key not in self.running:
            if shutil.which("redis-server") is None:
                pytest.fail("redis-server is not installed: run `make setup` (or apt-get install redis-server)")
            deployment = Deployment(
                kind=kind,
                config=config,
                env=dict(CONFIGS[config]),
                redis=RedisServer(),
                port=free_port(),
                log=self.logs / f"{kind}-{config}.log",
            )
            self.running[key] = deployment
            deployment.start()
        return self.running[key]

    def stop_all(self) -> None:
        for deployment in self.running.values():
            deployment.stop()
            deployment.redis.stop()


@pytest.fixture(scope="session")
def deployments(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployments]:
    pool = Deployments(tmp_path_factory.mktemp("http-logs"))
    yield pool
    pool.stop_all()


@pytest.fixture(params=SELECTED, scope="session")
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Api:
    """An HTTP client of one deployment (token sent unless told otherwise)
    and a redis-py client of its Redis, for looking at the layout."""

    def __init__(self, deployment: Deployment, token: str | None = TOKEN) -> None:
        self.deployment = deployment
        self.kind = deployment.kind
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=deployment.base_url, timeout=CLIENT_TIMEOUT, headers=headers)
        self.redis: redis.Redis[str] = deployment.redis.client()
        self.prefix = deployment.prefix

    def close(self) -> None:
        self.http.close()
        self.redis.close()

    def client(self, timeout: float = CLIENT_TIMEOUT) -> httpx.Client:
        """Another connection with the same token (for concurrent requests)."""
        return httpx.Client(base_url=self.deployment.base_url, timeout=timeout, headers=dict(self.http.headers))

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.patch(path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.delete(path, **kwargs)

    def create(self, **fields: Any) -> dict[str, Any]:
        """POST /sessions; the created session (asserting 201)."""
        body = {"model_id": "gpt-test", **fields}
        response = self.post("/sessions", json=body)
        assert response.status_code == 201, describe(response)
        document: dict[str, Any] = response.json()
        return document

    def key(self, name: str) -> str:
        return self.prefix + name


def session_path(session_id: str, *rest: str) -> str:
    """/sessions/{id}/... with the id percent-encoded."""
    return "/".join(["/sessions", quote(session_id, safe=""), *rest])


def describe(response: httpx.Response) -> str:
    """The request and response, for assertion messages (never the token)."""
    request = response.request
    body = request.content[:300].decode(errors="replace") if request.content else ""
    headers = {k: v for k, v in response.headers.items()}
    return (
        f"{request.method} {request.url.raw_path.decode()} {body}\n"
        f"-> {response.status_code} {headers}\n{response.text[:2000]}"
    )


@pytest.fixture
def api(kind: str, deployments: Deployments) -> Iterator[Api]:
    """The default deployment of `kind`, with an empty Redis."""
    deployment = deployments.get(kind)
    deployment.flush()
    client = Api(deployment)
    yield client
    client.close()


# Conformance counts, per deployment, printed at the end of the run.
CONFORMANCE_COUNTS: dict[str, dict[str, int]] = {}
CONFORMANCE_NOTES: dict[str, list[str]] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not CONFORMANCE_COUNTS:
        return
    terminalreporter.section("conformance scenarios over HTTP")
    for kind, counts in sorted(CONFORMANCE_COUNTS.items()):
        terminalreporter.write_line(
            f"{kind}: {counts.get('scenarios_whole', 0)} scenarios run whole, "
            f"{counts.get('scenarios_partial', 0)} in part, {counts.get('scenarios_na', 0)} not applicable; "
            f"steps run {counts.get('steps_run', 0)}, skipped {counts.get('steps_skipped', 0)}, "
            f"not reached {counts.get('steps_not_reached', 0)}"
        )
    for kind, notes in sorted(CONFORMANCE_NOTES.items()):
        for note in notes:
            terminalreporter.write_line(f"  {kind}: {note}")
