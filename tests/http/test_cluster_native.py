"""`sessions --cluster serve --api` on a real Redis Cluster (3 primaries,
3 replicas on 127.0.0.1): the HTTP API over the sharded layout, paging
across shards, cleanup, the recorded layout, and writes confirmed by a
replica (`--wait-replicas 1`).

Native only: the wasm deployments' kv adapter talks to one Redis server
(docs/http-api.md, "Not done"), so this module does not take the `kind`
parameter and runs once, when the native deployment is selected. The
cluster and the server are started once for the module; each test uses its
own ids (or app), so nothing is flushed between tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from checks import assert_etag, body_json, etag, problem
from conftest import SELECTED, SESSIONS, TOKEN, Api, Deployment, describe, hint, require, session_path
from redis_servers import SHARDS, LocalCluster, free_port, shard_of

import redis

pytestmark = pytest.mark.skipif(
    "native" not in SELECTED, reason="the cluster case is native-only and SESSIONS_HTTP_DEPLOYMENTS leaves out native"
)


@dataclass
class ClusterDeployment(Deployment):
    """The native host against the cluster: one node's URL as the seed,
    `--cluster` said explicitly, every write waiting for one replica."""

    seed: str = ""

    def command(self) -> list[str]:
        require(SESSIONS, "the Rust CLI (target/debug/sessions)", hint("native"))
        # The wait timeout only bounds a replica that never answers: WAIT
        # returns as soon as the replica has the write.
        return [
            str(SESSIONS), "--cluster", "--wait-replicas", "1", "--wait-timeout", "10s",
            "serve", "--api", "--listen", f"127.0.0.1:{self.port}",
            "--cleanup-interval", "1d", "--stats-interval", "1d",
        ]  # fmt: skip

    def process_env(self, inherit: bool = True) -> dict[str, str]:
        return {**super().process_env(inherit), "REDIS_URL": self.seed}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    local = LocalCluster(tmp_path_factory.mktemp("cluster"))
    yield local
    local.stop()


@pytest.fixture(scope="module")
def server(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterDeployment]:
    seed_node = cluster.nodes[0]
    deployment = ClusterDeployment(
        kind="native",
        config="cluster",
        env={"SESSIONS_API_TOKEN": TOKEN},
        redis=seed_node,
        port=free_port(),
        log=tmp_path_factory.mktemp("cluster-logs") / "native-cluster.log",
        seed=f"redis://127.0.0.1:{seed_node.port}",
    )
    deployment.start()
    yield deployment
    deployment.stop()


@pytest.fixture
def api(server: ClusterDeployment) -> Iterator[Api]:
    if not server.alive():
        pytest.fail(f"the native cluster server died:\n{server.log_tail()}", pytrace=False)
    client = Api(server)
    yield client
    client.close()


@pytest.fixture
def rc(cluster: LocalCluster) -> Iterator[redis.RedisCluster]:
    client = redis.RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port, decode_responses=True)
    yield client
    client.close()


def session_keys(session_id: str) -> dict[str, str]:
    """A session's keys in the sharded layout, by role."""
    tag = f"{{s{shard_of(session_id)}}}"
    return {
        "data": f"session:{tag}:{session_id}:data",
        "meta": f"session:{tag}:{session_id}:meta",
        "expiry": f"session_expiry:{tag}:{session_id}",
        "items": f"session:{tag}:{session_id}:items",
        "state": f"session:{tag}:{session_id}:state",
        "active": f"active_sessions:{tag}",
        "index": f"session_index:{tag}",
    }


def keys_naming(cluster: LocalCluster, session_id: str) -> list[str]:
    """Every key on every primary whose name holds the id (ids here have
    no glob characters)."""
    return sorted(key for keys in cluster.keys(f"*{session_id}*").values() for key in keys)


def replica_of(cluster: LocalCluster, primary_port: int) -> redis.Redis[str]:
    """A client of the replica of the primary on `primary_port`."""
    for node in cluster.nodes:
        client = node.client()
        replication = client.info("replication")
        if replication["role"] == "slave" and int(replication["master_port"]) == primary_port:
            return client
        client.close()
    raise LookupError(f"no replica of {primary_port}")


def walk(api: Api, path: str, limit: int, **params: Any) -> list[str]:
    """The ids of every page of a listing, following next_page_token."""
    ids: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        query = {"limit": limit, **params, **({"page_token": token} if token else {})}
        page = body_json(api.get(path, params=query), 200)
        assert page["corrupt"] == [], page
        assert len(page["sessions"]) <= limit, page
        ids.extend(s["id"] for s in page["sessions"])
        token = page.get("next_page_token")
        pages += 1
        assert pages <= 1000, "the page tokens do not end"
        if token is None:
            return ids


def test_readyz_reports_the_recorded_shards(api: Api, rc: redis.RedisCluster) -> None:
    assert body_json(api.get("/readyz"), 200) == {"status": "ready", "shards": SHARDS}
    assert rc.hget("session_layout", "shards") == str(SHARDS)
    assert body_json(api.get("/healthz"), 200) == {"status": "ok"}


def test_a_session_lives_in_one_slot_and_replicas_confirm_writes(
    api: Api, cluster: LocalCluster, rc: redis.RedisCluster
) -> None:
    response = api.post("/sessions", json={"id": "nc-slot", "model_id": "m", "state": {"topic": "x"}})
    created = body_json(response, 201)
    assert_etag(response, 1)
    assert response.headers.get("location") == "/sessions/nc-slot"
    response = api.post(session_path("nc-slot", "items"), json=[{"role": "user", "content": "hi"}])
    assert body_json(response, 200)["count"] == 1
    assert_etag(response, 2)

    keys = session_keys(created["id"])
    for role in ("data", "meta", "expiry", "items", "state"):
        assert rc.exists(keys[role]) == 1, f"{role}: {keys[role]} missing; found {keys_naming(cluster, 'nc-slot')}"
    assert rc.sismember(keys["active"], "nc-slot")
    assert rc.zscore(keys["index"], "nc-slot") is not None
    slots = {role: rc.keyslot(key) for role, key in keys.items()}
    assert len(set(slots.values())) == 1, slots
    # Nothing of it outside the layout (no document-layout keys).
    assert keys_naming(cluster, "nc-slot") == sorted(keys[r] for r in ("data", "meta", "expiry", "items", "state"))

    # --wait-replicas 1 answered 201/200 only once the replica had the
    # write: the slot's replica already holds the session and its item.
    replica_client = replica_of(cluster, cluster.primary_of(keys["meta"]).port)
    try:
        replica_client.execute_command("READONLY")
        assert replica_client.hget(keys["meta"], "version") == "2"
        assert replica_client.llen(keys["items"]) == 1
    finally:
        replica_client.close()


def test_crud_with_etags_across_shards(api: Api, cluster: LocalCluster, rc: redis.RedisCluster) -> None:
    ids = [f"nc-crud-{i:02d}" for i in range(8)]
    for session_id in ids:
        response = api.post("/sessions", json={"id": session_id, "model_id": "m"})
        assert body_json(response, 201)["version"] == 1
        assert_etag(response, 1)
    assert len({shard_of(i) for i in ids}) > 1, "the ids should spread over shards"
    primaries = {cluster.primary_of(session_keys(i)["meta"]).port for i in ids}
    assert len(primaries) > 1, "the sessions should spread over primaries"
    problem(api.post("/sessions", json={"id": ids[0], "model_id": "m"}), 409, "conflict")

    for session_id in ids:
        response = api.get(session_path(session_id))
        assert body_json(response, 200)["id"] == session_id
        assert_etag(response, 1)

    path = session_path(ids[0])
    response = api.patch(path, json={"name": "renamed"}, headers={"If-Match": '"1"'})
    assert body_json(response, 200)["name"] == "renamed"
    assert_etag(response, 2)
    problem(api.patch(path, json={"name": "late"}, headers={"If-Match": '"1"'}), 412, "precondition_failed")
    assert rc.hget(session_keys(ids[0])["meta"], "version") == "2"
    assert body_json(api.get(path), 200)["name"] == "renamed"

    # Extend resets the TTL: shorten the expiry key by hand, then extend.
    expiry = session_keys(ids[1])["expiry"]
    assert rc.expire(expiry, 100)
    assert api.post(session_path(ids[1], "extend")).status_code == 204
    assert rc.ttl(expiry) > 100
    problem(api.post(session_path("nc-crud-none", "extend")), 404, "not_found")

    # DELETE with If-Match: stale is 412 and deletes nothing; current is 204.
    problem(api.delete(path, headers={"If-Match": '"1"'}), 412, "precondition_failed")
    assert rc.exists(session_keys(ids[0])["meta"]) == 1
    response = api.delete(path, headers={"If-Match": '"2"'})
    assert response.status_code == 204, describe(response)
    problem(api.get(path), 404, "not_found")
    problem(api.delete(path), 404, "not_found")
    response = api.delete(session_path(ids[2]))
    assert response.status_code == 204, describe(response)
    for gone in ids[:1] + ids[2:3]:
        assert keys_naming(cluster, gone) == [], "a deleted session leaves no keys"
        keys = session_keys(gone)
        assert not rc.sismember(keys["active"], gone) and rc.zscore(keys["index"], gone) is None


def test_items_on_a_shard(api: Api, rc: redis.RedisCluster) -> None:
    api.create(id="nc-items")
    items = session_path("nc-items", "items")
    response = api.post(items, json=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    receipt = body_json(response, 200)
    assert receipt["count"] == 2 and receipt["version"] == 2
    assert_etag(response, 2)
    response = api.post(items, json={"items": ["c"]}, headers={"If-Match": '"2"'})
    assert body_json(response, 200)["count"] == 3
    problem(api.post(items, json=["d"], headers={"If-Match": '"2"'}), 412, "precondition_failed")

    response = api.get(items, params={"last": 10, "include_session": "true"})
    page = body_json(response, 200)
    assert page["items"] == [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, "c"]
    assert page["total"] == 3 and page["session"]["id"] == "nc-items"
    assert_etag(response, 3)
    assert body_json(api.get(items, params={"start": 1, "stop": 1}), 200)["items"] == [
        {"role": "assistant", "content": "b"}
    ]

    response = api.post(session_path("nc-items", "items", "pop"), headers={"If-Match": etag(response)})
    popped = body_json(response, 200)
    assert popped["item"] == "c" and popped["count"] == 2
    assert_etag(response, 4)
    response = api.get(session_path("nc-items", "items", "count"))
    assert body_json(response, 200) == {"id": "nc-items", "count": 2, "version": 4}

    response = api.delete(items, headers={"If-Match": '"4"'})
    cleared = body_json(response, 200)
    assert cleared["count"] == 0 and cleared["version"] == 5
    assert rc.llen(session_keys("nc-items")["items"]) == 0
    assert body_json(api.get(items, params={"last": 10}), 200)["items"] == []

    # append with create_if_missing makes a session on another shard: 201.
    response = api.post(
        session_path("nc-items-new", "items"),
        json={"items": ["x"], "create_if_missing": {"model_id": "m"}},
    )
    assert body_json(response, 201)["created"] is True
    assert response.headers.get("location") == "/sessions/nc-items-new"
    assert rc.exists(session_keys("nc-items-new")["meta"]) == 1


def test_list_walks_every_shard_once(api: Api) -> None:
    ids = [f"nc-list-{i:02d}" for i in range(12)]
    for session_id in ids:
        api.create(id=session_id)
    total = body_json(api.get("/sessions", params={"limit": 0}), 200)["total"]
    walked = walk(api, "/sessions", 5)
    assert len(walked) == len(set(walked)), f"a session came twice: {walked}"
    assert set(ids) <= set(walked), f"missing: {set(ids) - set(walked)}"
    assert len(walked) == total
    # The stats walk visits every shard too.
    stats = body_json(api.get("/stats"), 200)
    assert stats["sessions"] == total, stats
    problem(api.get("/sessions", params={"page_token": "not-a-token"}), 422, "invalid_input")


def test_list_by_owner_across_shards(api: Api) -> None:
    owners = {f"nc-own-{i:02d}": ("ana" if i % 3 else "ben") for i in range(9)}
    for session_id, user in owners.items():
        api.create(id=session_id, app_name="nc-shop", user_id=user, state={"app:theme": "dark", "user:lang": user})
    ana = sorted(i for i, u in owners.items() if u == "ana")
    assert len({shard_of(i) for i in ana}) > 1
    walked = walk(api, "/apps/nc-shop/sessions", 2, user_id="ana")
    assert sorted(walked) == ana and len(walked) == len(set(walked))
    everyone = walk(api, "/apps/nc-shop/sessions", 4)
    assert sorted(everyone) == sorted(owners) and len(everyone) == len(set(everyone))
    page = body_json(api.get("/apps/nc-shop/sessions", params={"user_id": "ben"}), 200)
    assert sorted(s["id"] for s in page["sessions"]) == sorted(i for i, u in owners.items() if u == "ben")
    assert page["app_state"] == {"theme": "dark"} and page["user_states"] == {"ben": {"lang": "ben"}}


def test_cleanup_after_the_expiry_keys_are_gone(api: Api, cluster: LocalCluster, rc: redis.RedisCluster) -> None:
    ids = [f"nc-exp-{i:02d}" for i in range(6)]
    for session_id in ids:
        api.create(id=session_id)
        api.post(session_path(session_id, "items"), json=["x"])
    expired, kept = ids[:3], ids[3:]
    for session_id in expired:
        assert rc.delete(session_keys(session_id)["expiry"]) == 1
    report = body_json(api.post("/cleanup"), 200)
    assert report == {"removed": len(expired), "skipped": 0, "problems": []}, report
    for session_id in expired:
        problem(api.get(session_path(session_id)), 404, "not_found")
        assert keys_naming(cluster, session_id) == [], "cleanup leaves no keys"
        keys = session_keys(session_id)
        assert not rc.sismember(keys["active"], session_id) and rc.zscore(keys["index"], session_id) is None
    for session_id in kept:
        assert body_json(api.get(session_path(session_id)), 200)["id"] == session_id
    assert body_json(api.post("/cleanup"), 200)["removed"] == 0
    listed = walk(api, "/sessions", 50)
    assert not set(expired) & set(listed) and set(kept) <= set(listed)
