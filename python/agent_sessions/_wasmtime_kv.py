"""`kv.execute` over Redis: every batch is one EVALSHA of `kv_batch.lua`.

The guest packs the batch in the script's calling convention and the script
checks every rule of it, so this module knows no op: it prefixes the keys,
runs the script and hands its reply back as it is (see the `kv` interface in
wit/sessions.wit and the header of redis/kv_batch.lua).

On one server the script goes over a pooled connection. On a Redis Cluster
(several seed URLs, `cluster=True`, or a server reporting `cluster_enabled:1`)
redis-py's cluster client keeps the map of slots to nodes and a pool per
node, and this module sends the script to the primary of its first key's
slot (the sharded layout puts every key of a batch in one slot), with a
bounded retry loop of its own: see `RedisKv._execute_cluster`.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis
import redis.connection
from redis._parsers.base import BaseParser
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot
from redis.exceptions import (
    AskError,
    AuthenticationError,
    AuthorizationError,
    BusyLoadingError,
    ClusterDownError,
    MovedError,
    NoScriptError,
    RedisClusterException,
    TryAgainError,
)
from redis.retry import Retry

from ._assets import kv_batch_script
from .errors import InvalidInputError

#: Op codes of kv_batch.lua that write (its `WRITES` table): only a batch
#: with one of them waits for replicas.
WRITE_OPS = frozenset(
    {"hset", "hincrby", "set", "pexpire", "del", "sadd", "srem", "zadd", "zrem", "hdel", "rpush", "rpop", "ltrim"}
)

#: On a cluster: the longest a batch keeps being retried while nothing ran
#: (a failover, a slot moving). A primary killed with
#: `--cluster-node-timeout 2000` is replaced in 3-4 s.
CLUSTER_TIMEOUT_SECONDS = 10.0
_FIRST_PAUSE = 0.02
_LONGEST_PAUSE = 0.5
#: Redirects and script loads answered without a pause before pausing anyway.
_IMMEDIATE_RETRIES = 3
#: Every this many MOVED replies the whole slot map is read again.
_MOVES_PER_REFRESH = 5


class StorageFailure(Exception):
    """A WIT `storage-failure`: `kind` is its storage-error-kind as WIT spells
    it (unavailable, timeout, other), `message` says what happened."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***`."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at:
        return url
    user, colon, _password = userinfo.partition(":")
    hidden = f"{user}:***" if colon else "***"
    return f"{scheme}://{hidden}@{host}{slash}{tail}"


@dataclass(frozen=True)
class WaitReplicas:
    """`WAIT replicas timeout` after every batch that wrote."""

    replicas: int
    #: Seconds to wait for them (WAIT's timeout).
    timeout: float

    @property
    def command(self) -> bytes:
        milliseconds = max(1, round(self.timeout * 1000))  # WAIT n 0 would wait forever
        return b"*3\r\n$4\r\nWAIT\r\n" + _bulk(str(self.replicas)) + _bulk(str(milliseconds))


class NotSent(redis.exceptions.ConnectionError):
    """The command did not leave this host whole (sending it failed), so
    Redis cannot have run it."""


class _Again(Exception):
    """A cluster attempt failed before the script could run: try again."""

    def __init__(
        self, cause: Exception, *, pause: bool = True, refresh: bool = False, asking: ClusterNode | None = None
    ) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.pause = pause
        self.refresh = refresh
        self.asking = asking


class RedisKv:
    """The Redis side of `kv.execute` for one key prefix, on one server or
    on a Redis Cluster.

    Thread-safe: each call has a connection to itself. On one server it is
    taken from the client's pool once and then kept here between calls (a
    pool checkout costs more than the rest of the client's work); on a
    cluster it is checked out of the pool of the node that holds the batch's
    slot. A command is never sent twice once its outcome is unknown (a write
    that timed out may have happened); redis-py closes a connection that
    failed and the next call on it connects afresh, so the store recovers by
    itself once Redis is back.

    `url` is one URL, or several comma-separated seed URLs of one cluster
    (credentials and TLS settings are taken from the first). With
    `wait_replicas`, a batch that writes and was applied is followed by
    `WAIT` on the node that ran it; when fewer replicas confirm, the call
    still returns the script's reply and `take_not_replicated()` (on the same
    thread) says so.
    """

    def __init__(
        self,
        url: str,
        prefix: str = "",
        *,
        socket_timeout: float = 5.0,
        connect_timeout: float = 2.0,
        client: redis.Redis | RedisCluster | None = None,
        cluster: bool = False,
        wait_replicas: int | None = None,
        wait_timeout: float = 0.25,
        cluster_timeout: float = CLUSTER_TIMEOUT_SECONDS,
    ) -> None:
        self.prefix = prefix
        self.seeds = [seed.strip() for seed in url.split(",") if seed.strip()]
        if not self.seeds:
            raise ValueError("no Redis URL was given")
        self.redacted_url = ",".join(redact_url(seed) for seed in self.seeds)
        self.socket_timeout = socket_timeout
        self.connect_timeout = connect_timeout
        self.cluster_timeout = cluster_timeout
        self.wait = WaitReplicas(wait_replicas, wait_timeout) if wait_replicas else None
        #: The one-server client (None on a cluster).
        self.client: redis.Redis | None = None
        #: The cluster client (None on one server, or before `connect`).
        self.cluster: RedisCluster | None = None
        #: Whether this is a cluster: None until `connect` asked the server.
        self.is_cluster: bool | None = None
        if isinstance(client, RedisCluster):
            self.cluster, self.is_cluster = client, True
        elif client is not None:
            if cluster:
                raise ValueError("cluster=True needs a redis.cluster.RedisCluster as redis_client")
            self.client, self.is_cluster = client, False
        else:
            for seed in self.seeds:
                redis.connection.parse_url(seed)  # a bad URL fails here, not at the first call
            if cluster:
                self.is_cluster = True
            elif len(self.seeds) == 1:
                self.client = self._single_client(self.seeds[0])
        self._script = kv_batch_script()
        sha = hashlib.sha1(self._script.encode()).hexdigest()
        #: The packed command up to the keys, and after them the prefix.
        self._evalsha = b"$7\r\nEVALSHA\r\n$40\r\n" + sha.encode() + b"\r\n"
        self._prefix = _bulk(prefix)
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._connect_lock = threading.Lock()
        self._shortfall = threading.local()
        self._moves = 0
        #: Batches sent to Redis, one round trip each.
        self.round_trips = 0

    def _single_client(self, url: str) -> redis.Redis:
        return redis.Redis.from_url(
            url,
            socket_timeout=self.socket_timeout,
            socket_connect_timeout=self.connect_timeout,
            retry=Retry(NoBackoff(), 0),
        )

    # ------------------------------------------------------------ connecting

    def connect(self) -> bool:
        """Settles whether this is a Redis Cluster (asking the seeds in turn
        for `cluster_enabled:1` in `INFO cluster` unless told) and on a
        cluster discovers its nodes; returns whether it is one. Raises
        StorageFailure when no seed answers, InvalidInputError for several
        URLs that are not a cluster or a cluster database other than 0."""
        if self.is_cluster is not None and (self.cluster is not None or not self.is_cluster):
            return self.is_cluster
        with self._connect_lock:
            if self.is_cluster is None:
                self.is_cluster = self._ask_cluster_enabled()
                if not self.is_cluster and len(self.seeds) > 1:
                    self.is_cluster = None
                    raise InvalidInputError(
                        f"several URLs were given ({self.redacted_url}) but the server is not a Redis Cluster"
                    )
            if self.is_cluster and self.cluster is None:
                self.cluster = self._cluster_client()
            return self.is_cluster

    def _ask_cluster_enabled(self) -> bool:
        failure: StorageFailure | None = None
        for seed in self.seeds:
            client = self.client if self.client is not None else self._single_client(seed)
            try:
                info = client.info("cluster")
            except (AuthenticationError, AuthorizationError) as error:
                raise _refused(redact_url(seed), error) from None
            except redis.exceptions.TimeoutError as error:
                failure = StorageFailure("timeout", f"Redis did not answer in time at {redact_url(seed)}: {error}")
                continue
            except redis.exceptions.ConnectionError as error:
                failure = StorageFailure("unavailable", f"Redis is unavailable at {redact_url(seed)}: {error}")
                continue
            except redis.exceptions.ResponseError:
                return False  # INFO refused (an ACL): not a cluster as far as we can tell
            finally:
                if client is not self.client:
                    client.close()
            return str(info.get("cluster_enabled", 0)) == "1"
        assert failure is not None
        raise failure

    def _cluster_client(self) -> RedisCluster:
        nodes = []
        for seed in self.seeds:
            options = redis.connection.parse_url(seed)
            if options.get("db", 0) != 0:
                raise InvalidInputError(f"{redact_url(seed)}: a Redis Cluster has only database 0")
            nodes.append(ClusterNode(options.get("host") or "localhost", options.get("port") or 6379))
        try:
            return RedisCluster(
                url=self.seeds[0],
                startup_nodes=nodes[1:],
                socket_timeout=self.socket_timeout,
                socket_connect_timeout=self.connect_timeout,
                # No retry inside redis-py: it would resend a command that
                # timed out (see _execute_cluster).
                retry=Retry(NoBackoff(), 0),
                require_full_coverage=False,
            )
        except (AuthenticationError, AuthorizationError) as error:
            raise _refused(self.redacted_url, error) from None
        except (RedisClusterException, redis.exceptions.RedisError) as error:
            message = f"cannot reach the Redis Cluster at {self.redacted_url}: {error}"
            raise StorageFailure("unavailable", message) from None

    # ------------------------------------------------------------- executing

    def execute(self, keys: str, batch: str) -> str:
        """`kv.execute`: the script's reply; raises StorageFailure (and
        nothing else) when Redis did not run the script."""
        names = keys.split("\n") if keys else []
        prefix = self.prefix
        parts = [b"*%d\r\n" % (len(names) + 5), self._evalsha, _bulk(str(len(names)))]
        parts += [_bulk(prefix + name) for name in names]
        parts.append(self._prefix)
        parts.append(_bulk(batch))
        command = b"".join(parts)
        with self._lock:
            self.round_trips += 1
        wait = self.wait if self.wait is not None and _writes(batch) else None
        if self.is_cluster is None or (self.is_cluster and self.cluster is None):
            try:
                self.connect()
            except InvalidInputError as error:
                raise StorageFailure("other", error.message) from None
        if self.cluster is not None:
            first_key = prefix + names[0] if names else None
            reply, acknowledged = self._execute_cluster(self.cluster, first_key, command, wait)
        else:
            reply, acknowledged = self._execute_single(command, wait)
        if isinstance(reply, bytes):
            text = reply.decode("utf-8", "replace")
        elif isinstance(reply, str):
            text = reply
        else:
            raise StorageFailure("other", f"unexpected reply from the kv batch script: {reply!r}")
        if wait is not None and acknowledged is not None and acknowledged < wait.replicas and text.startswith("[1"):
            self._shortfall.message = (
                f"the write was applied on the primary but confirmed by {acknowledged} of {wait.replicas} "
                f"replicas within {wait.timeout:g} s at {self.redacted_url}"
            )
        return text

    def take_not_replicated(self) -> str | None:
        """What to tell the caller when a write of this thread's current
        call reached fewer replicas than `wait_replicas` (then forgotten)."""
        message: str | None = getattr(self._shortfall, "message", None)
        self._shortfall.message = None
        return message

    def _execute_single(self, command: bytes, wait: WaitReplicas | None) -> tuple[Any, int | None]:
        """One server: the script, and `WAIT` in the same round trip if asked."""
        assert self.client is not None
        try:
            connection = self._idle.pop()
        except IndexError:
            connection = None
        try:
            if connection is None:
                connection = self.client.connection_pool.get_connection()
            try:
                return _send(connection, command, wait)
            except NoScriptError:
                # A new or restarted server has not seen the script: load it
                # and send the batch again (it was not run).
                connection.send_command("SCRIPT", "LOAD", self._script)
                connection.read_response()
                return _send(connection, command, wait)
        except redis.exceptions.RedisError as error:
            raise self._failure(error) from None
        finally:
            if connection is not None:
                self._idle.append(connection)

    def _execute_cluster(
        self, cluster: RedisCluster, first_key: str | None, command: bytes, wait: WaitReplicas | None
    ) -> tuple[Any, int | None]:
        """A cluster: the script on the primary of its first key's slot (a
        batch's keys share one slot), then `WAIT` on the same connection.

        redis-py's cluster client retries a command after a ConnectionError
        or TimeoutError, without knowing whether it was sent: it would replay
        a write that may have run. So its own retries are off, and this loop
        retries, for up to `cluster_timeout` with a short backoff, only
        failures that certainly come before the script ran:

        - no connection to the node (checking one out of the pool connects
          and checks it before anything is sent): the node may be down and a
          replica about to take over, so the slot map is refreshed;
        - MOVED (the slot has another primary, e.g. after a failover), ASK
          (the slot is moving), TRYAGAIN, CLUSTERDOWN, MASTERDOWN, LOADING:
          Redis answers these instead of running the script;
        - NOSCRIPT: the script cache is not replicated, so a newly promoted
          primary has not seen the script; it did not run: load it there and
          send the batch again;
        - sending failed (NotSent): the batch did not leave this host whole,
          and Redis does not run a command it has not received whole.

        A timeout or a lost connection after the batch was sent leaves its
        outcome unknown (the script may have run, whole: a batch is atomic).
        In doubt it is not replayed: the call fails with `timeout` or
        `unavailable`, and the caller, who knows what the call was, decides.
        """
        slot = key_slot(first_key.encode()) if first_key is not None else None
        deadline = time.monotonic() + self.cluster_timeout
        pause = _FIRST_PAUSE
        immediate = 0
        asking: ClusterNode | None = None
        while True:
            try:
                return self._cluster_attempt(cluster, slot, asking, command, wait)
            except _Again as again:
                asking = again.asking
                waits = again.pause or immediate >= _IMMEDIATE_RETRIES
                if time.monotonic() + (pause if waits else 0) >= deadline:
                    cause = again.cause
                    kind = "timeout" if isinstance(cause, redis.exceptions.TimeoutError) else "unavailable"
                    raise StorageFailure(
                        kind,
                        f"Redis is unavailable at {self.redacted_url}: {type(cause).__name__}: {cause} "
                        f"(still failing after {self.cluster_timeout:g} s; the batch did not run)",
                    ) from None
                if again.refresh:
                    try:
                        cluster.nodes_manager.initialize()
                    except Exception:  # no node answers yet: try again after the pause
                        pass
                if waits:
                    time.sleep(pause)
                    pause = min(pause * 2, _LONGEST_PAUSE)
                    immediate = 0
                else:
                    immediate += 1

    def _cluster_attempt(
        self,
        cluster: RedisCluster,
        slot: int | None,
        asking: ClusterNode | None,
        command: bytes,
        wait: WaitReplicas | None,
    ) -> tuple[Any, int | None]:
        """One try; raises _Again when nothing ran, StorageFailure otherwise."""
        # Before sending: whatever fails here, Redis has not seen the batch.
        try:
            if asking is not None:
                node = asking
            elif slot is not None:
                node = cluster.nodes_manager.get_node_from_slot(slot)
            else:
                node = cluster.get_random_primary_node()
            pool = cluster.get_redis_connection(node).connection_pool
            connection = pool.get_connection()
        except (AuthenticationError, AuthorizationError) as error:
            raise _refused(self.redacted_url, error) from None
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, RedisClusterException) as error:
            raise _Again(error, refresh=True) from None
        try:
            if asking is not None:
                try:
                    connection.send_command("ASKING")
                    connection.read_response()
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
                    raise _Again(error, refresh=True) from None  # the batch was not sent
            try:
                reply = _run(connection, command)
            except NoScriptError as error:
                try:
                    connection.send_command("SCRIPT", "LOAD", self._script)
                    connection.read_response()
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as load_error:
                    raise _Again(load_error, refresh=True) from None
                raise _Again(error, pause=False, asking=asking) from None
            except MovedError as error:
                # The slot has another primary: patch the map for this slot,
                # and now and then refresh all of it (after a failover every
                # slot of the old primary moved), as redis-py itself does.
                with self._lock:
                    self._moves += 1
                    refresh = self._moves % _MOVES_PER_REFRESH == 0
                if not refresh:
                    cluster.nodes_manager.move_slot(error)
                raise _Again(error, pause=False, refresh=refresh) from None
            except AskError as error:
                target = cluster.nodes_manager.get_node(host=error.host, port=error.port)
                if target is None:
                    raise _Again(error, refresh=True) from None
                raise _Again(error, pause=False, asking=target) from None
            except ClusterDownError as error:  # MASTERDOWN too
                raise _Again(error, refresh=True) from None
            except (TryAgainError, BusyLoadingError) as error:
                raise _Again(error) from None
            except NotSent as error:  # e.g. a node that just died
                raise _Again(error, refresh=True) from None
            acknowledged = None
            if wait is not None:
                connection.send_packed_command((wait.command,), check_health=False)
                acknowledged = int(connection.read_response(timeout=self.socket_timeout + wait.timeout))
            return reply, acknowledged
        except redis.exceptions.RedisError as error:
            raise self._failure(error) from None
        finally:
            pool.release(connection)

    # ------------------------------------------------------------------ misc

    def _failure(self, error: redis.exceptions.RedisError) -> StorageFailure:
        """A redis-py error as the WIT `storage-failure` the guest expects."""
        if isinstance(error, redis.exceptions.TimeoutError):
            return StorageFailure("timeout", f"Redis did not answer in time at {self.redacted_url}: {error}")
        if isinstance(error, redis.exceptions.ConnectionError):
            return StorageFailure("unavailable", f"Redis is unavailable at {self.redacted_url}: {error}")
        return StorageFailure("other", f"Redis refused the batch at {self.redacted_url}: {error}")

    def ping(self) -> float:
        """Seconds one PING takes (to one node of a cluster); raises
        redis-py's error or StorageFailure when Redis is down."""
        self.connect()
        started = time.perf_counter()
        if self.cluster is not None:
            self.cluster.ping(target_nodes=RedisCluster.RANDOM)
        else:
            assert self.client is not None
            self.client.ping()
        return time.perf_counter() - started

    def close(self) -> None:
        if self.client is not None:
            pool = self.client.connection_pool
            while self._idle:
                pool.release(self._idle.pop())
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _refused(where: str, error: Exception) -> StorageFailure:
    return StorageFailure("unavailable", f"Redis refused the credentials at {where}: {error}")


def _writes(batch: str) -> bool:
    """Whether a packed batch has an op that writes (when in doubt, yes)."""
    try:
        ops = json.loads(batch)[1]
        return any(op[0] in WRITE_OPS for op in ops)
    except (ValueError, TypeError, LookupError):
        return True


def _send(connection: Any, command: bytes, wait: WaitReplicas | None) -> tuple[Any, int | None]:
    """The script on one server; with `wait`, WAIT in the same round trip."""
    if wait is None:
        return _run(connection, command), None
    connection.send_packed_command((command + wait.command,), check_health=False)
    failure: redis.exceptions.ResponseError | None = None
    try:
        reply = connection.read_response()
    except redis.exceptions.ResponseError as error:  # WAIT's reply follows anyway
        failure, reply = error, None
    socket_timeout = connection.socket_timeout
    timeout = None if socket_timeout is None else socket_timeout + wait.timeout
    acknowledged = int(connection.read_response(timeout=timeout))
    if failure is not None:
        raise failure
    return reply, acknowledged


def _bulk(text: str) -> bytes:
    data = text.encode()
    return b"$%d\r\n%b\r\n" % (len(data), data)


def _run(connection: Any, command: bytes) -> Any:
    """Sends `command` and reads its reply. On redis-py's plain and TLS
    connections it uses the socket directly: the reply is one bulk string or
    an error, and redis-py's reply path costs more than the rest of the call.
    redis-py still connects (AUTH, SELECT, TLS, timeouts) and closes."""
    sock: Any = getattr(connection, "_sock", _NO_SOCKET)
    if sock is _NO_SOCKET or not isinstance(connection, redis.connection.AbstractConnection):
        connection.send_packed_command((command,), check_health=False)
        return connection.read_response()
    if sock is None:
        connection.connect()
        sock = connection._sock
    try:
        sock.sendall(command)
    except OSError as error:  # TimeoutError included
        connection.disconnect()
        raise NotSent(f"Error while sending to Redis: {error}") from None
    except BaseException:
        connection.disconnect()
        raise
    try:
        buffer = bytearray(sock.recv(_CHUNK))
        end = buffer.find(b"\r\n")
        while end < 0:
            buffer += _more(sock)
            end = buffer.find(b"\r\n")
        kind = buffer[:1]
        if kind == b"$":
            size = int(buffer[1:end])
            start = end + 2
            whole = start + size + 2 if size >= 0 else start  # "$-1" is nil
            while len(buffer) < whole:
                buffer += _more(sock)
            if len(buffer) != whole:
                raise ConnectionError("more data than one reply")
            return bytes(buffer[start : start + size]) if size >= 0 else None
    except TimeoutError as error:
        connection.disconnect()
        raise redis.exceptions.TimeoutError(f"Timeout reading from socket: {error}") from None
    except (OSError, ValueError) as error:
        connection.disconnect()
        raise redis.exceptions.ConnectionError(f"Error while talking to Redis: {error}") from None
    except BaseException:  # interrupted half-way: the connection is out of step
        connection.disconnect()
        raise
    message = bytes(buffer[1:end]).decode("utf-8", "replace")
    if len(buffer) != end + 2:
        connection.disconnect()
        raise redis.exceptions.ConnectionError("more data than one reply")
    if kind == b"-":
        # Typed as redis-py types them: NoScriptError, MovedError, AskError,
        # TryAgainError, ClusterDownError, BusyLoadingError, ResponseError...
        raise BaseParser.parse_error(message)
    return message


_NO_SOCKET = object()
_CHUNK = 65536


def _more(sock: socket.socket) -> bytes:
    data = sock.recv(_CHUNK)
    if not data:
        raise ConnectionError("Redis closed the connection")
    return data
