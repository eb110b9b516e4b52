"""GET /api/v1/openapi.json: a valid OpenAPI 3.1 document of the caller's space that
follows schema changes at once, and that the running API keeps (schemathesis)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import validate

from launcher.processes import free_port, spawn_process, wait_for_http
from tests.conftest import Stack
from tests.openapi_data import EVERY_TYPE, create_collections

# Checks whose failure means the API broke its own document: a server error, or an
# answer (status, content type, headers, body) the document does not describe.
CONFORMANCE = {
    "ST101", "ST102", "ST103", "ST104", "ST105", "ST106", "ST107", "ST108", "ST109", "ST110",
}  # fmt: skip


@pytest.fixture(scope="module")
def space(stack: Stack) -> httpx.Client:
    """A space of its own, with a collection of every field type."""
    key = stack.other_space_key()
    client = httpx.Client(base_url=stack.rest_url, headers=stack.headers(key), timeout=60)
    client.key = key  # type: ignore[attr-defined]
    create_collections(client)
    yield client
    client.close()


def document(client: httpx.Client) -> dict:
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    return answer.json()


def test_the_document_is_valid_openapi_3_1(space: httpx.Client) -> None:
    spec = document(space)
    validate(spec)
    assert spec["openapi"] == "3.1.0"
    assert {"/api/v1/everything", "/api/v1/everything/{id}", "/api/v1/kv/{key}"} <= set(
        spec["paths"]
    )
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer" and schemes["apiKey"]["name"] == "X-API-Key"


def test_field_constraints_reach_the_schemas(space: httpx.Client) -> None:
    schemas = document(space)["components"]["schemas"]
    create = schemas["everything.Create"]["properties"]
    assert set(create) == {"id"} | {f["name"] for f in EVERY_TYPE["fields"]}
    assert create["i"]["anyOf"][0] | {"minimum": 0, "maximum": 100} == create["i"]["anyOf"][0]
    assert create["e"]["anyOf"][0]["enum"] == ["a", "b"]
    assert create["s"]["anyOf"][0]["maxLength"] == 20
    assert {"pattern": "^[a-z]*$"} in create["s"]["anyOf"][0]["allOf"]
    assert create["u"]["anyOf"][0]["format"] == "uuid"
    assert create["tags"] == {"type": "array", "items": create["id"]}
    assert schemas["everything.Create"]["additionalProperties"] is False
    assert schemas["loose.Create"]["additionalProperties"] is True  # flexible
    errors = document(space)["components"]["responses"]
    assert errors["Error404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_the_document_follows_schema_changes_in_every_process(
    stack: Stack, space: httpx.Client
) -> None:
    """A field added through one gateway is in the document of another at once."""
    addr = f"127.0.0.1:{free_port()}"
    other = spawn_process("rest-openapi", "rest", {**stack.env, "PLINTH_REST_ADDR": addr},
                          stack.data_dir)  # fmt: skip
    try:
        wait_for_http(f"http://{addr}/healthz", other)
        second = httpx.Client(base_url=f"http://{addr}", headers=space.headers, timeout=60)
        assert (
            "weight"
            not in document(second)["components"]["schemas"]["authors.Record"]["properties"]
        )
        added = space.post(
            "/api/v1/schema/collections/authors/fields", json={"name": "weight", "type": "float"}
        )
        assert added.status_code == 201, added.text
        record = document(second)["components"]["schemas"]["authors.Record"]
        assert record["properties"]["weight"] == {"anyOf": [{"type": "number"}, {"type": "null"}]}
        space.post("/api/v1/schema/collections", json={"name": "later"}).raise_for_status()
        assert "/api/v1/later/{id}" in document(second)["paths"]
    finally:
        other.stop()


def test_the_reference_page_lists_every_collection(space: httpx.Client) -> None:
    page = space.get("/api/v1/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/api/v1/everything/{id}" in page.text and "<script" not in page.text


@pytest.mark.skipif(shutil.which("npx") is None, reason="needs Node.js's npx (npm registry)")
def test_postman_imports_the_document(space: httpx.Client, tmp_path: Path) -> None:
    source = tmp_path / "openapi.json"
    source.write_text(json.dumps(document(space)))
    out = tmp_path / "postman.json"
    run = subprocess.run(
        ["npx", "--yes", "openapi-to-postmanv2@4", "-s", str(source), "-o", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    collection = json.loads(out.read_text())
    names = json.dumps(collection)
    assert collection["info"]["name"] == "Plinth API" and "everything" in names


def _schemathesis(stack: Stack, key: str, *args: str) -> dict[str, int]:
    """One bounded run (fixed seed and example count); the failures by check code."""
    run = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{stack.rest_url}/api/v1/openapi.json",
         "--header", f"Authorization: Bearer {key}", "--checks", "all", "--seed", "1",
         "--max-examples", "4", "--workers", "2", "--generation-database", "none",
         "--request-timeout", "30", "--no-color", "--suppress-health-check", "filter_too_much",
         *args],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    summary = run.stdout.rsplit("SUMMARY", 1)[-1]
    assert "Tested:" in summary, run.stdout[-3000:] + run.stderr[-3000:]
    failures = {code: int(n) for code, n in re.findall(r"(ST\d+) [^:\n]+: (\d+)", summary)}
    broken = {code: n for code, n in failures.items() if code in CONFORMANCE}
    assert not broken, run.stdout[-20000:]
    return failures


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(
    stack: Stack, space: httpx.Client
) -> None:
    key = space.key  # type: ignore[attr-defined]
    # Dropping collections and fields is fuzzed last, so the rest runs against them all.
    drops = "^/api/v1/schema/collections/\\{name\\}"
    _schemathesis(stack, key, "--exclude-path-regex", drops)
    _schemathesis(stack, key, "--include-path-regex", drops)
