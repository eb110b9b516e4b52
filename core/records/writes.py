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

from core.query.compile import cached, numbered, positional, record_json, table
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


def insert(schema_name: str, collection: CollectionSpec, record: CheckedRecord) -> Statement:
    names, values = _given(collection, record)
    if record.id is not None:
        names, values = ["id", *names], [record.id, *values]

    def build() -> sql.Composable:
        columns = (
            sql.SQL("({}) VALUES ({})").format(
                sql.SQL(", ").join(map(sql.Identifier, names)),
                sql.SQL(", ").join(_typed(collection, n, i) for i, n in enumerate(names)),
            )
            if names
            else sql.SQL("DEFAULT VALUES")
        )
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
                for f in collection.fields
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
        columns = ["id", *(f.name for f in collection.fields)]
        if collection.flexible:
            columns.append(EXTRA_COLUMN)
        inserted = [given.get(c, sql.SQL("DEFAULT")) for c in columns]
        sets = [sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in columns[1:]]
        # A soft-deleted record is replaced by a new one: fresh created_at, deleted_at cleared.
        sets.append(
            sql.SQL(
                "created_at = CASE WHEN t.deleted_at IS NULL THEN t.created_at ELSE now() END,"
                " updated_at = now(), deleted_at = NULL, version = t.version + 1"
            )
        )
        return sql.SQL(
            "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET {} "
            + RETURNING
            + ", (t.xmax = 0 OR t.created_at = now())"
        ).format(
            table(schema_name, collection),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(inserted),
            sql.SQL(", ").join(sets),
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
            "UPDATE {} SET deleted_at = now(), version = t.version + 1 WHERE {} RETURNING t.id"
        ).format(table(schema_name, collection), condition)

    values = [record_id, expected_version] if expected_version else [record_id]
    key = ("delete", schema_name, bool(expected_version))
    return cached(collection, key, build), numbered(values)


def live_version(schema_name: str, collection: CollectionSpec, record_id: str) -> Statement:
    """Tells a missing record (no row) from a stale version (a row) after a guarded write."""

    def build() -> sql.Composable:
        return sql.SQL("SELECT t.version FROM {} WHERE t.id = {} AND t.deleted_at IS NULL").format(
            table(schema_name, collection), positional(0)
        )

    return cached(collection, ("version", schema_name), build), numbered([record_id])
