"""Schema routes over REST: collections and fields, and their bad input."""

from __future__ import annotations

import httpx
import pytest

FIELDS = [
    {"name": "title", "type": "string", "required": True, "max_length": 40},
    {"name": "price", "type": "float", "min": 0, "default": 0},
    {"name": "status", "type": "enum", "values": ["draft", "active"]},
]


def create(rest: httpx.Client, name: str, fields=FIELDS, mode: str = "strict") -> httpx.Response:
    return rest.post(
        "/api/v1/schema/collections", json={"name": name, "mode": mode, "fields": fields}
    )


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


def test_create_get_list_delete_collection(rest: httpx.Client, name: str) -> None:
    created = create(rest, name)
    assert created.status_code == 201, created.text
    body = created.json()["data"]
    assert body["name"] == name and body["mode"] == "strict"
    price = next(f for f in body["fields"] if f["name"] == "price")
    assert price["type"] == "float" and price["min"] == 0 and price["max"] is None

    assert rest.get(f"/api/v1/schema/collections/{name}").json()["data"] == body
    names = [c["name"] for c in rest.get("/api/v1/schema/collections").json()["data"]]
    assert name in names

    assert rest.delete(f"/api/v1/schema/collections/{name}").status_code == 200
    gone = rest.get(f"/api/v1/schema/collections/{name}")
    assert gone.status_code == 404 and error_code(gone) == "NOT_FOUND"
    assert rest.get(f"/api/v1/{name}").status_code == 404


def test_api_md_example_body_is_accepted(rest: httpx.Client, name: str) -> None:
    field = {
        "name": "price", "type": "float", "required": True, "unique": False, "default": 0,
        "min": 0, "max": None, "max_length": None, "pattern": None, "values": None,
        "index": False, "dimensions": None, "target": None, "cardinality": None,
    }  # fmt: skip
    response = create(rest, name, [field])
    assert response.status_code == 201, response.text


def test_duplicate_collection_is_a_conflict(rest: httpx.Client, name: str) -> None:
    assert create(rest, name).status_code == 201
    again = create(rest, name)
    assert again.status_code == 409 and error_code(again) == "CONFLICT"


@pytest.mark.parametrize(
    "bad_name", ["1abc", "has space", "semi;colon", 'quo"te', "x" * 64, "", "dash-ed", "ünï"]
)
def test_invalid_collection_names_are_refused(rest: httpx.Client, bad_name: str) -> None:
    response = create(rest, bad_name, [])
    assert response.status_code == 400 and error_code(response) == "BAD_REQUEST"


@pytest.mark.parametrize(
    "field, reason",
    [
        ({"name": "a b", "type": "string"}, "name"),
        ({"name": "id", "type": "string"}, "reserved"),
        ({"name": "x", "type": "nonsense"}, "unknown type"),
        ({"name": "x", "type": "enum"}, "values"),
        ({"name": "x", "type": "string", "min": 3}, "min and max"),
        ({"name": "x", "type": "integer", "min": 5, "max": 1}, "greater than max"),
        ({"name": "x", "type": "string", "pattern": "("}, "pattern"),
        ({"name": "x", "type": "integer", "default": "abc"}, "default"),
        ({"name": "x", "type": "string", "colour": "red"}, "colour"),
        ({"name": "x", "type": "integer", "max_length": "long"}, "max_length"),
    ],
)
def test_invalid_field_definitions_are_refused(
    rest: httpx.Client, name: str, field: dict, reason: str
) -> None:
    response = create(rest, name, [field])
    assert response.status_code == 400, response.text
    assert error_code(response) == "BAD_REQUEST"
    assert reason in response.json()["error"]["message"]
    assert rest.get(f"/api/v1/schema/collections/{name}").status_code == 404  # nothing created


def test_malformed_schema_body(rest: httpx.Client) -> None:
    response = rest.post("/api/v1/schema/collections", content=b"{nope")
    assert response.status_code == 400 and error_code(response) == "BAD_REQUEST"


def test_add_alter_drop_fields(rest: httpx.Client, name: str) -> None:
    assert create(rest, name).status_code == 201
    rest.post(f"/api/v1/{name}", json={"title": "old", "price": 5})

    added = rest.post(
        f"/api/v1/schema/collections/{name}/fields",
        json={"name": "stock", "type": "integer", "default": 7, "index": True},
    )
    assert added.status_code == 201, added.text
    # The existing record gets the default; new records can use the field.
    listed = rest.get(f"/api/v1/{name}").json()["data"]
    assert listed[0]["stock"] == 7
    assert rest.post(f"/api/v1/{name}", json={"title": "new", "stock": 3}).status_code == 201

    renamed = rest.patch(
        f"/api/v1/schema/collections/{name}/fields/stock", json={"name": "quantity", "max": 100}
    )
    assert renamed.status_code == 200, renamed.text
    quantity = next(f for f in renamed.json()["data"]["fields"] if f["name"] == "quantity")
    assert quantity["max"] == 100 and quantity["index"] is True and quantity["default"] == 7
    too_many = rest.post(f"/api/v1/{name}", json={"title": "t", "quantity": 101})
    assert too_many.status_code == 400 and error_code(too_many) == "VALIDATION_ERROR"
    values = sorted(r["quantity"] for r in rest.get(f"/api/v1/{name}").json()["data"])
    assert values == [3, 7]

    # A type change converts existing values.
    retyped = rest.patch(
        f"/api/v1/schema/collections/{name}/fields/quantity", json={"type": "float"}
    )
    assert retyped.status_code == 200, retyped.text
    assert rest.post(f"/api/v1/{name}", json={"title": "f", "quantity": 2.5}).status_code == 201

    dropped = rest.delete(f"/api/v1/schema/collections/{name}/fields/quantity")
    assert dropped.status_code == 200
    assert "quantity" not in rest.get(f"/api/v1/{name}").json()["data"][0]
    unknown = rest.post(f"/api/v1/{name}", json={"title": "t", "quantity": 1})
    assert unknown.status_code == 400 and error_code(unknown) == "VALIDATION_ERROR"


def test_field_errors(rest: httpx.Client, name: str) -> None:
    assert create(rest, name).status_code == 201
    base = f"/api/v1/schema/collections/{name}/fields"
    duplicate = rest.post(base, json={"name": "title", "type": "string"})
    assert duplicate.status_code == 409
    assert rest.patch(f"{base}/nope", json={"required": True}).status_code == 404
    assert rest.delete(f"{base}/nope").status_code == 404
    assert rest.patch(f"{base}/title", json={}).status_code == 400
    # Required without default on a collection with rows: existing rows have no value.
    rest.post(f"/api/v1/{name}", json={"title": "a"})
    required = rest.post(base, json={"name": "sku", "type": "string", "required": True})
    assert required.status_code == 409, required.text
    assert "sku" not in rest.get(f"/api/v1/{name}").json()["data"][0]


def test_unique_field_added_later(rest: httpx.Client, name: str) -> None:
    assert create(rest, name).status_code == 201
    rest.post(f"/api/v1/{name}", json={"title": "a"})
    rest.post(f"/api/v1/{name}", json={"title": "a"})
    clash = rest.patch(f"/api/v1/schema/collections/{name}/fields/title", json={"unique": True})
    assert clash.status_code == 409, clash.text


def test_switch_mode_strict_flexible(rest: httpx.Client, name: str) -> None:
    assert create(rest, name).status_code == 201
    flexible = rest.patch(f"/api/v1/schema/collections/{name}", json={"mode": "flexible"})
    assert flexible.json()["data"]["mode"] == "flexible"
    assert rest.post(f"/api/v1/{name}", json={"title": "t", "colour": "red"}).status_code == 201
    # Back to strict would lose the undeclared data: refused.
    strict = rest.patch(f"/api/v1/schema/collections/{name}", json={"mode": "strict"})
    assert strict.status_code == 409
    assert (
        rest.patch(f"/api/v1/schema/collections/{name}", json={"mode": "weird"}).status_code == 400
    )
