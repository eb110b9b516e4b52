"""Plinth field types as GraphQL types, and the type definitions every schema shares.

Integers are 64-bit in Plinth, so they travel as the `BigInt` scalar (a JSON
number) rather than GraphQL's 32-bit `Int`. Decimals, dates, date-times,
UUIDs, enums and file ids are strings; decimals keep every digit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldType:
    graphql: str  # the output type, without non-null
    filter: str  # the input type of its `where` entry
    sortable: bool = True


_STRING = FieldType("String", "StringFilter")

FIELD_TYPES: dict[str, FieldType] = {
    **dict.fromkeys(
        ("string", "text", "enum", "uuid", "date", "datetime", "decimal", "file"), _STRING
    ),
    "integer": FieldType("BigInt", "BigIntFilter"),
    "float": FieldType("Float", "FloatFilter"),
    "boolean": FieldType("Boolean", "BooleanFilter"),
    "json": FieldType("JSON", "JSONFilter", sortable=False),
    "string[]": FieldType("[String!]", "StringListFilter"),
    "integer[]": FieldType("[BigInt!]", "BigIntListFilter"),
    "float[]": FieldType("[Float!]", "FloatListFilter"),
}

# The system fields of every record: GraphQL name, Plinth name, Plinth type, type.
SYSTEM_FIELDS = (
    ("id", "id", "id", FieldType("ID", "IDFilter")),
    ("createdAt", "created_at", "datetime", _STRING),
    ("updatedAt", "updated_at", "datetime", _STRING),
)

# The output type of each aggregate over a field, by the field's Plinth type; a type
# missing from a table can't take that aggregate. Sums, minima and maxima of decimals
# stay exact strings; core computes averages as doubles.
SUM_TYPES = {"integer": "BigInt", "float": "Float", "decimal": "String"}
AVG_TYPES = dict.fromkeys(SUM_TYPES, "Float")
MIN_MAX_TYPES = {
    **dict.fromkeys(("string", "text", "enum", "date", "datetime", "decimal"), "String"),
    "integer": "BigInt",
    "float": "Float",
}


def _operators(scalar: str, *, ordered: bool = False, text: bool = False) -> dict[str, str]:
    """The operators of a filter input on `scalar` (names as in where.OPERATORS)."""
    ops = {"equals": scalar, "not": scalar}
    if ordered:
        ops |= {op: scalar for op in ("gt", "gte", "lt", "lte")}
        ops |= {"in": f"[{scalar}!]", "notIn": f"[{scalar}!]"}
    if text:
        ops |= {op: scalar for op in ("contains", "startsWith", "endsWith")}
    return ops | {"isNull": "Boolean"}


def _list_operators(scalar: str) -> dict[str, str]:
    # `contains` on a list field matches records whose list holds the element.
    return {
        "equals": f"[{scalar}!]",
        "not": f"[{scalar}!]",
        "contains": scalar,
        "isNull": "Boolean",
    }


FILTERS: dict[str, dict[str, str]] = {
    "IDFilter": _operators("ID", ordered=True),
    "StringFilter": _operators("String", ordered=True, text=True),
    "BigIntFilter": _operators("BigInt", ordered=True),
    "FloatFilter": _operators("Float", ordered=True),
    "BooleanFilter": _operators("Boolean"),
    "JSONFilter": {"equals": "JSON", "not": "JSON", "contains": "JSON", "isNull": "Boolean"},
    "StringListFilter": _list_operators("String"),
    "BigIntListFilter": _list_operators("BigInt"),
    "FloatListFilter": _list_operators("Float"),
}


def _input(name: str, fields: dict[str, str]) -> str:
    return f"input {name} {{\n" + "".join(f"  {k}: {t}\n" for k, t in fields.items()) + "}\n"


PAGE_INFO_SDL = '''\
"""Where a connection's page lies (Relay). Cursors are opaque: pass them back as
`after` or `before` with the same where, orderBy and orderDirection."""
type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}
'''

SHARED_SDL = "\n".join(
    (
        '"""Any JSON value."""\nscalar JSON\n',
        '"""A 64-bit integer, as a JSON number."""\nscalar BigInt\n',
        "enum OrderDirection {\n  ASC\n  DESC\n}\n",
        "type DeleteResult {\n  id: ID!\n  deleted: Boolean!\n}\n",
        PAGE_INFO_SDL,
        *(_input(name, ops) for name, ops in FILTERS.items()),
    )
)

# Type names a collection may not take: ours, GraphQL's and Tartiflette's built-ins.
RESERVED_TYPES = frozenset(
    (
        *FILTERS,
        "JSON",
        "BigInt",
        "OrderDirection",
        "DeleteResult",
        "BatchError",
        "BatchFailure",
        "BatchDeleteResult",
        "PageInfo",
        "Query",
        "Mutation",
        "Subscription",
        "String",
        "Int",
        "Float",
        "Boolean",
        "ID",
        "Date",
        "DateTime",
        "Time",
    )
)
