"""What a read returns: a row as record JSON, with its relations as ids or as related
records nested in the same statement (lateral subqueries and json_agg, as PostgREST
does), never one query per row.

`record_json` binds the placeholders of nested filters, sorts and limits in build
order; `selection_values` lists their values in the same order.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from core.query.compile.columns import column_values, sort_key_sql
from core.query.compile.filters import filter_shape, node_sql, where_values
from core.query.compile.joins import child_alias, join
from core.query.compile.params import Binder
from core.query.plan import Column, Nested, Selection, all_fields
from core.schema import relations
from core.schema.model import EXTRA_COLUMN, MANY_TO_ONE, CollectionSpec

# jsonb_build_object takes at most 100 arguments: 50 key/value pairs a call.
PAIRS_PER_CALL = 50


# The alias of a subquery whose whole row becomes JSON: unquoted, a field of the same name
# would win over the row (`row_to_json(x)` of a collection with a field `x`), and no field
# name can hold a `$`.
ROW = sql.Identifier("$row")


def all_columns(collection: CollectionSpec) -> tuple[Column, ...]:
    return all_fields(collection)


def selection_shape(selection: Selection | None) -> tuple | None:
    """What of a selection changes the statement's text."""
    if selection is None:
        return None
    return (selection.everything, tuple(_column_shape(c) for c in selection.columns))


def _column_shape(column: Column) -> tuple:
    nested = column.nested
    if nested is None:
        return (column.name,)
    sort = tuple((c.name, d) for c, d in nested.sort)
    return (
        column.name,
        nested.ids_only,
        selection_shape(nested.selection),
        filter_shape(nested.node),
        sort,
    )


def selection_values(selection: Selection | None) -> list[Any]:
    columns = selection.columns if selection is not None else ()
    return [v for c in columns if c.nested is not None for v in _nested_values(c.nested)]


def selected_value(column: Column, bind: Binder | None, alias: str = "t") -> sql.Composable:
    row = sql.SQL(alias)
    if column.nested is not None:
        return _nested_sql(column.nested, bind, alias)
    if column.is_json:  # a flexible collection's undeclared key (paths are refused by plan)
        return sql.SQL("{}.{} -> {}").format(
            row, sql.Identifier(EXTRA_COLUMN), sql.Literal(column.name)
        )
    return sql.SQL("{}.{}").format(row, sql.Identifier(column.name))


def _select_list(columns, bind: Binder | None, alias: str) -> sql.Composable:
    return sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(selected_value(c, bind, alias), sql.Identifier(c.name))
        for c in columns
    )


def _merged_with_extra(columns, bind: Binder | None, alias: str) -> sql.Composable:
    """A flexible record: undeclared keys first, so a declared field always wins."""
    pairs = [
        sql.SQL("{}, {}").format(sql.Literal(c.name), selected_value(c, bind, alias))
        for c in columns
    ]
    calls = [
        sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(pairs[i : i + PAIRS_PER_CALL]))
        for i in range(0, len(pairs), PAIRS_PER_CALL)
    ]
    extra = sql.SQL("{}.{}").format(sql.SQL(alias), sql.Identifier(EXTRA_COLUMN))
    return sql.SQL("(") + sql.SQL(" || ").join([extra, *calls]) + sql.SQL(")")


def _columns(collection: CollectionSpec, selection: Selection | None) -> tuple[Column, ...]:
    return selection.columns if selection is not None else all_columns(collection)


def whole_flexible(collection: CollectionSpec, selection: Selection | None) -> bool:
    """A flexible record rendered with its undeclared keys (no selection, or `*`)."""
    return collection.flexible and (selection is None or selection.everything)


def record_json(
    collection: CollectionSpec,
    selection: Selection | None,
    bind: Binder | None = None,
    alias: str = "t",
) -> sql.Composable:
    """One JSON object for the row `alias`: the selection, or every field plus timestamps."""
    columns = _columns(collection, selection)
    if whole_flexible(collection, selection):
        return _merged_with_extra(columns, bind, alias)
    return sql.SQL("(SELECT row_to_json({row}) FROM (SELECT {}) {row})").format(
        _select_list(columns, bind, alias), row=ROW
    )


def row_source(
    collection: CollectionSpec, selection: Selection | None, bind: Binder
) -> tuple[sql.Composable, sql.Composable, sql.Composable]:
    """(select list of an inner query, its output columns, the JSON of one of its output
    rows, when the inner query is aliased ROW)."""
    columns = _columns(collection, selection)
    if whole_flexible(collection, selection):
        return (
            sql.SQL("{} AS j").format(_merged_with_extra(columns, bind, "t")),
            sql.SQL("j"),
            sql.SQL("{}.j").format(ROW),
        )
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    return _select_list(columns, bind, "t"), names, ROW


def _nested_sql(nested: Nested, bind: Binder | None, alias: str) -> sql.Composable:
    """A relation of the row `alias`: the related record (many_to_one), the ids of the
    related records, or the records themselves, as JSON."""
    if nested.field.owns_links and nested.node is None and not nested.sort:
        return _links_sql(nested, bind, alias)
    source, condition, order = join(nested.field, nested.target, alias)
    child = child_alias(alias)
    if nested.ids_only:  # a to-many relation
        return sql.SQL(
            "(SELECT coalesce(json_agg({}.id ORDER BY {}), '[]') FROM {} WHERE {})"
        ).format(sql.SQL(child), order, source, condition)
    record = record_json(nested.target, nested.selection, bind, child)
    if nested.field.cardinality == MANY_TO_ONE:
        return sql.SQL("(SELECT {} FROM {} WHERE {})").format(record, source, condition)
    if nested.node is not None:
        condition += sql.SQL(" AND ") + node_sql(nested.node, bind, child)
    if nested.sort:
        keys = [
            sql.SQL("{} {} NULLS LAST").format(
                sort_key_sql(column, bind, child), sql.SQL("DESC" if descending else "ASC")
            )
            for column, descending in nested.sort
        ]
        order = sql.SQL(", ").join([*keys, sql.SQL("{}.id").format(sql.SQL(child))])
    rows = sql.SQL(child + "r")
    return sql.SQL(
        "(SELECT coalesce(json_agg({rows}.j), '[]') FROM (SELECT {record} AS j FROM {source}"
        " WHERE {condition} ORDER BY {order} LIMIT {limit} OFFSET {offset}) {rows})"
    ).format(
        rows=rows,
        record=record,
        source=source,
        condition=condition,
        order=order,
        limit=bind(),
        offset=bind(),
    )


def _links_sql(nested: Nested, bind: Binder | None, alias: str) -> sql.Composable:
    """A many_to_many field's own links in link order, each related record found by its
    key: a lookup per link, which no planner estimate turns into a scan of the target
    table (as a join may on a table without statistics yet)."""
    schema = nested.target.space.schema_name
    child = child_alias(alias)
    link = sql.SQL(child + "j")
    if nested.ids_only:
        value, page = sql.SQL("{}.id").format(sql.SQL(child)), sql.SQL("")
    else:
        value = record_json(nested.target, nested.selection, bind, child)
        page = sql.SQL(" LIMIT {} OFFSET {}").format(bind(), bind())
    found = sql.SQL(
        "(SELECT {value} FROM {target} AS {child}"
        " WHERE {child}.id = {link}.target_id AND {child}.deleted_at IS NULL)"
    ).format(
        value=value,
        target=sql.Identifier(schema, nested.target.name),
        child=sql.SQL(child),
        link=link,
    )
    return sql.SQL(
        "(SELECT coalesce(json_agg(w.v), '[]') FROM (SELECT v FROM (SELECT {link}.position,"
        " {found} AS v FROM {junction} AS {link} WHERE {link}.source_id = {row}.id) u"
        " WHERE v IS NOT NULL ORDER BY position{page}) w)"
    ).format(
        link=link,
        found=found,
        junction=relations.junction(schema, nested.field),
        row=sql.SQL(alias),
        page=page,
    )


def _nested_values(nested: Nested) -> list[Any]:
    if nested.ids_only:
        return []
    values = selection_values(nested.selection)
    if nested.field.cardinality == MANY_TO_ONE:
        return values
    values += where_values(nested.node)
    values += [path for column, _ in nested.sort for path in column_values(column)]
    return [*values, nested.limit or None, nested.offset]
