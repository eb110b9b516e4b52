"""The REST query DSL end to end: every filter syntax, search, cursor paging, aggregates,
count, POST /query and export, and 400s (never 500s) for every kind of bad input."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import Stack
from tests.test_rest_schema import error_code

FIELDS = [
    {"name": "name", "type": "string", "required": True},
    {"name": "price", "type": "float"},
    {"name": "qty", "type": "integer"},
    {"name": "status", "type": "enum", "values": ["draft", "active", "archived"]},
    {"name": "tags", "type": "string[]"},
    {"name": "meta", "type": "json"},
    {"name": "launched", "type": "date"},
]

ROWS = [
    {"name": "Lamp", "price": 12.5, "qty": 3, "status": "active", "tags": ["home", "light"],
     "meta": {"color": "red", "size": 2}, "launched": "2024-01-10"},
    {"name": "Desk", "price": 120, "qty": 1, "status": "active", "tags": ["home", "office"],
     "meta": {"color": "brown"}, "launched": "2023-06-01"},
    {"name": "Chair", "price": 45, "qty": 10, "status": "draft", "tags": ["office"],
     "meta": {"color": "red", "size": 5}, "launched": "2024-03-15"},
    {"name": "lamp shade", "price": 8, "qty": 0, "status": "archived", "tags": ["light"],
     "meta": {"color": "white", "size": 1}, "launched": "2024-02-01"},
    {"name": "50% off mug", "price": 5, "qty": 25, "status": "active", "tags": [],
     "meta": {"color": "white"}, "launched": None},
    {"name": "Mug_2", "price": 6.5, "qty": None, "status": "draft", "tags": ["kitchen"],
     "meta": None, "launched": "2023-01-01"},
    {"name": "Shelf", "price": None, "qty": 4, "status": "draft", "tags": None,
     "meta": None, "launched": "2022-12-31"},
]  # fmt: skip
A, B, C, D, E, F, G = (row["name"] for row in ROWS)
EVERY = {A, B, C, D, E, F, G}


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.rest_url, headers=stack.headers(), timeout=60) as client:
        yield client


def create(client: httpx.Client, rows: list[dict[str, Any]]) -> str:
    collection = "q_" + uuid.uuid4().hex[:12]
    created = client.post("/api/v1/schema/collections", json={"name": collection, "fields": FIELDS})
    assert created.status_code == 201, created.text
    for row in rows:
        response = client.post(f"/api/v1/{collection}", json=row)
        assert response.status_code == 201, response.text
    return collection


@pytest.fixture(scope="module")
def shop(client: httpx.Client) -> str:
    """Seven products, read by every test of this module (none writes)."""
    return create(client, ROWS)


@pytest.fixture(scope="module")
def many(client: httpx.Client) -> str:
    """Thirty products with repeated prices, for paging."""
    rows = [
        {"name": f"p{i:02d}", "price": i % 4, "status": "active" if i % 3 else "draft"}
        for i in range(30)
    ]
    return create(client, rows)


def listed(client: httpx.Client, collection: str, params: dict[str, Any]) -> set[str]:
    response = client.get(f"/api/v1/{collection}", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return {record["name"] for record in response.json()["data"]}


def queried(client: httpx.Client, collection: str, body: dict[str, Any]) -> set[str]:
    response = client.post(f"/api/v1/{collection}/query", json={"limit": 1000, **body})
    assert response.status_code == 200, response.text
    return {record["name"] for record in response.json()["data"]}


def counted(client: httpx.Client, collection: str, params: dict[str, Any]) -> int:
    response = client.get(f"/api/v1/{collection}/count", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]["count"]


def assert_bad_request(response: httpx.Response, *words: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "BAD_REQUEST" and error["request_id"], error
    for word in words:
        assert word in error["message"], error["message"]


# --- each syntax selects the right rows -------------------------------------------------------


def jsonq(tree: Any) -> str:
    return json.dumps(tree)


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"filter[status]": "active"}, {A, B, E}),
        ({"filter[status][ne]": "active"}, {C, D, F, G}),
        ({"filter[price][gt]": "12.5"}, {B, C}),
        ({"filter[price][_gte]": "12.5"}, {A, B, C}),
        ({"filter[price][lt]": "6.5"}, {E}),
        ({"filter[price][lte]": "6.5"}, {E, F}),
        ({"filter[price][ne]": "12.5"}, EVERY - {A}),  # ne also matches null (Shelf)
        ({"filter[qty][in]": "0,1,25"}, {B, D, E}),
        ({"filter[qty][nin]": "0,1,25"}, {A, C, F, G}),  # nin also matches null (Mug_2)
        ({"filter[price][between]": "6.5,45"}, {A, C, D, F}),
        ({"filter[name][like]": "%amp%"}, {A, D}),
        ({"filter[name][like]": "L%"}, {A}),
        ({"filter[name][ilike]": "l%"}, {A, D}),
        ({"filter[name][contains]": "%"}, {E}),  # % is literal
        ({"filter[name][contains]": "_"}, {F}),  # _ is literal
        ({"filter[name][icontains]": "MUG"}, {E, F}),
        ({"filter[name][starts_with]": "lamp"}, {D}),
        ({"filter[name][ends_with]": "mug"}, {E}),
        ({"filter[price][null]": "true"}, {G}),
        ({"filter[price][null]": "false"}, EVERY - {G}),
        ({"filter[meta][null]": "true"}, {F, G}),
        ({"filter[name][regex]": "^[A-Z][a-z]+$"}, {A, B, C, G}),
        ({"filter[launched][gte]": "2024-01-01"}, {A, C, D}),
        ({"filter[tags][contains]": "office"}, {B, C}),  # membership in an array
        ({"filter[meta.color]": "red"}, {A, C}),
        ({"filter[meta.size][gt]": "1"}, {A, C}),
        ({"filter[meta.size][exists]": "true"}, {A, C, D}),
        ({"filter[meta.size][exists]": "false"}, {B, E, F, G}),
        ({"filter[price][_nnull]": "true"}, EVERY - {G}),
        ({"filter[qty][_nbetween]": "1,10"}, {D, E, F}),  # NOT also keeps unknown (null)
        ({"filter[name][_neq]": "Lamp"}, EVERY - {A}),
        ({"filter": jsonq({"_or": [{"status": "archived"}, {"price": {"_gt": 100}}]})}, {B, D}),
        ({"filter": jsonq({"meta": {"color": {"_eq": "red"}}})}, {A, C}),  # relational form
        ({"filter": jsonq({"meta.size": {"_gte": 2}})}, {A, C}),
        (
            {"filter": jsonq({"_and": [{"status": {"_in": ["active", "draft"]}},
                                       {"qty": {"gte": 4}}]})},
            {C, E, G},
        ),
        ({"q": jsonq({"$or": [{"status": "archived"}, {"price": {"$gt": 100}}]})}, {B, D}),
        ({"q": jsonq({"price": {"$not": {"$gt": 10}}})}, {D, E, F, G}),
        ({"q": jsonq({"$not": {"status": "active"}})}, {C, D, F, G}),
        ({"q": jsonq({"meta": {"color": "brown"}})}, {B}),  # a whole json value
        ({"q": jsonq({"meta.color": {"$in": ["red", "white"]}})}, {A, C, D, E}),
        ({"q": jsonq({"tags": {"$exists": False}})}, {G}),
        ({"q": jsonq({"name": {"$regex": "^M"}})}, {F}),
        ({"q": jsonq({"price": {"$gte": 5, "$lt": 8}})}, {E, F}),
        (
            {
                "filter[status]": "active",
                "q": jsonq({"price": {"$lt": 20}}),
                "filter": jsonq({"qty": {"_gt": 1}}),
            },
            {A, E},
        ),
        ({"search": "lamp"}, {A, D}),
        ({"search": "MUG", "filter[price][gt]": "6"}, {F}),
        ({"filter": "", "q": ""}, EVERY),
    ],
)  # fmt: skip
def test_filters_select_rows(client: httpx.Client, shop: str, params: dict, expected: set) -> None:
    assert listed(client, shop, params) == expected
    assert counted(client, shop, params) == len(expected)


# The same logical filter as brackets, Directus JSON and Mongo JSON.
SAME = [
    ({"filter[status]": "active"}, {"status": {"_eq": "active"}}, {"status": "active"}, {A, B, E}),
    (
        {"filter[price][gte]": "6.5", "filter[price][lte]": "45"},
        {"price": {"_gte": 6.5, "_lte": 45}},
        {"price": {"$gte": 6.5, "$lte": 45}},
        {A, C, D, F},
    ),
    ({"filter[qty][in]": "0,1,25"}, {"qty": {"_in": [0, 1, 25]}}, {"qty": {"$in": [0, 1, 25]}},
     {B, D, E}),
    ({"filter[qty][nin]": "0,1,25"}, {"qty": {"_nin": [0, 1, 25]}},
     {"qty": {"$nin": [0, 1, 25]}}, {A, C, F, G}),
    ({"filter[price][ne]": "12.5"}, {"price": {"_neq": 12.5}}, {"price": {"$ne": 12.5}},
     EVERY - {A}),
    ({"filter[meta][null]": "true"}, {"meta": {"_null": True}}, {"meta": {"$eq": None}}, {F, G}),
    ({"filter[meta.color]": "red"}, {"meta": {"color": "red"}}, {"meta.color": "red"}, {A, C}),
    ({"filter[meta.size][exists]": "false"}, {"meta.size": {"_exists": False}},
     {"meta.size": {"$exists": False}}, {B, E, F, G}),
    ({"filter[name][regex]": "^[A-Z][a-z]+$"}, {"name": {"_regex": "^[A-Z][a-z]+$"}},
     {"name": {"$regex": "^[A-Z][a-z]+$"}}, {A, B, C, G}),
    ({"filter[name][contains]": "%"}, {"name": {"_contains": "%"}},
     {"name": {"$contains": "%"}}, {E}),
]  # fmt: skip


@pytest.mark.parametrize("brackets, directus, mongo, expected", SAME)
def test_three_syntaxes_agree(
    client: httpx.Client, shop: str, brackets: dict, directus: dict, mongo: dict, expected: set
) -> None:
    assert listed(client, shop, brackets) == expected
    assert listed(client, shop, {"filter": jsonq(directus)}) == expected
    assert listed(client, shop, {"q": jsonq(mongo)}) == expected
    assert queried(client, shop, {"where": directus}) == expected
    assert queried(client, shop, {"where": mongo}) == expected
    for params in (brackets, {"filter": jsonq(directus)}, {"q": jsonq(mongo)}):
        assert counted(client, shop, params) == len(expected)


# --- paging -----------------------------------------------------------------------------------


def walk(client: httpx.Client, url: str, params: dict[str, Any]) -> list[dict]:
    """Every page of a cursor walk; checks each page's meta."""
    records, cursor = [], ""
    for _ in range(100):
        response = client.get(url, params={**params, "cursor": cursor})
        assert response.status_code == 200, response.text
        page = response.json()
        records += page["data"]
        meta = page["meta"]
        assert set(meta) == {"limit", "has_more", "next_cursor"}, meta
        if not meta["has_more"]:
            assert meta["next_cursor"] is None
            return records
        assert len(page["data"]) == meta["limit"] and meta["next_cursor"]
        cursor = meta["next_cursor"]
    raise AssertionError("the cursor walk does not end")


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 7},
        {"limit": 7, "sort": "-price"},
        {"limit": 4, "sort": "price,-name"},
        {"limit": 5, "sort": "-price", "filter[status]": "active"},
        {"limit": 3, "q": jsonq({"price": {"$gte": 1}}), "search": "p1"},
        {"limit": 1000},
    ],
)
def test_cursor_paging_returns_every_row_once_in_order(
    client: httpx.Client, many: str, params: dict
) -> None:
    url = f"/api/v1/{many}"
    walked = walk(client, url, params)
    everything = client.get(url, params={**params, "limit": 1000}).json()["data"]
    assert [r["id"] for r in walked] == [r["id"] for r in everything]
    assert len({r["id"] for r in walked}) == len(walked)


def test_cursor_meta_total_and_limits(client: httpx.Client, many: str) -> None:
    url = f"/api/v1/{many}"
    first = client.get(url, params={"cursor": "", "limit": 10, "meta": "total"}).json()
    assert first["meta"]["total"] == 30 and first["meta"]["limit"] == 10
    assert first["meta"]["has_more"] is True and len(first["data"]) == 10
    default = client.get(url, params={"cursor": ""}).json()
    assert default["meta"]["limit"] == 25 and len(default["data"]) == 25
    last = client.get(url, params={"cursor": default["meta"]["next_cursor"]}).json()
    assert len(last["data"]) == 5
    assert last["meta"] == {"limit": 25, "has_more": False, "next_cursor": None}


def test_offset_paging_meta(client: httpx.Client, many: str) -> None:
    page = client.get(f"/api/v1/{many}", params={"page": 2, "limit": 7, "sort": "name"}).json()
    assert [r["name"] for r in page["data"]] == [f"p{i:02d}" for i in range(7, 14)]
    assert page["meta"] == {"total": 30, "page": 2, "limit": 7, "pages": 5}
    body = {"offset": 28, "limit": 5, "sort": ["name"], "fields": ["name"]}
    tail = client.post(f"/api/v1/{many}/query", json=body).json()
    assert [r["name"] for r in tail["data"]] == ["p28", "p29"]
    assert set(tail["data"][0]) == {"id", "name"}
    assert tail["meta"] == {"total": 30, "page": 6, "limit": 5, "pages": 6}


def test_cursor_bound_to_its_query(client: httpx.Client, many: str) -> None:
    url = f"/api/v1/{many}"
    params = {"limit": 5, "sort": "-price", "filter[status]": "active"}
    cursor = client.get(url, params={**params, "cursor": ""}).json()["meta"]["next_cursor"]
    assert client.get(url, params={**params, "cursor": cursor}).status_code == 200
    for changed in (
        {"filter[status]": "draft"},
        {"sort": "price"},
        {"search": "p1"},
        {"q": jsonq({"price": {"$gt": 0}})},
    ):
        response = client.get(url, params={**params, **changed, "cursor": cursor})
        assert_bad_request(response, "cursor")
    posted = client.post(f"{url}/query", json={"cursor": cursor, "sort": ["price"], "limit": 5})
    assert_bad_request(posted, "cursor")


def test_cursor_paging_over_post_query(client: httpx.Client, many: str) -> None:
    url = f"/api/v1/{many}/query"
    body: dict[str, Any] = {"where": {"status": "active"}, "sort": ["-price", "name"], "limit": 6}
    records, cursor = [], ""  # "": the first page
    while True:
        page = client.post(url, json={**body, "cursor": cursor}).json()
        records += page["data"]
        if not page["meta"]["has_more"]:
            assert page["meta"]["next_cursor"] is None
            break
        cursor = page["meta"]["next_cursor"]
    expected = client.post(url, json={**body, "limit": 1000}).json()["data"]
    assert records == expected and len(records) == 20


# --- aggregates and count ---------------------------------------------------------------------


def test_aggregates_grouped(client: httpx.Client, shop: str) -> None:
    params = {"aggregate[count]": "*", "aggregate[avg]": "price", "groupBy": "status"}
    response = client.get(f"/api/v1/{shop}", params=params)
    assert response.status_code == 200, response.text
    groups = sorted(response.json()["data"], key=lambda g: g["status"])
    assert groups == [
        {"status": "active", "count": {"*": 3}, "avg": {"price": pytest.approx(137.5 / 3)}},
        {"status": "archived", "count": {"*": 1}, "avg": {"price": pytest.approx(8)}},
        {"status": "draft", "count": {"*": 3}, "avg": {"price": pytest.approx(25.75)}},
    ]
    pairs = client.get(
        f"/api/v1/{shop}",
        params=[("aggregate[count]", "*"), ("groupBy[]", "status"), ("groupBy[]", "qty")],
    )
    assert pairs.status_code == 200, pairs.text
    assert len(pairs.json()["data"]) == 7


def test_aggregates_without_group_by(client: httpx.Client, shop: str) -> None:
    params = [
        ("aggregate[count]", "*"),
        ("aggregate[count]", "price"),
        ("aggregate[countDistinct]", "status"),
        ("aggregate[sum]", "price,qty"),
        ("aggregate[min]", "price"),
        ("aggregate[max]", "qty"),
    ]
    response = client.get(f"/api/v1/{shop}", params=params)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == [
        {
            "count": {"*": 7, "price": 6},
            "countDistinct": {"status": 3},
            "sum": {"price": pytest.approx(197), "qty": 43},
            "min": {"price": pytest.approx(5)},
            "max": {"qty": 25},
        }
    ]
    active = client.get(
        f"/api/v1/{shop}",
        params={"aggregate[sum]": "qty", "q": jsonq({"status": "active"}), "search": "m"},
    )
    assert active.json()["data"] == [{"sum": {"qty": 28}}]  # Lamp and 50% off mug


def test_count_with_every_syntax(client: httpx.Client, shop: str) -> None:
    assert counted(client, shop, {}) == 7
    assert counted(client, shop, {"search": "LAMP"}) == 2
    both = {"filter[status]": "draft", "filter": jsonq({"qty": {"_gte": 4}}), "search": "H"}
    assert counted(client, shop, both) == 2  # Chair, Shelf


# --- POST /query ------------------------------------------------------------------------------


def test_post_query(client: httpx.Client, shop: str) -> None:
    body = {
        "where": {"$or": [{"status": "archived"}, {"price": {"$gt": 40}}]},
        "sort": ["-price"],
        "fields": ["name", "price"],
        "limit": 2,
    }
    answer = client.post(f"/api/v1/{shop}/query", json=body).json()
    assert [(r["name"], r["price"]) for r in answer["data"]] == [(B, 120), (C, 45)]
    assert set(answer["data"][0]) == {"id", "name", "price"}
    assert answer["meta"] == {"total": 3, "page": 1, "limit": 2, "pages": 2}
    second = client.post(f"/api/v1/{shop}/query", json={**body, "page": 2}).json()
    assert [r["name"] for r in second["data"]] == [D]
    assert queried(client, shop, {"search": "mug", "where": None}) == {E, F}
    assert queried(client, shop, {"sort": "name,-price", "where": {}}) == EVERY
    empty = client.post(f"/api/v1/{shop}/query", content=b"")
    assert empty.status_code == 200 and len(empty.json()["data"]) == 7


# --- export -----------------------------------------------------------------------------------


def export(client: httpx.Client, collection: str, params: dict[str, Any]) -> httpx.Response:
    response = client.get(f"/api/v1/{collection}/export", params=params)
    assert response.status_code == 200, response.text
    return response


def test_export_csv(client: httpx.Client, shop: str) -> None:
    params = {"format": "csv", "filter[status]": "active", "sort": "-price", "fields": "name,price"}
    response = export(client, shop, params)
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == f'attachment; filename="{shop}.csv"'
    assert response.headers["x-request-id"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["name"], float(r["price"])) for r in rows] == [(B, 120), (A, 12.5), (E, 5)]
    assert set(rows[0]) == {"id", "name", "price"}
    everything = list(csv.DictReader(io.StringIO(export(client, shop, {"format": "csv"}).text)))
    assert {r["name"] for r in everything} == EVERY
    assert {"id", "name", "tags", "meta", "created_at", "updated_at"} <= set(everything[0])


def test_export_ndjson(client: httpx.Client, shop: str) -> None:
    params = {"format": "ndjson", "q": jsonq({"price": {"$gt": 10}}), "sort": "name"}
    response = export(client, shop, params)
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["content-disposition"] == f'attachment; filename="{shop}.ndjson"'
    records = [orjson.loads(line) for line in response.text.splitlines() if line]
    assert [r["name"] for r in records] == [C, B, A]
    assert records[0]["meta"] == {"color": "red", "size": 5} and records[0]["tags"] == ["office"]


def test_export_json(client: httpx.Client, shop: str) -> None:
    params = {"filter": jsonq({"meta.color": "white"}), "fields": "name", "search": "mug"}
    response = export(client, shop, params)  # json is the default format
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"] == f'attachment; filename="{shop}.json"'
    assert [{k: v for k, v in r.items() if k != "id"} for r in response.json()] == [{"name": E}]
    assert export(client, shop, {"format": "json", "filter[name]": "none"}).json() == []


def test_export_of_many_rows_in_order(client: httpx.Client, many: str) -> None:
    response = export(client, many, {"format": "ndjson", "sort": "-name", "fields": "name"})
    names = [orjson.loads(line)["name"] for line in response.text.splitlines()]
    assert names == [f"p{i:02d}" for i in reversed(range(30))]


@pytest.mark.parametrize(
    "params, words",
    [
        ({"format": "xml"}, ["unknown format 'xml'", "csv, json, ndjson"]),
        ({"format": "csv", "limit": "5"}, ["drop limit"]),
        ({"cursor": ""}, ["drop cursor"]),
        ({"fields": "name,nope"}, ["nope"]),
        ({"sort": "nope"}, ["nope"]),
        ({"filter[price][gt]": "cheap"}, ["price"]),
        ({"q": "{bad"}, ["malformed JSON in q"]),
    ],
)
def test_export_errors_are_envelopes(
    client: httpx.Client, shop: str, params: dict, words: list[str]
) -> None:
    """Core refuses before the first chunk, so the usual envelope and status still apply."""
    assert_bad_request(client.get(f"/api/v1/{shop}/export", params=params), *words)


def test_export_of_unknown_collection_is_404(client: httpx.Client) -> None:
    response = client.get("/api/v1/no_such_collection/export")
    assert response.status_code == 404 and error_code(response) == "NOT_FOUND"


# --- bad input is a 400 envelope, never a 500 -------------------------------------------------


def deep(key: str, levels: int) -> dict:
    tree: dict = {"name": "x"}
    for _ in range(levels):
        tree = {key: [tree]}
    return tree


@pytest.mark.parametrize(
    "params, words",
    [
        ({"filter": "{bad"}, ["malformed JSON in filter"]),
        ({"q": "[1,"}, ["malformed JSON in q"]),
        ({"filter": "[1]"}, ["must be a JSON object"]),
        ({"filter": jsonq({"price": {"_within": 1}})}, ["unknown operator '_within'"]),
        ({"q": jsonq({"price": {"$within": 1}})}, ["unknown operator '$within'"]),
        ({"filter[price][within]": "1"}, ["unknown operator 'within'"]),
        ({"filter[price": "1"}, ["malformed filter parameter"]),
        ({"q": jsonq({"$or": {}})}, ["$or takes a non-empty list"]),
        ({"q": jsonq({"$or": []})}, ["$or takes a non-empty list"]),
        ({"q": jsonq({"tags": {"$in": "a"}})}, ["$in on 'tags' takes a list"]),
        ({"filter": jsonq({"_and": {}})}, ["_and takes a non-empty list"]),
        ({"filter": jsonq({"price": {"_gt": 1, "color": 2}})}, ["mixes operators"]),
        ({"q": jsonq(deep("$and", 20))}, ["nested more than 16 levels"]),
        ({"filter": jsonq(deep("_or", 200))}, ["nested more than 16 levels"]),
        ({"limit": "1001"}, ["limit"]),
        ({"limit": "99999999999"}, ["limit"]),
        ({"limit": "0"}, ["limit"]),
        ({"page": "x"}, ["page must be an integer"]),
        ({"cursor": "garbage"}, ["cursor"]),
        ({"cursor": "", "page": "2"}, ["cursor cannot be combined"]),
        ({"cursor": "", "offset": "2"}, ["cursor cannot be combined"]),
        ({"meta": "everything"}, ["meta=total"]),
        ({"filter[price][gt]": "cheap"}, ["price"]),
        ({"q": jsonq({"price": {"$gt": "cheap"}})}, ["price"]),
        ({"filter[nope]": "1"}, ["nope"]),
        ({"filter[meta..color]": "1"}, []),
        ({"sort": "meta"}, ["meta"]),
        ({"aggregate[median]": "price"}, ["unknown aggregate function 'median'", "countDistinct"]),
        ({"aggregate[count]": ""}, ["needs a field"]),
        ({"aggregate": "count"}, ["aggregate[function]=field"]),
        ({"aggregate[count]": "*", "sort": "name"}, ["drop sort"]),
        ({"aggregate[count]": "*", "cursor": ""}, ["drop cursor"]),
        ({"groupBy": "status"}, ["groupBy needs an aggregate"]),
        ({"aggregate[sum]": "nope"}, ["nope"]),
        ({"aggregate[sum]": "name"}, []),
    ],
)
def test_bad_list_input(client: httpx.Client, shop: str, params: dict, words: list[str]) -> None:
    assert_bad_request(client.get(f"/api/v1/{shop}", params=params), *words)


@pytest.mark.parametrize(
    "params, words",
    [
        ({"filter": "{bad"}, ["malformed JSON in filter"]),
        ({"q": jsonq({"a": {"$nope": 1}})}, ["unknown operator '$nope'"]),
        ({"filter[price][gt]": "cheap"}, ["price"]),
    ],
)
def test_bad_count_input(client: httpx.Client, shop: str, params: dict, words: list[str]) -> None:
    assert_bad_request(client.get(f"/api/v1/{shop}/count", params=params), *words)


@pytest.mark.parametrize(
    "body, words",
    [
        (b"{bad", ["malformed JSON body"]),
        (b"[1]", ["must be a JSON object"]),
        (b'"where"', ["must be a JSON object"]),
        ({"wher": {}}, ["unknown keys ['wher']"]),
        ({"where": [1]}, ["must be a JSON object"]),
        ({"where": {"$or": [{"a": {"_eq": 1}}]}}, ["mixes Mongo operators"]),
        ({"where": {"price": {"$gt": "cheap"}}}, ["price"]),
        ({"where": deep("$or", 20)}, ["nested more than 16 levels"]),
        ({"where": deep("_and", 100)}, ["nested more than 16 levels"]),
        ({"limit": "5"}, ["limit must be an integer"]),
        ({"limit": True}, ["limit must be an integer"]),
        ({"limit": 1001}, ["limit"]),
        ({"offset": -1}, ["offset"]),
        ({"cursor": 5}, ["cursor must be a string"]),
        ({"cursor": "", "page": 2}, ["cursor cannot be combined"]),
        ({"cursor": "garbage"}, ["cursor"]),
        ({"sort": [1]}, ["sort must be a list"]),
        ({"fields": {"name": 1}}, ["fields must be a list"]),
        ({"search": 5}, ["search must be a string"]),
        ({"meta": ["total"]}, ["meta must be a string"]),
    ],
)
def test_bad_query_bodies(client: httpx.Client, shop: str, body: Any, words: list[str]) -> None:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    assert_bad_request(client.post(f"/api/v1/{shop}/query", content=content), *words)


def test_nulls_in_a_query_body_mean_not_given(client: httpx.Client, shop: str) -> None:
    """API.md's own example body, as generated clients send it: every optional key, null."""
    url = f"/api/v1/{shop}/query"
    example = {
        "where": {"price": {"$gte": 0}},
        "sort": ["-price"],
        "limit": 20,
        "offset": 0,
        "cursor": None,
        "fields": ["id", "name"],
        "search": None,
    }
    answer = client.post(url, json=example)
    assert answer.status_code == 200, answer.text
    plain = client.post(
        url, json={"where": example["where"], "sort": ["-price"], "limit": 20}
    ).json()
    assert answer.json()["meta"] == plain["meta"] and answer.json()["meta"]["total"] == 6
    assert [r["id"] for r in answer.json()["data"]] == [r["id"] for r in plain["data"]]
    assert set(answer.json()["data"][0]) == {"id", "name"}
    keys = ("where", "sort", "fields", "search", "limit", "page", "offset", "cursor", "meta")
    all_null = client.post(url, json=dict.fromkeys(keys)).json()
    assert all_null == client.post(url, json={}).json()


def test_json_nested_beyond_any_parser_is_400(client: httpx.Client, shop: str) -> None:
    body = b'{"where": ' + b'{"$and": [' * 5000 + b"{}" + b"]}" * 5000 + b"}"
    assert_bad_request(client.post(f"/api/v1/{shop}/query", content=body))


def test_static_segments_win_over_ids(client: httpx.Client, shop: str) -> None:
    assert client.get(f"/api/v1/{shop}/count").json() == {"data": {"count": 7}}
    assert client.get(f"/api/v1/{shop}/export").status_code == 200
    assert client.post(f"/api/v1/{shop}/query", json={}).status_code == 200
    record = client.get(f"/api/v1/{shop}", params={"filter[name]": A}).json()["data"][0]
    assert client.get(f"/api/v1/{shop}/{record['id']}").json()["data"]["name"] == A
    # So ids named count, query or export are out of reach of /{collection}/{id}.
    assert client.get(f"/api/v1/{shop}/query").status_code == 405
