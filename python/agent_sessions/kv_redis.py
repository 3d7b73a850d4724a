"""`kv.execute` over Redis: every batch is one EVALSHA of `kv_batch.lua`.

This is the Python twin of `host/src/kv/redis.rs` and `host/src/kv/mod.rs`:
it checks a batch (the rules in the WIT comment on `execute`), prefixes every
key, encodes the batch in the script's calling convention, and decodes the
script's reply into the WIT `batch-outcome`. No session rule lives here.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ._assets import kv_batch_script
from ._wit import Variant, field, record

#: Largest batch accepted from the guest, in conditions plus ops.
MAX_BATCH_ENTRIES = 100_000
#: Most fields or members one op may name.
MAX_OP_ITEMS = 1000
#: Longest TTL an op may set: 100 years.
MAX_TTL_MS = 100 * 365 * 24 * 3600 * 1000

_CONDITION_CODES = {
    "key-exists": "exists",
    "key-missing": "missing",
    "field-equals": "field_eq",
    "field-missing": "field_missing",
}

# The Redis type each op needs its key to hold (None: any).
_KEY_TYPES = {
    "hash-get-all": "hash",
    "hash-get": "hash",
    "hash-get-fields": "hash",
    "hash-set": "hash",
    "hash-increment": "hash",
    "string-set": "string",
    "set-add": "set",
    "set-remove": "set",
    "set-size": "set",
    "set-scan": "set",
    "sorted-add": "zset",
    "sorted-remove": "zset",
    "sorted-size": "zset",
    "sorted-score": "zset",
    "sorted-range-desc": "zset",
    "sorted-scan": "zset",
    "set-contains": "set",
}

_I64_MAX = 2**63 - 1


class KvError(Exception):
    """A WIT `kv-error`: kind (unavailable, timeout, wrong-type,
    invalid-batch, other), the key without prefix (wrong-type), a message."""

    def __init__(self, kind: str, message: str, key: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.key = key
        self.message = message

    def to_wit(self) -> Variant:
        return Variant("err", record(kind=self.kind, key=self.key, message=self.message))


def _op_key(op: Variant) -> str:
    """The op's key (for key-scan, its pattern)."""
    payload = op.payload
    if isinstance(payload, str):
        return payload
    if op.tag == "key-scan":
        return str(field(payload, "pattern"))
    return str(field(payload, "key"))


def escape_glob(text: str) -> str:
    """`text` with Redis' glob characters escaped, so a prefix matches only itself."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _score(score: float) -> str:
    # The form Rust's Display gives and Redis reads: "1750000000000", "0.5".
    if score == int(score) and abs(score) < 1e16:
        return str(int(score))
    return repr(score)


def check_batch(batch: Any) -> None:
    """Rejects (invalid-batch) what no backend could apply atomically."""
    conditions, ops = field(batch, "conditions"), field(batch, "ops")
    if len(conditions) + len(ops) > MAX_BATCH_ENTRIES:
        raise KvError("invalid-batch", f"a batch may hold at most {MAX_BATCH_ENTRIES} conditions and ops")
    types: dict[str, str] = {}
    for index, op in enumerate(ops):
        tag, payload = op.tag, op.payload
        items: list[Any] | None = None
        if tag in ("hash-set", "hash-get-fields"):
            items = field(payload, "fields")
        elif tag in ("set-add", "set-remove", "sorted-remove", "sorted-add"):
            items = field(payload, "members")
        if items is not None:
            if len(items) > MAX_OP_ITEMS:
                raise KvError("invalid-batch", f"op {index} names {len(items)} items; at most {MAX_OP_ITEMS} per op")
            if not items:
                raise KvError("invalid-batch", f"op {index} on {_op_key(op)} has nothing to do")
            if tag == "sorted-add":
                for member in items:
                    score = field(member, "score")
                    if score != score or score in (float("inf"), float("-inf")):
                        raise KvError("invalid-batch", f"op {index}: scores must be finite")
        if tag in ("set-scan", "sorted-scan", "key-scan") and field(payload, "count") == 0:
            raise KvError("invalid-batch", f"op {index} on {_op_key(op)} has nothing to do")
        if tag == "key-scan" and not field(payload, "pattern"):
            raise KvError("invalid-batch", f"op {index}: a key scan needs a pattern")
        ttl_ms = None
        if tag == "string-set":
            ttl_ms = field(payload, "ttl-ms")
        elif tag == "expire":
            ttl_ms = field(payload, "ttl-ms")
        if ttl_ms is not None and not 1 <= ttl_ms <= MAX_TTL_MS:
            raise KvError("invalid-batch", f"op {index}: a TTL must be from 1 ms to {MAX_TTL_MS} ms")
        key_type = _KEY_TYPES.get(tag)
        if key_type is not None:
            key = _op_key(op)
            previous = types.setdefault(key, key_type)
            if previous != key_type:
                raise KvError("invalid-batch", f"op {index} uses {key} as a {previous} and as a {key_type}")


class _Encoder:
    """KEYS (each key once, prefixed) and ARGV in the script's convention."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.keys: list[str] = []
        self.numbers: dict[str, int] = {}
        self.args: list[Any] = []

    def entry(self, code: str, key: str, *rest: Any) -> None:
        number = self.numbers.get(key)
        if number is None:
            self.keys.append(self.prefix + key)
            number = self.numbers[key] = len(self.keys)
        self.args.append(code)
        self.args.append(number)
        self.args.append(len(rest))
        self.args.extend(rest)


def encode(batch: Any, prefix: str) -> _Encoder:
    e = _Encoder(prefix)
    conditions = field(batch, "conditions")
    e.args.append(len(conditions))
    for condition in conditions:
        tag, payload = condition.tag, condition.payload
        code = _CONDITION_CODES[tag]
        if tag == "field-equals":
            e.entry(code, field(payload, "key"), field(payload, "field"), field(payload, "value"))
        elif tag == "field-missing":
            e.entry(code, field(payload, "key"), field(payload, "field"))
        else:
            e.entry(code, payload)
    ops = field(batch, "ops")
    e.args.append(len(ops))
    for op in ops:
        tag, p = op.tag, op.payload
        if tag == "hash-get-all":
            e.entry("hgetall", p)
        elif tag == "hash-get":
            e.entry("hget", field(p, "key"), field(p, "field"))
        elif tag == "hash-get-fields":
            e.entry("hmget", field(p, "key"), *field(p, "fields"))
        elif tag == "hash-set":
            flat: list[str] = []
            for pair in field(p, "fields"):
                flat.append(field(pair, "field"))
                flat.append(field(pair, "value"))
            e.entry("hset", field(p, "key"), *flat)
        elif tag == "hash-increment":
            e.entry("hincrby", field(p, "key"), field(p, "field"), field(p, "delta"))
        elif tag == "string-set":
            ttl = field(p, "ttl-ms")
            if ttl is None:
                e.entry("set", field(p, "key"), field(p, "value"))
            else:
                e.entry("set", field(p, "key"), field(p, "value"), ttl)
        elif tag == "exists":
            e.entry("exists", p)
        elif tag == "ttl-ms":
            e.entry("pttl", p)
        elif tag == "expire":
            e.entry("pexpire", field(p, "key"), field(p, "ttl-ms"))
        elif tag == "delete":
            e.entry("del", p)
        elif tag == "set-add":
            e.entry("sadd", field(p, "key"), *field(p, "members"))
        elif tag == "set-remove":
            e.entry("srem", field(p, "key"), *field(p, "members"))
        elif tag == "set-size":
            e.entry("scard", p)
        elif tag == "set-scan":
            e.entry("sscan", field(p, "key"), field(p, "cursor"), field(p, "count"))
        elif tag == "sorted-add":
            flat = []
            for member in field(p, "members"):
                flat.append(_score(field(member, "score")))
                flat.append(field(member, "member"))
            e.entry("zadd", field(p, "key"), *flat)
        elif tag == "sorted-remove":
            e.entry("zrem", field(p, "key"), *field(p, "members"))
        elif tag == "sorted-size":
            e.entry("zcard", p)
        elif tag == "sorted-score":
            e.entry("zscore", field(p, "key"), field(p, "member"))
        elif tag == "sorted-range-desc":
            # Redis ranks are signed 64-bit; no set is that large anyway.
            start, stop = min(field(p, "start"), _I64_MAX), min(field(p, "stop"), _I64_MAX)
            e.entry("zrevrange", field(p, "key"), start, stop)
        elif tag == "sorted-scan":
            e.entry("zscan", field(p, "key"), field(p, "cursor"), field(p, "count"))
        elif tag == "set-contains":
            e.entry("sismember", field(p, "key"), field(p, "member"))
        elif tag == "key-scan":
            # A pattern is not a key: key number 0, the pattern an argument.
            pattern = escape_glob(prefix) + field(p, "pattern")
            e.args.extend(["scan", 0, 3, field(p, "cursor"), pattern, field(p, "count")])
        else:
            raise KvError("invalid-batch", f"unknown op {tag}")
    return e


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        # Values other tools wrote may be invalid UTF-8: keep them readable
        # (the guest reports the field as corrupt if it matters).
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    raise _malformed(f"expected text, got {value!r}")


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _malformed(f"expected an array, got {value!r}")
    return [_text(item) or "" for item in value]


def _integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _malformed(f"expected an integer, got {value!r}")


def _malformed(detail: str) -> KvError:
    return KvError("other", f"unexpected reply from the kv batch script: {detail}")


def _decode_reply(op: Variant, value: Any, prefix: str) -> Variant:
    tag = op.tag
    if tag == "hash-get-all":
        flat = _texts(value)
        return Variant("fields", [record(field=flat[i], value=flat[i + 1]) for i in range(0, len(flat) - 1, 2)])
    if tag in ("hash-get", "sorted-score"):
        return Variant("text", _text(value))
    if tag == "hash-get-fields":
        if not isinstance(value, list):
            raise _malformed(f"expected an array, got {value!r}")
        return Variant("values", [_text(item) for item in value])
    if tag == "sorted-range-desc":
        return Variant("texts", _texts(value))
    if tag in ("set-scan", "sorted-scan", "key-scan"):
        if not isinstance(value, list) or len(value) != 2:
            raise _malformed(f"scan reply {value!r}")
        members = _texts(value[1])
        if tag == "key-scan" and prefix:
            # Keys come back whole; the guest sees them without the prefix.
            members = [m[len(prefix) :] if m.startswith(prefix) else m for m in members]
        return Variant("scan", record(cursor=_text(value[0]) or "0", members=members))
    return Variant("integer", _integer(value))


def decode(batch: Any, prefix: str, value: Any) -> Variant:
    """The script's reply as the WIT `result<batch-outcome, kv-error>`."""
    if not isinstance(value, list) or not value:
        raise _malformed(f"expected an array, got {value!r}")
    status = _integer(value[0])
    ops = field(batch, "ops")
    if status == 1:
        if len(value) - 1 < len(ops):
            raise _malformed("fewer replies than ops")
        return Variant("ok", [_decode_reply(op, item, prefix) for op, item in zip(ops, value[1:], strict=False)])
    if status == 0:
        index = _integer(value[1])
        actual = _text(value[2]) if len(value) > 2 else None
        return Variant("ok", record(index=index, actual=actual))
    if status in (2, 3):
        index = _integer(value[1])
        found = _text(value[2]) if len(value) > 2 else ""
        if not 0 <= index < len(ops):
            raise _malformed(f"op index {index}")
        op = ops[index]
        key = _op_key(op)
        if status == 2:
            wanted = _KEY_TYPES.get(op.tag, "any")
            message = f"the key holds a {found}, not a {wanted}"
        else:
            message = f"field {field(op.payload, 'field')} holds {found!r}, not an integer"
        return KvError("wrong-type", message, key=key).to_wit()
    raise _malformed(f"unknown status {status}")


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
        script = kv_batch_script()
        self._script = script
        self._sha = hashlib.sha1(script.encode()).hexdigest()
        self._lock = threading.Lock()
        #: Batches sent to Redis, one round trip each.
        self.round_trips = 0

    def execute(self, batch: Any) -> Variant:
        """`kv.execute`: never raises (an exception inside an import would
        leave the component instance unusable)."""
        try:
            check_batch(batch)
            encoded = encode(batch, self.prefix)
            with self._lock:
                self.round_trips += 1
            reply = self._evalsha(encoded)
            return decode(batch, self.prefix, reply)
        except KvError as error:
            return error.to_wit()
        except redis.exceptions.TimeoutError as error:
            return KvError("timeout", f"Redis did not answer in time at {self.redacted_url}: {error}").to_wit()
        except redis.exceptions.ConnectionError as error:
            return KvError("unavailable", f"Redis is unavailable at {self.redacted_url}: {error}").to_wit()
        except redis.exceptions.RedisError as error:
            return KvError("other", f"Redis refused the batch at {self.redacted_url}: {error}").to_wit()
        except Exception as error:  # a bug here must not poison the instance
            return KvError("other", f"the Python kv host failed: {type(error).__name__}: {error}").to_wit()

    def _evalsha(self, encoded: _Encoder) -> Any:
        def run() -> Any:
            return self.client.execute_command("EVALSHA", self._sha, len(encoded.keys), *encoded.keys, *encoded.args)

        try:
            return run()
        except redis.exceptions.NoScriptError:
            # A new or restarted server has not seen the script: load it and
            # send the batch again (it was not run).
            self.client.execute_command("SCRIPT", "LOAD", self._script)
            return run()

    def ping(self) -> float:
        """Seconds one PING takes; raises redis-py's error when Redis is down."""
        import time

        started = time.perf_counter()
        self.client.ping()
        return time.perf_counter() - started

    def close(self) -> None:
        self.client.close()
