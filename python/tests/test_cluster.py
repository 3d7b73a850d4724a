"""The repository on a real Redis Cluster (3 primaries, 3 replicas on
127.0.0.1): the sharded layout, paging across shards, cleanup, the
recorded layout, WAIT for replicas, and a failover in the middle of a
stream of calls.

The cluster is started once for this module and emptied before each test;
without redis-server (or redis-cli) the tests fail and say how to install it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
from collections.abc import Iterator

import pytest
import redis
from conftest import REPO
from redis_servers import SHARDS, LocalCluster, shard_of

from agent_sessions import (
    BackendError,
    InvalidInputError,
    NotReplicatedError,
    SessionDetail,
    SessionRepository,
    SessionUpdate,
)

SCRIPT_SHA = hashlib.sha1((REPO / "redis" / "kv_batch.lua").read_bytes()).hexdigest()


def without_ttl(session: SessionDetail | None) -> SessionDetail | None:
    """The session without what changes by itself (the TTL left)."""
    return None if session is None else dataclasses.replace(session, expires_in_seconds=0)


def test_shard_test_vectors() -> None:
    assert shard_of("11111111-1111-4111-8111-111111111111") == 35
    assert shard_of("2cfdc22c-e8c0-41c3-a306-f7f6c7c2bd7e") == 61


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    local = LocalCluster(tmp_path_factory.mktemp("cluster"))
    yield local
    local.stop()


@pytest.fixture
def cluster_url(cluster: LocalCluster) -> str:
    """The seed URLs of an empty cluster."""
    cluster.flush()
    return cluster.url


@pytest.fixture
def cluster_client(cluster: LocalCluster, cluster_url: str) -> Iterator[redis.RedisCluster]:
    client = redis.RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port, decode_responses=True)
    yield client
    client.close()


def test_sessions_spread_over_shards_and_primaries(cluster: LocalCluster, cluster_url: str) -> None:
    with SessionRepository(cluster_url) as repo:
        created = [repo.create_session({"model_id": "m", "name": f"s{i}"}) for i in range(30)]
        for session in created:
            got = repo.get_session(session.id)
            assert got is not None and got.name == session.name
        updated = repo.update_session(created[0].id, SessionUpdate(name="renamed", expected_version=1))
        assert updated.version == 2 and updated.name == "renamed"
        walked: list[str] = []
        page = repo.list_sessions(limit=7)
        assert page.total == 30
        walked.extend(s.id for s in page.sessions)
        while page.next_page_token is not None:
            page = repo.list_sessions(limit=7, page_token=page.next_page_token)
            walked.extend(s.id for s in page.sessions)
        assert sorted(walked) == sorted(s.id for s in created), "page tokens visit every session once"
        created_at = [repo.get_session_or_raise(i).created_at for i in walked]
        assert created_at == sorted(created_at, reverse=True), "newest first across shards"
        assert repo.delete_session(created[1].id) is True
        assert repo.get_session(created[1].id) is None
        assert repo.delete_session(created[1].id) is False
        assert repo.list_sessions(limit=0).total == 29
    # Every session's expiry key carries its shard's tag, and the shards
    # spread over more than one primary.
    expiry = cluster.keys("session_expiry:*")
    assert sum(1 for keys in expiry.values() if keys) >= 2, expiry
    everywhere = {key for keys in expiry.values() for key in keys}
    assert everywhere == {f"session_expiry:{{s{shard_of(s.id)}}}:{s.id}" for s in created if s.id != created[1].id}


def test_cleanup_removes_sessions_whose_expiry_key_is_gone(
    cluster_url: str, cluster_client: redis.RedisCluster
) -> None:
    with SessionRepository(cluster_url) as repo:
        created = [repo.create_session({"model_id": "m"}) for _ in range(6)]
        for session in created[:3]:
            assert cluster_client.delete(f"session_expiry:{{s{shard_of(session.id)}}}:{session.id}") == 1
        assert repo.cleanup_expired_sessions() == 3
        assert repo.list_sessions(limit=0).total == 3
        assert all(repo.get_session(s.id) is None for s in created[:3])
        assert all(repo.get_session(s.id) is not None for s in created[3:])
        assert repo.cleanup_expired_sessions() == 0
        for session in created[:3]:
            assert cluster_client.exists(f"session:{{s{shard_of(session.id)}}}:{session.id}:meta") == 0
        stats = repo.stats()
        assert stats.set_size == 3 and stats.index_size == 3


def test_the_layout_is_recorded_and_others_are_refused(
    cluster: LocalCluster, cluster_url: str, cluster_client: redis.RedisCluster
) -> None:
    # One URL: the server says it is a cluster; the layout defaults to 64 shards.
    one_node = f"redis://127.0.0.1:{cluster.nodes[3].port}"
    with SessionRepository(one_node) as repo:
        session = repo.create_session({"model_id": "m"})
    assert cluster_client.hget("session_layout", "shards") == str(SHARDS)
    assert cluster_client.exists(f"session_expiry:{{s{shard_of(session.id)}}}:{session.id}") == 1
    with SessionRepository(one_node, cluster=True, shards=64) as repo:
        assert without_ttl(repo.get_session(session.id)) == without_ttl(session)
    with SessionRepository(cluster_url, shards=32) as repo:
        with pytest.raises(InvalidInputError):
            repo.get_session(session.id)
    with SessionRepository(cluster_url, shards=0) as repo:
        with pytest.raises(InvalidInputError, match="Redis Cluster"):
            repo.list_sessions()


def test_wait_replicas(cluster_url: str) -> None:
    # WAIT returns as soon as the replica has the write: the timeout only
    # bounds a loaded machine's worst case.
    with SessionRepository(cluster_url, wait_replicas=1, wait_timeout=10.0) as repo:
        session = repo.create_session({"model_id": "m"})
        repo.update_session(session.id, {"name": "n"})
        assert repo.extend_session_ttl(session.id) is True
        assert repo.delete_session(session.id) is True
    with SessionRepository(cluster_url) as plain:
        # Each primary has one replica: two cannot confirm.
        with SessionRepository(cluster_url, wait_replicas=2, wait_timeout=0.1) as repo:
            with pytest.raises(NotReplicatedError) as error:
                repo.create_session({"model_id": "m", "name": "kept"})
            assert error.value.storage_kind == "not_replicated"
            assert isinstance(error.value, BackendError)
            assert "applied on the primary" in str(error.value) and "1 of 2" in str(error.value)
            (kept,) = plain.list_sessions().sessions
            assert kept.name == "kept"
            assert without_ttl(plain.get_session(kept.id)) == without_ttl(kept)
            assert repo.list_sessions().total == 1  # reads do not wait


def test_wait_replicas_on_one_server_without_replicas(redis_url: str) -> None:
    with SessionRepository(redis_url, wait_replicas=1, wait_timeout=0.05) as repo:
        with pytest.raises(NotReplicatedError, match="0 of 1") as error:
            repo.create_session({"model_id": "m"})
        assert error.value.storage_kind == "not_replicated"
        (session,) = repo.list_sessions().sessions
        assert without_ttl(repo.get_session(session.id)) == without_ttl(session)


def test_a_failover_in_the_middle_of_calls_goes_unnoticed(cluster: LocalCluster) -> None:
    cluster.flush()
    for client in cluster.clients():
        client.script_flush()
        client.close()
    with SessionRepository(cluster.url) as repo:
        created = []
        for i in range(40):
            created.append(repo.create_session({"model_id": "m", "name": f"s{i}"}))
            assert repo.get_session(created[-1].id) is not None
            if i == 20:
                promoted = cluster.failover()
                client = promoted.client()
                # redis-rs loads the script on every node after a
                # NOSCRIPT: make the new primary's cache empty anyway.
                client.script_flush()
                client.close()
        cluster.wait_until_healthy()
        assert sorted(s.id for s in repo.list_sessions(limit=100).sessions) == sorted(s.id for s in created)
        assert [without_ttl(repo.get_session(s.id)) for s in created] == [without_ttl(s) for s in created]
    client = promoted.client()
    assert client.script_exists(SCRIPT_SHA) == [True], "the backend loaded the script on the new primary"
    client.close()


def test_a_primary_killed_in_the_middle_of_calls_is_replaced_without_errors(cluster: LocalCluster) -> None:
    cluster.flush()
    roles = cluster.roles()
    victim = next(node for node in cluster.nodes if roles[node.port] == "master" and node.port not in cluster.touched)
    cluster.touched.add(victim.port)
    try:
        with SessionRepository(cluster.url) as repo:
            created = []
            for i in range(30):
                if i == 10:
                    # Replication is asynchronous: let the replica catch up
                    # first, or a crash may lose acknowledged writes.
                    client = victim.client()
                    assert client.execute_command("WAIT", 1, 10000) == 1
                    client.close()
                    assert victim.process is not None
                    os.kill(victim.process.pid, signal.SIGKILL)  # a replica takes over in 3-4 s
                    # Dead between two calls: no batch is in flight (one
                    # caught in the crash would have an unknown outcome).
                    victim.process.wait()
                created.append(repo.create_session({"model_id": "m", "name": f"s{i}"}))
            assert [without_ttl(repo.get_session(s.id)) for s in created] == [without_ttl(s) for s in created]
    finally:
        victim.start()  # rejoins as a replica
        cluster.wait_until_healthy()
