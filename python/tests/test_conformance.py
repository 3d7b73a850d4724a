"""Runs the language-neutral scenarios in tests/conformance/ (see its
README.md for the format) against the Python host and a real Redis."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import REPO, RedisServer

from agent_sessions import (
    SessionCreate,
    SessionError,
    SessionRepository,
    SessionUpdate,
)
from agent_sessions.errors import BackendError, DataCorruptError

SCENARIOS = sorted((REPO / "tests" / "conformance").glob("*.json"))
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
# The arguments of each call, all required (as in the Rust runner's call_arguments).
CALL_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "create": ("input",),
    "get": ("id",),
    "delete": ("id",),
    "extend_ttl": ("id",),
    "update": ("id", "changes"),
    "list": ("limit", "offset"),
    "cleanup_expired": (),
    "reindex": (),
    "stats": (),
    "append_items": ("id", "request"),
    "get_items": ("id", "query"),
    "pop_item": ("id", "options"),
    "clear_items": ("id", "options"),
    "delete_with": ("id", "options"),
    "list_by_owner": ("app_name", "user_id", "limit"),
}
# The keys a call may leave out (as in the Rust runner's optional_call_keys):
# `save` on create (the id), list and list_by_owner (the next page token),
# `page_token` on the last two.
OPTIONAL_CALL_KEYS: dict[str, tuple[str, ...]] = {
    "create": ("save",),
    "list": ("save", "page_token"),
    "list_by_owner": ("save", "page_token"),
}
ERROR_KINDS = ("invalid_input", "not_found", "conflict", "data_corrupt", "backend")


def test_there_are_scenarios() -> None:
    assert len(SCENARIOS) >= 10, f"expected the conformance scenarios in {REPO / 'tests' / 'conformance'}"


class Mismatch(AssertionError):
    pass


class MalformedScenario(ValueError):
    pass


def check_keys(obj: Any, allowed: list[str], required: list[str], what: str) -> None:
    """Fails on keys outside `allowed` (typos) and on missing `required` keys."""
    if not isinstance(obj, dict):
        raise MalformedScenario(f"{what} must be an object, got {obj!r}")
    for key in obj:
        if key not in allowed:
            raise MalformedScenario(f"{what} has the unknown key {key!r}; allowed: {allowed}")
    for key in required:
        if key not in obj:
            raise MalformedScenario(f"{what} lacks the key {key!r}")


def check_step(step: Any) -> None:
    """One step's keys: a call step takes `call`, its arguments and `expect`
    (plus its optional keys); a Redis step takes `redis` and
    `expect`. A call's `expect` must also be well formed."""
    if not isinstance(step, dict):
        raise MalformedScenario(f"a step must be an object, got {step!r}")
    if ("call" in step) == ("redis" in step):
        raise MalformedScenario('a step needs exactly one of "call" and "redis"')
    if "redis" in step:
        check_keys(step, ["redis", "expect"], ["redis", "expect"], "a redis step")
        return
    name = step["call"]
    if not isinstance(name, str) or name not in CALL_ARGUMENTS:
        raise MalformedScenario(f"unknown call {name!r}")
    optional = OPTIONAL_CALL_KEYS.get(name, ())
    allowed = ["call", "expect", *CALL_ARGUMENTS[name], *optional]
    check_keys(step, allowed, [key for key in allowed if key not in optional], f"a {name} step")
    expect = step["expect"]
    if not (isinstance(expect, dict) and len(expect) == 1 and set(expect) <= {"ok", "error"}):
        raise MalformedScenario(f'"expect" of a call must be {{"ok": ..}} or {{"error": ..}}, got {expect!r}')
    if "error" in expect:
        error = expect["error"]
        check_keys(error, ["kind", "message_contains", "key", "field"], ["kind"], "expect.error")
        if error["kind"] not in ERROR_KINDS:
            raise MalformedScenario(f"unknown error kind {error['kind']!r}; known: {ERROR_KINDS}")


def check_scenario(scenario: Any) -> None:
    """Checks a scenario's structure before any of it runs, with the same rules
    as `check_scenario` in the Rust runner (tests/tests/conformance.rs): the
    top level's keys, and for every step exactly one of `call` and `redis`, a
    known call, every key the step needs (`expect` included: a step without it
    would pass on any outcome) and no key it does not take. Raises
    MalformedScenario naming the step (numbered from 1) and the offending key."""
    check_keys(scenario, ["description", "settings", "prefix", "steps"], ["description", "steps"], "the scenario")
    if "settings" in scenario:
        check_keys(scenario["settings"], ["session_ttl_seconds", "grace_seconds"], [], "settings")
    steps = scenario["steps"]
    if not (isinstance(steps, list) and steps):
        raise MalformedScenario('"steps" must be a non-empty list')
    for number, step in enumerate(steps, start=1):
        try:
            check_step(step)
        except MalformedScenario as error:
            raise MalformedScenario(f"step {number} (numbered from 1): {error}") from None


def inline(step: dict[str, Any]) -> dict[str, Any]:
    return {"description": "inline", "steps": [step]}


def test_well_formed_steps_pass() -> None:
    check_scenario(inline({"call": "stats", "expect": {"ok": {}}}))
    check_scenario(inline({"redis": ["GET", "x"], "expect": None}))
    check_scenario(inline({"call": "create", "input": {"model_id": "m"}, "save": "a", "expect": {"ok": {}}}))
    check_scenario(inline({"call": "append_items", "id": "x", "request": {"items": [1]}, "expect": {"ok": {}}}))
    check_scenario(inline({"call": "get_items", "id": "x", "query": {}, "expect": {"ok": {}}}))
    for name in ("pop_item", "clear_items", "delete_with"):
        check_scenario(inline({"call": name, "id": "x", "options": {}, "expect": {"ok": {}}}))
    owner_page = {"call": "list_by_owner", "app_name": "a", "user_id": "", "limit": 2, "expect": {"ok": {}}}
    check_scenario(inline(owner_page))
    check_scenario(inline({**owner_page, "page_token": "t", "save": "next"}))


@pytest.mark.parametrize(
    "step",
    [{"call": "stats"}, {"call": "get", "id": "x"}, {"redis": ["GET", "x"]}],
    ids=["stats", "get", "redis"],
)
def test_a_step_without_expect_fails(step: dict[str, Any]) -> None:
    with pytest.raises(MalformedScenario, match=r"step 1 .*lacks the key 'expect'"):
        check_scenario(inline(step))


@pytest.mark.parametrize(
    ("step", "unknown"),
    [
        ({"call": "get", "id": "x", "expect": {"ok": {}}, "expected": {"ok": {}}}, "expected"),
        ({"call": "get", "id": "x", "save": "a", "expect": {"ok": {}}}, "save"),
        ({"call": "stats", "id": "x", "expect": {"ok": {}}}, "id"),
        ({"redis": ["GET", "x"], "input": {}, "expect": None}, "input"),
        ({"redis": ["GET", "x"], "save": "a", "expect": None}, "save"),
    ],
    ids=["typo", "save-on-get", "argument-of-another-call", "input-on-redis", "save-on-redis"],
)
def test_a_step_with_an_unknown_key_fails(step: dict[str, Any], unknown: str) -> None:
    with pytest.raises(MalformedScenario, match=f"unknown key '{unknown}'"):
        check_scenario(inline(step))


def test_other_malformed_scenarios_fail() -> None:
    for step in [
        {"call": "get", "expect": {"ok": {}}},
        {"call": "gett", "id": "x", "expect": {"ok": {}}},
        {"call": "stats", "redis": ["GET", "x"], "expect": {"ok": {}}},
        {"call": "stats", "expect": {"okay": {}}},
        {"call": "pop_item", "id": "x", "expect": {"ok": {}}},
        {"call": "list_by_owner", "app_name": "a", "limit": 2, "expect": {"ok": {}}},
        {"call": "get_items", "id": "x", "query": {}, "save": "a", "expect": {"ok": {}}},
    ]:
        with pytest.raises(MalformedScenario):
            check_scenario(inline(step))
    with pytest.raises(MalformedScenario, match="'step'"):
        check_scenario({"description": "d", "steps": [], "step": []})


def substitute(value: Any, saved: dict[str, str]) -> Any:
    if isinstance(value, str):
        return re.sub(r"\$\{(\w+)\}", lambda m: saved[m.group(1)], value)
    if isinstance(value, list):
        return [substitute(v, saved) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, saved) for k, v in value.items()}
    return value


def match(expected: Any, actual: Any, path: str = "$") -> None:
    if isinstance(expected, dict) and len(expected) == 1 and next(iter(expected)).startswith("$"):
        ((matcher, argument),) = expected.items()
        if matcher == "$match":
            pattern = {"uuid": UUID, "timestamp": TIMESTAMP}[argument]
            if not (isinstance(actual, str) and pattern.match(actual)):
                raise Mismatch(f"{path}: expected a {argument}, got {actual!r}")
        elif matcher == "$between":
            low, high = argument
            if not (isinstance(actual, (int, float)) and not isinstance(actual, bool) and low <= actual <= high):
                raise Mismatch(f"{path}: expected a number in [{low}, {high}], got {actual!r}")
        elif matcher == "$contains":
            if not (isinstance(actual, str) and argument in actual):
                raise Mismatch(f"{path}: expected a string containing {argument!r}, got {actual!r}")
        elif matcher == "$any":
            pass
        elif matcher == "$exact":
            if actual != {}:
                raise Mismatch(f"{path}: expected an empty object, got {actual!r}")
        else:
            raise Mismatch(f"{path}: unknown matcher {matcher}")
        return
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            raise Mismatch(f"{path}: expected an object, got {actual!r}")
        exact = expected.get("$exact", False)
        for key, value in expected.items():
            if key == "$exact":
                continue
            if key not in actual:
                raise Mismatch(f"{path}: missing key {key!r} in {actual!r}")
            match(value, actual[key], f"{path}.{key}")
        if exact:
            extra = sorted(set(actual) - (set(expected) - {"$exact"}))
            if extra:
                raise Mismatch(f"{path}: unexpected keys {extra} in {actual!r}")
        return
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            raise Mismatch(f"{path}: expected {len(expected)} items, got {actual!r}")
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            match(e, a, f"{path}[{i}]")
        return
    if isinstance(expected, bool) or expected is None or isinstance(actual, bool):
        if expected is not actual and expected != actual or type(expected) is not type(actual):
            raise Mismatch(f"{path}: expected {expected!r}, got {actual!r}")
        return
    if isinstance(expected, (int, float)):
        if not isinstance(actual, (int, float)) or not math.isclose(expected, actual, rel_tol=0, abs_tol=1e-12):
            raise Mismatch(f"{path}: expected {expected!r}, got {actual!r}")
        return
    if expected != actual:
        raise Mismatch(f"{path}: expected {expected!r}, got {actual!r}")


def to_json(value: Any) -> Any:
    # Sessions, pages, reports, stats, and the conversation calls' receipts,
    # item pages, popped items and owner pages.
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value, dict_factory=document_fields)
    return value


def document_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """One dataclass as its schema document, without the fields the document
    leaves out when they have no value (the dataclass holds None): a session
    without an owner has no `app_name` and `user_id`, a page of items read
    without `include_session` no `session` and `state`."""
    fields = dict(pairs)
    if "expires_in_seconds" in fields and fields.get("app_name") is None and fields.get("user_id") is None:
        fields.pop("app_name", None)
        fields.pop("user_id", None)
    if "left_out" in fields and fields.get("session") is None and fields.get("state") is None:
        fields.pop("session", None)
        fields.pop("state", None)
    return fields


def error_json(error: SessionError) -> dict[str, Any]:
    # The scenarios spell kinds as every API does (`invalid_input`).
    result: dict[str, Any] = {
        "kind": "backend" if isinstance(error, BackendError) else error.kind,
        "message": error.message,
    }
    if isinstance(error, DataCorruptError):
        # message_contains is checked against the text the WIT case carries.
        result.update(key=error.key, field=error.field, session_id=error.session_id, message=error.detail)
    return result


def call(repo: SessionRepository, step: dict[str, Any]) -> Any:
    name = step["call"]
    if name == "create":
        # A scenario's `id` is the caller-chosen id: create_session's session_id.
        fields = dict(step["input"])
        session_id = fields.pop("id", None)
        return repo.create_session(SessionCreate(**fields), session_id=session_id)
    if name == "get":
        return repo.get_session_or_raise(step["id"])
    if name == "update":
        return repo.update_session(step["id"], SessionUpdate(**step["changes"]))
    if name == "delete":
        return repo.delete_session(step["id"])
    if name == "list":
        return repo.list_sessions(step["limit"], step["offset"], step.get("page_token"))
    if name == "extend_ttl":
        return repo.extend_session_ttl(step["id"])
    if name == "cleanup_expired":
        return repo.cleanup_expired_sessions_report()
    if name == "reindex":
        return repo.reindex_sessions()
    if name == "stats":
        return repo.stats()
    # The conversation calls: a document's fields are the method's keyword
    # arguments (an owner as {"app_name", "user_id"}).
    if name == "append_items":
        return repo.append_items(step["id"], **step["request"])
    if name == "get_items":
        return get_items(repo, step["id"], step["query"])
    if name == "pop_item":
        return repo.pop_item(step["id"], **step["options"])
    if name == "clear_items":
        return repo.clear_items(step["id"], **step["options"])
    if name == "delete_with":
        return repo.delete_session(step["id"], **step["options"])
    if name == "list_by_owner":
        # user_id "" lists every user of the app, as None does.
        return repo.list_sessions_by_owner(
            step["app_name"], step["user_id"] or None, limit=step["limit"], page_token=step.get("page_token")
        )
    raise AssertionError(f"unknown call {name!r}")


def get_items(repo: SessionRepository, session_id: str, query: dict[str, Any]) -> Any:
    """`get_items`, or with `include_session` `get_conversation`, as the
    page document (`get_conversation` reads every item asked for, so nothing
    is left out)."""
    query = dict(query)
    if not query.pop("include_session", False):
        return repo.get_items(session_id, **query)
    query.pop("whole", None)  # get_conversation reads whole
    conversation = repo.get_conversation(session_id, **query)
    return {**to_json(conversation), "id": conversation.session.id, "left_out": 0}


def redis_reply(client: redis.Redis[str], command: list[str]) -> Any:
    name = command[0].upper()
    reply = client.execute_command(*command)
    if name == "HGETALL" and isinstance(reply, list):
        return dict(zip(reply[::2], reply[1::2], strict=True))
    if name in ("SMEMBERS", "KEYS"):
        return sorted(reply, key=lambda s: s.encode())
    if isinstance(reply, bytes):
        return reply.decode()
    return reply


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Path, server: RedisServer) -> None:
    scenario = json.loads(path.read_text())
    check_scenario(scenario)
    settings = scenario.get("settings", {})
    client: redis.Redis[str] = redis.Redis(port=server.port, decode_responses=True)
    # Raw replies, as the README's normal form wants them: redis-py's own
    # conversions turn EXPIRE's and PERSIST's integer into a bool and SET's
    # "OK" into True.
    client.response_callbacks.clear()
    client.flushall()
    repo = SessionRepository(
        server.url,
        prefix=scenario.get("prefix", ""),
        ttl=settings.get("session_ttl_seconds", 3600),
        grace=settings.get("grace_seconds", 300),
    )
    saved: dict[str, str] = {}
    try:
        for number, raw_step in enumerate(scenario["steps"], start=1):
            step = substitute(raw_step, saved)
            where = f"{path.name} step {number}: {json.dumps(raw_step)}"
            if "redis" in step:
                actual = redis_reply(client, step["redis"])
                try:
                    match(step["expect"], actual)
                except Mismatch as mismatch:
                    raise AssertionError(f"{where}\n{mismatch}") from None
                continue
            expect = step["expect"]
            try:
                result: Any = {"ok": to_json(call(repo, step))}
            except SessionError as error:
                result = {"error": error_json(error)}
            try:
                if "ok" in expect:
                    match(expect, result)
                else:
                    spec = dict(expect["error"])
                    if "error" not in result:
                        raise Mismatch(f"expected error {spec}, got ok {result['ok']!r}")
                    contains = spec.pop("message_contains", None)
                    match(spec, result["error"], "$.error")
                    if contains is not None and contains not in result["error"]["message"]:
                        raise Mismatch(f"error message {result['error']['message']!r} lacks {contains!r}")
            except Mismatch as mismatch:
                raise AssertionError(f"{where}\n{mismatch}\nactual: {json.dumps(result, indent=1)}") from None
            if "save" in step:
                # A create saves the session's id, a list its next page token.
                field = "next_page_token" if step["call"].startswith("list") else "id"
                assert "ok" in result, f"{where}: cannot save a {field} from a failed call"
                assert isinstance(result["ok"].get(field), str), f"{where}: the result has no {field}"
                saved[step["save"]] = result["ok"][field]
    finally:
        repo.close()
        client.close()
