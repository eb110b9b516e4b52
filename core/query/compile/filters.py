"""The filter tree and search as a WHERE clause."""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from core.query.ast import AllOf, Not, Op
from core.query.compile.columns import (
    as_text,
    column_sql,
    column_values,
    json_text,
    no_json_null,
)
from core.query.compile.joins import child_alias, join
from core.query.compile.params import Binder
from core.query.plan import Planned, PlannedNode, PlannedRelated
from core.schema.model import CollectionSpec

LIVE = sql.SQL("t.deleted_at IS NULL")

_COMPARE = {
    Op.EQ: "=",
    Op.GT: ">",
    Op.GTE: ">=",
    Op.LT: "<",
    Op.LTE: "<=",
    Op.LIKE: "LIKE",
    Op.ILIKE: "ILIKE",
    Op.REGEX: "~",
}

# Substring operators: (LIKE operator, pattern before, pattern after); % and _ match literally.
SUBSTRING = {
    Op.CONTAINS: ("LIKE", "%", "%"),
    Op.ICONTAINS: ("ILIKE", "%", "%"),
    Op.STARTS_WITH: ("LIKE", "", "%"),
    Op.ENDS_WITH: ("LIKE", "%", ""),
}


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _variant(value: Any) -> tuple:
    """What of a value changes the SQL text (null, a boolean flag, an empty list, text)."""
    return (
        value is None,
        value if isinstance(value, bool) else None,
        isinstance(value, list) and not value,
        isinstance(value, str),
    )


def filter_shape(node: PlannedNode | None) -> tuple | None:
    if node is None:
        return None
    if isinstance(node, Planned):
        column = node.column
        base = column.spec.name if column.spec else None
        return (base, column.is_json, node.op, _variant(node.value))
    if isinstance(node, Not):
        return ("not", filter_shape(node.child))
    if isinstance(node, PlannedRelated):
        return ("related", node.field.name, filter_shape(node.child))
    return (type(node).__name__, tuple(filter_shape(c) for c in node.children))


def where_sql(node: PlannedNode | None, bind: Binder) -> sql.Composable:
    if node is None:
        return LIVE
    return LIVE + sql.SQL(" AND ") + node_sql(node, bind)


def where_values(node: PlannedNode | None) -> list[Any]:
    if node is None:
        return []
    if isinstance(node, Planned):
        return _condition_values(node)
    if isinstance(node, Not | PlannedRelated):
        return where_values(node.child)
    return [value for child in node.children for value in where_values(child)]


def node_sql(node: PlannedNode, bind: Binder, alias: str = "t") -> sql.Composable:
    """The condition of the tree on the row `alias`."""
    if isinstance(node, Planned):
        return _condition_sql(node, bind, alias)
    if isinstance(node, Not):
        # IS NOT TRUE: a row whose comparison is unknown (null) does not match, so NOT matches it.
        return sql.SQL("(({}) IS NOT TRUE)").format(node_sql(node.child, bind, alias))
    if isinstance(node, PlannedRelated):  # a semijoin: at least one related record matches
        source, condition, _ = join(node.field, node.target, alias)
        if node.child is not None:
            condition += sql.SQL(" AND ") + node_sql(node.child, bind, child_alias(alias))
        return sql.SQL("EXISTS (SELECT 1 FROM {} WHERE {})").format(source, condition)
    if not node.children:
        return sql.SQL("TRUE" if isinstance(node, AllOf) else "FALSE")
    joiner = sql.SQL(" AND " if isinstance(node, AllOf) else " OR ")
    parts = (node_sql(c, bind, alias) for c in node.children)
    return sql.SQL("(") + joiner.join(parts) + sql.SQL(")")


def _condition_sql(node: Planned, bind: Binder, alias: str) -> sql.Composable:
    expr = column_sql(node.column, bind, alias)
    if node.column.is_json:
        return _json_condition_sql(expr, node.op, node.value, bind)
    op, value, kind = node.op, node.value, node.column.spec.type
    if op is Op.EQ and value is None:
        return sql.SQL("{} IS NULL").format(expr)
    if op is Op.NE:
        return sql.SQL("{} IS DISTINCT FROM {}").format(expr, bind())
    if op in (Op.NULL, Op.EXISTS):
        is_null = value if op is Op.NULL else not value
        return sql.SQL("{} IS NULL" if is_null else "{} IS NOT NULL").format(expr)
    if op in (Op.IN, Op.NIN) and not value:
        return sql.SQL("FALSE" if op is Op.IN else "TRUE")
    if op is Op.IN:
        return sql.SQL("{} = ANY({})").format(expr, bind())
    if op is Op.NIN:
        return sql.SQL("({0} IS NULL OR NOT ({0} = ANY({1})))").format(expr, bind())
    if op is Op.BETWEEN:
        return sql.SQL("{} BETWEEN {} AND {}").format(expr, bind(), bind())
    if op is Op.CONTAINS and kind.endswith("[]"):
        return sql.SQL("{} = ANY({})").format(bind(), expr)
    if op is Op.CONTAINS and kind == "json":
        return sql.SQL("{} @> {}").format(expr, bind())
    if op in SUBSTRING:
        return sql.SQL("{} {} {}").format(expr, sql.SQL(SUBSTRING[op][0]), bind())
    return sql.SQL("{} {} {}").format(expr, sql.SQL(_COMPARE[op]), bind())


def _condition_values(node: Planned) -> list[Any]:
    values = column_values(node.column)
    if node.column.is_json:
        return values + _json_condition_values(node.op, node.value)
    op, value, kind = node.op, node.value, node.column.spec.type
    wrap = Jsonb if kind == "json" else (lambda v: v)
    if (op is Op.EQ and value is None) or op in (Op.NULL, Op.EXISTS):
        return values
    if op in (Op.IN, Op.NIN):
        return values + ([[wrap(v) for v in value]] if value else [])
    if op is Op.BETWEEN:
        return values + [wrap(v) for v in value]
    if op in SUBSTRING and not (op is Op.CONTAINS and (kind.endswith("[]") or kind == "json")):
        return [*values, pattern(op, value)]
    return [*values, wrap(value)]


def _json_condition_sql(expr: sql.Composable, op: Op, value: Any, bind: Binder) -> sql.Composable:
    """A condition on a jsonb value: = / IN compare as text, order as jsonb."""
    text = as_text(expr)
    if op is Op.EXISTS:
        return sql.SQL("{} IS NOT NULL" if value else "{} IS NULL").format(expr)
    if op is Op.NULL or (op is Op.EQ and value is None):
        test = sql.SQL("coalesce({}, 'null') = 'null'").format(expr)
        return test if op is Op.EQ or value else sql.SQL("NOT ") + test
    if op is Op.EQ:
        return sql.SQL("{} = {}").format(text, bind())
    if op is Op.NE:
        return sql.SQL("{} IS DISTINCT FROM {}").format(text, bind())
    if op in (Op.IN, Op.NIN) and not value:
        return sql.SQL("FALSE" if op is Op.IN else "TRUE")
    if op is Op.IN:
        return sql.SQL("{} = ANY({})").format(text, bind())
    if op is Op.NIN:
        return sql.SQL("({0} IS NULL OR NOT ({0} = ANY({1})))").format(text, bind())
    # Ordering: a json null is no value (jsonb would order it below everything).
    ordered = no_json_null(expr)
    if op is Op.BETWEEN:
        return sql.SQL("{} BETWEEN {} AND {}").format(ordered, bind(), bind())
    if op is Op.CONTAINS and not isinstance(value, str):
        return sql.SQL("{} @> {}").format(expr, bind())
    if op in SUBSTRING:
        return sql.SQL("{} {} {}").format(text, sql.SQL(SUBSTRING[op][0]), bind())
    if op in (Op.LIKE, Op.ILIKE, Op.REGEX):
        return sql.SQL("{} {} {}").format(text, sql.SQL(_COMPARE[op]), bind())
    return sql.SQL("{} {} {}").format(ordered, sql.SQL(_COMPARE[op]), bind())


def _json_condition_values(op: Op, value: Any) -> list[Any]:
    if op in (Op.EXISTS, Op.NULL) or (op is Op.EQ and value is None):
        return []
    if op in (Op.EQ, Op.NE):
        return [json_text(value)]
    if op in (Op.IN, Op.NIN):
        return [[json_text(v) for v in value]] if value else []
    if op is Op.BETWEEN:
        return [Jsonb(v) for v in value]
    if op is Op.CONTAINS and not isinstance(value, str):
        return [Jsonb(value)]
    if op in SUBSTRING:
        return [pattern(op, value)]
    if op in (Op.LIKE, Op.ILIKE, Op.REGEX):
        return [value]
    return [Jsonb(value)]


def searchable(collection: CollectionSpec) -> list[str]:
    return [f.name for f in collection.fields if f.type in ("string", "text")]


def search_sql(collection: CollectionSpec, search: str, bind: Binder) -> sql.Composable:
    if not search:
        return sql.SQL("")
    fields = searchable(collection)
    if not fields:
        return sql.SQL(" AND FALSE")
    pattern = bind()
    tests = [sql.SQL("t.{} ILIKE {}").format(sql.Identifier(f), pattern) for f in fields]
    return sql.SQL(" AND (") + sql.SQL(" OR ").join(tests) + sql.SQL(")")


def search_values(collection: CollectionSpec, search: str) -> list[Any]:
    return [pattern(Op.ICONTAINS, search)] if search and searchable(collection) else []


def pattern(op: Op, value: str) -> str:
    _, before, after = SUBSTRING[op]
    return before + escape_like(value) + after
