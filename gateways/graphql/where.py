"""GraphQL `where` -> the plinth.v1.Filter tree, and `orderBy` -> SortFields. Writes no
SQL and checks no values: core validates the tree against the collection and coerces
the values.

`{price: {gt: 10, lte: 99}, OR: [{a: {equals: 1}}, {b: {isNull: true}}], NOT: {...}}`:
entries of one object are AND-ed, `AND` / `OR` take lists, `NOT` one object. A relation
field takes its target's where object (`author: {name: {equals: "Ann"}}`), which becomes
a RelatedFilter: some live related record matches all of it, named the target's way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plinth.v1 import query_pb2 as pb
from plinth.values import to_value

from gateways.graphql.model import Collection

OPERATORS = {
    "equals": pb.OPERATOR_EQ,
    "not": pb.OPERATOR_NE,
    "gt": pb.OPERATOR_GT,
    "gte": pb.OPERATOR_GTE,
    "lt": pb.OPERATOR_LT,
    "lte": pb.OPERATOR_LTE,
    "in": pb.OPERATOR_IN,
    "notIn": pb.OPERATOR_NIN,
    "contains": pb.OPERATOR_CONTAINS,
    "startsWith": pb.OPERATOR_STARTS_WITH,
    "endsWith": pb.OPERATOR_ENDS_WITH,
    "isNull": pb.OPERATOR_NULL,
}


def to_filter(where: Mapping[str, Any] | None, c: Collection) -> pb.Filter:
    """A where object on collection `c`; an empty `where` matches all."""
    nodes = _entries(where or {}, c)
    return _and(nodes) if nodes else pb.Filter()


def _entries(where: Mapping[str, Any], c: Collection) -> list[pb.Filter]:
    nodes = []
    for key, value in where.items():
        if value is None:
            continue  # `field: null` and `AND: null` set no condition
        if key == "AND":
            nodes.append(_group("all_of", [_and(_entries(w, c)) for w in value]))
        elif key == "OR":
            nodes.append(_group("any_of", [_and(_entries(w, c)) for w in value]))
        elif key == "NOT":
            nodes.append(pb.Filter(negate=_and(_entries(value, c))))
        else:
            field = c.by_name[key]
            if field.relation:
                # `{}` is an empty AND: some related record exists.
                related = pb.RelatedFilter(
                    relation=field.column, filter=_and(_entries(value, c.target(field)))
                )
                nodes.append(pb.Filter(related=related))
            else:
                nodes += [_condition(field.column, op, operand) for op, operand in value.items()]
    return nodes


def _and(nodes: list[pb.Filter]) -> pb.Filter:
    """One node for the entries of one object; `{}` is an empty AND, which matches all."""
    return nodes[0] if len(nodes) == 1 else _group("all_of", nodes)


def matches_nothing() -> pb.Filter:
    """An empty OR."""
    return _group("any_of", [])


def _group(kind: str, nodes: list[pb.Filter]) -> pb.Filter:
    node = pb.Filter()
    group = getattr(node, kind)
    group.SetInParent()  # an empty AND matches every record, an empty OR none
    group.filters.extend(nodes)
    return node


def _condition(column: str, op: str, operand: Any) -> pb.Filter:
    condition = pb.Condition(field=column, operator=OPERATORS[op])
    condition.value.CopyFrom(to_value(operand))
    return pb.Filter(condition=condition)


def to_sort(args: Mapping[str, Any], c: Collection) -> list[pb.SortField]:
    """`orderBy` (one field or a list), every field in `orderDirection`."""
    descending = args.get("orderDirection") == "DESC"
    return [
        pb.SortField(field=c.columns[name], descending=descending)
        for name in args.get("orderBy") or ()
    ]
