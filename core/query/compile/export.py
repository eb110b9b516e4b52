"""COPY … TO STDOUT of every match, as CSV or JSON lines."""

from __future__ import annotations

from psycopg import sql

from core.query.compile.columns import Sort, column_values, sort_key_sql, table
from core.query.compile.filters import (
    filter_shape,
    search_sql,
    search_values,
    where_sql,
    where_values,
)
from core.query.compile.order import never_null, order_sql
from core.query.compile.output import (
    ROW,
    all_columns,
    row_source,
    selected_value,
    selection_shape,
    selection_values,
    whole_flexible,
)
from core.query.compile.pages import sort_shape
from core.query.compile.params import Binder, Statement, cached, numbered
from core.query.plan import PlannedNode, Selection
from core.schema.model import CollectionSpec


def export(
    schema_name: str,
    collection: CollectionSpec,
    node: PlannedNode | None,
    search: str,
    sort: Sort,
    selection: Selection | None,
    csv: bool,
) -> Statement:
    """COPY … TO STDOUT of every match in order: CSV with a header (one column per field,
    values as JSON text where they are not plain text), or one JSON record per line."""
    no_nulls = never_null(sort, node)

    def build() -> sql.Composable:
        bind = Binder()
        where = where_sql(node, bind) + search_sql(collection, search, bind)
        exprs = [sort_key_sql(column, bind) for column, _ in sort]
        source = sql.SQL("FROM {} WHERE {} {}").format(
            table(schema_name, collection), where, order_sql(exprs, sort, False, no_nulls)
        )
        if csv:
            columns = selection.columns if selection is not None else all_columns(collection)
            texts = [
                sql.SQL("to_json({}) #>> '{{}}' AS {}").format(
                    selected_value(c, bind), sql.Identifier(c.name)
                )
                for c in columns
            ]
            query = sql.SQL("SELECT {} {}").format(sql.SQL(", ").join(texts), source)
            return sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER)").format(query)
        rows, _, _ = row_source(collection, selection, bind)
        whole = whole_flexible(collection, selection)
        record = sql.SQL("{}.j" if whole else "row_to_json({})").format(ROW)
        query = sql.SQL("SELECT {}::text FROM (SELECT {} {}) {}").format(record, rows, source, ROW)
        # JSON text has no raw control characters, so with these separators CSV mode
        # never quotes: each line is the record's JSON exactly (text mode would escape \).
        return sql.SQL(
            "COPY ({}) TO STDOUT (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')"
        ).format(query)

    values = where_values(node) + search_values(collection, search)
    values += [path for column, _ in sort for path in column_values(column)]
    values += selection_values(selection)
    key = (
        "export",
        schema_name,
        filter_shape(node),
        bool(search),
        sort_shape(sort),
        selection_shape(selection),
        csv,
        no_nulls,
    )
    return cached(collection, key, build), numbered(values)
