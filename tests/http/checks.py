"""Assertions shared by the HTTP tests: problem documents, ETags, JSON
bodies."""

from __future__ import annotations

import json
from typing import Any

import httpx
from conftest import TOKEN, describe

PROBLEM_TYPE = "https://agent-sessions.dev/problems/"


def compact(value: Any) -> bytes:
    """JSON as the conformance README sends items: compact, keys in order."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


JSON_HEADERS = {"Content-Type": "application/json"}


def body_json(response: httpx.Response, status: int) -> Any:
    """The JSON body of a response that must have `status`."""
    assert response.status_code == status, describe(response)
    content_type = response.headers.get("content-type", "")
    assert content_type.split(";")[0].strip() == "application/json", describe(response)
    return response.json()


def problem(response: httpx.Response, status: int, kind: str, field: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem document of `status` and `kind` (and `field`)."""
    assert response.status_code == status, describe(response)
    content_type = response.headers.get("content-type", "")
    assert content_type.split(";")[0].strip() == "application/problem+json", describe(response)
    document: dict[str, Any] = response.json()
    assert document.get("type") == PROBLEM_TYPE + kind, describe(response)
    assert document.get("kind") == kind, describe(response)
    assert document.get("status") == status, describe(response)
    assert isinstance(document.get("title"), str) and document["title"], describe(response)
    assert isinstance(document.get("detail"), str), describe(response)
    if field is not None:
        assert document.get("field") == field, describe(response)
    assert TOKEN not in response.text, "the token shows in a response body"
    return document


def etag(response: httpx.Response) -> str:
    value = response.headers.get("etag")
    assert value is not None, f"no ETag: {describe(response)}"
    return value


def assert_etag(response: httpx.Response, version: int) -> None:
    """The ETag is the version as a strong quoted tag: "7"."""
    assert etag(response) == f'"{version}"', describe(response)
