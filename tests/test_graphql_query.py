"""GraphQL queries: where on every field type, orderBy, Relay connections and aggregates.

The first part runs the gateway's engine over a recording stand-in for core, to
pin what each query asks core for; the rest runs end to end on the real stack
and compares the answers with Python computations over the seeded records.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from statistics import mean
from typing import Any

import httpx
import pytest
from plinth import Client
from plinth.v1 import query_pb2 as q
from plinth.v1 import record_service_pb2 as pb
from plinth.v1 import schema_service_pb2 as schema_pb

from gateways.graphql.engines import Built, build
from gateways.graphql.model import build_model

FIELDS = [
    {"name": "name", "type": "string", "required": True},
    {"name": "note", "type": "text"},
    {"name": "kind", "type": "enum", "values": ["fruit", "veg", "nut"]},
    {"name": "unit_price", "type": "float"},
    {"name": "qty", "type": "integer"},
    {"name": "cost", "type": "decimal"},
    {"name": "in_stock", "type": "boolean"},
    {"name": "born", "type": "date"},
    {"name": "seen_at", "type": "datetime"},
    {"name": "ref", "type": "uuid"},
    {"name": "tags", "type": "string[]"},
    {"name": "sizes", "type": "integer[]"},
    {"name": "weights", "type": "float[]"},
    {"name": "meta", "type": "json"},
]
KINDS = ["fruit", "veg", "nut"]
TAGS = [("red", 2), ("big", 3), ("old", 5)]


def _seed() -> list[dict[str, Any]]:
    """23 records with every type, nulls here and there, ties in kind and price."""
    rows = []
    for i in range(23):
        rows.append(
            {
                "name": f"item{i:02d}",
                "note": None if i % 4 == 0 else f"note {i} {'sale' if i % 3 == 0 else 'plain'}",
                "kind": None if i == 7 else KINDS[i % 3],
                "unit_price": None if i % 5 == 0 else [1.5, 0.25, 2.0, 9.75][i % 4],
                "qty": None if i % 6 == 0 else (2**40 if i == 11 else i * 3 % 17),
                "cost": None if i % 7 == 3 else f"{i * 7 % 10}.{i:02d}",
                "in_stock": None if i % 8 == 1 else i % 2 == 0,
                "born": None if i % 9 == 2 else f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
                "seen_at": None if i == 5 else f"2024-05-01T{i:02d}:30:00+00:00",
                "ref": None if i % 2 else f"00000000-0000-4000-8000-{i:012d}",
                "tags": None if i % 10 == 9 else [t for t, n in TAGS if i % n == 0],
                "sizes": [i % 4, i % 5] if i % 3 else None,
                "weights": [1.5] if i % 4 == 1 else [0.5, 2.5],
                "meta": None if i % 6 == 5 else {"colour": ["red", "blue"][i % 2], "n": i},
            }
        )
    return rows


SEED = _seed()
COLUMNS = {f["name"]: f for f in FIELDS}


def camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(p.capitalize() for p in rest)


# --- what core is asked (a recording stand-in for core) ---------------------------


class RecordingCore:
    """The resolvers' `ctx`: records each call and answers from `answers` by rpc name."""

    def __init__(self, **answers: Any) -> None:
        self.answers = answers
        self.calls: list[tuple[str, Any]] = []

    async def call_records(self, rpc: str, message: Any) -> Any:
        self.calls.append((rpc, message))
        return self.answers[rpc]


@functools.cache
def engine() -> Built:
    fields = [
        schema_pb.Field(name=f["name"], type=f["type"], values=f.get("values", ())) for f in FIELDS
    ]
    return build([schema_pb.Collection(name="goods", fields=fields)], 1)


def run(query: str, core: RecordingCore, variables: dict[str, Any] | None = None) -> dict:
    return asyncio.run(engine().engine.execute(query, context=core, variables=variables))


def list_answer(records: list[dict], cursors: bool = True, **more: Any) -> pb.ListRecordsResponse:
    return pb.ListRecordsResponse(
        records=json.dumps(records).encode(),
        record_cursors=[f"c-{r['id']}" for r in records] if cursors else [],
        **more,
    )


def test_aggregate_selection_compiles_to_just_those_aggregates():
    groups = (
        b'[{"kind": "veg", "in_stock": true, "count": {"*": 3, "qty": 2},'
        b' "sum": {"qty": 12, "cost": 12345678901234.56789, "unit_price": 4.5},'
        b' "avg": {"unit_price": 1.5}, "max": {"unit_price": 2.0, "seen_at": "2024-05-01"}}]'
    )
    core = RecordingCore(AggregateRecords=pb.AggregateRecordsResponse(groups=groups))
    result = run(
        """query($skip: Boolean!) {
          goodsAggregate(groupBy: [kind, inStock], where: {qty: {gt: 1}}) {
            __typename group { kind inStock }
            count
            countNonNull { qty name @skip(if: $skip) }
            sum { qty cost }
            s2: sum { unitPrice }
            ...Averages
            ... on GoodsAggregate { max { unitPrice seenAt } }
          }
        }
        fragment Averages on GoodsAggregate { avg { unitPrice __typename } }""",
        core,
        {"skip": True},
    )
    assert "errors" not in result, result
    ((rpc, request),) = core.calls
    assert rpc == "AggregateRecords"
    assert list(request.group_by) == ["kind", "in_stock"]
    assert request.filter.condition.field == "qty"
    assert sorted((a.function, a.field) for a in request.aggregates) == sorted(
        [
            (q.AGGREGATE_FUNCTION_COUNT, "*"),
            (q.AGGREGATE_FUNCTION_COUNT, "qty"),
            (q.AGGREGATE_FUNCTION_SUM, "qty"),
            (q.AGGREGATE_FUNCTION_SUM, "cost"),
            (q.AGGREGATE_FUNCTION_SUM, "unit_price"),
            (q.AGGREGATE_FUNCTION_AVG, "unit_price"),
            (q.AGGREGATE_FUNCTION_MAX, "unit_price"),
            (q.AGGREGATE_FUNCTION_MAX, "seen_at"),
        ]
    )
    assert result["data"]["goodsAggregate"] == [
        {
            "__typename": "GoodsAggregate",
            "group": {"kind": "veg", "inStock": True},
            "count": 3,
            "countNonNull": {"qty": 2},
            "sum": {"qty": 12, "cost": "12345678901234.56789"},  # every digit
            "s2": {"unitPrice": 4.5},
            "avg": {"unitPrice": 1.5, "__typename": "GoodsAggregateAvg"},
            "max": {"unitPrice": 2.0, "seenAt": "2024-05-01"},
        }
    ]


def test_aggregate_of_groups_alone_asks_for_a_row_count():
    core = RecordingCore(AggregateRecords=pb.AggregateRecordsResponse(groups=b"[]"))
    assert run("{ goodsAggregate(groupBy: kind) { group { kind } } }", core) == {
        "data": {"goodsAggregate": []}
    }
    ((_, request),) = core.calls
    assert [(a.function, a.field) for a in request.aggregates] == [
        (q.AGGREGATE_FUNCTION_COUNT, "*")
    ]


def test_aggregate_types_follow_the_field_types():
    sdl = engine().sdl
    assert "type GoodsAggregateSum {\n  unitPrice: Float\n  qty: BigInt\n  cost: String\n}" in sdl
    assert "type GoodsAggregateAvg {\n  unitPrice: Float\n  qty: Float\n  cost: Float\n}" in sdl
    min_max = sdl[sdl.index("type GoodsAggregateMinMax") :].split("}")[0]
    assert "seenAt: String" in min_max and "born: String" in min_max
    assert "inStock" not in min_max and "meta" not in min_max and "tags" not in min_max
    # No numeric field, no sum or avg.
    plain = build([schema_pb.Collection(name="notes", fields=[])], 1).sdl
    assert "NotesAggregateSum" not in plain and "  sum:" not in plain
    assert "type NotesAggregateMinMax {\n  createdAt: String\n  updatedAt: String\n}" in plain


def test_names_of_connection_and_aggregate_types_count_in_clashes():
    collections = [
        schema_pb.Collection(name=name, fields=[schema_pb.Field(name="n", type="integer")])
        for name in ("goods", "goods_connection", "goods_aggregate_sum", "goods_edge", "page_info")
    ]
    model = build_model(collections)
    assert [c.name for c in model.collections] == ["goods"]
    assert len(model.notes) == 4
    assert any("'page_info'" in note and "'PageInfo'" in note for note in model.notes)


CONNECTION = """query($first: Int, $after: String, $last: Int, $before: String) {
  goodsConnection(first: $first, after: $after, last: $last, before: $before,
                  orderBy: [kind, qty], orderDirection: DESC) { %s }
}"""
ROWS = [{"id": "a", "name": "x"}, {"id": "b", "name": "y"}]


def test_connection_forward_asks_cursors_and_total_only_when_selected():
    core = RecordingCore(ListRecords=list_answer(ROWS, has_more=True, total=9))
    answer = run(CONNECTION % "edges { node { name } }", core, {"first": 2, "after": "tok"})
    assert answer["data"]["goodsConnection"]["edges"] == [
        {"node": {"name": "x"}},
        {"node": {"name": "y"}},
    ]
    ((rpc, request),) = core.calls
    assert rpc == "ListRecords"
    assert (request.page_size, request.page_token, request.backward) == (2, "tok", False)
    assert not request.record_cursors and not request.include_total
    assert list(request.fields) == ["id", "name"]
    assert [(s.field, s.descending) for s in request.sort] == [("kind", True), ("qty", True)]

    core = RecordingCore(ListRecords=list_answer(ROWS, has_more=True, total=9))
    answer = run(
        CONNECTION % "totalCount edges { cursor } pageInfo { hasNextPage hasPreviousPage"
        " startCursor endCursor }",
        core,
        {"first": 2},
    )
    ((_, request),) = core.calls
    assert request.record_cursors and request.include_total
    assert list(request.fields) == ["id"]
    assert answer["data"]["goodsConnection"] == {
        "totalCount": 9,
        "edges": [{"cursor": "c-a"}, {"cursor": "c-b"}],
        "pageInfo": {
            "hasNextPage": True,
            "hasPreviousPage": False,
            "startCursor": "c-a",
            "endCursor": "c-b",
        },
    }


def test_connection_backward_before_a_cursor():
    core = RecordingCore(ListRecords=list_answer(ROWS, has_more=False))
    answer = run(
        CONNECTION % "nodes { name } pageInfo { hasNextPage hasPreviousPage startCursor }",
        core,
        {"last": 2, "before": "tok"},
    )
    ((_, request),) = core.calls
    assert (request.page_size, request.page_token, request.backward) == (2, "tok", True)
    assert answer["data"]["goodsConnection"] == {
        "nodes": [{"name": "x"}, {"name": "y"}],
        "pageInfo": {"hasNextPage": True, "hasPreviousPage": False, "startCursor": "c-a"},
    }


def test_connection_last_alone_is_a_backward_page_without_a_token():
    core = RecordingCore(ListRecords=list_answer(ROWS, has_more=True, total=7))
    answer = run(
        CONNECTION % "totalCount edges { cursor } pageInfo { hasNextPage hasPreviousPage }",
        core,
        {"last": 2},
    )
    ((_, request),) = core.calls
    assert (request.page_size, request.page_token, request.backward) == (2, "", True)
    assert request.include_total and request.record_cursors
    assert answer["data"]["goodsConnection"] == {
        "totalCount": 7,
        "edges": [{"cursor": "c-a"}, {"cursor": "c-b"}],
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": True},
    }


def test_connection_total_alone_is_a_count():
    core = RecordingCore(CountRecords=pb.CountRecordsResponse(count=4))
    answer = run('{ goodsConnection(first: 5, where: {name: {equals: "x"}}) { totalCount } }', core)
    assert answer == {"data": {"goodsConnection": {"totalCount": 4}}}
    assert [rpc for rpc, _ in core.calls] == ["CountRecords"]


def test_connection_of_zero_records_looks_one_ahead():
    core = RecordingCore(ListRecords=list_answer(ROWS[:1], has_more=True))
    answer = run(CONNECTION % "edges { cursor } pageInfo { hasNextPage }", core, {"first": 0})
    assert answer["data"]["goodsConnection"] == {"edges": [], "pageInfo": {"hasNextPage": True}}
    assert core.calls[0][1].page_size == 1


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 2, "last": 2},
        {"first": 101},
        {"last": 101},
        {"first": -1},
        {"after": "a", "before": "b"},
        {"first": 2, "before": "b"},
        {"last": 2, "after": "a"},
    ],
)
def test_connection_arguments_that_do_not_fit_are_bad_requests(variables):
    core = RecordingCore()
    answer = run(CONNECTION % "edges { cursor }", core, variables)
    assert answer["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert core.calls == []


# --- end to end -------------------------------------------------------------------


@dataclass
class Goods:
    collection: str
    type: str
    root: str
    rows: list[dict[str, Any]]  # SEED with ids, in Plinth names


@pytest.fixture(scope="module")
def goods(stack) -> Goods:
    suffix = "".join(random.choices(string.ascii_lowercase, k=10))
    collection = f"goods_{suffix}"
    with Client(stack.core_addr, api_key=stack.admin_key) as client:
        client.create_collection(collection, FIELDS)
        rows = [{**record, "id": client.create(collection, record)["id"]} for record in SEED]
    return Goods(collection, f"Goods{suffix.capitalize()}", f"goods{suffix.capitalize()}", rows)


def post(gql: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> dict:
    response = gql.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


def data(gql: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> Any:
    body = post(gql, query, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


def error_code(body: dict) -> str:
    assert body.get("errors"), body
    return body["errors"][0]["extensions"]["code"]


# --- where on every field type ------------------------------------------------------


def _has(field: str, test: Callable[[Any], bool]) -> Callable[[dict], bool]:
    return lambda r: r[field] is not None and test(r[field])


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


WHERE_CASES: list[tuple[str, Callable[[dict], bool]]] = [
    # string
    ('{name: {equals: "item03"}}', lambda r: r["name"] == "item03"),
    ('{name: {not: "item03"}}', lambda r: r["name"] != "item03"),
    ('{name: {gt: "item20"}}', lambda r: r["name"] > "item20"),
    ('{name: {in: ["item01", "item02"]}}', lambda r: r["name"] in ("item01", "item02")),
    ('{name: {notIn: ["item01", "item02"]}}', lambda r: r["name"] not in ("item01", "item02")),
    ('{name: {startsWith: "item1"}}', lambda r: r["name"].startswith("item1")),
    ('{name: {endsWith: "2"}}', lambda r: r["name"].endswith("2")),
    ('{name: {contains: "m_"}}', lambda r: "m_" in r["name"]),  # `_` is literal: none
    # text
    ('{note: {contains: "sale"}}', _has("note", lambda v: "sale" in v)),
    ("{note: {isNull: true}}", lambda r: r["note"] is None),
    ("{note: {isNull: false}}", lambda r: r["note"] is not None),
    # enum
    ('{kind: {equals: "veg"}}', lambda r: r["kind"] == "veg"),
    ('{kind: {notIn: ["veg", "nut"]}}', lambda r: r["kind"] not in ("veg", "nut")),
    ("{kind: {equals: null}}", lambda r: r["kind"] is None),
    ('{kind: {in: ["veg"]}}', lambda r: r["kind"] == "veg"),
    # float
    ("{unitPrice: {gte: 1.5, lt: 9}}", _has("unit_price", lambda v: 1.5 <= v < 9)),
    ("{unitPrice: {in: [0.25, 9.75]}}", _has("unit_price", lambda v: v in (0.25, 9.75))),
    ("{unitPrice: {not: 1.5}}", lambda r: r["unit_price"] != 1.5),  # nulls too
    # integer
    ("{qty: {gt: 10}}", _has("qty", lambda v: v > 10)),
    ("{qty: {lte: 3}}", _has("qty", lambda v: v <= 3)),
    ("{qty: {equals: 1099511627776}}", lambda r: r["qty"] == 2**40),
    ('{qty: {equals: "1099511627776"}}', lambda r: r["qty"] == 2**40),
    ("{qty: {notIn: [3, 6]}}", lambda r: r["qty"] not in (3, 6)),
    ("{qty: {in: [3, 1099511627776]}}", lambda r: r["qty"] in (3, 2**40)),
    # decimal, as strings
    ('{cost: {gt: "5.5"}}', _has("cost", lambda v: Decimal(v) > Decimal("5.5"))),
    ('{cost: {equals: "7.01"}}', lambda r: r["cost"] == "7.01"),
    ('{cost: {in: ["7.01", "4.02"]}}', lambda r: r["cost"] in ("7.01", "4.02")),
    # boolean
    ("{inStock: {equals: true}}", lambda r: r["in_stock"] is True),
    ("{inStock: {not: true}}", lambda r: r["in_stock"] is not True),
    ("{inStock: {isNull: true}}", lambda r: r["in_stock"] is None),
    # date and datetime, as strings
    ('{born: {gte: "2024-06-01"}}', _has("born", lambda v: v >= "2024-06-01")),
    ('{born: {equals: "2024-04-04"}}', lambda r: r["born"] == "2024-04-04"),
    (
        '{born: {lt: "2024-03-01", gt: "2024-01-05"}}',
        _has("born", lambda v: "2024-01-05" < v < "2024-03-01"),
    ),
    (
        '{seenAt: {gt: "2024-05-01T14:00:00+02:00"}}',  # 12:00 UTC
        _has("seen_at", lambda v: _when(v) > _when("2024-05-01T12:00:00+00:00")),
    ),
    (
        '{seenAt: {lte: "2024-05-01T03:30:00Z"}}',
        _has("seen_at", lambda v: _when(v) <= _when("2024-05-01T03:30:00+00:00")),
    ),
    # uuid
    (
        '{ref: {equals: "00000000-0000-4000-8000-000000000004"}}',
        lambda r: r["ref"] == "00000000-0000-4000-8000-000000000004",
    ),
    ("{ref: {isNull: false}}", lambda r: r["ref"] is not None),
    # lists
    ('{tags: {contains: "red"}}', _has("tags", lambda v: "red" in v)),
    ('{tags: {equals: ["red", "big"]}}', lambda r: r["tags"] == ["red", "big"]),
    ("{tags: {equals: []}}", lambda r: r["tags"] == []),
    ("{tags: {isNull: true}}", lambda r: r["tags"] is None),
    ('{tags: {not: ["red", "big"]}}', lambda r: r["tags"] != ["red", "big"]),  # nulls too
    ("{sizes: {contains: 3}}", _has("sizes", lambda v: 3 in v)),
    ("{weights: {contains: 1.5}}", lambda r: 1.5 in r["weights"]),
    ("{weights: {equals: [0.5, 2.5]}}", lambda r: r["weights"] == [0.5, 2.5]),
    # json
    ('{meta: {contains: {colour: "red"}}}', _has("meta", lambda v: v["colour"] == "red")),
    ('{meta: {equals: {colour: "blue", n: 3}}}', lambda r: r["meta"] == {"colour": "blue", "n": 3}),
    ("{meta: {isNull: true}}", lambda r: r["meta"] is None),
    ('{meta: {not: {colour: "blue", n: 3}}}', lambda r: r["meta"] != {"colour": "blue", "n": 3}),
    # combinations
    (
        '{OR: [{kind: {equals: "nut"}}, {qty: {gt: 12}}], NOT: {unitPrice: {isNull: true}}}',
        lambda r: (
            (r["kind"] == "nut" or (r["qty"] is not None and r["qty"] > 12))
            and r["unit_price"] is not None
        ),
    ),
    (
        '{AND: [{inStock: {equals: false}}, {NOT: {tags: {contains: "old"}}}]}',
        lambda r: r["in_stock"] is False and not (r["tags"] and "old" in r["tags"]),
    ),
]


@pytest.mark.parametrize(("where", "matches"), WHERE_CASES, ids=[w for w, _ in WHERE_CASES])
def test_where_on_every_field_type(gql, goods, where, matches):
    found = data(gql, f"{{ {goods.root}(where: {where}, limit: 100) {{ name }} }}")[goods.root]
    expected = sorted(r["name"] for r in goods.rows if matches(r))
    assert sorted(r["name"] for r in found) == expected
    count = data(gql, f"{{ {goods.root}Count(where: {where}) }}")[f"{goods.root}Count"]
    assert count == len(expected)


def test_where_on_system_fields(gql, goods):
    ids = [r["id"] for r in goods.rows[3:6]]
    query = f"query($ids: [ID!]) {{ {goods.root}(where: {{id: {{in: $ids}}}}) {{ id createdAt }} }}"
    found = data(gql, query, {"ids": ids})[goods.root]
    assert sorted(r["id"] for r in found) == sorted(ids)
    newest = max(r["createdAt"] for r in found)
    query = f'{{ {goods.root}Count(where: {{createdAt: {{gt: "{newest}"}}, id: {{notIn: []}}}}) }}'
    assert data(gql, query)[f"{goods.root}Count"] == 23 - 6  # created after rows 0-5


def test_where_values_of_the_wrong_type_are_bad_requests(gql, goods):
    for where in ('{qty: {gt: "many"}}', '{born: {lt: "soon"}}', '{unitPrice: {equals: "x"}}'):
        body = post(gql, f"{{ {goods.root}(where: {where}) {{ id }} }}")
        assert error_code(body) == "BAD_REQUEST", where


# --- orderBy, limit, offset ---------------------------------------------------------


def ordered(rows: list[dict], fields: list[str], descending: bool = False) -> list[tuple]:
    """The sort keys of `rows` in core's order: nulls last in both directions."""

    def compare(a: dict, b: dict) -> int:
        for f in fields:
            x, y = a[f], b[f]
            if x == y:
                continue
            if x is None or y is None:
                return 1 if x is None else -1
            return (1 if x > y else -1) * (-1 if descending else 1)
        return 0

    return [tuple(r[f] for f in fields) for r in sorted(rows, key=functools.cmp_to_key(compare))]


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
@pytest.mark.parametrize("fields", [["kind", "unit_price"], ["in_stock", "qty", "name"], ["born"]])
def test_order_by_several_fields(gql, goods, fields, direction):
    order = ", ".join(camel(f) for f in fields)
    query = (
        f"{{ {goods.root}(orderBy: [{order}], orderDirection: {direction}, limit: 100)"
        f" {{ {' '.join(camel(f) for f in fields)} }} }}"
    )
    got = [tuple(r[camel(f)] for f in fields) for r in data(gql, query)[goods.root]]
    assert got == ordered(goods.rows, fields, direction == "DESC")

    query = query.replace("limit: 100", "limit: 5, offset: 7")
    got = [tuple(r[camel(f)] for f in fields) for r in data(gql, query)[goods.root]]
    assert got == ordered(goods.rows, fields, direction == "DESC")[7:12]


def test_limits(gql, goods):
    assert len(data(gql, f"{{ {goods.root} {{ id }} }}")[goods.root]) == 23  # default 25
    assert data(gql, f"{{ {goods.root}(limit: 0) {{ id }} }}")[goods.root] == []
    assert data(gql, f"{{ {goods.root}(offset: 30) {{ id }} }}")[goods.root] == []
    for args in ("limit: 1001", "limit: -1", "offset: -1"):
        assert error_code(post(gql, f"{{ {goods.root}({args}) {{ id }} }}")) == "BAD_REQUEST"
    body = post(gql, f"{{ {goods.root}(orderBy: meta) {{ id }} }}")  # json can't be sorted
    assert error_code(body) == "BAD_REQUEST"


# --- connections --------------------------------------------------------------------

PAGE = """query($first: Int, $after: String, $last: Int, $before: String, $where: %sWhere) {
  %sConnection(first: $first, after: $after, last: $last, before: $before, where: $where,
               orderBy: [kind, unitPrice], orderDirection: %s) {
    totalCount
    edges { cursor node { id name kind unitPrice } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


def page(gql, goods: Goods, direction: str = "ASC", **variables: Any) -> dict:
    query = PAGE % (goods.type, goods.root, direction)
    return data(gql, query, variables)[f"{goods.root}Connection"]


def everything(gql, goods: Goods, direction: str) -> list[str]:
    """The ids in connection order, from the plain list query."""
    query = (
        f"{{ {goods.root}(orderBy: [kind, unitPrice], orderDirection: {direction}, limit: 100)"
        " { id } }"
    )
    return [r["id"] for r in data(gql, query)[goods.root]]


def check_cursors(result: dict) -> None:
    edges, info = result["edges"], result["pageInfo"]
    assert all(e["cursor"] for e in edges)
    assert info["startCursor"] == (edges[0]["cursor"] if edges else None)
    assert info["endCursor"] == (edges[-1]["cursor"] if edges else None)


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_connection_forward_returns_every_record_once(gql, goods, direction):
    expected = everything(gql, goods, direction)
    assert sorted(expected) == sorted(r["id"] for r in goods.rows)
    seen, after, pages = [], None, []
    while True:
        result = page(gql, goods, direction, first=5, after=after)
        check_cursors(result)
        assert result["totalCount"] == 23  # every page counts all, not what follows
        pages.append(result["pageInfo"])
        seen += [e["node"]["id"] for e in result["edges"]]
        if not result["pageInfo"]["hasNextPage"]:
            break
        after = result["pageInfo"]["endCursor"]
        assert len(pages) < 10, "paging does not end"
    assert seen == expected  # each record once, in order
    assert len(pages) == 5  # 5 + 5 + 5 + 5 + 3
    assert pages[0]["hasPreviousPage"] is False and pages[0]["hasNextPage"] is True
    assert all(p["hasPreviousPage"] and p["hasNextPage"] for p in pages[1:-1])
    assert pages[-1]["hasPreviousPage"] is True and pages[-1]["hasNextPage"] is False


def test_connection_page_that_ends_exactly_at_the_end(gql, goods):
    expected = everything(gql, goods, "ASC")
    first = page(gql, goods, first=20)
    rest = page(gql, goods, first=3, after=first["pageInfo"]["endCursor"])
    assert [e["node"]["id"] for e in rest["edges"]] == expected[20:]
    assert rest["pageInfo"]["hasNextPage"] is False
    beyond = page(gql, goods, first=3, after=rest["pageInfo"]["endCursor"])
    assert beyond["edges"] == [] and beyond["pageInfo"]["hasNextPage"] is False
    assert beyond["pageInfo"]["startCursor"] is None


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_connection_backward_returns_every_record_once(gql, goods, direction):
    expected = everything(gql, goods, direction)
    last = page(gql, goods, direction, last=5)  # the end of the list
    check_cursors(last)
    assert [e["node"]["id"] for e in last["edges"]] == expected[-5:]
    assert last["pageInfo"]["hasNextPage"] is False
    assert last["pageInfo"]["hasPreviousPage"] is True
    assert last["totalCount"] == 23
    seen, result = [e["node"]["id"] for e in last["edges"]], last
    while result["pageInfo"]["hasPreviousPage"]:
        result = page(gql, goods, direction, last=5, before=result["pageInfo"]["startCursor"])
        check_cursors(result)
        assert result["pageInfo"]["hasNextPage"] is True
        seen = [e["node"]["id"] for e in result["edges"]] + seen
        assert len(seen) <= 23, "paging does not end"
    assert seen == expected  # in sort order, each once
    assert len(result["edges"]) == 3


def test_connection_turns_back(gql, goods):
    expected = everything(gql, goods, "ASC")
    second = page(gql, goods, first=6, after=page(gql, goods, first=6)["pageInfo"]["endCursor"])
    assert [e["node"]["id"] for e in second["edges"]] == expected[6:12]
    back = page(gql, goods, last=4, before=second["pageInfo"]["startCursor"])
    assert [e["node"]["id"] for e in back["edges"]] == expected[2:6]
    assert back["pageInfo"]["hasPreviousPage"] is True and back["pageInfo"]["hasNextPage"]
    # An edge's cursor works like endCursor.
    middle = second["edges"][2]["cursor"]
    assert [e["node"]["id"] for e in page(gql, goods, first=2, after=middle)["edges"]] == (
        expected[9:11]
    )


def test_connection_with_where_and_nodes(gql, goods):
    query = f"""{{ {goods.root}Connection(first: 4, where: {{kind: {{equals: "fruit"}}}},
                                            orderBy: name) {{
        totalCount nodes {{ name }} pageInfo {{ hasNextPage }} }} }}"""
    result = data(gql, query)[f"{goods.root}Connection"]
    fruit = sorted(r["name"] for r in goods.rows if r["kind"] == "fruit")
    assert result["totalCount"] == len(fruit)
    assert [n["name"] for n in result["nodes"]] == fruit[:4]
    assert result["pageInfo"]["hasNextPage"] is True


def test_connection_defaults_and_zero(gql, goods):
    result = data(gql, f"{{ {goods.root}Connection {{ nodes {{ id }} }} }}")
    assert len(result[f"{goods.root}Connection"]["nodes"]) == 23  # default page of 25
    result = page(gql, goods, first=0)
    assert result["edges"] == [] and result["pageInfo"]["hasNextPage"] is True
    assert result["totalCount"] == 23
    result = page(gql, goods, last=0)
    assert result["edges"] == [] and result["pageInfo"]["hasPreviousPage"] is True


def test_connection_total_count_alone(gql, goods):
    query = f"{{ {goods.root}Connection(where: {{qty: {{isNull: true}}}}) {{ totalCount }} }}"
    total = data(gql, query)[f"{goods.root}Connection"]["totalCount"]
    assert total == sum(r["qty"] is None for r in goods.rows)


@pytest.mark.parametrize(
    "args",
    ["first: 2, last: 2", "first: 101", "last: 101", "first: -1", 'first: 2, before: "x"'],
)
def test_connection_bad_arguments(gql, goods, args):
    body = post(gql, f"{{ {goods.root}Connection({args}) {{ edges {{ cursor }} }} }}")
    assert error_code(body) == "BAD_REQUEST"
    assert body["data"] is None


def test_a_cursor_of_another_query_is_a_bad_request(gql, goods):
    cursor = page(gql, goods, first=3)["pageInfo"]["endCursor"]
    other_sort = f'{{ {goods.root}Connection(first: 3, after: "{cursor}", orderBy: name)'
    assert error_code(post(gql, other_sort + " { edges { cursor } } }")) == "BAD_REQUEST"
    other_where = (
        f'{{ {goods.root}Connection(first: 3, after: "{cursor}", orderBy: [kind, unitPrice],'
        " where: {qty: {gt: 1}}) { edges { cursor } } }"
    )
    assert error_code(post(gql, other_where)) == "BAD_REQUEST"
    nonsense = f'{{ {goods.root}Connection(first: 3, after: "not-a-cursor") {{ totalCount }} }}'
    assert error_code(post(gql, nonsense)) == "BAD_REQUEST"


# --- aggregates ---------------------------------------------------------------------

AGGREGATES = """
  group { kind inStock }
  count
  countNonNull { qty unitPrice tags }
  countDistinct { qty kind }
  sum { qty unitPrice cost }
  sumDistinct { qty }
  avg { unitPrice qty cost }
  avgDistinct { qty }
  min { unitPrice name born seenAt cost }
  max { unitPrice name born seenAt qty }
"""


def expected_aggregate(rows: list[dict]) -> dict[str, Any]:
    """The aggregates of AGGREGATES computed in Python (without `group`)."""

    def values(field: str) -> list[Any]:
        return [r[field] for r in rows if r[field] is not None]

    qty, price = values("qty"), values("unit_price")
    costs = [Decimal(c) for c in values("cost")]
    return {
        "count": len(rows),
        "countNonNull": {"qty": len(qty), "unitPrice": len(price), "tags": len(values("tags"))},
        "countDistinct": {"qty": len(set(qty)), "kind": len(set(values("kind")))},
        "sum": {
            "qty": sum(qty) if qty else None,
            "unitPrice": sum(price) if price else None,
            "cost": sum(costs) if costs else None,
        },
        "sumDistinct": {"qty": sum(set(qty)) if qty else None},
        "avg": {
            "unitPrice": mean(price) if price else None,
            "qty": mean(qty) if qty else None,
            "cost": sum(costs) / len(costs) if costs else None,
        },
        "avgDistinct": {"qty": mean(set(qty)) if qty else None},
        "min": {
            "unitPrice": min(price, default=None),
            "name": min(values("name"), default=None),
            "born": min(values("born"), default=None),
            "seenAt": min(map(_when, values("seen_at")), default=None),
            "cost": min(costs, default=None),
        },
        "max": {
            "unitPrice": max(price, default=None),
            "name": max(values("name"), default=None),
            "born": max(values("born"), default=None),
            "seenAt": max(map(_when, values("seen_at")), default=None),
            "qty": max(qty, default=None),
        },
    }


def normalised(group: dict[str, Any]) -> dict[str, Any]:
    """An answered group in the terms of expected_aggregate (exact decimals, datetimes)."""
    out = {k: v for k, v in group.items() if k != "group"}
    for function in ("sum", "min"):  # exact, as strings
        if out[function]["cost"] is not None:
            out[function]["cost"] = Decimal(out[function]["cost"])
    for function in ("min", "max"):
        if out[function]["seenAt"] is not None:
            out[function]["seenAt"] = _when(out[function]["seenAt"])
    return out


def assert_aggregate(got: dict[str, Any], rows: list[dict]) -> None:
    """Counts, integers, decimal sums and min/max exactly; averages and float sums close."""
    expected, got = expected_aggregate(rows), normalised(got)
    assert got.keys() == expected.keys()
    assert got["count"] == expected.pop("count")
    for function, fields in expected.items():
        assert got[function].keys() == fields.keys(), function
        for field, value in fields.items():
            answer = got[function][field]
            if value is None or answer is None:
                assert answer == value, (function, field)
            elif function.startswith("avg") or isinstance(value, float):
                assert float(answer) == pytest.approx(float(value)), (function, field)
            else:
                assert answer == value, (function, field)


def test_aggregate_without_group_by(gql, goods):
    query = f"{{ {goods.root}Aggregate {{ {AGGREGATES} }} }}"
    (group,) = data(gql, query)[f"{goods.root}Aggregate"]
    assert group["group"] == {"kind": None, "inStock": None}
    assert_aggregate(group, goods.rows)


def test_aggregate_with_where(gql, goods):
    query = f"{{ {goods.root}Aggregate(where: {{qty: {{lt: 10}}}}) {{ {AGGREGATES} }} }}"
    (group,) = data(gql, query)[f"{goods.root}Aggregate"]
    assert_aggregate(group, [r for r in goods.rows if r["qty"] is not None and r["qty"] < 10])


def test_aggregate_grouped_by_two_fields(gql, goods):
    query = f"{{ {goods.root}Aggregate(groupBy: [kind, inStock]) {{ {AGGREGATES} }} }}"
    groups = data(gql, query)[f"{goods.root}Aggregate"]
    keys = {(r["kind"], r["in_stock"]) for r in goods.rows}
    assert sorted(map(str, (tuple(g["group"].values()) for g in groups))) == sorted(map(str, keys))
    for group in groups:
        key = (group["group"]["kind"], group["group"]["inStock"])
        assert_aggregate(group, [r for r in goods.rows if (r["kind"], r["in_stock"]) == key])


def test_aggregate_of_nothing(gql, goods):
    where = '{name: {equals: "none"}}'
    query = f"{{ {goods.root}Aggregate(where: {where}) {{ count sum {{ qty }} max {{ name }} }} }}"
    assert data(gql, query)[f"{goods.root}Aggregate"] == [
        {"count": 0, "sum": {"qty": None}, "max": {"name": None}}
    ]
    grouped = query.replace(f"where: {where}", f"where: {where}, groupBy: kind")
    assert data(gql, grouped)[f"{goods.root}Aggregate"] == []


def test_aggregate_groups_alone_and_through_fragments(gql, goods):
    query = f"{{ {goods.root}Aggregate(groupBy: kind) {{ group {{ kind }} }} }}"
    kinds = [g["group"]["kind"] for g in data(gql, query)[f"{goods.root}Aggregate"]]
    assert sorted(kinds, key=str) == sorted({r["kind"] for r in goods.rows}, key=str)

    query = f"""{{ {goods.root}Aggregate(groupBy: [kind]) {{
        group {{ kind }} ...Totals n: count few: min {{ qty }}
    }} }}
    fragment Totals on {goods.type}Aggregate {{ sum {{ qty }} }}"""
    for group in data(gql, query)[f"{goods.root}Aggregate"]:
        rows = [r for r in goods.rows if r["kind"] == group["group"]["kind"]]
        qty = [r["qty"] for r in rows if r["qty"] is not None]
        assert group == {
            "group": {"kind": group["group"]["kind"]},
            "sum": {"qty": sum(qty) if qty else None},
            "n": len(rows),
            "few": {"qty": min(qty, default=None)},
        }


def test_aggregate_group_by_json_is_not_in_the_schema(gql, goods):
    body = post(gql, f"{{ {goods.root}Aggregate(groupBy: meta) {{ count }} }}")
    assert error_code(body) == "BAD_REQUEST"
