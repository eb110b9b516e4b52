"""Property tests: random filters, sorts and pages against a real collection of random rows.

Every answer must equal tests/reference.py's evaluation of the same filter tree,
and walking cursor pages must return every matching row exactly once, in order.
"""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from google.protobuf import json_format, struct_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plinth import Client
from plinth.v1 import query_pb2 as q
from plinth.v1 import record_service_pb2 as rpb

from core.query.ast import AllOf, AnyOf, Condition, Node, Not, Op
from tests import reference

NAMES = ["", "a", "ab", "abc", "b", "ba", "a%", "a_b", "Ab"]
FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "qty", "type": "integer"},
    {"name": "price", "type": "float"},
    {"name": "flag", "type": "boolean"},
    {"name": "day", "type": "date"},
    {"name": "meta", "type": "json"},
]
DAYS = [f"2024-01-0{d}" for d in range(1, 6)]
VALUES: dict[str, list[Any]] = {
    "name": NAMES,
    "qty": [-2, 0, 1, 2, 5],
    "price": [-1.0, 0.5, 1.0, 2.5],
    "flag": [True, False],
    "day": DAYS,
    "meta.k": [0, 1, 2, 3],
}
ORDERED = [
    Op.EQ,
    Op.NE,
    Op.GT,
    Op.GTE,
    Op.LT,
    Op.LTE,
    Op.IN,
    Op.NIN,
    Op.BETWEEN,
    Op.NULL,
    Op.EXISTS,
]
OPERATORS: dict[str, list[Op]] = {
    "name": [*ORDERED, Op.LIKE, Op.ILIKE, Op.CONTAINS, Op.ICONTAINS, Op.STARTS_WITH, Op.ENDS_WITH],
    "qty": ORDERED,
    "price": ORDERED,
    "flag": [Op.EQ, Op.NE, Op.IN, Op.NIN, Op.NULL, Op.EXISTS],
    "day": ORDERED,
    "meta.k": ORDERED,
}
SORTABLE = ["name", "qty", "price", "flag", "day", "meta.k", "id"]
PATTERNS = ["a%", "%b", "_b%", "%", "a\\_b", "A%"]


def random_rows(count: int) -> list[dict[str, Any]]:
    rng = random.Random(20261122)

    def maybe(values: list[Any]) -> Any:
        return rng.choice([*values, None])

    rows = []
    for _ in range(count):
        meta = rng.choice([None, {}, {"k": rng.choice(VALUES["meta.k"])}, {"k": None}])
        rows.append(
            {
                "name": maybe(NAMES),
                "qty": maybe(VALUES["qty"]),
                "price": maybe(VALUES["price"]),
                "flag": maybe(VALUES["flag"]),
                "day": maybe(DAYS),
                "meta": meta,
            }
        )
    return rows


@pytest.fixture(scope="module")
def dataset(stack) -> tuple[str, list[dict[str, Any]]]:
    name = "props_" + random.Random().randbytes(4).hex()
    with Client(stack.core_addr, api_key=stack.admin_key) as client:
        client.create_collection(name, FIELDS)
        rows = [client.create(name, row) for row in random_rows(80)]
    return name, rows


@pytest.fixture(scope="module")
def client(stack):
    with Client(stack.core_addr, api_key=stack.admin_key) as client:
        yield client


# --- strategies ---------------------------------------------------------------------


@st.composite
def conditions(draw) -> Condition:
    field = draw(st.sampled_from(list(OPERATORS)))
    op = draw(st.sampled_from(OPERATORS[field]))
    pool = VALUES[field]
    if op in (Op.NULL, Op.EXISTS):
        value: Any = draw(st.booleans())
    elif op in (Op.IN, Op.NIN):
        value = draw(st.lists(st.sampled_from(pool), max_size=3))
    elif op is Op.BETWEEN:
        value = sorted(draw(st.lists(st.sampled_from(pool), min_size=2, max_size=2)))
    elif op in (Op.LIKE, Op.ILIKE):
        value = draw(st.sampled_from(PATTERNS))
    else:
        value = draw(st.sampled_from(pool))
    if field in ("qty", "price") and draw(st.booleans()):
        value = _as_text(value)  # query-string style: core parses the text
    return Condition(field, op, value)


def _as_text(value: Any) -> Any:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return value if isinstance(value, bool) else str(value)


def trees(depth: int = 3) -> st.SearchStrategy[Node]:
    return st.recursive(
        conditions(),
        lambda children: st.one_of(
            st.lists(children, max_size=3).map(lambda c: AllOf(tuple(c))),
            st.lists(children, max_size=3).map(lambda c: AnyOf(tuple(c))),
            children.map(Not),
        ),
        max_leaves=6,
    )


sorts = st.lists(
    st.tuples(st.sampled_from(SORTABLE), st.booleans()), max_size=3, unique_by=lambda s: s[0]
)


# --- translation to the wire and to the reference ----------------------------------------


def to_proto(node: Node | None) -> q.Filter:
    if node is None:
        return q.Filter()
    if isinstance(node, Condition):
        value = struct_pb2.Value()
        json_format.ParseDict(node.value, value)
        return q.Filter(
            condition=q.Condition(field=node.field, operator=node.op.value, value=value)
        )
    if isinstance(node, Not):
        return q.Filter(negate=to_proto(node.child))
    listed = q.FilterList(filters=[to_proto(c) for c in node.children])
    return q.Filter(all_of=listed) if isinstance(node, AllOf) else q.Filter(any_of=listed)


def coerce(field: str, raw: Any) -> Any:
    """Query-string text for numbers becomes numbers, as core does."""
    if isinstance(raw, str) and field in ("qty", "price", "meta.k"):
        return float(raw) if "." in raw else int(raw)
    return raw


def expected(rows, node, sort) -> list[str]:
    kept = [r for r in rows if reference.matches(r, node, coerce)]
    return [r["id"] for r in reference.ordered(kept, sort)]


def list_ids(client: Client, collection: str, node, sort, **paging) -> rpb.ListRecordsResponse:
    request = rpb.ListRecordsRequest(
        collection=collection,
        filter=to_proto(node),
        sort=[q.SortField(field=f, descending=d) for f, d in sort],
        **paging,
    )
    return client.call(client.records.ListRecords, request)


PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(node=trees(), sort=sorts, limit=st.integers(1, 30), offset=st.integers(0, 40))
def test_offset_pages_equal_the_reference(client, dataset, node, sort, limit, offset) -> None:
    collection, rows = dataset
    answer = list_ids(
        client, collection, node, sort, page_size=limit, offset=offset, include_total=True
    )
    want = expected(rows, node, sort)
    assert [r["id"] for r in orjson.loads(answer.records)] == want[offset : offset + limit]
    assert answer.total == len(want)
    assert answer.has_more == (len(want) > offset + limit)


@PROPERTY
@given(node=trees(), sort=sorts, size=st.integers(1, 25))
def test_cursor_pages_return_each_row_once(client, dataset, node, sort, size) -> None:
    collection, rows = dataset
    seen, token = [], ""
    for _ in range(200):
        answer = list_ids(client, collection, node, sort, page_size=size, page_token=token)
        seen += [r["id"] for r in orjson.loads(answer.records)]
        if not answer.next_page_token:
            break
        token = answer.next_page_token
    assert seen == expected(rows, node, sort)


@PROPERTY
@given(node=trees(), sort=sorts, size=st.integers(1, 25))
def test_backward_pages_mirror_forward_ones(client, dataset, node, sort, size) -> None:
    collection, rows = dataset
    want = expected(rows, node, sort)
    seen, token = [], ""
    for _ in range(200):
        answer = list_ids(
            client, collection, node, sort, page_size=size, page_token=token, backward=True
        )
        seen = [r["id"] for r in orjson.loads(answer.records)] + seen
        if not answer.next_page_token:
            break
        token = answer.next_page_token
    assert seen == want
