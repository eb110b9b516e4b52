"""Record routes over REST: CRUD, list parameters, envelopes and bad input."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.test_rest_schema import error_code

FIELDS = [
    {"name": "name", "type": "string", "required": True, "max_length": 20},
    {"name": "price", "type": "float", "min": 0},
    {"name": "qty", "type": "integer", "default": 1},
    {"name": "status", "type": "enum", "values": ["draft", "active"]},
    {"name": "sku", "type": "string", "unique": True, "pattern": "^[A-Z]+-[0-9]+$"},
    {"name": "tags", "type": "string[]"},
    {"name": "meta", "type": "json"},
    {"name": "launched", "type": "date"},
    {"name": "seen_at", "type": "datetime"},
    {"name": "active", "type": "boolean"},
    {"name": "cost", "type": "decimal"},
    {"name": "ref", "type": "uuid"},
]


@pytest.fixture
def products(rest: httpx.Client, name: str) -> str:
    response = rest.post("/api/v1/schema/collections", json={"name": name, "fields": FIELDS})
    assert response.status_code == 201, response.text
    return name


def seed(rest: httpx.Client, collection: str, rows: list[dict]) -> list[dict]:
    out = []
    for row in rows:
        response = rest.post(f"/api/v1/{collection}", json=row)
        assert response.status_code == 201, response.text
        out.append(response.json()["data"])
    return out


def test_create_and_get_every_type(rest: httpx.Client, products: str) -> None:
    body = {
        "name": "Lamp", "price": 12.5, "status": "active", "sku": "LA-1", "tags": ["a", "b"],
        "meta": {"color": "red", "sizes": [1, 2]}, "launched": "2024-05-01",
        "seen_at": "2024-05-01T12:30:00Z", "active": True, "cost": "10.25",
        "ref": "6f1c1c4e-6b9e-4d2b-9f55-2f4f8b1e2a10",
    }  # fmt: skip
    created = rest.post(f"/api/v1/{products}", json=body)
    assert created.status_code == 201, created.text
    assert created.headers["ETag"] == '"1"'
    record = created.json()["data"]
    assert record["id"] and record["created_at"] and record["updated_at"]
    assert record["qty"] == 1  # the default
    assert record["meta"] == body["meta"] and record["tags"] == ["a", "b"]
    assert record["launched"] == "2024-05-01" and record["cost"] == 10.25
    assert record["seen_at"].startswith("2024-05-01T12:30:00")
    assert "deleted_at" not in record and "version" not in record

    fetched = rest.get(f"/api/v1/{products}/{record['id']}")
    assert fetched.status_code == 200 and fetched.json()["data"] == record
    assert fetched.headers["ETag"] == '"1"'


def test_client_chosen_id_and_uuidv7_default(rest: httpx.Client, products: str) -> None:
    given = rest.post(f"/api/v1/{products}", json={"id": "sku-42", "name": "A"}).json()["data"]
    assert given["id"] == "sku-42"
    again = rest.post(f"/api/v1/{products}", json={"id": "sku-42", "name": "B"})
    assert again.status_code == 409 and error_code(again) == "CONFLICT"
    generated = rest.post(f"/api/v1/{products}", json={"name": "C"}).json()["data"]["id"]
    assert len(generated) == 36 and generated[14] == "7"  # a UUIDv7


def test_validation_reports_every_violation(rest: httpx.Client, products: str) -> None:
    response = rest.post(
        f"/api/v1/{products}",
        json={"price": -1, "qty": "many", "status": "gone", "sku": "bad", "nope": 1},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["request_id"]
    fields = {d["field"] for d in error["details"]}
    assert fields == {"name", "price", "qty", "status", "sku", "nope"}
    assert rest.get(f"/api/v1/{products}/count").json()["data"]["count"] == 0


@pytest.mark.parametrize(
    "row, field",
    [
        ({"name": 5}, "name"),
        ({"name": "x" * 21}, "name"),
        ({"name": "a", "qty": 1.5}, "qty"),
        ({"name": "a", "qty": True}, "qty"),
        ({"name": "a", "qty": 2**63}, "qty"),
        ({"name": "a", "price": "12"}, "price"),
        ({"name": "a", "active": "yes"}, "active"),
        ({"name": "a", "launched": "May 1st"}, "launched"),
        ({"name": "a", "seen_at": "2024-13-01T00:00:00"}, "seen_at"),
        ({"name": "a", "ref": "not-a-uuid"}, "ref"),
        ({"name": "a", "tags": "a,b"}, "tags"),
        ({"name": "a", "tags": ["a", 1]}, "tags"),
        ({"name": "a", "cost": "ten"}, "cost"),
        ({"name": None}, "name"),
        ({"name": "a", "id": 12}, "id"),
        ({"name": "a\u0000b"}, "name"),
    ],
)
def test_wrong_types_are_validation_errors(
    rest: httpx.Client, products: str, row: dict, field: str
) -> None:
    response = rest.post(f"/api/v1/{products}", json=row)
    assert response.status_code == 400, response.text
    assert error_code(response) == "VALIDATION_ERROR"
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]


@pytest.mark.parametrize("body", [b"{bad json", b"[1, 2]", b"", b'"text"', b"null"])
def test_malformed_bodies_are_bad_requests(rest: httpx.Client, products: str, body: bytes) -> None:
    response = rest.post(f"/api/v1/{products}", content=body)
    assert response.status_code == 400 and error_code(response) == "BAD_REQUEST"


def test_patch_put_delete(rest: httpx.Client, products: str) -> None:
    record = seed(rest, products, [{"name": "Lamp", "price": 10, "qty": 5, "tags": ["x"]}])[0]
    url = f"/api/v1/{products}/{record['id']}"

    patched = rest.patch(url, json={"price": 11})
    assert patched.status_code == 200 and patched.headers["ETag"] == '"2"'
    data = patched.json()["data"]
    assert data["price"] == 11 and data["qty"] == 5 and data["name"] == "Lamp"
    assert data["updated_at"] > record["updated_at"] and data["created_at"] == record["created_at"]

    # PUT replaces: omitted fields become their default or null.
    replaced = rest.put(url, json={"name": "Desk"})
    assert replaced.status_code == 200
    assert replaced.json()["data"] | {"updated_at": None} == {
        **{f["name"]: None for f in FIELDS},
        "id": record["id"], "name": "Desk", "qty": 1,
        "created_at": record["created_at"], "updated_at": None,
    }  # fmt: skip

    created = rest.put(f"/api/v1/{products}/new-one", json={"name": "Fresh"})
    assert created.status_code == 201 and created.json()["data"]["id"] == "new-one"
    mismatch = rest.put(f"/api/v1/{products}/new-one", json={"id": "other", "name": "x"})
    assert mismatch.status_code == 400

    deleted = rest.delete(url)
    assert deleted.json() == {"data": {"id": record["id"], "deleted": True}}
    for response in (rest.get(url), rest.patch(url, json={"price": 1}), rest.delete(url)):
        assert response.status_code == 404 and error_code(response) == "NOT_FOUND"
    listed = [r["id"] for r in rest.get(f"/api/v1/{products}").json()["data"]]
    assert record["id"] not in listed and "new-one" in listed


def test_patch_validates_and_changes_nothing_on_error(rest: httpx.Client, products: str) -> None:
    record = seed(rest, products, [{"name": "Lamp", "price": 10}])[0]
    url = f"/api/v1/{products}/{record['id']}"
    bad = rest.patch(url, json={"price": -5, "name": None})
    assert bad.status_code == 400 and error_code(bad) == "VALIDATION_ERROR"
    assert {d["field"] for d in bad.json()["error"]["details"]} == {"price", "name"}
    assert rest.get(url).json()["data"] == record


def test_if_match(rest: httpx.Client, products: str) -> None:
    record = seed(rest, products, [{"name": "Lamp"}])[0]
    url = f"/api/v1/{products}/{record['id']}"
    stale = rest.patch(url, json={"name": "B"}, headers={"If-Match": '"7"'})
    assert stale.status_code == 412 and error_code(stale) == "PRECONDITION_FAILED"
    fresh = rest.patch(url, json={"name": "B"}, headers={"If-Match": '"1"'})
    assert fresh.status_code == 200 and fresh.headers["ETag"] == '"2"'
    assert rest.put(url, json={"name": "C"}, headers={"If-Match": '"1"'}).status_code == 412
    assert rest.delete(url, headers={"If-Match": '"1"'}).status_code == 412
    # A tag this API never issued matches no version: 412 on every guarded write, no change.
    for tag in ('"definitely-not-it"', "garbage", '"0"', '"-2"', '"99999999999999999999"'):
        never = rest.patch(url, json={"name": "x"}, headers={"If-Match": tag})
        assert never.status_code == 412 and error_code(never) == "PRECONDITION_FAILED", tag
        assert rest.put(url, json={"name": "x"}, headers={"If-Match": tag}).status_code == 412
        assert rest.delete(url, headers={"If-Match": tag}).status_code == 412
    assert rest.get(url).json()["data"]["name"] == "B"
    star = rest.patch(url, json={"name": "D"}, headers={"If-Match": "*"})
    assert star.status_code == 200 and star.headers["ETag"] == '"3"'
    assert rest.delete(url, headers={"If-Match": '"3"'}).status_code == 200
    gone = rest.patch(url, json={"name": "x"}, headers={"If-Match": "*"})
    assert gone.status_code == 404
    # If-Match: * on PUT replaces an existing record and never creates one.
    assert rest.put(url, json={"name": "x"}, headers={"If-Match": "*"}).status_code == 404
    assert rest.get(url).status_code == 404
    fresh_url = f"/api/v1/{products}/{seed(rest, products, [{'name': 'E'}])[0]['id']}"
    replaced = rest.put(fresh_url, json={"name": "F"}, headers={"If-Match": "*"})
    assert replaced.status_code == 200 and replaced.json()["data"]["name"] == "F"


def test_unique_among_live_records(rest: httpx.Client, products: str) -> None:
    first = seed(rest, products, [{"name": "A", "sku": "AB-1"}])[0]
    clash = rest.post(f"/api/v1/{products}", json={"name": "B", "sku": "AB-1"})
    assert clash.status_code == 409 and error_code(clash) == "CONFLICT"
    assert "sku" in clash.json()["error"]["message"]
    rest.delete(f"/api/v1/{products}/{first['id']}")
    assert rest.post(f"/api/v1/{products}", json={"name": "B", "sku": "AB-1"}).status_code == 201


def test_list_equality_sort_and_paging(rest: httpx.Client, products: str) -> None:
    seed(
        rest,
        products,
        [
            {"name": f"p{i:02d}", "price": i % 5, "status": "active" if i % 2 else "draft"}
            for i in range(30)
        ],
    )
    url = f"/api/v1/{products}"
    first = rest.get(url).json()
    assert len(first["data"]) == 25
    assert first["meta"] == {"total": 30, "page": 1, "limit": 25, "pages": 2}

    page = rest.get(url, params={"page": 3, "limit": 7, "sort": "name"}).json()
    assert [r["name"] for r in page["data"]] == [f"p{i:02d}" for i in range(14, 21)]
    assert page["meta"] == {"total": 30, "page": 3, "limit": 7, "pages": 5}
    offset = rest.get(url, params={"offset": 28, "limit": 5, "sort": "name"}).json()
    assert [r["name"] for r in offset["data"]] == ["p28", "p29"]

    active = rest.get(url, params={"filter[status]": "active", "limit": 100}).json()
    assert active["meta"]["total"] == 15 and {r["status"] for r in active["data"]} == {"active"}
    both = rest.get(url, params={"filter[status][eq]": "draft", "filter[price]": "2"}).json()
    assert sorted(r["name"] for r in both["data"]) == ["p02", "p12", "p22"]
    count = rest.get(f"{url}/count", params={"filter[price][_eq]": "4"})
    assert count.json() == {"data": {"count": 6}}

    ordered = rest.get(url, params={"sort": "-price,name", "limit": 7}).json()["data"]
    assert [(r["price"], r["name"]) for r in ordered] == [
        (4, "p04"), (4, "p09"), (4, "p14"), (4, "p19"), (4, "p24"), (4, "p29"), (3, "p03"),
    ]  # fmt: skip


def test_fields_selection(rest: httpx.Client, products: str) -> None:
    record = seed(rest, products, [{"name": "Lamp", "price": 3}])[0]
    listed = rest.get(f"/api/v1/{products}", params={"fields": "name,price"}).json()["data"]
    assert listed == [{"id": record["id"], "name": "Lamp", "price": 3}]
    one = rest.get(f"/api/v1/{products}/{record['id']}", params={"fields": "created_at"})
    assert one.json()["data"] == {"id": record["id"], "created_at": record["created_at"]}
    star = rest.get(f"/api/v1/{products}/{record['id']}", params={"fields": "*"})
    assert star.json()["data"] == record


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "1001"},
        {"limit": "0"},
        {"limit": "ten"},
        {"page": "0"},
        {"offset": "-1"},
        {"sort": "nope"},
        {"fields": "name,nope"},
        {"filter[nope]": "1"},
        {"filter[price][within]": "1"},
        {"filter[price]": "cheap"},
        {"filter[price][gt]": "1e999x"},
        {"filter[active]": "maybe"},
        {"filter[launched][gt]": "yesterday"},
        {"filter[price": "1"},
        {"filter[name][gt]'; DROP TABLE x; --": "1"},
        {"filter[a.b.c]": "1"},
        {"sort": "meta"},
    ],
)
def test_bad_list_parameters(rest: httpx.Client, products: str, params: dict) -> None:
    response = rest.get(f"/api/v1/{products}", params=params)
    assert response.status_code == 400, response.text
    assert error_code(response) == "BAD_REQUEST"


def test_hostile_values_are_just_values(rest: httpx.Client, products: str) -> None:
    hostile = "x'; DROP TABLE users; --"
    seed(rest, products, [{"name": "O'Brien"}, {"name": hostile[:20]}])
    for value in ("O'Brien", hostile[:20]):
        found = rest.get(f"/api/v1/{products}", params={"filter[name]": value}).json()["data"]
        assert [r["name"] for r in found] == [value]
    assert rest.get(f"/api/v1/{products}", params={"filter[name]": "%"}).json()["data"] == []


def test_unknown_collection_and_record(rest: httpx.Client, products: str) -> None:
    for response in (
        rest.get("/api/v1/no_such_thing"),
        rest.post("/api/v1/no_such_thing", json={}),
        rest.get(f"/api/v1/{products}/does-not-exist"),
        rest.get('/api/v1/bad"name/x'),
    ):
        assert response.status_code == 404, response.text
        assert error_code(response) == "NOT_FOUND"


def test_flexible_collection_keeps_unknown_fields(rest: httpx.Client, name: str) -> None:
    rest.post(
        "/api/v1/schema/collections",
        json={"name": name, "mode": "flexible", "fields": [{"name": "title", "type": "string"}]},
    )
    record = rest.post(f"/api/v1/{name}", json={"title": "t", "color": "red", "size": 10})
    assert record.status_code == 201
    data = record.json()["data"]
    assert data["color"] == "red" and data["size"] == 10
    rest.post(f"/api/v1/{name}", json={"title": "u", "color": "blue", "size": 3})
    red = rest.get(f"/api/v1/{name}", params={"filter[color]": "red"}).json()["data"]
    assert [r["title"] for r in red] == ["t"]
    big = rest.get(f"/api/v1/{name}", params={"filter[size]": "10"}).json()["data"]
    assert [r["title"] for r in big] == ["t"]
    by_size = rest.get(f"/api/v1/{name}", params={"sort": "-size", "fields": "size"}).json()
    assert [r["size"] for r in by_size["data"]] == [10, 3]
    patched = rest.patch(f"/api/v1/{name}/{data['id']}", json={"size": 11}).json()["data"]
    assert patched["size"] == 11 and patched["color"] == "red"
    bad_key = rest.post(f"/api/v1/{name}", json={"title": "v", "bad key": 1})
    assert bad_key.status_code == 400 and error_code(bad_key) == "VALIDATION_ERROR"


def test_request_id_is_echoed_or_made(rest: httpx.Client, products: str) -> None:
    sent = rest.get(f"/api/v1/{products}", headers={"X-Request-Id": "trace-123"})
    assert sent.headers["X-Request-Id"] == "trace-123"
    failed = rest.get(f"/api/v1/{products}/missing", headers={"X-Request-Id": "trace-456"})
    assert failed.headers["X-Request-Id"] == "trace-456"
    assert failed.json()["error"]["request_id"] == "trace-456"
    assert len(rest.get(f"/api/v1/{products}").headers["X-Request-Id"]) == 32


def test_health_routes(stack) -> None:
    for path in ("/healthz", "/readyz"):
        response = httpx.get(stack.rest_url + path)
        assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_credentials_on_rest(stack, products: str) -> None:
    url = f"{stack.rest_url}/api/v1/{products}"
    for headers in ({}, {"Authorization": "Bearer plk_wrong"}, {"Authorization": "Basic abc"}):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 401 and error_code(response) == "UNAUTHENTICATED"
    assert httpx.get(url, headers={"X-API-Key": stack.admin_key}).status_code == 200


def test_body_over_the_limit_is_413(rest: httpx.Client, products: str) -> None:
    response = rest.post(f"/api/v1/{products}", content=b'{"name": "' + b"x" * (11 * 2**20) + b'"}')
    assert response.status_code == 413 and error_code(response) == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize("mode", ["strict", "flexible"])
def test_fields_named_like_the_compilers_aliases_read_back_as_records(
    rest: httpx.Client, name: str, mode: str
) -> None:
    """Field names that the SQL uses as row aliases elsewhere (x, r, j, t, y, e, w, v,
    page) are just fields: every read and export still gives whole records."""
    names = ["x", "r", "j", "t", "y", "e", "w", "v", "page", "k"]
    fields = [{"name": n, "type": "integer"} for n in names]
    body = {"name": name, "mode": mode, "fields": fields}
    assert rest.post("/api/v1/schema/collections", json=body).status_code == 201
    record = {n: i for i, n in enumerate(names)}
    created = rest.post(f"/api/v1/{name}", json=record).json()["data"]
    assert {n: created[n] for n in names} == record
    got = rest.get(f"/api/v1/{name}/{created['id']}").json()["data"]
    listed = rest.get(f"/api/v1/{name}").json()["data"]
    cursor = rest.get(f"/api/v1/{name}", params={"cursor": ""}).json()["data"]
    chosen = rest.get(f"/api/v1/{name}", params={"fields": "x,r,j"}).json()["data"]
    exported = rest.get(f"/api/v1/{name}/export", params={"format": "ndjson"}).text
    for answer in (got, *listed, *cursor):
        assert {n: answer[n] for n in names} == record
    assert chosen == [{"id": created["id"], "x": 0, "r": 1, "j": 2}]
    assert [{n: r[n] for n in names} for r in map(json.loads, exported.splitlines())] == [record]
