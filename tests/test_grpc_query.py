"""The query DSL in core, over gRPC: keyset paging, search, json paths, aggregates, export."""

from __future__ import annotations

import csv
import io
import random

import grpc
import orjson
import pytest
from google.protobuf import json_format
from plinth import Client, PlinthError
from plinth.v1 import query_pb2 as q
from plinth.v1 import record_service_pb2 as rpb
from plinth.v1.record_service_pb2_grpc import RecordServiceStub

FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "notes", "type": "text"},
    {"name": "price", "type": "float"},
    {"name": "qty", "type": "integer"},
    {"name": "status", "type": "enum", "values": ["draft", "active"]},
    {"name": "meta", "type": "json"},
]


@pytest.fixture
def items(grpc_client: Client, name: str) -> list[dict]:
    grpc_client.create_collection(name, FIELDS)
    rng = random.Random(7)
    rows = []
    for i in range(60):
        row = {
            "name": f"item {i:02d}",
            "notes": rng.choice(["Hand made", "factory", "HANDCRAFTED lamp", None]),
            "price": rng.choice([None, 1.5, 2.5, 10.0, 99.0]),
            "qty": rng.randint(0, 5),
            "status": rng.choice(["draft", "active"]),
            "meta": {"color": rng.choice(["red", "blue"]), "size": rng.randint(1, 3)},
        }
        rows.append(grpc_client.create(name, row))
    return rows


def where(spec: dict) -> q.Filter:
    return json_format.ParseDict(spec, q.Filter())


def list_page(client: Client, collection: str, **fields) -> rpb.ListRecordsResponse:
    return client.call(
        client.records.ListRecords, rpb.ListRecordsRequest(collection=collection, **fields)
    )


def ids(answer: rpb.ListRecordsResponse) -> list[str]:
    return [r["id"] for r in orjson.loads(answer.records)]


def expected_order(rows: list[dict]) -> list[str]:
    """price ascending, nulls last, then name descending, then id."""
    by_id = sorted(rows, key=lambda r: r["id"])
    by_name = sorted(by_id, key=lambda r: r["name"], reverse=True)
    return [r["id"] for r in sorted(by_name, key=lambda r: (r["price"] is None, r["price"] or 0))]


SORT = [q.SortField(field="price"), q.SortField(field="name", descending=True)]


def test_cursor_pages_cover_every_row_once_despite_inserts(grpc_client, items, name) -> None:
    seen, token, pages = [], "", 0
    while True:
        answer = list_page(grpc_client, name, sort=SORT, page_size=7, page_token=token)
        seen += ids(answer)
        pages += 1
        if pages == 2:  # rows inserted before the current position must not shift the pages
            grpc_client.create(name, {"name": "zzz early", "price": 0.5})
        if not answer.has_more:
            assert answer.next_page_token == ""
            break
        token = answer.next_page_token
    assert seen == expected_order(items)
    assert pages == 9


def test_backward_pages_and_record_cursors(grpc_client, items, name) -> None:
    order = expected_order(items)
    first = list_page(grpc_client, name, sort=SORT, page_size=10, record_cursors=True)
    assert ids(first) == order[:10] and len(first.record_cursors) == 10
    # From the 10th row backward: the nine rows before it, in sort order.
    before = list_page(
        grpc_client, name, sort=SORT, page_size=5, page_token=first.record_cursors[9], backward=True
    )
    assert ids(before) == order[4:9] and before.has_more
    # Backward without a cursor: the last page.
    last = list_page(grpc_client, name, sort=SORT, page_size=4, backward=True)
    assert ids(last) == order[-4:]


def test_cursor_of_another_query_is_refused(grpc_client, items, name) -> None:
    token = list_page(grpc_client, name, sort=SORT, page_size=5).next_page_token
    for other in (
        {"sort": [q.SortField(field="qty")]},
        {
            "sort": SORT,
            "filter": where({"condition": {"field": "qty", "operator": "OPERATOR_GT", "value": 1}}),
        },
        {"sort": SORT, "search": "lamp"},
    ):
        with pytest.raises(PlinthError) as caught:
            list_page(grpc_client, name, page_size=5, page_token=token, **other)
        assert caught.value.code == "BAD_REQUEST" and "another query" in caught.value.message
    for bad in ("garbage", "e30", token[:-3]):
        with pytest.raises(PlinthError) as caught:
            list_page(grpc_client, name, sort=SORT, page_size=5, page_token=bad)
        assert caught.value.code == "BAD_REQUEST"


def test_search_is_case_insensitive_over_text_fields(grpc_client, items, name) -> None:
    answer = list_page(grpc_client, name, search="hand", page_size=100, include_total=True)
    expected = {r["id"] for r in items if r["notes"] and "hand" in r["notes"].lower()}
    assert set(ids(answer)) == expected and answer.total == len(expected)
    count = grpc_client.call(
        grpc_client.records.CountRecords, rpb.CountRecordsRequest(collection=name, search="%")
    )
    assert count.count == 0  # % is literal in search


def test_json_paths_filter_and_sort(grpc_client, items, name) -> None:
    red = where({"condition": {"field": "meta.color", "operator": "OPERATOR_EQ", "value": "red"}})
    answer = list_page(
        grpc_client,
        name,
        filter=red,
        sort=[q.SortField(field="meta.size", descending=True)],
        page_size=100,
    )
    rows = orjson.loads(answer.records)
    assert {r["id"] for r in rows} == {r["id"] for r in items if r["meta"]["color"] == "red"}
    sizes = [r["meta"]["size"] for r in rows]
    assert sizes == sorted(sizes, reverse=True)
    big = where({"condition": {"field": "meta.size", "operator": "OPERATOR_GTE", "value": "3"}})
    assert set(ids(list_page(grpc_client, name, filter=big, page_size=100))) == {
        r["id"] for r in items if r["meta"]["size"] >= 3
    }


def test_aggregates_with_and_without_groups(grpc_client, items, name) -> None:
    def run(group_by=(), **aggregates) -> list[dict]:
        request = rpb.AggregateRecordsRequest(
            collection=name,
            group_by=list(group_by),
            aggregates=[q.Aggregate(function=f, field=field) for f, field in aggregates.items()],
        )
        return orjson.loads(grpc_client.call(grpc_client.records.AggregateRecords, request).groups)

    groups = run(
        ["status"],
        **{
            "AGGREGATE_FUNCTION_COUNT": "*",
            "AGGREGATE_FUNCTION_SUM": "qty",
            "AGGREGATE_FUNCTION_MAX": "price",
        },
    )
    for group in groups:
        members = [r for r in items if r["status"] == group["status"]]
        assert group["count"] == {"*": len(members)}
        assert group["sum"] == {"qty": sum(r["qty"] for r in members)}
        assert group["max"] == {"price": max(r["price"] for r in members if r["price"] is not None)}
    assert sorted(g["status"] for g in groups) == ["active", "draft"]

    (whole,) = run(
        **{"AGGREGATE_FUNCTION_AVG": "qty", "AGGREGATE_FUNCTION_COUNT_DISTINCT": "price"}
    )
    assert whole["avg"]["qty"] == pytest.approx(sum(r["qty"] for r in items) / len(items))
    assert whole["countDistinct"] == {"price": len({r["price"] for r in items} - {None})}

    for bad in ({"AGGREGATE_FUNCTION_SUM": "name"}, {"AGGREGATE_FUNCTION_MIN": "meta"}, {}):
        with pytest.raises(PlinthError) as caught:
            run(**bad)
        assert caught.value.code == "BAD_REQUEST"


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_export_formats(stack, grpc_client, items, name, fmt: str) -> None:
    request = rpb.ExportRecordsRequest(
        collection=name,
        format=getattr(q, f"EXPORT_FORMAT_{fmt.upper()}"),
        sort=[q.SortField(field="name")],
        fields=["name", "meta", "price"],
        filter=where(
            {"condition": {"field": "status", "operator": "OPERATOR_EQ", "value": "active"}}
        ),
    )
    with grpc.insecure_channel(stack.core_addr) as channel:
        stream = RecordServiceStub(channel).ExportRecords(
            request, metadata=[("x-api-key", stack.admin_key)]
        )
        body = b"".join(message.chunk for message in stream)
    active = sorted((r for r in items if r["status"] == "active"), key=lambda r: r["name"])
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(body.decode())))
        assert [r["name"] for r in rows] == [r["name"] for r in active]
        assert orjson.loads(rows[0]["meta"]) == active[0]["meta"]
        assert set(rows[0]) == {"id", "name", "meta", "price"}
    else:
        rows = (
            orjson.loads(body)
            if fmt == "json"
            else [orjson.loads(line) for line in body.splitlines()]
        )
        assert rows == [{k: r[k] for k in ("id", "name", "meta", "price")} for r in active]
