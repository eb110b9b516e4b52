"""The typed filter tree, and its reading from the wire (query.proto).

A closed set of node types; operators are one enum. Front ends build this
tree; plan.py resolves it against the schema; the compile package writes its SQL.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from plinth.v1 import query_pb2 as pb

from core.errors import bad_request

MAX_DEPTH = 16
MAX_CONDITIONS = 200


class Op(enum.Enum):
    EQ = pb.OPERATOR_EQ
    NE = pb.OPERATOR_NE
    GT = pb.OPERATOR_GT
    GTE = pb.OPERATOR_GTE
    LT = pb.OPERATOR_LT
    LTE = pb.OPERATOR_LTE
    IN = pb.OPERATOR_IN
    NIN = pb.OPERATOR_NIN
    BETWEEN = pb.OPERATOR_BETWEEN
    LIKE = pb.OPERATOR_LIKE
    ILIKE = pb.OPERATOR_ILIKE
    CONTAINS = pb.OPERATOR_CONTAINS
    ICONTAINS = pb.OPERATOR_ICONTAINS
    STARTS_WITH = pb.OPERATOR_STARTS_WITH
    ENDS_WITH = pb.OPERATOR_ENDS_WITH
    NULL = pb.OPERATOR_NULL
    EXISTS = pb.OPERATOR_EXISTS
    REGEX = pb.OPERATOR_REGEX

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Condition:
    field: str
    op: Op
    value: Any


@dataclass(frozen=True)
class AllOf:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class Related:
    """Records whose relation field leads to a live record matching `child` (None: any)."""

    relation: str
    child: Node | None


Node = Condition | AllOf | AnyOf | Not | Related


@dataclass(frozen=True)
class Sort:
    field: str
    descending: bool = False


def from_proto(message: pb.Filter) -> Node | None:
    """The wire filter as a tree; None for an empty filter. Depth and size are bounded."""
    if not message.WhichOneof("kind"):
        return None
    count = [0]
    return _node(message, 0, count)


def _node(message: pb.Filter, depth: int, count: list[int]) -> Node:
    if depth > MAX_DEPTH:
        raise bad_request(f"the filter is nested more than {MAX_DEPTH} levels deep")
    kind = message.WhichOneof("kind")
    if kind == "condition":
        count[0] += 1
        if count[0] > MAX_CONDITIONS:
            raise bad_request(f"the filter has more than {MAX_CONDITIONS} conditions")
        cond = message.condition
        if cond.operator == pb.OPERATOR_UNSPECIFIED:
            raise bad_request(f"filter on {cond.field!r} has no operator")
        try:
            op = Op(cond.operator)
        except ValueError:
            raise bad_request(f"unknown operator {cond.operator}") from None
        value = json_format.MessageToDict(cond.value) if cond.HasField("value") else None
        return Condition(cond.field, op, value)
    if kind == "negate":
        return Not(_node(message.negate, depth + 1, count))
    if kind == "related":
        inner = message.related.filter
        child = _node(inner, depth + 1, count) if inner.WhichOneof("kind") else None
        return Related(message.related.relation, child)
    if kind not in ("all_of", "any_of"):
        raise bad_request("empty filter node")
    children = tuple(_node(f, depth + 1, count) for f in getattr(message, kind).filters)
    return AllOf(children) if kind == "all_of" else AnyOf(children)
