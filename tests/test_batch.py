"""Batch, bulk and by-filter writes through REST and gRPC: atomic, checked item by item."""

from __future__ import annotations

import httpx
import orjson
import pytest
from plinth import Client
from plinth.v1 import query_pb2
from plinth.v1 import record_service_pb2 as rpb
from plinth.values import to_value

FIELDS = [
    {"name": "sku", "type": "string", "required": True, "unique": True},
    {"name": "price", "type": "float", "min": 0},
    {"name": "qty", "type": "integer"},
    {"name": "tags", "type": "string[]"},
]


@pytest.fixture
def items(rest: httpx.Client, name: str) -> str:
    answer = rest.post("/api/v1/schema/collections", json={"name": name, "fields": FIELDS})
    assert answer.status_code == 201, answer.text
    return name


def count(rest: httpx.Client, name: str) -> int:
    return rest.get(f"/api/v1/{name}/count").json()["data"]["count"]


def products(n: int, start: int = 0) -> list[dict]:
    return [{"sku": f"S-{i}", "price": i, "qty": 1} for i in range(start, start + n)]


def test_batch_create_all_succeed(rest: httpx.Client, items: str) -> None:
    answer = rest.post(f"/api/v1/{items}/batch", json={"items": products(3)})
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert [r["sku"] for r in data["successful"]] == ["S-0", "S-1", "S-2"]
    assert all(r["id"] and r["created_at"] for r in data["successful"])
    assert data["failed"] == []
    assert (data["total_count"], data["success_count"], data["failure_count"]) == (3, 3, 0)
    assert set(data["stats"]) == {"processing_time_ms", "validation_time_ms", "database_time_ms"}
    assert count(rest, items) == 3


def test_batch_with_invalid_items_writes_nothing(rest: httpx.Client, items: str) -> None:
    batch = products(10)
    batch[1]["price"] = -5
    batch[7] = {"price": 1}  # no sku
    answer = rest.post(f"/api/v1/{items}/batch", json={"items": batch})
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert body["error"]["message"] == "2 of 10 items failed; nothing was written"
    data = body["data"]
    assert data["successful"] == [] and data["failure_count"] == 2 and data["success_count"] == 0
    assert [f["index"] for f in data["failed"]] == [1, 7]
    assert data["failed"][0]["item"] == batch[1]
    assert data["failed"][0]["error"]["code"] == "VALIDATION_ERROR"
    assert data["failed"][0]["error"]["field"] == "price"
    assert data["failed"][1]["error"]["field"] == "sku"
    assert count(rest, items) == 0


def test_batch_over_the_limit_is_413(rest: httpx.Client, items: str) -> None:
    answer = rest.post(f"/api/v1/{items}/batch", json={"items": products(1001)})
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert count(rest, items) == 0


def test_unique_violation_is_reported_per_item(rest: httpx.Client, items: str) -> None:
    rest.post(f"/api/v1/{items}", json={"sku": "TAKEN"})
    batch = [*products(3), {"sku": "TAKEN"}, {"sku": "S-1"}]
    answer = rest.post(f"/api/v1/{items}/batch", json={"items": batch})
    assert answer.status_code == 400, answer.text
    failed = answer.json()["data"]["failed"]
    assert [(f["index"], f["error"]["code"]) for f in failed] == [(3, "CONFLICT"), (4, "CONFLICT")]
    assert count(rest, items) == 1


def test_duplicate_ids_in_one_batch(rest: httpx.Client, items: str) -> None:
    batch = [{"id": "a", "sku": "1"}, {"id": "b", "sku": "2"}, {"id": "a", "sku": "3"}]
    answer = rest.post(f"/api/v1/{items}/batch", json={"items": batch})
    assert answer.status_code == 400
    failed = answer.json()["data"]["failed"]
    assert [(f["index"], f["error"]["code"]) for f in failed] == [(2, "BAD_REQUEST")]
    assert count(rest, items) == 0


def test_malformed_batch_bodies(rest: httpx.Client, items: str) -> None:
    assert rest.post(f"/api/v1/{items}/batch", content=b"{").status_code == 400
    answer = rest.post(f"/api/v1/{items}/batch", json={"items": {"sku": "x"}})
    assert answer.json()["error"]["code"] == "BAD_REQUEST"
    answer = rest.post(f"/api/v1/{items}/batch", json={"items": [{"sku": "x"}, 3]})
    assert answer.status_code == 400
    assert answer.json()["data"]["failed"][0]["index"] == 1


def test_batch_update_with_operators_and_versions(rest: httpx.Client, items: str) -> None:
    created = rest.post(f"/api/v1/{items}/batch", json={"items": products(3)}).json()["data"]
    a, b, c = (r["id"] for r in created["successful"])
    updates = [
        {"id": a, "data": {"$inc": {"qty": 5}, "price": 9.5}},
        {"id": b, "data": {"$push": {"tags": "new"}}, "expected_version": 1},
        {"id": c, "data": {"$set": {"sku": "C"}}},
    ]
    answer = rest.patch(f"/api/v1/{items}/batch", json={"items": updates})
    assert answer.status_code == 200, answer.text
    done = answer.json()["data"]["successful"]
    assert [(r["qty"], r["price"], r["tags"], r["sku"]) for r in done] == [
        (6, 9.5, None, "S-0"),
        (1, 1.0, ["new"], "S-1"),
        (1, 2.0, None, "C"),
    ]
    assert all(r["updated_at"] > r["created_at"] for r in done)
    # A stale version, a missing record and a type error: nothing of the batch is written.
    updates = [
        {"id": a, "data": {"$inc": {"qty": 1}}},
        {"id": b, "data": {"qty": 3}, "expected_version": 1},
        {"id": "nope", "data": {"qty": 3}},
    ]
    answer = rest.patch(f"/api/v1/{items}/batch", json={"items": updates})
    assert answer.status_code == 400, answer.text
    failed = answer.json()["data"]["failed"]
    assert [(f["index"], f["error"]["code"]) for f in failed] == [
        (1, "PRECONDITION_FAILED"),
        (2, "NOT_FOUND"),
    ]
    assert rest.get(f"/api/v1/{items}/{a}").json()["data"]["qty"] == 6
    bad = [{"id": a, "data": {"$inc": {"sku": 1}}}, {"id": a, "data": {"qty": 1}}]
    answer = rest.patch(f"/api/v1/{items}/batch", json={"items": bad})
    failed = answer.json()["data"]["failed"]
    assert [(f["index"], f["error"]["code"]) for f in failed] == [
        (0, "VALIDATION_ERROR"),
        (1, "BAD_REQUEST"),  # the same id twice
    ]


def test_batch_delete(rest: httpx.Client, items: str) -> None:
    created = rest.post(f"/api/v1/{items}/batch", json={"items": products(3)}).json()["data"]
    ids = [r["id"] for r in created["successful"]]
    answer = rest.request("DELETE", f"/api/v1/{items}/batch", json={"ids": [ids[0], "missing"]})
    assert answer.status_code == 400
    assert answer.json()["data"]["failed"][0]["error"]["code"] == "NOT_FOUND"
    assert count(rest, items) == 3
    answer = rest.request("DELETE", f"/api/v1/{items}/batch", json={"ids": ids[:2]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["successful"] == [{"id": i, "deleted": True} for i in ids[:2]]
    assert count(rest, items) == 1


def test_bulk_upsert(rest: httpx.Client, items: str) -> None:
    first = rest.post(f"/api/v1/{items}/bulk", json={"items": [{"id": "k1", "sku": "A", "qty": 1}]})
    assert first.status_code == 200, first.text
    answer = rest.post(
        f"/api/v1/{items}/bulk",
        json={"items": [{"id": "k1", "sku": "A2", "price": 3}, {"id": "k2", "sku": "B"}]},
    )
    assert answer.status_code == 200, answer.text
    k1, k2 = answer.json()["data"]["successful"]
    assert (k1["sku"], k1["price"], k1["qty"]) == ("A2", 3.0, 1)  # fields not given are kept
    assert k2["sku"] == "B"
    assert rest.get(f"/api/v1/{items}/k1").headers["ETag"] == '"2"'
    answer = rest.post(f"/api/v1/{items}/bulk", json={"items": products(501)})
    assert answer.status_code == 413
    assert count(rest, items) == 2


def test_update_and_delete_by_filter(rest: httpx.Client, items: str) -> None:
    rest.post(f"/api/v1/{items}/batch", json={"items": products(6)})
    answer = rest.patch(f"/api/v1/{items}?filter[price][gte]=3", json={"$inc": {"qty": 10}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["updated"] == 3 and len(answer.json()["data"]["ids"]) == 3
    listed = rest.get(f"/api/v1/{items}?sort=price").json()["data"]
    assert [r["qty"] for r in listed] == [1, 1, 1, 11, 11, 11]
    q = orjson.dumps({"price": {"$lt": 2}}).decode()
    answer = rest.delete(f"/api/v1/{items}", params={"q": q})
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["deleted"] == 2
    directus = orjson.dumps({"sku": {"_eq": "S-2"}}).decode()
    answer = rest.patch(f"/api/v1/{items}", params={"filter": directus}, json={"qty": 0})
    assert answer.json()["data"]["updated"] == 1
    for method in ("PATCH", "DELETE"):
        answer = rest.request(method, f"/api/v1/{items}", json={"qty": 1})
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "BAD_REQUEST"
    assert count(rest, items) == 4


def test_by_filter_over_the_limit_changes_nothing(rest: httpx.Client, items: str) -> None:
    rest.post(f"/api/v1/{items}/batch", json={"items": products(1000)})
    rest.post(f"/api/v1/{items}", json={"sku": "last", "price": 1})
    answer = rest.patch(f"/api/v1/{items}?filter[price][gte]=0", json={"qty": 7})
    assert answer.status_code == 413, answer.text
    assert rest.get(f"/api/v1/{items}/count?filter[qty]=7").json()["data"]["count"] == 0
    assert rest.delete(f"/api/v1/{items}?filter[price][gte]=0").status_code == 413
    assert count(rest, items) == 1001
    assert rest.delete(f"/api/v1/{items}?filter[price][gte]=1").json()["data"]["deleted"] == 1000


def test_grpc_batch_and_by_query(grpc_client: Client, items: str) -> None:
    answer = grpc_client.call(
        grpc_client.records.BatchCreateRecords,
        rpb.BatchCreateRecordsRequest(collection=items, items=orjson.dumps(products(4))),
    )
    result = orjson.loads(answer.result.json)
    assert answer.result.failure_count == 0 and result["success_count"] == 4
    bad = rpb.BatchCreateRecordsRequest(collection=items, items=orjson.dumps([{"sku": 1}]))
    answer = grpc_client.call(grpc_client.records.BatchCreateRecords, bad)
    assert answer.result.failure_count == 1 and "nothing was written" in answer.result.error_message
    condition = query_pb2.Condition(
        field="price", operator=query_pb2.OPERATOR_GT, value=to_value(1)
    )
    where = query_pb2.Filter(condition=condition)
    updated = grpc_client.call(
        grpc_client.records.UpdateRecordsByQuery,
        rpb.UpdateRecordsByQueryRequest(
            collection=items, filter=where, data=orjson.dumps({"$inc": {"price": 0.5}})
        ),
    )
    assert updated.updated == 2
    deleted = grpc_client.call(
        grpc_client.records.DeleteRecordsByQuery,
        rpb.DeleteRecordsByQueryRequest(collection=items, filter=where),
    )
    assert sorted(deleted.ids) == sorted(updated.ids)
    assert grpc_client.count(items) == 2
    ids = [r["id"] for r in grpc_client.list(items)]
    answer = grpc_client.call(
        grpc_client.records.BatchDeleteRecords,
        rpb.BatchDeleteRecordsRequest(collection=items, ids=ids),
    )
    assert answer.result.failure_count == 0 and grpc_client.count(items) == 0
