"""Throwaway redis-server processes on free ports, without persistence, and
a local Redis Cluster made of them: shared by conftest.py, test_cluster.py,
the framework test plugins (tests/frameworks/) and the HTTP suite
(tests/http/), which run outside this test directory."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

INSTALL_HINT = (
    "redis-server is not installed: run `make setup` in the repository, or "
    "`sudo apt-get install -y redis-server` (Debian/Ubuntu) / `brew install redis` (macOS)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server on a free port, without persistence, stopped on `stop()`."""

    def __init__(self, *extra_args: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(INSTALL_HINT, pytrace=False)
        self.port = free_port()
        self.extra_args = extra_args
        self.binary = binary
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except (redis.exceptions.AuthenticationError, redis.exceptions.ResponseError):
                break  # it answers (and wants a password)
            except redis.exceptions.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.process.kill()
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.02)
        client.close()

    def client(self) -> redis.Redis[str]:
        return redis.Redis(port=self.port, decode_responses=True)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


SHARDS = 64


def fnv1a_32(text: str) -> int:
    """The shard hash of guest/src/shard.rs."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) % 2**32
    return value


def shard_of(session_id: str, shards: int = SHARDS) -> int:
    return fnv1a_32(session_id) % shards


class LocalCluster:
    """Six redis-servers on free loopback ports made into one cluster with
    `redis-cli --cluster create` (a replica per primary)."""

    def __init__(self, directory: Path) -> None:
        cli = shutil.which("redis-cli")
        if cli is None:
            pytest.fail(INSTALL_HINT.replace("redis-server is", "redis-cli is"), pytrace=False)
        self.nodes: list[RedisServer] = []
        #: Ports of the nodes a failover has involved.
        self.touched: set[int] = set()
        try:
            for index in range(6):
                node_dir = directory / f"node{index}"
                node_dir.mkdir()
                self.nodes.append(
                    RedisServer(
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        str(node_dir / "nodes.conf"),
                        # The bus port defaults to port + 10000, which may be
                        # taken or beyond 65535: give it a free one.
                        "--cluster-port",
                        str(free_port()),
                        "--cluster-node-timeout",
                        "2000",
                        "--repl-diskless-sync-delay",
                        "0",
                        "--dir",
                        str(node_dir),
                    )
                )
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            created = subprocess.run(
                [cli, "--cluster", "create", *addresses, "--cluster-replicas", "1", "--cluster-yes"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert created.returncode == 0, f"redis-cli --cluster create failed: {created.stdout}{created.stderr}"
            self.wait_until_healthy()
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        """Every node as a comma-separated seed list."""
        return ",".join(f"redis://127.0.0.1:{node.port}" for node in self.nodes)

    def clients(self) -> list[redis.Redis[str]]:
        return [node.client() for node in self.nodes]

    def roles(self) -> dict[int, str]:
        """Port -> "master" or "slave", as each node says."""
        roles = {}
        for node in self.nodes:
            client = node.client()
            roles[node.port] = str(client.info("replication")["role"])
            client.close()
        return roles

    def primaries(self) -> list[redis.Redis[str]]:
        return [node.client() for node in self.nodes if self.roles()[node.port] == "master"]

    def wait_until_healthy(self, timeout: float = 30) -> None:
        """Polls until every node says `cluster_state:ok` with every slot
        served, and every replica's link to its primary is up."""
        deadline = time.monotonic() + timeout
        while True:
            problems = []
            for node in self.nodes:
                client = node.client()
                try:
                    info = client.execute_command("CLUSTER INFO")  # parsed: a dict
                    replication = client.info("replication")
                except redis.exceptions.RedisError as error:
                    problems.append(f"{node.port}: {error}")
                    continue
                finally:
                    client.close()
                if info.get("cluster_state") != "ok" or str(info.get("cluster_slots_ok")) != "16384":
                    problems.append(f"{node.port}: cluster not ok")
                if replication["role"] == "slave" and replication.get("master_link_status") != "up":
                    problems.append(f"{node.port}: replica link down")
            if not problems and list(self.roles().values()).count("master") == 3:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not become healthy: {problems}")
            time.sleep(0.02)

    def flush(self) -> None:
        for client in self.primaries():
            client.flushall()
            client.close()

    def keys(self, pattern: str) -> dict[int, list[str]]:
        """Port of each primary -> its keys matching `pattern` (by SCAN)."""
        found = {}
        for node in self.nodes:
            client = node.client()
            if client.info("replication")["role"] == "master":
                found[node.port] = sorted(client.scan_iter(match=pattern, count=1000))
            client.close()
        return found

    def failover(self) -> RedisServer:
        """`CLUSTER FAILOVER` on a replica; returns it once it is a primary
        and the cluster is healthy again."""
        # A pair that just failed over takes a while to accept another
        # manual failover: pick a replica of another primary each time.
        roles = self.roles()
        replica = next(node for node in self.nodes if roles[node.port] == "slave" and node.port not in self.touched)
        client = replica.client()
        self.touched |= {replica.port, int(client.info("replication")["master_port"])}
        deadline = time.monotonic() + 30
        asked = 0.0
        while client.info("replication")["role"] != "master":
            now = time.monotonic()
            if now > deadline:
                raise RuntimeError("the replica was not promoted")
            # Redis gives up a manual failover that has not finished in 5 s
            # (a loaded machine can be that slow): ask again.
            if now - asked > 6:
                assert client.execute_command("CLUSTER FAILOVER") in ("OK", b"OK", True)
                asked = now
            time.sleep(0.01)
        client.close()
        return replica

    def primary_of(self, key: str) -> RedisServer:
        """The node serving `key`'s slot."""
        client = self.nodes[0].client()
        slot = client.execute_command("CLUSTER KEYSLOT", key)
        client.close()
        for node in self.nodes:
            client = node.client()
            try:
                if client.info("replication")["role"] == "master":
                    for start, end, primary, *_replicas in client.execute_command("CLUSTER SLOTS"):
                        if start <= slot <= end and int(primary[1]) == node.port:
                            return node
            finally:
                client.close()
        raise LookupError(key)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
