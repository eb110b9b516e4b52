"""The GraphQL gateway over the real stack: schema per space, CRUD, where, errors, HTTP."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from plinth.v1 import schema_service_pb2 as schema_pb

FIELDS = [
    {"name": "name", "type": "string", "required": True},
    {"name": "unit_price", "type": "float", "min": 0},
    {"name": "in_stock", "type": "boolean"},
    {"name": "qty", "type": "integer"},
    {"name": "cost", "type": "decimal"},
    {"name": "tags", "type": "string[]"},
    # `values` is also a dict method: it must still read the field.
    {"name": "values", "type": "json"},
]
SEED = [
    {"name": "apple", "unit_price": 1.5, "in_stock": True, "qty": 10, "tags": ["fruit", "red"]},
    {"name": "banana", "unit_price": 0.5, "in_stock": True, "qty": 30, "tags": ["fruit"]},
    {"name": "carrot", "unit_price": 0.8, "in_stock": False, "qty": 0, "tags": ["veg"]},
    {"name": "durian", "unit_price": 9.0, "in_stock": False, "tags": ["fruit"]},
    {"name": "eggplant", "unit_price": 2.25, "qty": 5},
]


@dataclass
class Shop:
    """A fresh collection `products_<suffix>` and its GraphQL names."""

    collection: str
    type: str  # ProductsXyz
    root: str  # productsXyz


@pytest.fixture
def shop(grpc_client) -> Shop:
    suffix = "".join(random.choices(string.ascii_lowercase, k=10))
    collection = f"products_{suffix}"
    grpc_client.create_collection(collection, FIELDS)
    return Shop(collection, f"Products{suffix.capitalize()}", f"products{suffix.capitalize()}")


@pytest.fixture
def seeded(shop: Shop, grpc_client) -> Shop:
    for record in SEED:
        grpc_client.create(shop.collection, record)
    return shop


def post(gql: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> dict:
    response = gql.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


def data(gql: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> dict:
    body = post(gql, query, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


def names(gql: httpx.Client, shop: Shop, args: str) -> list[str]:
    return [r["name"] for r in data(gql, f"{{ {shop.root}{args} {{ name }} }}")[shop.root]]


def error_code(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"]


# --- records ------------------------------------------------------------------


def test_create_maps_camel_case_to_field_names_and_back(gql, shop, grpc_client):
    created = data(
        gql,
        f"""mutation($input: {shop.type}CreateInput!) {{
          create{shop.type}(input: $input) {{
            id createdAt name unitPrice inStock qty cost tags values
          }}
        }}""",
        {
            "input": {
                "name": "apple",
                "unitPrice": 1.25,
                "inStock": True,
                "qty": 2**40,
                "cost": "12345678901234.56789",
                "tags": ["fruit"],
                "values": {"colour": "red", "sizes": [1, 2]},
            }
        },
    )[f"create{shop.type}"]
    assert created["id"] and created["createdAt"]
    assert created["unitPrice"] == 1.25 and created["inStock"] is True
    assert created["qty"] == 2**40  # beyond GraphQL's 32-bit Int
    assert created["cost"] == "12345678901234.56789"  # every digit of the decimal
    assert created["values"] == {"colour": "red", "sizes": [1, 2]}

    stored = grpc_client.get(shop.collection, created["id"])
    assert stored["unit_price"] == 1.25 and stored["in_stock"] is True

    found = data(gql, f'{{ {shop.root}ById(id: "{created["id"]}") {{ name unitPrice tags }} }}')
    assert found[f"{shop.root}ById"] == {"name": "apple", "unitPrice": 1.25, "tags": ["fruit"]}


def test_by_id_of_an_unknown_record_is_null(gql, shop):
    body = post(gql, f'{{ {shop.root}ById(id: "no-such-id") {{ id }} }}')
    assert body == {"data": {f"{shop.root}ById": None}}


def test_update_replace_and_delete(gql, shop, grpc_client):
    record = grpc_client.create(shop.collection, {"name": "pear", "unit_price": 2.0, "qty": 3})
    t, rid = shop.type, record["id"]

    updated = data(
        gql, f'mutation {{ update{t}(id: "{rid}", input: {{qty: 4}}) {{ name unitPrice qty }} }}'
    )[f"update{t}"]
    assert updated == {"name": "pear", "unitPrice": 2.0, "qty": 4}  # the rest is kept

    replaced = data(
        gql, f'mutation {{ replace{t}(id: "{rid}", input: {{name: "quince"}}) {{ name qty }} }}'
    )[f"replace{t}"]
    assert replaced == {"name": "quince", "qty": None}  # omitted fields become null

    deleted = data(gql, f'mutation {{ delete{t}(id: "{rid}") {{ id deleted }} }}')
    assert deleted[f"delete{t}"] == {"id": rid, "deleted": True}
    assert data(gql, f'{{ {shop.root}ById(id: "{rid}") {{ id }} }}')[f"{shop.root}ById"] is None


# --- queries --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ('{name: {equals: "banana"}}', ["banana"]),
        ("{unitPrice: {gt: 0.6, lte: 2.25}}", ["apple", "carrot", "eggplant"]),
        ('{name: {in: ["apple", "durian"]}}', ["apple", "durian"]),
        ('{name: {not: "apple"}, inStock: {equals: true}}', ["banana"]),
        ('{name: {startsWith: "ca"}}', ["carrot"]),
        ('{name: {contains: "an"}}', ["banana", "durian", "eggplant"]),
        ("{qty: {isNull: true}}", ["durian"]),
        ('{tags: {contains: "veg"}}', ["carrot"]),
        ('{OR: [{name: {endsWith: "ple"}}, {qty: {gte: 30}}]}', ["apple", "banana"]),
        ("{AND: [{inStock: {equals: false}}, {unitPrice: {lt: 5}}]}", ["carrot"]),
        ('{NOT: {tags: {contains: "fruit"}}}', ["carrot", "eggplant"]),
        ("{OR: []}", []),
    ],
)
def test_where(gql, seeded, where, expected):
    assert names(gql, seeded, f"(where: {where}, orderBy: name)") == expected


def test_where_through_variables(gql, seeded):
    query = f"query($w: {seeded.type}Where) {{ {seeded.root}(where: $w) {{ name }} }}"
    where = {"name": {"in": ["banana", "carrot"]}, "inStock": {"equals": True}}
    assert data(gql, query, {"w": where})[seeded.root] == [{"name": "banana"}]


def test_order_limit_and_offset(gql, seeded):
    assert names(gql, seeded, "(orderBy: unitPrice)") == [
        "banana",
        "carrot",
        "apple",
        "eggplant",
        "durian",
    ]
    assert names(
        gql, seeded, "(orderBy: unitPrice, orderDirection: DESC, limit: 2, offset: 1)"
    ) == ["eggplant", "apple"]
    assert names(gql, seeded, "(orderBy: [inStock, name], limit: 3)") == [
        "carrot",
        "durian",
        "apple",
    ]
    assert names(gql, seeded, "(limit: 0)") == []


def test_count(gql, seeded):
    answer = data(
        gql,
        f"""{{ all: {seeded.root}Count
              fruit: {seeded.root}Count(where: {{tags: {{contains: "fruit"}}}}) }}""",
    )
    assert answer == {"all": 5, "fruit": 3}


def test_fields_selected_through_fragments_are_read(gql, seeded):
    query = f"""
      {{ {seeded.root}(where: {{name: {{equals: "apple"}}}}) {{
           ...Price
           ... on {seeded.type} {{ tags }}
      }} }}
      fragment Price on {seeded.type} {{ name unitPrice }}
    """
    assert data(gql, query)[seeded.root] == [
        {"name": "apple", "unitPrice": 1.5, "tags": ["fruit", "red"]}
    ]


# --- schema ---------------------------------------------------------------------


def test_schema_changes_show_in_the_next_request(gql, shop, grpc_client):
    query = f"{{ {shop.root} {{ colour }} }}"
    assert error_code(post(gql, query)) == "BAD_REQUEST"  # no such field yet

    field = schema_pb.Field(name="colour", type="string")
    grpc_client.call(
        grpc_client.schema.AddField,
        schema_pb.AddFieldRequest(collection=shop.collection, field=field),
    )
    grpc_client.create(shop.collection, {"name": "plum", "colour": "purple"})
    assert data(gql, query)[shop.root] == [{"colour": "purple"}]

    other = f"{shop.collection}_more"
    grpc_client.create_collection(other, [{"name": "label", "type": "string"}])
    assert data(gql, f"{{ {shop.root}MoreCount }}") == {f"{shop.root}MoreCount": 0}


def test_a_collection_whose_names_clash_is_left_out_and_the_rest_works(gql, shop, grpc_client):
    # `<shop>_where` would be named like the shop's own where input type.
    grpc_client.create_collection(f"{shop.collection}_where", [])
    sdl = gql.get("/graphql/schema.graphql").text
    assert f"# collection '{shop.collection}_where' is left out" in sdl
    assert data(gql, f"{{ {shop.root}Count }}") == {f"{shop.root}Count": 0}


def test_introspection(gql, shop):
    schema = data(
        gql,
        "{ __schema { queryType { fields { name } } mutationType { fields { name } } } "
        + f'__type(name: "{shop.type}") '
        + "{ fields { name type { kind name ofType { name } } } } }",
    )
    queries = {f["name"] for f in schema["__schema"]["queryType"]["fields"]}
    assert {shop.root, f"{shop.root}ById", f"{shop.root}Count"} <= queries
    mutations = {f["name"] for f in schema["__schema"]["mutationType"]["fields"]}
    assert {f"{verb}{shop.type}" for verb in ("create", "update", "replace", "delete")} <= mutations
    types = {f["name"]: f["type"] for f in schema["__type"]["fields"]}
    assert types["id"] == {"kind": "NON_NULL", "name": None, "ofType": {"name": "ID"}}
    assert types["qty"]["name"] == "BigInt" and types["values"]["name"] == "JSON"
    assert "unitPrice" in types and "unit_price" not in types


def test_schema_sdl_of_the_callers_space(gql, shop, stack):
    response = gql.get("/graphql/schema.graphql")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert f"type {shop.type} {{" in response.text
    assert f"input {shop.type}Where {{" in response.text
    anonymous = httpx.get(f"{stack.graphql_url}/graphql/schema.graphql")
    assert anonymous.status_code == 401


# --- HTTP -----------------------------------------------------------------------


def test_graphiql_for_browsers(stack):
    response = httpx.get(f"{stack.graphql_url}/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


def test_get_executes_queries_but_not_mutations(gql, seeded):
    response = gql.get("/graphql", params={"query": f"{{ {seeded.root}Count }}"})
    assert response.status_code == 200
    assert response.json() == {"data": {f"{seeded.root}Count": 5}}

    mutation = f'mutation {{ create{seeded.type}(input: {{name: "x"}}) {{ id }} }}'
    body = gql.get("/graphql", params={"query": mutation}).json()
    assert error_code(body) == "BAD_REQUEST"
    assert data(gql, f"{{ {seeded.root}Count }}") == {f"{seeded.root}Count": 5}


def test_health_and_readiness(stack):
    for path in ("/healthz", "/readyz"):
        response = httpx.get(f"{stack.graphql_url}{path}")
        assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_request_id_is_echoed(gql, stack):
    answer = gql.post(
        "/graphql", json={"query": "{ _schemaVersion }"}, headers={"X-Request-Id": "r-42"}
    )
    assert answer.headers["X-Request-Id"] == "r-42"
    refused = httpx.post(
        f"{stack.graphql_url}/graphql",
        json={"query": "{ _schemaVersion }"},
        headers={"X-Request-Id": "r-43"},
    )
    assert refused.status_code == 401 and refused.headers["X-Request-Id"] == "r-43"
    assert gql.post("/graphql", json={"query": "{ _schemaVersion }"}).headers["X-Request-Id"]


# --- errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer plk_wrong"}, {"X-API-Key": "nope"}]
)
def test_bad_credentials_are_401(stack, headers):
    response = httpx.post(
        f"{stack.graphql_url}/graphql", json={"query": "{ _schemaVersion }"}, headers=headers
    )
    assert response.status_code == 401
    assert error_code(response.json()) == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'{"variables": {}}', b'{"query": "{ x }", "variables": [1]}'],
)
def test_malformed_requests_are_400(gql, body):
    response = gql.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert error_code(response.json()) == "BAD_REQUEST"


def test_validation_error_names_the_graphql_field(gql, shop):
    body = post(
        gql, f'mutation {{ create{shop.type}(input: {{name: "x", unitPrice: -1}}) {{ id }} }}'
    )
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "VALIDATION_ERROR"
    assert error["extensions"]["details"][0]["field"] == "unitPrice"
    assert error["path"] == [f"create{shop.type}"]


def test_update_of_an_unknown_id_is_not_found(gql, shop):
    body = post(gql, f'mutation {{ update{shop.type}(id: "nope", input: {{qty: 1}}) {{ id }} }}')
    assert error_code(body) == "NOT_FOUND"


def test_query_errors_are_bad_request(gql, shop):
    assert error_code(post(gql, "{ nothingHere }")) == "BAD_REQUEST"
    assert error_code(post(gql, "{ unclosed ")) == "BAD_REQUEST"
    bad_value = f'{{ {shop.root}(where: {{createdAt: {{gt: "not a date"}}}}) {{ id }} }}'
    assert error_code(post(gql, bad_value)) == "BAD_REQUEST"
    wrong_variable = f"query($n: BigInt) {{ {shop.root}(where: {{qty: {{equals: $n}}}}) {{ id }} }}"
    assert error_code(post(gql, wrong_variable, {"n": "many"})) == "BAD_REQUEST"


# --- batch mutations ---


RESULT = "successful { id name qty } failed { index error { code message field } }"
RESULT += " successCount failureCount totalCount"


def test_batch_create_update_delete(gql, shop: Shop, grpc_client) -> None:
    t = shop.type
    created = data(
        gql,
        f"mutation($in: [{t}CreateInput!]!) {{ batchCreate{t}(input: $in) {{ {RESULT} }} }}",
        {"in": [{"name": "a", "qty": 1}, {"name": "b", "unitPrice": 2.5}]},
    )[f"batchCreate{t}"]
    assert (created["successCount"], created["failureCount"], created["totalCount"]) == (2, 0, 2)
    ids = [r["id"] for r in created["successful"]]
    updated = data(
        gql,
        f"mutation($in: [{t}BatchUpdateInput!]!) {{ batchUpdate{t}(input: $in) {{ {RESULT} }} }}",
        {"in": [{"id": ids[0], "data": {"qty": 5}}, {"id": ids[1], "data": {"name": "B"}}]},
    )[f"batchUpdate{t}"]
    assert [(r["name"], r["qty"]) for r in updated["successful"]] == [("a", 5), ("B", None)]
    deleted = data(
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
    answer = data(
        gql,
        f"mutation($in: [{t}CreateInput!]!) {{ batchCreate{t}(input: $in) {{ {RESULT} }} }}",
        {"in": [{"name": "ok"}, {"name": "bad", "unitPrice": -1}]},
    )[f"batchCreate{t}"]
    assert answer["successful"] == [] and answer["failureCount"] == 1
    assert answer["failed"][0]["index"] == 1
    assert answer["failed"][0]["error"]["code"] == "VALIDATION_ERROR"
    assert answer["failed"][0]["error"]["field"] == "unitPrice"
    missing = data(
        gql,
        f'mutation {{ batchDelete{t}(ids: ["nope"]) {{ failed {{ index error {{ code }} }} }} }}',
    )[f"batchDelete{t}"]
    assert missing["failed"] == [{"index": 0, "error": {"code": "NOT_FOUND"}}]
    assert grpc_client.count(shop.collection) == 0
