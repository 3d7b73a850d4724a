"""The conformance scenarios (tests/conformance/, format in its README)
over HTTP: each repository call becomes a request through one table,
OPERATIONS below, so the API cannot drift from the component.

What the API does not expose: `reindex` (an operator's command, `sessions
reindex`), and ids or app names that are empty (no path segment).
A step the API cannot express is skipped when it changes nothing (it
expects an error, or a delete that finds nothing): the steps after it still
hold. Otherwise the scenario stops there and its remaining steps count as
not reached. Scenario settings pick the deployment's configuration
(conftest.CONFIGS); settings no configuration has would make a scenario
not applicable. The counts per deployment are printed at the end.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from checks import compact
from conftest import CONFORMANCE_COUNTS, CONFORMANCE_NOTES, REPO, Api, Deployments, describe, session_path

import redis

SCENARIOS = sorted((REPO / "tests" / "conformance").glob("*.json"))
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

# Scenario settings (TTL, grace, prefix) -> the configuration serving them.
CONFIG_OF_SETTINGS: dict[tuple[int, int, str], str] = {
    (3600, 300, ""): "default",
    (600, 60, ""): "ttl600",
    (3600, 300, "tenant-a:"): "tenant",
}

# The problem kinds as the scenarios spell the WIT error cases.
SCENARIO_KIND = {
    "invalid_input": "invalid_input",
    "malformed_json": "invalid_input",
    "not_found": "not_found",
    "conflict": "conflict",
    "precondition_failed": "conflict",
    "data_corrupt": "data_corrupt",
    "unavailable": "backend",
    "timeout": "backend",
    "wrong_type": "backend",
    "invalid_batch": "backend",
    "other": "backend",
}


class NotExpressible(Exception):
    """The API has no request for this step."""


@dataclass
class HttpCall:
    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    if_match: int | None = None
    # How a success reads: the body, or True/False from 204/404.
    boolean: bool = False
    # The success statuses it may answer, and whether an ETag comes with it.
    ok: tuple[int, ...] = (200,)
    versioned: bool = False


def path_of(step: dict[str, Any], *rest: str) -> str:
    """/sessions/{id}/...; an empty id has no path segment of its own
    (`/sessions//extend` is no route), so such a step is not expressible."""
    if step["id"] == "":
        raise NotExpressible("an empty id cannot be a path segment (/sessions//... is no route: 404)")
    return session_path(step["id"], *rest)


def owner_params(owner: dict[str, str] | None) -> dict[str, str]:
    return {} if owner is None else {"app_name": owner["app_name"], "user_id": owner["user_id"]}


def with_if_match(document: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
    """expected_version moves to If-Match (the HTTP way of saying it)."""
    rest = dict(document)
    return rest, rest.pop("expected_version", None)


def append_call(step: dict[str, Any]) -> HttpCall:
    request, version = with_if_match(step["request"])
    # Only items: the array form of the body; anything more: the object.
    body = request["items"] if set(request) == {"items"} else request
    return HttpCall("POST", path_of(step, "items"), body=body, if_match=version, ok=(200, 201), versioned=True)


def item_write(method: str, *rest: str) -> Callable[[dict[str, Any]], HttpCall]:
    def call(step: dict[str, Any]) -> HttpCall:
        options, version = with_if_match(step["options"])
        # An owner goes in the optional ItemOptions body.
        return HttpCall(method, path_of(step, *rest), body=options or None, if_match=version, versioned=True)

    return call


def get_items_call(step: dict[str, Any]) -> HttpCall:
    query = dict(step["query"])
    params: dict[str, Any] = owner_params(query.pop("owner", None))
    for name, value in query.items():
        params[name] = str(value).lower() if isinstance(value, bool) else value
    return HttpCall("GET", path_of(step, "items"), params=params, versioned=True)


def delete_with_call(step: dict[str, Any]) -> HttpCall:
    options, version = with_if_match(step["options"])
    # The owner as query parameters, as for GET items.
    params = owner_params(options.pop("owner", None))
    if options:
        raise NotExpressible(f"DELETE /sessions/{{id}} takes no {sorted(options)}")
    return HttpCall("DELETE", path_of(step), params=params, if_match=version, boolean=True, ok=(204,))


def list_call(step: dict[str, Any]) -> HttpCall:
    params = {"limit": step["limit"], "offset": step["offset"]}
    if "page_token" in step:
        params["page_token"] = step["page_token"]
    return HttpCall("GET", "/sessions", params=params)


def list_by_owner_call(step: dict[str, Any]) -> HttpCall:
    params: dict[str, Any] = {"limit": step["limit"]}
    if step["user_id"]:
        params["user_id"] = step["user_id"]
    if "page_token" in step:
        params["page_token"] = step["page_token"]
    if step["app_name"] == "":
        raise NotExpressible("an empty app name cannot be a path segment (/apps//sessions is no route: 404)")
    return HttpCall("GET", f"/apps/{quote(step['app_name'], safe='')}/sessions", params=params)


def not_exposed(reason: str) -> Callable[[dict[str, Any]], HttpCall]:
    def call(step: dict[str, Any]) -> HttpCall:
        raise NotExpressible(reason)

    return call


# The one table: each scenario operation -> the request that performs it.
OPERATIONS: dict[str, Callable[[dict[str, Any]], HttpCall]] = {
    "create": lambda s: HttpCall("POST", "/sessions", body=s["input"], ok=(201,), versioned=True),
    "get": lambda s: HttpCall("GET", path_of(s), versioned=True),
    "update": lambda s: HttpCall("PATCH", path_of(s), body=s["changes"], versioned=True),
    "delete": lambda s: HttpCall("DELETE", path_of(s), boolean=True, ok=(204,)),
    "list": list_call,
    "extend_ttl": lambda s: HttpCall("POST", path_of(s, "extend"), boolean=True, ok=(204,)),
    "cleanup_expired": lambda s: HttpCall("POST", "/cleanup"),
    "stats": lambda s: HttpCall("GET", "/stats"),
    "append_items": append_call,
    "get_items": get_items_call,
    "pop_item": item_write("POST", "items", "pop"),
    "clear_items": item_write("DELETE", "items"),
    "delete_with": delete_with_call,
    "list_by_owner": list_by_owner_call,
    "reindex": not_exposed("reindex is an operator's command (`sessions reindex`), not an HTTP route"),
}

READS = {"get", "list", "get_items", "list_by_owner", "stats"}


class Mismatch(AssertionError):
    pass


def substitute(value: Any, saved: dict[str, str]) -> Any:
    if isinstance(value, str):
        return re.sub(r"\$\{(\w+)\}", lambda m: saved[m.group(1)], value)
    if isinstance(value, list):
        return [substitute(v, saved) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, saved) for k, v in value.items()}
    return value


def match(expected: Any, actual: Any, path: str = "$") -> None:
    """The README's matching rules (the fourth runner's copy of them)."""
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
        elif matcher == "$exact":
            if actual != {}:
                raise Mismatch(f"{path}: expected an empty object, got {actual!r}")
        elif matcher != "$any":
            raise Mismatch(f"{path}: unknown matcher {matcher}")
        return
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            raise Mismatch(f"{path}: expected an object, got {actual!r}")
        for key, value in expected.items():
            if key == "$exact":
                continue
            if key not in actual:
                raise Mismatch(f"{path}: missing key {key!r} in {actual!r}")
            match(value, actual[key], f"{path}.{key}")
        if expected.get("$exact", False):
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
        if expected is not actual:
            raise Mismatch(f"{path}: expected {expected!r}, got {actual!r}")
        return
    if isinstance(expected, (int, float)):
        if not isinstance(actual, (int, float)) or not math.isclose(expected, actual, rel_tol=0, abs_tol=1e-12):
            raise Mismatch(f"{path}: expected {expected!r}, got {actual!r}")
        return
    if expected != actual:
        raise Mismatch(f"{path}: expected {expected!r}, got {actual!r}")


def redis_reply(client: redis.Redis[str], command: list[str]) -> Any:
    name = command[0].upper()
    reply = client.execute_command(*command)
    if name == "HGETALL" and isinstance(reply, list):
        return dict(zip(reply[::2], reply[1::2], strict=True))
    if name in ("SMEMBERS", "KEYS"):
        return sorted(reply, key=lambda s: s.encode())
    return reply


def perform(client: httpx.Client, call: HttpCall) -> tuple[dict[str, Any], httpx.Response]:
    """Sends the request; {"ok": value} or {"error": {...}} as the scenarios
    read results, after checking the HTTP side (statuses, ETag, problem
    documents)."""
    headers = {}
    content = None
    if call.body is not None:
        # Compact, keys in the scenario's order: items are stored as sent.
        content = compact(call.body)
        headers["Content-Type"] = "application/json"
    if call.if_match is not None:
        headers["If-Match"] = f'"{call.if_match}"'
    response = client.request(call.method, call.path, params=call.params, content=content, headers=headers)
    status = response.status_code
    if status in call.ok:
        if call.boolean:
            assert response.content == b"", describe(response)
            return {"ok": True}, response
        assert response.headers.get("content-type", "").startswith("application/json"), describe(response)
        value = response.json()
        if call.path.startswith("/apps/"):
            # The README: a host that omits an owner page's last-page token
            # is read as null.
            value.setdefault("next_page_token", None)
        if call.versioned:
            assert response.headers.get("etag") == f'"{value["version"]}"', (
                f"ETag is not the version: {describe(response)}"
            )
        return {"ok": value}, response
    assert response.headers.get("content-type", "").startswith("application/problem+json"), describe(response)
    document = response.json()
    assert document.get("status") == status, describe(response)
    kind = document.get("kind")
    if call.boolean and status == 404 and kind == "not_found":
        return {"ok": False}, response
    assert kind in SCENARIO_KIND, f"unknown problem kind: {describe(response)}"
    error: dict[str, Any] = {"kind": SCENARIO_KIND[kind], "message": document.get("detail", "")}
    if kind == "data_corrupt":
        corruption = document.get("corruption") or {}
        error.update(key=corruption.get("key"), field=corruption.get("field"), message=corruption.get("message", ""))
    return {"error": error}, response


def changes_nothing(step: dict[str, Any]) -> bool:
    """A step that leaves Redis as it was: a read, an expected error, or a
    delete expected to find nothing."""
    expect = step["expect"]
    return step["call"] in READS or "error" in expect or expect == {"ok": False}


@dataclass
class Counts:
    run: int = 0
    skipped: int = 0
    not_reached: int = 0
    notes: list[str] = field(default_factory=list)


def run_scenario(deployment_api: Api, path: Path, scenario: dict[str, Any]) -> Counts:
    counts = Counts()
    client = deployment_api.http
    raw = redis.Redis(port=deployment_api.deployment.redis.port, decode_responses=True)
    # Raw replies (the README's normal form), not redis-py's conversions.
    raw.response_callbacks.clear()
    saved: dict[str, str] = {}
    steps = scenario["steps"]
    try:
        for number, raw_step in enumerate(steps, start=1):
            step = substitute(raw_step, saved)
            where = f"{path.name} step {number}: {json.dumps(raw_step)[:400]}"
            if "redis" in step:
                actual = redis_reply(raw, step["redis"])
                try:
                    match(step["expect"], actual)
                except Mismatch as mismatch:
                    raise AssertionError(f"{where}\n{mismatch}") from None
                counts.run += 1
                continue
            try:
                call = OPERATIONS[step["call"]](step)
            except NotExpressible as reason:
                if changes_nothing(step):
                    counts.skipped += 1
                    counts.notes.append(f"{path.stem} step {number} skipped: {reason}")
                    continue
                counts.not_reached = len(steps) - number + 1
                counts.notes.append(f"{path.stem} stops at step {number} of {len(steps)}: {reason}")
                break
            result, response = perform(client, call)
            expect = step["expect"]
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
                raise AssertionError(f"{where}\n{mismatch}\n{describe(response)}") from None
            counts.run += 1
            if "save" in step:
                name = "next_page_token" if step["call"].startswith("list") else "id"
                assert "ok" in result and isinstance(result["ok"].get(name), str), f"{where}: no {name} to save"
                saved[step["save"]] = result["ok"][name]
    finally:
        raw.close()
    return counts


def test_there_are_scenarios() -> None:
    assert len(SCENARIOS) >= 20, f"expected the scenarios in {REPO / 'tests' / 'conformance'}"


def test_every_scenario_call_has_a_row() -> None:
    calls = {step["call"] for path in SCENARIOS for step in json.loads(path.read_text())["steps"] if "call" in step}
    assert calls <= set(OPERATIONS), f"calls without a row in OPERATIONS: {sorted(calls - set(OPERATIONS))}"


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(kind: str, deployments: Deployments, path: Path) -> None:
    scenario = json.loads(path.read_text())
    settings = scenario.get("settings", {})
    key = (settings.get("session_ttl_seconds", 3600), settings.get("grace_seconds", 300), scenario.get("prefix", ""))
    counts = CONFORMANCE_COUNTS.setdefault(kind, {})
    notes = CONFORMANCE_NOTES.setdefault(kind, [])
    config = CONFIG_OF_SETTINGS.get(key)
    if config is None:
        counts["scenarios_na"] = counts.get("scenarios_na", 0) + 1
        notes.append(f"{path.stem} not applicable: no deployment configuration has TTL/grace/prefix {key}")
        # A scenario that runs nowhere proves nothing: a new one with other
        # settings needs a deployment configuration in conftest.py.
        pytest.fail(f"no deployment configuration has TTL/grace/prefix {key}: add one to conftest.py")
    deployment = deployments.get(kind, config)
    deployment.flush()
    api = Api(deployment)
    try:
        result = run_scenario(api, path, scenario)
    finally:
        api.close()
    whole = result.not_reached == 0 and result.skipped == 0
    counts["scenarios_whole" if whole else "scenarios_partial"] = (
        counts.get("scenarios_whole" if whole else "scenarios_partial", 0) + 1
    )
    counts["steps_run"] = counts.get("steps_run", 0) + result.run
    counts["steps_skipped"] = counts.get("steps_skipped", 0) + result.skipped
    counts["steps_not_reached"] = counts.get("steps_not_reached", 0) + result.not_reached
    notes.extend(result.notes)
