"""GraphQL batch mutations over the real stack."""

from __future__ import annotations

import random
import string
from collections.abc import Iterator

import httpx
import pytest

from tests.test_graphql import FIELDS, Shop


@pytest.fixture
def gql(stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.graphql_url, headers=stack.headers(), timeout=120) as client:
        yield client


@pytest.fixture
def shop(grpc_client) -> Shop:
    suffix = "".join(random.choices(string.ascii_lowercase, k=10))
    collection = f"products_{suffix}"
    grpc_client.create_collection(collection, FIELDS)
    return Shop(collection, f"Products{suffix.capitalize()}", f"products{suffix.capitalize()}")


RESULT = "successful { id name qty } failed { index error { code message field } }"
RESULT += " successCount failureCount totalCount"


def run(gql, query: str, variables: dict | None = None) -> dict:
    answer = gql.post("/graphql", json={"query": query, "variables": variables or {}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "errors" not in body, body
    return body["data"]


def test_batch_create_update_delete(gql, shop: Shop, grpc_client) -> None:
    t = shop.type
    created = run(
        gql,
        f"mutation($in: [{t}CreateInput!]!) {{ batchCreate{t}(input: $in) {{ {RESULT} }} }}",
        {"in": [{"name": "a", "qty": 1}, {"name": "b", "unitPrice": 2.5}]},
    )[f"batchCreate{t}"]
    assert (created["successCount"], created["failureCount"], created["totalCount"]) == (2, 0, 2)
    ids = [r["id"] for r in created["successful"]]
    updated = run(
        gql,
        f"mutation($in: [{t}BatchUpdateInput!]!) {{ batchUpdate{t}(input: $in) {{ {RESULT} }} }}",
        {"in": [{"id": ids[0], "data": {"qty": 5}}, {"id": ids[1], "data": {"name": "B"}}]},
    )[f"batchUpdate{t}"]
    assert [(r["name"], r["qty"]) for r in updated["successful"]] == [("a", 5), ("B", None)]
    deleted = run(
        gql,
        f"mutation($ids: [ID!]!) {{ batchDelete{t}(ids: $ids) {{ successful {{ id deleted }}"
        " failed { index } successCount failureCount } }",
        {"ids": ids},
    )[f"batchDelete{t}"]
    assert deleted["successCount"] == 2 and deleted["successful"][0] == {
        "id": ids[0],
        "deleted": True,
    }
    assert grpc_client.count(shop.collection) == 0


def test_batch_failures_name_graphql_fields_and_write_nothing(gql, shop: Shop, grpc_client):
    t = shop.type
    answer = run(
        gql,
        f"mutation($in: [{t}CreateInput!]!) {{ batchCreate{t}(input: $in) {{ {RESULT} }} }}",
        {"in": [{"name": "ok"}, {"name": "bad", "unitPrice": -1}]},
    )[f"batchCreate{t}"]
    assert answer["successful"] == [] and answer["failureCount"] == 1
    assert answer["failed"][0]["index"] == 1
    assert answer["failed"][0]["error"]["code"] == "VALIDATION_ERROR"
    assert answer["failed"][0]["error"]["field"] == "unitPrice"
    missing = run(
        gql,
        f'mutation {{ batchDelete{t}(ids: ["nope"]) {{ failed {{ index error {{ code }} }} }} }}',
    )[f"batchDelete{t}"]
    assert missing["failed"] == [{"index": 0, "error": {"code": "NOT_FOUND"}}]
    assert grpc_client.count(shop.collection) == 0
