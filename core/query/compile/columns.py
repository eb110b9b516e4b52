"""Tables and column expressions (typed columns, json paths, values through relations)."""

from __future__ import annotations

import dataclasses
from typing import Any

from psycopg import sql

from core.query.compile.joins import child_alias, join
from core.query.compile.params import Binder
from core.query.plan import Column
from core.schema.model import EXTRA_COLUMN, CollectionSpec

Sort = list[tuple[Column, bool]]


def table(schema_name: str, collection: CollectionSpec) -> sql.Composed:
    return sql.SQL("{} AS t").format(sql.Identifier(schema_name, collection.name))


def column_sql(column: Column, bind: Binder, alias: str = "t") -> sql.Composable:
    """A typed column, or a jsonb value at a path (the path is a parameter), of the row
    `alias`, or of the record its many_to_one relations lead to (null when there is none)."""
    if column.via:
        (field, target), rest = column.via[0], column.via[1:]
        source, condition, _ = join(field, target, alias)
        inner = dataclasses.replace(column, via=rest)
        return sql.SQL("(SELECT {} FROM {} WHERE {})").format(
            column_sql(inner, bind, child_alias(alias)), source, condition
        )
    row = sql.SQL(alias)
    if column.is_json:
        base = column.spec.name if column.spec else EXTRA_COLUMN
        return sql.SQL("({}.{} #> {})").format(row, sql.Identifier(base), bind())
    return sql.SQL("{}.{}").format(row, sql.Identifier(column.spec.name))


def sort_key_sql(column: Column, bind: Binder, alias: str = "t") -> sql.Composable:
    """A sort key: a json null counts as null, so it sorts last like any null."""
    expr = column_sql(column, bind, alias)
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
