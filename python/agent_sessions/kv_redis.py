"""`kv.execute` over Redis: every batch is one EVALSHA of `kv_batch.lua`.

The guest packs the batch in the script's calling convention and the script
checks every rule of it, so this module knows no op: it prefixes the keys,
runs the script and hands its reply back as it is (see the `kv` interface in
wit/sessions.wit and the header of redis/kv_batch.lua).
"""

from __future__ import annotations

import hashlib
import threading
import time

import redis
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

    Thread-safe: redis-py's connection pool gives each call its own
    connection. Commands are never retried after they were sent (a write
    that timed out may have happened); a broken connection is replaced on
    the next call, so the store recovers by itself once Redis is back.
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
        self._sha = hashlib.sha1(self._script.encode()).hexdigest()
        self._lock = threading.Lock()
        #: Batches sent to Redis, one round trip each.
        self.round_trips = 0

    def execute(self, keys: str, batch: str) -> str:
        """`kv.execute`: the script's reply; raises StorageFailure (and
        nothing else) when Redis did not run the script."""
        names = keys.split("\n") if keys else []
        if self.prefix:
            names = [self.prefix + name for name in names]
        with self._lock:
            self.round_trips += 1
        command = ("EVALSHA", self._sha, len(names), *names, self.prefix, batch)
        try:
            try:
                reply = self.client.execute_command(*command)
            except redis.exceptions.NoScriptError:
                # A new or restarted server has not seen the script: load it
                # and send the batch again (it was not run).
                self.client.execute_command("SCRIPT", "LOAD", self._script)
                reply = self.client.execute_command(*command)
        except redis.exceptions.TimeoutError as error:
            raise StorageFailure("timeout", f"Redis did not answer in time at {self.redacted_url}: {error}") from None
        except redis.exceptions.ConnectionError as error:
            raise StorageFailure("unavailable", f"Redis is unavailable at {self.redacted_url}: {error}") from None
        except redis.exceptions.RedisError as error:
            raise StorageFailure("other", f"Redis refused the batch at {self.redacted_url}: {error}") from None
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
        self.client.close()
