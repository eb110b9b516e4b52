"""The only writer of query SQL: a planned query becomes one parameterized statement.

Names reach SQL through sql.Identifier (sql.Literal for the JSON keys of names
already checked against the schema); every value is a numbered parameter.
A statement's text depends only on the query's shape (which columns, which
operators, which branches), so it is rendered once per shape and collection
definition. Each builder `_x_sql` binds placeholders in order; its twin
`_x_values` lists the values for them in the same order.
Records are built as JSON by Postgres and leave as text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from core.query.ast import AllOf, Not, Op
from core.query.plan import SYSTEM_FIELDS, Column, Planned, PlannedNode
from core.schema.ddl import column_type
from core.schema.model import EXTRA_COLUMN, CollectionSpec

Statement = tuple[str, dict[str, Any]]
Sort = list[tuple[Column, bool]]

# jsonb_build_object takes at most 100 arguments: 50 key/value pairs a call.
PAIRS_PER_CALL = 50
MAX_CACHED_SHAPES = 256
LIVE = sql.SQL("t.deleted_at IS NULL")
KEYS = sql.Identifier("#k")  # the keyset column of a page; no field can have this name

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


def positional(index: int) -> sql.Placeholder:
    return sql.Placeholder(f"p{index}")


def numbered(values: list[Any]) -> dict[str, Any]:
    return {f"p{i}": value for i, value in enumerate(values)}


class Binder:
    """Hands out the placeholders of one statement in build order."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> sql.Placeholder:
        self.count += 1
        return positional(self.count - 1)


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


# --- record JSON -------------------------------------------------------------------
# A record is a row `t` rendered as JSON. Typed columns go through row_to_json /
# json_agg of a sub-select, as PostgREST does: compact output, no argument limit.


def _selected_value(column: Column) -> sql.Composable:
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
        sql.SQL("{} AS {}").format(_selected_value(c), sql.Identifier(c.name)) for c in columns
    )


def _merged_with_extra(collection: CollectionSpec) -> sql.Composable:
    """A flexible record: undeclared keys first, so a declared field always wins."""
    pairs = [
        sql.SQL("{}, {}").format(sql.Literal(c.name), _selected_value(c))
        for c in all_columns(collection)
    ]
    calls = [
        sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(pairs[i : i + PAIRS_PER_CALL]))
        for i in range(0, len(pairs), PAIRS_PER_CALL)
    ]
    extra = sql.SQL("t.{}").format(sql.Identifier(EXTRA_COLUMN))
    return sql.SQL("(") + sql.SQL(" || ").join([extra, *calls]) + sql.SQL(")")


def _whole_flexible(collection: CollectionSpec, selection: tuple[Column, ...] | None) -> bool:
    return selection is None and collection.flexible


def record_json(collection: CollectionSpec, selection: tuple[Column, ...] | None) -> sql.Composable:
    """One JSON object for the current row `t`: the selection, or every field plus timestamps."""
    if _whole_flexible(collection, selection):
        return _merged_with_extra(collection)
    columns = selection if selection is not None else all_columns(collection)
    return sql.SQL("(SELECT row_to_json(r) FROM (SELECT {}) r)").format(_select_list(columns))


def _row_source(
    collection: CollectionSpec, selection: tuple[Column, ...] | None
) -> tuple[sql.Composable, sql.Composable, sql.Composable]:
    """(select list of an inner query, its output columns, the JSON of one output row `x`)."""
    if _whole_flexible(collection, selection):
        return (
            sql.SQL("{} AS j").format(_merged_with_extra(collection)),
            sql.SQL("j"),
            sql.SQL("x.j"),
        )
    columns = selection if selection is not None else all_columns(collection)
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    return _select_list(columns), names, sql.SQL("x")


# --- values and paths --------------------------------------------------------------


def _column_sql(column: Column, bind: Binder) -> sql.Composable:
    """A typed column, or a jsonb value at a path (the path is a parameter)."""
    if column.is_json:
        base = column.spec.name if column.spec else EXTRA_COLUMN
        return sql.SQL("(t.{} #> {})").format(sql.Identifier(base), bind())
    return sql.SQL("t.{}").format(sql.Identifier(column.name))


def _sort_key_sql(column: Column, bind: Binder) -> sql.Composable:
    """A sort key: a json null counts as null, so it sorts last like any null."""
    expr = _column_sql(column, bind)
    return _no_json_null(expr) if column.is_json else expr


def _no_json_null(json_expr: sql.Composable) -> sql.Composable:
    return sql.SQL("nullif({}, 'null')").format(json_expr)


def _column_values(column: Column) -> list[Any]:
    return [list(column.path)] if column.is_json else []


def _as_text(json_expr: sql.Composable) -> sql.Composable:
    return sql.SQL("({} #>> '{{}}')").format(json_expr)


def _json_text(value: Any) -> str | None:
    # How #>> renders a JSON scalar, so query-string text and typed values compare alike.
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # wire numbers are doubles; JSON writes 2, not 2.0
    return str(value)


def _pattern(op: Op, value: str) -> str:
    _, before, after = _SUBSTRING[op]
    return before + escape_like(value) + after


# --- filters ----------------------------------------------------------------------


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
    return (type(node).__name__, tuple(filter_shape(c) for c in node.children))


def _where_sql(node: PlannedNode | None, bind: Binder) -> sql.Composable:
    if node is None:
        return LIVE
    return LIVE + sql.SQL(" AND ") + _node_sql(node, bind)


def _where_values(node: PlannedNode | None) -> list[Any]:
    if node is None:
        return []
    if isinstance(node, Planned):
        return _condition_values(node)
    if isinstance(node, Not):
        return _where_values(node.child)
    return [value for child in node.children for value in _where_values(child)]


def _node_sql(node: PlannedNode, bind: Binder) -> sql.Composable:
    if isinstance(node, Planned):
        return _condition_sql(node, bind)
    if isinstance(node, Not):
        # IS NOT TRUE: a row whose comparison is unknown (null) does not match, so NOT matches it.
        return sql.SQL("(({}) IS NOT TRUE)").format(_node_sql(node.child, bind))
    if not node.children:
        return sql.SQL("TRUE" if isinstance(node, AllOf) else "FALSE")
    joiner = sql.SQL(" AND " if isinstance(node, AllOf) else " OR ")
    return sql.SQL("(") + joiner.join(_node_sql(c, bind) for c in node.children) + sql.SQL(")")


def _condition_sql(node: Planned, bind: Binder) -> sql.Composable:
    expr = _column_sql(node.column, bind)
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
    if op in _SUBSTRING:
        return sql.SQL("{} {} {}").format(expr, sql.SQL(_SUBSTRING[op][0]), bind())
    return sql.SQL("{} {} {}").format(expr, sql.SQL(_COMPARE[op]), bind())


def _condition_values(node: Planned) -> list[Any]:
    values = _column_values(node.column)
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
    if op in _SUBSTRING and not (op is Op.CONTAINS and (kind.endswith("[]") or kind == "json")):
        return [*values, _pattern(op, value)]
    return [*values, wrap(value)]


def _json_condition_sql(expr: sql.Composable, op: Op, value: Any, bind: Binder) -> sql.Composable:
    """A condition on a jsonb value: = / IN compare as text, order as jsonb."""
    text = _as_text(expr)
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
    ordered = _no_json_null(expr)
    if op is Op.BETWEEN:
        return sql.SQL("{} BETWEEN {} AND {}").format(ordered, bind(), bind())
    if op is Op.CONTAINS and not isinstance(value, str):
        return sql.SQL("{} @> {}").format(expr, bind())
    if op in _SUBSTRING:
        return sql.SQL("{} {} {}").format(text, sql.SQL(_SUBSTRING[op][0]), bind())
    if op in (Op.LIKE, Op.ILIKE, Op.REGEX):
        return sql.SQL("{} {} {}").format(text, sql.SQL(_COMPARE[op]), bind())
    return sql.SQL("{} {} {}").format(ordered, sql.SQL(_COMPARE[op]), bind())


def _json_condition_values(op: Op, value: Any) -> list[Any]:
    if op in (Op.EXISTS, Op.NULL) or (op is Op.EQ and value is None):
        return []
    if op in (Op.EQ, Op.NE):
        return [_json_text(value)]
    if op in (Op.IN, Op.NIN):
        return [[_json_text(v) for v in value]] if value else []
    if op is Op.BETWEEN:
        return [Jsonb(v) for v in value]
    if op is Op.CONTAINS and not isinstance(value, str):
        return [Jsonb(value)]
    if op in _SUBSTRING:
        return [_pattern(op, value)]
    if op in (Op.LIKE, Op.ILIKE, Op.REGEX):
        return [value]
    return [Jsonb(value)]


# --- search -----------------------------------------------------------------------


def searchable(collection: CollectionSpec) -> list[str]:
    return [f.name for f in collection.fields if f.type in ("string", "text")]


def _search_sql(collection: CollectionSpec, search: str, bind: Binder) -> sql.Composable:
    if not search:
        return sql.SQL("")
    fields = searchable(collection)
    if not fields:
        return sql.SQL(" AND FALSE")
    pattern = bind()
    tests = [sql.SQL("t.{} ILIKE {}").format(sql.Identifier(f), pattern) for f in fields]
    return sql.SQL(" AND (") + sql.SQL(" OR ").join(tests) + sql.SQL(")")


def _search_values(collection: CollectionSpec, search: str) -> list[Any]:
    return [_pattern(Op.ICONTAINS, search)] if search and searchable(collection) else []


# --- sorts and keysets --------------------------------------------------------------


def _keys_sql(exprs: list[sql.Composable]) -> sql.Composable:
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
        and (column.spec.required or column.name in SYSTEM_FIELDS or column.name in valued)
        for column, _ in sort
    )


def _order_sql(
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


def _keyset_sql(
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


# --- statements --------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One page of a list: filter, search, order, selection, and where it starts."""

    node: PlannedNode | None
    sort: Sort
    selection: tuple[Column, ...] | None
    limit: int
    offset: int = 0
    with_total: bool = False
    search: str = ""
    after: list[str | None] | None = None  # a keyset position: sort keys, then id
    backward: bool = False


def _sort_shape(sort: Sort) -> tuple:
    return tuple((c.spec.name if c.spec else None, c.is_json, d) for c, d in sort)


def select_one(
    schema_name: str,
    collection: CollectionSpec,
    record_id: str,
    selection: tuple[Column, ...] | None,
) -> Statement:
    def build() -> sql.Composable:
        return sql.SQL("SELECT {}::text, t.version FROM {} WHERE t.id = {} AND {}").format(
            record_json(collection, selection), table(schema_name, collection), positional(0), LIVE
        )

    shape = None if selection is None else tuple(c.name for c in selection)
    return cached(collection, ("one", schema_name, shape), build), numbered([record_id])


def select_page(schema_name: str, collection: CollectionSpec, page: Page) -> Statement:
    """One statement: the page as a JSON array, whether more rows follow, the position of
    each row on the page (for cursors) and, if asked, the total of all matches."""
    no_nulls = never_null(page.sort, page.node)

    def build() -> sql.Composable:
        bind = Binder()
        where = _where_sql(page.node, bind) + _search_sql(collection, page.search, bind)
        exprs = [_sort_key_sql(column, bind) for column, _ in page.sort]
        keyset = (
            _keyset_sql(exprs, page.sort, page.after, page.backward, no_nulls, bind)
            if page.after is not None
            else sql.SQL("")
        )
        limit, offset = bind(), bind()
        source = table(schema_name, collection)
        rows, names, row_json = _row_source(collection, page.selection)
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
            " FROM (SELECT {names} FROM page LIMIT {limit}) x)::text,"
            " (SELECT count(*) FROM page) > {limit},"
            " (SELECT json_agg(y.{k}) FROM (SELECT {k} FROM page LIMIT {limit}) y)::text,"
            " {total}"
        ).format(
            rows=rows,
            keys=_keys_sql(exprs),
            k=KEYS,
            source=source,
            where=where,
            keyset=keyset,
            order=_order_sql(exprs, page.sort, page.backward, no_nulls),
            limit=limit,
            offset=offset,
            row_json=row_json,
            names=names,
            total=total,
        )

    values = _where_values(page.node) + _search_values(collection, page.search)
    values += [path for column, _ in page.sort for path in _column_values(column)]
    if page.after is not None:
        values += [v for v in page.after if v is not None]
    values += [page.limit, page.offset]
    key = (
        "page",
        schema_name,
        filter_shape(page.node),
        _sort_shape(page.sort),
        None if page.selection is None else tuple(c.name for c in page.selection),
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
        where = _where_sql(node, bind) + _search_sql(collection, search, bind)
        return sql.SQL("SELECT count(*) FROM {} WHERE {}").format(
            table(schema_name, collection), where
        )

    values = _where_values(node) + _search_values(collection, search)
    key = ("count", schema_name, filter_shape(node), bool(search))
    return cached(collection, key, build), numbered(values)


# --- aggregates ---------------------------------------------------------------------

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
        sql.SQL("DISTINCT " if distinct else ""), _column_sql(column, bind)
    )
    call = sql.SQL("{}({})").format(sql.SQL(name), expr)
    # Averages as double precision: JSON numbers a client can read, not 20-digit numerics.
    return call + sql.SQL("::float8") if name == "avg" else call


def _aggregate_values(function: str, column: Column | None) -> list[Any]:
    _, _, every_row = AGGREGATES[function]
    return [] if every_row or column is None else _column_values(column)


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
        where = _where_sql(node, bind) + _search_sql(collection, search, bind)
        groups = [_column_sql(c, bind) for c in group_by]
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

    values = _where_values(node) + _search_values(collection, search)
    values += [path for column in group_by for path in _column_values(column)]
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


# --- export -------------------------------------------------------------------------


def export(
    schema_name: str,
    collection: CollectionSpec,
    node: PlannedNode | None,
    search: str,
    sort: Sort,
    selection: tuple[Column, ...] | None,
    csv: bool,
) -> Statement:
    """COPY … TO STDOUT of every match in order: CSV with a header (one column per field,
    values as JSON text where they are not plain text), or one JSON record per line."""
    no_nulls = never_null(sort, node)

    def build() -> sql.Composable:
        bind = Binder()
        where = _where_sql(node, bind) + _search_sql(collection, search, bind)
        exprs = [_sort_key_sql(column, bind) for column, _ in sort]
        source = sql.SQL("FROM {} WHERE {} {}").format(
            table(schema_name, collection), where, _order_sql(exprs, sort, False, no_nulls)
        )
        if csv:
            columns = selection if selection is not None else all_columns(collection)
            texts = [
                sql.SQL("to_json({}) #>> '{{}}' AS {}").format(
                    _selected_value(c), sql.Identifier(c.name)
                )
                for c in columns
            ]
            query = sql.SQL("SELECT {} {}").format(sql.SQL(", ").join(texts), source)
            return sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER)").format(query)
        rows, _, _ = _row_source(collection, selection)
        whole = _whole_flexible(collection, selection)
        record = sql.SQL("x.j" if whole else "row_to_json(x)")
        query = sql.SQL("SELECT {}::text FROM (SELECT {} {}) x").format(record, rows, source)
        # JSON text has no raw control characters, so with these separators CSV mode
        # never quotes: each line is the record's JSON exactly (text mode would escape \).
        return sql.SQL(
            "COPY ({}) TO STDOUT (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')"
        ).format(query)

    values = _where_values(node) + _search_values(collection, search)
    values += [path for column, _ in sort for path in _column_values(column)]
    key = (
        "export",
        schema_name,
        filter_shape(node),
        bool(search),
        _sort_shape(sort),
        None if selection is None else tuple(c.name for c in selection),
        csv,
        no_nulls,
    )
    return cached(collection, key, build), numbered(values)
