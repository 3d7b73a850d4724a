"""GET /openapi.json: a valid OpenAPI 3.1 document (openapi-spec-validator)
that describes the routes the server has; and Schemathesis, driven by it,
finds no 5xx and no response that breaks it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from checks import body_json
from conftest import SELECTED, TOKEN, Api, Deployments
from openapi_spec_validator import validate

# The route table of the contract: path -> methods.
ROUTES = {
    "/sessions": {"get", "post"},
    "/sessions/{id}": {"get", "patch", "delete"},
    "/sessions/{id}/extend": {"post"},
    "/sessions/{id}/items": {"get", "post", "delete"},
    "/sessions/{id}/items/pop": {"post"},
    "/sessions/{id}/items/count": {"get"},
    "/apps/{app}/sessions": {"get"},
    "/cleanup": {"post"},
    "/stats": {"get"},
    "/healthz": {"get"},
    "/readyz": {"get"},
    "/openapi.json": {"get"},
}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

# Schemathesis runs against these deployments (comma-separated kinds;
# native is the fastest). Bounded: examples per operation.
FUZZ_KINDS = [k for k in os.environ.get("SESSIONS_HTTP_FUZZ", "native,jco").split(",") if k]
FUZZ_EXAMPLES = int(os.environ.get("SESSIONS_HTTP_FUZZ_EXAMPLES", "50"))
# The checks: no 5xx (Redis is healthy, so no storage error is expected
# either), and every status, content type, header and body as documented.
FUZZ_IDS = ["fuzz-a", "fuzz-b", "fuzz-c"]
FUZZ_CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance"
)


def document(api: Api) -> dict[str, Any]:
    doc: dict[str, Any] = body_json(api.get("/openapi.json"), 200)
    return doc


def test_openapi_document_validates(api: Api) -> None:
    doc = document(api)
    assert doc["openapi"].startswith("3.1."), doc["openapi"]
    validate(doc)  # raises on an invalid document


def test_openapi_describes_the_route_table(api: Api) -> None:
    doc = document(api)
    described = {path: {m for m in item if m in METHODS} for path, item in doc["paths"].items()}
    assert described == ROUTES
    schemes = doc.get("components", {}).get("securitySchemes", {})
    assert any(s.get("type") == "http" and s.get("scheme", "").lower() == "bearer" for s in schemes.values()), schemes
    # Every operation answers problem documents for its errors.
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            assert operation.get("operationId"), (path, method)
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    content = response.get("content") or {}
                    if "$ref" in response:
                        continue
                    assert "application/problem+json" in content, (path, method, status, response)


def test_openapi_schemas_come_from_the_schema_file(api: Api) -> None:
    doc = document(api)
    ours = json.loads((Path(__file__).resolve().parents[2] / "schema" / "sessions.schema.json").read_text())
    schemas = doc["components"]["schemas"]
    for name in ("SessionCreate", "SessionUpdate", "Session", "SessionPage", "ItemsAppend", "ItemsPage", "OwnerPage"):
        assert name in schemas, f"{name} missing from components.schemas"
        assert set(schemas[name].get("properties", {})) == set(ours["$defs"][name].get("properties", {})), name


@pytest.mark.parametrize("kind", [k for k in FUZZ_KINDS if k in SELECTED])
def test_schemathesis_finds_nothing(
    kind: str, deployments: Deployments, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deployment = deployments.get(kind)
    deployment.flush()
    api = Api(deployment)
    try:
        schema = tmp_path / "openapi.json"
        schema.write_text(json.dumps(document(api)))
    finally:
        api.close()
    # Random ids nearly always miss: most path ids and app names come from
    # a dictionary of sessions made here (with items and an owner), so the
    # fuzzer reaches the handlers behind the 404s too.
    seed = Api(deployment)
    try:
        for session_id in FUZZ_IDS:
            seed.create(id=session_id, app_name="shop", user_id="ana", state={"topic": "x"})
            seed.post(f"/sessions/{session_id}/items", json=[{"role": "user", "content": "hi"}, 1, "two"])
    finally:
        seed.close()
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f"[dictionaries.ids]\nvalues = {json.dumps(FUZZ_IDS)}\n"
        '[dictionaries.apps]\nvalues = ["shop"]\n'
        "[parameters]\n"
        '"path.id" = { dictionary = "ids", probability = 0.7 }\n'
        '"path.app" = { dictionary = "apps", probability = 0.7 }\n'
    )
    command = [
        str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config), "run", str(schema),
        "--url", deployment.base_url,
        "--header", f"Authorization: Bearer {TOKEN}",
        "--checks", FUZZ_CHECKS,
        "--max-examples", str(FUZZ_EXAMPLES),
        "--seed", "23",
        "--request-timeout", "20",
        "--generation-database", "none",
        "--workers", "2",
        "--no-color",
    ]  # fmt: skip
    started = time.monotonic()
    # cwd: a scratch directory, so that no report lands in the tree.
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    elapsed = time.monotonic() - started
    output = (result.stdout + result.stderr).replace(TOKEN, "<token>")
    with capsys.disabled():
        summary = [line for line in output.splitlines() if line.strip()][-12:]
        print(f"\nschemathesis on {kind} ({elapsed:.0f} s, {FUZZ_EXAMPLES} examples per operation):")
        print("\n".join(summary))
    assert result.returncode == 0, f"schemathesis found failures on {kind}:\n{output[-20000:]}"
