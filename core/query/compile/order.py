"""Sort order and keyset positions (cursor paging)."""

from __future__ import annotations

from psycopg import sql

from core.query.ast import AllOf, Op
from core.query.compile.columns import Sort
from core.query.compile.params import Binder
from core.query.plan import SYSTEM_FIELDS, Column, Planned, PlannedNode
from core.schema.ddl import column_type


def keys_sql(exprs: list[sql.Composable]) -> sql.Composable:
    """The row's position as a JSON array of text: every sort key, then id."""
    keys = [sql.SQL("{}::text").format(e) for e in exprs]
    return sql.SQL("json_build_array({})").format(sql.SQL(", ").join([*keys, sql.SQL("t.id")]))


# Operators that only match a value, so a column compared with them is never null.
_NEEDS_VALUE = {
    Op.GT, Op.GTE, Op.LT, Op.LTE, Op.IN, Op.BETWEEN, Op.LIKE, Op.ILIKE, Op.CONTAINS,
    Op.ICONTAINS, Op.STARTS_WITH, Op.ENDS_WITH, Op.REGEX,
}  # fmt: skip


def never_null(sort: Sort, node: PlannedNode | None) -> tuple[bool, ...]:
    """Which sort keys cannot be null in the answer: NOT NULL columns (system and
    required fields), or columns the filter's top-level conditions require a value of."""
    conditions = node.children if isinstance(node, AllOf) else (node,)
    valued = {
        c.column.name
        for c in conditions
        if isinstance(c, Planned)
        and not c.column.is_json
        and (
            c.op in _NEEDS_VALUE
            or (c.op is Op.EQ and c.value is not None)
            or (c.op is Op.NULL and c.value is False)
            or (c.op is Op.EXISTS and c.value is True)
        )
    }
    return tuple(
        not column.is_json
        and not column.via
        and (column.spec.required or column.name in SYSTEM_FIELDS or column.name in valued)
        for column, _ in sort
    )


def order_sql(
    exprs: list[sql.Composable], sort: Sort, backward: bool, no_nulls: tuple[bool, ...]
) -> sql.Composable:
    """Nulls last in either direction, then id; backward reverses the whole order.

    A key that cannot be null gets a plain ASC/DESC: the same order, and one a btree
    index serves in both directions (DESC NULLS LAST would need an index of its own).
    """
    keys = []
    for expr, (_, descending), plain in zip(exprs, sort, no_nulls, strict=True):
        direction = "ASC" if descending == backward else "DESC"
        nulls = "" if plain else " NULLS FIRST" if backward else " NULLS LAST"
        keys.append(sql.SQL("{} {}{}").format(expr, sql.SQL(direction), sql.SQL(nulls)))
    keys.append(sql.SQL("t.id DESC" if backward else "t.id ASC"))
    return sql.SQL("ORDER BY ") + sql.SQL(", ").join(keys)


def _key_cast(column: Column) -> sql.Composable:
    return sql.SQL("jsonb") if column.is_json else column_type(column.spec)


def keyset_sql(
    exprs: list[sql.Composable],
    sort: Sort,
    after: list[str | None],
    backward: bool,
    no_nulls: tuple[bool, ...],
    bind: Binder,
) -> sql.Composable:
    """Rows strictly after the position `after` in the (possibly reversed) order."""
    clauses, equal, bound = [], [], sql.SQL("")
    keys = zip(exprs, sort, after[:-1], no_nulls, strict=True)
    for i, (expr, (column, descending), value, plain) in enumerate(keys):
        if value is None:
            beyond = sql.SQL("{} IS NOT NULL").format(expr) if backward else None
            same = sql.SQL("{} IS NULL").format(expr)
        else:
            key = sql.SQL("{}::{}").format(bind(), _key_cast(column))
            test = ">" if descending == backward else "<"
            beyond = sql.SQL("{} {} {}").format(expr, sql.SQL(test), key)
            if not backward and not plain:
                beyond = sql.SQL("({} OR {} IS NULL)").format(beyond, expr)
            same = sql.SQL("{} = {}").format(expr, key)
            if i == 0 and plain:
                # Redundant, but a range an index can scan: the OR chain alone is not.
                bound = sql.SQL(" AND {} {}= {}").format(expr, sql.SQL(test), key)
        if beyond is not None:
            clauses.append(sql.SQL(" AND ").join([*equal, beyond]))
        equal.append(same)
    last = sql.SQL("t.id {} {}").format(sql.SQL("<" if backward else ">"), bind())
    clauses.append(sql.SQL(" AND ").join([*equal, last]))
    chain = sql.SQL(" OR ").join(sql.SQL("({})").format(c) for c in clauses)
    return bound + sql.SQL(" AND (") + chain + sql.SQL(")")
