"""Property tests: random filters, sorts and pages against a real collection of random rows.

Every answer must equal tests/reference.py's evaluation of the same filter tree,
and walking cursor pages must return every matching row exactly once, in order.
"""

from __future__ import annotations

import orjson
import pytest
from google.protobuf import json_format, struct_pb2
from hypothesis import given
from hypothesis import strategies as st
from plinth import Client
from plinth.v1 import query_pb2 as q
from plinth.v1 import record_service_pb2 as rpb

from core.query.ast import AllOf, Condition, Node, Not
from tests import reference
from tests.query_data import PROPERTY, coerce, sorts, trees


@pytest.fixture(scope="module")
def client(stack):
    with Client(stack.core_addr, api_key=stack.admin_key) as client:
        yield client


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


@PROPERTY
@given(node=trees(), sort=sorts, limit=st.integers(1, 30), offset=st.integers(0, 40))
def test_offset_pages_equal_the_reference(client, query_dataset, node, sort, limit, offset) -> None:
    collection, rows = query_dataset
    answer = list_ids(
        client, collection, node, sort, page_size=limit, offset=offset, include_total=True
    )
    want = expected(rows, node, sort)
    assert [r["id"] for r in orjson.loads(answer.records)] == want[offset : offset + limit]
    assert answer.total == len(want)
    assert answer.has_more == (len(want) > offset + limit)


@PROPERTY
@given(node=trees(), sort=sorts, size=st.integers(1, 25))
def test_cursor_pages_return_each_row_once(client, query_dataset, node, sort, size) -> None:
    collection, rows = query_dataset
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
def test_backward_pages_mirror_forward_ones(client, query_dataset, node, sort, size) -> None:
    collection, rows = query_dataset
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
