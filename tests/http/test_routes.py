"""Every route of the HTTP API with its success statuses and bodies, and
what it leaves in Redis (docs/redis-layout.md), read directly."""

from __future__ import annotations

import re
from urllib.parse import quote

from checks import JSON_HEADERS, assert_etag, body_json, compact, problem
from conftest import SELECTED, Api, Deployments, describe, session_path

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def test_healthz(api: Api) -> None:
    response = api.get("/healthz")
    assert body_json(response, 200) == {"status": "ok"}


def test_readyz(api: Api) -> None:
    document = body_json(api.get("/readyz"), 200)
    assert document["status"] == "ready", document
    assert isinstance(document["shards"], int), document


def test_create_returns_201_location_etag_and_writes_the_layout(api: Api) -> None:
    response = api.post(
        "/sessions",
        json={"model_id": "gpt-4", "name": "Chat", "temperature": 0.7, "tools": ["search"], "max_tokens": 2000},
    )
    session = body_json(response, 201)
    session_id = session["id"]
    assert UUID.match(session_id), session
    assert response.headers.get("location") == f"/sessions/{session_id}", describe(response)
    assert_etag(response, 1)
    assert session["version"] == 1 and session["model_id"] == "gpt-4" and session["tools"] == ["search"]
    assert session["status"] == "running" and session["is_active"] is True
    assert TIMESTAMP.match(session["created_at"]), session
    assert 3590 <= session["expires_in_seconds"] <= 3600, session

    r = api.redis
    assert r.type(f"session:{session_id}:data") == "hash"
    assert r.type(f"session:{session_id}:meta") == "hash"
    data = r.hgetall(f"session:{session_id}:data")
    assert data["model_id"] == "gpt-4" and data["temperature"] == "0.7" and data["tools"] == '["search"]', data
    assert data["persona_id"] == "" and data["max_tokens"] == "2000", data
    meta = r.hgetall(f"session:{session_id}:meta")
    assert meta["version"] == "1" and meta["status"] == "running" and meta["is_active"] == "true", meta
    assert r.get(f"session_expiry:{session_id}") == ""
    assert 3590 <= r.ttl(f"session_expiry:{session_id}") <= 3600
    assert 3890 <= r.ttl(f"session:{session_id}:data") <= 3900
    assert r.smembers("active_sessions") == {session_id}
    assert r.zscore("session_index", session_id) is not None
    assert sorted(r.keys("*")) == sorted(
        ["active_sessions", "session_index", f"session:{session_id}:data", f"session:{session_id}:meta",
         f"session_expiry:{session_id}"]
    )  # fmt: skip


def test_create_with_a_caller_id_and_an_owner(api: Api) -> None:
    response = api.post(
        "/sessions",
        json={"id": "Chat-42", "model_id": "m", "app_name": "my app", "user_id": "ana", "state": {"topic": "x"}},
    )
    session = body_json(response, 201)
    assert session["id"] == "Chat-42" and session["app_name"] == "my app" and session["user_id"] == "ana"
    assert response.headers.get("location") == "/sessions/Chat-42"
    assert api.redis.zrange("owner_index:my%20app:ana", 0, -1) == ["Chat-42"]
    assert api.redis.hgetall("session:Chat-42:state") == {"topic": '"x"'}


def test_create_conflict_when_the_id_is_taken(api: Api) -> None:
    api.create(id="taken")
    problem(api.post("/sessions", json={"id": "taken", "model_id": "m"}), 409, "conflict")


def test_create_invalid_input_names_the_field(api: Api) -> None:
    problem(api.post("/sessions", json={"model_id": "m", "temperature": 5}), 422, "invalid_input", "temperature")
    problem(api.post("/sessions", json={"model_id": ""}), 422, "invalid_input", "model_id")
    assert api.redis.keys("*") == []


def test_get(api: Api) -> None:
    created = api.create(name="n")
    response = api.get(session_path(created["id"]))
    session = body_json(response, 200)
    assert session == {**created, "expires_in_seconds": session["expires_in_seconds"]}
    assert_etag(response, 1)


def test_get_missing_is_404(api: Api) -> None:
    document = problem(api.get("/sessions/no-such-session"), 404, "not_found")
    assert "no-such-session" in document["detail"]


def test_get_invalid_id_is_422(api: Api) -> None:
    # Percent-decoded before use: "a b" is refused as an id, not as a path.
    problem(api.get("/sessions/a%20b"), 422, "invalid_input")


def test_path_ids_are_percent_decoded(api: Api) -> None:
    api.create(id="Chat-42")
    response = api.get("/sessions/Chat%2D42")
    assert body_json(response, 200)["id"] == "Chat-42"


def test_update(api: Api) -> None:
    created = api.create(name="before", tools=["a"])
    response = api.patch(session_path(created["id"]), json={"name": "after", "clear": ["tools"]})
    session = body_json(response, 200)
    assert session["name"] == "after" and session["tools"] == [] and session["version"] == 2
    assert_etag(response, 2)
    assert api.redis.hget(f"session:{created['id']}:meta", "version") == "2"
    assert api.redis.hget(f"session:{created['id']}:data", "tools") == "[]"


def test_update_missing_invalid_and_body_conflict(api: Api) -> None:
    problem(api.patch("/sessions/nope", json={"name": "x"}), 404, "not_found")
    created = api.create()
    problem(api.patch(session_path(created["id"]), json={"max_tokens": 0}), 422, "invalid_input", "max_tokens")
    # expected_version in the body (no If-Match): a plain conflict.
    problem(api.patch(session_path(created["id"]), json={"name": "x", "expected_version": 9}), 409, "conflict")


def test_delete(api: Api) -> None:
    created = api.create()
    response = api.delete(session_path(created["id"]))
    assert response.status_code == 204, describe(response)
    assert response.content == b""
    assert api.redis.keys("session*") == []
    assert api.redis.smembers("active_sessions") == set()
    problem(api.delete(session_path(created["id"])), 404, "not_found")


def test_list(api: Api) -> None:
    ids = [api.create(name=f"s{i}")["id"] for i in range(3)]
    page = body_json(api.get("/sessions", params={"limit": 2}), 200)
    assert page["total"] == 3 and page["limit"] == 2 and page["offset"] == 0 and len(page["sessions"]) == 2
    assert page["corrupt"] == []
    token = page["next_page_token"]
    assert isinstance(token, str)
    rest = body_json(api.get("/sessions", params={"limit": 2, "page_token": token}), 200)
    assert rest.get("next_page_token") is None
    seen = [s["id"] for s in page["sessions"] + rest["sessions"]]
    assert sorted(seen) == sorted(ids)
    by_offset = body_json(api.get("/sessions", params={"limit": 2, "offset": 2}), 200)
    assert [s["id"] for s in by_offset["sessions"]] == [rest["sessions"][0]["id"]]


def test_list_default_limit_and_bounds(api: Api) -> None:
    page = body_json(api.get("/sessions"), 200)
    assert page["limit"] == 50 and page["sessions"] == [] and page["total"] == 0
    assert body_json(api.get("/sessions", params={"limit": 1000}), 200)["limit"] == 1000
    problem(api.get("/sessions", params={"limit": 1001}), 422, "invalid_input", "limit")
    # Not a number: the request itself is malformed.
    problem(api.get("/sessions", params={"limit": "ten"}), 400, "invalid_input")
    problem(api.get("/sessions", params={"offset": "-1"}), 400, "invalid_input")
    problem(api.get("/sessions", params={"page_token": "not-a-token"}), 422, "invalid_input")


def test_extend(api: Api) -> None:
    created = api.create()
    api.redis.expire(f"session_expiry:{created['id']}", 100)
    response = api.post(session_path(created["id"], "extend"))
    assert response.status_code == 204, describe(response)
    assert api.redis.ttl(f"session_expiry:{created['id']}") > 3500
    # Gone: expiry simulated by deleting the expiry key.
    api.redis.delete(f"session_expiry:{created['id']}")
    problem(api.post(session_path(created["id"], "extend")), 404, "not_found")


def test_append_items_array_and_object(api: Api) -> None:
    created = api.create()
    path = session_path(created["id"], "items")
    items = [{"role": "user", "content": "héllo"}, "text", 42]
    response = api.post(path, content=compact(items), headers=JSON_HEADERS)
    receipt = body_json(response, 200)
    assert receipt["count"] == 3 and receipt["version"] == 2 and receipt["created"] is False, receipt
    assert_etag(response, 2)
    response = api.post(path, content=compact({"items": [{"b": 1, "a": 2}], "keep_last": 2}), headers=JSON_HEADERS)
    receipt = body_json(response, 200)
    assert receipt["count"] == 2 and receipt["version"] == 3
    # Each item kept byte for byte as sent (keys in the caller's order).
    assert api.redis.lrange(f"session:{created['id']}:items", 0, -1) == ["42", '{"b":1,"a":2}']


def test_append_items_create_if_missing_is_201(api: Api) -> None:
    response = api.post(
        session_path("conv-new", "items"),
        json={"items": ["first"], "create_if_missing": {"model_id": "m"}},
    )
    receipt = body_json(response, 201)
    assert receipt["created"] is True and receipt["id"] == "conv-new" and receipt["count"] == 1
    assert response.headers.get("location") == "/sessions/conv-new"
    assert_etag(response, receipt["version"])
    # The second time it exists: a plain 200.
    response = api.post(
        session_path("conv-new", "items"), json={"items": ["x"], "create_if_missing": {"model_id": "m"}}
    )
    assert body_json(response, 200)["created"] is False


def test_append_items_missing_and_invalid(api: Api) -> None:
    problem(api.post(session_path("nope", "items"), json=["x"]), 404, "not_found")
    created = api.create()
    problem(api.post(session_path(created["id"], "items"), json=[]), 422, "invalid_input")
    problem(api.post(session_path(created["id"], "items"), json={"items": ["x"], "keep_last": 0}), 422, "invalid_input")


def test_get_items_queries(api: Api) -> None:
    created = api.create()
    path = session_path(created["id"], "items")
    api.post(path, json=list(range(10)))
    response = api.get(path)
    page = body_json(response, 200)
    assert page["items"] == list(range(10)) and page["total"] == 10 and page["first_index"] == 0
    assert page["left_out"] == 0 and page["version"] == 2 and "session" not in page
    assert_etag(response, 2)
    assert body_json(api.get(path, params={"last": 3}), 200)["items"] == [7, 8, 9]
    ranged = body_json(api.get(path, params={"start": 2, "stop": 4}), 200)
    assert ranged["items"] == [2, 3, 4] and ranged["first_index"] == 2
    assert body_json(api.get(path, params={"start": 8}), 200)["items"] == [8, 9]
    whole = body_json(api.get(path, params={"whole": "true"}), 200)
    assert whole["items"] == list(range(10))
    with_session = body_json(api.get(path, params={"last": 0, "include_session": "true"}), 200)
    assert with_session["items"] == [] and with_session["session"]["id"] == created["id"]
    assert with_session["state"] == {}


def test_get_items_missing_and_bad_query(api: Api) -> None:
    problem(api.get(session_path("nope", "items")), 404, "not_found")
    created = api.create()
    path = session_path(created["id"], "items")
    problem(api.get(path, params={"last": "x"}), 400, "invalid_input")
    problem(api.get(path, params={"start": 5, "stop": 2}), 422, "invalid_input")


def test_count_items(api: Api) -> None:
    created = api.create()
    api.post(session_path(created["id"], "items"), json=["a", "b"])
    response = api.get(session_path(created["id"], "items", "count"))
    assert body_json(response, 200) == {"id": created["id"], "count": 2, "version": 2}
    assert_etag(response, 2)
    problem(api.get(session_path("nope", "items", "count")), 404, "not_found")


def test_pop_item(api: Api) -> None:
    created = api.create()
    api.post(session_path(created["id"], "items"), json=["a", {"b": 1}])
    response = api.post(session_path(created["id"], "items", "pop"))
    popped = body_json(response, 200)
    assert popped == {"id": created["id"], "item": {"b": 1}, "version": 3, "count": 1}
    assert_etag(response, 3)
    api.post(session_path(created["id"], "items", "pop"))
    # Nothing left: item null, nothing written, the version stays.
    empty = body_json(api.post(session_path(created["id"], "items", "pop")), 200)
    assert empty["item"] is None and empty["version"] == 4 and empty["count"] == 0
    problem(api.post(session_path("nope", "items", "pop")), 404, "not_found")


def test_clear_items(api: Api) -> None:
    created = api.create()
    api.post(session_path(created["id"], "items"), json=["a", "b"])
    response = api.delete(session_path(created["id"], "items"))
    receipt = body_json(response, 200)
    assert receipt["count"] == 0 and receipt["version"] == 3
    assert_etag(response, 3)
    assert api.redis.exists(f"session:{created['id']}:items") == 0
    problem(api.delete(session_path("nope", "items")), 404, "not_found")


def test_list_by_owner(api: Api) -> None:
    for session_id, user in (("o1", "ana"), ("o2", "ana"), ("o3", "ben")):
        api.create(id=session_id, app_name="shop/eu", user_id=user, state={"app:theme": "dark", "user:lang": user})
    path = f"/apps/{quote('shop/eu', safe='')}/sessions"
    page = body_json(api.get(path, params={"user_id": "ana"}), 200)
    assert sorted(s["id"] for s in page["sessions"]) == ["o1", "o2"]
    assert page["app_state"] == {"theme": "dark"} and page["user_states"] == {"ana": {"lang": "ana"}}
    assert page.get("next_page_token") is None and page["corrupt"] == []
    everyone = body_json(api.get(path, params={"limit": 2}), 200)
    assert len(everyone["sessions"]) == 2 and isinstance(everyone["next_page_token"], str)
    rest = body_json(api.get(path, params={"limit": 2, "page_token": everyone["next_page_token"]}), 200)
    assert len(rest["sessions"]) == 1
    assert body_json(api.get("/apps/none/sessions"), 200)["sessions"] == []
    problem(api.get(path, params={"limit": "x"}), 400, "invalid_input")
    problem(api.get(path, params={"limit": 0}), 422, "invalid_input", "limit")
    problem(api.get(path, params={"page_token": "not-a-token"}), 422, "invalid_input")


def test_cleanup(api: Api) -> None:
    kept = api.create()
    gone = api.create()
    api.redis.delete(f"session_expiry:{gone['id']}")
    report = body_json(api.post("/cleanup"), 200)
    assert report == {"removed": 1, "skipped": 0, "problems": []}
    assert api.redis.exists(f"session:{gone['id']}:data") == 0
    assert api.redis.exists(f"session:{kept['id']}:data") == 1


def test_stats(api: Api) -> None:
    api.create(status="idle")
    api.create(status="completed")
    stats = body_json(api.get("/stats"), 200)
    assert stats["sessions"] == 2 and stats["active"] == 1 and stats["inactive"] == 1
    assert stats["by_status"] == {"idle": 1, "completed": 1}
    assert stats["problems"] == []


def test_openapi_is_served(api: Api) -> None:
    document = body_json(api.get("/openapi.json"), 200)
    assert document["openapi"].startswith("3.1"), document.get("openapi")
    paths = document["paths"]
    for path in (
        "/sessions", "/sessions/{id}", "/sessions/{id}/extend", "/sessions/{id}/items", "/sessions/{id}/items/pop",
        "/sessions/{id}/items/count", "/apps/{app}/sessions", "/cleanup", "/stats", "/healthz", "/readyz",
        "/openapi.json",
    ):  # fmt: skip
        assert path in paths, f"{path} missing from the OpenAPI document's paths: {sorted(paths)}"


def test_prefix_deployment_writes_prefixed_keys(kind: str, deployments: Deployments) -> None:
    deployment = deployments.get(kind, "tenant")
    deployment.flush()
    api = Api(deployment)
    try:
        created = api.create()
        keys = api.redis.keys("*")
        assert keys and all(k.startswith("tenant-a:") for k in keys), keys
        assert api.redis.exists(f"tenant-a:session:{created['id']}:meta") == 1
        assert body_json(api.get(session_path(created["id"])), 200)["id"] == created["id"]
    finally:
        api.close()


def test_ttl_from_the_environment(kind: str, deployments: Deployments) -> None:
    # SESSIONS_TTL=10m, SESSIONS_GRACE=60 (and SESSIONS_API_AUTH=none).
    deployment = deployments.get(kind, "ttl600")
    deployment.flush()
    api = Api(deployment, token=None)
    try:
        created = api.create()
        assert 590 <= created["expires_in_seconds"] <= 600, created
        assert 590 <= api.redis.ttl(f"session_expiry:{created['id']}") <= 600
        assert 650 <= api.redis.ttl(f"session:{created['id']}:data") <= 660
    finally:
        api.close()


def test_native_metrics_on_the_same_listener(deployments: Deployments) -> None:
    """`sessions serve --api` keeps /metrics on the API's listener, with
    requests counted per operation and status."""
    if "native" not in SELECTED:
        return
    deployment = deployments.get("native")
    deployment.flush()
    api = Api(deployment)
    try:
        api.create()
        api.get("/sessions/nope")
        response = api.get("/metrics")
        assert response.status_code == 200, describe(response)
        lines = [line for line in response.text.splitlines() if line.startswith("agent_sessions_http_requests_total{")]
        assert any('status="201"' in line for line in lines), lines
        assert any('status="404"' in line for line in lines), lines
    finally:
        api.close()
