"""Tables, record JSON and column expressions (typed columns and json paths)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from psycopg import sql

from core.query.compile.params import Binder
from core.query.plan import SYSTEM_FIELDS, Column
from core.schema.model import EXTRA_COLUMN, CollectionSpec

Sort = list[tuple[Column, bool]]

# jsonb_build_object takes at most 100 arguments: 50 key/value pairs a call.
PAIRS_PER_CALL = 50


def table(schema_name: str, collection: CollectionSpec) -> sql.Composed:
    return sql.SQL("{} AS t").format(sql.Identifier(schema_name, collection.name))


# A record is a row `t` rendered as JSON. Typed columns go through row_to_json /
# json_agg of a sub-select, as PostgREST does: compact output, no argument limit.


def selected_value(column: Column) -> sql.Composable:
    if column.is_json:  # a flexible collection's undeclared key (paths are refused by plan)
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
        sql.SQL("{} AS {}").format(selected_value(c), sql.Identifier(c.name)) for c in columns
    )


def _merged_with_extra(collection: CollectionSpec) -> sql.Composable:
    """A flexible record: undeclared keys first, so a declared field always wins."""
    pairs = [
        sql.SQL("{}, {}").format(sql.Literal(c.name), selected_value(c))
        for c in all_columns(collection)
    ]
    calls = [
        sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(pairs[i : i + PAIRS_PER_CALL]))
        for i in range(0, len(pairs), PAIRS_PER_CALL)
    ]
    extra = sql.SQL("t.{}").format(sql.Identifier(EXTRA_COLUMN))
    return sql.SQL("(") + sql.SQL(" || ").join([extra, *calls]) + sql.SQL(")")


def whole_flexible(collection: CollectionSpec, selection: tuple[Column, ...] | None) -> bool:
    return selection is None and collection.flexible


def record_json(collection: CollectionSpec, selection: tuple[Column, ...] | None) -> sql.Composable:
    """One JSON object for the current row `t`: the selection, or every field plus timestamps."""
    if whole_flexible(collection, selection):
        return _merged_with_extra(collection)
    columns = selection if selection is not None else all_columns(collection)
    return sql.SQL("(SELECT row_to_json(r) FROM (SELECT {}) r)").format(_select_list(columns))


def row_source(
    collection: CollectionSpec, selection: tuple[Column, ...] | None
) -> tuple[sql.Composable, sql.Composable, sql.Composable]:
    """(select list of an inner query, its output columns, the JSON of one output row `x`)."""
    if whole_flexible(collection, selection):
        return (
            sql.SQL("{} AS j").format(_merged_with_extra(collection)),
            sql.SQL("j"),
            sql.SQL("x.j"),
        )
    columns = selection if selection is not None else all_columns(collection)
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    return _select_list(columns), names, sql.SQL("x")


def column_sql(column: Column, bind: Binder) -> sql.Composable:
    """A typed column, or a jsonb value at a path (the path is a parameter)."""
    if column.is_json:
        base = column.spec.name if column.spec else EXTRA_COLUMN
        return sql.SQL("(t.{} #> {})").format(sql.Identifier(base), bind())
    return sql.SQL("t.{}").format(sql.Identifier(column.name))


def sort_key_sql(column: Column, bind: Binder) -> sql.Composable:
    """A sort key: a json null counts as null, so it sorts last like any null."""
    expr = column_sql(column, bind)
    return no_json_null(expr) if column.is_json else expr


def no_json_null(json_expr: sql.Composable) -> sql.Composable:
    return sql.SQL("nullif({}, 'null')").format(json_expr)


def column_values(column: Column) -> list[Any]:
    return [list(column.path)] if column.is_json else []


def as_text(json_expr: sql.Composable) -> sql.Composable:
    return sql.SQL("({} #>> '{{}}')").format(json_expr)


def json_text(value: Any) -> str | None:
    # How #>> renders a JSON scalar, so query-string text and typed values compare alike.
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # wire numbers are doubles; JSON writes 2, not 2.0
    return str(value)
