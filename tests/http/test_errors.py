"""Refused requests: auth (401, nothing read or written), body limit (413),
content type (415), malformed JSON (400), unknown routes (404), wrong
methods (405 with Allow). Every error body a problem document."""

from __future__ import annotations

import select
import socket
from typing import Any

import httpx
import pytest
from checks import JSON_HEADERS, body_json, problem
from conftest import CLIENT_TIMEOUT, TOKEN, Api, Deployment, Deployments, describe, session_path

# Every route, with a body where it takes one: the 401 cases send each.
ROUTES: list[tuple[str, str, Any]] = [
    ("POST", "/sessions", {"model_id": "m"}),
    ("GET", "/sessions", None),
    ("GET", "/sessions/s1", None),
    ("PATCH", "/sessions/s1", {"name": "x"}),
    ("DELETE", "/sessions/s1", None),
    ("POST", "/sessions/s1/extend", None),
    ("GET", "/sessions/s1/items", None),
    ("POST", "/sessions/s1/items", ["x"]),
    ("DELETE", "/sessions/s1/items", None),
    ("POST", "/sessions/s1/items/pop", None),
    ("GET", "/sessions/s1/items/count", None),
    ("GET", "/apps/shop/sessions", None),
    ("POST", "/cleanup", None),
    ("GET", "/stats", None),
    ("GET", "/readyz", None),
    ("GET", "/openapi.json", None),
]


def redis_activity(api: Api) -> dict[str, int]:
    """Calls per command since start, without the INFO that asks."""
    stats = api.redis.info("commandstats")
    return {name: int(value["calls"]) for name, value in stats.items() if name != "cmdstat_info"}


def refused_everywhere(deployment: Deployment, headers: dict[str, str]) -> None:
    """Every route answers 401 with WWW-Authenticate: Bearer, and Redis sees
    no command at all (INFO commandstats before and after)."""
    deployment.flush()
    api = Api(deployment, token=None)
    try:
        api.redis.set("canary", "1")
        before = redis_activity(api)
        keys_before = sorted(api.redis.keys("*"))
        with httpx.Client(base_url=deployment.base_url, timeout=CLIENT_TIMEOUT) as client:
            for number, (method, path, body) in enumerate(ROUTES):
                try:
                    response = client.request(method, path, json=body, headers=headers)
                except httpx.TransportError as error:
                    raise AssertionError(f"request {number} ({method} {path}) got no response: {error!r}") from None
                document = problem(response, 401, "unauthorized")
                assert response.headers.get("www-authenticate", "").startswith("Bearer"), describe(response)
                assert TOKEN not in response.text and "wrong-token" not in response.text, describe(response)
                assert document["detail"], describe(response)
            # /healthz is open to all.
            assert client.get("/healthz", headers=headers).status_code == 200
        assert sorted(api.redis.keys("*")) == keys_before
        after = redis_activity(api)
        # KEYS is ours; nothing else ran.
        after.pop("cmdstat_keys", None)
        before.pop("cmdstat_keys", None)
        assert after == before, f"Redis saw commands during refused requests: {before} -> {after}"
    finally:
        api.close()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer"},
    ],
    ids=["no-header", "wrong-token", "token-prefix", "basic-scheme", "empty-bearer"],
)
def test_missing_or_wrong_token_is_401_and_touches_nothing(
    kind: str, deployments: Deployments, headers: dict[str, str]
) -> None:
    refused_everywhere(deployments.get(kind), headers)


def test_without_a_configured_token_everything_is_401(kind: str, deployments: Deployments) -> None:
    deployment = deployments.get(kind, "no-token")
    refused_everywhere(deployment, {"Authorization": f"Bearer {TOKEN}"})
    with httpx.Client(base_url=deployment.base_url, timeout=CLIENT_TIMEOUT) as client:
        document = problem(client.get("/sessions"), 401, "unauthorized")
    # The detail says how to configure a token.
    assert "SESSIONS_API_TOKEN" in document["detail"], document


def test_auth_none_opts_out(kind: str, deployments: Deployments) -> None:
    deployment = deployments.get(kind, "ttl600")
    deployment.flush()
    with httpx.Client(base_url=deployment.base_url, timeout=CLIENT_TIMEOUT) as client:
        body_json(client.post("/sessions", json={"model_id": "m"}), 201)
        body_json(client.get("/sessions"), 200)


def test_body_over_the_default_limit_is_413(api: Api) -> None:
    created = api.create()
    # 8 MiB (the default SESSIONS_API_MAX_BODY) plus one byte.
    body = b'["' + b"x" * (8 * 1024 * 1024 - 3) + b'"]'
    assert len(body) == 8 * 1024 * 1024 + 1
    problem(
        api.post(session_path(created["id"], "items"), content=body, headers=JSON_HEADERS), 413, "payload_too_large"
    )
    assert api.redis.exists(f"session:{created['id']}:items") == 0
    # Exactly the limit is read (and then refused by the component's own
    # item limits, not by the HTTP limit).
    response = api.post(session_path(created["id"], "items"), content=body[:-2] + b"]", headers=JSON_HEADERS)
    assert response.status_code != 413, describe(response)


def test_body_limit_from_the_environment(kind: str, deployments: Deployments) -> None:
    # SESSIONS_API_MAX_BODY=4096 on this configuration (auth opted out).
    deployment = deployments.get(kind, "ttl600")
    deployment.flush()
    with httpx.Client(base_url=deployment.base_url, timeout=CLIENT_TIMEOUT) as client:
        response = client.post("/sessions", json={"model_id": "m", "custom_prompt": "p" * 5000})
        problem(response, 413, "payload_too_large")
        # Without Content-Length (chunked), the limit still holds.
        chunks = iter([b'{"model_id":"m","custom_prompt":"', b"p" * 5000, b'"}'])
        response = client.post("/sessions", content=chunks, headers=JSON_HEADERS)
        problem(response, 413, "payload_too_large")
        body_json(client.post("/sessions", json={"model_id": "m", "custom_prompt": "p" * 3000}), 201)
    client_redis = deployment.redis.client()
    try:
        assert len(client_redis.smembers("active_sessions")) == 1
    finally:
        client_redis.close()


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"],
    ids=["none", "text", "form", "jsonx"],
)
def test_wrong_content_type_is_415(api: Api, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = api.post("/sessions", content=b'{"model_id":"m"}', headers=headers)
    problem(response, 415, "unsupported_media_type")
    assert api.redis.keys("*") == []
    api.create(id="s1")
    for method, path, body in (
        ("PATCH", "/sessions/s1", b'{"name":"x"}'),
        ("POST", "/sessions/s1/items", b'["x"]'),
        ("POST", "/sessions/s1/items/pop", b"{}"),
        ("DELETE", "/sessions/s1/items", b"{}"),
    ):
        problem(api.request(method, path, content=body, headers=headers), 415, "unsupported_media_type")
    assert api.redis.hget("session:s1:meta", "version") == "1"


def test_json_content_type_with_parameters_is_accepted(api: Api) -> None:
    response = api.post(
        "/sessions", content=b'{"model_id":"m"}', headers={"Content-Type": "application/json; charset=utf-8"}
    )
    body_json(response, 201)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/sessions"),
        ("PATCH", "/sessions/s1"),
        ("POST", "/sessions/s1/items"),
    ],
)
def test_malformed_json_is_400(api: Api, method: str, path: str) -> None:
    api.create(id="s1")
    response = api.request(method, path, content=b'{"model_id": "m",\n  oops}', headers=JSON_HEADERS)
    document = problem(response, 400, "malformed_json")
    # The parser's line and column.
    assert "line 2" in document["detail"] and "column" in document["detail"], document


def test_wrong_json_shape_is_invalid_input(api: Api) -> None:
    # Valid JSON, not a SessionCreate: an invalid request, never a 500.
    for body in (b"[]", b"42", b'{"model_id": 5}', b'{"model_id": "m", "bogus": 1}'):
        response = api.post("/sessions", content=body, headers=JSON_HEADERS)
        assert response.status_code in (400, 422), describe(response)
        problem(response, response.status_code, "invalid_input")


@pytest.mark.parametrize(
    "path",
    ["/", "/nope", "/sessions/s1/nope", "/sessions/s1/items/pop/x", "/apps/shop", "/apps/shop/sessions/x", "/session"],
)
def test_unknown_paths_are_404(api: Api, path: str) -> None:
    problem(api.get(path), 404, "not_found")
    problem(api.post(path, json={}), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/sessions", {"GET", "POST"}),
        ("DELETE", "/sessions", {"GET", "POST"}),
        ("PUT", "/sessions/s1", {"GET", "PATCH", "DELETE"}),
        ("POST", "/sessions/s1", {"GET", "PATCH", "DELETE"}),
        ("GET", "/sessions/s1/extend", {"POST"}),
        ("PUT", "/sessions/s1/items", {"GET", "POST", "DELETE"}),
        ("GET", "/sessions/s1/items/pop", {"POST"}),
        ("POST", "/sessions/s1/items/count", {"GET"}),
        ("POST", "/apps/shop/sessions", {"GET"}),
        ("GET", "/cleanup", {"POST"}),
        ("POST", "/stats", {"GET"}),
        ("POST", "/healthz", {"GET"}),
        ("DELETE", "/readyz", {"GET"}),
        ("POST", "/openapi.json", {"GET"}),
    ],
)
def test_wrong_method_is_405_with_allow(api: Api, method: str, path: str, allowed: set[str]) -> None:
    response = api.request(method, path)
    problem(response, 405, "method_not_allowed")
    allow = {m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()}
    # HEAD/OPTIONS may be listed too; the route's own methods must be.
    assert allowed <= allow, describe(response)
    assert method not in allow, describe(response)


def test_tokens_never_reach_the_logs(kind: str, deployments: Deployments) -> None:
    deployment = deployments.get(kind)
    deployment.flush()
    wrong = "wrong-" + TOKEN[::-1]
    with httpx.Client(base_url=deployment.base_url, timeout=CLIENT_TIMEOUT) as client:
        for token in (TOKEN, wrong):
            client.get("/sessions", headers={"Authorization": f"Bearer {token}"})
            client.post("/sessions", json={"model_id": "m"}, headers={"Authorization": f"Bearer {token}"})
    # The server's own output so far (stdout and stderr share the log).
    log = deployment.log.read_text(errors="replace")
    assert TOKEN not in log and wrong not in log, "a bearer token shows in the server's output"


REFUSED_ROUNDS = 100
# The first rounds send the body only after the answer (bounded wait).
LATE_BODY_ROUNDS = 10
LATE_BODY_WAIT = 0.2


def read_response(sock: socket.socket) -> tuple[int, dict[str, str]] | None:
    """One HTTP/1.1 response (Content-Length framed) from a raw socket: its
    status and headers; None when the server closed the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    while len(rest) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        if not chunk:
            return None
        rest += chunk
    return int(status_line.split()[1]), headers


@pytest.mark.parametrize(
    ("method", "path", "token"),
    [
        ("POST", "/sessions", "wrong-token"),  # 401 before the body is read
        ("POST", "/nope", TOKEN),  # 404
        ("PUT", "/sessions", TOKEN),  # 405
    ],
    ids=["401", "404", "405"],
)
def test_a_refused_body_leaves_the_connection_usable(
    kind: str, deployments: Deployments, method: str, path: str, token: str
) -> None:
    """A request refused before its body is read (auth, route, method) must
    not break the keep-alive connection: the server drains the body, or its
    response says `Connection: close`. The body goes in a write of its own
    after the head (as clients send large bodies), so that it often arrives
    after the server has answered."""
    deployment = deployments.get(kind)
    deployment.flush()
    body = b'{"model_id":"m"}'
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    broken = 0
    for number in range(REFUSED_ROUNDS):
        with socket.create_connection(("127.0.0.1", deployment.port), timeout=CLIENT_TIMEOUT) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(head)
            if number < LATE_BODY_ROUNDS:
                # A slow client: the body follows once the server has
                # answered (or after a bound, if it waits for the body).
                select.select([sock], [], [], LATE_BODY_WAIT)
            sock.sendall(body)
            refused = read_response(sock)
            assert refused is not None and refused[0] in (401, 404, 405), refused
            if refused[1].get("connection", "").lower() == "close":
                continue
            try:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                after = read_response(sock)
            except OSError:
                after = None
            if after is None:
                broken += 1
            else:
                assert after[0] == 200, after
    assert broken == 0, (
        f"{broken} of {REFUSED_ROUNDS} connections were closed after a {method} {path} answered "
        f"{refused[0]} without `Connection: close`: the next request on them got no response"
    )
