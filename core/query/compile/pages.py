"""Reading records: one record, a page (with cursors and total), a count."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from core.query.compile.columns import Sort, column_values, sort_key_sql, table
from core.query.compile.filters import (
    LIVE,
    filter_shape,
    search_sql,
    search_values,
    where_sql,
    where_values,
)
from core.query.compile.order import keys_sql, keyset_sql, never_null, order_sql
from core.query.compile.output import (
    ROW,
    record_json,
    row_source,
    selection_shape,
    selection_values,
)
from core.query.compile.params import Binder, Statement, cached, numbered
from core.query.plan import PlannedNode, Selection
from core.schema.model import CollectionSpec

KEYS = sql.Identifier("#k")  # the keyset column of a page; no field can have this name


@dataclass(frozen=True)
class Page:
    """One page of a list: filter, search, order, selection, and where it starts."""

    node: PlannedNode | None
    sort: Sort
    selection: Selection | None
    limit: int
    offset: int = 0
    with_total: bool = False
    search: str = ""
    after: list[str | None] | None = None  # a keyset position: sort keys, then id
    backward: bool = False


def sort_shape(sort: Sort) -> tuple:
    return tuple(
        (c.spec.name if c.spec else None, c.is_json, tuple(f.name for f, _ in c.via), d)
        for c, d in sort
    )


def select_one(
    schema_name: str,
    collection: CollectionSpec,
    record_id: str,
    selection: Selection | None,
) -> Statement:
    def build() -> sql.Composable:
        bind = Binder()
        where = sql.SQL("t.id = {} AND {}").format(bind(), LIVE)
        return sql.SQL("SELECT {}::text, t.version FROM {} WHERE {}").format(
            record_json(collection, selection, bind), table(schema_name, collection), where
        )

    key = ("one", schema_name, selection_shape(selection))
    return cached(collection, key, build), numbered([record_id, *selection_values(selection)])


def select_page(schema_name: str, collection: CollectionSpec, page: Page) -> Statement:
    """One statement: the page as a JSON array, whether more rows follow, the position of
    each row on the page (for cursors) and, if asked, the total of all matches."""
    no_nulls = never_null(page.sort, page.node)

    def build() -> sql.Composable:
        bind = Binder()
        where = where_sql(page.node, bind) + search_sql(collection, page.search, bind)
        exprs = [sort_key_sql(column, bind) for column, _ in page.sort]
        keyset = (
            keyset_sql(exprs, page.sort, page.after, page.backward, no_nulls, bind)
            if page.after is not None
            else sql.SQL("")
        )
        limit, offset = bind(), bind()
        source = table(schema_name, collection)
        rows, names, row_json = row_source(collection, page.selection, bind)
        total = (
            sql.SQL("(SELECT count(*) FROM {} WHERE {})").format(source, where)
            if page.with_total
            else sql.SQL("NULL::bigint")
        )
        return sql.SQL(
            "WITH page AS MATERIALIZED ("
            "SELECT {rows}, {keys} AS {k} FROM {source} WHERE {where}{keyset} {order}"
            " LIMIT {limit} + 1 OFFSET {offset}) "
            "SELECT (SELECT coalesce(json_agg({row_json}), '[]')"
            " FROM (SELECT {names} FROM page LIMIT {limit}) {row})::text,"
            " (SELECT count(*) FROM page) > {limit},"
            " (SELECT json_agg(y.{k}) FROM (SELECT {k} FROM page LIMIT {limit}) y)::text,"
            " {total}"
        ).format(
            rows=rows,
            row=ROW,
            keys=keys_sql(exprs),
            k=KEYS,
            source=source,
            where=where,
            keyset=keyset,
            order=order_sql(exprs, page.sort, page.backward, no_nulls),
            limit=limit,
            offset=offset,
            row_json=row_json,
            names=names,
            total=total,
        )

    values = where_values(page.node) + search_values(collection, page.search)
    values += [path for column, _ in page.sort for path in column_values(column)]
    if page.after is not None:
        values += [v for v in page.after if v is not None]
    values += [page.limit, page.offset, *selection_values(page.selection)]
    key = (
        "page",
        schema_name,
        filter_shape(page.node),
        sort_shape(page.sort),
        selection_shape(page.selection),
        page.with_total,
        bool(page.search),
        None if page.after is None else tuple(v is None for v in page.after),
        page.backward,
        no_nulls,
    )
    return cached(collection, key, build), numbered(values)


def count(
    schema_name: str, collection: CollectionSpec, node: PlannedNode | None, search: str = ""
) -> Statement:
    def build() -> sql.Composable:
        bind = Binder()
        where = where_sql(node, bind) + search_sql(collection, search, bind)
        return sql.SQL("SELECT count(*) FROM {} WHERE {}").format(
            table(schema_name, collection), where
        )

    values = where_values(node) + search_values(collection, search)
    key = ("count", schema_name, filter_shape(node), bool(search))
    return cached(collection, key, build), numbered(values)
