"""`kv.execute` over Redis: every batch is one EVALSHA of `kv_batch.lua`.

The guest packs the batch in the script's calling convention and the script
checks every rule of it, so this module knows no op: it prefixes the keys,
runs the script and hands its reply back as it is (see the `kv` interface in
wit/sessions.wit and the header of redis/kv_batch.lua).
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from typing import Any

import redis
import redis.connection
from redis.backoff import NoBackoff
from redis.retry import Retry

from ._assets import kv_batch_script


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


class RedisKv:
    """The Redis side of `kv.execute` for one key prefix.

    Thread-safe: each call has a connection to itself, taken from the
    client's pool once and then kept here between calls (a pool checkout
    costs more than the rest of the client's work). Commands are never
    retried after they were sent (a write that timed out may have happened);
    redis-py closes a connection that failed and the next call on it
    connects afresh, so the store recovers by itself once Redis is back.
    """

    def __init__(
        self,
        url: str,
        prefix: str = "",
        *,
        socket_timeout: float = 5.0,
        connect_timeout: float = 2.0,
        client: redis.Redis | None = None,
    ) -> None:
        self.prefix = prefix
        self.redacted_url = redact_url(url)
        self.client = client or redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=connect_timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._script = kv_batch_script()
        sha = hashlib.sha1(self._script.encode()).hexdigest()
        #: The packed command up to the keys, and after them the prefix.
        self._evalsha = b"$7\r\nEVALSHA\r\n$40\r\n" + sha.encode() + b"\r\n"
        self._prefix = _bulk(prefix)
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        #: Batches sent to Redis, one round trip each.
        self.round_trips = 0

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
        try:
            connection = self._idle.pop()
        except IndexError:
            connection = None
        try:
            if connection is None:
                connection = self.client.connection_pool.get_connection()
            try:
                reply = _run(connection, command)
            except redis.exceptions.NoScriptError:
                # A new or restarted server has not seen the script: load it
                # and send the batch again (it was not run).
                connection.send_command("SCRIPT", "LOAD", self._script)
                connection.read_response()
                reply = _run(connection, command)
        except redis.exceptions.TimeoutError as error:
            raise StorageFailure("timeout", f"Redis did not answer in time at {self.redacted_url}: {error}") from None
        except redis.exceptions.ConnectionError as error:
            raise StorageFailure("unavailable", f"Redis is unavailable at {self.redacted_url}: {error}") from None
        except redis.exceptions.RedisError as error:
            raise StorageFailure("other", f"Redis refused the batch at {self.redacted_url}: {error}") from None
        finally:
            if connection is not None:
                self._idle.append(connection)
        if isinstance(reply, bytes):
            return reply.decode("utf-8", "replace")
        if isinstance(reply, str):
            return reply
        raise StorageFailure("other", f"unexpected reply from the kv batch script: {reply!r}")

    def ping(self) -> float:
        """Seconds one PING takes; raises redis-py's error when Redis is down."""
        started = time.perf_counter()
        self.client.ping()
        return time.perf_counter() - started

    def close(self) -> None:
        pool = self.client.connection_pool
        while self._idle:
            pool.release(self._idle.pop())
        self.client.close()


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
        if message.startswith("NOSCRIPT"):
            raise redis.exceptions.NoScriptError(message)
        raise redis.exceptions.ResponseError(message)
    return message


_NO_SOCKET = object()
_CHUNK = 65536


def _more(sock: socket.socket) -> bytes:
    data = sock.recv(_CHUNK)
    if not data:
        raise ConnectionError("Redis closed the connection")
    return data
