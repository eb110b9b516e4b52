"""The same random filter trees rendered into every REST syntax (brackets, Directus
`filter=`, Mongo `q=`, and `where` of POST /query) must select what the reference does."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.query.ast import AllOf, AnyOf, Condition, Node, Not, Op
from tests import reference
from tests.query_data import PROPERTY, coerce, conditions

SORT = [("qty", True), ("name", False)]


def groups(allow_not: bool) -> st.SearchStrategy[Node]:
    """Trees without empty groups (the JSON forms refuse `"$or": []`)."""

    def extend(children):
        options = [
            st.lists(children, min_size=1, max_size=3).map(lambda c: AllOf(tuple(c))),
            st.lists(children, min_size=1, max_size=3).map(lambda c: AnyOf(tuple(c))),
        ]
        if allow_not:
            options.append(children.map(Not))
        return st.one_of(options)

    return st.recursive(conditions(), extend, max_leaves=6)


def as_json_value(cond: Condition) -> Any:
    """Lists stay lists in the JSON forms; query-string style text lists are split."""
    if cond.op in (Op.IN, Op.NIN, Op.BETWEEN) and isinstance(cond.value, str):
        return cond.value.split(",") if cond.value else []
    return cond.value


def mongo(node: Node) -> dict[str, Any]:
    if isinstance(node, Condition):
        return {node.field: {f"${node.op.label}": as_json_value(node)}}
    if isinstance(node, Not):
        return {"$not": mongo(node.child)}
    key = "$and" if isinstance(node, AllOf) else "$or"
    return {key: [mongo(c) for c in node.children]}


def directus(node: Node) -> dict[str, Any]:
    if isinstance(node, Condition):
        return {node.field: {f"_{node.op.label}": as_json_value(node)}}
    key = "_and" if isinstance(node, AllOf) else "_or"
    return {key: [directus(c) for c in node.children]}


def brackets(conds: list[Condition]) -> list[tuple[str, str]]:
    def text(value: Any) -> str:
        if isinstance(value, list):
            return ",".join(text(v) for v in value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return [(f"filter[{c.field}][{c.op.label}]", text(c.value)) for c in conds]


def expected(rows: list[dict], node: Node | None) -> list[str]:
    kept = [r for r in rows if reference.matches(r, node, coerce)]
    return [r["id"] for r in reference.ordered(kept, SORT)]


def listed(rest: httpx.Client, collection: str, params: list[tuple[str, str]]) -> list[str]:
    response = rest.get(
        f"/api/v1/{collection}", params=[*params, ("sort", "-qty,name"), ("limit", "1000")]
    )
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["data"]]


def queried(rest: httpx.Client, collection: str, where: dict[str, Any]) -> list[str]:
    body = {"where": where, "sort": ["-qty", "name"], "limit": 1000}
    response = rest.post(f"/api/v1/{collection}/query", content=orjson.dumps(body))
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["data"]]


@pytest.fixture(scope="module")
def rest_client(stack):
    with httpx.Client(base_url=stack.rest_url, headers=stack.headers(), timeout=30) as client:
        yield client


@PROPERTY
@given(node=groups(allow_not=True))
def test_mongo_form(rest_client, query_dataset, node) -> None:
    collection, rows = query_dataset
    want = expected(rows, node)
    where = mongo(node)
    assert listed(rest_client, collection, [("q", orjson.dumps(where).decode())]) == want
    assert queried(rest_client, collection, where) == want


@PROPERTY
@given(node=groups(allow_not=False))
def test_directus_form(rest_client, query_dataset, node) -> None:
    collection, rows = query_dataset
    want = expected(rows, node)
    where = directus(node)
    assert listed(rest_client, collection, [("filter", orjson.dumps(where).decode())]) == want
    assert queried(rest_client, collection, where) == want


@PROPERTY
@given(conds=st.lists(conditions(), min_size=1, max_size=4))
def test_bracket_form(rest_client, query_dataset, conds) -> None:
    collection, rows = query_dataset
    # A bracket list that is one empty string reads as an empty list: skip that one spelling.
    conds = [c for c in conds if not (c.op in (Op.IN, Op.NIN) and c.value in ([""], ""))]
    node = AllOf(tuple(conds))
    assert listed(rest_client, collection, brackets(conds)) == expected(rows, node)
