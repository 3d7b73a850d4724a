"""The README's FastAPI example (python/examples/fastapi_service.py) works."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest
from conftest import REPO
from fastapi.testclient import TestClient


def load_example(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("REDIS_URL", redis_url)
    path = REPO / "python" / "examples" / "fastapi_service.py"
    spec = importlib.util.spec_from_file_location("fastapi_service", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "fastapi_service", module)
    spec.loader.exec_module(module)
    return module


def test_the_fastapi_example_serves_sessions(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    service = load_example(redis_url, monkeypatch)
    client = TestClient(service.app)
    created = client.post("/sessions", json={"model_id": "gpt-4", "tools": ["search"], "temperature": 0.7})
    assert created.status_code == 201, created.text
    session = created.json()
    assert session["model_id"] == "gpt-4" and session["version"] == 1
    assert client.get(f"/sessions/{session['id']}").json() == session
    patched = client.patch(f"/sessions/{session['id']}", json={"name": "Review", "expected_version": 1})
    assert patched.status_code == 200 and patched.json()["version"] == 2
    stale = client.patch(f"/sessions/{session['id']}", json={"name": "x", "expected_version": 1})
    assert stale.status_code == 409
    assert client.post("/sessions", json={"model_id": "m", "temperature": 9}).status_code == 422
    assert client.get("/sessions").json()["total"] == 1
    assert client.delete(f"/sessions/{session['id']}").status_code == 204
    assert client.get(f"/sessions/{session['id']}").status_code == 404


def load_script(name: str) -> ModuleType:
    path = REPO / "python" / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_openai_agents_example_keeps_the_conversation(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert await load_script("openai_agents_session").main() == ["Paris.", "France."]


async def test_the_adk_example_keeps_events_and_state(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    outcome = await load_script("adk_session_service").main()
    assert outcome == {
        "state": {"city": "Paris", "user:units": "metric", "app:model": "v2"},
        "events": 2,
        "listed": 1,
    }
