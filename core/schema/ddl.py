"""DDL for collection tables. Every name goes through sql.Identifier.

DDL cannot take bind parameters, so a field default is rendered with
sql.Literal (psycopg's own quoting of an adapted value), never by formatting.
"""

from __future__ import annotations

import hashlib

from psycopg import sql
from psycopg.types.json import Jsonb

from core.edges import ddl as edges_ddl
from core.records.values import check_value
from core.schema.model import EXTRA_COLUMN, CollectionSpec, FieldSpec
from core.schema.types import FIELD_TYPES


def table(schema_name: str, collection: str) -> sql.Identifier:
    return sql.Identifier(schema_name, collection)


def index_name(collection_id: str, field: str, kind: str) -> str:
    # Stable, short (< 63 bytes) and unique per collection, field and kind.
    digest = hashlib.sha1(f"{collection_id}/{field}/{kind}".encode()).hexdigest()[:20]
    return f"{kind}_{digest}"


def column_type(spec: FieldSpec) -> sql.SQL:
    return sql.SQL(FIELD_TYPES[spec.type].sql)  # constant text from our own table


def default_literal(spec: FieldSpec) -> sql.Composable:
    value = check_value(spec, spec.default)
    if isinstance(value, Jsonb):
        return sql.SQL("{}::jsonb").format(sql.Literal(value))
    return sql.SQL("{}::{}").format(sql.Literal(value), column_type(spec))


def column_definition(spec: FieldSpec) -> sql.Composed:
    parts = [sql.Identifier(spec.name), column_type(spec)]
    if spec.default is not None:
        parts += [sql.SQL("DEFAULT"), default_literal(spec)]
    if spec.required:
        parts.append(sql.SQL("NOT NULL"))
    return sql.SQL(" ").join(parts)


def create_table(schema_name: str, collection: CollectionSpec) -> list[sql.Composed]:
    columns = [
        sql.SQL("id text PRIMARY KEY DEFAULT plinth.uuid7()::text"),
        *(column_definition(f) for f in collection.stored),
        sql.SQL("created_at timestamptz NOT NULL DEFAULT now()"),
        sql.SQL("updated_at timestamptz NOT NULL DEFAULT now()"),
        sql.SQL("deleted_at timestamptz"),
        sql.SQL("version bigint NOT NULL DEFAULT 1"),
    ]
    if collection.flexible:
        columns.append(extra_column())
    statements = [
        sql.SQL("CREATE TABLE {} ({})").format(
            table(schema_name, collection.name), sql.SQL(", ").join(columns)
        ),
        # Serves sort=created_at (and the creation order of one_to_many lists); soft-deleted
        # rows are skipped by every read.
        sql.SQL("CREATE INDEX {} ON {} (created_at, id) WHERE deleted_at IS NULL").format(
            sql.Identifier(index_name(collection.id, "created_at", "ix")),
            table(schema_name, collection.name),
        ),
    ]
    for spec in collection.stored:
        statements += field_indexes(schema_name, collection, spec)
    statements += edges_ddl.collection_objects(schema_name, collection.name)
    return statements


def extra_column() -> sql.Composed:
    return sql.SQL("{} jsonb NOT NULL DEFAULT '{{}}'").format(sql.Identifier(EXTRA_COLUMN))


def field_indexes(
    schema_name: str, collection: CollectionSpec, spec: FieldSpec
) -> list[sql.Composed]:
    """A unique index (among live records) and/or a plain index for one field."""
    target = table(schema_name, collection.name)
    out = []
    if spec.unique:
        out.append(
            sql.SQL("CREATE UNIQUE INDEX {} ON {} ({}) WHERE deleted_at IS NULL").format(
                sql.Identifier(index_name(collection.id, spec.name, "ux")),
                target,
                sql.Identifier(spec.name),
            )
        )
    if spec.index and not spec.is_relation:  # a relation column always has its index
        out.append(
            sql.SQL("CREATE INDEX {} ON {} ({})").format(
                sql.Identifier(index_name(collection.id, spec.name, "ix")),
                target,
                sql.Identifier(spec.name),
            )
        )
    return out


def drop_index(schema_name: str, collection_id: str, field: str, kind: str) -> sql.Composed:
    name = index_name(collection_id, field, kind)
    return sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(schema_name, name))


def rename_index(
    schema_name: str, collection_id: str, old: str, new: str, kind: str
) -> sql.Composed:
    return sql.SQL("ALTER INDEX IF EXISTS {} RENAME TO {}").format(
        sql.Identifier(schema_name, index_name(collection_id, old, kind)),
        sql.Identifier(index_name(collection_id, new, kind)),
    )
