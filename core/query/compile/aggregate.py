"""Aggregates with groups, as the JSON answer."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from core.query.compile.columns import column_sql, column_values, table
from core.query.compile.filters import (
    filter_shape,
    search_sql,
    search_values,
    where_sql,
    where_values,
)
from core.query.compile.params import Binder, Statement, cached, numbered
from core.query.plan import Column, PlannedNode
from core.schema.model import CollectionSpec

# REST name -> (SQL function, DISTINCT, every row)
AGGREGATES = {
    "count": ("count", False, False),
    "countDistinct": ("count", True, False),
    "countAll": ("count", False, True),
    "sum": ("sum", False, False),
    "sumDistinct": ("sum", True, False),
    "avg": ("avg", False, False),
    "avgDistinct": ("avg", True, False),
    "min": ("min", False, False),
    "max": ("max", False, False),
}


def _aggregate_sql(function: str, column: Column | None, bind: Binder) -> sql.Composable:
    name, distinct, every_row = AGGREGATES[function]
    if every_row or column is None:
        return sql.SQL("count(*)")
    expr = sql.SQL("{}{}").format(
        sql.SQL("DISTINCT " if distinct else ""), column_sql(column, bind)
    )
    call = sql.SQL("{}({})").format(sql.SQL(name), expr)
    # Averages as double precision: JSON numbers a client can read, not 20-digit numerics.
    return call + sql.SQL("::float8") if name == "avg" else call


def _aggregate_values(function: str, column: Column | None) -> list[Any]:
    _, _, every_row = AGGREGATES[function]
    return [] if every_row or column is None else column_values(column)


def aggregate(
    schema_name: str,
    collection: CollectionSpec,
    node: PlannedNode | None,
    search: str,
    aggregates: list[tuple[str, str, Column | None]],
    group_by: list[Column],
) -> Statement:
    """Groups as JSON: {"status": "active", "count": {"*": 15}, "avg": {"price": 2.5}}.

    `aggregates` holds (function, field as asked, column or None for "*").
    """

    def build() -> sql.Composable:
        bind = Binder()
        where = where_sql(node, bind) + search_sql(collection, search, bind)
        groups = [column_sql(c, bind) for c in group_by]
        computed = [_aggregate_sql(f, c, bind) for f, _, c in aggregates]
        inner = [
            sql.SQL("{} AS {}").format(g, sql.Identifier(f"g{i}")) for i, g in enumerate(groups)
        ]
        inner += [
            sql.SQL("{} AS {}").format(a, sql.Identifier(f"a{i}")) for i, a in enumerate(computed)
        ]
        pairs = [
            sql.SQL("{}, g.{}").format(sql.Literal(c.name), sql.Identifier(f"g{i}"))
            for i, c in enumerate(group_by)
        ]
        by_function: dict[str, list[sql.Composable]] = {}
        for i, (function, field, _) in enumerate(aggregates):
            by_function.setdefault(function, []).append(
                sql.SQL("{}, g.{}").format(sql.Literal(field), sql.Identifier(f"a{i}"))
            )
        pairs += [
            sql.SQL("{}, json_build_object({})").format(sql.Literal(f), sql.SQL(", ").join(p))
            for f, p in by_function.items()
        ]
        ordinals = sql.SQL(", ").join(sql.SQL(str(i + 1)) for i in range(len(groups)))
        grouping = sql.SQL(" GROUP BY {0} ORDER BY {0}").format(ordinals) if groups else sql.SQL("")
        return sql.SQL(
            "SELECT coalesce(json_agg(json_build_object({})), '[]')::text"
            " FROM (SELECT {} FROM {} WHERE {}{}) g"
        ).format(
            sql.SQL(", ").join(pairs),
            sql.SQL(", ").join(inner),
            table(schema_name, collection),
            where,
            grouping,
        )

    values = where_values(node) + search_values(collection, search)
    values += [path for column in group_by for path in column_values(column)]
    values += [v for f, _, c in aggregates for v in _aggregate_values(f, c)]
    key = (
        "aggregate",
        schema_name,
        filter_shape(node),
        bool(search),
        tuple((f, field, c.name if c else None) for f, field, c in aggregates),
        tuple(c.name for c in group_by),
    )
    return cached(collection, key, build), numbered(values)
