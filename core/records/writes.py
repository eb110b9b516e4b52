"""Write statements for records: insert, update (partial or full), upsert, soft delete.

Each returns the finished record JSON and its version in the same statement.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from core.query.compile import Params, record_json, table
from core.records.values import CheckedRecord
from core.schema.ddl import column_type
from core.schema.model import EXTRA_COLUMN, CollectionSpec

RETURNING = "RETURNING {}::text, t.version"


def _value(collection: CollectionSpec, name: str, value: Any, params: Params) -> sql.Composable:
    return sql.SQL("{}::{}").format(params.add(value), column_type(collection.by_name[name]))


def insert(
    schema_name: str, collection: CollectionSpec, record: CheckedRecord
) -> tuple[sql.Composed, dict[str, Any]]:
    params = Params()
    names, values = [], []
    if record.id is not None:
        names.append(sql.Identifier("id"))
        values.append(params.add(record.id))
    for name, value in record.columns.items():
        names.append(sql.Identifier(name))
        values.append(_value(collection, name, value, params))
    if collection.flexible:
        names.append(sql.Identifier(EXTRA_COLUMN))
        values.append(params.add(Jsonb(record.extras)))
    columns = (
        sql.SQL("({}) VALUES ({})").format(sql.SQL(", ").join(names), sql.SQL(", ").join(values))
        if names
        else sql.SQL("DEFAULT VALUES")
    )
    query = sql.SQL("INSERT INTO {} {} " + RETURNING).format(
        table(schema_name, collection), columns, record_json(collection, None)
    )
    return query, params.values


def update(
    schema_name: str,
    collection: CollectionSpec,
    record_id: str,
    record: CheckedRecord,
    *,
    full: bool,
    expected_version: int,
) -> tuple[sql.Composed, dict[str, Any]]:
    """PATCH (full=False) changes the given fields; PUT (full=True) resets the others too."""
    params = Params()
    sets = []
    for spec in collection.fields:
        if spec.name in record.columns:
            value = _value(collection, spec.name, record.columns[spec.name], params)
        elif full:
            value = sql.SQL("DEFAULT")
        else:
            continue
        sets.append(sql.SQL("{} = {}").format(sql.Identifier(spec.name), value))
    if collection.flexible and (full or record.extras):
        extra = sql.Identifier(EXTRA_COLUMN)
        given = params.add(Jsonb(record.extras))
        template = "{0} = {1}" if full else "{0} = t.{0} || {1}"  # PATCH merges keys
        sets.append(sql.SQL(template).format(extra, given))
    sets.append(sql.SQL("updated_at = now(), version = t.version + 1"))
    condition = sql.SQL("t.id = {} AND t.deleted_at IS NULL").format(params.add(record_id))
    if expected_version:
        condition += sql.SQL(" AND t.version = {}").format(params.add(expected_version))
    query = sql.SQL("UPDATE {} SET {} WHERE {} " + RETURNING).format(
        table(schema_name, collection),
        sql.SQL(", ").join(sets),
        condition,
        record_json(collection, None),
    )
    return query, params.values


def upsert(
    schema_name: str, collection: CollectionSpec, record_id: str, record: CheckedRecord
) -> tuple[sql.Composed, dict[str, Any]]:
    """PUT without If-Match: replace a live record, or create it (also over a deleted one).

    The third column says whether the record was created.
    """
    params = Params()
    names = [sql.Identifier("id")]
    values: list[sql.Composable] = [params.add(record_id)]
    for spec in collection.fields:
        names.append(sql.Identifier(spec.name))
        if spec.name in record.columns:
            values.append(_value(collection, spec.name, record.columns[spec.name], params))
        else:
            values.append(sql.SQL("DEFAULT"))
    if collection.flexible:
        names.append(sql.Identifier(EXTRA_COLUMN))
        values.append(params.add(Jsonb(record.extras)))
    sets = [sql.SQL("{0} = EXCLUDED.{0}").format(name) for name in names[1:]]
    # A soft-deleted record is replaced by a new one: fresh created_at, deleted_at cleared.
    sets.append(
        sql.SQL(
            "created_at = CASE WHEN t.deleted_at IS NULL THEN t.created_at ELSE now() END,"
            " updated_at = now(), deleted_at = NULL, version = t.version + 1"
        )
    )
    query = sql.SQL(
        "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET {} "
        + RETURNING
        + ", (t.xmax = 0 OR t.created_at = now())"
    ).format(
        table(schema_name, collection),
        sql.SQL(", ").join(names),
        sql.SQL(", ").join(values),
        sql.SQL(", ").join(sets),
        record_json(collection, None),
    )
    return query, params.values


def soft_delete(
    schema_name: str, collection: CollectionSpec, record_id: str, expected_version: int
) -> tuple[sql.Composed, dict[str, Any]]:
    params = Params()
    condition = sql.SQL("t.id = {} AND t.deleted_at IS NULL").format(params.add(record_id))
    if expected_version:
        condition += sql.SQL(" AND t.version = {}").format(params.add(expected_version))
    query = sql.SQL(
        "UPDATE {} SET deleted_at = now(), version = t.version + 1 WHERE {} RETURNING t.id"
    ).format(table(schema_name, collection), condition)
    return query, params.values


def live_version(
    schema_name: str, collection: CollectionSpec, record_id: str
) -> tuple[sql.Composed, dict[str, Any]]:
    """Tells a missing record (no row) from a stale version (a row) after a guarded write."""
    params = Params()
    query = sql.SQL("SELECT t.version FROM {} WHERE t.id = {} AND t.deleted_at IS NULL").format(
        table(schema_name, collection), params.add(record_id)
    )
    return query, params.values
