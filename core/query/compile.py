"""The only writer of query SQL: a planned query becomes one parameterized statement.

Names reach SQL through sql.Identifier (or sql.Literal for JSON keys of
names already checked against the schema); every value is a named parameter.
Records are built as JSON by Postgres and leave as text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from core.query.ast import AllOf, Not, Op
from core.query.plan import SYSTEM_FIELDS, Column, Planned, PlannedNode
from core.schema.model import EXTRA_COLUMN, CollectionSpec

# jsonb_build_object takes at most 100 arguments: 50 key/value pairs a call.
PAIRS_PER_CALL = 50
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
_SUBSTRING = {
    Op.CONTAINS: ("LIKE", "%", "%"),
    Op.ICONTAINS: ("ILIKE", "%", "%"),
    Op.STARTS_WITH: ("LIKE", "", "%"),
    Op.ENDS_WITH: ("LIKE", "%", ""),
}


class Params:
    """Named parameters: a value may be referenced from several places of one statement."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> sql.Placeholder:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return sql.Placeholder(name)


MAX_CACHED_SHAPES = 256


def positional(index: int) -> sql.Placeholder:
    """The placeholder of the index-th value of a cached statement (see `numbered`)."""
    return sql.Placeholder(f"p{index}")


def numbered(values: list[Any]) -> dict[str, Any]:
    return {f"p{i}": value for i, value in enumerate(values)}


def cached(collection: CollectionSpec, key: tuple, build: Callable[[], sql.Composable]) -> str:
    """The statement text of one shape, rendered once per collection definition.

    A definition is replaced on every schema change, and its cache with it.
    """
    text = collection.statements.get(key)
    if text is None:
        if len(collection.statements) >= MAX_CACHED_SHAPES:
            collection.statements.clear()
        text = collection.statements[key] = build().as_string(None)
    return text


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def table(schema_name: str, collection: CollectionSpec) -> sql.Composed:
    return sql.SQL("{} AS t").format(sql.Identifier(schema_name, collection.name))


# --- record JSON ---------------------------------------------------------
# A record is a row `t` rendered as JSON. Typed columns go through row_to_json /
# json_agg of a sub-select, as PostgREST does: compact output, no argument limit.


def _value_sql(column: Column) -> sql.Composable:
    if column.spec is None:
        return sql.SQL("t.{} -> {}").format(sql.Identifier(EXTRA_COLUMN), sql.Literal(column.name))
    return sql.SQL("t.{}").format(sql.Identifier(column.name))


def all_columns(collection: CollectionSpec) -> list[Column]:
    return [
        Column("id", SYSTEM_FIELDS["id"]),
        *(Column(f.name, f) for f in collection.fields),
        Column("created_at", SYSTEM_FIELDS["created_at"]),
        Column("updated_at", SYSTEM_FIELDS["updated_at"]),
    ]


def _select_list(columns: Iterable[Column]) -> sql.Composable:
    return sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(_value_sql(c), sql.Identifier(c.name)) for c in columns
    )


def _merged_with_extra(collection: CollectionSpec) -> sql.Composable:
    """A flexible record: undeclared keys first, so a declared field always wins."""
    pairs = [
        sql.SQL("{}, {}").format(sql.Literal(c.name), _value_sql(c))
        for c in all_columns(collection)
    ]
    calls = [
        sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(pairs[i : i + PAIRS_PER_CALL]))
        for i in range(0, len(pairs), PAIRS_PER_CALL)
    ]
    return (
        sql.SQL("(t.{} || ").format(sql.Identifier(EXTRA_COLUMN))
        + sql.SQL(" || ").join(calls)
        + sql.SQL(")")
    )


def record_json(collection: CollectionSpec, selection: tuple[Column, ...] | None) -> sql.Composable:
    """One JSON object for the current row `t`: the selection, or every field plus timestamps."""
    if selection is None and collection.flexible:
        return _merged_with_extra(collection)
    columns = selection if selection is not None else all_columns(collection)
    return sql.SQL("(SELECT row_to_json(r) FROM (SELECT {}) r)").format(_select_list(columns))


def _page_rows(
    collection: CollectionSpec, selection: tuple[Column, ...] | None
) -> tuple[sql.Composable, sql.Composable]:
    """(select list of the inner query, the aggregate that turns its rows into a JSON array)."""
    if selection is None and collection.flexible:
        return sql.SQL("{} AS j").format(_merged_with_extra(collection)), sql.SQL("json_agg(p.j)")
    columns = selection if selection is not None else all_columns(collection)
    return _select_list(columns), sql.SQL("json_agg(p)")


# --- filters and sorts -----------------------------------------------------


def where_sql(node: PlannedNode | None, params: Params) -> sql.Composable:
    if node is None:
        return LIVE
    return LIVE + sql.SQL(" AND ") + _node_sql(node, params)


def _node_sql(node: PlannedNode, params: Params) -> sql.Composable:
    if isinstance(node, Planned):
        if node.column.spec is None:
            return _extra_condition(node, params)
        return _condition(node, params)
    if isinstance(node, Not):
        # IS NOT TRUE: a row whose comparison is unknown (null) does not match, so NOT matches it.
        return sql.SQL("(({}) IS NOT TRUE)").format(_node_sql(node.child, params))
    if not node.children:
        return sql.SQL("TRUE" if isinstance(node, AllOf) else "FALSE")
    joiner = sql.SQL(" AND " if isinstance(node, AllOf) else " OR ")
    return sql.SQL("(") + joiner.join(_node_sql(c, params) for c in node.children) + sql.SQL(")")


def _param(column: Column, value: Any, params: Params) -> sql.Placeholder:
    is_json = column.spec is not None and column.spec.type == "json"
    return params.add(Jsonb(value) if is_json else value)


def _condition(node: Planned, params: Params) -> sql.Composable:
    expr = sql.SQL("t.{}").format(sql.Identifier(node.column.name))
    op, value, column = node.op, node.value, node.column
    kind = column.spec.type
    if op is Op.EQ and value is None:
        return sql.SQL("{} IS NULL").format(expr)
    if op is Op.NE:
        return sql.SQL("{} IS DISTINCT FROM {}").format(expr, _param(column, value, params))
    if op in (Op.NULL, Op.EXISTS):
        is_null = value if op is Op.NULL else not value
        return sql.SQL("{} IS NULL" if is_null else "{} IS NOT NULL").format(expr)
    if op in (Op.IN, Op.NIN):
        if not value:
            return sql.SQL("FALSE" if op is Op.IN else "TRUE")
        listed = params.add([Jsonb(v) for v in value] if kind == "json" else value)
        if op is Op.IN:
            return sql.SQL("{} = ANY({})").format(expr, listed)
        return sql.SQL("({} IS NULL OR NOT ({} = ANY({})))").format(expr, expr, listed)
    if op is Op.BETWEEN:
        low, high = (_param(column, v, params) for v in value)
        return sql.SQL("{} BETWEEN {} AND {}").format(expr, low, high)
    if op is Op.CONTAINS and kind.endswith("[]"):
        return sql.SQL("{} = ANY({})").format(params.add(value), expr)
    if op is Op.CONTAINS and kind == "json":
        return sql.SQL("{} @> {}").format(expr, params.add(Jsonb(value)))
    if op in _SUBSTRING:
        like, before, after = _SUBSTRING[op]
        pattern = params.add(before + escape_like(value) + after)
        return sql.SQL("{} {} {}").format(expr, sql.SQL(like), pattern)
    return sql.SQL("{} {} {}").format(expr, sql.SQL(_COMPARE[op]), _param(column, value, params))


def _extra_text(value: Any) -> str:
    # How ->> renders a JSON scalar, so query-string text and typed values compare alike.
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _extra_json_value(value: Any) -> Jsonb:
    if isinstance(value, str):
        for parse in (int, float):
            try:
                return Jsonb(parse(value))
            except ValueError:
                pass
    return Jsonb(value)


def _extra_condition(node: Planned, params: Params) -> sql.Composable:
    """A condition on an undeclared key of a flexible collection (jsonb `_extra`)."""
    key = params.add(node.column.name)
    as_json = sql.SQL("(t.{} -> {})").format(sql.Identifier(EXTRA_COLUMN), key)
    as_text = sql.SQL("(t.{} ->> {})").format(sql.Identifier(EXTRA_COLUMN), key)
    op, value = node.op, node.value
    if op is Op.EXISTS:
        return sql.SQL("{}t.{} ? {}").format(
            sql.SQL("" if value else "NOT "), sql.Identifier(EXTRA_COLUMN), key
        )
    if op is Op.NULL or (op is Op.EQ and value is None):
        is_null = value if op is Op.NULL else True
        test = sql.SQL("coalesce({}, 'null') = 'null'").format(as_json)
        return test if is_null else sql.SQL("NOT ") + test
    if op is Op.EQ:
        return sql.SQL("{} = {}").format(as_text, params.add(_extra_text(value)))
    if op is Op.NE:
        text = None if value is None else _extra_text(value)
        return sql.SQL("{} IS DISTINCT FROM {}").format(as_text, params.add(text))
    if op in (Op.IN, Op.NIN):
        listed = params.add([_extra_text(v) for v in value])
        if op is Op.IN:
            return sql.SQL("{} = ANY({})").format(as_text, listed)
        return sql.SQL("({} IS NULL OR NOT ({} = ANY({})))").format(as_text, as_text, listed)
    if op is Op.BETWEEN:
        low, high = (params.add(_extra_json_value(v)) for v in value)
        return sql.SQL("{} BETWEEN {} AND {}").format(as_json, low, high)
    if op in _SUBSTRING:
        like, before, after = _SUBSTRING[op]
        pattern = params.add(before + escape_like(value) + after)
        return sql.SQL("{} {} {}").format(as_text, sql.SQL(like), pattern)
    if op in (Op.LIKE, Op.ILIKE, Op.REGEX):
        return sql.SQL("{} {} {}").format(as_text, sql.SQL(_COMPARE[op]), params.add(value))
    return sql.SQL("{} {} {}").format(
        as_json, sql.SQL(_COMPARE[op]), params.add(_extra_json_value(value))
    )


def order_sql(sort: list[tuple[Column, bool]]) -> sql.Composable:
    """ORDER BY the keys (nulls last either way), then id so pages are stable."""
    keys = []
    for column, descending in sort:
        direction = sql.SQL("DESC NULLS LAST" if descending else "ASC NULLS LAST")
        keys.append(sql.SQL("{} {}").format(_value_sql(column), direction))
    if not any(column.name == "id" for column, _ in sort):
        keys.append(sql.SQL("t.id ASC"))
    return sql.SQL("ORDER BY ") + sql.SQL(", ").join(keys)


# --- statements ------------------------------------------------------------


def select_one(
    schema_name: str,
    collection: CollectionSpec,
    record_id: str,
    selection: tuple[Column, ...] | None,
) -> tuple[str, dict[str, Any]]:
    def build() -> sql.Composable:
        return sql.SQL("SELECT {}::text, t.version FROM {} WHERE t.id = {} AND {}").format(
            record_json(collection, selection), table(schema_name, collection), positional(0), LIVE
        )

    shape = None if selection is None else tuple(c.name for c in selection)
    return cached(collection, ("one", schema_name, shape), build), numbered([record_id])


def select_page(
    schema_name: str,
    collection: CollectionSpec,
    node: PlannedNode | None,
    sort: list[tuple[Column, bool]],
    selection: tuple[Column, ...] | None,
    limit: int,
    offset: int,
    with_total: bool,
) -> tuple[sql.Composed, dict[str, Any]]:
    """One statement: the page as a JSON array and, if asked, the total of all matches."""
    params = Params()
    where = where_sql(node, params)
    source = table(schema_name, collection)
    total = (
        sql.SQL("(SELECT count(*) FROM {} WHERE {})").format(source, where)
        if with_total
        else sql.SQL("NULL::bigint")
    )
    rows, aggregate = _page_rows(collection, selection)
    query = sql.SQL(
        "SELECT coalesce({}, '[]')::text, {} FROM"
        " (SELECT {} FROM {} WHERE {} {} LIMIT {} OFFSET {}) p"
    ).format(
        aggregate,
        total,
        rows,
        source,
        where,
        order_sql(sort),
        params.add(limit),
        params.add(offset),
    )
    return query, params.values


def count(
    schema_name: str, collection: CollectionSpec, node: PlannedNode | None
) -> tuple[sql.Composed, dict[str, Any]]:
    params = Params()
    query = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(
        table(schema_name, collection), where_sql(node, params)
    )
    return query, params.values
