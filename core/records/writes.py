"""Write statements for records: insert, update (partial or full), upsert, soft delete.

Each returns the finished record JSON and its version in the same statement.
A statement's text depends only on its shape (which columns, which options),
so it is rendered once per collection definition; values are numbered
parameters in a fixed order.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from core.query.compile import (
    Binder,
    cached,
    filter_shape,
    numbered,
    positional,
    record_json,
    table,
    where_sql,
    where_values,
)
from core.records.operators import CheckedUpdate
from core.records.values import CheckedRecord
from core.schema.ddl import column_type
from core.schema.model import EXTRA_COLUMN, CollectionSpec

RETURNING = "RETURNING {}::text, t.version"
Statement = tuple[str, dict[str, Any]]


def _typed(collection: CollectionSpec, name: str, index: int) -> sql.Composable:
    """A value placeholder cast to its column's type (id and _extra need no cast)."""
    spec = collection.by_name.get(name)
    if spec is None:
        return positional(index)
    return sql.SQL("{}::{}").format(positional(index), column_type(spec))


def _given(collection: CollectionSpec, record: CheckedRecord) -> tuple[list[str], list[Any]]:
    """The columns a body sets, with their values in the same order."""
    names: list[str] = list(record.columns)
    values: list[Any] = list(record.columns.values())
    if collection.flexible:
        names.append(EXTRA_COLUMN)
        values.append(Jsonb(record.extras))
    return names, values


def _inserted(collection: CollectionSpec, record: CheckedRecord) -> tuple[list[str], list[Any]]:
    """The columns an INSERT of this record names (id first when given), and their values."""
    names, values = _given(collection, record)
    if record.id is not None:
        names, values = ["id", *names], [record.id, *values]
    return names, values


def _values_clause(collection: CollectionSpec, names: list[str]) -> sql.Composable:
    if not names:
        return sql.SQL("DEFAULT VALUES")
    return sql.SQL("({}) VALUES ({})").format(
        sql.SQL(", ").join(map(sql.Identifier, names)),
        sql.SQL(", ").join(_typed(collection, n, i) for i, n in enumerate(names)),
    )


def insert(schema_name: str, collection: CollectionSpec, record: CheckedRecord) -> Statement:
    names, values = _inserted(collection, record)

    def build() -> sql.Composable:
        columns = _values_clause(collection, names)
        return sql.SQL("INSERT INTO {} {} " + RETURNING).format(
            table(schema_name, collection), columns, record_json(collection, None)
        )

    return cached(collection, ("insert", schema_name, tuple(names)), build), numbered(values)


def update(
    schema_name: str,
    collection: CollectionSpec,
    record_id: str,
    record: CheckedRecord,
    *,
    full: bool,
    expected_version: int,
) -> Statement:
    """PATCH (full=False) changes the given fields; PUT (full=True) resets the others too."""
    names, values = _given(collection, record)
    values += [record_id, expected_version] if expected_version else [record_id]

    def build() -> sql.Composable:
        sets = [
            sql.SQL("{} = {}").format(sql.Identifier(n), _typed(collection, n, i))
            for i, n in enumerate(names)
            if n != EXTRA_COLUMN
        ]
        if full:
            sets += [
                sql.SQL("{} = DEFAULT").format(sql.Identifier(f.name))
                for f in collection.stored
                if f.name not in names
            ]
        if EXTRA_COLUMN in names:
            template = "{0} = {1}" if full else "{0} = t.{0} || {1}"  # PATCH merges keys
            extra = positional(names.index(EXTRA_COLUMN))
            sets.append(sql.SQL(template).format(sql.Identifier(EXTRA_COLUMN), extra))
        sets.append(sql.SQL("updated_at = now(), version = t.version + 1"))
        condition = sql.SQL("t.id = {} AND t.deleted_at IS NULL").format(positional(len(names)))
        if expected_version:
            condition += sql.SQL(" AND t.version = {}").format(positional(len(names) + 1))
        return sql.SQL("UPDATE {} SET {} WHERE {} " + RETURNING).format(
            table(schema_name, collection),
            sql.SQL(", ").join(sets),
            condition,
            record_json(collection, None),
        )

    key = ("update", schema_name, tuple(names), full, bool(expected_version))
    return cached(collection, key, build), numbered(values)


def upsert(
    schema_name: str, collection: CollectionSpec, record_id: str, record: CheckedRecord
) -> Statement:
    """PUT without If-Match: replace a live record, or create it (also over a deleted one).

    The third column says whether the record was created.
    """
    names, values = _given(collection, record)
    names, values = ["id", *names], [record_id, *values]

    def build() -> sql.Composable:
        given = {n: _typed(collection, n, i) for i, n in enumerate(names)}
        columns = ["id", *(f.name for f in collection.stored)]
        if collection.flexible:
            columns.append(EXTRA_COLUMN)
        inserted = [given.get(c, sql.SQL("DEFAULT")) for c in columns]
        return sql.SQL(
            "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET {} "
            + RETURNING
            + ", (t.xmax = 0 OR t.created_at = now())"
        ).format(
            table(schema_name, collection),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(inserted),
            upsert_sets(columns, merge_extra=False),
            record_json(collection, None),
        )

    return cached(collection, ("upsert", schema_name, tuple(names)), build), numbered(values)


def soft_delete(
    schema_name: str, collection: CollectionSpec, record_id: str, expected_version: int
) -> Statement:
    def build() -> sql.Composable:
        condition = sql.SQL("t.id = {} AND t.deleted_at IS NULL").format(positional(0))
        if expected_version:
            condition += sql.SQL(" AND t.version = {}").format(positional(1))
        return sql.SQL(
            "UPDATE {} SET deleted_at = now(), updated_at = now(), version = t.version + 1"
            " WHERE {} RETURNING t.id"
        ).format(table(schema_name, collection), condition)

    values = [record_id, expected_version] if expected_version else [record_id]
    key = ("delete", schema_name, bool(expected_version))
    return cached(collection, key, build), numbered(values)


def restore(
    schema_name: str, collection: CollectionSpec, record_id: str, within_seconds: float
) -> Statement:
    """A record soft-deleted less than `within_seconds` ago made live again, or no row."""

    def build() -> sql.Composable:
        return sql.SQL(
            "UPDATE {} SET deleted_at = NULL, updated_at = now(), version = t.version + 1"
            " WHERE t.id = {} AND t.deleted_at > now() - make_interval(secs => {}) " + RETURNING
        ).format(
            table(schema_name, collection),
            positional(0),
            positional(1),
            record_json(collection, None),
        )

    key = ("restore", schema_name)
    return cached(collection, key, build), numbered([record_id, within_seconds])


def dangling(schema_name: str, collection: CollectionSpec, record_id: str) -> Statement | None:
    """The many_to_one fields of a record that name a record that is not live (an array);
    None when the collection has none. Soft deletes never leave such a reference behind
    (see core/schema/relations.py), but a restore may bring one back."""
    fields = [f for f in collection.fields if f.is_relation and f.has_column]
    if not fields:
        return None

    def build() -> sql.Composable:
        checks = sql.SQL(", ").join(
            sql.SQL(
                "CASE WHEN t.{col} IS NOT NULL AND NOT EXISTS"
                " (SELECT 1 FROM {target} WHERE id = t.{col} AND deleted_at IS NULL)"
                " THEN {name} END"
            ).format(
                col=sql.Identifier(f.name),
                target=sql.Identifier(schema_name, f.target),
                name=sql.Literal(f.name),
            )
            for f in fields
        )
        return sql.SQL(
            "SELECT array_remove(ARRAY[{}]::text[], NULL) FROM {} WHERE t.id = {}"
        ).format(checks, table(schema_name, collection), positional(0))

    return cached(collection, ("dangling", schema_name), build), numbered([record_id])


def live_version(schema_name: str, collection: CollectionSpec, record_id: str) -> Statement:
    """Tells a missing record (no row) from a stale version (a row) after a guarded write."""

    def build() -> sql.Composable:
        return sql.SQL("SELECT t.version FROM {} WHERE t.id = {} AND t.deleted_at IS NULL").format(
            table(schema_name, collection), positional(0)
        )

    return cached(collection, ("version", schema_name), build), numbered([record_id])


# --- PATCH with update operators ---------------------------------------------------
# `patch_sets` binds placeholders in build order; `patch_values` lists their values in
# the same order. Each operator is an expression on the row itself (no read first).


def _element_type(collection: CollectionSpec, name: str) -> sql.Composable:
    return column_type(collection.by_name[name])


def patch_sets(collection: CollectionSpec, update: CheckedUpdate, bind: Binder) -> sql.Composable:
    names, _ = _given(collection, update.record)
    sets = [
        sql.SQL("{} = {}::{}").format(sql.Identifier(n), bind(), column_type(collection.by_name[n]))
        for n in names
        if n != EXTRA_COLUMN
    ]
    for op in update.ops:
        column = sql.Identifier(op.name)
        ctype = _element_type(collection, op.name)
        if op.kind == "unset":
            bind()  # a null value keeps the numbering simple
            sets.append(sql.SQL("{} = NULL").format(column))
        elif op.kind == "inc":
            sets.append(sql.SQL("{0} = t.{0} + {1}::{2}").format(column, bind(), ctype))
        elif op.kind == "push":
            sets.append(
                sql.SQL("{0} = coalesce(t.{0}, '{{}}') || {1}::{2}").format(column, bind(), ctype)
            )
        else:  # pull: every element equal to one of the values goes
            sets.append(
                sql.SQL(
                    "{0} = CASE WHEN t.{0} IS NULL THEN NULL ELSE"
                    " ARRAY(SELECT e FROM unnest(t.{0}) AS e WHERE e <> ALL({1}::{2})) END"
                ).format(column, bind(), ctype)
            )
    extra = None
    if EXTRA_COLUMN in names:
        extra = sql.SQL("(t.{} || {})").format(sql.Identifier(EXTRA_COLUMN), bind())
    if update.unset_extras:
        base = extra or sql.SQL("t.{}").format(sql.Identifier(EXTRA_COLUMN))
        extra = sql.SQL("({} - {}::text[])").format(base, bind())
    if extra is not None:
        sets.append(sql.SQL("{} = {}").format(sql.Identifier(EXTRA_COLUMN), extra))
    sets.append(sql.SQL("updated_at = now(), version = t.version + 1"))
    return sql.SQL(", ").join(sets)


def patch_values(collection: CollectionSpec, update: CheckedUpdate) -> list[Any]:
    names, values = _given(collection, update.record)
    out = [v for n, v in zip(names, values, strict=True) if n != EXTRA_COLUMN]
    out += update.values
    if EXTRA_COLUMN in names:
        out.append(values[names.index(EXTRA_COLUMN)])
    if update.unset_extras:
        out.append(update.unset_extras)
    return out


def _patch_shape(collection: CollectionSpec, update: CheckedUpdate) -> tuple:
    names, _ = _given(collection, update.record)
    return (tuple(names), update.shape)


def patch(
    schema_name: str,
    collection: CollectionSpec,
    record_id: str,
    update: CheckedUpdate,
    expected_version: int,
) -> Statement:
    """PATCH one live record: the given fields and operators; the record and version back."""

    def build() -> sql.Composable:
        bind = Binder()
        sets = patch_sets(collection, update, bind)
        condition = sql.SQL("t.id = {} AND t.deleted_at IS NULL").format(bind())
        if expected_version:
            condition += sql.SQL(" AND t.version = {}").format(bind())
        return sql.SQL("UPDATE {} SET {} WHERE {} " + RETURNING + ", t.id").format(
            table(schema_name, collection), sets, condition, record_json(collection, None)
        )

    values = [*patch_values(collection, update), record_id]
    if expected_version:
        values.append(expected_version)
    key = ("patch", schema_name, _patch_shape(collection, update), bool(expected_version))
    return cached(collection, key, build), numbered(values)


# --- bulk upsert and by-filter mutations ----------------------------------------------


def merge_upsert(schema_name: str, collection: CollectionSpec, record: CheckedRecord) -> Statement:
    """Create, or update the given fields of the record with this id (reviving a deleted one).

    The third column says whether the record was created.
    """
    names, values = _inserted(collection, record)

    def build() -> sql.Composable:
        columns = _values_clause(collection, names)
        return sql.SQL(
            "INSERT INTO {} {} ON CONFLICT (id) DO UPDATE SET {} " + RETURNING + ", (t.xmax = 0)"
        ).format(
            table(schema_name, collection),
            columns,
            upsert_sets(names, merge_extra=True),
            record_json(collection, None),
        )

    return cached(collection, ("merge", schema_name, tuple(names)), build), numbered(values)


def lock_matching(schema_name: str, collection: CollectionSpec, node: Any, limit: int) -> Statement:
    """The ids of at most `limit` live records matching a filter, locked for a write."""

    def build() -> sql.Composable:
        bind = Binder()
        where = where_sql(node, bind)
        return sql.SQL("SELECT t.id FROM {} WHERE {} LIMIT {} FOR UPDATE OF t").format(
            table(schema_name, collection), where, bind()
        )

    values = [*where_values(node), limit]
    key = ("lock", schema_name, filter_shape(node))
    return cached(collection, key, build), numbered(values)


def patch_many(
    schema_name: str, collection: CollectionSpec, update: CheckedUpdate, ids: list[str]
) -> Statement:
    def build() -> sql.Composable:
        bind = Binder()
        sets = patch_sets(collection, update, bind)
        return sql.SQL(
            "UPDATE {} SET {} WHERE t.id = ANY({}::text[]) AND t.deleted_at IS NULL RETURNING t.id"
        ).format(table(schema_name, collection), sets, bind())

    values = [*patch_values(collection, update), ids]
    key = ("patch_many", schema_name, _patch_shape(collection, update))
    return cached(collection, key, build), numbered(values)


def soft_delete_many(schema_name: str, collection: CollectionSpec, ids: list[str]) -> Statement:
    def build() -> sql.Composable:
        return sql.SQL(
            "UPDATE {} SET deleted_at = now(), updated_at = now(), version = t.version + 1"
            " WHERE t.id = ANY({}::text[]) AND t.deleted_at IS NULL RETURNING t.id"
        ).format(table(schema_name, collection), positional(0))

    return cached(collection, ("delete_many", schema_name), build), numbered([ids])


def _array_of(collection: CollectionSpec, name: str) -> sql.Composable:
    if name == "id":
        return sql.SQL("text[]")
    if name == EXTRA_COLUMN:
        return sql.SQL("jsonb[]")
    return sql.SQL("{}[]").format(column_type(collection.by_name[name]))


def unnestable(collection: CollectionSpec, names: tuple[str, ...]) -> bool:
    """One INSERT … unnest can take these columns: no list-typed field among them
    (unnest would flatten a list of lists)."""
    return not any(
        n in collection.by_name and collection.by_name[n].type.endswith("[]") for n in names
    )


def upsert_sets(names: list[str], *, merge_extra: bool) -> sql.Composable:
    """The SET list of ON CONFLICT (id) DO UPDATE: the named columns take the new values
    (flexible keys merged into the stored ones with `merge_extra`), and a soft-deleted
    record is replaced by a new one: fresh created_at, deleted_at cleared."""
    merged = "{0} = t.{0} || EXCLUDED.{0}"
    sets = [
        sql.SQL(merged if merge_extra and n == EXTRA_COLUMN else "{0} = EXCLUDED.{0}").format(
            sql.Identifier(n)
        )
        for n in names
        if n != "id"
    ]
    sets.append(
        sql.SQL(
            "created_at = CASE WHEN t.deleted_at IS NULL THEN t.created_at ELSE now() END,"
            " updated_at = now(), deleted_at = NULL, version = t.version + 1"
        )
    )
    return sql.SQL(", ").join(sets)


def insert_many(
    schema_name: str,
    collection: CollectionSpec,
    records: list[CheckedRecord],
    *,
    upsert: bool = False,
) -> Statement:
    """Records of one shape (the same columns, every id given) in one statement; each
    comes back as (id, record JSON). `upsert` updates the records whose id exists."""
    shape = [_given(collection, r) for r in records]
    names = ["id", *shape[0][0]]
    columns = [[r.id for r in records]]
    columns += [[values[i] for _, values in shape] for i in range(len(names) - 1)]

    def build() -> sql.Composable:
        arrays = [
            sql.SQL("{}::{}").format(positional(i), _array_of(collection, n))
            for i, n in enumerate(names)
        ]
        conflict = (
            sql.SQL(" ON CONFLICT (id) DO UPDATE SET {}").format(
                upsert_sets(names, merge_extra=True)
            )
            if upsert
            else sql.SQL("")
        )
        return sql.SQL(
            "INSERT INTO {} ({}) SELECT * FROM unnest({}){} RETURNING t.id, {}::text"
        ).format(
            table(schema_name, collection),
            sql.SQL(", ").join(map(sql.Identifier, names)),
            sql.SQL(", ").join(arrays),
            conflict,
            record_json(collection, None),
        )

    key = ("insert_many", schema_name, tuple(names), upsert)
    return cached(collection, key, build), numbered(columns)
